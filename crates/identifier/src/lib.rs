//! Typed, validated and normalised identifiers: the values signaalnet matches on.
//!
//! Parse, don't validate: every type here can only hold a valid value in its normalised form,
//! so two partners who write the same identifier differently (`1234 ab` and `1234AB`,
//! `06-12345678` and `+31 6 1234 5678`) end up with byte-for-byte the same [`MatchKey`]s.
//! A rejection is an [`IdentifierError`] that names the field, the problem and the rule but never
//! the value. `Debug` and `Display` of every identifier type print `[redacted]`: raw identifiers
//! are personal data and must not reach a log line by accident.
//!
//! Every field has a documented maximum length ([`limits`]), checked before any normalisation.
//!
//! This crate is pure: no I/O, no clock, no randomness (checks against "today" take the day as
//! an argument, [`Day`]). Pseudonymisation of match keys lives in
//! `signaalnet-pseudonym`.
#![forbid(unsafe_code)]

mod address;
mod bsn;
mod date;
mod error;
mod iban;
pub mod limits;
mod online_handle;
mod organisation;
mod person;
mod phone;
mod text;
mod vehicle;

pub use address::Address;
pub use bsn::Bsn;
pub use date::{DateOfBirth, Day};
pub use error::IdentifierError;
pub use iban::Iban;
pub use online_handle::{OnlineHandle, Platform};
pub use organisation::Organisation;
pub use person::Person;
pub use phone::Phone;
pub use text::is_control_or_format;
pub use vehicle::Vehicle;

use std::fmt;

/// The kinds of identifier a signal can carry (docs/DESIGN.md §4). The string form is part of the
/// hashed match key and of the wire format, so it never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentifierKind {
    Bsn,
    Person,
    Address,
    Organisation,
    Phone,
    Iban,
    Vehicle,
    OnlineHandle,
}

impl IdentifierKind {
    pub const ALL: [IdentifierKind; 8] = [
        Self::Bsn,
        Self::Person,
        Self::Address,
        Self::Organisation,
        Self::Phone,
        Self::Iban,
        Self::Vehicle,
        Self::OnlineHandle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bsn => "bsn",
            Self::Person => "person",
            Self::Address => "address",
            Self::Organisation => "organisation",
            Self::Phone => "phone",
            Self::Iban => "iban",
            Self::Vehicle => "vehicle",
            Self::OnlineHandle => "online_handle",
        }
    }

    /// The kind with this string form, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One normalised value to match on. An identifier yields one match key, except a person, who
/// yields several so that small spelling differences still meet (see [`Person`]).
///
/// The value is personal data: `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MatchKey {
    kind: IdentifierKind,
    value: String,
}

impl MatchKey {
    fn new(kind: IdentifierKind, value: String) -> Self {
        Self { kind, value }
    }

    pub fn kind(&self) -> IdentifierKind {
        self.kind
    }

    /// The normalised value. Handle as personal data: hash or encrypt it, never log it.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The bytes that are hashed into the pseudonym: `kind || 0x00 || value` (docs/DESIGN.md §4).
    pub fn hash_input(&self) -> Vec<u8> {
        let kind = self.kind.as_str().as_bytes();
        let mut bytes = Vec::with_capacity(kind.len() + 1 + self.value.len());
        bytes.extend_from_slice(kind);
        bytes.push(0);
        bytes.extend_from_slice(self.value.as_bytes());
        bytes
    }
}

impl fmt::Debug for MatchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MatchKey({}, [redacted])", self.kind)
    }
}

/// Any one identifier, as a partner submits it.
#[derive(Clone, PartialEq, Eq)]
pub enum Identifier {
    Bsn(Bsn),
    Person(Person),
    Address(Address),
    Organisation(Organisation),
    Phone(Phone),
    Iban(Iban),
    Vehicle(Vehicle),
    OnlineHandle(OnlineHandle),
}

impl Identifier {
    pub fn kind(&self) -> IdentifierKind {
        match self {
            Self::Bsn(_) => IdentifierKind::Bsn,
            Self::Person(_) => IdentifierKind::Person,
            Self::Address(_) => IdentifierKind::Address,
            Self::Organisation(_) => IdentifierKind::Organisation,
            Self::Phone(_) => IdentifierKind::Phone,
            Self::Iban(_) => IdentifierKind::Iban,
            Self::Vehicle(_) => IdentifierKind::Vehicle,
            Self::OnlineHandle(_) => IdentifierKind::OnlineHandle,
        }
    }

    /// The match keys of this identifier, in a fixed order.
    pub fn match_keys(&self) -> Vec<MatchKey> {
        let single = |value: &str| vec![MatchKey::new(self.kind(), value.to_owned())];
        match self {
            Self::Bsn(v) => single(v.normalised()),
            Self::Person(v) => v.match_keys(),
            Self::Address(v) => single(&v.normalised()),
            Self::Organisation(v) => single(&v.normalised()),
            Self::Phone(v) => single(v.normalised()),
            Self::Iban(v) => single(v.normalised()),
            Self::Vehicle(v) => single(&v.normalised()),
            Self::OnlineHandle(v) => single(&v.normalised()),
        }
    }
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identifier({}, [redacted])", self.kind())
    }
}

/// `Debug` and `Display` that never show the value.
macro_rules! redacted {
    ($($t:ty),+ $(,)?) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}([redacted])", stringify!($t))
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[redacted]")
            }
        }
    )+};
}
pub(crate) use redacted;

/// Removes the characters people put between digit groups of a number: spaces, dots and
/// dashes. Slashes are not among them: nobody writes a BSN or KvK-nummer with one, and a value
/// that has one is more likely a date or two numbers run together.
pub(crate) fn strip_number_separators(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !(matches!(c, ' ' | '\u{00A0}' | '.' | '-' | '\u{2010}'..='\u{2015}')))
        .collect()
}

/// The shared 11-proef of BSN and RSIN: weights 9..2 and −1 for the last digit, sum divisible
/// by 11. `digits` must be 9 ASCII digits.
pub(crate) fn elfproef(digits: &[u8; 9]) -> bool {
    let sum: i64 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let weight = if i == 8 { -1 } else { 9 - i as i64 };
            weight * i64::from(d - b'0')
        })
        .sum();
    sum % 11 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in IdentifierKind::ALL {
            assert_eq!(IdentifierKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(IdentifierKind::from_name("email"), None);
    }

    #[test]
    fn hash_input_separates_kind_and_value() {
        let key = MatchKey::new(IdentifierKind::Phone, "+31612345678".into());
        assert_eq!(key.hash_input(), b"phone\0+31612345678");
    }

    #[test]
    fn debug_of_match_key_hides_value() {
        let key = MatchKey::new(IdentifierKind::Bsn, "111222333".into());
        assert!(!format!("{key:?}").contains("111222333"));
    }
}
