//! A transcryptor's side: one blind conversion, origin → match, global → coordinator context.

use crate::ceremony::TranscryptorKeys;
use crate::encoding::{CoordinatorContext, EncryptedIdentifier, KeyShare};
use crate::{MATCH_DOMAIN, ORIGIN_DOMAIN};
use libpep::contexts::{EncryptionContext, PseudonymizationDomain};
use libpep::factors::{PseudonymizationSecret, RekeyPublicKey, RekeyingSecret};
use libpep::transcryptor::DistributedTranscryptor;
use rand::{CryptoRng, Rng};

/// One of the n transcryptors. It never sees an identifier or a pseudonym, only ciphertexts.
pub struct Transcryptor {
    index: usize,
    inner: DistributedTranscryptor,
    origin: PseudonymizationDomain,
    matching: PseudonymizationDomain,
}

impl std::fmt::Debug for Transcryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Transcryptor(#{}, [redacted])", self.index)
    }
}

impl Transcryptor {
    pub fn new(keys: &TranscryptorKeys) -> Self {
        Self {
            index: keys.index,
            inner: DistributedTranscryptor::new(
                PseudonymizationSecret::from(keys.pseudonymisation_secret.as_slice()),
                RekeyingSecret::from(keys.rekeying_secret.as_slice()),
                keys.blinding_factor,
            ),
            origin: PseudonymizationDomain::from(ORIGIN_DOMAIN),
            matching: PseudonymizationDomain::from(MATCH_DOMAIN),
        }
    }

    pub fn index(&self) -> usize {
        self.index
    }

    /// Converts a batch into the `match` domain and the coordinator's context, in order: the
    /// caller (the partner node that sent the batch) must map results back to its signals, and
    /// the transcryptor sees inputs and outputs anyway, so shuffling would hide nothing from
    /// anyone. Every output is rerandomised and so unlinkable to its input for everyone else.
    ///
    /// Each transcryptor must convert a ciphertext exactly once: converting twice applies its
    /// reshuffle factor twice and the result decrypts to a pseudonym that matches nothing.
    pub fn convert_batch<R: Rng + CryptoRng>(
        &self,
        batch: &[EncryptedIdentifier],
        target: &CoordinatorContext,
        rng: &mut R,
    ) -> Vec<EncryptedIdentifier> {
        let info = self.inner.pseudonymization_info(
            &self.origin,
            &self.matching,
            &EncryptionContext::Global,
            &target.libpep(),
        );
        batch
            .iter()
            .map(|item| EncryptedIdentifier {
                ciphertext: self
                    .inner
                    .pseudonymize(&item.ciphertext, &info, &item.public_key, rng),
                public_key: info.rekey_public_key(&item.public_key),
            })
            .collect()
    }

    /// This transcryptor's share of the coordinator's session key for `context`. Hand it only to
    /// the coordinator (authenticated by its certificate).
    pub fn key_share(&self, context: &CoordinatorContext) -> KeyShare {
        KeyShare(self.inner.pseudonym_session_key_share(&context.libpep()))
    }
}
