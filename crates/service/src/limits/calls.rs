//! [`CallLimits`], the layer on every role's server that holds each call to its caller's limits
//! (see the module above): admission by [`Callers`], the unary timeout, the stream idle timeout,
//! and the caller's open-call count kept until the answer's last byte is sent.
//!
//! Why not tower's and tonic's own: `Server::timeout` answers CANCELLED "Timeout expired",
//! naming no limit, and `concurrency_limit_per_connection` (tower's `ConcurrencyLimit`) counts
//! per connection and queues a call instead of refusing it; a caller opens as many connections
//! as it likes, so its limits must be counted by its OIN, and a refusal must say which one.

use super::callers::{CallPermit, Callers};
use super::Limits;
use crate::status::Refusal;
use http_body::Body as HttpBody;
use signaalnet_tls::oin_from_der;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::time::Sleep;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::{BoxFuture, Bytes, Service};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};

/// The rule of a unary call not answered in time.
pub const TIMEOUT_RULE: &str = "limits.request_timeout_seconds";
/// The rule of a stream whose client stayed silent too long.
pub const IDLE_RULE: &str = "limits.stream_idle_timeout_seconds";

/// The layer; one per role, shared by all its connections.
#[derive(Debug, Clone)]
pub struct CallLimits {
    callers: Arc<Callers>,
    request_timeout: Duration,
    stream_idle: Duration,
}

impl CallLimits {
    pub fn new(limits: &Limits) -> Self {
        Self {
            callers: Arc::new(Callers::new(limits)),
            request_timeout: limits.request_timeout_seconds.0,
            stream_idle: limits.stream_idle_timeout_seconds.0,
        }
    }
}

impl<S> tower_layer::Layer<S> for CallLimits {
    type Service = CallLimitsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallLimitsService {
            inner,
            limits: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CallLimitsService<S> {
    inner: S,
    limits: CallLimits,
}

impl<S> Service<Request<Body>> for CallLimitsService<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let oin = caller_oin(&request);
        let permit = match self.limits.callers.admit(&oin, Instant::now()) {
            Ok(permit) => permit,
            Err(over) => {
                let response = over.refusal().into_status().into_http();
                return Box::pin(std::future::ready(Ok(response)));
            }
        };
        let (parts, body) = request.into_parts();
        let body = Body::new(IdleBody::new(body, self.limits.stream_idle));
        let answer = self.inner.call(Request::from_parts(parts, body));
        let timeout = self.limits.request_timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(response)) => Ok(response.map(|body| {
                    Body::new(Held {
                        body,
                        _permit: permit,
                    })
                })),
                Ok(Err(e)) => Err(e),
                Err(_elapsed) => Ok(timed_out(timeout).into_http()),
            }
        })
    }
}

/// The caller's OIN, from the certificate it completed its handshake with. The server accepts
/// no connection without a certificate of its CA; one whose certificate names no OIN (which
/// `crate::caller` refuses anyway) is counted under the empty OIN, all such together.
fn caller_oin<B>(request: &Request<B>) -> String {
    request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.peer_certs())
        .and_then(|certs| {
            certs
                .first()
                .and_then(|leaf| oin_from_der(leaf.as_ref()).ok())
        })
        .map(|oin| oin.as_str().to_owned())
        .unwrap_or_default()
}

fn timed_out(timeout: Duration) -> Status {
    Refusal::new(Code::DeadlineExceeded, "REQUEST_TIMEOUT", "")
        .violation(
            "request",
            TIMEOUT_RULE,
            format!(
                "not answered within {} s; the call was abandoned",
                timeout.as_secs_f64()
            ),
        )
        .into_status()
}

fn idle(timeout: Duration) -> Status {
    Refusal::new(Code::DeadlineExceeded, "STREAM_IDLE", "")
        .violation(
            "request",
            IDLE_RULE,
            format!(
                "the stream sent nothing for {} s while the role waited for it",
                timeout.as_secs_f64()
            ),
        )
        .into_status()
}

/// A request body that fails when its client sends nothing for `idle` while the handler waits
/// for the next message. Time the handler spends elsewhere does not count.
struct IdleBody {
    inner: Body,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    waiting: bool,
}

impl IdleBody {
    fn new(inner: Body, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            waiting: false,
        }
    }
}

impl HttpBody for IdleBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting = false;
            return Poll::Ready(frame);
        }
        if !this.waiting {
            this.waiting = true;
            let deadline = tokio::time::Instant::now() + this.idle;
            this.timer.as_mut().reset(deadline);
        }
        match this.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(idle(this.idle)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its call among the caller's open calls until it is done.
struct Held {
    body: Body,
    _permit: CallPermit,
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
