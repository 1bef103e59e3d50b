//! Streams opened before a certificate is revoked, on a real tonic server over mTLS with the
//! layer every role serves behind (`signaalnet_tls::CheckRevocation`): once the lists with the
//! revocation are in force, a server stream ends with `UNAUTHENTICATED` at its next message, a
//! client stream's next message is not answered, and a new call on the same connection is
//! refused; another partner's streams carry on. A channel to a role given by a plain URL
//! accepts only a server whose OIN the policy set gives that role.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_tls::dev::{revoke, write_dev_pki, DevIdentity, CA_CRL};
use signaalnet_tls::{CheckRevocation, Oin, TlsFiles, Trust};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::Server;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1;

fn files(dir: &Path, name: &str) -> TlsFiles {
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
        crl: vec![dir.join(CA_CRL)],
    }
}

fn list_services() -> v1::ServerReflectionRequest {
    v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_opened_before_a_revocation_end_at_their_next_message() {
    let dir = tempfile::tempdir().unwrap();
    let identity = |name: &str, oin: &str| DevIdentity {
        name: name.to_owned(),
        organisation: name.to_owned(),
        oin: Oin::parse(oin).unwrap(),
    };
    write_dev_pki(
        dir.path(),
        &[
            identity("coordinator", "00000099000000000090"),
            identity("gemeente", "00000099000000000014"),
            identity("politie", "00000099000000000021"),
        ],
    )
    .unwrap();
    let trust = Trust::load(&files(dir.path(), "coordinator")).unwrap();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("signals", tonic_health::ServingStatus::Serving)
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .build_v1()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let incoming = signaalnet_tls::incoming(listener, Arc::new(trust.server_config().unwrap()));
    tokio::spawn(
        Server::builder()
            .layer(CheckRevocation::new(Arc::clone(&trust)))
            .add_service(health)
            .add_service(reflection)
            .serve_with_incoming(incoming),
    );
    let channel = |name: &str| signaalnet_service::channel(&url, &files(dir.path(), name)).unwrap();
    let (gemeente, politie) = (channel("gemeente"), channel("politie"));
    let watch = |channel: tonic::transport::Channel| async move {
        HealthClient::new(channel)
            .watch(HealthCheckRequest {
                service: "signals".to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
    };
    let (mut gemeente_watch, mut politie_watch) =
        (watch(gemeente.clone()).await, watch(politie.clone()).await);
    for stream in [&mut gemeente_watch, &mut politie_watch] {
        let first = stream.message().await.unwrap().unwrap();
        assert_eq!(first.status, ServingStatus::Serving as i32);
    }
    // A client stream (reflection's is bidirectional): answered before the revocation.
    let (asks, asked) = tokio::sync::mpsc::channel(4);
    let mut answers = v1::server_reflection_client::ServerReflectionClient::new(gemeente.clone())
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(asked))
        .await
        .unwrap()
        .into_inner();
    asks.send(list_services()).await.unwrap();
    answers.message().await.unwrap().unwrap();

    revoke(dir.path(), &["gemeente".to_owned()]).unwrap();
    trust.reload().unwrap();

    // The server stream's next message is the refusal.
    reporter
        .set_service_status("signals", tonic_health::ServingStatus::NotServing)
        .await;
    let ended = tokio::time::timeout(Duration::from_secs(10), gemeente_watch.message())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(ended.code(), tonic::Code::Unauthenticated, "{ended:?}");
    assert_eq!(
        ended.message(),
        "the client certificate has been revoked by the CA"
    );
    let next = politie_watch.message().await.unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    // The client stream's next message gets no answer.
    asks.send(list_services()).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), answers.message())
        .await
        .unwrap();
    assert!(!matches!(answer, Ok(Some(_))), "{answer:?}");
    // A new call on the same connection is refused; the other partner's is answered.
    let refused = HealthClient::new(gemeente)
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    HealthClient::new(politie)
        .check(HealthCheckRequest::default())
        .await
        .unwrap();
}

/// Serves health under `name`'s certificate from the PKI in `dir`; returns the URL.
async fn health_server(dir: &Path, name: &str) -> String {
    let trust = Trust::load(&files(dir, name)).unwrap();
    let (_, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let incoming = signaalnet_tls::incoming(listener, Arc::new(trust.server_config().unwrap()));
    tokio::spawn(
        Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming),
    );
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_url_accepts_only_a_server_the_policy_gives_that_role() {
    use signaalnet_policy::{LivePolicy, PartnerRole, PolicySet};
    use signaalnet_tls::RoleUrl;
    let dir = tempfile::tempdir().unwrap();
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let live = LivePolicy::new(PolicySet::load(&policies).unwrap());
    // The example set's OINs: the coordinator's and the politie's.
    let identity = |name: &str, oin: &str| DevIdentity {
        name: name.to_owned(),
        organisation: name.to_owned(),
        oin: Oin::parse(oin).unwrap(),
    };
    write_dev_pki(
        dir.path(),
        &[
            identity("coordinator", "00000099000000000090"),
            identity("politie", "00000099000000000021"),
            identity("gemeente", "00000099000000000014"),
        ],
    )
    .unwrap();
    let node = Trust::load(&files(dir.path(), "gemeente")).unwrap();
    let check = |url: String| {
        let channel = signaalnet_service::role_channel(
            &RoleUrl::Url(url),
            PartnerRole::Coordinator,
            &node,
            &live,
        )
        .unwrap();
        async move {
            HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
        }
    };
    check(health_server(dir.path(), "coordinator").await)
        .await
        .unwrap();
    let refused = check(health_server(dir.path(), "politie").await)
        .await
        .unwrap_err();
    let error = format!("{refused:?}");
    assert!(
        error.contains("carries OIN 00000099000000000021, not the OIN of a coordinator"),
        "{error}"
    );
}

/// A witness channel takes only a server the policy set gives a witnessing role (the
/// coordinator, a transcryptor): a partner's server with a valid certificate of the same CA is
/// refused at the handshake, so a role's checkpoints go to no one else.
#[tokio::test]
async fn a_witness_channel_accepts_only_the_coordinator_or_a_transcryptor() {
    use signaalnet_policy::{LivePolicy, PolicySet};
    let dir = tempfile::tempdir().unwrap();
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let live = LivePolicy::new(PolicySet::load(&policies).unwrap());
    let identity = |name: &str, oin: &str| DevIdentity {
        name: name.to_owned(),
        organisation: name.to_owned(),
        oin: Oin::parse(oin).unwrap(),
    };
    write_dev_pki(
        dir.path(),
        &[
            identity("coordinator", "00000099000000000090"),
            identity("politie", "00000099000000000021"),
            identity("gemeente", "00000099000000000014"),
        ],
    )
    .unwrap();
    let node = Trust::load(&files(dir.path(), "gemeente")).unwrap();
    let check = |url: String| {
        let channel = signaalnet_service::witness_channel(&url, &node, &live).unwrap();
        async move {
            HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
        }
    };
    check(health_server(dir.path(), "coordinator").await)
        .await
        .unwrap();
    let refused = check(health_server(dir.path(), "politie").await)
        .await
        .unwrap_err();
    let error = format!("{refused:?}");
    assert!(
        error.contains(
            "carries OIN 00000099000000000021, not the OIN of a coordinator or transcryptor"
        ),
        "{error}"
    );
}
