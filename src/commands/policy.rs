//! `signaalnet policy …`: tools for privacy officers.

use anyhow::Result;
use clap::Subcommand;
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
}

pub fn run(command: PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check { dir } => check(&dir),
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
