//! Raw bytes as a JSON report, as `exoauth diff` and `exoauth trend` read it
//! a mailbox at a time, then compared with itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    match exoauth::diff::read_report("F.json", bytes) {
        Ok(report) => {
            let same = exoauth::diff::diff("a", &report, "b", &report);
            assert!(same.changed.is_empty() && same.added.is_empty() && same.removed.is_empty());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
