//! What a partner or analyst may see of a hit: the privacy view. Every notification and
//! listing goes through here, so what leaves the coordinator is decided in one place, by the
//! recipient policy of the purpose.

use crate::core::Coordinator;
use crate::matching::{Change, HitEvent, Matcher, SignalEntry};
use crate::wire::change_to_wire;
use signaalnet_identifier::IdentifierKind;
use signaalnet_policy::{Partner, PolicySet, RecipientRole, RecipientView};
use signaalnet_proto::v1 as pb;
use signaalnet_service::convert::{kind_to_wire, role_to_wire};
use std::collections::BTreeSet;

impl Coordinator {
    /// What `partner_id` may learn of a hit change: only through its own signals, with what
    /// its recipient policy for the purpose allows.
    pub(crate) fn notification_for(
        &self,
        policy: &PolicySet,
        matcher: &Matcher,
        event: &HitEvent,
        partner_id: &str,
        members: &[&SignalEntry],
    ) -> pb::PartnerNotification {
        let view = policy
            .partner(partner_id)
            .and_then(|p| partner_view(policy, p, &event.purpose));
        let dissolved = matches!(event.change, Change::Dissolved | Change::Expired);
        let mut n = pb::PartnerNotification {
            cursor: String::new(),
            hit_id: event.hit_id.clone(),
            purpose: event.purpose.clone(),
            change: change_to_wire(event.change),
            own_signal_ids: members
                .iter()
                .filter(|m| m.partner == partner_id)
                .map(|m| m.signal_id.clone())
                .collect(),
            partner_roles: Vec::new(),
            matched_kinds: Vec::new(),
            attributes: Vec::new(),
            policy: Some(pb::PolicyVersion {
                version: policy.version().to_owned(),
            }),
            traceparent: String::new(),
            consultation: None,
            contact_points: Vec::new(),
            withdrawn_signal_ids: Vec::new(),
        };
        let Some(view) = view else {
            return n;
        };
        if view.sees_partner_roles {
            n.partner_roles = partner_roles(policy, members);
        }
        if dissolved {
            return n;
        }
        if view.sees_identifier_kinds {
            if let Some(hit) = matcher.hit(&event.hit_id) {
                let kinds: BTreeSet<IdentifierKind> = matcher
                    .linking_keys(hit)
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                n.matched_kinds = kinds.into_iter().map(kind_to_wire).collect();
            }
        }
        n.attributes = visible_attributes(view, members);
        // Contact points follow the purpose's view for role `partner`, whichever wider view a
        // partner also holds (a ketenregisseur's is pseudonymous and has none).
        let sees_contacts = policy
            .recipient_view(RecipientRole::Partner, &event.purpose)
            .is_some_and(|v| v.sees_contact_points);
        if sees_contacts {
            n.contact_points = contact_points(policy, &event.purpose, partner_id, members);
        }
        n
    }

    /// What a partner is told of a hit it is no longer in: that it changed (or ended for it),
    /// nothing of who or what is in it now.
    pub(crate) fn departure_notice(
        &self,
        policy: &PolicySet,
        event: &HitEvent,
    ) -> pb::PartnerNotification {
        pb::PartnerNotification {
            hit_id: event.hit_id.clone(),
            purpose: event.purpose.clone(),
            change: change_to_wire(event.change),
            policy: Some(pb::PolicyVersion {
                version: policy.version().to_owned(),
            }),
            ..Default::default()
        }
    }
}

/// The contact points for `purpose` of the partners in `members` other than `partner_id`,
/// sorted and each once: functional addresses from the policy set, shown only where the
/// recipient view says `sees_contact_points`.
pub(crate) fn contact_points(
    policy: &PolicySet,
    purpose: &str,
    partner_id: &str,
    members: &[&SignalEntry],
) -> Vec<String> {
    let contacts: BTreeSet<&str> = members
        .iter()
        .filter(|m| m.partner != partner_id)
        .filter_map(|m| policy.contact(&m.partner, purpose))
        .collect();
    contacts.into_iter().map(str::to_owned).collect()
}

/// The widest view `partner` holds for `purpose`: a special recipient role (ketenregisseur,
/// zorgcoördinator …) if it has one with a view for the purpose, otherwise the partner view.
pub(crate) fn partner_view<'a>(
    policy: &'a PolicySet,
    partner: &Partner,
    purpose: &str,
) -> Option<&'a RecipientView> {
    partner
        .recipient_roles
        .iter()
        .filter(|r| **r != RecipientRole::RiecAnalist)
        .find_map(|r| policy.recipient_view(*r, purpose))
        .or_else(|| policy.recipient_view(RecipientRole::Partner, purpose))
}

pub(crate) fn partner_roles(policy: &PolicySet, members: &[&SignalEntry]) -> Vec<i32> {
    let roles: BTreeSet<i32> = members
        .iter()
        .filter_map(|m| policy.partner(&m.partner))
        .filter_map(|p| role_to_wire(p.role))
        .collect();
    roles.into_iter().collect()
}

pub(crate) fn visible_attributes(
    view: &RecipientView,
    members: &[&SignalEntry],
) -> Vec<pb::Attribute> {
    let pairs: BTreeSet<(&str, &str)> = members
        .iter()
        .flat_map(|m| m.attributes.iter())
        .filter(|(id, _)| view.attributes.contains(id))
        .map(|(id, value)| (id.as_str(), value.as_str()))
        .collect();
    pairs
        .into_iter()
        .map(|(id, value)| pb::Attribute {
            id: id.to_owned(),
            value: value.to_owned(),
        })
        .collect()
}

/// Attribute values per attribute id over signals, for filters.
pub(crate) fn has_attribute(members: &[&SignalEntry], id: &str, value: &str) -> bool {
    members
        .iter()
        .any(|m| m.attributes.iter().any(|(i, v)| i == id && v == value))
}
