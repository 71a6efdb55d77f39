//! Readiness (issue 10): sign-in evidence in every shape an admin has, joined to
//! the sample tenant and checked against `fixtures/contoso-signins/EXPECTED.md`,
//! which its generator worked out without exoauth; the exceptions register; the
//! evidence-aware block plan; and what every report format leads with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use exoauth::audit::{self, Options, Scope, Verdict, Want};
use exoauth::load;
use exoauth::model::usage::Readiness;
use exoauth::model::{Environment, Protocol};
use exoauth::plan::{self, Strategy, apply::apply};
use exoauth::progress::Silent;
use serde_json::{Value, json};

use crate::util::{exoauth, fixture};

const SHAPES: [&str; 5] = ["portal-csv", "graph", "powershell51", "powershell7", "companion"];
const AS_OF: &str = "2026-11-29";

/// The Markdown tables of EXPECTED.md under each `## ` heading: rows of cells,
/// header row first.
fn expected() -> BTreeMap<String, Vec<Vec<Vec<String>>>> {
    let text = std::fs::read_to_string(fixture("contoso-signins/EXPECTED.md")).unwrap();
    let mut out: BTreeMap<String, Vec<Vec<Vec<String>>>> = BTreeMap::new();
    let mut section = String::new();
    let mut in_table = false;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            section = h.to_owned();
            in_table = false;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<String> =
            line.trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect();
        if cells.iter().all(|c| c.chars().all(|ch| matches!(ch, '-' | ':'))) {
            continue;
        }
        let tables = out.entry(section.clone()).or_default();
        if !in_table {
            tables.push(Vec::new());
            in_table = true;
        }
        tables.last_mut().unwrap().push(cells);
    }
    out
}

/// The table of `section` whose header starts with `first` (and, after a `+`,
/// also has the named column), as maps of column to cell.
fn table(
    all: &BTreeMap<String, Vec<Vec<Vec<String>>>>,
    section: &str,
    first: &str,
) -> Vec<BTreeMap<String, String>> {
    let (first, also) = first.split_once('+').unwrap_or((first, first));
    let tables = all
        .iter()
        .find(|(h, _)| h.starts_with(section))
        .unwrap_or_else(|| panic!("no section {section:?} in EXPECTED.md"))
        .1;
    let t = tables
        .iter()
        .find(|t| t[0][0] == first && t[0].iter().any(|c| c == also))
        .unwrap_or_else(|| panic!("no table starting {first:?} in {section:?}"));
    t[1..].iter().map(|row| t[0].iter().cloned().zip(row.iter().cloned()).collect()).collect()
}

/// `exoauth audit fixtures/contoso-signins/export --format json --as-of 2026-11-29 ...`.
fn audit(extra: &[&str]) -> (Value, i32, String) {
    let out = exoauth()
        .args(["audit", "fixtures/contoso-signins/export", "--format", "json", "--as-of", AS_OF])
        .args(extra)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}); stderr: {}", String::from_utf8_lossy(&out.stderr))
    });
    (json, out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn shape(name: &str) -> String {
    format!("fixtures/contoso-signins/{name}")
}

fn by_address(r: &Value) -> BTreeMap<String, &Value> {
    r["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["primary_smtp_address"].as_str().unwrap().to_lowercase(), m))
        .collect()
}

fn dash(v: &Value) -> String {
    v.as_str().map_or_else(|| "-".to_owned(), str::to_owned)
}

#[test]
fn every_shape_gives_the_expected_usage_per_mailbox() {
    let exp = expected();
    let rows = table(&exp, "Usage per mailbox", "mailbox");
    assert!(rows.len() >= 15, "EXPECTED.md lists {} usage rows", rows.len());
    let evidence = table(&exp, "Evidence summary", "measure");
    let measure = |k: &str| evidence.iter().find(|r| r["measure"] == k).unwrap()["value"].clone();
    let files = table(&exp, "Files", "file");
    for name in SHAPES {
        let dir = shape(name);
        let (r, code, _) = audit(&["--sign-ins", &dir, "--all-recipient-types", "--want", "block"]);
        assert_eq!(code, 2, "{name}: the unreadable event is a rejected row");
        let ctx = |what: &str| format!("{name}: {what}");

        // Usage: the listed (mailbox, protocol)s exactly, every other one unused.
        let mut listed = BTreeSet::new();
        let mailboxes = by_address(&r);
        for row in &rows {
            let m = mailboxes
                .get(&row["mailbox"])
                .unwrap_or_else(|| panic!("{}", ctx(&row["mailbox"])));
            let u = &m["protocols"][&row["protocol"]]["usage"];
            let here = ctx(&format!("{} {}", row["mailbox"], row["protocol"]));
            assert_eq!(u["readiness"], row["readiness"].as_str(), "{here}");
            assert_eq!(u["successes"].to_string(), row["successes"], "{here}");
            assert_eq!(u["failures"].to_string(), row["failures"], "{here}");
            assert_eq!(dash(&u["last_success"]), row["last success"], "{here}");
            assert_eq!(dash(&u["last_failure"]), row["last failure"], "{here}");
            let clients: Vec<String> = u["clients"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    format!(
                        "{} / {} × {}",
                        c["ip"].as_str().unwrap(),
                        c["user_agent"].as_str().unwrap(),
                        c["count"]
                    )
                })
                .collect();
            assert_eq!(clients.join("; "), row["clients"], "{here}");
            listed.insert((row["mailbox"].clone(), row["protocol"].clone()));
        }
        for (address, m) in &mailboxes {
            for p in ["pop", "imap", "smtp"] {
                if !listed.contains(&(address.clone(), p.to_owned())) {
                    let u = &m["protocols"][p]["usage"];
                    assert_eq!(u["readiness"], "unused", "{}", ctx(&format!("{address} {p}")));
                    assert_eq!(
                        (u["successes"].as_u64(), u["failures"].as_u64()),
                        (Some(0), Some(0))
                    );
                }
            }
        }

        // The evidence summary and its sources.
        let e = &r["evidence"];
        for (key, name_in_md) in
            [("events", "events"), ("counted", "counted"), ("unmatched", "unmatched")]
        {
            assert_eq!(e[key].to_string(), measure(name_in_md), "{}", ctx(key));
        }
        assert_eq!(e["from"], measure("from").as_str(), "{}", ctx("from"));
        assert_eq!(e["to"], measure("to").as_str(), "{}", ctx("to"));
        let sources = e["sources"].as_array().unwrap();
        let shape_files: Vec<_> = files.iter().filter(|f| f["shape"] == name).collect();
        assert_eq!(sources.len(), shape_files.len(), "{}", ctx("sources"));
        for f in &shape_files {
            let s = sources
                .iter()
                .find(|s| s["path"] == f["file"].as_str())
                .unwrap_or_else(|| panic!("{}", ctx(&f["file"])));
            assert_eq!(s["events"].to_string(), f["events"], "{}", ctx(&f["file"]));
            let bytes = std::fs::read(crate::util::root().join(&f["file"])).unwrap();
            let sha = {
                use sha2::Digest;
                format!("{:x}", sha2::Sha256::digest(&bytes))
            };
            assert_eq!(s["sha256"], sha.as_str(), "{}", ctx("sha256"));
            // The unreadable event: rejected with its file and line, never placed at the epoch.
            let rejected: Vec<&str> = r["rejected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["source"].as_str().unwrap())
                .filter(|s| s.starts_with(f["file"].as_str()))
                .collect();
            let want: Vec<String> = match f["rejected"].strip_prefix("line ") {
                Some(line) => vec![format!("{}:{line}", f["file"])],
                None => Vec::new(),
            };
            assert_eq!(rejected, want, "{}", ctx("rejected"));
        }
    }
}

#[test]
fn the_smtp_headline_and_the_exceptions_register() {
    let exp = expected();
    let headline = table(&exp, "SMTP readiness headline", "measure");
    let count =
        |k: &str| headline.iter().find(|r| r["measure"].starts_with(k)).unwrap()["count"].clone();
    let excepted = table(&exp, "Exceptions", "excepted mailbox");
    let malformed = table(&exp, "Exceptions", "line+reason");
    let totals = table(&exp, "Exceptions", "measure");
    let total =
        |k: &str| totals.iter().find(|r| r["measure"].starts_with(k)).unwrap()["count"].clone();
    let flagged_line = std::fs::read_to_string(fixture("contoso-signins/EXPECTED.md"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Flagged mailboxes: ").map(str::to_owned))
        .unwrap();
    let want_flagged: BTreeSet<String> =
        flagged_line.trim_end_matches('.').split(", ").map(str::to_owned).collect();

    for name in SHAPES {
        let (r, _, _) = audit(&[
            "--sign-ins",
            &shape(name),
            "--want",
            "block",
            "--exceptions",
            "fixtures/contoso-signins/exceptions.csv",
        ]);
        let mailboxes = by_address(&r);
        let readiness = |p: &str, rd: &str| {
            mailboxes.values().filter(|m| m["protocols"][p]["usage"]["readiness"] == rd).count()
        };
        let allowed_unused = mailboxes
            .values()
            .filter(|m| {
                m["protocols"]["smtp"]["basic_auth"] == "allowed"
                    && m["protocols"]["smtp"]["usage"]["readiness"] == "unused"
            })
            .count();
        assert_eq!(readiness("smtp", "in-use").to_string(), count("in-use"), "{name}");
        assert_eq!(allowed_unused.to_string(), count("allowed but unused"), "{name}");
        assert_eq!(readiness("smtp", "attempted").to_string(), count("failures only"), "{name}");
        // The answer leads the advisories, in words.
        let first = &r["advisories"][0];
        assert_eq!(first["code"], "readiness-smtp", "{name}");
        let message = first["message"].as_str().unwrap();
        for needle in [
            format!("{} mailboxes in use with basic SMTP AUTH", count("in-use")),
            format!(
                "{} mailboxes allowed basic SMTP AUTH but did not use it",
                count("allowed but unused")
            ),
            format!("{} mailbox has only failed sign-ins", count("failures only")),
            "likely a broken client".to_owned(),
        ] {
            assert!(message.contains(&needle), "{name}: {needle:?} not in {message:?}");
        }

        // Exceptions: who is excepted, with which row; who is flagged.
        let got_excepted: BTreeSet<&str> = mailboxes
            .iter()
            .filter(|(_, m)| m["excepted"] == true)
            .map(|(a, _)| a.as_str())
            .collect();
        let want_excepted: BTreeSet<&str> =
            excepted.iter().map(|r| r["excepted mailbox"].as_str()).collect();
        assert_eq!(got_excepted, want_excepted, "{name}");
        for row in &excepted {
            let m = mailboxes[&row["excepted mailbox"]];
            assert_eq!(m["flagged"], false);
            assert_eq!(
                m["exception"]["source"],
                format!("fixtures/contoso-signins/exceptions.csv:{}", row["exception lines"])
                    .as_str()
            );
            assert!(!m["exception"]["owner"].as_str().unwrap().is_empty());
        }
        let got_flagged: BTreeSet<String> = mailboxes
            .iter()
            .filter(|(_, m)| m["flagged"] == true)
            .map(|(a, _)| a.clone())
            .collect();
        assert_eq!(got_flagged, want_flagged, "{name}");
        assert_eq!(r["summary"]["flagged"].to_string(), total("flagged"));
        assert_eq!(r["summary"]["excepted"].to_string(), total("excepted"));
        assert_eq!(r["summary"]["in_scope"].to_string(), total("in scope"));
        let rejected: Vec<String> = r["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| {
                x["source"]
                    .as_str()?
                    .strip_prefix("fixtures/contoso-signins/exceptions.csv:")
                    .map(str::to_owned)
            })
            .collect();
        let want_lines: Vec<String> = malformed.iter().map(|r| r["line"].clone()).collect();
        assert_eq!(rejected, want_lines, "{name}");
        let warned = r["advisories"].as_array().unwrap().iter().any(|a| {
            a["code"] == "exception-unmatched"
                && a["message"].as_str().unwrap().contains("nobody@contoso.com")
        });
        assert!(warned, "{name}: an exception naming no mailbox is a warning");
    }
}

#[test]
fn an_expired_exception_covers_nothing_and_a_partial_one_does_not_except() {
    // The day megan.bowen's smtp exception runs out it still counts; the day
    // after, she is flagged like anyone else.
    let run = |as_of: &str| {
        let out = exoauth()
            .args([
                "audit",
                "fixtures/contoso-signins/export",
                "--format",
                "json",
                "--want",
                "block",
            ])
            .args(["--exceptions", "fixtures/contoso-signins/exceptions.csv", "--as-of", as_of])
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let m = by_address(&r);
        (
            m["megan.bowen@contoso.com"]["excepted"].clone(),
            m["isaiah.langer@contoso.com"]["flagged"].clone(),
        )
    };
    assert_eq!(run("2026-10-31"), (Value::Bool(true), Value::Bool(true)));
    assert_eq!(run("2026-11-01"), (Value::Bool(false), Value::Bool(true)));
    // The allow direction ignores the register.
    let (r, _, _) = audit(&["--exceptions", "fixtures/contoso-signins/exceptions.csv"]);
    assert_eq!(r["summary"]["excepted"], 0);
}

#[test]
fn every_report_format_leads_with_the_answer() {
    let base = [
        "audit",
        "fixtures/contoso-signins/export",
        "--sign-ins",
        "fixtures/contoso-signins/portal-csv",
        "--want",
        "block",
        "--as-of",
        AS_OF,
    ];
    let render = |format: &str| {
        let out = exoauth().args(base).args(["--format", format]).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let text = render("text");
    let summary = text.split("\nSummary\n").nth(1).unwrap();
    assert!(
        summary
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("  smtp: 7 mailboxes in use with basic SMTP AUTH"),
        "{summary}"
    );
    let md = render("markdown");
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(headings[0], "## Readiness", "{headings:?}");
    assert!(md.find("Service timeline").unwrap() < md.find("## Readiness").unwrap());
    let html = render("html");
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle} not in the HTML"));
    assert!(
        at("id=\"timeline\"") < at("id=\"readiness\"")
            && at("id=\"readiness\"") < at("id=\"summary\"")
    );
    assert!(html.contains("data-protocol=\"smtp\""));
    let csv = render("csv");
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",pop_readiness,pop_last_success,imap_readiness,imap_last_success,smtp_readiness,smtp_last_success"),
        "{header}"
    );
    let scan = csv.lines().find(|l| l.contains("scan.printer@contoso.com")).unwrap();
    assert!(scan.ends_with(",unused,,unused,,in-use,2026-11-28T16:05:37Z"), "{scan}");
}

#[test]
fn sign_in_logs_in_the_export_folder_are_picked_up_by_their_columns() {
    let work = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("contoso-signins/export")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, work.path().join(p.file_name().unwrap())).unwrap();
    }
    // A name that matches no cmdlet: recognised by its header, not its name.
    std::fs::copy(
        fixture("contoso-signins/companion/SignIns.csv"),
        work.path().join("legacy-sign-ins-november.csv"),
    )
    .unwrap();
    let out = exoauth()
        .arg("audit")
        .arg(work.path())
        .args(["--format", "json", "--as-of", AS_OF])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["evidence"]["events"], 76);
    assert_eq!(r["evidence"]["sources"][0]["kind"], "exoauth-csv");
    assert!(
        !r["advisories"].as_array().unwrap().iter().any(|a| a["code"] == "unknown-file"),
        "a sign-in log is not an unknown file"
    );
}

#[test]
fn sign_ins_missing_their_columns_stop_with_the_file_and_the_columns() {
    let work = tempfile::tempdir().unwrap();
    let bad = work.path().join("signins.csv");
    std::fs::write(&bad, "\"User ID\",\"Username\",\"Client app\",\"IP address\"\n\"x\",\"a@contoso.com\",\"POP3\",\"1.2.3.4\"\n").unwrap();
    let out =
        exoauth().args(["audit", "fixtures/contoso", "--sign-ins"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("signins.csv"), "{err}");
    assert!(err.contains("Date (UTC) / createdDateTime"), "{err}");
    assert!(err.contains("Status or Sign-in error code"), "{err}");
    let json = work.path().join("signins.json");
    std::fs::write(
        &json,
        "[{\"userPrincipalName\": \"a@contoso.com\", \"clientAppUsed\": \"POP3\"}]",
    )
    .unwrap();
    let out =
        exoauth().args(["audit", "fixtures/contoso", "--sign-ins"]).arg(&json).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("signins.json")
            && err.contains("createdDateTime")
            && err.contains("status.errorCode"),
        "{err}"
    );
}

#[test]
fn one_kind_of_sign_ins_or_a_short_window_is_a_warning() {
    let (r, _, _) = audit(&[
        "--sign-ins",
        "fixtures/contoso-signins/portal-csv/InteractiveSignIns_2026-10-30_2026-11-28.csv",
        "--since",
        "2026-11-15",
    ]);
    let codes: Vec<&str> =
        r["advisories"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"evidence-one-kind"), "{codes:?}");
    assert!(codes.contains(&"evidence-window-short"), "{codes:?}");
    assert_eq!(r["evidence"]["from"], "2026-11-15T00:00:00Z");
    // Both kinds over the whole window: neither warning.
    let (r, _, _) = audit(&["--sign-ins", "fixtures/contoso-signins/portal-csv"]);
    let codes: Vec<&str> =
        r["advisories"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert!(
        !codes.contains(&"evidence-one-kind") && !codes.contains(&"evidence-window-short"),
        "{codes:?}"
    );
}

fn options(include_in_use: bool) -> Options {
    Options {
        want: Want::Block,
        protocols: Protocol::ALL.to_vec(),
        environment: Environment::Online,
        as_of: time::macros::date!(2026 - 11 - 29),
        scope: Scope::default(),
        include_in_use,
    }
}

fn loaded(evidence: bool) -> load::Loaded {
    let mut l = load::load(&fixture("contoso-signins/export"), Environment::Online).unwrap();
    if evidence {
        load::add_evidence(
            &mut l,
            &[fixture("contoso-signins/graph")],
            None,
            load::Digests::Made,
            &Silent,
        )
        .unwrap();
    }
    l
}

#[test]
fn the_block_plan_leaves_in_use_protocols_to_manual_steps() {
    let l = loaded(true);
    let s0 = &l.snapshot;
    let usage = s0.usage.clone().unwrap();
    let o = options(false);
    let a0 = audit::audit(s0, &o);
    let p = plan::plan(&a0, Strategy::LeastPrivilege);
    let mut s1 = apply(s0, &p.actions);
    s1.usage = Some(usage.clone());
    let a1 = audit::audit(&s1, &o);
    let mut in_use_allowed = BTreeSet::new();
    for (f0, f1) in a0.findings().zip(a1.findings()) {
        for ((proto, v0), (_, v1)) in f0.verdicts().zip(f1.verdicts()) {
            let in_use = usage.readiness(f0.mailbox, proto) == Readiness::InUse;
            if in_use {
                assert_eq!(
                    v0.verdict, v1.verdict,
                    "mailbox {} {proto}: an in-use protocol changed",
                    f0.mailbox
                );
                if v0.verdict == Verdict::Allowed && f0.flagged {
                    in_use_allowed.insert((s0.mailbox(f0.mailbox).ids.key().to_string(), proto));
                }
            } else if f0.flagged && v0.verdict == Verdict::Allowed {
                assert_eq!(
                    v1.verdict,
                    Verdict::Blocked,
                    "mailbox {} {proto}: allowed and unused, not blocked",
                    f0.mailbox
                );
            }
        }
    }
    // Each in-use, allowed protocol of a flagged mailbox is a manual step that says
    // what uses it.
    let steps: Vec<_> = p.manual.iter().filter(|m| m.code == "in-use").collect();
    assert_eq!(steps.len(), in_use_allowed.len(), "{steps:#?}");
    assert!(!steps.is_empty());
    for s in &steps {
        assert!(
            s.message.contains("BAV2ROPC") && s.message.contains("the last 2026-"),
            "{}",
            s.message
        );
        assert_eq!(s.mailboxes.len(), 1);
    }
}

#[test]
fn include_in_use_blocks_them_too_and_no_evidence_leaves_the_plan_as_it_was() {
    let with = loaded(true);
    let without = loaded(false);
    let everything =
        plan::plan(&audit::audit(&with.snapshot, &options(true)), Strategy::LeastPrivilege);
    let blind =
        plan::plan(&audit::audit(&without.snapshot, &options(false)), Strategy::LeastPrivilege);
    assert_eq!(everything.actions, blind.actions);
    assert!(!everything.manual.iter().any(|m| m.code == "in-use"));
    let s1 = apply(&with.snapshot, &everything.actions);
    let a1 = audit::audit(&s1, &options(true));
    for f in a1.findings() {
        for (proto, v) in f.verdicts() {
            assert_ne!(v.verdict, Verdict::Allowed, "mailbox {} {proto} still allowed", f.mailbox);
        }
    }
}

#[test]
fn fail_closed_block_gate_fails_on_unknown_and_plans_a_manual_step() {
    // Two mailboxes of the sample have only `unknown` open protocols: the gate
    // must not pass on them, and the plan names the missing fact.
    let out = exoauth()
        .args([
            "audit",
            "fixtures/contoso",
            "--want",
            "block",
            "--protocols",
            "smtp",
            "--fail-on",
            "flagged",
        ])
        .args(["--format", "json", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let l = load::load(&fixture("contoso"), Environment::Online).unwrap();
    let a = audit::audit(&l.snapshot, &options(false));
    let p = plan::plan(&a, Strategy::LeastPrivilege);
    for (code, who) in [
        ("policy-not-found", "grady.archie@contoso.com"),
        ("input-missing", "miriam.graham@contoso.com"),
    ] {
        let step = p.manual.iter().find(|m| m.code == code).unwrap_or_else(|| panic!("{code}"));
        assert!(step.mailboxes.iter().any(|m| m.contains(who)), "{step:?}");
    }
}

#[test]
fn diff_lists_newly_in_use_as_a_regression_and_lapsed_exceptions() {
    let work = tempfile::tempdir().unwrap();
    // The earlier evidence lacks megan.bowen's sign-ins.
    let full = std::fs::read_to_string(fixture("contoso-signins/companion/SignIns.csv")).unwrap();
    let earlier: String = full
        .split_inclusive('\n')
        .filter(|l| !l.to_lowercase().contains("megan.bowen@contoso.com"))
        .collect();
    assert!(earlier.len() < full.len());
    std::fs::write(work.path().join("SignIns.csv"), earlier).unwrap();
    let report = |name: &str, sign_ins: &Path, as_of: &str| {
        let path = work.path().join(name);
        exoauth()
            .args([
                "audit",
                "fixtures/contoso-signins/export",
                "--want",
                "block",
                "--format",
                "json",
            ])
            .args([
                "--exceptions",
                "fixtures/contoso-signins/exceptions.csv",
                "--as-of",
                as_of,
                "-o",
            ])
            .arg(&path)
            .arg("--sign-ins")
            .arg(sign_ins)
            .output()
            .unwrap();
        path
    };
    let old = report("old.json", &work.path().join("SignIns.csv"), "2026-10-31");
    let new = report("new.json", &fixture("contoso-signins/companion/SignIns.csv"), AS_OF);
    let out = exoauth()
        .args(["diff", "--format", "json", "--fail-on", "regressions"])
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    let megan = d["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "megan.bowen@contoso.com")
        .unwrap();
    assert_eq!(megan["regression"], true);
    assert_eq!(
        megan["exception_lapsed"],
        serde_json::json!({"until": "2026-10-31", "expired": true})
    );
    let smtp =
        megan["protocols"].as_array().unwrap().iter().find(|p| p["protocol"] == "smtp").unwrap();
    assert_eq!(
        (&smtp["change"], &smtp["old_readiness"], &smtp["new_readiness"]),
        (&Value::from("newly-in-use"), &Value::from("unused"), &Value::from("in-use"))
    );
    assert!(d["newly_in_use"].as_u64().unwrap() >= 1);
    // The text diff says it in words.
    let text = exoauth().args(["diff"]).arg(&old).arg(&new).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("exception until 2026-10-31 expired"), "{text}");
    assert!(text.contains("usage: unused → in-use"), "{text}");
}

#[test]
fn a_hostile_user_agent_never_becomes_script_code() {
    // Anyone who can sign in chooses their user agent; an in-use step quotes it
    // in the script's comments.
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("SignIns.csv");
    std::fs::write(
        &csv,
        "\"Date (UTC)\",\"User ID\",\"Username\",\"Client app\",\"Status\",\"Sign-in error code\",\"IP address\",\"User agent\"\r\n\
         \"2026-11-20T08:01:02Z\",\"a4b67497-a79c-4721-9ca2-31386338d50b\",\"megan.bowen@contoso.com\",\"Authenticated SMTP\",\"Success\",\"0\",\"203.0.113.7\",\"x\r\nRemove-Mailbox -Identity ceo -Confirm:$false #\u{2028}Stop-Computer\"\r\n",
    )
    .unwrap();
    let script = work.path().join("harden.ps1");
    exoauth()
        .args([
            "audit",
            "fixtures/contoso-signins/export",
            "--want",
            "block",
            "--as-of",
            AS_OF,
            "--sign-ins",
        ])
        .arg(&csv)
        .arg("--script")
        .arg(&script)
        .assert()
        .success();
    let text = String::from_utf8(std::fs::read(&script).unwrap()[3..].to_vec()).unwrap();
    assert!(
        text.contains("x??Remove-Mailbox -Identity ceo -Confirm:$false #?Stop-Computer"),
        "the step quotes it, made inert"
    );
    for line in text.lines() {
        let t = line.trim_start();
        assert!(!t.starts_with("Remove-Mailbox") && !t.starts_with("Stop-Computer"), "{line}");
    }
}

#[test]
fn damaged_or_re_saved_sign_in_files_lose_nothing_silently() {
    let work = tempfile::tempdir().unwrap();
    let portal = std::fs::read(fixture(
        "contoso-signins/portal-csv/InteractiveSignIns_2026-10-30_2026-11-28.csv",
    ))
    .unwrap();
    let text = String::from_utf8(portal[3..].to_vec()).unwrap();
    // Cut in the middle of a row, as an interrupted download leaves it.
    let cut_at = text.match_indices("\r\n").nth(22).unwrap().0 + 40;
    std::fs::write(work.path().join("cut.csv"), &text[..cut_at]).unwrap();
    // Re-saved by a localised Excel: `;` between fields, UTF-16 with a BOM.
    std::fs::write(work.path().join("semicolon.csv"), text.replace("\",\"", "\";\"")).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(work.path().join("utf16.csv"), utf16).unwrap();
    std::fs::write(work.path().join("empty.csv"), "").unwrap();

    let read = |name: &str| {
        let out = exoauth()
            .args(["audit", "fixtures/contoso-signins/export", "--format", "json", "--sign-ins"])
            .arg(work.path().join(name))
            .output()
            .unwrap();
        (
            serde_json::from_slice::<Value>(&out.stdout).ok(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (cut, _) = read("cut.csv");
    let cut = cut.unwrap();
    let reasons: Vec<(String, String)> = cut["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["source"].as_str().unwrap().rsplit(':').next().unwrap().to_owned(),
                x["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[1].0, "24");
    assert!(reasons[1].1.contains("expected 57 fields as in the header"), "{reasons:?}");
    // Every readable event before the cut is counted: 22 data lines, one unreadable date.
    assert_eq!(cut["evidence"]["events"], 21);
    for name in ["semicolon.csv", "utf16.csv"] {
        let (r, _) = read(name);
        let r = r.unwrap();
        assert_eq!(r["evidence"]["events"], 57, "{name}");
        assert_eq!(r["evidence"]["sources"][0]["kind"], "entra-portal-csv", "{name}");
    }
    let (none, err) = read("empty.csv");
    assert!(none.is_none());
    assert!(err.contains("empty.csv: the file is empty"), "{err}");
}

#[test]
fn the_same_download_given_twice_is_a_warning() {
    let codes = |extra: &[&str]| -> Vec<String> {
        let (r, _, _) = audit(extra);
        r["advisories"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["code"] == "evidence-overlap")
            .map(|a| a["message"].as_str().unwrap().to_owned())
            .collect()
    };
    // Interactive and non-interactive downloads of the same days are not a repeat.
    assert!(codes(&["--sign-ins", "fixtures/contoso-signins/portal-csv"]).is_empty());
    let twice = codes(&[
        "--sign-ins",
        "fixtures/contoso-signins/portal-csv",
        "--sign-ins",
        "fixtures/contoso-signins/graph",
    ]);
    assert_eq!(twice.len(), 2, "{twice:?}");
    assert!(twice[0].contains("counted twice"));
}

#[test]
fn generated_sign_ins_read_back_whole() {
    // `exoauth generate --sign-ins` (the benchmark's evidence) writes the portal's
    // two downloads; every event is read, both kinds, and all match a mailbox.
    let work = tempfile::tempdir().unwrap();
    exoauth()
        .args(["generate", "--mailboxes", "300", "--sign-ins", "5000", "--seed", "3", "-o"])
        .arg(work.path())
        .assert()
        .success();
    let out = exoauth()
        .arg("audit")
        .arg(work.path())
        .arg("--sign-ins")
        .arg(work.path().join("signins"))
        .args(["--all-recipient-types", "--format", "json", "--as-of", AS_OF])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &r["evidence"];
    assert_eq!(e["events"], 5000);
    assert_eq!(e["unmatched"], 0);
    assert_eq!(e["sources"].as_array().unwrap().len(), 2);
    let counted = e["counted"].as_u64().unwrap();
    assert!((500..2000).contains(&counted), "{counted} legacy events of 5000");
    let per_mailbox: u64 = r["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| ["pop", "imap", "smtp"].map(|p| &m["protocols"][p]["usage"]))
        .map(|u| u["successes"].as_u64().unwrap() + u["failures"].as_u64().unwrap())
        .sum();
    assert_eq!(per_mailbox, counted, "every counted event is in some mailbox's usage");
    let codes: Vec<&str> =
        r["advisories"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert!(
        !codes.contains(&"evidence-one-kind") && !codes.contains(&"evidence-window-short"),
        "{codes:?}"
    );
}

/// Every report that records its inputs' digests, and a script's header, gets
/// them though the report is not JSON: each export file's and each sign-in
/// log's SHA-256, computed here, is in the output (the JSON report's are
/// checked in `evidence_from_every_shape…` and `tests/audit.rs`).
#[test]
fn every_output_that_records_digests_has_them() {
    let export = fixture("contoso-signins/export");
    let logs = fixture("contoso-signins/portal-csv");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in [&export, &logs] {
        files.extend(std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()));
    }
    let want: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            use sha2::Digest;
            let bytes = std::fs::read(f).unwrap();
            (f.display().to_string(), format!("{:x}", sha2::Sha256::digest(&bytes)))
        })
        .collect();
    let out = tempfile::tempdir().unwrap();
    let script = out.path().join("fix.ps1");
    let runs: [(&str, &[&str], &Path); 3] = [
        ("markdown", &[], &out.path().join("r.md")),
        ("html", &[], &out.path().join("r.html")),
        ("csv", &["--want", "block", "--script", script.to_str().unwrap()], &script),
    ];
    for (format, extra, written) in runs {
        let report = out.path().join("report");
        let run = exoauth()
            .arg("audit")
            .arg(&export)
            .arg("--sign-ins")
            .arg(&logs)
            .args(["--format", format, "--as-of", "2026-11-25", "-o"])
            .arg(if written == script.as_path() { &report } else { written })
            .args(extra)
            .output()
            .unwrap();
        // 2: the logs hold an unreadable event on purpose (listed as rejected).
        assert_eq!(run.status.code(), Some(2), "{format}: {run:?}");
        let text = std::fs::read_to_string(written).unwrap();
        // A script names the exports it was made from; the reports name the logs too.
        let named = |f: &&(String, String)| written != script.as_path() || !f.0.contains("SignIns");
        for (file, sha256) in want.iter().filter(named) {
            assert!(text.contains(sha256.as_str()), "{format}: no digest of {file}");
        }
        assert!(!text.contains("not made"), "{format}");
    }
}

/// A run whose outputs record no digests (the text and CSV reports) hashes
/// nothing, and reads everything else the same.
#[test]
fn a_load_without_digests_hashes_nothing_and_reads_the_same() {
    let load = |digests| {
        let export = fixture("contoso-signins/export");
        let forms = load::Forms::default();
        let mut l =
            load::load_with_forms(&export, Environment::Online, &forms, digests, &Silent).unwrap();
        let logs = [fixture("contoso-signins/portal-csv")];
        load::add_evidence(&mut l, &logs, None, digests, &Silent).unwrap();
        l
    };
    let (made, mut skipped) = (load(load::Digests::Made), load(load::Digests::Skipped));
    let usage = |l: &load::Loaded| l.snapshot.usage.clone().unwrap();
    assert!(made.inputs.iter().all(|i| i.sha256.as_ref().is_some_and(|h| h.len() == 64)));
    assert!(usage(&made).summary.sources.iter().all(|s| s.sha256.is_some()));
    assert!(skipped.inputs.iter().all(|i| i.sha256.is_none()));
    assert!(usage(&skipped).summary.sources.iter().all(|s| s.sha256.is_none()));
    for (s, m) in skipped.inputs.iter_mut().zip(&made.inputs) {
        s.sha256.clone_from(&m.sha256);
    }
    assert_eq!(skipped.inputs, made.inputs);
    let mut skipped_usage = usage(&skipped);
    for (s, m) in skipped_usage.summary.sources.iter_mut().zip(&usage(&made).summary.sources) {
        s.sha256.clone_from(&m.sha256);
    }
    assert_eq!(skipped_usage, usage(&made));
    assert_eq!(
        format!("{:?}", skipped.snapshot.mailboxes()),
        format!("{:?}", made.snapshot.mailboxes())
    );
    assert_eq!((&skipped.rejected, &skipped.warnings), (&made.rejected, &made.warnings));
}

/// The CSV report, one row per mailbox, has no place for the input's warnings
/// and rejected rows: the run lists each on standard error instead, the same
/// ones the JSON report lists, so that no row goes unaccounted for.
#[test]
fn a_csv_run_lists_what_the_report_cannot_hold() {
    let args = |format: &str| {
        let mut cmd = exoauth();
        cmd.args(["audit", "fixtures/contoso-signins/export", "--sign-ins"])
            .args(["fixtures/contoso-signins/portal-csv", "--want", "block"])
            .args(["--exceptions", "fixtures/contoso-signins/exceptions.csv"])
            .args(["--as-of", "2026-11-29", "--format", format, "-q"]);
        cmd.output().unwrap()
    };
    let json = args("json");
    let r: Value = serde_json::from_slice(&json.stdout).unwrap();
    let want: Vec<String> = r["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            format!(
                "exoauth: rejected {}: {}",
                x["source"].as_str().unwrap(),
                x["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(want.len(), 4, "the sample's damaged rows");
    let csv = args("csv");
    assert_eq!(csv.status.code(), Some(2));
    let stderr = String::from_utf8(csv.stderr).unwrap();
    let listed: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("exoauth: rejected ")).collect();
    assert_eq!(listed, want, "{stderr}");
    assert!(stderr.contains("4 input rows rejected (listed above)"), "{stderr}");
    // Without -q the warnings are listed too, each one the JSON report gives.
    let mut cmd = exoauth();
    let loud = cmd
        .args(["audit", "fixtures/contoso-signins/export", "--sign-ins"])
        .args(["fixtures/contoso-signins/portal-csv", "--format", "csv"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(loud.stderr).unwrap();
    let (r, _) = crate::util::audit_json(
        Path::new("fixtures/contoso-signins/export"),
        &["--sign-ins", "fixtures/contoso-signins/portal-csv"],
    );
    // The input's warnings are the advisories that concern no protocol.
    let warnings =
        r["advisories"].as_array().unwrap().iter().filter(|a| a["protocols"] == json!([]));
    let mut n = 0;
    for w in warnings {
        n += 1;
        let message = w["message"].as_str().unwrap();
        assert!(
            stderr.contains(&format!("exoauth: warning: {message}\n")),
            "{message} not in {stderr}"
        );
    }
    assert!(n > 0 && stderr.contains(&format!("{n} warning")), "{n}: {stderr}");
}
