//! The partner node's side: from match key to a ciphertext only the chain can convert.

use crate::ceremony::SystemPublicKeys;
use crate::encoding::EncryptedIdentifier;
use libpep::client::encrypt_global;
use libpep::data::simple::{ElGamalEncryptable, Pseudonym};
use libpep::keys::{PseudonymGlobalPublicKey, PseudonymSessionPublicKey, PublicKey};
use rand::{CryptoRng, Rng};
use ring::digest::{digest, SHA256};
use signaalnet_identifier::MatchKey;

/// The `origin`-domain pseudonym of a match key: SHA-256 over `kind || 0x00 || value`, the
/// first 16 bytes lizard-encoded. Every partner computes the same value for the same key.
///
/// The hash is unkeyed, so this value is as sensitive as the identifier itself (a BSN's origin
/// pseudonym is found by trying all 10^9 BSNs). It therefore exists only on the partner node, and
/// only inside an encryption.
pub fn origin_pseudonym(key: &MatchKey) -> Pseudonym {
    let hash = digest(&SHA256, &key.hash_input());
    let mut block = [0u8; 16];
    block.copy_from_slice(&hash.as_ref()[..16]);
    Pseudonym::from_lizard(&block)
}

/// Encrypts match keys for the chain. Holds only public material.
#[derive(Clone, Debug)]
pub struct PartnerEncryptor {
    keys: SystemPublicKeys,
}

impl PartnerEncryptor {
    pub fn new(keys: SystemPublicKeys) -> Self {
        Self { keys }
    }

    /// A fresh randomised encryption of the key's origin pseudonym for the global public key:
    /// two encryptions of the same key are unlinkable.
    pub fn encrypt<R: Rng + CryptoRng>(&self, key: &MatchKey, rng: &mut R) -> EncryptedIdentifier {
        // The global context has rekey factor 1, so the global public key is also the session
        // key the first transcryptor accepts.
        let global = self.keys.step_keys[0];
        let ciphertext = encrypt_global(
            &origin_pseudonym(key),
            &PseudonymGlobalPublicKey::from_point(global),
            rng,
        );
        EncryptedIdentifier {
            ciphertext,
            public_key: PseudonymSessionPublicKey::from_point(global),
        }
    }
}
