//! The coordinator's state: the store, the policy in force, the matcher of the signals in hits
//! and the sequence of published notifications. What changes it lives beside it: delivery
//! (`deliver`), withdrawal (`withdraw`), what is written of a change (`persist`) and what a
//! recipient may see of it (`view`).
//!
//! Analysts never wait for matching, nor matching for analysts: analyst queries and the monitor
//! read committed state from the store (`analyst`), not the matcher, so they never take the
//! matcher's lock; and at most [`ANALYST_READS`] of them read at once, so they cannot take all
//! of the store's connections either.

use crate::keys::Commitments;
use crate::matching::{Matcher, Rule};
use crate::CoordinatorError;
use prost::Message;
use signaalnet_audit::{Actor, Audit, Event, Step};
use signaalnet_policy::{LivePolicy, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_pseudonym::{CoordinatorDecryptor, HandleKey};
use signaalnet_store::Store;
use sqlx::Row;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use tokio::sync::{watch, Mutex, MutexGuard, Semaphore};
use tonic::Code;

pub struct Coordinator {
    pub(crate) store: Store,
    pub(crate) policy: LivePolicy,
    pub(crate) audit: Audit,
    pub(crate) decryptor: Arc<CoordinatorDecryptor>,
    pub(crate) commitments: Commitments,
    pub(crate) handles: HandleKey,
    /// The monitor's record keys, derived from the handle secret (crate::monitor).
    pub(crate) record_keys: signaalnet_pseudonym::RecordKeys,
    pub(crate) matcher: MatcherLock,
    /// Analyst and monitor queries reading the store at once ([`ANALYST_READS`]).
    pub(crate) analyst_reads: Semaphore,
    /// The monitor's last reads (crate::monitor).
    pub(crate) monitor_cache: Mutex<crate::monitor::MonitorCache>,
    published: watch::Sender<i64>,
    /// Probing quotas per partner and purpose (crate::quota).
    pub(crate) quotas: signaalnet_service::quota::Quotas,
    /// Partners' patterns for the alarms (crate::alarm).
    pub(crate) watch: std::sync::Mutex<crate::alarm::Watch>,
    /// How long tombstones, dissolved hits and notices of ended hits are kept (crate::expiry).
    pub(crate) ended_kept: signaalnet_policy::IsoDuration,
    /// Per partner, the newest notification this process has read out for its stream: a
    /// node's acknowledgement counts up to there and no further.
    streamed: std::sync::Mutex<HashMap<String, i64>>,
    /// One coordinator at a time (crate::fence): every write transaction checks it.
    pub(crate) fence: crate::fence::Fence,
    /// The figures of the metrics endpoint.
    pub(crate) metrics: Arc<signaalnet_telemetry::metrics::Metrics>,
}

/// The answer to one delivered signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: Code,
    pub message: String,
}

impl Outcome {
    pub(crate) fn ok(message: impl Into<String>) -> Self {
        Self {
            code: Code::Ok,
            message: message.into(),
        }
    }

    pub(crate) fn refuse(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Analyst and monitor queries that read the store at once; the others wait for one to end.
/// Below the store's connections (4 on SQLite, 8 on PostgreSQL), so delivery, withdrawal and
/// the notification streams always find one.
pub const ANALYST_READS: usize = 2;

/// The matcher behind its lock. Every change to the matched signals is made while it is held.
#[derive(Debug)]
pub(crate) struct MatcherLock {
    matcher: Mutex<Matcher>,
}

/// The matcher while its lock is held.
pub(crate) struct MatcherGuard<'a> {
    matcher: MutexGuard<'a, Matcher>,
}

impl MatcherLock {
    fn new(matcher: Matcher) -> Self {
        Self {
            matcher: Mutex::new(matcher),
        }
    }

    pub(crate) async fn lock(&self) -> MatcherGuard<'_> {
        MatcherGuard {
            matcher: self.matcher.lock().await,
        }
    }
}

impl Deref for MatcherGuard<'_> {
    type Target = Matcher;

    fn deref(&self) -> &Matcher {
        &self.matcher
    }
}

impl DerefMut for MatcherGuard<'_> {
    fn deref_mut(&mut self) -> &mut Matcher {
        &mut self.matcher
    }
}

/// Matching rules of every purpose that accepts signals (`aggregates_only` purposes do not).
pub fn rules(policy: &PolicySet) -> HashMap<String, Rule> {
    policy
        .purposes()
        .filter(|p| p.monitor.is_none())
        .map(|p| {
            (
                p.id.clone(),
                Rule {
                    window_months: i32::try_from(p.match_window.months_rounded())
                        .unwrap_or(i32::MAX),
                    min_partners: usize::try_from(p.min_distinct_partners).unwrap_or(usize::MAX),
                },
            )
        })
        .collect()
}

impl Coordinator {
    /// Opens the coordinator on a migrated store and restores its matcher from it.
    pub async fn open(
        store: Store,
        policy: LivePolicy,
        decryptor: CoordinatorDecryptor,
        commitments: Commitments,
        handles: HandleKey,
        audit: Audit,
    ) -> Result<Self, CoordinatorError> {
        let set = policy.current();
        let matcher = load_matcher(&store, &set).await?;
        let last: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM coord_notifications")
            .fetch_one(store.pool())
            .await?
            .get("n");
        let (published, _) = watch::channel(last);
        let quotas = signaalnet_service::quota::Quotas::load(&store, audit.clock().now()).await?;
        tracing::info!(
            matched_signals = matcher.signals().count(),
            hits = matcher.hits().count(),
            policy = %set.version(),
            "coordinator state restored"
        );
        let core = Self {
            store,
            policy,
            audit,
            decryptor: Arc::new(decryptor),
            commitments,
            record_keys: handles.record_keys(),
            handles,
            matcher: MatcherLock::new(matcher),
            analyst_reads: Semaphore::new(ANALYST_READS),
            monitor_cache: Mutex::default(),
            published,
            quotas,
            watch: Default::default(),
            ended_kept: signaalnet_service::retention::ENDED_KEPT,
            streamed: std::sync::Mutex::default(),
            fence: crate::fence::Fence::none(),
            metrics: signaalnet_telemetry::metrics::Metrics::new("coordinator"),
        };
        core.audit.record_policy_at_start(&core.store, &set).await?;
        Ok(core)
    }

    /// Seconds since the epoch on the coordinator's clock (a manual clock in tests).
    pub(crate) fn now(&self) -> i64 {
        self.audit.clock().now()
    }

    /// The policy set in force now.
    pub fn policy(&self) -> Arc<PolicySet> {
        self.policy.current()
    }

    /// The OIN of the coordinator's own certificate.
    pub fn own_oin(&self) -> &str {
        &self.audit.own().oin
    }

    pub fn live_policy(&self) -> &LivePolicy {
        &self.policy
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Records a step that stores nothing else.
    pub(crate) async fn record(&self, event: Event) -> Result<(), CoordinatorError> {
        self.audit.record(&self.store, event).await?;
        Ok(())
    }

    /// Records a refused request: the caller, the purpose if known, the status code. The
    /// message is not recorded: it may name what the caller sent.
    pub async fn audit_refusal(&self, actor: Actor, purpose: &str, what: &str, code: Code) {
        let policy = self.policy();
        let event = Event::for_purpose(Step::Refuse, &policy, purpose)
            .by(actor)
            .detail(format!("{what} refused: {code:?}"));
        self.audit.try_record(&self.store, event).await;
    }

    /// Rebuilds the matcher with the matching rules of the policy set now in force (window,
    /// minimum partners), so a reloaded set also changes what counts as a hit.
    pub async fn rebuild_matcher(&self) {
        let mut matcher = self.matcher.lock().await;
        self.reload(&mut matcher).await;
    }

    /// How many signals the matcher holds in memory: those in hits. Every other signal is only
    /// in the store and is loaded back when a new signal shares a key with it.
    pub async fn held_signals(&self) -> usize {
        self.matcher.lock().await.signals().count()
    }

    /// Keeps tombstones, dissolved hits and the notices that hits ended for `kept` instead of
    /// [`signaalnet_service::retention::ENDED_KEPT`].
    pub fn with_ended_kept(mut self, kept: signaalnet_policy::IsoDuration) -> Self {
        self.ended_kept = kept;
        self
    }

    /// Writes only while holding `fence` (crate::fence).
    pub fn with_fence(mut self, fence: crate::fence::Fence) -> Self {
        self.metrics.epoch.set(fence.epoch());
        self.metrics.active.set(1);
        self.fence = fence;
        self
    }

    /// Counts into `metrics` instead of figures of its own.
    pub fn with_metrics(mut self, metrics: Arc<signaalnet_telemetry::metrics::Metrics>) -> Self {
        metrics.epoch.set(self.fence.epoch());
        metrics.active.set(1);
        self.metrics = metrics;
        self
    }

    /// The figures of the metrics endpoint.
    pub fn metrics(&self) -> &Arc<signaalnet_telemetry::metrics::Metrics> {
        &self.metrics
    }

    /// The writer fence (crate::fence).
    pub fn fence(&self) -> &crate::fence::Fence {
        &self.fence
    }

    /// Begins a write transaction that this process may still make (crate::fence): fails when
    /// another coordinator took over.
    pub(crate) async fn write(&self) -> Result<signaalnet_store::Write<'_>, CoordinatorError> {
        let mut w = self.store.write().await?;
        self.fence.check(&mut w.tx).await?;
        Ok(w)
    }

    /// Tells a watcher that notifications up to this sequence number exist.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.published.subscribe()
    }

    /// After deleting what the coordinator kept of a signal or a hit: no copy left in the
    /// database's files ([`Store::scrub`]). A failure is logged; the next scrub catches up.
    pub(crate) async fn scrub(&self) {
        if let Err(e) = self.store.scrub().await {
            tracing::warn!(error = %e, "scrubbing the database after a deletion failed; will retry");
        }
    }

    /// The newest notification this process has read out for `partner_id`'s stream (0: none).
    pub(crate) fn streamed_to(&self, partner_id: &str) -> i64 {
        self.streamed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(partner_id)
            .copied()
            .unwrap_or(0)
    }

    /// Deletes the notifications for `partner` up to sequence number `after`: its node resumed
    /// after them, so it has stored them.
    /// Only what was streamed to the partner counts: a cursor beyond it (made up, or from a
    /// node restored from a backup) deletes nothing it has not been sent.
    pub async fn acknowledge(&self, partner_id: &str, after: i64) -> Result<(), CoordinatorError> {
        let after = after.min(self.streamed_to(partner_id));
        if after <= 0 {
            return Ok(());
        }
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM coord_notifications WHERE partner_id = $1 AND seq <= $2")
            .bind(partner_id)
            .bind(after)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Notifications for `partner` after sequence number `after`, oldest first.
    pub async fn notifications(
        &self,
        partner_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<pb::PartnerNotification>, CoordinatorError> {
        let rows = sqlx::query(
            "SELECT seq, payload FROM coord_notifications WHERE partner_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(partner_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.get("seq");
            let payload: Vec<u8> = row.get("payload");
            let mut n = pb::PartnerNotification::decode(payload.as_slice())
                .map_err(|e| CoordinatorError::Corrupt(format!("notification {seq}: {e}")))?;
            n.cursor = seq.to_string();
            out.push(n);
        }
        if let Some(newest) = out.last().and_then(|n| n.cursor.parse::<i64>().ok()) {
            let mut streamed = self.streamed.lock().unwrap_or_else(|e| e.into_inner());
            let entry = streamed.entry(partner_id.to_owned()).or_insert(0);
            *entry = (*entry).max(newest);
        }
        Ok(out)
    }

    pub(crate) fn publish(&self, last: Option<i64>) {
        if let Some(last) = last {
            self.published.send_if_modified(|current| {
                let newer = last > *current;
                if newer {
                    *current = last;
                }
                newer
            });
        }
    }

    pub(crate) async fn reload(&self, matcher: &mut MatcherGuard<'_>) {
        match load_matcher(&self.store, &self.policy()).await {
            Ok(fresh) => **matcher = fresh,
            Err(e) => tracing::error!(error = %e, "reloading the matcher failed"),
        }
    }
}

async fn load_matcher(store: &Store, policy: &PolicySet) -> Result<Matcher, CoordinatorError> {
    let mut conn = store.pool().acquire().await?;
    crate::load::matcher(&mut conn, rules(policy)).await
}

#[tonic::async_trait]
impl signaalnet_service::policy::PolicyTarget for Coordinator {
    fn store(&self) -> &Store {
        &self.store
    }

    fn audit(&self) -> &Audit {
        &self.audit
    }

    async fn after_change(&self) {
        self.rebuild_matcher().await;
    }

    async fn expire(&self) {
        if let Err(e) = Coordinator::expire(self).await {
            tracing::error!(error = %e, "retention run failed; will retry");
        }
    }
}
