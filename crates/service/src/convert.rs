//! Between the wire enums of `signaalnet.v1` and the library types.

use signaalnet_identifier::IdentifierKind;
use signaalnet_policy::PartnerRole;
use signaalnet_proto::v1 as pb;

/// The library kind of a wire `IdentifierKind`; `None` for unspecified or unknown values.
pub fn kind_from_wire(value: i32) -> Option<IdentifierKind> {
    let wire = pb::IdentifierKind::try_from(value).ok()?;
    Some(match wire {
        pb::IdentifierKind::Unspecified => return None,
        pb::IdentifierKind::Bsn => IdentifierKind::Bsn,
        pb::IdentifierKind::Person => IdentifierKind::Person,
        pb::IdentifierKind::Address => IdentifierKind::Address,
        pb::IdentifierKind::Organisation => IdentifierKind::Organisation,
        pb::IdentifierKind::Phone => IdentifierKind::Phone,
        pb::IdentifierKind::Iban => IdentifierKind::Iban,
        pb::IdentifierKind::Vehicle => IdentifierKind::Vehicle,
        pb::IdentifierKind::OnlineHandle => IdentifierKind::OnlineHandle,
    })
}

pub fn kind_to_wire(kind: IdentifierKind) -> i32 {
    let wire = match kind {
        IdentifierKind::Bsn => pb::IdentifierKind::Bsn,
        IdentifierKind::Person => pb::IdentifierKind::Person,
        IdentifierKind::Address => pb::IdentifierKind::Address,
        IdentifierKind::Organisation => pb::IdentifierKind::Organisation,
        IdentifierKind::Phone => pb::IdentifierKind::Phone,
        IdentifierKind::Iban => pb::IdentifierKind::Iban,
        IdentifierKind::Vehicle => pb::IdentifierKind::Vehicle,
        IdentifierKind::OnlineHandle => pb::IdentifierKind::OnlineHandle,
    };
    wire as i32
}

/// The wire role of a partner organisation; infrastructure roles have none.
pub fn role_to_wire(role: PartnerRole) -> Option<i32> {
    let wire = match role {
        PartnerRole::Gemeente => pb::PartnerRole::Gemeente,
        PartnerRole::Politie => pb::PartnerRole::Politie,
        PartnerRole::Nla => pb::PartnerRole::Nla,
        PartnerRole::Zvh => pb::PartnerRole::Zvh,
        PartnerRole::Riec => pb::PartnerRole::Riec,
        PartnerRole::Transcryptor | PartnerRole::Coordinator => return None,
    };
    Some(wire as i32)
}

/// Partner roles that run a partner node and submit signals.
pub fn submits_signals(role: PartnerRole) -> bool {
    matches!(
        role,
        PartnerRole::Gemeente | PartnerRole::Politie | PartnerRole::Nla | PartnerRole::Zvh
    )
}
