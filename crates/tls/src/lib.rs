//! mTLS for signaalnet.
//!
//! - [`identity`]: the OIN in a peer certificate's subject serialNumber (PKIoverheid /
//!   Digikoppeling convention) is the caller's identity; the policy set maps it to a partner and
//!   role. Read in one place, with x509-parser.
//! - [`config`]: rustls server and client configurations that require a client certificate from
//!   the configured CA, with the ring provider only (two providers make rustls panic).
//! - [`dev`]: a development PKI (rcgen): a CA and a certificate per role, for the demo and tests.
#![forbid(unsafe_code)]

pub mod config;
pub mod dev;
pub mod identity;

pub use config::{client_config, server_config, TlsFiles};
pub use identity::{oin_from_der, Oin};

/// What can go wrong setting up TLS or reading an identity. Messages name the file or the
/// certificate field, never key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error("the certificate cannot be parsed as X.509: {0}")]
    Certificate(String),
    #[error("the certificate subject has no serialNumber attribute holding an OIN")]
    NoOin,
    #[error("the certificate subject serialNumber is not a 20-digit OIN")]
    MalformedOin,
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
}
