//! Organisations: KvK-nummer (Handelsregister) or RSIN.
//!
//! A KvK-nummer and the RSIN of the same organisation are different numbers, and nothing here can
//! translate one into the other without the Handelsregister, so they never match each other:
//! partners should send the KvK-nummer when they have it.

use crate::error::{at_most, only, IdentifierError};
use crate::{elfproef, limits, redacted, strip_number_separators};

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Organisation {
    /// 8-digit KvK-nummer. It has had no check digit since 2012, so only the form is checked.
    Kvk(String),
    /// 9-digit RSIN, 11-proef like a BSN.
    Rsin(String),
}
redacted!(Organisation);

impl Organisation {
    pub fn parse_kvk(raw: &str) -> Result<Self, IdentifierError> {
        let digits = digits_only(raw, "organisation.kvk", "organisation.kvk_digits")?;
        if digits.len() != 8 {
            return Err(IdentifierError::new(
                "organisation.kvk",
                format!("has {} digits; a KvK-nummer has 8", digits.len()),
                "organisation.kvk_length",
            ));
        }
        if digits.bytes().all(|d| d == b'0') {
            return Err(IdentifierError::new(
                "organisation.kvk",
                "is all zeros, which is never issued",
                "organisation.kvk_length",
            ));
        }
        Ok(Self::Kvk(digits))
    }

    pub fn parse_rsin(raw: &str) -> Result<Self, IdentifierError> {
        let digits = digits_only(raw, "organisation.rsin", "organisation.rsin_digits")?;
        let mut nine = [0u8; 9];
        if digits.len() != 9 {
            return Err(IdentifierError::new(
                "organisation.rsin",
                format!("has {} digits; an RSIN has 9", digits.len()),
                "organisation.rsin_length",
            ));
        }
        nine.copy_from_slice(digits.as_bytes());
        if nine.iter().all(|d| *d == b'0') || !elfproef(&nine) {
            return Err(IdentifierError::new(
                "organisation.rsin",
                "fails the 11-proef (weights 9..2 and -1, sum divisible by 11)",
                "organisation.rsin_elfproef",
            ));
        }
        Ok(Self::Rsin(digits))
    }

    /// `kvk:<8 digits>` or `rsin:<9 digits>`.
    pub fn normalised(&self) -> String {
        match self {
            Self::Kvk(d) => format!("kvk:{d}"),
            Self::Rsin(d) => format!("rsin:{d}"),
        }
    }
}

fn digits_only(raw: &str, field: &str, rule: &'static str) -> Result<String, IdentifierError> {
    at_most(
        field,
        raw,
        limits::ORGANISATION_NUMBER,
        "organisation.too_long",
    )?;
    let compact = strip_number_separators(raw);
    if compact.is_empty() {
        return Err(IdentifierError::new(field, "is empty", rule));
    }
    only(
        field,
        &compact,
        |c| c.is_ascii_digit(),
        "only digits are allowed",
        rule,
    )?;
    Ok(compact)
}
