//! The dealer-free key ceremony for n transcryptors run by separate organisations.
//!
//! Nobody ever holds the global secret key `y`: each transcryptor `i` generates its own blinding
//! factor `b_i` (and its reshuffle and rekey secrets) on its own machine
//! ([`TranscryptorKeys::generate`]), and `y = ∏ b_i` exists only as that product. The ceremony
//! record ([`Ceremony`]) travels from transcryptor 1 to transcryptor n; each multiplies the
//! running public points by its own factors and proves, with a DLEQ proof (libpep's `zkps`), that
//! it used the scalar of its published commitment. Complete, the record holds for the
//! coordinator context:
//!
//! - `Y_1 = y·G`, the global public key partners encrypt for;
//! - `Y_{i+1} = k_i·Y_i`, the only key transcryptor `i+1` accepts (`k_i` is transcryptor `i`'s
//!   rekey factor for the context), so the order of conversion is fixed by the keys themselves;
//! - `Y_{n+1}`, the coordinator's session public key;
//! - per transcryptor `B_i = b_i·G`, `K_i = k_i·G` and, with libpep's [`SessionKeyShareProof`],
//!   `U_i = b_i·k_i·G`: what its key share and its conversions are checked against.
//!
//! Running point `m` (1-based, `m = 1..=n+1`) starts at `G`; transcryptor `i` multiplies it by
//! `b_i` when `m ≤ i` and by `u_i = b_i·k_i` when `m > i`, so it ends at
//! `(∏ b_j)·(∏_{j<m} k_j)·G`. The blinded global secret key of libpep's construction is 1: the
//! blinding factors *are* the key.
//!
//! The complete record is `system.json`: public, for every role, and every role verifies every
//! proof in it when loading it ([`SystemPublicKeys`]).

use crate::encoding::CoordinatorContext;
use crate::error::PseudonymError;
use libpep::elgamal::arithmetic::group_elements::{GroupElement, G};
use libpep::elgamal::arithmetic::scalars::ScalarNonZero;
use libpep::elgamal::arithmetic::Ristretto255Sha512;
use libpep::elgamal::zkps::{create_proof, verify_proof, Proof};
use libpep::factors::{Factor, RekeyingSecret};
use libpep::keys::distribution::{BlindingCommitment, BlindingFactor, SessionKeyShareProof};
use libpep::keys::PseudonymSessionPublicKey;
use libpep::keys::PublicKey;
use rand::{CryptoRng, Rng};
use serde::{Deserialize, Serialize};

/// The most transcryptors a ceremony takes: more only adds hops, and a signal of 256
/// identifiers with one proof per transcryptor each must stay well below gRPC's 4 MB limit.
pub const MAX_TRANSCRYPTORS: usize = 8;

/// The secrets of one transcryptor, generated on its own machine and never exported. `Debug` is
/// redacted; store the serialised form only in a file readable by the transcryptor's own user.
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
    /// Fresh secrets for the transcryptor at 1-based position `index` of the chain.
    pub fn generate<R: Rng + CryptoRng>(index: usize, rng: &mut R) -> Self {
        let mut pseudonymisation_secret = [0u8; 32];
        let mut rekeying_secret = [0u8; 32];
        rng.fill_bytes(&mut pseudonymisation_secret);
        rng.fill_bytes(&mut rekeying_secret);
        Self {
            index,
            blinding_factor: BlindingFactor::random(rng),
            pseudonymisation_secret,
            rekeying_secret,
        }
    }

    /// 1-based position of this transcryptor in the chain.
    pub fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn rekey_factor(&self, context: &CoordinatorContext) -> ScalarNonZero {
        libpep::factors::make_pseudonym_rekey_factor(
            &RekeyingSecret::from(self.rekeying_secret.as_slice()),
            &context.libpep(),
        )
        .scalar()
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
        if f.index == 0 || f.index > MAX_TRANSCRYPTORS {
            return Err(PseudonymError::Malformed {
                field: "index",
                problem: "must be a position in the chain, 1 to 8",
            });
        }
        Ok(Self {
            index: f.index,
            blinding_factor: BlindingFactor::from_hex(&f.blinding_factor).ok_or(
                PseudonymError::Malformed {
                    field: "blinding_factor",
                    problem: "must be 64 hex digits of a canonical non-zero ristretto255 scalar",
                },
            )?,
            pseudonymisation_secret: secret("pseudonymisation_secret", &f.pseudonymisation_secret)?,
            rekeying_secret: secret("rekeying_secret", &f.rekeying_secret)?,
        })
    }
}

/// One transcryptor's turn in the ceremony: its public commitments and the proven points.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Contribution {
    index: usize,
    /// `B_i = b_i·G`.
    blinding_commitment: GroupElement,
    /// `K_i = k_i·G` for the coordinator context.
    rekey_commitment: GroupElement,
    /// Proves `U_i = b_i·K_i`; carries `U_i`.
    share_proof: SessionKeyShareProof,
    /// Per running point `m`: the new point (the proof's `N`) and the proof that it is the
    /// previous point times the scalar behind `B_i` (`m ≤ i`) or `U_i` (`m > i`).
    points: Vec<Proof>,
}

/// The ceremony record handed from organisation to organisation.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ceremony {
    coordinator_context: String,
    transcryptors: usize,
    contributions: Vec<Contribution>,
}

impl std::fmt::Debug for Ceremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ceremony")
            .field("coordinator_context", &self.coordinator_context)
            .field("transcryptors", &self.transcryptors)
            .field("contributions", &self.contributions.len())
            .finish()
    }
}

impl Ceremony {
    /// Opens a ceremony for `n` transcryptors converting into `context`.
    pub fn open(context: &CoordinatorContext, n: usize) -> Result<Self, PseudonymError> {
        if n == 0 || n > MAX_TRANSCRYPTORS {
            return Err(PseudonymError::NoTranscryptors(n));
        }
        Ok(Self {
            coordinator_context: context.as_str().to_owned(),
            transcryptors: n,
            contributions: Vec::new(),
        })
    }

    pub fn transcryptors(&self) -> usize {
        self.transcryptors
    }

    /// How many transcryptors have contributed.
    pub fn contributed(&self) -> usize {
        self.contributions.len()
    }

    pub fn context(&self) -> Result<CoordinatorContext, PseudonymError> {
        CoordinatorContext::new(self.coordinator_context.clone())
    }

    /// Verifies every contribution so far: order, counts, and each proof.
    pub fn verify(&self) -> Result<(), PseudonymError> {
        self.context()?;
        let n = self.transcryptors;
        if n == 0 || n > MAX_TRANSCRYPTORS {
            return Err(PseudonymError::NoTranscryptors(n));
        }
        if self.contributions.len() > n {
            return Err(PseudonymError::Ceremony {
                transcryptor: n + 1,
                problem: "more contributions than transcryptors",
            });
        }
        let mut previous: Vec<GroupElement> = vec![G; n + 1];
        for (position, c) in self.contributions.iter().enumerate() {
            let invalid = |problem| PseudonymError::Ceremony {
                transcryptor: position + 1,
                problem,
            };
            if c.index != position + 1 {
                return Err(invalid("contributions are out of order"));
            }
            if c.points.len() != n + 1 {
                return Err(invalid("must prove one point per step of the chain"));
            }
            let blinding = BlindingCommitment(c.blinding_commitment);
            if !c
                .share_proof
                .verify::<Ristretto255Sha512>(&blinding, &c.rekey_commitment)
            {
                return Err(invalid(
                    "the key share proof does not verify against its commitments",
                ));
            }
            let share = *c.share_proof.share_commitment();
            for (m, (proof, prev)) in c.points.iter().zip(&previous).enumerate() {
                let commitment = if m < c.index {
                    &c.blinding_commitment
                } else {
                    &share
                };
                if !verify_proof::<Ristretto255Sha512>(commitment, prev, proof) {
                    return Err(invalid("a point proof does not verify"));
                }
            }
            previous = c.points.iter().map(|p| *p.n()).collect();
        }
        Ok(())
    }

    /// Adds this transcryptor's turn, after verifying everything before it. Refuses a record
    /// that is not this transcryptor's turn, or one for another context.
    pub fn contribute<R: Rng + CryptoRng>(
        &mut self,
        keys: &TranscryptorKeys,
        rng: &mut R,
    ) -> Result<(), PseudonymError> {
        self.verify()?;
        let expected = self.contributions.len() + 1;
        if keys.index != expected || expected > self.transcryptors {
            return Err(PseudonymError::CeremonyTurn {
                expected,
                got: keys.index,
                of: self.transcryptors,
            });
        }
        let context = self.context()?;
        let b = *keys.blinding_factor.value();
        let k = keys.rekey_factor(&context);
        let u = b * k;
        let rekey_commitment = k * G;
        let share_proof =
            SessionKeyShareProof::new::<Ristretto255Sha512, _>(&b, &rekey_commitment, rng);
        let previous: Vec<GroupElement> = match self.contributions.last() {
            Some(last) => last.points.iter().map(|p| *p.n()).collect(),
            None => vec![G; self.transcryptors + 1],
        };
        let points = previous
            .iter()
            .enumerate()
            .map(|(m, prev)| {
                let factor = if m < keys.index { &b } else { &u };
                create_proof::<Ristretto255Sha512, _>(factor, prev, rng).1
            })
            .collect();
        self.contributions.push(Contribution {
            index: keys.index,
            blinding_commitment: b * G,
            rekey_commitment,
            share_proof,
            points,
        });
        Ok(())
    }

    /// Every party's step in one process, for tests and the one-laptop demo: each transcryptor's
    /// secrets generated, then its turn taken in order. A real ceremony runs the same steps on
    /// separate machines (`signaalnet keys …`, docs/ceremony.md).
    pub fn run_locally<R: Rng + CryptoRng>(
        context: &CoordinatorContext,
        n: usize,
        rng: &mut R,
    ) -> Result<(SystemPublicKeys, Vec<TranscryptorKeys>), PseudonymError> {
        let mut ceremony = Self::open(context, n)?;
        let keys: Vec<TranscryptorKeys> = (1..=n)
            .map(|i| TranscryptorKeys::generate(i, rng))
            .collect();
        for k in &keys {
            ceremony.contribute(k, rng)?;
        }
        Ok((ceremony.finish()?, keys))
    }

    /// The public keys of a complete, verified ceremony.
    pub fn finish(&self) -> Result<SystemPublicKeys, PseudonymError> {
        self.verify()?;
        if self.contributions.len() != self.transcryptors {
            return Err(PseudonymError::CeremonyIncomplete {
                contributed: self.contributions.len(),
                of: self.transcryptors,
            });
        }
        let last = self
            .contributions
            .last()
            .ok_or(PseudonymError::NoTranscryptors(0))?;
        // Every step must change the key: a rekey factor of 1 would let a ciphertext for one step
        // pass as one for the next.
        let keys: std::collections::BTreeSet<[u8; 32]> =
            last.points.iter().map(|p| p.n().to_bytes()).collect();
        if keys.len() != last.points.len() {
            return Err(PseudonymError::Ceremony {
                transcryptor: self.transcryptors,
                problem: "two steps of the chain have the same key",
            });
        }
        Ok(SystemPublicKeys {
            context: self.context()?,
            step_keys: last.points.iter().map(|p| *p.n()).collect(),
            transcryptors: self
                .contributions
                .iter()
                .map(|c| TranscryptorCommitments {
                    blinding: c.blinding_commitment,
                    rekey: c.rekey_commitment,
                    share: *c.share_proof.share_commitment(),
                })
                .collect(),
            record: self.clone(),
        })
    }
}

/// What one transcryptor committed to in the ceremony.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TranscryptorCommitments {
    pub(crate) blinding: GroupElement,
    pub(crate) rekey: GroupElement,
    pub(crate) share: GroupElement,
}

/// The public outcome of a verified ceremony, for every role: the key partners encrypt for, the
/// key each transcryptor accepts, the coordinator's session public key and each transcryptor's
/// commitments. Serialised as the complete ceremony record, and verified again when loaded.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "Ceremony", into = "Ceremony")]
pub struct SystemPublicKeys {
    pub(crate) context: CoordinatorContext,
    /// `Y_1 ..= Y_{n+1}`.
    pub(crate) step_keys: Vec<GroupElement>,
    pub(crate) transcryptors: Vec<TranscryptorCommitments>,
    record: Ceremony,
}

impl PartialEq for SystemPublicKeys {
    fn eq(&self, other: &Self) -> bool {
        self.context == other.context
            && self.step_keys == other.step_keys
            && self.transcryptors == other.transcryptors
    }
}

impl Eq for SystemPublicKeys {}

impl std::fmt::Debug for SystemPublicKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemPublicKeys")
            .field("context", &self.context.as_str())
            .field("global_public_key", &self.fingerprint())
            .field("transcryptors", &self.transcryptors.len())
            .finish_non_exhaustive()
    }
}

impl TryFrom<Ceremony> for SystemPublicKeys {
    type Error = PseudonymError;

    fn try_from(record: Ceremony) -> Result<Self, Self::Error> {
        record.finish()
    }
}

impl From<SystemPublicKeys> for Ceremony {
    fn from(keys: SystemPublicKeys) -> Self {
        keys.record
    }
}

impl SystemPublicKeys {
    pub fn transcryptors(&self) -> usize {
        self.transcryptors.len()
    }

    /// The coordinator context the ceremony was held for.
    pub fn context(&self) -> &CoordinatorContext {
        &self.context
    }

    /// Hex of the global public key, to compare between roles when configuring them.
    pub fn fingerprint(&self) -> String {
        self.step_keys[0].to_hex()
    }

    /// The key a ciphertext must be encrypted under when transcryptor `index` (1-based) converts
    /// it; `index = n + 1` gives the coordinator's session public key.
    pub fn step_key(&self, index: usize) -> Option<PseudonymSessionPublicKey> {
        index
            .checked_sub(1)
            .and_then(|i| self.step_keys.get(i))
            .map(|point| PseudonymSessionPublicKey::from_point(*point))
    }

    pub(crate) fn commitments(&self, index: usize) -> Option<&TranscryptorCommitments> {
        index.checked_sub(1).and_then(|i| self.transcryptors.get(i))
    }
}
