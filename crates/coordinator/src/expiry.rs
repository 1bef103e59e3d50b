//! Retention: a hit whose last change is older than its purpose's `retention_hits` expires with
//! every signal in it (each partner involved is told: EXPIRED); a signal that is in no hit
//! expires after `retention_unmatched` from its receipt. A purpose removed from the policy set
//! expires under the last retention it had (`signaalnet_service::retention`). An expired or
//! withdrawn signal's pseudonyms, attributes and month are deleted; a tombstone (partner,
//! signal id) stays so a late re-delivery cannot bring it back. Tombstones, dissolved hits and
//! the notices that hits ended are deleted `ended_kept` after they ended (default
//! [`signaalnet_service::retention::ENDED_KEPT`]). Every expiry is in the audit trail.

use crate::matching::{Change, HitEvent, Seq, SignalEntry};
use crate::{Coordinator, CoordinatorError};
use signaalnet_audit::{Event, Step};
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;
use std::collections::BTreeSet;

/// What one expiry run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    pub hits: usize,
    pub signals: usize,
    /// Tombstones of signals that ended longer than `ended_kept` ago, deleted.
    pub tombstones: usize,
    /// Hits dissolved longer than `ended_kept` ago, deleted.
    pub dissolved_hits: usize,
    /// Notices that a hit ended, queued longer than `ended_kept` ago, deleted.
    pub notices: usize,
    /// Monitor records past their monitor purpose's retention, deleted.
    pub monitor_records: usize,
}

impl Coordinator {
    /// Deletes everything past its retention on the coordinator's clock.
    pub async fn expire(&self) -> Result<Expired, CoordinatorError> {
        let policy = self.policy();
        let now = self.now();
        let mut done = Expired::default();
        let retentions = signaalnet_service::retention::remember(&self.store, &policy)
            .await
            .map_err(|e| CoordinatorError::Corrupt(e.to_string()))?;
        let retention_of = |purpose: &str| {
            retentions
                .iter()
                .find(|r| r.purpose == purpose)
                .map(|r| r.hits)
        };
        let mut matcher = self.matcher.lock().await;
        let hits: Vec<(String, String, i64, String)> = sqlx::query(
            "SELECT hit_id, purpose, updated_at, members FROM coord_hits \
             WHERE dissolved_at IS NULL",
        )
        .fetch_all(self.store.pool())
        .await?
        .iter()
        .map(|r| {
            (
                r.get("hit_id"),
                r.get("purpose"),
                r.get("updated_at"),
                r.get("members"),
            )
        })
        .collect();
        let mut stale = false;
        // Every signal in a stored hit waits for its hit's retention, whether the matcher holds
        // it or not (the signals of a removed purpose's hits are only stored).
        let mut in_a_hit = BTreeSet::new();
        for (hit_id, _, _, stored_members) in &hits {
            let members: BTreeSet<Seq> = serde_json::from_str(stored_members)
                .map_err(|e| CoordinatorError::Corrupt(format!("hit {hit_id}: members: {e}")))?;
            in_a_hit.extend(members);
        }
        for (hit_id, purpose, updated_at, stored_members) in hits {
            let Some(retention) = retention_of(&purpose) else {
                continue;
            };
            if retention.after(updated_at) > now {
                continue;
            }
            // The matcher holds the hits of the purposes in force with their signals; a hit of a
            // purpose removed from the policy set is only stored, its signals with it.
            let members: BTreeSet<Seq> = match matcher.hit(&hit_id) {
                Some(hit) => hit.members.clone(),
                None => serde_json::from_str(&stored_members).map_err(|e| {
                    CoordinatorError::Corrupt(format!("hit {hit_id}: members: {e}"))
                })?,
            };
            let mut removed: Vec<SignalEntry> = members
                .iter()
                .filter_map(|s| matcher.signal(*s).cloned())
                .collect();
            let unheld: Vec<Seq> = members
                .iter()
                .copied()
                .filter(|s| !matcher.contains(*s))
                .collect();
            if !unheld.is_empty() {
                let mut conn = self.store.pool().acquire().await?;
                removed.extend(crate::load::signals_by_seq(&mut conn, &unheld).await?);
                stale = true;
            }
            let hit = crate::matching::Hit {
                id: hit_id.clone(),
                purpose: purpose.clone(),
                members,
            };
            let mut w = self.write().await?;
            let result = async {
                for entry in &removed {
                    tombstone(&mut w.tx, entry.seq, now).await?;
                    if matcher.contains(entry.seq) {
                        matcher.remove(entry.seq)?;
                    }
                }
                let event = HitEvent {
                    hit_id: hit_id.clone(),
                    purpose: purpose.clone(),
                    change: Change::Expired,
                    members: hit.members.clone(),
                };
                let audit = Event::for_purpose(Step::Expire, &policy, &purpose)
                    .reference(format!("hit:{hit_id}"))
                    .references(removed.iter().map(signal_ref))
                    .detail(format!(
                        "hit expired after retention_hits {retention} without change; {} \
                         signal(s) deleted",
                        removed.len()
                    ));
                self.record_changes(
                    &policy,
                    &mut w.tx,
                    &matcher,
                    audit,
                    &[event],
                    crate::persist::Removed {
                        signals: &removed,
                        withdrawn: false,
                    },
                )
                .await
            }
            .await;
            match result {
                Ok(last) => {
                    w.commit().await?;
                    self.publish(last);
                    done.hits += 1;
                    done.signals += removed.len();
                }
                Err(e) => {
                    drop(w);
                    self.reload(&mut matcher).await;
                    return Err(e);
                }
            }
        }
        if stale {
            // Hits the matcher held without their signals (of a removed purpose) are gone now.
            self.reload(&mut matcher).await;
        }
        for purpose in retentions.iter().filter(|r| !r.monitor) {
            // Only signals received by `bound` can have run their retention; whether each has is
            // decided in the calendar from its own receipt.
            let retention = purpose.unmatched;
            let bound = retention.latest_start_run_by(now);
            // The matcher holds every signal that is in a hit; others are only stored.
            let due: Vec<(i64, String, String)> = sqlx::query(
                "SELECT seq, partner_id, signal_id, received_at FROM coord_signals \
                 WHERE purpose = $1 AND withdrawn_at IS NULL AND received_at <= $2 ORDER BY seq",
            )
            .bind(&purpose.purpose)
            .bind(bound)
            .fetch_all(self.store.pool())
            .await?
            .iter()
            .filter(|r| retention.has_run(r.get("received_at"), now))
            .map(|r| (r.get("seq"), r.get("partner_id"), r.get("signal_id")))
            .filter(|(seq, _, _)| matcher.hit_of(*seq).is_none() && !in_a_hit.contains(seq))
            .collect();
            if due.is_empty() {
                continue;
            }
            let mut by_partner: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut w = self.write().await?;
            let result = async {
                for (seq, partner, signal_id) in &due {
                    by_partner
                        .entry(partner.clone())
                        .or_default()
                        .push(format!("signal:{partner}/{signal_id}"));
                    tombstone(&mut w.tx, *seq, now).await?;
                    if matcher.contains(*seq) {
                        matcher.remove(*seq)?;
                    }
                }
                for (partner, refs) in &by_partner {
                    let audit = Event::for_purpose(Step::Expire, &policy, &purpose.purpose)
                        .references(refs.iter().cloned())
                        .detail(format!(
                            "{} unmatched signal(s) of {partner} expired after retention_unmatched \
                             {retention}{}",
                            refs.len(),
                            if purpose.in_force {
                                ""
                            } else {
                                " (a purpose no longer in the policy set, under the last \
                                 retention it had)"
                            }
                        ));
                    self.audit.append(&mut w.tx, audit).await?;
                }
                Ok::<_, CoordinatorError>(())
            }
            .await;
            match result {
                Ok(()) => {
                    w.commit().await?;
                    done.signals += due.len();
                }
                Err(e) => {
                    drop(w);
                    self.reload(&mut matcher).await;
                    return Err(e);
                }
            }
        }
        drop(matcher);
        self.purge_ended(now, &mut done).await?;
        self.expire_monitor_records(&retentions, now, &mut done)
            .await?;
        if done != Expired::default() {
            tracing::info!(
                hits = done.hits,
                signals = done.signals,
                tombstones = done.tombstones,
                dissolved_hits = done.dissolved_hits,
                notices = done.notices,
                monitor_records = done.monitor_records,
                "retention: expired"
            );
            self.scrub().await;
        } else if let Err(e) = self.store.scrub_due().await {
            tracing::warn!(error = %e, "scrubbing the database after a deletion failed; will retry");
        }
        Ok(done)
    }

    /// Deletes the monitor's records past their monitor purpose's retention, audited.
    async fn expire_monitor_records(
        &self,
        retentions: &[signaalnet_service::retention::Retention],
        now: i64,
        done: &mut Expired,
    ) -> Result<(), CoordinatorError> {
        let mut w = self.write().await?;
        let deleted = crate::monitor::ledger::expire(&mut w.tx, retentions, now).await?;
        if deleted == 0 {
            return Ok(());
        }
        let event = Event::new(Step::Expire, &self.policy()).detail(format!(
            "{deleted} monitor record(s) past their monitor purpose's retention_unmatched deleted"
        ));
        self.audit.append(&mut w.tx, event).await?;
        w.commit().await?;
        done.monitor_records += deleted;
        Ok(())
    }

    /// Deletes tombstones, dissolved hits and the notices that hits ended, `ended_kept` after
    /// they ended. A re-delivery of a signal whose tombstone is gone would be taken as new;
    /// `ended_kept` is far beyond any delay a node's outbox can have.
    async fn purge_ended(&self, now: i64, done: &mut Expired) -> Result<(), CoordinatorError> {
        let kept = self.ended_kept;
        let bound = kept.latest_start_run_by(now);
        // Of `rows`, those whose `at` is `kept` ago or longer.
        let due = |rows: Vec<sqlx::any::AnyRow>, at: &str| -> Vec<sqlx::any::AnyRow> {
            rows.into_iter()
                .filter(|r| kept.has_run(r.get(at), now))
                .collect()
        };
        let mut w = self.write().await?;
        let tombstones: Vec<i64> = due(
            sqlx::query("SELECT seq, withdrawn_at FROM coord_signals WHERE withdrawn_at <= $1")
                .bind(bound)
                .fetch_all(&mut *w.tx)
                .await?,
            "withdrawn_at",
        )
        .iter()
        .map(|r| r.get("seq"))
        .collect();
        for seq in &tombstones {
            sqlx::query("DELETE FROM coord_signals WHERE seq = $1")
                .bind(seq)
                .execute(&mut *w.tx)
                .await?;
        }
        let hits: Vec<String> = due(
            sqlx::query("SELECT hit_id, dissolved_at FROM coord_hits WHERE dissolved_at <= $1")
                .bind(bound)
                .fetch_all(&mut *w.tx)
                .await?,
            "dissolved_at",
        )
        .iter()
        .map(|r| r.get("hit_id"))
        .collect();
        for hit_id in &hits {
            sqlx::query("DELETE FROM coord_hits WHERE hit_id = $1")
                .bind(hit_id)
                .execute(&mut *w.tx)
                .await?;
        }
        // A notice that a hit ended goes only once it has been streamed to its partner: a node
        // that was away longer must still learn that its signals expired.
        let notices: Vec<i64> = due(
            sqlx::query(
                "SELECT seq, partner_id, ended_at FROM coord_notifications WHERE ended_at <= $1",
            )
            .bind(bound)
            .fetch_all(&mut *w.tx)
            .await?,
            "ended_at",
        )
        .iter()
        .filter(|r| r.get::<i64, _>("seq") <= self.streamed_to(&r.get::<String, _>("partner_id")))
        .map(|r| r.get("seq"))
        .collect();
        for seq in &notices {
            sqlx::query("DELETE FROM coord_notifications WHERE seq = $1")
                .bind(seq)
                .execute(&mut *w.tx)
                .await?;
        }
        if tombstones.is_empty() && hits.is_empty() && notices.is_empty() {
            return Ok(());
        }
        let event = Event::new(Step::Expire, &self.policy())
            .references(hits.iter().map(|h| format!("hit:{h}")))
            .detail(format!(
                "{kept} after they ended: {} tombstone(s) of withdrawn or expired signals, {} \
                 dissolved hit(s) and {} notice(s) of ended hits deleted",
                tombstones.len(),
                hits.len(),
                notices.len()
            ));
        self.audit.append(&mut w.tx, event).await?;
        w.commit().await?;
        done.tombstones += tombstones.len();
        done.dissolved_hits += hits.len();
        done.notices += notices.len();
        Ok(())
    }
}

fn signal_ref(entry: &SignalEntry) -> String {
    format!("signal:{}/{}", entry.partner, entry.signal_id)
}

/// Leaves of signal `seq` only its tombstone: partner, signal id, purpose and when it ended.
pub(crate) async fn tombstone(
    tx: &mut Transaction<'static, Any>,
    seq: i64,
    now: i64,
) -> Result<(), CoordinatorError> {
    sqlx::query(
        "UPDATE coord_signals SET withdrawn_at = $1, attributes = '[]', observed_month = '' \
         WHERE seq = $2",
    )
    .bind(now)
    .bind(seq)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM coord_keys WHERE seq = $1")
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
