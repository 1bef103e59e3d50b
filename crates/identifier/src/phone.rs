//! Telephone numbers in E.164 form (`+31612345678`).
//!
//! Dutch numbers are written in many ways (`06-12345678`, `06 1234 5678`, `+31 6 12345678`,
//! `+31 (0)6 12345678`, `0031 6 12345678`); all of them become `+316…`. A number without a
//! country code is taken as Dutch only when it starts with a single 0 (the Dutch trunk prefix).

use crate::error::{only, IdentifierError};
use crate::redacted;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);
redacted!(Phone);

/// National significant number lengths for the countries whose numbers turn up most in
/// Dutch trafficking cases; other countries get only the E.164 bounds (8–15 digits in all).
const KNOWN_LENGTHS: &[(&str, &[usize])] = &[
    ("31", &[9]),     // Netherlands
    ("48", &[9]),     // Poland
    ("40", &[9]),     // Romania
    ("359", &[8, 9]), // Bulgaria
    ("32", &[8, 9]),  // Belgium
    ("36", &[8, 9]),  // Hungary
    ("421", &[9]),    // Slovakia
    ("420", &[9]),    // Czechia
    ("380", &[9]),    // Ukraine
    ("234", &[10]),   // Nigeria
];

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        const FIELD: &str = "phone";
        let without_trunk = raw.replace("(0)", "");
        let compact: String = without_trunk
            .chars()
            .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')' | '/')))
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
        if !(8..=15).contains(&international.len()) {
            return Err(IdentifierError::new(
                FIELD,
                format!(
                    "has {} digits including the country code; E.164 allows 8 to 15",
                    international.len()
                ),
                "phone.e164_length",
            ));
        }
        if let Some((code, lengths)) = KNOWN_LENGTHS
            .iter()
            .find(|(code, _)| international.starts_with(code))
        {
            let national = &international[code.len()..];
            if national.starts_with('0') {
                return Err(IdentifierError::new(
                    FIELD,
                    format!("keeps the trunk prefix 0 after country code +{code}; drop it"),
                    "phone.trunk_prefix",
                ));
            }
            if !lengths.contains(&national.len()) {
                return Err(IdentifierError::new(
                    FIELD,
                    format!(
                        "has {} digits after country code +{code}; numbers there have {}",
                        national.len(),
                        lengths
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                    "phone.national_length",
                ));
            }
        }
        Ok(Self(format!("+{international}")))
    }

    /// E.164 with leading `+`. Personal data.
    pub fn normalised(&self) -> &str {
        &self.0
    }
}
