//! Verification of a trail, in one pass over the entries in `seq` order. Every finding names
//! the entry where the trail stops being what was written: a changed entry (its hash no longer
//! matches its content), a gap (deleted entries), an entry that links to another entry than
//! the one before it (reordered), a checkpoint whose hash or signature does not hold, a
//! checkpoint signed by another key (re-signed), or a checkpoint beyond the last entry
//! (truncated). With what witnesses hold of the trail ([`Verifier::witnessed`]) it also names
//! the entries cut off after the last checkpoint left in the trail, an entry that is not the one
//! witnessed at its `seq` (rewritten), and checkpoints witnessed under another key (re-signed),
//! none of which the role's own checkpoints can show once they were deleted or signed again.

use crate::entry::{checkpoint_message, Checkpoint, Entry, GENESIS};
use crate::witness::Witnessed;
use serde::Serialize;
use signaalnet_store::format_time;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// The entry's content no longer gives its stored hash.
    Changed { seq: i64 },
    /// Entries `from..=to` are missing.
    Missing { from: i64, to: i64 },
    /// The entry links to the entry stored at `links_to`, not to the one before it.
    Reordered { seq: i64, links_to: i64 },
    /// The entry links to a hash no entry in the trail has.
    BrokenLink { seq: i64 },
    /// The checkpoint at `seq` signed another hash than entry `seq` now has: an entry in
    /// `after+1..=seq` was changed and the hashes after it recomputed.
    CheckpointMismatch { seq: i64, after: i64 },
    /// The checkpoint's signature does not verify with the expected key.
    BadSignature { seq: i64 },
    /// The role writes a checkpoint every [`crate::CHECKPOINT_EVERY`] entries; this one is gone.
    MissingCheckpoint { seq: i64 },
    /// The checkpoint was signed by another key than the role's.
    ForeignKey { seq: i64, key_id: String },
    /// A checkpoint covers entry `checkpoint`, but the trail ends at `last`.
    Truncated { last: i64, checkpoint: i64 },
    /// A witness holds a checkpoint over entry `to`, but the trail ends before `from`: entries
    /// `from..=to` were cut off (and at least those).
    WitnessedMissing {
        from: i64,
        to: i64,
        witness: String,
        at_ms: i64,
    },
    /// The entry at `seq` has another hash than the one a witness countersigned: it, or an
    /// entry before it, was rewritten and the chain recomputed.
    Rewritten {
        seq: i64,
        witness: String,
        at_ms: i64,
    },
    /// A witness holds checkpoints `from..=to` under key `key_id`, not under the key the trail is
    /// checked against: the trail was signed again under another key.
    WitnessedKey {
        from: i64,
        to: i64,
        witness: String,
        key_id: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Changed { seq } => write!(
                f,
                "entry {seq}: changed (its content does not give its stored hash)"
            ),
            Self::Missing { from, to } if from == to => write!(f, "entry {from}: missing"),
            Self::Missing { from, to } => write!(f, "entries {from}..{to}: missing"),
            Self::Reordered { seq, links_to } => write!(
                f,
                "entry {seq}: out of order (it follows the entry now stored at {links_to})"
            ),
            Self::BrokenLink { seq } => write!(
                f,
                "entry {seq}: does not link to entry {}; one of the two was changed and its hash recomputed",
                seq - 1
            ),
            Self::CheckpointMismatch { seq, after } => write!(
                f,
                "checkpoint {seq}: signed another hash than entry {seq} has now; an entry in {}..{seq} was changed and the chain recomputed",
                after + 1
            ),
            Self::BadSignature { seq } => {
                write!(f, "checkpoint {seq}: the signature does not verify")
            }
            Self::MissingCheckpoint { seq } => write!(
                f,
                "checkpoint {seq}: missing (one is written every {} entries)",
                crate::CHECKPOINT_EVERY
            ),
            Self::ForeignKey { seq, key_id } => write!(
                f,
                "checkpoint {seq}: signed by key {key_id}, not by this role's key (re-signed)"
            ),
            Self::Truncated { last, checkpoint } => write!(
                f,
                "truncated: the trail ends at entry {last} but checkpoint {checkpoint} covers more"
            ),
            Self::WitnessedMissing {
                from,
                to,
                witness,
                at_ms,
            } => {
                let which = if from == to {
                    format!("entry {from}")
                } else {
                    format!("entries {from}..{to}")
                };
                write!(
                    f,
                    "truncated: {which} missing: witnessed by {witness} at {}",
                    format_time(*at_ms)
                )
            }
            Self::Rewritten {
                seq,
                witness,
                at_ms,
            } => write!(
                f,
                "entry {seq}: rewritten: its hash is not the one witnessed by {witness} at {} \
                 (this entry or one before it was changed and the chain recomputed)",
                format_time(*at_ms)
            ),
            Self::WitnessedKey {
                from,
                to,
                witness,
                key_id,
            } => write!(
                f,
                "checkpoints {from}..{to}: witnessed by {witness} under key {key_id}, not the key \
                 checked against (re-signed under another key)"
            ),
        }
    }
}

/// What verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub entries: u64,
    pub checkpoints: u64,
    pub last_seq: i64,
    /// The last checkpoint that verified, if any.
    pub last_checkpoint: Option<i64>,
    /// The newest checkpoint a witness holds, when verified against witnesses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_witnessed: Option<i64>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }

    /// Entries after the last good checkpoint: chained, but a deletion at the end of the trail
    /// would not be noticed until the next checkpoint.
    pub fn unsigned_tail(&self) -> Option<(i64, i64)> {
        let from = self.last_checkpoint.unwrap_or(0) + 1;
        (self.last_seq >= from).then_some((from, self.last_seq))
    }
}

/// Feeds entries in `seq` order; [`Verifier::finish`] returns the report.
pub struct Verifier {
    public_key: Vec<u8>,
    key_id: String,
    checkpoints: BTreeMap<i64, Checkpoint>,
    previous: Option<(i64, String)>,
    /// Stored hash → seq, to tell a reordered entry from a replaced one.
    seen: HashMap<String, i64>,
    /// Entries whose link matched neither the entry before nor any entry seen so far.
    unresolved: Vec<(i64, String)>,
    /// Changed entries, kept back until it is known whether they were moved.
    changed: BTreeSet<i64>,
    last_good_checkpoint: i64,
    /// What witnesses hold of the trail, by `seq`.
    witnessed: BTreeMap<i64, Vec<Witnessed>>,
    report: Report,
}

impl Verifier {
    pub fn new(public_key: &[u8], checkpoints: Vec<Checkpoint>) -> Self {
        let report = Report {
            checkpoints: checkpoints.len() as u64,
            ..Report::default()
        };
        Self {
            key_id: crate::entry::key_id(public_key),
            public_key: public_key.to_vec(),
            checkpoints: checkpoints.into_iter().map(|c| (c.seq, c)).collect(),
            previous: None,
            seen: HashMap::new(),
            unresolved: Vec::new(),
            changed: BTreeSet::new(),
            last_good_checkpoint: 0,
            witnessed: BTreeMap::new(),
            report,
        }
    }

    /// Also checks the trail against checkpoints witnesses hold (each already checked to be
    /// countersigned, [`crate::witness::Record::check`]).
    pub fn witnessed(mut self, witnessed: impl IntoIterator<Item = Witnessed>) -> Self {
        for w in witnessed {
            self.report.last_witnessed = self.report.last_witnessed.max(Some(w.seq));
            self.witnessed.entry(w.seq).or_default().push(w);
        }
        self
    }

    pub fn feed(&mut self, entry: &Entry) {
        let expected_seq = self.previous.as_ref().map_or(1, |(seq, _)| seq + 1);
        let gap = entry.seq > expected_seq;
        if gap {
            self.report.findings.push(Finding::Missing {
                from: expected_seq,
                to: entry.seq - 1,
            });
        }
        if entry.compute_hash() != entry.hash {
            self.changed.insert(entry.seq);
        }
        let expected_prev = self
            .previous
            .as_ref()
            .map_or(GENESIS, |(_, hash)| hash.as_str());
        if entry.prev_hash != expected_prev && !gap {
            self.unresolved.push((entry.seq, entry.prev_hash.clone()));
        }
        if let Some(w) = self
            .witnessed
            .get(&entry.seq)
            .and_then(|ws| ws.iter().find(|w| w.hash != entry.hash))
        {
            self.report.findings.push(Finding::Rewritten {
                seq: entry.seq,
                witness: w.witness_oin.clone(),
                at_ms: w.witnessed_at_ms,
            });
        }
        match self.checkpoints.get(&entry.seq).cloned() {
            Some(checkpoint) => self.check_checkpoint(&checkpoint, &entry.hash),
            None if entry.seq % crate::CHECKPOINT_EVERY == 0 => self
                .report
                .findings
                .push(Finding::MissingCheckpoint { seq: entry.seq }),
            None => {}
        }
        self.seen.insert(entry.hash.clone(), entry.seq);
        self.previous = Some((entry.seq, entry.hash.clone()));
        self.report.entries += 1;
        self.report.last_seq = entry.seq;
    }

    fn check_checkpoint(&mut self, checkpoint: &Checkpoint, entry_hash: &str) {
        let seq = checkpoint.seq;
        let before = self.report.findings.len();
        if checkpoint.key_id != self.key_id {
            self.report.findings.push(Finding::ForeignKey {
                seq,
                key_id: checkpoint.key_id.clone(),
            });
        } else if !crate::key::signature_valid(
            &self.public_key,
            &checkpoint_message(seq, &checkpoint.hash, checkpoint.at_ms),
            &checkpoint.signature,
        ) {
            self.report.findings.push(Finding::BadSignature { seq });
        }
        if checkpoint.hash != entry_hash {
            self.report.findings.push(Finding::CheckpointMismatch {
                seq,
                after: self.last_good_checkpoint,
            });
        }
        if self.report.findings.len() == before {
            self.last_good_checkpoint = seq;
            self.report.last_checkpoint = Some(seq);
        }
    }

    pub fn finish(mut self) -> Report {
        let mut moved = BTreeSet::new();
        for (seq, link) in std::mem::take(&mut self.unresolved) {
            match self.seen.get(&link) {
                Some(&links_to) => {
                    moved.insert(seq);
                    self.report
                        .findings
                        .push(Finding::Reordered { seq, links_to });
                }
                None if self.changed.contains(&(seq - 1)) => {
                    // The entry before was changed in place: its hash no longer matches, so
                    // this link cannot either. The change is reported at that entry.
                }
                None => self.report.findings.push(Finding::BrokenLink { seq }),
            }
        }
        for seq in std::mem::take(&mut self.changed) {
            if !moved.contains(&seq) {
                self.report.findings.push(Finding::Changed { seq });
            }
        }
        if let Some((&checkpoint, _)) = self.checkpoints.range(self.report.last_seq + 1..).last() {
            self.report.findings.push(Finding::Truncated {
                last: self.report.last_seq,
                checkpoint,
            });
        }
        self.witnessed_findings();
        self.report.findings.sort_by_key(position);
        self.report
    }

    /// What only the witnesses' records show: the end cut off, checkpoints under another key.
    fn witnessed_findings(&mut self) {
        let last = self.report.last_seq;
        if let Some(w) = self
            .witnessed
            .range(last + 1..)
            .next_back()
            .and_then(|(_, ws)| ws.first())
        {
            self.report.findings.push(Finding::WitnessedMissing {
                from: last + 1,
                to: w.seq,
                witness: w.witness_oin.clone(),
                at_ms: w.witnessed_at_ms,
            });
        }
        // One finding per witness and foreign key, over the checkpoints it covers.
        let mut foreign: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
        for w in self.witnessed.values().flatten() {
            if w.key_id != self.key_id {
                let span = foreign
                    .entry((w.witness_oin.clone(), w.key_id.clone()))
                    .or_insert((w.seq, w.seq));
                span.0 = span.0.min(w.seq);
                span.1 = span.1.max(w.seq);
            }
        }
        for ((witness, key_id), (from, to)) in foreign {
            self.report.findings.push(Finding::WitnessedKey {
                from,
                to,
                witness,
                key_id,
            });
        }
    }
}

fn position(finding: &Finding) -> i64 {
    match finding {
        Finding::Changed { seq }
        | Finding::Reordered { seq, .. }
        | Finding::BrokenLink { seq }
        | Finding::CheckpointMismatch { seq, .. }
        | Finding::BadSignature { seq }
        | Finding::MissingCheckpoint { seq }
        | Finding::ForeignKey { seq, .. } => *seq,
        Finding::Missing { from, .. }
        | Finding::WitnessedMissing { from, .. }
        | Finding::WitnessedKey { from, .. } => *from,
        Finding::Rewritten { seq, .. } => *seq,
        Finding::Truncated { last, .. } => *last + 1,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A chain of `n` entries.
    fn chain(n: i64) -> Vec<Entry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = Entry {
                    seq,
                    at_ms: 1_000 * seq,
                    step: "match".into(),
                    actor_oin: "00000001".into(),
                    actor_role: "partner".into(),
                    purpose: String::new(),
                    processing_activity: String::new(),
                    policy_version: "v".into(),
                    refs: "[]".into(),
                    detail: format!("entry {seq}"),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn witnessed(e: &Entry, key_id: &str) -> Witnessed {
        Witnessed {
            oin: "00000001".into(),
            seq: e.seq,
            hash: e.hash.clone(),
            at_ms: e.at_ms,
            key_id: key_id.into(),
            signature: String::new(),
            public_key: String::new(),
            key_change_reason: String::new(),
            witnessed_at_ms: 1_790_000_000_000,
            witness_oin: "00000002".into(),
            witness_key_id: String::new(),
            countersignature: String::new(),
        }
    }

    /// Verifies `entries` without checkpoints of their own, against what was witnessed.
    fn findings(entries: &[Entry], seen: Vec<Witnessed>) -> Vec<Finding> {
        let key = [7u8; 32];
        let mut verifier = Verifier::new(&key, Vec::new()).witnessed(seen);
        for e in entries {
            verifier.feed(e);
        }
        verifier.finish().findings
    }

    fn own_key_id() -> String {
        crate::entry::key_id(&[7u8; 32])
    }

    #[test]
    fn a_trail_cut_off_after_a_witnessed_checkpoint_names_the_missing_entries() {
        let all = chain(10);
        let seen = vec![
            witnessed(&all[4], &own_key_id()),
            witnessed(&all[9], &own_key_id()),
        ];
        assert_eq!(findings(&all, seen.clone()), []);
        let found = findings(&all[..7], seen);
        assert_eq!(
            found,
            [Finding::WitnessedMissing {
                from: 8,
                to: 10,
                witness: "00000002".into(),
                at_ms: 1_790_000_000_000,
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "truncated: entries 8..10 missing: witnessed by 00000002 at 2026-09-21T14:13:20Z"
        );
    }

    #[test]
    fn a_rewritten_and_rechained_trail_differs_at_the_witnessed_entries() {
        let all = chain(10);
        let seen = vec![
            witnessed(&all[4], &own_key_id()),
            witnessed(&all[9], &own_key_id()),
        ];
        let mut rewritten = all.clone();
        rewritten[2].detail = "nothing".into();
        let mut prev = rewritten[1].hash.clone();
        for e in rewritten.iter_mut().skip(2) {
            e.prev_hash = prev;
            e.hash = e.compute_hash();
            prev = e.hash.clone();
        }
        let found = findings(&rewritten, seen);
        assert_eq!(
            found.iter().map(position).collect::<Vec<_>>(),
            [5, 10],
            "{found:?}"
        );
        assert!(matches!(found[0], Finding::Rewritten { seq: 5, .. }));
    }

    #[test]
    fn checkpoints_witnessed_under_another_key_show_a_re_signed_trail() {
        let all = chain(6);
        let seen = vec![witnessed(&all[1], "aaaa"), witnessed(&all[5], "aaaa")];
        assert_eq!(
            findings(&all, seen),
            [Finding::WitnessedKey {
                from: 2,
                to: 6,
                witness: "00000002".into(),
                key_id: "aaaa".into(),
            }]
        );
    }
}
