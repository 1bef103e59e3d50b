//! Serving the transcryptor (and its `WitnessService`) over mTLS with health checking and
//! reflection.

use crate::service::TranscryptorGrpc;
use signaalnet_proto::v1::transcryptor_service_server::TranscryptorServiceServer;
use signaalnet_proto::v1::witness_service_server::WitnessServiceServer;
use signaalnet_service::witness::WitnessGrpc;
use signaalnet_service::ServeError;
use signaalnet_tls::TlsFiles;
use std::future::Future;
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;

/// Serves within `limits` until `shutdown` completes. Health reports `SERVING` for the
/// transcryptor service and the witness service.
pub async fn serve(
    listener: TcpListener,
    tls: &TlsFiles,
    limits: &signaalnet_service::limits::Limits,
    service: TranscryptorGrpc,
    role: signaalnet_service::policy::RoleGrpc,
    witness: WitnessGrpc,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let metrics = Some(std::sync::Arc::clone(service.metrics()));
    signaalnet_service::serve_measured(
        listener,
        tls,
        limits,
        Routes::new(TranscryptorServiceServer::new(service))
            .add_service(WitnessServiceServer::new(witness)),
        &[
            TranscryptorServiceServer::<TranscryptorGrpc>::NAME,
            WitnessServiceServer::<WitnessGrpc>::NAME,
        ],
        role,
        metrics,
        shutdown,
    )
    .await
}
