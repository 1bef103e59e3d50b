//! `signaalnet transcryptor` as its own process: configured by file plus environment, serving
//! real gRPC over mTLS, logging requests without values.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::v1::{ConvertItem, ConvertRequest, ConvertResponse, IdentifierKind};
use signaalnet_pseudonym::{Origin, PartnerEncryptor, SystemPublicKeys};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

fn run(args: &[&str], cwd: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{args:?}");
}

struct Running {
    child: std::process::Child,
    channel: Channel,
}

/// Transcryptor `index` of the dev deployment as its own process, and a channel to it with the
/// certificate of `as_partner`.
async fn start(dir: &Path, index: usize, as_partner: &str) -> Running {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let keys = dir.join("keys");
    let certs = dir.join("certs");
    if !keys.exists() {
        run(&["keys", "setup", "--out", keys.to_str().unwrap()], root);
        run(&["certs", "dev", "--out", certs.to_str().unwrap()], root);
    }
    let config = dir.join(format!("transcryptor-{index}.toml"));
    std::fs::write(
        &config,
        std::fs::read_to_string(root.join(format!("deploy/dev/transcryptor-{index}.toml")))
            .unwrap()
            .replace("dev/keys", keys.to_str().unwrap())
            .replace("dev/certs", certs.to_str().unwrap())
            .replace("dev/data", dir.join("data").to_str().unwrap())
            .replace("dev/secrets", dir.join("secrets").to_str().unwrap())
            .replace(
                "\"policies\"",
                &format!("\"{}\"", root.join("policies").display()),
            ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
        .args(["transcryptor", "--config", config.to_str().unwrap()])
        .env(
            "SIGNAALNET_TRANSCRYPTOR__LISTEN",
            format!("127.0.0.1:{port}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tls = signaalnet_tls::client_tls(&signaalnet_tls::TlsFiles {
        ca: certs.join("ca.pem"),
        cert: certs.join(format!("{as_partner}.pem")),
        key: certs.join(format!("{as_partner}.key")),
        crl: Vec::new(),
    })
    .unwrap()
    .domain_name("localhost");
    let endpoint = Channel::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap();
    let start = Instant::now();
    let channel = loop {
        match endpoint.connect().await {
            Ok(c) => break c,
            Err(_) if start.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("transcryptor did not come up: {e}"),
        }
    };
    Running { child, channel }
}

impl Running {
    async fn convert(&self, items: Vec<ConvertItem>) -> Result<ConvertResponse, tonic::Status> {
        TranscryptorServiceClient::new(self.channel.clone())
            .convert(ConvertRequest {
                idempotency_key: "gemeente-1".into(),
                coordinator_context: "coordinator/riec-noord".into(),
                items,
            })
            .await
            .map(tonic::Response::into_inner)
    }

    fn stop(mut self) -> String {
        self.child.kill().unwrap();
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        self.child.wait().unwrap();
        log
    }
}

/// An item for the Drieluik without an origin proof (crafted, or for a step after the first).
fn item(bytes: Vec<u8>, kind: IdentifierKind) -> ConvertItem {
    ConvertItem {
        ciphertext: bytes,
        purpose: "signalering_drieluik".into(),
        kind: kind as i32,
        origin_proof: Vec::new(),
    }
}

/// The gemeente's own ciphertext of a BSN for the Drieluik, as an item with its origin proof.
fn own_item(dir: &Path) -> (ConvertItem, Vec<u8>) {
    let origin = Origin {
        partner: "gemeente_groningen",
        purpose: "signalering_drieluik",
        kind: bsn_key().kind(),
    };
    let (c, proof) =
        PartnerEncryptor::new(system(dir)).encrypt(&bsn_key(), &origin, &mut rand::rng());
    let bytes = c.to_bytes().to_vec();
    let mut own = item(bytes.clone(), IdentifierKind::Bsn);
    own.origin_proof = proof.to_bytes();
    (own, bytes)
}

fn system(dir: &Path) -> SystemPublicKeys {
    serde_json::from_slice(&std::fs::read(dir.join("keys/system.json")).unwrap()).unwrap()
}

fn bsn_key() -> signaalnet_identifier::MatchKey {
    signaalnet_identifier::Identifier::Bsn(signaalnet_identifier::Bsn::parse("111222333").unwrap())
        .match_keys()
        .remove(0)
}

#[tokio::test]
async fn a_transcryptor_process_serves_partner_nodes_and_logs_no_values() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), 1, "gemeente_groningen").await;
    let (own, ciphertext) = own_item(dir.path());
    let response = first.convert(vec![own]).await.unwrap();
    assert_eq!(response.items.len(), 1);
    assert!(!response.items[0].proof.is_empty());

    let log = first.stop();
    assert!(log.contains("converted batch"), "{log}");
    assert!(log.contains("gemeente_groningen"), "{log}");
    assert!(!log.contains("111222333"), "raw identifier in log");
    let hex_ciphertext = hex::encode(&ciphertext[..16]);
    assert!(!log.contains(&hex_ciphertext), "ciphertext in log");
}

/// The attack of issue 13 over gRPC with the gemeente's certificate: `(M, M, 2G)` to have the
/// transcryptor rerandomise under a chosen key and return `k·2G`, then `(G, G, B')` to get
/// `k·B'`. Every transcryptor refuses the chosen key, naming the item; and a ciphertext is
/// converted only at its own step of the chain.
#[tokio::test]
async fn the_pseudonym_oracle_fails_at_every_transcryptor_and_the_order_is_enforced() {
    use libpep::elgamal::arithmetic::group_elements::{GroupElement, G};
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), 1, "gemeente_groningen").await;
    let second = start(dir.path(), 2, "gemeente_groningen").await;
    let m = GroupElement::random(&mut rand::rng());
    let crafted = |b: GroupElement, c: GroupElement, y: GroupElement| {
        let mut wire = Vec::with_capacity(96);
        wire.extend_from_slice(&b.to_bytes());
        wire.extend_from_slice(&c.to_bytes());
        wire.extend_from_slice(&y.to_bytes());
        wire
    };
    for transcryptor in [&first, &second] {
        for wire in [crafted(m, m, G + G), crafted(G, G, m), crafted(m, m, G)] {
            let status = transcryptor
                .convert(vec![item(wire, IdentifierKind::Bsn)])
                .await
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
            assert!(
                status
                    .message()
                    .starts_with("items[0].ciphertext: encrypted for another key"),
                "{}",
                status.message()
            );
        }
    }

    // Out of order: a partner's ciphertext for the global key straight to transcryptor 2.
    let (own, _) = own_item(dir.path());
    let status = second.convert(vec![own.clone()]).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("transcryptor 2 accepts"),
        "{}",
        status.message()
    );
    // In order it converts; transcryptor 1's output is not accepted by transcryptor 1 again.
    let once = first.convert(vec![own.clone()]).await.unwrap();
    let output = once.items[0].ciphertext.clone();
    assert!(first
        .convert(vec![item(output.clone(), IdentifierKind::Bsn)])
        .await
        .is_err());
    let twice = second
        .convert(vec![item(output, IdentifierKind::Bsn)])
        .await
        .unwrap();
    assert_eq!(twice.items.len(), 1);

    // A kind the partner may not share for the purpose (the gemeente shares no IBAN for the
    // Drieluik) is refused before any conversion, naming the item and the rule.
    let status = first
        .convert(vec![
            own.clone(),
            ConvertItem {
                kind: IdentifierKind::Iban as i32,
                ..own
            },
        ])
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(
        status.message().starts_with("items[1]: partner `gemeente_groningen` may not share identifier kind `iban` for purpose `signalering_drieluik`"),
        "{}",
        status.message()
    );
    first.stop();
    second.stop();
}
