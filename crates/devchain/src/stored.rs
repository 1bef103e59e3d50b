//! What a role of a chain stored, read from outside the role: for the tests that search every
//! stored byte, and for the bench's backlog.

use crate::Chain;
use anyhow::{Context, Result};
use sqlx::Connection;
use std::path::Path;

impl Chain {
    /// Every byte a role stored: the files in its data directory, or with PostgreSQL every
    /// value of every row of its database, text as text and byte columns as their raw bytes
    /// (as hex they would hold every short hex-digit string by chance: a search for a licence
    /// plate like `12AB34` found one in random ciphertext).
    pub async fn stored_bytes(&self, role: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(url) = self.database_url(role) {
            use sqlx::Row;
            let mut conn = sqlx::PgConnection::connect(url).await?;
            let tables: Vec<String> = sqlx::query(
                "SELECT table_name::text AS t FROM information_schema.tables \
                 WHERE table_schema = 'public'",
            )
            .fetch_all(&mut conn)
            .await?
            .iter()
            .map(|row| row.get("t"))
            .collect();
            for table in tables {
                let columns: Vec<(String, String)> = sqlx::query(
                    "SELECT column_name::text AS c, data_type::text AS d \
                     FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name = $1",
                )
                .bind(&table)
                .fetch_all(&mut conn)
                .await?
                .iter()
                .map(|row| (row.get("c"), row.get("d")))
                .collect();
                let select: Vec<String> = columns
                    .iter()
                    .map(|(c, d)| {
                        if d == "bytea" {
                            format!("\"{c}\"")
                        } else {
                            format!("\"{c}\"::text")
                        }
                    })
                    .collect();
                let sql = format!("SELECT {} FROM \"{table}\"", select.join(", "));
                for row in sqlx::query(&sql).fetch_all(&mut conn).await? {
                    for (i, (_, d)) in columns.iter().enumerate() {
                        if d == "bytea" {
                            let value: Option<Vec<u8>> = row.try_get(i)?;
                            out.extend(value.unwrap_or_default());
                        } else {
                            let value: Option<String> = row.try_get(i)?;
                            out.extend_from_slice(value.unwrap_or_default().as_bytes());
                        }
                        out.push(b'\t');
                    }
                    out.push(b'\n');
                }
            }
            return Ok(out);
        }
        let data = &self.roles.get(role).context("no such role")?.data_dir;
        collect_files(data, &mut out)?;
        Ok(out)
    }

    /// A connection to a role's database: its SQLite file read-only, or its PostgreSQL
    /// database.
    pub async fn connect(&self, role: &str) -> Result<sqlx::AnyConnection> {
        self.connect_with(role, true).await
    }

    /// Runs `sql` on a role's database (to tamper with it, as a database thief could).
    pub async fn execute(&self, role: &str, sql: &str) -> Result<()> {
        let mut conn = self.connect_with(role, false).await?;
        sqlx::query(sql).execute(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }

    async fn connect_with(&self, role: &str, read_only: bool) -> Result<sqlx::AnyConnection> {
        let url = match self.location(role)? {
            signaalnet_store::Location::Postgres(url) => url,
            signaalnet_store::Location::Sqlite(file) => {
                let mode = if read_only { "?mode=ro" } else { "" };
                format!("sqlite://{}{mode}", file.display())
            }
        };
        sqlx::any::install_default_drivers();
        Ok(sqlx::AnyConnection::connect(&url).await?)
    }
}

fn collect_files(dir: &Path, out: &mut Vec<u8>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            // A file may go between listing and reading (SQLite's -shm and -wal).
            if let Ok(bytes) = std::fs::read(&path) {
                out.extend(bytes);
            }
        }
    }
    Ok(())
}
