//! `Export-Csv` text with both delimiters: never a panic, whatever the text.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let file: Arc<str> = Arc::from("F.csv");
    for delimiter in [b',', b';'] {
        if let Err(e) = exoauth::input::csv::parse(&file, text, delimiter) {
            let _ = e.in_context(text).to_string();
        }
    }
});
