//! ConvertTo-Json text: never a panic, whatever the text.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let file: Arc<str> = Arc::from("F.json");
    if let Err(e) = exoauth::input::json::parse(&file, text) {
        let _ = e.in_context(text).to_string();
    }
    let _ = exoauth::input::json::ms_date(text);
});
