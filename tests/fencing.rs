//! One coordinator at a time (crates/coordinator/src/fence.rs), with the chain run as processes:
//!
//! - a second coordinator on the same database waits as the standby; when the active one is
//!   killed (SIGKILL) while signals stream in, the standby takes over, and every accepted signal
//!   is delivered exactly once into exactly one hit per pair, each partner told once;
//! - a coordinator whose fencing epoch was taken over stops writing and stops (the successor's
//!   raise of the epoch is what every write transaction checks);
//! - on PostgreSQL, a coordinator whose lock session is terminated while the process lives on
//!   stops, and the standby takes over.
//!
//! The PostgreSQL half runs when `SIGNAALNET_TEST_POSTGRES_URL` is set and says so on stderr
//! (not captured) when it is not.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::*;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Pairs of signals, one from the politie and one from the gemeente sharing a phone number:
/// each pair is one hit.
const PAIRS: usize = 90;
/// Pairs per stream.
const BATCH: usize = 10;

fn skip_without_postgres(test: &str) -> Option<String> {
    let url = postgres_url();
    if url.is_none() {
        // Straight to stderr: libtest captures print macros, not this.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test} on PostgreSQL: SIGNAALNET_TEST_POSTGRES_URL is not set"
        );
    }
    url
}

/// The coordinator's database, opened by the test beside the roles.
async fn database(chain: &Chain) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = match chain.location("coordinator").unwrap() {
        signaalnet_store::Location::Sqlite(path) => format!("sqlite://{}", path.display()),
        signaalnet_store::Location::Postgres(url) => url,
    };
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap()
}

async fn count(db: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(db).await.unwrap().get(0)
}

async fn wait_for_file(path: &Path, needle: &str, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{needle}` not in {} after {patience:?}:\n{text}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pair(i: usize) -> [(&'static str, pb::SubmitSignalRequest); 2] {
    let phone = || vec![id(Value::Phone(format!("+3162{:07}", 1_000_000 + i)))];
    [
        (POLITIE, signal(&format!("PL-{i}"), phone(), &[])),
        (GEMEENTE, signal(&format!("GRO-{i}"), phone(), &[])),
    ]
}

/// Streams every pair into the nodes, a batch at a time; returns the accepted ids per partner.
async fn stream_pairs(chain: &Chain) -> BTreeMap<&'static str, Vec<String>> {
    let mut accepted: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for first in (0..PAIRS).step_by(BATCH) {
        let mut per_partner: BTreeMap<&'static str, Vec<pb::SubmitSignalRequest>> = BTreeMap::new();
        for i in first..(first + BATCH).min(PAIRS) {
            for (partner, request) in pair(i) {
                per_partner.entry(partner).or_default().push(request);
            }
        }
        for (partner, requests) in per_partner {
            let ids = submit_stream(chain.partner(partner).unwrap(), requests)
                .await
                .unwrap();
            accepted.entry(partner).or_default().extend(ids);
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    accepted
}

/// Every accepted signal delivered exactly once, one hit per pair, each partner told of each
/// hit forming once and of nothing else.
async fn exactly_once(chain: &Chain, accepted: &BTreeMap<&'static str, Vec<String>>) {
    for (partner, ids) in accepted {
        assert_eq!(ids.len(), PAIRS, "{partner}: every signal accepted");
        wait_delivered(chain, partner, ids).await.unwrap();
    }
    let db = database(chain).await;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM coord_signals").await,
        2 * PAIRS as i64
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM (SELECT DISTINCT partner_id, signal_id FROM coord_signals) d"
        )
        .await,
        2 * PAIRS as i64
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM coord_hits WHERE dissolved_at IS NULL"
        )
        .await,
        PAIRS as i64
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM coord_hits").await,
        PAIRS as i64
    );
    const FORMED: i32 = pb::HitChange::Formed as i32;
    for partner in [POLITIE, GEMEENTE] {
        let hits = hits_until(chain, partner, |h| h.len() >= PAIRS).await;
        // Nothing more arrives after a moment.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let hits_again = chain.hits_of(partner).await.unwrap();
        assert_eq!(
            hits.len(),
            hits_again.len(),
            "{partner}: more notifications arrived"
        );
        assert_eq!(hits.len(), PAIRS, "{partner}: one notification per hit");
        assert!(
            hits.iter().all(|h| h.change == FORMED),
            "{partner}: {hits:?}"
        );
        let distinct: BTreeSet<&str> = hits.iter().map(|h| h.hit_id.as_str()).collect();
        assert_eq!(distinct.len(), PAIRS, "{partner}: every hit told once");
    }
}

async fn standby_takes_over_when_the_active_one_is_killed(postgres: Option<&str>) {
    let options = Options {
        metrics: true,
        ..Options::default()
    };
    let mut chain = common::start_with(postgres, options).await;
    let (mut standby, log) = chain.spawn_another("coordinator", "standby").unwrap();
    wait_for_file(&log, "waiting as the standby", Duration::from_secs(30)).await;
    let db = database(&chain).await;
    let load = stream_pairs(&chain);
    let kill = async {
        // Killed while signals are arriving: some matched, not all.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let stored = count(&db, "SELECT COUNT(*) FROM coord_signals").await;
            if stored >= (PAIRS / 3) as i64 {
                assert!(
                    stored < 2 * PAIRS as i64,
                    "the load was over before the kill"
                );
                break;
            }
            assert!(Instant::now() < deadline, "nothing delivered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // The kill needs `&mut chain` while the load borrows it: signal the moment, kill after.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let pid = chain
        .processes()
        .into_iter()
        .find(|(name, _)| name == "coordinator")
        .unwrap()
        .1;
    let killer = async move {
        kill.await;
        // SIGKILL, as `Chain::kill` does: nothing of the process runs after.
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let _ = tx.send(());
    };
    let (accepted, ()) = tokio::join!(load, killer);
    rx.await.unwrap();
    chain.kill("coordinator").unwrap(); // reaps the killed process
    wait_for_file(&log, "coordinator serving", Duration::from_secs(60)).await;
    wait_for_file(&log, "epoch=2", Duration::from_secs(1)).await;
    exactly_once(&chain, &accepted).await;
    assert_eq!(
        count(&db, "SELECT epoch FROM coord_fence").await,
        2,
        "one takeover"
    );
    // The standby serves the metrics at the same address now.
    let figures = chain.scrape("coordinator").await.unwrap();
    assert!(
        figures.contains("\nsignaalnet_coordinator_active 1\n")
            && figures.contains("\nsignaalnet_coordinator_fence_epoch 2\n"),
        "{figures}"
    );
    assert!(
        standby.try_wait().unwrap().is_none(),
        "the standby, now active, still runs"
    );
    standby.kill().unwrap();
    standby.wait().unwrap();
}

async fn a_coordinator_whose_epoch_was_taken_stops_writing(postgres: Option<&str>) {
    let mut chain = common::start(postgres).await;
    let db = database(&chain).await;
    assert_eq!(count(&db, "SELECT epoch FROM coord_fence").await, 1);
    // As a successor would on taking over (which the lock keeps from happening while this one
    // holds it): from now on every write of the running coordinator must fail.
    sqlx::query("UPDATE coord_fence SET epoch = epoch + 1")
        .execute(&db)
        .await
        .unwrap();
    let [(partner, request), _] = pair(0);
    let id = submit(&chain, partner, request).await.unwrap();
    chain
        .wait_for_log(
            "coordinator",
            "another coordinator took over this database",
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    // It stops (an error), and nothing of the signal was stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(failed) = chain.failed() {
            assert!(failed.contains("coordinator"), "{failed}");
            assert!(failed.contains("another coordinator took over"), "{failed}");
            break;
        }
        assert!(Instant::now() < deadline, "the coordinator did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM coord_signals").await, 0);
    // Started again it takes over (epoch 3) and the node's retry delivers the signal.
    chain.kill("coordinator").unwrap();
    chain.restart("coordinator").await.unwrap();
    wait_delivered(&chain, partner, &[id]).await.unwrap();
    assert_eq!(count(&db, "SELECT epoch FROM coord_fence").await, 3);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM coord_signals").await, 1);
}

/// PostgreSQL only: the lock session ends (terminated, as a network failure or an
/// administrator would end it) while the process lives on.
async fn a_coordinator_that_lost_its_lock_session_stops(url: &str) {
    let mut chain = common::start(Some(url)).await;
    let (mut standby, log) = chain.spawn_another("coordinator", "standby").unwrap();
    wait_for_file(&log, "waiting as the standby", Duration::from_secs(30)).await;
    let db = database(&chain).await;
    let ended: i64 = sqlx::query(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND \
         database = (SELECT oid FROM pg_database WHERE datname = current_database())) t",
    )
    .fetch_one(&db)
    .await
    .unwrap()
    .get(0);
    assert_eq!(ended, 1, "one coordinator holds the lock");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(failed) = chain.failed() {
            assert!(failed.contains("writer fence"), "{failed}");
            break;
        }
        assert!(Instant::now() < deadline, "the coordinator did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    chain.kill("coordinator").unwrap();
    wait_for_file(&log, "coordinator serving", Duration::from_secs(60)).await;
    // The standby serves at the same address: a hit forms through it.
    let accepted = {
        let mut accepted: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for (partner, request) in pair(7) {
            accepted
                .entry(partner)
                .or_default()
                .push(submit(&chain, partner, request).await.unwrap());
        }
        accepted
    };
    for (partner, ids) in &accepted {
        wait_delivered(&chain, partner, ids).await.unwrap();
    }
    let hits = hits_until(&chain, POLITIE, |h| !h.is_empty()).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(count(&db, "SELECT epoch FROM coord_fence").await, 2);
    standby.kill().unwrap();
    standby.wait().unwrap();
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn standby_takes_over_when_the_active_one_is_killed() {
        super::standby_takes_over_when_the_active_one_is_killed(None).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_coordinator_whose_epoch_was_taken_stops_writing() {
        super::a_coordinator_whose_epoch_was_taken_stops_writing(None).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn standby_takes_over_when_the_active_one_is_killed() {
        let Some(url) =
            super::skip_without_postgres("standby_takes_over_when_the_active_one_is_killed")
        else {
            return;
        };
        super::standby_takes_over_when_the_active_one_is_killed(Some(&url)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_coordinator_whose_epoch_was_taken_stops_writing() {
        let Some(url) =
            super::skip_without_postgres("a_coordinator_whose_epoch_was_taken_stops_writing")
        else {
            return;
        };
        super::a_coordinator_whose_epoch_was_taken_stops_writing(Some(&url)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_coordinator_that_lost_its_lock_session_stops() {
        let Some(url) =
            super::skip_without_postgres("a_coordinator_that_lost_its_lock_session_stops")
        else {
            return;
        };
        super::a_coordinator_that_lost_its_lock_session_stops(&url).await;
    }
}
