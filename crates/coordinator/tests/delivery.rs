//! Delivery in batches (what one delivery stream brought): each signal gets the answer it would
//! get alone, in order, and the batch's signals are stored together.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{address, phone, world};
use signaalnet_coordinator::Delivered;
use tonic::Code;
use tracing::Span;

#[tokio::test]
async fn each_signal_of_a_batch_gets_its_own_answer_in_order() {
    let w = world().await;
    let mut bad_month = w.signal("g2", phone());
    bad_month.observed_month = "10-2026".into();
    let mut not_converted = w.signal("g4", phone());
    not_converted.identifiers[0].ciphertext[0] ^= 1;
    let signals = vec![
        w.signal("g1", address()),
        bad_month,
        w.signal("g1", address()), // the first one again, in the same batch
        w.signal("g3", phone()),
        not_converted,
    ];
    let (partner, actor) = w.partner("gemeente_groningen");
    let outcomes = w
        .core
        .deliver_batch(
            partner,
            &actor,
            signals
                .into_iter()
                .map(|signal| Delivered {
                    signal,
                    span: Span::none(),
                })
                .collect(),
        )
        .await;
    let codes: Vec<Code> = outcomes.iter().map(|o| o.code).collect();
    assert_eq!(
        codes[..4],
        [Code::Ok, Code::InvalidArgument, Code::Ok, Code::Ok]
    );
    assert_ne!(codes[4], Code::Ok, "{:?}", outcomes[4]);
    assert_eq!(outcomes[0].message, "accepted");
    assert!(outcomes[1].message.starts_with("observed_month"));
    assert_eq!(outcomes[2].message, "already received; nothing changed");
    assert_eq!(outcomes[3].message, "accepted");
    assert!(outcomes[4].message.starts_with("identifiers[0].ciphertext"));

    assert_eq!(w.count("SELECT COUNT(*) FROM coord_signals").await, 2);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_entries WHERE step = 'match'")
            .await,
        2
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_entries WHERE step = 'refuse'")
            .await,
        2
    );
}

#[tokio::test]
async fn signals_in_no_hit_stay_only_in_the_store_and_still_link() {
    let w = world().await;
    assert_eq!(
        w.deliver("gemeente_groningen", "g1", address()).await.code,
        0
    );
    // One partner's signal with the address and a phone: linked to g1, but no hit alone.
    let mut both = w.signal("g2", address());
    both.identifiers.extend(w.signal("x", phone()).identifiers);
    let (gemeente, actor) = w.partner("gemeente_groningen");
    assert_eq!(w.core.deliver(gemeente, &actor, both).await.code, Code::Ok);
    assert_eq!(w.core.held_signals().await, 0, "nothing matched yet");
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_hits").await, 0);

    // The police's phone reaches g2 directly and g1 through g2's address: one hit of three.
    assert_eq!(
        w.deliver("politie_noord_nederland", "p1", phone())
            .await
            .code,
        0
    );
    let members: String = sqlx::query_scalar("SELECT members FROM coord_hits")
        .fetch_one(w.core.store().pool())
        .await
        .unwrap();
    let members: Vec<i64> = serde_json::from_str(&members).unwrap();
    assert_eq!(members, vec![1, 2, 3]);
    assert_eq!(w.core.held_signals().await, 3);

    // Withdrawn, the police signal dissolves the hit; the other two are let go again.
    let (politie, actor) = w.partner("politie_noord_nederland");
    w.core
        .withdraw(politie, &actor, &["p1".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_hits WHERE dissolved_at IS NULL")
            .await,
        0
    );
    assert_eq!(w.core.held_signals().await, 0);

    // And they are still there to match: a new police signal on the address forms a hit again.
    assert_eq!(
        w.deliver("politie_noord_nederland", "p2", address())
            .await
            .code,
        0
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_hits WHERE dissolved_at IS NULL")
            .await,
        1
    );
    assert_eq!(w.core.held_signals().await, 3);
}

/// A signal whose ciphertexts another partner made (as the coordinator itself could replay them
/// with a stolen or colluding partner certificate) is refused, not stored, and audited.
#[tokio::test]
async fn ciphertexts_another_partner_made_are_refused_on_arrival() {
    let w = world().await;
    let replayed = w.signal_from("gemeente_groningen", "n1", address());
    let (nla, actor) = w.partner("nla");
    let outcome = w.core.deliver(nla, &actor, replayed).await;
    assert_eq!(outcome.code, Code::PermissionDenied, "{outcome:?}");
    assert!(
        outcome.message.starts_with("identifiers[0].origin_proof:"),
        "{}",
        outcome.message
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_signals").await, 0);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_entries WHERE step = 'refuse'")
            .await,
        1
    );
    // Made by the NLA itself, it is accepted.
    let own = w.signal_from("nla", "n1", address());
    assert_eq!(w.core.deliver(nla, &actor, own).await.code, Code::Ok);
}

/// What a node could send in place of the proofs: none, one too many, one too large. Each is
/// refused naming the field, and nothing is stored.
#[tokio::test]
async fn missing_extra_or_oversized_proofs_are_refused_naming_the_field() {
    let w = world().await;
    let (gemeente, actor) = w.partner("gemeente_groningen");
    let mut none = w.signal("g1", phone());
    none.identifiers[0].proofs.clear();
    let mut extra = w.signal("g2", phone());
    let copy = extra.identifiers[0].proofs[0].clone();
    extra.identifiers[0].proofs.push(copy);
    let mut large = w.signal("g3", phone());
    large.identifiers[0].proofs[0] = vec![b' '; 4096];
    let mut no_origin = w.signal("g4", phone());
    no_origin.identifiers[0].origin_proof.clear();
    for (signal, field) in [
        (
            none,
            "identifiers[0].proofs: one proof per transcryptor (1), got 0",
        ),
        (
            extra,
            "identifiers[0].proofs: one proof per transcryptor (1), got 2",
        ),
        (
            large,
            "identifiers[0].proofs[0]: proof: longer than 1024 bytes",
        ),
        (no_origin, "identifiers[0].origin_proof: must be 128 bytes"),
    ] {
        let outcome = w.core.deliver(gemeente, &actor, signal).await;
        assert_eq!(outcome.code, Code::InvalidArgument, "{outcome:?}");
        assert_eq!(outcome.message, field);
    }
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_signals").await, 0);
}
