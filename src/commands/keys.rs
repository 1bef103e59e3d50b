//! `signaalnet keys …`: the dealer-free key ceremony, one subcommand per party's step
//! (docs/ceremony.md), and `setup`, which runs every party's step on one machine for development.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use signaalnet_devchain::setup::{key_ceremony, write_handle_key, KeyFiles};
use signaalnet_pseudonym::{Ceremony, CoordinatorContext, SystemPublicKeys, TranscryptorKeys};
use signaalnet_tls::dev::write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The coordinator context of the example region.
const DEFAULT_CONTEXT: &str = "coordinator/riec-noord";

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Step 0, by whoever convenes the ceremony: open a ceremony record for n transcryptors and
    /// the coordinator context they convert into. Public; hand it to transcryptor 1.
    Open {
        /// The coordinator context the transcryptors convert into (names the region's
        /// coordinator; every role's configuration repeats it as `coordinator_context`).
        #[arg(long, default_value = DEFAULT_CONTEXT)]
        context: String,
        /// How many transcryptors the chain has (1 to 8), each run by another organisation.
        #[arg(long, default_value_t = 2)]
        transcryptors: usize,
        /// The ceremony record to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// On each transcryptor's own machine, once: generate its secrets (mode 0600). They never
    /// leave that machine.
    Generate {
        /// This transcryptor's 1-based position in the chain.
        #[arg(long)]
        index: usize,
        /// The secret file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// On transcryptor i's machine, in turn: verify the record received from transcryptor i-1
    /// (or the convener), add this transcryptor's proven contribution, write the record to hand
    /// on.
    Contribute {
        /// This transcryptor's secrets (from `keys generate`).
        #[arg(long)]
        secrets: PathBuf,
        /// The record received.
        #[arg(long)]
        record: PathBuf,
        /// The record to hand on (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// By anyone, after the last transcryptor: verify every proof of the complete record and
    /// write `system.json`, the public keys for every role.
    Finish {
        /// The record with every transcryptor's contribution (from the last `keys contribute`).
        #[arg(long)]
        record: PathBuf,
        /// Where to write `system.json`, the public keys every role reads (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a ceremony record or `system.json` and print what it holds.
    Verify {
        /// The ceremony record (from any step) to check.
        #[arg(long)]
        record: PathBuf,
    },
    /// On the coordinator's machine: the secret for analyst handles (mode 0600).
    HandleKey {
        /// The secret file to write (must not exist); the coordinator's `handle_key`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Development only: every party's step on one machine. Writes `system.json`,
    /// `transcryptor-<i>.json` (secret, one per transcryptor) and `coordinator-handle.key`
    /// (secret). In a region each transcryptor runs `generate` and `contribute` on its own
    /// machine, so no folder ever holds more than one transcryptor's secrets.
    Setup {
        /// Number of transcryptors.
        #[arg(long, default_value_t = 2)]
        transcryptors: usize,
        /// The coordinator context the transcryptors convert into.
        #[arg(long, default_value = DEFAULT_CONTEXT)]
        context: String,
        /// Directory to write into; must not already hold keys.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(command: KeysCommand) -> Result<ExitCode> {
    match command {
        KeysCommand::Open {
            context,
            transcryptors,
            out,
        } => {
            fresh(&out)?;
            let ceremony = Ceremony::open(&CoordinatorContext::new(context)?, transcryptors)?;
            write_record(&out, &ceremony)?;
            println!(
                "opened a ceremony for {transcryptors} transcryptor(s) into context `{}`",
                ceremony.context()?.as_str()
            );
            println!("next: hand {} to transcryptor 1", out.display());
        }
        KeysCommand::Generate { index, out } => {
            fresh(&out)?;
            if index == 0 || index > signaalnet_pseudonym::MAX_TRANSCRYPTORS {
                bail!("--index must be a position in the chain, 1 to 8");
            }
            let keys = TranscryptorKeys::generate(index, &mut rand::rng());
            write(&out, serde_json::to_string_pretty(&keys)?.as_bytes(), true)?;
            println!(
                "{} written (secret, mode 0600): keep it on this machine only",
                out.display()
            );
        }
        KeysCommand::Contribute {
            secrets,
            record,
            out,
        } => {
            fresh(&out)?;
            let keys: TranscryptorKeys = read_json(&secrets)?;
            let mut ceremony: Ceremony = read_json(&record)?;
            ceremony
                .contribute(&keys, &mut rand::rng())
                .with_context(|| record.display().to_string())?;
            write_record(&out, &ceremony)?;
            println!(
                "transcryptor {} of {} contributed; every earlier contribution verified",
                keys.index(),
                ceremony.transcryptors()
            );
            if ceremony.contributed() < ceremony.transcryptors() {
                println!(
                    "next: hand {} to transcryptor {}",
                    out.display(),
                    keys.index() + 1
                );
            } else {
                println!(
                    "next: `signaalnet keys finish --record {} --out system.json`, then give \
                     system.json to every role",
                    out.display()
                );
            }
        }
        KeysCommand::Finish { record, out } => {
            fresh(&out)?;
            let ceremony: Ceremony = read_json(&record)?;
            let system = ceremony
                .finish()
                .with_context(|| record.display().to_string())?;
            write(
                &out,
                serde_json::to_string_pretty(&system)?.as_bytes(),
                false,
            )?;
            print_system(&system);
            println!("{} written (public): give it to every role", out.display());
        }
        KeysCommand::Verify { record } => {
            let ceremony: Ceremony = read_json(&record)?;
            ceremony
                .verify()
                .with_context(|| record.display().to_string())?;
            println!(
                "{}: {} of {} transcryptor(s) contributed, every proof verifies",
                record.display(),
                ceremony.contributed(),
                ceremony.transcryptors()
            );
            if let Ok(system) = ceremony.finish() {
                print_system(&system);
            }
        }
        KeysCommand::HandleKey { out } => {
            fresh(&out)?;
            write_handle_key(&out)?;
            println!(
                "{} written (secret, mode 0600): coordinator only",
                out.display()
            );
        }
        KeysCommand::Setup {
            transcryptors,
            context,
            out,
        } => setup(transcryptors, &context, &out)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn setup(n: usize, context: &str, out: &Path) -> Result<()> {
    let files = KeyFiles::in_dir(out, n);
    let system = key_ceremony(&files, context)?;
    println!(
        "development key ceremony for {n} transcryptor(s): every party's step on this machine"
    );
    println!("  {} (public, for every role)", files.system.display());
    for path in &files.transcryptors {
        println!(
            "  {} (secret, mode 0600: that transcryptor only)",
            path.display()
        );
    }
    println!(
        "  {} (secret, mode 0600: coordinator only)",
        files.handle.display()
    );
    print_system(&system);
    Ok(())
}

fn print_system(system: &SystemPublicKeys) {
    println!(
        "coordinator context `{}`, {} transcryptor(s), global public key {}",
        system.context().as_str(),
        system.transcryptors(),
        system.fingerprint()
    );
}

/// Refuses to overwrite: a new ceremony makes every existing signal unmatchable.
fn fresh(path: &Path) -> Result<()> {
    if path.exists() {
        bail!(
            "{} already exists; a new ceremony would make every existing signal unmatchable. \
             Remove the old file deliberately first.",
            path.display()
        );
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() > 1 << 20 {
        bail!("{}: larger than 1 MiB; not a key file", path.display());
    }
    serde_json::from_slice(&bytes).with_context(|| path.display().to_string())
}

fn write_record(path: &Path, ceremony: &Ceremony) -> Result<()> {
    write(
        path,
        serde_json::to_string_pretty(ceremony)?.as_bytes(),
        false,
    )?;
    Ok(())
}
