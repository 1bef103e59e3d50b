//! The outbox worker against stand-ins for the transcryptor and the coordinator (plain gRPC on
//! localhost): a transcryptor that answers one item short, or answers a ciphertext its proof
//! does not convert to, only delays a signal. It stays pending, is tried again, and is
//! delivered once the transcryptor answers right; nothing reaches the coordinator before.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test fixtures

mod common;

use common::{gemeente_node_in_chain, request, CONTEXT};
use signaalnet_node::{run_outbox, Upstream};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::coordinator_service_server::{
    CoordinatorService, CoordinatorServiceServer,
};
use signaalnet_proto::v1::transcryptor_service_server::{
    TranscryptorService, TranscryptorServiceServer,
};
use signaalnet_pseudonym::{EncryptedIdentifier, MatchDomain, Transcryptor};
use signaalnet_service::convert::kind_from_wire;
use signaalnet_store::Clock;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};

const SHORT: u8 = 0;
const MALFORMED: u8 = 1;
const RIGHT: u8 = 2;

/// Converts for real (the keys of the node's ceremony), then answers as `mode` says.
struct StandInTranscryptor {
    transcryptor: Transcryptor,
    mode: Arc<AtomicU8>,
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl TranscryptorService for StandInTranscryptor {
    async fn convert(
        &self,
        request: Request<pb::ConvertRequest>,
    ) -> Result<Response<pb::ConvertResponse>, Status> {
        let mut items = Vec::new();
        for item in request.into_inner().items {
            let ciphertext = EncryptedIdentifier::from_bytes(&item.ciphertext).unwrap();
            let kind = kind_from_wire(item.kind).unwrap();
            let domain = MatchDomain::new(&item.purpose, kind).unwrap();
            let converted = self
                .transcryptor
                .convert(&ciphertext, &self.transcryptor.factors(&domain))
                .unwrap();
            items.push(pb::ConvertedItem {
                ciphertext: converted.ciphertext.to_bytes().to_vec(),
                proof: converted.proof.to_bytes(),
            });
        }
        match self.mode.load(Ordering::SeqCst) {
            SHORT => {
                items.pop();
            }
            MALFORMED => items[0].ciphertext = vec![7; 96],
            _ => {}
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(pb::ConvertResponse { items }))
    }

    async fn get_commitments(
        &self,
        _: Request<pb::GetCommitmentsRequest>,
    ) -> Result<Response<pb::GetCommitmentsResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }

    async fn get_key_share(
        &self,
        _: Request<pb::GetKeyShareRequest>,
    ) -> Result<Response<pb::GetKeyShareResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Stores what it is delivered and acknowledges every signal.
#[derive(Default)]
struct StandInCoordinator {
    delivered: Arc<Mutex<Vec<pb::EncryptedSignal>>>,
}

#[tonic::async_trait]
impl CoordinatorService for StandInCoordinator {
    type DeliverSignalsStream = BoxStream<pb::DeliveryAck>;
    type WatchNotificationsStream = BoxStream<pb::PartnerNotification>;

    async fn deliver_signals(
        &self,
        request: Request<Streaming<pb::EncryptedSignal>>,
    ) -> Result<Response<Self::DeliverSignalsStream>, Status> {
        let mut input = request.into_inner();
        let mut acks = Vec::new();
        while let Some(signal) = input.next().await {
            let signal = signal?;
            acks.push(Ok(pb::DeliveryAck {
                signal_id: signal.signal_id.clone(),
                code: 0,
                message: String::new(),
            }));
            self.delivered.lock().unwrap().push(signal);
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(acks))))
    }

    async fn withdraw_signals(
        &self,
        _: Request<pb::CoordinatorWithdrawRequest>,
    ) -> Result<Response<pb::CoordinatorWithdrawResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }

    async fn watch_notifications(
        &self,
        _: Request<pb::WatchNotificationsRequest>,
    ) -> Result<Response<Self::WatchNotificationsStream>, Status> {
        Err(Status::unimplemented("stand-in"))
    }

    async fn request_consultation(
        &self,
        _: Request<pb::CoordinatorConsultationRequest>,
    ) -> Result<Response<pb::CoordinatorConsultationResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }

    async fn answer_consultation(
        &self,
        _: Request<pb::CoordinatorAnswerRequest>,
    ) -> Result<Response<pb::CoordinatorAnswerResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }
}

/// Serves `routes` on a free localhost port; a lazy channel to it.
async fn serve(routes: tonic::service::Routes) -> Channel {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_routes(routes)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_short_or_malformed_transcryptor_answer_is_retried_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (node, actor, transcryptor) = gemeente_node_in_chain(dir.path(), &Clock::system()).await;
    let node = Arc::new(node);
    let mode = Arc::new(AtomicU8::new(SHORT));
    let calls = Arc::new(AtomicUsize::new(0));
    let coordinator = StandInCoordinator::default();
    let delivered = Arc::clone(&coordinator.delivered);
    let upstream = Upstream {
        transcryptors: vec![
            serve(tonic::service::Routes::new(TranscryptorServiceServer::new(
                StandInTranscryptor {
                    transcryptor,
                    mode: Arc::clone(&mode),
                    calls: Arc::clone(&calls),
                },
            )))
            .await,
        ],
        coordinator: serve(tonic::service::Routes::new(CoordinatorServiceServer::new(
            coordinator,
        )))
        .await,
        context: CONTEXT.into(),
    };
    let accepted = node
        .submit(actor.clone(), request("GRO-1", "9711 AB"))
        .await
        .unwrap();
    let worker = tokio::spawn(run_outbox(Arc::clone(&node), upstream));
    let status = || node.status(actor.clone(), &accepted.signal_id);

    for (answer, error) in [
        (SHORT, "answered"),
        (MALFORMED, "is not the one its proof converts to"),
    ] {
        mode.store(answer, Ordering::SeqCst);
        until(error, async || {
            status().await.unwrap().detail.contains(error)
        })
        .await;
        // Tried again after that answer, and still kept.
        let before = calls.load(Ordering::SeqCst);
        until("another conversion", async || {
            calls.load(Ordering::SeqCst) > before
        })
        .await;
        let now = status().await.unwrap();
        assert_eq!(now.state, pb::SignalState::Pending as i32, "{now:?}");
        assert!(now.detail.contains("transcryptor 1"), "{}", now.detail);
        assert!(delivered.lock().unwrap().is_empty());
    }

    mode.store(RIGHT, Ordering::SeqCst);
    until("delivery", async || {
        status().await.unwrap().state == pb::SignalState::Unmatched as i32
    })
    .await;
    let delivered = delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].signal_id, accepted.signal_id);
    assert_eq!(delivered[0].identifiers.len(), 1);
    assert_eq!(delivered[0].identifiers[0].proofs.len(), 1);
    worker.abort();
}
