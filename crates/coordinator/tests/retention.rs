//! Retention on the coordinator with a manual clock: an unmatched signal expires after its
//! purpose's `retention_unmatched`, a hit (and every signal in it) after `retention_hits`
//! without change, each partner in the hit is told EXPIRED, and nothing of an expired signal's
//! pseudonyms or attributes stays. Real SQLite, real libpep, no network.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{address, phone, world};
use signaalnet_audit::Filter;
use signaalnet_coordinator::expiry::Expired;
use signaalnet_proto::v1 as pb;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test]
async fn unmatched_signals_and_then_hits_expire_after_their_retention() {
    let w = world().await;
    assert_eq!(
        w.deliver("gemeente_groningen", "g1", address()).await.code,
        0
    );
    assert_eq!(w.deliver("nla", "n1", address()).await.code, 0);
    assert_eq!(
        w.deliver("politie_noord_nederland", "p1", phone())
            .await
            .code,
        0
    );
    assert_eq!(
        w.core.notifications("nla", 0, 10).await.unwrap()[0].change,
        pb::HitChange::Formed as i32
    );

    // Nothing is due before the retention ends.
    w.clock.advance(DAY * 179);
    assert_eq!(w.core.expire().await.unwrap(), Expired::default());

    // After P6M (180 days) the unmatched police signal goes; the hit stays (P2Y).
    w.clock.advance(DAY * 2);
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            hits: 0,
            signals: 1
        }
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_signals WHERE withdrawn_at IS NULL")
            .await,
        2
    );
    let held = w
        .count("SELECT COUNT(*) FROM coord_keys k JOIN coord_signals s ON s.seq = k.seq WHERE s.signal_id = 'p1'")
        .await;
    assert_eq!(held, 0, "no pseudonym of the expired signal is kept");

    // A late re-delivery of the expired signal does not bring it back.
    let again = w.deliver("politie_noord_nederland", "p1", phone()).await;
    assert_eq!(again.code, 0);
    assert!(again.message.contains("ignored"), "{}", again.message);

    // A new member 400 days in refreshes the hit: its retention counts from its last change.
    w.clock.advance(DAY * 219);
    assert_eq!(w.deliver("zvh_groningen", "z1", address()).await.code, 0);
    w.clock.advance(DAY * 400);
    assert_eq!(w.core.expire().await.unwrap(), Expired::default());

    // Two years after the last change the hit and all three signals go; every partner in it
    // is told EXPIRED, with its own signal ids only.
    w.clock.advance(DAY * 331);
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            hits: 1,
            signals: 3
        }
    );
    for (partner, own) in [
        ("gemeente_groningen", "g1"),
        ("nla", "n1"),
        ("zvh_groningen", "z1"),
    ] {
        let last = w
            .core
            .notifications(partner, 0, 100)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(last.change, pb::HitChange::Expired as i32, "{partner}");
        assert_eq!(last.own_signal_ids, vec![own.to_owned()], "{partner}");
        assert!(last.attributes.is_empty());
    }
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_keys").await, 0);
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_hits").await, 0);
    assert_eq!(
        w.count(
            "SELECT COUNT(*) FROM coord_signals WHERE attributes <> '[]' OR observed_month <> ''"
        )
        .await,
        0,
        "no attribute or month of an expired signal is kept"
    );

    // Both runs are in the audit trail, naming the signals and the hit.
    let expiries = signaalnet_audit::entries(
        w.core.store(),
        &Filter {
            step: Some(signaalnet_audit::Step::Expire),
            ..Filter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(expiries.len(), 2);
    assert!(expiries[0]
        .refs
        .contains("signal:politie_noord_nederland/p1"));
    assert!(expiries[1].refs.contains("hit:hit-"));
    assert!(expiries[1].detail.contains("3 signal(s) deleted"));
    assert_eq!(expiries[1].processing_activity, "signaalnet-va-001");
}

/// Seconds since the epoch of `YYYY-MM-DD` 00:00 UTC plus `seconds`.
fn at(date: &str, seconds: i64) -> i64 {
    signaalnet_store::parse_date(date).unwrap() / 1000 + seconds
}

/// Retention is counted in the calendar, not in 30-day months: a signal received on 31 August
/// 2027 under `retention_unmatched = "P6M"` expires at the start of 29 February 2028 (the last
/// day of February in a leap year), not after 180 days (27 February) and not a second early.
#[tokio::test]
async fn retention_counts_calendar_months_from_a_month_end() {
    let w = world().await;
    let received = at("2027-08-31", 0);
    w.clock.advance(Duration::from_secs(
        u64::try_from(received - w.clock.now()).unwrap(),
    ));
    let mut signal = w.signal_from("politie_noord_nederland", "p-end", phone());
    signal.observed_month = "2027-08".into();
    let (p, actor) = w.partner("politie_noord_nederland");
    let outcome = w.core.deliver(p, &actor, signal).await;
    assert_eq!(outcome.code, tonic::Code::Ok, "{}", outcome.message);

    // 180 days on, and the whole of 28 February: not yet.
    let last_second = at("2028-02-28", 86_399);
    w.clock.advance(Duration::from_secs(
        u64::try_from(last_second - received).unwrap(),
    ));
    assert_eq!(w.core.expire().await.unwrap(), Expired::default());
    assert_eq!(
        w.count(
            "SELECT COUNT(*) FROM coord_signals WHERE signal_id = 'p-end' AND withdrawn_at IS NULL"
        )
        .await,
        1
    );

    // 29 February 00:00: six calendar months have run.
    w.clock.advance(Duration::from_secs(1));
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            hits: 0,
            signals: 1
        }
    );
}
