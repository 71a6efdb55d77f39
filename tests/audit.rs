//! Behaviour of `exoauth audit` on the fixtures: the first command, formats,
//! directions, scope, exit codes, and regressions of competitors' bugs.

use std::path::Path;

use predicates::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{TempTenant, audit_json, exoauth, fixture};

fn mailbox<'a>(report: &'a Value, smtp: &str) -> &'a Value {
    report["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["primary_smtp_address"] == smtp)
        .unwrap_or_else(|| panic!("{smtp} not in report"))
}

fn verdict<'a>(report: &'a Value, smtp: &str, protocol: &str) -> &'a str {
    mailbox(report, smtp)["protocols"][protocol]["basic_auth"].as_str().unwrap()
}

#[test]
fn readme_first_command_text_report() {
    let out = exoauth()
        .args(["audit", "fixtures/contoso", "--as-of", "2026-11-25"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    insta::assert_snapshot!("contoso_text", String::from_utf8(out).unwrap());
}

#[test]
fn json_report_has_exactly_the_audit_v2_shape() {
    let (r, code) = audit_json(&fixture("contoso"), &[]);
    assert_eq!(code, 0);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&r),
        [
            "advisories",
            "as_of",
            "environment",
            "evidence",
            "inputs",
            "mailboxes",
            "protocols",
            "rejected",
            "schema",
            "summary",
            "tenant",
            "tool_version",
            "want"
        ]
    );
    assert_eq!(r["schema"], "exoauth/audit-v2");
    assert_eq!(r["evidence"], Value::Null, "no --sign-ins: no evidence, not an empty one");
    assert_eq!(keys(&r["inputs"][0]), ["cmdlet", "form", "path", "rows", "sha256"]);
    assert_eq!(
        keys(&r["tenant"]),
        ["default_policy", "security_defaults", "smtp_client_auth_disabled"]
    );
    assert_eq!(r["tenant"]["default_policy"], "Block Basic Auth");
    assert_eq!(r["tenant"]["smtp_client_auth_disabled"], true);
    assert_eq!(keys(&r["advisories"][0]), ["code", "message", "protocols"]);
    assert_eq!(
        keys(&r["summary"]),
        [
            "by_blocker",
            "by_protocol",
            "excepted",
            "flagged",
            "in_scope",
            "mailboxes",
            "rejected_rows"
        ]
    );
    assert_eq!(
        r["summary"]["by_protocol"]["smtp"],
        serde_json::json!({"allowed": 10, "blocked": 23, "unknown": 2})
    );
    let m = mailbox(&r, "alex.wilber@contoso.com");
    assert_eq!(
        keys(m),
        [
            "effective_policy",
            "excepted",
            "exception",
            "external_directory_object_id",
            "flagged",
            "identity",
            "policy_source",
            "primary_smtp_address",
            "protocols",
            "recipient_type",
            "user_principal_name"
        ]
    );
    assert_eq!(m["identity"], "15fb090c-e216-41ed-b435-a76354ccb871");
    assert_eq!(m["policy_source"], "org-default");
    assert_eq!((&m["excepted"], &m["exception"]), (&Value::Bool(false), &Value::Null));
    assert_eq!(keys(&m["protocols"]["smtp"]), ["basic_auth", "blockers", "usage"]);
    assert_eq!(
        m["protocols"]["smtp"]["usage"],
        Value::Null,
        "no evidence: usage is null, not unused"
    );
    let b = &m["protocols"]["smtp"]["blockers"][0];
    assert_eq!(keys(b), ["code", "setting", "source", "value"]);
    assert_eq!(b["code"], "tenant-smtp-auth-disabled");
    assert_eq!(b["setting"], "TransportConfig.SmtpClientAuthenticationDisabled");
    assert_eq!(b["value"], "True");
    assert_eq!(b["source"], "TransportConfig.csv:3");
    assert_input_hashes(&r, &fixture("contoso"));
}

/// Every export file in `dir` is an input, and its `sha256` is the SHA-256 of
/// the file's bytes, computed here.
// Regression (issue 9): the hashes were only checked to be 64 characters long.
fn assert_input_hashes(r: &Value, dir: &Path) {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".md"))
        .collect();
    files.sort();
    let inputs = r["inputs"].as_array().unwrap();
    let mut named: Vec<&str> =
        inputs.iter().map(|i| i["path"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    named.sort();
    assert_eq!(named, files, "inputs of {}", dir.display());
    for i in inputs {
        let path = crate::util::root().join(i["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want = format!("{:x}", Sha256::digest(&bytes));
        assert_eq!(i["sha256"], want, "{}", path.display());
    }
}

#[test]
fn sources_point_at_the_real_lines() {
    let (r, _) = audit_json(&fixture("contoso"), &[]);
    let m = mailbox(&r, "grady.archie@contoso.com");
    let b = &m["protocols"]["pop"]["blockers"][0];
    assert_eq!(b["code"], "policy-not-found");
    assert_eq!(b["value"], "Contractors IMAP");
    let line: usize =
        b["source"].as_str().unwrap().strip_prefix("User.csv:").unwrap().parse().unwrap();
    let text = std::fs::read_to_string(fixture("contoso/User.csv")).unwrap();
    let row = text.lines().nth(line - 1).unwrap();
    assert!(row.contains("grady.archie@contoso.com") && row.contains("Contractors IMAP"), "{row}");
}

#[test]
fn same_tenant_in_csv_utf16_and_format_list_gives_identical_verdicts() {
    let strip = |mut r: Value| {
        // Sources name different files and lines per form; everything else must match.
        for m in r["mailboxes"].as_array_mut().unwrap() {
            for p in ["pop", "imap", "smtp"] {
                for b in m["protocols"][p]["blockers"].as_array_mut().unwrap() {
                    b.as_object_mut().unwrap().remove("source");
                }
            }
        }
        (r["mailboxes"].clone(), r["summary"].clone(), r["tenant"].clone())
    };
    let (csv, _) = audit_json(&fixture("contoso"), &["--all-recipient-types"]);
    for other in ["contoso-utf16", "contoso-list"] {
        let (r, code) = audit_json(&fixture(other), &["--all-recipient-types"]);
        assert_eq!(code, 0, "{other}");
        assert_eq!(strip(r.clone()), strip(csv.clone()), "{other} differs from contoso");
    }
    let (utf16, _) = audit_json(&fixture("contoso-utf16"), &[]);
    assert!(utf16["inputs"].as_array().unwrap().iter().all(|i| i["form"] == "csv"));
    assert_input_hashes(&utf16, &fixture("contoso-utf16"));
    let (list, _) = audit_json(&fixture("contoso-list"), &[]);
    assert!(list["inputs"].as_array().unwrap().iter().all(|i| i["form"] == "list"));
    assert_input_hashes(&list, &fixture("contoso-list"));
}

#[test]
fn built_in_sample_is_fixtures_contoso() {
    let out =
        exoauth().args(["audit", "--format", "json", "--as-of", "2026-11-25"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("built-in sample"));
    let sample: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (file, _) = audit_json(&fixture("contoso"), &[]);
    assert_eq!(sample["mailboxes"], file["mailboxes"]);
}

#[test]
fn want_block_flags_exactly_the_mailboxes_that_still_can() {
    // Regression (M365SAT CSTM-Ex026): an inverted predicate.
    let (r, _) = audit_json(&fixture("contoso"), &["--want", "block"]);
    assert_eq!(r["want"], "block");
    // Fail closed (DESIGN.md §2 Directions): `unknown` is not blocked either.
    for m in r["mailboxes"].as_array().unwrap() {
        let open =
            ["pop", "imap", "smtp"].iter().any(|p| m["protocols"][p]["basic_auth"] != "blocked");
        assert_eq!(m["flagged"].as_bool().unwrap(), open, "{}", m["primary_smtp_address"]);
    }
    // From contoso/EXPECTED.md: 13 mailboxes have an allowed protocol, and three
    // more have unknown ones and nothing allowed (grady.archie and miriam.graham
    // every protocol, zoe.angstrom pop).
    assert_eq!(r["summary"]["flagged"], 16);
    for unknown_only in
        ["grady.archie@contoso.com", "miriam.graham@contoso.com", "zoe.angstrom@contoso.com"]
    {
        assert_eq!(mailbox(&r, unknown_only)["flagged"], true, "{unknown_only}");
    }
}

#[test]
fn protocols_restrict_verdicts_and_flagging() {
    let (r, _) = audit_json(&fixture("contoso"), &["--protocols", "smtp"]);
    assert_eq!(r["protocols"], serde_json::json!(["smtp"]));
    let m = mailbox(&r, "megan.bowen@contoso.com");
    assert!(m["protocols"].get("pop").is_none());
    assert_eq!(m["flagged"], false); // pop and imap are blocked, but out of scope
    assert_eq!(
        r["advisories"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["code"] == "service-retired")
            .count(),
        0
    );
}

#[test]
fn scope_file_restricts_and_all_recipient_types_widens() {
    let dir = tempfile::tempdir().unwrap();
    let scope = dir.path().join("scope.txt");
    std::fs::write(&scope, "# pilot\r\nMEGAN.BOWEN@contoso.com\r\n93fa0bd6-1348-4f85-80d5-d903aa2911a5\r\nnobody@contoso.com\r\n").unwrap();
    let scope = scope.to_str().unwrap();
    let (r, _) = audit_json(&fixture("contoso"), &["--scope", scope]);
    let listed: Vec<&str> = r["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["primary_smtp_address"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["megan.bowen@contoso.com"]); // info@ is a shared mailbox
    assert_eq!(r["summary"]["mailboxes"], 44);
    let (r, _) = audit_json(&fixture("contoso"), &["--scope", scope, "--all-recipient-types"]);
    assert_eq!(r["summary"]["in_scope"], 2);
    exoauth()
        .args(["audit", "fixtures/contoso", "--scope", scope])
        .assert()
        .stderr(predicate::str::contains("1 scope entries match no mailbox: nobody@contoso.com"));
}

#[test]
fn fail_on_flagged_exits_1_and_never_exits_0() {
    exoauth().args(["audit", "fixtures/contoso", "--fail-on", "flagged"]).assert().code(1);
    exoauth().args(["audit", "fixtures/contoso", "--fail-on", "never"]).assert().code(0);
    // Nothing flagged: 0 even with --fail-on flagged.
    let t = TempTenant::new(
        "",
        "False",
        &["g1,a@contoso.com,,UserMailbox,False"],
        &["g1,a@contoso.com,A,True,True,"],
    );
    exoauth().arg("audit").arg(t.path()).args(["--fail-on", "flagged"]).assert().code(0);
}

#[test]
fn output_file_and_csv_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.csv");
    exoauth()
        .args(["audit", "fixtures/contoso", "--format", "csv", "-o"])
        .arg(&path)
        .assert()
        .success()
        .stdout("");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "identity",
            "display_name",
            "user_principal_name",
            "primary_smtp_address",
            "recipient_type",
            "effective_policy",
            "policy_source",
            "flagged",
            "pop",
            "imap",
            "smtp",
            "blockers"
        ]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 35);
    let lee = rows.iter().find(|r| &r[3] == "lee.gu@contoso.com").unwrap();
    assert_eq!((&lee[8], &lee[10]), ("blocked", "blocked"));
    assert_eq!(
        &lee[11],
        "pop: user-policy-blocks; imap: user-policy-blocks; smtp: tenant-smtp-auth-disabled"
    );
}

#[test]
fn csv_report_neutralises_formulas_from_tenant_names() {
    let t = TempTenant::new(
        "",
        "False",
        &["g1,a@contoso.com,,UserMailbox,False", "g2,b@contoso.com,,UserMailbox,False"],
        &[
            "g1,a@contoso.com,\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",True,True,",
            "g2,b@contoso.com,\"@SUM(1+1)*cmd|' /C calc'!A0\",True,True,",
        ],
    );
    let out = exoauth().arg("audit").arg(t.path()).args(["--format", "csv"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let names: Vec<String> = rdr.records().map(|r| r.unwrap()[1].to_owned()).collect();
    assert_eq!(names, ["'=HYPERLINK(\"http://evil\",\"x\")", "'@SUM(1+1)*cmd|' /C calc'!A0"]);
}

#[test]
fn inherited_blank_smtp_is_exposed_when_the_tenant_allows() {
    // Regression (the `-eq $false` idiom, CIPP): a blank mailbox value inherits an
    // enabled tenant switch and is exposed, so the block direction must flag it.
    let t = TempTenant::new(
        "",
        "False",
        &["g1,a@contoso.com,,UserMailbox,False", "g2,b@contoso.com,,UserMailbox,False"],
        &["g1,a@contoso.com,A,False,False,", "g2,b@contoso.com,B,False,False,True"],
    );
    let (r, _) = audit_json(t.path(), &["--want", "block", "--protocols", "smtp"]);
    assert_eq!(verdict(&r, "a@contoso.com", "smtp"), "allowed");
    assert_eq!(mailbox(&r, "a@contoso.com")["flagged"], true);
    assert_eq!(mailbox(&r, "b@contoso.com")["flagged"], false);
}

#[test]
fn inherited_blank_smtp_is_blocked_when_the_tenant_disables() {
    // Regression (365Inspect's `!$_.SmtpClientAuthenticationDisabled`): a blank value
    // under a disabled tenant is blocked, not exposed.
    let t = TempTenant::new(
        "",
        "True",
        &["g1,a@contoso.com,,UserMailbox,False"],
        &["g1,a@contoso.com,A,True,True,"],
    );
    let (r, _) = audit_json(t.path(), &["--want", "block"]);
    assert_eq!(verdict(&r, "a@contoso.com", "smtp"), "blocked");
    let b = &mailbox(&r, "a@contoso.com")["protocols"]["smtp"]["blockers"][0];
    assert_eq!(b["code"], "tenant-smtp-auth-disabled");
}

#[test]
fn exo_minimum_export_is_input_missing_with_a_warning() {
    // Regression (PS365): Get-EXOCasMailbox's default property set lacks the SMTP field.
    let (r, code) = audit_json(&fixture("quirks/exo-minimum"), &[]);
    assert_eq!(code, 0);
    let b = &mailbox(&r, "isaiah.langer@contoso.com")["protocols"]["smtp"]["blockers"][0];
    assert_eq!((&b["code"], &b["value"]), (&"input-missing".into(), &"(not exported)".into()));
    let warning = r["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "column-not-exported")
        .unwrap();
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("-Properties SmtpClientAuthenticationDisabled")
    );
}

#[test]
fn exactly_1000_rows_warns_of_a_result_size_cut() {
    // Regression (M365SAT CSTM-Ex027): a missing `-ResultSize Unlimited` caps output at 1,000.
    for (n, warned) in [(1000, true), (999, false)] {
        let users: Vec<String> =
            (0..n).map(|i| format!("g{i},u{i}@contoso.com,,UserMailbox,False")).collect();
        let mailboxes: Vec<String> =
            (0..n).map(|i| format!("g{i},u{i}@contoso.com,U{i},True,True,")).collect();
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        let mailboxes: Vec<&str> = mailboxes.iter().map(String::as_str).collect();
        let t = TempTenant::new("Block", "True", &users, &mailboxes);
        let (r, _) = audit_json(t.path(), &[]);
        let cuts = r["advisories"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["code"] == "result-size-cut")
            .count();
        assert_eq!(cuts, if warned { 2 } else { 0 }, "{n} rows");
        let text = exoauth().arg("audit").arg(t.path()).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&text.stdout).contains("-ResultSize Unlimited"), warned);
    }
}

#[test]
fn missing_user_row_is_audited_as_unknown() {
    let (r, _) = audit_json(&fixture("contoso"), &[]);
    let m = mailbox(&r, "miriam.graham@contoso.com");
    assert_eq!(m["policy_source"], "unknown");
    assert_eq!(m["protocols"]["smtp"]["basic_auth"], "unknown");
    assert_eq!(m["protocols"]["smtp"]["blockers"][0]["setting"], "User.AuthenticationPolicy");
}

#[test]
fn progress_quiet_and_verbose_stay_off_stdout() {
    // Not a terminal: no bars by default, and stdout is the report alone.
    let out = exoauth()
        .args(["audit", "fixtures/contoso", "--format", "json", "-o", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, "exoauth: 1 warning about the input (listed in the report)\n");
    serde_json::from_slice::<Value>(&out.stdout).unwrap();
    // Forced bars go to stderr only.
    let out = exoauth()
        .args(["audit", "fixtures/contoso", "--format", "json", "--progress", "always"])
        .output()
        .unwrap();
    serde_json::from_slice::<Value>(&out.stdout).unwrap();
    // --verbose says what was read and how long it took; --quiet silences notes.
    exoauth()
        .args(["audit", "fixtures/contoso", "-v", "-o", "-"])
        .assert()
        .stderr(
            predicate::str::is_match(
                r"read fixtures/contoso/CasMailbox\.csv \(Get-EXOCasMailbox, csv utf-8-bom, 44 rows\) in [0-9.]+(ns|µs|ms|s); form",
            )
            .unwrap(),
        )
        .stderr(predicate::str::is_match(r"joined the snapshot in [0-9.]+(ns|µs|ms|s) ").unwrap())
        .stderr(predicate::str::contains("audited 44 mailboxes (35 in scope, 32 flagged)"));
    exoauth().args(["audit", "--quiet"]).assert().success().stderr("");
    exoauth()
        .args(["audit", "fixtures/contoso", "--quiet", "-o", "-"])
        .assert()
        .success()
        .stderr("");
    exoauth()
        .args(["audit"])
        .assert()
        .success()
        .stderr(predicate::str::contains("built-in sample"));
}

#[test]
fn report_file_is_written_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    exoauth()
        .args(["audit", "fixtures/contoso", "--format", "json", "-o"])
        .arg(&path)
        .assert()
        .success();
    serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()).unwrap();
    let names: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["report.json"], "no partial file is left behind");
}

/// The names in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

// Regression (issue 9): the failure path of the atomic `-o` write was untested.
#[test]
fn report_file_that_cannot_be_written_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let cannot_write = |path: &Path| {
        let assert = exoauth()
            .args(["audit", "fixtures/contoso", "--format", "json", "-o"])
            .arg(path)
            .assert()
            .code(2)
            .stdout("");
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        let want = format!("exoauth: error: cannot write {}: ", path.display());
        assert!(stderr.starts_with(&want), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };

    // Into a folder that does not exist: nothing is created.
    let missing = dir.path().join("missing");
    cannot_write(&missing.join("report.json"));
    assert!(!missing.exists());
    assert_eq!(names(dir.path()), Vec::<String>::new());

    // Onto an existing folder: the report is written whole beside it, then the
    // rename fails; the partial file is removed and the folder is untouched.
    let target = dir.path().join("report.json");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.txt"), "mine").unwrap();
    cannot_write(&target);
    assert_eq!(names(dir.path()), ["report.json"], "no .report.json.partial left behind");
    assert_eq!(names(&target), ["keep.txt"]);
    assert_eq!(std::fs::read_to_string(target.join("keep.txt")).unwrap(), "mine");

    // An earlier report survives a run that cannot write its partial file (its
    // name is taken by a folder), and one that stops on bad input.
    let target = dir.path().join("old.json");
    std::fs::write(&target, "earlier report").unwrap();
    std::fs::create_dir(dir.path().join(".old.json.partial")).unwrap();
    cannot_write(&target);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "earlier report");
    std::fs::remove_dir(dir.path().join(".old.json.partial")).unwrap();
    exoauth()
        .args(["audit", "fixtures/bad/missing-column", "--format", "json", "-o"])
        .arg(&target)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing required column"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "earlier report");
    assert_eq!(names(dir.path()), ["old.json", "report.json"]);
}

#[test]
fn bad_usage_exits_2_with_the_message_on_standard_error() {
    for (args, message) in [
        (&["audit", "fixtures/contoso", "--bogus"][..], "unexpected argument '--bogus'"),
        (&["audit", "fixtures/contoso", "--want", "maybe"], "invalid value 'maybe' for '--want"),
        (&["audit", "fixtures/contoso", "--format", "pdf"], "invalid value 'pdf' for '--format"),
        (&["audit", "fixtures/contoso", "--as-of", "next week"], "next week"),
        (&["diff", "only-one.json"], "required"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ] {
        let assert = exoauth().args(args).assert().code(2).stdout("");
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.contains(message), "{args:?}: {message:?} not in {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Runs exoauth with its standard output into a pipe that is closed after the
/// first few bytes, as `exoauth ... | head -c 100` does.
fn into_closed_pipe(args: &[&str]) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    use std::process::Stdio;

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("exoauth"))
        .current_dir(crate::util::root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0; 100];
    stdout.read_exact(&mut head).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (child.wait().unwrap(), stderr)
}

// Broken pipe exits 0 quietly (STYLE.md, as ripgrep does).
#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("t");
    exoauth()
        .args(["generate", "--mailboxes", "20000", "--seed", "3", "-o"])
        .arg(&tenant)
        .assert()
        .success();
    let tenant = tenant.to_str().unwrap();
    // Each report is megabytes: far more than a pipe holds.
    for format in ["csv", "json", "text"] {
        let (status, stderr) = into_closed_pipe(&[
            "audit",
            tenant,
            "--all-recipient-types",
            "--want",
            "block",
            "--format",
            format,
        ]);
        assert_eq!(status.code(), Some(0), "{format}: {status}; stderr: {stderr}");
        assert_eq!(stderr, "", "{format}");
    }
    // `exoauth parse` too, which stops reading once its output is closed.
    let (status, stderr) = into_closed_pipe(&["parse", &format!("{tenant}/CasMailbox.csv")]);
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""), "parse: {status}");
}

/// On premises there is no SMTP AUTH switch to script: hardening SMTP is a
/// manual step on the receive connectors, in the report's plan and in the
/// script's header.
#[test]
fn onprem_smtp_hardening_is_a_manual_step_on_receive_connectors() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("harden.ps1");
    let (r, code) = audit_json(
        &fixture("onprem"),
        &[
            "--environment",
            "onprem",
            "--want",
            "block",
            "--protocols",
            "smtp",
            "--script",
            script.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0);
    let advisories = r["advisories"].as_array().unwrap();
    let advisory =
        advisories.iter().find(|a| a["code"] == "onprem-smtp-connectors").expect("advisory");
    assert_eq!(advisory["protocols"], serde_json::json!(["smtp"]));
    let steps = r["plan"]["manual_steps"].as_array().unwrap();
    let connectors: Vec<&Value> =
        steps.iter().filter(|s| s["code"] == "onprem-smtp-connectors").collect();
    assert_eq!(connectors.len(), 1, "{steps:?}");
    assert_eq!(connectors[0]["protocols"], serde_json::json!(["smtp"]));
    assert_eq!(connectors[0]["mailboxes"], serde_json::json!([]));
    assert!(connectors[0]["message"].as_str().unwrap().contains("Set-ReceiveConnector"));

    let text = std::fs::read_to_string(&script).unwrap();
    let header: Vec<&str> =
        text.lines().take_while(|l| l.starts_with('\u{feff}') || l.starts_with('#')).collect();
    let step = header
        .iter()
        .find(|l| l.starts_with("#   - [onprem-smtp-connectors] smtp (tenant-wide): "))
        .unwrap_or_else(|| panic!("no manual step in the header:\n{}", header.join("\n")));
    assert!(step.contains("Set-ReceiveConnector"), "{step}");
    // Without smtp in scope, or in the allow direction, there is nothing to harden.
    for extra in [&["--want", "block", "--protocols", "pop,imap"][..], &["--want", "allow"]] {
        let mut args = vec!["--environment", "onprem", "--script", script.to_str().unwrap()];
        args.extend_from_slice(extra);
        let (r, _) = audit_json(&fixture("onprem"), &args);
        let steps = r["plan"]["manual_steps"].as_array().unwrap();
        assert!(!steps.iter().any(|s| s["code"] == "onprem-smtp-connectors"), "{extra:?}");
    }
}

#[test]
fn generated_tenant_reads_the_same_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let verdicts = |form: &str| {
        let out = dir.path().join(form);
        exoauth()
            .args(["generate", "--mailboxes", "400", "--seed", "11", "--form", form, "-o"])
            .arg(&out)
            .assert()
            .success();
        let (r, code) = audit_json(&out, &["--all-recipient-types"]);
        assert_eq!(code, 0, "{form}");
        assert_eq!(r["rejected"], serde_json::json!([]), "{form}");
        let per_mailbox: Vec<(String, Vec<String>)> = r["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let v = ["pop", "imap", "smtp"]
                    .map(|p| m["protocols"][p]["basic_auth"].as_str().unwrap().to_owned());
                (m["identity"].as_str().unwrap().to_owned(), v.to_vec())
            })
            .collect();
        assert_eq!(per_mailbox.len(), 400);
        per_mailbox
    };
    let csv = verdicts("csv");
    for form in ["list", "table", "json"] {
        assert_eq!(verdicts(form), csv, "{form} differs from csv");
    }
}

/// The big files are streamed from disk in blocks (1 MiB); everything else is
/// read whole. On a tenant whose User.csv and CasMailbox.csv span several blocks
/// and hold rows that end a block badly (a value with a line break, a broken
/// row, a duplicate, a value the mapper rejects, a truncated last row), both
/// ways must read the same rows, rejections, warnings and hashes; the streamed
/// mailboxes are not kept but read again from their blocks, and read the same.
#[test]
fn streamed_files_read_exactly_as_whole_files() {
    let (_dir, tenant) = generated(20_000, 5);
    // Damage CasMailbox.csv: rows around the first block's end, and its last row.
    let cas = tenant.join("CasMailbox.csv");
    let text = std::fs::read_to_string(&cas).unwrap();
    assert!(text.len() > 3 << 20, "CasMailbox.csv must span blocks: {} bytes", text.len());
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let around = lines
        .iter()
        .scan(0, |at, l| Some((*at += l.len() + 2, *at).1))
        .position(|at| at > 1 << 20)
        .unwrap();
    lines[around] = lines[around].replacen("\",\"", "\",\"line\r\nbreak ", 1);
    lines[around + 2] = "\"broken\",\"row\"".into();
    lines.insert(around + 4, lines[around + 3].clone());
    // In a later block: a row the mapper rejects (it is not a boolean).
    let later = around + 8000;
    assert!(lines[later].contains(",\"True\","), "{}", lines[later]);
    lines[later] = lines[later].replacen(",\"True\",", ",\"Maybe\",", 1);
    // Characters beyond the BMP (a surrogate pair in UTF-16) before and after
    // the first block's end: a block's place in a UTF-16 file counts them.
    for k in [100, around + 100] {
        let mut fields: Vec<String> = lines[k].split("\",\"").map(str::to_owned).collect();
        fields[5].push_str(" \u{1D518}"); // DisplayName
        lines[k] = fields.join("\",\"");
    }
    let last = lines.pop().unwrap();
    let mut damaged = lines.join("\r\n");
    damaged.push_str("\r\n");
    damaged.push_str(&last[..last.len() / 2]);
    // As PowerShell 7 writes it, and as Windows PowerShell 5.1 does with
    // `-Encoding Unicode` (and big-endian, `-Encoding BigEndianUnicode`).
    let utf16 = |big: bool| -> Vec<u8> {
        let mark: [u8; 2] = if big { [0xFE, 0xFF] } else { [0xFF, 0xFE] };
        let units = damaged.encode_utf16();
        mark.into_iter()
            .chain(units.flat_map(|u| if big { u.to_be_bytes() } else { u.to_le_bytes() }))
            .collect()
    };
    // And as Excel's "CSV (Comma delimited)" saves it, in Windows-1252 (which
    // has no "𝔘": encoding_rs writes `&#120088;` instead).
    let ansi = encoding_rs::WINDOWS_1252.encode(&damaged).0.into_owned();
    assert!(std::str::from_utf8(&ansi).is_err(), "letters beyond ASCII make it not UTF-8");
    for (encoding, bytes) in [
        ("utf-8", damaged.clone().into_bytes()),
        ("utf-16le", utf16(false)),
        ("utf-16be", utf16(true)),
        ("windows-1252", ansi),
    ] {
        std::fs::write(&cas, &bytes).unwrap();
        streamed_as_whole(&tenant, encoding);
    }
}

/// [`streamed_files_read_exactly_as_whole_files`] for one encoding of the
/// damaged `CasMailbox.csv`.
fn streamed_as_whole(tenant: &std::path::Path, encoding: &str) {
    use exoauth::load;
    use exoauth::model::Environment;

    // Bytes reported read: all of them only if no file gave up streaming and was
    // read again whole (which reports nothing more).
    let bytes = Bytes(0.into());
    let streamed = load::load_with(tenant, Environment::Online, &bytes).unwrap();
    let total: u64 = std::fs::read_dir(tenant)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(
        bytes.0.into_inner(),
        total,
        "{encoding}: every file was streamed, none read again whole"
    );
    let whole = read_whole(tenant, "csv").unwrap();

    // The same inputs; only the detector's words differ (the stream decides on
    // the first lines, the whole reader on every line).
    assert_eq!(inputs_without_why(&streamed), inputs_without_why(&whole), "{encoding}");
    for i in streamed.inputs.iter().chain(&whole.inputs) {
        assert!(i.why.starts_with("CSV: line 1 looks like a CSV header"), "{}", i.why);
    }
    let reasons = |l: &load::Loaded| -> Vec<String> {
        l.rejected.iter().map(|r| format!("{}: {}", r.source, r.reason)).collect()
    };
    assert_eq!(reasons(&streamed), reasons(&whole));
    assert_eq!(
        reasons(&streamed).iter().filter(|r| r.starts_with("CasMailbox.csv")).count(),
        4,
        "the broken row, the duplicate, the row that is not a boolean and the truncated last row: {:?}",
        reasons(&streamed)
    );
    let warnings = |l: &load::Loaded| -> Vec<String> {
        l.warnings.iter().map(|w| format!("{} {}", w.code, w.message)).collect()
    };
    assert_eq!(warnings(&streamed), warnings(&whole));
    assert!(streamed.snapshot.mailboxes().blocks() > 2, "{encoding}: read again by blocks");
    assert_eq!(whole.snapshot.mailboxes().blocks(), 0, "bytes given whole are held");
    assert_eq!(
        format!("{:?}", streamed.snapshot.mailboxes()),
        format!("{:?}", whole.snapshot.mailboxes()),
        "{encoding}"
    );
    assert!(streamed.snapshot.mailboxes().failure().is_none());
    assert_eq!(format!("{:?}", streamed.snapshot.users), format!("{:?}", whole.snapshot.users));
    counted_from_notes(&streamed, &whole, encoding);
    assert!(streamed.snapshot.mailboxes().iter().any(|m| m.ids.key().contains("line\r\nbreak")
        || m.ids.fields().iter().flatten().any(|f| f.contains("line\r\nbreak"))));
}

/// What the rules read of each streamed mailbox was noted at its first read:
/// the rows made from the notes are the rows without their identifiers, the
/// dropped ones left out, block by block; so an audit that only counts (the
/// summary a JSON report puts first) reads no block again, and counts what
/// the held rows of the whole-file read (`whole`) give.
fn counted_from_notes(streamed: &exoauth::load::Loaded, whole: &exoauth::load::Loaded, what: &str) {
    let mailboxes = streamed.snapshot.mailboxes();
    for span in mailboxes.spans() {
        let noted = mailboxes.rule_rows(&span);
        let rows = mailboxes.rows(&span);
        let blank = |m: &exoauth::model::CasMailbox| exoauth::model::CasMailbox {
            ids: exoauth::model::Ids::default(),
            ..m.clone()
        };
        assert_eq!(*noted, *rows.iter().map(blank).collect::<Vec<_>>(), "{what}: {span:?}");
    }
    let mut options = every_protocol(exoauth::audit::Want::Block);
    options.scope.all_recipient_types = true;
    let before = mailboxes.blocks_read();
    let counted = exoauth::audit::audit(&streamed.snapshot, &options);
    assert_eq!(mailboxes.blocks_read(), before, "{what}: counted from the notes");
    let held = exoauth::audit::audit(&whole.snapshot, &options);
    assert_eq!(format!("{:?}", counted.summary), format!("{:?}", held.summary), "{what}");
    assert_eq!(counted.entries(), held.entries(), "{what}");
}

/// A `ConvertTo-Json` export (an array of objects) is read from the file
/// object by object, without holding its text, into exactly the records,
/// rejections and warnings the whole-file reader makes of it: here on files
/// spanning many 1 MiB blocks, with a value the mapper rejects, a value cut by
/// `-Depth`, a Windows PowerShell 5.1 date and a name with escapes, in UTF-8
/// and UTF-16. A file the stream does not read (one cut short) gets the
/// whole-file reader's error.
#[test]
fn streamed_json_exports_read_exactly_as_whole_files() {
    use exoauth::load;
    use exoauth::model::Environment;

    let (_dir, tenant) = generated_as(20_000, 5, &["--form", "json"]);
    let cas = tenant.join("CasMailbox.json");
    let text = std::fs::read_to_string(&cas).unwrap();
    assert!(text.len() > 3 << 20, "CasMailbox.json must span blocks: {} bytes", text.len());
    let mut damaged = text.replacen("\"PopEnabled\": \"True\"", "\"PopEnabled\": \"Maybe\"", 1);
    let at = damaged.len() / 2 + damaged[damaged.len() / 2..].find("\"Name\": ").unwrap();
    damaged.insert_str(at, "\"Extra\": \"@{a=1; b=2}\", \"When\": \"\\/Date(1326441600000)\\/\", ");
    let at = damaged.len() * 3 / 4
        + damaged[damaged.len() * 3 / 4..].find("\"DisplayName\": \"").unwrap();
    damaged.insert_str(at + 16, "Quote \\\" and \\u00e9 ");
    let utf16: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain(damaged.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let ansi = set_content(&damaged);
    let read = |bytes: &[u8]| {
        std::fs::write(&cas, bytes).unwrap();
        let streamed = load::load(&tenant, Environment::Online);
        (streamed, read_whole(&tenant, "json"))
    };
    for bytes in [damaged.as_bytes(), &utf16, &ansi] {
        let (streamed, whole) = read(bytes);
        let (streamed, whole) = (streamed.unwrap(), whole.unwrap());
        for i in &streamed.inputs {
            assert!(i.why.ends_with("(read as a stream)"), "{}: {}", i.path.display(), i.why);
        }
        assert_read_alike(&streamed, &whole);
        let (rejected, warnings) = said(&streamed);
        assert_eq!(rejected.len(), 1, "the row that is not a boolean: {rejected:?}");
        assert!(warnings.iter().any(|w| w.starts_with("depth-truncated")), "{warnings:?}");
        // The mailboxes are not held: they are read again by blocks.
        assert!(streamed.snapshot.mailboxes().blocks() > 2);
        assert!(streamed.snapshot.mailboxes().failure().is_none());
        assert!(format!("{:?}", streamed.snapshot.mailboxes()).contains("Quote \\\" and é"));
        counted_from_notes(&streamed, &whole, "json");
        let guessed = warnings.iter().any(|w| w.starts_with("encoding-guessed"));
        assert_eq!(guessed, *bytes == *ansi, "{warnings:?}");
    }
    // Saved in two encodings (UTF-8 after Windows-1252): the whole-file
    // reader's error stands.
    let at = ansi.len() * 9 / 10;
    let mixed = [&ansi[..at], "\u{e9}".as_bytes(), &ansi[at..]].concat();
    let (streamed, whole) = read(&mixed);
    let (streamed, whole) = (streamed.unwrap_err().to_string(), whole.unwrap_err().to_string());
    assert_eq!(streamed, whole);
    assert!(streamed.contains("two encodings"), "{streamed}");
    // Cut short: the stream gives up, and the whole-file reader's error stands.
    let (streamed, whole) = read(&damaged.as_bytes()[..damaged.len() - 40]);
    let (streamed, whole) = (streamed.unwrap_err().to_string(), whole.unwrap_err().to_string());
    assert_eq!(streamed, whole);
    assert!(streamed.contains("CasMailbox.json"), "{streamed}");
}

/// A Format-List export is read from its file in two passes, holding neither
/// its text nor its records, into exactly the records, rejections and warnings
/// the whole-file reader makes of it: here on files spanning many 1 MiB blocks,
/// with a value the mapper rejects, a collection cut by
/// `$FormatEnumerationLimit`, a value wrapped onto a continuation line, a
/// coloured label, two objects without a blank line between them, characters
/// beyond the BMP, and an object cut by the end of the file, in UTF-8 and
/// UTF-16. A file the stream does not read (cut in a label) gets the
/// whole-file reader's reading.
#[test]
fn streamed_list_exports_read_exactly_as_whole_files() {
    use exoauth::load;
    use exoauth::model::{Environment, columns::Cmdlet};
    use exoauth::progress::Silent;

    let (_dir, tenant) = generated_as(20_000, 5, &["--form", "list"]);
    let cas = tenant.join("CasMailbox.txt");
    let text = std::fs::read_to_string(&cas).unwrap();
    assert!(text.len() > 3 << 20, "CasMailbox.txt must span blocks: {} bytes", text.len());
    let label = |name: &str| format!("\r\n{name:<33}: ");
    let mut damaged = text.replacen(
        &format!("{}True", label("PopEnabled")),
        &format!("{}Maybe", label("PopEnabled")),
        1,
    );
    let middle = |d: &str, what: &str, from: usize| from + d[from..].find(what).unwrap();
    let at = middle(&damaged, &label("Name"), damaged.len() / 3);
    let wrapped = format!(
        "{}{{SMTP:a@contoso.com, smtp:b@contoso.com, smtp:c@contoso.com, smtp:d@contoso.com...}}{}CN=someone,OU=contoso.onmicrosoft.com,OU=Microsoft Exchange Hosted Organizati\r\n{:35}ons,DC=EURPR05A001,DC=PROD,DC=OUTLOOK,DC=COM",
        label("EmailAddresses"),
        label("DistinguishedName"),
        ""
    );
    damaged.insert_str(at, &wrapped);
    let at = middle(&damaged, &label("DisplayName"), damaged.len() / 2);
    damaged.insert_str(at + label("DisplayName").len(), "\u{1D518} ");
    let at = middle(&damaged, &label("Identity"), damaged.len() * 2 / 3);
    damaged.replace_range(at..at + 2, "\r\n\x1b[32;1m");
    // Two objects run together: the blank line between them removed.
    let at = middle(&damaged, "\r\n\r\nGuid", damaged.len() * 3 / 4);
    damaged.replace_range(at..at + 4, "\r\n");
    // Values the mapper rejects in the last objects before the 2nd to 5th MiB,
    // near where the stream's blocks of lines end: such an object is handed
    // on while the next block is read (once the object after it is complete).
    for mib in 2..=5 {
        let pop = format!("{}True", label("PopEnabled"));
        let at = damaged[..mib << 20].rfind(&pop).unwrap() + pop.len() - 4;
        damaged.replace_range(at..at + 4, "Maybe");
    }
    // The last object cut in a value: fewer values than the one before.
    let cut = damaged.trim_end().rfind(&label("ImapEnabled")).unwrap();
    let damaged = format!("{}{}Tr", &damaged[..cut], label("PopEnabled"));
    let utf16: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain(damaged.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    // As Windows PowerShell 5.1's `Set-Content` writes it: Windows-1252, in
    // which the character beyond the BMP becomes `&#120088;`.
    let ansi = encoding_rs::WINDOWS_1252.encode(&damaged).0.into_owned();
    let read = |bytes: &[u8]| {
        std::fs::write(&cas, bytes).unwrap();
        (load::load(&tenant, Environment::Online).unwrap(), read_whole(&tenant, "txt").unwrap())
    };
    for bytes in [damaged.as_bytes(), &utf16, &ansi] {
        let (streamed, whole) = read(bytes);
        for i in streamed.inputs.iter().filter(|i| i.rows > 1) {
            assert!(i.why.ends_with("(read as a stream)"), "{}: {}", i.path.display(), i.why);
        }
        assert_read_alike(&streamed, &whole);
        let (rejected, warnings) = said(&streamed);
        assert_eq!(
            rejected.len(),
            6,
            "the five values that are not a boolean, the cut object: {rejected:?}"
        );
        assert!(rejected.iter().any(|r| r.contains("truncated object")), "{rejected:?}");
        assert!(warnings.iter().any(|w| w.starts_with("truncated-collection")), "{warnings:?}");
        // The mailboxes are not held: they are read again by blocks.
        assert!(streamed.snapshot.mailboxes().blocks() > 2);
        assert!(streamed.snapshot.mailboxes().failure().is_none());
        counted_from_notes(&streamed, &whole, "Format-List");
        let mailboxes = format!("{:?}", streamed.snapshot.mailboxes());
        let beyond = if bytes == ansi { "&#120088; " } else { "\u{1D518} " };
        assert!(mailboxes.contains(beyond), "the character beyond the BMP is read");
        let guessed = warnings.iter().any(|w| w.starts_with("encoding-guessed"));
        assert_eq!(guessed, bytes == ansi, "{warnings:?}");
    }
    // Given with `--form`, the form the stream finds is streamed all the same;
    // another form is left to the whole-file reader, which reads it as given
    // (here Format-List read as CSV, which lacks the columns).
    std::fs::write(&cas, damaged.as_bytes()).unwrap();
    let detected = load::load(&tenant, Environment::Online).unwrap();
    let given = |form| {
        let forms = load::Forms { all: None, per: vec![(Cmdlet::CasMailbox, form)] };
        load::load_with_forms(&tenant, Environment::Online, &forms, load::Digests::Made, &Silent)
    };
    let listed = given(load::FormName::List).unwrap();
    let why = listed.inputs.iter().find(|i| i.path == cas).map(|i| i.why.as_str());
    assert_eq!(why, Some("Format-List: given with --form (read as a stream)"));
    assert_read_alike(&listed, &detected);
    let as_csv = given(load::FormName::Csv).err().map(|e| e.to_string());
    assert!(as_csv.as_ref().is_some_and(|e| e.contains("CasMailbox.txt")), "{as_csv:?}");
    // Cut in a label: the stream leaves the file, and the whole-file reader reads it.
    let (streamed, whole) = read(&damaged.as_bytes()[..damaged.len() - 12]);
    assert!(
        streamed.inputs.iter().any(|i| i.path == cas && !i.why.ends_with("(read as a stream)"))
    );
    assert_read_alike(&streamed, &whole);
}

/// A Format-Table export is read from its file in two passes, holding
/// neither its text nor its records, into exactly the records, rejections and
/// warnings the whole-file reader makes of it: here on files spanning many
/// 1 MiB blocks, with a value the mapper rejects, a display name cut to fit
/// the console (its row rejected), a row across a column edge, a display name
/// wrapped onto a continuation line, and a row cut by the end of the file, in
/// UTF-8 and UTF-16.
#[test]
fn streamed_table_exports_read_exactly_as_whole_files() {
    use exoauth::load;
    use exoauth::model::Environment;

    let (_dir, tenant) = generated_as(20_000, 5, &["--form", "table"]);
    let cas = tenant.join("CasMailbox.txt");
    let text = std::fs::read_to_string(&cas).unwrap();
    assert!(text.len() > 2 << 20, "CasMailbox.txt must span blocks: {} bytes", text.len());
    let mut lines: Vec<Vec<char>> = text.split("\r\n").map(|l| l.chars().collect()).collect();
    let header: String = lines[1].iter().collect();
    let column = |name: &str| header.find(&format!(" {name} ")).map_or(0, |k| k + 1);
    let (name, display, pop) = (column("Name"), column("DisplayName"), column("PopEnabled"));
    // Writes `value` over a row's cells from `at`.
    let set = |line: &mut Vec<char>, at: usize, value: &str| {
        line.resize(line.len().max(at + value.chars().count()), ' ');
        for (k, c) in value.chars().enumerate() {
            line[at + k] = c;
        }
    };
    let row = |from: usize, lines: &[Vec<char>], pick: &dyn Fn(&[char]) -> bool| {
        (from..).find(|&k| pick(&lines[k])).unwrap()
    };
    let n = lines.len();
    let k = row(n / 5, &lines, &|l| l[pop..pop + 5] == ['T', 'r', 'u', 'e', ' ']);
    set(&mut lines[k], pop, "Maybe");
    let k = row(2 * n / 5, &lines, &|_| true);
    set(&mut lines[k], display, "Someone Wit\u{2026} ");
    let k = row(3 * n / 5, &lines, &|_| true);
    set(&mut lines[k], name, "a-name-too-long-for-it");
    // Wrapped: the first word of the piece did not fit after the one before.
    let k = row(4 * n / 5, &lines, &|l| l[display..pop].iter().filter(|c| **c != ' ').count() >= 8);
    let mut more = vec![' '; display];
    more.extend("Junior".chars());
    lines.insert(k + 1, more);
    let mut damaged: String =
        lines.iter().map(|l| l.iter().collect::<String>()).collect::<Vec<_>>().join("\r\n");
    // The last row cut in a value: fewer cells with text than the row before.
    let end = damaged.trim_end().len();
    let cut = damaged[..end].rfind("\r\n").unwrap() + 2 + pop;
    damaged.truncate(cut);
    let utf16: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain(damaged.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    // (`?` for each letter Windows-1252 lacks keeps the columns aligned.)
    let ansi = set_content(&damaged);
    for bytes in [damaged.as_bytes(), &utf16, &ansi] {
        std::fs::write(&cas, bytes).unwrap();
        let streamed = load::load(&tenant, Environment::Online).unwrap();
        let whole = read_whole(&tenant, "txt").unwrap();
        for i in streamed.inputs.iter() {
            assert!(i.why.ends_with("(read as a stream)"), "{}: {}", i.path.display(), i.why);
        }
        assert_read_alike(&streamed, &whole);
        let (rejected, warnings) = said(&streamed);
        let guessed = warnings.iter().any(|w| w.starts_with("encoding-guessed"));
        assert_eq!(guessed, *bytes == *ansi, "{warnings:?}");
        for reason in
            ["expected True or False", "cut by Format-Table", "does not fit", "truncated row"]
        {
            assert!(rejected.iter().any(|r| r.contains(reason)), "{reason}: {rejected:?}");
        }
        assert!(warnings.iter().any(|w| w.starts_with("truncated-cell")), "{warnings:?}");
        // The mailboxes are not held: they are read again by blocks.
        assert!(streamed.snapshot.mailboxes().blocks() > 1);
        assert!(streamed.snapshot.mailboxes().failure().is_none());
        counted_from_notes(&streamed, &whole, "Format-Table");
        let mailboxes = format!("{:?}", streamed.snapshot.mailboxes());
        assert!(mailboxes.contains(" Junior\""), "the wrapped name is joined");
    }
}

/// A transcript (`Start-Transcript`, or console output pasted into one file)
/// is read from its file without holding its text: its large Format-List and
/// Format-Table parts are read as streams, each a stretch of the file, and
/// its small parts whole, into exactly what reading the transcript whole
/// gives: the same parts recognised, rows, rejections (a value the mapper
/// rejects, an object cut where the session ends) and warnings (the lines set
/// aside as prompts and banners, a small and a large part that match no export, a
/// collection cut by `$FormatEnumerationLimit`, a cell cut to fit the
/// console), in UTF-8 (with a byte-order mark and without), UTF-16 and
/// Windows-1252. A transcript the streams cannot read as the whole-file
/// reader does (two cmdlets' objects in one part, a cmdlet's output in two
/// parts, text that needs cleaning) is read whole, alike.
#[test]
fn streamed_transcripts_read_exactly_as_whole_files() {
    use exoauth::load::{self, SourceFile};
    use exoauth::model::Environment;

    let (_dir, list) = generated_as(14_000, 5, &["--form", "list"]);
    let (_dir2, table) = generated_as(14_000, 5, &["--form", "table"]);
    let read = |tenant: &std::path::Path, name: &str| {
        let text = std::fs::read_to_string(tenant.join(name)).unwrap();
        text.trim_start_matches('\u{feff}').to_owned()
    };
    let label = |name: &str| format!("\r\n{name:<33}: ");
    let mut cas = read(&list, "CasMailbox.txt");
    assert!(cas.len() > 3 << 20, "the mailboxes' part must span blocks: {} bytes", cas.len());
    cas = cas.replacen(
        &format!("{}True", label("PopEnabled")),
        &format!("{}Maybe", label("PopEnabled")),
        1,
    );
    let at = cas.len() / 2 + cas[cas.len() / 2..].find(&label("DisplayName")).unwrap();
    let collection = format!(
        "{}{{SMTP:a@contoso.com, smtp:b@contoso.com, smtp:c@contoso.com...}}",
        label("EmailAddresses")
    );
    cas.insert_str(at, &collection);
    // The session cut short (the console closed): its last object cut in a value.
    // A collection cut by `$FormatEnumerationLimit` in that object: the
    // whole-file reader keeps no warning about an object it rejects.
    let cut = cas.trim_end().rfind(&label("PopEnabled")).unwrap();
    let last = cas[..cut].rfind(&label("DisplayName")).unwrap();
    let cut = format!(
        "{}{}{{SMTP:z@contoso.com, smtp:y@contoso.com...}}{}{}Tr",
        &cas[..last],
        label("EmailAddresses"),
        &cas[last..cut],
        label("PopEnabled")
    );
    // A display name cut to fit the console in the users' table.
    let users = read(&table, "User.txt");
    // Every mailbox as `Get-Mailbox | fl` shows it, which matches no export.
    let named = |name: &str| format!("\r\n{name:<33}:");
    let mailboxes = read(&list, "CasMailbox.txt")
        .replace(&named("PopEnabled"), &named("IsMailboxEnabled"))
        .replace(&named("ImapEnabled"), &named("HiddenFromAddressListsEnabled"))
        .replace(&named("SmtpClientAuthenticationDisabled"), &named("ArchiveStatus"));
    assert!(users.len() > 2 << 20, "the users' part must span blocks: {} bytes", users.len());
    let session = |cas: &str, stopped: bool| {
        let mut t = String::from(
            "**********************\r\nWindows PowerShell transcript start\r\nStart time: 20261201090000\r\nUsername: CONTOSO\\admin\r\n**********************\r\nTranscript started, output file is C:\\temp\\exo.txt\r\n",
        );
        for (command, output) in [
            ("Get-AuthenticationPolicy | Format-List", read(&list, "AuthenticationPolicy.txt")),
            (
                "Get-OrganizationConfig | fl DefaultAuthenticationPolicy",
                read(&list, "OrganizationConfig.txt"),
            ),
            ("Get-TransportConfig | fl", read(&list, "TransportConfig.txt")),
            ("Get-Date", "\r\nMonday, 1 December 2026 09:00:00\r\n".to_owned()),
            ("Get-User -ResultSize Unlimited | ft -AutoSize", users.clone()),
            ("Get-Mailbox -ResultSize Unlimited | fl", mailboxes.clone()),
            ("Get-EXOCasMailbox -ResultSize Unlimited | fl", cas.to_owned()),
        ] {
            t.push_str(&format!("PS C:\\> {command}\r\n{output}"));
            if !stopped && command.starts_with("Get-EXOCasMailbox") {
                return t;
            }
            t.push_str("\r\n");
        }
        t.push_str("PS C:\\> Stop-Transcript\r\n**********************\r\nWindows PowerShell transcript end\r\nEnd time: 20261201091500\r\n**********************\r\n");
        t
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("transcript.txt");
    // Bytes reported read: the file's length, once (a transcript read whole
    // after its parts were streamed would be reported again).
    let both = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        let counted = Bytes(0.into());
        let streamed = load::load_with(dir.path(), Environment::Online, &counted).unwrap();
        let source = SourceFile { cmdlet: None, path: path.clone(), bytes: bytes.to_vec().into() };
        let whole = load::load_sources(vec![source], Environment::Online).unwrap();
        assert_read_alike(&streamed, &whole);
        let whys = |l: &load::Loaded| l.inputs.iter().map(|i| i.why.clone()).collect::<Vec<_>>();
        (streamed, whole, counted.0.into_inner() == bytes.len() as u64, whys)
    };
    let text = session(&cut, false);
    // As PowerShell 7 writes it, with a byte-order mark as Windows PowerShell
    // 5.1's `Start-Transcript` does, in UTF-16 as its `>` does, and in
    // Windows-1252 as its `Set-Content` does.
    let utf16 = |big: bool| -> Vec<u8> {
        let mark: [u8; 2] = if big { [0xFE, 0xFF] } else { [0xFF, 0xFE] };
        let units = text.encode_utf16();
        mark.into_iter()
            .chain(units.flat_map(|u| if big { u.to_be_bytes() } else { u.to_le_bytes() }))
            .collect()
    };
    for bytes in [
        text.as_bytes().to_vec(),
        [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat(),
        utf16(false),
        utf16(true),
        set_content(&text),
    ] {
        let (streamed, whole, once, whys) = both(&bytes);
        assert!(once, "each byte reported read once");
        let streamed_whys = whys(&streamed);
        assert_eq!(
            streamed_whys.iter().filter(|w| w.ends_with("(read as a stream)")).count(),
            2,
            "the users' table and the mailboxes' list: {streamed_whys:?}"
        );
        assert_eq!(streamed.inputs.len(), 5, "{:?}", streamed.inputs);
        let (rejected, warnings) = said(&streamed);
        assert!(rejected.iter().any(|r| r.contains("truncated object")), "{rejected:?}");
        assert!(rejected.iter().any(|r| r.contains("Maybe")), "{rejected:?}");
        for code in ["set-aside", "transcript-part-ignored", "truncated-collection"] {
            assert!(warnings.iter().any(|w| w.starts_with(code)), "{code}: {warnings:?}");
        }
        assert!(
            warnings.iter().any(|w| w.contains("ignored list output of `Get-Mailbox")),
            "{warnings:?}"
        );
        // The mailboxes are not held: they are read again by blocks.
        assert!(streamed.snapshot.mailboxes().blocks() > 2);
        assert!(streamed.snapshot.mailboxes().failure().is_none());
        assert_eq!(whole.snapshot.mailboxes().blocks(), 0);
        counted_from_notes(&streamed, &whole, "transcript");
    }
    // Read whole, alike: a column only the cut object has (the whole-file
    // reader leaves it out of the part's columns); two cmdlets' objects in
    // one part (the users pasted as a list after the mailboxes, with no
    // prompt between); the mailboxes' output in two parts; an indented
    // transcript (cleaning sets the indentation aside).
    let cut_alone = session(&cut.replacen(&collection, "", 1), false);
    let text = session(&cas, true);
    let users_list = read(&list, "User.txt");
    let run_together = text.replacen(
        "\r\nPS C:\\> Stop-Transcript",
        &format!("\r\n{}\r\nPS C:\\> Stop-Transcript", users_list.trim()),
        1,
    );
    // (Ten whole objects.)
    let some = cas.match_indices("\r\n\r\n").nth(10).unwrap().0 + 2;
    let twice = text.replacen(
        "PS C:\\> Stop-Transcript",
        &format!("PS C:\\> Get-EXOCasMailbox | fl\r\n{}\r\nPS C:\\> Stop-Transcript", &cas[..some]),
        1,
    );
    let indented: String = text.split_inclusive('\n').map(|l| format!("    {l}")).collect();
    for (what, bytes) in [
        ("a column only the cut object has", cut_alone.into_bytes()),
        ("run together", run_together.into_bytes()),
        ("twice", twice.into_bytes()),
        ("indented", indented.into_bytes()),
    ] {
        let (streamed, _, _, whys) = both(&bytes);
        let whys = whys(&streamed);
        assert!(whys.iter().all(|w| !w.contains("stream")), "{what}: read whole: {whys:?}");
        assert_eq!(streamed.snapshot.mailboxes().blocks(), 0, "{what}: the mailboxes held");
    }
}

/// A missing policy is reported with the setting that names it: the user's own
/// assignment, or the org default for a user without one. Regression: the
/// org-default case once read as `User.AuthenticationPolicy` under a mutant.
#[test]
fn policy_not_found_names_the_setting_that_refers_to_it() {
    let t = crate::util::TempTenant::new(
        "Ghost Default",
        "False",
        &[
            "a1,ann@contoso.com,,UserMailbox,False",
            "b2,ben@contoso.com,Ghost User,UserMailbox,False",
        ],
        &["a1,ann@contoso.com,Ann,True,True,", "b2,ben@contoso.com,Ben,True,True,"],
    );
    let (r, _) = crate::util::audit_json(t.dir.path(), &[]);
    let blocker = |smtp: &str| {
        let m = r["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["primary_smtp_address"] == smtp)
            .unwrap();
        m["protocols"]["pop"]["blockers"][0].clone()
    };
    let ann = blocker("ann@contoso.com");
    assert_eq!(
        (ann["code"].as_str(), ann["setting"].as_str(), ann["value"].as_str()),
        (
            Some("policy-not-found"),
            Some("OrganizationConfig.DefaultAuthenticationPolicy"),
            Some("Ghost Default")
        )
    );
    let ben = blocker("ben@contoso.com");
    assert_eq!(
        (ben["code"].as_str(), ben["setting"].as_str(), ben["value"].as_str()),
        (Some("policy-not-found"), Some("User.AuthenticationPolicy"), Some("Ghost User"))
    );
}

#[test]
fn generate_lists_what_it_wrote_and_keeps_out_of_a_folder_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let out = exoauth()
        .args(["generate", "--mailboxes", "25", "--seed", "2", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("wrote a generated tenant of 25 mailboxes"), "{said}");
    for file in ["CasMailbox.csv", "User.csv", "AuthenticationPolicy.csv", "manifest.json"] {
        assert!(said.contains(file), "{file} is not listed: {said}");
    }
    // Again into the same (now full) folder: refused, and nothing changes.
    let before = std::fs::read(dir.path().join("CasMailbox.csv")).unwrap();
    let again = exoauth()
        .args(["generate", "--mailboxes", "3", "--seed", "9", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
    assert_eq!(std::fs::read(dir.path().join("CasMailbox.csv")).unwrap(), before);
    // --force writes into it.
    exoauth()
        .args(["generate", "--mailboxes", "3", "--seed", "9", "--force", "-o"])
        .arg(dir.path())
        .assert()
        .success();
    assert_ne!(std::fs::read(dir.path().join("CasMailbox.csv")).unwrap(), before);
}

/// The mailboxes of a large CasMailbox.csv are not kept but parsed again, a
/// block at a time, by whoever asks: the join, the audit, each report. A
/// report may go through them a few times (its groups, its flagged list, its
/// readiness rows), each time in order; reading them out of order would parse
/// a block again for every mailbox (60 times the blocks here, as the readiness
/// summary once did). Every report format, with sign-in evidence and a plan,
/// must read each block a few times at most.
#[test]
fn every_report_reads_the_mailbox_blocks_in_order() {
    use exoauth::audit::{self, Want};
    use exoauth::emit::report::{Format, Report};
    use exoauth::load;
    use exoauth::model::Environment;
    use exoauth::plan::{self, Strategy};
    use exoauth::progress::Silent;

    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("t");
    exoauth()
        .args(["generate", "--mailboxes", "60000", "--sign-ins", "30000", "--seed", "9", "-o"])
        .arg(&tenant)
        .assert()
        .success();
    let mut loaded = load::load(&tenant, Environment::Online).unwrap();
    load::add_evidence(&mut loaded, &[tenant.join("signins")], None, load::Digests::Made, &Silent)
        .unwrap();
    let mailboxes = loaded.snapshot.mailboxes();
    let blocks = mailboxes.blocks();
    assert!(blocks > 8, "more blocks than are kept at once: {blocks}");
    for want in [Want::Allow, Want::Block] {
        let options = every_protocol(want);
        let before = mailboxes.blocks_read();
        let audit = audit::audit(&loaded.snapshot, &options);
        let plan = plan::plan(&audit, Strategy::LeastPrivilege);
        let passes = (mailboxes.blocks_read() - before) as f64 / blocks as f64;
        assert!(passes <= 8.0, "{want:?}: the audit and plan read {passes:.1} times the blocks");
        for format in [Format::Text, Format::Csv, Format::Json, Format::Markdown, Format::Html] {
            let report = Report {
                dir: &tenant,
                options: &options,
                loaded: &loaded,
                audit: &audit,
                plan: Some(&plan),
            };
            let before = mailboxes.blocks_read();
            format.renderer().render(&report, &mut std::io::sink()).unwrap();
            let passes = (mailboxes.blocks_read() - before) as f64 / blocks as f64;
            assert!(passes <= 8.0, "{want:?} {format:?}: read {passes:.1} times the blocks");
        }
    }
    assert!(mailboxes.failure().is_none());
}

/// Root causes are found a chunk of mailboxes at a time on every core and
/// merged: on a tenant of many chunks, every flagged mailbox is in the group
/// whose causes are its own fix lines, the counts add up, groups come largest
/// first (ties by first appearance), and each group's examples are its first
/// members in input order, as one pass in order finds them.
#[test]
fn root_causes_of_many_chunks_are_those_of_one_pass() {
    use exoauth::audit::{self, Want};
    use exoauth::emit::report::{Report, fix_rows, groups::groups};
    use exoauth::load;
    use exoauth::model::Environment;

    let (_dir, tenant) = generated(20_000, 5);
    let loaded = load::load(&tenant, Environment::Online).unwrap();
    for want in [Want::Allow, Want::Block] {
        let options = every_protocol(want);
        let audit = audit::audit(&loaded.snapshot, &options);
        let report =
            Report { dir: &tenant, options: &options, loaded: &loaded, audit: &audit, plan: None };
        let g = groups(&report);
        let flagged: Vec<_> = audit.flagged().collect();
        assert!(flagged.len() > 3 * 2048, "{want:?}: {} flagged", flagged.len());
        assert!(g.groups.len() > 5, "{want:?}: {} groups", g.groups.len());
        assert_eq!(g.groups.iter().map(|x| x.count).sum::<usize>(), flagged.len());
        // One pass in order: each group's members, first appearances, examples.
        let mut members = vec![0; g.groups.len()];
        let mut first = vec![usize::MAX; g.groups.len()];
        let mut examples: Vec<Vec<String>> = vec![Vec::new(); g.groups.len()];
        for (n, f) in flagged.iter().enumerate() {
            let group = g.of(f.mailbox).expect("every flagged mailbox has a group");
            let own: Vec<_> = fix_rows(&report, f)
                .into_iter()
                .map(|r| (r.protocols, r.verdict, r.blocker.map(|b| (b.code, b.setting, b.value))))
                .collect();
            let causes: Vec<_> = group
                .causes
                .iter()
                .map(|c| {
                    (
                        c.protocols.clone(),
                        c.verdict,
                        c.code.zip(c.setting).map(|(k, (s, v))| (k, s, v)),
                    )
                })
                .collect();
            assert_eq!(causes, own, "{want:?}: mailbox {} in group {}", f.mailbox, group.id);
            let k = group.id - 1;
            members[k] += 1;
            first[k] = first[k].min(n);
            if examples[k].len() < 3 {
                examples[k].push(report.view(f).label().to_string());
            }
        }
        for (k, x) in g.groups.iter().enumerate() {
            assert_eq!(x.id, k + 1);
            assert_eq!(x.count, members[k], "{want:?}: group {}", x.id);
            assert_eq!(x.examples, examples[k], "{want:?}: group {}", x.id);
        }
        for pair in g.groups.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(
                a.count > b.count || (a.count == b.count && first[a.id - 1] < first[b.id - 1]),
                "{want:?}: groups {} and {} out of order",
                a.id,
                b.id
            );
        }
    }
}

/// The Markdown report's flagged tables are written a chunk of mailboxes at
/// a time on every core: a write that fails anywhere (a full disk) ends the
/// report with that error after the report's start, and a disk with just
/// enough room takes the whole report.
#[test]
fn a_markdown_report_that_cannot_be_written_says_why() {
    use exoauth::audit::{self, Want};
    use exoauth::emit::report::{Format, Report};
    use exoauth::load;
    use exoauth::model::Environment;

    /// Takes `room` bytes, then fails like a full disk.
    struct Full {
        room: usize,
        got: Vec<u8>,
    }
    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.got.len() + buf.len() > self.room {
                return Err(std::io::Error::other("disk full"));
            }
            self.got.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let (_dir, tenant) = generated(20_000, 5);
    let loaded = load::load(&tenant, Environment::Online).unwrap();
    let options = every_protocol(Want::Allow);
    let audit = audit::audit(&loaded.snapshot, &options);
    let report =
        Report { dir: &tenant, options: &options, loaded: &loaded, audit: &audit, plan: None };
    let mut whole = Vec::new();
    Format::Markdown.renderer().render(&report, &mut whole).unwrap();
    assert!(whole.len() > 4 << 20, "{} bytes", whole.len());
    // Full within the first table, within the second, and just before the end.
    for room in [whole.len() / 4, whole.len() * 3 / 4, whole.len() - 1] {
        let mut full = Full { room, got: Vec::new() };
        let e = Format::Markdown.renderer().render(&report, &mut full).unwrap_err();
        assert_eq!(e.to_string(), "disk full", "room {room}");
        assert!(
            whole.starts_with(&full.got),
            "room {room}: what was written is the report's start"
        );
    }
    let mut full = Full { room: whole.len(), got: Vec::new() };
    Format::Markdown.renderer().render(&report, &mut full).unwrap();
    assert!(full.got == whole);
}

/// The text report's flagged table is measured and written a chunk of
/// mailboxes at a time on every core: on a tenant of many chunks it still has
/// a row per flagged mailbox, and its columns line up across all of them at
/// the widest cell's width.
#[test]
fn the_text_table_of_many_chunks_lines_up() {
    let (_dir, tenant) = generated(20_000, 5);
    let out = exoauth()
        .args(["audit", "--format", "text", "--progress", "never", "-q", "--as-of", "2026-11-29"])
        .arg(&tenant)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let flagged: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Flagged mailboxes ("))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a flagged count");
    assert!(flagged > 3 * 2048, "{flagged} flagged");
    let mut lines = text.lines().skip_while(|l| !l.starts_with("  mailbox  "));
    let header = lines.next().expect("the flagged table's header");
    // The header is ASCII (names and padding): its byte offsets are columns.
    let at = header.find("policy (source)").unwrap();
    let rows: Vec<&str> =
        lines.take_while(|l| l.starts_with("  ") && !l.starts_with("  (")).collect();
    assert_eq!(rows.len(), flagged);
    let chars: Vec<Vec<char>> = rows.iter().map(|r| r.chars().collect()).collect();
    for (row, c) in rows.iter().zip(&chars) {
        assert!(c[at - 2] == ' ' && c[at - 1] == ' ' && c[at] != ' ', "misaligned: {row:?}");
    }
    assert!(chars.iter().any(|c| c[at - 3] != ' '), "no label fills the column: too wide");
}

/// The join takes each mailbox's Guid, and hashes of its other identifiers,
/// from the first read of CasMailbox.csv. On a whole tenant (3% of whose
/// mailboxes have no Get-User row) it reads no mailbox again, and every
/// mailbox still has exactly the user whose Guid is its own.
#[test]
fn the_join_of_a_whole_tenant_reads_no_mailbox_again() {
    let (_dir, tenant) = generated(30_000, 5);
    let loaded = exoauth::load::load(&tenant, exoauth::model::Environment::Online).unwrap();
    let snapshot = &loaded.snapshot;
    assert!(snapshot.mailboxes().blocks() > 3, "{} blocks", snapshot.mailboxes().blocks());
    assert_eq!(snapshot.mailboxes().blocks_read(), 0, "the join read mailboxes again");

    let guids = |file: &str| -> Vec<String> {
        let mut r = ::csv::Reader::from_path(tenant.join(file)).unwrap();
        r.records().map(|row| row.unwrap()[0].to_owned()).collect()
    };
    let users: std::collections::HashSet<String> = guids("User.csv").into_iter().collect();
    let mailboxes = guids("CasMailbox.csv");
    assert_eq!(snapshot.mailbox_count(), mailboxes.len());
    let mut without = 0;
    for (i, guid) in mailboxes.iter().enumerate() {
        let user = snapshot.user_of(i).map(|u| u.ids.guid().unwrap().to_string());
        assert_eq!(user.as_ref(), users.contains(guid).then_some(guid), "mailbox {guid}");
        without += usize::from(user.is_none());
    }
    assert!(without > 300, "only {without} mailboxes without a user: nothing tested");
}

/// The mailboxes the Guid does not join are joined by their other keys when
/// some user may have them: by ExternalDirectoryObjectId, then by address in
/// any case; a Guid that is not a GUID's text still joins the user with the
/// same text. From a streamed CasMailbox.csv, whose keys were noted.
#[test]
fn mailboxes_the_guid_does_not_join_are_joined_by_their_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "AuthenticationPolicy.csv",
        "Name,AllowBasicAuthPop,AllowBasicAuthImap,AllowBasicAuthSmtp\r\nBlock,False,False,False\r\n",
    );
    write("OrganizationConfig.csv", "DefaultAuthenticationPolicy\r\nBlock\r\n");
    write("TransportConfig.csv", "SmtpClientAuthenticationDisabled\r\nFalse\r\n");
    let g = |n: u8| format!("{n:08x}-0000-4000-8000-000000000000");
    let users = [
        format!("{},{},u1@contoso.com,u1", g(1), g(11)),
        format!("{},{},u2@contoso.com,u2", g(2), g(12)),
        format!("{},{},u3@contoso.com,u3", g(3), g(13)),
        format!("not-a-guid,{},u4@contoso.com,u4", g(14)),
        format!("{},{},u5@contoso.com,u5", g(5), g(15)),
    ];
    let mut text =
        "Guid,ExternalDirectoryObjectId,UserPrincipalName,Name,AuthenticationPolicy,RecipientTypeDetails\r\n"
            .to_owned();
    users.iter().for_each(|u| text += &format!("{u},,UserMailbox\r\n"));
    write("User.csv", &text);
    let mailboxes = [
        (format!("{},{},u1@contoso.com,m1", g(1), g(11)), Some("u1")),
        // Another Guid; its ExternalDirectoryObjectId is user 2's.
        (format!("{},{},x2@contoso.com,m2", g(92), g(12)), Some("u2")),
        // Another Guid and id; its address is user 3's, in capitals.
        (format!("{},{},U3@Contoso.com,m3", g(93), g(93)), Some("u3")),
        (format!("NOT-A-GUID,{},x4@contoso.com,m4", g(94)), Some("u4")),
        // Nothing any user has.
        (format!("{},{},x5@contoso.com,m5", g(95), g(95)), None),
        // A blank Guid: joined by its other keys only.
        (format!(",{},u5@contoso.com,m6", g(96)), Some("u5")),
    ];
    let mut text = "Guid,ExternalDirectoryObjectId,PrimarySmtpAddress,Name,PopEnabled,ImapEnabled,SmtpClientAuthenticationDisabled\r\n".to_owned();
    mailboxes.iter().for_each(|(m, _)| text += &format!("{m},True,True,\r\n"));
    write("CasMailbox.csv", &text);

    let loaded = exoauth::load::load(dir.path(), exoauth::model::Environment::Online).unwrap();
    let snapshot = &loaded.snapshot;
    assert!(snapshot.mailboxes().blocks() > 0, "CasMailbox.csv was not streamed");
    let joined: Vec<(String, Option<String>)> = (0..snapshot.mailbox_count())
        .map(|i| {
            let name = snapshot.mailbox(i).ids.name().unwrap().to_string();
            (name, snapshot.user_of(i).map(|u| u.ids.name().unwrap().to_string()))
        })
        .collect();
    let expected: Vec<(String, Option<String>)> = mailboxes
        .iter()
        .enumerate()
        .map(|(i, (_, user))| (format!("m{}", i + 1), user.map(str::to_owned)))
        .collect();
    assert_eq!(joined, expected);
    assert!(loaded.rejected.is_empty(), "{:?}", loaded.rejected);
}

/// A tenant of `mailboxes` made by `exoauth generate` in a temporary folder
/// (gone with the folder).
fn generated(mailboxes: usize, seed: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    generated_as(mailboxes, seed, &[])
}

/// [`generated`], with more `exoauth generate` arguments (`--form json`).
fn generated_as(
    mailboxes: usize,
    seed: u64,
    more: &[&str],
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("t");
    exoauth()
        .args(["generate", "--mailboxes", &mailboxes.to_string(), "--seed", &seed.to_string()])
        .args(more)
        .arg("-o")
        .arg(&tenant)
        .assert()
        .success();
    (dir, tenant)
}

/// A progress that counts the bytes reported read.
struct Bytes(std::sync::atomic::AtomicU64);

impl exoauth::progress::Progress for Bytes {
    fn start(&self, _: &'static str, _: Option<u64>, _: exoauth::progress::Unit) {}
    fn advance(&self, n: u64) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
    fn finish(&self) {}
}

/// The inputs a load read, without the detector's words (a stream decides
/// on its first lines or its first pass, the whole-file reader on the text).
fn inputs_without_why(l: &exoauth::load::Loaded) -> Vec<exoauth::load::InputFile> {
    l.inputs.iter().map(|i| exoauth::load::InputFile { why: String::new(), ..i.clone() }).collect()
}

/// What a load said: its rejections (where and why) and its warnings (code,
/// where and what).
fn said(l: &exoauth::load::Loaded) -> (Vec<String>, Vec<String>) {
    (
        l.rejected.iter().map(|r| format!("{}: {}", r.source, r.reason)).collect(),
        l.warnings.iter().map(|w| format!("{} {:?} {}", w.code, w.source, w.message)).collect(),
    )
}

/// `text` as Windows PowerShell 5.1's `Set-Content` writes it: Windows-1252,
/// with `?` for each character it lacks.
fn set_content(text: &str) -> Vec<u8> {
    let ansi: String = text
        .chars()
        .map(|c| {
            let mut one = [0; 4];
            let (_, _, lost) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut one));
            if lost { '?' } else { c }
        })
        .collect();
    encoding_rs::WINDOWS_1252.encode(&ansi).0.into_owned()
}

/// A tenant streamed and read whole reads alike: the same inputs (but for the
/// detector's words), rejections, warnings, mailboxes and users.
fn assert_read_alike(streamed: &exoauth::load::Loaded, whole: &exoauth::load::Loaded) {
    assert_eq!(inputs_without_why(streamed), inputs_without_why(whole));
    assert_eq!(said(streamed), said(whole));
    assert_eq!(
        format!("{:?}", streamed.snapshot.mailboxes()),
        format!("{:?}", whole.snapshot.mailboxes())
    );
    assert_eq!(format!("{:?}", streamed.snapshot.users), format!("{:?}", whole.snapshot.users));
}

/// The tenant's files named after a cmdlet with extension `ext`, given whole
/// to the loader (`load_sources`: the whole-file reader, never the streams).
fn read_whole(
    tenant: &std::path::Path,
    ext: &str,
) -> Result<exoauth::load::Loaded, exoauth::load::LoadError> {
    use exoauth::load::{self, SourceFile};
    use exoauth::model::{Environment, columns::Cmdlet};
    let sources: Vec<SourceFile> = std::fs::read_dir(tenant)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .filter_map(|path| {
            let cmdlet = Cmdlet::from_stem(path.file_stem()?.to_str()?)?;
            let bytes = std::fs::read(&path).unwrap().into();
            Some(SourceFile { cmdlet: Some(cmdlet), bytes, path })
        })
        .collect();
    load::load_sources(sources, Environment::Online)
}

/// Audit options for every protocol online, in direction `want`, as of the
/// day the fixtures' expectations were written.
fn every_protocol(want: exoauth::audit::Want) -> exoauth::audit::Options {
    exoauth::audit::Options {
        want,
        protocols: exoauth::model::Protocol::ALL.to_vec(),
        environment: exoauth::model::Environment::Online,
        as_of: time::macros::date!(2026 - 11 - 29),
        scope: exoauth::audit::Scope::default(),
        include_in_use: false,
    }
}
