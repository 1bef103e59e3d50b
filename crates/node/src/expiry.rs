//! Retention on the node. A signal in no hit expires `retention_unmatched` after it was
//! submitted (the coordinator, which received it later, expires its copy soon after); a signal
//! in a hit expires when the coordinator reports the hit EXPIRED. Expiring deletes the
//! ciphertexts, the keyed lookups and the case reference; the row stays with state `expired`
//! so the partner's status question still has an answer.

use crate::{Node, NodeError, SignalState};
use signaalnet_audit::{Event, Step};
use sqlx::{Any, Row, Transaction};

/// Deletes what the node keeps of `ids` and marks them expired, inside `tx`; records one
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
            "UPDATE node_signals SET state = $1, payload = $2, case_reference = '' \
             WHERE signal_id = $3 AND state IN ($4, $5, $6)",
        )
        .bind(SignalState::Expired.as_str())
        .bind(Vec::<u8>::new())
        .bind(id)
        .bind(SignalState::Pending.as_str())
        .bind(SignalState::Delivered.as_str())
        .bind(SignalState::Refused.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM node_signal_lookup WHERE signal_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM node_signal_hits WHERE signal_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
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

impl Node {
    /// Expires every signal in no hit whose purpose's `retention_unmatched` has passed on the
    /// node's clock; returns how many.
    pub async fn expire(&self) -> Result<usize, NodeError> {
        let policy = self.policy();
        let now = self.audit.clock().now();
        let mut total = 0;
        for purpose in policy.purposes().filter(|p| p.monitor.is_none()) {
            // Only signals created by `bound` can have run their retention; whether each has is
            // decided in the calendar from its own creation.
            let retention = purpose.retention_unmatched;
            let bound = retention.latest_start_run_by(now);
            let due: Vec<String> = sqlx::query(
                "SELECT s.signal_id, s.created_at FROM node_signals s WHERE s.purpose = $1 \
                 AND s.created_at <= $2 \
                 AND s.state IN ($3, $4, $5) AND NOT EXISTS \
                 (SELECT 1 FROM node_signal_hits h WHERE h.signal_id = s.signal_id) \
                 ORDER BY s.signal_id",
            )
            .bind(&purpose.id)
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
            let event = Event::for_purpose(Step::Expire, &policy, &purpose.id).detail(format!(
                "{} unmatched signal(s) expired after retention_unmatched {}: ciphertexts, \
                 lookups and case references deleted",
                due.len(),
                purpose.retention_unmatched
            ));
            let mut w = self.store.write().await?;
            total += expire_in(self, &mut w.tx, due.iter().map(String::as_str), event).await?;
            w.commit().await?;
        }
        if total > 0 {
            tracing::info!(partner = %self.partner_id, signals = total, "retention: expired");
        }
        Ok(total)
    }
}
