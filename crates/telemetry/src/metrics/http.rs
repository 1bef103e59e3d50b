//! The endpoint: `GET /metrics` over plain HTTP/1.1, one small answer per request.

use super::{Collect, Metrics, COLLECT_TIMEOUT};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The OpenMetrics text format, which Prometheus asks for and reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `metrics` on `listener` until the task is dropped or aborted; each scrape first runs
/// `collect` (at most [`COLLECT_TIMEOUT`]).
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, collect: Arc<dyn Collect>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "metrics endpoint: accepting a connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (metrics, collect) = (Arc::clone(&metrics), Arc::clone(&collect));
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (metrics, collect) = (Arc::clone(&metrics), Arc::clone(&collect));
                async move {
                    Ok::<_, std::convert::Infallible>(answer(request, &metrics, &*collect).await)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // A scraper that stalls is cut off rather than held forever.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), connection).await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    metrics: &Metrics,
    collect: &dyn Collect,
) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *response.status_mut() = status;
        response
    };
    if request.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "not found; try /metrics\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    if tokio::time::timeout(COLLECT_TIMEOUT, collect.collect(metrics))
        .await
        .is_err()
    {
        tracing::warn!("metrics endpoint: reading the role's state took too long; answering with the figures as they were");
    }
    let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
    if let Ok(value) = CONTENT_TYPE.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// Scrapes `GET /metrics` at `addr` (for tests and tools): the body.
pub async fn scrape(addr: std::net::SocketAddr) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Err(std::io::Error::other("no HTTP answer"));
    };
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!(
            "answered {}",
            head.lines().next().unwrap_or("")
        )));
    }
    Ok(body.to_owned())
}
