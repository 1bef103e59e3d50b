//! The partner node's side: from match key to a ciphertext only the chain can convert.

use crate::ceremony::SystemPublicKeys;
use crate::encoding::EncryptedIdentifier;
use crate::origin::{Origin, OriginProof};
use libpep::data::elgamal::ElGamalEncrypted;
use libpep::data::simple::{ElGamalEncryptable, EncryptedPseudonym, Pseudonym};
use libpep::elgamal::arithmetic::group_elements::G;
use libpep::elgamal::arithmetic::scalars::ScalarNonZero;
use libpep::elgamal::ElGamal;
use libpep::keys::{PseudonymSessionPublicKey, PublicKey};
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

    /// A fresh randomised encryption of the key's origin pseudonym for the global public key,
    /// with the proof that this partner made it for `origin`'s purpose and kind: two
    /// encryptions of the same key are unlinkable.
    pub fn encrypt<R: Rng + CryptoRng>(
        &self,
        key: &MatchKey,
        origin: &Origin<'_>,
        rng: &mut R,
    ) -> (EncryptedIdentifier, OriginProof) {
        // The global context has rekey factor 1, so the global public key is also the session
        // key the first transcryptor accepts. ElGamal by hand (libpep's arithmetic) because the
        // randomness must be known to prove it.
        let global = self.keys.step_keys[0];
        let r = ScalarNonZero::random(rng);
        let value = ElGamal {
            gb: r * G,
            gc: *origin_pseudonym(key).value() + r * global,
        };
        let proof = origin.prove(&r, rng);
        (
            EncryptedIdentifier {
                ciphertext: EncryptedPseudonym::from_value(value),
                public_key: PseudonymSessionPublicKey::from_point(global),
            },
            proof,
        )
    }
}
