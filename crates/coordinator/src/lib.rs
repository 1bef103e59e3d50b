//! The coordinator: sees matching-domain pseudonyms and the attributes policy lets through,
//! never an identifier.
//!
//! - [`matching`]: the pure matcher (docs/DESIGN.md §6).
//! - [`Coordinator`]: received signals, hits and notification queues in the store, one write
//!   transaction per change; policy re-checked on arrival; decryption with the key shares of
//!   every transcryptor ([`fetch_keys`]).
//! - [`consult`]: case consultations on a hit, routed between its partners.
//! - [`CoordinatorGrpc`] for partner nodes, [`AnalystGrpc`] for analysts and the monitor.
#![forbid(unsafe_code)]

pub mod alarm;
mod analyst;
mod arrival;
pub mod consult;
mod core;
mod decrypt;
mod deliver;
pub mod expiry;
pub mod fence;
pub mod figures;
mod grpc;
mod keys;
mod load;
pub mod matching;
pub mod monitor;
mod persist;
mod quota;
pub mod role;
pub mod schema;
mod store_match;
mod view;
mod wire;
mod withdraw;

pub use crate::core::{rules, Coordinator, Outcome};
pub use deliver::{Delivered, MAX_BATCH};
pub use grpc::{AnalystGrpc, CoordinatorGrpc};
pub use keys::{fetch_keys, Commitments};
pub use monitor::{NOT_SHARED, UNKNOWN};
pub use persist::last_signal_seq;

/// What the coordinator's own tests reach past the public API: loading stored signals into the
/// matcher (`load.rs`), for the property test that compares it with holding every signal.
#[cfg(feature = "test-util")]
pub mod test_util {
    pub use crate::load::{hold_reachable, insert_signal, Key};
}
pub use schema::open_store;

use signaalnet_proto::v1::analyst_service_server::AnalystServiceServer;
use signaalnet_proto::v1::coordinator_service_server::CoordinatorServiceServer;
use signaalnet_proto::v1::witness_service_server::WitnessServiceServer;
use signaalnet_service::witness::WitnessGrpc;
use signaalnet_service::ServeError;
use signaalnet_tls::TlsFiles;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error(transparent)]
    Store(#[from] signaalnet_store::StoreError),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Matching(#[from] matching::MatchError),
    #[error("key shares: {0}")]
    KeyShares(String),
    #[error(transparent)]
    Audit(#[from] signaalnet_audit::AuditError),
    /// Another coordinator took over the database (crate::fence): this one writes nothing more.
    #[error("another coordinator took over the database (this one's epoch was {0})")]
    Fenced(i64),
}

impl From<CoordinatorError> for tonic::Status {
    fn from(e: CoordinatorError) -> Self {
        tracing::error!(error = %e, "coordinator storage failed");
        tonic::Status::unavailable("the coordinator could not complete the request; retry")
    }
}

/// Serves both coordinator services and `WitnessService` within `limits` until `shutdown`
/// completes.
pub async fn serve(
    listener: TcpListener,
    tls: &TlsFiles,
    limits: &signaalnet_service::limits::Limits,
    core: Arc<Coordinator>,
    role: signaalnet_service::policy::RoleGrpc,
    witness: WitnessGrpc,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let metrics = Some(Arc::clone(core.metrics()));
    let routes = Routes::new(CoordinatorServiceServer::new(CoordinatorGrpc::new(
        Arc::clone(&core),
    )))
    .add_service(AnalystServiceServer::new(AnalystGrpc::new(core)))
    .add_service(WitnessServiceServer::new(witness));
    signaalnet_service::serve_measured(
        listener,
        tls,
        limits,
        routes,
        &[
            CoordinatorServiceServer::<CoordinatorGrpc>::NAME,
            AnalystServiceServer::<AnalystGrpc>::NAME,
            WitnessServiceServer::<WitnessGrpc>::NAME,
        ],
        role,
        metrics,
        shutdown,
    )
    .await
}
