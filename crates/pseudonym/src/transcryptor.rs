//! A transcryptor's side: one blind, proven conversion per ciphertext, at its fixed step of the
//! chain, from the shared `origin` domain into a purpose's matching domain and one step towards
//! the coordinator's key.
//!
//! The step is fixed by keys: transcryptor `i` converts only ciphertexts encrypted for `Y_i`
//! (from the ceremony record) and never rerandomises under, or returns a point derived from, a
//! key the caller chose. With a caller-chosen key `Y`, rerandomising under `Y` and returning
//! `k·Y` let a partner compute `s·M` for any point `M` (a pseudonym oracle; see
//! docs/THREAT_MODEL.md). With `Y_i` fixed, the output for input `(B, C)` is an encryption under
//! `Y_{i+1}` of `s·(C − y_i·B)`: nobody holds the secret of `Y_{i+1}` except, at the end of the
//! chain, the coordinator, so the caller learns nothing it did not put in.

use crate::ceremony::{SystemPublicKeys, TranscryptorKeys};
use crate::encoding::{ConversionProof, EncryptedIdentifier, KeyShare, MatchDomain};
use crate::error::PseudonymError;
use crate::ORIGIN_DOMAIN;
use libpep::contexts::{EncryptionContext, PseudonymizationDomain};
use libpep::elgamal::arithmetic::group_elements::{GroupElement, G};
use libpep::factors::{Factor, PseudonymizationInfo, PseudonymizationSecret, RekeyingSecret};
use libpep::keys::PseudonymSessionPublicKey;
use libpep::transcryptor::DistributedTranscryptor;
use rand::rngs::StdRng;
use rand::{CryptoRng, Rng, SeedableRng};
use ring::hmac;

/// One of the n transcryptors. It never sees an identifier or a pseudonym, only ciphertexts.
pub struct Transcryptor {
    index: usize,
    inner: DistributedTranscryptor,
    /// Derives each conversion's randomness from its input (see [`Transcryptor::convert`]).
    randomness: hmac::Key,
    origin: PseudonymizationDomain,
    target: EncryptionContext,
    context: crate::CoordinatorContext,
    accepts: PseudonymSessionPublicKey,
    produces: PseudonymSessionPublicKey,
}

impl std::fmt::Debug for Transcryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Transcryptor(#{}, [redacted])", self.index)
    }
}

/// A converted ciphertext (for the next step) with the proof of its conversion.
#[derive(Clone, Copy, Debug)]
pub struct Converted {
    pub ciphertext: EncryptedIdentifier,
    pub proof: ConversionProof,
}

impl Transcryptor {
    /// Refuses secrets that are not the ones this position committed to in the ceremony.
    pub fn new(keys: &TranscryptorKeys, system: &SystemPublicKeys) -> Result<Self, PseudonymError> {
        let not_in = PseudonymError::NotInCeremony { index: keys.index };
        let committed = system.commitments(keys.index).ok_or(not_in.clone())?;
        let context = system.context().clone();
        let b = *keys.blinding_factor.value();
        if b * G != committed.blinding || keys.rekey_factor(&context) * G != committed.rekey {
            return Err(not_in);
        }
        let accepts = system.step_key(keys.index).ok_or(not_in.clone())?;
        let produces = system.step_key(keys.index + 1).ok_or(not_in)?;
        Ok(Self {
            index: keys.index,
            inner: DistributedTranscryptor::new(
                PseudonymizationSecret::from(keys.pseudonymisation_secret.as_slice()),
                RekeyingSecret::from(keys.rekeying_secret.as_slice()),
                keys.blinding_factor,
            ),
            randomness: hmac::Key::new(
                hmac::HMAC_SHA256,
                hmac::sign(
                    &hmac::Key::new(hmac::HMAC_SHA256, &keys.pseudonymisation_secret),
                    b"signaalnet/transcryptor/conversion-randomness/v1",
                )
                .as_ref(),
            ),
            origin: PseudonymizationDomain::from(ORIGIN_DOMAIN),
            target: context.libpep(),
            context,
            accepts,
            produces,
        })
    }

    pub fn index(&self) -> usize {
        self.index
    }

    pub fn context(&self) -> &crate::CoordinatorContext {
        &self.context
    }

    /// The factors of one matching domain; derive once per domain and batch.
    pub fn factors(&self, domain: &MatchDomain) -> DomainFactors {
        DomainFactors(
            self.inner.pseudonymization_info(
                &self.origin,
                &domain.libpep(),
                &EncryptionContext::Global,
                &self.target,
            ),
            domain.clone(),
        )
    }

    /// `S = s·G` for a domain: what the coordinator checks this transcryptor's proofs against.
    pub fn reshuffle_commitment(&self, domain: &MatchDomain) -> [u8; 32] {
        self.reshuffle_commitment_point(domain).to_bytes()
    }

    pub(crate) fn reshuffle_commitment_point(&self, domain: &MatchDomain) -> GroupElement {
        self.factors(domain).0.s.scalar() * G
    }

    /// Whether `item` is encrypted for the key this step accepts.
    pub fn accepts(&self, item: &EncryptedIdentifier) -> bool {
        item.public_key == self.accepts
    }

    /// Converts one ciphertext at this transcryptor's step, with its proof. Refuses a
    /// ciphertext under any key but the one this step accepts.
    ///
    /// The rerandomisation and the proof's nonces come from a generator seeded with a keyed hash
    /// (this transcryptor's secret) of the domain and the input: the same input converts to the
    /// same output, so a node converting stored ciphertexts again after a later step failed sends
    /// the next transcryptor what it saw before, and every step can count each ciphertext once.
    /// Outsiders still cannot link input and output (they lack the key), and distinct inputs or
    /// domains never share a nonce.
    pub fn convert(
        &self,
        item: &EncryptedIdentifier,
        factors: &DomainFactors,
    ) -> Result<Converted, PseudonymError> {
        if !self.accepts(item) {
            return Err(PseudonymError::WrongStepKey { step: self.index });
        }
        let mut context = hmac::Context::with_key(&self.randomness);
        context.update(factors.1.as_str().as_bytes());
        context.update(&[0]);
        context.update(&item.to_bytes());
        let mut seed = [0u8; 32];
        seed.copy_from_slice(context.sign().as_ref());
        let rng = &mut StdRng::from_seed(seed);
        let proof =
            self.inner
                .verifiable_pseudonymize(&item.ciphertext, &factors.0, &item.public_key, rng);
        let proof = ConversionProof(proof.0);
        let ciphertext = proof.output().ok_or(PseudonymError::Malformed {
            field: "ciphertext",
            problem: "the conversion produced no ciphertext",
        })?;
        Ok(Converted {
            ciphertext: EncryptedIdentifier {
                ciphertext,
                public_key: self.produces,
            },
            proof,
        })
    }

    /// This transcryptor's share of the coordinator's session key, with its proof. Hand it only
    /// to the coordinator (authenticated by its certificate).
    pub fn key_share<R: Rng + CryptoRng>(&self, rng: &mut R) -> Result<KeyShare, PseudonymError> {
        let (share, proof) = self
            .inner
            .pseudonym_session_key_share_with_proof(&self.target, rng)
            .map_err(|_| PseudonymError::KeyShareInvalid { index: self.index })?;
        Ok(KeyShare { share, proof })
    }
}

/// The reshuffle and rekey factors of one matching domain at one transcryptor (secret).
pub struct DomainFactors(PseudonymizationInfo, MatchDomain);

impl std::fmt::Debug for DomainFactors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DomainFactors([redacted])")
    }
}

/// Every transcryptor of a chain held in one process (tests, benchmarks): `item` converted at
/// each step in order, with each step's proof.
pub fn convert_in_order(
    transcryptors: &[Transcryptor],
    item: &EncryptedIdentifier,
    domain: &MatchDomain,
) -> Result<Vec<Converted>, PseudonymError> {
    let mut current = *item;
    let mut steps = Vec::with_capacity(transcryptors.len());
    for t in transcryptors {
        let converted = t.convert(&current, &t.factors(domain))?;
        current = converted.ciphertext;
        steps.push(converted);
    }
    Ok(steps)
}
