//! The partner node: the only role that ever holds a raw identifier, and only while it handles
//! a request.
//!
//! - [`input`]: validation, normalisation and policy, before anything is stored or sent.
//! - [`Node`]: the outbox (signals with their ciphertexts under the system key, never the
//!   identifiers), the mapping from signal ids to the partner's case references, keyed lookups
//!   (HMAC with a node-local secret) for withdrawal by identifier, and received hits.
//! - [`outbox`]: the outbox worker (conversion by every transcryptor in order, delivery to the
//!   coordinator, retries with backoff); [`watcher`]: the notification watcher.
//! - [`consult`]: case consultations on a hit, forwarded to the coordinator and received.
//! - [`PartnerGrpc`]: the partner API.
#![forbid(unsafe_code)]

mod consult;
mod expiry;
pub mod figures;
mod grpc;
pub mod input;
pub mod outbox;
mod quota;
pub mod role;
pub mod schema;
mod state;
mod submit;
pub mod watcher;
mod withdraw;

pub use expiry::Expired;
pub use grpc::PartnerGrpc;
pub use outbox::{run_outbox, Upstream};
pub use schema::open_store;
pub use state::{pending_signals, SignalState};
pub use submit::{Submission, SubmitError, MAX_BATCH};
pub use watcher::run_watcher;

use prost::Message;
use rand::RngExt;
use ring::hmac;
use signaalnet_audit::{Actor, Audit, Event, Step};
use signaalnet_identifier::Identifier;
use signaalnet_policy::{LivePolicy, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_pseudonym::PartnerEncryptor;
use signaalnet_service::query::{self, QueryError, QueryKey};
use signaalnet_store::Store;
use sqlx::Row;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] signaalnet_store::StoreError),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("node secret {path}: {problem}")]
    Secret { path: String, problem: String },
    #[error("`{0}` is not a partner that submits signals in this policy set")]
    NotAPartnerNode(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Audit(#[from] signaalnet_audit::AuditError),
}

impl From<NodeError> for Status {
    fn from(e: NodeError) -> Self {
        tracing::error!(error = %e, "node storage failed");
        Status::unavailable(
            "the node could not complete the request; retry with the same idempotency key",
        )
    }
}

/// Hits in a `ListHits` page when the request does not say.
pub const DEFAULT_PAGE: usize = 100;
/// The most hits in one `ListHits` page; a larger page size is lowered to this.
pub const MAX_PAGE: usize = 1000;

/// A checked `ListHits` request ([`Node::list_hits`]).
pub struct HitsPage {
    /// Only hits of this purpose; all of this node's when `None`.
    pub purpose: Option<String>,
    pub size: usize,
    /// The page starts after this hit id.
    pub after: Option<String>,
    /// What the page's next token is bound to.
    pub key: QueryKey,
}

fn version_of(policy: &PolicySet) -> pb::PolicyVersion {
    pb::PolicyVersion {
        version: policy.version().to_owned(),
    }
}

pub struct Node {
    pub(crate) store: Store,
    pub(crate) policy: LivePolicy,
    pub(crate) audit: Audit,
    pub(crate) partner_id: String,
    encryptor: Arc<PartnerEncryptor>,
    secret: hmac::Key,
    /// Wakes the outbox worker.
    pub(crate) outbox: Notify,
    /// The last local hit cursor, for partner watchers.
    pub(crate) hits: watch::Sender<i64>,
    /// Probing quotas of this partner per purpose (crate::quota).
    pub(crate) quotas: signaalnet_service::quota::Quotas,
    /// How long what is left of an ended signal or hit is kept (crate::expiry).
    pub(crate) ended_kept: signaalnet_policy::IsoDuration,
    /// The coordinator, for the calls the partner API forwards at once (crate::consult).
    pub(crate) coordinator: Option<tonic::transport::Channel>,
    /// The figures of the metrics endpoint.
    pub(crate) metrics: Arc<signaalnet_telemetry::metrics::Metrics>,
}

/// Reads the node's 32-byte secret, creating it (mode 0600) on first start.
pub fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, NodeError> {
    let err = |problem: String| NodeError::Secret {
        path: path.display().to_string(),
        problem,
    };
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        Ok(bytes) => Err(err(format!("holds {} bytes; expected 32", bytes.len()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; 32];
            rand::rng().fill(&mut secret[..]);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
            }
            signaalnet_tls::dev::write(path, &secret, true).map_err(|e| err(e.to_string()))?;
            Ok(secret)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

impl Node {
    pub async fn open(
        store: Store,
        policy: LivePolicy,
        partner_id: &str,
        encryptor: PartnerEncryptor,
        secret: &[u8],
        audit: Audit,
    ) -> Result<Self, NodeError> {
        let set = policy.current();
        let partner = set
            .partner(partner_id)
            .filter(|p| signaalnet_service::convert::submits_signals(p.role))
            .ok_or_else(|| NodeError::NotAPartnerNode(partner_id.to_owned()))?;
        let last: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM node_hits")
            .fetch_one(store.pool())
            .await?
            .get("n");
        let (hits, _) = watch::channel(last);
        let quotas = signaalnet_service::quota::Quotas::load(&store, audit.clock().now()).await?;
        let node = Self {
            store,
            partner_id: partner.id.clone(),
            policy,
            audit,
            encryptor: Arc::new(encryptor),
            secret: hmac::Key::new(hmac::HMAC_SHA256, secret),
            outbox: Notify::new(),
            hits,
            quotas,
            ended_kept: signaalnet_service::retention::ENDED_KEPT,
            coordinator: None,
            metrics: signaalnet_telemetry::metrics::Metrics::new("node"),
        };
        node.audit.record_policy_at_start(&node.store, &set).await?;
        Ok(node)
    }

    /// Keeps what is left of an ended signal or hit (its row, the notice that the hit ended, a
    /// withdrawal request) for `kept` instead of [`signaalnet_service::retention::ENDED_KEPT`].
    pub fn with_ended_kept(mut self, kept: signaalnet_policy::IsoDuration) -> Self {
        self.ended_kept = kept;
        self
    }

    /// Forwards consultation requests and answers to the coordinator on `channel`; without
    /// it they are UNAVAILABLE.
    pub fn with_coordinator(mut self, channel: tonic::transport::Channel) -> Self {
        self.coordinator = Some(channel);
        self
    }

    /// Counts into `metrics` instead of figures of its own.
    pub fn with_metrics(mut self, metrics: Arc<signaalnet_telemetry::metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The figures of the metrics endpoint.
    pub fn metrics(&self) -> &Arc<signaalnet_telemetry::metrics::Metrics> {
        &self.metrics
    }

    /// The policy set in force now.
    pub fn policy(&self) -> Arc<PolicySet> {
        self.policy.current()
    }

    pub fn live_policy(&self) -> &LivePolicy {
        &self.policy
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// After deleting what the node kept of a signal: no copy left in the database's files
    /// ([`Store::scrub`]). A failure is logged; the next scrub catches up.
    pub(crate) async fn scrub(&self) {
        if let Err(e) = self.store.scrub().await {
            tracing::warn!(error = %e, "scrubbing the database after a deletion failed; will retry");
        }
    }

    pub(crate) fn signal_ref(&self, signal_id: &str) -> String {
        format!("signal:{}/{signal_id}", self.partner_id)
    }

    async fn audit_refusal(
        &self,
        actor: Actor,
        policy: &PolicySet,
        purpose: &str,
        refused: &input::Refused,
    ) {
        let rules: BTreeSet<&str> = refused.violations.iter().map(|v| v.rule.as_str()).collect();
        let event = Event::for_purpose(Step::Refuse, policy, purpose)
            .by(actor)
            .detail(format!(
                "signal refused ({:?}): {} violation(s); rules: {}",
                refused.code,
                refused.violations.len(),
                rules.into_iter().collect::<Vec<_>>().join(", ")
            ));
        self.audit.try_record(&self.store, event).await;
    }

    pub fn partner_id(&self) -> &str {
        &self.partner_id
    }

    /// An idempotency key as the node stores it: keyed (HMAC with the node's secret), so that a
    /// key a partner system built from a case number or a name is never kept as it was sent,
    /// and a key can still be found again.
    pub(crate) fn key_at_rest(&self, key: &str) -> String {
        hex::encode(self.mac(b"idempotency", key.as_bytes()))
    }

    fn mac(&self, label: &[u8], data: &[u8]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.secret);
        ctx.update(label);
        ctx.update(&[0]);
        ctx.update(data);
        ctx.sign().as_ref().to_vec()
    }

    /// Keyed lookups of an identifier's match keys: equal identifiers give equal lookups on this
    /// node, and nobody without the node's secret can test a guess against them.
    fn lookups(&self, identifier: &Identifier) -> Vec<Vec<u8>> {
        identifier
            .match_keys()
            .iter()
            .map(|k| self.mac(b"lookup", &k.hash_input()))
            .collect()
    }

    pub fn version(&self) -> pb::PolicyVersion {
        version_of(&self.policy())
    }

    pub async fn status(&self, actor: Actor, signal_id: &str) -> Result<pb::SignalStatus, Status> {
        let row = sqlx::query(
            "SELECT signal_id, case_reference, purpose, state, last_error FROM node_signals WHERE signal_id = $1",
        )
        .bind(signal_id)
        .fetch_optional(self.store.pool())
        .await
        .map_err(NodeError::from)?
        .ok_or_else(|| Status::not_found("signal_id: no signal of this node has this id"))?;
        let hit_ids: Vec<String> =
            sqlx::query("SELECT hit_id FROM node_signal_hits WHERE signal_id = $1 ORDER BY hit_id")
                .bind(signal_id)
                .fetch_all(self.store.pool())
                .await
                .map_err(NodeError::from)?
                .iter()
                .map(|r| r.get("hit_id"))
                .collect();
        let stored = SignalState::parse(&row.get::<String, _>("state"))?;
        let state = match stored {
            SignalState::Pending => pb::SignalState::Pending,
            SignalState::Delivered if hit_ids.is_empty() => pb::SignalState::Unmatched,
            SignalState::Delivered => pb::SignalState::InHit,
            SignalState::Refused => pb::SignalState::Refused,
            SignalState::Expired => pb::SignalState::Expired,
            SignalState::WithdrawPending | SignalState::Withdrawn => pb::SignalState::Withdrawn,
        };
        let purpose: String = row.get("purpose");
        let policy = self.policy();
        let event = Event::for_purpose(Step::Query, &policy, &purpose)
            .by(actor)
            .reference(self.signal_ref(signal_id))
            .detail("status of one own signal");
        self.audit
            .record(&self.store, event)
            .await
            .map_err(NodeError::from)?;
        Ok(pb::SignalStatus {
            signal_id: row.get("signal_id"),
            case_reference: row.get("case_reference"),
            purpose,
            state: state as i32,
            hit_ids,
            detail: row
                .get::<Option<String>, _>("last_error")
                .unwrap_or_default(),
        })
    }

    /// Hit notifications after `after`, oldest first.
    pub async fn hits_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<pb::HitNotification>, NodeError> {
        let rows =
            sqlx::query("SELECT seq, payload FROM node_hits WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(self.store.pool())
                .await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.get("seq");
                let payload: Vec<u8> = row.get("payload");
                let mut n = pb::HitNotification::decode(payload.as_slice())
                    .map_err(|e| NodeError::Corrupt(format!("hit notification {seq}: {e}")))?;
                n.cursor = seq.to_string();
                Ok(n)
            })
            .collect()
    }

    /// What a `ListHits` request asks for, checked by the rules of every query
    /// (`signaalnet_service::query`): a purpose this partner shares for, or none for all; a page
    /// size (default [`DEFAULT_PAGE`], at most [`MAX_PAGE`]); a page token issued for the same
    /// purpose.
    pub fn list_hits(&self, request: &pb::ListHitsRequest) -> Result<HitsPage, QueryError> {
        let purpose = query::purpose(&request.purpose, "purpose", true)?;
        if let Some(purpose) = purpose {
            // Only a purpose this partner shares for: one it does not, and one that does not
            // exist, get the same answer.
            let policy = self.policy();
            let own = policy
                .partner(&self.partner_id)
                .is_some_and(|p| p.shares.contains_key(purpose));
            if !own {
                return Err(QueryError::purpose_not_permitted("purpose"));
            }
        }
        let size = query::page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE)?;
        let key = QueryKey::new("signaalnet.v1.PartnerService/ListHits")
            .with(purpose.unwrap_or_default());
        let after = query::read_page_token(&request.page_token, &key, query::is_hit_id)?;
        Ok(HitsPage {
            purpose: purpose.map(str::to_owned),
            size,
            after,
            key,
        })
    }

    /// The current state of every hit this node's signals are in (the latest notification of
    /// each hit that is not dissolved), by hit id; only those of `purpose` if given.
    pub async fn current_hits(
        &self,
        purpose: Option<&str>,
    ) -> Result<Vec<pb::HitNotification>, NodeError> {
        let mut latest = std::collections::BTreeMap::new();
        let mut after = 0;
        loop {
            let page = self.hits_after(after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.cursor.parse().unwrap_or(i64::MAX);
            // A consultation notice is not a state of the hit.
            for n in page.into_iter().filter(|n| n.consultation.is_none()) {
                latest.insert(n.hit_id.clone(), n);
            }
        }
        Ok(latest
            .into_values()
            .filter(|n| {
                n.change != pb::HitChange::Dissolved as i32
                    && n.change != pb::HitChange::Expired as i32
            })
            // A hit this partner withdrew its last signal from is no longer one of its hits.
            .filter(|n| n.own_signals.is_empty() || n.own_signals.iter().any(|o| !o.withdrawn))
            .filter(|n| purpose.is_none_or(|p| n.purpose == p))
            .collect())
    }

    pub fn subscribe_hits(&self) -> watch::Receiver<i64> {
        self.hits.subscribe()
    }
}

/// Serves the partner API within `limits` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: &signaalnet_tls::TlsFiles,
    limits: &signaalnet_service::limits::Limits,
    node: Arc<Node>,
    role: signaalnet_service::policy::RoleGrpc,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), signaalnet_service::ServeError> {
    use signaalnet_proto::v1::partner_service_server::PartnerServiceServer;
    use tonic::server::NamedService;
    let metrics = Some(Arc::clone(&node.metrics));
    signaalnet_service::serve_measured(
        listener,
        tls,
        limits,
        tonic::service::Routes::new(PartnerServiceServer::new(PartnerGrpc::new(node))),
        &[PartnerServiceServer::<PartnerGrpc>::NAME],
        role,
        metrics,
        shutdown,
    )
    .await
}

#[tonic::async_trait]
impl signaalnet_service::policy::PolicyTarget for Node {
    fn store(&self) -> &Store {
        &self.store
    }

    fn audit(&self) -> &Audit {
        &self.audit
    }

    async fn expire(&self) {
        if let Err(e) = Node::expire(self).await {
            tracing::error!(error = %e, "retention run failed; will retry");
        }
    }
}
