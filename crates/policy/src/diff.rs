//! What a change to a policy set newly allows and forbids, flow by flow (see [`crate::explain`]
//! for what a flow is), and the other changes in words: `signaalnet policy diff`.

use crate::explain::{flows, purpose_line, Flow};
use crate::{PersonMatchKey, PolicySet};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What changes between two sets; serialised as `policy diff --json` shows it (with the two
/// sets' versions around it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub allowed: Vec<Flow>,
    pub forbidden: Vec<Flow>,
    /// Same item, same partner, same purpose, another legal basis.
    pub rebased: Vec<Rebased>,
    /// Other changes in words: purposes' retention, window, minimum partners, cell size;
    /// attributes' class; partners' OINs and roles; purposes and partners added or removed.
    pub changed: Vec<String>,
}

/// A flow that stays, on another legal basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rebased {
    pub was: Flow,
    pub now: Flow,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
            && self.forbidden.is_empty()
            && self.rebased.is_empty()
            && self.changed.is_empty()
    }
}

pub fn diff(old: &PolicySet, new: &PolicySet) -> Diff {
    let (a, b) = (flows(old), flows(new));
    let by_key = |set: &BTreeSet<Flow>| -> BTreeMap<(String, String, String, u8), Flow> {
        set.iter().map(|f| (f.key(), f.clone())).collect()
    };
    let (ka, kb) = (by_key(&a), by_key(&b));
    let mut d = Diff::default();
    for (key, flow) in &kb {
        match ka.get(key) {
            None => d.allowed.push(flow.clone()),
            Some(before) if before != flow => d.rebased.push(Rebased {
                was: before.clone(),
                now: flow.clone(),
            }),
            Some(_) => {}
        }
    }
    for (key, flow) in &ka {
        if !kb.contains_key(key) {
            d.forbidden.push(flow.clone());
        }
    }
    let mut changed = |what: String| d.changed.push(what);
    for p in old.purposes() {
        let Some(q) = new.purpose(&p.id) else {
            changed(format!("purpose {} removed", p.id));
            continue;
        };
        let fields = [
            (
                "retention_unmatched",
                p.retention_unmatched.to_string(),
                q.retention_unmatched.to_string(),
            ),
            (
                "retention_hits",
                p.retention_hits.to_string(),
                q.retention_hits.to_string(),
            ),
            (
                "match_window",
                p.match_window.to_string(),
                q.match_window.to_string(),
            ),
            (
                "min_distinct_partners",
                p.min_distinct_partners.to_string(),
                q.min_distinct_partners.to_string(),
            ),
            (
                "legal_bases",
                p.legal_bases.join(", "),
                q.legal_bases.join(", "),
            ),
            (
                "processing_activity_id",
                p.processing_activity_id.clone(),
                q.processing_activity_id.clone(),
            ),
            (
                "person_match_keys",
                keys(&p.person_match_keys),
                keys(&q.person_match_keys),
            ),
            (
                "data_subjects",
                p.data_subjects.join(", "),
                q.data_subjects.join(", "),
            ),
            (
                "min_cell_size",
                p.monitor
                    .as_ref()
                    .map(|m| m.min_cell_size.to_string())
                    .unwrap_or_default(),
                q.monitor
                    .as_ref()
                    .map(|m| m.min_cell_size.to_string())
                    .unwrap_or_default(),
            ),
        ];
        for (field, before, after) in fields {
            if before != after {
                changed(format!("purpose {}: {field} {before} → {after}", p.id));
            }
        }
    }
    for q in new.purposes() {
        if old.purpose(&q.id).is_none() {
            changed(format!("purpose {} added: {}", q.id, purpose_line(q)));
        }
    }
    for a in old.attributes() {
        match new.attribute(&a.id) {
            None => changed(format!("attribute {} removed from the catalogue", a.id)),
            Some(b) if b.sensitivity != a.sensitivity => changed(format!(
                "attribute {}: class {} → {}",
                a.id,
                a.sensitivity.as_str(),
                b.sensitivity.as_str()
            )),
            Some(b) if b.values != a.values => changed(format!(
                "attribute {}: values [{}] → [{}]",
                a.id,
                a.values.join(", "),
                b.values.join(", ")
            )),
            Some(_) => {}
        }
    }
    for b in new.attributes() {
        if old.attribute(&b.id).is_none() {
            changed(format!(
                "attribute {} added to the catalogue ({})",
                b.id,
                b.sensitivity.as_str()
            ));
        }
    }
    for p in old.partners() {
        match new.partner(&p.id) {
            None => changed(format!("partner {} removed", p.id)),
            Some(q) => {
                if p.role != q.role {
                    changed(format!(
                        "partner {}: role {} → {}",
                        p.id,
                        p.role.as_str(),
                        q.role.as_str()
                    ));
                }
                for (purpose, share) in &p.shares {
                    let Some(after) = q.shares.get(purpose) else {
                        continue;
                    };
                    let (a, b) = (&share.limits, &after.limits);
                    if (a.identifiers_per_signal, a.identifiers_per_day, a.grant)
                        != (b.identifiers_per_signal, b.identifiers_per_day, b.grant)
                    {
                        changed(format!(
                            "partner {} for {purpose}: limits {} per signal, {} per 24 hours ({:?}) → {} per signal, {} per 24 hours ({:?})",
                            p.id,
                            a.identifiers_per_signal,
                            a.identifiers_per_day,
                            a.grant,
                            b.identifiers_per_signal,
                            b.identifiers_per_day,
                            b.grant
                        ));
                    }
                }
                if p.oins != q.oins {
                    changed(format!(
                        "partner {}: OINs {} → {}",
                        p.id,
                        p.oins.join(", "),
                        q.oins.join(", ")
                    ));
                }
                // A contact point goes to the other partners of a hit: a change is worth a line.
                for (purpose, share) in &q.shares {
                    let was = p.shares.get(purpose).and_then(|s| s.contact.as_deref());
                    let now = share.contact.as_deref();
                    if was != now {
                        changed(format!(
                            "partner {}: contact point for {purpose} {} → {}",
                            p.id,
                            was.unwrap_or("(none)"),
                            now.unwrap_or("(none)")
                        ));
                    }
                }
            }
        }
    }
    for q in new.partners() {
        if old.partner(&q.id).is_none() {
            changed(format!(
                "partner {} added ({}, OIN {})",
                q.id,
                q.role.as_str(),
                q.oins.join(", ")
            ));
        }
    }
    d
}

fn keys(keys: &BTreeSet<PersonMatchKey>) -> String {
    let names: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    format!("[{}]", names.join(", "))
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return writeln!(f, "No flow changes: both sets allow exactly the same.");
        }
        let section = |f: &mut std::fmt::Formatter<'_>, title: &str, lines: Vec<String>| {
            if lines.is_empty() {
                return Ok(());
            }
            writeln!(f, "{title} ({}):", lines.len())?;
            for line in lines {
                writeln!(f, "  {line}")?;
            }
            writeln!(f)
        };
        section(
            f,
            "NEWLY ALLOWED",
            self.allowed
                .iter()
                .map(|x| format!("+ {}", x.describe()))
                .collect(),
        )?;
        section(
            f,
            "NO LONGER ALLOWED",
            self.forbidden
                .iter()
                .map(|x| format!("- {}", x.describe()))
                .collect(),
        )?;
        section(
            f,
            "OTHER LEGAL BASIS",
            self.rebased
                .iter()
                .map(|r| format!("~ {}  (was: {})", r.now.describe(), r.was.describe()))
                .collect(),
        )?;
        section(
            f,
            "OTHER CHANGES",
            self.changed.iter().map(|c| format!("* {c}")).collect(),
        )
    }
}
