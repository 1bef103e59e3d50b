//! Client TLS for tonic channels: to another role and to the OTLP collector, presenting the
//! role's own certificate and trusting one CA.
//!
//! tonic builds the rustls client from these PEM files itself, with the ring provider (the only
//! one compiled in: tonic's `tls-ring` feature). The files are read and parsed here first, so a
//! role with a missing or broken file fails at start with the file's name rather than on its
//! first call.

use crate::config::{load_certs, load_key, read};
use crate::{TlsError, TlsFiles};
use std::path::Path;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// Presents `files.cert`; trusts only `files.ca`. The server's certificate must name the host
/// of the URL the channel connects to. No revocation lists: for the OTLP exporter; channels
/// between roles are built on the role's [`crate::Trust`] with [`client_identity`].
pub fn client_tls(files: &TlsFiles) -> Result<ClientTlsConfig, TlsError> {
    client_tls_trusting(files, &files.ca)
}

/// Only the role's own certificate, for a channel whose server is verified by the role's
/// [`crate::Trust`] (tonic's `Endpoint::tls_config_with_verifier`: the CA is in the verifier).
pub fn client_identity(files: &TlsFiles) -> Result<ClientTlsConfig, TlsError> {
    load_certs(&files.cert)?;
    load_key(&files.key)?;
    Ok(ClientTlsConfig::new().identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?)))
}

/// [`client_tls`] trusting `ca` instead of `files.ca` (an OTLP collector under another CA).
pub fn client_tls_trusting(files: &TlsFiles, ca: &Path) -> Result<ClientTlsConfig, TlsError> {
    load_certs(ca)?;
    load_certs(&files.cert)?;
    load_key(&files.key)?;
    Ok(ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(ca)?))
        .identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?)))
}
