//! Starting, watching, killing, restarting and stopping the roles of a chain.

use super::{Chain, Run, Running};
use anyhow::{Context, Result};
use std::time::{Duration, Instant};

impl Chain {
    /// Starts a stopped role (again), as the chain runs its roles.
    pub(super) fn launch(&mut self, name: &str) -> Result<()> {
        let run = self.run.clone();
        let role = self
            .roles
            .get_mut(name)
            .with_context(|| format!("the chain has no role `{name}`"))?;
        role.running = match run {
            Run::InProcess => role.spawn_task()?,
            Run::Processes { exe, log_level } => role.spawn_process(&exe, &log_level)?,
        };
        Ok(())
    }

    /// Waits until `role` answers health checks; fails early when it stopped.
    pub async fn wait_healthy(&mut self, role: &str, patience: Duration) -> Result<()> {
        use tonic_health::pb::health_client::HealthClient;
        use tonic_health::pb::HealthCheckRequest;
        let deadline = Instant::now() + patience;
        let asker = self.nodes().next().context("no partner nodes")?.to_owned();
        let mut client = HealthClient::new(self.channel(role, &asker)?);
        loop {
            if client.check(HealthCheckRequest::default()).await.is_ok() {
                return Ok(());
            }
            if let Some(failed) = self.failed() {
                anyhow::bail!("{failed}");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{role} not healthy after {patience:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A role that stopped without being told to, with what it said.
    pub fn failed(&mut self) -> Option<String> {
        for role in self.roles.values_mut() {
            match &mut role.running {
                Running::Task { task, .. } if task.is_finished() => {
                    return Some(format!("role `{}` stopped unexpectedly", role.name));
                }
                Running::Process(child) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Some(format!(
                            "role `{}` stopped unexpectedly ({status}): {}",
                            role.name,
                            std::fs::read_to_string(&role.log).unwrap_or_default()
                        ));
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Waits until `role`'s log (run as a process) contains `needle`; fails with the log after
    /// `patience`.
    pub async fn wait_for_log(&self, role: &str, needle: &str, patience: Duration) -> Result<()> {
        let deadline = Instant::now() + patience;
        loop {
            let log = self.log(role)?;
            if log.contains(needle) {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "`{needle}` not in the log of {role} after {patience:?}:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills a role without warning (SIGKILL for a process): whatever it had not committed is
    /// gone.
    pub fn kill(&mut self, role: &str) -> Result<()> {
        let r = self
            .roles
            .get_mut(role)
            .with_context(|| format!("the chain has no role `{role}`"))?;
        match std::mem::replace(&mut r.running, Running::Stopped) {
            Running::Process(mut child) => {
                child.kill()?;
                child.wait()?;
            }
            Running::Task { task, .. } => task.abort(),
            Running::Stopped => {}
        }
        Ok(())
    }

    /// Starts a second process of `role` with the same configuration file (for the coordinator:
    /// the standby, which waits for the writer fence), logging to `<dir>/<role>-<suffix>.log`.
    /// The caller owns the process. Only for a chain run as processes.
    pub fn spawn_another(
        &self,
        role: &str,
        suffix: &str,
    ) -> Result<(std::process::Child, std::path::PathBuf)> {
        let Run::Processes { exe, log_level } = &self.run else {
            anyhow::bail!("a chain run in this process cannot start a second process of a role");
        };
        let r = self
            .roles
            .get(role)
            .with_context(|| format!("the chain has no role `{role}`"))?;
        let log_path = self.path.join(format!("{role}-{suffix}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let child = std::process::Command::new(exe)
            .arg(r.kind.command())
            .arg("--config")
            .arg(&r.config)
            .env("RUST_LOG", log_level)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting another {role} process"))?;
        Ok((child, log_path))
    }

    /// Starts a killed role again (a process re-reads its configuration file) and waits until
    /// it is healthy.
    pub async fn restart(&mut self, role: &str) -> Result<()> {
        self.launch(role)?;
        self.wait_healthy(role, Duration::from_secs(60)).await
    }

    /// Stops every role and reports the first error any of them ended with.
    pub async fn stop(mut self) -> Result<()> {
        // Roles stop together; a role still draining a stream after the deadline is aborted.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut first = Ok(());
        for role in self.roles.values_mut() {
            if let Running::Task { stop, .. } = &role.running {
                let _ = stop.send(true);
            }
        }
        for role in self.roles.values_mut() {
            let result = match std::mem::replace(&mut role.running, Running::Stopped) {
                Running::Task { mut task, .. } => {
                    match tokio::time::timeout_at(deadline, &mut task).await {
                        Ok(Ok(r)) => r.map_err(anyhow::Error::from),
                        Ok(Err(e)) => Err(anyhow::anyhow!("{e}")),
                        Err(_) => {
                            task.abort();
                            Ok(())
                        }
                    }
                }
                // A role process holds nothing the caller still needs: it is killed.
                Running::Process(mut child) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    Ok(())
                }
                Running::Stopped => Ok(()),
            };
            if let Err(e) = result {
                if first.is_ok() {
                    first = Err(e.context(format!("role `{}`", role.name)));
                }
            }
        }
        first
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        for role in self.roles.values_mut() {
            match std::mem::replace(&mut role.running, Running::Stopped) {
                Running::Process(mut child) => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                Running::Task { task, .. } => task.abort(),
                Running::Stopped => {}
            }
        }
    }
}
