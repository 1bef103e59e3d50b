//! Evaluation: may this partner share this for that purpose? Used twice for every signal, on
//! the partner node before anything leaves and on the coordinator on arrival.

use crate::PolicySet;
use signaalnet_identifier::IdentifierKind;
use std::collections::HashSet;
use std::fmt;

/// One refused item of a proposed signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The field of the signal that is refused, e.g. `attributes.zorgbehoefte` or
    /// `identifiers.bsn`, or `purpose` / `partner` when the whole signal is refused.
    pub field: String,
    /// Stable identifier of the rule, e.g. `policy.attribute_not_allowed`.
    pub rule: &'static str,
    /// What was refused and why, naming the attribute or kind, the purpose and the partner.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.field, self.message, self.rule)
    }
}

/// The answer to "may partner P share this for purpose U": allowed when nothing is refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareDecision {
    pub refusals: Vec<Refusal>,
}

impl ShareDecision {
    pub fn is_allowed(&self) -> bool {
        self.refusals.is_empty()
    }
}

impl PolicySet {
    /// Evaluates a proposed signal: `kinds` are the identifier kinds it carries, `attributes`
    /// its `(attribute id, value)` pairs. Every refused item is listed, not only the first.
    pub fn evaluate_share(
        &self,
        partner_id: &str,
        purpose_id: &str,
        kinds: &[IdentifierKind],
        attributes: &[(&str, &str)],
    ) -> ShareDecision {
        let mut refusals = Vec::new();
        let mut refuse = |field: String, rule: &'static str, message: String| {
            refusals.push(Refusal {
                field,
                rule,
                message,
            })
        };
        let Some(partner) = self.partner(partner_id) else {
            refuse(
                "partner".into(),
                "policy.unknown_partner",
                format!(
                    "partner `{partner_id}` is not in policy set {}",
                    self.version()
                ),
            );
            return ShareDecision { refusals };
        };
        let Some(purpose) = self.purpose(purpose_id) else {
            refuse(
                "purpose".into(),
                "policy.unknown_purpose",
                format!(
                    "purpose `{purpose_id}` is not defined in policy set {}",
                    self.version()
                ),
            );
            return ShareDecision { refusals };
        };
        if purpose.monitor.is_some() {
            refuse(
                "purpose".into(),
                "policy.aggregates_only",
                format!(
                    "purpose `{purpose_id}` is a monitor purpose: it only counts signals submitted \
                     for {}, signals cannot be submitted for it",
                    purpose
                        .monitor
                        .as_ref()
                        .map(|m| m.aggregates_of.join(", "))
                        .unwrap_or_default()
                ),
            );
            return ShareDecision { refusals };
        }
        let Some(share) = partner.shares.get(purpose_id) else {
            refuse(
                "purpose".into(),
                "policy.purpose_not_shared",
                format!(
                    "partner `{partner_id}` may not share anything for purpose `{purpose_id}` \
                     (no share block in {})",
                    partner.file
                ),
            );
            return ShareDecision { refusals };
        };
        if kinds.is_empty() {
            refuse(
                "identifiers".into(),
                "policy.no_identifiers",
                "a signal needs at least one identifier to match on".into(),
            );
        }
        let mut seen_kinds = HashSet::new();
        for kind in kinds {
            if seen_kinds.insert(*kind) && !share.identifier_kinds.contains(kind) {
                refuse(
                    format!("identifiers.{kind}"),
                    "policy.identifier_kind_not_allowed",
                    format!(
                        "identifier kind `{kind}` may not be shared by `{partner_id}` for purpose \
                         `{purpose_id}` (allowed: {})",
                        share
                            .identifier_kinds
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        let mut seen_attributes = HashSet::new();
        for (id, value) in attributes {
            let field = format!("attributes.{id}");
            if !seen_attributes.insert(*id) {
                refuse(
                    field,
                    "policy.attribute_duplicate",
                    format!("attribute `{id}` is given more than once"),
                );
                continue;
            }
            let Some(attribute) = self.attribute(id) else {
                refuse(
                    field,
                    "policy.attribute_unknown",
                    format!(
                        "attribute `{id}` is not in the catalogue of policy set {}",
                        self.version()
                    ),
                );
                continue;
            };
            if !share.attributes.contains(*id) {
                refuse(
                    field,
                    "policy.attribute_not_allowed",
                    format!(
                        "attribute `{id}` ({} data) may not be shared by `{partner_id}` for purpose \
                         `{purpose_id}` under legal basis `{}`",
                        attribute.sensitivity.as_str(),
                        share.legal_basis
                    ),
                );
                continue;
            }
            if let Err(expected) = attribute.check_value(value) {
                refuse(
                    field,
                    "policy.attribute_value",
                    format!("attribute `{id}` {expected}"),
                );
            }
        }
        ShareDecision { refusals }
    }
}
