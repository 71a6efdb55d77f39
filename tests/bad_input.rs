//! Bad input never panics and never loses data: every broken file gives a clear
//! message naming the file (and line, column or byte), exit code 2, and every row
//! is audited, out of scope, or listed as rejected.

use std::path::Path;

use predicates::prelude::*;
use serde_json::Value;

use crate::util::{audit_json, exoauth, fixture};

fn fails_with(rel: &str, needles: &[&str]) {
    let assert = exoauth().args(["audit", &format!("fixtures/{rel}")]).assert().code(2).stdout("");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    for needle in needles {
        assert!(stderr.contains(needle), "{rel}: {needle:?} not in {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn missing_required_column_is_one_clear_error() {
    fails_with(
        "bad/missing-column",
        &["User.csv: missing required column AuthenticationPolicy for Get-User"],
    );
}

#[test]
fn another_cmdlets_output_under_a_stem_is_named() {
    fails_with(
        "bad/wrong-cmdlet",
        &[
            "User.csv: missing required columns AuthenticationPolicy, RecipientTypeDetails",
            "this looks like Get-EXOCasMailbox output, not Get-User",
        ],
    );
}

#[test]
fn binary_garbage_names_file_line_column_and_byte() {
    fails_with(
        "bad/binary",
        &["CasMailbox.csv: line 1, column 14 (byte 14): ", "this is not text"],
    );
}

/// An export with one letter saved in another encoding is refused at that
/// letter's line and column, not at a byte offset the admin must count to.
#[test]
fn a_letter_in_a_second_encoding_is_named_by_line_and_column() {
    let tenant = crate::util::TempTenant::new(
        "Block",
        "True",
        &["11111111-1111-1111-1111-111111111111,zoe@contoso.com,,UserMailbox,False"],
        &["11111111-1111-1111-1111-111111111111,zoe@contoso.com,Zoë,True,True,"],
    );
    let path = tenant.dir.path().join("CasMailbox.csv");
    let mut bytes = std::fs::read(&path).unwrap();
    let good = String::from_utf8(bytes.clone()).unwrap();
    let lines = good.lines().count();
    // A row whose display name was saved as Windows-1252 ("Zoë" with ë as 0xEB).
    bytes.extend_from_slice(
        b"22222222-2222-2222-2222-222222222222,zo@contoso.com,Zo\xEB,True,True,\r\n",
    );
    std::fs::write(&path, bytes).unwrap();
    let out = crate::util::exoauth().arg("audit").arg(tenant.dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("CasMailbox.csv: line {}, column 55 (byte ", lines + 1);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&want) && stderr.contains("two encodings"), "{stderr}");
}

#[test]
fn a_table_then_a_list_in_one_file_names_both_outputs() {
    // Issue 11: the same mailboxes as Format-Table, a blank line, then Format-List.
    fails_with(
        "paste/table-then-list",
        &[
            "cannot audit fixtures/paste/table-then-list: CasMailbox.txt: this file holds 2 outputs (a Format-Table at line 2, a Format-List at line 52), not one Get-EXOCasMailbox output",
            "keep one output per file, or name the file transcript.txt to have each part recognised by its columns (`exoauth parse CasMailbox.txt` lists them)",
        ],
    );
}

#[test]
fn a_data_row_without_its_header_is_not_read_as_zero_rows() {
    fails_with(
        "paste/one-line-csv",
        &[
            "CasMailbox.csv:1:1: this line looks like a data row, not a CSV header: it holds \"15fb090c-e216-41ed-b435-a76354ccb871\", a value where Export-Csv writes a column name",
            "= hint: copy the header line (the first line of the export) with the rows, or export again with `Export-Csv -NoTypeInformation -Encoding UTF8`",
        ],
    );
}

#[test]
fn an_empty_file_says_it_is_empty() {
    fails_with(
        "paste/empty",
        &[
            "CasMailbox.csv: the file is empty; export it again (`Export-Csv -NoTypeInformation -Encoding UTF8`, or the companion script scripts/Export-ExoAuthInventory.ps1)",
        ],
    );
}

#[test]
fn no_mailbox_export_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    exoauth().arg("audit").arg(dir.path()).assert().code(2).stderr(
        predicate::str::contains("no CasMailbox file")
            .and(predicate::str::contains("-ResultSize Unlimited")),
    );
    exoauth()
        .args(["audit", "fixtures/does-not-exist"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("fixtures/does-not-exist"));
}

/// The data rows of a mailbox export, counted here without exoauth's parsers:
/// CSV records (after any `#TYPE` line) read with the csv crate, or Format-List
/// objects (runs of non-blank lines). The file may be cut anywhere: a cut UTF-16
/// code unit or UTF-8 character is dropped, and a cut last row still counts.
fn data_rows(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let utf16 = |be: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| {
                if be { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    let text = match bytes.get(..2) {
        Some([0xFF, 0xFE]) => utf16(false),
        Some([0xFE, 0xFF]) => utf16(true),
        _ => String::from_utf8_lossy(&bytes).into_owned(),
    };
    let text = text.trim_start_matches('\u{feff}');
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => {
            let body = if text.starts_with("#TYPE") {
                text.split_once('\n').map_or("", |(_, rest)| rest)
            } else {
                text
            };
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(true)
                .has_headers(true)
                .from_reader(body.as_bytes());
            rdr.records().collect::<Result<Vec<_>, _>>().unwrap().len() as u64
        }
        Some("txt") => {
            let mut objects = 0;
            let mut inside = false;
            for line in text.lines() {
                let blank = line.trim().is_empty();
                if !blank && !inside {
                    objects += 1;
                }
                inside = !blank;
            }
            objects
        }
        other => panic!("{}: no independent row count for {other:?}", path.display()),
    }
}

/// Every data row of the mailbox export is accounted for: audited (listed), out
/// of scope (counted), or rejected (listed with its line).
// Regression (issue 9): this used to compare with exoauth's own row count
// (`inputs[].rows`), so a row that the parser lost was lost from both sides.
fn assert_accounted(r: &Value) {
    let input = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["cmdlet"] == "Get-EXOCasMailbox")
        .expect("a mailbox input");
    let path = crate::util::root().join(input["path"].as_str().unwrap());
    let file = path.file_name().unwrap().to_str().unwrap().to_owned();
    let s = &r["summary"];
    let (mailboxes, in_scope) = (s["mailboxes"].as_u64().unwrap(), s["in_scope"].as_u64().unwrap());
    let audited = r["mailboxes"].as_array().unwrap().len() as u64;
    assert_eq!(audited, in_scope, "every in-scope mailbox is listed");
    let rejected = r["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["source"].as_str().unwrap().starts_with(&format!("{file}:")))
        .count() as u64;
    assert_eq!(
        s["rejected_rows"].as_u64().unwrap(),
        r["rejected"].as_array().unwrap().len() as u64
    );
    let out_of_scope = mailboxes - in_scope;
    assert_eq!(
        audited + out_of_scope + rejected,
        data_rows(&path),
        "{}: {audited} audited + {out_of_scope} out of scope + {rejected} rejected",
        path.display()
    );
}

#[test]
fn bad_boolean_is_a_row_rejection_with_file_line_column_and_value() {
    let (r, code) = audit_json(&fixture("bad/bad-boolean"), &[]);
    assert_eq!(code, 2);
    assert_eq!(
        r["rejected"],
        serde_json::json!([{"source": "CasMailbox.csv:4", "reason": "PopEnabled (column 14): expected True or False, found \"Ture\""}])
    );
    assert_accounted(&r);
    exoauth()
        .args(["audit", "fixtures/bad/bad-boolean"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "Rejected rows (1)\n  CasMailbox.csv:4: PopEnabled (column 14)",
        ))
        .stderr(predicate::str::contains("1 input rows rejected"));
}

#[test]
fn truncated_file_rejects_the_cut_row_and_audits_the_rest() {
    let (r, code) = audit_json(&fixture("bad/truncated"), &[]);
    assert_eq!(code, 2);
    let x = &r["rejected"][0];
    assert_eq!(x["source"], "CasMailbox.csv:5");
    assert!(x["reason"].as_str().unwrap().starts_with("truncated row"));
    assert_eq!(r["summary"]["mailboxes"], 2);
    assert_accounted(&r);
}

#[test]
fn console_text_cut_in_its_last_record_rejects_that_record_and_audits_the_rest() {
    for (rel, what, keep, extra) in [
        // Format-List: the last object cut in the label of its fourth line,
        ("contoso-list", "truncated object", 3, 9),
        // and in that line's value.
        ("contoso-list", "truncated object", 3, 50),
        // Format-Table: the last row cut in its second column.
        ("contoso-table", "truncated row", 0, 45),
    ] {
        let src = fixture(rel);
        let text = std::fs::read_to_string(src.join("CasMailbox.txt")).unwrap();
        let body = text.trim_end();
        let (len, line) = if keep > 0 {
            let start = body.rfind("\r\n\r\n").unwrap() + 4;
            let cut = body[start..].match_indices("\r\n").nth(keep - 1).unwrap().0 + start + extra;
            (cut, body[..start].matches('\n').count() + 1)
        } else {
            let start = body.rfind('\n').unwrap() + 1;
            (start + extra, body[..start].matches('\n').count() + 1)
        };
        let (whole, _) = audit_json(&src, &[]);
        let dir = with_cut(&src, "CasMailbox.txt", len);
        let (r, code) = audit_json(dir.path(), &[]);
        assert_eq!(code, 2, "{rel}");
        let rejected = r["rejected"].as_array().unwrap();
        assert_eq!(rejected.len(), 1, "{rel}: {rejected:?}");
        assert_eq!(rejected[0]["source"], format!("CasMailbox.txt:{line}"), "{rel}");
        let reason = rejected[0]["reason"].as_str().unwrap();
        assert!(reason.starts_with(what) && reason.contains("re-export"), "{rel}: {reason}");
        let mailboxes = |r: &Value| r["summary"]["mailboxes"].as_u64().unwrap();
        assert_eq!(mailboxes(&r) + 1, mailboxes(&whole), "{rel}");
        // (The independent row count reads Format-List objects; for the table,
        // the count above accounts for the cut row.)
        if keep > 0 {
            assert_accounted(&r);
        }
    }
}

#[test]
fn rejected_rows_exit_2_even_with_fail_on_flagged_and_the_report_is_written() {
    // README: exit 2 for rejected rows, after the report is written; it wins
    // over the 1 of `--fail-on flagged`, since bad input is the worse news.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    exoauth()
        .args(["audit", "fixtures/bad/bad-boolean", "--format", "json", "--fail-on", "flagged"])
        .arg("-o")
        .arg(&path)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("1 input rows rejected"));
    let r: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(r["summary"]["flagged"].as_u64().unwrap() > 0, "the run must flag mailboxes");
    assert_eq!(r["rejected"][0]["source"], "CasMailbox.csv:4");
    assert_accounted(&r);
}

/// Copies `src` to a temp folder with `file` cut to `len` bytes.
fn with_cut(src: &Path, file: &str, len: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let mut bytes = std::fs::read(&path).unwrap();
        if name == file {
            bytes.truncate(len);
        }
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

#[test]
fn files_cut_anywhere_never_panic_and_never_lose_rows() {
    for (rel, file) in [
        ("contoso", "CasMailbox.csv"),
        ("contoso", "User.csv"),
        ("contoso-utf16", "CasMailbox.csv"),
        ("contoso-list", "CasMailbox.txt"),
        ("contoso-list", "AuthenticationPolicy.txt"),
    ] {
        let src = fixture(rel);
        let full = std::fs::metadata(src.join(file)).unwrap().len() as usize;
        for step in 1..=12 {
            let len = full * step / 13 + step; // odd offsets land mid-character too
            let dir = with_cut(&src, file, len);
            let out = exoauth()
                .arg("audit")
                .arg(dir.path())
                .args(["--format", "json", "--as-of", "2026-11-25"])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code();
            assert!(matches!(code, Some(0 | 2)), "{rel}/{file} cut at {len}: {code:?} {stderr}");
            assert!(!stderr.contains("panicked"), "{rel}/{file} cut at {len}: {stderr}");
            if out.stdout.is_empty() {
                assert!(
                    stderr.contains(file),
                    "{rel}/{file} cut at {len}: error must name the file: {stderr}"
                );
            } else if file.starts_with("CasMailbox") {
                assert_accounted(&serde_json::from_slice(&out.stdout).unwrap());
            }
        }
    }
}
