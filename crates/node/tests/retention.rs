//! Retention on the partner node with a manual clock: a signal in no hit expires after its
//! purpose's `retention_unmatched`; its ciphertexts, keyed lookups and case reference are
//! deleted, its status says EXPIRED, and the expiry is audited. A signal in a hit waits for the
//! coordinator's EXPIRED notice instead.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{gemeente_node, request};
use signaalnet_audit::{Filter, Step};
use signaalnet_proto::v1 as pb;
use signaalnet_store::Clock;
use sqlx::Row;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test]
async fn unmatched_signals_expire_and_nothing_of_them_stays() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(1_790_000_000_000);
    let (node, actor) = gemeente_node(dir.path(), &clock).await;
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
    assert_eq!(node.expire().await.unwrap().signals, 0);
    clock.advance(DAY * 2);
    assert_eq!(node.expire().await.unwrap().signals, 1);

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

/// A withdrawal's target is checked as submission checks the field: an empty case reference
/// (which every signal withdrawn earlier now has) or signal id, one too long or with control
/// characters, or no target at all, is INVALID_ARGUMENT naming the field, and withdraws nothing.
#[tokio::test]
async fn a_withdrawal_target_must_be_a_valid_value() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(1_790_000_000_000);
    let (node, actor) = gemeente_node(dir.path(), &clock).await;
    let id = node
        .submit(actor.clone(), request("GRO-W1", "9711 AB"))
        .await
        .unwrap()
        .signal_id;
    use pb::withdraw_signals_request::Target;
    let cases = [
        (
            Some(Target::CaseReference(String::new())),
            "target.case_reference",
        ),
        (
            Some(Target::CaseReference("x".repeat(10_000))),
            "target.case_reference",
        ),
        (
            Some(Target::CaseReference("GRO-W1\n".into())),
            "target.case_reference",
        ),
        (Some(Target::SignalId(String::new())), "target.signal_id"),
        (None, "target"),
    ];
    for (i, (target, field)) in cases.into_iter().enumerate() {
        let err = node
            .withdraw(
                actor.clone(),
                pb::WithdrawSignalsRequest {
                    idempotency_key: format!("w-bad-{i}"),
                    reason: String::new(),
                    target,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}");
        assert!(err.message().contains(field), "{field}: {}", err.message());
        assert!(err.message().len() < 1_000, "{field}: bounded");
    }
    let status = node.status(actor.clone(), &id).await.unwrap();
    assert_eq!(
        status.state,
        pb::SignalState::Pending as i32,
        "nothing withdrawn"
    );
}
