//! The `signaalnet` command: one binary, one subcommand per job.
#![forbid(unsafe_code)]

mod commands;

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
    /// The key ceremony for the transcryptors and the coordinator.
    Keys {
        #[command(subcommand)]
        command: commands::keys::KeysCommand,
    },
    /// Certificates for mTLS.
    Certs {
        #[command(subcommand)]
        command: commands::certs::CertsCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Policy { command } => commands::policy::run(command),
        Command::Keys { command } => commands::keys::run(command),
        Command::Certs { command } => commands::certs::run(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
