//! Alarms on a partner's pattern (docs/DESIGN.md §4: hit/no-hit is an oracle for an authorised
//! partner). Two patterns, with thresholds per purpose in the policy (`alarms` in
//! purposes.toml), each counted per partner and purpose over the last 24 hours:
//!
//! - **withdrawn after a hit**: a signal withdrawn within `withdrawn_within_minutes` of its
//!   arrival while it was in a hit. Submit → hit → withdraw is how one asks "does another
//!   partner know this person?" and leaves nothing behind. "Soon" is measured from the signal's
//!   arrival: a probe's hit forms on arrival, and an old signal that joined a hit late is not a
//!   probe.
//! - **hit rate**: the share of the partner's new signals that landed in a hit, once it
//!   submitted at least `hit_rate_min_signals`: ordinary casework rarely overlaps, a partner
//!   checking a list against the others' signals does.
//!
//! An alarm is raised once per pattern, partner and purpose per 24 hours: an audit entry (step
//! `alarm`), a processing-log span and a warning, each with partner, purpose and counts only.
//! [`Watch`] is the pure part; the counts live in memory (a restart starts them afresh: the
//! audit trail keeps every submission and withdrawal for a recount).

use crate::core::Coordinator;
use signaalnet_audit::{Actor, Event, Step};
use signaalnet_policy::quota::{bucket_of, BUCKET_SECONDS, WINDOW_SECONDS};
use signaalnet_policy::{Alarms, PolicySet};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use tracing::Instrument;

/// Which pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    WithdrawnAfterHit,
    HitRate,
}

impl Pattern {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WithdrawnAfterHit => "withdrawn_after_hit",
            Self::HitRate => "hit_rate",
        }
    }
}

/// A threshold crossed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub pattern: Pattern,
    pub partner: String,
    pub purpose: String,
    /// Withdrawals right after a hit, or signals in a hit.
    pub count: u64,
    /// For the hit rate: signals submitted.
    pub of: u64,
    pub thresholds: Alarms,
}

impl fmt::Display for Alarm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.thresholds;
        match self.pattern {
            Pattern::WithdrawnAfterHit => write!(
                f,
                "alarm withdrawn_after_hit: `{}` withdrew {} signal(s) for `{}` within {} minutes \
                 of arrival while in a hit, in 24 hours (threshold {})",
                self.partner,
                self.count,
                self.purpose,
                t.withdrawn_within_minutes,
                t.withdrawals_after_hit
            ),
            Pattern::HitRate => write!(
                f,
                "alarm hit_rate: {} of {} signal(s) of `{}` for `{}` landed in a hit in 24 hours \
                 (threshold {} % of at least {})",
                self.count,
                self.of,
                self.partner,
                self.purpose,
                t.hit_rate_percent,
                t.hit_rate_min_signals
            ),
        }
    }
}

/// The patterns of every partner and purpose over the last 24 hours.
#[derive(Debug, Default)]
pub struct Watch {
    seen: HashMap<(String, String), Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// (bucket, signals, of which in a hit), oldest first.
    signals: VecDeque<(i64, u64, u64)>,
    /// Moments of withdrawals right after a hit.
    quick_withdrawals: VecDeque<i64>,
    /// When each pattern last raised an alarm.
    raised: HashMap<Pattern, i64>,
}

impl Seen {
    fn evict(&mut self, now: i64) {
        let horizon = bucket_of(now) - WINDOW_SECONDS;
        while self.signals.front().is_some_and(|(b, _, _)| *b < horizon) {
            self.signals.pop_front();
        }
        while self
            .quick_withdrawals
            .front()
            .is_some_and(|t| *t <= now - WINDOW_SECONDS)
        {
            self.quick_withdrawals.pop_front();
        }
    }

    /// Raises `pattern` unless it was raised in the last 24 hours.
    fn raise(&mut self, pattern: Pattern, now: i64) -> bool {
        match self.raised.get(&pattern) {
            Some(at) if *at > now - WINDOW_SECONDS => false,
            _ => {
                self.raised.insert(pattern, now);
                true
            }
        }
    }
}

impl Watch {
    /// A new signal of `partner` for `purpose` was stored, in a hit or not.
    pub fn signal(
        &mut self,
        thresholds: &Alarms,
        partner: &str,
        purpose: &str,
        in_hit: bool,
        now: i64,
    ) -> Option<Alarm> {
        let seen = self.entry(partner, purpose);
        seen.evict(now);
        let bucket = bucket_of(now);
        match seen.signals.back_mut() {
            Some((b, n, hits)) if *b == bucket => {
                *n += 1;
                *hits += u64::from(in_hit);
            }
            _ => seen.signals.push_back((bucket, 1, u64::from(in_hit))),
        }
        let (of, count) = seen
            .signals
            .iter()
            .fold((0, 0), |(n, h), (_, sn, sh)| (n + sn, h + sh));
        let crossed = of >= u64::from(thresholds.hit_rate_min_signals)
            && count * 100 >= of * u64::from(thresholds.hit_rate_percent);
        (crossed && seen.raise(Pattern::HitRate, now)).then(|| Alarm {
            pattern: Pattern::HitRate,
            partner: partner.to_owned(),
            purpose: purpose.to_owned(),
            count,
            of,
            thresholds: *thresholds,
        })
    }

    /// `partner` withdrew a signal for `purpose` that arrived at `received_at`.
    pub fn withdrawal(
        &mut self,
        thresholds: &Alarms,
        partner: &str,
        purpose: &str,
        (received_at, in_hit): (i64, bool),
        now: i64,
    ) -> Option<Alarm> {
        let seen = self.entry(partner, purpose);
        seen.evict(now);
        let soon = now - received_at <= i64::from(thresholds.withdrawn_within_minutes) * 60;
        if !(in_hit && soon) {
            return None;
        }
        seen.quick_withdrawals.push_back(now);
        let count = seen.quick_withdrawals.len() as u64;
        let crossed = count >= u64::from(thresholds.withdrawals_after_hit);
        (crossed && seen.raise(Pattern::WithdrawnAfterHit, now)).then(|| Alarm {
            pattern: Pattern::WithdrawnAfterHit,
            partner: partner.to_owned(),
            purpose: purpose.to_owned(),
            count,
            of: count,
            thresholds: *thresholds,
        })
    }

    fn entry(&mut self, partner: &str, purpose: &str) -> &mut Seen {
        self.seen
            .entry((partner.to_owned(), purpose.to_owned()))
            .or_default()
    }
}

// The buckets of the hit rate are the quota's; a bucket is short against the window.
const _: () = assert!(BUCKET_SECONDS * 60 <= WINDOW_SECONDS);

impl Coordinator {
    /// After a new signal was stored: watch the partner's hit rate.
    pub(crate) async fn watch_signal(
        &self,
        policy: &PolicySet,
        actor: &Actor,
        (partner, purpose): (&str, &str),
        in_hit: bool,
    ) {
        let Some(thresholds) = policy.purpose(purpose).map(|p| p.alarms) else {
            return;
        };
        let now = self.now();
        let alarm = self.watch.lock().unwrap_or_else(|e| e.into_inner()).signal(
            &thresholds,
            partner,
            purpose,
            in_hit,
            now,
        );
        if let Some(alarm) = alarm {
            self.raise(policy, actor, alarm).await;
        }
    }

    /// After a withdrawal: watch for withdrawals right after a hit.
    pub(crate) async fn watch_withdrawal(
        &self,
        policy: &PolicySet,
        actor: &Actor,
        (partner, purpose): (&str, &str),
        arrival: (i64, bool),
    ) {
        let Some(thresholds) = policy.purpose(purpose).map(|p| p.alarms) else {
            return;
        };
        let now = self.now();
        let alarm = self
            .watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .withdrawal(&thresholds, partner, purpose, arrival, now);
        if let Some(alarm) = alarm {
            self.raise(policy, actor, alarm).await;
        }
    }

    /// An alarm: audit entry, processing-log span and a warning; partner, purpose, counts.
    async fn raise(&self, policy: &PolicySet, actor: &Actor, alarm: Alarm) {
        let span = signaalnet_telemetry::step("alarm", signaalnet_telemetry::Kind::Internal);
        signaalnet_telemetry::outcome(&span, alarm.pattern.as_str());
        signaalnet_telemetry::count(&span, usize::try_from(alarm.count).unwrap_or(usize::MAX));
        tracing::warn!(
            partner = %alarm.partner,
            purpose = %alarm.purpose,
            pattern = alarm.pattern.as_str(),
            count = alarm.count,
            of = alarm.of,
            "{alarm}"
        );
        let event = Event::for_purpose(Step::Alarm, policy, &alarm.purpose)
            .by(actor.clone())
            .reference(format!("partner:{}", alarm.partner))
            .detail(alarm.to_string());
        self.audit
            .try_record(&self.store, event)
            .instrument(span)
            .await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const T0: i64 = 1_790_000_000;

    fn thresholds() -> Alarms {
        Alarms {
            withdrawals_after_hit: 3,
            withdrawn_within_minutes: 60,
            hit_rate_percent: 50,
            hit_rate_min_signals: 4,
        }
    }

    #[test]
    fn withdrawals_soon_after_a_hit_raise_one_alarm_per_day() {
        let mut w = Watch::default();
        let t = thresholds();
        // Not in a hit, or withdrawn long after arrival: not the pattern.
        assert!(w.withdrawal(&t, "g", "p", (T0, false), T0 + 60).is_none());
        assert!(w.withdrawal(&t, "g", "p", (T0, true), T0 + 3_601).is_none());
        assert!(w.withdrawal(&t, "g", "p", (T0, true), T0 + 60).is_none());
        assert!(w.withdrawal(&t, "g", "p", (T0, true), T0 + 120).is_none());
        let alarm = w.withdrawal(&t, "g", "p", (T0, true), T0 + 180).unwrap();
        assert_eq!(
            (alarm.pattern, alarm.count),
            (Pattern::WithdrawnAfterHit, 3)
        );
        assert!(alarm
            .to_string()
            .contains("`g` withdrew 3 signal(s) for `p`"));
        // Once per day, and other partners are their own.
        assert!(w.withdrawal(&t, "g", "p", (T0, true), T0 + 240).is_none());
        assert!(w.withdrawal(&t, "n", "p", (T0, true), T0 + 240).is_none());
        // A day later the old ones no longer count.
        let later = T0 + WINDOW_SECONDS + 300;
        assert!(w.withdrawal(&t, "g", "p", (later, true), later).is_none());
    }

    #[test]
    fn an_unusual_hit_rate_raises_an_alarm_once_enough_signals_were_seen() {
        let mut w = Watch::default();
        let t = thresholds();
        // Hits from the first signal, but below the minimum number of signals: no alarm.
        for i in 0..3 {
            assert!(w.signal(&t, "g", "p", true, T0 + i).is_none());
        }
        let alarm = w.signal(&t, "g", "p", false, T0 + 3).unwrap();
        assert_eq!((alarm.count, alarm.of), (3, 4));
        assert!(w.signal(&t, "g", "p", true, T0 + 4).is_none(), "once a day");
        // A partner with ordinary casework.
        for i in 0..10 {
            assert!(w.signal(&t, "n", "p", i % 4 == 0, T0 + i).is_none());
        }
    }
}
