//! Dates of birth as people write them, and the calendar day they are checked against.
//!
//! Accepted forms: ISO 8601 `1990-03-14` (two-digit month and day), `19900314`, and the Dutch
//! day-first forms `14-03-1990`, `14/03/1990`, `14.03.1990` and `14-3-1990`, with one kind of
//! separator throughout. Refused:
//!
//! - year-first with another separator than `-` (`1990/03/14`, `1990.03.14`): no register
//!   writes a date so, and a value written so is more likely a mangled export than a date;
//! - two-digit years (`14-03-90`): a birth year of `05` is ambiguous for the minors this system
//!   protects;
//! - days that do not exist (`2001-02-29`);
//! - dates on or before 1900-01-01: nobody born then is alive, and `1900-01-01` is what many
//!   case systems write for "unknown" (persons whose date is unknown would all meet on it);
//! - dates after today. "Today" is the caller's [`Day`] in UTC
//!   plus one day, so a child born just after midnight in a time zone ahead of UTC is accepted.
//!   The crate reads no clock: the node passes its own clock's day.

use crate::error::{at_most, IdentifierError};
use crate::{limits, redacted};

/// A date of birth after 1900-01-01 and not after today.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateOfBirth(Day);
redacted!(DateOfBirth);

/// The earliest date of birth accepted: the day after the placeholder 1900-01-01.
pub const EARLIEST_BIRTH: Day = Day {
    year: 1900,
    month: 1,
    day: 2,
};

impl DateOfBirth {
    pub fn parse(field: &str, raw: &str, today: Day) -> Result<Self, IdentifierError> {
        at_most(field, raw, limits::DATE_OF_BIRTH, "date.too_long")?;
        let s = raw.trim();
        let format_error = || {
            IdentifierError::new(
                field,
                "is not a date in the form YYYY-MM-DD, DD-MM-YYYY (or with / or .) or YYYYMMDD",
                "date.format",
            )
        };
        let separator = s.chars().find(|c| !c.is_ascii_digit());
        let parts: Vec<&str> = match separator {
            None => vec![s],
            Some(sep @ ('-' | '/' | '.')) => s.split(sep).collect(),
            Some(_) => return Err(format_error()),
        };
        let (year, month, day, exact) = match parts.as_slice() {
            [only] if only.len() == 8 => (&only[0..4], &only[4..6], &only[6..8], true),
            [y, m, d] if y.len() == 4 => {
                if separator != Some('-') {
                    return Err(IdentifierError::new(
                        field,
                        "writes the year first with a separator other than '-'; write \
                         YYYY-MM-DD or DD-MM-YYYY",
                        "date.format",
                    ));
                }
                (*y, *m, *d, true)
            }
            [d, m, y] if y.len() == 4 => (*y, *m, *d, false),
            [_, _, _] => {
                return Err(IdentifierError::new(
                    field,
                    "has no four-digit year",
                    "date.four_digit_year",
                ))
            }
            _ => return Err(format_error()),
        };
        // ISO and compact forms have exactly two digits for month and day; the day-first Dutch
        // forms may drop a leading zero.
        let number = |part: &str, name: &str| -> Result<u8, IdentifierError> {
            let ok_len = if exact {
                part.len() == 2
            } else {
                (1..=2).contains(&part.len())
            };
            if !ok_len || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(IdentifierError::new(
                    field,
                    format!("has a {name} that is not a number of two digits"),
                    "date.format",
                ));
            }
            part.parse::<u8>().map_err(|_| format_error())
        };
        if !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format_error());
        }
        let year: i32 = year.parse().map_err(|_| format_error())?;
        let month = number(month, "month")?;
        let day = number(day, "day")?;
        let Some(date) = Day::new(year, month, day) else {
            return Err(IdentifierError::new(
                field,
                "is not a day of the calendar (month outside 1–12 or day outside its month)",
                "date.calendar",
            ));
        };
        if date < EARLIEST_BIRTH {
            return Err(IdentifierError::new(
                field,
                "is on or before the first day of 1900, the placeholder many case systems write \
                 for an unknown date",
                "date.range",
            ));
        }
        if date > today.next() {
            return Err(IdentifierError::new(
                field,
                "is in the future",
                "date.future",
            ));
        }
        Ok(Self(date))
    }

    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        self.0.iso()
    }
}

/// A day of the proleptic Gregorian calendar, e.g. today as the node's clock sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day {
    year: i32,
    month: u8,
    day: u8,
}

impl Day {
    /// The day, if it exists (month 1–12, day within its month).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if is_leap(year) => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days_in_month)
            .contains(&day)
            .then_some(Self { year, month, day })
    }

    /// The UTC day of a moment given as seconds since the Unix epoch.
    pub fn from_unix_seconds(seconds: i64) -> Self {
        Self::from_days(seconds.div_euclid(86_400))
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn month(&self) -> u8 {
        self.month
    }

    pub fn day(&self) -> u8 {
        self.day
    }

    /// The day after.
    #[must_use]
    pub fn next(&self) -> Self {
        Self::from_days(self.days() + 1)
    }

    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Days since 1970-01-01 (H. Hinnant's `days_from_civil`).
    fn days(&self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The day `days` after 1970-01-01 (H. Hinnant's `civil_from_days`).
    fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month,
            day,
        }
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_over_the_calendar() {
        assert_eq!(Day::from_unix_seconds(0).iso(), "1970-01-01");
        assert_eq!(Day::from_unix_seconds(1_790_000_000).iso(), "2026-09-21");
        assert_eq!(Day::from_unix_seconds(-1).iso(), "1969-12-31");
        for days in (-80_000..80_000).step_by(37) {
            assert_eq!(Day::from_days(days).days(), days);
        }
        assert_eq!(Day::new(2024, 2, 29).unwrap().next().iso(), "2024-03-01");
        assert_eq!(Day::new(2026, 12, 31).unwrap().next().iso(), "2027-01-01");
        assert!(Day::new(2100, 2, 29).is_none());
        assert!(Day::new(2026, 13, 1).is_none());
    }
}
