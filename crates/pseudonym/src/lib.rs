//! Polymorphic pseudonymisation of signaalnet identifiers with libpep (n-PEP).
//!
//! The flow, one identifier at a time (DESIGN.md §4):
//!
//! 1. **Partner node** ([`PartnerEncryptor`]): match key → SHA-256 over `kind || 0x00 || value`
//!    → first 16 bytes → lizard-encoded pseudonym of the shared `origin` domain → ElGamal
//!    encryption for the global public key (offline mode). The node holds no secret key, so it
//!    can never decrypt or convert anything itself.
//! 2. **Each of the n transcryptors** ([`Transcryptor`]) converts the ciphertext blindly from
//!    `origin` to `match` and from the global context to the coordinator's encryption context,
//!    with its own secrets. Only this one conversion exists in the API: a transcryptor cannot be
//!    asked for any other domain.
//! 3. **Coordinator** ([`CoordinatorDecryptor`]) reconstructs its session key from one key share
//!    per transcryptor and decrypts to the [`MatchingPseudonym`]. The same identifier gives the
//!    same matching pseudonym whichever partner submitted it; the ciphertext is only decryptable
//!    after all n conversions.
//! 4. **Analysts** see [`AnalystHandle`]s: HMAC-SHA256 of the matching pseudonym under a key per
//!    purpose, so handles from two purposes cannot be joined.
//!
//! The key ceremony ([`key_ceremony`]) creates the global keys for n transcryptors, hands each
//! its blinding factor and drops the global secret key before returning.
//!
//! Pure library: no network, no files. Randomness comes from the caller (a CSPRNG).
#![forbid(unsafe_code)]

mod ceremony;
mod coordinator;
mod encoding;
mod error;
mod handle;
mod partner;
mod transcryptor;

pub use ceremony::{Ceremony, SystemPublicKeys, TranscryptorKeys, MAX_TRANSCRYPTORS};
pub use coordinator::{CoordinatorDecryptor, DomainCommitments, MatchingPseudonym};
pub use encoding::{
    ConversionProof, CoordinatorContext, EncryptedIdentifier, KeyShare, MatchDomain,
};
pub use error::PseudonymError;
pub use handle::{AnalystHandle, HandleKey, PurposeHandleKey};
pub use partner::{origin_pseudonym, PartnerEncryptor};
pub use transcryptor::{Converted, DomainFactors, Transcryptor};

/// The pseudonymisation domain every partner's lizard value belongs to. Sharing it is what makes
/// two partners' submissions of one identifier meet in the `match` domain.
pub const ORIGIN_DOMAIN: &str = "origin";
/// The prefix of the matching domains transcryptors convert into, one per purpose and
/// identifier kind ([`MatchDomain`]).
pub const MATCH_DOMAIN: &str = "match";
