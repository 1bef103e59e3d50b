//! Wire forms of the values that travel between roles.

use crate::error::PseudonymError;
use libpep::data::simple::{ElGamalEncrypted, EncryptedPseudonym};
use libpep::keys::distribution::PseudonymSessionKeyShare;
use libpep::keys::{PseudonymSessionPublicKey, PublicKey};

/// An identifier in transit: the ElGamal ciphertext and the public key it is currently encrypted
/// under. Without libpep's `elgamal3` mode the key does not live inside the ciphertext, but each
/// transcryptor needs it to rerandomise, so it travels alongside. It is the same for every
/// ciphertext at the same step of the chain, so it links nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EncryptedIdentifier {
    pub(crate) ciphertext: EncryptedPseudonym,
    pub(crate) public_key: PseudonymSessionPublicKey,
}

impl std::fmt::Debug for EncryptedIdentifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptedIdentifier(..)")
    }
}

impl EncryptedIdentifier {
    /// 64 bytes of ciphertext followed by 32 bytes of public key.
    pub const LEN: usize = 96;

    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..64].copy_from_slice(&self.ciphertext.to_bytes());
        out[64..].copy_from_slice(&self.public_key.to_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PseudonymError> {
        if bytes.len() != Self::LEN {
            return Err(PseudonymError::Malformed {
                field: "encrypted_identifier",
                problem: "must be exactly 96 bytes (64 ciphertext, 32 public key)",
            });
        }
        let ciphertext =
            EncryptedPseudonym::from_slice(&bytes[..64]).ok_or(PseudonymError::Malformed {
                field: "encrypted_identifier",
                problem: "the first 64 bytes are not an ElGamal ciphertext over ristretto255",
            })?;
        let public_key = PseudonymSessionPublicKey::from_slice(&bytes[64..]).ok_or(
            PseudonymError::Malformed {
                field: "encrypted_identifier",
                problem: "the last 32 bytes are not a ristretto255 public key",
            },
        )?;
        Ok(Self {
            ciphertext,
            public_key,
        })
    }
}

/// The coordinator's encryption context, e.g. `coordinator/riec-noord`. Transcryptors convert
/// into it; only the coordinator gets the key shares that open it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CoordinatorContext(String);

impl CoordinatorContext {
    pub fn new(name: impl Into<String>) -> Result<Self, PseudonymError> {
        let name = name.into();
        if name.is_empty()
            || name.len() > 128
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/' | b'.'))
        {
            return Err(PseudonymError::Malformed {
                field: "coordinator_context",
                problem: "must be 1-128 characters of letters, digits, '-', '_', '/' and '.'",
            });
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn libpep(&self) -> libpep::contexts::EncryptionContext {
        libpep::contexts::EncryptionContext::from(self.0.as_str())
    }
}

/// One transcryptor's share of the coordinator's session key (a secret: only the coordinator
/// may receive it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyShare(pub(crate) PseudonymSessionKeyShare);

impl std::fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyShare([redacted])")
    }
}

impl KeyShare {
    pub fn to_bytes(&self) -> [u8; 32] {
        use libpep::keys::distribution::SessionKeyShare;
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PseudonymError> {
        use libpep::keys::distribution::SessionKeyShare;
        PseudonymSessionKeyShare::from_slice(bytes)
            .map(Self)
            .ok_or(PseudonymError::Malformed {
                field: "key_share",
                problem: "must be a 32-byte canonical ristretto255 scalar",
            })
    }
}
