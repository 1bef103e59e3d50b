//! What a role process needs around its service, shared by the node, the coordinator and the
//! transcryptor (each of which owns its own configuration type and startup):
//!
//! - [`config`]: a role's TOML configuration file with `SIGNAALNET_<ROLE>__<KEY>` overrides.
//! - [`governance`]: the signed policy set in force and the audit trail's signing key.
//! - [`background`]: policy reload, audit sealing and retention, run beside the service.
//! - [`files`]: umask 0077 and the refusal of a secret others can read.
//! - [`process`]: the listening socket, the shutdown signal, the processing-log export and the
//!   ceremony record every role reads.
#![forbid(unsafe_code)]

pub mod background;
pub mod config;
mod error;
pub mod files;
pub mod governance;
pub mod process;

pub use background::Background;
pub use error::{StartError, WithPath};
pub use governance::{Accountability, Governance, Schedule};
