//! The coordinator's side: decryption of fully converted ciphertexts to matching pseudonyms.

use crate::ceremony::SystemPublicKeys;
use crate::encoding::{EncryptedIdentifier, KeyShare};
use crate::error::PseudonymError;
use libpep::client::distributed::make_pseudonym_session_key;
use libpep::data::simple::ElGamalEncryptable;
use libpep::data::traits::Encrypted;
use libpep::keys::{PseudonymSessionPublicKey, PseudonymSessionSecretKey};

/// The pseudonym an identifier has in the `match` domain: equal for equal identifiers whichever
/// partner sent them, and known only to the coordinator. `Debug` is redacted because it links
/// signals; store it, compare it, never show it to analysts (they get [`crate::AnalystHandle`]s).
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

/// Holds the coordinator's session key, reconstructed from one share per transcryptor.
pub struct CoordinatorDecryptor {
    public_key: PseudonymSessionPublicKey,
    secret_key: PseudonymSessionSecretKey,
}

impl std::fmt::Debug for CoordinatorDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoordinatorDecryptor([redacted])")
    }
}

impl CoordinatorDecryptor {
    /// `shares` must hold one share from every transcryptor of the ceremony, for the
    /// coordinator's own context.
    pub fn from_shares(
        system: &SystemPublicKeys,
        shares: &[KeyShare],
    ) -> Result<Self, PseudonymError> {
        if shares.len() != system.transcryptors {
            return Err(PseudonymError::WrongShareCount {
                expected: system.transcryptors,
                got: shares.len(),
            });
        }
        let shares: Vec<_> = shares.iter().map(|s| s.0).collect();
        let (public_key, secret_key) =
            make_pseudonym_session_key(system.blinded_global_secret_key, &shares);
        Ok(Self {
            public_key,
            secret_key,
        })
    }

    /// The coordinator's session public key (public information: anyone may encrypt for it,
    /// but only ciphertexts converted by every transcryptor decrypt to matching pseudonyms).
    pub fn public_key_bytes(&self) -> [u8; 32] {
        use libpep::keys::PublicKey;
        self.public_key.to_bytes()
    }

    /// Decrypts a ciphertext that every transcryptor has converted. A ciphertext that reports
    /// another key (not converted by all, or for another context) is refused rather than
    /// decrypted to a meaningless value.
    pub fn decrypt(
        &self,
        encrypted: &EncryptedIdentifier,
    ) -> Result<MatchingPseudonym, PseudonymError> {
        if encrypted.public_key != self.public_key {
            return Err(PseudonymError::NotFullyConverted);
        }
        Ok(self.decrypt_unchecked(encrypted))
    }

    /// Decrypts without checking which key the ciphertext claims; for tests that show what a
    /// partially converted ciphertext would decrypt to.
    #[doc(hidden)]
    pub fn decrypt_unchecked(&self, encrypted: &EncryptedIdentifier) -> MatchingPseudonym {
        MatchingPseudonym(encrypted.ciphertext.decrypt(&self.secret_key).to_bytes())
    }
}
