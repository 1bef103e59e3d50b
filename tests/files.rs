//! What the roles keep on disk is their own user's alone: data and secrets directories 0700,
//! every file 0600, secrets apart from the data; a secret others may read stops a role at start
//! with a message naming the file and its mode; `audit verify` and `show` only read.
#![allow(clippy::unwrap_used)] // test fixtures

#[macro_use]
mod common;

use common::*;
use std::path::Path;

/// Every file under `dir` whose mode lets anyone but its owner in, with the mode.
fn open_to_others(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let mode = mode(&path);
        if mode & 0o077 != 0 {
            out.push(format!("{} {mode:04o}", path.display()));
        }
        if path.is_dir() {
            open_to_others(&path, out);
        }
    }
}

async fn roles_keep_their_files_to_themselves(postgres: Option<&str>) {
    let mut chain = common::start(postgres).await;
    let roles = every_role();
    // Some work, so that every database has written its journal.
    chain
        .partner(GEMEENTE)
        .unwrap()
        .submit_signal(signal("GRO-F1", vec![address("9711 AB", "12")], &[]))
        .await
        .unwrap();
    let mut loose = Vec::new();
    for role in &roles {
        let data = chain.dir().join("data").join(role);
        let secrets = chain.dir().join("secrets").join(role);
        assert!(secrets
            .join(format!("{}.audit.key", audit_name(role)))
            .exists());
        for dir in [&data, &secrets] {
            if dir.exists() {
                if mode(dir) != 0o700 {
                    loose.push(format!("{} {:04o}", dir.display(), mode(dir)));
                }
                open_to_others(dir, &mut loose);
            }
        }
        // No secret beside the data: a copy of the data directory carries no key.
        if data.exists() {
            for entry in std::fs::read_dir(&data).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                assert!(
                    !name.ends_with(".key") && !name.ends_with(".secret"),
                    "{role} keeps {name} in its data directory"
                );
            }
        }
    }
    assert!(loose.is_empty(), "open to others: {loose:#?}");

    // A node secret made readable by the group stops the node at start, naming file and mode.
    let secret = chain
        .dir()
        .join("secrets")
        .join(GEMEENTE)
        .join(format!("node-{GEMEENTE}.secret"));
    assert!(secret.exists());
    chain.kill(GEMEENTE).unwrap();
    set_mode(&secret, 0o640);
    let refused = chain.restart(GEMEENTE).await.unwrap_err().to_string();
    for needle in [secret.display().to_string(), "0640".to_owned()] {
        assert!(refused.contains(&needle), "{needle} not in: {refused}");
    }

    // So does a TLS key others may read.
    set_mode(&secret, 0o600);
    let key = chain.tls(GEMEENTE).key;
    set_mode(&key, 0o644);
    let refused = chain.restart(GEMEENTE).await.unwrap_err().to_string();
    assert!(
        refused.contains(&key.display().to_string()) && refused.contains("0644"),
        "{refused}"
    );
    set_mode(&key, 0o600);
    chain.restart(GEMEENTE).await.unwrap();
    chain.stop().await.unwrap();
}

/// The name a role's files carry (`node-<partner>` for a node).
fn audit_name(role: &str) -> String {
    if PARTNERS.contains(&role) {
        format!("node-{role}")
    } else {
        role.to_owned()
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

on_both_databases!(roles_keep_their_files_to_themselves);

/// `audit verify` reads a stopped role's database without writing a byte: it verifies a
/// database file the auditor may only read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_leaves_the_database_unchanged() {
    let mut chain = common::start(None).await;
    chain
        .partner(GEMEENTE)
        .unwrap()
        .submit_signal(signal("GRO-F2", vec![address("9711 AB", "12")], &[]))
        .await
        .unwrap();
    chain.kill(GEMEENTE).unwrap();
    let db = chain
        .dir()
        .join("data")
        .join(GEMEENTE)
        .join(format!("node-{GEMEENTE}.db"));
    let before = std::fs::read(&db).unwrap();
    set_mode(&db, 0o400);
    let (code, out, err) = chain.audit("verify", GEMEENTE, &[]).unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("entries"), "{out}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "verify wrote to the database"
    );
    set_mode(&db, 0o600);
    chain.stop().await.unwrap();
}

/// On PostgreSQL, `audit verify` against a database that holds no trail says so, instead of
/// creating every table in it (which running the role's migrations did).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_creates_nothing_in_an_empty_database() {
    let Some(admin) = postgres_url() else {
        return;
    };
    let chain = common::start(None).await;
    let db = signaalnet_store::ScratchDatabase::create(&admin)
        .await
        .unwrap();
    let empty = db.url();
    let config = chain.dir().join(format!("{GEMEENTE}.toml"));
    let copy = chain.dir().join("empty-node.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&copy, format!("database_url = \"{empty}\"\n{text}")).unwrap();
    let (code, out, err) = common::signaalnet(&[
        "audit",
        "verify",
        "--role",
        "node",
        "--config",
        copy.to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{out}{err}");
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(empty).await.unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 0, "verify created tables");
    chain.stop().await.unwrap();
}
