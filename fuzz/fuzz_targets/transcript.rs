//! Transcript splitting and prompt blanking: never a panic, and line numbers are
//! kept (a part's text has the file's lines at the same numbers).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let lines: Vec<&str> = text.split('\n').collect();
    for part in exoauth::input::transcript::split(text) {
        let at = part.line - 1;
        assert_eq!(part.text(text).split('\n').nth(at), lines.get(at).copied());
    }
    let blanked = exoauth::input::transcript::blank_noise(text);
    assert_eq!(blanked.split('\n').count(), lines.len());
});
