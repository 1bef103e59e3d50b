//! End-to-end, on real processes over mTLS: what the privacy design promises against the
//! coordinator and a transcryptor (docs/THREAT_MODEL.md). One identifier in two purposes gives
//! unlinkable pseudonyms at the coordinator; a transcryptor that converts into another domain
//! than it was asked is caught by the coordinator, which stores nothing of the signal and names
//! the transcryptor, while the node keeps the signal and delivers it once the chain is honest.
#![allow(clippy::unwrap_used)] // test fixtures

#[macro_use]
mod common;

use common::*;
use common::{postgres_url, Chain};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::v1::transcryptor_service_server::{
    TranscryptorService, TranscryptorServiceServer,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Server};

const RIEC: &str = "riec_integrale_analyse";

/// The pseudonyms the coordinator stored for each signal, by the node's signal id.
async fn stored_pseudonyms(chain: &Chain) -> Vec<(String, String, String, Vec<u8>)> {
    use sqlx::Row;
    let mut conn = chain.connect("coordinator").await.unwrap();
    sqlx::query(
        "SELECT s.signal_id AS id, s.purpose AS purpose, k.kind AS kind, k.pseudonym AS p \
         FROM coord_keys k JOIN coord_signals s ON s.seq = k.seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|row| {
        (
            row.get::<String, _>("id"),
            row.get::<String, _>("purpose"),
            row.get::<String, _>("kind"),
            row.get::<Vec<u8>, _>("p"),
        )
    })
    .collect()
}

async fn one_identifier_in_two_purposes_is_unlinkable_at_the_coordinator(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    let at = || address("9711 AB", "12");
    let drieluik = submit(
        &chain,
        GEMEENTE,
        signal("GRO-D", vec![at()], &[("gemeente", "GM0014")]),
    )
    .await
    .unwrap();
    let mut riec_request = signal("GRO-R", vec![at()], &[("gemeente", "GM0014")]);
    riec_request.purpose = RIEC.into();
    let riec = submit(&chain, GEMEENTE, riec_request).await.unwrap();
    let nla = submit(&chain, NLA, signal("NLA-D", vec![at()], &[]))
        .await
        .unwrap();
    wait_delivered(&chain, GEMEENTE, &[drieluik.clone(), riec.clone()])
        .await
        .unwrap();
    wait_delivered(&chain, NLA, std::slice::from_ref(&nla))
        .await
        .unwrap();

    let stored = stored_pseudonyms(&chain).await;
    let of = |id: &str| {
        stored
            .iter()
            .find(|(signal, _, kind, _)| signal == id && kind == "address")
            .unwrap_or_else(|| panic!("{id} not stored: {stored:?}"))
            .3
            .clone()
    };
    assert_eq!(
        of(&drieluik),
        of(&nla),
        "two partners, one purpose: one pseudonym"
    );
    assert_ne!(
        of(&drieluik),
        of(&riec),
        "one partner, two purposes: unlinkable pseudonyms"
    );
    // No pseudonym of the Drieluik appears under any other purpose.
    for (_, purpose, _, p) in &stored {
        if purpose != DRIELUIK {
            assert_ne!(p, &of(&drieluik), "{purpose}");
        }
    }
}

/// Stands between a node and transcryptor 2, presenting transcryptor 2's certificate, and
/// forwards with the node's. While `cheating`, it has every item converted into the RIEC
/// purpose's domain instead of the one asked: a valid proof, for the wrong factors.
struct CheatingTranscryptor {
    upstream: Channel,
    cheating: Arc<AtomicBool>,
}

#[tonic::async_trait]
impl TranscryptorService for CheatingTranscryptor {
    async fn convert(
        &self,
        request: tonic::Request<pb::ConvertRequest>,
    ) -> Result<tonic::Response<pb::ConvertResponse>, tonic::Status> {
        let mut request = request.into_inner();
        if self.cheating.load(Ordering::SeqCst) {
            for item in &mut request.items {
                item.purpose = RIEC.into();
            }
        }
        TranscryptorServiceClient::new(self.upstream.clone())
            .convert(request)
            .await
    }

    async fn get_key_share(
        &self,
        request: tonic::Request<pb::GetKeyShareRequest>,
    ) -> Result<tonic::Response<pb::GetKeyShareResponse>, tonic::Status> {
        TranscryptorServiceClient::new(self.upstream.clone())
            .get_key_share(request.into_inner())
            .await
    }

    async fn get_commitments(
        &self,
        request: tonic::Request<pb::GetCommitmentsRequest>,
    ) -> Result<tonic::Response<pb::GetCommitmentsResponse>, tonic::Status> {
        TranscryptorServiceClient::new(self.upstream.clone())
            .get_commitments(request.into_inner())
            .await
    }
}

async fn a_cheating_transcryptor_is_caught_and_nothing_is_stored_or_lost(postgres: Option<&str>) {
    let mut chain = common::start(postgres).await;
    let cheating = Arc::new(AtomicBool::new(true));
    let tls = Arc::new(signaalnet_tls::server_config(&chain.tls("transcryptor_jenv")).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("https://{}", listener.local_addr().unwrap());
    let service = CheatingTranscryptor {
        upstream: chain.channel("transcryptor_jenv", GEMEENTE).unwrap(),
        cheating: Arc::clone(&cheating),
    };
    tokio::spawn(
        Server::builder()
            .add_service(TranscryptorServiceServer::new(service))
            .serve_with_incoming(signaalnet_tls::incoming(listener, tls)),
    );
    // The gemeente's node now reaches transcryptor 2 through it.
    let config = chain.roles[GEMEENTE].config.clone();
    let real = chain.roles["transcryptor_jenv"].url.clone();
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&real));
    std::fs::write(&config, text.replace(&real, &proxy_url)).unwrap();
    chain.kill(GEMEENTE).unwrap();
    chain.restart(GEMEENTE).await.unwrap();

    let id = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-CHEAT",
            vec![address("9711 AB", "12")],
            &[("gemeente", "GM0014")],
        ),
    )
    .await
    .unwrap();
    // The coordinator refuses the conversion, naming transcryptor 2, and stores nothing.
    chain
        .wait_for_log(
            "coordinator",
            "a conversion proof does not verify",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(stored_pseudonyms(&chain).await.is_empty());
    let (code, trail, stderr) = chain.audit("show", "coordinator", &[]).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        trail.contains("the conversion by transcryptor 2 does not verify"),
        "{trail}"
    );
    // The node keeps the signal for another try.
    let status = chain
        .partner(GEMEENTE)
        .unwrap()
        .get_signal_status(pb::GetSignalStatusRequest {
            signal_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.state, pb::SignalState::Pending as i32, "{status:?}");

    // Honest again: the same signal is delivered, stored and nothing was lost.
    cheating.store(false, Ordering::SeqCst);
    wait_delivered(&chain, GEMEENTE, std::slice::from_ref(&id))
        .await
        .unwrap();
    let stored = stored_pseudonyms(&chain).await;
    assert!(
        stored.iter().any(|(signal, ..)| signal == &id),
        "{stored:?}"
    );
}

/// A transcryptor whose reshuffle secret changed (other secrets, or a substitute) answers other
/// commitments than the coordinator pinned at their first use; after a coordinator restart they
/// are refused, naming the transcryptor, and nothing of the new signal is stored.
async fn a_transcryptor_that_changes_its_commitments_is_refused_after_a_restart(
    postgres: Option<&str>,
) {
    let mut chain = common::start(postgres).await;
    let first = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-P1",
            vec![address("9711 AB", "12")],
            &[("gemeente", "GM0014")],
        ),
    )
    .await
    .unwrap();
    wait_delivered(&chain, GEMEENTE, std::slice::from_ref(&first))
        .await
        .unwrap();

    chain.kill("coordinator").unwrap();
    chain.kill("transcryptor_jenv").unwrap();
    let secrets = chain.dir().join("keys/transcryptor-2.json");
    let mut keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&secrets).unwrap()).unwrap();
    keys["pseudonymisation_secret"] = hex::encode([7u8; 32]).into();
    std::fs::write(&secrets, serde_json::to_vec(&keys).unwrap()).unwrap();
    chain.restart("transcryptor_jenv").await.unwrap();
    chain.restart("coordinator").await.unwrap();

    let second = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-P2",
            vec![address("9711 AB", "14")],
            &[("gemeente", "GM0014")],
        ),
    )
    .await
    .unwrap();
    chain
        .wait_for_log(
            "coordinator",
            "a transcryptor answers other commitments than it first did",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(chain.log("coordinator").unwrap().contains("transcryptor=2"));
    let stored = stored_pseudonyms(&chain).await;
    assert!(stored.iter().any(|(s, ..)| s == &first));
    assert!(!stored.iter().any(|(s, ..)| s == &second), "{stored:?}");
    let status = chain
        .partner(GEMEENTE)
        .unwrap()
        .get_signal_status(pb::GetSignalStatusRequest { signal_id: second })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.state, pb::SignalState::Pending as i32, "{status:?}");
}

on_both_databases!(
    one_identifier_in_two_purposes_is_unlinkable_at_the_coordinator,
    a_cheating_transcryptor_is_caught_and_nothing_is_stored_or_lost,
    a_transcryptor_that_changes_its_commitments_is_refused_after_a_restart,
);
