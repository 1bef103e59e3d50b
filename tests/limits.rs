//! Limits on every call (`[limits]`, `signaalnet_service::limits`), on a real role process
//! configured by its file: a transcryptor, the role that runs without the others. Every role
//! serves through the same `signaalnet_service::serve`, so what holds here holds for all.
//! The limits are set small so that each is reached quickly; the only timing asserted is the
//! difference between "closed at once" and "closed after the handshake timeout".
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::v1::{ConvertItem, ConvertRequest, IdentifierKind};
use signaalnet_pseudonym::{Origin, PartnerEncryptor, SystemPublicKeys};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_types::StatusExt;

const GEMEENTE: &str = "gemeente_groningen";
const POLITIE: &str = "politie_noord_nederland";

fn run(args: &[&str], cwd: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{args:?}");
}

/// Transcryptor 1 of the dev deployment as its own process, its dev configuration file with
/// `limits` appended as its `[limits]` table.
struct Transcryptor {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
    /// The gemeente's connection, made while waiting for the role to serve.
    gemeente: Channel,
}

impl Transcryptor {
    async fn start(dir: &Path, limits: &str) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        run(
            &["keys", "setup", "--out", dir.join("keys").to_str().unwrap()],
            root,
        );
        run(
            &["certs", "dev", "--out", dir.join("certs").to_str().unwrap()],
            root,
        );
        let config = dir.join("transcryptor-1.toml");
        let text = std::fs::read_to_string(root.join("deploy/dev/transcryptor-1.toml"))
            .unwrap()
            .replace("dev/keys", dir.join("keys").to_str().unwrap())
            .replace("dev/certs", dir.join("certs").to_str().unwrap())
            .replace("dev/data", dir.join("data").to_str().unwrap())
            .replace("dev/secrets", dir.join("secrets").to_str().unwrap())
            .replace(
                "\"policies\"",
                &format!("\"{}\"", root.join("policies").display()),
            );
        std::fs::write(&config, format!("{text}\n[limits]\n{limits}\n")).unwrap();
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
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let gemeente = connect(dir, port, GEMEENTE).await;
        Self {
            child,
            port,
            dir: dir.to_owned(),
            gemeente,
        }
    }

    /// A new connection, with the certificate of `partner`.
    async fn channel(&self, partner: &str) -> Channel {
        connect(&self.dir, self.port, partner).await
    }

    /// Ciphertexts of one BSN for the Drieluik, as the gemeente's node sends them.
    fn items(&self, n: usize) -> Vec<ConvertItem> {
        let system: SystemPublicKeys =
            serde_json::from_slice(&std::fs::read(self.dir.join("keys/system.json")).unwrap())
                .unwrap();
        let key = signaalnet_identifier::Identifier::Bsn(
            signaalnet_identifier::Bsn::parse("111222333").unwrap(),
        )
        .match_keys()
        .remove(0);
        let origin = Origin {
            partner: GEMEENTE,
            purpose: "signalering_drieluik",
            kind: key.kind(),
        };
        let encryptor = PartnerEncryptor::new(system);
        (0..n)
            .map(|_| {
                let (c, proof) = encryptor.encrypt(&key, &origin, &mut rand::rng());
                ConvertItem {
                    ciphertext: c.to_bytes().to_vec(),
                    purpose: "signalering_drieluik".into(),
                    kind: IdentifierKind::Bsn as i32,
                    origin_proof: proof.to_bytes(),
                }
            })
            .collect()
    }
}

/// A new connection to the role on `port`, with the certificate of `partner`.
async fn connect(dir: &Path, port: u16, partner: &str) -> Channel {
    let certs = dir.join("certs");
    let tls = signaalnet_tls::client_tls(&signaalnet_tls::TlsFiles {
        ca: certs.join("ca.pem"),
        cert: certs.join(format!("{partner}.pem")),
        key: certs.join(format!("{partner}.key")),
        crl: Vec::new(),
    })
    .unwrap()
    .domain_name("localhost");
    let endpoint = Channel::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap();
    let start = Instant::now();
    loop {
        match endpoint.connect().await {
            Ok(channel) => return channel,
            Err(_) if start.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("the transcryptor did not come up: {e}"),
        }
    }
}

impl Drop for Transcryptor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn health(channel: &Channel) -> Result<(), tonic::Status> {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .map(drop)
}

async fn convert(channel: &Channel, items: Vec<ConvertItem>) -> Result<(), tonic::Status> {
    TranscryptorServiceClient::new(channel.clone())
        .convert(ConvertRequest {
            idempotency_key: format!("limits-{}", items.len()),
            coordinator_context: "coordinator/riec-noord".into(),
            items,
        })
        .await
        .map(drop)
}

/// A refusal over a per-caller limit: RESOURCE_EXHAUSTED naming `rule` in its message and as
/// the quota of its QuotaFailure, with a RetryInfo.
fn assert_over(status: &tonic::Status, rule: &str) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains(rule), "{}", status.message());
    let details = status.get_error_details();
    let quota = details.quota_failure().unwrap();
    assert_eq!(quota.violations[0].quota_id, rule);
    assert!(details.retry_info().is_some(), "{status:?}");
}

#[tokio::test]
async fn a_caller_over_its_rate_is_refused_naming_the_limit_and_another_caller_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let role = Transcryptor::start(dir.path(), "requests_per_second = 1\nburst = 3").await;
    let gemeente = role.gemeente.clone();
    let mut refused = None;
    // A burst of 3, then one a second: the fifth call comes too soon whatever the machine does.
    for _ in 0..5 {
        if let Err(status) = health(&gemeente).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("a caller beyond its rate was served");
    assert_over(&refused, "limits.requests_per_second");
    // The police's node has a bucket of its own, full.
    let politie = role.channel(POLITIE).await;
    for _ in 0..3 {
        health(&politie).await.unwrap();
    }
}

#[tokio::test]
async fn a_unary_call_over_the_request_timeout_ends_deadline_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    // Verifying and converting 500 ciphertexts with their proofs takes far longer than 10 ms.
    let role = Transcryptor::start(dir.path(), "request_timeout_seconds = 0.01").await;
    let items = role.items(500);
    let status = convert(&role.gemeente, items).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        status
            .message()
            .contains("[limits.request_timeout_seconds]"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_caller_with_too_many_open_calls_is_refused_and_another_caller_is_not() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    let dir = tempfile::tempdir().unwrap();
    let role = Transcryptor::start(dir.path(), "concurrent_calls_per_caller = 1").await;
    let gemeente = role.gemeente.clone();
    // A stream the gemeente keeps open (and answered, so it is surely being served) is its
    // one open call: a deterministic stand-in for a long conversion.
    let (questions, asked) = tokio::sync::mpsc::channel(4);
    let mut answers = ServerReflectionClient::new(gemeente.clone())
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(asked))
        .await
        .unwrap()
        .into_inner();
    questions.send(list_services()).await.unwrap();
    answers.message().await.unwrap().unwrap();
    // While it is open, the gemeente's next call is one too many; the police's is its first.
    let refused = health(&gemeente)
        .await
        .expect_err("a second open call of the same caller was served");
    assert_over(&refused, "limits.concurrent_calls_per_caller");
    health(&role.channel(POLITIE).await).await.unwrap();
    // Its stream ended: the gemeente is served again.
    drop(questions);
    while answers.message().await.is_ok_and(|m| m.is_some()) {}
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(status) = health(&gemeente).await {
        assert!(Instant::now() < deadline, "still refused: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_handshake_timeout_and_beyond_the_cap_refused() {
    let dir = tempfile::tempdir().unwrap();
    let role = Transcryptor::start(
        dir.path(),
        "handshake_timeout_seconds = 3\nmax_connections = 4",
    )
    .await;
    // The one connection open: the gemeente's, served.
    let served = role.gemeente.clone();
    health(&served).await.unwrap();
    // Ten connections that never send a TLS byte: three fit beside the served client.
    let mut flood = tokio::task::JoinSet::new();
    let start = Instant::now();
    for _ in 0..10 {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", role.port))
            .await
            .unwrap();
        flood.spawn(async move {
            let mut buf = [0u8; 16];
            // Closed (end of stream or reset) by the server; the test's own bound is generous.
            let _ = tokio::time::timeout(Duration::from_secs(30), tcp.read(&mut buf)).await;
            start.elapsed()
        });
    }
    // The client that was already served still is, while the flood holds its connections.
    health(&served).await.unwrap();
    let mut closed = Vec::new();
    while let Some(elapsed) = flood.join_next().await {
        closed.push(elapsed.unwrap());
    }
    closed.sort();
    let at_once = closed
        .iter()
        .filter(|t| **t < Duration::from_secs(2))
        .count();
    assert_eq!(at_once, 7, "closed at once, beyond the cap: {closed:?}");
    for t in &closed[7..] {
        assert!(
            *t >= Duration::from_secs(2) && *t < Duration::from_secs(20),
            "closed after the handshake timeout of 3 s: {closed:?}"
        );
    }
    // With the flood gone, a new client gets a connection and is served.
    health(&role.channel(POLITIE).await).await.unwrap();
}

fn list_services() -> tonic_reflection::pb::v1::ServerReflectionRequest {
    tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    }
}

#[tokio::test]
async fn a_stream_lasts_while_its_client_talks_and_ends_once_it_falls_silent() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    let dir = tempfile::tempdir().unwrap();
    let role = Transcryptor::start(
        dir.path(),
        "request_timeout_seconds = 0.5\nstream_idle_timeout_seconds = 2",
    )
    .await;
    let (questions, asked) = tokio::sync::mpsc::channel(4);
    let mut answers = ServerReflectionClient::new(role.gemeente.clone())
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(asked))
        .await
        .unwrap()
        .into_inner();
    // Two seconds of questions, four times the request timeout: a stream has no total time.
    for _ in 0..8 {
        questions.send(list_services()).await.unwrap();
        answers.message().await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Then silence with the stream still open: the role ends it after the idle timeout.
    let silent = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(20), answers.message())
        .await
        .expect("a silent stream was kept open");
    assert!(!matches!(end, Ok(Some(_))), "{end:?}");
    assert!(
        silent.elapsed() >= Duration::from_secs(1),
        "{:?}",
        silent.elapsed()
    );
    drop(questions);
}
