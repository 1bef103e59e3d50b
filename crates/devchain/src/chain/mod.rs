//! The whole chain on loopback: two transcryptors, the coordinator and a node per submitting
//! partner of the policy set, each on its own port with its own certificate, configuration
//! file, data directory and (on PostgreSQL) database, started exactly as the role commands
//! start them: as tasks of this process (`signaalnet demo`), or each as its own
//! `signaalnet <role> --config` process (the bench, which reads each role's memory and CPU time,
//! and the end-to-end tests, which kill and restart roles).

mod lifecycle;
mod role;

pub use role::{run_command, Role, RoleKind};
use role::{RoleConfig, Running};

use crate::setup::{self, KeyFiles};
use anyhow::{Context, Result};
use signaalnet_coordinator::role::CoordinatorConfig;
use signaalnet_node::role::NodeConfig;
use signaalnet_policy::{PartnerRole, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::analyst_service_client::AnalystServiceClient;
use signaalnet_proto::v1::partner_service_client::PartnerServiceClient;
use signaalnet_proto::v1::role_service_client::RoleServiceClient;
use signaalnet_runtime::Governance;
use signaalnet_service::convert::submits_signals;
use signaalnet_store::{Location, ScratchDatabase};
use signaalnet_tls::{Oin, PinnedUrl, RoleUrl, TlsFiles};
use signaalnet_transcryptor::role::{RateLimitConfig, TranscryptorConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::Channel;

/// The coordinator context of every development chain.
pub const CONTEXT: &str = "coordinator/dev";

/// Seconds between each role's offers of its newest checkpoint to its witnesses: short, so that
/// the demo and the tests see checkpoints witnessed within seconds.
pub const WITNESS_SECONDS: u64 = 1;

/// How the roles run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    /// As tasks of this process.
    InProcess,
    /// Each as its own process of `exe` (the `signaalnet` binary), its log (at `log_level`) in
    /// `<dir>/<role>.log`.
    Processes { exe: PathBuf, log_level: String },
}

/// What a chain is started with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The policy set to copy into the chain's directory (default: [`crate::policies_dir`]).
    pub policies: Option<PathBuf>,
    /// A PostgreSQL administrator's URL: every role gets a fresh database there (default:
    /// SQLite files under the chain's directory).
    pub postgres: Option<String>,
    /// Every role requires a policy set signed by the chain's privacy officer
    /// (`<dir>/officer.key`, which signs the copy before the roles start).
    pub signed_policy: bool,
    /// Seconds between each role's looks for a changed policy set (default: the roles' own).
    pub policy_reload_seconds: Option<u64>,
    /// Every role exports its processing logs to this OTLP endpoint (every 100 ms).
    pub otlp_endpoint: Option<String>,
    /// Seconds between each role's retention runs (default: the roles' own).
    pub retention_check_seconds: Option<u64>,
    /// Every role serves its metrics on a loopback port of its own ([`Chain::scrape`]).
    pub metrics: bool,
}

pub struct Chain {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    pub policy: PolicySet,
    pub roles: BTreeMap<String, Role>,
    run: Run,
    /// The roles' PostgreSQL databases, dropped with the chain after its roles are stopped
    /// (`Drop for Chain` runs before its fields are dropped).
    databases: Vec<ScratchDatabase>,
}

impl Chain {
    /// Generates keys, certificates and configurations in a new temporary directory and
    /// starts every role; returns once each answers health checks.
    pub async fn start(options: Options, run: Run) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("signaalnet-chain-")
            .tempdir()?;
        let path = dir.path().to_owned();
        let policies = path.join("policies");
        let source = options.policies.clone().unwrap_or_else(crate::policies_dir);
        setup::copy_dir(&source, &policies)?;
        let mut governance = Governance::default();
        if let Some(seconds) = options.policy_reload_seconds {
            governance.policy_reload_seconds = seconds;
        }
        if let Some(seconds) = options.retention_check_seconds {
            governance.retention_check_seconds = seconds;
        }
        if options.signed_policy {
            let key = path.join("officer.key");
            governance.policy_signers = vec![setup::officer_key(&key)?];
            setup::sign_policy(&policies, &key, None)?;
        }
        let policy = setup::load_policy(&policies)?;
        let certs = path.join("certs");
        setup::dev_pki(&policy, &certs)?;
        // In the example set's order (VNG's is transcryptor 1); others after them.
        let mut transcryptor_ids: Vec<String> = policy
            .partners()
            .filter(|p| p.role == PartnerRole::Transcryptor)
            .map(|p| p.id.clone())
            .collect();
        transcryptor_ids.sort_by_key(|id| {
            crate::partners::TRANSCRYPTORS
                .iter()
                .position(|t| t == id)
                .unwrap_or(usize::MAX)
        });
        let coordinator_id = policy
            .partners()
            .find(|p| p.role == PartnerRole::Coordinator)
            .map(|p| p.id.clone())
            .context("the policy set names no coordinator")?;
        let keys = KeyFiles::in_dir(&path.join("keys"), transcryptor_ids.len());
        setup::key_ceremony(&keys, CONTEXT)?;
        let telemetry = signaalnet_telemetry_config(options.otlp_endpoint.as_deref());
        let tls = |id: &str| dev_tls(&certs, id);
        let data = |name: &str| path.join("data").join(name);
        // Each role's own secrets apart from its data, as a deployment keeps them.
        let governed = |name: &str| Governance {
            secrets_dir: Some(path.join("secrets").join(name)),
            ..governance.clone()
        };

        // Every role's checkpoints are witnessed by other organisations: a node's by the
        // coordinator and the first transcryptor, the coordinator's by the transcryptors, a
        // transcryptor's by the other transcryptors and the coordinator.
        let transcryptor_listens = transcryptor_ids
            .iter()
            .map(|_| free_address())
            .collect::<Result<Vec<_>>>()?;
        let transcryptors: Vec<String> = transcryptor_listens.iter().copied().map(url).collect();
        let coordinator_listen = free_address()?;
        let coordinator = url(coordinator_listen);
        // The channels to other roles expect the OIN the policy gives each.
        let pinned_transcryptors = transcryptor_ids
            .iter()
            .zip(&transcryptor_listens)
            .map(|(id, &listen)| pinned(&policy, id, listen))
            .collect::<Result<Vec<_>>>()?;
        let pinned_coordinator = pinned(&policy, &coordinator_id, coordinator_listen)?;
        let witnessed = |name: &str, witnesses: Vec<String>| Governance {
            witnesses,
            witness_seconds: WITNESS_SECONDS,
            ..governed(name)
        };

        let mut roles = BTreeMap::new();
        let mut databases = Vec::new();
        for ((id, secrets), &listen) in transcryptor_ids
            .iter()
            .zip(&keys.transcryptors)
            .zip(&transcryptor_listens)
        {
            let others = transcryptors
                .iter()
                .filter(|t| **t != url(listen))
                .cloned()
                .chain([coordinator.clone()])
                .collect();
            let settings = RoleConfig::Transcryptor(TranscryptorConfig {
                listen,
                policies: policies.clone(),
                keys: secrets.clone(),
                system_keys: keys.system.clone(),
                coordinator_context: CONTEXT.to_owned(),
                tls: tls(id),
                rate_limit: RateLimitConfig::default(),
                name: id.clone(),
                data_dir: data(id),
                database_url: fresh_database(options.postgres.as_deref(), &mut databases).await?,
                governance: witnessed(id, others),
                telemetry: telemetry.clone(),
                limits: Default::default(),
                metrics: metrics(options.metrics)?,
            });
            roles.insert(id.clone(), Role::new(&path, id, settings)?);
        }
        let settings = RoleConfig::Coordinator(CoordinatorConfig {
            listen: coordinator_listen,
            policies: policies.clone(),
            system_keys: keys.system.clone(),
            handle_key: keys.handle.clone(),
            coordinator_context: CONTEXT.to_owned(),
            transcryptors: pinned_transcryptors.clone(),
            data_dir: data("coordinator"),
            database_url: fresh_database(options.postgres.as_deref(), &mut databases).await?,
            tls: tls(&coordinator_id),
            governance: witnessed("coordinator", transcryptors.clone()),
            telemetry: telemetry.clone(),
            limits: Default::default(),
            metrics: metrics(options.metrics)?,
        });
        roles.insert(
            "coordinator".to_owned(),
            Role::new(&path, "coordinator", settings)?,
        );
        for partner in policy.partners().filter(|p| submits_signals(p.role)) {
            let settings = RoleConfig::Node(NodeConfig {
                listen: free_address()?,
                partner: partner.id.clone(),
                policies: policies.clone(),
                system_keys: keys.system.clone(),
                coordinator_context: CONTEXT.to_owned(),
                transcryptors: pinned_transcryptors.clone(),
                coordinator: pinned_coordinator.clone(),
                data_dir: data(&partner.id),
                database_url: fresh_database(options.postgres.as_deref(), &mut databases).await?,
                secret: None,
                tls: tls(&partner.id),
                governance: witnessed(
                    &partner.id,
                    [coordinator.clone()]
                        .into_iter()
                        .chain(transcryptors.first().cloned())
                        .collect(),
                ),
                telemetry: telemetry.clone(),
                limits: Default::default(),
                metrics: metrics(options.metrics)?,
            });
            roles.insert(partner.id.clone(), Role::new(&path, &partner.id, settings)?);
        }
        let mut chain = Self {
            dir: Some(dir),
            path,
            policy,
            roles,
            run,
            databases,
        };
        let names: Vec<String> = chain.roles.keys().cloned().collect();
        for name in &names {
            chain.launch(name)?;
        }
        for name in &names {
            chain.wait_healthy(name, Duration::from_secs(60)).await?;
        }
        Ok(chain)
    }

    /// The chain's directory (keys/, certs/, data/, policies/, the roles' configurations and
    /// logs).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Keeps the chain's directory, and its PostgreSQL databases, after the chain is dropped;
    /// returns where the directory is.
    pub fn keep(&mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        for db in &mut self.databases {
            db.keep();
        }
        self.path.clone()
    }

    /// The chain's copy of the policy set, which every role reads.
    pub fn policies(&self) -> PathBuf {
        self.path.join("policies")
    }

    pub fn certs(&self) -> PathBuf {
        self.path.join("certs")
    }

    /// The certificate files of `identity` (any organisation of the policy set).
    pub fn tls(&self, identity: &str) -> TlsFiles {
        dev_tls(&self.certs(), identity)
    }

    fn role(&self, name: &str) -> Result<&Role> {
        self.roles
            .get(name)
            .with_context(|| format!("the chain has no role `{name}`"))
    }

    /// Writes the configuration of `signaalnet analyst` for `identity` (its certificate; the
    /// coordinator's URL pinned to the coordinator's OIN) into the chain's directory; returns
    /// its path.
    pub fn analyst_config(&self, identity: &str) -> Result<PathBuf> {
        #[derive(serde::Serialize)]
        struct AnalystConfig {
            coordinator: RoleUrl,
            tls: TlsFiles,
        }
        let oin = self
            .policy
            .partners()
            .find(|p| p.role == signaalnet_policy::PartnerRole::Coordinator)
            .and_then(|p| p.oins.first())
            .context("the policy set has no coordinator with an OIN")?;
        let config = AnalystConfig {
            coordinator: RoleUrl::Pinned(PinnedUrl {
                url: self.role("coordinator")?.url.clone(),
                oin: Oin::parse(oin)?,
            }),
            tls: self.tls(identity),
        };
        let text = format!(
            "# signaalnet analyst --config <this file> hits|hit|monitor …\n{}",
            toml::to_string(&config)?
        );
        let path = self.path.join(format!("analyst-{identity}.toml"));
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// `coordinator`, `node` or `transcryptor`.
    pub fn kind(&self, role: &str) -> Result<&'static str> {
        Ok(self.role(role)?.kind.command())
    }

    /// The partners running a node.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.roles
            .values()
            .filter(|r| r.kind == RoleKind::Node)
            .map(|r| r.name.as_str())
    }

    /// A channel to `role`, presenting `as_identity`'s certificate.
    pub fn channel(&self, role: &str, as_identity: &str) -> Result<Channel> {
        Ok(signaalnet_service::channel(
            &self.role(role)?.url,
            &self.tls(as_identity),
        )?)
    }

    /// The partner API of `partner`'s node, called with that partner's certificate.
    pub fn partner(&self, partner: &str) -> Result<PartnerServiceClient<Channel>> {
        Ok(PartnerServiceClient::new(self.channel(partner, partner)?))
    }

    /// The coordinator's analyst API, called with `as_identity`'s certificate.
    pub fn analyst(&self, as_identity: &str) -> Result<AnalystServiceClient<Channel>> {
        Ok(AnalystServiceClient::new(
            self.channel("coordinator", as_identity)?,
        ))
    }

    /// What a role reports about itself (RoleService), asked with a node's certificate.
    pub async fn role_info(&self, role: &str) -> Result<pb::RoleInfo> {
        let asker = self.nodes().next().context("no partner nodes")?.to_owned();
        Ok(RoleServiceClient::new(self.channel(role, &asker)?)
            .get_role_info(pb::GetRoleInfoRequest {})
            .await?
            .into_inner())
    }

    /// Where `role` stores its data: its SQLite file or its PostgreSQL database.
    pub fn location(&self, role: &str) -> Result<Location> {
        Ok(match &self.role(role)?.settings {
            RoleConfig::Transcryptor(c) => c.location()?,
            RoleConfig::Coordinator(c) => c.location()?,
            RoleConfig::Node(c) => c.location()?,
        })
    }

    /// Where `role` serves its metrics (`GET /metrics`).
    pub fn metrics_address(&self, role: &str) -> Result<SocketAddr> {
        let config = match &self.role(role)?.settings {
            RoleConfig::Transcryptor(c) => &c.metrics,
            RoleConfig::Coordinator(c) => &c.metrics,
            RoleConfig::Node(c) => &c.metrics,
        };
        config
            .listen
            .with_context(|| format!("{role} serves no metrics"))
    }

    /// `role`'s metrics now, in the OpenMetrics text format.
    pub async fn scrape(&self, role: &str) -> Result<String> {
        let addr = self.metrics_address(role)?;
        signaalnet_telemetry::metrics::http::scrape(addr)
            .await
            .with_context(|| format!("scraping the metrics of {role} at {addr}"))
    }

    pub fn database_url(&self, role: &str) -> Option<&str> {
        self.roles.get(role)?.database_url.as_deref()
    }

    /// The roles running as processes: their names and process ids.
    pub fn processes(&self) -> Vec<(String, u32)> {
        self.roles
            .values()
            .filter_map(|r| match &r.running {
                Running::Process(child) => Some((r.name.clone(), child.id())),
                _ => None,
            })
            .collect()
    }

    /// Every log line a role (run as a process) printed so far.
    pub fn log(&self, role: &str) -> Result<String> {
        let path = &self.role(role)?.log;
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }

    /// Runs `signaalnet <args>` with the chain's executable; returns (exit code, stdout,
    /// stderr).
    pub fn cli(&self, args: &[&str]) -> Result<(i32, String, String)> {
        let Run::Processes { exe, .. } = &self.run else {
            anyhow::bail!("a chain run in this process has no executable to run");
        };
        run_command(exe, args)
    }

    /// `signaalnet audit <verb> --role <kind> --config <role's configuration> <extra>`.
    pub fn audit(&self, verb: &str, role: &str, extra: &[&str]) -> Result<(i32, String, String)> {
        let r = self.role(role)?;
        let config = r.config.display().to_string();
        let mut args = vec![
            "audit",
            verb,
            "--role",
            r.kind.command(),
            "--config",
            &config,
        ];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// The hit notifications `partner` has been sent so far (WatchHits from the start, until
    /// the stream is quiet for 400 ms).
    pub async fn hits_of(&self, partner: &str) -> Result<Vec<pb::HitNotification>> {
        let mut stream = self
            .partner(partner)?
            .watch_hits(pb::WatchHitsRequest::default())
            .await?
            .into_inner();
        let mut all = Vec::new();
        while let Ok(Ok(Some(item))) =
            tokio::time::timeout(Duration::from_millis(400), stream.message()).await
        {
            all.push(item);
        }
        Ok(all)
    }
}

/// The files `write_dev_pki` wrote for `id`, with the CA's revocation list (which
/// `signaalnet certs revoke --out <certs>` rewrites; every role reads it again with its policy
/// set).
fn dev_tls(certs: &Path, id: &str) -> TlsFiles {
    TlsFiles {
        ca: certs.join(signaalnet_tls::dev::CA_CERT),
        cert: certs.join(format!("{id}.pem")),
        key: certs.join(format!("{id}.key")),
        crl: vec![certs.join(signaalnet_tls::dev::CA_CRL)],
    }
}

/// The URL of the role of partner `id` listening on `listen`, pinned to the partner's OIN.
fn pinned(policy: &PolicySet, id: &str, listen: SocketAddr) -> Result<RoleUrl> {
    let oin = policy
        .partners()
        .find(|p| p.id == id)
        .and_then(|p| p.oins.first())
        .with_context(|| format!("the policy set gives `{id}` no OIN"))?;
    Ok(RoleUrl::Pinned(PinnedUrl {
        url: url(listen),
        oin: Oin::parse(oin)?,
    }))
}

/// With `serve`, a role serves its metrics on a loopback port of its own.
fn metrics(serve: bool) -> Result<signaalnet_telemetry::metrics::MetricsConfig> {
    Ok(signaalnet_telemetry::metrics::MetricsConfig {
        listen: if serve { Some(free_address()?) } else { None },
    })
}

fn url(listen: SocketAddr) -> String {
    format!("https://{listen}")
}

fn signaalnet_telemetry_config(
    otlp_endpoint: Option<&str>,
) -> signaalnet_telemetry::export::TelemetryConfig {
    let mut config = signaalnet_telemetry::export::TelemetryConfig::default();
    if let Some(url) = otlp_endpoint {
        config.otlp_endpoint = Some(url.to_owned());
        config.otlp_batch_delay_ms = 100;
    }
    config
}

/// A fresh database on the server of `admin` for one role, kept in `databases` to be dropped
/// with the chain (or when starting it fails); `None` for SQLite.
async fn fresh_database(
    admin: Option<&str>,
    databases: &mut Vec<ScratchDatabase>,
) -> Result<Option<String>> {
    match admin {
        Some(admin) => {
            let db = ScratchDatabase::create(admin).await?;
            let url = db.url().to_owned();
            databases.push(db);
            Ok(Some(url))
        }
        None => Ok(None),
    }
}

/// A loopback address for a role to listen on, below the kernel's ephemeral range
/// (32768–60999 on Linux). A port taken with `bind(0)` and released could be handed out again
/// before the role binds it (to another chain's role, or as a client connection's local port);
/// ports counted out here are never given by `bind(0)`, and each is given once per process.
pub fn free_address() -> Result<SocketAddr> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % 12_000;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        anyhow::ensure!(n < 12_000, "out of loopback ports");
        let port = 20_000 + u16::try_from((start + n) % 12_000)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if std::net::TcpListener::bind(addr).is_ok() {
            return Ok(addr);
        }
    }
}
