//! Retention: a hit whose last change is older than its purpose's `retention_hits` expires with
//! every signal in it (each partner involved is told: EXPIRED); a signal that is in no hit
//! expires after `retention_unmatched` from its receipt. An expired signal's pseudonyms and
//! attributes are deleted; a tombstone (partner, signal id) stays so a late re-delivery cannot
//! bring it back. Every expiry is in the audit trail.

use crate::matching::{Change, HitEvent, SignalEntry};
use crate::{Coordinator, CoordinatorError};
use signaalnet_audit::{Event, Step};
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;

/// What one expiry run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    pub hits: usize,
    pub signals: usize,
}

impl Coordinator {
    /// Deletes everything past its retention on the coordinator's clock.
    pub async fn expire(&self) -> Result<Expired, CoordinatorError> {
        let policy = self.policy();
        let now = self.now();
        let mut done = Expired::default();
        let mut matcher = self.matcher.lock().await;
        let hits: Vec<(String, String, i64)> = sqlx::query(
            "SELECT hit_id, purpose, updated_at FROM coord_hits WHERE dissolved_at IS NULL",
        )
        .fetch_all(self.store.pool())
        .await?
        .iter()
        .map(|r| (r.get("hit_id"), r.get("purpose"), r.get("updated_at")))
        .collect();
        for (hit_id, purpose, updated_at) in hits {
            let Some(retention) = policy.purpose(&purpose).map(|p| p.retention_hits) else {
                continue;
            };
            if retention.after(updated_at) > now {
                continue;
            }
            let Some(hit) = matcher.hit(&hit_id).cloned() else {
                continue;
            };
            let removed: Vec<SignalEntry> = hit
                .members
                .iter()
                .filter_map(|s| matcher.signal(*s).cloned())
                .collect();
            let mut w = self.store.write().await?;
            let result = async {
                for entry in &removed {
                    tombstone(&mut w.tx, entry.seq, now).await?;
                    matcher.remove(entry.seq)?;
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
                        "hit expired after retention_hits {} without change; {} signal(s) deleted",
                        policy
                            .purpose(&purpose)
                            .map(|p| p.retention_hits.to_string())
                            .unwrap_or_default(),
                        removed.len()
                    ));
                self.record_changes(&policy, &mut w.tx, &matcher, audit, &[event], &removed)
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
        for purpose in policy.purposes().filter(|p| p.monitor.is_none()) {
            // Only signals received by `bound` can have run their retention; whether each has is
            // decided in the calendar from its own receipt.
            let retention = purpose.retention_unmatched;
            let bound = retention.latest_start_run_by(now);
            // The matcher holds every signal that is in a hit; others are only stored.
            let due: Vec<(i64, String, String)> = sqlx::query(
                "SELECT seq, partner_id, signal_id, received_at FROM coord_signals \
                 WHERE purpose = $1 AND withdrawn_at IS NULL AND received_at <= $2 ORDER BY seq",
            )
            .bind(&purpose.id)
            .bind(bound)
            .fetch_all(self.store.pool())
            .await?
            .iter()
            .filter(|r| retention.has_run(r.get("received_at"), now))
            .map(|r| (r.get("seq"), r.get("partner_id"), r.get("signal_id")))
            .filter(|(seq, _, _)| matcher.hit_of(*seq).is_none())
            .collect();
            if due.is_empty() {
                continue;
            }
            let mut by_partner: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut w = self.store.write().await?;
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
                    let audit = Event::for_purpose(Step::Expire, &policy, &purpose.id)
                        .references(refs.iter().cloned())
                        .detail(format!(
                            "{} unmatched signal(s) of {partner} expired after retention_unmatched {}",
                            refs.len(),
                            purpose.retention_unmatched
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
        if done != Expired::default() {
            tracing::info!(
                hits = done.hits,
                signals = done.signals,
                "retention: expired"
            );
        }
        Ok(done)
    }
}

fn signal_ref(entry: &SignalEntry) -> String {
    format!("signal:{}/{}", entry.partner, entry.signal_id)
}

async fn tombstone(
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
