//! The partner API. Only the partner that runs this node may call it (its OIN in the client
//! certificate): another partner, an analyst or an infrastructure role is refused.

use crate::Node;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::partner_service_server::PartnerService;
use signaalnet_service::caller;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

#[derive(Clone)]
pub struct PartnerGrpc {
    node: Arc<Node>,
}

impl PartnerGrpc {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    fn authorise<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let who = caller(request, &self.node.policy)?;
        if who.partner_id != self.node.partner_id {
            tracing::warn!(caller = %who.partner_id, node = %self.node.partner_id, "partner API refused: another organisation");
            return Err(Status::permission_denied(format!(
                "this node serves `{}`; a certificate of `{}` (OIN {}) cannot act for it",
                self.node.partner_id, who.partner_id, who.oin
            )));
        }
        Ok(())
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn spawn_stream<T, F, Fut>(body: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(body(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

fn parse_cursor(cursor: &str, field: &str) -> Result<i64, Status> {
    if cursor.is_empty() {
        return Ok(0);
    }
    cursor
        .parse::<i64>()
        .ok()
        .filter(|c| *c >= 0)
        .ok_or_else(|| Status::invalid_argument(format!("{field}: not a cursor this node issued")))
}

#[tonic::async_trait]
impl PartnerService for PartnerGrpc {
    type SubmitSignalsStream = BoxStream<pb::SubmitSignalResult>;
    type WatchHitsStream = BoxStream<pb::HitNotification>;

    async fn submit_signal(
        &self,
        request: Request<pb::SubmitSignalRequest>,
    ) -> Result<Response<pb::SubmitSignalResponse>, Status> {
        self.authorise(&request)?;
        Ok(Response::new(self.node.submit(request.into_inner()).await?))
    }

    async fn submit_signals(
        &self,
        request: Request<Streaming<pb::SubmitSignalRequest>>,
    ) -> Result<Response<Self::SubmitSignalsStream>, Status> {
        self.authorise(&request)?;
        let node = Arc::clone(&self.node);
        let mut input = request.into_inner();
        Ok(Response::new(spawn_stream(move |tx| async move {
            while let Some(item) = input.next().await {
                let request = match item {
                    Ok(r) => r,
                    Err(status) => {
                        tracing::warn!(status = %status.code(), "submission stream broke off");
                        return;
                    }
                };
                let key = request.idempotency_key.clone();
                let outcome = match node.submit(request).await {
                    Ok(accepted) => pb::submit_signal_result::Outcome::Accepted(accepted),
                    Err(status) => {
                        use prost::Message;
                        let error =
                            pb::SignalError::decode(status.details()).unwrap_or(pb::SignalError {
                                code: status.code() as i32,
                                message: status.message().to_owned(),
                                violations: Vec::new(),
                            });
                        pb::submit_signal_result::Outcome::Refused(error)
                    }
                };
                let result = pb::SubmitSignalResult {
                    idempotency_key: key,
                    outcome: Some(outcome),
                };
                if tx.send(Ok(result)).await.is_err() {
                    return;
                }
            }
        })))
    }

    async fn withdraw_signals(
        &self,
        request: Request<pb::WithdrawSignalsRequest>,
    ) -> Result<Response<pb::WithdrawSignalsResponse>, Status> {
        self.authorise(&request)?;
        Ok(Response::new(
            self.node.withdraw(request.into_inner()).await?,
        ))
    }

    async fn get_signal_status(
        &self,
        request: Request<pb::GetSignalStatusRequest>,
    ) -> Result<Response<pb::SignalStatus>, Status> {
        self.authorise(&request)?;
        Ok(Response::new(
            self.node.status(&request.get_ref().signal_id).await?,
        ))
    }

    async fn watch_hits(
        &self,
        request: Request<pb::WatchHitsRequest>,
    ) -> Result<Response<Self::WatchHitsStream>, Status> {
        self.authorise(&request)?;
        let mut cursor = parse_cursor(&request.get_ref().after_cursor, "after_cursor")?;
        let node = Arc::clone(&self.node);
        Ok(Response::new(spawn_stream(move |tx| async move {
            let mut published = node.subscribe_hits();
            loop {
                let page = match node.hits_after(cursor, 256).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::error!(error = %e, "reading hits failed");
                        let _ = tx
                            .send(Err(Status::unavailable("hits unavailable; reconnect")))
                            .await;
                        return;
                    }
                };
                let full = page.len() == 256;
                for n in page {
                    cursor = n.cursor.parse().unwrap_or(cursor);
                    if tx.send(Ok(n)).await.is_err() {
                        return;
                    }
                }
                if !full {
                    let _ = tokio::time::timeout(Duration::from_secs(5), published.changed()).await;
                }
            }
        })))
    }

    async fn list_hits(
        &self,
        request: Request<pb::ListHitsRequest>,
    ) -> Result<Response<pb::ListHitsResponse>, Status> {
        self.authorise(&request)?;
        let request = request.into_inner();
        let size = match usize::try_from(request.page_size) {
            Ok(0) | Err(_) => DEFAULT_PAGE,
            Ok(n) => n.min(MAX_PAGE),
        };
        let hits = self.node.current_hits(&request.purpose).await?;
        let mut page: Vec<pb::HitNotification> = hits
            .into_iter()
            .filter(|h| h.hit_id.as_str() > request.page_token.as_str())
            .take(size + 1)
            .collect();
        let next = if page.len() > size {
            page.truncate(size);
            page.last().map(|h| h.hit_id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListHitsResponse {
            hits: page,
            next_page_token: next,
        }))
    }
}
