//! Submissions in batches (what one `SubmitSignals` stream brought): each gets the answer it
//! would get alone, in order; a refusal or a replay in the batch changes nothing for the others.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{gemeente_node, request};
use signaalnet_audit::{Filter, Step};
use signaalnet_node::Submission;
use signaalnet_store::Clock;
use tracing::Span;

#[tokio::test]
async fn each_submission_of_a_batch_gets_its_own_answer_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (node, actor) = gemeente_node(dir.path(), &Clock::manual(1_790_000_000_000)).await;
    let earlier = node
        .submit(actor.clone(), request("GRO-0", "9711 AB"))
        .await
        .unwrap();
    let mut bad = request("GRO-2", "9712 CD");
    bad.observed_month = "10-2026".into();
    let mut reused = request("GRO-0", "9713 EF"); // an earlier key for a different request
    reused.case_reference = "GRO-0b".into();
    let batch = vec![
        request("GRO-1", "9711 AB"),
        bad,
        request("GRO-1", "9711 AB"), // the first one again, in the same batch
        request("GRO-0", "9711 AB"), // a replay of the earlier submission
        reused,
        request("GRO-3", "9714 GH"),
    ];
    let answers = node
        .submit_batch(
            &actor,
            batch
                .into_iter()
                .map(|request| Submission {
                    request,
                    span: Span::none(),
                })
                .collect(),
        )
        .await;
    assert_eq!(answers.len(), 6);
    let first = answers[0].as_ref().unwrap();
    assert!(!first.replayed);
    let refused = tonic::Status::from(answers[1].clone().unwrap_err());
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("observed_month"), "{refused:?}");
    let again = answers[2].as_ref().unwrap();
    assert!(again.replayed);
    assert_eq!(again.signal_id, first.signal_id);
    let replay = answers[3].as_ref().unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.signal_id, earlier.signal_id);
    assert_eq!(
        answers[4].as_ref().unwrap_err().code(),
        tonic::Code::AlreadyExists
    );
    let last = answers[5].as_ref().unwrap();
    assert!(!last.replayed);
    assert_ne!(last.signal_id, first.signal_id);

    // Stored: the earlier signal and the two new ones, each audited once as submitted.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM node_signals")
        .fetch_one(node.store().pool())
        .await
        .unwrap();
    assert_eq!(stored, 3);
    let trail = signaalnet_audit::entries(node.store(), &Filter::default())
        .await
        .unwrap();
    let submitted: Vec<_> = trail
        .iter()
        .filter(|e| e.step == Step::Submit.as_str())
        .collect();
    assert_eq!(submitted.len(), 3);
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.step == Step::Refuse.as_str())
            .count(),
        1
    );
}
