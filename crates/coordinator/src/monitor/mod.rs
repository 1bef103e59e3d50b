//! The regional monitor (`GetMonitor`): tables of counts for a monitor purpose, protected as
//! official statistics protect tables (`docs/monitor.md`).
//!
//! - What is counted ([`records`]): the signals (or persons) of the purposes the monitor
//!   aggregates that arrived before the start of the month its counting delay reaches back to,
//!   so a table changes at most once a month and a signal withdrawn within the delay never
//!   counts.
//! - How each cell is published ([`cellkey`]): suppressed below the minimum cell size, also
//!   when only the caller's own signals would lift it there (a contributor that can view cannot
//!   pad a cell), otherwise perturbed by the cell-key method within the purpose's bound.
//! - Every release is kept (`coord_monitor_releases`: the table as returned, which holds only
//!   published counts) and audited with its release id.

pub mod cellkey;
pub mod drenthe;
pub mod export;
pub(crate) mod ledger;
mod records;

pub use export::{table_csv, table_json};
pub use records::{NOT_SHARED, UNKNOWN};

use crate::core::Coordinator;
use crate::CoordinatorError;
use cellkey::Published;
use records::Record;
use signaalnet_audit::{Actor, Event, Step};
use signaalnet_policy::{Disclosure, Partner, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_service::query::QueryError;
use signaalnet_service::status::Refusal;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tonic::Status;

/// Dutch, for a reader of the table: what the numbers are.
const CELL_KEY_DESCRIPTION: &str = "Elke gepubliceerde telling is de echte telling plus ruis \
    van hoogstens de ruisgrens, vast voor dezelfde verzameling signalen (cell-key-methode); \
    cellen kleiner dan de minimale celgrootte worden niet gepubliceerd. Het totaal is een eigen \
    cel en niet de som van de rijen.";

impl Coordinator {
    pub async fn monitor(
        &self,
        reader: &Partner,
        actor: Actor,
        request: pb::GetMonitorRequest,
    ) -> Result<pb::MonitorTable, Status> {
        let policy = self.policy();
        let view = Self::analyst_view(&policy, reader, &request.purpose)?;
        let purpose = policy
            .purpose(&request.purpose)
            .ok_or_else(|| Status::not_found("purpose"))?;
        let Some(monitor) = &purpose.monitor else {
            return Err(Refusal::precondition("")
                .violation(
                    "purpose",
                    "purpose.not_monitor",
                    format!(
                        "`{}` is not a monitor purpose; use ListHits",
                        request.purpose
                    ),
                )
                .resource("purpose", &request.purpose)
                .into());
        };
        let fine: Vec<String> = view.attributes.iter().cloned().collect();
        let dimensions = dimensions(&request.dimensions, &fine)?;
        let period = period(&request.period)?;
        let (before, counted_before) = monitor.counting_delay.month_start_before(self.now());
        let records = self
            .monitor_records(&policy, &request.purpose, &fine, before)
            .await?;
        let Disclosure::CellKey { noise_bound } = monitor.disclosure;
        let min = monitor.min_cell_size;
        let positions: Vec<usize> = dimensions
            .iter()
            .filter_map(|d| fine.iter().position(|f| f == d))
            .collect();
        let (cells, total) = cellkey::tabulate(records.iter().map(|r: &Record| {
            let in_cells = r
                .cells
                .iter()
                .filter(|(_, year)| period.is_none_or(|p| p == &**year))
                .map(|(values, _)| positions.iter().map(|i| Arc::clone(&values[*i])).collect())
                .collect::<Vec<Vec<Arc<str>>>>();
            let other = r.partners.iter().any(|p| **p != *reader.id);
            (r.key, other, in_cells)
        }));
        let row = |values: Vec<String>, cell: &cellkey::Cell| match cellkey::publish(
            cell,
            min,
            noise_bound,
        ) {
            Published::Perturbed(count) => pb::MonitorRow {
                values,
                count,
                status: pb::CellStatus::Perturbed as i32,
            },
            Published::Suppressed => pb::MonitorRow {
                values,
                count: 0,
                status: pb::CellStatus::Suppressed as i32,
            },
        };
        let mut rows: Vec<pb::MonitorRow> = cells
            .iter()
            .map(|(values, cell)| row(values.iter().map(|v| v.to_string()).collect(), cell))
            .collect();
        // Small cells are left out, not listed as small (see the proto).
        let before = rows.len();
        rows.retain(|r| r.status != pb::CellStatus::Suppressed as i32);
        let suppressed = before - rows.len();
        // Neither how many nor whether: with every other cell published, "whether" tells an
        // empty cell from a small one.
        #[allow(deprecated)] // suppressed_cells: no longer set
        let table = pb::MonitorTable {
            dimensions: dimensions.clone(),
            rows,
            min_cell_size: min,
            suppressed_cells: 0,
            policy: Some(pb::PolicyVersion {
                version: policy.version().to_owned(),
            }),
            method: Some(pb::DisclosureMethod {
                name: "cell_key".into(),
                noise_bound,
                description: CELL_KEY_DESCRIPTION.into(),
            }),
            total: Some(row(Vec::new(), &total)),
            counts: monitor.counts.as_str().into(),
            period: period.unwrap_or_default().to_owned(),
            counted_before,
            release_id: release_id()?,
        };
        tracing::info!(reader = %reader.id, purpose = %request.purpose, rows = table.rows.len(), suppressed, release = %table.release_id, "monitor queried");
        self.release(&policy, reader, actor, &request.purpose, &table)
            .await?;
        Ok(table)
    }

    /// Keeps the table as released and audits the release, in one transaction.
    async fn release(
        &self,
        policy: &PolicySet,
        reader: &Partner,
        actor: Actor,
        purpose: &str,
        table: &pb::MonitorTable,
    ) -> Result<(), CoordinatorError> {
        let body = serde_json::to_string(&table_json(table))
            .map_err(|e| CoordinatorError::Corrupt(format!("monitor release: {e}")))?;
        let event = Event::for_purpose(Step::MonitorQuery, policy, purpose)
            .by(actor)
            .reference(format!("release:{}", table.release_id))
            .detail(format!(
                "monitor by [{}], period {}, counted before {}: {} row(s) published, cells \
                 below {} left out, cell key ±{}",
                table.dimensions.join(", "),
                if table.period.is_empty() {
                    "all"
                } else {
                    &table.period
                },
                table.counted_before,
                table.rows.len(),
                table.min_cell_size,
                table.method.as_ref().map_or(0, |m| m.noise_bound),
            ));
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO coord_monitor_releases \
             (release_id, released_at, purpose, reader, policy_version, body) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&table.release_id)
        .bind(self.now())
        .bind(purpose)
        .bind(reader.id.as_str())
        .bind(policy.version())
        .bind(&body)
        .execute(&mut *w.tx)
        .await?;
        self.audit.append(&mut w.tx, event).await?;
        w.commit().await?;
        Ok(())
    }

    /// The records monitor `purpose` counts at the cut-off `before`, with the finest
    /// dimensions `fine`: read once per cut-off (and policy set), then kept until the next
    /// cut-off whatever changes in the store. A withdrawal or an expiry after the cut-off
    /// leaves the monitor at the next one, together with every other change of that month:
    /// otherwise each withdrawal would give the cells holding the signal a fresh noise draw,
    /// and a partner withdrawing its own counted signals one by one could average the noise
    /// away (docs/monitor.md, "Releases over time"). What is kept is in memory only, per
    /// record its key, partners and cell values (no identifier, pseudonym or case
    /// reference); a restart reads anew. One read runs at a time; callers arriving meanwhile
    /// wait for it.
    async fn monitor_records(
        &self,
        policy: &PolicySet,
        purpose: &str,
        fine: &[String],
        before: i64,
    ) -> Result<Arc<Vec<Record>>, CoordinatorError> {
        let mut cache = self.monitor_cache.lock().await;
        let key = (
            purpose.to_owned(),
            policy.version().to_owned(),
            fine.to_vec(),
            before,
        );
        if let Some(records) = cache.records.get(&key) {
            return Ok(Arc::clone(records));
        }
        let Some(monitor) = policy.purpose(purpose).and_then(|p| p.monitor.as_ref()) else {
            return Ok(Arc::default());
        };
        // A monitor counts at least one purpose, the policy checker sees to it; `IN ()` would
        // be no SQL.
        let counted: Vec<&str> = match monitor.aggregates_of.as_slice() {
            [] => vec![""],
            all => all.iter().map(String::as_str).collect(),
        };
        // One snapshot of the store (analyst_read): a consistent set, whatever is written
        // meanwhile.
        let records = {
            let (_turn, mut read) = self.analyst_read().await?;
            Arc::new(
                records::load(
                    &mut read,
                    &records::Counted {
                        policy,
                        purpose,
                        fine,
                        of: &counted,
                        before,
                        counts: monitor.counts,
                    },
                    &self.record_keys,
                )
                .await?,
            )
        };
        // Earlier cut-offs and policy sets are done with.
        cache
            .records
            .retain(|(_, version, _, at), _| version == policy.version() && *at == before);
        cache.records.insert(key, Arc::clone(&records));
        Ok(records)
    }
}

/// The dimensions asked for: each of the caller's view, once; none asked: all of them.
fn dimensions(asked: &[String], fine: &[String]) -> Result<Vec<String>, QueryError> {
    if asked.is_empty() {
        return Ok(fine.to_vec());
    }
    let mut seen = BTreeSet::new();
    for (i, d) in asked.iter().enumerate() {
        if !fine.contains(d) {
            return Err(QueryError::invalid(
                format!("dimensions[{i}]"),
                "dimensions.unknown",
                format!(
                    "not a dimension of this purpose (allowed: {})",
                    fine.join(", ")
                ),
            ));
        }
        if !seen.insert(d) {
            return Err(QueryError::invalid(
                format!("dimensions[{i}]"),
                "dimensions.duplicate",
                "this dimension is named twice",
            ));
        }
    }
    Ok(asked.to_vec())
}

/// The year asked for, if any: four digits.
fn period(asked: &str) -> Result<Option<&str>, QueryError> {
    if asked.is_empty() {
        return Ok(None);
    }
    if asked.len() == 4 && asked.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(asked));
    }
    Err(QueryError::invalid(
        "period",
        "period.format",
        "must be a year, YYYY, or empty for every signal counted",
    ))
}

/// A release's id: random, 128 bits. Not a hash of the table: an id quoted without its table
/// (a CSV line, an audit export) must not let anyone confirm a guess at the rest of it.
fn release_id() -> Result<String, CoordinatorError> {
    use ring::rand::SecureRandom;
    let mut id = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| CoordinatorError::Corrupt("no randomness for a release id".into()))?;
    Ok(hex::encode(id))
}

/// The records of the current cut-off per monitor purpose, policy version and finest
/// dimensions.
#[derive(Debug, Default)]
pub(crate) struct MonitorCache {
    records: HashMap<MonitorKey, Arc<Vec<Record>>>,
}

/// A monitor purpose, a policy version, the finest dimensions, the cut-off.
type MonitorKey = (String, String, Vec<String>, i64);
