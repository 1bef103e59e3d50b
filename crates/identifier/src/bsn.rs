//! Burgerservicenummer: 9 digits passing the 11-proef.
//!
//! Written as people write it: spaces, dots and dashes between digit groups
//! (`123.456.782`, `1234 56 782`, `123-456-782`) are removed; any other character (a slash,
//! a tab, a letter) is refused with its position (`bsn.digits`).

use crate::error::{at_most, only, IdentifierError};
use crate::{elfproef, limits, redacted, strip_number_separators};

/// A valid BSN in its 9-digit form, leading zeros kept.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bsn(String);
redacted!(Bsn);

impl Bsn {
    /// Accepts spaces, dots and dashes between digits, nothing else (`123.456.782`, `1234 56 782`). An 8-digit
    /// value is taken as a BSN whose leading zero was lost (spreadsheets drop it) and padded
    /// back; it must still pass the 11-proef in its 9-digit form.
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        const FIELD: &str = "bsn";
        at_most(FIELD, raw, limits::BSN, "bsn.too_long")?;
        let compact = strip_number_separators(raw);
        if compact.is_empty() {
            return Err(IdentifierError::new(FIELD, "is empty", "bsn.required"));
        }
        only(
            FIELD,
            &compact,
            |c| c.is_ascii_digit(),
            "a BSN has digits only",
            "bsn.digits",
        )?;
        let padded = match compact.len() {
            9 => compact,
            8 => format!("0{compact}"),
            n => {
                return Err(IdentifierError::new(
                    FIELD,
                    format!("has {n} digits; a BSN has 9 (or 8 when the leading zero was lost)"),
                    "bsn.length",
                ))
            }
        };
        let mut digits = [0u8; 9];
        digits.copy_from_slice(padded.as_bytes());
        if digits.iter().all(|d| *d == b'0') {
            return Err(IdentifierError::new(
                FIELD,
                "is all zeros, which is never issued",
                "bsn.elfproef",
            ));
        }
        if !elfproef(&digits) {
            return Err(IdentifierError::new(
                FIELD,
                "fails the 11-proef (weights 9..2 and -1, sum divisible by 11)",
                "bsn.elfproef",
            ));
        }
        Ok(Self(padded))
    }

    /// The 9 digits. Personal data.
    pub fn normalised(&self) -> &str {
        &self.0
    }
}
