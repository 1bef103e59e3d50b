//! Serving the transcryptor over mTLS with health checking and reflection.

use crate::service::TranscryptorGrpc;
use signaalnet_proto::v1::transcryptor_service_server::TranscryptorServiceServer;
use signaalnet_tls::TlsFiles;
use std::future::Future;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Server TLS that requires a client certificate from `files.ca`.
pub fn server_tls(files: &TlsFiles) -> Result<ServerTlsConfig, ServeError> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|source| ServeError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    Ok(ServerTlsConfig::new()
        .identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?))
        .client_ca_root(Certificate::from_pem(read(&files.ca)?)))
}

/// Serves until `shutdown` completes. Health reports `SERVING` for the transcryptor service.
pub async fn serve(
    listener: TcpListener,
    tls: &TlsFiles,
    service: TranscryptorGrpc,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<TranscryptorServiceServer<TranscryptorGrpc>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(signaalnet_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    Server::builder()
        .tls_config(server_tls(tls)?)?
        .add_service(health)
        .add_service(reflection)
        .add_service(TranscryptorServiceServer::new(service))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
