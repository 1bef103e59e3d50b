//! The quotas of [`crate::limits`] as a sliding 24-hour window per partner and purpose: pure
//! state, no I/O, no clock. Roles wrap a [`Ledger`] with their store so the window survives a
//! restart (`signaalnet_service::quota`).
//!
//! Usage is kept in buckets of [`BUCKET_SECONDS`]; a bucket counts until it lies wholly more
//! than [`WINDOW_SECONDS`] in the past. So the window is at most one bucket longer than 24
//! hours, never shorter: a partner never gets more than its quota in any 24 hours.

use crate::limits::Limits;
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// The window of the daily quota.
pub const WINDOW_SECONDS: i64 = 24 * 60 * 60;
/// Granularity of the window.
pub const BUCKET_SECONDS: i64 = 60;

/// Which quota refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// The partner does not share for the purpose at all.
    NoShare,
    PerSignal,
    PerDay,
}

/// A refusal: which quota, its limit and rule, and when enough of it frees up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    pub quota: Quota,
    pub partner: String,
    pub purpose: String,
    /// The policy rule, e.g. `limits.identifiers_per_day` (see [`Limits::rule`]).
    pub rule: String,
    /// The partner file that sets it.
    pub file: String,
    pub limit: u64,
    /// Identifiers asked for.
    pub requested: u64,
    /// Identifiers already used in the window.
    pub used: u64,
    /// Seconds since the epoch from which the request would fit; `None` when it never will
    /// (over the per-signal cap, or no share).
    pub frees_at: Option<i64>,
    /// The moment of the refusal, for "in N seconds".
    pub now: i64,
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = format!("`{}` for purpose `{}`", self.partner, self.purpose);
        match self.quota {
            Quota::NoShare => write!(f, "{who} has no share in the policy, so no quota"),
            Quota::PerSignal => write!(
                f,
                "{} identifier(s) (counted as match keys) exceed quota {} of {} per signal for \
                 {who} ({}); split the signal, or ask the privacy officer for a bulk grant",
                self.requested, self.rule, self.limit, self.file
            ),
            Quota::PerDay => {
                write!(
                    f,
                    "quota {} of {} identifiers per 24 hours for {who} ({}) is used up: {} used, \
                     {} more asked",
                    self.rule, self.limit, self.file, self.used, self.requested
                )?;
                if let Some(at) = self.frees_at {
                    write!(
                        f,
                        "; frees up at {} (in {} s)",
                        utc(at),
                        (at - self.now).max(0)
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Exhausted {}

/// Usage per partner and purpose over the window.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    usage: HashMap<(String, String), Usage>,
}

#[derive(Debug, Default, Clone)]
struct Usage {
    /// (bucket start, identifiers), oldest first.
    buckets: VecDeque<(i64, u64)>,
    total: u64,
}

impl Usage {
    fn evict(&mut self, now: i64) {
        let horizon = horizon(now);
        while let Some(&(bucket, n)) = self.buckets.front() {
            if bucket >= horizon {
                break;
            }
            self.total -= n;
            self.buckets.pop_front();
        }
    }

    fn add(&mut self, bucket: i64, n: u64) {
        self.total += n;
        match self.buckets.iter_mut().rev().find(|(b, _)| *b == bucket) {
            Some((_, count)) => *count += n,
            None => {
                let at = self.buckets.partition_point(|(b, _)| *b < bucket);
                self.buckets.insert(at, (bucket, n));
            }
        }
    }

    /// The first moment from which `n` more fit under `limit`.
    fn frees_at(&self, limit: u64, n: u64) -> Option<i64> {
        let mut over = (self.total + n).checked_sub(limit)?;
        for &(bucket, count) in &self.buckets {
            if count >= over {
                return Some(bucket + BUCKET_SECONDS + WINDOW_SECONDS);
            }
            over -= count;
        }
        None
    }
}

/// The bucket `now` falls in.
pub fn bucket_of(now: i64) -> i64 {
    now.div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS
}

/// The oldest bucket that still counts at `now`; older usage may be deleted.
pub fn horizon(now: i64) -> i64 {
    bucket_of(now) - WINDOW_SECONDS
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts back usage read from a store.
    pub fn restore(&mut self, partner: &str, purpose: &str, bucket: i64, identifiers: u64) {
        self.entry(partner, purpose)
            .add(bucket_of(bucket), identifiers);
    }

    /// Identifiers `partner` used for `purpose` in the window ending at `now`.
    pub fn used(&mut self, partner: &str, purpose: &str, now: i64) -> u64 {
        let usage = self.entry(partner, purpose);
        usage.evict(now);
        usage.total
    }

    /// Checks a signal of `n` identifiers against the per-signal cap only (for roles that see
    /// signals but keep no daily window).
    pub fn check_signal(
        limits: Option<&Limits>,
        partner: &str,
        purpose: &str,
        n: u64,
        now: i64,
    ) -> Result<(), Box<Exhausted>> {
        let limits = limits.ok_or_else(|| no_share(partner, purpose, n, now))?;
        let cap = u64::from(limits.identifiers_per_signal);
        if n > cap {
            return Err(Box::new(Exhausted {
                quota: Quota::PerSignal,
                partner: partner.to_owned(),
                purpose: purpose.to_owned(),
                rule: limits.rule(false),
                file: limits.file.clone(),
                limit: cap,
                requested: n,
                used: 0,
                frees_at: None,
                now,
            }));
        }
        Ok(())
    }

    /// Takes `n` identifiers of one signal: refused when `n` is over the per-signal cap or
    /// does not fit in the daily window. Returns the bucket it was counted in.
    pub fn take_signal(
        &mut self,
        limits: Option<&Limits>,
        partner: &str,
        purpose: &str,
        n: u64,
        now: i64,
    ) -> Result<i64, Box<Exhausted>> {
        Self::check_signal(limits, partner, purpose, n, now)?;
        self.take(limits, partner, purpose, n, now)
    }

    /// Takes `n` identifiers (of any number of signals, e.g. a transcryptor's batch) from the
    /// daily window only. Returns the bucket it was counted in.
    pub fn take(
        &mut self,
        limits: Option<&Limits>,
        partner: &str,
        purpose: &str,
        n: u64,
        now: i64,
    ) -> Result<i64, Box<Exhausted>> {
        let limits = limits.ok_or_else(|| no_share(partner, purpose, n, now))?;
        let limit = limits.identifiers_per_day;
        let usage = self.entry(partner, purpose);
        usage.evict(now);
        if usage.total + n > limit {
            return Err(Box::new(Exhausted {
                quota: Quota::PerDay,
                partner: partner.to_owned(),
                purpose: purpose.to_owned(),
                rule: limits.rule(true),
                file: limits.file.clone(),
                limit,
                requested: n,
                used: usage.total,
                frees_at: usage.frees_at(limit, n),
                now,
            }));
        }
        let bucket = bucket_of(now);
        usage.add(bucket, n);
        Ok(bucket)
    }

    /// Undoes a take whose recording failed.
    pub fn give_back(&mut self, partner: &str, purpose: &str, bucket: i64, n: u64) {
        let usage = self.entry(partner, purpose);
        if let Some((_, count)) = usage.buckets.iter_mut().find(|(b, _)| *b == bucket) {
            let back = n.min(*count);
            *count -= back;
            usage.total -= back;
        }
    }

    fn entry(&mut self, partner: &str, purpose: &str) -> &mut Usage {
        self.usage
            .entry((partner.to_owned(), purpose.to_owned()))
            .or_default()
    }
}

fn no_share(partner: &str, purpose: &str, n: u64, now: i64) -> Box<Exhausted> {
    Box::new(Exhausted {
        quota: Quota::NoShare,
        partner: partner.to_owned(),
        purpose: purpose.to_owned(),
        rule: "policy.purpose_not_shared".to_owned(),
        file: String::new(),
        limit: 0,
        requested: n,
        used: 0,
        frees_at: None,
        now,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC, proleptic Gregorian); a moment
/// outside the calendar (beyond ±9999 years) as its number of seconds.
pub fn utc(seconds: i64) -> String {
    match jiff::Timestamp::from_second(seconds) {
        Ok(t) => jiff::tz::Offset::UTC
            .to_datetime(t)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        Err(_) => format!("{seconds} s since the epoch"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::limits::Grant;

    const T0: i64 = 1_790_000_000 - 1_790_000_000 % BUCKET_SECONDS;

    fn limits(per_signal: u32, per_day: u64) -> Limits {
        Limits {
            identifiers_per_signal: per_signal,
            identifiers_per_day: per_day,
            grant: Grant::Share,
            bulk_reason: None,
            file: "partners/gemeente.toml".into(),
        }
    }

    #[test]
    fn a_signal_over_the_cap_is_refused_naming_the_rule_and_never_frees() {
        let mut l = Ledger::new();
        let e = l
            .take_signal(Some(&limits(8, 100)), "gemeente", "drieluik", 9, T0)
            .unwrap_err();
        assert_eq!(e.quota, Quota::PerSignal);
        assert_eq!((e.limit, e.requested, e.frees_at), (8, 9, None));
        assert_eq!(e.rule, "limits.identifiers_per_signal");
        let text = e.to_string();
        assert!(
            text.contains("limits.identifiers_per_signal of 8 per signal"),
            "{text}"
        );
        assert!(text.contains("partners/gemeente.toml"), "{text}");
        // Nothing was counted.
        assert_eq!(l.used("gemeente", "drieluik", T0), 0);
        assert!(l
            .take_signal(Some(&limits(8, 100)), "gemeente", "drieluik", 8, T0)
            .is_ok());
    }

    #[test]
    fn the_daily_quota_slides_and_says_when_it_frees_up() {
        let mut l = Ledger::new();
        let q = limits(8, 10);
        l.take_signal(Some(&q), "g", "p", 4, T0).unwrap();
        l.take_signal(Some(&q), "g", "p", 4, T0 + 3_600).unwrap();
        // 8 used; 3 more do not fit. Freeing 1 needs the first bucket to leave the window.
        let e = l
            .take_signal(Some(&q), "g", "p", 3, T0 + 7_200)
            .unwrap_err();
        assert_eq!(e.quota, Quota::PerDay);
        assert_eq!((e.used, e.limit, e.requested), (8, 10, 3));
        assert_eq!(e.frees_at, Some(T0 + BUCKET_SECONDS + WINDOW_SECONDS));
        assert!(e.to_string().contains("frees up at"), "{e}");
        assert!(e.to_string().contains("limits.identifiers_per_day"), "{e}");
        // 2 still fit.
        l.take_signal(Some(&q), "g", "p", 2, T0 + 7_200).unwrap();
        // Just before the first bucket leaves, still full; right after, 4 are free again.
        let e = l
            .take_signal(
                Some(&q),
                "g",
                "p",
                1,
                T0 + WINDOW_SECONDS + BUCKET_SECONDS - 1,
            )
            .unwrap_err();
        // Needs the second bucket to go as well? No: one identifier frees with the first.
        assert_eq!(e.frees_at, Some(T0 + BUCKET_SECONDS + WINDOW_SECONDS));
        l.take_signal(Some(&q), "g", "p", 4, T0 + WINDOW_SECONDS + BUCKET_SECONDS)
            .unwrap();
        assert_eq!(l.used("g", "p", T0 + WINDOW_SECONDS + BUCKET_SECONDS), 10);
        // A request that needs two buckets to leave waits for the later one.
        let e = l
            .take_signal(Some(&q), "g", "p", 5, T0 + WINDOW_SECONDS + BUCKET_SECONDS)
            .unwrap_err();
        assert_eq!(
            e.frees_at,
            Some(T0 + 7_200 + BUCKET_SECONDS + WINDOW_SECONDS)
        );
    }

    #[test]
    fn partners_and_purposes_have_their_own_windows() {
        let mut l = Ledger::new();
        let q = limits(8, 8);
        l.take_signal(Some(&q), "g", "p", 8, T0).unwrap();
        assert!(l.take_signal(Some(&q), "g", "p", 1, T0).is_err());
        l.take_signal(Some(&q), "g", "other", 8, T0).unwrap();
        l.take_signal(Some(&q), "politie", "p", 8, T0).unwrap();
    }

    #[test]
    fn restored_usage_counts_and_given_back_usage_does_not() {
        let mut l = Ledger::new();
        let q = limits(8, 10);
        l.restore("g", "p", T0 - 100, 6);
        // Usage from before the window is dropped.
        l.restore("g", "p", T0 - WINDOW_SECONDS - 2 * BUCKET_SECONDS, 100);
        assert_eq!(l.used("g", "p", T0), 6);
        let bucket = l.take_signal(Some(&q), "g", "p", 4, T0).unwrap();
        assert!(l.take_signal(Some(&q), "g", "p", 1, T0).is_err());
        l.give_back("g", "p", bucket, 4);
        assert_eq!(l.used("g", "p", T0), 6);
    }

    #[test]
    fn no_share_is_refused_without_counting() {
        let mut l = Ledger::new();
        let e = l.take_signal(None, "nla", "zorg", 1, T0).unwrap_err();
        assert_eq!(e.quota, Quota::NoShare);
        assert_eq!(l.used("nla", "zorg", T0), 0);
    }

    #[test]
    fn batches_count_against_the_daily_window_only() {
        let mut l = Ledger::new();
        let q = limits(2, 100);
        // A transcryptor's batch of 50 ciphertexts is many signals, not one.
        l.take(Some(&q), "g", "p", 50, T0).unwrap();
        l.take(Some(&q), "g", "p", 50, T0).unwrap();
        assert_eq!(
            l.take(Some(&q), "g", "p", 1, T0).unwrap_err().quota,
            Quota::PerDay
        );
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_790_000_000), "2026-09-21T14:13:20Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    }
}
