//! Request latency per gRPC method for the role's metrics (`signaalnet_rpc_duration_seconds`):
//! a server layer timing each call from its arrival until its response begins.
//!
//! The method label is the call's path only for the services the role serves and a method
//! they answer (not UNIMPLEMENTED); anything else a caller sends is `other`, so no caller can
//! grow the label set.

use signaalnet_telemetry::metrics::{Metrics, RpcLabels};
use std::sync::Arc;
use std::time::Instant;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::{BoxFuture, Context, Poll, Service};
use tonic::{Code, Status};

/// The layer; `None` measures nothing.
#[derive(Debug, Clone)]
pub struct MeasureCalls {
    metrics: Option<Arc<Metrics>>,
    services: Arc<[String]>,
}

impl MeasureCalls {
    /// Measures calls of `services` (full names, e.g. `signaalnet.v1.PartnerService`).
    pub fn new(metrics: Option<Arc<Metrics>>, services: &[&str]) -> Self {
        Self {
            metrics,
            services: services.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl<S> tower_layer::Layer<S> for MeasureCalls {
    type Service = MeasureCallsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MeasureCallsService {
            inner,
            measure: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MeasureCallsService<S> {
    inner: S,
    measure: MeasureCalls,
}

impl<S, B, R> Service<Request<B>> for MeasureCallsService<S>
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
        let started = Instant::now();
        let path = request.uri().path().to_owned();
        let measure = self.measure.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            if let Some(metrics) = &measure.metrics {
                let code = Status::from_header_map(response.headers())
                    .map_or(Code::Ok, |status| status.code());
                let known = path
                    .strip_prefix('/')
                    .and_then(|p| p.split_once('/'))
                    .is_some_and(|(service, method)| {
                        measure.services.iter().any(|s| s == service)
                            && !method.is_empty()
                            && method.len() <= 64
                            && method.bytes().all(|b| b.is_ascii_alphanumeric())
                    });
                let method = if known && code != Code::Unimplemented {
                    path
                } else {
                    "other".to_owned()
                };
                metrics
                    .rpc
                    .get_or_create(&RpcLabels {
                        method,
                        code: format!("{code:?}"),
                    })
                    .observe(started.elapsed().as_secs_f64());
            }
            Ok(response)
        })
    }
}

/// Sets the quota figures (`signaalnet_quota_used_identifiers`, `…_limit_identifiers`) of each
/// of `partners` for every purpose it shares, as `quotas` holds them at `now`.
pub async fn quota_figures(
    metrics: &Metrics,
    quotas: &crate::quota::Quotas,
    policy: &signaalnet_policy::PolicySet,
    partners: &[&str],
    now: i64,
) {
    use signaalnet_telemetry::metrics::PartnerPurposeLabels;
    for partner in partners {
        let Some(p) = policy.partners().find(|p| p.id == *partner) else {
            continue;
        };
        for (purpose, share) in &p.shares {
            let labels = PartnerPurposeLabels {
                partner: p.id.clone(),
                purpose: purpose.clone(),
            };
            let used = quotas.used(&p.id, purpose, now).await;
            metrics
                .quota_used
                .get_or_create(&labels)
                .set(i64::try_from(used).unwrap_or(i64::MAX));
            metrics
                .quota_limit
                .get_or_create(&labels)
                .set(i64::try_from(share.limits.identifiers_per_day).unwrap_or(i64::MAX));
        }
    }
}

/// The rule ids a refusal names (its `ErrorInfo`'s `rules`, [`crate::status`]); none for a
/// status without details (a failure rather than a refusal).
pub fn rules_of(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .and_then(|info| info.metadata.get("rules").cloned())
        .map(|rules| {
            rules
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::convert::Infallible;
    use std::future::Ready;
    use tower_layer::Layer;

    /// A server answering every call with `code` (trailers-only, as tonic answers a refusal).
    #[derive(Clone)]
    struct Answer(Code);

    impl Service<Request<()>> for Answer {
        type Response = Response<()>;
        type Error = Infallible;
        type Future = Ready<Result<Response<()>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            let mut response = Response::new(());
            if self.0 != Code::Ok {
                Status::new(self.0, "no")
                    .add_header(response.headers_mut())
                    .unwrap();
            }
            std::future::ready(Ok(response))
        }
    }

    async fn call(metrics: &Arc<Metrics>, path: &str, code: Code) {
        let layer = MeasureCalls::new(Some(Arc::clone(metrics)), &["signaalnet.v1.PartnerService"]);
        let mut service = layer.layer(Answer(code));
        let request = Request::builder().uri(path).body(()).unwrap();
        service.call(request).await.unwrap();
    }

    #[tokio::test]
    async fn only_the_roles_own_methods_become_labels() {
        let metrics = Metrics::new("node");
        let submit = "/signaalnet.v1.PartnerService/SubmitSignal";
        call(&metrics, submit, Code::Ok).await;
        call(&metrics, submit, Code::PermissionDenied).await;
        // Whatever a caller makes up is `other`: another service, a method the service does not
        // have (UNIMPLEMENTED), a path that is no method name.
        call(&metrics, "/x.Y/Z", Code::Unimplemented).await;
        call(
            &metrics,
            "/signaalnet.v1.PartnerService/Made9Up",
            Code::Unimplemented,
        )
        .await;
        call(&metrics, "/signaalnet.v1.PartnerService/a%20b", Code::Ok).await;
        call(&metrics, "/signaalnet.v1.PartnerService/", Code::Ok).await;
        let text = metrics.encode();
        let count = |labels: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(&format!(
                        "signaalnet_rpc_duration_seconds_count{{{labels}}} "
                    ))
                })
                .map(|v| v.parse::<u64>().unwrap())
        };
        assert_eq!(count(&format!("method=\"{submit}\",code=\"Ok\"")), Some(1));
        assert_eq!(
            count(&format!("method=\"{submit}\",code=\"PermissionDenied\"")),
            Some(1)
        );
        assert_eq!(count("method=\"other\",code=\"Unimplemented\""), Some(2));
        assert_eq!(count("method=\"other\",code=\"Ok\""), Some(2));
        assert!(!text.contains("Made9Up") && !text.contains("x.Y"), "{text}");
    }

    #[tokio::test]
    async fn without_metrics_nothing_is_measured() {
        let layer = MeasureCalls::new(None, &["signaalnet.v1.PartnerService"]);
        let mut service = layer.layer(Answer(Code::Ok));
        let request = Request::builder().uri("/a/b").body(()).unwrap();
        assert!(service.call(request).await.is_ok());
    }
}
