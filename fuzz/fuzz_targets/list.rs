//! Format-List text: never a panic, whatever the text.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let file: Arc<str> = Arc::from("F.txt");
    if let Err(e) = exoauth::input::list::parse(&file, text) {
        let _ = e.in_context(text).to_string();
    }
});
