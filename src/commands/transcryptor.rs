//! `signaalnet transcryptor --config FILE`: run one transcryptor.

use crate::config;
use anyhow::{Context, Result};
use serde::Deserialize;
use signaalnet_pseudonym::{CoordinatorContext, Transcryptor, TranscryptorKeys};
use signaalnet_tls::TlsFiles;
use signaalnet_transcryptor::{serve, RateLimiter, TranscryptorGrpc};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscryptorConfig {
    pub listen: SocketAddr,
    pub policies: PathBuf,
    /// This transcryptor's secrets from `signaalnet keys setup` (mode 0600).
    pub keys: PathBuf,
    pub coordinator_context: String,
    pub tls: TlsFiles,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
}

#[derive(Debug, Clone, Deserialize)]
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
    runtime.block_on(async {
        let listener = crate::roles::bind(config.listen).await?;
        serve_config(&config, listener, async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs a transcryptor from its configuration on `listener` until `shutdown` completes.
pub async fn serve_config(
    config: &TranscryptorConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let policy = crate::roles::load_policy(&config.policies)?;
    let keys: TranscryptorKeys = serde_json::from_slice(
        &std::fs::read(&config.keys)
            .with_context(|| format!("reading {}", config.keys.display()))?,
    )
    .with_context(|| format!("{}", config.keys.display()))?;
    let context = CoordinatorContext::new(config.coordinator_context.clone())?;
    let index = keys.index();
    let service = TranscryptorGrpc::new(
        Transcryptor::new(&keys),
        context,
        policy,
        RateLimiter::new(config.rate_limit.per_second, config.rate_limit.burst),
    );
    tracing::info!(listen = %listener.local_addr()?, transcryptor = index, "transcryptor serving");
    serve(listener, &config.tls, service, shutdown).await?;
    Ok(())
}
