//! Withdrawal at the coordinator: a partner's node withdraws its signals; their keys and
//! attributes are deleted and the hits they were in are re-evaluated, all in one write
//! transaction per signal, so a crash leaves either the signal or its withdrawal.

use crate::core::Coordinator;
use crate::CoordinatorError;
use signaalnet_audit::{Actor, Event, Step};
use signaalnet_policy::Partner;
use sqlx::Row;

impl Coordinator {
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
        let mut deleted = false;
        for signal_id in signal_ids {
            let mut matcher = self.matcher.lock().await;
            let mut w = self.write().await?;
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
                    crate::expiry::tombstone(&mut w.tx, seq, self.now()).await?;
                    removed.extend(matcher.signal(seq).cloned());
                    if let Some(hit) = matcher.hit_of(seq) {
                        was_matched.extend(hit.members.iter().copied());
                    }
                    events = matcher.remove(seq)?;
                    was_active = true;
                }
                Some(_) => {}
            }
            // The monitor's record goes with any withdrawal, also of a signal that expired
            // before (the record outlives the signal).
            crate::monitor::ledger::forget(&mut w.tx, &self.record_keys, &partner.id, signal_id)
                .await?;
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
                .record_changes(
                    &policy,
                    &mut w.tx,
                    &matcher,
                    event,
                    &events,
                    crate::persist::Removed {
                        signals: &removed,
                        withdrawn: true,
                    },
                )
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
            deleted |= was_active;
            done.push(signal_id.clone());
        }
        if deleted {
            self.scrub().await;
        }
        Ok(done)
    }
}
