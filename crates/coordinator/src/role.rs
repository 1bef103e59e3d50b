//! The coordinator as a role: its configuration file and its startup (fetch the key shares,
//! open the store, serve, run the background loops until shutdown).

use crate::Coordinator;
use serde::{Deserialize, Serialize};
use signaalnet_policy::PartnerRole;
use signaalnet_pseudonym::{CoordinatorContext, HandleKey};
use signaalnet_runtime::process::load_system;
use signaalnet_runtime::{Background, Governance, StartError, WithPath};
use signaalnet_service::limits::Limits;
use signaalnet_service::policy::{PolicyTarget, RoleGrpc};
use signaalnet_service::role_channel;
use signaalnet_service::witness::WitnessGrpc;
use signaalnet_store::Location;
use signaalnet_telemetry::export::TelemetryConfig;
use signaalnet_telemetry::metrics::{Metrics, MetricsConfig};
use signaalnet_tls::{RoleUrl, TlsFiles};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    pub listen: SocketAddr,
    pub policies: PathBuf,
    /// `system.json`, the ceremony record from `signaalnet keys finish` (or `keys setup`).
    pub system_keys: PathBuf,
    /// The analyst handle key from `signaalnet keys handle-key` (or `keys setup`), mode 0600.
    pub handle_key: PathBuf,
    pub coordinator_context: String,
    /// Every transcryptor in ceremony order, `"https://host:port"` or `{ url = "https://…", oin =
    /// "…" }` to accept only that organisation's certificate there (else any transcryptor's of
    /// the policy set); the coordinator fetches its key share from each.
    pub transcryptors: Vec<RoleUrl>,
    /// SQLite file `coordinator.db` lives here unless `database_url` is set.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite.
    #[serde(default)]
    pub database_url: Option<String>,
    pub tls: TlsFiles,
    #[serde(default)]
    pub governance: Governance,
    /// Processing logs (Logboek Dataverwerkingen) over OTLP; off unless `otlp_endpoint` is set.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Limits on every call (timeouts, connection caps, per-caller rate and concurrency).
    #[serde(default)]
    pub limits: Limits,
    /// The Prometheus endpoint (`listen = "127.0.0.1:9464"`); none unless `listen` is set.
    #[serde(default)]
    pub metrics: MetricsConfig,
}

impl CoordinatorConfig {
    /// Where the role keeps its data: PostgreSQL when `database_url` is set, else a SQLite file
    /// named after the role in `data_dir`.
    pub fn location(&self) -> Result<Location, signaalnet_store::StoreError> {
        Location::for_role(&self.data_dir, "coordinator", self.database_url.as_deref())
    }

    /// The audit trail's signing key.
    pub fn audit_key(&self) -> PathBuf {
        self.governance.audit_key(&self.data_dir, "coordinator")
    }

    /// Reads the configuration file, with `SIGNAALNET_COORDINATOR__…` overrides.
    pub fn load(path: &Path) -> Result<Self, StartError> {
        signaalnet_runtime::config::load(path, "coordinator")
    }
}

/// `signaalnet coordinator --config FILE`: the coordinator as this process, until SIGINT or
/// SIGTERM, or until another coordinator takes its database over (an error).
///
/// While another coordinator holds the database (crate::fence) this process waits as the
/// standby, without listening: it binds its address once it holds the fence.
pub fn run_process(config: CoordinatorConfig) -> Result<(), StartError> {
    use signaalnet_runtime::process::{interrupted, start_telemetry};
    let runtime = tokio::runtime::Runtime::new()?;
    let telemetry = start_telemetry(
        &runtime,
        &config.telemetry,
        &config.tls,
        "coordinator",
        "signaalnet-coordinator".to_owned(),
    )?;
    let served = runtime.block_on(async {
        let location = config.location()?;
        let turn = tokio::select! {
            turn = crate::fence::wait_for_turn(&location) => turn.map_err(fence_error)?,
            () = interrupted() => return Ok(()),
        };
        let listener = bind_patiently(config.listen).await?;
        run_holding(config, listener, interrupted(), turn).await
    });
    telemetry.shutdown();
    served
}

/// Runs the coordinator on `listener` until `shutdown` completes, once it holds its database's
/// writer fence (crate::fence).
pub async fn run(
    config: CoordinatorConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let turn = crate::fence::wait_for_turn(&config.location()?)
        .await
        .map_err(fence_error)?;
    run_holding(config, listener, shutdown, turn).await
}

/// Binds `addr`, waiting while a coordinator this one took over still holds it: fenced out, it
/// lets go within [`FENCED_GRACE`] and a ping of its lock ([`crate::fence::PING_EVERY`]).
async fn bind_patiently(addr: SocketAddr) -> Result<TcpListener, StartError> {
    let mut tries = 0;
    loop {
        match signaalnet_runtime::process::bind(addr).await {
            Err(StartError::Listen { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse && tries < 30 =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

/// How long a coordinator that lost its fence lets answers in flight go out before it stops.
const FENCED_GRACE: Duration = Duration::from_secs(1);

fn fence_error(e: crate::fence::FenceError) -> StartError {
    StartError::role("the coordinator's writer fence", e)
}

async fn run_holding(
    config: CoordinatorConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    turn: crate::fence::Turn,
) -> Result<(), StartError> {
    let accountable = config.governance.open(
        "coordinator",
        "coordinator",
        &config.policies,
        &config.data_dir,
        &config.tls,
    )?;
    let system = load_system(
        &config.system_keys,
        "coordinator",
        &config.coordinator_context,
    )?;
    signaalnet_runtime::files::check_secret(&config.handle_key, "the handle key")?;
    let handle_hex = std::fs::read_to_string(&config.handle_key).with_path(&config.handle_key)?;
    let doing = || format!("the handle key {}", config.handle_key.display());
    let handle_bytes = hex::decode(handle_hex.trim()).map_err(|e| StartError::role(doing(), e))?;
    let handles = HandleKey::new(&handle_bytes).map_err(|e| StartError::role(doing(), e))?;
    let context = CoordinatorContext::new(config.coordinator_context.clone())
        .map_err(|e| StartError::role("the coordinator context", e))?;
    let location = config.location()?;
    let store = crate::open_store(&location).await?;
    // Before anything is loaded or written: what the previous holder committed is all there.
    let fence = turn.take_over(&store).await.map_err(fence_error)?;
    // Each channel accepts only the transcryptor it is for (its pinned OIN, or a transcryptor's
    // in the policy set), checked against the role's revocation lists at every handshake.
    let transcryptors = config
        .transcryptors
        .iter()
        .map(|to| {
            let channel = role_channel(
                to,
                PartnerRole::Transcryptor,
                &accountable.trust,
                accountable.policy.live(),
            )?;
            Ok((to.url().to_owned(), channel))
        })
        .collect::<Result<Vec<_>, signaalnet_service::ServeError>>()?;
    let (decryptor, commitments) =
        crate::fetch_keys(&system, transcryptors, &context, Duration::from_secs(60))
            .await
            .map_err(|e| StartError::role("fetching the transcryptors' key shares", e))?;
    let core = Arc::new(
        Coordinator::open(
            store,
            accountable.policy.live().clone(),
            decryptor,
            commitments,
            handles,
            accountable.audit,
        )
        .await
        .map_err(|e| StartError::role("opening the coordinator's store", e))?
        .with_ended_kept(accountable.ended_kept)
        .with_metrics(Metrics::new("coordinator"))
        .with_fence(fence),
    );
    let figures = signaalnet_runtime::process::serve_metrics(
        &config.metrics,
        core.metrics(),
        Arc::new(crate::figures::Figures(Arc::clone(&core))),
    )
    .await?;
    let target: Arc<dyn PolicyTarget> = core.clone();
    let background = Background::start(
        &accountable.policy,
        accountable.schedule,
        Arc::clone(&target),
    );
    tracing::info!(listen = %listener.local_addr()?, "coordinator serving");
    // The coordinator witnesses the nodes' and the transcryptors' trails.
    let witness = WitnessGrpc::new(Arc::clone(&target), accountable.policy.live().clone());
    let role = RoleGrpc::new(accountable.policy, target);
    let fenced = Arc::clone(&core);
    let metrics_stop = figures.as_ref().map(|f| f.abort_handle());
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            () = fenced.fence().lost() => {}
        }
        // Both ports free at once, for a successor on this host.
        if let Some(stop) = metrics_stop {
            stop.abort();
        }
    };
    let serving = crate::serve(
        listener,
        &config.tls,
        &config.limits,
        Arc::clone(&core),
        role,
        witness,
        shutdown,
    );
    // Fenced out, the server stops taking calls at once; the notification streams the nodes
    // hold open would keep a graceful stop waiting, and every write fails now anyway: after
    // a moment for answers in flight, the server is dropped with its connections.
    let fenced = async {
        core.fence().lost().await;
        tokio::time::sleep(FENCED_GRACE).await;
    };
    let served = tokio::select! {
        served = serving => served,
        () = fenced => Ok(()),
    };
    if let Some(figures) = figures {
        figures.abort();
    }
    if core.fence().is_lost() {
        // Not even the last seal: the trail is the successor's to write now.
        background.abandon();
        return Err(StartError::role(
            "the coordinator's writer fence",
            "another coordinator took over the database; this one stopped (it waits as the standby when started again)",
        ));
    }
    background.stop().await;
    Ok(served?)
}
