//! Installing the log subscriber and, when configured, the OTLP export of processing logs.
//!
//! The export sends every processing-step span (target [`crate::TARGET`]), never sampled and
//! independent of the log level, in batches over OTLP/gRPC. OpenTelemetry's batch processor
//! exports from a thread of its own, where the tonic client finds no Tokio reactor; so the
//! OTLP exporter lives in a task on the role's runtime and the processor hands it each batch.

use crate::safe::{bounded, OneLine, SafeFields, ATTRIBUTE_MAX};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};
use opentelemetry_sdk::Resource;
use serde::Deserialize;
use signaalnet_tls::TlsFiles;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tonic::transport::Endpoint;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// `[telemetry]` in a role's configuration. Without `otlp_endpoint` nothing is exported and
/// nothing else needs to run.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// An OTLP/gRPC collector (the organisation's Logboek), e.g. `https://logboek:4317`. With
    /// `https` the role presents its own certificate and checks the collector's against
    /// `otlp_ca` (default: the role's CA).
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    #[serde(default)]
    pub otlp_ca: Option<PathBuf>,
    /// Milliseconds between exports of the collected spans.
    #[serde(default = "default_delay_ms")]
    pub otlp_batch_delay_ms: u64,
    /// Spans held while the collector is slow or away; beyond this the oldest are dropped and
    /// counted in the role's log (the audit trail still has every step).
    #[serde(default = "default_queue")]
    pub otlp_queue: usize,
}

fn default_delay_ms() -> u64 {
    1_000
}

fn default_queue() -> usize {
    65_536
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("telemetry: otlp_endpoint {0:?} is not a URL")]
    Endpoint(String),
    #[error("telemetry: TLS for the OTLP collector: {0}")]
    Tls(#[from] signaalnet_tls::TlsError),
    #[error("telemetry: the OTLP channel: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("telemetry: building the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("telemetry: a log subscriber is already installed")]
    Installed,
}

/// Who the exported spans come from (the LDV `resource`).
#[derive(Debug, Clone)]
pub struct Source {
    /// e.g. `signaalnet-node-gemeente`.
    pub service_name: String,
    /// `node`, `transcryptor`, `coordinator`.
    pub role: &'static str,
    pub oin: String,
}

/// Keeps the export running; [`Telemetry::shutdown`] sends what is still queued.
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the export. Call it while the runtime the role ran on still exists
    /// but from outside it (after `block_on` returned): the exporting task runs on it.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(e) = provider.shutdown() {
                eprintln!("telemetry: flushing the processing logs at shutdown failed: {e}");
            }
        }
    }
}

/// The default log filter: `RUST_LOG` when set, else `default_level`; processing-step spans do
/// not clutter the human-readable log.
fn log_filter(default_level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},{}=off", crate::TARGET)))
}

fn log_layer<S>(default_level: &str) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    // Whatever a log statement puts in a field or message, a value is escaped and bounded and
    // a line is one line: no caller's text forges or hides a line ([`crate::safe`]).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt::layer()
        .fmt_fields(SafeFields)
        .with_writer(OneLine::new(std::io::stderr, ansi))
        .with_ansi(ansi)
        .with_filter(log_filter(default_level))
}

/// Installs the human-readable log only (commands that are not a role).
pub fn install_log(default_level: &str) -> Result<(), TelemetryError> {
    tracing_subscriber::registry()
        .with(log_layer(default_level))
        .try_init()
        .map_err(|_| TelemetryError::Installed)
}

/// Installs the log and, when `config.otlp_endpoint` is set, the export of processing logs.
/// Must run inside the role's Tokio runtime.
pub fn install(
    default_level: &str,
    config: &TelemetryConfig,
    tls: &TlsFiles,
    source: &Source,
) -> Result<Telemetry, TelemetryError> {
    let Some(endpoint) = &config.otlp_endpoint else {
        install_log(default_level)?;
        return Ok(Telemetry::default());
    };
    let resource = Resource::builder()
        .with_service_name(source.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("signaalnet.role", source.role),
            KeyValue::new("signaalnet.oin", source.oin.clone()),
        ])
        .build();
    let exporter = OnRuntime::start(channel(endpoint, config, tls)?, &resource)?;
    let batches = BatchConfigBuilder::default()
        .with_scheduled_delay(Duration::from_millis(config.otlp_batch_delay_ms.max(10)))
        .with_max_queue_size(config.otlp_queue.max(512))
        .with_max_export_batch_size(512)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(exporter)
                .with_batch_config(batches)
                .build(),
        )
        // A processing log is complete or it is not a processing log.
        .with_sampler(Sampler::AlwaysOn)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("signaalnet");
    let processing = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target(crate::TARGET, LevelFilter::TRACE));
    tracing_subscriber::registry()
        .with(log_layer(default_level))
        .with(processing)
        .try_init()
        .map_err(|_| TelemetryError::Installed)?;
    tracing::info!(endpoint = %endpoint, "processing logs exported over OTLP");
    Ok(Telemetry {
        provider: Some(provider),
    })
}

fn channel(
    endpoint: &str,
    config: &TelemetryConfig,
    tls: &TlsFiles,
) -> Result<tonic::transport::Channel, TelemetryError> {
    let mut target = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|_| TelemetryError::Endpoint(endpoint.to_owned()))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    if endpoint.starts_with("https://") {
        let ca = config.otlp_ca.as_ref().unwrap_or(&tls.ca);
        target = target.tls_config(signaalnet_tls::client_tls_trusting(tls, ca)?)?;
    } else if !endpoint.starts_with("http://") {
        return Err(TelemetryError::Endpoint(endpoint.to_owned()));
    }
    Ok(target.connect_lazy())
}

type Job = (Vec<SpanData>, oneshot::Sender<OTelSdkResult>);

/// The OTLP exporter, running as a task on the role's runtime.
#[derive(Debug)]
struct OnRuntime {
    jobs: mpsc::Sender<Job>,
}

impl OnRuntime {
    fn start(
        channel: tonic::transport::Channel,
        resource: &Resource,
    ) -> Result<Self, TelemetryError> {
        let mut otlp = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_channel(channel)
            .build()?;
        otlp.set_resource(resource);
        let (jobs, mut queue) = mpsc::channel::<Job>(4);
        tokio::spawn(async move {
            while let Some((batch, done)) = queue.recv().await {
                let _ = done.send(otlp.export(batch).await);
            }
        });
        Ok(Self { jobs })
    }
}

impl SpanExporter for OnRuntime {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        batch.iter_mut().for_each(bound_span);
        let (done, result) = oneshot::channel();
        self.jobs
            .send((batch, done))
            .await
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        result.await.map_err(|_| OTelSdkError::AlreadyShutdown)?
    }
}

/// Escapes and bounds every text of a span before it leaves the role ([`crate::safe`]): its
/// attributes, its events' names and attributes, its links' attributes and its status. The
/// steps set their attributes bounded already; this holds whatever else a field carries.
fn bound_span(span: &mut SpanData) {
    bound_attributes(&mut span.attributes);
    for event in &mut span.events.events {
        bound_cow(&mut event.name);
        bound_attributes(&mut event.attributes);
    }
    for link in &mut span.links.links {
        bound_attributes(&mut link.attributes);
    }
    if let opentelemetry::trace::Status::Error { description } = &mut span.status {
        bound_cow(description);
    }
    bound_cow(&mut span.name);
}

fn bound_cow(text: &mut std::borrow::Cow<'static, str>) {
    let safe = bounded(text, ATTRIBUTE_MAX);
    if safe != **text {
        *text = safe.into();
    }
}

fn bound_attributes(attributes: &mut [KeyValue]) {
    for attribute in attributes {
        match &mut attribute.value {
            Value::String(text) => {
                let safe = bounded(text.as_str(), ATTRIBUTE_MAX);
                if safe != text.as_str() {
                    *text = safe.into();
                }
            }
            Value::Array(Array::String(texts)) => {
                for text in texts {
                    let safe = bounded(text.as_str(), ATTRIBUTE_MAX);
                    if safe != text.as_str() {
                        *text = safe.into();
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_attributes_are_escaped_and_bounded() {
        let forged = "x\n2026-01-01T00:00:00Z ERROR forged\u{202e}";
        let mut attributes = vec![
            KeyValue::new("signaalnet.purpose", forged),
            KeyValue::new("exception.message", "y".repeat(1 << 20)),
            KeyValue::new(
                "list",
                Value::Array(Array::String(vec![forged.to_owned().into()])),
            ),
            KeyValue::new("signaalnet.count", 3_i64),
            KeyValue::new("signaalnet.outcome", "refused"),
        ];
        bound_attributes(&mut attributes);
        assert_eq!(
            attributes[0].value.as_str(),
            "x\\n2026-01-01T00:00:00Z ERROR forged\\u{202e}"
        );
        assert_eq!(attributes[1].value.as_str().len(), ATTRIBUTE_MAX);
        assert_eq!(
            attributes[2].value,
            Value::Array(Array::String(vec![
                "x\\n2026-01-01T00:00:00Z ERROR forged\\u{202e}"
                    .to_owned()
                    .into()
            ]))
        );
        assert_eq!(attributes[3].value, Value::I64(3));
        assert_eq!(attributes[4].value.as_str(), "refused");
        let mut status = std::borrow::Cow::Borrowed("failed\r\nforged");
        bound_cow(&mut status);
        assert_eq!(status, "failed\\r\\nforged");
    }
}
