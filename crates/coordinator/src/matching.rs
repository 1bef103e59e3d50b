//! Matching: pure, incremental, deterministic and idempotent.
//!
//! Signals are nodes; two signals of the same purpose are linked when they carry the same
//! matching pseudonym of the same kind and their observed months lie within the purpose's match
//! window of each other. A hit is a connected component with signals from at least
//! `min_distinct_partners` different partners. Inserting a signal recomputes only its own
//! component; removing one recomputes only the components of the hit it was in.
//!
//! Hit ids are stable: a hit keeps its id while it grows or shrinks; when hits merge, the one
//! formed earliest (lowest founding signal) keeps its id and the others dissolve into it; a new
//! hit's id is derived from its purpose and founding signal, so replaying the same history gives
//! the same ids.
//!
//! The matcher links only the signals it holds. The coordinator holds the signals in hits and,
//! for each change, loads the stored signals the change can reach (`load.rs`); the rest stay in
//! the store.

use ring::digest;
use signaalnet_identifier::IdentifierKind;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// The coordinator's sequence number of a received signal.
pub type Seq = i64;
/// A matching-domain pseudonym.
pub type Pseudonym = [u8; 32];

/// What matching needs to know of a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalEntry {
    pub seq: Seq,
    pub partner: String,
    pub signal_id: String,
    pub purpose: String,
    /// Months since year 0 (`year * 12 + month - 1`).
    pub month: i32,
    pub keys: Vec<(IdentifierKind, Pseudonym)>,
    pub attributes: Vec<(String, String)>,
}

/// A purpose's matching rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub window_months: i32,
    pub min_partners: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: String,
    pub purpose: String,
    pub members: BTreeSet<Seq>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Formed,
    Grew,
    Shrank,
    Dissolved,
    /// Never produced by the matcher: the coordinator's retention ended the hit.
    Expired,
}

/// One change to one hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitEvent {
    pub hit_id: String,
    pub purpose: String,
    pub change: Change,
    /// The members after the change; for `Dissolved`, the members it had before.
    pub members: BTreeSet<Seq>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MatchError {
    #[error("purpose `{0}` has no matching rule")]
    UnknownPurpose(String),
}

/// Parses `YYYY-MM` into months since year 0.
pub fn month_index(month: &str) -> Option<i32> {
    let (y, m) = month.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let y: i32 = y.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

/// The inverse of [`month_index`].
pub fn month_string(index: i32) -> String {
    format!(
        "{:04}-{:02}",
        index.div_euclid(12),
        index.rem_euclid(12) + 1
    )
}

type IndexKey = (String, IdentifierKind, Pseudonym);

#[derive(Debug, Default)]
pub struct Matcher {
    rules: HashMap<String, Rule>,
    signals: HashMap<Seq, SignalEntry>,
    index: HashMap<IndexKey, BTreeSet<Seq>>,
    hits: BTreeMap<String, Hit>,
    hit_of: HashMap<Seq, String>,
}

impl Matcher {
    pub fn new(rules: HashMap<String, Rule>) -> Self {
        Self {
            rules,
            ..Self::default()
        }
    }

    /// Restores a state saved earlier: the active signals and the hits as they were, without
    /// emitting events.
    pub fn restore(&mut self, signals: Vec<SignalEntry>, hits: Vec<Hit>) {
        for signal in signals {
            self.add_to_index(signal);
        }
        for hit in hits {
            for seq in &hit.members {
                self.hit_of.insert(*seq, hit.id.clone());
            }
            self.hits.insert(hit.id.clone(), hit);
        }
    }

    pub fn signal(&self, seq: Seq) -> Option<&SignalEntry> {
        self.signals.get(&seq)
    }

    pub fn signals(&self) -> impl Iterator<Item = &SignalEntry> {
        self.signals.values()
    }

    pub fn contains(&self, seq: Seq) -> bool {
        self.signals.contains_key(&seq)
    }

    pub fn hit(&self, id: &str) -> Option<&Hit> {
        self.hits.get(id)
    }

    /// Hits in id order.
    pub fn hits(&self) -> impl Iterator<Item = &Hit> {
        self.hits.values()
    }

    pub fn hit_of(&self, seq: Seq) -> Option<&Hit> {
        self.hit_of.get(&seq).and_then(|id| self.hits.get(id))
    }

    /// Holds `signal` for matching without changing any hit: a stored signal loaded back because
    /// a new one shares a key with it. Present already, or of a purpose without a rule: ignored.
    pub fn load(&mut self, signal: SignalEntry) {
        if !self.signals.contains_key(&signal.seq) && self.rules.contains_key(&signal.purpose) {
            self.add_to_index(signal);
        }
    }

    /// Lets go of those of `seqs` that are in no hit (they stay stored; a later signal that
    /// shares a key loads them back). Changes no hit. Returns how many were let go.
    pub fn evict_unmatched(&mut self, seqs: impl IntoIterator<Item = Seq>) -> usize {
        let mut evicted = 0;
        for seq in seqs {
            if self.hit_of.contains_key(&seq) {
                continue;
            }
            if let Some(signal) = self.signals.remove(&seq) {
                self.drop_from_index(&signal);
                evicted += 1;
            }
        }
        evicted
    }

    /// Adds a signal and returns what changed. A signal already present changes nothing.
    ///
    /// Every stored signal that shares a key with it, directly or through other signals, must be
    /// held (inserted or [`Matcher::load`]ed) first: the matcher links only what it holds.
    pub fn insert(&mut self, signal: SignalEntry) -> Result<Vec<HitEvent>, MatchError> {
        if self.signals.contains_key(&signal.seq) {
            return Ok(Vec::new());
        }
        let rule = self.rule(&signal.purpose)?;
        let seq = signal.seq;
        self.add_to_index(signal);
        let component = self.component(seq, rule);
        Ok(self.reconcile(vec![component]))
    }

    /// Removes a signal (withdrawal, expiry) and returns what changed.
    pub fn remove(&mut self, seq: Seq) -> Result<Vec<HitEvent>, MatchError> {
        let Some(signal) = self.signals.remove(&seq) else {
            return Ok(Vec::new());
        };
        let rule = self.rule(&signal.purpose)?;
        self.drop_from_index(&signal);
        let Some(hit_id) = self.hit_of.remove(&seq) else {
            return Ok(Vec::new());
        };
        let remaining: Vec<Seq> = self
            .hits
            .get(&hit_id)
            .map(|h| h.members.iter().copied().filter(|s| *s != seq).collect())
            .unwrap_or_default();
        let mut seen = BTreeSet::new();
        let mut components = Vec::new();
        for start in remaining {
            if seen.contains(&start) {
                continue;
            }
            let component = self.component(start, rule);
            seen.extend(component.iter().copied());
            components.push(component);
        }
        // The removed signal's hit must be reconciled even when nothing of it remains.
        let mut events = self.reconcile_with(components, BTreeSet::from([hit_id]));
        for event in &mut events {
            if event.change == Change::Dissolved {
                event.members.insert(seq);
            }
        }
        Ok(events)
    }

    /// The keys that link members of `hit`: each (kind, pseudonym) carried by at least two of
    /// its signals.
    pub fn linking_keys(&self, hit: &Hit) -> BTreeSet<(IdentifierKind, Pseudonym)> {
        linking_keys(hit.members.iter().filter_map(|seq| self.signals.get(seq)))
    }

    /// Whether signals of `purpose` can be matched (its rule was loaded).
    pub fn has_rule(&self, purpose: &str) -> bool {
        self.rules.contains_key(purpose)
    }

    fn rule(&self, purpose: &str) -> Result<Rule, MatchError> {
        self.rules
            .get(purpose)
            .copied()
            .ok_or_else(|| MatchError::UnknownPurpose(purpose.to_owned()))
    }

    fn add_to_index(&mut self, signal: SignalEntry) {
        for (kind, pseudonym) in &signal.keys {
            self.index
                .entry((signal.purpose.clone(), *kind, *pseudonym))
                .or_default()
                .insert(signal.seq);
        }
        self.signals.insert(signal.seq, signal);
    }

    fn drop_from_index(&mut self, signal: &SignalEntry) {
        for (kind, pseudonym) in &signal.keys {
            let key = (signal.purpose.clone(), *kind, *pseudonym);
            if let Some(set) = self.index.get_mut(&key) {
                set.remove(&signal.seq);
                if set.is_empty() {
                    self.index.remove(&key);
                }
            }
        }
    }

    /// The connected component of `start` (breadth-first over shared keys within the window).
    fn component(&self, start: Seq, rule: Rule) -> BTreeSet<Seq> {
        let mut component = BTreeSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(seq) = queue.pop_front() {
            let Some(signal) = self.signals.get(&seq) else {
                continue;
            };
            for (kind, pseudonym) in &signal.keys {
                let key = (signal.purpose.clone(), *kind, *pseudonym);
                for other in self.index.get(&key).into_iter().flatten() {
                    if component.contains(other) {
                        continue;
                    }
                    let Some(o) = self.signals.get(other) else {
                        continue;
                    };
                    if (o.month - signal.month).abs() <= rule.window_months {
                        component.insert(*other);
                        queue.push_back(*other);
                    }
                }
            }
        }
        component
    }

    fn distinct_partners(&self, members: &BTreeSet<Seq>) -> usize {
        members
            .iter()
            .filter_map(|s| self.signals.get(s))
            .map(|s| s.partner.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }

    fn reconcile(&mut self, components: Vec<BTreeSet<Seq>>) -> Vec<HitEvent> {
        self.reconcile_with(components, BTreeSet::new())
    }

    /// Turns freshly computed components into hit changes. `also_old` names hits that must be
    /// reconsidered even if no member of `components` is in them.
    fn reconcile_with(
        &mut self,
        mut components: Vec<BTreeSet<Seq>>,
        also_old: BTreeSet<String>,
    ) -> Vec<HitEvent> {
        components.sort_by_key(|c| c.first().copied());
        let mut old_ids: BTreeSet<String> = also_old;
        for component in &components {
            for seq in component {
                if let Some(id) = self.hit_of.get(seq) {
                    old_ids.insert(id.clone());
                }
            }
        }
        let old: BTreeMap<String, Hit> = old_ids
            .iter()
            .filter_map(|id| self.hits.get(id).map(|h| (id.clone(), h.clone())))
            .collect();
        let mut taken = BTreeSet::new();
        let mut events = Vec::new();
        let mut new_hits = Vec::new();
        for component in components {
            let Some(first) = component.first().copied() else {
                continue;
            };
            let Some(purpose) = self.signals.get(&first).map(|s| s.purpose.clone()) else {
                continue;
            };
            let min_partners = self.rules.get(&purpose).map_or(2, |r| r.min_partners);
            if self.distinct_partners(&component) < min_partners {
                continue;
            }
            // The oldest overlapping hit (lowest founding member) keeps its id.
            let reuse = old
                .values()
                .filter(|h| !taken.contains(&h.id) && !h.members.is_disjoint(&component))
                .min_by_key(|h| h.members.first().copied());
            let (id, change) = match reuse {
                Some(h) => {
                    let change = if h.members == component {
                        None
                    } else if component.is_superset(&h.members) || !component.is_subset(&h.members)
                    {
                        Some(Change::Grew)
                    } else {
                        Some(Change::Shrank)
                    };
                    (h.id.clone(), change)
                }
                None => (hit_id(&purpose, first), Some(Change::Formed)),
            };
            taken.insert(id.clone());
            if let Some(change) = change {
                events.push(HitEvent {
                    hit_id: id.clone(),
                    purpose: purpose.clone(),
                    change,
                    members: component.clone(),
                });
            }
            new_hits.push(Hit {
                id,
                purpose,
                members: component,
            });
        }
        for (id, hit) in &old {
            for seq in &hit.members {
                self.hit_of.remove(seq);
            }
            self.hits.remove(id);
            if !taken.contains(id) {
                events.push(HitEvent {
                    hit_id: id.clone(),
                    purpose: hit.purpose.clone(),
                    change: Change::Dissolved,
                    members: hit.members.clone(),
                });
            }
        }
        for hit in new_hits {
            for seq in &hit.members {
                self.hit_of.insert(*seq, hit.id.clone());
            }
            self.hits.insert(hit.id.clone(), hit);
        }
        events
    }
}

/// `hit-` and 16 hex digits derived from the purpose and the founding signal.
/// The keys that link `members` (a hit's signals): each (kind, pseudonym) carried by at least
/// two of them.
pub fn linking_keys<'a>(
    members: impl IntoIterator<Item = &'a SignalEntry>,
) -> BTreeSet<(IdentifierKind, Pseudonym)> {
    let mut counts: BTreeMap<(IdentifierKind, Pseudonym), usize> = BTreeMap::new();
    for signal in members {
        let distinct: BTreeSet<_> = signal.keys.iter().copied().collect();
        for key in distinct {
            *counts.entry(key).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n >= 2)
        .map(|(k, _)| k)
        .collect()
}

fn hit_id(purpose: &str, founder: Seq) -> String {
    let mut input = Vec::with_capacity(purpose.len() + 9);
    input.extend_from_slice(purpose.as_bytes());
    input.push(0);
    input.extend_from_slice(&founder.to_be_bytes());
    let d = digest::digest(&digest::SHA256, &input);
    let hex: String = d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("hit-{hex}")
}
