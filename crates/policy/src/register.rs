//! The register of processing activities (AVG art. 30 lid 1) as far as a policy set determines
//! it: one activity per purpose, with its controllers (the partners that share for it), legal
//! bases, categories of data subjects and personal data, recipients, retention and the security
//! measures this system applies. Contact details of controllers and the DPO are not in a policy
//! set; the Markdown says where they must be added.

use crate::{PolicySet, Sensitivity};
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct Register {
    pub policy_version: String,
    pub activities: Vec<Activity>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub processing_activity_id: String,
    pub purpose_id: String,
    pub name: String,
    pub purpose: String,
    pub controllers: Vec<Controller>,
    pub legal_bases: Vec<Basis>,
    pub data_subjects: Vec<String>,
    pub personal_data: Vec<DataCategory>,
    pub recipients: Vec<Recipient>,
    pub third_country_transfers: String,
    pub retention: String,
    pub security_measures: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Controller {
    pub partner: String,
    pub name: String,
    pub role: String,
    pub oins: Vec<String>,
    pub legal_basis: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Basis {
    pub id: String,
    pub citation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataCategory {
    pub item: String,
    /// `basic`, `special` (AVG art. 9), `criminal` (art. 10), `police` (Wpg), or
    /// `identifier` (only a pseudonym of it is processed outside the partner).
    pub class: String,
    pub shared_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub role: String,
    pub sees: Vec<String>,
}

fn measures(set: &PolicySet, monitor: Option<&crate::Monitor>) -> Vec<String> {
    let mut m = vec![
        "Pseudonymisation at the source: identifiers leave the partner's node only encrypted \
         (ElGamal, polymorphic pseudonymisation with libpep); two independent transcryptors \
         convert them blindly; the coordinator sees only matching pseudonyms, never an identifier."
            .to_owned(),
        "Mutual TLS on every connection; each organisation is identified by the OIN in its \
         certificate and can act only as itself."
            .to_owned(),
        "Every signal is checked against this policy set twice: on the partner's node before \
         anything leaves, and by the coordinator on arrival."
            .to_owned(),
        "A tamper-evident audit trail on every role (SHA-256 hash chain, Ed25519-signed \
         checkpoints), verifiable with `signaalnet audit verify`."
            .to_owned(),
        "Retention enforced automatically: unmatched signals and hits are deleted from every \
         role when their retention ends, and the deletion is audited."
            .to_owned(),
        format!(
            "The policy set in force is identified by its version ({}) on every role.",
            set.version()
        ),
    ];
    if let Some(monitor) = monitor {
        let crate::Disclosure::CellKey { noise_bound } = monitor.disclosure;
        m.push(format!(
            "Only counts leave the coordinator for this activity ({}); cells below {} are \
             left out, and every published count, totals included, carries cell-key noise of \
             at most {noise_bound}, the same for the same records, so no subtraction of tables \
             reveals a small cell. A signal counts only {} after it arrived, and an organisation \
             that contributes sees only cells that are large without its own signals.",
            monitor.counts.as_str(),
            monitor.min_cell_size,
            monitor.counting_delay,
        ));
    }
    m
}

/// The probing limits of a matching activity, in the register's words.
fn probing_measure(set: &PolicySet, p: &crate::Purpose) -> String {
    let limits: Vec<String> = set
        .partners()
        .filter_map(|partner| {
            set.limits(&partner.id, &p.id).map(|l| {
                let bulk = if l.grant == crate::Grant::Bulk {
                    format!(
                        " (bulk cross-check: {})",
                        l.bulk_reason.as_deref().unwrap_or_default()
                    )
                } else {
                    String::new()
                };
                format!(
                    "{} {} per signal, {} per 24 hours{bulk}",
                    partner.id, l.identifiers_per_signal, l.identifiers_per_day
                )
            })
        })
        .collect();
    let a = &p.alarms;
    format!(
        "Probing limits: a partner learns hit or no hit only for what it submits, so the \
         identifiers it may submit are capped per signal and per 24 hours (counted as match keys) \
         on its node and again at the coordinator: {}. An alarm is audited when a \
         partner withdraws {} signals within {} minutes of a hit, or {} % of at least {} signals \
         hit, in 24 hours.",
        limits.join("; "),
        a.withdrawals_after_hit,
        a.withdrawn_within_minutes,
        a.hit_rate_percent,
        a.hit_rate_min_signals
    )
}

pub fn register(set: &PolicySet) -> Register {
    let flows = crate::explain::flows(set);
    let activities = set
        .purposes()
        .map(|p| {
            let controllers = set
                .partners()
                .filter_map(|partner| {
                    partner.shares.get(&p.id).map(|share| Controller {
                        partner: partner.id.clone(),
                        name: partner.name.clone(),
                        role: partner.role.as_str().to_owned(),
                        oins: partner.oins.clone(),
                        legal_basis: share.legal_basis.clone(),
                    })
                })
                .collect();
            let mut personal_data: Vec<DataCategory> = Vec::new();
            for flow in &flows {
                if let crate::explain::Flow::Share {
                    purpose,
                    partner,
                    item,
                    ..
                } = flow
                {
                    if purpose != &p.id {
                        continue;
                    }
                    match personal_data.iter_mut().find(|d| &d.item == item) {
                        Some(d) => d.shared_by.push(partner.clone()),
                        None => personal_data.push(DataCategory {
                            item: item.clone(),
                            class: item
                                .strip_prefix("attribute ")
                                .and_then(|a| set.attribute(a))
                                .map_or("identifier", |a| a.sensitivity.as_str())
                                .to_owned(),
                            shared_by: vec![partner.clone()],
                        }),
                    }
                }
            }
            let recipients = set
                .recipient_views()
                .filter(|v| v.purpose == p.id)
                .map(|v| {
                    let mut sees: Vec<String> = v.attributes.iter().cloned().collect();
                    if v.sees_identifier_kinds {
                        sees.push("identifier kinds that linked the hit".to_owned());
                    }
                    if v.sees_partner_roles {
                        sees.push("kinds of partner involved".to_owned());
                    }
                    if v.sees_contact_points {
                        sees.push("the other partners' contact points".to_owned());
                    }
                    Recipient {
                        role: v.role.as_str().to_owned(),
                        sees,
                    }
                })
                .collect();
            let retention = match &p.monitor {
                Some(_) => "Nothing is kept for this activity: counts are computed on request \
                            from the signals of the purposes it aggregates, under their retention."
                    .to_owned(),
                None => format!(
                    "Signals without a hit: {} after receipt. Hits: {} after their last change. \
                     Withdrawn signals are deleted at once.",
                    p.retention_unmatched, p.retention_hits
                ),
            };
            Activity {
                processing_activity_id: p.processing_activity_id.clone(),
                purpose_id: p.id.clone(),
                name: p.name.clone(),
                purpose: p.description.clone(),
                controllers,
                legal_bases: p
                    .legal_bases
                    .iter()
                    .map(|id| Basis {
                        id: id.clone(),
                        citation: set
                            .legal_bases()
                            .find(|b| &b.id == id)
                            .map(|b| b.citation.clone())
                            .unwrap_or_default(),
                    })
                    .collect(),
                data_subjects: p.data_subjects.clone(),
                personal_data,
                recipients,
                third_country_transfers: "None: every role runs in the Netherlands under the \
                                          partners' control."
                    .to_owned(),
                retention,
                security_measures: {
                    let mut m = measures(set, p.monitor.as_ref());
                    if p.monitor.is_none() {
                        m.push(probing_measure(set, p));
                    }
                    m
                },
            }
        })
        .collect();
    Register {
        policy_version: set.version().to_owned(),
        activities,
    }
}

fn class_label(class: &str) -> &str {
    match class {
        c if c == Sensitivity::Special.as_str() => "special category (AVG art. 9)",
        c if c == Sensitivity::Criminal.as_str() => "criminal-law data (AVG art. 10)",
        c if c == Sensitivity::Police.as_str() => "police data (Wpg)",
        c if c == Sensitivity::Basic.as_str() => "ordinary personal data",
        _ => "identifier (processed only as a pseudonym outside the partner)",
    }
}

impl Register {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Register of processing activities (AVG art. 30)\n\nGenerated from policy set \
             `{}` by `signaalnet policy register`. Add per controller: name and contact details \
             of the controller, its representative and its data protection officer (art. 30 \
             lid 1 sub a); these are not part of a policy set.\n",
            self.policy_version
        );
        for a in &self.activities {
            let _ = writeln!(out, "## {} — {}\n", a.processing_activity_id, a.name);
            let _ = writeln!(
                out,
                "**Purpose** (`{}`): {}\n",
                a.purpose_id,
                a.purpose.trim()
            );
            let _ = writeln!(
                out,
                "**Joint controllers** (the partners that share for it):\n"
            );
            if a.controllers.is_empty() {
                let _ = writeln!(out, "- none: no partner shares for this purpose\n");
            }
            for c in &a.controllers {
                let _ = writeln!(
                    out,
                    "- {} (`{}`, {}, OIN {}) on `{}`",
                    c.name,
                    c.partner,
                    c.role,
                    c.oins.join(", "),
                    c.legal_basis
                );
            }
            let _ = writeln!(out, "\n**Legal bases**:\n");
            for b in &a.legal_bases {
                let _ = writeln!(out, "- `{}`: {}", b.id, b.citation);
            }
            let _ = writeln!(out, "\n**Categories of data subjects**:\n");
            for s in &a.data_subjects {
                let _ = writeln!(out, "- {s}");
            }
            let _ = writeln!(out, "\n**Categories of personal data**:\n");
            if a.personal_data.is_empty() {
                let _ = writeln!(out, "- none shared directly for this purpose");
            }
            for d in &a.personal_data {
                let _ = writeln!(
                    out,
                    "- {} — {}; shared by {}",
                    d.item,
                    class_label(&d.class),
                    d.shared_by.join(", ")
                );
            }
            let _ = writeln!(out, "\n**Recipients**:\n");
            if a.recipients.is_empty() {
                let _ = writeln!(out, "- none");
            }
            for r in &a.recipients {
                let _ = writeln!(out, "- {}: {}", r.role, r.sees.join(", "));
            }
            let _ = writeln!(
                out,
                "\n**Transfers to third countries**: {}\n",
                a.third_country_transfers
            );
            let _ = writeln!(out, "**Retention**: {}\n", a.retention);
            let _ = writeln!(out, "**Technical and organisational measures**:\n");
            for m in &a.security_measures {
                let _ = writeln!(out, "- {m}");
            }
            out.push('\n');
        }
        out
    }
}
