//! Signed policy sets. A privacy officer signs the set's version (the SHA-256 over every file)
//! and its serial number with an Ed25519 key; the signature lives next to the files in
//! `policy.sig`:
//!
//! ```text
//! version = "sha256:…"
//! serial = 7
//! key_id = "…"
//! signature = "…"
//! ```
//!
//! A role configured with the officers' public keys refuses a set without a signature, with a
//! signature over another version (a file changed after signing), or signed by a key it does
//! not know. The serial is what stops a rollback: every set an officer signs gets a higher one,
//! and a role refuses a set whose serial is below that of the set it enforces (an older set,
//! validly signed in its day, restored over the current one), or equal to it with other content.

use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file in the policy directory that holds the signature.
pub const SIGNATURE_FILE: &str = "policy.sig";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySignature {
    pub version: String,
    /// Higher for every set signed after it; covered by the signature.
    pub serial: u64,
    pub key_id: String,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("policy set {version} is not signed: {file} is missing; this role only enforces sets signed by a privacy officer (key {keys})")]
    Unsigned {
        version: String,
        file: String,
        keys: String,
    },
    #[error("{file}: {problem}")]
    Unreadable { file: String, problem: String },
    #[error("{file} signs version {signed}, but the files are version {actual}: a file was changed after signing; have the privacy officer review and sign again")]
    OtherVersion {
        file: String,
        signed: String,
        actual: String,
    },
    #[error("{file} is signed by key {key_id}, which is not one of this role's privacy officer keys ({keys})")]
    UnknownKey {
        file: String,
        key_id: String,
        keys: String,
    },
    #[error("{file}: serial {serial} is older than serial {floor} of the set this role has enforced; an older set may not be restored (roll forward: have the privacy officer sign it again, with a higher serial)")]
    Rollback {
        file: String,
        serial: u64,
        floor: u64,
    },
    #[error("{file}: serial {serial} is already that of another set this role enforced; a changed set needs a higher serial")]
    SerialReused { file: String, serial: u64 },
    #[error("{file}: the signature by key {key_id} does not verify")]
    BadSignature { file: String, key_id: String },
    #[error("privacy officer key {path}: {problem}")]
    Key { path: String, problem: String },
}

fn message(version: &str, serial: u64) -> Vec<u8> {
    let mut m = b"signaalnet-policy-set-v2\0".to_vec();
    m.extend_from_slice(&serial.to_be_bytes());
    m.extend_from_slice(version.as_bytes());
    m
}

/// What a valid signature says: who signed, and the set's serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub key_id: String,
    pub serial: u64,
}

/// The signature file in `dir`, if there is a readable one (for the serial of the next set).
pub fn read_signature(dir: &Path) -> Option<PolicySignature> {
    toml::from_str(&std::fs::read_to_string(dir.join(SIGNATURE_FILE)).ok()?).ok()
}

/// Short id of a public key: the first 8 bytes of its SHA-256, hex.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&ring::digest::digest(&ring::digest::SHA256, public_key).as_ref()[..8])
}

/// A new privacy officer key: PKCS#8 bytes (keep secret) and the hex public key.
pub fn generate_key() -> Result<(Vec<u8>, String), SignatureError> {
    let rng = ring::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| SignatureError::Key {
        path: String::new(),
        problem: "generating a key failed".into(),
    })?;
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|e| SignatureError::Key {
        path: String::new(),
        problem: e.to_string(),
    })?;
    Ok((
        doc.as_ref().to_vec(),
        hex::encode(pair.public_key().as_ref()),
    ))
}

/// Signs `version` as serial `serial` with the PKCS#8 Ed25519 key `pkcs8`.
pub fn sign(version: &str, serial: u64, pkcs8: &[u8]) -> Result<PolicySignature, SignatureError> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|e| SignatureError::Key {
        path: String::new(),
        problem: format!("not an Ed25519 PKCS#8 key: {e}"),
    })?;
    Ok(PolicySignature {
        version: version.to_owned(),
        serial,
        key_id: key_id(pair.public_key().as_ref()),
        signature: hex::encode(pair.sign(&message(version, serial)).as_ref()),
    })
}

/// The privacy officer keys a role accepts.
#[derive(Debug, Clone, Default)]
pub struct Signers {
    keys: Vec<Vec<u8>>,
}

impl Signers {
    /// Reads hex public keys (one per file, as written by `signaalnet policy keygen`).
    pub fn read(paths: &[impl AsRef<Path>]) -> Result<Self, SignatureError> {
        let mut keys = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let err = |problem: String| SignatureError::Key {
                path: path.display().to_string(),
                problem,
            };
            let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            let key =
                hex::decode(text.trim()).map_err(|_| err("is not a hex public key".into()))?;
            if key.len() != 32 {
                return Err(err(format!(
                    "holds {} bytes; an Ed25519 public key has 32",
                    key.len()
                )));
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    pub fn from_keys(keys: Vec<Vec<u8>>) -> Self {
        Self { keys }
    }

    /// True when no key is configured: signatures are then not required.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn ids(&self) -> String {
        self.keys
            .iter()
            .map(|k| key_id(k))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks the signature in `dir` over `version`; returns the signing key's id and the
    /// serial it signed.
    pub fn check(&self, dir: &Path, version: &str) -> Result<Signed, SignatureError> {
        let file = dir.join(SIGNATURE_FILE).display().to_string();
        let text = match std::fs::read_to_string(dir.join(SIGNATURE_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SignatureError::Unsigned {
                    version: version.to_owned(),
                    file,
                    keys: self.ids(),
                })
            }
            Err(e) => {
                return Err(SignatureError::Unreadable {
                    file,
                    problem: e.to_string(),
                })
            }
        };
        let signed: PolicySignature =
            toml::from_str(&text).map_err(|e| SignatureError::Unreadable {
                file: file.clone(),
                problem: e.message().trim().to_owned(),
            })?;
        if signed.version != version {
            return Err(SignatureError::OtherVersion {
                file,
                signed: signed.version,
                actual: version.to_owned(),
            });
        }
        let Some(key) = self.keys.iter().find(|k| key_id(k) == signed.key_id) else {
            return Err(SignatureError::UnknownKey {
                file,
                key_id: signed.key_id,
                keys: self.ids(),
            });
        };
        let valid = hex::decode(&signed.signature).is_ok_and(|sig| {
            UnparsedPublicKey::new(&ED25519, key)
                .verify(&message(version, signed.serial), &sig)
                .is_ok()
        });
        if !valid {
            return Err(SignatureError::BadSignature {
                file,
                key_id: signed.key_id,
            });
        }
        Ok(Signed {
            key_id: signed.key_id,
            serial: signed.serial,
        })
    }
}

/// Refuses a set signed as `serial` (version `version`) where a role has enforced serial
/// `floor` with version `floor_version`: an older serial is a rollback, the same serial with
/// other content a reused serial.
pub fn check_serial(
    dir: &Path,
    serial: u64,
    version: &str,
    floor: u64,
    floor_version: Option<&str>,
) -> Result<(), SignatureError> {
    let file = dir.join(SIGNATURE_FILE).display().to_string();
    if serial < floor {
        return Err(SignatureError::Rollback {
            file,
            serial,
            floor,
        });
    }
    if serial == floor && floor_version.is_some_and(|v| v != version) {
        return Err(SignatureError::SerialReused { file, serial });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn write_sig(dir: &Path, sig: &PolicySignature) {
        std::fs::write(dir.join(SIGNATURE_FILE), toml::to_string(sig).unwrap()).unwrap();
    }

    #[test]
    fn a_signed_version_verifies_and_every_other_case_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (officer, officer_pub) = generate_key().unwrap();
        let (stranger, _) = generate_key().unwrap();
        let signers = Signers::from_keys(vec![hex::decode(&officer_pub).unwrap()]);

        let err = signers.check(dir.path(), "sha256:aa").unwrap_err();
        assert!(matches!(err, SignatureError::Unsigned { .. }), "{err}");
        assert!(err.to_string().contains("policy.sig is missing"), "{err}");

        let sig = sign("sha256:aa", 3, &officer).unwrap();
        write_sig(dir.path(), &sig);
        let signed = signers.check(dir.path(), "sha256:aa").unwrap();
        assert_eq!(
            (signed.key_id.as_str(), signed.serial),
            (sig.key_id.as_str(), 3)
        );

        // The serial is signed: raising it in the file breaks the signature.
        let mut raised = sig.clone();
        raised.serial = 4;
        write_sig(dir.path(), &raised);
        let err = signers.check(dir.path(), "sha256:aa").unwrap_err();
        assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
        write_sig(dir.path(), &sig);

        let err = signers.check(dir.path(), "sha256:bb").unwrap_err();
        assert!(matches!(err, SignatureError::OtherVersion { .. }), "{err}");
        assert!(err.to_string().contains("changed after signing"), "{err}");

        write_sig(dir.path(), &sign("sha256:aa", 3, &stranger).unwrap());
        let err = signers.check(dir.path(), "sha256:aa").unwrap_err();
        assert!(matches!(err, SignatureError::UnknownKey { .. }), "{err}");

        let mut forged = sig.clone();
        forged.signature = sign("sha256:cc", 3, &officer).unwrap().signature;
        write_sig(dir.path(), &forged);
        let err = signers.check(dir.path(), "sha256:aa").unwrap_err();
        assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");

        std::fs::write(dir.path().join(SIGNATURE_FILE), "version = 3").unwrap();
        let err = signers.check(dir.path(), "sha256:aa").unwrap_err();
        assert!(matches!(err, SignatureError::Unreadable { .. }), "{err}");
    }

    #[test]
    fn an_older_serial_is_a_rollback_and_a_reused_one_is_refused() {
        let dir = Path::new("policies");
        assert!(check_serial(dir, 5, "sha256:b", 4, Some("sha256:a")).is_ok());
        assert!(check_serial(dir, 4, "sha256:a", 4, Some("sha256:a")).is_ok());
        assert!(check_serial(dir, 4, "sha256:a", 4, None).is_ok());
        let err = check_serial(dir, 3, "sha256:old", 4, Some("sha256:a")).unwrap_err();
        assert!(
            matches!(
                err,
                SignatureError::Rollback {
                    serial: 3,
                    floor: 4,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("older"), "{err}");
        let err = check_serial(dir, 4, "sha256:b", 4, Some("sha256:a")).unwrap_err();
        assert!(
            matches!(err, SignatureError::SerialReused { serial: 4, .. }),
            "{err}"
        );
    }
}
