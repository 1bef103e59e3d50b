//! Polymorphic pseudonymisation of signaalnet identifiers with libpep (n-PEP).
//!
//! The flow, one identifier at a time (docs/DESIGN.md §4, docs/THREAT_MODEL.md):
//!
//! 1. **Partner node** ([`PartnerEncryptor`]): match key → SHA-256 over `kind || 0x00 || value`
//!    → first 16 bytes → lizard-encoded pseudonym of the shared `origin` domain → ElGamal
//!    encryption for the global public key (offline mode). The node holds no secret key, so it
//!    can never decrypt or convert anything itself.
//! 2. **Each of the n transcryptors** ([`Transcryptor`]), in the fixed order of the chain,
//!    converts the ciphertext blindly from `origin` into the matching domain of its purpose and
//!    kind ([`MatchDomain`]) and from the key of its step to the next step's key, with a proof
//!    ([`ConversionProof`]). It accepts only ciphertexts under its own step's key: a
//!    caller-chosen key would make it a pseudonym oracle.
//! 3. **Coordinator** ([`CoordinatorDecryptor`]) reconstructs its session key from one proven
//!    key share per transcryptor, verifies every conversion proof against the ceremony record and
//!    the transcryptors' commitments ([`DomainCommitments`]), and decrypts to the
//!    [`MatchingPseudonym`]: equal for equal identifiers in one purpose whichever partner sent
//!    them, unlinkable between purposes.
//! 4. **Analysts** see [`AnalystHandle`]s: HMAC-SHA256 of the matching pseudonym under a key per
//!    purpose, so handles from two purposes cannot be joined.
//!
//! The key ceremony ([`Ceremony`]) is dealer-free: each transcryptor generates its own secrets
//! ([`TranscryptorKeys::generate`]) and contributes to a record handed from organisation to
//! organisation, each contribution proven; nobody ever holds the global secret key.
//!
//! Pure library: no network, no files. Randomness comes from the caller (a CSPRNG).
#![forbid(unsafe_code)]

mod ceremony;
mod coordinator;
mod encoding;
mod error;
mod handle;
mod local;
mod origin;
mod partner;
mod transcryptor;

pub use ceremony::{Ceremony, SystemPublicKeys, TranscryptorKeys, MAX_TRANSCRYPTORS};
pub use coordinator::{CoordinatorDecryptor, DomainCommitments, MatchingPseudonym};
pub use encoding::{
    answer_matches_proof, ConversionProof, CoordinatorContext, EncryptedIdentifier, KeyShare,
    MatchDomain,
};
pub use error::PseudonymError;
pub use handle::{AnalystHandle, HandleKey, PurposeHandleKey, RecordKeys};
pub use local::LocalChain;
pub use origin::{Origin, OriginProof};
pub use partner::{origin_pseudonym, PartnerEncryptor};
pub use transcryptor::{convert_in_order, Converted, DomainFactors, Transcryptor};

/// The pseudonymisation domain every partner's lizard value belongs to. Sharing it is what makes
/// two partners' submissions of one identifier meet in the `match` domain.
pub const ORIGIN_DOMAIN: &str = "origin";
/// The prefix of the matching domains transcryptors convert into, one per purpose and
/// identifier kind ([`MatchDomain`]).
pub const MATCH_DOMAIN: &str = "match";
