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
