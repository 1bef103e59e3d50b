//! The coordinator's side: checks each transcryptor's proof of conversion, then decrypts the
//! fully converted ciphertext to its matching pseudonym.

use crate::ceremony::SystemPublicKeys;
use crate::encoding::{ConversionProof, EncryptedIdentifier, KeyShare};
use crate::error::PseudonymError;
use libpep::client::distributed::make_pseudonym_session_key;
use libpep::data::elgamal::ElGamalEncrypted;
use libpep::data::simple::{ElGamalEncryptable, EncryptedPseudonym};
use libpep::data::traits::Encrypted;
use libpep::elgamal::arithmetic::group_elements::GroupElement;
use libpep::elgamal::arithmetic::scalars::ScalarNonZero;
use libpep::elgamal::arithmetic::Ristretto255Sha512;
use libpep::elgamal::verifiable::{
    FactorCommitment, PseudonymizationFactorCommitment, RekeyFactorCommitment,
};
use libpep::elgamal::ElGamal;
use libpep::keys::distribution::{
    BlindedGlobalSecretKey, BlindedPseudonymGlobalSecretKey, BlindingCommitment,
};
use libpep::keys::{PseudonymSessionPublicKey, PseudonymSessionSecretKey, PublicKey};

/// The pseudonym an identifier has in one matching domain (a purpose and identifier kind):
/// equal for equal identifiers whichever partner sent them, and known only to the coordinator.
/// `Debug` is redacted because it links signals; store it, compare it, never show it to
/// analysts (they get [`crate::AnalystHandle`]s).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MatchingPseudonym([u8; 32]);

impl std::fmt::Debug for MatchingPseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MatchingPseudonym([redacted])")
    }
}

impl MatchingPseudonym {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

/// The reshuffle commitments `S_i = s_i·G` of one matching domain, one per transcryptor in the
/// order of the chain, as each transcryptor published them to the coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainCommitments(Vec<GroupElement>);

impl DomainCommitments {
    pub fn from_bytes(per_transcryptor: &[Vec<u8>]) -> Result<Self, PseudonymError> {
        per_transcryptor
            .iter()
            .map(|b| {
                GroupElement::from_slice(b).ok_or(PseudonymError::Malformed {
                    field: "reshuffle_commitment",
                    problem: "must be 32 bytes of a ristretto255 point",
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// What the transcryptors of a chain held in one process publish for `domain` (tests,
    /// benchmarks).
    pub fn published_by(
        transcryptors: &[crate::Transcryptor],
        domain: &crate::MatchDomain,
    ) -> Self {
        Self(
            transcryptors
                .iter()
                .map(|t| t.reshuffle_commitment_point(domain))
                .collect(),
        )
    }
}

/// Holds the coordinator's session key, reconstructed from one proven share per transcryptor.
pub struct CoordinatorDecryptor {
    system: SystemPublicKeys,
    public_key: PseudonymSessionPublicKey,
    secret_key: PseudonymSessionSecretKey,
}

impl std::fmt::Debug for CoordinatorDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoordinatorDecryptor([redacted])")
    }
}

impl CoordinatorDecryptor {
    /// `shares` must hold the share of every transcryptor, in the order of the chain; each is
    /// checked against that transcryptor's commitments in the ceremony record.
    pub fn from_shares(
        system: &SystemPublicKeys,
        shares: &[KeyShare],
    ) -> Result<Self, PseudonymError> {
        if shares.len() != system.transcryptors() {
            return Err(PseudonymError::WrongShareCount {
                expected: system.transcryptors(),
                got: shares.len(),
            });
        }
        for (i, share) in shares.iter().enumerate() {
            let committed = system
                .commitments(i + 1)
                .ok_or(PseudonymError::KeyShareInvalid { index: i + 1 })?;
            if !share.proof.verify_share::<Ristretto255Sha512, _>(
                &share.share,
                &BlindingCommitment(committed.blinding),
                &committed.rekey,
            ) || *share.proof.share_commitment() != committed.share
            {
                return Err(PseudonymError::KeyShareInvalid { index: i + 1 });
            }
        }
        let shares: Vec<_> = shares.iter().map(|s| s.share).collect();
        let (public_key, secret_key) = make_pseudonym_session_key(
            BlindedPseudonymGlobalSecretKey::from_scalar(ScalarNonZero::one()),
            &shares,
        );
        let expected = system.step_key(system.transcryptors() + 1);
        if Some(public_key) != expected {
            return Err(PseudonymError::KeyShareInvalid {
                index: system.transcryptors(),
            });
        }
        Ok(Self {
            system: system.clone(),
            public_key,
            secret_key,
        })
    }

    /// How many transcryptors convert (one proof each per identifier).
    pub fn transcryptors(&self) -> usize {
        self.system.transcryptors()
    }

    /// The coordinator's session public key (public information: anyone may encrypt for it,
    /// but only ciphertexts converted by every transcryptor decrypt to matching pseudonyms).
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.public_key.to_bytes()
    }

    /// Follows the chain of conversions from the partner's ciphertext (under the global public
    /// key), checking each transcryptor's proof against its commitments, and decrypts the
    /// result. Refuses, naming the transcryptor, a conversion that does not verify.
    pub fn verify_and_decrypt(
        &self,
        original: &EncryptedIdentifier,
        proofs: &[ConversionProof],
        domain: &DomainCommitments,
    ) -> Result<MatchingPseudonym, PseudonymError> {
        let n = self.system.transcryptors();
        if domain.0.len() != n {
            return Err(PseudonymError::Malformed {
                field: "reshuffle_commitments",
                problem: "one per transcryptor of the ceremony",
            });
        }
        if proofs.len() != n {
            return Err(PseudonymError::WrongProofCount {
                expected: n,
                got: proofs.len(),
            });
        }
        if Some(original.public_key) != self.system.step_key(1) {
            return Err(PseudonymError::WrongStepKey { step: 1 });
        }
        let mut current: ElGamal = *original.ciphertext.value();
        for (i, proof) in proofs.iter().enumerate() {
            let step = i + 1;
            let invalid = PseudonymError::ConversionInvalid { step };
            let key = self.system.step_key(step).ok_or(invalid.clone())?;
            let rekey = self
                .system
                .commitments(step)
                .map(|c| c.rekey)
                .ok_or(invalid.clone())?;
            current = proof
                .0
                .verified_reconstruct::<Ristretto255Sha512>(
                    &current,
                    key.value(),
                    &PseudonymizationFactorCommitment(FactorCommitment(domain.0[i])),
                    &RekeyFactorCommitment(FactorCommitment(rekey)),
                )
                .ok_or(invalid)?;
        }
        let converted = EncryptedPseudonym::from_value(current);
        let pseudonym = converted.decrypt(&self.secret_key).to_bytes();
        // Every reshuffle maps the identity point to itself: it would be one pseudonym for any
        // partner who encrypts it, in every domain, and stands for no identifier.
        if pseudonym == GroupElement::identity().to_bytes() {
            return Err(PseudonymError::Malformed {
                field: "ciphertext",
                problem: "encrypts the identity point, which is no identifier",
            });
        }
        Ok(MatchingPseudonym(pseudonym))
    }

    /// Decrypts without any check; for tests that show what a ciphertext would decrypt to.
    #[doc(hidden)]
    pub fn decrypt_unchecked(&self, encrypted: &EncryptedIdentifier) -> MatchingPseudonym {
        MatchingPseudonym(encrypted.ciphertext.decrypt(&self.secret_key).to_bytes())
    }
}
