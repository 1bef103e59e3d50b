//! rustls configurations: mutual TLS against one CA, ring provider only. A role builds them
//! from its [`crate::Trust`] (which follows its revocation lists); [`server_config`] and
//! [`client_config`] are the same with the lists as they are now, for tools and tests.

use crate::TlsError;
use rustls::crypto::ring::default_provider;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a role finds its TLS material; the `[tls]` table of every role's configuration.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The CA that issued every role's certificate (PKIoverheid in production).
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Certificate revocation lists issued by `ca` (PEM or DER files), re-read with the policy
    /// set; none: no revocation check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crl: Vec<PathBuf>,
}

/// Where another role listens: `"https://host:port"`, or `{ url = "https://host:port", oin =
/// "…" }` to pin the OIN its certificate must carry. Without an OIN the channel accepts a
/// certificate whose OIN the policy set gives the role the channel is for (any transcryptor,
/// the coordinator); with one, only that organisation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum RoleUrl {
    Url(String),
    Pinned(PinnedUrl),
}

/// A [`RoleUrl`] with the OIN its server must carry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedUrl {
    pub url: String,
    pub oin: crate::Oin,
}

impl RoleUrl {
    pub fn url(&self) -> &str {
        match self {
            Self::Url(url) | Self::Pinned(PinnedUrl { url, .. }) => url,
        }
    }

    /// The OIN pinned for it, if any.
    pub fn oin(&self) -> Option<&crate::Oin> {
        match self {
            Self::Url(_) => None,
            Self::Pinned(PinnedUrl { oin, .. }) => Some(oin),
        }
    }
}

impl TlsFiles {
    /// The OIN of this role's own certificate (the first in `cert`).
    pub fn own_oin(&self) -> Result<crate::Oin, TlsError> {
        let certs = load_certs(&self.cert)?;
        let leaf = certs
            .first()
            .ok_or_else(|| file_error(&self.cert, "holds no PEM certificate"))?;
        crate::oin_from_der(leaf.as_ref())
    }
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(default_provider())
}

pub(crate) fn file_error(path: &Path, problem: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        problem: problem.to_string(),
    }
}

pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "holds no PEM certificate"));
    }
    Ok(certs)
}

pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error(path, e))
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| file_error(path, e))
}

pub(crate) fn roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in load_certs(path)? {
        store
            .add(cert)
            .map_err(|e| file_error(path, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(Arc::new(store))
}

/// A server that requires every client to present a certificate from `files.ca`, not revoked
/// by `files.crl` as they read now.
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    crate::Trust::load(files)?.server_config()
}

/// A client that trusts only `files.ca` (revocation lists included), whatever OIN the server's
/// certificate carries, and authenticates with its own certificate.
pub fn client_config(files: &TlsFiles) -> Result<ClientConfig, TlsError> {
    crate::Trust::load(files)?.client_config(std::sync::Arc::new(crate::AnyOin))
}
