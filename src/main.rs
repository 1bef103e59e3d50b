//! The `signaalnet` command: one binary, one subcommand per job. Each role's configuration and
//! startup live in its crate (`signaalnet-node`, `-coordinator`, `-transcryptor`), the demo and
//! the bench in `signaalnet-devchain`; this parses arguments and calls them.
#![forbid(unsafe_code)]

mod commands;

use clap::{Parser, Subcommand};
use signaalnet_coordinator::role::CoordinatorConfig;
use signaalnet_node::role::NodeConfig;
use signaalnet_transcryptor::role::TranscryptorConfig;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "signaalnet",
    version,
    about = "Pseudonymous hit/no-hit signalling between chain partners against human trafficking"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with a policy set (the privacy officer's files).
    Policy {
        #[command(subcommand)]
        command: commands::policy::PolicyCommand,
    },
    /// The dealer-free key ceremony: one subcommand per party's step (docs/ceremony.md).
    Keys {
        #[command(subcommand)]
        command: commands::keys::KeysCommand,
    },
    /// Certificates for mTLS.
    Certs {
        #[command(subcommand)]
        command: commands::certs::CertsCommand,
    },
    /// Query the coordinator's analyst API as your organisation: hits, one hit, a monitor
    /// table. Exit codes: 0 answered, 1 refused, 2 usage or configuration, 3 unreachable.
    Analyst(commands::analyst::AnalystArgs),
    /// Verify or show a role's tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        command: commands::audit::AuditCommand,
    },
    /// Run the whole chain on loopback (four partner nodes, two transcryptors, a coordinator)
    /// with a realistic scenario, and show what each party learned.
    Demo {
        /// Keep the temporary directory (databases, certificates, keys) and print where it is.
        #[arg(long)]
        keep: bool,
        /// Keep the chain running after the scenario, until Ctrl-C, and print how to query it
        /// with `signaalnet analyst`.
        #[arg(long)]
        stay: bool,
    },
    /// Measure the whole chain on loopback against the cost of its own crypto: throughput with
    /// 1, 2 and 4 identifiers per signal, latency at a fixed offered load, a bulk load with
    /// memory, on SQLite and (with --postgres) PostgreSQL. Build with --release.
    Bench(signaalnet_devchain::bench::BenchArgs),
    /// Run the coordinator.
    Coordinator {
        /// The coordinator's configuration file (see deploy/dev/coordinator.toml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Run a partner node.
    Node {
        /// The node's configuration file (see deploy/dev/node-gemeente.toml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Run a transcryptor.
    Transcryptor {
        /// The transcryptor's configuration file (see deploy/dev/transcryptor-1.toml).
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A role installs its own log, with the export of its processing logs when configured. The
    // demo and the bench print their own account; the roles' logs would drown it.
    let log_level = match cli.command {
        Command::Transcryptor { .. } | Command::Coordinator { .. } | Command::Node { .. } => None,
        Command::Demo { .. } | Command::Bench(_) => Some("error"),
        _ => Some("info"),
    };
    if let Some(level) = log_level {
        if let Err(e) = signaalnet_telemetry::export::install_log(level) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Policy { command } => commands::policy::run(command),
        Command::Keys { command } => commands::keys::run(command),
        Command::Certs { command } => commands::certs::run(command),
        Command::Audit { command } => commands::audit::run(command),
        Command::Analyst(args) => commands::analyst::run(args),
        Command::Demo { keep, stay } => signaalnet_devchain::demo::run(keep, stay),
        Command::Bench(args) => signaalnet_devchain::bench::run(args).map(|()| ExitCode::SUCCESS),
        Command::Coordinator { config } => CoordinatorConfig::load(&config)
            .and_then(signaalnet_coordinator::role::run_process)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Node { config } => NodeConfig::load(&config)
            .and_then(signaalnet_node::role::run_process)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Transcryptor { config } => TranscryptorConfig::load(&config)
            .and_then(signaalnet_transcryptor::role::run_process)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
