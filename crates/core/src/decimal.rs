//! Exact decimal parsing and printing at the edge.
//!
//! Inside the core every amount is an integer count of a fixed unit: cash in the currency's minor
//! unit, share quantities and prices in 1e-9. Text becomes an integer here and nowhere else.
//!
//! Two parsers, because clients send two kinds of text:
//! - [`parse_strict`] for decimal strings (`"115.50"`): any digit beyond the scale that is not a
//!   zero is a rejection, never a silent rounding.
//! - [`parse_json_number`] for JSON numbers, which the official SDK produces from binary floats
//!   (`0.1 + 0.2` arrives as `0.30000000000000004`). A value within [`Tolerance`] of a
//!   representable amount is rounded to it; anything else with excess precision is a rejection.

use crate::rejection::Code;

/// Longest decimal text accepted, in bytes. Longer input is malformed, whatever it says.
pub const DECIMAL_TEXT_LEN_MAX: usize = 64;

/// Largest exponent magnitude accepted in a JSON number (`1e-64` .. `1e64`).
const EXPONENT_ABS_MAX: i32 = 64;

/// How far from a representable amount a JSON number may lie and still be rounded to it:
/// `10^-digits`. Cash uses 1e-9 (spec section 7); share quantities use 1e-12 because their own
/// unit is already 1e-9, and binary-float noise on realistic quantities is far below that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tolerance {
    pub digits: u32,
}

impl Tolerance {
    pub const CASH: Tolerance = Tolerance { digits: 9 };
    pub const QTY: Tolerance = Tolerance { digits: 12 };
}

/// Parses a decimal string such as `"115.5"` or `"-3"` into units of `10^-scale`.
///
/// Grammar: `-?[0-9]+(\.[0-9]+)?`. Extra fraction digits are accepted only when they are zeros.
pub fn parse_strict(text: &str, scale: u32) -> Result<i64, Code> {
    if text.is_empty() || text.len() > DECIMAL_TEXT_LEN_MAX {
        return Err(Code::MalformedDecimal);
    }
    let (negative, body) = split_sign(text);
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Code::MalformedDecimal);
    }
    let frac = frac_part.unwrap_or("");
    if frac_part.is_some() && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
        return Err(Code::MalformedDecimal);
    }
    let scale_usize = scale as usize;
    if frac.len() > scale_usize && frac.as_bytes()[scale_usize..].iter().any(|&b| b != b'0') {
        return Err(Code::TooPrecise);
    }
    let mut digits = Digits::default();
    digits.push_all(int_part)?;
    for i in 0..scale_usize {
        digits.push(frac.as_bytes().get(i).copied().unwrap_or(b'0'))?;
    }
    digits.signed(negative)
}

/// Parses the text of a JSON number (`25`, `0.30000000000000004`, `1.5e2`) into units of
/// `10^-scale`, rounding float noise within `tolerance` and rejecting anything else imprecise.
pub fn parse_json_number(text: &str, scale: u32, tolerance: Tolerance) -> Result<i64, Code> {
    let number = JsonNumber::parse(text)?;
    // value = digits * 10^(exponent); in units: digits * 10^(exponent + scale).
    let shift = number.exponent + scale as i32;
    let all = number.digits.as_bytes();
    if shift >= 0 {
        let mut digits = Digits::default();
        digits.push_all(&number.digits)?;
        for _ in 0..shift {
            digits.push(b'0')?;
        }
        return digits.signed(number.negative);
    }
    // `cut` digits fall below the unit. The amount is representable when those digits, read as
    // a fraction r / 10^cut of one unit, lie within the tolerance of 0 or of 1.
    let cut = (-shift) as usize;
    let (kept, dropped): (&[u8], Vec<u8>) = if cut <= all.len() {
        (&all[..all.len() - cut], all[all.len() - cut..].to_vec())
    } else {
        let mut padded = vec![b'0'; cut - all.len()];
        padded.extend_from_slice(all);
        (&[], padded)
    };
    // Within tolerance means r <= 10^m (round down) or r >= 10^cut - 10^m (round up), where
    // m = cut + scale - tolerance digits. When m >= cut every fraction qualifies.
    let m = cut as i64 + scale as i64 - tolerance.digits as i64;
    let round_up = if m >= cut as i64 {
        dropped.first().is_some_and(|&b| b >= b'5')
    } else if m < 0 {
        // The tolerance is finer than the digits given: only an exact amount qualifies.
        if dropped.iter().any(|&b| b != b'0') {
            return Err(Code::TooPrecise);
        }
        false
    } else {
        let head = cut - m as usize;
        let near_zero = dropped[..head].iter().all(|&b| b == b'0') || is_power_boundary(&dropped, head);
        let near_one = dropped[..head].iter().all(|&b| b == b'9');
        match (near_zero, near_one) {
            (true, _) => false,
            (false, true) => true,
            (false, false) => return Err(Code::TooPrecise),
        }
    };
    let mut digits = Digits::default();
    for &b in kept {
        digits.push(b)?;
    }
    if round_up {
        digits.value = digits.value.checked_add(1).ok_or(Code::AmountTooLarge)?;
    }
    digits.signed(number.negative)
}

/// True when `dropped` reads exactly 10^m with m = len - head: `0..01` then only zeros.
fn is_power_boundary(dropped: &[u8], head: usize) -> bool {
    head > 0 && dropped[..head - 1].iter().all(|&b| b == b'0') && dropped[head - 1] == b'1' && dropped[head..].iter().all(|&b| b == b'0')
}

/// Prints units of `10^-scale` as a minimal decimal: `11550` at scale 2 is `"115.5"`.
pub fn format(units: i64, scale: u32) -> String {
    let magnitude = units.unsigned_abs();
    let divisor = 10u64.pow(scale);
    let int_part = magnitude / divisor;
    let mut frac = magnitude % divisor;
    let mut out = String::with_capacity(24);
    if units < 0 {
        out.push('-');
    }
    out.push_str(&int_part.to_string());
    if frac != 0 {
        let mut width = scale as usize;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        out.push('.');
        out.push_str(&format!("{frac:0width$}"));
    }
    out
}

/// Prints units of `10^-scale` with exactly `places` fraction digits (`places <= scale`),
/// rounding half away from zero: for figures such as an average price shown to the cent.
pub fn format_fixed(units: i128, scale: u32, places: u32) -> String {
    let drop = 10i128.pow(scale - places);
    let rounded = (units.abs() + drop / 2) / drop;
    let divisor = 10i128.pow(places);
    let sign = if units < 0 && rounded != 0 { "-" } else { "" };
    if places == 0 {
        return format!("{sign}{rounded}");
    }
    let width = places as usize;
    format!("{sign}{}.{:0width$}", rounded / divisor, rounded % divisor)
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    }
}

/// Accumulates decimal digits into a u64 magnitude, refusing overflow.
#[derive(Default)]
struct Digits {
    value: u64,
}

impl Digits {
    fn push(&mut self, digit: u8) -> Result<(), Code> {
        if !digit.is_ascii_digit() {
            return Err(Code::MalformedDecimal);
        }
        self.value = self.value.checked_mul(10).and_then(|v| v.checked_add(u64::from(digit - b'0'))).ok_or(Code::AmountTooLarge)?;
        Ok(())
    }

    fn push_all(&mut self, text: &str) -> Result<(), Code> {
        text.bytes().try_for_each(|b| self.push(b))
    }

    fn signed(&self, negative: bool) -> Result<i64, Code> {
        let magnitude = i64::try_from(self.value).map_err(|_| Code::AmountTooLarge)?;
        Ok(if negative { -magnitude } else { magnitude })
    }
}

/// A JSON number reduced to `digits * 10^exponent` with leading zeros removed.
struct JsonNumber {
    negative: bool,
    digits: String,
    exponent: i32,
}

impl JsonNumber {
    fn parse(text: &str) -> Result<JsonNumber, Code> {
        if text.is_empty() || text.len() > DECIMAL_TEXT_LEN_MAX {
            return Err(Code::MalformedDecimal);
        }
        let (negative, body) = split_sign(text);
        let (mantissa, exp_text) = match body.find(['e', 'E']) {
            Some(at) => (&body[..at], Some(&body[at + 1..])),
            None => (body, None),
        };
        let mut exponent: i32 = match exp_text {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Code::MalformedDecimal);
                }
                let magnitude: i32 = digits.parse().map_err(|_| Code::MalformedDecimal)?;
                if magnitude > EXPONENT_ABS_MAX {
                    return Err(Code::MalformedDecimal);
                }
                if e.starts_with('-') {
                    -magnitude
                } else {
                    magnitude
                }
            }
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        let valid_int = !int_part.is_empty() && int_part.bytes().all(|b| b.is_ascii_digit());
        let valid_frac = !mantissa.contains('.') || (!frac_part.is_empty() && frac_part.bytes().all(|b| b.is_ascii_digit()));
        if !valid_int || !valid_frac {
            return Err(Code::MalformedDecimal);
        }
        exponent -= frac_part.len() as i32;
        let mut digits = format!("{int_part}{frac_part}");
        // Leading zeros carry nothing; keep one digit so that zero stays "0".
        let zeros = digits.len() - digits.trim_start_matches('0').len();
        digits.drain(..zeros.min(digits.len() - 1));
        Ok(JsonNumber { negative, digits, exponent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_accepts_exact_text() {
        let rows: &[(&str, u32, i64)] = &[
            ("115.5", 2, 11550),
            ("115.50", 2, 11550),
            ("115.500", 2, 11550),
            ("0", 2, 0),
            ("-3", 2, -300),
            ("007", 0, 7),
            ("0.000000001", 9, 1),
            ("92233720368547758.07", 2, i64::MAX),
        ];
        for &(text, scale, want) in rows {
            assert_eq!(parse_strict(text, scale), Ok(want), "{text}");
        }
    }

    #[test]
    fn strict_rejects_with_codes() {
        let rows: &[(&str, u32, Code)] = &[
            ("", 2, Code::MalformedDecimal),
            ("1.", 2, Code::MalformedDecimal),
            (".5", 2, Code::MalformedDecimal),
            ("1e3", 2, Code::MalformedDecimal),
            ("+1", 2, Code::MalformedDecimal),
            ("1,5", 2, Code::MalformedDecimal),
            (" 1", 2, Code::MalformedDecimal),
            ("NaN", 2, Code::MalformedDecimal),
            ("1.005", 2, Code::TooPrecise),
            ("0.0000000001", 9, Code::TooPrecise),
            ("92233720368547758.08", 2, Code::AmountTooLarge),
            ("99999999999999999999999", 0, Code::AmountTooLarge),
        ];
        for &(text, scale, want) in rows {
            assert_eq!(parse_strict(text, scale), Err(want), "{text}");
        }
        assert_eq!(parse_strict(&"1".repeat(65), 0), Err(Code::MalformedDecimal));
    }

    #[test]
    fn json_numbers_round_float_noise_only() {
        let rows: &[(&str, u32, Tolerance, Result<i64, Code>)] = &[
            ("25", 2, Tolerance::CASH, Ok(2500)),
            ("25.0", 2, Tolerance::CASH, Ok(2500)),
            ("0.30000000000000004", 2, Tolerance::CASH, Ok(30)),
            ("0.29999999999999999", 2, Tolerance::CASH, Ok(30)),
            ("1.5e2", 2, Tolerance::CASH, Ok(15000)),
            ("15E-1", 2, Tolerance::CASH, Ok(150)),
            ("-2.5", 2, Tolerance::CASH, Ok(-250)),
            ("1.005", 2, Tolerance::CASH, Err(Code::TooPrecise)),
            ("1.000000002", 2, Tolerance::CASH, Err(Code::TooPrecise)),
            ("1.000000001", 2, Tolerance::CASH, Ok(100)),
            ("0.1", 9, Tolerance::QTY, Ok(100_000_000)),
            ("0.30000000000000004", 9, Tolerance::QTY, Ok(300_000_000)),
            ("0.1234567891", 9, Tolerance::QTY, Err(Code::TooPrecise)),
            ("1e-70", 2, Tolerance::CASH, Err(Code::MalformedDecimal)),
            ("1e", 2, Tolerance::CASH, Err(Code::MalformedDecimal)),
            ("1e400", 2, Tolerance::CASH, Err(Code::MalformedDecimal)),
            ("1e30", 2, Tolerance::CASH, Err(Code::AmountTooLarge)),
            ("0", 2, Tolerance::CASH, Ok(0)),
            ("0.000", 2, Tolerance::CASH, Ok(0)),
        ];
        for (text, scale, tol, want) in rows {
            assert_eq!(parse_json_number(text, *scale, *tol), *want, "{text}");
        }
    }

    #[test]
    fn format_is_minimal_and_round_trips() {
        assert_eq!(format(11550, 2), "115.5");
        assert_eq!(format(2500, 2), "25");
        assert_eq!(format(-5, 2), "-0.05");
        assert_eq!(format(1, 9), "0.000000001");
        assert_eq!(format(0, 9), "0");
        assert_eq!(format(i64::MIN + 1, 2), "-92233720368547758.07");
        for units in [0, 1, 10, 99, 100, 12345, -7, i64::MAX] {
            assert_eq!(parse_strict(&format(units, 2), 2), Ok(units));
        }
        assert_eq!(format_fixed(123_456_789, 9, 2), "0.12");
        assert_eq!(format_fixed(125_000_000, 9, 2), "0.13");
        assert_eq!(format_fixed(-125_000_000, 9, 2), "-0.13");
    }
}
