//! The same queries on SQLite and, when `SIGNAALNET_TEST_POSTGRES_URL` is set, on a real
//! PostgreSQL server: migrations apply, apply again harmlessly, and bytes and identity columns
//! round-trip; schemas of several owners merge, and two that number a migration alike are
//! refused.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_store::{
    sweep_stale_scratch_databases, test_postgres_url, Location, Migrations, ScratchDatabase,
    Script, Store, StoreError,
};
use sqlx::Row;

static TEST: Migrations = Migrations {
    sqlite: &[Script {
        file: "9001_test.sql",
        sql: include_str!("migrations/sqlite/9001_test.sql"),
    }],
    postgres: &[Script {
        file: "9001_test.sql",
        sql: include_str!("migrations/postgres/9001_test.sql"),
    }],
};

async fn exercise(location: Location) {
    let store = Store::open(&location, &[&TEST]).await.unwrap();
    let mut w = store.write().await.unwrap();
    for (i, partner) in ["gemeente_groningen", "nla"].iter().enumerate() {
        sqlx::query("INSERT INTO test_rows (partner_id, payload, created_at) VALUES ($1, $2, $3)")
            .bind(*partner)
            .bind(vec![0u8, 1, 2, 255])
            .bind(i64::try_from(i).unwrap())
            .execute(&mut *w.tx)
            .await
            .unwrap();
    }
    w.commit().await.unwrap();
    // A dropped write transaction leaves nothing behind.
    {
        let mut w = store.write().await.unwrap();
        sqlx::query("INSERT INTO test_state (name, value) VALUES ($1, $2)")
            .bind("cursor")
            .bind("7")
            .execute(&mut *w.tx)
            .await
            .unwrap();
    }
    let rows =
        sqlx::query("SELECT seq, partner_id, payload FROM test_rows WHERE seq > $1 ORDER BY seq")
            .bind(0i64)
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    let first: i64 = rows[0].get("seq");
    let second: i64 = rows[1].get("seq");
    assert!(second > first, "identity column increases");
    assert_eq!(rows[1].get::<String, _>("partner_id"), "nla");
    assert_eq!(rows[0].get::<Vec<u8>, _>("payload"), vec![0u8, 1, 2, 255]);
    let state = sqlx::query("SELECT value FROM test_state")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(state.is_empty(), "rolled-back write is not visible");
    store.close().await;
    // Reopening runs the migrator again without error and keeps the data.
    let store = Store::open(&location, &[&TEST]).await.unwrap();
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM test_rows")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(count, 2);
}

#[tokio::test]
async fn sqlite_file_per_role() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::for_role(dir.path(), "coordinator", None).unwrap();
    assert_eq!(
        location,
        Location::Sqlite(dir.path().join("coordinator.db"))
    );
    exercise(location).await;
    assert!(dir.path().join("coordinator.db").exists());
}

#[tokio::test]
async fn postgresql_over_a_connection() {
    let Some(admin) = test_postgres_url() else {
        return;
    };
    let db = ScratchDatabase::create(&admin).await.unwrap();
    let location =
        Location::for_role(std::path::Path::new("/nonexistent"), "x", Some(db.url())).unwrap();
    assert!(!location.describe().contains("password"));
    exercise(location).await;
}

/// Whether the server of `admin` holds a database `name`.
async fn exists(admin: &str, name: &str) -> bool {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    n == 1
}

/// A test's database goes when the test does, also when it panics while a role (here a store)
/// is still connected to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scratch_database_is_dropped_when_its_test_panics() {
    let Some(admin) = test_postgres_url() else {
        return;
    };
    let db = ScratchDatabase::create(&admin).await.unwrap();
    let name = db.name().to_owned();
    let store = Store::open(&Location::Postgres(db.url().to_owned()), &[])
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (x BIGINT)")
        .execute(store.pool())
        .await
        .unwrap();
    assert!(exists(&admin, &name).await);
    let failing_test = std::thread::spawn(move || {
        let _db = db;
        panic!("a failing test");
    });
    assert!(failing_test.join().is_err());
    assert!(!exists(&admin, &name).await, "{name} is still there");
    store.close().await;
}

/// What a killed run left behind (its guard never ran) goes at the next run's start once it
/// is an hour old; a recent one, possibly another run's in progress, stays.
#[tokio::test]
async fn stale_scratch_databases_are_swept_and_recent_ones_left() {
    use sqlx::Connection;
    let Some(admin) = test_postgres_url() else {
        return;
    };
    let nanos = |ago: std::time::Duration| {
        (std::time::SystemTime::now() - ago)
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    };
    // Process id 1 (init) never runs tests, so no real run's names are taken.
    let stale = format!(
        "signaalnet_test_1_{}",
        nanos(std::time::Duration::from_secs(7200))
    );
    let recent = format!(
        "signaalnet_test_1_{}",
        nanos(std::time::Duration::from_secs(60))
    );
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    for name in [&stale, &recent] {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let dropped = sweep_stale_scratch_databases(&admin).await.unwrap();
    assert!(dropped.contains(&stale), "{dropped:?}");
    assert!(!exists(&admin, &stale).await);
    assert!(exists(&admin, &recent).await);
    sqlx::query(&format!("DROP DATABASE {recent}"))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[test]
fn only_postgres_urls_are_accepted() {
    let err =
        Location::for_role(std::path::Path::new("."), "node", Some("mysql://x/y")).unwrap_err();
    assert!(err.to_string().contains("postgres://"), "{err}");
}

#[tokio::test]
async fn schemas_of_several_owners_merge_and_may_not_share_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("x.db"));
    let err = Store::open(&location, &[&TEST, &TEST]).await.unwrap_err();
    assert!(matches!(err, StoreError::DuplicateVersion(9001)), "{err}");
    // Nothing was migrated when the sets clashed.
    let store = Store::open(&location, &[&TEST]).await.unwrap();
    let applied: i64 = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(applied, 1);
}
