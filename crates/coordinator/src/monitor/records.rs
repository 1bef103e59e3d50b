//! What a monitor counts, read from the store: the records (signals, or persons and cases)
//! of the purposes it aggregates that arrived before its cut-off, each with its record key,
//! the partners whose signals it holds, and the cells (dimension values and year) it is in.
//! No identifier and no pseudonym leaves this module: persons are found by the pseudonyms of
//! the person-identifying kinds and then known only by their record key.

use crate::CoordinatorError;
use signaalnet_identifier::IdentifierKind;
use signaalnet_policy::{Counting, PolicySet};
use signaalnet_pseudonym::RecordKeys;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio_stream::StreamExt;

/// The value of a dimension a partner does not share for the monitor purpose; a value no
/// attribute can have (it is not a name).
pub const NOT_SHARED: &str = "(niet gedeeld)";
/// The value of a dimension a partner shares but did not give for the signal, as the regions'
/// reports write it (also an explicit value of `vorm_uitbuiting`: unknown either way).
pub const UNKNOWN: &str = "onbekend";
/// The kinds of identifier that say which person a signal is about.
const PERSON_KINDS: [IdentifierKind; 2] = [IdentifierKind::Bsn, IdentifierKind::Person];

/// One record counted.
#[derive(Debug)]
pub struct Record {
    /// Its key (`signaalnet_pseudonym::RecordKeys`).
    pub key: u32,
    /// The partners whose signals it holds.
    pub partners: BTreeSet<Arc<str>>,
    /// The cells it is in: the value of each of the finest dimensions, and the year observed.
    pub cells: Vec<(Vec<Arc<str>>, Arc<str>)>,
}

/// One signal as the monitor reads it.
struct Signal {
    seq: i64,
    partner: Arc<str>,
    signal_id: String,
    purpose: String,
    values: Vec<Arc<str>>,
    year: Arc<str>,
}

/// What one read of a monitor's records is for.
pub struct Counted<'a> {
    pub policy: &'a PolicySet,
    /// The monitor purpose.
    pub purpose: &'a str,
    /// Its finest dimensions (the reader's view).
    pub fine: &'a [String],
    /// The purposes whose signals it counts.
    pub of: &'a [&'a str],
    /// Signals count that arrived before this (seconds since the epoch).
    pub before: i64,
    pub counts: Counting,
}

/// The records a monitor counts.
pub async fn load(
    read: &mut AnyConnection,
    counted: &Counted<'_>,
    keys: &RecordKeys,
) -> Result<Vec<Record>, CoordinatorError> {
    // Signals are counted from the monitor's own records, which outlive the signals; a person
    // (for the cap, or counted as one) is known only by pseudonyms the coordinator still holds.
    if let Counting::Signals {
        max_per_person: None,
    } = counted.counts
    {
        return ledger(read, counted).await;
    }
    let signals = signals(read, counted).await?;
    let persons = persons(read, &signals, counted.of, counted.before).await?;
    let single = |s: &Signal| Record {
        key: keys.of(&[s.partner.as_bytes(), s.signal_id.as_bytes()]),
        partners: BTreeSet::from([Arc::clone(&s.partner)]),
        cells: vec![(s.values.clone(), Arc::clone(&s.year))],
    };
    let mut records = Vec::with_capacity(signals.len());
    for group in persons {
        match counted.counts {
            // The first signals of a person, up to the cap, each a record.
            Counting::Signals { max_per_person } => {
                let cap = max_per_person.map_or(usize::MAX, |c| c as usize);
                records.extend(group.members.iter().take(cap).map(|i| single(&signals[*i])));
            }
            Counting::Persons => {
                let mut record = Record {
                    key: keys.of(&[group.name.as_slice()]),
                    partners: BTreeSet::new(),
                    cells: Vec::new(),
                };
                for i in &group.members {
                    let s = &signals[*i];
                    record.partners.insert(Arc::clone(&s.partner));
                    record.cells.push((s.values.clone(), Arc::clone(&s.year)));
                }
                records.push(record);
            }
        }
    }
    Ok(records)
}

/// The counted signals, in order of arrival, with their dimension values.
async fn signals(
    read: &mut AnyConnection,
    counted: &Counted<'_>,
) -> Result<Vec<Signal>, CoordinatorError> {
    let Counted { of, before, .. } = *counted;
    let sql = format!(
        "SELECT seq, partner_id, signal_id, purpose, observed_month, attributes FROM coord_signals \
         WHERE withdrawn_at IS NULL AND received_at < $1 AND purpose IN ({}) ORDER BY seq",
        signaalnet_store::placeholders(2, of.len())
    );
    let mut query = sqlx::query(&sql).bind(before);
    for counted in of {
        query = query.bind(*counted);
    }
    let mut names = Names::default();
    let mut out = Vec::new();
    let mut rows = query.fetch(&mut *read);
    while let Some(row) = rows.next().await {
        let row = row?;
        let partner: String = row.get("partner_id");
        let month: String = row.get("observed_month");
        let attributes: String = row.get("attributes");
        let attributes: Vec<(String, String)> = serde_json::from_str(&attributes)
            .map_err(|e| CoordinatorError::Corrupt(format!("signal attributes: {e}")))?;
        let Some((values, year)) = cell(counted, &partner, &month, &attributes, &mut names) else {
            continue;
        };
        out.push(Signal {
            seq: row.get("seq"),
            partner: names.get(&partner),
            signal_id: row.get("signal_id"),
            purpose: row.get("purpose"),
            values,
            year,
        });
    }
    Ok(out)
}

/// The monitor's own records (`ledger`) of `counted.purpose` before the cut-off, each a record.
async fn ledger(
    read: &mut AnyConnection,
    counted: &Counted<'_>,
) -> Result<Vec<Record>, CoordinatorError> {
    let rows = sqlx::query(
        "SELECT partner_id, record_key, observed_month, attributes FROM coord_monitor_records \
         WHERE monitor = $1 AND received_at < $2 ORDER BY record_seq",
    )
    .bind(counted.purpose)
    .bind(counted.before)
    .fetch(&mut *read);
    let mut names = Names::default();
    let mut out = Vec::new();
    tokio::pin!(rows);
    while let Some(row) = rows.next().await {
        let row = row?;
        let partner: String = row.get("partner_id");
        let month: String = row.get("observed_month");
        let attributes: String = row.get("attributes");
        let attributes: Vec<(String, String)> = serde_json::from_str(&attributes)
            .map_err(|e| CoordinatorError::Corrupt(format!("monitor record: {e}")))?;
        let Some(cell) = cell(counted, &partner, &month, &attributes, &mut names) else {
            continue;
        };
        let key: i64 = row.get("record_key");
        out.push(Record {
            key: u32::try_from(key).unwrap_or_default(),
            partners: BTreeSet::from([names.get(&partner)]),
            cells: vec![cell],
        });
    }
    Ok(out)
}

/// Dimension values repeat: each is held once.
#[derive(Default)]
struct Names(HashMap<String, Arc<str>>);

impl Names {
    fn get(&mut self, v: &str) -> Arc<str> {
        match self.0.get(v) {
            Some(n) => Arc::clone(n),
            None => {
                let n: Arc<str> = Arc::from(v);
                self.0.insert(v.to_owned(), Arc::clone(&n));
                n
            }
        }
    }
}

/// The cell of a signal of `partner` observed in `month` with `attributes`: its value per
/// finest dimension and its year. `None` when the partner does not share for the monitor
/// purpose (its legal basis for statistics) in the policy set in force: it is not counted.
/// Only what the partner shares for the monitor is a dimension value; the year only where the
/// month is shared (else the signal is in no year's table).
fn cell(
    counted: &Counted<'_>,
    partner: &str,
    month: &str,
    attributes: &[(String, String)],
    names: &mut Names,
) -> Option<(Vec<Arc<str>>, Arc<str>)> {
    let shared = &counted
        .policy
        .partner(partner)?
        .shares
        .get(counted.purpose)?
        .attributes;
    let values = counted
        .fine
        .iter()
        .map(|d| {
            if !shared.contains(d) {
                return names.get(NOT_SHARED);
            }
            let value = if d == "maand_waarneming" {
                Some(month)
            } else {
                attributes
                    .iter()
                    .find(|(id, _)| id == d)
                    .map(|(_, v)| v.as_str())
            };
            names.get(value.filter(|v| !v.is_empty()).unwrap_or(UNKNOWN))
        })
        .collect();
    let year = if shared.contains("maand_waarneming") {
        names.get(month.get(..4).unwrap_or_default())
    } else {
        names.get("")
    };
    Some((values, year))
}

/// Signals of one person (or one case: a signal with no person-identifying pseudonym).
struct Person {
    /// Indexes into the signals, in order of arrival.
    members: Vec<usize>,
    /// What names the person for its record key: the purpose and its smallest person
    /// pseudonym, or the first signal's partner and id for a case.
    name: Vec<u8>,
}

/// The counted signals grouped into persons: signals of one purpose that share a pseudonym of
/// a person-identifying kind, directly or through others, are one person.
async fn persons(
    read: &mut AnyConnection,
    signals: &[Signal],
    counted: &[&str],
    before: i64,
) -> Result<Vec<Person>, CoordinatorError> {
    let index: HashMap<i64, usize> = signals
        .iter()
        .enumerate()
        .map(|(i, s)| (s.seq, i))
        .collect();
    let sql = format!(
        "SELECT k.seq, k.kind, k.pseudonym FROM coord_keys k JOIN coord_signals s ON s.seq = k.seq \
         WHERE s.withdrawn_at IS NULL AND s.received_at < $1 AND k.kind IN ($2, $3) \
         AND s.purpose IN ({})",
        signaalnet_store::placeholders(4, counted.len())
    );
    let mut query = sqlx::query(&sql)
        .bind(before)
        .bind(PERSON_KINDS[0].as_str())
        .bind(PERSON_KINDS[1].as_str());
    for counted in counted {
        query = query.bind(*counted);
    }
    let mut parent: Vec<usize> = (0..signals.len()).collect();
    let mut name: Vec<Option<Vec<u8>>> = vec![None; signals.len()];
    let mut first: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut rows = query.fetch(&mut *read);
    while let Some(row) = rows.next().await {
        let row = row?;
        let seq: i64 = row.get("seq");
        // A signal that arrived while this was read is not counted this time.
        let Some(&i) = index.get(&seq) else { continue };
        let kind: String = row.get("kind");
        let pseudonym: Vec<u8> = row.get("pseudonym");
        let mut key = b"person\0".to_vec();
        key.extend_from_slice(signals[i].purpose.as_bytes());
        key.push(0);
        key.extend_from_slice(kind.as_bytes());
        key.push(0);
        key.extend_from_slice(&pseudonym);
        if name[i].as_ref().is_none_or(|n| key < *n) {
            name[i] = Some(key.clone());
        }
        match first.get(&key) {
            Some(&j) => union(&mut parent, i, j),
            None => {
                first.insert(key, i);
            }
        }
    }
    let mut groups: HashMap<usize, Person> = HashMap::new();
    for (i, signal_name) in name.iter().enumerate() {
        let root = find(&mut parent, i);
        let group = groups.entry(root).or_insert_with(|| Person {
            members: Vec::new(),
            name: Vec::new(),
        });
        group.members.push(i);
        match signal_name {
            Some(n) if group.name.is_empty() || *n < group.name => group.name.clone_from(n),
            _ => {}
        }
    }
    let mut out: Vec<Person> = groups.into_values().collect();
    for p in &mut out {
        if p.name.is_empty() {
            // A case: named by its (only) signal.
            let s = &signals[p.members[0]];
            p.name = [
                b"case\0".as_slice(),
                s.partner.as_bytes(),
                b"\0",
                s.signal_id.as_bytes(),
            ]
            .concat();
        }
    }
    out.sort_by_key(|p| p.members[0]);
    Ok(out)
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (a, b) = (find(parent, a), find(parent, b));
    if a != b {
        parent[a.max(b)] = a.min(b);
    }
}
