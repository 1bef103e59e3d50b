//! Reading a trail back from the role's database: every entry, page by page, for
//! verification against the role's public key ([`crate::verify`] holds the checks), and the
//! entries `signaalnet audit show` selects.

use crate::entry::{Checkpoint, Entry};
use crate::witness::Witnessed;
use crate::{AuditError, Report, Step, Verifier};
use signaalnet_store::Store;
use sqlx::Row;

/// Verifies the trail in `store` against the role's public key.
pub async fn verify(store: &Store, public_key: &[u8]) -> Result<Report, AuditError> {
    verify_witnessed(store, public_key, Vec::new()).await
}

/// [`verify()`], and against what witnesses hold of the trail (each record checked to be
/// countersigned, [`crate::witness::Record::check`]).
pub async fn verify_witnessed(
    store: &Store,
    public_key: &[u8],
    witnessed: Vec<Witnessed>,
) -> Result<Report, AuditError> {
    let checkpoints = sqlx::query(
        "SELECT seq, hash, at_ms, key_id, signature FROM audit_checkpoints ORDER BY seq",
    )
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(|row| Checkpoint {
        seq: row.get("seq"),
        hash: row.get("hash"),
        at_ms: row.get("at_ms"),
        key_id: row.get("key_id"),
        signature: row.get("signature"),
    })
    .collect();
    let mut verifier = Verifier::new(public_key, checkpoints).witnessed(witnessed);
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(PAGE)
        .fetch_all(store.pool())
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.get("seq");
        for row in &rows {
            verifier.feed(&entry_from(row));
        }
    }
    Ok(verifier.finish())
}

/// Which entries `signaalnet audit show` prints.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub step: Option<Step>,
    pub purpose: Option<String>,
    /// OIN of the actor.
    pub actor: Option<String>,
    /// A reference the entry must carry exactly (e.g. `signal:politie/sig-…` or `hit:hit-…`).
    pub reference: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub limit: i64,
}

/// Entries matching `filter`, oldest first.
pub async fn entries(store: &Store, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_entries WHERE 1 = 1");
    let mut texts = Vec::new();
    let mut push = |sql: &mut String, column: &str, value: String| {
        texts.push(value);
        sql.push_str(&format!(" AND {column} ${}", texts.len()));
    };
    if let Some(step) = filter.step {
        push(&mut sql, "step =", step.as_str().to_owned());
    }
    if let Some(purpose) = &filter.purpose {
        push(&mut sql, "purpose =", purpose.clone());
    }
    if let Some(actor) = &filter.actor {
        push(&mut sql, "actor_oin =", actor.clone());
    }
    if let Some(reference) = &filter.reference {
        // The JSON form of the reference as it appears in the array.
        let quoted = serde_json::to_string(reference).unwrap_or_default();
        let escaped = quoted
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        push(&mut sql, "refs LIKE", format!("%{escaped}%"));
        sql.push_str(" ESCAPE '\\'");
    }
    let n = texts.len();
    sql.push_str(&format!(
        " AND at_ms >= ${} AND at_ms < ${} ORDER BY seq LIMIT ${}",
        n + 1,
        n + 2,
        n + 3
    ));
    let mut query = sqlx::query(&sql);
    for text in &texts {
        query = query.bind(text);
    }
    let rows = query
        .bind(filter.since_ms.unwrap_or(i64::MIN))
        .bind(filter.until_ms.unwrap_or(i64::MAX))
        .bind(if filter.limit > 0 {
            filter.limit
        } else {
            i64::MAX
        })
        .fetch_all(store.pool())
        .await?;
    Ok(rows.iter().map(entry_from).collect())
}

/// Entries read per query, so a long trail is verified without holding it in memory.
const PAGE: i64 = 10_000;

fn entry_from(row: &sqlx::any::AnyRow) -> Entry {
    Entry {
        seq: row.get("seq"),
        at_ms: row.get("at_ms"),
        step: row.get("step"),
        actor_oin: row.get("actor_oin"),
        actor_role: row.get("actor_role"),
        purpose: row.get("purpose"),
        processing_activity: row.get("processing_activity"),
        policy_version: row.get("policy_version"),
        refs: row.get("refs"),
        detail: row.get("detail"),
        prev_hash: row.get("prev_hash"),
        hash: row.get("hash"),
    }
}

const COLUMNS: &str = "seq, at_ms, step, actor_oin, actor_role, purpose, processing_activity, \
                       policy_version, refs, detail, prev_hash, hash";
