//! Retention on the node. A signal in no hit expires `retention_unmatched` after it was
//! submitted (the coordinator, which received it later, expires its copy soon after); a signal
//! in a hit expires when the coordinator reports the hit EXPIRED. A purpose removed from the
//! policy set expires under the last retention it had (`signaalnet_service::retention`).
//!
//! A signal that ends (withdrawn or expired) is forgotten at once ([`forget`]): its
//! ciphertexts, keyed lookups and case reference are deleted, and its case reference is blanked
//! in every hit notification the node keeps. What is left — the row with its id and state, so
//! that the partner's status question still has an answer, the notices of hits that ended, and
//! withdrawal requests kept for their idempotency — is deleted after `ended_kept` (default
//! [`signaalnet_service::retention::ENDED_KEPT`]).

use crate::{Node, NodeError, SignalState};
use prost::Message;
use signaalnet_audit::{Event, Step};
use signaalnet_proto::v1 as pb;
use sqlx::{Any, Row, Transaction};

/// Deletes everything the node keeps about signal `id` but its row (id, purpose, state): the
/// ciphertexts, the keyed lookups, the case reference, its place in hits, and its case
/// reference in every stored hit notification. Marks when it ended. Inside `tx`.
pub(crate) async fn forget(
    node: &Node,
    tx: &mut Transaction<'static, Any>,
    id: &str,
    withdrawn: bool,
) -> Result<(), NodeError> {
    let hits: Vec<String> = sqlx::query("SELECT hit_id FROM node_signal_hits WHERE signal_id = $1")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.get("hit_id"))
        .collect();
    // Every stored notice that names this signal is one of these hits': a notice that drops a
    // signal (SHRANK, DISSOLVED, EXPIRED) replaces the hit's earlier notices, so the notices
    // kept of a hit name no signal that its latest does not.
    for hit_id in hits {
        let rows = sqlx::query("SELECT seq, payload FROM node_hits WHERE hit_id = $1")
            .bind(&hit_id)
            .fetch_all(&mut **tx)
            .await?;
        for row in rows {
            let seq: i64 = row.get("seq");
            let payload: Vec<u8> = row.get("payload");
            let mut n = pb::HitNotification::decode(payload.as_slice())
                .map_err(|e| NodeError::Corrupt(format!("hit notification {seq}: {e}")))?;
            let mut changed = false;
            // A withdrawn signal is named as such from now on, not by an empty reference.
            for own in n.own_signals.iter_mut().filter(|o| o.signal_id == id) {
                changed |= !own.case_reference.is_empty() || (withdrawn && !own.withdrawn);
                own.case_reference.clear();
                own.withdrawn |= withdrawn;
            }
            if changed {
                sqlx::query("UPDATE node_hits SET payload = $1 WHERE seq = $2")
                    .bind(n.encode_to_vec())
                    .bind(seq)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    sqlx::query("DELETE FROM node_signal_hits WHERE signal_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    // The lookups exist only to find signals to withdraw.
    sqlx::query("DELETE FROM node_signal_lookup WHERE signal_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    // The request's MAC too: it covered the identifiers, so it could still test a guess.
    sqlx::query(
        "UPDATE node_signals SET payload = $1, case_reference = '', last_error = NULL, \
         request_mac = $1, ended_at = COALESCE(ended_at, $2) WHERE signal_id = $3",
    )
    .bind(Vec::<u8>::new())
    .bind(node.audit.clock().now())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks those of `ids` that are still live expired and forgets them, inside `tx`; records one
/// `expire` entry (`event`, with the expired signals as references) when any was still live.
async fn expire_in<'a>(
    node: &Node,
    tx: &mut Transaction<'static, Any>,
    ids: impl Iterator<Item = &'a str>,
    event: Event,
) -> Result<usize, NodeError> {
    let mut done = Vec::new();
    for id in ids {
        let changed = sqlx::query(
            "UPDATE node_signals SET state = $1 WHERE signal_id = $2 AND state IN ($3, $4, $5)",
        )
        .bind(SignalState::Expired.as_str())
        .bind(id)
        .bind(SignalState::Pending.as_str())
        .bind(SignalState::Delivered.as_str())
        .bind(SignalState::Refused.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        forget(node, tx, id, false).await?;
        if changed > 0 {
            done.push(node.signal_ref(id));
        }
    }
    let count = done.len();
    if count > 0 {
        node.audit.append(tx, event.references(done)).await?;
    }
    Ok(count)
}

/// The coordinator reported the hit of `ids` expired.
pub(crate) async fn expire_signals<'a>(
    node: &Node,
    tx: &mut Transaction<'static, Any>,
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<usize, NodeError> {
    let event = Event::new(Step::Expire, &node.policy()).detail(format!(
        "{} signal(s) in a hit the coordinator reported expired: ciphertexts, lookups and case \
         references deleted",
        ids.len()
    ));
    expire_in(node, tx, ids, event).await
}

/// What one retention run deleted on the node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// Signals past their retention, expired now.
    pub signals: usize,
    /// Rows of signals that ended (withdrawn, expired) longer than `ended_kept` ago, deleted.
    pub ended_signals: usize,
    /// Notices of hits that ended longer than `ended_kept` ago, deleted.
    pub ended_hits: usize,
    /// Withdrawal requests older than `ended_kept`, deleted.
    pub withdrawals: usize,
}

impl Node {
    /// Expires every signal in no hit whose purpose's `retention_unmatched` has passed on the
    /// node's clock, and deletes what is left of ended signals and hits after `ended_kept`.
    pub async fn expire(&self) -> Result<Expired, NodeError> {
        let policy = self.policy();
        let now = self.audit.clock().now();
        let mut done = Expired::default();
        let retentions = signaalnet_service::retention::remember(&self.store, &policy)
            .await
            .map_err(|e| NodeError::Corrupt(e.to_string()))?;
        for purpose in retentions.iter().filter(|r| !r.monitor) {
            // Only signals created by `bound` can have run their retention; whether each has is
            // decided in the calendar from its own creation.
            let retention = purpose.unmatched;
            let bound = retention.latest_start_run_by(now);
            let due: Vec<String> = sqlx::query(
                "SELECT s.signal_id, s.created_at FROM node_signals s WHERE s.purpose = $1 \
                 AND s.created_at <= $2 \
                 AND s.state IN ($3, $4, $5) AND NOT EXISTS \
                 (SELECT 1 FROM node_signal_hits h WHERE h.signal_id = s.signal_id) \
                 ORDER BY s.signal_id",
            )
            .bind(&purpose.purpose)
            .bind(bound)
            .bind(SignalState::Pending.as_str())
            .bind(SignalState::Delivered.as_str())
            .bind(SignalState::Refused.as_str())
            .fetch_all(self.store.pool())
            .await?
            .iter()
            .filter(|r| retention.has_run(r.get("created_at"), now))
            .map(|r| r.get("signal_id"))
            .collect();
            if due.is_empty() {
                continue;
            }
            let removed = if purpose.in_force {
                String::new()
            } else {
                " (a purpose no longer in the policy set, under the last retention it had)"
                    .to_owned()
            };
            let event =
                Event::for_purpose(Step::Expire, &policy, &purpose.purpose).detail(format!(
                "{} unmatched signal(s) expired after retention_unmatched {retention}{removed}: \
                     ciphertexts, lookups and case references deleted",
                due.len(),
            ));
            let mut w = self.store.write().await?;
            done.signals +=
                expire_in(self, &mut w.tx, due.iter().map(String::as_str), event).await?;
            w.commit().await?;
        }
        self.purge_ended(now, &mut done).await?;
        if done != Expired::default() {
            tracing::info!(
                partner = %self.partner_id,
                signals = done.signals,
                ended_signals = done.ended_signals,
                ended_hits = done.ended_hits,
                withdrawals = done.withdrawals,
                "retention: expired"
            );
            self.scrub().await;
        } else if let Err(e) = self.store.scrub_due().await {
            tracing::warn!(error = %e, "scrubbing the database after a deletion failed; will retry");
        }
        Ok(done)
    }

    /// Deletes the rows of signals that ended, the notices of hits that ended and the
    /// withdrawal requests, `ended_kept` after they ended (were made).
    async fn purge_ended(&self, now: i64, done: &mut Expired) -> Result<(), NodeError> {
        let kept = self.ended_kept;
        let bound = kept.latest_start_run_by(now);
        let ended = [
            SignalState::Withdrawn.as_str(),
            SignalState::Expired.as_str(),
        ];
        let mut w = self.store.write().await?;
        // Rows that ended before ended_at was recorded start their time now.
        sqlx::query(
            "UPDATE node_signals SET ended_at = $1 WHERE ended_at IS NULL AND state IN ($2, $3)",
        )
        .bind(now)
        .bind(ended[0])
        .bind(ended[1])
        .execute(&mut *w.tx)
        .await?;
        let signals: Vec<String> = sqlx::query(
            "SELECT signal_id, ended_at FROM node_signals WHERE ended_at <= $1 \
             AND state IN ($2, $3) ORDER BY signal_id",
        )
        .bind(bound)
        .bind(ended[0])
        .bind(ended[1])
        .fetch_all(&mut *w.tx)
        .await?
        .iter()
        .filter(|r| kept.has_run(r.get("ended_at"), now))
        .map(|r| r.get("signal_id"))
        .collect();
        for id in &signals {
            sqlx::query("DELETE FROM node_signals WHERE signal_id = $1")
                .bind(id)
                .execute(&mut *w.tx)
                .await?;
        }
        let hits: Vec<i64> =
            sqlx::query("SELECT seq, ended_at FROM node_hits WHERE ended_at <= $1")
                .bind(bound)
                .fetch_all(&mut *w.tx)
                .await?
                .iter()
                .filter(|r| kept.has_run(r.get("ended_at"), now))
                .map(|r| r.get("seq"))
                .collect();
        for seq in &hits {
            sqlx::query("DELETE FROM node_hits WHERE seq = $1")
                .bind(seq)
                .execute(&mut *w.tx)
                .await?;
        }
        let withdrawals: Vec<String> = sqlx::query(
            "SELECT idempotency_key, created_at FROM node_withdrawals WHERE created_at <= $1",
        )
        .bind(bound)
        .fetch_all(&mut *w.tx)
        .await?
        .iter()
        .filter(|r| kept.has_run(r.get("created_at"), now))
        .map(|r| r.get("idempotency_key"))
        .collect();
        for key in &withdrawals {
            sqlx::query("DELETE FROM node_withdrawals WHERE idempotency_key = $1")
                .bind(key)
                .execute(&mut *w.tx)
                .await?;
        }
        if signals.is_empty() && hits.is_empty() && withdrawals.is_empty() {
            return Ok(());
        }
        let event = Event::new(Step::Expire, &self.policy())
            .references(signals.iter().map(|id| self.signal_ref(id)))
            .detail(format!(
                "{kept} after they ended: {} withdrawn or expired signal(s), {} notice(s) of \
                 ended hits and {} withdrawal request(s) deleted",
                signals.len(),
                hits.len(),
                withdrawals.len()
            ));
        self.audit.append(&mut w.tx, event).await?;
        w.commit().await?;
        done.ended_signals += signals.len();
        done.ended_hits += hits.len();
        done.withdrawals += withdrawals.len();
        Ok(())
    }
}
