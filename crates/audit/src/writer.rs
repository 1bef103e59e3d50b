//! Writing a trail: each entry appended inside the transaction of the step it records, linked
//! to the entry before it by hash, with a checkpoint every [`CHECKPOINT_EVERY`] entries
//! ([`crate::checkpoint`]).

use crate::entry::{Entry, GENESIS};
use crate::{Actor, AuditError, Event, Signer, Step};
use signaalnet_policy::PolicySet;
use signaalnet_store::{Clock, Store};
use sqlx::{AnyConnection, Row};

/// A checkpoint is written at least every this many entries, and by [`Audit::seal`].
pub const CHECKPOINT_EVERY: i64 = 256;

/// A role's audit trail writer.
#[derive(Debug)]
pub struct Audit {
    pub(crate) signer: Signer,
    own: Actor,
    pub(crate) clock: Clock,
}

impl Audit {
    /// `own` is the role itself, the actor of steps nobody else caused.
    pub fn new(signer: Signer, own: Actor, clock: Clock) -> Self {
        Self { signer, own, clock }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn own(&self) -> &Actor {
        &self.own
    }

    pub fn public_key(&self) -> &[u8] {
        self.signer.public_key()
    }

    /// Appends `event` inside the caller's transaction and returns its `seq`; every
    /// [`CHECKPOINT_EVERY`] entries it also writes a checkpoint.
    pub async fn append(&self, conn: &mut AnyConnection, event: Event) -> Result<i64, AuditError> {
        let mut head = self.head(conn).await?;
        self.append_after(conn, &mut head, event).await
    }

    /// The trail's newest entry, read inside the caller's write transaction, for appending
    /// several entries with [`Audit::append_after`] without reading the trail back each time.
    pub async fn head(&self, conn: &mut AnyConnection) -> Result<Head, AuditError> {
        let (seq, hash) = head(conn).await?;
        Ok(Head { seq, hash })
    }

    /// [`Audit::append`] after `head`, which it moves on to the new entry. `head` must come from
    /// [`Audit::head`] in the same transaction, with every entry since appended through it: an
    /// entry appended another way makes the next one collide on `seq` (an error, not a fork).
    pub async fn append_after(
        &self,
        conn: &mut AnyConnection,
        head: &mut Head,
        event: Event,
    ) -> Result<i64, AuditError> {
        let (seq, prev_hash) = (head.seq, head.hash.clone());
        let actor = event.actor.unwrap_or_else(|| self.own.clone());
        let (refs, detail) = crate::event::bounded_refs_and_detail(event.refs, &event.detail);
        let mut entry = Entry {
            seq: seq + 1,
            at_ms: self.clock.now_ms(),
            step: event.step.as_str().to_owned(),
            actor_oin: crate::event::bounded(&actor.oin),
            actor_role: crate::event::bounded(&actor.role),
            purpose: crate::event::bounded(&event.purpose),
            processing_activity: crate::event::bounded(&event.processing_activity),
            policy_version: crate::event::bounded(&event.policy_version),
            refs: serde_json::to_string(&refs).unwrap_or_else(|_| "[]".to_owned()),
            detail,
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        // The processing log of the step says what the trail says.
        fn non_empty(s: &str) -> Option<&str> {
            (!s.is_empty()).then_some(s)
        }
        signaalnet_telemetry::describe(
            &tracing::Span::current(),
            signaalnet_telemetry::Described {
                processing_activity: non_empty(&entry.processing_activity),
                purpose: non_empty(&entry.purpose),
                policy_version: non_empty(&entry.policy_version),
            },
        );
        sqlx::query(
            "INSERT INTO audit_entries (seq, at_ms, step, actor_oin, actor_role, purpose, \
             processing_activity, policy_version, refs, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(entry.seq)
        .bind(entry.at_ms)
        .bind(&entry.step)
        .bind(&entry.actor_oin)
        .bind(&entry.actor_role)
        .bind(&entry.purpose)
        .bind(&entry.processing_activity)
        .bind(&entry.policy_version)
        .bind(&entry.refs)
        .bind(&entry.detail)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *conn)
        .await?;
        if entry.seq % CHECKPOINT_EVERY == 0 {
            self.sign(conn, entry.seq, &entry.hash).await?;
        }
        head.seq = entry.seq;
        head.hash = entry.hash;
        Ok(head.seq)
    }

    /// Appends `event` in a transaction of its own (for steps that store nothing else).
    pub async fn record(&self, store: &Store, event: Event) -> Result<i64, AuditError> {
        let mut w = store.write().await?;
        let seq = self.append(&mut w.tx, event).await?;
        w.commit().await?;
        Ok(seq)
    }

    /// Records a step that is not allowed to fail the request it belongs to (a refusal): a
    /// trail that cannot be written is logged as an error instead.
    pub async fn try_record(&self, store: &Store, event: Event) {
        let step = event.step;
        if let Err(e) = self.record(store, event).await {
            tracing::error!(error = %e, step = %step, "recording a step in the audit trail failed");
        }
    }

    /// Records `policy` as taken into force at start, unless the trail's newest policy change
    /// already names its version.
    pub async fn record_policy_at_start(
        &self,
        store: &Store,
        policy: &PolicySet,
    ) -> Result<(), AuditError> {
        let last: Option<String> = sqlx::query(
            "SELECT policy_version FROM audit_entries WHERE step = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(Step::PolicyChange.as_str())
        .fetch_optional(store.pool())
        .await?
        .map(|row| row.get("policy_version"));
        if last.as_deref() != Some(policy.version()) {
            let event =
                Event::new(Step::PolicyChange, policy).detail("policy set in force at start");
            self.record(store, event).await?;
        }
        Ok(())
    }
}

pub(crate) async fn head(conn: &mut AnyConnection) -> Result<(i64, String), AuditError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(row) => (row.get("seq"), row.get("hash")),
        None => (0, GENESIS.to_owned()),
    })
}

/// The newest entry of a trail within one write transaction; see [`Audit::head`].
#[derive(Debug, Clone)]
pub struct Head {
    seq: i64,
    hash: String,
}
