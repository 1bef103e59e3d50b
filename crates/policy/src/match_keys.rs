//! Which of a person's match keys may link signals, per purpose: a privacy officer's choice
//! between finding more and erring less.
//!
//! A person is sent as up to three match keys (`signaalnet_identifier`'s person module): `full`
//! (surname, first given name, date of birth), `initial` (surname, initial, date of birth) and
//! `loose` (a spelling skeleton of the surname, initial, date of birth). The broader keys link
//! two Jansens with the same initial and date of birth who are different people. A purpose's
//! `person_match_keys` names the keys that may link for it (all three when left out, as before
//! the setting existed); the partner node sends only those, so the coordinator never holds a
//! pseudonym of a key the purpose does not allow.
//!
//! Every pair of persons that shares the `initial` key shares the `loose` key too (same surname,
//! initial and date of birth give the same skeleton), so leaving out `initial` but keeping
//! `loose` links no fewer persons; the check warns about it.

use crate::PolicySet;
use serde::Serialize;
use signaalnet_identifier::{Identifier, IdentifierKind, MatchKey};
use std::collections::BTreeSet;

/// One of a person's match keys, as `person_match_keys` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonMatchKey {
    /// Surname, first given name, date of birth; only when a given name is known.
    Full,
    /// Surname, initial, date of birth.
    Initial,
    /// A spelling skeleton of the surname, initial, date of birth.
    Loose,
}

impl PersonMatchKey {
    pub const ALL: [Self; 3] = [Self::Full, Self::Initial, Self::Loose];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Initial => "initial",
            Self::Loose => "loose",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// What the key is made of, for people.
    pub fn words(self) -> &'static str {
        match self {
            Self::Full => "surname, first given name, date of birth",
            Self::Initial => "surname, initial, date of birth",
            Self::Loose => "surname spelling skeleton, initial, date of birth",
        }
    }

    /// Which key `key` is; `None` for a key of another identifier kind. A person's key value
    /// starts with the key's name and `|` (`initial|jansen|j|1990-03-14`).
    pub fn of(key: &MatchKey) -> Option<Self> {
        if key.kind() != IdentifierKind::Person {
            return None;
        }
        key.value().split('|').next().and_then(Self::from_name)
    }
}

impl PolicySet {
    /// The match keys `identifier` is sent as for `purpose`: a person's only as far as the
    /// purpose lets them link; every other kind's (one key each) unchanged. For a purpose the
    /// set does not define, a person has none (such a signal is refused anyway).
    pub fn match_keys(&self, purpose: &str, identifier: &Identifier) -> Vec<MatchKey> {
        let keys = identifier.match_keys();
        if identifier.kind() != IdentifierKind::Person {
            return keys;
        }
        let allowed = self
            .purpose(purpose)
            .map(|p| &p.person_match_keys)
            .cloned()
            .unwrap_or_default();
        keys.into_iter()
            .filter(|k| PersonMatchKey::of(k).is_some_and(|k| allowed.contains(&k)))
            .collect()
    }
}

/// The keys a purpose allows when it does not say: all of them, as before the setting existed.
pub(crate) fn default_keys() -> BTreeSet<PersonMatchKey> {
    PersonMatchKey::ALL.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use signaalnet_identifier::{Day, Person};

    fn person(given: &str) -> Identifier {
        let today = Day::new(2026, 12, 1).unwrap();
        Identifier::Person(Person::parse("Jansen", given, "1990-03-14", today).unwrap())
    }

    /// Guards the coupling to the identifier crate's key format: every key a person is sent as
    /// is recognised, in the documented order.
    #[test]
    fn every_key_of_a_person_is_recognised() {
        let kinds: Vec<_> = person("Jan")
            .match_keys()
            .iter()
            .map(PersonMatchKey::of)
            .collect();
        assert_eq!(
            kinds,
            PersonMatchKey::ALL.map(Some).to_vec(),
            "the identifier crate's person keys changed"
        );
        let initials: Vec<_> = person("J.")
            .match_keys()
            .iter()
            .map(PersonMatchKey::of)
            .collect();
        assert_eq!(
            initials,
            vec![Some(PersonMatchKey::Initial), Some(PersonMatchKey::Loose)]
        );
    }
}
