//! `signaalnet policy …`: tools for privacy officers.

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use signaalnet_devchain::setup;
use signaalnet_policy::signature::{self, Signers, SIGNATURE_FILE};
use signaalnet_policy::PolicySet;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy set; print its version and a summary, or every problem (file:line, rule).
    Check {
        /// The policy directory.
        #[arg(default_value = "policies")]
        dir: PathBuf,
    },
    /// What may flow from whom to whom for which purpose, as tables per purpose.
    Explain {
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Only this purpose.
        #[arg(long)]
        purpose: Option<String>,
        /// Only what this partner may send (recipients' rows stay).
        #[arg(long)]
        partner: Option<String>,
    },
    /// What a change newly allows and newly forbids, flow by flow (exit 1 when anything changes).
    Diff { old: PathBuf, new: PathBuf },
    /// The register of processing activities (AVG art. 30) this policy set determines.
    Register {
        #[arg(default_value = "policies")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "markdown")]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Create a privacy officer's signing key (PKCS#8, mode 0600) and `<out>.pub`.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a valid policy set: writes `policy.sig` into the directory.
    Sign {
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
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// A public key (`<key>.pub` from keygen); repeat for several officers.
        #[arg(long = "signer", required = true)]
        signers: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Markdown,
    Json,
}

pub fn run(command: PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check { dir } => check(&dir),
        PolicyCommand::Explain {
            dir,
            purpose,
            partner,
        } => {
            let set = setup::load_policy(&dir)?;
            for (what, id) in [("purpose", &purpose), ("partner", &partner)] {
                if let Some(id) = id {
                    let known = match what {
                        "purpose" => set.purpose(id).is_some(),
                        _ => set.partner(id).is_some(),
                    };
                    anyhow::ensure!(known, "--{what} {id}: not in policy set {}", dir.display());
                }
            }
            print!(
                "{}",
                signaalnet_policy::explain::explain(&set, purpose.as_deref(), partner.as_deref())
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Diff { old, new } => {
            let (a, b) = (setup::load_policy(&old)?, setup::load_policy(&new)?);
            println!("policy set {} ({})", a.version(), old.display());
            println!("        → {} ({})\n", b.version(), new.display());
            let diff = signaalnet_policy::explain::diff(&a, &b);
            print!("{diff}");
            Ok(if diff.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PolicyCommand::Register { dir, format, out } => {
            let register = signaalnet_policy::register::register(&setup::load_policy(&dir)?);
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
            let set = setup::load_policy(&dir)?;
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

fn check(dir: &std::path::Path) -> Result<ExitCode> {
    let set = match PolicySet::load(dir) {
        Ok(set) => set,
        Err(problems) => {
            eprintln!(
                "{}: INVALID — {} problem(s), nothing of this set can be enforced:",
                dir.display(),
                problems.0.len()
            );
            for p in &problems.0 {
                eprintln!("  {}/{p}", dir.display());
            }
            return Ok(ExitCode::FAILURE);
        }
    };
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
            println!("  {}/{w}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn none_if_empty(items: &[&str]) -> String {
    if items.is_empty() {
        "(nobody)".to_owned()
    } else {
        items.join(", ")
    }
}
