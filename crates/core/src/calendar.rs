//! Business days: weekends and configured holidays are not business days.

use crate::ids::Date;
use std::collections::BTreeSet;

/// Which dates are business days: Monday to Friday, less the holidays it was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeSet<Date>,
}

/// The day of the week, Monday = 0 to Sunday = 6 (1970-01-01, day 0, was a Thursday).
pub fn weekday(date: Date) -> u8 {
    (date.0 + 3).rem_euclid(7) as u8
}

impl Calendar {
    pub fn new(holidays: impl IntoIterator<Item = Date>) -> Calendar {
        Calendar { holidays: holidays.into_iter().collect() }
    }

    pub fn holidays(&self) -> impl Iterator<Item = Date> + '_ {
        self.holidays.iter().copied()
    }

    pub fn is_business_day(&self, date: Date) -> bool {
        weekday(date) < 5 && !self.holidays.contains(&date)
    }

    /// `date` itself when it is a business day, else the first business day after it.
    pub fn on_or_after(&self, date: Date) -> Date {
        let mut day = date;
        while !self.is_business_day(day) {
            day = day.next();
        }
        day
    }

    /// The first business day after `date`.
    pub fn after(&self, date: Date) -> Date {
        self.on_or_after(date.next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    #[test]
    fn weekends_and_holidays_are_skipped() {
        assert_eq!(weekday(d("1970-01-01")), 3);
        assert_eq!(weekday(d("2026-11-23")), 0, "a Monday");
        assert_eq!(weekday(d("1969-12-28")), 6, "a Sunday before day 0");
        let calendar = Calendar::new([d("2026-11-26"), d("2026-12-25")]);
        assert_eq!(calendar.after(d("2026-11-20")), d("2026-11-23"), "Friday to Monday");
        assert_eq!(calendar.after(d("2026-11-25")), d("2026-11-27"), "over Thanksgiving");
        assert_eq!(calendar.after(d("2026-12-24")), d("2026-12-28"), "over Christmas and the weekend");
        assert_eq!(calendar.on_or_after(d("2026-11-22")), d("2026-11-23"));
        assert_eq!(calendar.on_or_after(d("2026-11-24")), d("2026-11-24"));
        assert!(!calendar.is_business_day(d("2026-11-26")));
    }
}
