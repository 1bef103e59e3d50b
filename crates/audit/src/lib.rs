//! The audit trail every role keeps: one entry per processing step (who, what, for which
//! purpose and processing activity, under which policy version, about which pseudonymous
//! references), chained by SHA-256 and sealed by Ed25519-signed checkpoints, in the role's own
//! database.
//!
//! Entries are appended inside the same transaction as the step they record, so a step that
//! is stored is audited and an audited step is stored. The chain makes any change, deletion or
//! reordering of entries visible at the entry where it happened ([`verify`]); checkpoints make
//! a recomputed chain or a cut-off end visible, because only the role holds the signing key.
//! Entries never carry a raw identifier: references are signal ids, hit ids and OINs.
#![forbid(unsafe_code)]

mod entry;
mod key;
pub mod schema;
pub mod verify;

pub use entry::{Checkpoint, Entry, GENESIS};
pub use key::{public_key_path, read_public_key, Signer};
pub use verify::{Finding, Report, Verifier};

use signaalnet_policy::PolicySet;
use signaalnet_store::{Clock, Store};
use sqlx::{AnyConnection, Row};
use std::fmt;
use std::str::FromStr;

/// A checkpoint is written at least every this many entries, and by [`Audit::seal`].
pub const CHECKPOINT_EVERY: i64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit signing key {path}: {problem}")]
    Key { path: String, problem: String },
    #[error("audit trail: {0}")]
    Query(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] signaalnet_store::StoreError),
}

/// The processing steps the trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// A partner system's signal accepted by its node.
    Submit,
    /// A signal, request or policy set refused (the detail says by which rule).
    Refuse,
    /// Signals sent from the node's outbox to the transcryptors and the coordinator.
    Forward,
    /// A batch converted by a transcryptor.
    Transcrypt,
    /// A key share handed to the coordinator.
    KeyShare,
    /// A signal received by the coordinator and matched.
    Match,
    /// A hit notification: created for a partner (coordinator) or received (node).
    Notify,
    /// A partner's question about its own signals (status, its hits).
    Query,
    AnalystQuery,
    MonitorQuery,
    Withdraw,
    Expire,
    /// A policy set taken into force (at start or by reload).
    PolicyChange,
    /// A partner's pattern crossed a policy threshold (withdrawals right after hits, an
    /// unusual hit rate): counts only, never an identifier or a case reference.
    Alarm,
}

impl Step {
    pub const ALL: [Step; 14] = [
        Step::Submit,
        Step::Refuse,
        Step::Forward,
        Step::Transcrypt,
        Step::KeyShare,
        Step::Match,
        Step::Notify,
        Step::Query,
        Step::AnalystQuery,
        Step::MonitorQuery,
        Step::Withdraw,
        Step::Expire,
        Step::PolicyChange,
        Step::Alarm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::Refuse => "refuse",
            Step::Forward => "forward",
            Step::Transcrypt => "transcrypt",
            Step::KeyShare => "key_share",
            Step::Match => "match",
            Step::Notify => "notify",
            Step::Query => "query",
            Step::AnalystQuery => "analyst_query",
            Step::MonitorQuery => "monitor_query",
            Step::Withdraw => "withdraw",
            Step::Expire => "expire",
            Step::PolicyChange => "policy_change",
            Step::Alarm => "alarm",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Step {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Step::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown step `{s}`; one of: {}", names.join(", "))
            })
    }
}

/// Who caused a step: the OIN from the caller's certificate and its role in the policy set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub oin: String,
    pub role: String,
}

/// One processing step to record.
#[derive(Debug, Clone)]
pub struct Event {
    step: Step,
    actor: Option<Actor>,
    purpose: String,
    processing_activity: String,
    policy_version: String,
    refs: Vec<String>,
    detail: String,
}

impl Event {
    /// A step without a purpose (a policy change, a key share).
    pub fn new(step: Step, policy: &PolicySet) -> Self {
        Self {
            step,
            actor: None,
            purpose: String::new(),
            processing_activity: String::new(),
            policy_version: policy.version().to_owned(),
            refs: Vec::new(),
            detail: String::new(),
        }
    }

    /// A step for `purpose`, with its processing activity from the policy set. A purpose the
    /// set does not know is left out: it is a caller's free text, which never enters a trail.
    pub fn for_purpose(step: Step, policy: &PolicySet, purpose: &str) -> Self {
        let mut event = Self::new(step, policy);
        if let Some(known) = policy.purpose(purpose) {
            event.purpose = known.id.clone();
            event.processing_activity = known.processing_activity_id.clone();
        }
        event
    }

    /// The caller who caused the step; without it the role itself is the actor.
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.refs.push(reference.into());
        self
    }

    pub fn references(mut self, references: impl IntoIterator<Item = String>) -> Self {
        self.refs.extend(references);
        self
    }

    /// What happened, in words; never a raw identifier or attribute value.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn step(&self) -> Step {
        self.step
    }
}

/// A role's audit trail writer.
#[derive(Debug)]
pub struct Audit {
    signer: Signer,
    own: Actor,
    clock: Clock,
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
        let mut entry = Entry {
            seq: seq + 1,
            at_ms: self.clock.now_ms(),
            step: event.step.as_str().to_owned(),
            actor_oin: actor.oin,
            actor_role: actor.role,
            purpose: event.purpose,
            processing_activity: event.processing_activity,
            policy_version: event.policy_version,
            refs: serde_json::to_string(&event.refs).unwrap_or_else(|_| "[]".to_owned()),
            detail: event.detail,
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

    /// Signs the newest entry if no checkpoint covers it yet; returns the seq it signed.
    pub async fn seal(&self, store: &Store) -> Result<Option<i64>, AuditError> {
        let mut w = store.write().await?;
        let (seq, hash) = head(&mut w.tx).await?;
        let signed: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM audit_checkpoints")
            .fetch_one(&mut *w.tx)
            .await?
            .get("seq");
        if seq == 0 || signed >= seq {
            return Ok(None);
        }
        self.sign(&mut w.tx, seq, &hash).await?;
        w.commit().await?;
        Ok(Some(seq))
    }

    async fn sign(&self, conn: &mut AnyConnection, seq: i64, hash: &str) -> Result<(), AuditError> {
        let at_ms = self.clock.now_ms();
        let signature = self
            .signer
            .sign(&entry::checkpoint_message(seq, hash, at_ms));
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, at_ms, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(hash)
        .bind(at_ms)
        .bind(self.signer.key_id())
        .bind(signature)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

async fn head(conn: &mut AnyConnection) -> Result<(i64, String), AuditError> {
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

const PAGE: i64 = 10_000;

fn entry_from(row: &sqlx::any::AnyRow) -> Entry {
    Entry {
        seq: row.get("seq"),
        at_ms: row.get("at_ms"),
        step: row.get("step"),
        actor_oin: row.get("actor_oin"),
        actor_role: row.get("actor_role"),
        purpose: row.get("purpose"),
        processing_activity: row.get("processing_activity"),
        policy_version: row.get("policy_version"),
        refs: row.get("refs"),
        detail: row.get("detail"),
        prev_hash: row.get("prev_hash"),
        hash: row.get("hash"),
    }
}

const COLUMNS: &str = "seq, at_ms, step, actor_oin, actor_role, purpose, processing_activity, \
                       policy_version, refs, detail, prev_hash, hash";

/// Verifies the trail in `store` against the role's public key.
pub async fn verify(store: &Store, public_key: &[u8]) -> Result<Report, AuditError> {
    let checkpoints = sqlx::query(
        "SELECT seq, hash, at_ms, key_id, signature FROM audit_checkpoints ORDER BY seq",
    )
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(|row| Checkpoint {
        seq: row.get("seq"),
        hash: row.get("hash"),
        at_ms: row.get("at_ms"),
        key_id: row.get("key_id"),
        signature: row.get("signature"),
    })
    .collect();
    let mut verifier = Verifier::new(public_key, checkpoints);
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(PAGE)
        .fetch_all(store.pool())
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.get("seq");
        for row in &rows {
            verifier.feed(&entry_from(row));
        }
    }
    Ok(verifier.finish())
}

/// Which entries `signaalnet audit show` prints.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub step: Option<Step>,
    pub purpose: Option<String>,
    /// OIN of the actor.
    pub actor: Option<String>,
    /// A reference the entry must carry exactly (e.g. `signal:politie/sig-…` or `hit:hit-…`).
    pub reference: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub limit: i64,
}

/// Entries matching `filter`, oldest first.
pub async fn entries(store: &Store, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_entries WHERE 1 = 1");
    let mut texts = Vec::new();
    let mut push = |sql: &mut String, column: &str, value: String| {
        texts.push(value);
        sql.push_str(&format!(" AND {column} ${}", texts.len()));
    };
    if let Some(step) = filter.step {
        push(&mut sql, "step =", step.as_str().to_owned());
    }
    if let Some(purpose) = &filter.purpose {
        push(&mut sql, "purpose =", purpose.clone());
    }
    if let Some(actor) = &filter.actor {
        push(&mut sql, "actor_oin =", actor.clone());
    }
    if let Some(reference) = &filter.reference {
        // The JSON form of the reference as it appears in the array.
        let quoted = serde_json::to_string(reference).unwrap_or_default();
        let escaped = quoted
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        push(&mut sql, "refs LIKE", format!("%{escaped}%"));
        sql.push_str(" ESCAPE '\\'");
    }
    let n = texts.len();
    sql.push_str(&format!(
        " AND at_ms >= ${} AND at_ms < ${} ORDER BY seq LIMIT ${}",
        n + 1,
        n + 2,
        n + 3
    ));
    let mut query = sqlx::query(&sql);
    for text in &texts {
        query = query.bind(text);
    }
    let rows = query
        .bind(filter.since_ms.unwrap_or(i64::MIN))
        .bind(filter.until_ms.unwrap_or(i64::MAX))
        .bind(if filter.limit > 0 {
            filter.limit
        } else {
            i64::MAX
        })
        .fetch_all(store.pool())
        .await?;
    Ok(rows.iter().map(entry_from).collect())
}
