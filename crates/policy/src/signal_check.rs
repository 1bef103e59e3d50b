//! The policy check on one signal, written once: the node applies it before anything leaves the
//! organisation, the coordinator again on arrival with its own policy set (which may be newer).
//! Both ask the same question of the same facts, so the two checks cannot drift apart; each
//! turns the refusals into its own answer (field violations at the node, a status message at
//! the coordinator).

use crate::{PolicySet, ShareDecision};
use signaalnet_identifier::IdentifierKind;
use std::collections::BTreeSet;

/// May `partner` share a signal for `purpose` that carries identifiers of `kinds` (a kind may
/// repeat) and these `(attribute id, value)` pairs?
pub fn check_signal<'a>(
    policy: &PolicySet,
    partner: &str,
    purpose: &str,
    kinds: impl IntoIterator<Item = IdentifierKind>,
    attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> ShareDecision {
    // A kind is allowed or not; how often it occurs is the quota's business.
    let kinds: Vec<IdentifierKind> = kinds
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let attributes: Vec<(&str, &str)> = attributes.into_iter().collect();
    policy.evaluate_share(partner, purpose, &kinds, &attributes)
}
