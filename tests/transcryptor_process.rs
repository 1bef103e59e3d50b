//! `signaalnet transcryptor` as its own process: configured by file plus environment, serving
//! real gRPC over mTLS, logging requests without values.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::v1::ConvertRequest;
use signaalnet_pseudonym::{PartnerEncryptor, SystemPublicKeys};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

fn run(args: &[&str], cwd: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{args:?}");
}

#[tokio::test]
async fn a_transcryptor_process_serves_partner_nodes_and_logs_no_values() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let keys = dir.path().join("keys");
    let certs = dir.path().join("certs");
    run(&["keys", "setup", "--out", keys.to_str().unwrap()], root);
    run(&["certs", "dev", "--out", certs.to_str().unwrap()], root);
    let config = dir.path().join("transcryptor.toml");
    std::fs::write(
        &config,
        std::fs::read_to_string(root.join("deploy/dev/transcryptor-1.toml"))
            .unwrap()
            .replace("dev/keys", keys.to_str().unwrap())
            .replace("dev/certs", certs.to_str().unwrap())
            .replace("dev/data", dir.path().join("data").to_str().unwrap())
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

    let mut child = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
        .args(["transcryptor", "--config", config.to_str().unwrap()])
        .env(
            "SIGNAALNET_TRANSCRYPTOR__LISTEN",
            format!("127.0.0.1:{port}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(
            std::fs::read(certs.join("ca.pem")).unwrap(),
        ))
        .identity(Identity::from_pem(
            std::fs::read(certs.join("gemeente_groningen.pem")).unwrap(),
            std::fs::read(certs.join("gemeente_groningen.key")).unwrap(),
        ))
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

    let system: SystemPublicKeys =
        serde_json::from_slice(&std::fs::read(keys.join("system.json")).unwrap()).unwrap();
    let key = signaalnet_identifier::Identifier::Bsn(
        signaalnet_identifier::Bsn::parse("111222333").unwrap(),
    )
    .match_keys()
    .remove(0);
    let ciphertext = PartnerEncryptor::new(system).encrypt(&key, &mut rand::rng());
    let response = TranscryptorServiceClient::new(channel)
        .convert(ConvertRequest {
            idempotency_key: "gemeente-1".into(),
            coordinator_context: "coordinator/riec-noord".into(),
            ciphertexts: vec![ciphertext.to_bytes().to_vec()],
            purposes: vec!["signalering_drieluik".into()],
        })
        .await
        .unwrap();
    assert_eq!(response.get_ref().ciphertexts.len(), 1);

    child.kill().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child.wait().unwrap();
    assert!(log.contains("converted batch"), "{log}");
    assert!(log.contains("gemeente_groningen"), "{log}");
    assert!(!log.contains("111222333"), "raw identifier in log");
    let hex_ciphertext = hex::encode(&ciphertext.to_bytes()[..16]);
    assert!(!log.contains(&hex_ciphertext), "ciphertext in log");
}
