//! Wire forms of the values that travel between roles.

use crate::error::PseudonymError;
use crate::MATCH_DOMAIN;
use libpep::contexts::PseudonymizationDomain;
use libpep::data::simple::{ElGamalEncrypted, EncryptedPseudonym};
use libpep::elgamal::verifiable::VerifiableRRSK;
use libpep::keys::distribution::{PseudonymSessionKeyShare, SessionKeyShareProof};
use libpep::keys::{PseudonymSessionPublicKey, PublicKey};
use signaalnet_identifier::IdentifierKind;

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

/// The matching domain of one purpose and identifier kind, `match/<purpose>/<kind>`: the same
/// identifier gives unlinkable pseudonyms in two purposes (two legally separate processing
/// activities), and a ciphertext declared as the wrong kind lands where nothing can match it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MatchDomain(String);

impl MatchDomain {
    /// `purpose` must be a policy purpose id (letters, digits, `_`, `-`).
    pub fn new(purpose: &str, kind: IdentifierKind) -> Result<Self, PseudonymError> {
        if purpose.is_empty()
            || purpose.len() > 64
            || !purpose
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        {
            return Err(PseudonymError::Malformed {
                field: "purpose",
                problem: "must be 1-64 letters, digits, '-' or '_'",
            });
        }
        Ok(Self(format!("{MATCH_DOMAIN}/{purpose}/{}", kind.as_str())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn libpep(&self) -> PseudonymizationDomain {
        PseudonymizationDomain::from(self.0.as_str())
    }
}

/// One transcryptor's share of the coordinator's session key, with libpep's proof that it is
/// `b_i·k_i` for the commitments of the ceremony (a secret: only the coordinator may receive it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyShare {
    pub(crate) share: PseudonymSessionKeyShare,
    pub(crate) proof: SessionKeyShareProof,
}

impl std::fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyShare([redacted])")
    }
}

impl KeyShare {
    pub fn share_bytes(&self) -> [u8; 32] {
        use libpep::keys::distribution::SessionKeyShare;
        self.share.to_bytes()
    }

    pub fn proof_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.proof).unwrap_or_default()
    }

    pub fn from_bytes(share: &[u8], proof: &[u8]) -> Result<Self, PseudonymError> {
        use libpep::keys::distribution::SessionKeyShare;
        let share =
            PseudonymSessionKeyShare::from_slice(share).ok_or(PseudonymError::Malformed {
                field: "key_share",
                problem: "must be a 32-byte canonical ristretto255 scalar",
            })?;
        if proof.len() > 1024 {
            return Err(PseudonymError::Malformed {
                field: "key_share_proof",
                problem: "longer than 1024 bytes",
            });
        }
        let proof: SessionKeyShareProof =
            serde_json::from_slice(proof).map_err(|_| PseudonymError::Malformed {
                field: "key_share_proof",
                problem: "not a key share proof (libpep SessionKeyShareProof)",
            })?;
        Ok(Self { share, proof })
    }
}

/// A transcryptor's proof that it converted one ciphertext with the factors it committed to
/// (libpep's verifiable rerandomise-reshuffle-rekey). It carries the converted ciphertext.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ConversionProof(pub(crate) VerifiableRRSK);

impl std::fmt::Debug for ConversionProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConversionProof(..)")
    }
}

impl ConversionProof {
    /// Upper bound of the serialised form (921 bytes in practice); anything longer is refused
    /// before parsing.
    pub const MAX_LEN: usize = 1024;

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PseudonymError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(PseudonymError::Malformed {
                field: "proof",
                problem: "longer than 1024 bytes",
            });
        }
        serde_json::from_slice(bytes)
            .map(Self)
            .map_err(|_| PseudonymError::Malformed {
                field: "proof",
                problem: "not a conversion proof (libpep verifiable RRSK)",
            })
    }

    /// The converted ciphertext the proof speaks for, unverified: the next transcryptor's input.
    pub(crate) fn output(&self) -> Option<EncryptedPseudonym> {
        let inner = self.0.rsk().inner();
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&inner.p_gb_prime().n().to_bytes());
        bytes[32..].copy_from_slice(&inner.p_gc_prime().n().to_bytes());
        EncryptedPseudonym::from_slice(&bytes)
    }
}

/// Whether a transcryptor's answer (96 bytes) holds exactly the ciphertext its proof (wire form)
/// converts to; false for anything malformed.
pub fn answer_matches_proof(answer: &[u8], proof: &[u8]) -> bool {
    let (Ok(answer), Ok(proof)) = (
        EncryptedIdentifier::from_bytes(answer),
        ConversionProof::from_bytes(proof),
    ) else {
        return false;
    };
    proof
        .output()
        .is_some_and(|output| output.to_bytes() == answer.ciphertext.to_bytes())
}
