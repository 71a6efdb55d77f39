//! Cross-checks against the `EXPECTED.md` tables that sit beside the fixtures.
//!
//! `fixtures/contoso/EXPECTED.md` was worked out by hand from DESIGN.md §2 (and
//! re-derived by an independent evaluator in `fixtures/make_fixtures.py`); the
//! quirk folders' tables come from that evaluator. Neither shares code with
//! exoauth, so agreement here is evidence, not an echo.

use std::path::Path;

use serde_json::Value;

use crate::util::{audit_json, fixture};

/// One row of an EXPECTED.md table.
#[derive(Debug)]
struct Expected {
    smtp: String,
    in_scope: bool,
    /// (verdict, codes) for pop, imap, smtp.
    protocols: Vec<(String, Vec<String>)>,
}

fn parse_cell(cell: &str) -> (String, Vec<String>) {
    let cell = cell.trim();
    match cell.split_once(" (") {
        Some((verdict, codes)) => (
            verdict.to_owned(),
            codes.trim_end_matches(')').split(", ").map(str::to_owned).collect(),
        ),
        None => (cell.to_owned(), Vec::new()),
    }
}

fn expected(dir: &Path) -> Vec<Expected> {
    let text = std::fs::read_to_string(dir.join("EXPECTED.md")).expect("EXPECTED.md");
    text.lines()
        .skip_while(|l| !l.starts_with("| PrimarySmtpAddress"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
            Expected {
                smtp: cells[0].trim().to_owned(),
                in_scope: cells[2].trim() == "yes",
                protocols: cells[3..6].iter().map(|c| parse_cell(c)).collect(),
            }
        })
        .collect()
}

/// The codes of a mailbox's blockers for one protocol, in report order.
fn actual(mailbox: &Value, protocol: &str) -> (String, Vec<String>) {
    let p = &mailbox["protocols"][protocol];
    let codes = p["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap().to_owned())
        .collect();
    (p["basic_auth"].as_str().unwrap().to_owned(), codes)
}

fn check(rel: &str, extra: &[&str]) {
    let dir = fixture(rel);
    let rows = expected(&dir);
    assert!(!rows.is_empty(), "no rows in {rel}/EXPECTED.md");
    for all in [false, true] {
        let mut args = extra.to_vec();
        if all {
            args.push("--all-recipient-types");
        }
        let (report, _) = audit_json(&dir, &args);
        let mailboxes = report["mailboxes"].as_array().unwrap();
        let mut checked = 0;
        for row in &rows {
            let found =
                mailboxes.iter().find(|m| m["primary_smtp_address"].as_str() == Some(&row.smtp));
            if !all && !row.in_scope {
                assert!(found.is_none(), "{rel}: {} should be out of scope", row.smtp);
                continue;
            }
            let m = found.unwrap_or_else(|| panic!("{rel}: {} missing from the report", row.smtp));
            for (p, want) in ["pop", "imap", "smtp"].iter().zip(&row.protocols) {
                assert_eq!(&actual(m, p), want, "{rel}: {} {p}", row.smtp);
            }
            checked += 1;
        }
        assert_eq!(checked, mailboxes.len(), "{rel}: report has mailboxes EXPECTED.md lacks");
    }
}

#[test]
fn contoso_matches_the_hand_worked_table() {
    check("contoso", &[]);
}

#[test]
fn utf16_list_table_and_transcript_copies_match_the_same_table() {
    // The EXPECTED.md of contoso covers its UTF-16LE, Format-List, Format-Table and
    // transcript copies too.
    for rel in ["contoso-utf16", "contoso-list", "contoso-table", "transcript"] {
        let dir = fixture(rel);
        let rows = expected(&fixture("contoso"));
        let (report, code) = audit_json(&dir, &[]);
        assert_eq!(code, 0, "{rel}");
        let mailboxes = report["mailboxes"].as_array().unwrap();
        for row in rows.iter().filter(|r| r.in_scope) {
            let m = mailboxes
                .iter()
                .find(|m| m["primary_smtp_address"].as_str() == Some(&row.smtp))
                .unwrap_or_else(|| panic!("{rel}: {} missing", row.smtp));
            for (p, want) in ["pop", "imap", "smtp"].iter().zip(&row.protocols) {
                assert_eq!(&actual(m, p), want, "{rel}: {} {p}", row.smtp);
            }
        }
    }
}

#[test]
fn quirk_folders_match_their_tables() {
    for rel in [
        "quirks/ps7-csv",
        "quirks/semicolon",
        "quirks/unquoted",
        "quirks/list-truncated",
        "quirks/exo-minimum",
        "quirks/hostile-names",
    ] {
        check(rel, &[]);
    }
}

#[test]
fn onprem_matches_its_table() {
    check("onprem", &["--environment", "onprem"]);
}
