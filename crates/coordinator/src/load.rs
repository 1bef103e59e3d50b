//! What the matcher holds, and loading it from the store.
//!
//! The matcher holds the signals that are in a hit (analysts, notifications and retention read
//! those) and, while a change is made, the stored signals that change can reach. Every other
//! signal is only in the store: its keys in `coord_keys`, found through the pseudonym index. So
//! the coordinator's memory grows with what is matched, not with every signal ever received.
//!
//! Before signals are matched, [`hold_reachable`] loads every stored signal that shares a key
//! with them, directly or through other stored signals (the closure over keys, without regard to
//! the match window, so it holds at least every signal matching can link). After the change the
//! signals that ended up in no hit are let go again ([`Matcher::evict_unmatched`]).
//!
//! The rows read here are written by [`insert_signal`], so one file knows their format.

use crate::matching::{month_index, month_string, Hit, Matcher, Pseudonym, Seq, SignalEntry};
use crate::CoordinatorError;
use signaalnet_identifier::IdentifierKind;
use signaalnet_store::placeholders;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most values bound in one `IN (…)` list.
const CHUNK: usize = 500;

/// A matching key: purpose, kind, pseudonym.
pub type Key = (String, IdentifierKind, Pseudonym);

/// A matcher holding the current hits and their signals, with `rules`.
pub(crate) async fn matcher(
    conn: &mut AnyConnection,
    rules: HashMap<String, crate::matching::Rule>,
) -> Result<Matcher, CoordinatorError> {
    let mut hits = Vec::new();
    for row in
        sqlx::query("SELECT hit_id, purpose, members FROM coord_hits WHERE dissolved_at IS NULL")
            .fetch_all(&mut *conn)
            .await?
    {
        let id: String = row.get("hit_id");
        let members: String = row.get("members");
        let members: BTreeSet<Seq> = serde_json::from_str(&members)
            .map_err(|e| CoordinatorError::Corrupt(format!("hit {id}: members: {e}")))?;
        hits.push(Hit {
            id,
            purpose: row.get("purpose"),
            members,
        });
    }
    let members: Vec<Seq> = hits
        .iter()
        .flat_map(|h| h.members.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut signals = Vec::with_capacity(members.len());
    for signal in signals_by_seq(conn, &members).await? {
        if rules.contains_key(&signal.purpose) {
            signals.push(signal);
        } else {
            tracing::warn!(seq = signal.seq, purpose = %signal.purpose, "signal of a purpose no longer in the policy set is not matched");
        }
    }
    let mut matcher = Matcher::new(rules);
    matcher.restore(signals, hits);
    Ok(matcher)
}

/// Loads into `matcher` every stored signal reachable from `keys` (see the module text) and
/// returns the sequence numbers it loaded.
pub async fn hold_reachable(
    conn: &mut AnyConnection,
    matcher: &mut Matcher,
    keys: impl IntoIterator<Item = Key>,
) -> Result<Vec<Seq>, CoordinatorError> {
    let mut asked: BTreeSet<Key> = BTreeSet::new();
    let mut frontier: BTreeSet<Key> = keys.into_iter().collect();
    let mut loaded = Vec::new();
    while !frontier.is_empty() {
        asked.extend(frontier.iter().cloned());
        let found = carrying(conn, &frontier).await?;
        let new: Vec<Seq> = found
            .into_iter()
            .filter(|seq| !matcher.contains(*seq))
            .collect();
        let mut next = BTreeSet::new();
        for signal in signals_by_seq(conn, &new).await? {
            for (kind, pseudonym) in &signal.keys {
                let key = (signal.purpose.clone(), *kind, *pseudonym);
                if !asked.contains(&key) {
                    next.insert(key);
                }
            }
            loaded.push(signal.seq);
            matcher.load(signal);
        }
        frontier = next;
    }
    Ok(loaded)
}

/// Stores a received signal and its keys, as [`signals_by_seq`] reads them back, and returns its
/// sequence number (the store assigns it; `entry.seq` is not used). `None` when this partner
/// delivered or withdrew this signal id before: nothing is written then.
pub async fn insert_signal(
    conn: &mut AnyConnection,
    entry: &SignalEntry,
    policy_version: &str,
    received_at: i64,
) -> Result<Option<Seq>, CoordinatorError> {
    let inserted = sqlx::query(
        "INSERT INTO coord_signals (partner_id, signal_id, purpose, observed_month, \
         attributes, policy_version, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (partner_id, signal_id) DO NOTHING RETURNING seq",
    )
    .bind(&entry.partner)
    .bind(&entry.signal_id)
    .bind(&entry.purpose)
    .bind(month_string(entry.month))
    .bind(serde_json::to_string(&entry.attributes).unwrap_or_else(|_| "[]".into()))
    .bind(policy_version)
    .bind(received_at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(seq) = inserted.map(|row| row.get::<i64, _>("seq")) else {
        return Ok(None);
    };
    for (kind, pseudonym) in &entry.keys {
        sqlx::query("INSERT INTO coord_keys (seq, kind, pseudonym) VALUES ($1, $2, $3)")
            .bind(seq)
            .bind(kind.as_str())
            .bind(pseudonym.to_vec())
            .execute(&mut *conn)
            .await?;
    }
    Ok(Some(seq))
}

/// The stored (not withdrawn, not expired) signals carrying one of `keys`.
async fn carrying(
    conn: &mut AnyConnection,
    keys: &BTreeSet<Key>,
) -> Result<BTreeSet<Seq>, CoordinatorError> {
    let pseudonyms: Vec<Vec<u8>> = keys
        .iter()
        .map(|(_, _, p)| p.to_vec())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut seqs = BTreeSet::new();
    for chunk in pseudonyms.chunks(CHUNK) {
        let sql = format!(
            "SELECT k.seq, k.kind, k.pseudonym, s.purpose FROM coord_keys k \
             JOIN coord_signals s ON s.seq = k.seq WHERE k.pseudonym IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for p in chunk {
            query = query.bind(p.clone());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let (seq, kind, pseudonym) = key_row(&row)?;
            if keys.contains(&(row.get("purpose"), kind, pseudonym)) {
                seqs.insert(seq);
            }
        }
    }
    Ok(seqs)
}

/// The stored signals with these sequence numbers, with their keys, in sequence order.
/// Withdrawn and expired ones (their keys deleted) are left out.
pub(crate) async fn signals_by_seq(
    conn: &mut AnyConnection,
    seqs: &[Seq],
) -> Result<Vec<SignalEntry>, CoordinatorError> {
    let mut keys: BTreeMap<Seq, Vec<(IdentifierKind, Pseudonym)>> = BTreeMap::new();
    let mut signals = Vec::with_capacity(seqs.len());
    for chunk in seqs.chunks(CHUNK) {
        let list = placeholders(1, chunk.len());
        let sql = format!("SELECT seq, kind, pseudonym FROM coord_keys WHERE seq IN ({list})");
        let mut query = sqlx::query(&sql);
        for seq in chunk {
            query = query.bind(*seq);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let (seq, kind, pseudonym) = key_row(&row)?;
            keys.entry(seq).or_default().push((kind, pseudonym));
        }
        let sql = format!(
            "SELECT seq, partner_id, signal_id, purpose, observed_month, attributes \
             FROM coord_signals WHERE withdrawn_at IS NULL AND seq IN ({list}) ORDER BY seq"
        );
        let mut query = sqlx::query(&sql);
        for seq in chunk {
            query = query.bind(*seq);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let seq: i64 = row.get("seq");
            let month: String = row.get("observed_month");
            let attributes: String = row.get("attributes");
            let mut own = keys.remove(&seq).unwrap_or_default();
            own.sort_unstable();
            signals.push(SignalEntry {
                seq,
                partner: row.get("partner_id"),
                signal_id: row.get("signal_id"),
                purpose: row.get("purpose"),
                month: month_index(&month)
                    .ok_or_else(|| CoordinatorError::Corrupt(format!("signal {seq}: month")))?,
                keys: own,
                attributes: serde_json::from_str(&attributes).map_err(|e| {
                    CoordinatorError::Corrupt(format!("signal {seq}: attributes: {e}"))
                })?,
            });
        }
    }
    signals.sort_by_key(|s| s.seq);
    Ok(signals)
}

fn key_row(row: &AnyRow) -> Result<(Seq, IdentifierKind, Pseudonym), CoordinatorError> {
    let seq: i64 = row.get("seq");
    let kind: String = row.get("kind");
    let bytes: Vec<u8> = row.get("pseudonym");
    let kind = IdentifierKind::from_name(&kind)
        .ok_or_else(|| CoordinatorError::Corrupt(format!("signal {seq}: kind `{kind}`")))?;
    let pseudonym: Pseudonym = bytes
        .try_into()
        .map_err(|_| CoordinatorError::Corrupt(format!("signal {seq}: pseudonym length")))?;
    Ok((seq, kind, pseudonym))
}
