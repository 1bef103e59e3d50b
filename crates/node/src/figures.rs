//! What the node's metrics endpoint reads at each scrape: the outbox's depth and the age of its
//! oldest signal per state, and the partner's quota use. (Accepted signals, refusals and the
//! coordinator's answers are counted where they happen.)

use crate::state::SignalState;
use crate::Node;
use signaalnet_telemetry::metrics::{Collect, Metrics, StateLabels};
use sqlx::Row;
use std::sync::Arc;

/// The node's [`Collect`].
pub struct Figures(pub Arc<Node>);

/// The states a signal waits in for the outbox worker.
const WAITING: [SignalState; 2] = [SignalState::Pending, SignalState::WithdrawPending];

#[tonic::async_trait]
impl Collect for Figures {
    async fn collect(&self, metrics: &Metrics) {
        let node = &self.0;
        let now = node.audit.clock().now();
        for state in WAITING {
            // The outbox index (state, created_at) answers both without reading the rows.
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM node_signals WHERE state = $1",
            )
            .bind(state.as_str())
            .fetch_one(node.store.pool())
            .await;
            let labels = StateLabels {
                state: state.as_str().to_owned(),
            };
            match row {
                Ok(row) => {
                    let n: i64 = row.get("n");
                    let oldest: Option<i64> = row.get("oldest");
                    metrics.outbox.get_or_create(&labels).set(n);
                    let age = oldest.map_or(0, |t| now.saturating_sub(t).max(0));
                    metrics.outbox_oldest.get_or_create(&labels).set(age as f64);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: reading the outbox failed");
                }
            }
        }
        signaalnet_service::measure::quota_figures(
            metrics,
            &node.quotas,
            &node.policy(),
            &[node.partner_id.as_str()],
            now,
        )
        .await;
    }
}
