//! `signaalnet policy …`: tools for privacy officers.

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use signaalnet_devchain::setup;
use signaalnet_policy::signature::{self, Signers, SIGNATURE_FILE};
use signaalnet_policy::{explain, suggest, PolicySet, Problem, DIR_NOT_FOUND};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit codes of `check`, as its help shows them.
const CHECK_EXIT_CODES: &str =
    "Exit codes: 0 the set is valid (warnings may be listed); 1 the set is \
invalid, every problem listed; 2 the directory does not exist or another error.";

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy set; print its version and a summary, or every problem (file:line, rule).
    #[command(after_help = CHECK_EXIT_CODES)]
    Check {
        /// The policy directory (legal_bases.toml, purposes.toml, attributes.toml,
        /// recipients.toml and partners/*.toml).
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Print one JSON object instead of text: {"dir", "valid", "version", "summary",
        /// "purposes", "partners", "warnings", "problems"} (README, "Policies").
        #[arg(long)]
        json: bool,
    },
    /// What may flow from whom to whom for which purpose, as tables per purpose.
    #[command(
        after_help = "Exit codes: 0 shown; 2 the set is invalid, not found, or --purpose \
        or --partner names nothing in it."
    )]
    Explain {
        /// The policy directory to explain.
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Only this purpose (its id in purposes.toml).
        #[arg(long)]
        purpose: Option<String>,
        /// Only what this partner may send (its id in partners/*.toml); recipients' rows stay.
        #[arg(long)]
        partner: Option<String>,
        /// Print one JSON object instead of Markdown: {"version", "purposes": [{"id", "name",
        /// "legal_bases", "summary", "data_subjects", "person_match_keys", "limits", "alarms",
        /// "items"}]}.
        #[arg(long)]
        json: bool,
    },
    /// What a change newly allows and newly forbids, flow by flow.
    #[command(
        after_help = "Exit codes: 0 both sets allow the same; 1 something changes; 2 a set \
        is invalid or not found."
    )]
    Diff {
        /// The policy directory in force (or the one before the change).
        old: PathBuf,
        /// The policy directory proposed (or the one after the change).
        new: PathBuf,
        /// Print one JSON object instead of text: {"old": {"dir", "version"}, "new": {…},
        /// "allowed", "forbidden", "rebased", "changed"}.
        #[arg(long)]
        json: bool,
    },
    /// The register of processing activities (AVG art. 30) this policy set determines.
    Register {
        /// The policy directory to describe.
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Markdown for people (the controllers' contact details still to be filled in), or
        /// JSON for other tools.
        #[arg(long, value_enum, default_value = "markdown")]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Create a privacy officer's signing key (PKCS#8, mode 0600) and `<out>.pub`.
    Keygen {
        /// Where to write the private key; the public key goes to the same path plus `.pub`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a valid policy set: writes `policy.sig` into the directory.
    Sign {
        /// The policy directory to sign (it must check as valid).
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// The privacy officer's key from `signaalnet policy keygen`.
        #[arg(long)]
        key: PathBuf,
        /// The set's serial number; every set signed later needs a higher one, and a role
        /// refuses a set older than the one it enforces. Default: one above the serial of the
        /// signature already in the directory (1 for a first signature).
        #[arg(long)]
        serial: Option<u64>,
    },
    /// Check a set's signature against privacy officer public keys.
    Verify {
        /// The policy directory whose `policy.sig` is checked.
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// A public key (`<key>.pub` from keygen); repeat for several officers.
        #[arg(long = "signer", required = true)]
        signers: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Readable Markdown, one section per processing activity.
    Markdown,
    /// The same register as JSON.
    Json,
}

pub fn run(command: PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check { dir, json } => check(&dir, json),
        PolicyCommand::Explain {
            dir,
            purpose,
            partner,
            json,
        } => {
            let set = load(&dir)?;
            if let Some(id) = &purpose {
                let ids: Vec<&str> = set.purposes().map(|p| p.id.as_str()).collect();
                known(&dir, "purpose", id, &ids)?;
            }
            if let Some(id) = &partner {
                let ids: Vec<&str> = set.partners().map(|p| p.id.as_str()).collect();
                known(&dir, "partner", id, &ids)?;
            }
            let (purpose, partner) = (purpose.as_deref(), partner.as_deref());
            if json {
                let explanation = explain::explanation(&set, purpose, partner);
                println!("{}", serde_json::to_string_pretty(&explanation)?);
            } else {
                print!("{}", explain::explain(&set, purpose, partner));
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Diff { old, new, json } => {
            let (a, b) = (load(&old)?, load(&new)?);
            let diff = explain::diff(&a, &b);
            if json {
                let mut out = serde_json::to_value(&diff)?;
                if let Some(fields) = out.as_object_mut() {
                    for (key, dir, set) in [("old", &old, &a), ("new", &new, &b)] {
                        fields.insert(
                            key.to_owned(),
                            serde_json::json!({ "dir": dir, "version": set.version() }),
                        );
                    }
                }
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("policy set {} ({})", a.version(), old.display());
                println!("        → {} ({})\n", b.version(), new.display());
                print!("{diff}");
            }
            Ok(if diff.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PolicyCommand::Register { dir, format, out } => {
            let register = signaalnet_policy::register::register(&load(&dir)?);
            let text = match format {
                Format::Markdown => register.to_markdown(),
                Format::Json => serde_json::to_string_pretty(&register)? + "\n",
            };
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Keygen { out } => {
            let public = setup::officer_key(&out)?;
            let key_id = signature::key_id(&hex::decode(std::fs::read_to_string(&public)?.trim())?);
            println!(
                "key {} (keep it secret), public key {} (key id {key_id}): give the public key to \
                 the operators of every node and the coordinator",
                out.display(),
                public.display(),
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Sign { dir, key, serial } => {
            found(&dir)?;
            let sig = setup::sign_policy(&dir, &key, serial)?;
            println!(
                "signed policy set {} as serial {} with key {}: {}",
                sig.version,
                sig.serial,
                sig.key_id,
                dir.join(SIGNATURE_FILE).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Verify { dir, signers } => {
            let set = load(&dir)?;
            match Signers::read(&signers)?.check(&dir, set.version()) {
                Ok(signed) => {
                    println!(
                        "policy set {} is signed as serial {} by key {}",
                        set.version(),
                        signed.serial,
                        signed.key_id
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// A policy directory that is not there is "not found", not a set with every file missing.
fn found(dir: &Path) -> Result<()> {
    anyhow::ensure!(
        dir.is_dir(),
        "policy directory {} not found (no such directory)",
        dir.display()
    );
    Ok(())
}

/// The checked set in `dir`; an error (exit code 2) when it is not found or not valid.
fn load(dir: &Path) -> Result<PolicySet> {
    found(dir)?;
    setup::load_policy(dir)
}

/// `--what id` names something in the set, or the error lists what it could name.
fn known(dir: &Path, what: &str, id: &str, ids: &[&str]) -> Result<()> {
    if ids.contains(&id) {
        return Ok(());
    }
    let hint = match suggest::nearest(id, ids.iter().copied()) {
        Some(near) => format!("; did you mean `{near}`?"),
        None => ".".to_owned(),
    };
    anyhow::bail!(
        "--{what} {id}: no such {what} in policy set {}{hint} The {what}s are: {}",
        dir.display(),
        ids.join(", ")
    )
}

fn check(dir: &Path, json: bool) -> Result<ExitCode> {
    let set = match PolicySet::load(dir) {
        Ok(set) => set,
        Err(problems) => {
            let not_found = problems.0.iter().any(|p| p.rule == DIR_NOT_FOUND);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "dir": dir,
                        "valid": false,
                        "version": null,
                        "problems": problems.0,
                        "warnings": [],
                    }))?
                );
            } else if not_found {
                eprintln!("{}: not found (no such directory)", dir.display());
            } else {
                eprintln!(
                    "{}: INVALID — {} problem(s), nothing of this set can be enforced:",
                    dir.display(),
                    problems.0.len()
                );
                for p in &problems.0 {
                    eprintln!("  {}", located(dir, p));
                }
            }
            return Ok(if not_found {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            });
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&summary(dir, &set))?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}: valid", dir.display());
    println!("version {}", set.version());
    println!();
    println!(
        "{} legal bases, {} attributes, {} purposes, {} partners, {} recipient views",
        set.legal_bases().count(),
        set.attributes().count(),
        set.purposes().count(),
        set.partners().count(),
        set.recipient_views().count()
    );
    println!();
    println!("purposes:");
    for purpose in set.purposes() {
        let sharing: Vec<&str> = set
            .partners()
            .filter(|p| p.shares.contains_key(&purpose.id))
            .map(|p| p.id.as_str())
            .collect();
        let kind = match &purpose.monitor {
            Some(m) => format!("monitor, min cell {}", m.min_cell_size),
            None => format!(
                "hit at {}+ partners within {}, keep unmatched {}, hits {}",
                purpose.min_distinct_partners,
                purpose.match_window,
                purpose.retention_unmatched,
                purpose.retention_hits
            ),
        };
        println!("  {:<24} {} ({kind})", purpose.id, purpose.name);
        println!("  {:<24} shared by: {}", "", none_if_empty(&sharing));
    }
    println!();
    println!("partners:");
    for partner in set.partners() {
        println!(
            "  {:<24} {:<12} OIN {}  shares for {} purpose(s)",
            partner.id,
            partner.role.as_str(),
            partner.oins.join(", "),
            partner.shares.len()
        );
    }
    if !set.warnings().is_empty() {
        println!();
        println!("warnings ({}):", set.warnings().len());
        for w in set.warnings() {
            println!("  {}", located(dir, w));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `dir/file:line: message [rule]`.
fn located(dir: &Path, p: &Problem) -> String {
    format!("{}/{p}", dir.display())
}

/// `check --json` of a valid set.
fn summary(dir: &Path, set: &PolicySet) -> serde_json::Value {
    let purposes: Vec<serde_json::Value> = set
        .purposes()
        .map(|purpose| {
            let shared_by: Vec<&str> = set
                .partners()
                .filter(|p| p.shares.contains_key(&purpose.id))
                .map(|p| p.id.as_str())
                .collect();
            serde_json::json!({
                "id": purpose.id,
                "name": purpose.name,
                "monitor": purpose.monitor.is_some(),
                "shared_by": shared_by,
            })
        })
        .collect();
    let partners: Vec<serde_json::Value> = set
        .partners()
        .map(|p| {
            serde_json::json!({
                "id": p.id,
                "role": p.role.as_str(),
                "oins": p.oins,
                "purposes": p.shares.keys().collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "dir": dir,
        "valid": true,
        "version": set.version(),
        "summary": {
            "legal_bases": set.legal_bases().count(),
            "attributes": set.attributes().count(),
            "purposes": set.purposes().count(),
            "partners": set.partners().count(),
            "recipient_views": set.recipient_views().count(),
        },
        "purposes": purposes,
        "partners": partners,
        "warnings": set.warnings(),
        "problems": [],
    })
}

fn none_if_empty(items: &[&str]) -> String {
    if items.is_empty() {
        "(nobody)".to_owned()
    } else {
        items.join(", ")
    }
}
