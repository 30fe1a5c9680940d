//! Currencies, symbols and assets: what a balance is counted in.
//!
//! Units: cash is counted in the currency's minor unit (cents for USD, yen for JPY); share
//! quantities and prices in 1e-9 ([`QTY_SCALE`], [`PRICE_SCALE`]). Arithmetic on them is checked
//! by the callers; overflow is [`Code::AmountTooLarge`], never a wrap.

use crate::decimal::{self, Tolerance};
use crate::rejection::Code;
use std::fmt;

/// Decimal places of a share quantity.
pub const QTY_SCALE: u32 = 9;
/// Decimal places of a price per share.
pub const PRICE_SCALE: u32 = 9;

/// An ISO 4217 currency that Cashier supports, as three ASCII upper-case letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// The currencies the Broker API clients know. All count cents but the yen.
const SUPPORTED: [Currency; 17] = {
    const CODES: [&[u8; 3]; 17] = [
        b"USD", b"GBP", b"CHF", b"EUR", b"CAD", b"JPY", b"TRY", b"AUD", b"CZK", b"SEK", b"DKK", b"SGD", b"HKD", b"HUF", b"NZD", b"NOK",
        b"PLN",
    ];
    let mut out = [Currency(*b"USD"); 17];
    let mut i = 0;
    while i < CODES.len() {
        out[i] = Currency(*CODES[i]);
        i += 1;
    }
    out
};

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    /// Every supported currency, USD first.
    pub const SUPPORTED: &'static [Currency] = &SUPPORTED;

    pub fn parse(text: &str) -> Result<Currency, Code> {
        SUPPORTED.iter().find(|c| c.0.as_slice() == text.as_bytes()).copied().ok_or(Code::UnsupportedCurrency)
    }

    /// Decimal places of the minor unit.
    pub fn scale(self) -> u32 {
        if &self.0 == b"JPY" {
            0
        } else {
            2
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from the ASCII table above.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Parses a decimal string amount in this currency into minor units.
    pub fn parse_amount(self, text: &str) -> Result<i64, Code> {
        decimal::parse_strict(text, self.scale())
    }

    /// Parses a JSON number amount in this currency, rounding float noise.
    pub fn parse_amount_number(self, text: &str) -> Result<i64, Code> {
        decimal::parse_json_number(text, self.scale(), Tolerance::CASH)
    }

    pub fn format_amount(self, minor: i64) -> String {
        decimal::format(minor, self.scale())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a decimal string share quantity into 1e-9 units.
pub fn parse_qty(text: &str) -> Result<i64, Code> {
    decimal::parse_strict(text, QTY_SCALE)
}

/// Parses a JSON number share quantity into 1e-9 units, rounding float noise.
pub fn parse_qty_number(text: &str) -> Result<i64, Code> {
    decimal::parse_json_number(text, QTY_SCALE, Tolerance::QTY)
}

pub fn format_qty(units: i64) -> String {
    decimal::format(units, QTY_SCALE)
}

/// A ticker symbol: 1 to 15 bytes of `A-Z 0-9 . / -`, stored inline so it is `Copy`. Ordered
/// as its text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbol {
    len: u8,
    bytes: [u8; Symbol::LEN_MAX],
}

impl Symbol {
    pub const LEN_MAX: usize = 15;

    pub fn parse(text: &str) -> Result<Symbol, Code> {
        let b = text.as_bytes();
        let allowed = |c: &u8| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, b'.' | b'/' | b'-');
        if b.is_empty() || b.len() > Symbol::LEN_MAX || !b.iter().all(allowed) {
            return Err(Code::MalformedSymbol);
        }
        let mut bytes = [0u8; Symbol::LEN_MAX];
        bytes[..b.len()].copy_from_slice(b);
        Ok(Symbol { len: b.len() as u8, bytes })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl Ord for Symbol {
    fn cmp(&self, other: &Symbol) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Symbol {
    fn partial_cmp(&self, other: &Symbol) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({})", self.as_str())
    }
}

/// What a balance counts: cash in one currency, or shares of one symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Asset {
    Cash(Currency),
    Security(Symbol),
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Asset::Cash(c) => write!(f, "{c}"),
            Asset::Security(s) => write!(f, "{s}"),
        }
    }
}

impl Asset {
    /// Formats an amount of this asset as a decimal string.
    pub fn format_units(self, units: i64) -> String {
        match self {
            Asset::Cash(c) => c.format_amount(units),
            Asset::Security(_) => format_qty(units),
        }
    }
}

/// Value in cents of `qty` (1e-9 shares) at `price` (1e-9 USD), rounded up so that a limit is
/// never passed by rounding. `None` on overflow.
pub fn value_cents_ceil(qty: i64, price: i64) -> Option<i64> {
    let product = i128::from(qty).checked_mul(i128::from(price))?;
    // product is in 1e-18 USD; one cent is 1e16 of those.
    let cents = (product + 9_999_999_999_999_999) / 10_000_000_000_000_000;
    i64::try_from(cents).ok()
}

/// Cost of `qty` at `price`, in 1e-9 USD (the unit cost bases are kept in).
pub fn cost_nanos(qty: i64, price: i64) -> i128 {
    i128::from(qty) * i128::from(price) / 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies() {
        assert_eq!(Currency::parse("USD"), Ok(Currency::USD));
        assert_eq!(Currency::parse("usd"), Err(Code::UnsupportedCurrency));
        assert_eq!(Currency::parse("XXX"), Err(Code::UnsupportedCurrency));
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(jpy.parse_amount("150"), Ok(150));
        assert_eq!(jpy.parse_amount("150.5"), Err(Code::TooPrecise));
        assert_eq!(Currency::USD.parse_amount_number("0.30000000000000004"), Ok(30));
        assert_eq!(Currency::USD.format_amount(11550), "115.5");
    }

    #[test]
    fn symbols() {
        assert_eq!(Symbol::parse("BRK.B").unwrap().as_str(), "BRK.B");
        assert!(Symbol::parse("AAPL").unwrap() < Symbol::parse("BRK").unwrap(), "ordered as text, not by length");
        for bad in ["", "aapl", "TOOLONGSYMBOL1234", "A B"] {
            assert_eq!(Symbol::parse(bad), Err(Code::MalformedSymbol), "{bad}");
        }
    }

    #[test]
    fn values() {
        // 0.5 share at $100.00 is $50.00.
        assert_eq!(value_cents_ceil(500_000_000, 100_000_000_000), Some(5000));
        // 1e-9 share at $1 rounds up to a cent.
        assert_eq!(value_cents_ceil(1, 1_000_000_000), Some(1));
        assert_eq!(value_cents_ceil(i64::MAX, i64::MAX), None);
        assert_eq!(cost_nanos(500_000_000, 100_000_000_000), 50_000_000_000);
    }
}
