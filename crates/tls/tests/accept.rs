//! The server side as the roles run it: connections accepted by `incoming` under the one server
//! configuration, each carrying the client's certificate. A client that fails its handshake is
//! an error in the stream, and the next client still gets through.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_tls::dev::{write_dev_pki, DevIdentity};
use signaalnet_tls::{client_config, incoming, oin_from_der, server_config, Oin, TlsFiles};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tokio_stream::StreamExt;

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

/// The client's side of a handshake; the stream is kept open while the server looks at it.
async fn connect(
    addr: SocketAddr,
    client: rustls::ClientConfig,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(Arc::new(client))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

#[tokio::test]
async fn a_failed_handshake_is_skipped_and_the_next_client_is_served_with_its_oin() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    write_dev_pki(
        ours.path(),
        &[
            identity("coordinator", "00000099000000000069"),
            identity("gemeente", "00000099000000000014"),
        ],
    )
    .unwrap();
    write_dev_pki(
        theirs.path(),
        &[identity("intruder", "00000099000000000015")],
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = server_config(&files(ours.path(), "coordinator")).unwrap();
    let mut connections = incoming(listener, Arc::new(config));

    let intruder = client_config(&TlsFiles {
        ca: ours.path().join("ca.pem"),
        ..files(theirs.path(), "intruder")
    })
    .unwrap();
    let (_, refused) = tokio::join!(connect(addr, intruder), connections.next());
    assert!(refused.unwrap().is_err());

    let partner = client_config(&files(ours.path(), "gemeente")).unwrap();
    let (client, accepted) = tokio::join!(connect(addr, partner), connections.next());
    assert!(client.is_ok());
    let accepted = accepted.unwrap().unwrap();
    let certificate = accepted.get_ref().1.peer_certificates().unwrap()[0].clone();
    assert_eq!(
        oin_from_der(certificate.as_ref()).unwrap().as_str(),
        "00000099000000000014"
    );
}
