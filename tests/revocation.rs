//! End-to-end, on real processes over mTLS: certificate revocation and pinned server OINs
//! (README, "Revocation and pinned OINs"; docs/THREAT_MODEL.md, "A stolen certificate, an
//! impostor role"). A certificate the CA revokes is refused by every role from its next reload
//! of the lists, on new connections and on connections already open, while other partners carry
//! on; a role does not start on a list that is broken or not its CA's; a node does not talk to a
//! "transcryptor" that presents another organisation's valid certificate.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::*;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::role_service_client::RoleServiceClient;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;

const RIEC: &str = "riec_noord_nederland";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_partner_is_refused_on_new_and_open_connections_while_others_carry_on() {
    let chain = common::start(None).await;
    let info = pb::GetRoleInfoRequest {};
    let mut riec = RoleServiceClient::new(chain.channel("coordinator", RIEC).unwrap());
    let mut zvh = RoleServiceClient::new(chain.channel("coordinator", ZVH).unwrap());
    riec.get_role_info(info).await.unwrap();
    zvh.get_role_info(info).await.unwrap();

    let certs = chain.certs();
    let (code, stdout, stderr) = chain
        .cli(&[
            "certs",
            "revoke",
            "--dir",
            certs.to_str().unwrap(),
            "--name",
            RIEC,
        ])
        .unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(RIEC), "{stdout}");
    chain
        .wait_for_log(
            "coordinator",
            "certificate revocation lists reloaded",
            Duration::from_secs(30),
        )
        .await
        .unwrap();

    // The connection the RIEC opened before: its next call is refused.
    let refused = riec.get_role_info(info).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    assert_eq!(
        refused.message(),
        "the client certificate has been revoked by the CA"
    );
    // A new connection does not get through its handshake: the coordinator closes it there
    // (the request layer's refusal, UNAUTHENTICATED, is never reached).
    let fresh = RoleServiceClient::new(chain.channel("coordinator", RIEC).unwrap())
        .get_role_info(info)
        .await
        .unwrap_err();
    assert!(
        matches!(
            fresh.code(),
            tonic::Code::Cancelled | tonic::Code::Unavailable | tonic::Code::Unknown
        ),
        "{fresh:?}"
    );
    // Another partner, on its open connection and on a new one, carries on.
    zvh.get_role_info(info).await.unwrap();
    RoleServiceClient::new(chain.channel("coordinator", ZVH).unwrap())
        .get_role_info(info)
        .await
        .unwrap();
    let log = chain.log("coordinator").unwrap();
    assert!(log.contains("request refused"), "{log}");
}

/// A transcryptor started with `crl` in place of its revocation list: its exit code and what it
/// printed.
fn transcryptor_with_list(dir: &std::path::Path, crl: &std::path::Path) -> (i32, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let keys = dir.join("keys");
    let certs = dir.join("certs");
    if !keys.exists() {
        let (code, _, stderr) = signaalnet(&["keys", "setup", "--out", keys.to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
        let (code, _, stderr) = signaalnet(&["certs", "dev", "--out", certs.to_str().unwrap()]);
        assert_eq!(code, 0, "{stderr}");
    }
    let config = dir.join("transcryptor-1.toml");
    std::fs::write(
        &config,
        std::fs::read_to_string(root.join("deploy/dev/transcryptor-1.toml"))
            .unwrap()
            .replace("dev/certs/ca.crl.pem", crl.to_str().unwrap())
            .replace("dev/keys", keys.to_str().unwrap())
            .replace("dev/certs", certs.to_str().unwrap())
            .replace("dev/data", dir.join("data").to_str().unwrap())
            .replace("dev/secrets", dir.join("secrets").to_str().unwrap())
            .replace(
                "\"policies\"",
                &format!("\"{}\"", root.join("policies").display()),
            )
            .replace("127.0.0.1:7101", "127.0.0.1:0"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
        .args(["transcryptor", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status.code().unwrap_or(-1), stderr);
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            return (0, "still running after 30 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_role_does_not_start_on_a_broken_or_foreign_revocation_list_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.crl.pem");
    std::fs::write(
        &broken,
        "-----BEGIN X509 CRL-----\nbm90IGEgbGlzdA==\n-----END X509 CRL-----\n",
    )
    .unwrap();
    let (code, stderr) = transcryptor_with_list(dir.path(), &broken);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains(broken.to_str().unwrap()), "{stderr}");
    assert!(
        stderr.contains("is not a certificate revocation list"),
        "{stderr}"
    );

    // A valid list, of another development CA.
    let other = tempfile::tempdir().unwrap();
    let (code, _, stderr) = signaalnet(&["certs", "dev", "--out", other.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let foreign = other.path().join("ca.crl.pem");
    let (code, stderr) = transcryptor_with_list(dir.path(), &foreign);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains(foreign.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("is not signed by the CA in"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_does_not_talk_to_a_transcryptor_with_another_organisations_certificate() {
    let mut chain = common::start(None).await;
    // An impostor at a "transcryptor 1" URL, with a valid certificate of the region's CA: the
    // politie's. It counts the handshakes that reach it and those that complete.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let impostor = format!("https://{}", listener.local_addr().unwrap());
    let config = Arc::new(signaalnet_tls::server_config(&chain.tls(POLITIE)).unwrap());
    let (tried, completed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut connections = signaalnet_tls::incoming(listener, config);
    let counts = (Arc::clone(&tried), Arc::clone(&completed));
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Some(connection) = connections.next().await {
            counts.0.fetch_add(1, Ordering::SeqCst);
            if let Ok(connection) = connection {
                counts.1.fetch_add(1, Ordering::SeqCst);
                open.push(connection);
            }
        }
    });
    let node_config = chain.roles[GEMEENTE].config.clone();
    let real = chain.roles["transcryptor_vng"].url.clone();
    let text = std::fs::read_to_string(&node_config).unwrap();
    assert!(text.contains(&real));
    std::fs::write(&node_config, text.replace(&real, &impostor)).unwrap();
    chain.kill(GEMEENTE).unwrap();
    chain.restart(GEMEENTE).await.unwrap();

    let id = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-IMPOSTOR",
            vec![address("9711 AB", "12")],
            &[("gemeente", "GM0014")],
        ),
    )
    .await
    .unwrap();
    // Until the node has tried twice (its retry after the first refusal), or got through once.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while tried.load(Ordering::SeqCst) < 2
        && completed.load(Ordering::SeqCst) == 0
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        completed.load(Ordering::SeqCst),
        0,
        "the node completed a handshake with a server of another organisation"
    );
    assert!(
        tried.load(Ordering::SeqCst) >= 2,
        "the node did not try the impostor again"
    );
    let status = chain
        .partner(GEMEENTE)
        .unwrap()
        .get_signal_status(pb::GetSignalStatusRequest { signal_id: id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.state, pb::SignalState::Pending as i32, "{status:?}");
    let log = chain.log(GEMEENTE).unwrap();
    assert!(
        log.contains("carries OIN 00000099000000000021, not the OIN 00000099000000000076"),
        "{log}"
    );
}
