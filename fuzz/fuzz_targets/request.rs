//! Request decoding: any bytes as a request body, through every body decoder of the API, and
//! any text as an event id, never panic; a ULID decodes to what it encodes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cashier_server::fuzz_request_bodies(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(value) = cashier_server::events::decode_ulid(text) {
            assert_eq!(cashier_server::events::decode_ulid(&cashier_server::events::encode_ulid(value)), Some(value));
        }
    }
});
