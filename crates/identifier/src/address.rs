//! Dutch addresses: postcode + huisnummer + toevoeging, or a BAG verblijfsobject id.
//!
//! Input rules:
//!
//! - postcode: four digits (1000–9999), then two letters, with at most one space or dash
//!   between the two parts (`1234AB`, `1234 ab`, `1234-AB`); a separator inside either part
//!   (`97-12KL`) is refused (`address.postcode_format`), as are the letter pairs SA, SD and SS;
//! - huisnummer: a whole number 1–99999 (the BAG's range); an addition may follow directly as a
//!   letter (`12a`) or after a space, dash or slash (`12-2`, `12 bis`), but not after a dot or
//!   comma: `12.5` is not a house number (`address.huisnummer`);
//! - huisletter and toevoeging together: letters and digits, at most 5 (BAG: a huisletter of
//!   one letter and a huisnummertoevoeging of at most four), separators dropped, upper-cased.
//!
//! The two forms never match each other: translating between them needs the BAG, which a pure
//! library does not consult. Partners that have the BAG id at hand (gemeenten) should send both
//! forms as two identifiers; the others send the postcode form.

use crate::error::{at_most, only, IdentifierError};
use crate::{limits, redacted};

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Address {
    Postal {
        /// `1234AB`
        postcode: String,
        huisnummer: u32,
        /// Huisletter and huisnummertoevoeging together, upper case, no separators; may be empty.
        toevoeging: String,
    },
    /// 16 digits: gemeentecode, object type `01`, serial.
    Bag(String),
}
redacted!(Address);

impl Address {
    /// `huisnummer` may carry its own addition (`12a`, `12-2`, `12 bis`) when `toevoeging` is
    /// empty, as it often does in free-text registrations.
    pub fn parse_postal(
        postcode: &str,
        huisnummer: &str,
        toevoeging: &str,
    ) -> Result<Self, IdentifierError> {
        at_most(
            "address.postcode",
            postcode,
            limits::POSTCODE,
            "address.too_long",
        )?;
        at_most(
            "address.huisnummer",
            huisnummer,
            limits::HUISNUMMER,
            "address.too_long",
        )?;
        at_most(
            "address.toevoeging",
            toevoeging,
            limits::TOEVOEGING,
            "address.too_long",
        )?;
        let postcode = parse_postcode(postcode)?;
        let raw_number = huisnummer.trim();
        let digits_end = raw_number
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(raw_number.len());
        let (number, inline_addition) = raw_number.split_at(digits_end);
        if number.is_empty() {
            return Err(IdentifierError::new(
                "address.huisnummer",
                "does not start with a number",
                "address.huisnummer",
            ));
        }
        let huisnummer: u32 = match number.parse() {
            Ok(n) if (1..=99999).contains(&n) => n,
            _ => {
                return Err(IdentifierError::new(
                    "address.huisnummer",
                    "is outside 1–99999",
                    "address.huisnummer",
                ))
            }
        };
        if inline_addition
            .starts_with(|c: char| !(c.is_ascii_alphabetic() || matches!(c, ' ' | '-' | '/')))
        {
            return Err(IdentifierError::new(
                "address.huisnummer",
                "is not a whole number; an addition follows as a letter (12a) or after a space, \
                 dash or slash (12-2, 12 bis)",
                "address.huisnummer",
            ));
        }
        if !inline_addition.trim().is_empty() && !toevoeging.trim().is_empty() {
            return Err(IdentifierError::new(
                "address.huisnummer",
                "carries an addition while address.toevoeging is also given; give it once",
                "address.toevoeging_once",
            ));
        }
        let addition = if toevoeging.trim().is_empty() {
            inline_addition
        } else {
            toevoeging
        };
        let toevoeging = parse_toevoeging(addition)?;
        Ok(Self::Postal {
            postcode,
            huisnummer,
            toevoeging,
        })
    }

    pub fn parse_bag(raw: &str) -> Result<Self, IdentifierError> {
        const FIELD: &str = "address.bag_verblijfsobject_id";
        at_most(FIELD, raw, limits::BAG_ID, "address.too_long")?;
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        only(
            FIELD,
            &compact,
            |c| c.is_ascii_digit(),
            "a BAG id has digits only",
            "address.bag_format",
        )?;
        if compact.len() != 16 {
            return Err(IdentifierError::new(
                FIELD,
                format!("has {} digits; a BAG object id has 16", compact.len()),
                "address.bag_format",
            ));
        }
        if &compact[4..6] != "01" {
            return Err(IdentifierError::new(
                FIELD,
                "is a BAG id of another object type; a verblijfsobject has type code 01 in \
                 digits 5–6",
                "address.bag_object_type",
            ));
        }
        Ok(Self::Bag(compact))
    }

    /// `pc:1234AB:12:A` or `bag:0363010000659923`.
    pub fn normalised(&self) -> String {
        match self {
            Self::Postal {
                postcode,
                huisnummer,
                toevoeging,
            } => format!("pc:{postcode}:{huisnummer}:{toevoeging}"),
            Self::Bag(id) => format!("bag:{id}"),
        }
    }

    /// The 4-digit area of a postal address (`1234`), coarse enough to count on; `None` for a
    /// BAG id.
    pub fn postcode_area(&self) -> Option<&str> {
        match self {
            Self::Postal { postcode, .. } => Some(&postcode[..4]),
            Self::Bag(_) => None,
        }
    }
}

fn parse_postcode(raw: &str) -> Result<String, IdentifierError> {
    const FIELD: &str = "address.postcode";
    let s = raw.trim();
    let (digits, rest) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    // One separator between the parts: spaces with at most one dash among them.
    let letters = rest.trim_start_matches(' ');
    let letters = letters
        .strip_prefix('-')
        .unwrap_or(letters)
        .trim_start_matches(' ');
    let compact = format!("{digits}{letters}").to_ascii_uppercase();
    let bytes = compact.as_bytes();
    let well_formed = digits.len() == 4
        && letters.len() == 2
        && bytes.len() == 6
        && bytes[4..].iter().all(u8::is_ascii_uppercase);
    if !well_formed {
        return Err(IdentifierError::new(
            FIELD,
            "is not four digits followed by two letters",
            "address.postcode_format",
        ));
    }
    if bytes[0] == b'0' {
        return Err(IdentifierError::new(
            FIELD,
            "starts with 0; Dutch postcodes run from 1000 to 9999",
            "address.postcode_range",
        ));
    }
    if matches!(&compact[4..], "SA" | "SD" | "SS") {
        return Err(IdentifierError::new(
            FIELD,
            "uses a letter pair (SA, SD or SS) that PostNL never issues",
            "address.postcode_letters",
        ));
    }
    Ok(compact)
}

/// Huisletter plus huisnummertoevoeging: at most 1 + 4 letters or digits in the BAG; separators
/// (space, dash, slash) are dropped and letters upper-cased, so `-a`, ` A` and `a` meet.
fn parse_toevoeging(raw: &str) -> Result<String, IdentifierError> {
    const FIELD: &str = "address.toevoeging";
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '/' | '.'))
        .collect();
    only(
        FIELD,
        &compact,
        |c| c.is_ascii_alphanumeric(),
        "only letters and digits are allowed",
        "address.toevoeging_format",
    )?;
    if compact.len() > 5 {
        return Err(IdentifierError::new(
            FIELD,
            format!(
                "has {} characters; huisletter and toevoeging together have at most 5",
                compact.len()
            ),
            "address.toevoeging_format",
        ));
    }
    Ok(compact.to_ascii_uppercase())
}
