//! `recipients.toml`: which recipient role sees which attributes of a hit, one entry per role
//! and purpose. What nobody shares or nobody can receive is allowed but warned about: it is
//! usually a typo or a partner file still to come.

use super::report::{Catalogue, Checker};
use crate::files::{RecipientEntry, RecipientRole, RecipientsFile};
use crate::model::{Attribute, Partner, Purpose, RecipientView};
use crate::problem::Source;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn check(
    c: &mut Checker,
    file: Option<&(&Source, RecipientsFile)>,
    purposes: &BTreeMap<String, Purpose>,
    attributes: &BTreeMap<String, Attribute>,
    partners: &BTreeMap<String, Partner>,
) -> BTreeMap<(RecipientRole, String), RecipientView> {
    let mut recipients = BTreeMap::new();
    let Some((source, file)) = file else {
        return recipients;
    };
    for entry in &file.recipient {
        let role = *entry.role.get_ref();
        let purpose_id = entry.purpose.get_ref();
        if !purposes.contains_key(purpose_id) {
            c.undefined(
                Catalogue::Purpose,
                source,
                &entry.purpose,
                format!(
                    "recipient {} names purpose `{purpose_id}`, which is not defined",
                    role.as_str()
                ),
            );
            // The attributes it may see are still checked against the catalogue.
            for attr in &entry.attributes {
                c.catalogued(attributes, source, attr);
            }
            continue;
        }
        let key = (role, purpose_id.clone());
        if recipients.contains_key(&key) {
            c.at(
                source,
                &entry.role,
                "recipient.duplicate",
                format!(
                    "recipient {} has two entries for purpose `{purpose_id}`; merge them",
                    role.as_str()
                ),
            );
            continue;
        }
        let attrs = visible_attributes(c, source, entry, attributes, partners);
        // Contact points name organisations: a partner of the hit may see them, an analyst's
        // view is pseudonymous.
        let sees_contact_points = match &entry.sees_contact_points {
            Some(flag) if *flag.get_ref() && role != RecipientRole::Partner => {
                c.at(
                    source,
                    flag,
                    "recipient.contact_points_partner_only",
                    format!(
                        "recipient {} cannot see contact points; only role partner (a partner \
                         of the hit) can",
                        role.as_str()
                    ),
                );
                false
            }
            Some(flag) => *flag.get_ref(),
            None => false,
        };
        if role != RecipientRole::Partner
            && !partners.values().any(|p| p.recipient_roles.contains(&role))
        {
            c.warn(
                source,
                &entry.role,
                "recipient.role_unheld",
                format!("no partner holds recipient role {}", role.as_str()),
            );
        }
        recipients.insert(
            key,
            RecipientView {
                role,
                purpose: purpose_id.clone(),
                attributes: attrs,
                sees_identifier_kinds: entry.sees_identifier_kinds,
                sees_partner_roles: entry.sees_partner_roles,
                sees_contact_points,
            },
        );
    }
    recipients
}

/// The catalogued attributes the recipient may see, warning about those no partner shares for
/// the purpose.
fn visible_attributes(
    c: &mut Checker,
    source: &Source,
    entry: &RecipientEntry,
    attributes: &BTreeMap<String, Attribute>,
    partners: &BTreeMap<String, Partner>,
) -> BTreeSet<String> {
    let (role, purpose_id) = (*entry.role.get_ref(), entry.purpose.get_ref());
    let mut attrs = BTreeSet::new();
    for attr in &entry.attributes {
        if c.catalogued(attributes, source, attr).is_none() {
            continue;
        }
        let shared_by_someone = partners.values().any(|p| {
            p.shares
                .get(purpose_id)
                .is_some_and(|s| s.attributes.contains(attr.get_ref()))
        });
        if !shared_by_someone {
            c.warn(
                source,
                attr,
                "recipient.attribute_never_shared",
                format!(
                    "recipient {} may see `{}` for `{purpose_id}`, but no partner shares it for that purpose",
                    role.as_str(),
                    attr.get_ref()
                ),
            );
        }
        attrs.insert(attr.get_ref().clone());
    }
    attrs
}
