//! Dates of birth as people write them.

use crate::error::IdentifierError;
use crate::redacted;

/// A calendar date of birth between 1900-01-01 and 2099-12-31.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateOfBirth {
    year: u16,
    month: u8,
    day: u8,
}
redacted!(DateOfBirth);

impl DateOfBirth {
    /// Accepts ISO 8601 (`1990-03-14`), `19900314`, and the Dutch day-first forms `14-03-1990`,
    /// `14/03/1990`, `14.03.1990` and `14-3-1990`. Two-digit years are refused: a birth year of
    /// `05` is ambiguous for the minors this system protects.
    pub fn parse(field: &str, raw: &str) -> Result<Self, IdentifierError> {
        let s = raw.trim();
        let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
        let (year, month, day) = match parts.as_slice() {
            [only] if only.len() == 8 && only.bytes().all(|b| b.is_ascii_digit()) => {
                (&only[0..4], &only[4..6], &only[6..8])
            }
            [y, m, d] if y.len() == 4 => (*y, *m, *d),
            [d, m, y] if y.len() == 4 => (*y, *m, *d),
            [_, _, _] => {
                return Err(IdentifierError::new(
                    field,
                    "has no four-digit year",
                    "date.four_digit_year",
                ))
            }
            _ => {
                return Err(IdentifierError::new(
                    field,
                    "is not a date in the form YYYY-MM-DD, DD-MM-YYYY or YYYYMMDD",
                    "date.format",
                ))
            }
        };
        let number = |part: &str, name: &str, max_len: usize| -> Result<u16, IdentifierError> {
            if part.is_empty() || part.len() > max_len || !part.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(IdentifierError::new(
                    field,
                    format!("has a {name} that is not a number of at most {max_len} digits"),
                    "date.format",
                ));
            }
            part.parse::<u16>().map_err(|_| {
                IdentifierError::new(field, format!("has an unreadable {name}"), "date.format")
            })
        };
        let year = number(year, "year", 4)?;
        let month = number(month, "month", 2)?;
        let day = number(day, "day", 2)?;
        if !(1900..=2099).contains(&year) {
            return Err(IdentifierError::new(
                field,
                "has a year outside 1900–2099",
                "date.range",
            ));
        }
        if !(1..=12).contains(&month) {
            return Err(IdentifierError::new(
                field,
                "has a month outside 1–12",
                "date.calendar",
            ));
        }
        let days_in_month = match month {
            2 if is_leap(year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day == 0 || day > days_in_month {
            return Err(IdentifierError::new(
                field,
                format!("has a day outside 1–{days_in_month} for its month"),
                "date.calendar",
            ));
        }
        Ok(Self {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}
