//! `signaalnet coordinator --config FILE` and `signaalnet node --config FILE`: one role per
//! process, stopped by Ctrl-C / SIGINT.

use crate::config;
use crate::roles::{self, CoordinatorConfig, NodeConfig};
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

async fn interrupted() {
    tokio::signal::ctrl_c().await.ok();
}

pub fn run_coordinator(config_path: &Path) -> Result<ExitCode> {
    let config: CoordinatorConfig = config::load(config_path, "coordinator")?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = roles::bind(config.listen).await?;
        roles::run_coordinator(config, listener, interrupted()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_node(config_path: &Path) -> Result<ExitCode> {
    let config: NodeConfig = config::load(config_path, "node")?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = roles::bind(config.listen).await?;
        roles::run_node(config, listener, interrupted()).await
    })?;
    Ok(ExitCode::SUCCESS)
}
