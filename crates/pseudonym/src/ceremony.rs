//! The one-off key ceremony for n transcryptors.
//!
//! The ceremony generates the global key pair, blinds the global secret key with one random
//! blinding factor per transcryptor and drops it (inside libpep, before this function returns):
//! from then on only all n transcryptors together can produce a session key. Each transcryptor
//! also gets fresh secrets from which its reshuffle and rekey factors derive; nobody else needs
//! them, and a transcryptor may replace them before first use (see [`TranscryptorKeys::generate`]).

use crate::error::PseudonymError;
use libpep::keys::distribution::{
    make_distributed_pseudonym_global_keys, BlindedGlobalSecretKey,
    BlindedPseudonymGlobalSecretKey, BlindingFactor,
};
use libpep::keys::{PseudonymGlobalPublicKey, PublicKey};
use rand::{CryptoRng, Rng};
use serde::{Deserialize, Serialize};

/// What every role may know: the global public key partners encrypt for, the blinded global
/// secret key the coordinator combines with its key shares, and the number of transcryptors.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SystemPublicKeysFile", into = "SystemPublicKeysFile")]
pub struct SystemPublicKeys {
    pub(crate) global_public_key: PseudonymGlobalPublicKey,
    pub(crate) blinded_global_secret_key: BlindedPseudonymGlobalSecretKey,
    pub(crate) transcryptors: usize,
}

impl std::fmt::Debug for SystemPublicKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemPublicKeys")
            .field("global_public_key", &self.global_public_key.to_hex())
            .field("transcryptors", &self.transcryptors)
            .finish_non_exhaustive()
    }
}

impl SystemPublicKeys {
    pub fn transcryptors(&self) -> usize {
        self.transcryptors
    }

    /// Hex of the global public key, to compare between roles when configuring them.
    pub fn fingerprint(&self) -> String {
        self.global_public_key.to_hex()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemPublicKeysFile {
    global_public_key: String,
    blinded_global_secret_key: String,
    transcryptors: usize,
}

impl From<SystemPublicKeys> for SystemPublicKeysFile {
    fn from(k: SystemPublicKeys) -> Self {
        Self {
            global_public_key: k.global_public_key.to_hex(),
            blinded_global_secret_key: k.blinded_global_secret_key.to_hex(),
            transcryptors: k.transcryptors,
        }
    }
}

impl TryFrom<SystemPublicKeysFile> for SystemPublicKeys {
    type Error = PseudonymError;

    fn try_from(f: SystemPublicKeysFile) -> Result<Self, Self::Error> {
        if f.transcryptors == 0 {
            return Err(PseudonymError::NoTranscryptors(0));
        }
        Ok(Self {
            global_public_key: PseudonymGlobalPublicKey::from_hex(&f.global_public_key).ok_or(
                PseudonymError::Malformed {
                    field: "global_public_key",
                    problem: "must be 64 hex digits of a ristretto255 point",
                },
            )?,
            blinded_global_secret_key: BlindedPseudonymGlobalSecretKey::from_hex(
                &f.blinded_global_secret_key,
            )
            .ok_or(PseudonymError::Malformed {
                field: "blinded_global_secret_key",
                problem: "must be 64 hex digits of a canonical ristretto255 scalar",
            })?,
            transcryptors: f.transcryptors,
        })
    }
}

/// The secrets of one transcryptor. `Debug` is redacted; store the serialised form only in a
/// file readable by the transcryptor's own user.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "TranscryptorKeysFile", into = "TranscryptorKeysFile")]
pub struct TranscryptorKeys {
    pub(crate) index: usize,
    pub(crate) blinding_factor: BlindingFactor,
    pub(crate) pseudonymisation_secret: [u8; 32],
    pub(crate) rekeying_secret: [u8; 32],
}

impl std::fmt::Debug for TranscryptorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TranscryptorKeys(#{}, [redacted])", self.index)
    }
}

impl TranscryptorKeys {
    /// Fresh factor secrets around a blinding factor handed out by the ceremony.
    pub fn generate<R: Rng + CryptoRng>(
        index: usize,
        blinding_factor: BlindingFactor,
        rng: &mut R,
    ) -> Self {
        let mut pseudonymisation_secret = [0u8; 32];
        let mut rekeying_secret = [0u8; 32];
        rng.fill_bytes(&mut pseudonymisation_secret);
        rng.fill_bytes(&mut rekeying_secret);
        Self {
            index,
            blinding_factor,
            pseudonymisation_secret,
            rekeying_secret,
        }
    }

    /// 1-based position of this transcryptor in the ceremony.
    pub fn index(&self) -> usize {
        self.index
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TranscryptorKeysFile {
    index: usize,
    blinding_factor: String,
    pseudonymisation_secret: String,
    rekeying_secret: String,
}

impl From<TranscryptorKeys> for TranscryptorKeysFile {
    fn from(k: TranscryptorKeys) -> Self {
        Self {
            index: k.index,
            blinding_factor: k.blinding_factor.to_hex(),
            pseudonymisation_secret: hex::encode(k.pseudonymisation_secret),
            rekeying_secret: hex::encode(k.rekeying_secret),
        }
    }
}

impl TryFrom<TranscryptorKeysFile> for TranscryptorKeys {
    type Error = PseudonymError;

    fn try_from(f: TranscryptorKeysFile) -> Result<Self, Self::Error> {
        let secret = |field: &'static str, hex_value: &str| -> Result<[u8; 32], PseudonymError> {
            let mut out = [0u8; 32];
            hex::decode_to_slice(hex_value, &mut out).map_err(|_| PseudonymError::Malformed {
                field,
                problem: "must be 64 hex digits (32 bytes)",
            })?;
            Ok(out)
        };
        Ok(Self {
            index: f.index,
            blinding_factor: BlindingFactor::from_hex(&f.blinding_factor).ok_or(
                PseudonymError::Malformed {
                    field: "blinding_factor",
                    problem: "must be 64 hex digits of a canonical ristretto255 scalar",
                },
            )?,
            pseudonymisation_secret: secret("pseudonymisation_secret", &f.pseudonymisation_secret)?,
            rekeying_secret: secret("rekeying_secret", &f.rekeying_secret)?,
        })
    }
}

/// Runs the ceremony for `n` transcryptors. The global secret key never leaves libpep's setup
/// function: it is blinded and dropped there.
pub fn key_ceremony<R: Rng + CryptoRng>(
    n: usize,
    rng: &mut R,
) -> Result<(SystemPublicKeys, Vec<TranscryptorKeys>), PseudonymError> {
    if n == 0 {
        return Err(PseudonymError::NoTranscryptors(n));
    }
    let (global_public_key, blinded_global_secret_key, blinding_factors) =
        make_distributed_pseudonym_global_keys(n, rng);
    let transcryptors = blinding_factors
        .into_iter()
        .enumerate()
        .map(|(i, factor)| TranscryptorKeys::generate(i + 1, factor, rng))
        .collect();
    Ok((
        SystemPublicKeys {
            global_public_key,
            blinded_global_secret_key,
            transcryptors: n,
        },
        transcryptors,
    ))
}
