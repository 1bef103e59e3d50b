//! Partner API requests the end-to-end tests send, and waiting for their delivery.

use super::chain::ProcChain;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use std::time::{Duration, Instant};

pub const GEMEENTE: &str = "gemeente_groningen";
pub const POLITIE: &str = "politie_noord_nederland";
pub const NLA: &str = "nla";
pub const ZVH: &str = "zvh_groningen";
pub const DRIELUIK: &str = "signalering_drieluik";

pub fn id(value: Value) -> pb::Identifier {
    pb::Identifier { value: Some(value) }
}

pub fn person(surname: &str, given: &str, dob: &str) -> pb::Identifier {
    id(Value::Person(pb::Person {
        surname: surname.into(),
        given_names: given.into(),
        date_of_birth: dob.into(),
    }))
}

pub fn address(postcode: &str, number: &str) -> pb::Identifier {
    id(Value::Address(pb::PostalAddress {
        postcode: postcode.into(),
        huisnummer: number.into(),
        toevoeging: String::new(),
    }))
}

pub fn signal(
    case: &str,
    identifiers: Vec<pb::Identifier>,
    attributes: &[(&str, &str)],
) -> pb::SubmitSignalRequest {
    pb::SubmitSignalRequest {
        idempotency_key: format!("key/{case}"),
        case_reference: case.into(),
        purpose: DRIELUIK.into(),
        observed_month: "2026-10".into(),
        identifiers,
        attributes: attributes
            .iter()
            .map(|(i, v)| pb::Attribute {
                id: (*i).into(),
                value: (*v).into(),
            })
            .collect(),
    }
}

pub async fn submit(chain: &ProcChain, partner: &str, request: pb::SubmitSignalRequest) -> String {
    chain
        .partner(partner)
        .submit_signal(request)
        .await
        .unwrap()
        .into_inner()
        .signal_id
}

/// Waits until the node has delivered every one of `ids` (and none was refused).
pub async fn wait_delivered(chain: &ProcChain, partner: &str, ids: &[String]) {
    for id in ids {
        let status = settled(chain, partner, id).await;
        assert_ne!(
            status.state,
            pb::SignalState::Refused as i32,
            "{}",
            status.detail
        );
    }
}

/// Waits until a signal is no longer pending at its node (at most 90 s); returns its status.
pub async fn settled(chain: &ProcChain, partner: &str, id: &str) -> pb::SignalStatus {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut client = chain.partner(partner);
    loop {
        let status = client
            .get_signal_status(pb::GetSignalStatusRequest {
                signal_id: id.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        if status.state != pb::SignalState::Pending as i32 {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{partner} {id} still pending: {}",
            status.detail
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
