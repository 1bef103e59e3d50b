//! International bank account numbers (ISO 13616).

use crate::error::{at_most, only, IdentifierError};
use crate::{limits, redacted};

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Iban(String);
redacted!(Iban);

/// IBAN lengths per country (SWIFT IBAN registry) for the SEPA area and the countries that turn
/// up in Dutch cases. An IBAN of a country not listed is checked on the checksum and the ISO
/// 13616 bounds (15–34 characters) only.
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AT", 20),
    ("BE", 16),
    ("BG", 22),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GI", 23),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("RS", 22),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("AL", 28),
    ("BA", 20),
    ("ME", 22),
    ("MK", 19),
    ("XK", 20),
];

impl Iban {
    /// Spaces and dashes are removed and letters upper-cased (`nl91 abna 0417 1643 00`).
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        const FIELD: &str = "iban";
        at_most(FIELD, raw, limits::IBAN, "iban.too_long")?;
        let compact: String = raw
            .chars()
            .filter(|c| !(c.is_whitespace() || *c == '-'))
            .collect::<String>()
            .to_ascii_uppercase();
        if compact.is_empty() {
            return Err(IdentifierError::new(FIELD, "is empty", "iban.required"));
        }
        only(
            FIELD,
            &compact,
            |c| c.is_ascii_alphanumeric(),
            "an IBAN has letters and digits only",
            "iban.characters",
        )?;
        let bytes = compact.as_bytes();
        if bytes.len() < 4
            || !bytes[..2].iter().all(u8::is_ascii_uppercase)
            || !bytes[2..4].iter().all(u8::is_ascii_digit)
        {
            return Err(IdentifierError::new(
                FIELD,
                "does not start with a two-letter country code and two check digits",
                "iban.format",
            ));
        }
        let country = &compact[..2];
        match LENGTHS.iter().find(|(c, _)| *c == country) {
            Some((_, len)) if compact.len() != *len => {
                return Err(IdentifierError::new(
                    FIELD,
                    format!(
                        "has {} characters; an IBAN from {country} has {len}",
                        compact.len()
                    ),
                    "iban.length",
                ))
            }
            None if !(15..=34).contains(&compact.len()) => {
                return Err(IdentifierError::new(
                    FIELD,
                    format!(
                        "has {} characters; ISO 13616 allows 15 to 34",
                        compact.len()
                    ),
                    "iban.length",
                ))
            }
            _ => {}
        }
        if country == "NL" && !bytes[4..8].iter().all(u8::is_ascii_uppercase) {
            return Err(IdentifierError::new(
                FIELD,
                "has no four-letter bank code after the check digits, as Dutch IBANs do",
                "iban.format",
            ));
        }
        if mod97(&compact) != 1 {
            return Err(IdentifierError::new(
                FIELD,
                "fails the ISO 13616 mod-97 checksum (a typing error?)",
                "iban.checksum",
            ));
        }
        Ok(Self(compact))
    }

    /// Upper case, no spaces. Personal data.
    pub fn normalised(&self) -> &str {
        &self.0
    }
}

/// ISO 7064 mod 97-10 over the rearranged IBAN (first four characters moved to the end, letters
/// as 10..35), computed piecewise so any length fits.
fn mod97(iban: &str) -> u32 {
    let rearranged = iban[4..].bytes().chain(iban[..4].bytes());
    let mut remainder: u32 = 0;
    for b in rearranged {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder
}
