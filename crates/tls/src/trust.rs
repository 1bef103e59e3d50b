//! What a role trusts, kept current: the CA of `[tls] ca` and the revocation lists of
//! `[tls] crl`, read again on the policy set's schedule ([`Trust::reload`]).
//!
//! Every server and client configuration a role builds verifies its peers through the role's
//! `Trust` at each handshake, so a new connection meets the lists in force at that moment
//! without any configuration being rebuilt; a request on a connection that was open before a
//! revocation is checked too ([`Trust::check_peer`], from every server's request layer). A
//! client also pins whom it talks to: the server's certificate must carry the OIN the channel
//! expects ([`ExpectedPeer`]), not merely come from the CA, so another organisation's valid
//! certificate cannot stand in for a transcryptor or the coordinator.

use crate::config::{load_certs, load_key, provider, roots};
use crate::revocation::{PeerKey, PeerRefused, RevocationLists};
use crate::{oin_from_der, Oin, TlsError, TlsFiles};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, OtherError,
    RootCertStore, ServerConfig, SignatureScheme,
};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// A role's CA and revocation lists; see the module documentation.
#[derive(Debug)]
pub struct Trust {
    files: TlsFiles,
    roots: Arc<RootCertStore>,
    /// The CA names a server sends when it asks for a client certificate (fixed: the CA is
    /// not reloaded, only its lists).
    hints: Vec<DistinguishedName>,
    current: RwLock<Arc<Verifiers>>,
}

/// The webpki verifiers of one generation of revocation lists.
#[derive(Debug)]
struct Verifiers {
    lists: RevocationLists,
    client: Arc<dyn ClientCertVerifier>,
    server: Arc<WebPkiServerVerifier>,
}

/// What a reload found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    Unchanged,
    /// New lists are in force: how many lists and revoked certificates they hold.
    Changed {
        lists: usize,
        revoked: usize,
    },
}

impl Trust {
    /// Reads the CA and checks every revocation list; a list that does not parse, is not the
    /// CA's, or has expired is refused naming its file.
    pub fn load(files: &TlsFiles) -> Result<Arc<Self>, TlsError> {
        let roots = roots(&files.ca)?;
        let lists = RevocationLists::load(files, unix_now())?;
        let verifiers = verifiers(&roots, lists)?;
        Ok(Arc::new(Self {
            files: files.clone(),
            hints: roots.subjects(),
            roots,
            current: RwLock::new(Arc::new(verifiers)),
        }))
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    fn current(&self) -> Arc<Verifiers> {
        // A writer cannot panic half-way through replacing an `Arc`, so a poisoned lock still
        // holds a whole generation.
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reads the revocation lists again and puts them in force when they changed. On an error
    /// (a file unreadable, foreign, or expired) the lists in force stay.
    pub fn reload(&self) -> Result<Reloaded, TlsError> {
        let lists = RevocationLists::load(&self.files, unix_now())?;
        if lists == self.current().lists {
            return Ok(Reloaded::Unchanged);
        }
        let changed = Reloaded::Changed {
            lists: lists.ders().len(),
            revoked: lists.revoked(),
        };
        let verifiers = verifiers(&self.roots, lists)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(verifiers);
        Ok(changed)
    }

    /// When the lists in force expire (the earliest `nextUpdate`, Unix seconds) and the file
    /// that expires first; `None` without lists or when none gives a `nextUpdate`.
    pub fn expires(&self) -> Option<(i64, PathBuf)> {
        let current = self.current();
        current
            .lists
            .expires()
            .map(|(at, path)| (at, path.to_owned()))
    }

    /// Whether the peer whose end-entity certificate is `der` (verified at its handshake) may
    /// make a request now, under the lists in force.
    pub fn check_peer(&self, der: &[u8]) -> Result<(), PeerRefused> {
        self.current().lists.check(der, unix_now())
    }

    /// [`Self::check_peer`] for a certificate read once, for every message of a stream.
    pub fn check_key(&self, key: &PeerKey) -> Result<(), PeerRefused> {
        self.current().lists.check_key(key, unix_now())
    }

    /// A server that requires a client certificate from the CA, checked against the lists in
    /// force at each handshake. Sessions are not resumed: a resumed session skips the client
    /// certificate's verification, so a revoked certificate could come back through it.
    pub fn server_config(self: &Arc<Self>) -> Result<ServerConfig, TlsError> {
        let verifier = Arc::new(LiveClientVerifier {
            trust: Arc::clone(self),
        });
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(load_certs(&self.files.cert)?, load_key(&self.files.key)?)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(config)
    }

    /// Verifies a server's certificate against the CA and the lists in force at each
    /// handshake, and that it carries the OIN `expected` accepts.
    pub fn server_verifier(self: &Arc<Self>, expected: Arc<dyn ExpectedPeer>) -> Arc<PinnedServer> {
        Arc::new(PinnedServer {
            trust: Arc::clone(self),
            expected,
        })
    }

    /// A client presenting the role's certificate to a server [`Self::server_verifier`]
    /// accepts.
    pub fn client_config(
        self: &Arc<Self>,
        expected: Arc<dyn ExpectedPeer>,
    ) -> Result<ClientConfig, TlsError> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(self.server_verifier(expected))
            .with_client_auth_cert(load_certs(&self.files.cert)?, load_key(&self.files.key)?)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

/// Seconds since the Unix epoch, as revocation lists give their times.
pub fn unix_now() -> i64 {
    UnixTime::now().as_secs().try_into().unwrap_or(i64::MAX)
}

fn verifiers(roots: &Arc<RootCertStore>, lists: RevocationLists) -> Result<Verifiers, TlsError> {
    let mut client = WebPkiClientVerifier::builder_with_provider(Arc::clone(roots), provider());
    let mut server = WebPkiServerVerifier::builder_with_provider(Arc::clone(roots), provider());
    if !lists.is_empty() {
        // The CA is a trust anchor (not checked); its lists revoke the certificates it issued.
        // A list past its nextUpdate fails every handshake it covers: see README, "Revocation".
        client = client
            .with_crls(lists.ders().iter().cloned())
            .only_check_end_entity_revocation()
            .enforce_revocation_expiration();
        server = server
            .with_crls(lists.ders().iter().cloned())
            .only_check_end_entity_revocation()
            .enforce_revocation_expiration();
    }
    Ok(Verifiers {
        client: client.build()?,
        server: server.build()?,
        lists,
    })
}

/// Whether rustls takes `crl` for its revocation checks under the CA of `roots`.
pub(crate) fn webpki_accepts(
    roots: &Arc<RootCertStore>,
    crl: &CertificateRevocationListDer<'static>,
) -> Result<(), TlsError> {
    WebPkiServerVerifier::builder_with_provider(Arc::clone(roots), provider())
        .with_crls([crl.clone()])
        .build()?;
    Ok(())
}

/// Whose certificate a client channel accepts from the server.
pub trait ExpectedPeer: std::fmt::Debug + Send + Sync {
    /// Whether a server whose certificate carries `oin` is the one this channel is for.
    fn accepts(&self, oin: &Oin) -> bool;
    /// What is expected, in words, for the refusal (`OIN 00000099000000000076`).
    fn expected(&self) -> String;
}

impl ExpectedPeer for Oin {
    fn accepts(&self, oin: &Oin) -> bool {
        self == oin
    }

    fn expected(&self) -> String {
        format!("OIN {self}")
    }
}

/// Any OIN: the server's certificate must come from the CA, unrevoked, and name the host, but
/// whose it is does not matter (tools and tests calling a role).
#[derive(Debug, Clone, Copy)]
pub struct AnyOin;

impl ExpectedPeer for AnyOin {
    fn accepts(&self, _: &Oin) -> bool {
        true
    }

    fn expected(&self) -> String {
        "any OIN".to_owned()
    }
}

/// A server presented a valid certificate of the CA, but of another organisation.
#[derive(thiserror::Error)]
#[error("the server's certificate carries OIN {found}, not the {expected} this channel is for")]
pub struct WrongServer {
    pub found: String,
    pub expected: String,
}

/// The message itself: rustls shows a verifier's own error with `Debug`, and this is what
/// reaches the role's log when a channel's handshake fails.
impl std::fmt::Debug for WrongServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The client side: the CA and the lists in force, then the OIN.
#[derive(Debug)]
pub struct PinnedServer {
    trust: Arc<Trust>,
    expected: Arc<dyn ExpectedPeer>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.trust.current().server.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let refuse = |found: String| {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
                WrongServer {
                    found,
                    expected: self.expected.expected(),
                },
            ))))
        };
        match oin_from_der(end_entity.as_ref()) {
            Ok(oin) if self.expected.accepts(&oin) => Ok(verified),
            Ok(oin) => Err(refuse(oin.to_string())),
            Err(e) => Err(refuse(format!("none ({e})"))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.trust
            .current()
            .server
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.trust
            .current()
            .server
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust.current().server.supported_verify_schemes()
    }
}

/// The server side: a client certificate from the CA is required, checked against the lists
/// in force at each handshake.
#[derive(Debug)]
struct LiveClientVerifier {
    trust: Arc<Trust>,
}

impl ClientCertVerifier for LiveClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.trust.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.trust
            .current()
            .client
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.trust
            .current()
            .client
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.trust
            .current()
            .client
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust.current().client.supported_verify_schemes()
    }
}
