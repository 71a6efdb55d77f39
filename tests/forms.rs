//! Format-Table, transcripts and `exoauth parse` on the real binary: what each
//! form reads as, what is reported about it, and how errors look.

use predicates::prelude::*;
use serde_json::Value;

use crate::util::{audit_json, exoauth, fixture};

#[test]
fn a_transcript_is_split_into_recognised_parts() {
    let (r, code) = audit_json(&fixture("transcript"), &[]);
    assert_eq!(code, 0);
    let inputs: Vec<(&str, &str, &str)> = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap(),
                i["cmdlet"].as_str().unwrap(),
                i["form"].as_str().unwrap(),
            )
        })
        .collect();
    let path = fixture("transcript").join("transcript.txt").display().to_string();
    assert_eq!(
        inputs,
        [
            (path.as_str(), "Get-AuthenticationPolicy", "list"),
            (path.as_str(), "Get-OrganizationConfig", "list"),
            (path.as_str(), "Get-TransportConfig", "list"),
            (path.as_str(), "Get-EXOCasMailbox", "table"),
            (path.as_str(), "Get-User", "table"),
        ]
    );
    // The unrelated Get-Mailbox table is named, not silently dropped.
    let ignored: Vec<&Value> = r["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["code"] == "transcript-part-ignored")
        .collect();
    assert_eq!(ignored.len(), 1, "{ignored:?}");
    assert!(ignored[0]["message"].as_str().unwrap().contains("`Get-Mailbox -ResultSize 2"));
}

/// `Start-Transcript -IncludeInvocationHeader` (and the Group Policy that turns
/// transcription on with invocation headers) writes a banner of its own before
/// each command. The transcript reads as it does without them: the same
/// parts, verdicts and advisories, no banner taken for output.
#[test]
fn invocation_headers_are_banners_not_output() {
    let text = std::fs::read_to_string(fixture("transcript/transcript.txt")).unwrap();
    let mut headed = String::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if line.starts_with("PS C:\\>") {
            let time = 20250123103909 + n;
            headed.push_str("**********************\r\n");
            headed.push_str(&format!("Command start time: {time}\r\n"));
            headed.push_str("**********************\r\n");
        }
        headed.push_str(line);
    }
    assert!(headed.matches("Command start time").count() >= 6, "{headed}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("transcript.txt"), &headed).unwrap();

    let (plain, _) = audit_json(&fixture("transcript"), &[]);
    let (with, code) = audit_json(dir.path(), &[]);
    assert_eq!(code, 0);
    let parts = |r: &Value| -> Vec<(String, String, u64)> {
        let inputs = r["inputs"].as_array().unwrap().iter();
        inputs
            .map(|i| (i["cmdlet"].to_string(), i["form"].to_string(), i["rows"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(parts(&with), parts(&plain));
    let codes = |r: &Value| -> Vec<String> {
        let advisories = r["advisories"].as_array().unwrap().iter();
        advisories.map(|a| a["code"].to_string()).collect()
    };
    assert_eq!(codes(&with), codes(&plain));
    assert!(!with["advisories"].to_string().contains("*****"), "{}", with["advisories"]);
    // The same verdicts and blockers; only the blockers' line numbers move.
    let csv = |dir: &std::path::Path| {
        let out = exoauth().arg("audit").arg(dir).args(["--format", "csv"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(csv(dir.path()), csv(&fixture("transcript")));
}

#[test]
fn a_file_named_after_a_cmdlet_wins_over_a_transcript_part() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("transcript/transcript.txt"), dir.path().join("transcript.txt")).unwrap();
    std::fs::copy(fixture("contoso/CasMailbox.csv"), dir.path().join("CasMailbox.csv")).unwrap();
    let (r, _) = audit_json(dir.path(), &[]);
    let cas = r["inputs"].as_array().unwrap().iter().find(|i| i["cmdlet"] == "Get-EXOCasMailbox");
    assert!(cas.unwrap()["path"].as_str().unwrap().ends_with("CasMailbox.csv"));
    assert!(r["advisories"].as_array().unwrap().iter().any(|a| {
        a["code"] == "transcript-part-ignored"
            && a["message"].as_str().unwrap().contains("already holds it")
    }));
}

#[test]
fn truncated_table_cells_are_warnings_and_rows_that_need_them_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("contoso-table")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    // Cut alex.wilber@'s Guid as Format-Table does at the console width.
    let cas = dir.path().join("CasMailbox.txt");
    let text = std::fs::read_to_string(&cas).unwrap();
    let text = text
        .replace("15fb090c-e216-41ed-b435-a76354ccb871", "15fb090c-e216-41ed-b435-a7635…      ");
    std::fs::write(&cas, text).unwrap();
    let (r, code) = audit_json(dir.path(), &[]);
    assert_eq!(code, 2);
    let rejected = r["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(rejected[0]["source"].as_str().unwrap().starts_with("CasMailbox.txt:"));
    assert!(rejected[0]["reason"].as_str().unwrap().starts_with("Guid was cut by Format-Table"));
    assert!(r["advisories"].as_array().unwrap().iter().any(|a| {
        a["code"] == "truncated-cell"
            && a["message"].as_str().unwrap().contains("CasMailbox.txt:4: Guid (column 31) was cut")
    }));
}

#[test]
fn parse_converts_a_table_to_csv_and_reports_what_it_read() {
    // UTF-8 with a byte-order mark by default (what Excel needs), without on request.
    exoauth()
        .args(["parse", "fixtures/contoso-table/TransportConfig.txt", "--csv-bom", "never"])
        .assert()
        .success()
        .stdout("\"SmtpClientAuthenticationDisabled\"\r\n\"True\"\r\n");
    exoauth()
        .args(["parse", "fixtures/contoso-table/TransportConfig.txt"])
        .assert()
        .success()
        .stdout("\u{feff}\"SmtpClientAuthenticationDisabled\"\r\n\"True\"\r\n")
        .stderr(
            "exoauth: TransportConfig.txt: table (utf-8), 1 record, 0 warnings, 0 rejected rows\n  form: Format-Table: lines 2-4 look like Format-Table (3 of 3 lines are in blocks with a rule of dashes under the header)\n",
        );
}

#[test]
fn parse_reads_utf16_format_list_and_names_its_warnings() {
    let out = exoauth()
        .args(["parse", "fixtures/quirks/list-truncated/CasMailbox.txt", "--to", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let records: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 5);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("list (utf-16le), 5 records, 2 warnings"), "{stderr}");
    assert!(
        stderr.contains("warning[truncated-collection] CasMailbox.txt:2: EmailAddresses"),
        "{stderr}"
    );
}

#[test]
fn parse_needs_part_for_a_transcript_with_several_outputs() {
    exoauth()
        .args(["parse", "fixtures/transcript/transcript.txt"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("this transcript holds 6 outputs; choose one with --part N")
                .and(predicate::str::contains("--part 5: line").and(predicate::str::contains(
                    "table from `Get-EXOCasMailbox -ResultSize Unlimited",
                ))),
        );
    let out = exoauth()
        .args(["parse", "fixtures/transcript/transcript.txt", "--part", "6", "--to", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let users: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(users[0]["UserPrincipalName"], "info@contoso.com");
    assert!(String::from_utf8_lossy(&out.stderr).contains("* part 6 at line"));
    exoauth()
        .args(["parse", "fixtures/transcript/transcript.txt", "--part", "9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("there is no part 9"));
}

#[test]
fn parse_errors_show_the_line_a_caret_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("User.txt");
    std::fs::write(&path, "Name : Alex\nPopEnabled : True\nthis line is no property\n").unwrap();
    exoauth().arg("parse").arg(&path).assert().code(2).stdout("").stderr(
        "exoauth: error: User.txt:3:5: expected `Name : value` as Format-List prints it, found \"this line is no property\"; is this Format-List output?\n  |\n3 | this line is no property\n  |     ^\n  = hint: re-export with `Export-Csv -NoTypeInformation -Encoding UTF8` or the companion script scripts/Export-ExoAuthInventory.ps1\n",
    );
    // A list run into a table in one paragraph: neither form is read silently
    // (the table reader would take the list lines for its wrapped header).
    std::fs::write(
        &path,
        "Name  : Alex\nNote  : x\nName    Note\n----    ----\nAlex    Head of Sa...\n",
    )
    .unwrap();
    exoauth().arg("parse").arg(&path).assert().code(2).stderr(predicate::str::contains(
        "User.txt:3:1: cannot tell which form this is: lines 3-5 look like Format-Table (3 of 5 lines are in blocks with a rule of dashes under the header), but lines 1-2 look like Format-List",
    ).and(predicate::str::contains("--form CasMailbox").not()).and(predicate::str::contains("exoauth audit DIR --form User=table")));
}

/// `exoauth parse` streams Format-List, Format-Table and `ConvertTo-Json`
/// files from disk, each record written as it is read: on every such fixture,
/// and on damaged and re-encoded copies of them, the stream writes the bytes
/// and says the summary the whole-file read gives, in CSV and in JSON, and
/// what it does not stream (a transcript, pasted text) it leaves to that read.
#[test]
fn parse_streams_exactly_what_it_reads_whole() {
    use exoauth::emit::convert::{Target, Writer, render, summary};
    use exoauth::load::{open_streamed, read_one};
    use exoauth::progress::Silent;

    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("fixtures")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "txt" || e == "json" || e == "csv") {
                files.push(path);
            }
        }
    }
    files.sort();
    // Damaged and re-encoded copies of the sample tenant's console text.
    let list = std::fs::read_to_string("fixtures/contoso-list/CasMailbox.txt").unwrap();
    let table = std::fs::read_to_string("fixtures/contoso-table/User.txt").unwrap();
    let csv = std::fs::read_to_string("fixtures/contoso/CasMailbox.csv").unwrap();
    let utf16 = |text: &str| {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    };
    let ansi = |text: &str| encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
    let cut = |text: &str, at: usize| text[..text.floor_char_boundary(at)].to_owned();
    let json = "[\n  {\n    \"Name\": \"a\",\n    \"Note\": \"O'Brien \\\"x\\\"\"\n  },\n  {\n    \"Name\": \"b\",\n    \"EmailAddresses\": \"System.Collections.ArrayList\"\n  }\n]\n";
    for (name, bytes) in [
        ("list-utf16.txt", utf16(&list)),
        ("list-1252.txt", ansi(&list)),
        ("list-cut.txt", cut(&list, list.len() * 3 / 5).into_bytes()),
        ("list-crlf.txt", list.replace('\n', "\r\n").into_bytes()),
        ("table-utf16.txt", utf16(&table)),
        ("table-1252.txt", ansi(&table)),
        ("table-cut.txt", cut(&table, table.len() / 2).into_bytes()),
        ("csv-utf16.csv", utf16(&csv)),
        ("csv-1252.csv", ansi(&csv)),
        ("csv-semicolon.csv", csv.replace("\",\"", "\";\"").into_bytes()),
        ("csv-cut.csv", cut(&csv, csv.len() * 2 / 3).into_bytes()),
        // Pasted console text past the first block: the stream gives way.
        ("csv-pasted-late.csv", {
            let rows: String =
                csv.lines().skip(1).cycle().take(12_000).map(|l| format!("{l}\r\n")).collect();
            format!("{}\r\n{rows}PS C:\\> Get-EXOCasMailbox\r\n", csv.lines().next().unwrap())
                .into_bytes()
        }),
        ("objects.json", json.as_bytes().to_vec()),
        ("objects-utf16.json", utf16(json)),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        files.push(path);
    }
    let (mut streamed_files, mut gave_way) = (0, 0);
    for path in &files {
        let whole = read_one(path, &std::fs::read(path).unwrap(), None, None);
        for target in [Target::Csv, Target::Json] {
            let Some(mut streamed) = open_streamed(path, None, None, &Silent).unwrap() else {
                continue;
            };
            let whole =
                whole.as_ref().unwrap_or_else(|e| panic!("{}: streamed, but {e}", path.display()));
            let mut out = Vec::new();
            let mut writer = Writer::start(&mut out, target, streamed.columns()).unwrap();
            streamed.each(&mut |_, cells| writer.record(cells).unwrap());
            writer.finish().unwrap();
            let what = format!("{} as {target:?}", path.display());
            let Some(read) = streamed.finish().unwrap() else {
                // Only a CSV file, read in one pass, gives way after its start.
                assert_eq!(path.extension().unwrap(), "csv", "{what}: the second pass gave way");
                gave_way += 1;
                continue;
            };
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&render(&whole.parsed.table, target)),
                "{what}"
            );
            assert_eq!(summary(&read), summary(whole), "{what}");
            streamed_files += usize::from(target == Target::Csv);
        }
    }
    // The sample tenant as Format-List and Format-Table, the UTF-16 quirk and
    // the copies above, at least.
    assert!(streamed_files >= 30, "only {streamed_files} files were streamed");
    assert_eq!(gave_way, 2, "the pasted CSV gives way, as CSV and as JSON");
}

/// A CSV file is streamed in one pass, so pasted console text far into it is
/// found only after records were written: into a file, that output is
/// dropped and the file read whole; on standard output the records written
/// are said to be incomplete, and the exit code is 2.
#[test]
fn parse_reads_a_csv_whole_when_the_stream_gives_way_past_its_start() {
    // The sample's `#TYPE` line and header, then its rows again and again.
    let csv = std::fs::read_to_string("fixtures/contoso/CasMailbox.csv").unwrap();
    let header = csv.lines().take(2).collect::<Vec<_>>().join("\r\n");
    let rows: String =
        csv.lines().skip(2).cycle().take(12_000).map(|l| format!("{l}\r\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("CasMailbox.csv");
    std::fs::write(&path, format!("{header}\r\n{rows}PS C:\\> Get-EXOCasMailbox\r\n")).unwrap();
    let whole = exoauth::load::read_one(&path, &std::fs::read(&path).unwrap(), None, None).unwrap();
    assert_eq!(whole.records, 12_000);
    let out = dir.path().join("out.csv");
    exoauth()
        .arg("parse")
        .arg(&path)
        .arg("-o")
        .arg(&out)
        .args(["--csv-bom", "never"])
        .assert()
        .success();
    let want =
        exoauth::emit::convert::render(&whole.parsed.table, exoauth::emit::convert::Target::Csv);
    assert!(std::fs::read(&out).unwrap() == want, "the file output is not the whole read's");
    assert!(!dir.path().join(".out.csv.partial").exists());
    exoauth().arg("parse").arg(&path).assert().code(2).stderr(
        predicate::str::contains("the records written above are incomplete")
            .and(predicate::str::contains("convert it with -o FILE")),
    );
}

/// `exoauth parse big.txt | head`: once the output is closed the stream is
/// stopped (`Stoppable`), and each form's reader hands on no more than the
/// rest of the block it was reading, instead of reading the file to its end.
#[test]
fn a_stopped_parse_stream_reads_no_further() {
    use exoauth::progress::{Silent, Stoppable};

    let n = 40_000;
    let guid = |k: usize| format!("{k:08x}-e772-455d-9d3e-cdb3db85df23");
    let mut csv =
        String::from("\"Guid\",\"PrimarySmtpAddress\",\"PopEnabled\",\"ImapEnabled\"\r\n");
    let mut list = String::from("\r\n");
    let mut json = Vec::new();
    for k in 0..n {
        let (g, smtp) = (guid(k), format!("user{k}@contoso.com"));
        csv.push_str(&format!("\"{g}\",\"{smtp}\",\"True\",\"False\"\r\n"));
        list.push_str(&format!(
            "Guid               : {g}\r\nPrimarySmtpAddress : {smtp}\r\nPopEnabled         : True\r\nImapEnabled        : False\r\n\r\n"
        ));
        json.push(format!(
            "    {{\r\n        \"Guid\":  \"{g}\",\r\n        \"PrimarySmtpAddress\":  \"{smtp}\",\r\n        \"PopEnabled\":  true,\r\n        \"ImapEnabled\":  false\r\n    }}"
        ));
    }
    let json = format!("[\r\n{}\r\n]\r\n", json.join(",\r\n"));
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in
        [("CasMailbox.csv", csv), ("CasMailbox.txt", list), ("CasMailbox.json", json)]
    {
        assert!(text.len() > 3 << 20, "{name} spans several blocks: {} bytes", text.len());
        let path = dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        let count = |stop_after: Option<usize>| {
            let progress = Stoppable::new(&Silent);
            let mut streamed = exoauth::load::open_streamed(&path, None, None, &progress)
                .unwrap()
                .unwrap_or_else(|| panic!("{name} is read as a stream"));
            let mut records = 0;
            streamed.each(&mut |_, _| {
                records += 1;
                if Some(records) == stop_after {
                    progress.stop();
                }
            });
            records
        };
        assert_eq!(count(None), n, "{name}: every record, unstopped");
        let stopped = count(Some(10));
        assert!((10..n / 2).contains(&stopped), "{name}: {stopped} of {n} records after the stop");
    }
}
