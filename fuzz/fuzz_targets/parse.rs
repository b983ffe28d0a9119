//! The Dockerfile parser and its dump on arbitrary UTF-8: must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_frontend::parser;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(result) = parser::parse(source) {
        let _ = parser::dump(&result.ast);
    }
});
