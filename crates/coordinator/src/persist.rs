//! Persistence of hit changes: the hits table, the partners' notification queues and their
//! audit entries, written inside the caller's transaction so the matcher's change and what is
//! stored of it commit together.

use crate::core::Coordinator;
use crate::matching::{Change, HitEvent, Matcher, Seq, SignalEntry};
use crate::CoordinatorError;
use prost::Message;
use signaalnet_audit::{Event, Head, Step};
use signaalnet_policy::PolicySet;
use signaalnet_store::Store;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeSet;
use tracing::Instrument;

/// The sequence number of the newest signal stored (0 when none): an index lookup, so cheap
/// enough to poll (the benchmark counts delivered signals with it).
pub async fn last_signal_seq(store: &Store) -> Result<i64, CoordinatorError> {
    Ok(
        sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM coord_signals")
            .fetch_one(store.pool())
            .await?
            .get("n"),
    )
}

impl Coordinator {
    /// Audits the step `event` and writes the hit changes it caused (see [`Self::persist`]).
    pub(crate) async fn record_changes(
        &self,
        policy: &PolicySet,
        tx: &mut Transaction<'static, Any>,
        matcher: &Matcher,
        event: Event,
        events: &[HitEvent],
        removed: Removed<'_>,
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
        removed: Removed<'_>,
    ) -> Result<Option<i64>, CoordinatorError> {
        let Removed {
            signals: removed,
            withdrawn,
        } = removed;
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
            // Partners whose signals were in the hit and are in it no longer (a withdrawn last
            // signal, or the part of a split that became a hit of its own): the hit ended for
            // them, and they are told so, which replaces what they were told of it before.
            // The partner's own signals that left this hit because it withdrew them: a
            // withdrawal leaves the hit it was in SHRANK or DISSOLVED (a part split off from
            // it is FORMED).
            let withdrawn_of = |partner_id: &str| -> Vec<String> {
                if !withdrawn || !matches!(event.change, Change::Shrank | Change::Dissolved) {
                    return Vec::new();
                }
                removed
                    .iter()
                    .filter(|r| r.partner == partner_id && r.purpose == event.purpose)
                    .map(|r| r.signal_id.clone())
                    .collect()
            };
            let departed = if matches!(event.change, Change::Shrank | Change::Dissolved) {
                let now_in: BTreeSet<&str> = members.iter().map(|m| m.partner.as_str()).collect();
                departed_partners(tx, &event.hit_id, &now_in).await?
            } else {
                Vec::new()
            };
            if matches!(event.change, Change::Dissolved | Change::Expired) {
                crate::consult::forget_hit(tx, &event.hit_id).await?;
            }
            if event.change == Change::Expired {
                sqlx::query("DELETE FROM coord_hits WHERE hit_id = $1")
                    .bind(&event.hit_id)
                    .execute(&mut **tx)
                    .await?;
            } else if event.change == Change::Dissolved {
                // A dissolved hit links no signals any more: it keeps its id, purpose and
                // month for `ENDED_KEPT` (crate::expiry), not its members.
                sqlx::query(
                    "UPDATE coord_hits SET members = '[]', updated_at = $1, dissolved_at = $1 \
                     WHERE hit_id = $2",
                )
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
                notification.withdrawn_signal_ids = withdrawn_of(partner_id);
                let ended = matches!(event.change, Change::Dissolved | Change::Expired);
                if ended {
                    replace_queued(tx, partner_id, &event.hit_id, true).await?;
                } else if event.change == Change::Shrank {
                    // Signals left the hit: the notices of it still queued for this partner
                    // carry what they contributed (attributes, the partner's own signal ids),
                    // so this one replaces them; its consultation notices stay while the hit
                    // lasts.
                    replace_queued(tx, partner_id, &event.hit_id, false).await?;
                }
                let seq: i64 = sqlx::query(
                    "INSERT INTO coord_notifications (partner_id, payload, created_at, hit_id, \
                     ended_at) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
                )
                .bind(partner_id)
                .bind(notification.encode_to_vec())
                .bind(self.now())
                .bind(&event.hit_id)
                .bind(ended.then(|| self.now()))
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
            let ended_for_them = HitEvent {
                change: Change::Dissolved,
                ..event.clone()
            };
            for partner_id in &departed {
                let span =
                    signaalnet_telemetry::step("notify", signaalnet_telemetry::Kind::Producer);
                // A partner that withdrew its last signal from a hit that survives is told
                // SHRANK, naming the signals it withdrew; one whose signals went to a part
                // that split off is told the hit ended for it. Neither learns anything more of
                // the hit it is no longer in.
                let own_withdrawn = withdrawn_of(partner_id);
                let told = if event.change == Change::Shrank && !own_withdrawn.is_empty() {
                    event.clone()
                } else {
                    ended_for_them.clone()
                };
                let mut notification = self.departure_notice(policy, &told);
                notification.withdrawn_signal_ids = own_withdrawn;
                notification.traceparent =
                    signaalnet_telemetry::traceparent(&span).unwrap_or_default();
                replace_queued(tx, partner_id, &event.hit_id, true).await?;
                crate::consult::forget_partner(tx, &event.hit_id, partner_id).await?;
                let seq: i64 = sqlx::query(
                    "INSERT INTO coord_notifications (partner_id, payload, created_at, hit_id, \
                     ended_at) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
                )
                .bind(partner_id)
                .bind(notification.encode_to_vec())
                .bind(self.now())
                .bind(&event.hit_id)
                .bind(self.now())
                .fetch_one(&mut **tx)
                .await?
                .get("seq");
                last = Some(seq);
                let audit = Event::for_purpose(Step::Notify, policy, &event.purpose)
                    .reference(format!("hit:{}", event.hit_id))
                    .references(
                        notification
                            .withdrawn_signal_ids
                            .iter()
                            .map(|id| format!("signal:{partner_id}/{id}")),
                    )
                    .detail(format!(
                        "notification {seq} for {partner_id}: {:?} told; the hit ended for it \
                         (its signals left the hit: {:?}, {} withdrawn)",
                        told.change,
                        event.change,
                        notification.withdrawn_signal_ids.len()
                    ));
                self.audit
                    .append_after(tx, head, audit)
                    .instrument(span)
                    .await?;
            }
        }
        Ok(last)
    }
}

/// What left the matcher in the change being persisted: the signals removed, and whether by
/// their partner's withdrawal (rather than expiry).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Removed<'a> {
    pub signals: &'a [SignalEntry],
    pub withdrawn: bool,
}

/// Deletes the notices of `hit_id` still queued for `partner_id` that a new one replaces: every
/// one when the hit ended for the partner (`all`), else those about changes of the hit (its
/// consultation notices stay).
async fn replace_queued(
    tx: &mut Transaction<'static, Any>,
    partner_id: &str,
    hit_id: &str,
    all: bool,
) -> Result<(), CoordinatorError> {
    let sql = if all {
        "DELETE FROM coord_notifications WHERE partner_id = $1 AND hit_id = $2"
    } else {
        "DELETE FROM coord_notifications WHERE partner_id = $1 AND hit_id = $2 \
         AND consultation_id IS NULL"
    };
    sqlx::query(sql)
        .bind(partner_id)
        .bind(hit_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The partners with a signal among the stored members of `hit_id` (as they were before this
/// change) that are not in `now_in`.
async fn departed_partners(
    tx: &mut Transaction<'static, Any>,
    hit_id: &str,
    now_in: &BTreeSet<&str>,
) -> Result<Vec<String>, CoordinatorError> {
    let Some(row) = sqlx::query("SELECT members FROM coord_hits WHERE hit_id = $1")
        .bind(hit_id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(Vec::new());
    };
    let before: Vec<Seq> = serde_json::from_str(&row.get::<String, _>("members"))
        .map_err(|e| CoordinatorError::Corrupt(format!("coord_hits {hit_id}: members: {e}")))?;
    if before.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT partner_id FROM coord_signals WHERE seq IN ({}) ORDER BY partner_id",
        signaalnet_store::placeholders(1, before.len())
    );
    let mut query = sqlx::query(&sql);
    for seq in &before {
        query = query.bind(*seq);
    }
    Ok(query
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.get::<String, _>("partner_id"))
        .filter(|p| !now_in.contains(p.as_str()))
        .collect())
}
