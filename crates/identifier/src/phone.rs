//! Telephone numbers in E.164 form (`+31612345678`), checked against the numbering plans of
//! every country.
//!
//! Dutch numbers are written in many ways (`06-12345678`, `06 1234 5678`, `+31 6 12345678`,
//! `+31 (0)6 12345678`, `0031 6 12345678`); all of them become `+316…`. A number without a
//! country code is taken as Dutch only when it starts with a single 0 (the Dutch trunk prefix).
//!
//! Validity comes from the `phonenumber` crate, a port of Google's libphonenumber with its
//! numbering-plan metadata (the version after `+` in the crate's version is the metadata's): a
//! number must be a valid number of a country (mobile, fixed line, VoIP, …), so `+999 1234567`
//! (no such country code) and `+48 51234567` (too short for Poland) are refused. That covers
//! the Polish, Romanian, Bulgarian and Ukrainian numbers that victims' phones often have, not
//! only the handful of countries a hand-written table knew. A national trunk prefix after the
//! country code (`+31 06 …`, `+44 (0)20 …`) is dropped as the country's own dialling rules say.
//!
//! The normalised form is the metadata's E.164 formatting, which is `+`, the country code and
//! the national significant number: the same string the earlier hand-written rules produced for
//! every number they accepted that is valid.

use crate::error::{at_most, only, IdentifierError};
use crate::{limits, redacted};

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);
redacted!(Phone);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        const FIELD: &str = "phone";
        at_most(FIELD, raw, limits::PHONE, "phone.too_long")?;
        let without_trunk = raw.replace("(0)", "");
        let compact: String = without_trunk
            .chars()
            .filter(|c| !(matches!(c, ' ' | '\u{00A0}' | '-' | '.' | '(' | ')' | '/')))
            .collect();
        if compact.is_empty() {
            return Err(IdentifierError::new(FIELD, "is empty", "phone.required"));
        }
        let international = if let Some(rest) = compact.strip_prefix('+') {
            rest.to_owned()
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest.to_owned()
        } else if let Some(rest) = compact.strip_prefix('0') {
            format!("31{rest}")
        } else {
            return Err(IdentifierError::new(
                FIELD,
                "has no country code; start with +, 00, or 0 for a Dutch number",
                "phone.country_code",
            ));
        };
        // Letters (vanity numbers), extensions and other signs are refused here with their
        // position rather than interpreted by the library.
        only(
            FIELD,
            &international,
            |c| c.is_ascii_digit(),
            "only digits are allowed after the country prefix",
            "phone.digits",
        )?;
        if international.starts_with('0') {
            return Err(IdentifierError::new(
                FIELD,
                "has a country code starting with 0, which does not exist",
                "phone.country_code",
            ));
        }
        if !(8..=17).contains(&international.len()) {
            // 15 digits in E.164, plus a trunk prefix the library may still drop.
            return Err(IdentifierError::new(
                FIELD,
                format!(
                    "has {} digits including the country code; E.164 allows 8 to 15",
                    international.len()
                ),
                "phone.e164_length",
            ));
        }
        let number = phonenumber::parse(None, format!("+{international}")).map_err(|e| {
            let (problem, rule) = match e {
                phonenumber::ParseError::InvalidCountryCode => (
                    "has a country code that no country uses",
                    "phone.country_code",
                ),
                _ => (
                    "is not a telephone number in the numbering plan of its country",
                    "phone.numbering_plan",
                ),
            };
            IdentifierError::new(FIELD, problem, rule)
        })?;
        if !number.is_valid() {
            let country = number
                .country()
                .id()
                .map(|id| format!(" ({})", id.as_ref()))
                .unwrap_or_default();
            return Err(IdentifierError::new(
                FIELD,
                format!(
                    "is not a valid number in the numbering plan of its country{country} \
                     (wrong length or a range that is not in use)"
                ),
                "phone.numbering_plan",
            ));
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Self(e164))
    }

    /// E.164 with leading `+`. Personal data.
    pub fn normalised(&self) -> &str {
        &self.0
    }
}
