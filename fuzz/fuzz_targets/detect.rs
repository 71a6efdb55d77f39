//! Raw bytes through decode, detect and the detected form's parser, as
//! `exoauth parse` runs them, then the CSV and JSON renderers.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    match exoauth::load::read_one(Path::new("F.txt"), bytes, None, None) {
        Ok(converted) => {
            use exoauth::emit::convert::{Target, render};
            let _ = render(&converted.parsed.table, Target::Csv);
            let _ = render(&converted.parsed.table, Target::Json);
            let _ = exoauth::emit::convert::summary(&converted);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
