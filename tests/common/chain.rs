//! The whole chain as separate `signaalnet` processes on loopback: keys and certificates made by
//! the real commands, one configuration file per role, each role's log in its own file, SQLite
//! in a temporary directory or, with `postgres`, a fresh PostgreSQL database per role.
#![allow(dead_code, clippy::unwrap_used)]

use super::copy_dir;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::analyst_service_client::AnalystServiceClient;
use signaalnet_proto::v1::partner_service_client::PartnerServiceClient;
use signaalnet_tls::TlsFiles;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

pub const PARTNERS: [&str; 4] = [
    "gemeente_groningen",
    "politie_noord_nederland",
    "nla",
    "zvh_groningen",
];
const TRANSCRYPTORS: [&str; 2] = ["transcryptor_vng", "transcryptor_jenv"];
const CONTEXT: &str = "coordinator/test";

pub struct Role {
    pub name: String,
    pub config: PathBuf,
    pub log: PathBuf,
    pub url: String,
    pub database_url: Option<String>,
    command: &'static str,
    child: Option<Child>,
}

pub struct ProcChain {
    pub dir: tempfile::TempDir,
    pub roles: BTreeMap<String, Role>,
    pub postgres: bool,
}

/// A port for a role to listen on, below the kernel's ephemeral range (32768–60999 on Linux).
/// A port taken with `bind(0)` and released could be handed out again before the role binds it
/// (to another test's role or receiver, or as a client connection's local port); ports counted
/// out here are never given by `bind(0)`, and each is given once per test binary (test binaries
/// run one after another).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % 12_000;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < 12_000, "out of test ports");
        let port = 20_000 + ((start + n) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn run(args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{args:?}");
}

fn tls_toml(certs: &Path, name: &str) -> String {
    format!(
        "[tls]\nca = \"{0}/ca.pem\"\ncert = \"{0}/{1}.pem\"\nkey = \"{0}/{1}.key\"\n",
        certs.display(),
        name
    )
}

/// The PostgreSQL admin URL when the PostgreSQL suite should run.
pub fn postgres_url() -> Option<String> {
    std::env::var("SIGNAALNET_TEST_POSTGRES_URL").ok()
}

/// How a chain is started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every role requires a policy set signed by the test's privacy officer
    /// (`<dir>/officer.key`), and looks for a changed set every second.
    pub signed_policy: bool,
    /// Every role exports its processing logs to this OTLP endpoint (every 100 ms).
    pub otlp_endpoint: Option<String>,
}

impl ProcChain {
    /// Starts every role and waits until each answers health checks.
    pub async fn start(postgres: Option<&str>) -> Self {
        Self::start_with(postgres, Options::default()).await
    }

    pub async fn start_with(postgres: Option<&str>, options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        // A copy, so a test may change the set under the running roles.
        let policies = dir.path().join("policies");
        copy_dir(&root.join("policies"), &policies);
        let governance = if options.signed_policy {
            let key = dir.path().join("officer.key");
            run(&["policy", "keygen", "--out", key.to_str().unwrap()]);
            run(&[
                "policy",
                "sign",
                policies.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ]);
            format!(
                "[governance]\npolicy_signers = [\"{}.pub\"]\npolicy_reload_seconds = 1\n",
                key.display()
            )
        } else {
            "[governance]\npolicy_reload_seconds = 1\n".to_owned()
        };
        let governance = match &options.otlp_endpoint {
            Some(url) => format!(
                "{governance}[telemetry]\notlp_endpoint = \"{url}\"\notlp_batch_delay_ms = 100\n"
            ),
            None => governance,
        };
        let keys = dir.path().join("keys");
        let certs = dir.path().join("certs");
        let data = dir.path().join("data");
        run(&[
            "keys",
            "setup",
            "--transcryptors",
            "2",
            "--context",
            CONTEXT,
            "--out",
            keys.to_str().unwrap(),
        ]);
        run(&["certs", "dev", "--out", certs.to_str().unwrap()]);
        let mut roles = BTreeMap::new();
        let database = || async {
            match postgres {
                Some(admin) => Some(
                    signaalnet_store::fresh_postgres_database(admin)
                        .await
                        .unwrap(),
                ),
                None => None,
            }
        };
        let db_line = |url: &Option<String>| {
            url.as_ref()
                .map(|u| format!("database_url = \"{u}\"\n"))
                .unwrap_or_default()
        };
        let mut transcryptor_urls = Vec::new();
        for (i, name) in TRANSCRYPTORS.iter().enumerate() {
            let port = free_port();
            let db = database().await;
            let config = format!(
                "listen = \"127.0.0.1:{port}\"\npolicies = \"{}\"\nkeys = \"{}/transcryptor-{}.json\"\nsystem_keys = \"{}/system.json\"\n\
                 coordinator_context = \"{CONTEXT}\"\nname = \"{name}\"\ndata_dir = \"{}\"\n{}{}",
                policies.display(),
                keys.display(),
                i + 1,
                keys.display(),
                data.join(name).display(),
                db_line(&db),
                tls_toml(&certs, name) + &governance
            );
            let url = format!("https://127.0.0.1:{port}");
            transcryptor_urls.push(format!("\"{url}\""));
            roles.insert(
                name.to_string(),
                Role::new(dir.path(), name, "transcryptor", &config, url, db),
            );
        }
        let transcryptors = transcryptor_urls.join(", ");
        let port = free_port();
        let coordinator_url = format!("https://127.0.0.1:{port}");
        let db = database().await;
        let config = format!(
            "listen = \"127.0.0.1:{port}\"\npolicies = \"{}\"\nsystem_keys = \"{k}/system.json\"\n\
             handle_key = \"{k}/coordinator-handle.key\"\ncoordinator_context = \"{CONTEXT}\"\n\
             transcryptors = [{transcryptors}]\ndata_dir = \"{}\"\n{}{}",
            policies.display(),
            data.join("coordinator").display(),
            db_line(&db),
            tls_toml(&certs, "coordinator_riec") + &governance,
            k = keys.display(),
        );
        roles.insert(
            "coordinator".into(),
            Role::new(
                dir.path(),
                "coordinator",
                "coordinator",
                &config,
                coordinator_url.clone(),
                db,
            ),
        );
        for partner in PARTNERS {
            let port = free_port();
            let db = database().await;
            let config = format!(
                "listen = \"127.0.0.1:{port}\"\npartner = \"{partner}\"\npolicies = \"{}\"\n\
                 system_keys = \"{}/system.json\"\ncoordinator_context = \"{CONTEXT}\"\n\
                 transcryptors = [{transcryptors}]\ncoordinator = \"{coordinator_url}\"\n\
                 data_dir = \"{}\"\n{}{}",
                policies.display(),
                keys.display(),
                data.join(partner).display(),
                db_line(&db),
                tls_toml(&certs, partner) + &governance,
            );
            roles.insert(
                partner.to_string(),
                Role::new(
                    dir.path(),
                    partner,
                    "node",
                    &config,
                    format!("https://127.0.0.1:{port}"),
                    db,
                ),
            );
        }
        let mut chain = Self {
            dir,
            roles,
            postgres: postgres.is_some(),
        };
        for role in chain.roles.values_mut() {
            role.start();
        }
        for name in chain.roles.keys().cloned().collect::<Vec<_>>() {
            chain.wait_healthy(&name).await;
        }
        chain
    }

    pub fn policies(&self) -> PathBuf {
        self.dir.path().join("policies")
    }

    /// `coordinator`, `node` or `transcryptor`.
    pub fn kind(&self, role: &str) -> &'static str {
        self.roles[role].command
    }

    /// What a role reports about itself (RoleService), asked with the gemeente's certificate.
    pub async fn role_info(&self, role: &str) -> pb::RoleInfo {
        use signaalnet_proto::v1::role_service_client::RoleServiceClient;
        RoleServiceClient::new(self.channel(role, "gemeente_groningen"))
            .get_role_info(pb::GetRoleInfoRequest {})
            .await
            .unwrap()
            .into_inner()
    }

    /// Runs `signaalnet <args>` and returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `signaalnet audit <verb> --role <kind> --config <role's config> <extra>`.
    pub fn audit(&self, verb: &str, role: &str, extra: &[&str]) -> (i32, String, String) {
        let config = self.roles[role].config.to_str().unwrap().to_owned();
        let mut args = vec![
            "audit",
            verb,
            "--role",
            self.kind(role),
            "--config",
            &config,
        ];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// Runs `sql` on a role's database (SQLite file or its PostgreSQL database).
    pub async fn execute(&self, role: &str, sql: &str) {
        use sqlx::Connection;
        let mut conn = self.connect_with(role, false).await;
        sqlx::query(sql).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }

    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    pub fn tls(&self, identity: &str) -> TlsFiles {
        let certs = self.certs();
        TlsFiles {
            ca: certs.join("ca.pem"),
            cert: certs.join(format!("{identity}.pem")),
            key: certs.join(format!("{identity}.key")),
        }
    }

    pub fn channel(&self, role: &str, as_identity: &str) -> Channel {
        signaalnet_service::channel(&self.roles[role].url, &self.tls(as_identity)).unwrap()
    }

    pub fn partner(&self, partner: &str) -> PartnerServiceClient<Channel> {
        PartnerServiceClient::new(self.channel(partner, partner))
    }

    pub fn analyst(&self, as_identity: &str) -> AnalystServiceClient<Channel> {
        AnalystServiceClient::new(self.channel("coordinator", as_identity))
    }

    pub async fn wait_healthy(&mut self, role: &str) {
        use tonic_health::pb::health_client::HealthClient;
        use tonic_health::pb::HealthCheckRequest;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut client = HealthClient::new(self.channel(role, "gemeente_groningen"));
        loop {
            if client.check(HealthCheckRequest::default()).await.is_ok() {
                return;
            }
            let r = self.roles.get_mut(role).unwrap();
            if let Some(status) = r.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "{role} exited with {status}: {}",
                    std::fs::read_to_string(&r.log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "{role} not healthy after 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills a role without warning (SIGKILL): whatever it had not committed is gone.
    pub fn kill(&mut self, role: &str) {
        let r = self.roles.get_mut(role).unwrap();
        if let Some(mut child) = r.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub async fn restart(&mut self, role: &str) {
        self.roles.get_mut(role).unwrap().start();
        self.wait_healthy(role).await;
    }

    /// Every log line a role printed so far.
    pub fn log(&self, role: &str) -> String {
        std::fs::read_to_string(&self.roles[role].log).unwrap()
    }

    /// Every byte a role stored: the files in its data directory, or with PostgreSQL every row
    /// of its database as text (byte columns in hex).
    pub async fn stored_bytes(&self, role: &str) -> Vec<u8> {
        let r = &self.roles[role];
        if let Some(url) = &r.database_url {
            use sqlx::{Connection, Row};
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let tables: Vec<String> = sqlx::query(
                "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get("t"))
            .collect();
            let mut out = Vec::new();
            for table in tables {
                for row in sqlx::query(&format!("SELECT t::text AS r FROM \"{table}\" t"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
                {
                    out.extend_from_slice(row.get::<String, _>("r").as_bytes());
                    out.push(b'\n');
                }
            }
            return out;
        }
        let mut out = Vec::new();
        let data = self.dir.path().join("data").join(role);
        collect_files(&data, &mut out);
        out
    }

    /// A connection to a role's database (its SQLite file read-only, or its PostgreSQL
    /// database).
    pub async fn connect(&self, role: &str) -> sqlx::AnyConnection {
        self.connect_with(role, true).await
    }

    async fn connect_with(&self, role: &str, read_only: bool) -> sqlx::AnyConnection {
        use sqlx::Connection;
        let url = match self.database_url(role) {
            Some(url) => url.to_owned(),
            None => {
                let data = self.dir.path().join("data").join(role);
                let file = std::fs::read_dir(&data)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .find(|p| p.extension().is_some_and(|e| e == "db"))
                    .unwrap();
                let mode = if read_only { "?mode=ro" } else { "" };
                format!("sqlite://{}{mode}", file.display())
            }
        };
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&url).await.unwrap()
    }

    pub fn database_url(&self, role: &str) -> Option<&str> {
        self.roles[role].database_url.as_deref()
    }

    /// Waits until `check` holds for a role's hit notifications (WatchHits from the start).
    pub async fn hits_of(&self, partner: &str) -> Vec<pb::HitNotification> {
        let mut client = self.partner(partner);
        let mut all = Vec::new();
        let mut stream = client
            .watch_hits(pb::WatchHitsRequest::default())
            .await
            .unwrap()
            .into_inner();
        while let Ok(Ok(Some(item))) =
            tokio::time::timeout(Duration::from_millis(400), stream.message()).await
        {
            all.push(item);
        }
        all
    }
}

fn collect_files(dir: &Path, out: &mut Vec<u8>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
}

impl Role {
    fn new(
        dir: &Path,
        name: &str,
        command: &'static str,
        config: &str,
        url: String,
        database_url: Option<String>,
    ) -> Self {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, config).unwrap();
        Self {
            name: name.to_owned(),
            config: path,
            log: dir.join(format!("{name}.log")),
            url,
            database_url,
            command,
            child: None,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
            .args([self.command, "--config", self.config.to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }
}

impl Drop for ProcChain {
    fn drop(&mut self) {
        for role in self.roles.values_mut() {
            if let Some(mut child) = role.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
