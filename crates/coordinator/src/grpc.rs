//! The coordinator's gRPC services: `CoordinatorService` for partner nodes, `AnalystService` for
//! recipients with an analyst or monitor view.

use crate::core::Coordinator;
use crate::deliver::{Delivered, MAX_BATCH};
use signaalnet_audit::Actor;
use signaalnet_policy::Partner;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::analyst_service_server::AnalystService;
use signaalnet_proto::v1::coordinator_service_server::CoordinatorService;
use signaalnet_service::caller;
use signaalnet_service::convert::submits_signals;
use signaalnet_service::query;
use signaalnet_service::status::Refusal;
use signaalnet_service::stream::{follow, next_batch, spawn_stream, Batch, BoxStream};
use signaalnet_telemetry::{self as telemetry, Kind};
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, Span};

/// Notifications per read from the queue.
const PAGE: i64 = 256;

#[derive(Clone)]
pub struct CoordinatorGrpc {
    core: Arc<Coordinator>,
}

impl CoordinatorGrpc {
    pub fn new(core: Arc<Coordinator>) -> Self {
        Self { core }
    }

    fn partner_node<T>(&self, request: &Request<T>) -> Result<(Partner, Actor), Status> {
        let policy = self.core.policy();
        let who = caller(request, &policy)?;
        let partner = policy
            .partner(&who.partner_id)
            .cloned()
            .ok_or_else(|| Status::unauthenticated("unknown partner"))?;
        if !submits_signals(partner.role) {
            tracing::warn!(caller = %partner.id, role = partner.role.as_str(), "refused: not a partner node");
            return Err(Refusal::policy("")
                .violation(
                    "certificate",
                    "partner.not_a_node",
                    format!(
                        "only partner nodes (gemeente, politie, NLA, ZVH) use the coordinator \
                         service; `{}` has role {}",
                        partner.id,
                        partner.role.as_str()
                    ),
                )
                .into());
        }
        Ok((partner, who.actor()))
    }
}

#[tonic::async_trait]
impl CoordinatorService for CoordinatorGrpc {
    type DeliverSignalsStream = BoxStream<pb::DeliveryAck>;
    type WatchNotificationsStream = BoxStream<pb::PartnerNotification>;

    async fn deliver_signals(
        &self,
        request: Request<Streaming<pb::EncryptedSignal>>,
    ) -> Result<Response<Self::DeliverSignalsStream>, Status> {
        let (partner, actor) = self.partner_node(&request)?;
        let core = Arc::clone(&self.core);
        let metadata = request.metadata().clone();
        let mut input = request.into_inner();
        let output = spawn_stream(move |tx| async move {
            // What has arrived is checked, decrypted and stored together: one transaction per
            // batch rather than per signal.
            while let Some(Batch { items, broken }) = next_batch(&mut input, MAX_BATCH).await {
                let batch: Vec<Delivered> = items
                    .into_iter()
                    .map(|signal| {
                        // Each signal's processing log joins its own submission's trace.
                        let span = telemetry::step("match", Kind::Server);
                        telemetry::adopt_item(
                            &span,
                            &metadata,
                            Some(&signal.traceparent),
                            Some(&actor.oin),
                            core.own_oin(),
                        );
                        Delivered { signal, span }
                    })
                    .collect();
                let answered: Vec<(String, Span)> = batch
                    .iter()
                    .map(|d| (d.signal.signal_id.clone(), d.span.clone()))
                    .collect();
                let outcomes = core.deliver_batch(&partner, &actor, batch).await;
                for ((signal_id, span), outcome) in answered.into_iter().zip(outcomes) {
                    telemetry::settle_code(&span, outcome.code, &outcome.message);
                    let ack = pb::DeliveryAck {
                        signal_id,
                        code: outcome.code as i32,
                        message: outcome.message,
                    };
                    if tx.send(Ok(ack)).await.is_err() {
                        return;
                    }
                }
                if let Some(status) = broken {
                    tracing::warn!(partner = %partner.id, status = %status.code(), "delivery stream broke off");
                    return;
                }
            }
        });
        Ok(Response::new(output))
    }

    async fn withdraw_signals(
        &self,
        request: Request<pb::CoordinatorWithdrawRequest>,
    ) -> Result<Response<pb::CoordinatorWithdrawResponse>, Status> {
        let (partner, actor) = self.partner_node(&request)?;
        let span = telemetry::called(
            "withdraw",
            request.metadata(),
            &actor.oin,
            self.core.own_oin(),
        );
        telemetry::logged(
            span,
            self.withdraw_logged(partner, actor, request.into_inner()),
        )
        .await
        .map(Response::new)
    }

    async fn watch_notifications(
        &self,
        request: Request<pb::WatchNotificationsRequest>,
    ) -> Result<Response<Self::WatchNotificationsStream>, Status> {
        let (partner, _) = self.partner_node(&request)?;
        let after = query::cursor(&request.get_ref().after_cursor, "after_cursor")?;
        let core = Arc::clone(&self.core);
        // A node resumes after the last notification it stored: what it stored is no longer
        // kept here.
        core.acknowledge(&partner.id, after)
            .await
            .map_err(Status::from)?;
        let published = core.subscribe();
        Ok(Response::new(follow(
            after,
            published,
            PAGE,
            move |after, page| {
                let core = Arc::clone(&core);
                let partner = partner.id.clone();
                async move { core.notifications(&partner, after, page).await }
            },
            |n: &pb::PartnerNotification| n.cursor.parse().ok(),
        )))
    }

    async fn request_consultation(
        &self,
        request: Request<pb::CoordinatorConsultationRequest>,
    ) -> Result<Response<pb::CoordinatorConsultationResponse>, Status> {
        let (partner, actor) = self.partner_node(&request)?;
        let span = telemetry::called(
            "consult",
            request.metadata(),
            &actor.oin,
            self.core.own_oin(),
        );
        let core = &self.core;
        telemetry::logged(span, async move {
            core.request_consultation(&partner, &actor, request.into_inner())
                .await
        })
        .await
        .map(Response::new)
    }

    async fn answer_consultation(
        &self,
        request: Request<pb::CoordinatorAnswerRequest>,
    ) -> Result<Response<pb::CoordinatorAnswerResponse>, Status> {
        let (partner, actor) = self.partner_node(&request)?;
        let span = telemetry::called(
            "consult",
            request.metadata(),
            &actor.oin,
            self.core.own_oin(),
        );
        let core = &self.core;
        telemetry::logged(span, async move {
            core.answer_consultation(&partner, &actor, request.into_inner())
                .await
        })
        .await
        .map(Response::new)
    }
}

/// The most signal ids one `WithdrawSignals` call takes: what a node's outbox sends at once
/// (`signaalnet_node::outbox`). Each is its own transaction under the matcher's lock, and an
/// unknown one leaves a tombstone, so a call is bounded by what the one honest caller needs.
pub const MAX_WITHDRAW: usize = 1000;

impl CoordinatorGrpc {
    async fn withdraw_logged(
        &self,
        partner: Partner,
        actor: Actor,
        request: pb::CoordinatorWithdrawRequest,
    ) -> Result<pb::CoordinatorWithdrawResponse, Status> {
        if request.signal_ids.is_empty() || request.signal_ids.len() > MAX_WITHDRAW {
            return Err(Refusal::invalid("")
                .violation(
                    "signal_ids",
                    "signal_ids.count",
                    format!("between 1 and {MAX_WITHDRAW} ids"),
                )
                .into());
        }
        // Each id has the form a node gives its signals, before anything is looked up (or a
        // tombstone written) for it.
        for (i, id) in request.signal_ids.iter().enumerate() {
            query::signal_id(id, &format!("signal_ids[{i}]"))?;
        }
        let withdrawn = self
            .core
            .withdraw(&partner, &actor, &request.signal_ids)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "withdrawal failed");
                Status::unavailable("the coordinator could not record the withdrawal; retry")
            })?;
        Ok(pb::CoordinatorWithdrawResponse {
            withdrawn_signal_ids: withdrawn,
        })
    }
}

#[derive(Clone)]
pub struct AnalystGrpc {
    core: Arc<Coordinator>,
}

impl AnalystGrpc {
    pub fn new(core: Arc<Coordinator>) -> Self {
        Self { core }
    }

    fn reader<T>(&self, request: &Request<T>) -> Result<(Partner, Actor), Status> {
        let policy = self.core.policy();
        let who = caller(request, &policy)?;
        let partner = policy
            .partner(&who.partner_id)
            .cloned()
            .ok_or_else(|| Status::unauthenticated("unknown partner"))?;
        Ok((partner, who.actor()))
    }

    /// Answers one analyst or monitor call: in its processing-log span, and a refusal (an access
    /// attempt) in the audit trail.
    async fn answer<R, T, F>(
        &self,
        step: &'static str,
        what: &str,
        request: Request<R>,
        purpose: impl Fn(&R) -> String,
        call: impl FnOnce(Arc<Coordinator>, Partner, Actor, R) -> F,
    ) -> Result<Response<T>, Status>
    where
        F: std::future::Future<Output = Result<T, Status>>,
    {
        let (reader, actor) = self.reader(&request)?;
        let span = telemetry::called(step, request.metadata(), &actor.oin, self.core.own_oin());
        let request = request.into_inner();
        // The refusal's audit entry names the purpose only when it has the form of one: a
        // caller's arbitrary text does not reach the audit trail.
        let purpose = Some(purpose(&request))
            .filter(|p| query::purpose(p, "purpose", true).is_ok())
            .unwrap_or_default();
        let answer = telemetry::logged(
            span.clone(),
            call(Arc::clone(&self.core), reader, actor.clone(), request),
        )
        .await;
        match answer {
            Ok(answer) => Ok(Response::new(answer)),
            Err(status) => {
                if status.code() != tonic::Code::Unavailable {
                    self.core
                        .audit_refusal(actor, &purpose, what, status.code())
                        .instrument(span)
                        .await;
                }
                Err(status)
            }
        }
    }
}

#[tonic::async_trait]
impl AnalystService for AnalystGrpc {
    async fn list_hits(
        &self,
        request: Request<pb::AnalystListHitsRequest>,
    ) -> Result<Response<pb::AnalystListHitsResponse>, Status> {
        self.answer(
            "analyst_query",
            "ListHits",
            request,
            |r| r.purpose.clone(),
            |core, reader, actor, r| async move { core.list_hits(&reader, actor, r).await },
        )
        .await
    }

    async fn get_hit(
        &self,
        request: Request<pb::GetHitRequest>,
    ) -> Result<Response<pb::AnalystHit>, Status> {
        self.answer(
            "analyst_query",
            "GetHit",
            request,
            |r| r.purpose.clone(),
            |core, reader, actor, r| async move { core.get_hit(&reader, actor, r).await },
        )
        .await
    }

    async fn get_monitor(
        &self,
        request: Request<pb::GetMonitorRequest>,
    ) -> Result<Response<pb::MonitorTable>, Status> {
        self.answer(
            "monitor_query",
            "GetMonitor",
            request,
            |r| r.purpose.clone(),
            |core, reader, actor, r| async move { core.monitor(&reader, actor, r).await },
        )
        .await
    }
}
