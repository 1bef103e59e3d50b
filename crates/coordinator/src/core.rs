//! The coordinator's state: received signals, the matcher, hits and the notification queues,
//! kept consistent in one write transaction per change.

use crate::keys::Commitments;
use crate::matching::{Change, HitEvent, Matcher, Rule, Seq, SignalEntry};
use crate::CoordinatorError;
use prost::Message;
use signaalnet_audit::{Actor, Audit, Event, Head, Step};
use signaalnet_identifier::IdentifierKind;
use signaalnet_policy::{LivePolicy, Partner, PolicySet, RecipientRole, RecipientView};
use signaalnet_proto::v1 as pb;
use signaalnet_pseudonym::{CoordinatorDecryptor, HandleKey};
use signaalnet_service::convert::{kind_to_wire, role_to_wire};
use signaalnet_store::Store;
use sqlx::{Any, Row, Transaction};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::{watch, Mutex, MutexGuard};
use tonic::Code;
use tracing::Instrument;

pub struct Coordinator {
    pub(crate) store: Store,
    pub(crate) policy: LivePolicy,
    pub(crate) audit: Audit,
    pub(crate) decryptor: Arc<CoordinatorDecryptor>,
    pub(crate) commitments: Commitments,
    pub(crate) handles: HandleKey,
    pub(crate) matcher: Mutex<Matcher>,
    published: watch::Sender<i64>,
    /// Probing quotas per partner and purpose (crate::quota).
    pub(crate) quotas: signaalnet_service::quota::Quotas,
    /// Partners' patterns for the alarms (crate::alarm).
    pub(crate) watch: std::sync::Mutex<crate::alarm::Watch>,
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

/// Matching rules of every purpose that accepts signals (`aggregates_only` purposes do not).
pub fn rules(policy: &PolicySet) -> HashMap<String, Rule> {
    policy
        .purposes()
        .filter(|p| p.monitor.is_none())
        .map(|p| {
            let days = i32::try_from(p.match_window.days()).unwrap_or(i32::MAX);
            (
                p.id.clone(),
                Rule {
                    window_months: days.saturating_add(15) / 30,
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
            handles,
            matcher: Mutex::new(matcher),
            published,
            quotas,
            watch: Default::default(),
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

    /// Tells a watcher that notifications up to this sequence number exist.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.published.subscribe()
    }

    /// Withdraws signals of `partner`. Unknown ids are recorded as withdrawn so that a delivery
    /// still in flight cannot bring them back. Returns the ids now withdrawn.
    pub async fn withdraw(
        &self,
        partner: &Partner,
        actor: &Actor,
        signal_ids: &[String],
    ) -> Result<Vec<String>, CoordinatorError> {
        let policy = self.policy();
        let mut done = Vec::new();
        for signal_id in signal_ids {
            let mut matcher = self.matcher.lock().await;
            let mut w = self.store.write().await?;
            let row = sqlx::query(
                "SELECT seq, withdrawn_at, received_at FROM coord_signals WHERE partner_id = $1 AND signal_id = $2",
            )
            .bind(&partner.id)
            .bind(signal_id)
            .fetch_optional(&mut *w.tx)
            .await?;
            let received_at: Option<i64> = row.as_ref().map(|r| r.get("received_at"));
            let mut events = Vec::new();
            let mut removed = Vec::new();
            let mut was_active = false;
            let mut was_matched = Vec::new();
            match row {
                None => {
                    sqlx::query(
                        "INSERT INTO coord_signals (partner_id, signal_id, purpose, observed_month, \
                         attributes, policy_version, received_at, withdrawn_at) \
                         VALUES ($1, $2, '', '', '[]', $3, $4, $4)",
                    )
                    .bind(&partner.id)
                    .bind(signal_id)
                    .bind(policy.version())
                    .bind(self.now())
                    .execute(&mut *w.tx)
                    .await?;
                }
                Some(row) if row.get::<Option<i64>, _>("withdrawn_at").is_none() => {
                    let seq: i64 = row.get("seq");
                    sqlx::query(
                        "UPDATE coord_signals SET withdrawn_at = $1, attributes = '[]' WHERE seq = $2",
                    )
                    .bind(self.now())
                    .bind(seq)
                    .execute(&mut *w.tx)
                    .await?;
                    sqlx::query("DELETE FROM coord_keys WHERE seq = $1")
                        .bind(seq)
                        .execute(&mut *w.tx)
                        .await?;
                    removed.extend(matcher.signal(seq).cloned());
                    if let Some(hit) = matcher.hit_of(seq) {
                        was_matched.extend(hit.members.iter().copied());
                    }
                    events = matcher.remove(seq)?;
                    was_active = true;
                }
                Some(_) => {}
            }
            let event = Event::new(Step::Withdraw, &policy)
                .by(actor.clone())
                .reference(format!("signal:{}/{signal_id}", partner.id))
                .references(events.iter().map(|e| format!("hit:{}", e.hit_id)))
                .detail(if was_active {
                    "withdrawn: keys and attributes deleted, hits re-evaluated"
                } else {
                    "withdrawal recorded (signal not held or withdrawn before)"
                });
            let persisted = self
                .record_changes(&policy, &mut w.tx, &matcher, event, &events, &removed)
                .await;
            let result = match persisted {
                Ok(last) => w
                    .commit()
                    .await
                    .map(|()| last)
                    .map_err(CoordinatorError::from),
                Err(e) => Err(e),
            };
            match result {
                Ok(last) => self.publish(last),
                Err(e) => {
                    self.reload(&mut matcher).await;
                    return Err(e);
                }
            }
            let in_hit = !was_matched.is_empty();
            // Members of its hit that are in no hit now are no longer held.
            matcher.evict_unmatched(was_matched);
            if let (Some(signal), Some(received_at)) = (removed.first(), received_at) {
                let arrival = (received_at, in_hit);
                self.watch_withdrawal(&policy, actor, (&partner.id, &signal.purpose), arrival)
                    .await;
            }
            tracing::info!(partner = %partner.id, hit_changes = events.len(), "signal withdrawn");
            done.push(signal_id.clone());
        }
        Ok(done)
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

    pub(crate) async fn reload(&self, matcher: &mut MutexGuard<'_, Matcher>) {
        match load_matcher(&self.store, &self.policy()).await {
            Ok(fresh) => **matcher = fresh,
            Err(e) => tracing::error!(error = %e, "reloading the matcher failed"),
        }
    }

    /// Audits the step `event` and writes the hit changes it caused (see [`Self::persist`]).
    pub(crate) async fn record_changes(
        &self,
        policy: &PolicySet,
        tx: &mut Transaction<'static, Any>,
        matcher: &Matcher,
        event: Event,
        events: &[HitEvent],
        removed: &[SignalEntry],
    ) -> Result<Option<i64>, CoordinatorError> {
        let mut head = self.audit.head(tx).await?;
        self.audit.append_after(tx, &mut head, event).await?;
        self.persist(policy, (tx, &mut head), matcher, events, removed)
            .await
    }

    /// Writes hit changes and the partners' notifications; returns the last notification seq.
    pub(crate) async fn persist(
        &self,
        policy: &PolicySet,
        (tx, head): (&mut Transaction<'static, Any>, &mut Head),
        matcher: &Matcher,
        events: &[HitEvent],
        removed: &[SignalEntry],
    ) -> Result<Option<i64>, CoordinatorError> {
        let mut last = None;
        for event in events {
            let members: Vec<&SignalEntry> = event
                .members
                .iter()
                .filter_map(|s| {
                    matcher
                        .signal(*s)
                        .or_else(|| removed.iter().find(|r| r.seq == *s))
                })
                .collect();
            let seqs: Vec<Seq> = event.members.iter().copied().collect();
            let members_json = serde_json::to_string(&seqs).unwrap_or_else(|_| "[]".into());
            if event.change == Change::Expired {
                sqlx::query("DELETE FROM coord_hits WHERE hit_id = $1")
                    .bind(&event.hit_id)
                    .execute(&mut **tx)
                    .await?;
            } else if event.change == Change::Dissolved {
                sqlx::query(
                    "UPDATE coord_hits SET members = $1, updated_at = $2, dissolved_at = $2 \
                     WHERE hit_id = $3",
                )
                .bind(&members_json)
                .bind(self.now())
                .bind(&event.hit_id)
                .execute(&mut **tx)
                .await?;
            } else {
                let formed = members.iter().map(|m| m.month).min().unwrap_or_default();
                sqlx::query(
                    "INSERT INTO coord_hits (hit_id, purpose, members, formed_month, updated_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hit_id) DO UPDATE SET \
                     members = excluded.members, updated_at = excluded.updated_at, \
                     dissolved_at = NULL",
                )
                .bind(&event.hit_id)
                .bind(&event.purpose)
                .bind(&members_json)
                .bind(crate::matching::month_string(formed))
                .bind(self.now())
                .execute(&mut **tx)
                .await?;
            }
            let partners: BTreeSet<&str> = members.iter().map(|m| m.partner.as_str()).collect();
            for partner_id in partners {
                // A notify step of its own in the processing log, whose trace context travels
                // with the notification to the partner's node.
                let span =
                    signaalnet_telemetry::step("notify", signaalnet_telemetry::Kind::Producer);
                let mut notification =
                    self.notification_for(policy, matcher, event, partner_id, &members);
                notification.traceparent =
                    signaalnet_telemetry::traceparent(&span).unwrap_or_default();
                let seq: i64 = sqlx::query(
                    "INSERT INTO coord_notifications (partner_id, payload, created_at) \
                     VALUES ($1, $2, $3) RETURNING seq",
                )
                .bind(partner_id)
                .bind(notification.encode_to_vec())
                .bind(self.now())
                .fetch_one(&mut **tx)
                .await?
                .get("seq");
                last = Some(seq);
                let audit = Event::for_purpose(Step::Notify, policy, &event.purpose)
                    .reference(format!("hit:{}", event.hit_id))
                    .references(
                        notification
                            .own_signal_ids
                            .iter()
                            .map(|id| format!("signal:{partner_id}/{id}")),
                    )
                    .detail(format!(
                        "notification {seq} for {partner_id}: {:?}, {} attribute(s) under its view",
                        event.change,
                        notification.attributes.len()
                    ));
                self.audit
                    .append_after(tx, head, audit)
                    .instrument(span)
                    .await?;
            }
        }
        Ok(last)
    }

    /// What `partner_id` may learn of a hit change: only through its own signals, with what
    /// its recipient policy for the purpose allows.
    fn notification_for(
        &self,
        policy: &PolicySet,
        matcher: &Matcher,
        event: &HitEvent,
        partner_id: &str,
        members: &[&SignalEntry],
    ) -> pb::PartnerNotification {
        let view = policy
            .partner(partner_id)
            .and_then(|p| partner_view(policy, p, &event.purpose));
        let dissolved = matches!(event.change, Change::Dissolved | Change::Expired);
        let mut n = pb::PartnerNotification {
            cursor: String::new(),
            hit_id: event.hit_id.clone(),
            purpose: event.purpose.clone(),
            change: change_to_wire(event.change),
            own_signal_ids: members
                .iter()
                .filter(|m| m.partner == partner_id)
                .map(|m| m.signal_id.clone())
                .collect(),
            partner_roles: Vec::new(),
            matched_kinds: Vec::new(),
            attributes: Vec::new(),
            policy: Some(pb::PolicyVersion {
                version: policy.version().to_owned(),
            }),
            traceparent: String::new(),
        };
        let Some(view) = view else {
            return n;
        };
        if view.sees_partner_roles {
            n.partner_roles = partner_roles(policy, members);
        }
        if dissolved {
            return n;
        }
        if view.sees_identifier_kinds {
            if let Some(hit) = matcher.hit(&event.hit_id) {
                let kinds: BTreeSet<IdentifierKind> = matcher
                    .linking_keys(hit)
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                n.matched_kinds = kinds.into_iter().map(kind_to_wire).collect();
            }
        }
        n.attributes = visible_attributes(view, members);
        n
    }
}

pub(crate) fn change_to_wire(change: Change) -> i32 {
    (match change {
        Change::Formed => pb::HitChange::Formed,
        Change::Grew => pb::HitChange::Grew,
        Change::Shrank => pb::HitChange::Shrank,
        Change::Dissolved => pb::HitChange::Dissolved,
        Change::Expired => pb::HitChange::Expired,
    }) as i32
}

/// The widest view `partner` holds for `purpose`: a special recipient role (ketenregisseur,
/// zorgcoördinator …) if it has one with a view for the purpose, otherwise the partner view.
pub(crate) fn partner_view<'a>(
    policy: &'a PolicySet,
    partner: &Partner,
    purpose: &str,
) -> Option<&'a RecipientView> {
    partner
        .recipient_roles
        .iter()
        .filter(|r| **r != RecipientRole::RiecAnalist)
        .find_map(|r| policy.recipient_view(*r, purpose))
        .or_else(|| policy.recipient_view(RecipientRole::Partner, purpose))
}

pub(crate) fn partner_roles(policy: &PolicySet, members: &[&SignalEntry]) -> Vec<i32> {
    let roles: BTreeSet<i32> = members
        .iter()
        .filter_map(|m| policy.partner(&m.partner))
        .filter_map(|p| role_to_wire(p.role))
        .collect();
    roles.into_iter().collect()
}

pub(crate) fn visible_attributes(
    view: &RecipientView,
    members: &[&SignalEntry],
) -> Vec<pb::Attribute> {
    let pairs: BTreeSet<(&str, &str)> = members
        .iter()
        .flat_map(|m| m.attributes.iter())
        .filter(|(id, _)| view.attributes.contains(id))
        .map(|(id, value)| (id.as_str(), value.as_str()))
        .collect();
    pairs
        .into_iter()
        .map(|(id, value)| pb::Attribute {
            id: id.to_owned(),
            value: value.to_owned(),
        })
        .collect()
}

async fn load_matcher(store: &Store, policy: &PolicySet) -> Result<Matcher, CoordinatorError> {
    let mut conn = store.pool().acquire().await?;
    crate::load::matcher(&mut conn, rules(policy)).await
}

/// For listings: the partner roles and attributes of a hit per a view.
pub(crate) fn members_of<'a>(
    matcher: &'a Matcher,
    members: &BTreeSet<Seq>,
) -> Vec<&'a SignalEntry> {
    members.iter().filter_map(|s| matcher.signal(*s)).collect()
}

/// Attribute values per attribute id over signals, for filters.
pub(crate) fn has_attribute(members: &[&SignalEntry], id: &str, value: &str) -> bool {
    members
        .iter()
        .any(|m| m.attributes.iter().any(|(i, v)| i == id && v == value))
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
