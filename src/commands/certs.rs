//! `signaalnet certs dev`: a development PKI for every organisation in a policy set.

use anyhow::{Context, Result};
use clap::Subcommand;
use signaalnet_policy::PolicySet;
use signaalnet_tls::dev::{write_dev_pki, DevIdentity};
use signaalnet_tls::Oin;
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
    let set = PolicySet::load(policies)
        .map_err(|p| anyhow::anyhow!("{p}"))
        .with_context(|| format!("loading {}", policies.display()))?;
    let identities = set
        .partners()
        .map(|p| {
            let oin = p
                .oins
                .first()
                .context("a checked policy set gives every partner an OIN")?;
            Ok(DevIdentity {
                name: p.id.clone(),
                organisation: p.name.clone(),
                oin: Oin::parse(oin)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let ca = write_dev_pki(out, &identities)?;
    println!("development PKI (not for production) in {}", out.display());
    println!("  {}", ca.display());
    for identity in &identities {
        println!(
            "  {}.pem / .key  OIN {}  {}",
            identity.name, identity.oin, identity.organisation
        );
    }
    Ok(ExitCode::SUCCESS)
}
