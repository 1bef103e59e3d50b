//! Per-purpose analyst handles: HMAC-SHA256 of a matching pseudonym under a key per purpose.
//!
//! Analysts need stable references ("this hit and that one share a person") but must not get
//! the matching pseudonym itself, and a handle seen under one purpose must not be joinable with
//! a handle under another. The per-purpose key is derived from one coordinator secret with HMAC
//! and the purpose id, so rotating the secret rotates every handle.

use crate::coordinator::MatchingPseudonym;
use crate::error::PseudonymError;
use ring::hmac;
use signaalnet_identifier::IdentifierKind;

/// The coordinator's secret for handles. `Debug` is redacted.
pub struct HandleKey(hmac::Key);

impl std::fmt::Debug for HandleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandleKey([redacted])")
    }
}

impl HandleKey {
    /// At least 32 bytes of secret.
    pub fn new(secret: &[u8]) -> Result<Self, PseudonymError> {
        if secret.len() < 32 {
            return Err(PseudonymError::Malformed {
                field: "handle_secret",
                problem: "must be at least 32 bytes",
            });
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// The key for one purpose. Derive it once per query and reuse it for every hit listed.
    pub fn for_purpose(&self, purpose: &str) -> PurposeHandleKey {
        let purpose_key = hmac::sign(&self.0, format!("signaalnet/handle/{purpose}").as_bytes());
        PurposeHandleKey(hmac::Key::new(hmac::HMAC_SHA256, purpose_key.as_ref()))
    }

    /// The handle of `pseudonym` (of identifier kind `kind`) for analysts working under
    /// `purpose`; a shorthand for a single handle.
    pub fn handle(
        &self,
        purpose: &str,
        kind: IdentifierKind,
        pseudonym: &MatchingPseudonym,
    ) -> AnalystHandle {
        self.for_purpose(purpose).handle(kind, pseudonym)
    }
}

/// The derived handle key of one purpose. `Debug` is redacted.
pub struct PurposeHandleKey(hmac::Key);

impl std::fmt::Debug for PurposeHandleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PurposeHandleKey([redacted])")
    }
}

impl PurposeHandleKey {
    pub fn handle(&self, kind: IdentifierKind, pseudonym: &MatchingPseudonym) -> AnalystHandle {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(kind.as_str().as_bytes());
        ctx.update(&[0]);
        ctx.update(pseudonym.as_bytes());
        let tag = ctx.sign();
        AnalystHandle(format!("h-{}", hex::encode(&tag.as_ref()[..16])))
    }
}

/// An opaque, purpose-bound reference an analyst may see: `h-` and 32 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnalystHandle(String);

impl AnalystHandle {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AnalystHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The monitor's record keys (`docs/monitor.md`): each record counted (a signal, or a person)
/// gets a fixed, secret, uniformly distributed key, so the noise of a cell depends only on the
/// set of records in it. One key for every monitor purpose: the same records give the same
/// noise whichever purpose or table they are counted in. `Debug` is redacted.
pub struct RecordKeys(hmac::Key);

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordKeys([redacted])")
    }
}

impl HandleKey {
    /// The monitor's record keys, derived from the handle secret.
    pub fn record_keys(&self) -> RecordKeys {
        let key = hmac::sign(&self.0, b"signaalnet/monitor/record-key");
        RecordKeys(hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()))
    }
}

impl RecordKeys {
    /// The key of the record named by `parts` (e.g. a partner id and a signal id).
    pub fn of(&self, parts: &[&[u8]]) -> u32 {
        let tag = self.tag(b"key", parts);
        let mut first = [0u8; 4];
        first.copy_from_slice(&tag.as_ref()[..4]);
        u32::from_be_bytes(first)
    }

    /// A keyed hash naming the record of `parts`, by which it is found again (a withdrawal
    /// finds a signal's monitor record without the record keeping the signal id); unrelated to
    /// its key.
    pub fn lookup(&self, parts: &[&[u8]]) -> String {
        hex::encode(&self.tag(b"lookup", parts).as_ref()[..16])
    }

    fn tag(&self, label: &[u8], parts: &[&[u8]]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(label);
        for part in parts {
            // Length-prefixed: ("ab", "c") and ("a", "bc") are different records.
            ctx.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            ctx.update(part);
        }
        ctx.sign()
    }
}
