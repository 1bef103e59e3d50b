//! The words a page uses for the API's enums, in Dutch.

use signaalnet_proto::v1 as pb;

pub fn partner_role(role: i32) -> &'static str {
    match pb::PartnerRole::try_from(role) {
        Ok(pb::PartnerRole::Gemeente) => "gemeente",
        Ok(pb::PartnerRole::Politie) => "politie",
        Ok(pb::PartnerRole::Nla) => "Arbeidsinspectie",
        Ok(pb::PartnerRole::Zvh) => "Zorg- en Veiligheidshuis",
        Ok(pb::PartnerRole::Riec) => "RIEC",
        _ => "onbekend",
    }
}

/// The partner kinds a filter offers: the query value and its label.
pub const PARTNER_ROLES: [(&str, i32); 5] = [
    ("gemeente", pb::PartnerRole::Gemeente as i32),
    ("politie", pb::PartnerRole::Politie as i32),
    ("nla", pb::PartnerRole::Nla as i32),
    ("zvh", pb::PartnerRole::Zvh as i32),
    ("riec", pb::PartnerRole::Riec as i32),
];

pub fn identifier_kind(kind: i32) -> &'static str {
    match pb::IdentifierKind::try_from(kind) {
        Ok(pb::IdentifierKind::Bsn) => "BSN",
        Ok(pb::IdentifierKind::Person) => "persoon (naam en geboortedatum)",
        Ok(pb::IdentifierKind::Address) => "adres",
        Ok(pb::IdentifierKind::Organisation) => "organisatie (KvK/RSIN)",
        Ok(pb::IdentifierKind::Phone) => "telefoonnummer",
        Ok(pb::IdentifierKind::Iban) => "bankrekening (IBAN)",
        Ok(pb::IdentifierKind::Vehicle) => "voertuig (kenteken)",
        Ok(pb::IdentifierKind::OnlineHandle) => "online account",
        _ => "onbekend",
    }
}

/// The identifier kinds a filter offers: the query value and the wire value.
pub const IDENTIFIER_KINDS: [(&str, i32); 8] = [
    ("bsn", pb::IdentifierKind::Bsn as i32),
    ("person", pb::IdentifierKind::Person as i32),
    ("address", pb::IdentifierKind::Address as i32),
    ("organisation", pb::IdentifierKind::Organisation as i32),
    ("phone", pb::IdentifierKind::Phone as i32),
    ("iban", pb::IdentifierKind::Iban as i32),
    ("vehicle", pb::IdentifierKind::Vehicle as i32),
    ("online_handle", pb::IdentifierKind::OnlineHandle as i32),
];

pub fn recipient_role(role: &str) -> &str {
    match role {
        "riec_analist" => "RIEC-analist",
        "ketenregisseur" => "ketenregisseur",
        "zorgcoordinator" => "zorgcoördinator",
        "partner" => "partner",
        other => other,
    }
}
