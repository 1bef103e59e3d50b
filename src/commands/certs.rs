//! `signaalnet certs dev`: a development PKI for every organisation in a policy set;
//! `signaalnet certs revoke`: its CA revokes certificates in its revocation list.

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
        /// Directory to write `ca.pem`, `ca.key`, `ca.crl.pem`, `<partner>.pem` and
        /// `<partner>.key` into.
        #[arg(long)]
        out: PathBuf,
        /// Replace a PKI already in `--out`: a new CA, so every certificate the old one issued
        /// (and its revocation list) stops being accepted by roles given the new `ca.pem`.
        #[arg(long)]
        force: bool,
    },
    /// Revoke development certificates: rewrite the development CA's revocation list
    /// (`ca.crl.pem`) with them added, signed with `ca.key` and current for 30 days. Without
    /// `--name` the list is only issued afresh. Roles that name the list in `[tls] crl` refuse
    /// the certificates from their next reload (`policy_reload_seconds`, or SIGHUP) on.
    Revoke {
        /// The development PKI's directory (from `certs dev`).
        #[arg(long, default_value = "dev/certs")]
        dir: PathBuf,
        /// The certificate to revoke: `<name>.pem` in the directory (e.g. `gemeente_groningen`);
        /// repeatable.
        #[arg(long)]
        name: Vec<String>,
    },
}

pub fn run(command: CertsCommand) -> Result<ExitCode> {
    match command {
        CertsCommand::Dev {
            policies,
            out,
            force,
        } => dev(&policies, &out, force),
        CertsCommand::Revoke { dir, name } => revoke(&dir, &name),
    }
}

fn dev(policies: &Path, out: &Path, force: bool) -> Result<ExitCode> {
    let set = setup::load_policy(policies)?;
    let existing = existing_pki_files(&set, out);
    if !existing.is_empty() && !force {
        anyhow::bail!(
            "{} already holds a PKI ({}): not replacing it, which would make a new CA and \
             new certificates for every organisation, so roles still holding the old ones \
             would refuse each other. Pass --force to replace it, or choose another --out",
            out.display(),
            match existing.split_at_checked(3) {
                Some((first, rest)) if !rest.is_empty() =>
                    format!("{} and {} more files", first.join(", "), rest.len()),
                _ => existing.join(", "),
            }
        );
    }
    let identities = setup::dev_pki(&set, out)?;
    println!("development PKI (not for production) in {}", out.display());
    println!("  {}", out.join("ca.pem").display());
    println!(
        "  {} (the CA's key, for `signaalnet certs revoke`)",
        out.join(signaalnet_tls::dev::CA_KEY).display()
    );
    println!(
        "  {} (the CA's revocation list, revoking nothing yet)",
        out.join(signaalnet_tls::dev::CA_CRL).display()
    );
    for identity in &identities {
        println!(
            "  {}.pem / .key  OIN {}  {}",
            identity.name, identity.oin, identity.organisation
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The files of `out` that `certs dev` would overwrite: the CA's and each organisation's.
fn existing_pki_files(set: &signaalnet_policy::PolicySet, out: &Path) -> Vec<String> {
    use signaalnet_tls::dev::{CA_CERT, CA_CRL, CA_KEY};
    [CA_CERT.to_owned(), CA_KEY.to_owned(), CA_CRL.to_owned()]
        .into_iter()
        .chain(
            set.partners()
                .flat_map(|p| [format!("{}.pem", p.id), format!("{}.key", p.id)]),
        )
        .filter(|name| out.join(name).exists())
        .collect()
}

fn revoke(dir: &Path, names: &[String]) -> Result<ExitCode> {
    let list = signaalnet_tls::dev::revoke(dir, names)?;
    if names.is_empty() {
        println!(
            "{}: issued afresh, revoking the same certificates",
            list.display()
        );
    } else {
        println!(
            "{}: revokes {} from now on",
            list.display(),
            names.join(", ")
        );
    }
    println!("roles with it in [tls] crl refuse them from their next reload (or SIGHUP)");
    Ok(ExitCode::SUCCESS)
}
