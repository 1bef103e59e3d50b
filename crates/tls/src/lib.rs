//! mTLS for signaalnet.
//!
//! - [`identity`]: the OIN in a peer certificate's subject serialNumber (PKIoverheid /
//!   Digikoppeling convention) is the caller's identity; the policy set maps it to a partner and
//!   role. Read in one place, with x509-parser.
//! - [`config`]: rustls server and client configurations that require a client certificate from
//!   the configured CA, with the ring provider only (two providers make rustls panic).
//! - [`trust`]: what a role trusts, kept current: the CA and its revocation lists
//!   ([`revocation`]), checked at every handshake and every request; clients pin the OIN of
//!   the server they expect; [`layer`] checks every request and stream message of a server
//!   against the lists in force.
//! - [`accept`]: a server's connections, accepted under that configuration, for tonic.
//! - [`client`]: client TLS for tonic channels (to another role, to the OTLP collector).
//! - [`dev`]: a development PKI (rcgen): a CA and a certificate per role, for the demo and tests.
#![forbid(unsafe_code)]

pub mod accept;
pub mod client;
pub mod config;
pub mod dev;
pub mod identity;
pub mod layer;
pub mod revocation;
pub mod trust;

pub use accept::{incoming, TlsConnection};
pub use client::{client_identity, client_tls, client_tls_trusting};
pub use config::{client_config, server_config, PinnedUrl, RoleUrl, TlsFiles};
pub use identity::{oin_from_der, Oin};
pub use layer::CheckRevocation;
pub use revocation::{PeerKey, PeerRefused, RevocationLists};
pub use trust::{AnyOin, ExpectedPeer, Reloaded, Trust, WrongServer};

/// What can go wrong setting up TLS or reading an identity. Messages name the file or the
/// certificate field, never key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error("the certificate cannot be parsed as X.509: {0}")]
    Certificate(#[from] x509_parser::nom::Err<x509_parser::error::X509Error>),
    #[error("the certificate subject has no serialNumber attribute holding an OIN")]
    NoOin,
    #[error("the certificate subject serialNumber is not a 20-digit OIN")]
    MalformedOin,
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
}
