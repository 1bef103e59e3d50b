//! The figures an operator watches, per role, as a Prometheus (OpenMetrics text) endpoint.
//!
//! Why Prometheus text over plain HTTP, and why `prometheus-client`: it is what an operator's
//! monitoring scrapes without a collector in between, and the official Prometheus client for
//! Rust holds no global registry (the demo runs seven roles in one process, each with its own
//! [`Metrics`]), needs no protobuf and no TLS of its own. (`opentelemetry-prometheus` is no longer
//! maintained; OTLP metrics would need a collector where the Logboek collector takes processing
//! logs only.)
//!
//! The endpoint ([`MetricsConfig::listen`]) is plain HTTP on a port of its own, apart from the
//! role's mTLS port: bind it to loopback (or the pod's address for the cluster's Prometheus, with
//! a NetworkPolicy). It serves `GET /metrics` and nothing else.
//!
//! No label holds personal data: labels are partner ids, purpose ids and rule ids of the policy
//! set, gRPC method names of the role's own services, outbox states and fixed words. Never a case
//! reference, an identifier, a signal or hit id.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// `[metrics]` in a role's configuration. Without `listen` no endpoint is served (the figures
/// are still kept).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where to serve `GET /metrics` (plain HTTP), e.g. `127.0.0.1:9464`.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
}

/// A gRPC call of one of the role's own methods.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// `/signaalnet.v1.PartnerService/SubmitSignal`, or `other` for a path the role does not
    /// serve.
    pub method: String,
    /// The gRPC status code the response began with (`OK` for a call that answered; a stream
    /// that fails later still counts as `OK` here).
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PurposeLabels {
    pub purpose: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartnerPurposeLabels {
    pub partner: String,
    pub purpose: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds from 1 ms to ~33 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Seconds from 10 ms to ~2.3 h.
fn lag() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.5, 15))
}

/// Every figure of one role. The families of the other roles are kept but not registered, so
/// the endpoint lists only what the role measures.
pub struct Metrics {
    registry: Registry,
    /// Every role: latency of each call until its response began.
    pub rpc: HistogramFamily<RpcLabels>,
    /// Every role: refusals, by the rule that refused (a refusal breaking several rules counts
    /// under each).
    pub refusals: Family<RuleLabels, Counter>,
    /// Every role: identifiers counted against each partner's daily quota in the last day, and
    /// the quota.
    pub quota_used: Family<PartnerPurposeLabels, Gauge>,
    pub quota_limit: Family<PartnerPurposeLabels, Gauge>,
    /// Node: signals accepted into the outbox.
    pub accepted: Family<PurposeLabels, Counter>,
    /// Node: signals in the outbox by state (`pending`, `withdraw_pending`).
    pub outbox: Family<StateLabels, Gauge>,
    /// Node: age of the oldest signal in each outbox state (0 when empty).
    pub outbox_oldest: Family<StateLabels, Gauge<f64, AtomicU64>>,
    /// Node: answers of the coordinator to delivered signals (`delivered`, `refused`, `retry`).
    pub delivered: Family<OutcomeLabels, Counter>,
    /// Node: from acceptance to the coordinator's acknowledgement.
    pub delivery_lag: Histogram,
    /// Node: delivery rounds that failed as a whole (a transcryptor or the coordinator away).
    pub delivery_failures: Counter,
    /// Transcryptor: identifiers converted, per calling partner and purpose.
    pub conversions: Family<PartnerPurposeLabels, Counter>,
    /// Coordinator: delivered signals taken (stored and matched), per purpose.
    pub received: Family<PurposeLabels, Counter>,
    /// Coordinator: hits formed, per purpose.
    pub hits_formed: Family<PurposeLabels, Counter>,
    /// Coordinator: hits held now, per purpose.
    pub hits: Family<PurposeLabels, Gauge>,
    /// Coordinator: 1 while this process holds the database's writer fence, 0 while it waits.
    pub active: Gauge,
    /// Coordinator: the fence's epoch this process writes under (0: none yet).
    pub epoch: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The figures of `role` (`node`, `transcryptor`, `coordinator`), all at zero.
    pub fn new(role: &str) -> Arc<Self> {
        let mut registry = Registry::with_prefix("signaalnet");
        let m = Self {
            registry: Registry::default(),
            rpc: Family::new_with_constructor(latency),
            refusals: Family::default(),
            quota_used: Family::default(),
            quota_limit: Family::default(),
            accepted: Family::default(),
            outbox: Family::default(),
            outbox_oldest: Family::default(),
            delivered: Family::default(),
            delivery_lag: lag(),
            delivery_failures: Counter::default(),
            conversions: Family::default(),
            received: Family::default(),
            hits_formed: Family::default(),
            hits: Family::default(),
            active: Gauge::default(),
            epoch: Gauge::default(),
        };
        let r = &mut registry;
        r.register_with_unit(
            "rpc_duration",
            "Time from a gRPC call's arrival until its response began, per method and status",
            Unit::Seconds,
            m.rpc.clone(),
        );
        r.register(
            "refusals",
            "Refusals, by the rule that refused",
            m.refusals.clone(),
        );
        r.register(
            "quota_used_identifiers",
            "Identifiers counted against a partner's daily quota for a purpose over the last day",
            m.quota_used.clone(),
        );
        r.register(
            "quota_limit_identifiers",
            "A partner's daily quota of identifiers for a purpose",
            m.quota_limit.clone(),
        );
        match role {
            "node" => {
                r.register(
                    "node_accepted_signals",
                    "Signals accepted into the outbox",
                    m.accepted.clone(),
                );
                r.register(
                    "node_outbox_signals",
                    "Signals in the outbox, by state (pending, withdraw_pending)",
                    m.outbox.clone(),
                );
                r.register_with_unit(
                    "node_outbox_oldest_age",
                    "Age of the oldest signal in each outbox state (0 when there is none)",
                    Unit::Seconds,
                    m.outbox_oldest.clone(),
                );
                r.register(
                    "node_delivery_answers",
                    "The coordinator's answers to delivered signals (delivered, refused, retry)",
                    m.delivered.clone(),
                );
                r.register_with_unit(
                    "node_delivery_lag",
                    "Time from a signal's acceptance to the coordinator's acknowledgement",
                    Unit::Seconds,
                    m.delivery_lag.clone(),
                );
                r.register(
                    "node_delivery_failures",
                    "Delivery rounds that failed as a whole and will be retried",
                    m.delivery_failures.clone(),
                );
            }
            "transcryptor" => {
                r.register(
                    "transcryptor_conversions",
                    "Identifiers converted, per calling partner and purpose",
                    m.conversions.clone(),
                );
            }
            "coordinator" => {
                r.register(
                    "coordinator_received_signals",
                    "Delivered signals stored and matched, per purpose",
                    m.received.clone(),
                );
                r.register(
                    "coordinator_hits_formed",
                    "Hits formed, per purpose",
                    m.hits_formed.clone(),
                );
                r.register(
                    "coordinator_hits",
                    "Hits held now, per purpose",
                    m.hits.clone(),
                );
                r.register(
                    "coordinator_active",
                    "1 while this coordinator holds the writer fence of its database, 0 while it waits",
                    m.active.clone(),
                );
                r.register(
                    "coordinator_fence_epoch",
                    "The epoch of the writer fence this coordinator writes under",
                    m.epoch.clone(),
                );
            }
            _ => {}
        }
        Arc::new(Self { registry, ..m })
    }

    /// One refusal under `rule`.
    pub fn refused(&self, rule: &str) {
        self.refusals
            .get_or_create(&RuleLabels {
                rule: rule.to_owned(),
            })
            .inc();
    }

    /// The registered figures in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// What a role reads at each scrape (outbox depth, quota use, hits held): figures that are a
/// state of the store or of memory rather than a count of events.
#[tonic::async_trait]
pub trait Collect: Send + Sync {
    async fn collect(&self, metrics: &Metrics);
}

/// How long a scrape waits for [`Collect`]; then it answers with the figures as they were.
pub const COLLECT_TIMEOUT: Duration = Duration::from_secs(5);

pub mod http;
