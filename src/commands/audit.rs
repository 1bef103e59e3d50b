//! `signaalnet audit verify|show|witnessed`: the operator's view of a role's audit trail. Each
//! reads a role's own configuration file to find its database, signing key and certificate.
//! `witnessed` runs at a witness (the coordinator, a transcryptor) and exports what it holds of
//! another role's trail; `verify --witness` checks that role's trail against the export.

use crate::commands::role_config::load_as;
use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use signaalnet_audit::witness::{Record, RECORD_FORMAT};
use signaalnet_audit::{public_key_path, read_public_key, Filter, Step};
use signaalnet_coordinator::role::CoordinatorConfig;
use signaalnet_node::role::NodeConfig;
use signaalnet_store::{format_time, parse_date, Clock, Location, Store};
use signaalnet_tls::TlsFiles;
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
        /// A witness's record of this role's checkpoints (`signaalnet audit witnessed` run at the
        /// witness); repeat for several witnesses. Without one, entries cut off at the end with
        /// their checkpoints, or a trail rewritten and signed again, can go unnoticed.
        #[arg(long = "witness")]
        witnesses: Vec<PathBuf>,
        /// A witness's public audit key, kept apart (its `<audit key>.pub`): each record must be
        /// countersigned by one of these. Default: the key the record names itself.
        #[arg(long = "witness-public-key")]
        witness_public_keys: Vec<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// At a witness (the coordinator or a transcryptor): export every checkpoint of another
    /// role it holds, countersigned, for `audit verify --witness` of that role's trail.
    Witnessed {
        /// The witness's kind.
        #[arg(long, value_enum)]
        role: RoleKind,
        /// The witness's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The OIN of the role whose checkpoints to export.
        #[arg(long)]
        of: String,
        /// Where to write the record (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print entries of a role's trail, oldest first, filtered.
    Show {
        /// The role's kind.
        #[arg(long, value_enum)]
        role: RoleKind,
        /// The role's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Only this processing step (submit, refuse, forward, transcrypt, key_share, match,
        /// notify, query, analyst_query, monitor_query, withdraw, expire, policy_change, alarm,
        /// witness).
        #[arg(long)]
        step: Option<String>,
        /// Only steps for this purpose of the policy set (e.g. `signalering_drieluik`).
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
        /// At most this many entries (the oldest that match).
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// One JSON object per line, `refs` as an array of strings.
        #[arg(long)]
        json: bool,
    },
}

/// Where a role keeps its trail and its key, and its certificate, read from its configuration.
struct Located {
    location: Location,
    key: PathBuf,
    tls: TlsFiles,
}

fn locate(role: RoleKind, config: &Path) -> Result<Located> {
    let hint = |actual: &str| format!("pass --role {actual}");
    let (location, key, tls) = match role {
        RoleKind::Coordinator => {
            let c = load_as(config, "coordinator", CoordinatorConfig::load, hint)?;
            (c.location()?, c.audit_key(), c.tls)
        }
        RoleKind::Node => {
            let c = load_as(config, "node", NodeConfig::load, hint)?;
            (c.location()?, c.audit_key(), c.tls)
        }
        RoleKind::Transcryptor => {
            let c = load_as(config, "transcryptor", TranscryptorConfig::load, hint)?;
            (c.location()?, c.audit_key(), c.tls)
        }
    };
    if let Location::Sqlite(path) = &location {
        anyhow::ensure!(
            path.exists(),
            "{}: no database; has this role run with this configuration?",
            path.display()
        );
    }
    Ok(Located { location, key, tls })
}

/// The witnessed checkpoints of the role with `oin` in the records at `paths`, each checked to
/// be countersigned (by one of `keys` when any is given); the records, for the report.
fn witnessed(
    oin: &str,
    paths: &[PathBuf],
    keys: &[PathBuf],
) -> Result<(Vec<signaalnet_audit::witness::Witnessed>, Vec<Record>)> {
    let keys = keys
        .iter()
        .map(|path| read_public_key(path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut all = Vec::new();
    let mut records = Vec::new();
    for path in paths {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let record: Record = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a witness record", path.display()))?;
        let key = if keys.is_empty() {
            None
        } else {
            let named = hex::decode(&record.witness_public_key).unwrap_or_default();
            let id = signaalnet_audit::key_id(&named);
            Some(
                keys.iter()
                    .find(|k| signaalnet_audit::key_id(k) == id)
                    .with_context(|| {
                        format!(
                            "{}: signed by witness key {id}, which is none of --witness-public-key",
                            path.display()
                        )
                    })?
                    .as_slice(),
            )
        };
        all.extend(
            record
                .check(oin, key)
                .with_context(|| format!("{}", path.display()))?,
        );
        records.push(record);
    }
    Ok((all, records))
}

/// An entry as `audit show --json` prints it: as stored, but with its references as a JSON
/// array (the trail stores them as JSON text, which is what the entry's hash covers). Stored
/// references that are not a list of strings (a tampered row) are printed as they are under
/// `refs_stored`, with `refs` empty.
fn shown(entry: &signaalnet_audit::Entry) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(entry)?;
    if let Some(object) = value.as_object_mut() {
        match serde_json::from_str::<Vec<String>>(&entry.refs) {
            Ok(refs) => {
                object.insert("refs".to_owned(), refs.into());
            }
            Err(_) => {
                object.insert("refs".to_owned(), serde_json::Value::Array(Vec::new()));
                object.insert("refs_stored".to_owned(), entry.refs.clone().into());
            }
        }
    }
    Ok(value)
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
                witnesses,
                witness_public_keys,
                json,
            } => {
                let Located { location, key, tls } = locate(role, &config)?;
                let key_path = public_key.unwrap_or_else(|| public_key_path(&key));
                let public_key = read_public_key(&key_path)?;
                let oin = tls.own_oin()?.to_string();
                let (witnessed, records) = witnessed(&oin, &witnesses, &witness_public_keys)?;
                let store = open_store(&location).await?;
                let report =
                    signaalnet_audit::verify_witnessed(&store, &public_key, witnessed).await?;
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
                    for record in &records {
                        println!(
                            "  witnessed by {}: {} checkpoints{}",
                            record.witness_oin,
                            record.checkpoints.len(),
                            record.checkpoints.last().map_or(String::new(), |w| format!(
                                ", the newest over entry {} at {}",
                                w.seq,
                                format_time(w.witnessed_at_ms)
                            ))
                        );
                    }
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
                    if !records.is_empty() && witness_public_keys.is_empty() {
                        println!(
                            "note: the witness records were checked against the witness keys they \
                             name themselves; pass --witness-public-key with a copy kept apart"
                        );
                    }
                    if records.is_empty() {
                        println!(
                            "note: checked without a witness's record (--witness): entries cut off \
                             at the end together with their checkpoints, or a trail rewritten and \
                             signed again by whoever holds the key, would not show"
                        );
                    }
                }
                Ok(if report.is_intact() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            AuditCommand::Witnessed {
                role,
                config,
                of,
                out,
            } => {
                let Located { location, key, tls } = locate(role, &config)?;
                let witness_public_key = read_public_key(&public_key_path(&key))?;
                let store = open_store(&location).await?;
                let checkpoints = signaalnet_audit::witnessed(&store, &of).await?;
                let record = Record {
                    format: RECORD_FORMAT.to_owned(),
                    witness_oin: tls.own_oin()?.to_string(),
                    witness_public_key: hex::encode(&witness_public_key),
                    oin: of.clone(),
                    exported_at_ms: Clock::system().now_ms(),
                    checkpoints,
                };
                std::fs::write(&out, serde_json::to_string_pretty(&record)?)
                    .with_context(|| format!("writing {}", out.display()))?;
                match record.checkpoints.last() {
                    Some(w) => println!(
                        "{}: {} checkpoints of {of}, the newest over entry {} witnessed at {}",
                        out.display(),
                        record.checkpoints.len(),
                        w.seq,
                        format_time(w.witnessed_at_ms)
                    ),
                    None => println!(
                        "{}: this witness holds no checkpoint of {of}",
                        out.display()
                    ),
                }
                Ok(ExitCode::SUCCESS)
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
                let Located { location, .. } = locate(role, &config)?;
                let store = open_store(&location).await?;
                for e in signaalnet_audit::entries(&store, &filter).await? {
                    if json {
                        println!("{}", serde_json::to_string(&shown(&e)?)?);
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
