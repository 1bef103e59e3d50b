//! The parts of a role process outside its service: the listening socket, the shutdown signal,
//! the export of its processing logs, and the ceremony record (`system.json`) every role reads.

use crate::{StartError, WithPath};
use signaalnet_pseudonym::SystemPublicKeys;
use signaalnet_telemetry::export::{Source, Telemetry, TelemetryConfig};
use signaalnet_tls::TlsFiles;
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::TcpListener;

/// Reads the ceremony record and checks that it was held for `configured`, the coordinator
/// context this `role` is configured for (a record of another chain would make every
/// conversion fail later, less clearly).
pub fn load_system(
    path: &Path,
    role: &'static str,
    configured: &str,
) -> Result<SystemPublicKeys, StartError> {
    let system: SystemPublicKeys =
        serde_json::from_slice(&std::fs::read(path).with_path(path)?).with_path(path)?;
    if system.context().as_str() != configured {
        return Err(StartError::OtherContext {
            path: path.display().to_string(),
            role,
            held: system.context().as_str().to_owned(),
            configured: configured.to_owned(),
        });
    }
    Ok(system)
}

/// Installs a role process's log and, when its `[telemetry]` names an OTLP endpoint, the export
/// of its processing logs (the exporter runs on `runtime`).
pub fn start_telemetry(
    runtime: &tokio::runtime::Runtime,
    config: &TelemetryConfig,
    tls: &TlsFiles,
    role: &'static str,
    service_name: String,
) -> Result<Telemetry, StartError> {
    let oin = tls.own_oin()?.to_string();
    let source = Source {
        service_name,
        role,
        oin,
    };
    Ok(runtime
        .block_on(async { signaalnet_telemetry::export::install("info", config, tls, &source) })?)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (how service managers stop a process): a role then
/// stops taking requests, finishes what it holds and seals its audit trail.
pub async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            tokio::signal::ctrl_c().await.ok();
        }
    }
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Runs one role as this process: installs its log (and processing-log export), binds `listen`,
/// and serves with `serve` until SIGINT or SIGTERM.
pub fn run_role<F, Fut>(
    listen: SocketAddr,
    telemetry: &TelemetryConfig,
    tls: &TlsFiles,
    role: &'static str,
    service_name: String,
    serve: F,
) -> Result<(), StartError>
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: std::future::Future<Output = Result<(), StartError>>,
{
    let runtime = tokio::runtime::Runtime::new()?;
    let telemetry = start_telemetry(&runtime, telemetry, tls, role, service_name)?;
    let served = runtime.block_on(async {
        let listener = bind(listen).await?;
        serve(listener).await
    });
    telemetry.shutdown();
    served
}

/// Serves the role's metrics when its `[metrics]` names an address (plain HTTP, `GET
/// /metrics`); the task runs until aborted.
pub async fn serve_metrics(
    config: &signaalnet_telemetry::metrics::MetricsConfig,
    metrics: &std::sync::Arc<signaalnet_telemetry::metrics::Metrics>,
    collect: std::sync::Arc<dyn signaalnet_telemetry::metrics::Collect>,
) -> Result<Option<tokio::task::JoinHandle<()>>, StartError> {
    let Some(addr) = config.listen else {
        return Ok(None);
    };
    // A predecessor on this host (a coordinator that was just fenced out, a role restarting)
    // may hold the port a moment longer.
    let mut tries = 0;
    let listener = loop {
        match bind(addr).await {
            Err(StartError::Listen { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse && tries < 10 =>
            {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            other => break other?,
        }
    };
    tracing::info!(listen = %addr, "metrics served at /metrics");
    Ok(Some(tokio::spawn(
        signaalnet_telemetry::metrics::http::serve(
            listener,
            std::sync::Arc::clone(metrics),
            collect,
        ),
    )))
}
