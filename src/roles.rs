//! Starting each role from its configuration: used by the role commands (one process per role)
//! and by `signaalnet demo` (every role in one process, each on its own loopback port).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use signaalnet_audit::{Actor, Audit, Signer};
use signaalnet_coordinator::Coordinator;
use signaalnet_node::Node;
use signaalnet_node::Upstream;
use signaalnet_policy::signature::Signers;
use signaalnet_pseudonym::{CoordinatorContext, HandleKey, PartnerEncryptor, SystemPublicKeys};
use signaalnet_service::policy::{run_reloader, PolicyTarget, RoleGrpc, RolePolicy};
use signaalnet_store::{Clock, Location};
use signaalnet_telemetry::export::{Source, Telemetry, TelemetryConfig};
use signaalnet_tls::TlsFiles;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub(crate) fn load_system(path: &Path) -> Result<SystemPublicKeys> {
    serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| path.display().to_string())
}

/// What every role configures for accountability: who must have signed its policy set, how
/// often it looks for a changed set, and where its audit signing key lives.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Governance {
    /// Privacy officer public keys (`signaalnet policy keygen`); when any is given, the role
    /// only enforces a policy set signed by one of them.
    #[serde(default)]
    pub policy_signers: Vec<PathBuf>,
    /// Seconds between looks at the policy directory for a changed set (SIGHUP: at once).
    #[serde(default = "default_reload_seconds")]
    pub policy_reload_seconds: u64,
    /// The audit trail's checkpoint signing key (Ed25519, created on first start, mode 0600);
    /// default `<data_dir>/<role>.audit.key`. Keep a copy of `<key>.pub` where the role cannot
    /// write: `signaalnet audit verify --public-key` checks against it.
    #[serde(default)]
    pub audit_key: Option<PathBuf>,
    /// Seconds between retention runs (deleting unmatched signals and hits past their
    /// purpose's retention).
    #[serde(default = "default_retention_seconds")]
    pub retention_check_seconds: u64,
}

/// The same defaults as a configuration without a `[governance]` table (a derived `Default`
/// would give zero intervals, i.e. a reload and a retention run every second).
impl Default for Governance {
    fn default() -> Self {
        Self {
            policy_signers: Vec::new(),
            policy_reload_seconds: default_reload_seconds(),
            audit_key: None,
            retention_check_seconds: default_retention_seconds(),
        }
    }
}

fn default_reload_seconds() -> u64 {
    5
}

fn default_retention_seconds() -> u64 {
    60
}

/// A role's policy in force and its audit trail writer.
pub struct Accountability {
    pub policy: Arc<RolePolicy>,
    pub audit: Audit,
    pub schedule: Schedule,
}

/// How often a role's background tasks run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub reload_every: Duration,
    pub retention_every: Duration,
}

impl Governance {
    pub fn audit_key(&self, data_dir: &Path, role: &str) -> PathBuf {
        self.audit_key
            .clone()
            .unwrap_or_else(|| data_dir.join(format!("{role}.audit.key")))
    }

    /// Loads (and signature-checks) the policy set and opens the audit signing key.
    pub fn open(
        &self,
        kind: &'static str,
        role: &str,
        policies: &Path,
        data_dir: &Path,
        tls: &TlsFiles,
    ) -> Result<Accountability> {
        let oin = tls.own_oin()?.to_string();
        let signers = Signers::read(&self.policy_signers)?;
        let clock = Clock::system();
        let policy = RolePolicy::start(
            kind,
            oin.clone(),
            policies.to_owned(),
            signers,
            clock.now_ms(),
        )
        .map_err(|reason| anyhow::anyhow!("{reason}"))?;
        let own_role = policy
            .live()
            .current()
            .partner_by_oin(&oin)
            .map_or(kind, |p| p.role.as_str());
        let signer = Signer::load_or_create(&self.audit_key(data_dir, role))?;
        let audit = Audit::new(
            signer,
            Actor {
                oin,
                role: own_role.to_owned(),
            },
            clock,
        );
        Ok(Accountability {
            policy: Arc::new(policy),
            audit,
            schedule: Schedule {
                reload_every: Duration::from_secs(self.policy_reload_seconds.max(1)),
                retention_every: Duration::from_secs(self.retention_check_seconds.max(1)),
            },
        })
    }
}

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

/// Installs a role process's log and, when its `[telemetry]` names an OTLP endpoint, the export
/// of its processing logs (the exporter runs on `runtime`).
pub fn start_telemetry(
    runtime: &tokio::runtime::Runtime,
    config: &TelemetryConfig,
    tls: &TlsFiles,
    role: &'static str,
    service_name: String,
) -> Result<Telemetry> {
    let oin = tls.own_oin()?.to_string();
    let source = Source {
        service_name,
        role,
        oin,
    };
    Ok(runtime
        .block_on(async { signaalnet_telemetry::export::install("info", config, tls, &source) })?)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (how service managers stop a process): a role then
/// stops taking requests, finishes what it holds and seals its audit trail.
pub async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            tokio::signal::ctrl_c().await.ok();
        }
    }
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    pub listen: SocketAddr,
    pub policies: PathBuf,
    /// `system.json`, the ceremony record from `signaalnet keys finish` (or `keys setup`).
    pub system_keys: PathBuf,
    /// The analyst handle key from `signaalnet keys handle-key` (or `keys setup`), mode 0600.
    pub handle_key: PathBuf,
    pub coordinator_context: String,
    /// Every transcryptor, `https://host:port`; the coordinator fetches its key share from each.
    pub transcryptors: Vec<String>,
    /// SQLite file `coordinator.db` lives here unless `database_url` is set.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite.
    #[serde(default)]
    pub database_url: Option<String>,
    pub tls: TlsFiles,
    #[serde(default)]
    pub governance: Governance,
    /// Processing logs (Logboek Dataverwerkingen) over OTLP; off unless `otlp_endpoint` is set.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
}

pub async fn run_coordinator(
    config: CoordinatorConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let accountable = config.governance.open(
        "coordinator",
        "coordinator",
        &config.policies,
        &config.data_dir,
        &config.tls,
    )?;
    let system = load_system(&config.system_keys)?;
    let handle_hex = std::fs::read_to_string(&config.handle_key)
        .with_context(|| format!("reading {}", config.handle_key.display()))?;
    let handles = HandleKey::new(
        &hex::decode(handle_hex.trim())
            .with_context(|| format!("{}: not hex", config.handle_key.display()))?,
    )?;
    let context = CoordinatorContext::new(config.coordinator_context.clone())?;
    let location = Location::for_role(
        &config.data_dir,
        "coordinator",
        config.database_url.as_deref(),
    )?;
    let store = signaalnet_coordinator::open_store(&location).await?;
    let (decryptor, commitments) = signaalnet_coordinator::fetch_keys(
        &system,
        &config.transcryptors,
        &config.tls,
        &context,
        Duration::from_secs(60),
    )
    .await?;
    let core = Arc::new(
        Coordinator::open(
            store,
            accountable.policy.live().clone(),
            decryptor,
            commitments,
            handles,
            accountable.audit,
        )
        .await?,
    );
    let target: Arc<dyn PolicyTarget> = core.clone();
    let background = Background::start(
        &accountable.policy,
        accountable.schedule,
        Arc::clone(&target),
    );
    tracing::info!(listen = %listener.local_addr()?, "coordinator serving");
    let role = RoleGrpc::new(accountable.policy, target);
    let served = signaalnet_coordinator::serve(listener, &config.tls, core, role, shutdown).await;
    background.stop().await;
    served?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub listen: SocketAddr,
    /// The partner this node runs for (its id in the policy set).
    pub partner: String,
    pub policies: PathBuf,
    pub system_keys: PathBuf,
    pub coordinator_context: String,
    /// The transcryptors in ceremony order, `https://host:port`.
    pub transcryptors: Vec<String>,
    pub coordinator: String,
    /// SQLite file `node-<partner>.db` and the node secret live here.
    pub data_dir: PathBuf,
    #[serde(default)]
    pub database_url: Option<String>,
    /// The node's HMAC secret for lookups; created (mode 0600) on first start. Default
    /// `<data_dir>/node-<partner>.secret`.
    #[serde(default)]
    pub secret: Option<PathBuf>,
    pub tls: TlsFiles,
    #[serde(default)]
    pub governance: Governance,
    /// Processing logs (Logboek Dataverwerkingen) over OTLP; off unless `otlp_endpoint` is set.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
}

pub async fn run_node(
    config: NodeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let role = format!("node-{}", config.partner);
    let accountable = config.governance.open(
        "node",
        &role,
        &config.policies,
        &config.data_dir,
        &config.tls,
    )?;
    let system = load_system(&config.system_keys)?;
    if system.context().as_str() != config.coordinator_context {
        anyhow::bail!(
            "{}: the ceremony was held for coordinator context `{}`, this node is configured \
             for `{}`",
            config.system_keys.display(),
            system.context().as_str(),
            config.coordinator_context
        );
    }
    let location = Location::for_role(&config.data_dir, &role, config.database_url.as_deref())?;
    let store = signaalnet_node::open_store(&location).await?;
    let secret_path = config
        .secret
        .clone()
        .unwrap_or_else(|| config.data_dir.join(format!("{role}.secret")));
    let secret = signaalnet_node::load_or_create_secret(&secret_path)?;
    let node = Arc::new(
        Node::open(
            store,
            accountable.policy.live().clone(),
            &config.partner,
            PartnerEncryptor::new(system),
            &secret,
            accountable.audit,
        )
        .await?,
    );
    let upstream = Upstream {
        transcryptors: config
            .transcryptors
            .iter()
            .map(|url| signaalnet_service::channel(url, &config.tls))
            .collect::<Result<_, _>>()?,
        coordinator: signaalnet_service::channel(&config.coordinator, &config.tls)?,
        context: config.coordinator_context.clone(),
    };
    let outbox = tokio::spawn(signaalnet_node::run_outbox(
        Arc::clone(&node),
        upstream.clone(),
    ));
    let watcher = tokio::spawn(signaalnet_node::run_watcher(
        Arc::clone(&node),
        upstream.coordinator.clone(),
    ));
    let target: Arc<dyn PolicyTarget> = node.clone();
    let background = Background::start(
        &accountable.policy,
        accountable.schedule,
        Arc::clone(&target),
    );
    tracing::info!(partner = %config.partner, listen = %listener.local_addr()?, "partner node serving");
    let role = RoleGrpc::new(accountable.policy, target);
    let served = signaalnet_node::serve(listener, &config.tls, node, role, shutdown).await;
    outbox.abort();
    watcher.abort();
    background.stop().await;
    served?;
    Ok(())
}
