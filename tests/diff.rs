//! `exoauth diff` on two reports of contoso: the fixture, and a copy in which one
//! mailbox lost POP, one gained it and one was removed.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

use crate::util::{exoauth, fixture};

/// contoso's files in a temp folder, with CasMailbox.csv edited: Olga Petrova's
/// POP switched off, Johanna Lorenz's switched on, Seán O'Brien's row removed.
fn changed_contoso() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("contoso")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let path = dir.path().join("CasMailbox.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let header = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(lines[1].as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap();
    let pop = header.iter().position(|h| h == "PopEnabled").unwrap();
    let set = |line: &str, value: &str| {
        let mut rec: Vec<String> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        rec[pop] = value.to_owned();
        let mut w = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Necessary)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        w.write_record(&rec).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap().trim_end().to_owned()
    };
    let out: Vec<String> = lines
        .iter()
        .filter(|l| !l.contains("sean.obrien@contoso.com"))
        .map(|l| {
            if l.contains("olga.petrova@contoso.com") {
                set(l, "False")
            } else if l.contains("johanna.lorenz@contoso.com") {
                set(l, "True")
            } else {
                (*l).to_owned()
            }
        })
        .collect();
    std::fs::write(&path, out.join("\r\n")).unwrap();
    dir
}

/// Writes `exoauth audit DIR --format json` to `out`.
fn report(dir: &Path, out: &Path, extra: &[&str]) {
    exoauth()
        .arg("audit")
        .arg(dir)
        .args(["--as-of", "2026-11-25", "--format", "json", "-o"])
        .arg(out)
        .args(extra)
        .assert()
        .success();
}

/// (folder, old.json, new.json): contoso then the changed copy.
fn reports(extra: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let changed = changed_contoso();
    let (old, new) = (work.path().join("old.json"), work.path().join("new.json"));
    report(&fixture("contoso"), &old, extra);
    report(changed.path(), &new, extra);
    (work, old, new)
}

fn diff_json(old: &Path, new: &Path) -> Value {
    let out = exoauth().arg("diff").arg(old).arg(new).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn changed<'a>(d: &'a Value, label: &str) -> &'a Value {
    d["changed"].as_array().unwrap().iter().find(|c| c["label"] == label).unwrap()
}

#[test]
fn diff_reports_changes_removals_and_summary_deltas() {
    let (_work, old, new) = reports(&[]);
    let d = diff_json(&old, &new);
    assert_eq!(d["schema"], "exoauth/diff-v1");
    assert_eq!(d["want"], "allow");
    assert_eq!(d["regressions"], 1);
    assert_eq!(d["improvements"], 1);
    assert_eq!(d["removed"][0]["label"], "sean.obrien@contoso.com");
    assert_eq!(d["added"], serde_json::json!([]));

    let olga = changed(&d, "olga.petrova@contoso.com");
    assert_eq!(olga["regression"], true);
    assert_eq!(olga["flagged"], serde_json::json!({"old": true, "new": true}));
    assert_eq!(
        olga["protocols"],
        serde_json::json!([{
            "protocol": "pop", "old": "allowed", "new": "blocked", "change": "newly-blocked",
            "regression": true, "old_readiness": null, "new_readiness": null,
            "blockers_appeared": ["mailbox-protocol-disabled"], "blockers_cleared": []
        }])
    );
    let johanna = changed(&d, "johanna.lorenz@contoso.com");
    assert_eq!(johanna["regression"], false);
    assert_eq!(johanna["flagged"], serde_json::json!({"old": true, "new": false}));
    assert_eq!(johanna["protocols"][0]["change"], "newly-allowed");
    assert_eq!(
        johanna["protocols"][0]["blockers_cleared"],
        serde_json::json!(["mailbox-protocol-disabled"])
    );
    assert_eq!(d["changed"].as_array().unwrap().len(), 2);

    let s = &d["summary"];
    assert_eq!(s["mailboxes"], serde_json::json!({"old": 44, "new": 43, "change": -1}));
    assert_eq!(s["flagged"], serde_json::json!({"old": 32, "new": 30, "change": -2}));
    assert_eq!(s["by_protocol"][0]["protocol"], "pop");
    assert_eq!(s["by_protocol"][0]["allowed"]["change"], 0); // one gained, one lost
    assert_eq!(s["by_protocol"][0]["blocked"]["change"], -1); // and Seán left
}

#[test]
fn fail_on_regressions_follows_the_direction() {
    let (_work, old, new) = reports(&[]);
    // allow: Olga's POP left `allowed`.
    exoauth().arg("diff").arg(&old).arg(&new).args(["--fail-on", "regressions"]).assert().code(1);
    exoauth().arg("diff").arg(&old).arg(&new).assert().code(0);
    // The other way round, Johanna's POP is the one that got worse.
    let out = exoauth()
        .arg("diff")
        .arg(&new)
        .arg(&old)
        .args(["--fail-on", "regressions"])
        .assert()
        .code(1);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("! johanna.lorenz@contoso.com (18c00687-ee61-4adc-bfe4-42b0ea24576c): REGRESSION, now flagged"), "{text}");
    assert!(text.contains("Added mailboxes (1)\n  + sean.obrien@contoso.com (6c8a59b9-d912-4f19-bc37-4e53db358b8b), flagged"));
    // Unchanged: exit 0 and says so.
    exoauth()
        .arg("diff")
        .arg(&old)
        .arg(&old)
        .args(["--fail-on", "regressions"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No mailbox changed."));

    // block: a protocol that became `allowed` is the regression (Johanna's POP).
    let (_work, old, new) = reports(&["--want", "block"]);
    let d = diff_json(&old, &new);
    assert_eq!(d["want"], "block");
    assert_eq!(d["regressions"], 1);
    assert_eq!(changed(&d, "johanna.lorenz@contoso.com")["regression"], true);
    assert_eq!(changed(&d, "olga.petrova@contoso.com")["regression"], false);
    exoauth().arg("diff").arg(&old).arg(&new).args(["--fail-on", "regressions"]).assert().code(1);
}

#[test]
fn text_and_markdown_diffs() {
    let (_work, old, new) = reports(&[]);
    let text = exoauth().arg("diff").arg(&old).arg(&new).output().unwrap().stdout;
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains(
        "1 mailbox(es) regressed (want allow), 1 improved, 0 other change(s); 0 added, 1 removed"
    ));
    assert!(text.contains(
        "      pop: allowed → blocked (newly-blocked); appeared: mailbox-protocol-disabled"
    ));
    assert!(text.contains("  flagged"));
    let md = exoauth()
        .arg("diff")
        .arg(&old)
        .arg(&new)
        .args(["--format", "markdown"])
        .output()
        .unwrap()
        .stdout;
    let md = String::from_utf8(md).unwrap();
    assert!(md.contains("> **1 mailbox(es) regressed** for want `allow`."));
    assert!(md.contains("| olga.petrova\\@contoso.com | 205b5faa-b01f-4eab-8b50-103968cc6afb | pop | allowed → blocked (newly-blocked); appeared: mailbox-protocol-disabled | **yes** |"));
    assert!(md.contains("| flagged | 32 | 30 | -2 |"));
    assert!(md.contains("## Removed mailboxes (1)"));
}

#[test]
fn diff_refuses_what_is_not_an_audit_report() {
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("good.json");
    report(&fixture("contoso"), &good, &[]);
    let other = work.path().join("other.json");
    std::fs::write(&other, "{\"schema\": \"exoauth/diff-v1\"}").unwrap();
    exoauth().arg("diff").arg(&good).arg(&other).assert().code(2).stderr(predicate::str::contains(
        "schema is \"exoauth/diff-v1\", not \"exoauth/audit-v2\" (or the older \"exoauth/audit-v1\")",
    ));
    let csv = work.path().join("report.csv");
    exoauth()
        .args(["audit", "fixtures/contoso", "--format", "csv", "-o"])
        .arg(&csv)
        .assert()
        .success();
    exoauth()
        .arg("diff")
        .arg(&csv)
        .arg(&good)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("report.csv: expected value at line 1 column 1"));
    exoauth()
        .arg("diff")
        .arg(&good)
        .arg(work.path().join("missing.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
    // Saved as UTF-16 (Windows PowerShell 5.1's Out-File) it reads alike; cut
    // in a character, it is refused with where, and nothing panics.
    let text = std::fs::read_to_string(&good).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let saved = work.path().join("utf16.json");
    std::fs::write(&saved, &utf16).unwrap();
    exoauth().arg("diff").arg(&good).arg(&saved).assert().success();
    std::fs::write(&saved, &utf16[..(utf16.len() / 2) | 1]).unwrap();
    exoauth().arg("diff").arg(&good).arg(&saved).assert().code(2).stderr(
        predicate::str::contains("utf16.json: not UTF-16 text")
            .and(predicate::str::contains(" at line "))
            .and(predicate::str::contains("panicked").not()),
    );
}

#[test]
fn reports_of_different_directions_are_judged_by_the_later_one() {
    let work = tempfile::tempdir().unwrap();
    let edited = changed_contoso();
    let (allow, block) = (work.path().join("allow.json"), work.path().join("block.json"));
    report(&fixture("contoso"), &allow, &[]);
    report(edited.path(), &block, &["--want", "block"]);

    // allow, then block: Johanna's POP became allowed, which is what block
    // counts against; Olga's became blocked, which it welcomes.
    let d = diff_json(&allow, &block);
    assert_eq!(d["want"], "block");
    assert_eq!(
        d["notes"],
        serde_json::json!([
            "the reports were made for different directions (want allow then block); regressions are judged by the later one"
        ])
    );
    assert_eq!(d["regressions"], 1);
    assert_eq!(changed(&d, "johanna.lorenz@contoso.com")["regression"], true);
    assert_eq!(changed(&d, "olga.petrova@contoso.com")["regression"], false);
    // Mailboxes whose verdicts did not move are listed only because their flag
    // flipped with the direction, and none of them is a regression.
    for c in d["changed"].as_array().unwrap() {
        if c["protocols"].as_array().unwrap().is_empty() {
            assert_eq!(c["regression"], false, "{c}");
            assert_ne!(c["flagged"]["old"], c["flagged"]["new"], "{c}");
        }
    }
    exoauth()
        .arg("diff")
        .arg(&allow)
        .arg(&block)
        .args(["--fail-on", "regressions"])
        .assert()
        .code(1);

    // The other way round, judged by allow: Johanna's POP went from allowed to
    // blocked, the regression; Olga's came back.
    let d = diff_json(&block, &allow);
    assert_eq!(d["want"], "allow");
    assert_eq!(d["regressions"], 1);
    assert_eq!(changed(&d, "olga.petrova@contoso.com")["regression"], false);
    assert_eq!(changed(&d, "johanna.lorenz@contoso.com")["regression"], true);
    let text = exoauth().arg("diff").arg(&allow).arg(&block).output().unwrap().stdout;
    assert!(String::from_utf8(text).unwrap().contains("regressions are judged by the later one"));
}

#[test]
fn a_file_that_is_not_a_report_is_named_in_one_error_message() {
    let out = exoauth()
        .args(["diff", "fixtures/contoso/User.csv", "fixtures/contoso/User.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("expected value at line 1 column 1").count(), 1, "{stderr}");
    assert!(stderr.contains("fixtures/contoso/User.csv: "), "{stderr}");
    assert!(stderr.contains("expected an `exoauth audit --format json` report"), "{stderr}");
}
