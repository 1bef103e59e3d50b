//! Revocation lists and pinned server OINs, on real TLS handshakes on loopback: a list is
//! checked when it is read (naming its file), a certificate it revokes is refused at the next
//! handshake and the next request once the role has read it again, and a client refuses a
//! server of the CA that carries another OIN than the one it expects.
#![allow(clippy::unwrap_used)] // test fixtures

use rcgen::{CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, SerialNumber};
use signaalnet_tls::dev::{revoke, write_dev_pki, DevIdentity, CA_CRL};
use signaalnet_tls::{AnyOin, ExpectedPeer, Oin, PeerRefused, Reloaded, TlsFiles, Trust};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

const COORDINATOR: &str = "00000099000000000090";
const GEMEENTE: &str = "00000099000000000014";
const POLITIE: &str = "00000099000000000021";

fn pki(dir: &Path) {
    let identity = |name: &str, oin: &str| DevIdentity {
        name: name.to_owned(),
        organisation: format!("{name} (test)"),
        oin: Oin::parse(oin).unwrap(),
    };
    write_dev_pki(
        dir,
        &[
            identity("coordinator", COORDINATOR),
            identity("gemeente", GEMEENTE),
            identity("politie", POLITIE),
        ],
    )
    .unwrap();
}

/// `name`'s files, with the directory's revocation list.
fn files(dir: &Path, name: &str) -> TlsFiles {
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
        crl: vec![dir.join(CA_CRL)],
    }
}

fn der(path: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(path)
        .unwrap()
        .to_vec()
}

/// One handshake of a client under `client` with a server under `server`: whether each side
/// completed it (the client also reads a byte, which a server that refused it never sends),
/// and the client's error.
async fn handshake(
    server: rustls::ServerConfig,
    client: rustls::ClientConfig,
) -> (bool, bool, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let Ok(mut tls) = acceptor.accept(tcp).await else {
            return false;
        };
        tls.write_all(b"k").await.unwrap();
        tls.shutdown().await.ok();
        true
    });
    let connector = TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client_ok, error) = match connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
    {
        Ok(mut tls) => {
            let mut buf = [0u8; 1];
            match tls.read_exact(&mut buf).await {
                Ok(_) => (true, String::new()),
                Err(e) => (false, e.to_string()),
            }
        }
        Err(e) => (false, e.to_string()),
    };
    (server.await.unwrap(), client_ok, error)
}

fn any() -> Arc<dyn ExpectedPeer> {
    Arc::new(AnyOin)
}

#[tokio::test]
async fn a_revoked_client_is_refused_at_its_next_handshake_and_request_once_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let server = Trust::load(&files(dir.path(), "coordinator")).unwrap();
    let config = server.server_config().unwrap();
    let gemeente = Trust::load(&files(dir.path(), "gemeente"))
        .unwrap()
        .client_config(any())
        .unwrap();
    let politie = Trust::load(&files(dir.path(), "politie"))
        .unwrap()
        .client_config(any())
        .unwrap();
    let gemeente_cert = der(&dir.path().join("gemeente.pem"));
    assert_eq!(
        handshake(config.clone(), gemeente.clone()).await,
        (true, true, String::new())
    );
    assert_eq!(server.check_peer(&gemeente_cert), Ok(()));

    revoke(dir.path(), &["gemeente".to_owned()]).unwrap();
    // Nothing changes until the role reads its lists again (with its policy set).
    assert!(handshake(config.clone(), gemeente.clone()).await.1);
    assert_eq!(
        server.reload().unwrap(),
        Reloaded::Changed {
            lists: 1,
            revoked: 1
        }
    );
    assert_eq!(server.reload().unwrap(), Reloaded::Unchanged);
    // The same server configuration: the lists are read at each handshake.
    let (accepted, _, _) = handshake(config.clone(), gemeente).await;
    assert!(!accepted, "a revoked client completed its handshake");
    assert_eq!(
        server.check_peer(&gemeente_cert),
        Err(PeerRefused::Revoked),
        "a connection opened before the revocation is refused at its next request"
    );
    assert_eq!(
        handshake(config, politie).await,
        (true, true, String::new())
    );
    assert_eq!(
        server.check_peer(&der(&dir.path().join("politie.pem"))),
        Ok(())
    );
}

#[tokio::test]
async fn a_client_refuses_a_revoked_server_and_a_server_of_another_organisation() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let client = Trust::load(&files(dir.path(), "gemeente")).unwrap();
    let politie_server = Trust::load(&files(dir.path(), "politie"))
        .unwrap()
        .server_config()
        .unwrap();
    // A valid certificate of the CA, but the politie's, where the coordinator was expected.
    let expecting_coordinator = client
        .client_config(Arc::new(Oin::parse(COORDINATOR).unwrap()))
        .unwrap();
    let (accepted, client_ok, error) =
        handshake(politie_server.clone(), expecting_coordinator.clone()).await;
    assert!(!accepted && !client_ok);
    assert!(
        error.contains(&format!(
            "carries OIN {POLITIE}, not the OIN {COORDINATOR} this channel is for"
        )),
        "{error}"
    );
    let expecting_politie = client
        .client_config(Arc::new(Oin::parse(POLITIE).unwrap()))
        .unwrap();
    assert!(handshake(politie_server, expecting_politie).await.1);

    // The coordinator itself is accepted, until its certificate is revoked.
    let coordinator_server = Trust::load(&files(dir.path(), "coordinator"))
        .unwrap()
        .server_config()
        .unwrap();
    assert!(
        handshake(coordinator_server.clone(), expecting_coordinator.clone())
            .await
            .1
    );
    revoke(dir.path(), &["coordinator".to_owned()]).unwrap();
    client.reload().unwrap();
    let (_, client_ok, error) = handshake(coordinator_server, expecting_coordinator).await;
    assert!(!client_ok);
    assert!(
        error.contains("invalid peer certificate: Revoked"),
        "{error}"
    );
}

#[test]
fn a_list_that_does_not_parse_is_not_the_cas_or_has_expired_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let foreign = tempfile::tempdir().unwrap();
    pki(foreign.path());
    let with = |crl: &Path| TlsFiles {
        crl: vec![crl.to_owned()],
        ..files(dir.path(), "coordinator")
    };
    let refusal = |crl: &Path| Trust::load(&with(crl)).unwrap_err().to_string();

    let garbage = dir.path().join("garbage.crl");
    std::fs::write(&garbage, b"not a list").unwrap();
    let message = refusal(&garbage);
    assert!(
        message.starts_with(&garbage.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("is not a certificate revocation list"),
        "{message}"
    );

    let pem_garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &pem_garbage,
        b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    )
    .unwrap();
    let message = refusal(&pem_garbage);
    assert!(
        message.starts_with(&pem_garbage.display().to_string()),
        "{message}"
    );

    // Issued by a CA of the same name with another key: the signature gives it away.
    let other_ca = foreign.path().join(CA_CRL);
    let message = refusal(&other_ca);
    assert!(
        message.starts_with(&other_ca.display().to_string()),
        "{message}"
    );
    assert!(message.contains("is not signed by the CA in"), "{message}");

    let expired = dir.path().join("expired.crl.pem");
    let issuer = Issuer::from_ca_cert_pem(
        &std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
        KeyPair::from_pem(&std::fs::read_to_string(dir.path().join("ca.key")).unwrap()).unwrap(),
    )
    .unwrap();
    let list = CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2026, 1, 1),
        next_update: rcgen::date_time_ymd(2026, 2, 1),
        crl_number: SerialNumber::from(7),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap();
    std::fs::write(&expired, list.pem().unwrap()).unwrap();
    let message = refusal(&expired);
    assert!(
        message.starts_with(&expired.display().to_string()),
        "{message}"
    );
    assert!(message.contains("nextUpdate has passed"), "{message}");

    // The same list as DER is read as well as PEM.
    let current = dir.path().join("current.crl");
    std::fs::write(&current, list_der(&dir.path().join(CA_CRL))).unwrap();
    Trust::load(&with(&current)).unwrap();

    // A reload that meets a broken list keeps the lists in force.
    let trust = Trust::load(&with(&current)).unwrap();
    revoke(dir.path(), &["gemeente".to_owned()]).unwrap();
    std::fs::write(&current, list_der(&dir.path().join(CA_CRL))).unwrap();
    assert!(matches!(
        trust.reload(),
        Ok(Reloaded::Changed { revoked: 1, .. })
    ));
    std::fs::write(&current, b"broken").unwrap();
    let message = trust.reload().unwrap_err().to_string();
    assert!(
        message.starts_with(&current.display().to_string()),
        "{message}"
    );
    assert_eq!(
        trust.check_peer(&der(&dir.path().join("gemeente.pem"))),
        Err(PeerRefused::Revoked)
    );
}

fn list_der(pem: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateRevocationListDer::from_pem_file(pem)
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn an_expired_list_in_force_refuses_every_handshake_and_request_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let issuer = Issuer::from_ca_cert_pem(
        &std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
        KeyPair::from_pem(&std::fs::read_to_string(dir.path().join("ca.key")).unwrap()).unwrap(),
    )
    .unwrap();
    let now = x509_parser::time::ASN1Time::now().to_datetime();
    let list = CertificateRevocationListParams {
        this_update: now - Duration::from_secs(60),
        next_update: now + Duration::from_secs(2),
        crl_number: SerialNumber::from(2),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap();
    std::fs::write(dir.path().join(CA_CRL), list.pem().unwrap()).unwrap();
    let server = Trust::load(&files(dir.path(), "coordinator")).unwrap();
    let config = server.server_config().unwrap();
    let client = Trust::load(&files(dir.path(), "gemeente"))
        .unwrap()
        .client_config(any())
        .unwrap();
    let gemeente = der(&dir.path().join("gemeente.pem"));
    assert!(handshake(config.clone(), client.clone()).await.1);
    assert_eq!(server.check_peer(&gemeente), Ok(()));

    tokio::time::sleep(Duration::from_secs(3)).await;
    // Fail closed: a stale list may lack a revocation.
    assert_eq!(server.check_peer(&gemeente), Err(PeerRefused::ListsExpired));
    assert!(!handshake(config, client).await.0);
    // Reading it again does not put it back in force.
    let message = server.reload().unwrap_err().to_string();
    assert!(message.contains("nextUpdate has passed"), "{message}");
}
