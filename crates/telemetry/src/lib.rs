//! Processing logs in the shape of the Dutch *Logboek Dataverwerkingen* (LDV), built on `tracing`
//! and OpenTelemetry.
//!
//! Every processing step of every role (submit, forward, transcrypt, match, notify, queries,
//! withdrawal, expiry) runs inside a [`step`] span with target [`TARGET`]. When a role is
//! configured with an OTLP endpoint ([`export::OtlpConfig`]) those spans, and only those, are
//! exported: never sampled, whatever the log level. The LDV's fields map onto OpenTelemetry as
//! the standard intends: `trace_id`, `span_id`, `parent_span_id`, `name` (the step), `status`,
//! `start_time`, `end_time`, `resource` (service name and version, the role, its OIN) and the
//! attributes `dpl.core.processing_activity_id` (the purpose's processing activity in the policy
//! set), `dpl.core.data_subject_id(_type)` (only on the node, as its keyed lookups: never an
//! identifier), and `dpl.core.foreign_operation.span_id` / `.processor` when another
//! organisation's role called.
//!
//! Trace context crosses the roles as W3C `traceparent`: in gRPC metadata for every call
//! ([`inject`], [`adopt`]), and per signal or notification where one call or stream carries work of
//! several submissions ([`traceparent`], [`follow`]): so one submission is one trace across node,
//! transcryptors, coordinator and the notifications back to every partner involved.
#![forbid(unsafe_code)]

pub mod export;
pub mod metrics;
pub mod safe;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::collections::HashMap;
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `tracing` target of processing-step spans; the OTLP exporter takes only these.
pub const TARGET: &str = "dpl";

/// The W3C trace-context header (and gRPC metadata key).
pub const TRACEPARENT: &str = "traceparent";

/// Who did a processing step, in OpenTelemetry's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Answered a call from another role or a partner system.
    Server,
    /// Called another role.
    Client,
    /// Took a message from a stream another role sent (a notification).
    Consumer,
    /// Wrote a message another role will take (a notification).
    Producer,
    /// Work of its own (expiry, policy reload).
    Internal,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Server => "server",
            Kind::Client => "client",
            Kind::Consumer => "consumer",
            Kind::Producer => "producer",
            Kind::Internal => "internal",
        }
    }
}

/// A span for one processing step (`name` is the step as the audit trail names it: `submit`,
/// `forward`, `transcrypt`, `match`, `notify`, `query`, `analyst_query`, `monitor_query`,
/// `withdraw`, `expire`, and the coordinator's `alarm` on a partner's pattern). Its LDV attributes are filled in as the step learns them: by the
/// audit trail when it records the step ([`describe`]), by [`adopt`] from the caller.
pub fn step(name: &'static str, kind: Kind) -> Span {
    tracing::info_span!(
        target: "dpl",
        "processing",
        otel.name = name,
        otel.kind = kind.as_str(),
        otel.status_code = Empty,
        otel.status_description = Empty,
        dpl.core.processing_activity_id = Empty,
        dpl.core.data_subject_id = Empty,
        dpl.core.data_subject_id_type = Empty,
        dpl.core.foreign_operation.span_id = Empty,
        dpl.core.foreign_operation.processor = Empty,
        signaalnet.purpose = Empty,
        signaalnet.policy_version = Empty,
        signaalnet.caller.oin = Empty,
        signaalnet.outcome = Empty,
        signaalnet.count = Empty,
        exception.message = Empty,
    )
}

/// What the audit trail knows of a step, recorded on its span so that the processing log and the
/// trail say the same.
#[derive(Debug, Clone, Copy, Default)]
pub struct Described<'a> {
    /// The processing activity of the purpose (`processing_activity` in the policy set).
    pub processing_activity: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub policy_version: Option<&'a str>,
}

/// Records the step's processing activity, purpose and policy version on `span` (a no-op on
/// any span that is not a [`step`]).
pub fn describe(span: &Span, described: Described<'_>) {
    if let Some(activity) = described.processing_activity {
        span.record(
            "dpl.core.processing_activity_id",
            bounded(activity).as_str(),
        );
    }
    if let Some(purpose) = described.purpose {
        span.record("signaalnet.purpose", bounded(purpose).as_str());
    }
    if let Some(version) = described.policy_version {
        span.record("signaalnet.policy_version", bounded(version).as_str());
    }
}

/// How a step ended when it did not simply succeed: `refused` (the input or the policy said
/// no: the LDV status stays `Unset`, the standard's answer for handled bad input), `duplicate`,
/// `withdrawn` …
pub fn outcome(span: &Span, outcome: &str) {
    span.record("signaalnet.outcome", bounded(outcome).as_str());
}

/// How many items (signals, ciphertexts, hits) the step handled.
pub fn count(span: &Span, count: usize) {
    span.record("signaalnet.count", count as u64);
}

/// The step failed inside the role (database, an unreachable peer): LDV status `Error` with
/// `exception.message`, escaped and bounded ([`safe::MESSAGE_MAX`]). Callers pass messages
/// that carry no identifier (this crate's users never have one outside the node's input
/// validation, whose texts name fields, not values).
pub fn failed(span: &Span, error: &dyn std::fmt::Display) {
    span.record("otel.status_code", "error");
    span.record(
        "exception.message",
        safe::bounded_display(error, safe::MESSAGE_MAX).as_str(),
    );
}

/// Marks `span` with how a gRPC step ended: a refusal of the caller's input or rights is
/// `refused` (status `Unset`); a failure inside the system (`INTERNAL`, `UNAVAILABLE`,
/// `UNKNOWN`, `DATA_LOSS`) is `Error` with the status message.
pub fn settle<T>(span: &Span, result: &Result<T, tonic::Status>) {
    if let Err(status) = result {
        settle_code(span, status.code(), status.message());
    }
}

/// [`settle`] for a step that answers with a code and a message rather than a `Status`.
pub fn settle_code(span: &Span, code: tonic::Code, message: &str) {
    match code {
        tonic::Code::Ok => {}
        tonic::Code::Internal
        | tonic::Code::Unavailable
        | tonic::Code::Unknown
        | tonic::Code::DataLoss => failed(span, &message),
        _ => outcome(span, "refused"),
    }
}

/// The node's keyed lookups of the identifiers a step was about (`kind:hex`, never the
/// identifier itself) as `dpl.core.data_subject_id`.
pub fn data_subjects(span: &Span, lookups: &[String]) {
    if lookups.is_empty() {
        return;
    }
    span.record("dpl.core.data_subject_id", lookups.join(",").as_str());
    span.record(
        "dpl.core.data_subject_id_type",
        "signaalnet node lookup (HMAC-SHA256 with the node's secret, per identifier kind)",
    );
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            value.parse(),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct MetadataExtractor<'a>(&'a tonic::metadata::MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => Some(k.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// Puts `span`'s trace context into an outgoing call's metadata (nothing when processing logs
/// are not exported).
pub fn inject(span: &Span, metadata: &mut tonic::metadata::MetadataMap) {
    let context = span.context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut MetadataInjector(metadata));
    }
}

/// An outgoing request carrying `span`'s trace context.
pub fn request<T>(span: &Span, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    inject(span, request.metadata_mut());
    request
}

/// The span of a step another role or a partner system asked for over gRPC: a [`step`] of
/// kind server that continues the caller's trace ([`adopt`]).
pub fn called(
    name: &'static str,
    metadata: &tonic::metadata::MetadataMap,
    caller_oin: &str,
    own_oin: &str,
) -> Span {
    let span = step(name, Kind::Server);
    adopt(&span, metadata, Some(caller_oin), own_oin);
    span
}

/// Runs one step in `span` and records how it ended ([`settle`]).
pub async fn logged<T>(
    span: Span,
    step: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    use tracing::Instrument;
    let result = step.instrument(span.clone()).await;
    settle(&span, &result);
    result
}

/// Makes `span` continue the caller's trace from an incoming call's metadata, and records the
/// caller: its span as `dpl.core.foreign_operation.span_id` and its organisation (OIN) as
/// `dpl.core.foreign_operation.processor` when it is another organisation.
pub fn adopt(
    span: &Span,
    metadata: &tonic::metadata::MetadataMap,
    caller_oin: Option<&str>,
    own_oin: &str,
) {
    adopt_item(span, metadata, None, caller_oin, own_oin);
}

/// [`adopt`] for one item of a stream that carries its own `traceparent` (a signal in a
/// delivery): the item's trace is the parent, the call's span is the foreign operation.
pub fn adopt_item(
    span: &Span,
    metadata: &tonic::metadata::MetadataMap,
    item_traceparent: Option<&str>,
    caller_oin: Option<&str>,
    own_oin: &str,
) {
    let call = TraceContextPropagator::new().extract(&MetadataExtractor(metadata));
    if let Some(oin) = caller_oin {
        span.record("signaalnet.caller.oin", bounded(oin).as_str());
    }
    let remote = call.span().span_context().clone();
    if remote.is_valid() && caller_oin.is_some_and(|oin| oin != own_oin) {
        span.record(
            "dpl.core.foreign_operation.span_id",
            remote.span_id().to_string().as_str(),
        );
        if let Some(oin) = caller_oin {
            span.record(
                "dpl.core.foreign_operation.processor",
                bounded(&format!("urn:oin:{oin}")).as_str(),
            );
        }
    }
    let item = item_traceparent
        .filter(|v| !v.is_empty())
        .map(parse)
        .filter(|cx| cx.span().span_context().is_valid());
    match item {
        Some(parent) => {
            let _ = span.set_parent(parent);
        }
        None if remote.is_valid() => {
            let _ = span.set_parent(call);
        }
        None => {}
    }
}

/// `span`'s trace context as a W3C `traceparent` value, to be stored with a signal or
/// notification and carried to the next role; `None` when processing logs are not exported.
pub fn traceparent(span: &Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// A value from outside (or one that names something from outside) as a span attribute:
/// escaped and bounded like a field of the log ([`safe::VALUE_MAX`]).
fn bounded(value: &str) -> String {
    safe::bounded(value, safe::VALUE_MAX)
}

fn parse(traceparent: &str) -> opentelemetry::Context {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// Makes `span` a child of a stored `traceparent` (ignored when absent or malformed: a step
/// is logged in a trace of its own rather than not at all).
pub fn follow(span: &Span, traceparent: Option<&str>) {
    let Some(value) = traceparent.filter(|v| !v.is_empty()) else {
        return;
    };
    let parent = parse(value);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Links `span` to another trace (a batch span to the submissions it carried besides the one it
/// is part of).
pub fn link(span: &Span, traceparent: Option<&str>) {
    let Some(value) = traceparent.filter(|v| !v.is_empty()) else {
        return;
    };
    let other = parse(value).span().span_context().clone();
    if other.is_valid() {
        span.add_link(other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_or_absent_trace_context_is_ignored() {
        let span = step("submit", Kind::Server);
        follow(&span, Some("not a traceparent"));
        follow(&span, None);
        link(&span, Some("00-zz-zz-01"));
        // Without an OpenTelemetry layer there is no trace context to pass on.
        assert_eq!(traceparent(&span), None);
        let mut metadata = tonic::metadata::MetadataMap::new();
        inject(&span, &mut metadata);
        assert!(metadata.get(TRACEPARENT).is_none());
    }
}
