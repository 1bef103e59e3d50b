//! `signaalnet transcryptor --config FILE`: run one transcryptor.

use crate::config;
use crate::roles::{Background, Governance};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use signaalnet_pseudonym::{CoordinatorContext, Transcryptor, TranscryptorKeys};
use signaalnet_service::policy::{PolicyTarget, RoleGrpc};
use signaalnet_store::{Location, Store};
use signaalnet_tls::TlsFiles;
use signaalnet_transcryptor::{serve, RateLimiter, TranscryptorGrpc, TranscryptorTrail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

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
    pub telemetry: signaalnet_telemetry::export::TelemetryConfig,
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

pub fn load(path: &Path) -> Result<TranscryptorConfig> {
    config::load(path, "transcryptor")
}

pub fn run(config_path: &Path) -> Result<ExitCode> {
    let config = load(config_path)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let telemetry = crate::roles::start_telemetry(
        &runtime,
        &config.telemetry,
        &config.tls,
        "transcryptor",
        format!("signaalnet-{}", config.name),
    )?;
    let served = runtime.block_on(async {
        let listener = crate::roles::bind(config.listen).await?;
        serve_config(&config, listener, async {
            crate::roles::interrupted().await;
        })
        .await
    });
    telemetry.shutdown();
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Runs a transcryptor from its configuration on `listener` until `shutdown` completes.
/// Opens (and migrates) a transcryptor's database: it keeps no tables of its own, only its
/// audit trail and its quota counts.
pub async fn open_store(location: &Location) -> Result<Store> {
    Ok(Store::open(
        location,
        &[
            &signaalnet_audit::schema::MIGRATIONS,
            &signaalnet_service::schema::MIGRATIONS,
        ],
    )
    .await?)
}

pub async fn serve_config(
    config: &TranscryptorConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let accountable = config.governance.open(
        "transcryptor",
        &config.name,
        &config.policies,
        &config.data_dir,
        &config.tls,
    )?;
    let location = Location::for_role(
        &config.data_dir,
        &config.name,
        config.database_url.as_deref(),
    )?;
    let store = Arc::new(open_store(&location).await?);
    let audit = Arc::new(accountable.audit);
    let set = accountable.policy.live().current();
    audit.record_policy_at_start(&store, &set).await?;
    let keys: TranscryptorKeys = serde_json::from_slice(
        &std::fs::read(&config.keys)
            .with_context(|| format!("reading {}", config.keys.display()))?,
    )
    .with_context(|| format!("{}", config.keys.display()))?;
    let context = CoordinatorContext::new(config.coordinator_context.clone())?;
    let system = crate::roles::load_system(&config.system_keys)?;
    if system.context() != &context {
        anyhow::bail!(
            "{}: the ceremony was held for coordinator context `{}`, this transcryptor is \
             configured for `{}`",
            config.system_keys.display(),
            system.context().as_str(),
            context.as_str()
        );
    }
    let index = keys.index();
    let transcryptor = Transcryptor::new(&keys, &system).with_context(|| {
        format!(
            "{} against {}",
            config.keys.display(),
            config.system_keys.display()
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
    let target: Arc<dyn PolicyTarget> = Arc::new(TranscryptorTrail { store, audit });
    let background = Background::start(
        &accountable.policy,
        accountable.schedule,
        Arc::clone(&target),
    );
    tracing::info!(listen = %listener.local_addr()?, transcryptor = index, "transcryptor serving");
    let role = RoleGrpc::new(accountable.policy, target);
    let served = serve(listener, &config.tls, service, role, shutdown).await;
    background.stop().await;
    served?;
    Ok(())
}
