//! How the checks record what they find: a problem (the set is refused) or a warning (the set
//! loads, the privacy officer should look), each located by file and line, and the few checks
//! every file shares (well-formed and unique ids, ISO 8601 durations, catalogued attributes).
//!
//! One mistake, one message: a reference into a catalogue whose file is missing or did not parse
//! is not checked (the file's own problem is the root cause), and every reference to the same
//! undefined name becomes one problem, at the first place, listing the others and suggesting the
//! nearest defined name.

use crate::duration::IsoDuration;
use crate::files::Name;
use crate::model::Attribute;
use crate::problem::{Problem, Source};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use toml::Spanned;

/// Everything found so far.
#[derive(Default)]
pub(super) struct Checker {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// Catalogues whose file is missing or did not parse: what refers to them is not checked.
    pub unresolved: BTreeSet<Catalogue>,
    /// References to undefined names, by catalogue and name, in the order found.
    undefined: BTreeMap<(Catalogue, String), Vec<Problem>>,
}

/// A file of definitions that other files refer to by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Catalogue {
    LegalBasis,
    Purpose,
    Attribute,
}

impl Catalogue {
    fn rule(self) -> &'static str {
        match self {
            Self::LegalBasis => "reference.undefined_legal_basis",
            Self::Purpose => "reference.undefined_purpose",
            Self::Attribute => "reference.undefined_attribute",
        }
    }
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

    /// The duration `value` gives, or `None` (reported) when it is not ISO 8601; checks that
    /// need it are skipped then, so no message shows a value the officer did not write.
    pub fn duration(
        &mut self,
        source: &Source,
        value: &Spanned<String>,
        what: &str,
    ) -> Option<IsoDuration> {
        match IsoDuration::parse(value.get_ref()) {
            Ok(d) => Some(d),
            Err(why) => {
                self.at(
                    source,
                    value,
                    "duration.iso8601",
                    format!(
                        "{what} `{}` is not a valid ISO 8601 duration: {why}",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// Records a reference to `name`, which `catalogue` does not define; `message` says who
    /// refers to it. Nothing is recorded when the catalogue itself could not be read: its own
    /// problem is the cause.
    pub fn undefined(
        &mut self,
        catalogue: Catalogue,
        source: &Source,
        name: &Name,
        message: String,
    ) {
        if self.unresolved.contains(&catalogue) {
            return;
        }
        self.undefined
            .entry((catalogue, name.get_ref().clone()))
            .or_default()
            .push(located(source, name, catalogue.rule(), message));
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
            self.undefined(
                Catalogue::Attribute,
                source,
                attr,
                format!(
                    "attribute `{}` is not in the catalogue (attributes.toml)",
                    attr.get_ref()
                ),
            );
        }
        found
    }

    /// Turns the references to undefined names into problems: one per name, at its first
    /// reference, naming the others and the nearest defined name of `defined(catalogue)`.
    pub fn report_undefined<'a>(&mut self, defined: impl Fn(Catalogue) -> Vec<&'a str>) {
        for ((catalogue, name), places) in std::mem::take(&mut self.undefined) {
            let mut places = places.into_iter();
            let Some(mut first) = places.next() else {
                continue;
            };
            let others: Vec<String> = places.map(|p| format!("{}:{}", p.file, p.line)).collect();
            // A name referred to in several places is more likely defined under a misspelt id
            // than misspelt the same way everywhere.
            match crate::suggest::nearest(&name, defined(catalogue)) {
                Some(near) if !others.is_empty() => {
                    first.message += &format!("; `{near}` is defined: is that id misspelt?");
                }
                Some(near) => first.message += &format!("; did you mean `{near}`?"),
                None => {}
            }
            if !others.is_empty() {
                first.message += &format!(" (also referred to at {})", others.join(", "));
            }
            self.problems.push(first);
        }
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
