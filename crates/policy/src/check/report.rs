//! How the checks record what they find: a problem (the set is refused) or a warning (the set
//! loads, the privacy officer should look), each located by file and line, and the few checks
//! every file shares (well-formed and unique ids, ISO 8601 durations, catalogued attributes).

use crate::duration::IsoDuration;
use crate::files::Name;
use crate::model::Attribute;
use crate::problem::{Problem, Source};
use std::collections::{BTreeMap, HashMap};
use toml::Spanned;

/// Everything found so far.
#[derive(Default)]
pub(super) struct Checker {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Checker {
    /// Records a problem at `spanned`.
    pub fn at<T>(
        &mut self,
        source: &Source,
        spanned: &Spanned<T>,
        rule: &'static str,
        message: String,
    ) {
        self.problems.push(located(source, spanned, rule, message));
    }

    /// Records a warning at `spanned`.
    pub fn warn<T>(
        &mut self,
        source: &Source,
        spanned: &Spanned<T>,
        rule: &'static str,
        message: String,
    ) {
        self.warnings.push(located(source, spanned, rule, message));
    }

    pub fn duration(
        &mut self,
        source: &Source,
        value: &Spanned<String>,
        what: &str,
    ) -> IsoDuration {
        match IsoDuration::parse(value.get_ref()) {
            Ok(d) => d,
            Err(why) => {
                self.at(
                    source,
                    value,
                    "duration.iso8601",
                    format!("{what} is not a valid ISO 8601 duration: {why}"),
                );
                // Checking goes on so every problem is reported; the set is rejected anyway.
                IsoDuration::PLACEHOLDER
            }
        }
    }

    /// The catalogue entry `attr` refers to, reporting an undefined one.
    pub fn catalogued<'a>(
        &mut self,
        attributes: &'a BTreeMap<String, Attribute>,
        source: &Source,
        attr: &Name,
    ) -> Option<&'a Attribute> {
        let found = attributes.get(attr.get_ref());
        if found.is_none() {
            self.at(
                source,
                attr,
                "reference.undefined_attribute",
                format!(
                    "attribute `{}` is not in the catalogue (attributes.toml)",
                    attr.get_ref()
                ),
            );
        }
        found
    }

    /// Registers `id` in `seen`, reporting a malformed id and a duplicate; `false` for a
    /// duplicate, which the caller skips so the first definition stands.
    pub fn unique(
        &mut self,
        seen: &mut HashMap<String, String>,
        source: &Source,
        id: &Name,
        what: &str,
    ) -> bool {
        if !is_identifier(id.get_ref()) {
            self.at(
                source,
                id,
                "id.format",
                format!(
                    "{what} id `{}` must be lower case letters, digits and _ (starting with a letter)",
                    id.get_ref()
                ),
            );
        }
        if let Some(first) = seen.get(id.get_ref()) {
            self.at(
                source,
                id,
                "unique.duplicate_id",
                format!(
                    "{what} `{}` is defined twice (first in {first})",
                    id.get_ref()
                ),
            );
            return false;
        }
        seen.insert(id.get_ref().clone(), place(source, id));
        true
    }
}

fn located<T>(
    source: &Source,
    spanned: &Spanned<T>,
    rule: &'static str,
    message: String,
) -> Problem {
    Problem {
        file: source.path.clone(),
        line: line(source, spanned),
        rule,
        message,
    }
}

/// `file:line` of `spanned`, for "first defined in" messages.
pub(super) fn place<T>(source: &Source, spanned: &Spanned<T>) -> String {
    format!("{}:{}", source.path, line(source, spanned))
}

/// The line of `spanned`; 0 for a value serde filled in by default (it has no place in the file).
fn line<T>(source: &Source, spanned: &Spanned<T>) -> usize {
    let span = spanned.span();
    if span == (0..0) {
        0
    } else {
        source.line_of(span.start)
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
