//! `exoauth trend`: five runs of one tenant whose admins close basic SMTP AUTH
//! mailbox by mailbox, read back in every format.

use std::path::{Path, PathBuf};

use crate::util::{TempTenant, audit_json, exoauth, fixture};

/// A tenant of six mailboxes whose first `open` allow basic SMTP AUTH (their
/// own switch False against a tenant switch that is off); the others inherit it.
fn tenant(open: usize) -> TempTenant {
    let ids: Vec<String> =
        (0..6).map(|k| format!("00000000-0000-4000-8000-00000000000{k}")).collect();
    let users: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(k, g)| format!("{g},u{k}@contoso.com,,UserMailbox,False"))
        .collect();
    let mailboxes: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let smtp = if k < open { "False" } else { "" };
            format!("{g},u{k}@contoso.com,User {k},True,True,{smtp}")
        })
        .collect();
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    let mailboxes: Vec<&str> = mailboxes.iter().map(String::as_str).collect();
    TempTenant::new("Allow All", "True", &users, &mailboxes)
}

/// Writes the block-direction SMTP report of a tenant with `open` open mailboxes
/// as of `date` to `dir/name`; returns the report.
fn run(dir: &Path, name: &str, open: usize, date: &str) -> serde_json::Value {
    let t = tenant(open);
    let path = dir.join(name);
    exoauth()
        .arg("audit")
        .arg(t.path())
        .args(["--want", "block", "--protocols", "smtp", "--format", "json", "--as-of", date, "-o"])
        .arg(&path)
        .assert()
        .success();
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Five weekly runs, named so that name order is not date order.
fn five_runs(dir: &Path) -> Vec<(String, serde_json::Value)> {
    [
        ("e.json", 5, "2026-11-01"),
        ("a.json", 4, "2026-11-08"),
        ("d.json", 4, "2026-11-15"),
        ("b.json", 2, "2026-11-22"),
        ("c.json", 1, "2026-11-29"),
    ]
    .into_iter()
    .map(|(name, open, date)| (date.to_owned(), run(dir, name, open, date)))
    .collect()
}

fn trend(args: &[&str], paths: &[PathBuf]) -> (String, String, i32) {
    let out = exoauth().arg("trend").args(paths).args(args).output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn five_runs_in_date_order_with_each_reports_counts_and_the_direction() {
    let dir = tempfile::tempdir().unwrap();
    let runs = five_runs(dir.path());
    let (csv, err, code) =
        trend(&["--format", "csv", "--csv-bom", "never"], &[dir.path().to_owned()]);
    assert_eq!(code, 0, "{err}");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| {
        header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    for (row, (date, report)) in rows.iter().zip(&runs) {
        // Oldest first, whatever the file names, and each run's own figures.
        assert_eq!(&row[col("as_of")], date);
        let s = &report["summary"];
        assert_eq!(row[col("flagged")], s["flagged"].to_string());
        assert_eq!(row[col("in_scope")], s["in_scope"].to_string());
        assert_eq!(row[col("smtp_allowed")], s["by_protocol"]["smtp"]["allowed"].to_string());
        assert_eq!(row[col("smtp_blocked")], s["by_protocol"]["smtp"]["blocked"].to_string());
        assert_eq!(&row[col("smtp_in_use")], "", "no evidence, no count");
        assert_eq!(&row[col("want")], "block");
    }
    let flagged: Vec<&str> = rows.iter().map(|r| &r[col("flagged")]).collect();
    assert_eq!(flagged, ["5", "4", "4", "2", "1"]);
    assert!(header.iter().all(|h| !h.starts_with("pop")), "only smtp was audited: {header:?}");

    let (md, _, _) = trend(&[], &[dir.path().to_owned()]);
    assert!(md.contains("Moving toward the default-off: 1 mailbox not blocked from basic SMTP AUTH by their configuration (allowed or unknown) on 2026-11-29, down from 5 on 2026-11-01."), "{md}");
    assert!(md.contains("32 days from 2026-11-29 to the SMTP AUTH basic-auth default-off"), "{md}");
    assert!(md.contains("| 2026-11-08 | a.json |"), "{md}");

    let (html, _, _) = trend(&["--format", "html"], &[dir.path().to_owned()]);
    assert!(html.contains("Content-Security-Policy"));
    assert!(html.contains(r#"data-direction="toward""#));
    assert_eq!(html.matches("<polyline").count(), 2, "flagged and SMTP AUTH not blocked");
    assert!(!html.contains("<script"), "the page needs no script");
}

#[test]
fn more_open_mailboxes_is_moving_away_and_evidence_is_the_measure_when_both_ends_have_it() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "1.json", 1, "2026-11-01");
    run(dir.path(), "2.json", 3, "2026-11-20");
    let (md, _, code) = trend(&[], &[dir.path().join("1.json"), dir.path().join("2.json")]);
    assert_eq!(code, 0);
    assert!(
        md.contains(
            "Moving away from the default-off: 3 mailboxes not blocked from basic SMTP AUTH"
        ),
        "{md}"
    );
    assert!(md.contains("> [!WARNING]"), "{md}");

    // The sample tenant with and without sign-in evidence: in-use counts where
    // there is evidence, and the evidence decides when both ends have it.
    let ev = tempfile::tempdir().unwrap();
    let export = fixture("contoso-signins/export");
    let signins = fixture("contoso-signins/portal-csv");
    for (name, date) in [("a.json", "2026-11-20"), ("b.json", "2026-11-29")] {
        exoauth()
            .arg("audit")
            .arg(&export)
            .arg("--sign-ins")
            .arg(&signins)
            .args(["--want", "block", "--format", "json", "--as-of", date, "-o"])
            .arg(ev.path().join(name))
            .assert()
            .code(2); // the sample's deliberately bad sign-in row is rejected
    }
    let (report, _) =
        audit_json(&export, &["--want", "block", "--sign-ins", signins.to_str().unwrap()]);
    let in_use = report["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["protocols"]["smtp"]["usage"]["readiness"] == "in-use")
        .count();
    let (csv, err, code) = trend(&["--format", "csv"], &[ev.path().to_owned()]);
    assert_eq!(code, 0, "{err}");
    assert!(csv.starts_with('\u{feff}'), "CSV is Excel-ready by default");
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = header.iter().position(|h| h == "smtp_in_use").unwrap();
    for row in reader.records().map(Result::unwrap) {
        assert_eq!(row[col], in_use.to_string());
    }
    let (md, _, _) = trend(&[], &[ev.path().to_owned()]);
    assert!(
        md.contains(&format!(
            "Not moving: {in_use} mailboxes in use with basic SMTP AUTH (sign-in evidence)"
        )),
        "{md}"
    );
}

#[test]
fn mixed_directions_and_files_that_are_not_reports_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "block.json", 2, "2026-11-01");
    let allow = dir.path().join("allow.json");
    exoauth()
        .args(["audit", "fixtures/contoso", "--format", "json", "--as-of", "2026-11-02", "-o"])
        .arg(&allow)
        .assert()
        .success();
    let (_, err, code) = trend(&[], &[dir.path().to_owned()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("mix directions") && err.contains("allow.json") && err.contains("block.json"),
        "{err}"
    );

    std::fs::remove_file(&allow).unwrap();
    std::fs::write(dir.path().join("notes.json"), "{\"hello\": 1}").unwrap();
    let (_, err, code) = trend(&[], &[dir.path().to_owned()]);
    assert_eq!(code, 2);
    assert!(err.contains("notes.json"), "{err}");
    assert_eq!(err.matches("expected an `exoauth audit --format json` report").count(), 1, "{err}");

    let empty = tempfile::tempdir().unwrap();
    let (_, err, code) = trend(&[], &[empty.path().to_owned()]);
    assert_eq!(code, 2);
    assert!(err.contains("no JSON report found"), "{err}");
}
