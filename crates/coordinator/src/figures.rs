//! What the coordinator's metrics endpoint reads at each scrape: the hits it holds per purpose
//! and every partner's quota use. (The counts of events, hits formed and refusals, are counted
//! where they happen.)

use crate::Coordinator;
use signaalnet_service::convert::submits_signals;
use signaalnet_telemetry::metrics::{Collect, Metrics, PurposeLabels};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The coordinator's [`Collect`].
pub struct Figures(pub Arc<Coordinator>);

#[tonic::async_trait]
impl Collect for Figures {
    async fn collect(&self, metrics: &Metrics) {
        let core = &self.0;
        let policy = core.policy();
        let mut held: BTreeMap<String, i64> = policy
            .purposes()
            .filter(|p| p.monitor.is_none())
            .map(|p| (p.id.clone(), 0))
            .collect();
        for hit in core.matcher.lock().await.hits() {
            *held.entry(hit.purpose.clone()).or_default() += 1;
        }
        for (purpose, n) in held {
            metrics
                .hits
                .get_or_create(&PurposeLabels { purpose })
                .set(n);
        }
        let partners: Vec<&str> = policy
            .partners()
            .filter(|p| submits_signals(p.role))
            .map(|p| p.id.as_str())
            .collect();
        signaalnet_service::measure::quota_figures(
            metrics,
            &core.quotas,
            &policy,
            &partners,
            core.now(),
        )
        .await;
        metrics.active.set(i64::from(!core.fence.is_lost()));
    }
}
