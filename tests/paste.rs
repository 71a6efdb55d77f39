//! Text as admins paste it (issue 11): `fixtures/paste/<case>` is contoso's
//! export with CasMailbox replaced by a damaged copy. Where the data is whole,
//! the folder audits to contoso's verdicts (checked in `tests/expected.rs`);
//! here: what exoauth says it set aside, that `exoauth parse` reads the same
//! records as from the clean copy, what `-v` says about each file's form, and
//! the errors for what cannot be read (the `audit` errors of `table-then-list`,
//! `one-line-csv` and `empty` are in `tests/bad_input.rs`).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{audit_json, exoauth, fixture};

/// Each pasted copy of contoso-list's CasMailbox.txt, the one `set-aside`
/// warning it must give (in full), and the lines the list is then on.
const SET_ASIDE: &[(&str, &str, &str)] = &[
    (
        "indented",
        "CasMailbox.txt: read as pasted text: set aside a common indentation of 4 characters on every line that holds anything (lines 2-1397)",
        "lines 2-1397",
    ),
    (
        "quoted",
        "CasMailbox.txt: read as pasted text: set aside lines 1-1399 (`> ` quote markers)",
        "lines 2-1397",
    ),
    (
        "fenced",
        "CasMailbox.txt: read as pasted text: set aside lines 1 and 1401 (Markdown fence)",
        "lines 3-1398",
    ),
    (
        "html-br",
        "CasMailbox.txt: read as pasted text: set aside lines 1-1399 (`<br>` line ends)",
        "lines 2-1397",
    ),
    (
        "echoed-command",
        "CasMailbox.txt: read as pasted text: set aside line 1 (command line without a PowerShell prompt)",
        "lines 3-1398",
    ),
    (
        "bare-prompt",
        "CasMailbox.txt: read as pasted text: set aside line 1 (command line without a PowerShell prompt)",
        "lines 3-1398",
    ),
    (
        "module-banner",
        "CasMailbox.txt: read as pasted text: set aside line 1 (prompt or transcript banner), line 2 (module or console banner)",
        "lines 4-1399",
    ),
];

const ENCODING_GUESSED: &str = "CasMailbox.csv: not UTF-8 and without a byte-order mark, so read as Windows-1252 (the ANSI code page Excel's \"CSV (Comma delimited)\" and Windows PowerShell 5.1's Set-Content write); check names with accents, or save it again as \"CSV UTF-8\" or with `Export-Csv -Encoding UTF8`";

/// The messages of the report's advisories with this code.
fn advisories<'a>(report: &'a Value, code: &str) -> Vec<&'a str> {
    report["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["code"] == code)
        .map(|a| a["message"].as_str().unwrap())
        .collect()
}

/// `exoauth parse FILE [args]`: exit code, stdout, stderr.
fn parse(file: &str, args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = exoauth().arg("parse").arg(file).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{file}: {stderr}");
    (out.status.code().unwrap_or(-1), out.stdout, stderr)
}

#[test]
fn pasted_lists_name_every_line_they_set_aside() {
    for (case, message, _) in SET_ASIDE {
        let (r, code) = audit_json(&fixture(&format!("paste/{case}")), &[]);
        assert_eq!(code, 0, "{case}: exit code");
        assert_eq!(advisories(&r, "set-aside"), [*message], "{case}");
        assert_eq!(advisories(&r, "encoding-guessed"), Vec::<&str>::new(), "{case}");
        assert_eq!(r["summary"]["mailboxes"], 44, "{case}");
        let cas =
            r["inputs"].as_array().unwrap().iter().find(|i| i["cmdlet"] == "Get-EXOCasMailbox");
        assert_eq!(cas.unwrap()["form"], "list", "{case}");
    }
}

#[test]
fn an_excel_ansi_save_says_its_encoding_was_guessed() {
    let (r, code) = audit_json(&fixture("paste/excel-ansi"), &[]);
    assert_eq!(code, 0);
    assert_eq!(advisories(&r, "encoding-guessed"), [ENCODING_GUESSED]);
    assert_eq!(advisories(&r, "set-aside"), Vec::<&str>::new());
    let cas = r["inputs"].as_array().unwrap().iter().find(|i| i["cmdlet"] == "Get-EXOCasMailbox");
    assert_eq!(cas.unwrap()["form"], "csv");
    // (The JSON report's inputs carry no encoding; the text report's do.)
    let out = exoauth()
        .args(["audit", "fixtures/paste/excel-ansi", "--as-of", "2026-11-25"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "\n  CasMailbox.csv            Get-EXOCasMailbox         csv windows-1252  44 rows\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("! {ENCODING_GUESSED}")), "{stdout}");
}

#[test]
fn pasted_lists_parse_to_the_clean_lists_csv_byte_for_byte() {
    let (code, clean, _) = parse("fixtures/contoso-list/CasMailbox.txt", &[]);
    assert_eq!(code, 0);
    assert_eq!(clean.iter().filter(|b| **b == b'\n').count(), 45, "a header and 44 records");
    for (case, message, _) in SET_ASIDE {
        let (code, out, stderr) = parse(&format!("fixtures/paste/{case}/CasMailbox.txt"), &[]);
        assert_eq!(code, 0, "{case}: {stderr}");
        assert!(out == clean, "{case}: not the CSV of fixtures/contoso-list/CasMailbox.txt");
        assert!(
            stderr.starts_with(
                "exoauth: CasMailbox.txt: list (utf-8), 44 records, 1 warning, 0 rejected rows\n"
            ),
            "{case}: {stderr}"
        );
        assert!(stderr.contains(&format!("  warning[set-aside] {message}\n")), "{case}: {stderr}");
    }
}

/// Records of `exoauth parse`'s CSV output: the header, then the rows.
fn csv_records(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = rdr.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

/// Names Windows-1252 has no byte for: Excel writes `?` for each such character.
const EXCEL_RENAMED: &[(&str, &str)] =
    &[("Łukasz Żółć", "?ukasz ?ó??"), ("Chen Wei (陈伟)", "Chen Wei (??)")];

#[test]
fn an_excel_ansi_save_parses_to_contosos_records_but_for_what_windows_1252_cannot_hold() {
    let (code, clean, _) = parse("fixtures/contoso/CasMailbox.csv", &[]);
    assert_eq!(code, 0);
    let (code, excel, stderr) = parse("fixtures/paste/excel-ansi/CasMailbox.csv", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.starts_with(
            "exoauth: CasMailbox.csv: csv (windows-1252), 44 records, 1 warning, 0 rejected rows\n  form: CSV: line 1 is Export-Csv's #TYPE line\n"
        ),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("warning[encoding-guessed] {ENCODING_GUESSED}")), "{stderr}");

    let (header, want) = csv_records(&clean);
    let (excel_header, got) = csv_records(&excel);
    assert_eq!(excel_header, header, "the #TYPE cell and `;` are gone, the columns kept");
    assert_eq!(got.len(), 44);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut renamed = BTreeSet::new();
    for (w, g) in want.iter().zip(&got) {
        for (k, (wv, gv)) in w.iter().zip(g).enumerate() {
            // Excel's booleans: `parse` keeps the text as written.
            let excel_bool = match wv.as_str() {
                "True" => Some("TRUE"),
                "False" => Some("FALSE"),
                _ => None,
            };
            if excel_bool == Some(gv.as_str()) || wv == gv {
                continue;
            }
            let lost = EXCEL_RENAMED.iter().find(|(from, _)| from == wv);
            assert_eq!(
                lost.map(|(_, to)| *to),
                Some(gv.as_str()),
                "{}: {}",
                w[col("Guid")],
                header[k]
            );
            renamed.insert((w[col("PrimarySmtpAddress")].clone(), header[k].clone()));
        }
        // What identifies a mailbox and decides its verdicts is whole.
        for name in ["Guid", "PrimarySmtpAddress", "ExternalDirectoryObjectId"] {
            assert_eq!(g[col(name)], w[col(name)], "{name}");
        }
        for name in ["PopEnabled", "ImapEnabled", "SmtpClientAuthenticationDisabled"] {
            assert!(g[col(name)].eq_ignore_ascii_case(&w[col(name)]), "{}: {name}", w[col("Guid")]);
        }
    }
    let renamed: Vec<(&str, &str)> =
        renamed.iter().map(|(a, c)| (a.as_str(), c.as_str())).collect();
    assert_eq!(
        renamed,
        [
            ("chen.wei@contoso.com", "DisplayName"),
            ("lukasz.zolc@contoso.com", "DisplayName"),
            ("lukasz.zolc@contoso.com", "Identity"),
            ("lukasz.zolc@contoso.com", "Name"),
        ],
        "the mailbox names fixtures/paste/excel-ansi/EXPECTED.md lists as changed"
    );
}

#[test]
fn verbose_says_each_files_form_and_why() {
    let mut cases: Vec<(&str, String)> = SET_ASIDE
        .iter()
        .map(|(case, _, lines)| {
            (*case, format!(
                "exoauth: read fixtures/paste/{case}/CasMailbox.txt (Get-EXOCasMailbox, list utf-8, 44 rows); form Format-List: {lines} look like Format-List (1353 of 1353 lines are `Name : value` lines or their continuations)"
            ))
        })
        .collect();
    cases.push((
        "excel-ansi",
        "exoauth: read fixtures/paste/excel-ansi/CasMailbox.csv (Get-EXOCasMailbox, csv windows-1252, 44 rows); form CSV: line 1 is Export-Csv's #TYPE line".into(),
    ));
    for (case, want) in cases {
        let out = exoauth()
            .args(["-v", "audit", &format!("fixtures/paste/{case}"), "--as-of", "2026-11-25"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{case}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Without the time each file took (` in 1.2ms`), which moves from run to run.
        let untimed = |l: &str| match (l.find(" rows) in "), l.find("; form ")) {
            (Some(at), Some(form)) if at < form => format!("{}{}", &l[..at + 6], &l[form..]),
            _ => l.to_owned(),
        };
        let reads: Vec<String> = stderr
            .lines()
            .filter(|l| l.starts_with("exoauth: read fixtures/"))
            .map(untimed)
            .collect();
        assert_eq!(reads.len(), 5, "{case}: one `read` line per file: {stderr}");
        for l in &reads {
            assert!(l.contains("); form "), "{case}: no form in {l:?}");
        }
        assert!(reads.iter().any(|l| l.starts_with(&want)), "{case}: {want:?} not in {stderr}");
    }
}

#[test]
fn a_table_then_a_list_in_one_file_is_listed_by_parse_as_two_parts() {
    let file = "fixtures/paste/table-then-list/CasMailbox.txt";
    let (code, out, stderr) = parse(file, &[]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(
        stderr,
        "exoauth: error: CasMailbox.txt: this transcript holds 2 outputs; choose one with --part N:\n  --part 1: line 2, table, 44 records (Get-EXOCasMailbox output)\n  --part 2: line 52, list, 44 records (Get-EXOCasMailbox output)\n"
    );
    // Each part is the clean copy it was made from.
    for (part, clean) in [
        ("1", "fixtures/contoso-table/CasMailbox.txt"),
        ("2", "fixtures/contoso-list/CasMailbox.txt"),
    ] {
        let (code, out, stderr) = parse(file, &["--part", part]);
        assert_eq!(code, 0, "{stderr}");
        assert!(out == parse(clean, &[]).1, "part {part} is not the CSV of {clean}");
    }
}

#[test]
fn a_one_line_csv_is_a_data_row_with_its_line_a_caret_and_what_to_do() {
    let (code, out, stderr) = parse("fixtures/paste/one-line-csv/CasMailbox.csv", &[]);
    assert_eq!((code, out.len()), (2, 0));
    let first = stderr.lines().next().unwrap();
    assert_eq!(
        first,
        "exoauth: error: CasMailbox.csv:1:1: this line looks like a data row, not a CSV header: it holds \"15fb090c-e216-41ed-b435-a76354ccb871\", a value where Export-Csv writes a column name"
    );
    assert!(stderr.contains("\n1 | \"True\",\"Alex Wilber\",\"True\","), "{stderr}");
    assert!(stderr.contains("\n  | ^\n"), "{stderr}");
    assert!(
        stderr.ends_with("  = hint: copy the header line (the first line of the export) with the rows, or export again with `Export-Csv -NoTypeInformation -Encoding UTF8`\n"),
        "{stderr}"
    );
}

#[test]
fn an_empty_file_says_it_is_empty_whatever_its_extension() {
    let message = |file: &str| {
        format!(
            "exoauth: error: {file}: the file is empty; export it again (`Export-Csv -NoTypeInformation -Encoding UTF8`, or the companion script scripts/Export-ExoAuthInventory.ps1)\n"
        )
    };
    let (code, out, stderr) = parse("fixtures/paste/empty/CasMailbox.csv", &[]);
    assert_eq!((code, out.len()), (2, 0));
    assert_eq!(stderr, message("CasMailbox.csv"));
    // Not "the file has no header row; export with Export-Csv" for a .txt either,
    // nor for white space only.
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("CasMailbox.txt", ""), ("User.txt", "\r\n  \r\n")] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = exoauth().arg("parse").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(String::from_utf8_lossy(&out.stderr), message(name));
    }
}

#[test]
fn a_folder_with_only_casmailbox_says_once_which_files_are_missing() {
    let (r, code) = audit_json(&fixture("paste/only-casmailbox"), &[]);
    assert_eq!(code, 0);
    assert_eq!(
        advisories(&r, "files-missing"),
        [
            "4 export files are missing, so every verdict that depends on them is unknown (input-missing): User (each user's assigned authentication policy, mailbox type and disabled state: without it every mailbox's policy is unknown); AuthenticationPolicy (which protocols each policy allows); OrganizationConfig (the org default policy, for users without one); TransportConfig (the tenant SMTP AUTH switch, for mailboxes that inherit it); export them too (scripts/Export-ExoAuthInventory.ps1 writes the whole folder)"
        ]
    );
    // Every mailbox is in scope (no Get-User row gives a type) and none has an
    // `allowed` protocol; the verdicts themselves are checked against
    // fixtures/paste/only-casmailbox/EXPECTED.md in tests/expected.rs.
    let s = &r["summary"];
    assert_eq!((s["mailboxes"].as_u64(), s["in_scope"].as_u64()), (Some(44), Some(44)));
    for m in r["mailboxes"].as_array().unwrap() {
        for p in ["pop", "imap", "smtp"] {
            let codes: Vec<&str> = m["protocols"][p]["blockers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["code"].as_str().unwrap())
                .collect();
            assert!(
                codes.contains(&"input-missing"),
                "{} {p}: {codes:?}",
                m["primary_smtp_address"]
            );
        }
    }
    // Said once on the terminal too, and each code once per protocol in the table.
    let out = exoauth()
        .args(["audit", "fixtures/paste/only-casmailbox", "--as-of", "2026-11-25"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("4 export files are missing").count(), 1, "{stdout}");
    assert!(!stdout.contains("input-missing, input-missing"), "{stdout}");
    assert!(stdout.contains(
        "lidia.holloway@contoso.com     (unknown)        unknown  unknown  blocked  pop: input-missing; imap: input-missing; smtp: mailbox-smtp-auth-disabled, input-missing"
    ), "{stdout}");
}
