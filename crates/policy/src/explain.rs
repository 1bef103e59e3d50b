//! What a policy set lets flow, in the privacy officer's terms: every flow is one item (an
//! identifier kind or an attribute) going from a partner to the coordinator for a purpose, or
//! from a hit to a recipient role. `explain` prints them as tables per purpose; `diff` compares
//! the flows of two sets, so a change is reviewed as "newly allowed" and "no longer allowed".

use crate::{Grant, PolicySet, Purpose};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// One thing that may flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flow {
    /// `partner` may send `item` for `purpose`, on `legal_basis`.
    Share {
        purpose: String,
        partner: String,
        item: String,
        legal_basis: String,
    },
    /// Recipient role `recipient` sees `item` of a hit for `purpose`.
    View {
        purpose: String,
        recipient: String,
        item: String,
    },
}

impl Flow {
    fn key(&self) -> (String, String, String, u8) {
        match self {
            Flow::Share {
                purpose,
                partner,
                item,
                ..
            } => (purpose.clone(), item.clone(), partner.clone(), 0),
            Flow::View {
                purpose,
                recipient,
                item,
            } => (purpose.clone(), item.clone(), recipient.clone(), 1),
        }
    }

    fn describe(&self) -> String {
        match self {
            Flow::Share {
                purpose,
                partner,
                item,
                legal_basis,
            } => format!("{purpose}: {partner} → coordinator: {item} (on {legal_basis})"),
            Flow::View {
                purpose,
                recipient,
                item,
            } => format!("{purpose}: hit → {recipient}: {item}"),
        }
    }
}

const KINDS_ITEM: &str = "which identifier kinds linked the hit";
const ROLES_ITEM: &str = "which kinds of partner are involved";

/// Every flow the set allows.
pub fn flows(set: &PolicySet) -> BTreeSet<Flow> {
    let mut out = BTreeSet::new();
    for partner in set.partners() {
        for (purpose, share) in &partner.shares {
            let items = share
                .identifier_kinds
                .iter()
                .map(|k| format!("identifier {}", k.as_str()))
                .chain(share.attributes.iter().map(|a| format!("attribute {a}")));
            for item in items {
                out.insert(Flow::Share {
                    purpose: purpose.clone(),
                    partner: partner.id.clone(),
                    item,
                    legal_basis: share.legal_basis.clone(),
                });
            }
        }
    }
    for view in set.recipient_views() {
        let mut items: Vec<String> = view
            .attributes
            .iter()
            .map(|a| format!("attribute {a}"))
            .collect();
        if view.sees_identifier_kinds {
            items.push(KINDS_ITEM.to_owned());
        }
        if view.sees_partner_roles {
            items.push(ROLES_ITEM.to_owned());
        }
        for item in items {
            out.insert(Flow::View {
                purpose: view.purpose.clone(),
                recipient: view.role.as_str().to_owned(),
                item,
            });
        }
    }
    out
}

fn purpose_line(p: &Purpose) -> String {
    match &p.monitor {
        Some(m) => {
            let crate::model::Disclosure::CellKey { noise_bound } = m.disclosure;
            let cap = match m.counts {
                crate::model::Counting::Signals {
                    max_per_person: Some(cap),
                } => format!(" (at most {cap} per person)"),
                _ => String::new(),
            };
            format!(
                "monitor: only counts of {} leave ({}{cap}, counted {} after arrival), cells \
                 below {} suppressed, the rest perturbed by the cell-key method (at most ±{}); \
                 processing activity {}",
                m.aggregates_of.join(", "),
                m.counts.as_str(),
                m.counting_delay,
                m.min_cell_size,
                noise_bound,
                p.processing_activity_id
            )
        }
        None => format!(
            "a hit needs {} partners within {}; unmatched signals kept {}, hits {}; processing activity {}",
            p.min_distinct_partners,
            p.match_window,
            p.retention_unmatched,
            p.retention_hits,
            p.processing_activity_id
        ),
    }
}

/// Tables per purpose: each item, who may send it (and on which basis), who sees it of a hit.
/// `purpose` and `partner` narrow the output.
pub fn explain(set: &PolicySet, purpose: Option<&str>, partner: Option<&str>) -> String {
    let all = flows(set);
    let mut out = String::new();
    let _ = writeln!(out, "# What may flow — policy set {}\n", set.version());
    for p in set.purposes() {
        if purpose.is_some_and(|id| id != p.id) {
            continue;
        }
        // item → (senders, viewers)
        let mut rows: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for flow in all.iter() {
            match flow {
                Flow::Share {
                    purpose,
                    partner: who,
                    item,
                    legal_basis,
                } if purpose == &p.id && partner.is_none_or(|id| id == who) => {
                    rows.entry(item.clone())
                        .or_default()
                        .0
                        .push(format!("{who} ({legal_basis})"));
                }
                Flow::View {
                    purpose,
                    recipient,
                    item,
                } if purpose == &p.id => {
                    rows.entry(item.clone())
                        .or_default()
                        .1
                        .push(recipient.clone());
                }
                _ => {}
            }
        }
        if partner.is_some() {
            rows.retain(|item, (senders, _)| {
                !senders.is_empty() || item == KINDS_ITEM || item == ROLES_ITEM
            });
        }
        let _ = writeln!(out, "## {} — {}\n", p.id, p.name);
        let bases: Vec<String> = p
            .legal_bases
            .iter()
            .map(|id| match set.legal_bases().find(|b| &b.id == id) {
                Some(b) => format!("{id} ({})", b.citation),
                None => id.clone(),
            })
            .collect();
        let _ = writeln!(out, "Legal bases: {}  ", bases.join("; "));
        let _ = writeln!(out, "{}  ", purpose_line(p));
        let _ = writeln!(out, "Data subjects: {}\n", p.data_subjects.join(", "));
        if rows.is_empty() {
            let _ = writeln!(out, "Nothing flows for this purpose.\n");
            continue;
        }
        limits_table(&mut out, set, p, partner);
        let _ = writeln!(
            out,
            "| item | class | sent by (legal basis) | seen of a hit by |"
        );
        let _ = writeln!(out, "|---|---|---|---|");
        for (item, (senders, viewers)) in rows {
            let class = item
                .strip_prefix("attribute ")
                .and_then(|a| set.attribute(a))
                .map_or("-", |a| a.sensitivity.as_str());
            let seen = if item.starts_with("identifier ") {
                "nobody: only its pseudonym is matched".to_owned()
            } else {
                or_nobody(&viewers)
            };
            let sent = if item == KINDS_ITEM || item == ROLES_ITEM {
                "derived by the coordinator from the hit".to_owned()
            } else {
                or_nobody(&senders)
            };
            let _ = writeln!(out, "| {item} | {class} | {sent} | {seen} |");
        }
        out.push('\n');
    }
    out
}

/// Per partner sharing for `p`: how many identifiers it may have matched, and the alarms.
fn limits_table(out: &mut String, set: &PolicySet, p: &Purpose, partner: Option<&str>) {
    if p.monitor.is_some() {
        return;
    }
    let _ = writeln!(
        out,
        "Probing limits (identifiers counted as match keys: a person 3, any other kind 1):\n"
    );
    let _ = writeln!(
        out,
        "| partner | per signal | per 24 hours (sliding) | set by |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for who in set.partners() {
        if partner.is_some_and(|id| id != who.id) {
            continue;
        }
        let Some(limits) = set.limits(&who.id, &p.id) else {
            continue;
        };
        let by = match limits.grant {
            Grant::Default => "defaults".to_owned(),
            Grant::Share => format!("limits in {}", limits.file),
            Grant::Bulk => format!(
                "BULK GRANT in {}: {}",
                limits.file,
                limits.bulk_reason.as_deref().unwrap_or_default()
            ),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {by} |",
            who.id, limits.identifiers_per_signal, limits.identifiers_per_day
        );
    }
    let a = &p.alarms;
    let _ = writeln!(
        out,
        "\nAlarms (per partner, last 24 hours): {} or more signals withdrawn within {} minutes of \
         arriving while in a hit; {} % or more of at least {} signals in a hit.\n",
        a.withdrawals_after_hit,
        a.withdrawn_within_minutes,
        a.hit_rate_percent,
        a.hit_rate_min_signals
    );
}

fn or_nobody(list: &[String]) -> String {
    if list.is_empty() {
        "nobody".to_owned()
    } else {
        list.join(", ")
    }
}

/// What changes between two sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub allowed: Vec<Flow>,
    pub forbidden: Vec<Flow>,
    /// Same item, same partner, same purpose, another legal basis: `(old, new)`.
    pub rebased: Vec<(Flow, Flow)>,
    /// Other changes in words: purposes' retention, window, minimum partners, cell size;
    /// attributes' class; partners' OINs and roles; purposes and partners added or removed.
    pub changed: Vec<String>,
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
            Some(before) if before != flow => d.rebased.push((before.clone(), flow.clone())),
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
                .map(|(a, b)| format!("~ {}  (was: {})", b.describe(), a.describe()))
                .collect(),
        )?;
        section(
            f,
            "OTHER CHANGES",
            self.changed.iter().map(|c| format!("* {c}")).collect(),
        )
    }
}
