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

/// The regional monitor's table of the gemeente's signals, as the RIEC's analyst reads it.
async fn monitored(w: &common::World) -> pb::MonitorTable {
    let (riec, actor) = w.partner("riec_noord_nederland");
    w.core
        .monitor(
            riec,
            actor,
            pb::GetMonitorRequest {
                purpose: "monitor_aard_omvang".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

/// The table's total: its count if published.
fn total(t: &pb::MonitorTable) -> Option<u32> {
    let total = t.total.as_ref().unwrap();
    (total.status == pb::CellStatus::Perturbed as i32).then_some(total.count)
}

/// Past the monitor's counting delay (14 days, from the start of the month).
fn counted(w: &common::World) {
    w.clock.advance(Duration::from_secs(60 * 86_400));
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
    counted(&w);
    // Ten alike: one cell of ten, at the minimum cell size; asked twice, the same release.
    let ten = monitored(&w).await;
    assert_eq!(ten.rows.len(), 1);
    assert!(total(&ten).is_some_and(|n| n.abs_diff(10) <= 2));
    assert_eq!(monitored(&w).await.release_id, ten.release_id);
    assert_eq!(
        w.deliver("gemeente_groningen", "g10", address()).await.code,
        0
    );
    // Not counted before its delay has passed; then counted.
    assert_eq!(monitored(&w).await.release_id, ten.release_id);
    counted(&w);
    let eleven = monitored(&w).await;
    assert!(total(&eleven).is_some_and(|n| n.abs_diff(11) <= 2));
    w.core
        .withdraw(gemeente, &actor, &["g10".to_owned()])
        .await
        .unwrap();
    // The same ten signals again: the same noise, the same table.
    let again = monitored(&w).await;
    assert_eq!((again.rows, again.total), (ten.rows, ten.total));
    w.core
        .withdraw(gemeente, &actor, &["g9".to_owned()])
        .await
        .unwrap();
    let nine = monitored(&w).await;
    assert!(nine.rows.is_empty() && nine.has_suppressed);
    assert_eq!(total(&nine), None);
}
