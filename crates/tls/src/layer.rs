//! The per-request half of revocation: a layer of every tonic server that checks the client
//! certificate of each request, and of each message of a stream, against the revocation lists
//! in force ([`Trust::check_peer`]).
//!
//! The handshake checks a certificate once, when its connection opens; a connection (HTTP/2,
//! many calls) and a stream on it (`WatchHits`, `SubmitSignals`) can outlive the revocation by
//! days. So a new call from a revoked certificate is answered `UNAUTHENTICATED` without reaching
//! the service; a client stream's next message fails with the same status in the handler; a
//! server stream's next message is replaced by that status in its trailers, which ends it. The
//! message says why and names nothing of the certificate.

use crate::revocation::PeerKey;
use crate::{PeerRefused, Trust};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderMap};
use tonic::codegen::{BoxFuture, Bytes, Service};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::Status;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The layer; see the module documentation.
#[derive(Debug, Clone)]
pub struct CheckRevocation {
    trust: Arc<Trust>,
}

impl CheckRevocation {
    pub fn new(trust: Arc<Trust>) -> Self {
        Self { trust }
    }
}

impl<S> tower_layer::Layer<S> for CheckRevocation {
    type Service = CheckRevocationService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CheckRevocationService {
            inner,
            trust: Arc::clone(&self.trust),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CheckRevocationService<S> {
    inner: S,
    trust: Arc<Trust>,
}

impl<S, R> Service<http::Request<Body>> for CheckRevocationService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: http_body::Body<Data = Bytes> + Unpin + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<http::Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // Without a client certificate the request did not come through this crate's accept
        // loop (which requires one), and there is nothing to check.
        let peer = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs)
            .and_then(|certs| certs.first().map(|leaf| PeerKey::of(leaf.as_ref())));
        let watch = match peer.map(|key| key.and_then(|key| self.check(key))) {
            None => None,
            Some(Ok(watch)) => Some(watch),
            Some(Err(refused)) => {
                tracing::warn!(reason = %refused, path = request.uri().path(), "request refused");
                let response = Status::unauthenticated(refused.to_string()).into_http();
                return Box::pin(async move { Ok(response) });
            }
        };
        let request = match &watch {
            Some(watch) => request.map(|body| Body::new(Watched::request(body, watch.clone()))),
            None => request,
        };
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| match watch {
                Some(watch) => Body::new(Watched::response(body, watch)),
                None => Body::new(body),
            }))
        })
    }
}

impl<S> CheckRevocationService<S> {
    fn check(&self, key: PeerKey) -> Result<Watch, PeerRefused> {
        let watch = Watch {
            trust: Arc::clone(&self.trust),
            key: Arc::new(key),
        };
        watch.check()?;
        Ok(watch)
    }
}

/// Whose messages a body carries, and the lists to check them against.
#[derive(Debug, Clone)]
struct Watch {
    trust: Arc<Trust>,
    key: Arc<PeerKey>,
}

impl Watch {
    fn check(&self) -> Result<(), PeerRefused> {
        self.trust.check_key(&self.key)
    }
}

/// A request or response body whose every data frame is checked first: a refused one is
/// replaced by the refusal (an error for a request body, which the handler's stream reads as the
/// status; trailers for a response body, which end it).
struct Watched<B> {
    inner: B,
    watch: Watch,
    /// A request body (the client's messages), else a response body.
    request: bool,
    ended: bool,
}

impl<B> Watched<B> {
    fn request(inner: B, watch: Watch) -> Self {
        Self {
            inner,
            watch,
            request: true,
            ended: false,
        }
    }

    fn response(inner: B, watch: Watch) -> Self {
        Self {
            request: false,
            ..Self::request(inner, watch)
        }
    }
}

impl<B> http_body::Body for Watched<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(frame) => frame,
        };
        let Some(Ok(frame)) = frame else {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        };
        if !frame.is_data() {
            return Poll::Ready(Some(Ok(frame)));
        }
        let Err(refused) = self.watch.check() else {
            return Poll::Ready(Some(Ok(frame)));
        };
        self.ended = true;
        tracing::warn!(reason = %refused, "stream ended");
        let status = Status::unauthenticated(refused.to_string());
        if self.request {
            return Poll::Ready(Some(Err(Box::new(status))));
        }
        let mut trailers = HeaderMap::new();
        Poll::Ready(Some(match status.add_header(&mut trailers) {
            Ok(()) => Ok(Frame::trailers(trailers)),
            Err(status) => Err(Box::new(status)),
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
