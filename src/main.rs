//! The `signaalnet` command: one binary, one subcommand per job. Each role's configuration and
//! startup live in its crate (`signaalnet-node`, `-coordinator`, `-transcryptor`), the demo and
//! the bench in `signaalnet-devchain`; this parses arguments and calls them.
#![forbid(unsafe_code)]

mod commands;

use clap::{CommandFactory, Parser, Subcommand};
use commands::role_config::load_as;
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
    /// Print a completion script for a shell, e.g.
    /// `signaalnet completions bash > ~/.local/share/bash-completion/completions/signaalnet`
    /// or `signaalnet completions zsh > ~/.zfunc/_signaalnet`.
    Completions {
        /// The shell the script is for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages: `signaalnet.1` and one per subcommand (`signaalnet-audit-show.1`,
    /// …) into `--out`, or, without it, print `signaalnet(1)` (read it with `man -l -`).
    Man {
        /// The directory to write the pages into (created if missing), e.g.
        /// `~/.local/share/man/man1`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
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
    /// Run the web console for people of an organisation with a recipient role (docs/console.md).
    Console {
        /// The console's configuration file (see deploy/dev/console.toml).
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

/// `signaalnet man`: the pages of every subcommand into `out`, or the main page to stdout.
fn man(out: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let command = Cli::command();
    match out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("writing manual pages into {}", dir.display()))?;
            println!(
                "manual pages in {} (e.g. `man -l {}`)",
                dir.display(),
                dir.join("signaalnet.1").display()
            );
        }
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What to run instead when a role is given another role's configuration.
fn run_hint(config: &std::path::Path) -> impl FnOnce(&str) -> String + '_ {
    move |actual| format!("run `signaalnet {actual} --config {}`", config.display())
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
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "signaalnet",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out } => man(out.as_deref()),
        Command::Demo { keep, stay } => signaalnet_devchain::demo::run(keep, stay),
        Command::Bench(args) => signaalnet_devchain::bench::run(args).map(|()| ExitCode::SUCCESS),
        Command::Coordinator { config } => load_as(
            &config,
            "coordinator",
            CoordinatorConfig::load,
            run_hint(&config),
        )
        .and_then(|c| Ok(signaalnet_coordinator::role::run_process(c)?))
        .map(|()| ExitCode::SUCCESS),
        Command::Node { config } => load_as(&config, "node", NodeConfig::load, run_hint(&config))
            .and_then(|c| Ok(signaalnet_node::role::run_process(c)?))
            .map(|()| ExitCode::SUCCESS),
        // Not `load_as`: a console's `coordinator` key would make it look like a node's file.
        Command::Console { config } => signaalnet_console::ConsoleConfig::load(&config)
            .map_err(anyhow::Error::from)
            .and_then(|c| Ok(signaalnet_console::run_process(c)?))
            .map(|()| ExitCode::SUCCESS),
        Command::Transcryptor { config } => load_as(
            &config,
            "transcryptor",
            TranscryptorConfig::load,
            run_hint(&config),
        )
        .and_then(|c| Ok(signaalnet_transcryptor::role::run_process(c)?))
        .map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument of every subcommand says what it is for in `--help`, the completions and
    /// the manual pages.
    #[test]
    fn every_argument_has_help() {
        fn missing(command: &clap::Command, path: &str, out: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    out.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() {
                    out.push(format!("{path} {} (the subcommand)", sub.get_name()));
                }
                missing(sub, &format!("{path} {}", sub.get_name()), out);
            }
        }
        let mut out = Vec::new();
        missing(&Cli::command(), "signaalnet", &mut out);
        assert!(out.is_empty(), "arguments without help: {out:#?}");
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
