//! The monitor's own records. A monitor counting the signals the coordinator still holds would
//! lose a year's figures as its signals expire (unmatched Drieluik signals after six months), so
//! a region could never read its annual report after the year. Instead each signal a partner
//! shares for a monitor purpose leaves, when it arrives, a record of what the monitor counts:
//! the partner, the record's noise key, the observed month and the attributes the partner
//! shares for the monitor — no identifier, pseudonym, signal id or case reference. The record
//! goes when the signal is withdrawn (at once, in the withdrawal's transaction) and when the
//! monitor purpose's own `retention_unmatched` has run from the signal's arrival.

use crate::matching::{month_string, SignalEntry};
use crate::CoordinatorError;
use signaalnet_policy::PolicySet;
use signaalnet_pseudonym::RecordKeys;
use signaalnet_service::retention::Retention;
use sqlx::{AnyConnection, Row};

/// Writes the monitor records of `entry`, which arrived at `received_at`: one per monitor
/// purpose that counts the signal's purpose and that the partner shares for.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    policy: &PolicySet,
    keys: &RecordKeys,
    entry: &SignalEntry,
    received_at: i64,
) -> Result<(), CoordinatorError> {
    let Some(partner) = policy.partner(&entry.partner) else {
        return Ok(());
    };
    let name: [&[u8]; 2] = [entry.partner.as_bytes(), entry.signal_id.as_bytes()];
    for monitor in policy.purposes().filter(|p| {
        p.monitor
            .as_ref()
            .is_some_and(|m| m.aggregates_of.contains(&entry.purpose))
    }) {
        let Some(share) = partner.shares.get(&monitor.id) else {
            continue;
        };
        let attributes: Vec<&(String, String)> = entry
            .attributes
            .iter()
            .filter(|(id, _)| share.attributes.contains(id))
            .collect();
        let month = if share.attributes.contains("maand_waarneming") {
            month_string(entry.month)
        } else {
            String::new()
        };
        sqlx::query(
            "INSERT INTO coord_monitor_records (monitor, partner_id, lookup, record_key, \
             observed_month, attributes, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&monitor.id)
        .bind(&entry.partner)
        .bind(keys.lookup(&name))
        .bind(i64::from(keys.of(&name)))
        .bind(month)
        .bind(
            serde_json::to_string(&attributes)
                .map_err(|e| CoordinatorError::Corrupt(format!("monitor record: {e}")))?,
        )
        .bind(received_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Deletes the monitor records of `partner`'s signal `signal_id` (withdrawn).
pub(crate) async fn forget(
    conn: &mut AnyConnection,
    keys: &RecordKeys,
    partner: &str,
    signal_id: &str,
) -> Result<u64, CoordinatorError> {
    let lookup = keys.lookup(&[partner.as_bytes(), signal_id.as_bytes()]);
    Ok(
        sqlx::query("DELETE FROM coord_monitor_records WHERE lookup = $1")
            .bind(lookup)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

/// Deletes the records whose monitor purpose's retention has run since they arrived (a
/// monitor purpose removed from the policy set keeps the retention it last had); returns how
/// many.
pub(crate) async fn expire(
    conn: &mut AnyConnection,
    retentions: &[Retention],
    now: i64,
) -> Result<usize, CoordinatorError> {
    let mut deleted = 0;
    for retention in retentions.iter().filter(|r| r.monitor) {
        let due: Vec<i64> = sqlx::query(
            "SELECT record_seq, received_at FROM coord_monitor_records \
             WHERE monitor = $1 AND received_at <= $2",
        )
        .bind(&retention.purpose)
        .bind(retention.unmatched.latest_start_run_by(now))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .filter(|r| retention.unmatched.has_run(r.get("received_at"), now))
        .map(|r| r.get("record_seq"))
        .collect();
        for seq in &due {
            sqlx::query("DELETE FROM coord_monitor_records WHERE record_seq = $1")
                .bind(seq)
                .execute(&mut *conn)
                .await?;
        }
        deleted += due.len();
    }
    Ok(deleted)
}
