//! The gRPC service around [`signaalnet_pseudonym::Transcryptor`].

use crate::rate::RateLimiter;
use signaalnet_audit::{Actor, Audit, Event, Step};
use signaalnet_policy::{LivePolicy, PartnerRole};
use signaalnet_proto::v1::transcryptor_service_server::TranscryptorService;
use signaalnet_proto::v1::{
    ConvertRequest, ConvertResponse, GetKeyShareRequest, GetKeyShareResponse,
};
use signaalnet_proto::MAX_BATCH;
use signaalnet_pseudonym::{CoordinatorContext, EncryptedIdentifier, Transcryptor};
use signaalnet_service::convert::submits_signals;
use signaalnet_service::{caller, Caller};
use signaalnet_store::Store;
use signaalnet_telemetry as telemetry;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct TranscryptorGrpc {
    transcryptor: Arc<Transcryptor>,
    context: CoordinatorContext,
    policy: LivePolicy,
    limiter: RateLimiter,
    store: Arc<Store>,
    audit: Arc<Audit>,
}

impl TranscryptorGrpc {
    /// `context` is the one coordinator context this transcryptor converts into and hands key
    /// shares for.
    pub fn new(
        transcryptor: Transcryptor,
        context: CoordinatorContext,
        policy: LivePolicy,
        limiter: RateLimiter,
        store: Arc<Store>,
        audit: Arc<Audit>,
    ) -> Self {
        Self {
            transcryptor: Arc::new(transcryptor),
            context,
            policy,
            limiter,
            store,
            audit,
        }
    }

    /// Records a step; a trail that cannot be written stops the step (nothing unaudited).
    async fn record(&self, event: Event) -> Result<(), Status> {
        self.audit.record(&self.store, event).await.map_err(|e| {
            tracing::error!(error = %e, "writing the audit trail failed");
            Status::unavailable("the transcryptor could not record the request; retry")
        })?;
        Ok(())
    }

    async fn refuse(&self, actor: Actor, what: &str, status: Status) -> Status {
        let event = Event::new(Step::Refuse, &self.policy.current())
            .by(actor)
            .detail(format!("{what} refused: {:?}", status.code()));
        if let Err(e) = self.record(event).await {
            return e;
        }
        status
    }

    fn check_context(&self, requested: &str) -> Result<(), Status> {
        if requested != self.context.as_str() {
            return Err(Status::failed_precondition(format!(
                "coordinator_context: this transcryptor serves `{}` only",
                self.context.as_str()
            )));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl TranscryptorService for TranscryptorGrpc {
    async fn convert(
        &self,
        request: Request<ConvertRequest>,
    ) -> Result<Response<ConvertResponse>, Status> {
        let who = caller(&request, &self.policy.current())?;
        let span = telemetry::called(
            "transcrypt",
            request.metadata(),
            &who.oin,
            &self.audit.own().oin,
        );
        telemetry::logged(span, self.convert_logged(who, request.into_inner()))
            .await
            .map(Response::new)
    }

    async fn get_key_share(
        &self,
        request: Request<GetKeyShareRequest>,
    ) -> Result<Response<GetKeyShareResponse>, Status> {
        let who = caller(&request, &self.policy.current())?;
        let span = telemetry::called(
            "key_share",
            request.metadata(),
            &who.oin,
            &self.audit.own().oin,
        );
        let actor = who.actor();
        let result = async {
            let response = match self.key_share_for(&who, request.get_ref()) {
                Ok(response) => response,
                Err(status) => return Err(self.refuse(actor, "GetKeyShare", status).await),
            };
            let event = Event::new(Step::KeyShare, &self.policy.current())
                .by(actor)
                .detail(format!(
                    "key share {} for coordinator context {} handed out",
                    response.transcryptor_index,
                    self.context.as_str()
                ));
            self.record(event).await?;
            Ok(response)
        };
        telemetry::logged(span, result).await.map(Response::new)
    }
}

impl TranscryptorGrpc {
    /// Converts a batch and records it (or its refusal) in the trail and the processing log.
    async fn convert_logged(
        &self,
        who: Caller,
        mut request: ConvertRequest,
    ) -> Result<ConvertResponse, Status> {
        let actor = who.actor();
        let purposes = std::mem::take(&mut request.purposes);
        let policy = self.policy.current();
        let mut activities = Vec::with_capacity(request.purposes.len());
        for (i, purpose) in purposes.iter().enumerate() {
            match policy.purpose(purpose) {
                Some(known) => activities.push(known.processing_activity_id.as_str()),
                None => {
                    let status = Status::invalid_argument(format!(
                        "purposes[{i}]: not a purpose of policy set {}",
                        policy.version()
                    ));
                    return Err(self.refuse(actor, "Convert", status).await);
                }
            }
        }
        activities.sort_unstable();
        activities.dedup();
        if !activities.is_empty() {
            tracing::Span::current().record(
                "dpl.core.processing_activity_id",
                activities.join(",").as_str(),
            );
        }
        match self.convert_for(&who, request).await {
            Ok((response, count)) => {
                telemetry::count(&tracing::Span::current(), count);
                let detail = format!(
                    "converted {count} ciphertext(s) from the partner's origin domain into \
                     coordinator context {}",
                    self.context.as_str()
                );
                let event = match purposes.as_slice() {
                    [only] => Event::for_purpose(Step::Transcrypt, &policy, only).detail(detail),
                    more => Event::new(Step::Transcrypt, &policy).detail(if more.is_empty() {
                        detail
                    } else {
                        format!("{detail}; purposes {}", more.join(", "))
                    }),
                };
                self.record(event.by(actor)).await?;
                Ok(response)
            }
            Err(status) => Err(self.refuse(actor, "Convert", status).await),
        }
    }

    async fn convert_for(
        &self,
        who: &Caller,
        request: ConvertRequest,
    ) -> Result<(ConvertResponse, usize), Status> {
        if !submits_signals(who.role) {
            tracing::warn!(caller = %who.partner_id, role = who.role.as_str(), "convert refused: not a partner node");
            return Err(Status::permission_denied(format!(
                "only partner nodes may ask for conversion; `{}` has role {}{}",
                who.partner_id,
                who.role.as_str(),
                if who.role == PartnerRole::Coordinator {
                    " (a coordinator that could convert its own ciphertexts could compute the \
                     matching pseudonym of any identifier)"
                } else {
                    ""
                }
            )));
        }
        self.check_context(&request.coordinator_context)?;
        let count = request.ciphertexts.len();
        if count == 0 {
            return Err(Status::invalid_argument("ciphertexts: the batch is empty"));
        }
        if count > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "ciphertexts: {count} items; a batch holds at most {MAX_BATCH}"
            )));
        }
        if let Err(wait) = self.limiter.take(&who.partner_id, count) {
            tracing::warn!(caller = %who.partner_id, count, "convert refused: rate limit");
            return Err(Status::resource_exhausted(format!(
                "rate limit for `{}`: retry in {:.1} s",
                who.partner_id,
                wait.min(3600.0)
            )));
        }
        let batch = request
            .ciphertexts
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                EncryptedIdentifier::from_bytes(bytes)
                    .map_err(|e| Status::invalid_argument(format!("ciphertexts[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let transcryptor = Arc::clone(&self.transcryptor);
        let context = self.context.clone();
        // Elliptic-curve work is CPU-bound: off the async workers, over every core.
        let converted = signaalnet_service::cpu::spread(batch, move |part| {
            transcryptor.convert_batch(part, &context, &mut rand::rng())
        })
        .await
        .map_err(|_| Status::internal("conversion task failed"))?;
        tracing::info!(
            caller = %who.partner_id,
            oin = %who.oin,
            idempotency_key = %request.idempotency_key,
            count,
            "converted batch"
        );
        Ok((
            ConvertResponse {
                ciphertexts: converted.iter().map(|c| c.to_bytes().to_vec()).collect(),
            },
            count,
        ))
    }

    fn key_share_for(
        &self,
        who: &Caller,
        request: &GetKeyShareRequest,
    ) -> Result<GetKeyShareResponse, Status> {
        if who.role != PartnerRole::Coordinator {
            tracing::warn!(caller = %who.partner_id, "key share refused: not the coordinator");
            return Err(Status::permission_denied(format!(
                "only the coordinator may receive a key share; `{}` has role {}",
                who.partner_id,
                who.role.as_str()
            )));
        }
        self.check_context(&request.coordinator_context)?;
        tracing::info!(caller = %who.partner_id, oin = %who.oin, "handed out key share");
        Ok(GetKeyShareResponse {
            key_share: self
                .transcryptor
                .key_share(&self.context)
                .to_bytes()
                .to_vec(),
            transcryptor_index: u32::try_from(self.transcryptor.index()).unwrap_or(u32::MAX),
        })
    }
}
