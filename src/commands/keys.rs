//! `signaalnet keys setup`: the one-off key ceremony.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use signaalnet_pseudonym::key_ceremony;
use signaalnet_tls::dev::write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create the global keys for n transcryptors, hand each its secrets, discard the global
    /// secret key. Writes `system.json` (public: for every role), `transcryptor-<i>.json` (secret:
    /// one per transcryptor) and `coordinator-handle.key` (secret: the coordinator's key for
    /// analyst handles).
    Setup {
        /// Number of transcryptors.
        #[arg(long, default_value_t = 2)]
        transcryptors: usize,
        /// Directory to write into; must not already hold keys.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(command: KeysCommand) -> Result<ExitCode> {
    match command {
        KeysCommand::Setup { transcryptors, out } => setup(transcryptors, &out),
    }
}

fn setup(n: usize, out: &Path) -> Result<ExitCode> {
    if n == 0 {
        bail!("--transcryptors must be at least 1");
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let system_path = out.join("system.json");
    let handle_path = out.join("coordinator-handle.key");
    let transcryptor_paths: Vec<PathBuf> = (1..=n)
        .map(|i| out.join(format!("transcryptor-{i}.json")))
        .collect();
    for path in std::iter::once(&system_path)
        .chain(std::iter::once(&handle_path))
        .chain(&transcryptor_paths)
    {
        if path.exists() {
            bail!(
                "{} already exists; a new ceremony would make every existing signal unmatchable. \
                 Remove the old keys deliberately first.",
                path.display()
            );
        }
    }

    let system = ceremony(n, &system_path, &handle_path, &transcryptor_paths)?;

    println!("key ceremony for {n} transcryptor(s) done; the global secret key was discarded");
    println!("  {} (public, for every role)", system_path.display());
    for path in &transcryptor_paths {
        println!(
            "  {} (secret, mode 0600: give to that transcryptor only)",
            path.display()
        );
    }
    println!(
        "  {} (secret, mode 0600: coordinator only)",
        handle_path.display()
    );
    println!("global public key {}", system.fingerprint());
    Ok(ExitCode::SUCCESS)
}

/// Runs the ceremony and writes its files (secrets mode 0600); returns the public keys.
pub fn ceremony(
    n: usize,
    system_path: &Path,
    handle_path: &Path,
    transcryptor_paths: &[PathBuf],
) -> Result<signaalnet_pseudonym::SystemPublicKeys> {
    let rng = &mut rand::rng();
    let (system, keys) = key_ceremony(n, rng)?;
    write(
        system_path,
        serde_json::to_string_pretty(&system)?.as_bytes(),
        false,
    )?;
    for (key, path) in keys.iter().zip(transcryptor_paths) {
        write(path, serde_json::to_string_pretty(key)?.as_bytes(), true)?;
    }
    let mut handle_secret = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut handle_secret)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    write(handle_path, hex::encode(handle_secret).as_bytes(), true)?;

    Ok(system)
}
