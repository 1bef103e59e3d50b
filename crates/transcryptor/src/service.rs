//! The gRPC service around [`signaalnet_pseudonym::Transcryptor`].

use crate::rate::RateLimiter;
use crate::seen::Seen;
use signaalnet_audit::{Actor, Audit, Event, Step};
use signaalnet_policy::PolicySet;
use signaalnet_policy::{LivePolicy, PartnerRole};
use signaalnet_proto::v1::transcryptor_service_server::TranscryptorService;
use signaalnet_proto::v1::{
    ConvertItem, ConvertRequest, ConvertResponse, ConvertedItem, GetCommitmentsRequest,
    GetCommitmentsResponse, GetKeyShareRequest, GetKeyShareResponse,
};
use signaalnet_proto::MAX_CONVERT_BATCH;
use signaalnet_pseudonym::{
    CoordinatorContext, DomainFactors, EncryptedIdentifier, MatchDomain, Origin, OriginProof,
    Transcryptor,
};
use signaalnet_service::convert::{kind_from_wire, submits_signals};
use signaalnet_service::quota::{self, Ask, Quotas};
use signaalnet_service::status;
use signaalnet_service::{caller, Caller};
use signaalnet_store::Store;
use signaalnet_store::StoreError;
use signaalnet_telemetry as telemetry;
use std::collections::BTreeMap;
use std::sync::Arc;
use tonic::{Request, Response, Status};

use signaalnet_telemetry::metrics::{Metrics, PartnerPurposeLabels};

/// The transcryptor's [`signaalnet_telemetry::metrics::Collect`].
struct Figures {
    quotas: Arc<Quotas>,
    policy: LivePolicy,
    audit: Arc<Audit>,
}

#[tonic::async_trait]
impl signaalnet_telemetry::metrics::Collect for Figures {
    async fn collect(&self, metrics: &Metrics) {
        let policy = self.policy.current();
        let partners: Vec<&str> = policy
            .partners()
            .filter(|p| submits_signals(p.role))
            .map(|p| p.id.as_str())
            .collect();
        signaalnet_service::measure::quota_figures(
            metrics,
            &self.quotas,
            &policy,
            &partners,
            self.audit.clock().now(),
        )
        .await;
    }
}

/// The most matching domains one `GetCommitments` asks for.
const MAX_DOMAINS: usize = 4096;

pub struct TranscryptorGrpc {
    transcryptor: Arc<Transcryptor>,
    /// Probing quotas per partner and purpose, from the policy set: the daily window is
    /// enforced here as well as at the node and the coordinator.
    quotas: Arc<Quotas>,
    /// Ciphertexts already counted (a node converts them again after a later step failed).
    seen: Seen,
    context: CoordinatorContext,
    policy: LivePolicy,
    limiter: RateLimiter,
    store: Arc<Store>,
    audit: Arc<Audit>,
    /// The figures of the metrics endpoint.
    metrics: Arc<Metrics>,
}

impl TranscryptorGrpc {
    /// `context` is the one coordinator context this transcryptor converts into and hands key
    /// shares for. Loads the quota windows recorded in `store`.
    pub async fn new(
        transcryptor: Transcryptor,
        context: CoordinatorContext,
        policy: LivePolicy,
        limiter: RateLimiter,
        store: Arc<Store>,
        audit: Arc<Audit>,
    ) -> Result<Self, StoreError> {
        let quotas = Quotas::load(&store, audit.clock().now()).await?;
        Ok(Self {
            transcryptor: Arc::new(transcryptor),
            quotas: Arc::new(quotas),
            seen: Seen::default(),
            context,
            policy,
            limiter,
            store,
            audit,
            metrics: Metrics::new("transcryptor"),
        })
    }

    /// Counts into `metrics` instead of figures of its own.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The figures of the metrics endpoint.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// What the metrics endpoint reads at each scrape: every partner's quota use.
    pub fn figures(&self) -> Arc<dyn signaalnet_telemetry::metrics::Collect> {
        Arc::new(Figures {
            quotas: Arc::clone(&self.quotas),
            policy: self.policy.clone(),
            audit: Arc::clone(&self.audit),
        })
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
            return Err(status::failed_precondition(
                "coordinator_context",
                "coordinator_context.other",
                format!("this transcryptor serves `{}` only", self.context.as_str()),
            ));
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

    async fn get_commitments(
        &self,
        request: Request<GetCommitmentsRequest>,
    ) -> Result<Response<GetCommitmentsResponse>, Status> {
        let who = caller(&request, &self.policy.current())?;
        let span = telemetry::called(
            "commitments",
            request.metadata(),
            &who.oin,
            &self.audit.own().oin,
        );
        let actor = who.actor();
        let result = async {
            match self.commitments_for(&who, request.get_ref()) {
                Ok(response) => Ok(response),
                Err(status) => Err(self.refuse(actor, "GetCommitments", status).await),
            }
        };
        telemetry::logged(span, result).await.map(Response::new)
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
        request: ConvertRequest,
    ) -> Result<ConvertResponse, Status> {
        let actor = who.actor();
        let policy = self.policy.current();
        let mut purposes: Vec<&str> = request.items.iter().map(|i| i.purpose.as_str()).collect();
        purposes.sort_unstable();
        purposes.dedup();
        let mut activities: Vec<&str> = purposes
            .iter()
            .filter_map(|p| policy.purpose(p))
            .map(|p| p.processing_activity_id.as_str())
            .collect();
        activities.sort_unstable();
        activities.dedup();
        if !activities.is_empty() {
            tracing::Span::current().record(
                "dpl.core.processing_activity_id",
                activities.join(",").as_str(),
            );
        }
        match self.convert_for(&who, &request).await {
            Ok(response) => {
                for item in &request.items {
                    self.metrics
                        .conversions
                        .get_or_create(&PartnerPurposeLabels {
                            partner: who.partner_id.clone(),
                            purpose: item.purpose.clone(),
                        })
                        .inc();
                }
                let count = response.items.len();
                telemetry::count(&tracing::Span::current(), count);
                let detail = format!(
                    "converted {count} ciphertext(s) at step {} from the partner's origin domain \
                     into matching domains of coordinator context {}",
                    self.transcryptor.index(),
                    self.context.as_str()
                );
                let event = match purposes.as_slice() {
                    [only] => Event::for_purpose(Step::Transcrypt, &policy, only).detail(detail),
                    more => Event::new(Step::Transcrypt, &policy)
                        .detail(format!("{detail}; purposes {}", more.join(", "))),
                };
                self.record(event.by(actor)).await?;
                Ok(response)
            }
            Err(status) => {
                for rule in signaalnet_service::measure::rules_of(&status) {
                    self.metrics.refused(&rule);
                }
                Err(self.refuse(actor, "Convert", status).await)
            }
        }
    }

    async fn convert_for(
        &self,
        who: &Caller,
        request: &ConvertRequest,
    ) -> Result<ConvertResponse, Status> {
        if !submits_signals(who.role) {
            tracing::warn!(caller = %who.partner_id, role = who.role.as_str(), "convert refused: not a partner node");
            return Err(status::permission_denied(
                "certificate",
                "partner.not_a_node",
                format!(
                    "only partner nodes may ask for conversion; `{}` has role {}{}",
                    who.partner_id,
                    who.role.as_str(),
                    if who.role == PartnerRole::Coordinator {
                        " (a coordinator that could convert its own ciphertexts could compute the \
                     matching pseudonym of any identifier)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        self.check_context(&request.coordinator_context)?;
        let count = request.items.len();
        if count == 0 {
            return Err(status::invalid_argument(
                "items",
                "items.required",
                "the batch is empty",
            ));
        }
        if count > MAX_CONVERT_BATCH {
            return Err(status::invalid_argument(
                "items",
                "items.too_many",
                format!("{count} items; a conversion batch holds at most {MAX_CONVERT_BATCH}"),
            ));
        }
        let policy = self.policy.current();
        let batch = request
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| self.check_item(who, &policy, i, item))
            .collect::<Result<Vec<_>, _>>()?;
        self.take_quota(who, &policy, &request.items).await?;
        if let Err(wait) = self.limiter.take(&who.partner_id, count) {
            tracing::warn!(caller = %who.partner_id, count, "convert refused: rate limit");
            let wait = wait.clamp(0.0, 3600.0);
            return Err(
                status::Refusal::new(tonic::Code::ResourceExhausted, "RATE_LIMITED", "")
                    .violation(
                        "items",
                        "limits.rate",
                        format!("rate limit for `{}`: retry in {wait:.1} s", who.partner_id),
                    )
                    .retry_after(std::time::Duration::from_secs_f64(wait.ceil()))
                    .into_status(),
            );
        }
        let transcryptor = Arc::clone(&self.transcryptor);
        // Elliptic-curve work is CPU-bound: off the async workers, over every core.
        let converted = signaalnet_service::cpu::spread(batch, move |part| {
            let mut factors: BTreeMap<MatchDomain, DomainFactors> = BTreeMap::new();
            part.iter()
                .map(|(i, ciphertext, domain)| {
                    let f = factors
                        .entry(domain.clone())
                        .or_insert_with(|| transcryptor.factors(domain));
                    transcryptor.convert(ciphertext, f).map_err(|e| (*i, e))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| Status::internal("conversion task failed"))?;
        let items = converted
            .into_iter()
            .map(|result| match result {
                Ok(c) => Ok(ConvertedItem {
                    ciphertext: c.ciphertext.to_bytes().to_vec(),
                    proof: c.proof.to_bytes(),
                }),
                Err((i, e)) => Err(status::invalid_argument(
                    format!("items[{i}].ciphertext"),
                    "ciphertext.invalid",
                    e.to_string(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        tracing::info!(
            caller = %who.partner_id,
            oin = %who.oin,
            idempotency_key = ?request.idempotency_key.chars().take(64).collect::<String>(),
            count,
            step = self.transcryptor.index(),
            "converted batch"
        );
        Ok(ConvertResponse { items })
    }

    /// One item checked before any work: its ciphertext under this step's key, its purpose in
    /// the policy set, and the caller's right to share that kind for that purpose.
    fn check_item(
        &self,
        who: &Caller,
        policy: &PolicySet,
        i: usize,
        item: &ConvertItem,
    ) -> Result<(usize, EncryptedIdentifier, MatchDomain), Status> {
        let ciphertext = EncryptedIdentifier::from_bytes(&item.ciphertext).map_err(|e| {
            status::invalid_argument(
                format!("items[{i}].ciphertext"),
                "ciphertext.invalid",
                e.to_string(),
            )
        })?;
        if !self.transcryptor.accepts(&ciphertext) {
            return Err(status::invalid_argument(
                format!("items[{i}].ciphertext"),
                "ciphertext.other_key",
                format!(
                    "encrypted for another key than the one transcryptor {} accepts; \
                     conversion follows the fixed order of the chain, starting from the global \
                     public key",
                    self.transcryptor.index()
                ),
            ));
        }
        let Some(purpose) = policy.purpose(&item.purpose) else {
            return Err(status::invalid_argument(
                format!("items[{i}].purpose"),
                "purpose.unknown",
                format!("not a purpose of policy set {}", policy.version()),
            ));
        };
        let Some(kind) = kind_from_wire(item.kind) else {
            return Err(status::invalid_argument(
                format!("items[{i}].kind"),
                "kind.unknown",
                "must be a known identifier kind",
            ));
        };
        let allowed = policy
            .partner(&who.partner_id)
            .and_then(|p| p.shares.get(&purpose.id))
            .is_some_and(|share| share.identifier_kinds.contains(&kind));
        if !allowed {
            tracing::warn!(caller = %who.partner_id, purpose = %purpose.id, kind = kind.as_str(), "convert refused: kind not shared for purpose");
            return Err(status::permission_denied(
                format!("items[{i}]"),
                "policy.kind_not_shared",
                format!(
                    "partner `{}` may not share identifier kind `{}` for purpose `{}` (policy \
                     set {})",
                    who.partner_id,
                    kind.as_str(),
                    purpose.id,
                    policy.version()
                ),
            ));
        }
        if self.transcryptor.index() == 1 {
            // Only what the caller itself encrypted, for this purpose and kind, enters the chain.
            let proof = OriginProof::from_bytes(&item.origin_proof).map_err(|e| {
                status::invalid_argument(
                    format!("items[{i}].origin_proof"),
                    "origin_proof.invalid",
                    e.to_string(),
                )
            })?;
            let origin = Origin {
                partner: &who.partner_id,
                purpose: &purpose.id,
                kind,
            };
            if let Err(e) = origin.verify(&ciphertext, &proof) {
                tracing::warn!(caller = %who.partner_id, purpose = %purpose.id, kind = kind.as_str(), "convert refused: origin proof");
                return Err(status::permission_denied(
                    format!("items[{i}].origin_proof"),
                    "origin_proof.not_the_caller",
                    e.to_string(),
                ));
            }
        }
        let domain = MatchDomain::new(&purpose.id, kind).map_err(|e| {
            status::invalid_argument(
                format!("items[{i}].purpose"),
                "purpose.invalid",
                e.to_string(),
            )
        })?;
        Ok((i, ciphertext, domain))
    }

    /// The batch's identifiers against the caller's daily quota per purpose: all of the batch
    /// or nothing, each ciphertext once a day. (The per-signal cap is the node's and the
    /// coordinator's: a batch spans signals.)
    async fn take_quota(
        &self,
        who: &Caller,
        policy: &PolicySet,
        items: &[ConvertItem],
    ) -> Result<(), Status> {
        let now = self.audit.clock().now();
        let fresh = self.seen.fresh(
            &who.partner_id,
            items
                .iter()
                .map(|i| (i.purpose.as_str(), i.ciphertext.as_slice())),
            now,
        );
        let mut per_purpose: BTreeMap<&str, usize> = BTreeMap::new();
        for (purpose, _) in &fresh {
            *per_purpose.entry(purpose).or_default() += 1;
        }
        let asks: Vec<Ask<'_>> = per_purpose
            .iter()
            .map(|(purpose, n)| Ask {
                purpose,
                identifiers: *n,
                one_signal: false,
            })
            .collect();
        match self
            .quotas
            .take_all(&self.store, policy, &who.partner_id, &asks, now)
            .await
        {
            Ok(Ok(())) => {
                self.seen.record(fresh.iter().map(|(_, key)| *key), now);
                Ok(())
            }
            Ok(Err(exhausted)) => {
                tracing::warn!(caller = %who.partner_id, "convert refused: quota");
                Err(quota::status(&exhausted, "items"))
            }
            Err(e) => {
                tracing::error!(error = %e, "recording quota use failed");
                Err(Status::unavailable(
                    "the transcryptor could not record quota use; retry",
                ))
            }
        }
    }

    fn commitments_for(
        &self,
        who: &Caller,
        request: &GetCommitmentsRequest,
    ) -> Result<GetCommitmentsResponse, Status> {
        self.only_coordinator(who, "receive commitments")?;
        self.check_context(&request.coordinator_context)?;
        if request.domains.len() > MAX_DOMAINS {
            return Err(status::invalid_argument(
                "domains",
                "domains.too_many",
                format!(
                    "{} domains; ask for at most {MAX_DOMAINS} at a time",
                    request.domains.len()
                ),
            ));
        }
        let reshuffle_commitments = request
            .domains
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if self.policy.current().purpose(&d.purpose).is_none() {
                    return Err(status::invalid_argument(
                        format!("domains[{i}].purpose"),
                        "purpose.unknown",
                        "not a purpose of the transcryptor's policy set",
                    ));
                }
                let kind = kind_from_wire(d.kind).ok_or_else(|| {
                    status::invalid_argument(
                        format!("domains[{i}].kind"),
                        "kind.unknown",
                        "must be a known identifier kind",
                    )
                })?;
                let domain = MatchDomain::new(&d.purpose, kind).map_err(|e| {
                    status::invalid_argument(
                        format!("domains[{i}].purpose"),
                        "purpose.invalid",
                        e.to_string(),
                    )
                })?;
                Ok(self.transcryptor.reshuffle_commitment(&domain).to_vec())
            })
            .collect::<Result<Vec<_>, Status>>()?;
        Ok(GetCommitmentsResponse {
            reshuffle_commitments,
            transcryptor_index: u32::try_from(self.transcryptor.index()).unwrap_or(u32::MAX),
        })
    }

    fn only_coordinator(&self, who: &Caller, what: &str) -> Result<(), Status> {
        if who.role != PartnerRole::Coordinator {
            tracing::warn!(caller = %who.partner_id, "refused: not the coordinator");
            return Err(status::permission_denied(
                "certificate",
                "partner.not_the_coordinator",
                format!(
                    "only the coordinator may {what}; `{}` has role {}",
                    who.partner_id,
                    who.role.as_str()
                ),
            ));
        }
        Ok(())
    }

    fn key_share_for(
        &self,
        who: &Caller,
        request: &GetKeyShareRequest,
    ) -> Result<GetKeyShareResponse, Status> {
        self.only_coordinator(who, "receive a key share")?;
        self.check_context(&request.coordinator_context)?;
        let share = self
            .transcryptor
            .key_share(&mut rand::rng())
            .map_err(|e| Status::internal(e.to_string()))?;
        tracing::info!(caller = %who.partner_id, oin = %who.oin, "handed out key share");
        Ok(GetKeyShareResponse {
            key_share: share.share_bytes().to_vec(),
            transcryptor_index: u32::try_from(self.transcryptor.index()).unwrap_or(u32::MAX),
            key_share_proof: share.proof_bytes(),
        })
    }
}
