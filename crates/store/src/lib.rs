//! Storage for every role: SQLite embedded by default (one file per role under a data directory),
//! PostgreSQL by URL. One code path through sqlx's `Any` driver.
//!
//! This crate holds no tables of its own. Each crate that queries tables owns their schema as
//! [`Migrations`] (per dialect: they differ only where the dialects differ, in identity and byte
//! columns), and a role opens its database with the sets it uses: its own tables and those of
//! the libraries it runs (audit trail, quotas). So a node's database holds no coordinator table.
//! Each owner numbers its migrations in its own range (audit 1xxx, service 2xxx, node 3xxx,
//! coordinator 4xxx) because sqlx keeps one version history per database.
//!
//! Queries use `$1, $2, …` placeholders, which both SQLite and PostgreSQL accept. Writes go
//! through [`Store::write`], which serialises writers inside the process: SQLite allows one writer
//! at a time and would otherwise answer a second one with "database is locked".
#![forbid(unsafe_code)]

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Transaction};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// One migration file of an owner of tables, `<version>_<description>.sql`, embedded in the
/// binary by [`migrations!`].
#[derive(Debug)]
pub struct Script {
    pub file: &'static str,
    pub sql: &'static str,
}

/// The schema of one owner of tables, per dialect; written with [`migrations!`].
#[derive(Debug)]
pub struct Migrations {
    pub sqlite: &'static [Script],
    pub postgres: &'static [Script],
}

/// The calling crate's migrations: each named file from its `migrations/sqlite/` and
/// `migrations/postgres/` folders, embedded at compile time (`include_str!`, so a changed file
/// rebuilds the crate). `migrations!["3001_node.sql"]`.
///
/// sqlx's own `migrate!` does the same from a folder, but needs sqlx's `macros` feature, which
/// builds sqlx, its drivers and tokio a second time for the compiler (a tenth of a cold build).
#[macro_export]
macro_rules! migrations {
    ($($file:literal),+ $(,)?) => {
        $crate::Migrations {
            sqlite: &[$($crate::Script {
                file: $file,
                sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite/", $file)),
            }),+],
            postgres: &[$($crate::Script {
                file: $file,
                sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres/", $file)),
            }),+],
        }
    };
}

impl Migrations {
    fn for_dialect(&self, dialect: Dialect) -> &'static [Script] {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

impl Script {
    /// As sqlx's `migrate!` reads a file: version and description from its name, the checksum
    /// from its text.
    fn migration(&self) -> Result<sqlx::migrate::Migration, StoreError> {
        let bad = || StoreError::MigrationName(self.file.to_owned());
        let stem = self.file.strip_suffix(".sql").ok_or_else(bad)?;
        let (version, description) = stem.split_once('_').ok_or_else(bad)?;
        Ok(sqlx::migrate::Migration::new(
            version.parse().map_err(|_| bad())?,
            Cow::Owned(description.replace('_', " ")),
            sqlx::migrate::MigrationType::Simple,
            Cow::Borrowed(self.sql),
            false,
        ))
    }
}

/// One migrator over every set, in version order. Two sets that use one version would make
/// sqlx run only one of them (or refuse a database the other migrated), so that is an error.
fn merge(sets: &[&Migrations], dialect: Dialect) -> Result<Migrator, StoreError> {
    let mut all = sets
        .iter()
        .flat_map(|set| set.for_dialect(dialect))
        .map(Script::migration)
        .collect::<Result<Vec<_>, _>>()?;
    all.sort_by_key(|m| m.version);
    if let Some(pair) = all.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(StoreError::DuplicateVersion(pair[0].version));
    }
    Ok(Migrator {
        migrations: Cow::Owned(all),
        ..Migrator::DEFAULT
    })
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("migration file `{0}`: the name must be <version>_<description>.sql")]
    MigrationName(String),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database URL must start with postgres:// or postgresql:// (got scheme `{0}`)")]
    UnsupportedUrl(String),
    #[error("opening the database: {0}")]
    Connect(sqlx::Error),
    #[error("two schemas both number a migration {0}")]
    DuplicateVersion(i64),
    #[error("migrating the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("the write-ahead log could not be checkpointed: readers kept it busy")]
    Busy,
}

/// Which database a role uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server.
    Postgres(String),
}

impl Location {
    /// PostgreSQL when `url` is given, otherwise `<data_dir>/<role>.db`.
    pub fn for_role(data_dir: &Path, role: &str, url: Option<&str>) -> Result<Self, StoreError> {
        match url {
            Some(url) => {
                let scheme = url.split("://").next().unwrap_or_default();
                if scheme == "postgres" || scheme == "postgresql" {
                    Ok(Self::Postgres(url.to_owned()))
                } else {
                    Err(StoreError::UnsupportedUrl(scheme.to_owned()))
                }
            }
            None => Ok(Self::Sqlite(data_dir.join(format!("{role}.db")))),
        }
    }

    /// Where, without credentials: safe to log.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite {}", path.display()),
            Self::Postgres(url) => {
                let host = url.rsplit('@').next().unwrap_or(url);
                let host = host.split("://").last().unwrap_or(host);
                format!("postgresql {host}")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A migrated database and the in-process writer lock.
#[derive(Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    writer: Mutex<()>,
    /// Deleted content may still be in the write-ahead log: a scrub is due ([`Store::scrub`]).
    unscrubbed: std::sync::atomic::AtomicBool,
}

/// A write transaction; holds the writer lock until committed or dropped (dropping rolls back).
pub struct Write<'a> {
    pub tx: Transaction<'static, Any>,
    _guard: MutexGuard<'a, ()>,
}

impl Write<'_> {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Opens (creating if needed) the database and applies the migrations of every set in
    /// `schemas`. A database is always opened with the same sets: sqlx refuses one that holds
    /// a migration none of them knows.
    pub async fn open(location: &Location, schemas: &[&Migrations]) -> Result<Self, StoreError> {
        let store = Self::connect(location, Access::ReadWrite).await?;
        merge(schemas, store.dialect)?.run(&store.pool).await?;
        tracing::info!(database = %location.describe(), "database open and migrated");
        Ok(store)
    }

    /// Opens an existing database only to read it: no file is created, no migration runs and
    /// every transaction is read-only (`signaalnet audit verify` and `show` on a live role's
    /// database, or on a copy an auditor was given).
    pub async fn open_read_only(location: &Location) -> Result<Self, StoreError> {
        Self::connect(location, Access::ReadOnly).await
    }

    async fn connect(location: &Location, access: Access) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let read_only = access == Access::ReadOnly;
        let (url, dialect, max) = match location {
            Location::Sqlite(path) => {
                let mode = if read_only {
                    "ro"
                } else {
                    if let Some(dir) = path.parent() {
                        private_dir(dir).map_err(|source| StoreError::DataDir {
                            path: dir.display().to_string(),
                            source,
                        })?;
                    }
                    "rwc"
                };
                (
                    format!("sqlite://{}?mode={mode}", path.display()),
                    Dialect::Sqlite,
                    4,
                )
            }
            Location::Postgres(url) => (url.clone(), Dialect::Postgres, 8),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    match (dialect, read_only) {
                        // A page cache of 16 MiB per connection instead of SQLite's 2 MiB: the
                        // outbox's and the trail's indexes outgrow 2 MiB within ~100k signals,
                        // after which every insert read its index pages back from the OS
                        // (~70 reads per signal at 300k) and a bulk load slowed down as it went.
                        // `secure_delete`: deleted content is overwritten with zeros, not left
                        // in free pages for whoever copies the file (see [`Store::scrub`]).
                        (Dialect::Sqlite, false) => {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                                 PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384; \
                                 PRAGMA secure_delete = ON;",
                            )
                            .await?;
                        }
                        (Dialect::Sqlite, true) => {
                            conn.execute("PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;")
                                .await?;
                        }
                        (Dialect::Postgres, true) => {
                            conn.execute("SET default_transaction_read_only = on")
                                .await?;
                        }
                        (Dialect::Postgres, false) => {}
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(StoreError::Connect)?;
        Ok(Self {
            pool,
            dialect,
            writer: Mutex::new(()),
            unscrubbed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Begins a write transaction, after any other writer in this process has finished.
    pub async fn write(&self) -> Result<Write<'_>, StoreError> {
        let guard = self.writer.lock().await;
        let tx = self.pool.begin().await?;
        Ok(Write { tx, _guard: guard })
    }

    /// After deleting personal data: makes sure no copy of it is left in the database's
    /// files. SQLite overwrites deleted content in the database file (`secure_delete`), but
    /// the write-ahead log still holds the pages as they were before, until a checkpoint
    /// copies the log into the database and the log is truncated; this does both, waiting
    /// for readers that still need the log. PostgreSQL: nothing to do here (a deleted row's
    /// tuple stays in its page until VACUUM, which autovacuum runs; see docs/THREAT_MODEL.md).
    /// A scrub that fails (readers kept the log busy) stays due: [`Store::scrub_due`] tries
    /// it again.
    pub async fn scrub(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.dialect == Dialect::Sqlite {
            self.unscrubbed.store(true, Ordering::SeqCst);
            use sqlx::Row;
            let _guard = self.writer.lock().await;
            // (busy, log frames, checkpointed frames): busy when a reader kept the checkpoint
            // from finishing within the busy timeout; the next scrub tries again.
            let busy: i64 = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
            if busy != 0 {
                return Err(StoreError::Busy);
            }
            self.unscrubbed.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// [`Store::scrub`] again if the last one did not finish (each role's retention run calls
    /// this); nothing otherwise.
    pub async fn scrub_due(&self) -> Result<(), StoreError> {
        if self.unscrubbed.load(std::sync::atomic::Ordering::SeqCst) {
            self.scrub().await
        } else {
            Ok(())
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

/// Creates `dir` (and its parents) for its owner only (mode 0700). An existing directory is
/// left as it is (it may be shared on purpose, e.g. a mount point), with a warning when others
/// may read it: the files in it are created 0600 anyway (the role's umask, 0077).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            directory = %dir.display(),
            mode = %format!("{mode:04o}"),
            "a data directory others may read; 0700 is advised"
        );
    }
    Ok(())
}

/// The environment variable that names a PostgreSQL administrator's URL for the tests' PostgreSQL
/// half (`postgres://postgres@127.0.0.1:5432/postgres`).
pub const TEST_POSTGRES_ENV: &str = "SIGNAALNET_TEST_POSTGRES_URL";

/// The PostgreSQL administrator's URL the tests run against, from
/// [`TEST_POSTGRES_ENV`]; `None` when it is not set, and then, once per test binary, a line on
/// stderr that says the PostgreSQL tests of this binary pass without running. libtest captures
/// what a test prints with `eprintln!`, so the line is written to the process's stderr itself,
/// where `cargo test` shows it under the binary's `Running …` line.
pub fn test_postgres_url() -> Option<String> {
    static TOLD: std::sync::Once = std::sync::Once::new();
    match std::env::var(TEST_POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            TOLD.call_once(|| {
                use std::io::Write;
                // `tamper-9b59137c7fd28042` → `tamper`: the test file cargo named the binary after.
                let binary = std::env::args()
                    .next()
                    .and_then(|a| {
                        Path::new(&a)
                            .file_stem()
                            .map(|n| n.to_string_lossy().into_owned())
                    })
                    .map(|name| match name.rsplit_once('-') {
                        Some((stem, hash)) if hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                            stem.to_owned()
                        }
                        _ => name,
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "\nSKIPPED: {binary}: the PostgreSQL tests pass without running, \
                     {TEST_POSTGRES_ENV} is not set (README, \"What you need\")"
                );
            });
            None
        }
    }
}

/// What [`ScratchDatabase`] names its databases: this, the creating process's id, and the
/// creation time in nanoseconds since the epoch. The sweep recognises them by it.
const SCRATCH_PREFIX: &str = "signaalnet_test_";

/// Scratch databases older than this are left over from a run that was killed before it could
/// drop them (a test's guard drops its own, also when the test panics).
const SCRATCH_STALE: Duration = Duration::from_secs(3600);

/// An empty database with a fresh name on a PostgreSQL server, made for a test or a bench run,
/// and dropped when this is dropped, also when the test fails (dropped in unwinding), through a
/// connection of its own (whatever runtime the test ran in). Creating the first one in a process
/// also drops the scratch databases older than an hour that nobody is connected to: those of
/// runs killed before their guards ran.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
    kept: bool,
}

impl ScratchDatabase {
    /// Creates the database on the server of `admin_url`, whose user may create databases.
    pub async fn create(admin_url: &str) -> Result<Self, StoreError> {
        use sqlx::Connection;
        static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        sqlx::any::install_default_drivers();
        let nanos = nanos_now();
        let name = format!("{SCRATCH_PREFIX}{}_{nanos}", std::process::id());
        let mut conn = sqlx::AnyConnection::connect(admin_url)
            .await
            .map_err(StoreError::Connect)?;
        if !SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
            // Best effort: a sweep that fails leaves the stale ones to the next run's.
            if let Err(e) = sweep_stale(&mut conn, nanos).await {
                tracing::warn!(error = %e, "sweeping stale scratch databases");
            }
        }
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let base = match admin_url.rsplit_once('/') {
            Some((base, _)) if !base.ends_with('/') => base,
            _ => admin_url.trim_end_matches('/'),
        };
        Ok(Self {
            url: format!("{base}/{name}"),
            admin_url: admin_url.to_owned(),
            name,
            kept: false,
        })
    }

    /// The URL of the database, for a role or a test to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name on the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Leaves the database on the server when this is dropped (a kept chain); returns its URL.
    pub fn keep(&mut self) -> &str {
        self.kept = true;
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        // A thread with a runtime of its own: `drop` may run inside a runtime (which cannot be
        // blocked on again) or after it ended, and during a test's unwinding.
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || -> Result<(), StoreError> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StoreError::Connect(sqlx::Error::Io(e)))?;
            runtime.block_on(drop_database(&admin, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(
                database = %self.name,
                error = %e,
                "scratch database not dropped; the next run's sweep drops it after an hour"
            ),
            Err(_) => tracing::warn!(
                database = %self.name,
                "scratch database not dropped (the dropping thread panicked)"
            ),
        }
    }
}

/// Drops `name`, ending the sessions still connected to it (a role a test aborted). Tried a
/// few times over about three seconds: when many tests run against one server, a connection can
/// be refused for a moment ("too many clients").
async fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let once = || async {
        let mut conn = sqlx::AnyConnection::connect(admin_url)
            .await
            .map_err(StoreError::Connect)?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(())
    };
    let mut wait = Duration::from_millis(100);
    loop {
        match once().await {
            Ok(()) => return Ok(()),
            Err(e) if wait > Duration::from_secs(2) => return Err(e),
            Err(_) => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}

/// Drops the scratch databases on the server of `admin_url` created more than an hour ago (by
/// the time in their names) that nobody is connected to: what runs killed before their guards
/// ran left behind. Returns the names dropped. Without `FORCE`: one still in use (a bench
/// running for hours) is left alone, and so is anything that only looks like a scratch
/// database.
pub async fn sweep_stale_scratch_databases(admin_url: &str) -> Result<Vec<String>, StoreError> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin_url)
        .await
        .map_err(StoreError::Connect)?;
    let dropped = sweep_stale(&mut conn, nanos_now()).await;
    conn.close().await?;
    dropped
}

fn nanos_now() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

async fn sweep_stale(
    conn: &mut sqlx::AnyConnection,
    now_nanos: u128,
) -> Result<Vec<String>, StoreError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'signaalnet\\_test\\_%'",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut dropped = Vec::new();
    for name in names {
        if !scratch_is_stale(&name, now_nanos) {
            continue;
        }
        // In use, or dropped by another run's sweep meanwhile: left to that.
        match sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut *conn)
            .await
        {
            Ok(_) => dropped.push(name),
            Err(e) => {
                tracing::debug!(database = %name, error = %e, "stale scratch database not dropped")
            }
        }
    }
    Ok(dropped)
}

/// Whether `name` is a scratch database's (`signaalnet_test_<pid>_<nanos>`, nothing but digits
/// after the prefix, so it is safe to put into SQL unquoted) created more than
/// [`SCRATCH_STALE`] before `now_nanos`.
fn scratch_is_stale(name: &str, now_nanos: u128) -> bool {
    let Some((pid, created)) = name
        .strip_prefix(SCRATCH_PREFIX)
        .and_then(|rest| rest.split_once('_'))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(created) {
        return false;
    }
    created
        .parse::<u128>()
        .is_ok_and(|created| created.saturating_add(SCRATCH_STALE.as_nanos()) < now_nanos)
}

/// `$first, $first+1, …` for `n` values bound in an `IN (…)` list (both dialects number their
/// parameters so).
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    Clock::system().now()
}

/// The time as a role sees it: the system clock, or a manual clock that tests move forward
/// (retention and expiry are tested without waiting months).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<std::sync::Arc<std::sync::atomic::AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that stands still at `start_ms` (milliseconds since the epoch) until moved.
    pub fn manual(start_ms: i64) -> Self {
        Self {
            manual: Some(std::sync::Arc::new(std::sync::atomic::AtomicI64::new(
                start_ms,
            ))),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(ms) => ms.load(std::sync::atomic::Ordering::SeqCst),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or_default(),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves a manual clock forward; the system clock cannot be moved (returns false).
    pub fn advance(&self, by: Duration) -> bool {
        match &self.manual {
            Some(ms) => {
                let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
                ms.fetch_add(by, std::sync::atomic::Ordering::SeqCst);
                true
            }
            None => false,
        }
    }
}

/// `2026-11-22T10:15:03Z` for milliseconds since the epoch (UTC, proleptic Gregorian), cut to
/// the second. A moment outside the calendar (beyond ±9999 years) is written as its number.
pub fn format_time(ms: i64) -> String {
    match jiff::Timestamp::from_second(ms.div_euclid(1000)) {
        Ok(t) => jiff::tz::Offset::UTC
            .to_datetime(t)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        Err(_) => format!("{ms} ms since the epoch"),
    }
}

/// Milliseconds since the epoch at the start (00:00 UTC) of `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<i64> {
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed {
        return None;
    }
    let date: jiff::civil::Date = text.parse().ok()?;
    let start = jiff::tz::Offset::UTC
        .to_timestamp(date.at(0, 0, 0, 0))
        .ok()?;
    Some(start.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scratch_databases_older_than_an_hour_are_stale() {
        let hour = SCRATCH_STALE.as_nanos();
        let now = 10 * hour;
        let created = 8 * hour;
        assert!(scratch_is_stale(
            &format!("signaalnet_test_42_{created}"),
            now
        ));
        assert!(!scratch_is_stale(
            &format!("signaalnet_test_42_{}", now - hour / 2),
            now
        ));
        // Not ours, or not a name to put into SQL: never dropped.
        for name in [
            format!("signaalnet_test_{created}"),
            format!("signaalnet_test_x_{created}"),
            format!("signaalnet_test_42_{created}; DROP TABLE x"),
            format!("signaalnet_42_{created}"),
            format!("coordinator_42_{created}"),
            "signaalnet_test_".to_owned(),
        ] {
            assert!(!scratch_is_stale(&name, now), "{name}");
        }
    }

    #[test]
    fn dates_round_trip_and_format() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        let ms = parse_date("2026-11-22").unwrap();
        assert_eq!(format_time(ms + 3_723_000), "2026-11-22T01:02:03Z");
        assert_eq!(
            parse_date("2024-02-29").map(format_time).unwrap(),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(parse_date("2025-02-29"), None);
        assert_eq!(parse_date("2025-13-01"), None);
        assert_eq!(parse_date("25-01-01"), None);
        assert_eq!(parse_date("2025-1-01"), None);
        assert_eq!(parse_date("+02025-01-01"), None);
        assert_eq!(format_time(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        assert!(clock.advance(Duration::from_secs(2)));
        assert_eq!(clock.now(), 3);
        assert!(!Clock::system().advance(Duration::from_secs(1)));
    }
}
