//! The partner API. Only the partner that runs this node may call it (its OIN in the client
//! certificate): another partner, an analyst or an infrastructure role is refused.

use crate::input::Refused;
use crate::{Node, Submission, SubmitError, MAX_BATCH};
use signaalnet_audit::{Actor, Event, Step};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::partner_service_server::PartnerService;
use signaalnet_service::caller;
use signaalnet_service::query;
use signaalnet_service::status::Refusal;
use signaalnet_service::stream::{follow, next_batch, spawn_stream, Batch, BoxStream};
use signaalnet_telemetry::{self as telemetry, logged};
use std::sync::Arc;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};
use tracing::Span;

// Where a refusal or a failed submission becomes what the partner API says: the one mapping
// from the node's typed answers to gRPC.

impl From<Refused> for Status {
    fn from(refused: Refused) -> Self {
        // The details (google.rpc.Status: ErrorInfo, and BadRequest or QuotaFailure) carry the
        // violations for clients that read them; the message lists them for those that do not.
        refused.to_refusal().into_status()
    }
}

/// The status a submission stream ends with when its input could not be read: a message over the
/// size limit is RESOURCE_EXHAUSTED (what gRPC clients expect, where tonic says OUT_OF_RANGE), one
/// that does not decode (invalid protobuf or UTF-8) INVALID_ARGUMENT; the reason is cut short.
fn broken_off(status: &Status, read: usize) -> Status {
    let code = match status.code() {
        tonic::Code::OutOfRange => tonic::Code::ResourceExhausted,
        tonic::Code::Internal | tonic::Code::Unknown => tonic::Code::InvalidArgument,
        other => other,
    };
    let reason: String = status.message().chars().take(200).collect();
    Status::new(
        code,
        format!(
            "the submission stream could not be read after {read} signal(s); those were \
             answered, nothing after them: {}",
            reason.escape_debug()
        ),
    )
}

impl SubmitError {
    pub fn code(&self) -> tonic::Code {
        match self {
            Self::Refused(r) => r.code,
            Self::KeyReused => tonic::Code::AlreadyExists,
            Self::Concurrent => tonic::Code::Aborted,
            Self::Unavailable(_) => tonic::Code::Unavailable,
            Self::Internal(_) => tonic::Code::Internal,
        }
    }

    /// The answer to this submission on a `SubmitSignals` stream.
    pub fn to_signal_error(&self) -> pb::SignalError {
        match self {
            Self::Refused(r) => r.to_error(),
            other => pb::SignalError {
                code: other.code() as i32,
                message: other.to_string(),
                violations: Vec::new(),
            },
        }
    }
}

impl From<SubmitError> for Status {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::Refused(refused) => Status::from(refused),
            SubmitError::KeyReused => Refusal::new(
                tonic::Code::AlreadyExists,
                "IDEMPOTENCY_KEY_REUSED",
                "signal not stored",
            )
            .violation(
                "idempotency_key",
                "idempotency_key.reused",
                "already used for a different request; use a new key for a new signal",
            )
            .into_status(),
            other => Status::new(other.code(), other.to_string()),
        }
    }
}
#[derive(Clone)]
pub struct PartnerGrpc {
    node: Arc<Node>,
}

impl PartnerGrpc {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    async fn authorise<T>(&self, request: &Request<T>) -> Result<Actor, Status> {
        let policy = self.node.policy();
        let who = caller(request, &policy)?;
        if who.partner_id != self.node.partner_id {
            tracing::warn!(caller = %who.partner_id, node = %self.node.partner_id, "partner API refused: another organisation");
            // An attempt to act for another organisation is an access attempt: audited.
            let event = Event::new(Step::Refuse, &policy)
                .by(who.actor())
                .detail(format!(
                    "partner API refused: a certificate of `{}` tried to act for `{}`",
                    who.partner_id, self.node.partner_id
                ));
            self.node.audit.try_record(&self.node.store, event).await;
            return Err(Status::permission_denied(format!(
                "this node serves `{}`; a certificate of `{}` (OIN {}) cannot act for it",
                self.node.partner_id, who.partner_id, who.oin
            )));
        }
        Ok(who.actor())
    }

    /// The processing-log span of one step asked for by the partner system, continuing its
    /// trace when it sent one.
    fn step(&self, name: &'static str, metadata: &MetadataMap, actor: &Actor) -> Span {
        telemetry::called(name, metadata, &actor.oin, &self.node.audit.own().oin)
    }
}

#[tonic::async_trait]
impl PartnerService for PartnerGrpc {
    type SubmitSignalsStream = BoxStream<pb::SubmitSignalResult>;
    type WatchHitsStream = BoxStream<pb::HitNotification>;

    async fn submit_signal(
        &self,
        request: Request<pb::SubmitSignalRequest>,
    ) -> Result<Response<pb::SubmitSignalResponse>, Status> {
        let actor = self.authorise(&request).await?;
        let span = self.step("submit", request.metadata(), &actor);
        Ok(Response::new(
            logged(span, async {
                self.node
                    .submit(actor, request.into_inner())
                    .await
                    .map_err(Status::from)
            })
            .await?,
        ))
    }

    async fn submit_signals(
        &self,
        request: Request<Streaming<pb::SubmitSignalRequest>>,
    ) -> Result<Response<Self::SubmitSignalsStream>, Status> {
        let actor = self.authorise(&request).await?;
        let node = Arc::clone(&self.node);
        let metadata = request.metadata().clone();
        let this = self.clone();
        let mut input = request.into_inner();
        Ok(Response::new(spawn_stream(move |tx| async move {
            // What has arrived is checked, encrypted and stored together: one transaction per
            // batch rather than per signal.
            let mut read = 0usize;
            while let Some(Batch { items, broken }) = next_batch(&mut input, MAX_BATCH).await {
                let asked_count = items.len();
                let batch: Vec<Submission> = items
                    .into_iter()
                    .map(|request| Submission {
                        request,
                        span: this.step("submit", &metadata, &actor),
                    })
                    .collect();
                let asked: Vec<(String, Span)> = batch
                    .iter()
                    .map(|s| (s.request.idempotency_key.clone(), s.span.clone()))
                    .collect();
                let answers = node.submit_batch(&actor, batch).await;
                for ((key, span), answer) in asked.into_iter().zip(answers) {
                    let outcome = match answer {
                        Ok(accepted) => pb::submit_signal_result::Outcome::Accepted(accepted),
                        Err(error) => {
                            telemetry::settle_code(&span, error.code(), &error.to_string());
                            pb::submit_signal_result::Outcome::Refused(error.to_signal_error())
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
                read += asked_count;
                if let Some(status) = broken {
                    tracing::warn!(status = %status.code(), read, "submission stream broke off");
                    // The client gets the results of what was read, then an error status, not
                    // an OK that would pass for a complete stream.
                    let _ = tx.send(Err(broken_off(&status, read))).await;
                    return;
                }
            }
        })))
    }

    async fn withdraw_signals(
        &self,
        request: Request<pb::WithdrawSignalsRequest>,
    ) -> Result<Response<pb::WithdrawSignalsResponse>, Status> {
        let actor = self.authorise(&request).await?;
        let span = self.step("withdraw", request.metadata(), &actor);
        Ok(Response::new(
            logged(span, self.node.withdraw(actor, request.into_inner())).await?,
        ))
    }

    async fn get_signal_status(
        &self,
        request: Request<pb::GetSignalStatusRequest>,
    ) -> Result<Response<pb::SignalStatus>, Status> {
        let actor = self.authorise(&request).await?;
        let span = self.step("query", request.metadata(), &actor);
        let request = request.into_inner();
        Ok(Response::new(
            logged(span, async {
                // The form first: nothing is looked up for a value that cannot be an id.
                let signal_id = query::signal_id(&request.signal_id, "signal_id")?;
                self.node.status(actor, signal_id).await
            })
            .await?,
        ))
    }

    async fn watch_hits(
        &self,
        request: Request<pb::WatchHitsRequest>,
    ) -> Result<Response<Self::WatchHitsStream>, Status> {
        self.authorise(&request).await?;
        let after = query::cursor(&request.get_ref().after_cursor, "after_cursor")?;
        let node = Arc::clone(&self.node);
        let published = node.subscribe_hits();
        Ok(Response::new(follow(
            after,
            published,
            256,
            move |after, page| {
                let node = Arc::clone(&node);
                async move { node.hits_after(after, page).await }
            },
            |n: &pb::HitNotification| n.cursor.parse().ok(),
        )))
    }

    async fn list_hits(
        &self,
        request: Request<pb::ListHitsRequest>,
    ) -> Result<Response<pb::ListHitsResponse>, Status> {
        let actor = self.authorise(&request).await?;
        let span = self.step("query", request.metadata(), &actor);
        let request = request.into_inner();
        logged(span, async move {
            let page = self.node.list_hits(&request)?;
            let hits = self.node.current_hits(page.purpose.as_deref()).await?;
            let mut hits: Vec<pb::HitNotification> = hits
                .into_iter()
                .filter(|h| {
                    page.after
                        .as_deref()
                        .is_none_or(|after| h.hit_id.as_str() > after)
                })
                .take(page.size + 1)
                .collect();
            let next = if hits.len() > page.size {
                hits.truncate(page.size);
                hits.last()
                    .map(|h| query::next_page_token(&page.key, &h.hit_id))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let policy = self.node.policy();
            let event = Event::for_purpose(
                Step::Query,
                &policy,
                page.purpose.as_deref().unwrap_or_default(),
            )
            .by(actor)
            .references(hits.iter().map(|h| format!("hit:{}", h.hit_id)))
            .detail(format!(
                "list of hits with own signals: {} returned",
                hits.len()
            ));
            self.node
                .audit
                .record(&self.node.store, event)
                .await
                .map_err(crate::NodeError::from)?;
            Ok(Response::new(pb::ListHitsResponse {
                hits,
                next_page_token: next,
            }))
        })
        .await
    }

    async fn request_consultation(
        &self,
        request: Request<pb::RequestConsultationRequest>,
    ) -> Result<Response<pb::RequestConsultationResponse>, Status> {
        let actor = self.authorise(&request).await?;
        let span = self.step("consult", request.metadata(), &actor);
        Ok(Response::new(
            logged(
                span,
                self.node.request_consultation(actor, request.into_inner()),
            )
            .await?,
        ))
    }

    async fn answer_consultation(
        &self,
        request: Request<pb::AnswerConsultationRequest>,
    ) -> Result<Response<pb::AnswerConsultationResponse>, Status> {
        let actor = self.authorise(&request).await?;
        let span = self.step("consult", request.metadata(), &actor);
        Ok(Response::new(
            logged(
                span,
                self.node.answer_consultation(actor, request.into_inner()),
            )
            .await?,
        ))
    }
}
