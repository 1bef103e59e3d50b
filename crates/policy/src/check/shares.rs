//! A partner's `[[share]]` for one purpose: the purpose and the legal basis exist and belong
//! together, the identifier kinds are known (a monitor purpose takes none, a matched purpose
//! needs some), every attribute is catalogued and of a data class the basis permits (police
//! data from the police only), and the probing limits are sound.

use super::partners::Catalogues;
use super::report::{Catalogue, Checker};
use crate::files::{Name, PartnerRole, Sensitivity, ShareEntry};
use crate::model::{Attribute, LegalBasis, Limits, Purpose, Share};
use crate::problem::Source;
use signaalnet_identifier::IdentifierKind;
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;

/// The partner whose file holds the share.
pub(super) struct Sharer<'a> {
    pub source: &'a Source,
    pub id: &'a String,
    pub role: PartnerRole,
}

/// The purpose id and the checked share; `None` for a share of an undefined purpose or a second
/// share of the same purpose (reported, and left out so the first stands).
pub(super) fn check(
    c: &mut Checker,
    partner: &Sharer<'_>,
    share: &ShareEntry,
    earlier: &BTreeMap<String, Share>,
    catalogues: &Catalogues<'_>,
) -> Option<(String, Share)> {
    let (source, partner_id) = (partner.source, partner.id);
    let purpose_id = share.purpose.get_ref();
    let Some(purpose) = catalogues.purposes.get(purpose_id) else {
        // Without the purpose nothing else of the share can be weighed.
        c.undefined(
            Catalogue::Purpose,
            source,
            &share.purpose,
            format!(
                "partner `{partner_id}` shares for purpose `{purpose_id}`, which purposes.toml does not define"
            ),
        );
        return None;
    };
    if earlier.contains_key(purpose_id) {
        c.at(
            source,
            &share.purpose,
            "share.duplicate_purpose",
            format!(
                "partner `{partner_id}` has two share blocks for purpose `{purpose_id}`; merge them"
            ),
        );
        return None;
    }
    let basis = basis(c, source, share, purpose, catalogues.legal_bases);
    let kinds = identifier_kinds(c, partner, share, purpose);
    let attributes = attributes(c, partner, share, basis, catalogues.attributes);
    let limits = limits(c, partner, share, purpose);
    let contact = share.contact.as_ref().and_then(|contact| {
        let problem = contact_problem(contact.get_ref());
        if let Some(problem) = problem {
            c.at(
                source,
                contact,
                "share.contact_format",
                format!(
                    "the contact point of partner `{partner_id}` for purpose `{purpose_id}` {problem}"
                ),
            );
            return None;
        }
        Some(contact.get_ref().clone())
    });
    Some((
        purpose_id.clone(),
        Share {
            legal_basis: share.legal_basis.get_ref().clone(),
            identifier_kinds: kinds,
            attributes,
            limits,
            contact,
        },
    ))
}

/// The longest contact point, in characters (RFC 5321's path limit).
pub const MAX_CONTACT: usize = 254;

/// What is wrong with a contact point, if anything: it must be a plain e-mail address in lower
/// case ASCII (`local@domain.tld`: letters, digits, `.`, `-`, `_`, `+` before the `@`, dotted
/// labels of letters, digits and `-` after it, a top-level domain of letters), at most
/// [`MAX_CONTACT`] characters. The address of a team or function, never a person's, is the
/// privacy officer's to judge; the form is the machine's.
pub fn contact_problem(address: &str) -> Option<String> {
    if address.is_empty() || address.chars().count() > MAX_CONTACT {
        return Some(format!(
            "must be an e-mail address of 1 to {MAX_CONTACT} characters"
        ));
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Some("must be an e-mail address `local@domain` (no `@` found)".into());
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-+".contains(&b));
    if !local_ok {
        return Some(
            "must have a local part (before `@`) of lower case letters, digits, `.`, `-`, `_`, `+`"
                .into(),
        );
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_lowercase()));
    if labels.len() < 2 || !labels.iter().all(label_ok) || !tld_ok {
        return Some(
            "must have a domain (after `@`) of dotted lower case labels, e.g. `groningen.nl`"
                .into(),
        );
    }
    None
}

/// The share's legal basis: defined, and one of the purpose's.
fn basis<'a>(
    c: &mut Checker,
    source: &Source,
    share: &ShareEntry,
    purpose: &Purpose,
    legal_bases: &'a BTreeMap<String, LegalBasis>,
) -> Option<&'a LegalBasis> {
    let basis_id = share.legal_basis.get_ref();
    let basis = legal_bases.get(basis_id);
    // An undefined basis is one mistake, not also a basis foreign to the purpose; when
    // legal_bases.toml could not be read, the purpose's own list can still be compared.
    let unread = c.unresolved.contains(&Catalogue::LegalBasis);
    if basis.is_none() && !unread {
        c.undefined(
            Catalogue::LegalBasis,
            source,
            &share.legal_basis,
            format!("legal basis `{basis_id}` is not defined in legal_bases.toml"),
        );
    } else if !purpose.legal_bases.contains(basis_id) {
        c.at(
            source,
            &share.legal_basis,
            "basis.not_for_purpose",
            format!(
                "legal basis `{basis_id}` is not one of the bases of purpose `{}` ({})",
                purpose.id,
                purpose.legal_bases.join(", ")
            ),
        );
    }
    basis
}

/// Known identifier kinds; none for a monitor purpose (it counts attributes), some otherwise.
fn identifier_kinds(
    c: &mut Checker,
    partner: &Sharer<'_>,
    share: &ShareEntry,
    purpose: &Purpose,
) -> BTreeSet<IdentifierKind> {
    let (source, partner_id, purpose_id) = (partner.source, partner.id, &purpose.id);
    let mut kinds = BTreeSet::new();
    for kind in &share.identifier_kinds {
        match IdentifierKind::from_name(kind.get_ref()) {
            Some(k) => {
                kinds.insert(k);
            }
            None => c.at(
                source,
                kind,
                "reference.undefined_identifier_kind",
                format!(
                    "`{}` is not an identifier kind{}; known kinds: {}",
                    kind.get_ref(),
                    crate::suggest::did_you_mean(
                        kind.get_ref(),
                        IdentifierKind::ALL.map(IdentifierKind::as_str)
                    ),
                    IdentifierKind::ALL.map(IdentifierKind::as_str).join(", ")
                ),
            ),
        }
    }
    if let (Some(_), Some(first)) = (&purpose.monitor, share.identifier_kinds.first()) {
        c.at(
            source,
            first,
            "share.aggregates_identifiers",
            format!(
                "purpose `{purpose_id}` is aggregates_only: a share for it names attributes to count, never identifier kinds"
            ),
        );
    }
    if purpose.monitor.is_none() && share.identifier_kinds.is_empty() {
        c.at(
            source,
            &share.purpose,
            "share.no_identifier_kinds",
            format!(
                "partner `{partner_id}` shares nothing to match on for purpose `{purpose_id}`: list identifier_kinds"
            ),
        );
    }
    kinds
}

/// Catalogued attributes, each once, of a data class the basis permits; police data (Wpg) only
/// from a partner with role politie.
fn attributes(
    c: &mut Checker,
    partner: &Sharer<'_>,
    share: &ShareEntry,
    basis: Option<&LegalBasis>,
    catalogue: &BTreeMap<String, Attribute>,
) -> BTreeSet<String> {
    let (source, partner_id, role) = (partner.source, partner.id, partner.role);
    let mut attrs = BTreeSet::new();
    for attr in &share.attributes {
        let Some(attribute) = c.catalogued(catalogue, source, attr) else {
            continue;
        };
        if let Some(basis) = basis {
            permitted(c, source, attr, attribute, basis);
        }
        if attribute.sensitivity == Sensitivity::Police && role != PartnerRole::Politie {
            c.at(
                source,
                attr,
                "sensitivity.police_from_politie_only",
                format!(
                    "attribute `{}` is police data (Wpg); only a partner with role politie can share it, `{partner_id}` has role {}",
                    attribute.id,
                    role.as_str()
                ),
            );
        }
        if !attrs.insert(attr.get_ref().clone()) {
            c.at(
                source,
                attr,
                "unique.duplicate_id",
                format!("attribute `{}` is listed twice", attr.get_ref()),
            );
        }
    }
    attrs
}

/// The attribute's data class is one the legal basis permits.
fn permitted(
    c: &mut Checker,
    source: &Source,
    attr: &Name,
    attribute: &Attribute,
    basis: &LegalBasis,
) {
    if basis.permits.contains(&attribute.sensitivity) {
        return;
    }
    c.at(
        source,
        attr,
        "basis.sensitivity",
        format!(
            "attribute `{}` is {} data ({}), which legal basis `{}` does not permit (it permits: {})",
            attribute.id,
            attribute.sensitivity.as_str(),
            sensitivity_words(attribute.sensitivity),
            basis.id,
            basis.permits.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ),
    );
}

/// The probing limits and bulk grant ([`crate::limits`]); a monitor purpose matches nothing, so
/// it takes neither.
fn limits(c: &mut Checker, partner: &Sharer<'_>, share: &ShareEntry, purpose: &Purpose) -> Limits {
    let (source, partner_id, purpose_id) = (partner.source, partner.id, &purpose.id);
    let (mut found, mut doubts) = (Vec::new(), Vec::new());
    let limits = crate::limits::share_limits(
        source,
        share.limits.as_ref(),
        share.bulk.as_ref(),
        &mut found,
        &mut doubts,
    );
    for (value, rule, message) in found {
        c.at(
            source,
            value,
            rule,
            format!("partner `{partner_id}`, purpose `{purpose_id}`: {message}"),
        );
    }
    for (value, rule, message) in doubts {
        c.warn(
            source,
            value,
            rule,
            format!("partner `{partner_id}`, purpose `{purpose_id}`: {message}"),
        );
    }
    if purpose.monitor.is_some() {
        if let Some(line) = share
            .limits
            .as_ref()
            .map(Spanned::span)
            .or(share.bulk.as_ref().map(Spanned::span))
        {
            c.at(
                source,
                &Spanned::new(line, ()),
                "limits.monitor_purpose",
                format!(
                    "purpose `{purpose_id}` is aggregates_only: nothing is matched for it, so it takes no limits or bulk grant"
                ),
            );
        }
    }
    limits
}

fn sensitivity_words(s: Sensitivity) -> &'static str {
    match s {
        Sensitivity::Basic => "ordinary personal data",
        Sensitivity::Special => "a special category, AVG art. 9",
        Sensitivity::Criminal => "criminal-law data, AVG art. 10",
        Sensitivity::Police => "police data, Wet politiegegevens",
    }
}
