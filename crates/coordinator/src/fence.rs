//! One coordinator at a time: the writer fence.
//!
//! Two coordinator processes on one database (a rolling update that starts the new pod before
//! the old one stops, a mistaken second replica) would each match from their own memory and
//! write diverging or duplicate hits. So a coordinator matches only while it holds the fence,
//! and every write transaction proves that it still does.
//!
//! - **Whose turn** ([`wait_for_turn`]): on PostgreSQL a session-level advisory lock
//!   (`pg_try_advisory_lock`) on a connection of its own, held for as long as the process runs;
//!   on SQLite an exclusive `flock` on `<database>.lock` beside the file (SQLite is one machine's
//!   file, so the lock is that machine's). A second process waits, trying every
//!   [`STANDBY_POLL`], and takes over when the lock is released: the holder stopped, was killed
//!   (the kernel closes its socket and PostgreSQL ends its session) or lost its connection.
//! - **Taking over** ([`Turn::take_over`]): the new holder raises the epoch of the one row of
//!   `coord_fence`, committed before it loads anything, and writes under that epoch.
//! - **Every write** ([`Fence::check`]): each write transaction of the coordinator first reads
//!   the row (`FOR SHARE` on PostgreSQL) and rolls back unless the epoch is still its own.
//!
//! Why the epoch and not the advisory lock alone: the lock says who may *start*; it cannot stop
//! a process whose lock connection dropped while its pool connections still work (a network
//! blip, a terminated backend). Between the lock's release and the check of its next
//! transaction such a process would go on writing beside its successor. With the epoch it
//! cannot: the successor's raise waits for every transaction holding the row `FOR SHARE` (those
//! already past their check) to end, and every transaction after it sees the new epoch and rolls
//! back. The successor loads its matcher after the raise, so it sees everything the old holder
//! committed, and the old holder commits nothing after. The old process notices (a failed check,
//! or its lock connection failing its ping every [`PING_EVERY`]), stops serving and exits with an
//! error; its orchestrator restarts it, and it waits as the standby.

use crate::CoordinatorError;
use signaalnet_store::{Location, Store};
use sqlx::{Any, Connection, Row, Transaction};
use std::time::Duration;
use tokio::sync::watch;

/// The advisory lock's key: "signaal" and 1. Advisory locks are per database, so coordinators
/// of different databases on one server do not share it.
pub const LOCK_KEY: i64 = 0x7369_676e_6161_6c01;

/// How often a standby tries to take the lock.
pub const STANDBY_POLL: Duration = Duration::from_secs(1);

/// How often the holder checks that its lock connection (and so its lock) is still there.
pub const PING_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error("the lock file {path}: {source}")]
    LockFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the fence's lock connection: {0}")]
    Connection(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] signaalnet_store::StoreError),
}

/// The lock, held: this process's turn to write. It is released when dropped.
pub struct Turn {
    lock: Lock,
}

enum Lock {
    File(std::fs::File),
    Postgres(sqlx::AnyConnection),
}

/// Waits until this process holds the coordinator's lock for the database at `location`
/// (logging once that it waits as the standby).
pub async fn wait_for_turn(location: &Location) -> Result<Turn, FenceError> {
    let mut said = false;
    loop {
        if let Some(turn) = try_turn(location).await? {
            if said {
                tracing::info!("coordinator lock released by the other process; taking over");
            }
            return Ok(turn);
        }
        if !said {
            tracing::info!(
                database = %location.describe(),
                "another coordinator holds this database; waiting as the standby"
            );
            said = true;
        }
        tokio::time::sleep(STANDBY_POLL).await;
    }
}

async fn try_turn(location: &Location) -> Result<Option<Turn>, FenceError> {
    match location {
        Location::Sqlite(path) => {
            if let Some(dir) = path.parent() {
                signaalnet_store::private_dir(dir).map_err(|source| FenceError::LockFile {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            let mut name = path.as_os_str().to_owned();
            name.push(".lock");
            let lock_path = std::path::PathBuf::from(name);
            let file = signaalnet_runtime::files::try_lock(&lock_path).map_err(|source| {
                FenceError::LockFile {
                    path: lock_path.display().to_string(),
                    source,
                }
            })?;
            Ok(file.map(|f| Turn {
                lock: Lock::File(f),
            }))
        }
        Location::Postgres(url) => {
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(url).await?;
            let held: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS held")
                .bind(LOCK_KEY)
                .fetch_one(&mut conn)
                .await?
                .get("held");
            if held {
                Ok(Some(Turn {
                    lock: Lock::Postgres(conn),
                }))
            } else {
                let _ = conn.close().await;
                Ok(None)
            }
        }
    }
}

impl Turn {
    /// Raises the fence's epoch in `store` (committed before this returns) and starts watching
    /// the lock: the fence every write of the coordinator checks from now on.
    pub async fn take_over(self, store: &Store) -> Result<Fence, FenceError> {
        let holder = format!(
            "pid {} on {}",
            std::process::id(),
            std::env::var("HOSTNAME").unwrap_or_else(|_| "this host".to_owned())
        );
        let mut w = store.write().await?;
        let epoch: i64 = sqlx::query(
            "INSERT INTO coord_fence (id, epoch, holder, since) VALUES (1, 1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET epoch = coord_fence.epoch + 1, \
             holder = excluded.holder, since = excluded.since RETURNING epoch",
        )
        .bind(holder.chars().take(200).collect::<String>())
        .bind(signaalnet_store::now())
        .fetch_one(&mut *w.tx)
        .await?
        .get("epoch");
        w.commit().await?;
        let (lost, _) = watch::channel(false);
        let keeper = match self.lock {
            Lock::File(file) => tokio::spawn(async move {
                // Held until this task ends: a local lock is not lost while the process lives.
                let _file = file;
                std::future::pending::<()>().await;
            }),
            Lock::Postgres(conn) => tokio::spawn(keep(conn, lost.clone())),
        };
        tracing::info!(epoch, "coordinator holds the writer fence");
        Ok(Fence {
            held: Some(Held {
                epoch,
                postgres: store.dialect() == signaalnet_store::Dialect::Postgres,
                lost,
                keeper,
            }),
        })
    }
}

/// Pings the lock connection until it fails; then the fence is lost.
async fn keep(mut conn: sqlx::AnyConnection, lost: watch::Sender<bool>) {
    loop {
        tokio::time::sleep(PING_EVERY).await;
        match tokio::time::timeout(PING_EVERY * 5, conn.ping()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the coordinator's lock connection failed: another coordinator may take over; stopping");
                lost.send_replace(true);
                return;
            }
            Err(_) => {
                tracing::error!("the coordinator's lock connection did not answer: another coordinator may take over; stopping");
                lost.send_replace(true);
                return;
            }
        }
    }
}

/// The fence every write transaction of the coordinator checks ([`Fence::check`]).
#[derive(Default)]
pub struct Fence {
    held: Option<Held>,
}

struct Held {
    epoch: i64,
    postgres: bool,
    lost: watch::Sender<bool>,
    keeper: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fence")
            .field("epoch", &self.epoch())
            .finish()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Releases the lock (the file closes, the session ends).
        self.keeper.abort();
    }
}

impl Fence {
    /// No fence: every write goes ahead (a coordinator built in a test, one per database).
    pub fn none() -> Self {
        Self::default()
    }

    /// The epoch this process writes under (0 without a fence).
    pub fn epoch(&self) -> i64 {
        self.held.as_ref().map_or(0, |h| h.epoch)
    }

    /// Fails unless this process still holds the fence, inside `tx` (so the answer holds until
    /// `tx` ends: on PostgreSQL the row is read `FOR SHARE`, which a successor's raise of the
    /// epoch waits for).
    pub async fn check(&self, tx: &mut Transaction<'static, Any>) -> Result<(), CoordinatorError> {
        let Some(held) = &self.held else {
            return Ok(());
        };
        if *held.lost.borrow() {
            return Err(CoordinatorError::Fenced(held.epoch));
        }
        let sql = if held.postgres {
            "SELECT epoch FROM coord_fence WHERE id = 1 FOR SHARE"
        } else {
            "SELECT epoch FROM coord_fence WHERE id = 1"
        };
        let now: Option<i64> = sqlx::query(sql)
            .fetch_optional(&mut **tx)
            .await?
            .map(|row| row.get("epoch"));
        if now != Some(held.epoch) {
            tracing::error!(
                epoch = held.epoch,
                now = now.unwrap_or(0),
                "another coordinator took over this database; stopping"
            );
            held.lost.send_replace(true);
            return Err(CoordinatorError::Fenced(held.epoch));
        }
        Ok(())
    }

    /// Resolves once the fence is lost (never without one).
    pub async fn lost(&self) {
        match &self.held {
            Some(held) => {
                let mut lost = held.lost.subscribe();
                let _ = lost.wait_for(|l| *l).await;
            }
            None => std::future::pending().await,
        }
    }

    /// Whether the fence has been lost.
    pub fn is_lost(&self) -> bool {
        self.held.as_ref().is_some_and(|h| *h.lost.borrow())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn on_sqlite_one_process_holds_the_database_and_each_takeover_raises_the_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::for_role(dir.path(), "coordinator", None).unwrap();
        let store = crate::open_store(&location).await.unwrap();
        let first = try_turn(&location).await.unwrap().unwrap();
        assert!(
            try_turn(&location).await.unwrap().is_none(),
            "a second holder while the first holds"
        );
        let fence = first.take_over(&store).await.unwrap();
        assert_eq!(fence.epoch(), 1);
        let mut w = store.write().await.unwrap();
        fence.check(&mut w.tx).await.unwrap();
        drop(w);
        assert!(try_turn(&location).await.unwrap().is_none());

        // Released (the holder's end), the next one takes over; the old fence fails its checks.
        let stale_epoch = Fence {
            held: fence.held.as_ref().map(|h| Held {
                epoch: h.epoch,
                postgres: false,
                lost: watch::channel(false).0,
                keeper: tokio::spawn(async {}),
            }),
        };
        drop(fence);
        tokio::task::yield_now().await;
        let second = wait_for_turn(&location).await.unwrap();
        let fence = second.take_over(&store).await.unwrap();
        assert_eq!(fence.epoch(), 2);
        let mut w = store.write().await.unwrap();
        assert!(matches!(
            stale_epoch.check(&mut w.tx).await,
            Err(CoordinatorError::Fenced(1))
        ));
        assert!(stale_epoch.is_lost());
        fence.check(&mut w.tx).await.unwrap();
    }
}
