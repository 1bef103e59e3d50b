//! The audit trail every role keeps: one entry per processing step (who, what, for which
//! purpose and processing activity, under which policy version, about which pseudonymous
//! references), chained by SHA-256 and sealed by Ed25519-signed checkpoints, in the role's own
//! database.
//!
//! Entries are appended inside the same transaction as the step they record, so a step that
//! is stored is audited and an audited step is stored. The chain makes any change, deletion or
//! reordering of entries visible at the entry where it happened ([`verify`]); checkpoints make
//! a recomputed chain or a cut-off end visible, because only the role holds the signing key.
//! Entries never carry a raw identifier: references are signal ids, hit ids and OINs.
//!
//! - [`Step`] and [`Event`]: what is recorded; [`Audit`] appends it (`writer`) and signs
//!   checkpoints (`checkpoint`) with the role's [`Signer`] (`key`).
//! - [`verify()`] and [`entries`] read a trail back (`trail`); the checks themselves are pure
//!   ([`mod@verify`]).
//! - [`mod@witness`]: other organisations keep and countersign a role's checkpoints, so that
//!   the role's own operator cannot cut off or rewrite and re-sign its trail unnoticed; what a
//!   witness accepts is pure ([`witness::judge`]), what it stores is in `witnessing`.
#![forbid(unsafe_code)]

mod checkpoint;
mod entry;
mod event;
mod key;
pub mod schema;
mod step;
mod trail;
pub mod verify;
pub mod witness;
mod witnessing;
mod writer;

pub use entry::{checkpoint_message, key_id, Checkpoint, Entry, GENESIS};
pub use event::{Actor, Event, DETAIL_MAX, REFERENCES_MAX, REFERENCE_MAX};
pub use key::{public_key_path, read_public_key, Signer};
pub use step::{Step, UnknownStep};
pub use trail::{entries, verify, verify_witnessed, Filter};
pub use verify::{Finding, Report, Verifier};
pub use witnessing::{keep_receipt, newest_checkpoint, receipt_held, witnessed, WitnessError};
pub use writer::{Audit, Head, CHECKPOINT_EVERY};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit signing key {path}: {problem}")]
    Key { path: String, problem: String },
    #[error("audit trail: {0}")]
    Query(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] signaalnet_store::StoreError),
}
