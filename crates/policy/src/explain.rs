//! What a policy set lets flow, in the privacy officer's terms: every flow is one item (an
//! identifier kind or an attribute) going from a partner to the coordinator for a purpose, or
//! from a hit to a recipient role. `explain` prints them as tables per purpose; `diff` compares
//! the flows of two sets ([`crate::diff`]), so a change is reviewed as "newly allowed" and "no
//! longer allowed".
//!
//! [`explanation`] gathers what `explain` shows as data (the shape of `policy explain --json`);
//! [`explain`] renders it as Markdown tables.

pub use crate::diff::{diff, Diff, Rebased};
use crate::{Alarms, Grant, PersonMatchKey, PolicySet, Purpose};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// One thing that may flow; in JSON an object with `"flow": "share"` or `"flow": "view"` and
/// the fields below.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "flow", rename_all = "snake_case")]
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
    pub(crate) fn key(&self) -> (String, String, String, u8) {
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

    pub(crate) fn describe(&self) -> String {
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
const CONTACTS_ITEM: &str = "the other partners' contact points";

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
        if view.sees_contact_points {
            items.push(CONTACTS_ITEM.to_owned());
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

pub(crate) fn purpose_line(p: &Purpose) -> String {
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

/// What may flow for some purposes of a set: `policy explain --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The set's version, `sha256:…`.
    pub version: String,
    /// In the order of their ids.
    pub purposes: Vec<PurposeFlows>,
}

/// What may flow for one purpose.
#[derive(Debug, Clone, Serialize)]
pub struct PurposeFlows {
    pub id: String,
    pub name: String,
    pub legal_bases: Vec<BasisRef>,
    /// When a hit forms (or what a monitor counts), the retentions and the processing
    /// activity, in one line of words.
    pub summary: String,
    pub data_subjects: Vec<String>,
    /// The person match keys that may link signals (`full`, `initial`, `loose`); empty for a
    /// monitor.
    pub person_match_keys: Vec<PersonMatchKey>,
    /// Per partner that shares for the purpose (narrowed like `items`); empty for a monitor.
    pub limits: Vec<PartnerLimits>,
    /// `null` for a monitor purpose (nothing is matched, so nothing raises an alarm).
    pub alarms: Option<Alarms>,
    /// Each item that flows, in the order of its name; empty when nothing flows.
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BasisRef {
    pub id: String,
    /// `null` when the set does not define the basis (a checked set always does).
    pub citation: Option<String>,
}

/// A partner's probing limits for the purpose.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerLimits {
    pub partner: String,
    pub identifiers_per_signal: u32,
    pub identifiers_per_day: u64,
    /// `default`, `share` (set in the share) or `bulk` (an explicit bulk grant).
    pub grant: Grant,
    /// The partner file that sets them.
    pub file: String,
    /// Why a bulk grant was given; `null` otherwise.
    pub bulk_reason: Option<String>,
}

/// One item: who may send it, who sees it of a hit.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `identifier <kind>`, `attribute <id>`, or one of the two facts the coordinator derives
    /// from a hit (`which identifier kinds linked the hit`, `which kinds of partner are involved`).
    pub item: String,
    /// An attribute's data class (`basic`, `special`, `criminal`, `police`); `null` otherwise.
    pub class: Option<String>,
    /// Empty for an identifier (only its pseudonym is matched, nobody sees it) and for what
    /// nobody may see.
    pub seen_by: Vec<String>,
    /// Empty for a derived fact (`derived` is true) and for what nobody may send.
    pub sent_by: Vec<Sender>,
    /// Derived by the coordinator from the hit, not sent by anyone.
    pub derived: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sender {
    pub partner: String,
    pub legal_basis: String,
}

/// What may flow per purpose; `purpose` and `partner` narrow it (a partner's narrowing keeps
/// the recipients' rows of what it sends, and the derived facts).
pub fn explanation(set: &PolicySet, purpose: Option<&str>, partner: Option<&str>) -> Explanation {
    let all = flows(set);
    let mut purposes = Vec::new();
    for p in set.purposes() {
        if purpose.is_some_and(|id| id != p.id) {
            continue;
        }
        // item → (senders, viewers)
        let mut rows: BTreeMap<String, (Vec<Sender>, Vec<String>)> = BTreeMap::new();
        for flow in all.iter() {
            match flow {
                Flow::Share {
                    purpose,
                    partner: who,
                    item,
                    legal_basis,
                } if purpose == &p.id && partner.is_none_or(|id| id == who) => {
                    rows.entry(item.clone()).or_default().0.push(Sender {
                        partner: who.clone(),
                        legal_basis: legal_basis.clone(),
                    });
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
        let derived = |item: &str| item == KINDS_ITEM || item == ROLES_ITEM;
        if partner.is_some() {
            rows.retain(|item, (senders, _)| !senders.is_empty() || derived(item));
        }
        let items = rows
            .into_iter()
            .map(|(item, (sent_by, viewers))| Item {
                class: item
                    .strip_prefix("attribute ")
                    .and_then(|a| set.attribute(a))
                    .map(|a| a.sensitivity.as_str().to_owned()),
                seen_by: if item.starts_with("identifier ") {
                    Vec::new()
                } else {
                    viewers
                },
                derived: derived(&item),
                sent_by,
                item,
            })
            .collect();
        purposes.push(PurposeFlows {
            id: p.id.clone(),
            name: p.name.clone(),
            legal_bases: p
                .legal_bases
                .iter()
                .map(|id| BasisRef {
                    id: id.clone(),
                    citation: set
                        .legal_bases()
                        .find(|b| &b.id == id)
                        .map(|b| b.citation.clone()),
                })
                .collect(),
            summary: purpose_line(p),
            data_subjects: p.data_subjects.clone(),
            person_match_keys: if p.monitor.is_some() {
                Vec::new()
            } else {
                p.person_match_keys.iter().copied().collect()
            },
            limits: limits(set, p, partner),
            alarms: p.monitor.is_none().then_some(p.alarms),
            items,
        });
    }
    Explanation {
        version: set.version().to_owned(),
        purposes,
    }
}

/// Per partner sharing for `p` (narrowed to `partner`): its probing limits; none for a monitor.
fn limits(set: &PolicySet, p: &Purpose, partner: Option<&str>) -> Vec<PartnerLimits> {
    if p.monitor.is_some() {
        return Vec::new();
    }
    set.partners()
        .filter(|who| partner.is_none_or(|id| id == who.id))
        .filter_map(|who| {
            let limits = set.limits(&who.id, &p.id)?;
            Some(PartnerLimits {
                partner: who.id.clone(),
                identifiers_per_signal: limits.identifiers_per_signal,
                identifiers_per_day: limits.identifiers_per_day,
                grant: limits.grant,
                file: limits.file.clone(),
                bulk_reason: limits.bulk_reason.clone(),
            })
        })
        .collect()
}

/// Tables per purpose: each item, who may send it (and on which basis), who sees it of a hit.
/// `purpose` and `partner` narrow the output.
pub fn explain(set: &PolicySet, purpose: Option<&str>, partner: Option<&str>) -> String {
    let explanation = explanation(set, purpose, partner);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# What may flow — policy set {}\n",
        explanation.version
    );
    for p in &explanation.purposes {
        let _ = writeln!(out, "## {} — {}\n", p.id, p.name);
        let bases: Vec<String> = p
            .legal_bases
            .iter()
            .map(|b| match &b.citation {
                Some(citation) => format!("{} ({citation})", b.id),
                None => b.id.clone(),
            })
            .collect();
        let _ = writeln!(out, "Legal bases: {}  ", bases.join("; "));
        let _ = writeln!(out, "{}  ", p.summary);
        if !p.person_match_keys.is_empty() {
            let keys: Vec<String> = p
                .person_match_keys
                .iter()
                .map(|k| format!("{} ({})", k.as_str(), k.words()))
                .collect();
            let _ = writeln!(out, "Persons link on: {}  ", keys.join("; "));
        }
        let _ = writeln!(out, "Data subjects: {}\n", p.data_subjects.join(", "));
        if p.items.is_empty() {
            let _ = writeln!(out, "Nothing flows for this purpose.\n");
            continue;
        }
        limits_table(&mut out, p);
        let _ = writeln!(
            out,
            "| item | class | sent by (legal basis) | seen of a hit by |"
        );
        let _ = writeln!(out, "|---|---|---|---|");
        for item in &p.items {
            let class = item.class.as_deref().unwrap_or("-");
            let seen = if item.item.starts_with("identifier ") {
                "nobody: only its pseudonym is matched".to_owned()
            } else {
                or_nobody(&item.seen_by)
            };
            let sent = if item.derived {
                "derived by the coordinator from the hit".to_owned()
            } else {
                let senders: Vec<String> = item
                    .sent_by
                    .iter()
                    .map(|s| format!("{} ({})", s.partner, s.legal_basis))
                    .collect();
                or_nobody(&senders)
            };
            let _ = writeln!(out, "| {} | {class} | {sent} | {seen} |", item.item);
        }
        out.push('\n');
    }
    out
}

/// The probing limits of the partners sharing for `p`, and its alarms; nothing for a monitor.
fn limits_table(out: &mut String, p: &PurposeFlows) {
    let Some(a) = &p.alarms else {
        return;
    };
    let _ = writeln!(
        out,
        "Probing limits (identifiers counted as match keys: a person {}, any other kind 1):\n",
        p.person_match_keys.len()
    );
    let _ = writeln!(
        out,
        "| partner | per signal | per 24 hours (sliding) | set by |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for limits in &p.limits {
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
            limits.partner, limits.identifiers_per_signal, limits.identifiers_per_day
        );
    }
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
