//! Certificate revocation lists: the `[tls] crl` files of a role, each issued and signed by the
//! CA in `[tls] ca`, read at start and at every reload.
//!
//! A list is checked when it is read, not when a handshake first needs it: a file that does not
//! parse, is issued by another CA, is not signed by the CA's key, or whose `nextUpdate` has
//! passed is refused naming the file, so a role does not start on it and a reload keeps the
//! lists in force. The revoked serial numbers are also kept here so that a request on a
//! connection opened before the revocation can be refused ([`RevocationLists::check`]).

use crate::config::{file_error, load_certs, read, roots};
use crate::{TlsError, TlsFiles};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use rustls::RootCertStore;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// The revocation lists a role holds; empty when `[tls] crl` names none (no revocation check).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationLists {
    ders: Vec<CertificateRevocationListDer<'static>>,
    /// (issuer name, serial number), both as DER bytes, of every revoked certificate.
    revoked: HashSet<(Vec<u8>, Vec<u8>)>,
    /// The earliest `nextUpdate` of the lists (Unix seconds) and the file it is in.
    expires: Option<(i64, PathBuf)>,
}

/// Why a peer certificate that completed its handshake may not make a request now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerRefused {
    /// Names nothing of the certificate: the caller knows which it presented.
    #[error("the client certificate has been revoked by the CA")]
    Revoked,
    #[error(
        "this role's certificate revocation list has expired; no request is served until the \
         CA's current list is in place"
    )]
    ListsExpired,
    #[error("the client certificate cannot be read")]
    Unreadable,
}

/// What a revocation list names a certificate by: its issuer's name and its serial number
/// (DER bytes of each).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerKey((Vec<u8>, Vec<u8>));

impl PeerKey {
    /// The key of the end-entity certificate `der`.
    pub fn of(der: &[u8]) -> Result<Self, PeerRefused> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|_| PeerRefused::Unreadable)?;
        Ok(Self((
            cert.issuer().as_raw().to_vec(),
            cert.tbs_certificate.raw_serial().to_vec(),
        )))
    }
}

impl RevocationLists {
    /// Reads and checks every file of `files.crl` against `files.ca`; `now` in Unix seconds.
    pub fn load(files: &TlsFiles, now: i64) -> Result<Self, TlsError> {
        let cas = load_certs(&files.ca)?;
        let roots = roots(&files.ca)?;
        let mut lists = Self::default();
        for path in &files.crl {
            for der in read_crls(path)? {
                lists.add(path, &files.ca, (cas.as_slice(), &roots), der, now)?;
            }
        }
        Ok(lists)
    }

    /// The lists for rustls, in the order of the files.
    pub fn ders(&self) -> &[CertificateRevocationListDer<'static>] {
        &self.ders
    }

    pub fn is_empty(&self) -> bool {
        self.ders.is_empty()
    }

    /// How many certificates the lists revoke.
    pub fn revoked(&self) -> usize {
        self.revoked.len()
    }

    /// The earliest `nextUpdate` of the lists (Unix seconds), and its file.
    pub fn expires(&self) -> Option<(i64, &Path)> {
        self.expires
            .as_ref()
            .map(|(at, path)| (*at, path.as_path()))
    }

    /// Whether a peer whose end-entity certificate is `der` may make a request at `now` (Unix
    /// seconds): not when the lists revoke it, nor when they have expired (fail closed, as the
    /// handshake does).
    pub fn check(&self, der: &[u8], now: i64) -> Result<(), PeerRefused> {
        if self.is_empty() {
            return Ok(());
        }
        self.check_key(&PeerKey::of(der)?, now)
    }

    /// [`Self::check`] for a certificate read once ([`PeerKey::of`]), for every message of a
    /// stream.
    pub fn check_key(&self, key: &PeerKey, now: i64) -> Result<(), PeerRefused> {
        if self.is_empty() {
            return Ok(());
        }
        if self.expires.as_ref().is_some_and(|(at, _)| *at <= now) {
            return Err(PeerRefused::ListsExpired);
        }
        if self.revoked.contains(&key.0) {
            return Err(PeerRefused::Revoked);
        }
        Ok(())
    }

    fn add(
        &mut self,
        path: &Path,
        ca_path: &Path,
        (cas, roots): (&[CertificateDer<'static>], &Arc<RootCertStore>),
        der: CertificateRevocationListDer<'static>,
        now: i64,
    ) -> Result<(), TlsError> {
        let (rest, crl) = CertificateRevocationList::from_der(der.as_ref())
            .map_err(|e| file_error(path, format!("is not a certificate revocation list: {e}")))?;
        if !rest.is_empty() {
            return Err(file_error(
                path,
                "is not a certificate revocation list: bytes follow the list",
            ));
        }
        let issuer = cas
            .iter()
            .filter_map(|ca| X509Certificate::from_der(ca.as_ref()).ok())
            .find(|(_, ca)| ca.subject().as_raw() == crl.issuer().as_raw())
            .ok_or_else(|| {
                file_error(
                    path,
                    format!(
                        "is issued by `{}`, not by the CA in {}",
                        crl.issuer(),
                        ca_path.display()
                    ),
                )
            })?;
        crl.verify_signature(issuer.1.public_key()).map_err(|_| {
            file_error(
                path,
                format!(
                    "is not signed by the CA in {} (its signature does not verify)",
                    ca_path.display()
                ),
            )
        })?;
        if let Some(next) = crl.next_update() {
            let at = next.timestamp();
            if at <= now {
                return Err(file_error(
                    path,
                    format!(
                        "expired at {next} (its nextUpdate has passed): revocations since then \
                         may be missing from it; put the CA's current list in place"
                    ),
                ));
            }
            if self
                .expires
                .as_ref()
                .is_none_or(|(earliest, _)| at < *earliest)
            {
                self.expires = Some((at, path.to_owned()));
            }
        }
        // rustls parses the list again for every handshake's check; what it refuses (an
        // unsupported critical extension, say) is refused here, naming the file.
        crate::trust::webpki_accepts(roots, &der)
            .map_err(|e| file_error(path, format!("is not usable for revocation checks: {e}")))?;
        let issuer_name = crl.issuer().as_raw().to_vec();
        for revoked in crl.iter_revoked_certificates() {
            self.revoked
                .insert((issuer_name.clone(), revoked.raw_serial().to_vec()));
        }
        self.ders.push(der);
        Ok(())
    }
}

/// The lists in one file: PEM (`-----BEGIN X509 CRL-----`, one or more) or one DER list.
fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let bytes = read(path)?;
    if !bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        return Ok(vec![CertificateRevocationListDer::from(bytes)]);
    }
    let ders = CertificateRevocationListDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            file_error(
                path,
                format!("is not a PEM certificate revocation list: {e}"),
            )
        })?;
    if ders.is_empty() {
        return Err(file_error(
            path,
            "holds no PEM certificate revocation list (`-----BEGIN X509 CRL-----`)",
        ));
    }
    Ok(ders)
}
