//! ISO 8601 durations as policies use them for retention and match windows: `P6M`, `P2Y`,
//! `P90D`, `P1Y6M`, `P4W`. Calendar units only; a time part (`PT12H`) is refused because
//! retention in hours is never what a privacy officer means.

use std::fmt;

/// A duration in calendar units. Compared and applied in days with the usual approximations
/// (month = 30 days, year = 365 days), which is what the retention task needs.
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
        if out.days() == 0 {
            return Err("the duration is zero");
        }
        Ok(out)
    }

    /// Length in days (month = 30, year = 365).
    pub fn days(&self) -> u64 {
        u64::from(self.years) * 365
            + u64::from(self.months) * 30
            + u64::from(self.weeks) * 7
            + u64::from(self.days)
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
    use super::*;

    #[test]
    fn parses_calendar_durations() {
        assert_eq!(IsoDuration::parse("P6M").unwrap().days(), 180);
        assert_eq!(IsoDuration::parse("P1Y6M").unwrap().days(), 545);
        assert_eq!(IsoDuration::parse("P4W").unwrap().days(), 28);
        assert_eq!(IsoDuration::parse("P2Y").unwrap().to_string(), "P2Y");
    }

    #[test]
    fn refuses_what_is_not_a_calendar_duration() {
        for bad in [
            "6M", "P", "PT12H", "P6", "P6X", "P1M1Y", "P0D", "P-1Y", "P1Y1Y",
        ] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad}");
        }
    }
}
