//! Analysts never hold up matching: an analyst query reads the store, not the matcher, so while
//! one is in progress the matcher's lock stays free for the next delivery.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{address, world, DRIELUIK};
use signaalnet_proto::v1 as pb;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_query_in_progress_leaves_matching_free_to_proceed() {
    let w = std::sync::Arc::new(world().await);
    assert_eq!(
        w.deliver("gemeente_groningen", "g1", address()).await.code,
        0
    );
    assert_eq!(
        w.deliver("politie_noord_nederland", "p1", address())
            .await
            .code,
        0
    );
    // The analyst's query is kept in progress: it ends by auditing itself, and the store's
    // writer is held here, as a long commit elsewhere would hold it.
    let writer = w.core.store().write().await.unwrap();
    let query = tokio::spawn({
        let w = std::sync::Arc::clone(&w);
        async move {
            let (zvh, actor) = w.partner("zvh_groningen");
            w.core
                .list_hits(
                    zvh,
                    actor,
                    pb::AnalystListHitsRequest {
                        purpose: DRIELUIK.into(),
                        ..Default::default()
                    },
                )
                .await
        }
    });
    // Throughout, matching could take the matcher's lock (as `held_signals` does). Before the
    // fix ListHits took that lock first and held it until it had audited the query, so this
    // waited for the writer too. (Seen for half a second; a query that has not started yet
    // holds nothing either, so this cannot pass by luck once the query holds the lock.)
    for _ in 0..50 {
        let held = tokio::time::timeout(Duration::from_secs(5), w.core.held_signals())
            .await
            .expect("the matcher's lock is held while an analyst query is in progress");
        assert_eq!(held, 2);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !query.is_finished(),
        "the query waits for the store's writer"
    );
    drop(writer);
    let listed = query.await.unwrap().unwrap();
    assert_eq!(listed.hits.len(), 1);
    assert_eq!(listed.hits[0].signal_count, 2);
}

/// The regional monitor's total for the gemeente's signals, as the RIEC's analyst reads it.
async fn monitored(w: &common::World) -> (u32, u32) {
    let (riec, actor) = w.partner("riec_noord_nederland");
    let table = w
        .core
        .monitor(
            riec,
            actor,
            pb::GetMonitorRequest {
                purpose: "monitor_aard_omvang".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    (
        table.rows.iter().map(|r| r.count).sum(),
        table.suppressed_cells,
    )
}

#[tokio::test]
async fn the_monitor_counts_once_per_change_and_follows_every_change() {
    let w = world().await;
    let (gemeente, actor) = w.partner("gemeente_groningen");
    for i in 0..10 {
        let id = format!("g{i}");
        assert_eq!(
            w.deliver("gemeente_groningen", &id, address()).await.code,
            0
        );
    }
    // Ten alike: one cell of ten, at the minimum cell size; asked twice, the same (kept).
    assert_eq!(monitored(&w).await, (10, 0));
    assert_eq!(monitored(&w).await, (10, 0));
    assert_eq!(
        w.deliver("gemeente_groningen", "g10", address()).await.code,
        0
    );
    assert_eq!(monitored(&w).await, (11, 0));
    for (withdrawn, expected) in [("g10", (10, 0)), ("g9", (0, 1))] {
        w.core
            .withdraw(gemeente, &actor, &[withdrawn.to_owned()])
            .await
            .unwrap();
        assert_eq!(
            monitored(&w).await,
            expected,
            "after withdrawing {withdrawn}"
        );
    }
}
