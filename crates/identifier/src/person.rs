//! Persons identified by name and date of birth, for partners who have no BSN (or whose subject
//! has none: many people exploited in the Netherlands are not registered in the BRP).
//!
//! Refused before normalisation (rules `person.too_long`, `person.control_characters`,
//! `person.digits`, `person.combining_marks`):
//!
//! - a surname of more than 212 characters or given names of more than 200 (see `limits.rs`:
//!   the BRP's own limits);
//! - control characters (line breaks, tabs, U+0085 NEL, NUL …), the line and paragraph
//!   separators U+2028/U+2029 and format characters (zero-width spaces and joiners,
//!   bidirectional overrides, the soft hyphen): no register writes them in a name, and they
//!   would let two different byte strings look like one name;
//! - any digit: names in the BRP and in passports have none, and a value like `12345` or
//!   `Jansen 2` is a case system's number or a duplicate marker, not a name;
//! - more than 3 combining marks on one base character: the most any script here needs is two
//!   (Vietnamese `ệ` decomposed); a stack of hundreds is an attempt to make a name unreadable.
//!
//! Normalisation, in order:
//!
//! 1. Surname and given names are folded to lower-case ASCII words (see `text.rs`: Cyrillic
//!    transliterated, diacritics dropped, ł → l, ß → ss …).
//! 2. A surname written "Berg, van der" is read as "van der Berg".
//! 3. Tussenvoegsels and foreign name particles (van, der, de, ten, 't, von, da, le, v.d. …) are
//!    separated from the surname wherever they stand, so "van der Berg", "Berg" and
//!    "Jansen-van der Berg" → "jansenberg" compare on the core. A surname that consists of
//!    particles only ("De", "Le") is kept whole.
//! 4. The remaining surname words are joined without separator ("Popescu-Ionescu" and
//!    "Popescu Ionescu" meet), and "ij" is written "y" (Dutch ij/y: "Bijl" and "Byl" meet).
//! 5. The first given name is the first word of at least two letters; the initial is the first
//!    letter of the first word. "J.P." gives an initial only.
//!
//! Match keys (each a separate pseudonym, all of kind `person`):
//!
//! - `full`: surname core, first given name, date of birth. Only when a given name is known.
//! - `initial`: surname core, initial, date of birth.
//! - `loose`: a spelling skeleton of the surname core, initial, date of birth. The skeleton
//!   writes w as v, ph as f, ck and q as k, y as i, ue/oe/ae as u/o/a, th as t, and collapses
//!   doubled letters, so "Iwanow"/"Ivanov", "Janssen"/"Jansen", "Mueller"/"Müller" and
//!   "Kowalsky"/"Kowalski" meet.
//!
//! The broader keys match more people by accident (two Jansens with the same initial and date
//! of birth), which is why a hit reports which key kinds met and why a hit always needs at least
//! two partners.

use crate::date::{DateOfBirth, Day};
use crate::error::{at_most, describe_char, IdentifierError};
use crate::text::fold_words;
use crate::{limits, redacted, IdentifierKind, MatchKey};
use unicode_normalization::char::is_combining_mark;

/// A person as surname, given names (or initials) and date of birth, normalised.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Person {
    surname_core: String,
    first_given_name: Option<String>,
    initial: char,
    date_of_birth: DateOfBirth,
}
redacted!(Person);

/// Particles that are not part of the surname core. Matched as whole folded words.
const PARTICLES: &[&str] = &[
    "van", "der", "den", "de", "het", "t", "ten", "ter", "te", "in", "op", "uit", "aan", "bij",
    "onder", "over", "voor", "vd", "v", "d", "von", "vom", "zu", "zum", "zur", "la", "le", "les",
    "du", "des", "di", "da", "del", "della", "dos", "das", "do", "al", "el", "y",
];

impl Person {
    /// `today` bounds the date of birth (see `date.rs`); the crate reads no clock.
    pub fn parse(
        surname: &str,
        given_names: &str,
        date_of_birth: &str,
        today: Day,
    ) -> Result<Self, IdentifierError> {
        at_most(
            "person.surname",
            surname,
            limits::SURNAME,
            "person.too_long",
        )?;
        at_most(
            "person.given_names",
            given_names,
            limits::GIVEN_NAMES,
            "person.too_long",
        )?;
        check_name_characters("person.surname", surname)?;
        check_name_characters("person.given_names", given_names)?;
        let surname_core = surname_core(surname)?;
        let given = fold_field(given_names, "person.given_names")?;
        let given: Vec<String> = given.iter().map(|w| ij_to_y(w)).collect();
        let Some(first_word) = given.first() else {
            return Err(IdentifierError::new(
                "person.given_names",
                "is empty; give the given names or at least the initials",
                "person.given_names_required",
            ));
        };
        let initial = first_word.chars().next().unwrap_or('?');
        let first_given_name = given.iter().find(|w| w.chars().count() >= 2).cloned();
        let date_of_birth = DateOfBirth::parse("person.date_of_birth", date_of_birth, today)?;
        Ok(Self {
            surname_core,
            first_given_name,
            initial,
            date_of_birth,
        })
    }

    pub fn date_of_birth(&self) -> DateOfBirth {
        self.date_of_birth
    }

    /// The match keys in the order `full` (if a given name is known), `initial`, `loose`.
    pub fn match_keys(&self) -> Vec<MatchKey> {
        let dob = self.date_of_birth.iso();
        let mut keys = Vec::with_capacity(3);
        if let Some(first) = &self.first_given_name {
            keys.push(format!("full|{}|{first}|{dob}", self.surname_core));
        }
        keys.push(format!(
            "initial|{}|{}|{dob}",
            self.surname_core, self.initial
        ));
        keys.push(format!(
            "loose|{}|{}|{dob}",
            skeleton(&self.surname_core),
            self.initial
        ));
        keys.into_iter()
            .map(|v| MatchKey::new(IdentifierKind::Person, v))
            .collect()
    }
}

/// Most combining marks allowed on one base character.
const MAX_COMBINING_MARKS: usize = 3;

/// The character rules of the module doc, on the raw value; errors give the class and position
/// of the character, never the character.
fn check_name_characters(field: &str, raw: &str) -> Result<(), IdentifierError> {
    let mut marks = 0;
    for (position, c) in raw.chars().enumerate() {
        if crate::text::is_control_or_format(c) {
            return Err(IdentifierError::new(
                field,
                format!(
                    "contains {}; a name has no control, line-break or format characters",
                    describe_format(c, position)
                ),
                "person.control_characters",
            ));
        }
        if c.is_numeric() {
            return Err(IdentifierError::new(
                field,
                format!(
                    "contains {}; a name has no digits",
                    describe_char(c, position)
                ),
                "person.digits",
            ));
        }
        if is_combining_mark(c) {
            marks += 1;
            if marks > MAX_COMBINING_MARKS {
                return Err(IdentifierError::new(
                    field,
                    format!(
                        "has more than {MAX_COMBINING_MARKS} combining marks on one character \
                         (at position {})",
                        position + 1
                    ),
                    "person.combining_marks",
                ));
            }
        } else {
            marks = 0;
        }
    }
    Ok(())
}

fn describe_format(c: char, position: usize) -> String {
    if c.is_control() {
        describe_char(c, position)
    } else {
        format!(
            "a format or separator character at position {}",
            position + 1
        )
    }
}

fn fold_field(raw: &str, field: &str) -> Result<Vec<String>, IdentifierError> {
    fold_words(raw).map_err(|position| {
        let c = raw.chars().nth(position).unwrap_or('?');
        IdentifierError::new(
            field,
            format!(
                "contains {} that has no Latin transliteration here (supported: Latin with \
                 diacritics, Cyrillic)",
                describe_char(c, position)
            ),
            "person.script",
        )
    })
}

fn surname_core(raw: &str) -> Result<String, IdentifierError> {
    const FIELD: &str = "person.surname";
    // "Berg, van der" → "van der Berg"
    let reordered = match raw.split_once(',') {
        Some((main, particles)) => format!("{particles} {main}"),
        None => raw.to_owned(),
    };
    let words = fold_field(&reordered, FIELD)?;
    if words.is_empty() {
        return Err(IdentifierError::new(
            FIELD,
            "is empty",
            "person.surname_required",
        ));
    }
    let core: Vec<&String> = words
        .iter()
        .filter(|w| !PARTICLES.contains(&w.as_str()))
        .collect();
    let core = if core.is_empty() {
        words.concat()
    } else {
        core.into_iter().map(String::as_str).collect()
    };
    Ok(ij_to_y(&core))
}

fn ij_to_y(word: &str) -> String {
    word.replace("ij", "y")
}

/// The spelling skeleton used by the `loose` key.
fn skeleton(core: &str) -> String {
    let replaced = core
        .replace("ph", "f")
        .replace("ck", "k")
        .replace("th", "t")
        .replace("ue", "u")
        .replace("oe", "o")
        .replace("ae", "a");
    let mapped = replaced.chars().map(|c| match c {
        'w' => 'v',
        'q' => 'k',
        'y' => 'i',
        other => other,
    });
    let mut out = String::with_capacity(core.len());
    for c in mapped {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(surname: &str, given: &str, dob: &str) -> Vec<String> {
        Person::parse(surname, given, dob, Day::new(2026, 12, 1).unwrap())
            .unwrap()
            .match_keys()
            .iter()
            .map(|k| k.value().to_owned())
            .collect()
    }

    #[test]
    fn keys_have_the_documented_shape() {
        assert_eq!(
            keys("van der Berg", "Jan Pieter", "1990-03-14"),
            [
                "full|berg|jan|1990-03-14",
                "initial|berg|j|1990-03-14",
                "loose|berg|j|1990-03-14"
            ]
        );
    }

    #[test]
    fn initials_only_give_no_full_key() {
        assert_eq!(
            keys("Jansen", "J.P.", "14-03-1990"),
            ["initial|jansen|j|1990-03-14", "loose|jansen|j|1990-03-14"]
        );
    }

    #[test]
    fn skeleton_rules() {
        assert_eq!(skeleton("iwanow"), "ivanov");
        assert_eq!(skeleton("janssen"), "jansen");
        assert_eq!(skeleton("mueller"), "muler");
        assert_eq!(skeleton("kowalsky"), "kovalski");
    }
}
