//! Who is calling: the OIN of the peer certificate, mapped to a partner by the policy set. A
//! certificate acts only as the partner whose OIN it carries; each service then checks the role.
//!
//! A certificate is checked against the role's revocation lists at its handshake and again at
//! every request ([`CheckRevocation`], a layer of every server), so a connection opened before
//! the certificate was revoked serves nothing after the lists with its revocation are in force.

use signaalnet_policy::{PartnerRole, PolicySet};
use signaalnet_tls::{oin_from_der, Trust};
use std::sync::Arc;
use tonic::codegen::http;
use tonic::codegen::{BoxFuture, Context, Poll, Service};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Request, Status};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub oin: String,
    pub partner_id: String,
    pub role: PartnerRole,
}

impl Caller {
    /// The caller as the actor of an audited step.
    pub fn actor(&self) -> signaalnet_audit::Actor {
        signaalnet_audit::Actor {
            oin: self.oin.clone(),
            role: self.role.as_str().to_owned(),
        }
    }
}

/// Identifies the caller of `request` or refuses with `UNAUTHENTICATED`.
pub fn caller<T>(request: &Request<T>, policy: &PolicySet) -> Result<Caller, Status> {
    let certs = request.peer_certs().ok_or_else(|| {
        Status::unauthenticated("no client certificate: signaalnet requires mutual TLS")
    })?;
    let leaf = certs.first().ok_or_else(|| {
        Status::unauthenticated("the client presented an empty certificate chain")
    })?;
    let oin = oin_from_der(leaf.as_ref())
        .map_err(|e| Status::unauthenticated(format!("client certificate: {e}")))?;
    let partner = policy.partner_by_oin(oin.as_str()).ok_or_else(|| {
        Status::unauthenticated(format!(
            "OIN {oin} is not a partner in policy set {}",
            policy.version()
        ))
    })?;
    Ok(Caller {
        oin: oin.to_string(),
        partner_id: partner.id.clone(),
        role: partner.role,
    })
}

/// A server layer refusing, with `UNAUTHENTICATED`, each request whose client certificate the
/// revocation lists in force revoke (or every request once those lists have expired). The
/// message says why and names nothing of the certificate.
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

impl<S, B, R> Service<http::Request<B>> for CheckRevocationService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<http::Response<R>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let refused = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs)
            .and_then(|certs| {
                let leaf = certs.first()?;
                self.trust.check_peer(leaf.as_ref()).err()
            });
        if let Some(refused) = refused {
            tracing::warn!(reason = %refused, path = request.uri().path(), "request refused");
            let response = Status::unauthenticated(refused.to_string()).into_http();
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(request))
    }
}
