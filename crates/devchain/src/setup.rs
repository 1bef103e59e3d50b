//! What a chain needs before its roles start, made the way the commands make it: the key
//! ceremony's files (every party's step on this machine), a development PKI for every
//! organisation of a policy set, and a privacy officer's key and signature.

use anyhow::{Context, Result};
use signaalnet_policy::signature;
use signaalnet_policy::PolicySet;
use signaalnet_pseudonym::{Ceremony, CoordinatorContext, SystemPublicKeys};
use signaalnet_tls::dev::{write, write_dev_pki, DevIdentity};
use signaalnet_tls::Oin;
use std::path::{Path, PathBuf};

/// The files of a development key ceremony, as `signaalnet keys setup` names them.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    /// `system.json`: public, for every role.
    pub system: PathBuf,
    /// `coordinator-handle.key`: the coordinator's analyst handle key (secret).
    pub handle: PathBuf,
    /// `transcryptor-<i>.json`: each transcryptor's secrets, in ceremony order.
    pub transcryptors: Vec<PathBuf>,
}

impl KeyFiles {
    pub fn in_dir(dir: &Path, transcryptors: usize) -> Self {
        Self {
            system: dir.join("system.json"),
            handle: dir.join("coordinator-handle.key"),
            transcryptors: (1..=transcryptors)
                .map(|i| dir.join(format!("transcryptor-{i}.json")))
                .collect(),
        }
    }

    fn all(&self) -> impl Iterator<Item = &PathBuf> {
        [&self.system, &self.handle]
            .into_iter()
            .chain(&self.transcryptors)
    }
}

/// Every party's step of the key ceremony in order on this machine; writes the files (secrets
/// mode 0600) and returns the public record. Refuses to overwrite any of them: a new ceremony
/// makes every existing signal unmatchable.
pub fn key_ceremony(files: &KeyFiles, context: &str) -> Result<SystemPublicKeys> {
    for path in files.all() {
        anyhow::ensure!(
            !path.exists(),
            "{} already exists; a new ceremony would make every existing signal unmatchable. \
             Remove the old file deliberately first.",
            path.display()
        );
    }
    if let Some(dir) = files.system.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let rng = &mut rand::rng();
    let (system, keys) = Ceremony::run_locally(
        &CoordinatorContext::new(context)?,
        files.transcryptors.len(),
        rng,
    )?;
    write(
        &files.system,
        serde_json::to_string_pretty(&system)?.as_bytes(),
        false,
    )?;
    for (key, path) in keys.iter().zip(&files.transcryptors) {
        write(path, serde_json::to_string_pretty(key)?.as_bytes(), true)?;
    }
    write_handle_key(&files.handle)?;
    Ok(system)
}

/// A fresh analyst handle key (32 random bytes, hex), mode 0600.
pub fn write_handle_key(path: &Path) -> Result<()> {
    let mut secret = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    write(path, hex::encode(secret).as_bytes(), true)?;
    Ok(())
}

/// A development CA and a certificate per organisation of `set` (its OIN in the subject's
/// serialNumber) under `out`; returns the identities written.
pub fn dev_pki(set: &PolicySet, out: &Path) -> Result<Vec<DevIdentity>> {
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
    write_dev_pki(out, &identities)?;
    Ok(identities)
}

/// A privacy officer's signing key at `key` (mode 0600) and its public key at `<key>.pub`;
/// returns the public key's path.
pub fn officer_key(key: &Path) -> Result<PathBuf> {
    anyhow::ensure!(
        !key.exists(),
        "{} exists; not overwriting a key",
        key.display()
    );
    let (pkcs8, public) = signature::generate_key()?;
    if let Some(dir) = key.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    write(key, &pkcs8, true)?;
    let public_path = PathBuf::from(format!("{}.pub", key.display()));
    std::fs::write(&public_path, format!("{public}\n"))?;
    Ok(public_path)
}

/// Signs the valid policy set in `dir` with the officer key at `key`: writes `policy.sig`.
/// Signs the set in `dir` as `serial`, or by default one above the serial of the signature
/// already there (1 for a first signature).
pub fn sign_policy(
    dir: &Path,
    key: &Path,
    serial: Option<u64>,
) -> Result<signature::PolicySignature> {
    let set = load_policy(dir)?;
    let pkcs8 = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
    let serial = serial.unwrap_or_else(|| {
        signature::read_signature(dir).map_or(1, |previous| previous.serial.saturating_add(1))
    });
    let sig = signature::sign(set.version(), serial, &pkcs8)
        .with_context(|| key.display().to_string())?;
    std::fs::write(dir.join(signature::SIGNATURE_FILE), toml::to_string(&sig)?)?;
    Ok(sig)
}

/// Loads a policy set, its problems as one error.
pub fn load_policy(dir: &Path) -> Result<PolicySet> {
    PolicySet::load(dir).map_err(|p| {
        anyhow::anyhow!(
            "policy set {} is invalid ({} problem(s)); run `signaalnet policy check {0}`:\n{p}",
            dir.display(),
            p.0.len()
        )
    })
}

/// Copies a directory tree (a policy set, so a test may change its copy under running roles).
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying to {}", target.display()))?;
        }
    }
    Ok(())
}
