//! Retention on the coordinator with a manual clock: an unmatched signal expires after its
//! purpose's `retention_unmatched`, a hit (and every signal in it) after `retention_hits`
//! without change, each partner in the hit is told EXPIRED, and nothing of an expired signal's
//! pseudonyms or attributes stays. Real SQLite, real libpep, no network.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{address, phone, world, DRIELUIK};
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
            signals: 1,
            ..Default::default()
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
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            tombstones: 1,
            monitor_records: 3,
            ..Default::default()
        },
        "only the expired police signal's tombstone, 30 days (ended_kept) after it expired, and \
         the monitor's records of g1, n1 and p1, two years (the monitor purpose's retention) \
         after they arrived: the police signal's outlived it by a year and a half"
    );

    // Two years after the last change the hit and all three signals go; every partner in it
    // is told EXPIRED, with its own signal ids only.
    w.clock.advance(DAY * 331);
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            hits: 1,
            signals: 3,
            // z1's monitor record, two years after it arrived.
            monitor_records: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_monitor_records").await,
        0
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

    // Every run is in the audit trail, naming the signals and the hit; the monitor's records
    // in entries of their own.
    let expiries = expiries(&w).await;
    assert_eq!(expiries.len(), 5);
    for (i, n) in [(2, 3), (4, 1)] {
        assert!(
            expiries[i]
                .detail
                .starts_with(&format!("{n} monitor record(s)")),
            "{}",
            expiries[i].detail
        );
    }
    let expiries: Vec<_> = expiries
        .into_iter()
        .filter(|e| !e.detail.contains("monitor record"))
        .collect();
    assert!(expiries[0]
        .refs
        .contains("signal:politie_noord_nederland/p1"));
    assert!(
        expiries[1].detail.contains("1 tombstone(s)"),
        "{}",
        expiries[1].detail
    );
    assert!(expiries[2].refs.contains("hit:hit-"));
    assert!(expiries[2].detail.contains("3 signal(s) deleted"));
    assert_eq!(expiries[2].processing_activity, "signaalnet-va-001");
}

/// The coordinator's `expire` audit entries, oldest first.
async fn expiries(w: &common::World) -> Vec<signaalnet_audit::Entry> {
    signaalnet_audit::entries(
        w.core.store(),
        &Filter {
            step: Some(signaalnet_audit::Step::Expire),
            ..Filter::default()
        },
    )
    .await
    .unwrap()
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
            signals: 1,
            ..Default::default()
        }
    );
}

/// The example policy set without `purpose`: its entry, every share and view of it, and its
/// place in a monitor's `aggregates_of` removed (as a privacy officer would edit the files).
fn policy_without(purpose: &str) -> signaalnet_policy::PolicySet {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![(source.clone(), dir.path().to_owned())];
    while let Some((from, to)) = files.pop() {
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                files.push((path, target));
                continue;
            }
            let mut table: toml::Table =
                toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for (_, value) in table.iter_mut() {
                let toml::Value::Array(entries) = value else {
                    continue;
                };
                entries.retain(|e| {
                    let named = |key: &str| e.get(key).and_then(|v| v.as_str()) == Some(purpose);
                    !named("purpose") && !named("id")
                });
                for entry in entries.iter_mut() {
                    if let Some(toml::Value::Array(of)) = entry.get_mut("aggregates_of") {
                        of.retain(|p| p.as_str() != Some(purpose));
                    }
                }
            }
            std::fs::write(&target, toml::to_string(&table).unwrap()).unwrap();
        }
    }
    signaalnet_policy::PolicySet::load(dir.path()).unwrap()
}

/// A purpose removed from the policy set does not keep its data forever: its unmatched signals
/// expire under the last retention the policy gave it (P6M for the drieluik), its hits under
/// theirs (P2Y), with the EXPIRED notice to every partner in them, and the tombstone of an
/// expired signal goes `ended_kept` (30 days) after that.
#[tokio::test]
async fn a_removed_purpose_expires_under_its_last_retention_and_tombstones_go_after_30_days() {
    use signaalnet_service::policy::PolicyTarget;
    let w = world().await;
    assert_eq!(
        w.deliver("politie_noord_nederland", "p1", phone())
            .await
            .code,
        0
    );
    assert_eq!(
        w.deliver("gemeente_groningen", "g1", address()).await.code,
        0
    );
    assert_eq!(w.deliver("nla", "n1", address()).await.code, 0);
    // The retention run while the purpose is in force remembers its retention.
    assert_eq!(w.core.expire().await.unwrap(), Expired::default());
    let without = policy_without(DRIELUIK);
    assert!(without.purpose(DRIELUIK).is_none());
    w.core.live_policy().replace(without);
    // As a reload does: the matcher keeps no rule, and so no signal, of the removed purpose.
    w.core.after_change().await;

    w.clock.advance(DAY * 179);
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired::default(),
        "not before its retention ends"
    );
    w.clock.advance(DAY * 2);
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            signals: 1,
            ..Default::default()
        },
        "the unmatched signal of the removed purpose expired under P6M; the hit's wait for P2Y"
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_keys k JOIN coord_signals s ON s.seq = k.seq WHERE s.signal_id = 'p1'")
            .await,
        0,
        "no pseudonym of it is kept"
    );
    let expiries = expiries(&w).await;
    assert!(
        expiries[0].detail.contains("no longer in the policy set"),
        "{}",
        expiries[0].detail
    );

    // The tombstone stays 30 days against a late re-delivery, then goes too.
    w.clock.advance(DAY * 29);
    assert_eq!(w.core.expire().await.unwrap(), Expired::default());
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_signals WHERE withdrawn_at IS NOT NULL")
            .await,
        1
    );
    w.clock.advance(DAY * 2);
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            tombstones: 1,
            ..Default::default()
        }
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_signals").await, 2);

    // Two years after it formed, the hit of the removed purpose expires with its signals, and
    // each partner in it is told, so its node expires them too.
    w.clock.advance(DAY * 500);
    assert_eq!(w.core.expire().await.unwrap(), Expired::default());
    w.clock.advance(DAY * 20);
    assert_eq!(
        w.core.expire().await.unwrap(),
        Expired {
            hits: 1,
            signals: 2,
            // The monitor's records of the three signals, two years after they arrived.
            monitor_records: 3,
            ..Default::default()
        }
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_keys").await, 0);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_monitor_records").await,
        0
    );
    for (partner, own) in [("gemeente_groningen", "g1"), ("nla", "n1")] {
        let last = w
            .core
            .notifications(partner, 0, 100)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(last.change, pb::HitChange::Expired as i32, "{partner}");
        assert_eq!(last.own_signal_ids, vec![own.to_owned()], "{partner}");
    }
}
