//! Identifiers, dates and times. All are plain integers inside; text only at the edge.

use crate::rejection::Code;
use std::fmt;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u128);

        impl $name {
            /// Parses the hyphenated UUID form, in either case.
            pub fn parse(text: &str) -> Result<$name, Code> {
                parse_uuid(text).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_uuid(f, self.0)
            }
        }
    };
}

uuid_id!(
    /// A correspondent: a broker partner, and the unit of sharding.
    CorrespondentId
);
uuid_id!(
    /// An account, firm or customer.
    AccountId
);
uuid_id!(
    /// A journal. A batch entry is a journal of its own.
    JournalId
);
uuid_id!(
    /// An external transfer (wire or ACH) into or out of an account.
    TransferId
);
uuid_id!(
    /// An asset in the asset table.
    AssetId
);

fn parse_uuid(text: &str) -> Result<u128, Code> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return Err(Code::MalformedId);
    }
    let mut value: u128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return Err(Code::MalformedId);
            }
            continue;
        }
        let nibble = (b as char).to_digit(16).ok_or(Code::MalformedId)?;
        value = (value << 4) | u128::from(nibble);
    }
    Ok(value)
}

fn write_uuid(f: &mut fmt::Formatter<'_>, value: u128) -> fmt::Result {
    let hex = format!("{value:032x}");
    write!(f, "{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A calendar date, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(pub i32);

impl Date {
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Date, Code> {
        let b = text.as_bytes();
        // ASCII only, so that the byte positions below are character boundaries.
        if !text.is_ascii() || b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(Code::MalformedDate);
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, Code> {
            let part = &text[range];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(Code::MalformedDate);
            }
            part.parse().map_err(|_| Code::MalformedDate)
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        Date::from_ymd(year as i32, month, day).ok_or(Code::MalformedDate)
    }

    /// Monday is 0, Sunday is 6.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday.
        (self.0 + 3).rem_euclid(7) as u32
    }

    pub fn next(self) -> Date {
        Date(self.0 + 1)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// An instant, as microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

const MICROS_PER_DAY: i64 = 86_400_000_000;

impl Timestamp {
    pub fn date(self) -> Date {
        Date(self.0.div_euclid(MICROS_PER_DAY) as i32)
    }

    /// Parses RFC 3339 (`2021-05-07T10:28:23.163857Z`, or with an offset such as `+02:00`).
    /// Digits past microseconds are truncated.
    pub fn parse(text: &str) -> Result<Timestamp, Code> {
        let b = text.as_bytes();
        // ASCII only, so that the byte positions below are character boundaries.
        if !text.is_ascii() || b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
            return Err(Code::MalformedDate);
        }
        let date = Date::parse(&text[..10])?;
        let two = |at: usize| -> Result<i64, Code> {
            let part = &text[at..at + 2];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(Code::MalformedDate);
            }
            part.parse().map_err(|_| Code::MalformedDate)
        };
        let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
        if hour > 23 || minute > 59 || second > 60 {
            return Err(Code::MalformedDate);
        }
        let mut rest = &text[19..];
        let mut micros = 0i64;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(Code::MalformedDate);
            }
            for (i, c) in frac.bytes().take(digits).enumerate() {
                if i < 6 {
                    micros = micros * 10 + i64::from(c - b'0');
                }
            }
            for _ in digits..6 {
                micros *= 10;
            }
            rest = &frac[digits..];
        }
        let offset_s = match rest {
            "Z" | "z" => 0,
            _ if rest.len() == 6 && matches!(rest.as_bytes()[0], b'+' | b'-') && rest.as_bytes()[3] == b':' => {
                let sign = if rest.starts_with('-') { -1 } else { 1 };
                let hours = two_at(rest, 1)?;
                let minutes = two_at(rest, 4)?;
                sign * (hours * 3600 + minutes * 60)
            }
            _ => return Err(Code::MalformedDate),
        };
        let seconds = i64::from(date.0) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
        Ok(Timestamp(seconds * 1_000_000 + micros))
    }
}

fn two_at(text: &str, at: usize) -> Result<i64, Code> {
    let part = text.get(at..at + 2).ok_or(Code::MalformedDate)?;
    if !part.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Code::MalformedDate);
    }
    part.parse().map_err(|_| Code::MalformedDate)
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with microseconds: `2021-05-07T10:28:23.163857Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = self.date();
        let in_day = self.0.rem_euclid(MICROS_PER_DAY);
        let (secs, micros) = (in_day / 1_000_000, in_day % 1_000_000);
        write!(f, "{date}T{:02}:{:02}:{:02}.{micros:06}Z", secs / 3600, secs / 60 % 60, secs % 60)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-from-days algorithms.
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_round_trip_and_errors() {
        let text = "3f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b";
        let id = AccountId::parse(text).unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(AccountId::parse(&text.to_uppercase()), Ok(id));
        for bad in ["", "3f1c2a345b6d4e7f8a9b0c1d2e3f4a5b", "3f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5g", "3f1c2a34_5b6d-4e7f-8a9b-0c1d2e3f4a5b"]
        {
            assert_eq!(AccountId::parse(bad), Err(Code::MalformedId), "{bad}");
        }
    }

    #[test]
    fn dates() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (1969, 12, 31), (2100, 3, 1)] {
            let date = Date::from_ymd(y, m, d).unwrap();
            assert_eq!(date.ymd(), (y, m, d));
            assert_eq!(Date::parse(&date.to_string()), Ok(date));
        }
        assert_eq!(Date::from_ymd(1970, 1, 1), Some(Date(0)));
        assert_eq!(Date::from_ymd(2023, 2, 29), None);
        assert_eq!(Date::parse("2024-13-01"), Err(Code::MalformedDate));
        assert_eq!(Date::parse("2024-1-01"), Err(Code::MalformedDate));
        assert_eq!(Date::from_ymd(2026, 11, 22).unwrap().weekday(), 6); // a Sunday
    }

    #[test]
    fn timestamps() {
        let t = Timestamp::parse("2021-05-07T10:28:23.163857Z").unwrap();
        assert_eq!(t.to_string(), "2021-05-07T10:28:23.163857Z");
        assert_eq!(Timestamp::parse("2021-05-07T12:28:23.163857+02:00"), Ok(t));
        assert_eq!(Timestamp::parse("2021-05-07T10:28:23Z").unwrap().to_string(), "2021-05-07T10:28:23.000000Z");
        assert_eq!(t.date(), Date::from_ymd(2021, 5, 7).unwrap());
        for bad in [
            "2021-05-07",
            "2021-05-07T10:28:23",
            "2021-05-07T25:00:00Z",
            "2021-05-07T10:28:23.Z",
            "2026-11-01T00:00:0\u{2e5}",
            "2026-11-0\u{e9}T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse(bad), Err(Code::MalformedDate), "{bad}");
        }
        // Found by the `request` fuzz target: a multi-byte character where a digit belongs.
        assert_eq!(Date::parse("2026-1\u{e9}-1"), Err(Code::MalformedDate));
    }
}
