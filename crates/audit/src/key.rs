//! The role's checkpoint signing key (Ed25519, PKCS#8, mode 0600) and its public half, written
//! next to it as hex (`<key>.pub`) so an operator can copy it somewhere the role cannot write.

use crate::AuditError;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use std::path::{Path, PathBuf};

pub struct Signer {
    pair: Ed25519KeyPair,
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.key_id)
    }
}

fn key_error(path: &Path, problem: impl std::fmt::Display) -> AuditError {
    AuditError::Key {
        path: path.display().to_string(),
        problem: problem.to_string(),
    }
}

/// `<key>.pub`: where the public key of the key at `path` is written.
pub fn public_key_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

impl Signer {
    /// Reads the key at `path`, or creates it (and `<path>.pub`) when there is none.
    pub fn load_or_create(path: &Path) -> Result<Self, AuditError> {
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = ring::rand::SystemRandom::new();
                let doc = Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|_| key_error(path, "generating a key failed"))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| key_error(path, e))?;
                }
                write_private(path, doc.as_ref()).map_err(|e| key_error(path, e))?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(key_error(path, e)),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|e| key_error(path, format!("not an Ed25519 PKCS#8 key: {e}")))?;
        let public = pair.public_key().as_ref().to_vec();
        let pub_path = public_key_path(path);
        if !pub_path.exists() {
            std::fs::write(&pub_path, format!("{}\n", hex::encode(&public)))
                .map_err(|e| key_error(&pub_path, e))?;
        }
        Ok(Self {
            key_id: crate::entry::key_id(&public),
            pair,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.pair.sign(message).as_ref())
    }
}

/// Reads a public key written by [`Signer::load_or_create`] (hex, 32 bytes).
pub fn read_public_key(path: &Path) -> Result<Vec<u8>, AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| key_error(path, e))?;
    let bytes = hex::decode(text.trim()).map_err(|_| key_error(path, "is not a hex public key"))?;
    if bytes.len() != 32 {
        return Err(key_error(
            path,
            format!("holds {} bytes; an Ed25519 public key has 32", bytes.len()),
        ));
    }
    Ok(bytes)
}

pub(crate) fn signature_valid(public_key: &[u8], message: &[u8], signature_hex: &str) -> bool {
    let Ok(signature) = hex::decode(signature_hex) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, &signature)
        .is_ok()
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
