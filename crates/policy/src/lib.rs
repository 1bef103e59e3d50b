//! signaalnet sharing policies: the privacy officer's instrument, checked by the machine.
//!
//! A policy set is a directory of TOML files (see [`files`] for the layout) that says, per
//! purpose, on which legal basis which partner may share which identifier kinds and attributes,
//! and which recipient sees what of a hit. [`PolicySet::load`] parses and checks it, reporting
//! every problem with file, line and rule; the resulting set answers two questions:
//!
//! - [`PolicySet::evaluate_share`]: may partner P share identifier kinds K and attributes A for
//!   purpose U? The answer lists every refused item with the rule that refused it.
//! - [`PolicySet::recipient_view`]: what may recipient role R see of a hit for purpose U?
//!
//! Every set has a version: the SHA-256 of its files (path and content), so two roles can tell
//! whether they enforce the same set.
#![forbid(unsafe_code)]

mod check;
mod diff;
mod duration;
mod evaluate;
pub mod explain;
pub mod files;
pub mod limits;
mod live;
mod match_keys;
mod model;
mod problem;
pub mod quota;
pub mod register;
pub mod signal_check;
pub mod signature;
pub mod suggest;

pub use check::{contact_problem, MAX_CONTACT, MIN_MONITOR_CELL_SIZE};
pub use duration::IsoDuration;
pub use evaluate::{Refusal, ShareDecision};
pub use live::LivePolicy;
pub use model::{
    Alarms, Attribute, AttributeKind, Counting, Disclosure, Grant, InvalidValue, LegalBasis,
    Limits, Monitor, Partner, PartnerRole, PersonMatchKey, Purpose, RecipientRole, RecipientView,
    Sensitivity, Share,
};
pub use problem::{PolicyProblems, Problem, Source};

use check::Parsed;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The rule of the one problem of a policy directory that does not exist.
pub const DIR_NOT_FOUND: &str = "dir.not_found";

/// The files every policy set has besides `partners/*.toml`.
pub const REQUIRED_FILES: [&str; 4] = [
    "legal_bases.toml",
    "purposes.toml",
    "attributes.toml",
    "recipients.toml",
];

/// A loaded, fully checked policy set.
#[derive(Debug, Clone)]
pub struct PolicySet {
    version: String,
    legal_bases: BTreeMap<String, LegalBasis>,
    purposes: BTreeMap<String, Purpose>,
    attributes: BTreeMap<String, Attribute>,
    partners: BTreeMap<String, Partner>,
    oin_index: HashMap<String, String>,
    recipients: BTreeMap<(RecipientRole, String), RecipientView>,
    warnings: Vec<Problem>,
}

impl PolicySet {
    /// Reads `dir/*.toml` and `dir/partners/*.toml` and checks them.
    pub fn load(dir: &Path) -> Result<Self, PolicyProblems> {
        // One problem, not one per file that is not there.
        if !dir.is_dir() {
            return Err(PolicyProblems(vec![Problem {
                file: ".".to_owned(),
                line: 0,
                rule: DIR_NOT_FOUND,
                message: format!("the policy directory {} does not exist", dir.display()),
            }]));
        }
        let mut sources = Vec::new();
        let mut problems = Vec::new();
        let mut read = |relative: String, path: &Path| match std::fs::read_to_string(path) {
            Ok(content) => sources.push(Source {
                path: relative,
                content,
            }),
            Err(e) => problems.push(Problem {
                file: relative,
                line: 0,
                rule: "file.unreadable",
                message: format!("cannot be read: {e}"),
            }),
        };
        for name in REQUIRED_FILES {
            let path = dir.join(name);
            if path.exists() {
                read(name.to_owned(), &path);
            }
        }
        match std::fs::read_dir(dir.join("partners")) {
            Ok(entries) => {
                let mut paths: Vec<_> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                    .collect();
                paths.sort();
                for path in paths {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    read(format!("partners/{name}"), &path);
                }
            }
            Err(e) => problems.push(Problem {
                file: "partners/".to_owned(),
                line: 0,
                rule: "file.missing",
                message: format!("the directory of partner files cannot be read: {e}"),
            }),
        }
        match Self::from_sources(sources) {
            Ok(set) if problems.is_empty() => Ok(set),
            Ok(_) => Err(PolicyProblems(problems)),
            Err(PolicyProblems(more)) => {
                problems.extend(more);
                Err(PolicyProblems(problems))
            }
        }
    }

    /// Checks a policy set given as files in memory (path relative to the policy directory).
    pub fn from_sources(mut sources: Vec<Source>) -> Result<Self, PolicyProblems> {
        sources.sort_by(|a, b| a.path.cmp(&b.path));
        let version = version_of(&sources);
        let mut problems = Vec::new();
        for name in REQUIRED_FILES {
            if !sources.iter().any(|s| s.path == name) {
                problems.push(Problem {
                    file: name.to_owned(),
                    line: 0,
                    rule: "file.missing",
                    message: "is missing from the policy set".to_owned(),
                });
            }
        }
        let mut parsed = Parsed {
            legal_bases: None,
            purposes: None,
            attributes: None,
            recipients: None,
            partners: Vec::new(),
        };
        for source in &sources {
            match source.path.as_str() {
                "legal_bases.toml" => parsed.legal_bases = parse(source, &mut problems),
                "purposes.toml" => parsed.purposes = parse(source, &mut problems),
                "attributes.toml" => parsed.attributes = parse(source, &mut problems),
                "recipients.toml" => parsed.recipients = parse(source, &mut problems),
                p if p.starts_with("partners/") => {
                    if let Some(partner) = parse(source, &mut problems) {
                        parsed.partners.push(partner);
                    }
                }
                other => problems.push(Problem {
                    file: other.to_owned(),
                    line: 0,
                    rule: "file.unknown",
                    message: format!(
                        "is not part of a policy set (expected {} and partners/*.toml)",
                        REQUIRED_FILES.join(", ")
                    ),
                }),
            }
        }
        match check::check(parsed, version) {
            Ok(set) if problems.is_empty() => Ok(set),
            Ok(_) => Err(PolicyProblems(problems)),
            Err(more) => {
                problems.extend(more);
                // In the order of the files, as an officer goes through them.
                problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
                Err(PolicyProblems(problems))
            }
        }
    }

    /// `sha256:` and the hex SHA-256 over every file's path and content.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Problems that do not make the set invalid but that a privacy officer should look at.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    pub fn purposes(&self) -> impl Iterator<Item = &Purpose> {
        self.purposes.values()
    }

    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.purposes.get(id)
    }

    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.attributes.values()
    }

    pub fn attribute(&self, id: &str) -> Option<&Attribute> {
        self.attributes.get(id)
    }

    pub fn legal_bases(&self) -> impl Iterator<Item = &LegalBasis> {
        self.legal_bases.values()
    }

    pub fn partners(&self) -> impl Iterator<Item = &Partner> {
        self.partners.values()
    }

    pub fn partner(&self, id: &str) -> Option<&Partner> {
        self.partners.get(id)
    }

    /// The contact point (a functional address) of partner `id` for `purpose`, if its share
    /// for the purpose names one.
    pub fn contact(&self, id: &str, purpose: &str) -> Option<&str> {
        self.partners
            .get(id)?
            .shares
            .get(purpose)?
            .contact
            .as_deref()
    }

    /// The partner an OIN (from a certificate's subject serialNumber) belongs to.
    pub fn partner_by_oin(&self, oin: &str) -> Option<&Partner> {
        self.oin_index.get(oin).and_then(|id| self.partners.get(id))
    }

    /// What `role` may see of a hit for `purpose`; `None` means nothing at all.
    pub fn recipient_view(&self, role: RecipientRole, purpose: &str) -> Option<&RecipientView> {
        self.recipients.get(&(role, purpose.to_owned()))
    }

    /// The probing limits of `partner` for `purpose`; `None` when it does not share for it.
    pub fn limits(&self, partner: &str, purpose: &str) -> Option<&Limits> {
        self.partners
            .get(partner)
            .and_then(|p| p.shares.get(purpose))
            .map(|s| &s.limits)
    }

    pub fn recipient_views(&self) -> impl Iterator<Item = &RecipientView> {
        self.recipients.values()
    }
}

fn parse<'a, T: DeserializeOwned>(
    source: &'a Source,
    problems: &mut Vec<Problem>,
) -> Option<(&'a Source, T)> {
    match toml::from_str::<T>(&source.content) {
        Ok(value) => Some((source, value)),
        Err(e) => {
            problems.push(Problem {
                file: source.path.clone(),
                line: e.span().map_or(0, |s| source.line_of(s.start)),
                rule: "file.parse",
                message: parse_message(e.message().trim(), &source.path),
            });
            None
        }
    }
}

/// The parser's message, with the nearest valid name for an unknown field or value, and what
/// the officer will not be told until the file parses (the references into it are not checked).
fn parse_message(message: &str, path: &str) -> String {
    let mut out = message.to_owned();
    if message.starts_with("unknown field") || message.starts_with("unknown variant") {
        // serde: "unknown field `x`, expected one of `a`, `b`" (or "expected `a` or `b`").
        let mut quoted = message.split('`').skip(1).step_by(2);
        if let Some(word) = quoted.next() {
            out += &suggest::did_you_mean(word, quoted);
        }
    }
    let unread = match path {
        "legal_bases.toml" => Some(("legal basis", "legal bases")),
        "purposes.toml" => Some(("purpose", "purposes")),
        "attributes.toml" => Some(("attribute", "attributes")),
        _ => None,
    };
    if let Some((one, many)) = unread {
        out += &format!(
            " (until this file parses, no {one} is defined, so references to {many} are not checked)"
        );
    }
    out
}

fn version_of(sources: &[Source]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for source in sources {
        ctx.update(source.path.as_bytes());
        ctx.update(&[0]);
        ctx.update(&(source.content.len() as u64).to_be_bytes());
        ctx.update(source.content.as_bytes());
    }
    format!("sha256:{}", hex::encode(ctx.finish().as_ref()))
}
