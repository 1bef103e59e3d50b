//! The policy check on one signal, written once: the node applies it before anything leaves the
//! organisation, the coordinator again on arrival with its own policy set (which may be newer).
//! Both ask the same question of the same facts, so the two checks cannot drift apart; each
//! turns the refusals into its own answer (field violations at the node, a status message at
//! the coordinator).
//!
//! An attribute value that its catalogue type cannot take (`maand_waarneming: "2026-13"`, a
//! month after the current one, `minderjarig: "ja"`) is a malformed input, not a policy
//! decision: the node reports it with [`malformed_value`] as an input error
//! (`attribute.malformed`, INVALID_ARGUMENT) and leaves the same fact out of the policy answer
//! ([`policy_refusals`]). The coordinator, which receives only what a node already checked,
//! keeps refusing such a value as `policy.attribute_value`.

use crate::files::AttributeKind;
use crate::{PolicySet, Refusal, ShareDecision};
use signaalnet_identifier::{Identifier, IdentifierKind};
use std::collections::BTreeSet;

/// The rule of an input error in an attribute value.
pub const MALFORMED_RULE: &str = "attribute.malformed";

/// The rule under which [`PolicySet::evaluate_share`] refuses a value of the wrong type.
const VALUE_RULE: &str = "policy.attribute_value";

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

/// What is wrong with `value` as a value of the catalogue attribute `id`, in words that do not
/// repeat it: a value its type cannot take, or, for a month attribute, a month after
/// `latest_month` (`YYYY-MM`, the current month as the caller's clock sees it). `None` when the
/// value is well-formed, and for an attribute the catalogue does not have (the policy check
/// refuses that one).
pub fn malformed_value(
    policy: &PolicySet,
    id: &str,
    value: &str,
    latest_month: &str,
) -> Option<String> {
    let attribute = policy.attribute(id)?;
    if let Err(expected) = attribute.check_value(value) {
        return Some(expected.to_string());
    }
    // Both are `YYYY-MM` here, so the text order is the calendar order.
    if attribute.kind == AttributeKind::Month && value > latest_month {
        return Some("is a month in the future".into());
    }
    None
}

/// The rule under which a person is refused who has no match key the purpose lets link.
pub const UNLINKABLE_RULE: &str = "policy.person_match_keys";

/// A refusal of the person at `field` when it has no match key `purpose` lets link (known by
/// initials only, for a purpose that links on `full` alone): sent, it could never meet another
/// signal. `None` for any other identifier, and where [`check_signal`] refuses the person
/// already (a purpose the set does not define, a partner that may not share persons for it).
pub fn unlinkable(
    policy: &PolicySet,
    partner: &str,
    purpose: &str,
    field: &str,
    identifier: &Identifier,
) -> Option<Refusal> {
    let allowed = &policy.purpose(purpose)?.person_match_keys;
    let shares_persons = policy
        .partner(partner)
        .and_then(|p| p.shares.get(purpose))
        .is_some_and(|s| s.identifier_kinds.contains(&IdentifierKind::Person));
    if identifier.kind() != IdentifierKind::Person
        || !shares_persons
        || !policy.match_keys(purpose, identifier).is_empty()
    {
        return None;
    }
    let names: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
    Some(Refusal {
        field: field.to_owned(),
        rule: UNLINKABLE_RULE,
        message: format!(
            "purpose `{purpose}` links persons only on {} ({}); this person has no such key: \
             give the first given name, not only initials",
            names.join(", "),
            allowed
                .iter()
                .map(|k| k.words())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    })
}

/// The refusals of a node's policy check that are policy decisions: a value of the wrong type
/// is left out, as the node reports it as input with [`malformed_value`].
pub fn policy_refusals(decision: ShareDecision) -> Vec<Refusal> {
    decision
        .refusals
        .into_iter()
        .filter(|r| r.rule != VALUE_RULE)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test fixtures
    use super::*;
    use std::path::Path;

    fn example() -> PolicySet {
        PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap()
    }

    #[test]
    fn a_value_its_type_cannot_take_or_a_future_month_is_malformed() {
        let policy = example();
        let malformed = |id, value| malformed_value(&policy, id, value, "2026-09");
        assert!(malformed("maand_waarneming", "2026-13").is_some());
        assert!(malformed("maand_waarneming", "2026-10").is_some());
        assert!(malformed("maand_waarneming", "2026-09").is_none());
        assert!(malformed("minderjarig", "ja").is_some());
        assert!(malformed("minderjarig", "true").is_none());
        // Not in the catalogue: the policy check's refusal, not an input error.
        assert!(malformed("schoenmaat", "43").is_none());
        // The message says what is expected, not what was given.
        let message = malformed("gemeente", "Groningen").unwrap();
        assert!(!message.contains("Groningen"), "{message}");
    }

    #[test]
    fn the_policy_answer_leaves_malformed_values_to_the_input_check() {
        let policy = example();
        let decision = check_signal(
            &policy,
            "gemeente_groningen",
            "signalering_drieluik",
            [IdentifierKind::Address],
            [
                ("maand_waarneming", "2026-13"),
                ("politie_registratie", "true"),
            ],
        );
        let rules: Vec<&str> = decision.refusals.iter().map(|r| r.rule).collect();
        assert_eq!(
            rules,
            ["policy.attribute_value", "policy.attribute_not_allowed"]
        );
        let left: Vec<&str> = policy_refusals(decision).iter().map(|r| r.rule).collect();
        assert_eq!(left, ["policy.attribute_not_allowed"]);
    }
}
