//! Money text in both notations: parsing never panics, and what parses prints back to
//! the same amount.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanalpos_core::Kurus;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(amount) = Kurus::parse(text) {
        assert_eq!(Kurus::parse(&amount.to_string()), Ok(amount));
        assert_eq!(Kurus::parse_tr(&amount.format_tr()), Ok(amount));
    }
    if let Ok(amount) = Kurus::parse_tr(text) {
        assert_eq!(Kurus::parse_tr(&amount.format_tr()), Ok(amount));
        assert_eq!(Kurus::parse(&amount.to_string()), Ok(amount));
    }
});
