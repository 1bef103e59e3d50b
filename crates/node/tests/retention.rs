//! Retention on the partner node with a manual clock: a signal in no hit expires after its
//! purpose's `retention_unmatched`; its ciphertexts, keyed lookups and case reference are
//! deleted, its status says EXPIRED, and the expiry is audited. A signal in a hit waits for the
//! coordinator's EXPIRED notice instead.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_audit::{Actor, Audit, Filter, Signer, Step};
use signaalnet_node::Node;
use signaalnet_policy::{LivePolicy, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_pseudonym::{key_ceremony, PartnerEncryptor};
use signaalnet_store::{Clock, Location, Store};
use sqlx::Row;
use std::path::Path;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

fn request(case: &str, postcode: &str) -> pb::SubmitSignalRequest {
    pb::SubmitSignalRequest {
        idempotency_key: format!("key/{case}"),
        case_reference: case.into(),
        purpose: "signalering_drieluik".into(),
        observed_month: "2026-10".into(),
        identifiers: vec![pb::Identifier {
            value: Some(Value::Address(pb::PostalAddress {
                postcode: postcode.into(),
                huisnummer: "12".into(),
                toevoeging: String::new(),
            })),
        }],
        attributes: Vec::new(),
    }
}

#[tokio::test]
async fn unmatched_signals_expire_and_nothing_of_them_stays() {
    let dir = tempfile::tempdir().unwrap();
    let policy =
        PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap();
    let (system, _) = key_ceremony(1, &mut rand::rng()).unwrap();
    let clock = Clock::manual(1_790_000_000_000);
    let oin = policy.partner("gemeente_groningen").unwrap().oins[0].clone();
    let actor = Actor {
        oin: oin.clone(),
        role: "gemeente".into(),
    };
    let node = Node::open(
        Store::open(&Location::Sqlite(dir.path().join("node.db")))
            .await
            .unwrap(),
        LivePolicy::new(policy),
        "gemeente_groningen",
        PartnerEncryptor::new(system),
        &[9u8; 32],
        Audit::new(
            Signer::load_or_create(&dir.path().join("audit.key")).unwrap(),
            actor.clone(),
            clock.clone(),
        ),
    )
    .await
    .unwrap();
    let lonely = node
        .submit(actor.clone(), request("GRO-1", "9711 AB"))
        .await
        .unwrap()
        .signal_id;
    let matched = node
        .submit(actor.clone(), request("GRO-2", "9712 CD"))
        .await
        .unwrap()
        .signal_id;
    // As if the coordinator had reported a hit on the second one.
    sqlx::query("INSERT INTO node_signal_hits (signal_id, hit_id) VALUES ($1, 'hit-1')")
        .bind(&matched)
        .execute(node.store().pool())
        .await
        .unwrap();

    clock.advance(DAY * 179);
    assert_eq!(node.expire().await.unwrap(), 0);
    clock.advance(DAY * 2);
    assert_eq!(node.expire().await.unwrap(), 1);

    let status = node.status(actor.clone(), &lonely).await.unwrap();
    assert_eq!(status.state, pb::SignalState::Expired as i32);
    assert_eq!(status.case_reference, "", "the case reference is deleted");
    let row = sqlx::query("SELECT payload FROM node_signals WHERE signal_id = $1")
        .bind(&lonely)
        .fetch_one(node.store().pool())
        .await
        .unwrap();
    assert!(
        row.get::<Vec<u8>, _>("payload").is_empty(),
        "ciphertexts deleted"
    );
    // The keyed lookups are gone: the identifier no longer finds the signal.
    let err = node
        .withdraw(
            actor.clone(),
            pb::WithdrawSignalsRequest {
                idempotency_key: "w1".into(),
                reason: String::new(),
                target: Some(pb::withdraw_signals_request::Target::Identifier(
                    request("x", "9711 AB").identifiers.remove(0),
                )),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    // The signal in a hit is untouched.
    let status = node.status(actor.clone(), &matched).await.unwrap();
    assert_eq!(status.state, pb::SignalState::Pending as i32);
    assert_eq!(status.case_reference, "GRO-2");

    let expiries = signaalnet_audit::entries(
        node.store(),
        &Filter {
            step: Some(Step::Expire),
            ..Filter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(expiries.len(), 1);
    assert!(expiries[0]
        .refs
        .contains(&format!("signal:gemeente_groningen/{lonely}")));
    assert!(!expiries[0].refs.contains(&matched));
}
