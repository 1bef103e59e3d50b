//! The transcryptor as a role: its configuration file and its startup (read its secrets and the
//! ceremony record, serve, run the background loops until shutdown).

use crate::{serve, RateLimiter, TranscryptorGrpc, TranscryptorTrail};
use serde::{Deserialize, Serialize};
use signaalnet_pseudonym::{Transcryptor, TranscryptorKeys};
use signaalnet_runtime::process::{load_system, run_role};
use signaalnet_runtime::{Background, Governance, StartError, WithPath};
use signaalnet_service::limits::Limits;
use signaalnet_service::policy::{PolicyTarget, RoleGrpc};
use signaalnet_service::witness::WitnessGrpc;
use signaalnet_store::{Location, Store};
use signaalnet_telemetry::export::TelemetryConfig;
use signaalnet_tls::TlsFiles;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TranscryptorConfig {
    pub listen: SocketAddr,
    pub policies: PathBuf,
    /// This transcryptor's secrets from `signaalnet keys generate` (mode 0600).
    pub keys: PathBuf,
    /// The ceremony record, `system.json` (public): fixes this transcryptor's step and the key
    /// it accepts.
    pub system_keys: PathBuf,
    pub coordinator_context: String,
    pub tls: TlsFiles,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// This transcryptor's name; its database is `<data_dir>/<name>.db`.
    pub name: String,
    /// The audit trail's SQLite database and signing key live here unless `database_url` is set.
    pub data_dir: PathBuf,
    #[serde(default)]
    pub database_url: Option<String>,
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Ciphertexts per second per caller, on average.
    pub per_second: u32,
    /// Largest burst per caller.
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: 5_000,
            burst: 50_000,
        }
    }
}

impl TranscryptorConfig {
    /// Where the role keeps its data: PostgreSQL when `database_url` is set, else a SQLite file
    /// named after the role in `data_dir`.
    pub fn location(&self) -> Result<Location, signaalnet_store::StoreError> {
        Location::for_role(
            &self.data_dir,
            &self.name.clone(),
            self.database_url.as_deref(),
        )
    }

    /// The audit trail's signing key.
    pub fn audit_key(&self) -> PathBuf {
        self.governance
            .audit_key(&self.data_dir, &self.name.clone())
    }

    /// Reads the configuration file, with `SIGNAALNET_TRANSCRYPTOR__…` overrides.
    pub fn load(path: &Path) -> Result<Self, StartError> {
        signaalnet_runtime::config::load(path, "transcryptor")
    }
}

/// `signaalnet transcryptor --config FILE`: the transcryptor as this process, until SIGINT or
/// SIGTERM.
pub fn run_process(config: TranscryptorConfig) -> Result<(), StartError> {
    run_role(
        config.listen,
        &config.telemetry.clone(),
        &config.tls.clone(),
        "transcryptor",
        format!("signaalnet-{}", config.name),
        |listener| run(config, listener, signaalnet_runtime::process::interrupted()),
    )
}

/// Opens (and migrates) a transcryptor's database: it keeps no tables of its own, only its
/// audit trail and its quota counts.
pub async fn open_store(location: &Location) -> Result<Store, signaalnet_store::StoreError> {
    signaalnet_service::schema::open_role_store(location, &[]).await
}

/// Runs a transcryptor on `listener` until `shutdown` completes.
pub async fn run(
    config: TranscryptorConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let accountable = config.governance.open(
        "transcryptor",
        &config.name,
        &config.policies,
        &config.data_dir,
        &config.tls,
    )?;
    let location = config.location()?;
    let store = Arc::new(open_store(&location).await?);
    let audit = Arc::new(accountable.audit);
    let set = accountable.policy.live().current();
    audit.record_policy_at_start(&store, &set).await?;
    signaalnet_runtime::files::check_secret(&config.keys, "the transcryptor's key file")?;
    let keys: TranscryptorKeys =
        serde_json::from_slice(&std::fs::read(&config.keys).with_path(&config.keys)?)
            .with_path(&config.keys)?;
    let system = load_system(
        &config.system_keys,
        "transcryptor",
        &config.coordinator_context,
    )?;
    let context = system.context().clone();
    let index = keys.index();
    let transcryptor = Transcryptor::new(&keys, &system).map_err(|e| {
        StartError::role(
            format!(
                "{} against {}",
                config.keys.display(),
                config.system_keys.display()
            ),
            e,
        )
    })?;
    let service = TranscryptorGrpc::new(
        transcryptor,
        context,
        accountable.policy.live().clone(),
        RateLimiter::new(config.rate_limit.per_second, config.rate_limit.burst),
        Arc::clone(&store),
        Arc::clone(&audit),
    )
    .await?;
    let figures = signaalnet_runtime::process::serve_metrics(
        &config.metrics,
        service.metrics(),
        service.figures(),
    )
    .await?;
    let target: Arc<dyn PolicyTarget> = Arc::new(TranscryptorTrail { store, audit });
    let background = Background::start(
        &accountable.policy,
        accountable.schedule,
        Arc::clone(&target),
    );
    tracing::info!(listen = %listener.local_addr()?, transcryptor = index, "transcryptor serving");
    // A transcryptor witnesses the other roles' trails.
    let witness = WitnessGrpc::new(Arc::clone(&target), accountable.policy.live().clone());
    let role = RoleGrpc::new(accountable.policy, target);
    let served = serve(
        listener,
        &config.tls,
        &config.limits,
        service,
        role,
        witness,
        shutdown,
    )
    .await;
    if let Some(figures) = figures {
        figures.abort();
    }
    background.stop().await;
    Ok(served?)
}
