//! `signaalnet audit verify|show`: the operator's view of a role's audit trail. Both read the
//! role's own configuration file to find its database and signing key.

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use signaalnet_audit::{public_key_path, read_public_key, Filter, Step};
use signaalnet_coordinator::role::CoordinatorConfig;
use signaalnet_node::role::NodeConfig;
use signaalnet_store::{format_time, parse_date, Location, Store};
use signaalnet_transcryptor::role::TranscryptorConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleKind {
    Coordinator,
    Node,
    Transcryptor,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check a role's trail: every entry's hash, the chain, every checkpoint's signature. Exit 1
    /// and a list of findings (which entry was changed, deleted, reordered, cut off, re-signed)
    /// when it is not intact.
    Verify {
        /// The role's kind.
        #[arg(long, value_enum)]
        role: RoleKind,
        /// The role's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The role's public audit key; default `<audit key>.pub` next to the key. Pass a copy
        /// kept where the role cannot write, or a re-signed trail goes unnoticed.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print entries of a role's trail, oldest first, filtered.
    Show {
        #[arg(long, value_enum)]
        role: RoleKind,
        #[arg(long)]
        config: PathBuf,
        /// Only this processing step (submit, refuse, forward, transcrypt, key_share, match,
        /// notify, query, analyst_query, monitor_query, withdraw, expire, policy_change).
        #[arg(long)]
        step: Option<String>,
        #[arg(long)]
        purpose: Option<String>,
        /// Only steps caused by this OIN.
        #[arg(long)]
        actor: Option<String>,
        /// Only entries about this reference, e.g. `hit:hit-…` or `signal:nla/sig-…`.
        #[arg(long = "ref")]
        reference: Option<String>,
        /// From this day (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Before this day (YYYY-MM-DD, UTC).
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// Where a role keeps its trail and its key, read from its configuration.
fn locate(role: RoleKind, config: &Path) -> Result<(Location, PathBuf)> {
    let (location, key) = match role {
        RoleKind::Coordinator => {
            let c = CoordinatorConfig::load(config)?;
            (c.location()?, c.audit_key())
        }
        RoleKind::Node => {
            let c = NodeConfig::load(config)?;
            (c.location()?, c.audit_key())
        }
        RoleKind::Transcryptor => {
            let c = TranscryptorConfig::load(config)?;
            (c.location()?, c.audit_key())
        }
    };
    if let Location::Sqlite(path) = &location {
        anyhow::ensure!(
            path.exists(),
            "{}: no database; has this role run with this configuration?",
            path.display()
        );
    }
    Ok((location, key))
}

/// Opens a role's database to read its trail: read-only, without running migrations, so that
/// verifying a live role's trail (or an auditor's copy) changes nothing in it.
async fn open_store(location: &Location) -> Result<Store> {
    Ok(Store::open_read_only(location).await?)
}

pub fn run(command: AuditCommand) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match command {
            AuditCommand::Verify {
                role,
                config,
                public_key,
                json,
            } => {
                let (location, key) = locate(role, &config)?;
                let key_path = public_key.unwrap_or_else(|| public_key_path(&key));
                let public_key = read_public_key(&key_path)?;
                let store = open_store(&location).await?;
                let report = signaalnet_audit::verify(&store, &public_key).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    println!(
                        "{}: {} entries, {} checkpoints, checked against {}",
                        location.describe(),
                        report.entries,
                        report.checkpoints,
                        key_path.display()
                    );
                    for finding in &report.findings {
                        println!("  FAIL {finding}");
                    }
                    if report.is_intact() {
                        println!("intact: every entry, link and checkpoint verifies");
                    }
                    if let Some((from, to)) = report.unsigned_tail() {
                        println!(
                            "note: entries {from}..{to} are chained but not yet under a signed \
                             checkpoint (the role signs every few seconds and at shutdown)"
                        );
                    }
                }
                Ok(if report.is_intact() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            AuditCommand::Show {
                role,
                config,
                step,
                purpose,
                actor,
                reference,
                since,
                until,
                limit,
                json,
            } => {
                let day = |flag: &str, text: Option<String>| -> Result<Option<i64>> {
                    text.map(|t| {
                        parse_date(&t).with_context(|| format!("--{flag} {t}: expected YYYY-MM-DD"))
                    })
                    .transpose()
                };
                let filter = Filter {
                    step: step
                        .map(|s| s.parse::<Step>())
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("--step: {e}"))?,
                    purpose,
                    actor,
                    reference,
                    since_ms: day("since", since)?,
                    until_ms: day("until", until)?,
                    limit,
                };
                let (location, _) = locate(role, &config)?;
                let store = open_store(&location).await?;
                for e in signaalnet_audit::entries(&store, &filter).await? {
                    if json {
                        println!("{}", serde_json::to_string(&e)?);
                        continue;
                    }
                    println!(
                        "{:>6} {} {:<13} {} ({}) {}{}",
                        e.seq,
                        format_time(e.at_ms),
                        e.step,
                        e.actor_oin,
                        e.actor_role,
                        if e.purpose.is_empty() {
                            String::new()
                        } else {
                            format!("{} [{}] ", e.purpose, e.processing_activity)
                        },
                        e.detail
                    );
                    let refs = e.ref_list();
                    if !refs.is_empty() {
                        println!("       refs: {}", refs.join(", "));
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
