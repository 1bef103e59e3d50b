//! ISO 8601 durations as policies use them for retention and match windows: `P6M`, `P2Y`,
//! `P90D`, `P1Y6M`, `P4W`. Calendar units only; a time part (`PT12H`) is refused because
//! retention in hours is never what a privacy officer means.
//!
//! A duration is applied to a moment in the calendar (the proleptic Gregorian calendar in UTC,
//! by `jiff`), not counted as a fixed number of days: `P6M` after 31 August 10:00 is 28 (or in a
//! leap year 29) February 10:00. Years and months are added first, and a day that the target
//! month does not have becomes that month's last day (so `P1Y` after 29 February is 28 February,
//! and `P1M` after 31 January is 28/29 February); weeks and days are added after that; the time
//! of day stays. This is ISO 8601's and jiff's (Temporal's) reading.

use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::{Span, Timestamp};
use std::fmt;

const DAY: i64 = 86_400;

/// A duration in calendar units; see the module documentation for how it is applied to a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoDuration {
    years: u32,
    months: u32,
    weeks: u32,
    days: u32,
}

impl IsoDuration {
    /// One day; stands in for a duration that failed to parse while checking goes on.
    pub(crate) const PLACEHOLDER: Self = Self {
        years: 0,
        months: 0,
        weeks: 0,
        days: 1,
    };

    /// `days` days (`P30D`); a number of days fixed in code, not read from a policy.
    pub const fn days(days: u32) -> Self {
        Self {
            years: 0,
            months: 0,
            weeks: 0,
            days,
        }
    }

    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let Some(body) = s.strip_prefix('P') else {
            return Err("an ISO 8601 duration starts with P (P6M, P2Y, P90D)");
        };
        if body.contains('T') {
            return Err("a time part (T…) is not allowed; use days, weeks, months or years");
        }
        if body.is_empty() {
            return Err("P must be followed by at least one amount and unit (P6M)");
        }
        let mut out = Self {
            years: 0,
            months: 0,
            weeks: 0,
            days: 0,
        };
        let mut number = String::new();
        let mut last_rank = 0;
        for c in body.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let (slot, rank) = match c {
                'Y' => (&mut out.years, 1),
                'M' => (&mut out.months, 2),
                'W' => (&mut out.weeks, 3),
                'D' => (&mut out.days, 4),
                _ => return Err("units are Y, M, W and D"),
            };
            if rank <= last_rank {
                return Err("units must appear once each, in the order Y, M, W, D");
            }
            last_rank = rank;
            *slot = number
                .parse()
                .map_err(|_| "every unit needs a whole number before it")?;
            number.clear();
        }
        if !number.is_empty() {
            return Err("the duration ends in a number without a unit");
        }
        if out.max_days() == 0 {
            return Err("the duration is zero");
        }
        // Within what the calendar can count (jiff: ±19,998 years); no retention is near it.
        if out.max_days() > 100 * 366 {
            return Err("the duration is longer than 100 years");
        }
        Ok(out)
    }

    fn span(&self) -> Option<Span> {
        Span::new()
            .try_years(i64::from(self.years))
            .and_then(|s| s.try_months(i64::from(self.months)))
            .and_then(|s| s.try_weeks(i64::from(self.weeks)))
            .and_then(|s| s.try_days(i64::from(self.days)))
            .ok()
    }

    /// The date in the calendar that this duration after `start` is.
    pub fn after_date(&self, start: DateTime) -> Option<DateTime> {
        start.checked_add(self.span()?).ok()
    }

    /// The moment (seconds since the epoch) this duration after `start` (seconds since the
    /// epoch), in the calendar in UTC. `i64::MAX` past the calendar's end (never).
    pub fn after(&self, start: i64) -> i64 {
        Timestamp::from_second(start)
            .ok()
            .map(|t| Offset::UTC.to_datetime(t))
            .and_then(|d| self.after_date(d))
            .and_then(|d| Offset::UTC.to_timestamp(d).ok())
            .map_or(i64::MAX, |t| t.as_second())
    }

    /// The start of the UTC month in which this duration before `now` falls (seconds since the
    /// epoch), with its date (`YYYY-MM-DD`): where a monitor stops counting.
    pub fn month_start_before(&self, now: i64) -> (i64, String) {
        let start = Timestamp::from_second(now)
            .ok()
            .map(|t| Offset::UTC.to_datetime(t))
            .and_then(|d| d.checked_sub(self.span()?).ok())
            .map(|d| d.date().first_of_month());
        match start.and_then(|d| Some((Offset::UTC.to_timestamp(d.at(0, 0, 0, 0)).ok()?, d))) {
            Some((t, d)) => (t.as_second(), d.to_string()),
            None => (i64::MIN, "-".to_owned()),
        }
    }

    /// True when this duration after `start` has come by `now` (both seconds since the epoch).
    pub fn has_run(&self, start: i64, now: i64) -> bool {
        self.after(start) <= now
    }

    /// No start later than this has run its course by `now`: the bound for selecting what may
    /// be due, before [`Self::has_run`] decides for each. (What has run is not simply what
    /// started before one moment: `P1M` after 31 January 00:00 ends on 28 February 00:00, after
    /// 30 January 12:00 on 28 February 12:00.)
    pub fn latest_start_run_by(&self, now: i64) -> i64 {
        now.saturating_sub(self.min_days().saturating_mul(DAY))
    }

    /// True when this duration ends no later than `other` from every start date. Checked for
    /// every day of 2000–2003, which holds every combination of month lengths and leap years
    /// the Gregorian calendar has, but for the centuries that are not leap years.
    pub fn at_most(&self, other: &Self) -> bool {
        let mut day = jiff::civil::date(2000, 1, 1).at(0, 0, 0, 0);
        for _ in 0..4 * 366 {
            match (self.after_date(day), other.after_date(day)) {
                (Some(a), Some(b)) if a <= b => {}
                _ => return false,
            }
            day = match day.tomorrow() {
                Ok(d) => d,
                Err(_) => return false,
            };
        }
        true
    }

    /// The number of whole months this duration spans: years and months as they are, weeks and
    /// days in 30-day months, rounded (what the matcher compares observation months with).
    pub fn months_rounded(&self) -> u32 {
        let days = self.weeks.saturating_mul(7).saturating_add(self.days);
        self.years
            .saturating_mul(12)
            .saturating_add(self.months)
            .saturating_add(days.saturating_add(15) / 30)
    }

    /// The fewest days this duration can last (months of 28 days, years of 365).
    fn min_days(&self) -> i64 {
        self.days_with(365, 28)
    }

    /// The most days this duration can last (months of 31 days, years of 366).
    fn max_days(&self) -> i64 {
        self.days_with(366, 31)
    }

    fn days_with(&self, year: i64, month: i64) -> i64 {
        i64::from(self.years) * year
            + i64::from(self.months) * month
            + i64::from(self.weeks) * 7
            + i64::from(self.days)
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        for (n, unit) in [
            (self.years, 'Y'),
            (self.months, 'M'),
            (self.weeks, 'W'),
            (self.days, 'D'),
        ] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_monitor_counts_up_to_the_start_of_the_month_the_delay_reaches_back_to() {
        let at = |d: jiff::civil::DateTime| Offset::UTC.to_timestamp(d).unwrap().as_second();
        let delay = IsoDuration::parse("P14D").unwrap();
        let now = at(date(2026, 12, 2).at(10, 0, 0, 0));
        assert_eq!(
            delay.month_start_before(now),
            (
                at(date(2026, 11, 1).at(0, 0, 0, 0)),
                "2026-11-01".to_owned()
            )
        );
        let now = at(date(2026, 12, 15).at(0, 0, 0, 0));
        assert_eq!(delay.month_start_before(now).1, "2026-12-01");
    }

    fn d(s: &str) -> IsoDuration {
        IsoDuration::parse(s).unwrap()
    }

    fn after(duration: &str, y: i16, m: i8, day: i8) -> jiff::civil::Date {
        d(duration)
            .after_date(date(y, m, day).at(10, 0, 0, 0))
            .unwrap()
            .date()
    }

    #[test]
    fn parses_calendar_durations() {
        assert_eq!(d("P2Y").to_string(), "P2Y");
        assert_eq!(d("P1Y6M").to_string(), "P1Y6M");
        assert_eq!(d("P4W").to_string(), "P4W");
        assert_eq!(d("P90D").to_string(), "P90D");
    }

    #[test]
    fn refuses_what_is_not_a_calendar_duration() {
        for bad in [
            "6M",
            "P",
            "PT12H",
            "P6",
            "P6X",
            "P1M1Y",
            "P0D",
            "P-1Y",
            "P1Y1Y",
            "P101Y",
            "P99999999999Y",
        ] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn months_end_on_the_same_day_or_the_last_day_of_a_shorter_month() {
        assert_eq!(after("P6M", 2025, 3, 15), date(2025, 9, 15));
        assert_eq!(after("P6M", 2025, 8, 31), date(2026, 2, 28));
        assert_eq!(after("P6M", 2023, 8, 31), date(2024, 2, 29));
        assert_eq!(after("P1M", 2025, 1, 31), date(2025, 2, 28));
        assert_eq!(after("P3M", 2025, 11, 30), date(2026, 2, 28));
        assert_eq!(after("P1M", 2025, 4, 30), date(2025, 5, 30));
        // Years and months together first, then days: 31 Jan + 1 month = 28 Feb, + 1 day.
        assert_eq!(after("P1M1D", 2025, 1, 31), date(2025, 3, 1));
    }

    #[test]
    fn years_follow_leap_years() {
        assert_eq!(after("P1Y", 2024, 2, 29), date(2025, 2, 28));
        assert_eq!(after("P4Y", 2024, 2, 29), date(2028, 2, 29));
        assert_eq!(after("P1Y", 2023, 3, 1), date(2024, 3, 1));
        // 366 days in a year with a 29 February, 365 otherwise: not a fixed 365.
        let start = jiff::civil::date(2023, 6, 1).at(0, 0, 0, 0);
        let s = Offset::UTC.to_timestamp(start).unwrap().as_second();
        assert_eq!(d("P1Y").after(s) - s, 366 * DAY);
        assert_eq!(d("P1Y").after(s + 366 * DAY) - (s + 366 * DAY), 365 * DAY);
        assert_eq!(d("P90D").after(s) - s, 90 * DAY);
        assert_eq!(d("P2W").after(s) - s, 14 * DAY);
    }

    #[test]
    fn what_has_run_is_decided_in_the_calendar() {
        let at = |y, m, day, h| {
            Offset::UTC
                .to_timestamp(date(y, m, day).at(h, 0, 0, 0))
                .unwrap()
                .as_second()
        };
        let month = d("P1M");
        let now = at(2025, 2, 28, 0);
        // 31 January 00:00 has run on 28 February 00:00; 30 January 12:00 has not (it ends at
        // 28 February 12:00), although it started earlier.
        assert!(month.has_run(at(2025, 1, 31, 0), now));
        assert!(!month.has_run(at(2025, 1, 30, 12), now));
        assert!(month.has_run(at(2025, 1, 28, 0), now));
        assert!(!month.has_run(at(2025, 1, 28, 1), now));
        // Everything that has run started no later than the bound.
        for duration in ["P6M", "P1Y", "P2Y", "P90D", "P1Y6M", "P4W", "P1M1D", "P1M"] {
            let p = d(duration);
            for now in [
                at(2024, 2, 29, 0),
                at(2025, 3, 1, 0),
                at(2026, 8, 31, 23),
                now,
            ] {
                let bound = p.latest_start_run_by(now);
                for start in (bound - 40 * DAY..bound + 10 * DAY).step_by(3_600) {
                    if p.has_run(start, now) {
                        assert!(start <= bound, "{duration}: {start} > {bound}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_window_is_at_most_a_retention_from_every_start() {
        assert!(d("P6M").at_most(&d("P6M")));
        assert!(d("P12M").at_most(&d("P1Y")) && d("P1Y").at_most(&d("P12M")));
        assert!(d("P6M").at_most(&d("P1Y")));
        assert!(d("P28D").at_most(&d("P1M")));
        assert!(!d("P1Y").at_most(&d("P6M")));
        // Six months are 184 days from some dates.
        assert!(!d("P6M").at_most(&d("P180D")));
        assert!(d("P6M").at_most(&d("P184D")));
        assert!(!d("P1Y").at_most(&d("P365D")));
    }

    #[test]
    fn months_rounded_counts_observation_months() {
        assert_eq!(d("P6M").months_rounded(), 6);
        assert_eq!(d("P1Y").months_rounded(), 12);
        assert_eq!(d("P1Y6M").months_rounded(), 18);
        assert_eq!(d("P90D").months_rounded(), 3);
        assert_eq!(d("P4W").months_rounded(), 1);
    }
}
