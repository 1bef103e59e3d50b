//! `partners/*.toml`: one organisation each. A partner is known by its OINs (20 digits, each
//! assigned once, since an OIN in a certificate must name one partner); a partner that runs
//! infrastructure shares nothing; what the others share is checked per purpose in [`super::shares`].

use super::report::{place, Checker};
use super::shares;
use crate::files::PartnerFile;
use crate::model::{Attribute, LegalBasis, Partner, Purpose};
use crate::problem::Source;
use std::collections::{BTreeMap, HashMap};

/// What the partner files refer to, checked before them.
pub(super) struct Catalogues<'a> {
    pub legal_bases: &'a BTreeMap<String, LegalBasis>,
    pub purposes: &'a BTreeMap<String, Purpose>,
    pub attributes: &'a BTreeMap<String, Attribute>,
}

/// The partners by id, and the partner id of every OIN.
pub(super) fn check(
    c: &mut Checker,
    files: &[(&Source, PartnerFile)],
    catalogues: &Catalogues<'_>,
) -> (BTreeMap<String, Partner>, HashMap<String, String>) {
    let mut partners = BTreeMap::new();
    let mut oins = Oins::default();
    let mut seen_partners = HashMap::new();
    for (source, file) in files {
        if !c.unique(&mut seen_partners, source, &file.id, "partner") {
            continue;
        }
        let partner_id = file.id.get_ref();
        let role = *file.role.get_ref();
        oins.check(c, source, file);
        if role.is_infrastructure() && (!file.share.is_empty() || !file.recipient_roles.is_empty())
        {
            c.at(
                source,
                &file.role,
                "role.infrastructure_shares",
                format!(
                    "`{partner_id}` has role {}, which runs infrastructure: it may neither share \
                     signals nor hold recipient roles",
                    role.as_str()
                ),
            );
        }
        let mut shares = BTreeMap::new();
        for share in &file.share {
            let partner = shares::Sharer {
                source,
                id: partner_id,
                role,
            };
            if let Some((purpose, checked)) = shares::check(c, &partner, share, &shares, catalogues)
            {
                shares.insert(purpose, checked);
            }
        }
        if shares.is_empty() && file.recipient_roles.is_empty() && !role.is_infrastructure() {
            c.warn(
                source,
                &file.id,
                "partner.inactive",
                format!("partner `{partner_id}` neither shares nor receives anything"),
            );
        }
        partners.insert(
            partner_id.clone(),
            Partner {
                id: partner_id.clone(),
                name: file.name.clone(),
                role,
                oins: file.oins.iter().map(|o| o.get_ref().clone()).collect(),
                recipient_roles: file.recipient_roles.iter().map(|r| *r.get_ref()).collect(),
                shares,
                file: source.path.clone(),
            },
        );
    }
    (partners, oins.index)
}

/// The OINs seen so far: where each was first assigned, and to which partner.
#[derive(Default)]
struct Oins {
    first_seen: HashMap<String, String>,
    index: HashMap<String, String>,
}

impl Oins {
    /// A partner lists at least one OIN, each 20 digits and not assigned to another partner.
    fn check(&mut self, c: &mut Checker, source: &Source, file: &PartnerFile) {
        let partner_id = file.id.get_ref();
        if file.oins.is_empty() {
            c.at(
                source,
                &file.id,
                "partner.oin_required",
                format!("partner `{partner_id}` lists no OIN, so no certificate can act for it"),
            );
        }
        for oin in &file.oins {
            if !is_oin(oin.get_ref()) {
                c.at(
                    source,
                    oin,
                    "oin.format",
                    format!("OIN `{}` is not 20 digits", oin.get_ref()),
                );
            }
            if let Some(first) = self.first_seen.get(oin.get_ref()) {
                c.at(
                    source,
                    oin,
                    "unique.duplicate_oin",
                    format!(
                        "OIN `{}` is already assigned in {first}; one OIN identifies one partner",
                        oin.get_ref()
                    ),
                );
            } else {
                self.first_seen
                    .insert(oin.get_ref().clone(), place(source, oin));
                self.index.insert(oin.get_ref().clone(), partner_id.clone());
            }
        }
    }
}

/// OINs are 20 digits (Logius, Digikoppeling).
fn is_oin(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())
}
