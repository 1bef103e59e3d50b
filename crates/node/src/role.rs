//! The partner node as a role: its configuration file and its startup (open the store and the
//! node secret, start the outbox and the notification watcher, serve, run the background loops
//! until shutdown).

use crate::outbox::Upstream;
use crate::Node;
use serde::{Deserialize, Serialize};
use signaalnet_policy::PartnerRole;
use signaalnet_pseudonym::PartnerEncryptor;
use signaalnet_runtime::process::{load_system, run_role};
use signaalnet_runtime::{Background, Governance, StartError};
use signaalnet_service::limits::Limits;
use signaalnet_service::policy::{PolicyTarget, RoleGrpc};
use signaalnet_service::role_channel;
use signaalnet_store::Location;
use signaalnet_telemetry::export::TelemetryConfig;
use signaalnet_tls::{RoleUrl, TlsFiles};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub listen: SocketAddr,
    /// The partner this node runs for (its id in the policy set).
    pub partner: String,
    pub policies: PathBuf,
    pub system_keys: PathBuf,
    pub coordinator_context: String,
    /// The transcryptors in ceremony order: `"https://host:port"`, or `{ url = "https://…", oin
    /// = "…" }` to accept only that organisation's certificate there (else any transcryptor's
    /// of the policy set).
    pub transcryptors: Vec<RoleUrl>,
    /// The coordinator, in either form.
    pub coordinator: RoleUrl,
    /// SQLite file `node-<partner>.db` lives here (and the secrets, unless `[governance]
    /// secrets_dir` puts them apart).
    pub data_dir: PathBuf,
    #[serde(default)]
    pub database_url: Option<String>,
    /// The node's HMAC secret for lookups; created (mode 0600) on first start. Default
    /// `<secrets_dir>/node-<partner>.secret`. Refused at start when others may read it.
    #[serde(default)]
    pub secret: Option<PathBuf>,
    pub tls: TlsFiles,
    #[serde(default)]
    pub governance: Governance,
    /// Processing logs (Logboek Dataverwerkingen) over OTLP; off unless `otlp_endpoint` is set.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Limits on every call (timeouts, connection caps, per-caller rate and concurrency).
    #[serde(default)]
    pub limits: Limits,
    /// The Prometheus endpoint (`listen = "127.0.0.1:9464"`); none unless `listen` is set.
    #[serde(default)]
    pub metrics: signaalnet_telemetry::metrics::MetricsConfig,
}

impl NodeConfig {
    /// Where the role keeps its data: PostgreSQL when `database_url` is set, else a SQLite file
    /// named after the role in `data_dir`.
    pub fn location(&self) -> Result<Location, signaalnet_store::StoreError> {
        Location::for_role(
            &self.data_dir,
            &self.role_name(),
            self.database_url.as_deref(),
        )
    }

    /// The audit trail's signing key.
    pub fn audit_key(&self) -> PathBuf {
        self.governance.audit_key(&self.data_dir, &self.role_name())
    }

    /// Reads the configuration file, with `SIGNAALNET_NODE__…` overrides.
    pub fn load(path: &Path) -> Result<Self, StartError> {
        signaalnet_runtime::config::load(path, "node")
    }

    /// The role's name: `node-<partner>` (its database, secret and audit key are named so).
    pub fn role_name(&self) -> String {
        format!("node-{}", self.partner)
    }
}

/// `signaalnet node --config FILE`: the node as this process, until SIGINT or SIGTERM.
pub fn run_process(config: NodeConfig) -> Result<(), StartError> {
    run_role(
        config.listen,
        &config.telemetry.clone(),
        &config.tls.clone(),
        "node",
        format!("signaalnet-{}", config.role_name()),
        |listener| run(config, listener, signaalnet_runtime::process::interrupted()),
    )
}

/// Runs the node on `listener` until `shutdown` completes.
pub async fn run(
    config: NodeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let role = config.role_name();
    let accountable = config.governance.open(
        "node",
        &role,
        &config.policies,
        &config.data_dir,
        &config.tls,
    )?;
    let system = load_system(&config.system_keys, "node", &config.coordinator_context)?;
    let location = config.location()?;
    let store = crate::open_store(&location).await?;
    let secret_path = config.secret.clone().unwrap_or_else(|| {
        config
            .governance
            .secrets_dir(&config.data_dir)
            .join(format!("{role}.secret"))
    });
    signaalnet_runtime::files::check_secret(&secret_path, "the node secret")?;
    let secret = crate::load_or_create_secret(&secret_path)
        .map_err(|e| StartError::role("the node secret", e))?;
    // Each channel accepts only the server it is for (its pinned OIN, or the role's in the
    // policy set), checked against the role's revocation lists at every handshake.
    let to = |url: &RoleUrl, role: PartnerRole| {
        role_channel(url, role, &accountable.trust, accountable.policy.live())
    };
    let coordinator = to(&config.coordinator, PartnerRole::Coordinator)?;
    let node = Arc::new(
        Node::open(
            store,
            accountable.policy.live().clone(),
            &config.partner,
            PartnerEncryptor::new(system),
            &secret,
            accountable.audit,
        )
        .await
        .map_err(|e| StartError::role("opening the node's store", e))?
        .with_ended_kept(accountable.ended_kept)
        .with_coordinator(coordinator.clone()),
    );
    let figures = signaalnet_runtime::process::serve_metrics(
        &config.metrics,
        node.metrics(),
        Arc::new(crate::figures::Figures(Arc::clone(&node))),
    )
    .await?;
    let upstream = Upstream {
        transcryptors: config
            .transcryptors
            .iter()
            .map(|url| to(url, PartnerRole::Transcryptor))
            .collect::<Result<_, _>>()?,
        coordinator,
        context: config.coordinator_context.clone(),
    };
    let outbox = tokio::spawn(crate::outbox::run_outbox(
        Arc::clone(&node),
        upstream.clone(),
    ));
    let watcher = tokio::spawn(crate::watcher::run_watcher(
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
    let served = crate::serve(listener, &config.tls, &config.limits, node, role, shutdown).await;
    outbox.abort();
    watcher.abort();
    if let Some(figures) = figures {
        figures.abort();
    }
    background.stop().await;
    Ok(served?)
}
