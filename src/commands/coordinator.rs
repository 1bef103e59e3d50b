//! `signaalnet coordinator --config FILE` and `signaalnet node --config FILE`: one role per
//! process, stopped by SIGINT (Ctrl-C) or SIGTERM.

use crate::config;
use crate::roles::{self, interrupted, CoordinatorConfig, NodeConfig};
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

pub fn run_coordinator(config_path: &Path) -> Result<ExitCode> {
    let config: CoordinatorConfig = config::load(config_path, "coordinator")?;
    let runtime = tokio::runtime::Runtime::new()?;
    let telemetry = roles::start_telemetry(
        &runtime,
        &config.telemetry,
        &config.tls,
        "coordinator",
        "signaalnet-coordinator".to_owned(),
    )?;
    let served = runtime.block_on(async {
        let listener = roles::bind(config.listen).await?;
        roles::run_coordinator(config, listener, interrupted()).await
    });
    telemetry.shutdown();
    served?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_node(config_path: &Path) -> Result<ExitCode> {
    let config: NodeConfig = config::load(config_path, "node")?;
    let runtime = tokio::runtime::Runtime::new()?;
    let telemetry = roles::start_telemetry(
        &runtime,
        &config.telemetry,
        &config.tls,
        "node",
        format!("signaalnet-node-{}", config.partner),
    )?;
    let served = runtime.block_on(async {
        let listener = roles::bind(config.listen).await?;
        roles::run_node(config, listener, interrupted()).await
    });
    telemetry.shutdown();
    served?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::transcryptor::TranscryptorConfig;

    #[test]
    fn the_development_configurations_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dev");
        let coordinator: CoordinatorConfig =
            config::load(&dir.join("coordinator.toml"), "coordinator").unwrap();
        assert_eq!(coordinator.transcryptors.len(), 2);
        let mut listens = vec![coordinator.listen];
        for name in ["gemeente", "politie", "nla", "zvh"] {
            let node: NodeConfig =
                config::load(&dir.join(format!("node-{name}.toml")), "node").unwrap();
            assert_eq!(node.transcryptors, coordinator.transcryptors);
            assert!(node.tls.cert.ends_with(format!("{}.pem", node.partner)));
            listens.push(node.listen);
        }
        for i in [1, 2] {
            let t: TranscryptorConfig =
                config::load(&dir.join(format!("transcryptor-{i}.toml")), "transcryptor").unwrap();
            assert_eq!(t.coordinator_context, coordinator.coordinator_context);
            listens.push(t.listen);
        }
        listens.sort();
        listens.dedup();
        assert_eq!(listens.len(), 7, "every role on its own port");
    }
}
