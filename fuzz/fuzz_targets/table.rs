//! Format-Table text: never a panic, whatever the text; every record has one
//! value slot per column.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let file: Arc<str> = Arc::from("F.txt");
    match exoauth::input::table::parse(&file, text) {
        Ok(parsed) => {
            for row in &parsed.table.rows {
                assert_eq!(row.values.len(), parsed.table.columns.len());
            }
        }
        Err(e) => {
            let _ = e.in_context(text).to_string();
        }
    }
});
