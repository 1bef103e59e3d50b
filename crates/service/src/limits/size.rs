//! The status of a request over the message size limit, the same for every role and call.
//!
//! tonic refuses a request message larger than the server's decoding limit (4 MB by default)
//! before the call's handler runs, with OUT_OF_RANGE and a message of its own. gRPC clients
//! (and the gRPC spec's own servers, e.g. grpc-core and grpc-java) answer RESOURCE_EXHAUSTED
//! there, and a client's retry and error handling keys on that code. [`SizeLimitStatus`], a
//! layer on the server, rewrites that one answer: a response whose status is OUT_OF_RANGE with
//! tonic's "message length too large" message becomes RESOURCE_EXHAUSTED with a message naming
//! the rule. Statuses a handler sends are left alone (no handler answers OUT_OF_RANGE for size;
//! a client stream that breaks off mid-way is mapped by its handler, e.g. the node's
//! `SubmitSignals`).

use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic::codegen::{BoxFuture, Context, Poll, Service};
use tonic::{Code, Status};

/// The rule a too-large request breaks, named in the message.
pub const RULE: &str = "request.too_large";

/// The layer; see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct SizeLimitStatus;

impl<S> tower_layer::Layer<S> for SizeLimitStatus {
    type Service = SizeLimitStatusService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SizeLimitStatusService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct SizeLimitStatusService<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for SizeLimitStatusService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Response<R>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            resource_exhausted(response.headers_mut());
            Ok(response)
        })
    }
}

/// Rewrites tonic's decoding-limit status in `headers` (a trailers-only response) to
/// RESOURCE_EXHAUSTED; anything else is left as it is. True when it rewrote.
pub fn resource_exhausted(headers: &mut HeaderMap) -> bool {
    let Some(status) = Status::from_header_map(headers) else {
        return false;
    };
    if !is_decoding_limit(&status) {
        return false;
    }
    let limit = status
        .message()
        .rsplit_once("the limit is: ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    let message = match limit {
        Some(limit) => format!(
            "request: a message is larger than this service accepts ({limit} bytes) [{RULE}]"
        ),
        None => format!("request: a message is larger than this service accepts [{RULE}]"),
    };
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        headers.remove(name);
    }
    // A status built here always encodes: the message is ASCII.
    Status::new(Code::ResourceExhausted, message)
        .add_header(headers)
        .is_ok()
}

/// tonic's status for a message over the decoding limit (tonic::codec::decode).
fn is_decoding_limit(status: &Status) -> bool {
    status.code() == Code::OutOfRange && status.message().contains("message length too large")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers_of(status: Status) -> HeaderMap {
        let mut headers = HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        headers
    }

    #[test]
    fn the_decoding_limit_becomes_resource_exhausted() {
        let mut headers = headers_of(Status::out_of_range(
            "Error, decoded message length too large: found 5505032 bytes, the limit is: \
             4194304 bytes",
        ));
        assert!(resource_exhausted(&mut headers));
        let status = Status::from_header_map(&headers).unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.message(),
            "request: a message is larger than this service accepts (4194304 bytes) \
             [request.too_large]"
        );
    }

    #[test]
    fn other_statuses_are_left_alone() {
        for status in [
            Status::out_of_range("after_cursor: past the end"),
            Status::invalid_argument("message length too large"),
            Status::ok(""),
        ] {
            let mut headers = headers_of(status.clone());
            assert!(!resource_exhausted(&mut headers));
            assert_eq!(
                Status::from_header_map(&headers).unwrap().code(),
                status.code()
            );
        }
        assert!(!resource_exhausted(&mut HeaderMap::new()));
    }
}
