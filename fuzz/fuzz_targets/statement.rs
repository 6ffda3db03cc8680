//! A statement file, any bytes: decoding, delimiter detection and parsing with the
//! built-in profile never panic, and a file either imports whole or names its bad rows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanalpos_recon::{decode, detect_delimiter, parse_statement, ImportError, Profile};

fuzz_target!(|data: &[u8]| {
    let text = decode(data);
    let _ = detect_delimiter(&text);
    match parse_statement(data, &Profile::simulator()) {
        Err(ImportError::BadRows(bad)) => {
            assert!(!bad.is_empty(), "refused with no bad row named");
            for row in &bad {
                assert!(row.line >= 1, "a bad row without a line number");
            }
        }
        Ok(_) | Err(_) => {}
    }
});
