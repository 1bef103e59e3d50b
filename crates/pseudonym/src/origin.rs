//! Who made a ciphertext, and for what: the partner's proof that it knows the encryption
//! randomness `r` of `B = r·G`, bound to its partner id, the purpose and the identifier kind.
//!
//! Without it, whoever sees a partner's ciphertext (the coordinator does, as the start of the
//! proof chain) could rerandomise it and, with any partner certificate, have it converted into
//! another purpose's domain: the coordinator would then link that partner's identifier across
//! purposes. A rerandomised copy has `B' = (r + t)·G`, and nobody but the partner that encrypted
//! knows `r + t`; an unchanged copy carries a proof bound to that partner, purpose and kind. The
//! first transcryptor and the coordinator both check it against the caller's own identity.
//!
//! The proof is libpep's DLEQ proof (`zkps`) of `log_G(B) = log_H(N)` for the point
//! `H = hash-to-point(partner, purpose, kind)`: Fiat–Shamir over `H` binds the three.

use crate::encoding::EncryptedIdentifier;
use crate::error::PseudonymError;
use libpep::elgamal::arithmetic::group_elements::GroupElement;
use libpep::elgamal::arithmetic::scalars::ScalarNonZero;
use libpep::elgamal::arithmetic::Ristretto255Sha512;
use libpep::elgamal::zkps::{create_proof, verify_proof, Proof};
use rand::{CryptoRng, Rng};
use ring::digest::{Context, SHA512};
use signaalnet_identifier::IdentifierKind;

/// The partner, purpose and kind a ciphertext was made for.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub partner: &'a str,
    pub purpose: &'a str,
    pub kind: IdentifierKind,
}

impl Origin<'_> {
    fn point(&self) -> GroupElement {
        let mut hash = Context::new(&SHA512);
        hash.update(b"signaalnet/origin/v1\0");
        for part in [self.partner, self.purpose, self.kind.as_str()] {
            hash.update(&(part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        let mut wide = [0u8; 64];
        wide.copy_from_slice(hash.finish().as_ref());
        GroupElement::from_hash(&wide)
    }

    pub(crate) fn prove<R: Rng + CryptoRng>(&self, r: &ScalarNonZero, rng: &mut R) -> OriginProof {
        OriginProof(create_proof::<Ristretto255Sha512, _>(r, &self.point(), rng).1)
    }

    /// Checks that whoever made `ciphertext` made it as this partner, for this purpose and kind.
    pub fn verify(
        &self,
        ciphertext: &EncryptedIdentifier,
        proof: &OriginProof,
    ) -> Result<(), PseudonymError> {
        use libpep::data::elgamal::ElGamalEncrypted;
        let b = ciphertext.ciphertext.value().gb;
        if verify_proof::<Ristretto255Sha512>(&b, &self.point(), &proof.0) {
            Ok(())
        } else {
            Err(PseudonymError::OriginInvalid)
        }
    }
}

/// See the module documentation. 128 bytes on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OriginProof(Proof);

impl std::fmt::Debug for OriginProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OriginProof(..)")
    }
}

impl OriginProof {
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PseudonymError> {
        if bytes.len() != 128 {
            return Err(PseudonymError::Malformed {
                field: "origin_proof",
                problem: "must be 128 bytes",
            });
        }
        Proof::from_slice(bytes)
            .map(Self)
            .ok_or(PseudonymError::Malformed {
                field: "origin_proof",
                problem: "not a DLEQ proof over ristretto255",
            })
    }
}
