//! One audit entry and its hash. The hash covers every field, the entry's position (`seq`) and
//! the hash of the entry before it, each field length-prefixed so no two different entries
//! encode the same bytes.

use ring::digest::{Context, SHA256};
use serde::Serialize;

/// The hash the first entry links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry as stored in `audit_entries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub at_ms: i64,
    pub step: String,
    pub actor_oin: String,
    pub actor_role: String,
    /// Empty when the step has no purpose (e.g. a policy change).
    pub purpose: String,
    pub processing_activity: String,
    pub policy_version: String,
    /// JSON array of pseudonymous references: `signal:<partner>/<id>`, `hit:<id>`, ….
    pub refs: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// The hash this entry must carry, computed from its content and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        let mut ctx = Context::new(&SHA256);
        ctx.update(b"signaalnet-audit-entry-v1\0");
        ctx.update(&self.seq.to_be_bytes());
        ctx.update(&self.at_ms.to_be_bytes());
        for field in [
            &self.step,
            &self.actor_oin,
            &self.actor_role,
            &self.purpose,
            &self.processing_activity,
            &self.policy_version,
            &self.refs,
            &self.detail,
            &self.prev_hash,
        ] {
            ctx.update(&(field.len() as u64).to_be_bytes());
            ctx.update(field.as_bytes());
        }
        hex::encode(ctx.finish().as_ref())
    }

    /// The references as a list (empty when the stored JSON is not a list of strings).
    pub fn ref_list(&self) -> Vec<String> {
        serde_json::from_str(&self.refs).unwrap_or_default()
    }
}

/// A signed checkpoint as stored in `audit_checkpoints`: the signer vouches for the hash of
/// entry `seq`, and through the chain for every entry before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at_ms: i64,
    pub key_id: String,
    pub signature: String,
}

/// The bytes a checkpoint's signature covers.
pub fn checkpoint_message(seq: i64, hash: &str, at_ms: i64) -> Vec<u8> {
    let mut message = b"signaalnet-audit-checkpoint-v1\0".to_vec();
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(&at_ms.to_be_bytes());
    message.extend_from_slice(hash.as_bytes());
    message
}

/// Short id of a public key: the first 8 bytes of its SHA-256, hex.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&ring::digest::digest(&SHA256, public_key).as_ref()[..8])
}
