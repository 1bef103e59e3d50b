//! Verification of a trail, in one pass over the entries in `seq` order. Every finding names
//! the entry where the trail stops being what was written: a changed entry (its hash no longer
//! matches its content), a gap (deleted entries), an entry that links to another entry than
//! the one before it (reordered), a checkpoint whose hash or signature does not hold, a
//! checkpoint signed by another key (re-signed), or a checkpoint beyond the last entry
//! (truncated).

use crate::entry::{checkpoint_message, Checkpoint, Entry, GENESIS};
use serde::Serialize;
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
            report,
        }
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
        self.report.findings.sort_by_key(position);
        self.report
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
        Finding::Missing { from, .. } => *from,
        Finding::Truncated { last, .. } => *last + 1,
    }
}
