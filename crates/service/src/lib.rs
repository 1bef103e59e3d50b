//! What every signaalnet gRPC role shares.
//!
//! - [`caller`]: who is calling, from the OIN in the peer certificate, mapped by the policy set.
//! - [`serve`]: a tonic server over mTLS (client certificate required) with `grpc.health.v1` and
//!   server reflection next to the role's own services, and `RoleService` (which policy set the
//!   role enforces).
//! - [`policy`]: signed policy sets, hot reload, `RoleService`.
//! - [`channel`]: a client channel over mTLS to another role.
//! - [`cpu`]: elliptic-curve work spread over the cores.
//! - [`quota`]: the policy's probing quotas, with the window kept in the role's database.
#![forbid(unsafe_code)]

mod auth;
pub mod convert;
pub mod cpu;
pub mod policy;
pub mod quota;
pub mod retry;
pub mod schema;
pub mod stream;

pub use auth::{caller, Caller};

use signaalnet_tls::TlsFiles;
use std::future::Future;
use std::path::Path;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::{
    Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Server, ServerTlsConfig,
};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid endpoint `{0}`")]
    Endpoint(String),
    #[error("gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

fn read(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|source| ServeError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Server TLS that requires a client certificate from `files.ca`.
pub fn server_tls(files: &TlsFiles) -> Result<ServerTlsConfig, ServeError> {
    Ok(ServerTlsConfig::new()
        .identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?))
        .client_ca_root(Certificate::from_pem(read(&files.ca)?)))
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
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(signaalnet_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    Server::builder()
        .tls_config(server_tls(tls)?)?
        .add_routes(routes)
        .add_service(RoleServiceServer::new(role))
        .add_service(health)
        .add_service(reflection)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await?;
    Ok(())
}

/// Accepted connections with Nagle's algorithm off. tonic's own `tcp_nodelay` applies only to
/// sockets it accepts itself; without it a reply written while an earlier one is unacknowledged
/// waits for the peer's delayed ACK (up to 40 ms on Linux) at every hop of the chain.
fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|accepted| {
        accepted.inspect(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!(error = %e, "could not turn off Nagle's algorithm on a connection");
            }
        })
    })
}

/// A lazily connecting mTLS channel to `url` (`https://host:port`), presenting `tls.cert`. The
/// server's certificate must come from `tls.ca` and name the URL's host.
pub fn channel(url: &str, tls: &TlsFiles) -> Result<Channel, ServeError> {
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&tls.ca)?))
        .identity(Identity::from_pem(read(&tls.cert)?, read(&tls.key)?));
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|_| ServeError::Endpoint(url.to_owned()))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        .tls_config(config)?;
    Ok(endpoint.connect_lazy())
}
