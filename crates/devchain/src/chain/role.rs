//! One role of a development chain: its configuration (written to the file its command reads)
//! and how it runs, as a task of this process or as a `signaalnet` process.

use super::url;
use anyhow::{Context, Result};
use signaalnet_coordinator::role::CoordinatorConfig;
use signaalnet_node::role::NodeConfig;
use signaalnet_runtime::StartError;
use signaalnet_transcryptor::role::TranscryptorConfig;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which role a [`Role`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    Transcryptor,
    Coordinator,
    Node,
}

impl RoleKind {
    /// The subcommand that runs it (and `audit --role` takes).
    pub fn command(self) -> &'static str {
        match self {
            Self::Transcryptor => "transcryptor",
            Self::Coordinator => "coordinator",
            Self::Node => "node",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum RoleConfig {
    Transcryptor(TranscryptorConfig),
    Coordinator(CoordinatorConfig),
    Node(NodeConfig),
}

pub(crate) enum Running {
    Stopped,
    Task {
        stop: watch::Sender<bool>,
        task: JoinHandle<Result<(), StartError>>,
    },
    Process(Child),
}

/// One role of the chain.
pub struct Role {
    /// Its id in the policy set (`coordinator` for the coordinator).
    pub name: String,
    pub kind: RoleKind,
    /// Its configuration file (what `signaalnet <role> --config` reads).
    pub config: PathBuf,
    /// Its log, when it runs as a process.
    pub log: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// Its PostgreSQL database, if it has one.
    pub database_url: Option<String>,
    /// Where it keeps its SQLite database and its secrets.
    pub data_dir: PathBuf,
    pub(crate) settings: RoleConfig,
    pub(crate) running: Running,
}

impl Role {
    /// Writes the role's configuration file (what its command reads).
    pub(crate) fn new(dir: &Path, name: &str, settings: RoleConfig) -> Result<Self> {
        let config = dir.join(format!("{name}.toml"));
        let (kind, text, listen, database_url, data_dir) = match &settings {
            RoleConfig::Transcryptor(c) => (
                RoleKind::Transcryptor,
                toml::to_string(c)?,
                c.listen,
                c.database_url.clone(),
                c.data_dir.clone(),
            ),
            RoleConfig::Coordinator(c) => (
                RoleKind::Coordinator,
                toml::to_string(c)?,
                c.listen,
                c.database_url.clone(),
                c.data_dir.clone(),
            ),
            RoleConfig::Node(c) => (
                RoleKind::Node,
                toml::to_string(c)?,
                c.listen,
                c.database_url.clone(),
                c.data_dir.clone(),
            ),
        };
        std::fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
        Ok(Self {
            name: name.to_owned(),
            kind,
            config,
            log: dir.join(format!("{name}.log")),
            url: url(listen),
            database_url,
            data_dir,
            settings,
            running: Running::Stopped,
        })
    }

    pub(crate) fn spawn_task(&self) -> Result<Running> {
        let listen = match &self.settings {
            RoleConfig::Transcryptor(c) => c.listen,
            RoleConfig::Coordinator(c) => c.listen,
            RoleConfig::Node(c) => c.listen,
        };
        // Bound here, so the address is taken before this returns.
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("listening on {listen}"))?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (stop, mut stopped) = watch::channel(false);
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let task = match self.settings.clone() {
            RoleConfig::Transcryptor(c) => {
                tokio::spawn(signaalnet_transcryptor::role::run(c, listener, shutdown))
            }
            RoleConfig::Coordinator(c) => {
                tokio::spawn(signaalnet_coordinator::role::run(c, listener, shutdown))
            }
            RoleConfig::Node(c) => tokio::spawn(signaalnet_node::role::run(c, listener, shutdown)),
        };
        Ok(Running::Task { stop, task })
    }

    pub(crate) fn spawn_process(&self, exe: &Path, log_level: &str) -> Result<Running> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(exe)
            .arg(self.kind.command())
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", log_level)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting the {} process", self.name))?;
        Ok(Running::Process(child))
    }
}

/// Runs `exe <args>`; returns (exit code, stdout, stderr).
pub fn run_command(exe: &Path, args: &[&str]) -> Result<(i32, String, String)> {
    let out = Command::new(exe)
        .args(args)
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}
