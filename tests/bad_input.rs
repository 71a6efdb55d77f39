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
fn binary_garbage_names_file_and_byte() {
    fails_with("bad/binary", &["CasMailbox.csv: byte ", "this is not text"]);
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

/// Every CasMailbox row is a mailbox in the summary or a rejection.
fn assert_accounted(r: &Value) {
    let rows = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["cmdlet"] == "Get-EXOCasMailbox")
        .unwrap()["rows"]
        .as_u64()
        .unwrap();
    let rejected = r["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["source"].as_str().unwrap().starts_with("CasMailbox"))
        .count() as u64;
    assert_eq!(r["summary"]["mailboxes"].as_u64().unwrap() + rejected, rows);
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
