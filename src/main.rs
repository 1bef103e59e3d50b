//! The `signaalnet` command: one binary, one subcommand per job.
#![forbid(unsafe_code)]

mod chain;
mod commands;
mod config;
mod roles;

use clap::{Parser, Subcommand};
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
    },
    /// Measure the whole chain on loopback against the cost of its own crypto: throughput with
    /// 1, 2 and 4 identifiers per signal, latency at a fixed offered load, a bulk load with
    /// memory, on SQLite and (with --postgres) PostgreSQL. Build with --release.
    Bench(commands::bench::BenchArgs),
    /// Run the coordinator.
    Coordinator {
        /// The coordinator's configuration file (see deploy/dev/coordinator.toml).
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// Run a partner node.
    Node {
        /// The node's configuration file (see deploy/dev/node-gemeente.toml).
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// Run a transcryptor.
    Transcryptor {
        /// The transcryptor's configuration file (see deploy/dev/transcryptor-1.toml).
        #[arg(long)]
        config: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints its own account; the roles' logs would drown it unless asked for.
    let default_level = if matches!(cli.command, Command::Demo { .. } | Command::Bench(_)) {
        "error"
    } else {
        "info"
    };
    // A role installs its own log, with the export of its processing logs when configured.
    let role = matches!(
        cli.command,
        Command::Transcryptor { .. } | Command::Coordinator { .. } | Command::Node { .. }
    );
    if !role {
        if let Err(e) = signaalnet_telemetry::export::install_log(default_level) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Policy { command } => commands::policy::run(command),
        Command::Keys { command } => commands::keys::run(command),
        Command::Certs { command } => commands::certs::run(command),
        Command::Transcryptor { config } => commands::transcryptor::run(&config),
        Command::Coordinator { config } => commands::coordinator::run_coordinator(&config),
        Command::Node { config } => commands::coordinator::run_node(&config),
        Command::Demo { keep } => commands::demo::run(keep),
        Command::Bench(args) => commands::bench::run(args),
        Command::Audit { command } => commands::audit::run(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
