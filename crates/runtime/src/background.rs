//! The tasks every role runs beside its service: policy reload, audit sealing, retention.

use crate::Schedule;
use signaalnet_service::policy::{run_reloader, PolicyTarget, RolePolicy};
use std::sync::Arc;
use std::time::Duration;

/// Seals the audit trail (signs the newest entry) every few seconds, so at most that much of
/// the end of a trail can be cut off unnoticed.
pub async fn run_sealer(target: Arc<dyn PolicyTarget>) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if let Err(e) = target.audit().seal(target.store()).await {
            tracing::error!(error = %e, "sealing the audit trail failed");
        }
    }
}

/// Runs the role's retention every `every`, the first time right after start.
pub async fn run_retention(target: Arc<dyn PolicyTarget>, every: Duration) {
    use tracing::Instrument;
    loop {
        // A processing step of its own in the processing log (the expiries in it carry their
        // purposes' processing activities; a run that finds nothing carries none).
        let span = signaalnet_telemetry::step("expire", signaalnet_telemetry::Kind::Internal);
        target.expire().instrument(span).await;
        tokio::time::sleep(every).await;
    }
}

/// Background tasks every role runs: policy reload, audit sealing, retention. Dropping the guard
/// seals once more and stops them.
pub struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    target: Arc<dyn PolicyTarget>,
}

impl Background {
    pub fn start(
        policy: &Arc<RolePolicy>,
        schedule: Schedule,
        target: Arc<dyn PolicyTarget>,
    ) -> Self {
        Self {
            tasks: vec![
                tokio::spawn(run_reloader(
                    Arc::clone(policy),
                    Arc::clone(&target),
                    schedule.reload_every,
                )),
                tokio::spawn(run_sealer(Arc::clone(&target))),
                tokio::spawn(run_retention(Arc::clone(&target), schedule.retention_every)),
            ],
            target,
        }
    }

    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Err(e) = self.target.audit().seal(self.target.store()).await {
            tracing::error!(error = %e, "sealing the audit trail at shutdown failed");
        }
    }
}
