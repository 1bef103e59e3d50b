//! The one error type of this crate.
//!
//! A rejection says which field, what is wrong and which rule was applied, so a partner's
//! developer can fix the input. It never carries the rejected value or any part of it: the value
//! is personal data, and errors end up in logs and gRPC status messages.

use std::borrow::Cow;
use std::fmt;

/// A rejected identifier: the field, the problem and the rule, never the value.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub struct IdentifierError {
    field: String,
    problem: Cow<'static, str>,
    rule: &'static str,
}

impl IdentifierError {
    /// `problem` must describe the value without quoting it (lengths, character classes and
    /// positions are fine; characters of the value are not).
    pub(crate) fn new(
        field: impl Into<String>,
        problem: impl Into<Cow<'static, str>>,
        rule: &'static str,
    ) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
            rule,
        }
    }

    /// Places the error under a parent field, e.g. `person.surname` under `identifiers[2]`.
    #[must_use]
    pub fn at(mut self, parent: &str) -> Self {
        if !parent.is_empty() {
            self.field = format!("{parent}.{}", self.field);
        }
        self
    }

    /// The path of the rejected field, e.g. `address.postcode`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with the value, in words that do not quote it.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    /// The identifier of the rule that rejected it, e.g. `bsn.elfproef`.
    pub fn rule(&self) -> &'static str {
        self.rule
    }
}

impl fmt::Display for IdentifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (rule {})", self.field, self.problem, self.rule)
    }
}

impl fmt::Debug for IdentifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Describes a character for an error message without revealing it: its class and position
/// (counted in the value after separators such as spaces and dashes were removed).
pub(crate) fn describe_char(c: char, position: usize) -> String {
    let class = if c.is_ascii_digit() {
        "a digit"
    } else if c.is_alphabetic() {
        "a letter"
    } else if c.is_whitespace() {
        "white space"
    } else if c.is_control() {
        "a control character"
    } else {
        "a punctuation or symbol character"
    };
    format!("{class} at position {}", position + 1)
}

/// Refuses `value` when a character is not `allowed`, naming the character's class and
/// position (never the character itself) and what is expected instead.
pub(crate) fn only(
    field: &str,
    value: &str,
    allowed: impl Fn(char) -> bool,
    expected: &str,
    rule: &'static str,
) -> Result<(), IdentifierError> {
    match value.chars().enumerate().find(|(_, c)| !allowed(*c)) {
        None => Ok(()),
        Some((i, c)) => Err(IdentifierError::new(
            field,
            format!("contains {}; {expected}", describe_char(c, i)),
            rule,
        )),
    }
}

/// Refuses `value` when it has more than `max` characters (Unicode scalar values), before any
/// other work is done on it. A character is at most 4 bytes, so a value of more than `4 * max`
/// bytes is refused without being scanned; the message states the limit, never the value or its
/// length.
pub(crate) fn at_most(
    field: &str,
    value: &str,
    max: usize,
    rule: &'static str,
) -> Result<(), IdentifierError> {
    if value.len() <= max {
        return Ok(());
    }
    if value.len() > max.saturating_mul(4) || value.chars().count() > max {
        return Err(IdentifierError::new(
            field,
            format!("is longer than {max} characters"),
            rule,
        ));
    }
    Ok(())
}
