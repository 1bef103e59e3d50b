//! Tampering with a stored trail: every kind of change is found at the entry where it was
//! made. Runs on SQLite and, when `SIGNAALNET_TEST_POSTGRES_URL` is set, on PostgreSQL.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_audit::{
    public_key_path, read_public_key, verify, Actor, Audit, Entry, Event, Finding, Signer, Step,
    GENESIS,
};
use signaalnet_policy::PolicySet;
use signaalnet_store::{test_postgres_url, Clock, Location, ScratchDatabase, Store};
use sqlx::Row;
use std::path::Path;

const ENTRIES: i64 = 300;

fn policy() -> PolicySet {
    PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap()
}

struct Trail {
    store: Store,
    audit: Audit,
    public_key: Vec<u8>,
    _dir: tempfile::TempDir,
    /// Last: dropped after the store.
    _db: Option<ScratchDatabase>,
}

/// A trail of 300 entries: automatic checkpoint at 256, sealed at 300.
async fn trail(postgres: bool) -> Option<Trail> {
    let dir = tempfile::tempdir().unwrap();
    let (location, db) = if postgres {
        let admin = test_postgres_url()?;
        let db = ScratchDatabase::create(&admin).await.unwrap();
        (Location::Postgres(db.url().to_owned()), Some(db))
    } else {
        (Location::Sqlite(dir.path().join("coordinator.db")), None)
    };
    let store = Store::open(&location, &[&signaalnet_audit::schema::MIGRATIONS])
        .await
        .unwrap();
    let key = dir.path().join("coordinator.audit.key");
    let audit = Audit::new(
        Signer::load_or_create(&key).unwrap(),
        Actor {
            oin: "00000001003214345000".into(),
            role: "coordinator".into(),
        },
        Clock::manual(1_790_000_000_000),
    );
    let policy = policy();
    for i in 0..ENTRIES {
        let event = Event::for_purpose(Step::Match, &policy, "signalering_arbeidsuitbuiting")
            .by(Actor {
                oin: "00000001003214345001".into(),
                role: "partner".into(),
            })
            .reference(format!("signal:nla/sig-{i:04}"))
            .detail(format!("signal {i} matched; no hit"));
        audit.record(&store, event).await.unwrap();
        audit.clock().advance(std::time::Duration::from_millis(7));
    }
    assert_eq!(audit.seal(&store).await.unwrap(), Some(ENTRIES));
    let public_key = read_public_key(&public_key_path(&key)).unwrap();
    Some(Trail {
        store,
        audit,
        public_key,
        _dir: dir,
        _db: db,
    })
}

async fn findings(t: &Trail) -> Vec<Finding> {
    verify(&t.store, &t.public_key).await.unwrap().findings
}

async fn exec(t: &Trail, sql: &str) {
    sqlx::query(sql).execute(t.store.pool()).await.unwrap();
}

async fn load(t: &Trail) -> Vec<Entry> {
    signaalnet_audit::entries(&t.store, &signaalnet_audit::Filter::default())
        .await
        .unwrap()
}

async fn rewrite(t: &Trail, entry: &Entry) {
    sqlx::query(
        "UPDATE audit_entries SET at_ms = $1, step = $2, detail = $3, refs = $4, prev_hash = $5, \
         hash = $6 WHERE seq = $7",
    )
    .bind(entry.at_ms)
    .bind(&entry.step)
    .bind(&entry.detail)
    .bind(&entry.refs)
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .bind(entry.seq)
    .execute(t.store.pool())
    .await
    .unwrap();
}

/// What someone with write access to the database but without the key can do best: change
/// entry `seq` and recompute every hash after it.
async fn change_and_rechain(t: &Trail, seq: i64) {
    let mut entries = load(t).await;
    let mut prev = GENESIS.to_owned();
    for entry in &mut entries {
        if entry.seq == seq {
            entry.detail = "nothing happened".into();
        }
        entry.prev_hash = prev.clone();
        entry.hash = entry.compute_hash();
        prev = entry.hash.clone();
        if entry.seq >= seq {
            rewrite(t, entry).await;
        }
    }
}

async fn intact_and_untampered(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    let report = verify(&t.store, &t.public_key).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.entries, ENTRIES as u64);
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.last_checkpoint, Some(ENTRIES));
    assert_eq!(report.unsigned_tail(), None);

    // The chain continues where it was after a restart (a new writer on the same store).
    let again = Audit::new(
        Signer::load_or_create(&t._dir.path().join("coordinator.audit.key")).unwrap(),
        t.audit.own().clone(),
        Clock::system(),
    );
    let seq = again
        .record(&t.store, Event::new(Step::PolicyChange, &policy()))
        .await
        .unwrap();
    assert_eq!(seq, ENTRIES + 1);
    let report = verify(&t.store, &t.public_key).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.unsigned_tail(), Some((ENTRIES + 1, ENTRIES + 1)));

    // An entry appended in a transaction that is rolled back leaves nothing.
    {
        let mut w = t.store.write().await.unwrap();
        again
            .append(&mut w.tx, Event::new(Step::PolicyChange, &policy()))
            .await
            .unwrap();
    }
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM audit_entries")
        .fetch_one(t.store.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(n, ENTRIES + 1);
}

async fn a_changed_entry_is_found_where_it_was_changed(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    exec(
        &t,
        "UPDATE audit_entries SET detail = 'no hit' WHERE seq = 37",
    )
    .await;
    assert_eq!(findings(&t).await, vec![Finding::Changed { seq: 37 }]);
}

async fn a_changed_reference_or_purpose_is_found(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    exec(
        &t,
        "UPDATE audit_entries SET refs = '[\"signal:nla/sig-9999\"]' WHERE seq = 5",
    )
    .await;
    exec(
        &t,
        "UPDATE audit_entries SET purpose = 'regionale_monitor' WHERE seq = 280",
    )
    .await;
    assert_eq!(
        findings(&t).await,
        vec![Finding::Changed { seq: 5 }, Finding::Changed { seq: 280 }]
    );
}

async fn deleted_entries_are_found(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    exec(
        &t,
        "DELETE FROM audit_entries WHERE seq BETWEEN 120 AND 122",
    )
    .await;
    assert_eq!(
        findings(&t).await,
        vec![Finding::Missing { from: 120, to: 122 }]
    );
}

async fn reordered_entries_are_found(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    let entries = load(&t).await;
    let (a, b) = (entries[19].clone(), entries[20].clone());
    assert_eq!((a.seq, b.seq), (20, 21));
    rewrite(&t, &Entry { seq: 20, ..b }).await;
    rewrite(&t, &Entry { seq: 21, ..a }).await;
    let found = findings(&t).await;
    assert_eq!(
        found.first(),
        Some(&Finding::Reordered {
            seq: 20,
            links_to: 21
        }),
        "{found:?}"
    );
    assert!(found.iter().all(|f| matches!(f, Finding::Reordered { .. })));
}

async fn a_cut_off_end_is_found(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    exec(&t, "DELETE FROM audit_entries WHERE seq > 290").await;
    assert_eq!(
        findings(&t).await,
        vec![Finding::Truncated {
            last: 290,
            checkpoint: 300
        }]
    );
}

async fn a_recomputed_chain_fails_at_the_next_checkpoint(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    change_and_rechain(&t, 100).await;
    assert_eq!(
        findings(&t).await,
        vec![
            Finding::CheckpointMismatch { seq: 256, after: 0 },
            Finding::CheckpointMismatch { seq: 300, after: 0 },
        ]
    );
}

async fn a_re_signed_trail_is_found(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    change_and_rechain(&t, 270).await;
    // Throw the role's checkpoints away and sign the new head with another key.
    let other = Audit::new(
        Signer::load_or_create(&t._dir.path().join("other.key")).unwrap(),
        t.audit.own().clone(),
        Clock::system(),
    );
    exec(&t, "DELETE FROM audit_checkpoints").await;
    assert_eq!(other.seal(&t.store).await.unwrap(), Some(ENTRIES));
    let found = findings(&t).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0], Finding::MissingCheckpoint { seq: 256 });
    assert!(matches!(found[1], Finding::ForeignKey { seq: 300, .. }));
}

async fn a_forged_signature_is_found(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    let signature: String = sqlx::query("SELECT signature FROM audit_checkpoints WHERE seq = 256")
        .fetch_one(t.store.pool())
        .await
        .unwrap()
        .get("signature");
    let mut forged = signature.into_bytes();
    forged[10] = if forged[10] == b'0' { b'1' } else { b'0' };
    sqlx::query("UPDATE audit_checkpoints SET signature = $1 WHERE seq = 256")
        .bind(String::from_utf8(forged).unwrap())
        .execute(t.store.pool())
        .await
        .unwrap();
    assert_eq!(findings(&t).await, vec![Finding::BadSignature { seq: 256 }]);
}

async fn many_entries_in_one_transaction_chain_like_single_ones(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    let policy = policy();
    let mut w = t.store.write().await.unwrap();
    let mut head = t.audit.head(&mut w.tx).await.unwrap();
    // Past the checkpoint at 512, which is written inside the same transaction.
    for i in 0..250 {
        let event = Event::new(Step::Match, &policy).detail(format!("batched {i}"));
        let seq = t
            .audit
            .append_after(&mut w.tx, &mut head, event)
            .await
            .unwrap();
        assert_eq!(seq, ENTRIES + 1 + i);
    }
    w.commit().await.unwrap();
    let report = verify(&t.store, &t.public_key).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.entries, ENTRIES as u64 + 250);
    assert_eq!(report.checkpoints, 3);

    // A head that missed an entry appended another way collides instead of forking the chain.
    let mut w = t.store.write().await.unwrap();
    let mut stale = t.audit.head(&mut w.tx).await.unwrap();
    t.audit
        .append(&mut w.tx, Event::new(Step::PolicyChange, &policy))
        .await
        .unwrap();
    let collided = t
        .audit
        .append_after(&mut w.tx, &mut stale, Event::new(Step::Match, &policy))
        .await;
    assert!(collided.is_err(), "a stale head must not append");
}

async fn caller_text_is_stored_escaped_and_bounded_and_the_trail_verifies(postgres: bool) {
    let Some(t) = trail(postgres).await else {
        return;
    };
    let policy = policy();
    let forged = "rule\n2026-01-01T00:00:00Z ERROR forged\r\0\u{1b}[2J\u{2028}\u{202e}";
    let refs = (0..signaalnet_audit::REFERENCES_MAX + 3).map(|i| format!("hit:{forged}{i}"));
    let event = Event::new(Step::Refuse, &policy)
        .by(Actor {
            oin: forged.into(),
            role: "x".repeat(1 << 20),
        })
        .reference("x".repeat(1 << 20))
        .references(refs)
        .detail(format!("refused: {forged} {}", "y".repeat(1 << 20)));
    t.audit.record(&t.store, event).await.unwrap();
    let entry = load(&t).await.pop().unwrap();
    let raw = |text: &str| {
        text.chars()
            .any(|c| c.is_control() || "\u{2028}\u{202e}".contains(c))
    };
    for text in [
        &entry.actor_oin,
        &entry.actor_role,
        &entry.detail,
        &entry.refs,
    ] {
        assert!(!raw(text), "{text:.300}");
    }
    assert!(entry
        .detail
        .starts_with("refused: rule\\n2026-01-01T00:00:00Z ERROR forged\\r"));
    assert!(
        entry.detail.ends_with("; 4 more reference(s) not listed"),
        "{}",
        entry.detail
    );
    assert!(entry.detail.len() <= signaalnet_audit::DETAIL_MAX + 40);
    assert!(entry.actor_role.len() <= signaalnet_audit::REFERENCE_MAX);
    let refs = entry.ref_list();
    assert_eq!(refs.len(), signaalnet_audit::REFERENCES_MAX);
    assert!(refs
        .iter()
        .all(|r| r.len() <= signaalnet_audit::REFERENCE_MAX));

    // An entry stored before these bounds, with a raw line break, still verifies: the hash
    // covers the text as it was stored.
    let mut old = Entry {
        seq: entry.seq + 1,
        at_ms: entry.at_ms + 1,
        detail: "written by an older version\nwith a raw line break".into(),
        prev_hash: entry.hash.clone(),
        ..entry.clone()
    };
    old.hash = old.compute_hash();
    sqlx::query(
        "INSERT INTO audit_entries (seq, at_ms, step, actor_oin, actor_role, purpose, \
         processing_activity, policy_version, refs, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(old.seq)
    .bind(old.at_ms)
    .bind(&old.step)
    .bind(&old.actor_oin)
    .bind(&old.actor_role)
    .bind(&old.purpose)
    .bind(&old.processing_activity)
    .bind(&old.policy_version)
    .bind(&old.refs)
    .bind(&old.detail)
    .bind(&old.prev_hash)
    .bind(&old.hash)
    .execute(t.store.pool())
    .await
    .unwrap();
    t.audit.seal(&t.store).await.unwrap();
    let report = verify(&t.store, &t.public_key).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.entries, ENTRIES as u64 + 2);
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(false).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(true).await })*
        }
    };
}

on_both!(
    intact_and_untampered,
    caller_text_is_stored_escaped_and_bounded_and_the_trail_verifies,
    many_entries_in_one_transaction_chain_like_single_ones,
    a_changed_entry_is_found_where_it_was_changed,
    a_changed_reference_or_purpose_is_found,
    deleted_entries_are_found,
    reordered_entries_are_found,
    a_cut_off_end_is_found,
    a_recomputed_chain_fails_at_the_next_checkpoint,
    a_re_signed_trail_is_found,
    a_forged_signature_is_found,
);
