//! The whole chain on loopback, each role on its own port with its own certificate, database
//! and configuration, exactly as the role commands start them: as tasks in this process
//! (`signaalnet demo`) or each as its own `signaalnet <role> --config` process
//! (`signaalnet bench`, which reads every role's memory and CPU time).

use crate::commands::transcryptor::{RateLimitConfig, TranscryptorConfig};
use crate::roles::{self, CoordinatorConfig, Governance, NodeConfig};
use anyhow::{Context, Result};
use signaalnet_policy::{PartnerRole, PolicySet};
use signaalnet_proto::v1::analyst_service_client::AnalystServiceClient;
use signaalnet_proto::v1::partner_service_client::PartnerServiceClient;
use signaalnet_service::convert::submits_signals;
use signaalnet_tls::dev::{write_dev_pki, DevIdentity};
use signaalnet_tls::{Oin, TlsFiles};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub const CONTEXT: &str = "coordinator/demo";

/// How the roles run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// As tasks of this process.
    InProcess,
    /// Each as its own process of this executable, with a configuration file written under the
    /// chain's directory and its log in `<dir>/<role>.log`.
    Processes,
}

/// A role running as its own process.
struct Process {
    name: String,
    child: std::process::Child,
}

pub struct Chain {
    pub policy: PolicySet,
    pub certs: PathBuf,
    /// Partner id → partner API URL.
    pub nodes: BTreeMap<String, String>,
    pub coordinator: String,
    /// Where each role keeps its data (`data_dir`) and, on PostgreSQL, its own database.
    pub data_dir: PathBuf,
    pub databases: BTreeMap<String, String>,
    stop: watch::Sender<bool>,
    tasks: Vec<(String, JoinHandle<Result<()>>)>,
    processes: std::sync::Mutex<Vec<Process>>,
}

/// The files `write_dev_pki` wrote for `id`.
fn dev_tls(certs: &Path, id: &str) -> TlsFiles {
    TlsFiles {
        ca: certs.join("ca.pem"),
        cert: certs.join(format!("{id}.pem")),
        key: certs.join(format!("{id}.key")),
    }
}

async fn loopback() -> Result<(tokio::net::TcpListener, String)> {
    let listener = roles::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let url = format!("https://{}", listener.local_addr()?);
    Ok((listener, url))
}

impl Chain {
    /// Generates keys and certificates under `dir` and starts every role: on SQLite files
    /// under `dir/data`, or with `postgres` (an administrator's URL) on a fresh PostgreSQL
    /// database per role.
    pub async fn start(dir: &Path, policies: &Path, postgres: Option<&str>) -> Result<Self> {
        Self::start_as(dir, policies, postgres, Run::InProcess).await
    }

    /// [`Chain::start`], with the roles run as `run` says.
    pub async fn start_as(
        dir: &Path,
        policies: &Path,
        postgres: Option<&str>,
        run: Run,
    ) -> Result<Self> {
        let mut databases = BTreeMap::new();
        let mut database_for = async |role: &str| -> Result<Option<String>> {
            let Some(admin) = postgres else {
                return Ok(None);
            };
            let url = signaalnet_store::fresh_postgres_database(admin).await?;
            databases.insert(role.to_owned(), url.clone());
            Ok(Some(url))
        };
        let policy = PolicySet::load(policies).map_err(|p| anyhow::anyhow!("{p}"))?;
        let certs = dir.join("certs");
        let identities: Vec<DevIdentity> = policy
            .partners()
            .map(|p| {
                Ok(DevIdentity {
                    name: p.id.clone(),
                    organisation: p.name.clone(),
                    oin: Oin::parse(p.oins.first().context("partner without OIN")?)?,
                })
            })
            .collect::<Result<_>>()?;
        write_dev_pki(&certs, &identities)?;
        let transcryptor_ids: Vec<String> = policy
            .partners()
            .filter(|p| p.role == PartnerRole::Transcryptor)
            .map(|p| p.id.clone())
            .collect();
        let coordinator_id = policy
            .partners()
            .find(|p| p.role == PartnerRole::Coordinator)
            .map(|p| p.id.clone())
            .context("the policy set names no coordinator")?;
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys)?;
        let transcryptor_keys: Vec<PathBuf> = (1..=transcryptor_ids.len())
            .map(|i| keys.join(format!("transcryptor-{i}.json")))
            .collect();
        let system_keys = keys.join("system.json");
        let handle_key = keys.join("coordinator-handle.key");
        crate::commands::keys::ceremony(
            transcryptor_ids.len(),
            CONTEXT,
            &system_keys,
            &handle_key,
            &transcryptor_keys,
        )?;
        let tls = |id: &str| dev_tls(&certs, id);
        let (stop, _) = watch::channel(false);
        let stopped = |stop: &watch::Sender<bool>| {
            let mut rx = stop.subscribe();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut tasks = Vec::new();
        let mut processes = Vec::new();
        let mut transcryptor_urls = Vec::new();
        for (id, keys) in transcryptor_ids.iter().zip(&transcryptor_keys) {
            let (listener, url) = loopback().await?;
            let config = TranscryptorConfig {
                listen: listener.local_addr()?,
                policies: policies.to_owned(),
                keys: keys.clone(),
                system_keys: system_keys.clone(),
                coordinator_context: CONTEXT.to_owned(),
                tls: tls(id),
                rate_limit: RateLimitConfig::default(),
                name: id.clone(),
                data_dir: dir.join("data"),
                database_url: database_for(id).await?,
                governance: Governance::default(),
                telemetry: Default::default(),
            };
            if run == Run::Processes {
                drop(listener);
                processes.push(Process::spawn(dir, id, "transcryptor", &config)?);
            } else {
                let shutdown = stopped(&stop);
                tasks.push((
                    id.clone(),
                    tokio::spawn(async move {
                        crate::commands::transcryptor::serve_config(&config, listener, shutdown)
                            .await
                    }),
                ));
            }
            transcryptor_urls.push(url);
        }
        let (listener, coordinator) = loopback().await?;
        let config = CoordinatorConfig {
            listen: listener.local_addr()?,
            policies: policies.to_owned(),
            system_keys: system_keys.clone(),
            handle_key,
            coordinator_context: CONTEXT.to_owned(),
            transcryptors: transcryptor_urls.clone(),
            data_dir: dir.join("data"),
            database_url: database_for("coordinator").await?,
            tls: tls(&coordinator_id),
            governance: Governance::default(),
            telemetry: Default::default(),
        };
        if run == Run::Processes {
            drop(listener);
            processes.push(Process::spawn(dir, "coordinator", "coordinator", &config)?);
        } else {
            tasks.push((
                coordinator_id.clone(),
                tokio::spawn(roles::run_coordinator(config, listener, stopped(&stop))),
            ));
        }
        let mut nodes = BTreeMap::new();
        for partner in policy.partners().filter(|p| submits_signals(p.role)) {
            let (listener, url) = loopback().await?;
            let config = NodeConfig {
                listen: listener.local_addr()?,
                partner: partner.id.clone(),
                policies: policies.to_owned(),
                system_keys: system_keys.clone(),
                coordinator_context: CONTEXT.to_owned(),
                transcryptors: transcryptor_urls.clone(),
                coordinator: coordinator.clone(),
                data_dir: dir.join("data"),
                database_url: database_for(&format!("node-{}", partner.id)).await?,
                secret: None,
                tls: tls(&partner.id),
                governance: Governance::default(),
                telemetry: Default::default(),
            };
            if run == Run::Processes {
                drop(listener);
                let name = format!("node-{}", partner.id);
                processes.push(Process::spawn(dir, &name, "node", &config)?);
            } else {
                tasks.push((
                    partner.id.clone(),
                    tokio::spawn(roles::run_node(config, listener, stopped(&stop))),
                ));
            }
            nodes.insert(partner.id.clone(), url);
        }
        Ok(Self {
            policy,
            certs,
            nodes,
            coordinator,
            data_dir: dir.join("data"),
            databases,
            stop,
            tasks,
            processes: std::sync::Mutex::new(processes),
        })
    }

    /// The roles running as processes: their names (`coordinator`, `node-<partner>`, the
    /// transcryptors' ids) and process ids.
    pub fn processes(&self) -> Vec<(String, u32)> {
        self.processes
            .lock()
            .map(|p| p.iter().map(|p| (p.name.clone(), p.child.id())).collect())
            .unwrap_or_default()
    }

    /// Where `role` (`coordinator`, `node-<partner>`, a transcryptor's id) stores its data.
    pub fn location(&self, role: &str) -> Result<signaalnet_store::Location> {
        Ok(signaalnet_store::Location::for_role(
            &self.data_dir,
            role,
            self.databases.get(role).map(String::as_str),
        )?)
    }

    pub fn tls(&self, partner: &str) -> TlsFiles {
        dev_tls(&self.certs, partner)
    }

    fn channel(&self, url: &str, as_partner: &str) -> Result<Channel> {
        Ok(signaalnet_service::channel(url, &self.tls(as_partner))?)
    }

    /// The partner API of `partner`'s node, called with that partner's certificate.
    pub fn partner(&self, partner: &str) -> Result<PartnerServiceClient<Channel>> {
        let url = self
            .nodes
            .get(partner)
            .with_context(|| format!("no node for `{partner}`"))?;
        Ok(PartnerServiceClient::new(self.channel(url, partner)?))
    }

    /// The coordinator's analyst API, called with `partner`'s certificate.
    pub fn analyst(&self, partner: &str) -> Result<AnalystServiceClient<Channel>> {
        Ok(AnalystServiceClient::new(
            self.channel(&self.coordinator, partner)?,
        ))
    }

    /// Waits until the coordinator (which starts once it holds every transcryptor's key
    /// share) and every node answer health checks.
    pub async fn ready(&self, patience: std::time::Duration) -> Result<()> {
        use tonic_health::pb::health_client::HealthClient;
        use tonic_health::pb::HealthCheckRequest;
        let deadline = std::time::Instant::now() + patience;
        let any = self
            .nodes
            .keys()
            .next()
            .context("no partner nodes")?
            .clone();
        let mut targets = vec![self.coordinator.clone()];
        targets.extend(self.nodes.values().cloned());
        for url in targets {
            let mut client = HealthClient::new(self.channel(&url, &any)?);
            loop {
                match client.check(HealthCheckRequest::default()).await {
                    Ok(_) => break,
                    Err(_) if std::time::Instant::now() < deadline => {
                        if let Some(failed) = self.failed() {
                            anyhow::bail!("{failed}");
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    Err(s) => anyhow::bail!("{url} not ready: {}", s.message()),
                }
            }
        }
        Ok(())
    }

    /// A role that stopped early, with its error.
    pub fn failed(&self) -> Option<String> {
        if let Some((id, _)) = self.tasks.iter().find(|(_, t)| t.is_finished()) {
            return Some(format!("role `{id}` stopped unexpectedly"));
        }
        let mut processes = self.processes.lock().ok()?;
        processes.iter_mut().find_map(|p| match p.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "role `{}` stopped unexpectedly ({status}); see {}",
                p.name,
                self.data_dir
                    .parent()
                    .unwrap_or(&self.data_dir)
                    .join(format!("{}.log", p.name))
                    .display()
            )),
            _ => None,
        })
    }

    /// Stops every role and reports the first error any of them ended with.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        // Role processes hold nothing the caller still needs (the directory is thrown away):
        // dropping one kills it.
        if let Ok(mut processes) = self.processes.lock() {
            processes.clear();
        }
        // Roles stop together; a role still draining a stream after the deadline is aborted.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut first = Ok(());
        for (id, mut task) in self.tasks {
            let result = match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => Err(anyhow::anyhow!("{e}")),
                Err(_) => {
                    task.abort();
                    Ok(())
                }
            };
            if let Err(e) = result {
                if first.is_ok() {
                    first = Err(e.context(format!("role `{id}`")));
                }
            }
        }
        first
    }
}

impl Process {
    /// Writes `config` to `<dir>/<name>.toml` and starts `signaalnet <command> --config` on it.
    fn spawn(
        dir: &Path,
        name: &str,
        command: &str,
        config: &impl serde::Serialize,
    ) -> Result<Self> {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml::to_string(config)?)
            .with_context(|| format!("writing {}", path.display()))?;
        let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
        let child = std::process::Command::new(std::env::current_exe()?)
            .arg(command)
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting the {name} process"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
