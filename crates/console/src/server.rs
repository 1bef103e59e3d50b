//! HTTPS for browsers: rustls with the ring provider, a personal certificate from the people's
//! CA required at the handshake (no session resumption, so every connection shows its
//! certificate afresh), HTTP/2 or HTTP/1.1. Each request carries the connection's certificate
//! (checked again against the revocation lists in force) and leaves with the security headers:
//! a strict Content-Security-Policy without any script, HSTS, no caching, no framing, and a
//! refusal of cross-site requests by their Fetch Metadata (a page elsewhere cannot make the
//! browser spend the person's certificate on a query in their name).

use crate::config::ConsoleConfig;
use crate::identity::PeerCertificate;
use crate::{Console, ConsoleError};
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use signaalnet_tls::{TlsFiles, Trust};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The Content-Security-Policy of every answer: nothing but the console's own stylesheet and
/// images; no script at all, no form to elsewhere, no framing.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The people's CA, and the console's own certificate for browsers.
pub fn people_trust(config: &ConsoleConfig) -> Result<Arc<Trust>, ConsoleError> {
    Ok(Trust::load(&TlsFiles {
        ca: config.https.people_ca.clone(),
        cert: config.https.cert.clone(),
        key: config.https.key.clone(),
        crl: config.https.people_crl.clone(),
    })?)
}

/// Serves `console` on `listener` until `shutdown` resolves; then seals the audit trail.
pub async fn serve(
    listener: TcpListener,
    config: &ConsoleConfig,
    console: Arc<Console>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ConsoleError> {
    let trust = people_trust(config)?;
    let mut tls = trust.server_config()?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    // The headers outermost, so that every answer carries them, refusals included.
    let app = crate::pages::router(Arc::clone(&console))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&trust),
            still_trusted,
        ))
        .layer(axum::middleware::from_fn(security_headers));
    let reload = {
        let trust = Arc::clone(&trust);
        let every = Duration::from_secs(config.https.crl_reload_seconds.max(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = trust.reload() {
                    tracing::error!(error = %e, "the people's revocation lists were not reloaded");
                }
            }
        })
    };
    // Entries are sealed by a signed checkpoint within a minute, not only every 256 entries.
    let sealer = {
        let console = Arc::clone(&console);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                if let Err(e) = console.trail.seal().await {
                    tracing::error!(error = %e, "sealing the console's audit trail failed");
                }
            }
        })
    };
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::info!(error = %e, "a browser's TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            // The handshake required a certificate of the people's CA.
            let Some(peer) = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|der| PeerCertificate::from_der(der.as_ref()).ok())
            else {
                return;
            };
            let service = app.map_request(move |request: hyper::Request<hyper::body::Incoming>| {
                let mut request = request.map(axum::body::Body::new);
                request.extensions_mut().insert(peer.clone());
                request
            });
            let served = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "a browser connection ended with an error");
            }
        });
    }
    reload.abort();
    sealer.abort();
    console.trail.seal().await?;
    Ok(())
}

/// A certificate revoked after its connection opened is refused from then on.
async fn still_trusted(
    axum::extract::State(trust): axum::extract::State<Arc<Trust>>,
    request: Request,
    next: Next,
) -> Response {
    let refused = request
        .extensions()
        .get::<PeerCertificate>()
        .map(|peer| trust.check_peer(&peer.der));
    match refused {
        Some(Ok(())) => next.run(request).await,
        Some(Err(e)) => {
            (StatusCode::FORBIDDEN, format!("certificaat geweigerd: {e}")).into_response()
        }
        None => (StatusCode::FORBIDDEN, "geen certificaat").into_response(),
    }
}

/// Refuses cross-site requests (Fetch Metadata) and sets the security headers on every answer.
async fn security_headers(request: Request, next: Next) -> Response {
    let cross_site = request
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| !matches!(site, "same-origin" | "none"));
    let mut response = if cross_site {
        (
            StatusCode::FORBIDDEN,
            "De console beantwoordt geen verzoeken van andere sites.",
        )
            .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    for (name, value) in [
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=()",
        ),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}
