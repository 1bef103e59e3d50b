//! What every signaalnet gRPC role shares.
//!
//! - [`caller`]: who is calling, from the OIN in the peer certificate, mapped by the policy set.
//! - [`serve`]: a tonic server over mTLS (client certificate required) with `grpc.health.v1` and
//!   server reflection (v1 and v1alpha, listing only what the role serves) next to the role's own
//!   services, and `RoleService` (which policy set the role enforces).
//! - [`policy`]: signed policy sets, hot reload, `RoleService`.
//! - [`role_channel`]: a client channel over mTLS to another role, which must present the OIN
//!   expected of it; [`channel`] to any role (tools and tests).
//! - [`cpu`]: elliptic-curve work spread over the cores.
//! - [`quota`]: the policy's probing quotas, with the window kept in the role's database.
//! - [`status`]: a refusal as a gRPC status with the standard rich error details.
//! - [`query`]: the rules of every query (page size, page tokens, ids, purposes, cursors).
//! - [`limits`]: limits on every call of every role (the `[limits]` table: handshake and request
//!   timeouts, connection and per-caller concurrency caps, a per-caller rate), and
//!   RESOURCE_EXHAUSTED for a request over the message size limit.
//! - [`retention`]: the retentions a role applies, remembered for purposes removed from the policy.
//! - [`witness`]: `WitnessService`, and offering a role's audit checkpoints to its witnesses.
#![forbid(unsafe_code)]

mod auth;
pub mod convert;
pub mod cpu;
pub mod limits;
pub mod measure;
pub mod policy;
pub mod query;
pub mod quota;
mod reflection;
pub mod retention;
pub mod retry;
pub mod schema;
pub mod status;
pub mod stream;
pub mod witness;

pub use auth::{caller, Caller};

use signaalnet_policy::{LivePolicy, PartnerRole};
use signaalnet_tls::{AnyOin, CheckRevocation, ExpectedPeer, Oin, RoleUrl, TlsFiles, Trust};
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

/// Serves `routes` until `shutdown` completes, within `limits`; health reports `SERVING` for
/// each of `names` (the services' full names, e.g. `signaalnet.v1.CoordinatorService`).
pub async fn serve(
    listener: TcpListener,
    tls: &TlsFiles,
    limits: &limits::Limits,
    routes: Routes,
    names: &[&str],
    role: policy::RoleGrpc,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_measured(listener, tls, limits, routes, names, role, None, shutdown).await
}

/// [`serve`], timing every call of the role's services into `metrics`
/// ([`measure::MeasureCalls`]).
#[allow(clippy::too_many_arguments)]
pub async fn serve_measured(
    listener: TcpListener,
    tls: &TlsFiles,
    limits: &limits::Limits,
    routes: Routes,
    names: &[&str],
    role: policy::RoleGrpc,
    metrics: Option<Arc<signaalnet_telemetry::metrics::Metrics>>,
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
    let measure = measure::MeasureCalls::new(metrics, &advertised);
    // The listener's connections arrive through TLS accepted under the one server configuration
    // (a client certificate from `tls.ca` required, not revoked by the role's lists in force),
    // and each request is checked against those lists again.
    let trust = match role.trust() {
        Some(trust) => trust,
        None => Trust::load(tls)?,
    };
    let incoming = signaalnet_tls::accept::incoming_with(
        listener,
        Arc::new(trust.server_config()?),
        limits.accept(),
    );
    flow_control(Server::builder())
        .http2_keepalive_interval(Some(limits.keepalive_interval_seconds.0))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout_seconds.0))
        // Outermost: a revoked certificate is refused before anything else runs, and never
        // gets per-caller state; then a call over its caller's limits is refused.
        .layer(measure)
        .layer(CheckRevocation::new(trust))
        .layer(limits::CallLimits::new(limits))
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

/// HTTP/2 flow control of every role's server (see [`flow_control`]): the receive window of
/// one stream, in bytes.
pub const STREAM_WINDOW: u32 = 64 * 1024;
/// Streams (calls) one connection may have open at once; a client queues the ones beyond.
pub const MAX_STREAMS: u32 = 100;
/// The smallest DATA frame a well-behaved client is assumed to send: the 5-byte gRPC prefix and
/// a 59-byte message (a signal with one short identifier and key makes a frame of ~80).
pub const SMALLEST_FRAME: u32 = 64;
/// h2's charge for a received DATA frame of `n` bytes held unread is `256 − n` (its
/// `DEFAULT_DATA_FRAME_OVERHEAD_THRESHOLD`); frames of 256 bytes and more are free.
const H2_FRAME_CHARGE_FROM: u32 = 256;
/// The connection's receive window, sized so that h2's budget for small unread frames (half of
/// it) covers every stream holding a full window of [`SMALLEST_FRAME`]-byte frames: 37.5 MiB.
pub const CONNECTION_WINDOW: u32 =
    2 * MAX_STREAMS * (STREAM_WINDOW / SMALLEST_FRAME) * (H2_FRAME_CHARGE_FROM - SMALLEST_FRAME);
const _: () = assert!(
    (MAX_STREAMS as u64) * (STREAM_WINDOW as u64) <= CONNECTION_WINDOW as u64,
    "the streams' windows, not the connection's, bound what a connection buffers"
);

/// The server's HTTP/2 flow control: what bounds the memory a client can make a role hold, and
/// why a long stream of small messages is throttled instead of cut.
///
/// gRPC clients other than tonic's (stock Python grpcio, for one) write each message of a
/// client stream as a DATA frame of its own, often under 256 bytes (a signal: ~80). h2
/// (0.4.20) charges every small DATA frame it has received but the handler has not read yet
/// against a per-connection budget of half the connection window and sends `GOAWAY
/// ENHANCE_YOUR_CALM "too_many_data_frames"` when it runs out: a guard against a peer that
/// floods tiny frames. With hyper's defaults (1 MiB per stream and per connection, so a budget
/// of 512 KiB) a single `SubmitSignals` stream whose client writes faster than the node encrypts
/// and commits was cut after ~3,000 unread signals, long before flow control would have paused
/// the client.
///
/// So flow control must pause a client before the budget runs out, for every legitimate frame
/// size and however many streams a connection has open:
/// - each stream may hold at most [`STREAM_WINDOW`] unread bytes (64 KiB: ~800 signals, ample
///   to keep a node's 128-signal batches fed; the client waits for the node's WINDOW_UPDATE
///   beyond that), and a connection at most [`MAX_STREAMS`] streams, so **h2 holds at most
///   6.25 MiB received and unread per connection**; beside it each stream's decoder holds at
///   most the one message it is assembling (tonic's 4 MB limit) and a submission stream's
///   handler one batch of 128 decoded signals;
/// - the connection window ([`CONNECTION_WINDOW`]) is therefore never the limit; its only
///   effect is h2's budget, half of it, which holds every stream full of [`SMALLEST_FRAME`]-
///   byte frames (charged 192 bytes each).
///
/// A client sending smaller frames on purpose is still cut: of 1-byte frames h2 buffers about
/// 77,000 before its GOAWAY, a bounded cost. The budget cannot be set through tonic or hyper,
/// only sized through the connection window, and the adaptive window (BDP) must stay off: it
/// grows stream and connection windows alike, so one stream's backlog could exceed the budget
/// again.
fn flow_control(server: Server) -> Server {
    server
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_concurrent_streams(MAX_STREAMS)
        .http2_adaptive_window(Some(false))
}

/// A lazily connecting mTLS channel to `url` (`https://host:port`), presenting `tls.cert`. The
/// server's certificate must come from `tls.ca`, not be revoked by `tls.crl`, and name the URL's
/// host; whose it is does not matter (tools and tests: a role's own channels use
/// [`role_channel`]).
pub fn channel(url: &str, tls: &TlsFiles) -> Result<Channel, ServeError> {
    channel_to(url, &Trust::load(tls)?, Arc::new(AnyOin))
}

/// A lazily connecting channel from a role to the role at `to`, whose server must carry the OIN
/// given with the URL or, without one, an OIN the policy set in force gives `role`. Checked at
/// each handshake, with the role's revocation lists in force: any other server of the CA is
/// refused before a request is sent.
pub fn role_channel(
    to: &RoleUrl,
    role: PartnerRole,
    trust: &Arc<Trust>,
    policy: &LivePolicy,
) -> Result<Channel, ServeError> {
    let expected: Arc<dyn ExpectedPeer> = match to.oin() {
        Some(oin) => Arc::new(oin.clone()),
        None => Arc::new(PolicyRole {
            live: policy.clone(),
            roles: vec![role],
        }),
    };
    channel_to(to.url(), trust, expected)
}

/// A lazily connecting channel from a role to a witness of its audit trail at `url`: the
/// server must carry an OIN the policy set in force gives one of the roles that witness (the
/// coordinator, a transcryptor), checked at each handshake with the role's revocation lists.
pub fn witness_channel(
    url: &str,
    trust: &Arc<Trust>,
    policy: &LivePolicy,
) -> Result<Channel, ServeError> {
    let expected = Arc::new(PolicyRole {
        live: policy.clone(),
        roles: vec![PartnerRole::Coordinator, PartnerRole::Transcryptor],
    });
    channel_to(url, trust, expected)
}

/// A lazily connecting channel to `url`, presenting the role's certificate, accepting a server
/// that `trust` verifies and `expected` accepts.
pub fn channel_to(
    url: &str,
    trust: &Arc<Trust>,
    expected: Arc<dyn ExpectedPeer>,
) -> Result<Channel, ServeError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|_| ServeError::Endpoint(url.to_owned()))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        .tls_config_with_verifier(
            signaalnet_tls::client_identity(trust.files())?,
            trust.server_verifier(expected),
        )?;
    Ok(endpoint.connect_lazy())
}

/// A server whose OIN the policy set in force gives one of `roles` (checked at each handshake,
/// so a reloaded set counts from the next connection).
#[derive(Debug)]
struct PolicyRole {
    live: LivePolicy,
    roles: Vec<PartnerRole>,
}

impl ExpectedPeer for PolicyRole {
    fn accepts(&self, oin: &Oin) -> bool {
        self.live
            .current()
            .partner_by_oin(oin.as_str())
            .is_some_and(|p| self.roles.contains(&p.role))
    }

    fn expected(&self) -> String {
        let roles: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        format!(
            "OIN of a {} in policy set {}",
            roles.join(" or "),
            self.live.version()
        )
    }
}
