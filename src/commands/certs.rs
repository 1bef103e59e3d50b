//! `signaalnet certs dev`: a development PKI for every organisation in a policy set.

use anyhow::Result;
use clap::Subcommand;
use signaalnet_devchain::setup;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum CertsCommand {
    /// Generate a development CA and a certificate per organisation of the policy set, with its
    /// OIN in the subject serialNumber (not for production: use PKIoverheid certificates).
    Dev {
        /// The policy directory whose organisations get a certificate.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        /// Directory to write `ca.pem`, `<partner>.pem` and `<partner>.key` into.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(command: CertsCommand) -> Result<ExitCode> {
    match command {
        CertsCommand::Dev { policies, out } => dev(&policies, &out),
    }
}

fn dev(policies: &Path, out: &Path) -> Result<ExitCode> {
    let set = setup::load_policy(policies)?;
    let identities = setup::dev_pki(&set, out)?;
    println!("development PKI (not for production) in {}", out.display());
    println!("  {}", out.join("ca.pem").display());
    for identity in &identities {
        println!(
            "  {}.pem / .key  OIN {}  {}",
            identity.name, identity.oin, identity.organisation
        );
    }
    Ok(ExitCode::SUCCESS)
}
