//! Installing the log subscriber and, when configured, the OTLP export of processing logs.
//!
//! The export sends every processing-step span (target [`crate::TARGET`]), never sampled and
//! independent of the log level, in batches over OTLP/gRPC. OpenTelemetry's batch processor
//! exports from a thread of its own, where the tonic client finds no Tokio reactor; so the
//! OTLP exporter lives in a task on the role's runtime and the processor hands it each batch.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
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
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let (done, result) = oneshot::channel();
        self.jobs
            .send((batch, done))
            .await
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        result.await.map_err(|_| OTelSdkError::AlreadyShutdown)?
    }
}
