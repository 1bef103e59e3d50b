//! What every signaalnet gRPC role shares.
//!
//! - [`caller`]: who is calling, from the OIN in the peer certificate, mapped by the policy set.
//! - [`serve`]: a tonic server over mTLS (client certificate required) with `grpc.health.v1` and
//!   server reflection (v1 and v1alpha, listing only what the role serves) next to the role's own
//!   services, and `RoleService` (which policy set the role enforces).
//! - [`policy`]: signed policy sets, hot reload, `RoleService`.
//! - [`channel`]: a client channel over mTLS to another role.
//! - [`cpu`]: elliptic-curve work spread over the cores.
//! - [`quota`]: the policy's probing quotas, with the window kept in the role's database.
//! - [`status`]: a refusal as a gRPC status with the standard rich error details.
//! - [`query`]: the rules of every query (page size, page tokens, ids, purposes, cursors).
//! - [`limits`]: RESOURCE_EXHAUSTED for a request over the message size limit.
#![forbid(unsafe_code)]

mod auth;
pub mod convert;
pub mod cpu;
pub mod limits;
pub mod policy;
pub mod query;
pub mod quota;
mod reflection;
pub mod retry;
pub mod schema;
pub mod status;
pub mod stream;

pub use auth::{caller, Caller};

use signaalnet_tls::TlsFiles;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint, Server};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] signaalnet_tls::TlsError),
    #[error("invalid endpoint `{0}`")]
    Endpoint(String),
    #[error("gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Serves `routes` until `shutdown` completes; health reports `SERVING` for each of `names`
/// (the services' full names, e.g. `signaalnet.v1.CoordinatorService`).
pub async fn serve(
    listener: TcpListener,
    tls: &TlsFiles,
    routes: Routes,
    names: &[&str],
    role: policy::RoleGrpc,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    use signaalnet_proto::v1::role_service_server::RoleServiceServer;
    use tonic::server::NamedService;
    let (reporter, health) = tonic_health::server::health_reporter();
    let role_name = RoleServiceServer::<policy::RoleGrpc>::NAME;
    for name in names.iter().chain([&role_name]) {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let advertised: Vec<&str> = names
        .iter()
        .copied()
        .chain([role_name, "grpc.health.v1.Health"])
        .collect();
    let (reflection, reflection_v1alpha) = reflection::services(&advertised)?;
    // The listener's connections arrive through TLS accepted under the one server configuration
    // (signaalnet_tls::server_config: a client certificate from `tls.ca` required).
    let incoming =
        signaalnet_tls::incoming(listener, Arc::new(signaalnet_tls::server_config(tls)?));
    Server::builder()
        .layer(limits::SizeLimitStatus)
        .add_routes(routes)
        .add_service(RoleServiceServer::new(role))
        .add_service(health)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

/// A lazily connecting mTLS channel to `url` (`https://host:port`), presenting `tls.cert`. The
/// server's certificate must come from `tls.ca` and name the URL's host.
pub fn channel(url: &str, tls: &TlsFiles) -> Result<Channel, ServeError> {
    let config = signaalnet_tls::client_tls(tls)?;
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|_| ServeError::Endpoint(url.to_owned()))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        .tls_config(config)?;
    Ok(endpoint.connect_lazy())
}
