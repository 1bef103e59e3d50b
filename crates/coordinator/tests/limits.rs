//! Probing limits on arrival and the alarms on a partner's pattern, on a real store with the
//! coordinator's manual clock.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{world, World};
use signaalnet_identifier::{Identifier, Phone};
use signaalnet_policy::{LivePolicy, PolicySet, Source};
use signaalnet_proto::v1 as pb;
use std::path::Path;
use std::time::Duration;
use tonic::Code;

const GEMEENTE: &str = "gemeente_groningen";
const POLITIE: &str = "politie_noord_nederland";

fn phone(i: usize) -> Identifier {
    Identifier::Phone(Phone::parse(&format!("+31 6 1234 {i:04}")).unwrap())
}

/// `partner`'s signal of `n` phone numbers (one match key each) starting at number `first`.
fn signal(w: &World, partner: &str, id: &str, first: usize, n: usize) -> pb::EncryptedSignal {
    let mut s = w.signal_from(partner, id, phone(first));
    for i in 1..n {
        s.identifiers
            .extend(w.signal_from(partner, "x", phone(first + i)).identifiers);
    }
    s
}

async fn deliver(w: &World, partner: &str, signal: pb::EncryptedSignal) -> (Code, String) {
    let (p, actor) = w.partner(partner);
    let o = w.core.deliver(p, &actor, signal).await;
    (o.code, o.message)
}

/// The example set with `from` replaced by `to` in `file`, put in force on the coordinator.
fn put_in_force(w: &World, file: &str, from: &str, to: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut sources = Vec::new();
    let mut add = |path: String| {
        let mut content = std::fs::read_to_string(dir.join(&path)).unwrap();
        if path == file {
            assert!(content.contains(from), "{from} not in {file}");
            content = content.replacen(from, to, 1);
        }
        sources.push(Source { path, content });
    };
    for f in signaalnet_policy::REQUIRED_FILES {
        add(f.to_owned());
    }
    for e in std::fs::read_dir(dir.join("partners")).unwrap() {
        add(format!(
            "partners/{}",
            e.unwrap().file_name().to_string_lossy()
        ));
    }
    let set = PolicySet::from_sources(sources).unwrap();
    let live: &LivePolicy = w.core.live_policy();
    live.replace(set);
}

#[tokio::test]
async fn a_signal_over_its_quota_is_refused_naming_the_quota_and_nothing_is_stored() {
    let w = world().await;
    put_in_force(
        &w,
        "partners/gemeente-groningen.toml",
        "limits = { identifiers_per_signal = 8, identifiers_per_day = 2_000 }",
        "limits = { identifiers_per_signal = 4, identifiers_per_day = 10 }",
    );
    // Over the per-signal cap: refused for good.
    let (code, message) = deliver(&w, GEMEENTE, signal(&w, GEMEENTE, "g1", 0, 5)).await;
    assert_eq!(code, Code::ResourceExhausted);
    for needle in [
        "identifiers:",
        "limits.identifiers_per_signal of 4 per signal",
        "partners/gemeente-groningen.toml",
        "signalering_drieluik",
    ] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    // 4 + 4 fit in the 10 a day; the next 4 do not, until the first leave the window.
    assert_eq!(
        deliver(&w, GEMEENTE, signal(&w, GEMEENTE, "g2", 10, 4))
            .await
            .0,
        Code::Ok
    );
    w.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        deliver(&w, GEMEENTE, signal(&w, GEMEENTE, "g3", 20, 4))
            .await
            .0,
        Code::Ok
    );
    // A re-delivery of a signal already received takes no quota.
    let (code, message) = deliver(&w, GEMEENTE, signal(&w, GEMEENTE, "g3", 20, 4)).await;
    assert_eq!(
        (code, message.as_str()),
        (Code::Ok, "already received; nothing changed")
    );
    let (code, message) = deliver(&w, GEMEENTE, signal(&w, GEMEENTE, "g4", 30, 4)).await;
    assert_eq!(code, Code::ResourceExhausted);
    for needle in [
        "limits.identifiers_per_day of 10 identifiers per 24 hours",
        "8 used, 4 more asked",
        "frees up at",
    ] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    // Nothing of the refused signals was stored; each refusal is audited with its quota.
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_signals").await, 2);
    assert_eq!(
        w.count(
            "SELECT COUNT(*) FROM audit_entries WHERE step = 'refuse' \
             AND detail LIKE '%limits.identifiers_per_day%'"
        )
        .await,
        1
    );
    assert_eq!(
        w.count(
            "SELECT COUNT(*) FROM audit_entries WHERE step = 'refuse' \
             AND detail LIKE '%limits.identifiers_per_signal%'"
        )
        .await,
        1
    );
    // Another partner has its own window.
    assert_eq!(
        deliver(&w, POLITIE, signal(&w, POLITIE, "p1", 40, 4))
            .await
            .0,
        Code::Ok
    );
    // A day after the first signal, its identifiers are free again.
    w.clock.advance(Duration::from_secs(23 * 3600 + 120));
    assert_eq!(
        deliver(&w, GEMEENTE, signal(&w, GEMEENTE, "g4", 30, 4))
            .await
            .0,
        Code::Ok
    );
}

#[tokio::test]
async fn a_bulk_grant_lifts_the_quota() {
    let w = world().await;
    put_in_force(
        &w,
        "partners/gemeente-groningen.toml",
        "limits = { identifiers_per_signal = 8, identifiers_per_day = 2_000 }",
        "limits = { identifiers_per_signal = 2, identifiers_per_day = 2 }\n\
         bulk = { identifiers_per_signal = 16, identifiers_per_day = 100, reason = \"test\" }",
    );
    assert_eq!(
        deliver(&w, GEMEENTE, signal(&w, GEMEENTE, "g1", 0, 16))
            .await
            .0,
        Code::Ok
    );
    let (code, message) = deliver(&w, GEMEENTE, signal(&w, GEMEENTE, "g2", 20, 17)).await;
    assert_eq!(code, Code::ResourceExhausted);
    assert!(
        message.contains("bulk.identifiers_per_signal of 16"),
        "{message}"
    );
}

#[tokio::test]
async fn withdrawing_right_after_hits_raises_an_audited_alarm_with_counts_only() {
    let w = world().await;
    // The gemeente has signals on three numbers; the police probes each and withdraws.
    for i in 0..3 {
        let (code, _) = deliver(&w, GEMEENTE, signal(&w, GEMEENTE, &format!("g{i}"), i, 1)).await;
        assert_eq!(code, Code::Ok);
    }
    let (politie, actor) = w.partner(POLITIE);
    for i in 0..3 {
        let id = format!("probe-{i}");
        assert_eq!(
            deliver(&w, POLITIE, signal(&w, POLITIE, &id, i, 1)).await.0,
            Code::Ok
        );
        w.clock.advance(Duration::from_secs(60));
        w.core.withdraw(politie, &actor, &[id]).await.unwrap();
    }
    let alarms: Vec<(String, String, String, String)> = {
        use sqlx::Row;
        sqlx::query(
            "SELECT purpose, refs, detail, actor_oin FROM audit_entries WHERE step = 'alarm'",
        )
        .fetch_all(w.core.store().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
    };
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    let (purpose, refs, detail, oin) = &alarms[0];
    assert_eq!(purpose, "signalering_drieluik");
    assert!(refs.contains("partner:politie_noord_nederland"), "{refs}");
    assert_eq!(oin, &politie.oins[0]);
    assert!(
        detail.contains("withdrew 3 signal(s) for `signalering_drieluik` within 60 minutes"),
        "{detail}"
    );
    // Counts only: no signal id, no case reference, no number.
    for leak in ["probe-", "1234", "g0"] {
        assert!(!detail.contains(leak) && !refs.contains(leak), "{leak}");
    }
    // A withdrawal long after arrival is not the pattern; the gemeente raised nothing.
    w.clock.advance(Duration::from_secs(2 * 3600));
    let (gemeente, g_actor) = w.partner(GEMEENTE);
    w.core
        .withdraw(gemeente, &g_actor, &["g0".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_entries WHERE step = 'alarm'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_unusual_hit_rate_raises_an_audited_alarm() {
    let w = world().await;
    put_in_force(
        &w,
        "purposes.toml",
        "hit_rate_min_signals = 40",
        "hit_rate_min_signals = 4",
    );
    // The gemeente's casework: four signals, none in a hit when they arrive.
    for i in 0..4 {
        let (code, _) = deliver(&w, GEMEENTE, signal(&w, GEMEENTE, &format!("g{i}"), i, 1)).await;
        assert_eq!(code, Code::Ok);
    }
    // The police checks a list: every signal hits.
    for i in 0..4 {
        let (code, _) = deliver(&w, POLITIE, signal(&w, POLITIE, &format!("p{i}"), i, 1)).await;
        assert_eq!(code, Code::Ok);
    }
    let detail: String = {
        use sqlx::Row;
        sqlx::query("SELECT detail FROM audit_entries WHERE step = 'alarm'")
            .fetch_one(w.core.store().pool())
            .await
            .unwrap()
            .get(0)
    };
    assert!(
        detail.contains("4 of 4 signal(s) of `politie_noord_nederland` for `signalering_drieluik`"),
        "{detail}"
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_entries WHERE step = 'alarm'")
            .await,
        1
    );
}
