//! The development harness: everything that runs the whole chain on one machine, shared by
//! `signaalnet demo`, `signaalnet bench`, the end-to-end tests and the micro-benchmarks.
//!
//! - [`chain`]: every role on loopback with its own port, certificate, configuration file and
//!   database, as tasks of this process or as separate `signaalnet` processes.
//! - [`setup`]: what a chain needs before it starts: the key ceremony's files, a development
//!   PKI, a signed policy set.
//! - [`requests`]: partner API requests (identifiers, signals, generated load) and waiting for
//!   their delivery.
//! - [`partners`]: the partners of the example policy set.
//! - [`demo`] and [`bench`]: the two commands built on it.
//!
//! Not for production: a chain here holds every party's secrets in one directory.
#![forbid(unsafe_code)]

pub mod bench;
pub mod chain;
pub mod console;
pub mod demo;
pub mod history;
pub mod partners;
pub mod requests;
pub mod setup;
mod stored;

pub use chain::{Chain, Options, Run};

use std::path::{Path, PathBuf};

/// The policy directory: `./policies` when run from a checkout, else the one this crate was
/// built with.
pub fn policies_dir() -> PathBuf {
    let local = PathBuf::from("policies");
    if local.join("purposes.toml").exists() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
    }
}
