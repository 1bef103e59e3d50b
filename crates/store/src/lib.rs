//! Storage for every role: SQLite embedded by default (one file per role under a data directory),
//! PostgreSQL by URL. One code path through sqlx's `Any` driver; the schema differs per dialect
//! only where the dialects differ (identity columns, byte columns) and lives in
//! `migrations/sqlite` and `migrations/postgres`.
//!
//! Queries use `$1, $2, …` placeholders, which both SQLite and PostgreSQL accept. Writes go
//! through [`Store::write`], which serialises writers inside the process: SQLite allows one writer
//! at a time and would otherwise answer a second one with "database is locked".
#![forbid(unsafe_code)]

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Transaction};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database URL must start with postgres:// or postgresql:// (got scheme `{0}`)")]
    UnsupportedUrl(String),
    #[error("opening the database: {0}")]
    Connect(sqlx::Error),
    #[error("migrating the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
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
    /// Opens (creating if needed) and migrates the database.
    pub async fn open(location: &Location) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, dialect, max) = match location {
            Location::Sqlite(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
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
                    if dialect == Dialect::Sqlite {
                        use sqlx::Executor;
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                             PRAGMA synchronous = NORMAL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(StoreError::Connect)?;
        match dialect {
            Dialect::Sqlite => SQLITE.run(&pool).await?,
            Dialect::Postgres => POSTGRES.run(&pool).await?,
        }
        tracing::info!(database = %location.describe(), "database open and migrated");
        Ok(Self {
            pool,
            dialect,
            writer: Mutex::new(()),
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

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// For tests against a real PostgreSQL: creates an empty database with a random name on the
/// server of `admin_url` and returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> Result<String, StoreError> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!(
        "signaalnet_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let mut conn = sqlx::AnyConnection::connect(admin_url)
        .await
        .map_err(StoreError::Connect)?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let (base, _) = match admin_url.rsplit_once('/') {
        Some((base, db)) if !base.ends_with('/') => (base, db),
        _ => (admin_url.trim_end_matches('/'), ""),
    };
    Ok(format!("{base}/{name}"))
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
