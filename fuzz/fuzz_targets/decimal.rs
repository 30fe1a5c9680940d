//! Decimal parsing: any text either parses or is refused with a code, never a panic; what
//! parses formats back to text that parses to the same value.
#![no_main]

use cashier_core::decimal::{self, Tolerance};
use cashier_core::{money, Currency};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for scale in [0, 2, 9] {
        if let Ok(units) = decimal::parse_strict(text, scale) {
            assert_eq!(decimal::parse_strict(&decimal::format(units, scale), scale), Ok(units), "{text:?} at scale {scale}");
        }
        let _ = decimal::parse_json_number(text, scale, Tolerance::QTY);
    }
    for currency in [Currency::USD, Currency::parse("JPY").unwrap()] {
        if let Ok(minor) = currency.parse_amount(text) {
            assert_eq!(currency.parse_amount(&currency.format_amount(minor)), Ok(minor), "{text:?} in {currency:?}");
        }
        let _ = currency.parse_amount_number(text);
    }
    if let Ok(units) = money::parse_qty(text) {
        assert_eq!(money::parse_qty(&money::format_qty(units)), Ok(units), "{text:?} as a quantity");
    }
    let _ = money::parse_qty_number(text);
});
