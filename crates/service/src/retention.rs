//! The retentions a role applies, remembered per purpose in its own database.
//!
//! A purpose can leave the policy set while data of it is still stored (signals on a node,
//! signals, hits and notifications at the coordinator). Without a retention that data would
//! never expire: the policy no longer says when. So every retention run first records the
//! retentions of the purposes in force (`purpose_retention`), and data of a purpose that is no
//! longer in force expires under the last retention the policy set gave it.

use signaalnet_policy::{IsoDuration, PolicySet};
use signaalnet_store::Store;
use sqlx::Row;

/// When data of one purpose expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub purpose: String,
    /// How long a signal in no hit is kept.
    pub unmatched: IsoDuration,
    /// How long a hit is kept after its last change.
    pub hits: IsoDuration,
    /// The purpose is in the policy set in force (false: removed, kept under its last retention).
    pub in_force: bool,
    /// A monitor purpose: its data are counts of other purposes' signals, none of its own.
    pub monitor: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("purpose_retention: {0}")]
    Query(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] signaalnet_store::StoreError),
    #[error("purpose_retention: the stored retention of a removed purpose does not parse: {0}")]
    Corrupt(&'static str),
}

/// Records the retentions of every purpose in `policy` and returns them, followed by those of
/// purposes no longer in it (under the retention they last had), in purpose order. Writes only
/// when the policy set changed since the last record (a retention run is frequent, a policy
/// change rare).
pub async fn remember(store: &Store, policy: &PolicySet) -> Result<Vec<Retention>, RetentionError> {
    let read = || {
        sqlx::query(
            "SELECT purpose, retention_unmatched, retention_hits, policy_version \
             FROM purpose_retention ORDER BY purpose",
        )
        .fetch_all(store.pool())
    };
    let mut rows = read().await?;
    let recorded = |purpose: &str| {
        rows.iter().any(|r| {
            r.get::<String, _>("purpose") == purpose
                && r.get::<String, _>("policy_version") == policy.version()
        })
    };
    if !policy.purposes().all(|p| recorded(&p.id)) {
        let mut w = store.write().await?;
        for p in policy.purposes() {
            sqlx::query(
                "INSERT INTO purpose_retention (purpose, retention_unmatched, retention_hits, \
                 policy_version) VALUES ($1, $2, $3, $4) ON CONFLICT (purpose) DO UPDATE SET \
                 retention_unmatched = excluded.retention_unmatched, \
                 retention_hits = excluded.retention_hits, policy_version = excluded.policy_version",
            )
            .bind(&p.id)
            .bind(p.retention_unmatched.to_string())
            .bind(p.retention_hits.to_string())
            .bind(policy.version())
            .execute(&mut *w.tx)
            .await?;
        }
        w.commit().await?;
        rows = read().await?;
    }
    rows.iter()
        .map(|row| {
            let purpose: String = row.get("purpose");
            Ok(match policy.purpose(&purpose) {
                Some(p) => Retention {
                    unmatched: p.retention_unmatched,
                    hits: p.retention_hits,
                    in_force: true,
                    monitor: p.monitor.is_some(),
                    purpose,
                },
                None => Retention {
                    unmatched: IsoDuration::parse(row.get("retention_unmatched"))
                        .map_err(RetentionError::Corrupt)?,
                    hits: IsoDuration::parse(row.get("retention_hits"))
                        .map_err(RetentionError::Corrupt)?,
                    in_force: false,
                    monitor: false,
                    purpose,
                },
            })
        })
        .collect()
}

/// How long what is left of a signal or a hit after it ended is kept by default: a tombstone
/// (so that a late re-delivery cannot bring a withdrawn signal back), a dissolved hit, the
/// notice that a hit ended. Thirty days: far beyond any retry or delivery delay of the chain.
pub const ENDED_KEPT: IsoDuration = IsoDuration::days(30);
