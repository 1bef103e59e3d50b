//! `signaalnet transcryptor --config FILE`: run one transcryptor.

use crate::config;
use anyhow::{Context, Result};
use serde::Deserialize;
use signaalnet_policy::PolicySet;
use signaalnet_pseudonym::{CoordinatorContext, Transcryptor, TranscryptorKeys};
use signaalnet_tls::TlsFiles;
use signaalnet_transcryptor::{serve, RateLimiter, TranscryptorGrpc};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
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
    let policy = PolicySet::load(&config.policies).map_err(|p| anyhow::anyhow!("{p}"))?;
    let keys: TranscryptorKeys = serde_json::from_slice(
        &std::fs::read(&config.keys)
            .with_context(|| format!("reading {}", config.keys.display()))?,
    )
    .with_context(|| format!("{}", config.keys.display()))?;
    let context = CoordinatorContext::new(config.coordinator_context.clone())?;
    let service = TranscryptorGrpc::new(
        Transcryptor::new(&keys),
        context,
        Arc::new(policy),
        RateLimiter::new(config.rate_limit.per_second, config.rate_limit.burst),
    );
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        tracing::info!(listen = %config.listen, transcryptor = keys.index(), "transcryptor serving");
        serve(listener, &config.tls, service, async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
