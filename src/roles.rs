//! Starting each role from its configuration: used by the role commands (one process per role)
//! and by `signaalnet demo` (every role in one process, each on its own loopback port).

use anyhow::{Context, Result};
use serde::Deserialize;
use signaalnet_coordinator::Coordinator;
use signaalnet_node::forward::Upstream;
use signaalnet_node::Node;
use signaalnet_policy::PolicySet;
use signaalnet_pseudonym::{CoordinatorContext, HandleKey, PartnerEncryptor, SystemPublicKeys};
use signaalnet_store::{Location, Store};
use signaalnet_tls::TlsFiles;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub fn load_policy(dir: &Path) -> Result<Arc<PolicySet>> {
    Ok(Arc::new(PolicySet::load(dir).map_err(|p| {
        anyhow::anyhow!("policy set {}: {p}", dir.display())
    })?))
}

fn load_system(path: &Path) -> Result<SystemPublicKeys> {
    serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| path.display().to_string())
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    pub listen: SocketAddr,
    pub policies: PathBuf,
    /// `system.json` from `signaalnet keys setup`.
    pub system_keys: PathBuf,
    /// `coordinator-handle.key` from `signaalnet keys setup` (mode 0600).
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
}

pub async fn run_coordinator(
    config: CoordinatorConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let policy = load_policy(&config.policies)?;
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
    let store = Store::open(&location).await?;
    let decryptor = signaalnet_coordinator::fetch_decryptor(
        &system,
        &config.transcryptors,
        &config.tls,
        &context,
        Duration::from_secs(60),
    )
    .await?;
    let core = Arc::new(Coordinator::open(store, policy, decryptor, handles).await?);
    tracing::info!(listen = %listener.local_addr()?, "coordinator serving");
    signaalnet_coordinator::serve(listener, &config.tls, core, shutdown).await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
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
}

pub async fn run_node(
    config: NodeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let policy = load_policy(&config.policies)?;
    let system = load_system(&config.system_keys)?;
    let role = format!("node-{}", config.partner);
    let location = Location::for_role(&config.data_dir, &role, config.database_url.as_deref())?;
    let store = Store::open(&location).await?;
    let secret_path = config
        .secret
        .clone()
        .unwrap_or_else(|| config.data_dir.join(format!("{role}.secret")));
    let secret = signaalnet_node::load_or_create_secret(&secret_path)?;
    let node = Arc::new(
        Node::open(
            store,
            policy,
            &config.partner,
            PartnerEncryptor::new(system),
            &secret,
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
    let outbox = tokio::spawn(signaalnet_node::forward::run_outbox(
        Arc::clone(&node),
        upstream.clone(),
    ));
    let watcher = tokio::spawn(signaalnet_node::forward::run_watcher(
        Arc::clone(&node),
        upstream.coordinator.clone(),
    ));
    tracing::info!(partner = %config.partner, listen = %listener.local_addr()?, "partner node serving");
    let served = signaalnet_node::serve(listener, &config.tls, node, shutdown).await;
    outbox.abort();
    watcher.abort();
    served?;
    Ok(())
}
