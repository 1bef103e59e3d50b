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
