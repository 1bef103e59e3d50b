//! Vehicle registrations. Dutch kentekens are checked against the RDW side codes (sidecodes)
//! 1–14; registrations from other countries (the vans that drive workers in from Poland,
//! Romania or Bulgaria) are accepted by form only, with their country code.

use crate::error::{only, IdentifierError};
use crate::redacted;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Vehicle {
    /// ISO 3166-1 alpha-2, upper case.
    country: String,
    /// Letters and digits only, upper case.
    plate: String,
}
redacted!(Vehicle);

/// The letter (L) / digit (D) shape of each Dutch side code, separators removed.
const NL_SIDECODES: [&str; 14] = [
    "LLDDDD", // 1  XX-99-99
    "DDDDLL", // 2  99-99-XX
    "DDLLDD", // 3  99-XX-99
    "LLDDLL", // 4  XX-99-XX
    "LLLLDD", // 5  XX-XX-99
    "DDLLLL", // 6  99-XX-XX
    "DDLLLD", // 7  99-XXX-9
    "DLLLDD", // 8  9-XXX-99
    "LLDDDL", // 9  XX-999-X
    "LDDDLL", // 10 X-999-XX
    "LLLDDL", // 11 XXX-99-X
    "LDDLLL", // 12 X-99-XXX
    "DLLDDD", // 13 9-XX-999
    "DDDLLD", // 14 999-XX-9
];

impl Vehicle {
    /// `country` is an ISO 3166-1 alpha-2 code (`NL` when empty). Dashes and spaces in the plate
    /// are removed and letters upper-cased (`ab-123-c` → `AB123C`).
    pub fn parse(country: &str, plate: &str) -> Result<Self, IdentifierError> {
        let country = match country.trim() {
            "" => "NL".to_owned(),
            c if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                c.to_ascii_uppercase()
            }
            _ => {
                return Err(IdentifierError::new(
                    "vehicle.country",
                    "is not a two-letter ISO 3166-1 country code",
                    "vehicle.country",
                ))
            }
        };
        let compact: String = plate
            .chars()
            .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '.' | '\u{00B7}')))
            .collect::<String>()
            .to_ascii_uppercase();
        only(
            "vehicle.plate",
            &compact,
            |c| c.is_ascii_alphanumeric(),
            "a registration has letters and digits only",
            "vehicle.characters",
        )?;
        if country == "NL" {
            let shape: String = compact
                .chars()
                .map(|c| if c.is_ascii_digit() { 'D' } else { 'L' })
                .collect();
            if !NL_SIDECODES.contains(&shape.as_str()) {
                return Err(IdentifierError::new(
                    "vehicle.plate",
                    format!(
                        "has {} characters in a letter/digit pattern that matches none of the \
                         Dutch side codes 1–14",
                        compact.len()
                    ),
                    "vehicle.nl_sidecode",
                ));
            }
        } else if !(2..=10).contains(&compact.len()) {
            return Err(IdentifierError::new(
                "vehicle.plate",
                format!("has {} characters; expected 2 to 10", compact.len()),
                "vehicle.length",
            ));
        }
        Ok(Self {
            country,
            plate: compact,
        })
    }

    /// `NL:AB123C`.
    pub fn normalised(&self) -> String {
        format!("{}:{}", self.country, self.plate)
    }
}
