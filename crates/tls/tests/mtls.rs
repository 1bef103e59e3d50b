//! Real TLS handshakes on loopback: the server learns the client's OIN from its certificate;
//! clients from another CA, or without a certificate, are refused.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_tls::dev::{write_dev_pki, DevIdentity};
use signaalnet_tls::{client_config, oin_from_der, server_config, Oin, TlsFiles};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn identity(name: &str, oin: &str) -> DevIdentity {
    DevIdentity {
        name: name.to_owned(),
        organisation: format!("{name} (test)"),
        oin: Oin::parse(oin).unwrap(),
    }
}

fn files(dir: &Path, name: &str) -> TlsFiles {
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
        crl: Vec::new(),
    }
}

/// Accepts one connection and returns the client's OIN, or the handshake error.
async fn serve_once(listener: TcpListener, acceptor: TlsAcceptor) -> Result<String, String> {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
    let oin = {
        let (_, conn) = tls.get_ref();
        let cert = conn.peer_certificates().unwrap().first().unwrap();
        oin_from_der(cert.as_ref()).unwrap().to_string()
    };
    tls.write_all(b"ok").await.unwrap();
    tls.shutdown().await.ok();
    Ok(oin)
}

async fn handshake(
    server: TlsFiles,
    client: rustls::ClientConfig,
) -> (Result<String, String>, bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut server_cfg = server_config(&server).unwrap();
    server_cfg.alpn_protocols.clear();
    let acceptor = TlsAcceptor::from(Arc::new(server_cfg));
    let server_task = tokio::spawn(serve_once(listener, acceptor));
    let mut client = client;
    client.alpn_protocols.clear();
    let connector = TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let client_ok = match connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
    {
        Ok(mut tls) => {
            let mut buf = [0u8; 2];
            tls.read_exact(&mut buf).await.is_ok()
        }
        Err(_) => false,
    };
    (server_task.await.unwrap(), client_ok)
}

#[tokio::test]
async fn the_server_reads_the_clients_oin_from_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    write_dev_pki(
        dir.path(),
        &[
            identity("coordinator", "00000099000000000069"),
            identity("gemeente", "00000099000000000014"),
        ],
    )
    .unwrap();
    let client = client_config(&files(dir.path(), "gemeente")).unwrap();
    let (server, client_ok) = handshake(files(dir.path(), "coordinator"), client).await;
    assert_eq!(server.unwrap(), "00000099000000000014");
    assert!(client_ok);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("gemeente.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    write_dev_pki(
        ours.path(),
        &[identity("coordinator", "00000099000000000069")],
    )
    .unwrap();
    write_dev_pki(
        theirs.path(),
        &[identity("intruder", "00000099000000000014")],
    )
    .unwrap();
    // The intruder trusts our CA (so it accepts our server) but its own cert is from its CA.
    let client = client_config(&TlsFiles {
        ca: ours.path().join("ca.pem"),
        ..files(theirs.path(), "intruder")
    })
    .unwrap();
    let (server, client_ok) = handshake(files(ours.path(), "coordinator"), client).await;
    let err = server.unwrap_err();
    // Both dev CAs share a name, so rustls finds "the" issuer and rejects the signature.
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(!client_ok);
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_dev_pki(
        dir.path(),
        &[identity("coordinator", "00000099000000000069")],
    )
    .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(dir.path().join("ca.pem")).unwrap())
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let (server, client_ok) = handshake(files(dir.path(), "coordinator"), client).await;
    assert!(server.is_err());
    assert!(!client_ok);
}

#[test]
fn a_certificate_without_an_oin_has_no_identity() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    assert!(matches!(
        oin_from_der(cert.der()),
        Err(signaalnet_tls::TlsError::NoOin)
    ));
    assert!(Oin::parse("123").is_err());
}
