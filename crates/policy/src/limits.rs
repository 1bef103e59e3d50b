//! Probing limits and alarm thresholds. Hit/no-hit is itself an oracle for an authorised
//! partner: every identifier it submits tells it whether another partner has a signal on it.
//! The policy therefore caps, per partner and purpose, how many identifiers one signal may carry
//! and how many the partner may have matched in any 24 hours; a bulk cross-check needs an
//! explicit grant with a reason. Per purpose, thresholds say when a partner's pattern (many
//! withdrawals right after a hit, an unusual share of hits) raises an alarm.
//!
//! Identifiers are counted as the match keys they travel as, the unit every role can see (the
//! transcryptors and the coordinator see only ciphertexts): a person counts 3 (full name,
//! initial, loose spelling; 2 without a given name), every other kind 1.

use crate::files::{AlarmsEntry, BulkEntry, LimitsEntry};
use crate::problem::Source;
use toml::Spanned;

/// Identifiers per signal when a share sets no limit.
pub const DEFAULT_IDENTIFIERS_PER_SIGNAL: u32 = 8;
/// Identifiers per 24 hours when a share sets no limit.
pub const DEFAULT_IDENTIFIERS_PER_DAY: u64 = 2_000;
/// Above these an ordinary share is a bulk cross-check and needs `[share.bulk]`.
pub const ORDINARY_MAX_PER_SIGNAL: i64 = 32;
pub const ORDINARY_MAX_PER_DAY: i64 = 10_000;
/// The most match keys a signal can carry on the wire (the coordinator refuses more).
pub const WIRE_MAX_PER_SIGNAL: i64 = 256;

/// Where a partner's limits for a purpose come from (in JSON `default`, `share`, `bulk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// The share sets none: the defaults of this module.
    Default,
    /// `limits = { … }` in the share.
    Share,
    /// `[share.bulk]`: an explicit bulk cross-check.
    Bulk,
}

/// The limits of one partner for one purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub identifiers_per_signal: u32,
    pub identifiers_per_day: u64,
    pub grant: Grant,
    /// For a bulk grant: why.
    pub bulk_reason: Option<String>,
    /// The partner file the limits are set in, relative to the policy directory.
    pub file: String,
}

impl Limits {
    /// The policy rule a quota is set by, as a refusal names it: `limits.identifiers_per_day`,
    /// `bulk.identifiers_per_signal`, or `default.identifiers_per_day`.
    pub fn rule(&self, per_day: bool) -> String {
        let prefix = match self.grant {
            Grant::Default => "default",
            Grant::Share => "limits",
            Grant::Bulk => "bulk",
        };
        let quota = if per_day {
            "identifiers_per_day"
        } else {
            "identifiers_per_signal"
        };
        format!("{prefix}.{quota}")
    }
}

/// When a partner's pattern for a purpose raises an alarm. Counted over the last 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Alarms {
    /// Signals withdrawn within `withdrawn_within_minutes` of arriving while in a hit.
    pub withdrawals_after_hit: u32,
    pub withdrawn_within_minutes: u32,
    /// Percentage of submitted signals that ended up in a hit …
    pub hit_rate_percent: u32,
    /// … once at least this many signals were submitted.
    pub hit_rate_min_signals: u32,
}

impl Default for Alarms {
    fn default() -> Self {
        Self {
            withdrawals_after_hit: 3,
            withdrawn_within_minutes: 60,
            hit_rate_percent: 50,
            hit_rate_min_signals: 40,
        }
    }
}

/// Rule and message of one problem, with the value it is about (for its line).
pub(crate) type Found<'a> = (&'a Spanned<i64>, &'static str, String);

/// The limits of a share, and the problems with them.
pub(crate) fn share_limits<'a>(
    source: &Source,
    limits: Option<&'a Spanned<LimitsEntry>>,
    bulk: Option<&'a Spanned<BulkEntry>>,
    problems: &mut Vec<Found<'a>>,
    warnings: &mut Vec<Found<'a>>,
) -> Limits {
    let mut out = Limits {
        identifiers_per_signal: DEFAULT_IDENTIFIERS_PER_SIGNAL,
        identifiers_per_day: DEFAULT_IDENTIFIERS_PER_DAY,
        grant: Grant::Default,
        bulk_reason: None,
        file: source.path.clone(),
    };
    if let Some(limits) = limits {
        let l = limits.get_ref();
        out.grant = Grant::Share;
        if let Some(v) = &l.identifiers_per_signal {
            if let Some(n) = ordinary(
                v,
                "limits.identifiers_per_signal",
                ORDINARY_MAX_PER_SIGNAL,
                problems,
            ) {
                out.identifiers_per_signal = u32::try_from(n).unwrap_or(u32::MAX);
            }
        }
        if let Some(v) = &l.identifiers_per_day {
            if let Some(n) = ordinary(
                v,
                "limits.identifiers_per_day",
                ORDINARY_MAX_PER_DAY,
                problems,
            ) {
                out.identifiers_per_day = u64::try_from(n).unwrap_or(0);
            }
        }
        if let Some(v) = l
            .identifiers_per_day
            .as_ref()
            .filter(|_| out.identifiers_per_day < u64::from(out.identifiers_per_signal))
        {
            problems.push((
                v,
                "limits.day_below_signal",
                format!(
                    "identifiers_per_day ({}) is below identifiers_per_signal ({}): a full \
                     signal could never be sent",
                    out.identifiers_per_day, out.identifiers_per_signal
                ),
            ));
        }
    }
    if let Some(bulk) = bulk {
        let b = bulk.get_ref();
        let ordinary = out.clone();
        out.grant = Grant::Bulk;
        if let Some(n) = positive(
            &b.identifiers_per_signal,
            "bulk.identifiers_per_signal",
            problems,
        ) {
            if n > WIRE_MAX_PER_SIGNAL {
                problems.push((
                    &b.identifiers_per_signal,
                    "bulk.identifiers_per_signal",
                    format!(
                        "identifiers_per_signal = {n} is more than a signal can carry \
                         ({WIRE_MAX_PER_SIGNAL} match keys)"
                    ),
                ));
            }
            out.identifiers_per_signal = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) = positive(&b.identifiers_per_day, "bulk.identifiers_per_day", problems) {
            out.identifiers_per_day = u64::try_from(n).unwrap_or(0);
        }
        if out.identifiers_per_day < u64::from(out.identifiers_per_signal) {
            problems.push((
                &b.identifiers_per_day,
                "limits.day_below_signal",
                format!(
                    "bulk identifiers_per_day ({}) is below its identifiers_per_signal ({})",
                    out.identifiers_per_day, out.identifiers_per_signal
                ),
            ));
        }
        if out.identifiers_per_day <= ordinary.identifiers_per_day
            && out.identifiers_per_signal <= ordinary.identifiers_per_signal
        {
            warnings.push((
                &b.identifiers_per_day,
                "bulk.not_above_ordinary",
                format!(
                    "the bulk grant ({} per signal, {} per 24 hours) allows no more than the \
                     ordinary limits ({} per signal, {} per 24 hours); remove it",
                    out.identifiers_per_signal,
                    out.identifiers_per_day,
                    ordinary.identifiers_per_signal,
                    ordinary.identifiers_per_day
                ),
            ));
        }
        if b.reason.get_ref().trim().is_empty() {
            problems.push((
                &b.identifiers_per_day,
                "bulk.reason_required",
                "a bulk grant states its reason (the decision and who took it)".to_owned(),
            ));
        }
        out.bulk_reason = Some(b.reason.get_ref().trim().to_owned());
    }
    out
}

/// The alarm thresholds of a purpose, and the problems with them.
pub(crate) fn purpose_alarms<'a>(
    entry: Option<&'a Spanned<AlarmsEntry>>,
    problems: &mut Vec<Found<'a>>,
) -> Alarms {
    let mut out = Alarms::default();
    let Some(entry) = entry else {
        return out;
    };
    let a = entry.get_ref();
    let mut set = |value: &'a Option<Spanned<i64>>, rule: &'static str, slot: &mut u32| {
        if let Some(v) = value {
            if let Some(n) = positive(v, rule, problems) {
                *slot = u32::try_from(n).unwrap_or(u32::MAX);
            }
        }
    };
    set(
        &a.withdrawals_after_hit,
        "alarms.withdrawals_after_hit",
        &mut out.withdrawals_after_hit,
    );
    set(
        &a.withdrawn_within_minutes,
        "alarms.withdrawn_within_minutes",
        &mut out.withdrawn_within_minutes,
    );
    set(
        &a.hit_rate_percent,
        "alarms.hit_rate_percent",
        &mut out.hit_rate_percent,
    );
    set(
        &a.hit_rate_min_signals,
        "alarms.hit_rate_min_signals",
        &mut out.hit_rate_min_signals,
    );
    if let Some(v) = &a.hit_rate_percent {
        if *v.get_ref() > 100 {
            problems.push((
                v,
                "alarms.hit_rate_percent",
                format!(
                    "hit_rate_percent is {}; a percentage is 1 to 100",
                    v.get_ref()
                ),
            ));
        }
    }
    if let Some(v) = &a.withdrawn_within_minutes {
        if *v.get_ref() > 24 * 60 {
            problems.push((
                v,
                "alarms.withdrawn_within_minutes",
                format!(
                    "withdrawn_within_minutes is {}; alarms count over 24 hours, so at most 1440",
                    v.get_ref()
                ),
            ));
        }
    }
    out
}

/// The value when it is at least 1; otherwise a problem under `rule`.
/// A value of `limits`: at least 1, and above `max` only in a bulk grant (the problem says so).
fn ordinary<'a>(
    value: &'a Spanned<i64>,
    rule: &'static str,
    max: i64,
    problems: &mut Vec<Found<'a>>,
) -> Option<i64> {
    let n = positive(value, rule, problems)?;
    let name = rule.rsplit('.').next().unwrap_or(rule);
    if n > max {
        problems.push((
            value,
            "limits.bulk_needs_grant",
            format!(
                "{name} = {n} is a bulk cross-check (more than {max}); grant it explicitly in \
                 [share.bulk] with a reason"
            ),
        ));
    }
    Some(n)
}

fn positive<'a>(
    value: &'a Spanned<i64>,
    rule: &'static str,
    problems: &mut Vec<Found<'a>>,
) -> Option<i64> {
    let n = *value.get_ref();
    if n < 1 {
        let name = rule.rsplit('.').next().unwrap_or(rule);
        problems.push((value, rule, format!("{name} is {n}; it must be at least 1")));
        return None;
    }
    Some(n)
}
