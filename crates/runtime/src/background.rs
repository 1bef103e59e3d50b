//! The tasks every role runs beside its service: policy reload, audit sealing, retention, and
//! offering the newest checkpoint to each witness.

use crate::Schedule;
use signaalnet_service::policy::{run_reloader, PolicyTarget, RolePolicy};
use signaalnet_service::witness::Witness;
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

/// Offers the trail's newest checkpoint to `witness` every `every` (sealing runs every 5 s, so
/// that is the newest entry but a few seconds). A witness that cannot be reached or refuses is
/// tried again, less often while it keeps failing, and logged (a warning from the third failure
/// in a row: roles of a chain starting together miss each other at first); the role goes on.
pub async fn run_witness(target: Arc<dyn PolicyTarget>, witness: Witness, every: Duration) {
    let mut delay = every;
    let mut failures = 0u32;
    loop {
        tokio::time::sleep(delay).await;
        match witness.offer(target.audit(), target.store()).await {
            Ok(offered) => {
                if let Some(seq) = offered {
                    tracing::debug!(witness = witness.url(), seq, "checkpoint witnessed");
                }
                failures = 0;
                delay = every;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures >= 3 {
                    tracing::warn!(witness = witness.url(), error = %e, failures, "offering the newest audit checkpoint to a witness failed; trying again");
                } else {
                    tracing::info!(witness = witness.url(), error = %e, "offering the newest audit checkpoint to a witness failed; trying again");
                }
                delay = (delay * 2).min(every.max(MAX_WITNESS_DELAY));
            }
        }
    }
}

/// The longest wait between offers to a witness that keeps failing.
const MAX_WITNESS_DELAY: Duration = Duration::from_secs(300);

/// How long a role shutting down waits for its witnesses to take its last checkpoint.
const WITNESS_AT_SHUTDOWN: Duration = Duration::from_secs(2);

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

/// Background tasks every role runs: policy reload, audit sealing, retention, witnessing.
/// [`Background::stop`] stops them, seals once more and offers that checkpoint to the witnesses.
pub struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    target: Arc<dyn PolicyTarget>,
    witnesses: Vec<Witness>,
}

impl Background {
    pub fn start(
        policy: &Arc<RolePolicy>,
        schedule: Schedule,
        target: Arc<dyn PolicyTarget>,
    ) -> Self {
        let mut tasks = vec![
            tokio::spawn(run_reloader(
                Arc::clone(policy),
                Arc::clone(&target),
                schedule.reload_every,
            )),
            tokio::spawn(run_sealer(Arc::clone(&target))),
            tokio::spawn(run_retention(Arc::clone(&target), schedule.retention_every)),
        ];
        for witness in &schedule.witnesses {
            tasks.push(tokio::spawn(run_witness(
                Arc::clone(&target),
                witness.clone(),
                schedule.witness_every,
            )));
        }
        Self {
            tasks,
            target,
            witnesses: schedule.witnesses,
        }
    }

    /// Stops the tasks without sealing or offering anything more: the role may no longer
    /// write (another coordinator took over its database).
    pub fn abandon(self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Err(e) = self.target.audit().seal(self.target.store()).await {
            tracing::error!(error = %e, "sealing the audit trail at shutdown failed");
        }
        // Offered to every witness at once, all within one deadline: shutdown waits at most that.
        let deadline = tokio::time::Instant::now() + WITNESS_AT_SHUTDOWN;
        let offers: Vec<_> = self
            .witnesses
            .iter()
            .map(|witness| {
                let (witness, target) = (witness.clone(), Arc::clone(&self.target));
                tokio::spawn(async move {
                    let offered = witness.offer(target.audit(), target.store()).await;
                    (witness, offered)
                })
            })
            .collect();
        for mut offer in offers {
            match tokio::time::timeout_at(deadline, &mut offer).await {
                Ok(Ok((_, Ok(_)))) => {}
                Ok(Ok((witness, Err(e)))) => {
                    tracing::warn!(witness = witness.url(), error = %e, "offering the last audit checkpoint to a witness failed");
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "offering the last audit checkpoint to a witness failed")
                }
                Err(_) => {
                    offer.abort();
                    tracing::warn!("a witness did not take the last audit checkpoint in time");
                }
            }
        }
    }
}
