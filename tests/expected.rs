//! Cross-checks against the `EXPECTED.md` files that sit beside the fixtures.
//!
//! `fixtures/contoso/EXPECTED.md` and `fixtures/edge-values/*/EXPECTED.md` were
//! worked out by hand from the README's rules (and are re-derived by the
//! independent evaluator in `fixtures/make_fixtures.py`); the quirk and onprem
//! files come from that evaluator. Neither shares code with exoauth, so
//! agreement here is evidence, not an echo.
//!
//! Each file holds a verdict table (per mailbox: scope, and per protocol the
//! verdict and blocker codes) and totals (mailbox counts, verdicts per protocol,
//! blockers) for the default scope and for `--all-recipient-types`. Both are
//! checked against the binary's JSON report, the totals against its `summary`.
//! The parser takes exactly the layout `make_fixtures.py` writes: a missing,
//! reordered or malformed section fails the test instead of going unchecked, and
//! every `EXPECTED.md` under `fixtures/` must be listed below.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

use serde_json::Value;

use crate::util::{audit_json, fixture, root};

/// An `EXPECTED.md` with a verdict table, and the fixture folders it describes.
struct Table {
    /// The folder holding the `EXPECTED.md`, under `fixtures/`.
    expected: &'static str,
    /// The folders audited against it: the same tenant in other forms too.
    folders: &'static [&'static str],
    /// Extra `exoauth audit` arguments.
    args: &'static [&'static str],
}

const fn table(expected: &'static str) -> Table {
    Table { expected, folders: &[], args: &[] }
}

/// Every verdict table under `fixtures/`.
const TABLES: &[Table] = &[
    // contoso's table covers its UTF-16LE, Format-List, Format-Table and transcript copies too,
    // and the pasted copies of its CasMailbox (each listed in COPIES).
    Table {
        expected: "contoso",
        folders: &[
            "contoso",
            "contoso-utf16",
            "contoso-list",
            "contoso-table",
            "transcript",
            "paste/indented",
            "paste/quoted",
            "paste/fenced",
            "paste/html-br",
            "paste/echoed-command",
            "paste/bare-prompt",
            "paste/module-banner",
            "paste/excel-ansi",
        ],
        args: &[],
    },
    table("quirks/ps7-csv"),
    table("quirks/semicolon"),
    table("quirks/unquoted"),
    table("quirks/list-truncated"),
    table("quirks/exo-minimum"),
    table("quirks/hostile-names"),
    Table { expected: "onprem", folders: &[], args: &["--environment", "onprem"] },
    table("edge-values/blanks"),
    table("edge-values/no-org"),
    table("edge-values/no-transport"),
    table("paste/only-casmailbox"),
];

/// `EXPECTED.md` files that describe an error rather than verdicts; each is
/// exercised by `tests/bad_input.rs`.
/// Fixtures whose EXPECTED.md states readiness (usage, exceptions), checked by
/// `tests/readiness.rs`.
const READINESS: &[&str] = &["contoso-signins"];

const NOTES: &[&str] = &[
    "bad/bad-boolean",
    "bad/binary",
    "bad/missing-column",
    "bad/truncated",
    "bad/wrong-cmdlet",
    "paste/empty",
    "paste/one-line-csv",
    "paste/table-then-list",
];

/// `EXPECTED.md` files that say their folder audits to another folder's verdict
/// table: each folder is in that table's `folders` above, and its note names
/// that table's file.
const COPIES: &[&str] = &[
    "paste/bare-prompt",
    "paste/echoed-command",
    "paste/excel-ansi",
    "paste/fenced",
    "paste/html-br",
    "paste/indented",
    "paste/module-banner",
    "paste/quoted",
];

const PROTOCOLS: [&str; 3] = ["pop", "imap", "smtp"];
const VERDICTS: [&str; 3] = ["allowed", "blocked", "unknown"];

/// The README's blocker codes that make a verdict `blocked`.
const DEFINITE: &[&str] = &[
    "account-disabled",
    "mailbox-protocol-disabled",
    "mailbox-smtp-auth-disabled",
    "tenant-smtp-auth-disabled",
    "user-policy-blocks",
    "default-policy-blocks",
    "security-defaults-enabled",
    "conditional-access-blocks",
];

/// The README's blocker codes that make a verdict `unknown` when nothing definite applies.
const INDEFINITE: &[&str] = &["policy-not-found", "input-missing"];

const VERDICT_HEADER: &str =
    "| PrimarySmtpAddress | Guid | in scope | pop | imap | smtp | RecipientTypeDetails |";
const IN_SCOPE_LABEL: &str =
    "in scope (default scope: RecipientTypeDetails UserMailbox, or no Get-User row)";
const FLAGGED_LABEL: &str = "flagged (direction allow: any protocol not allowed)";

/// One protocol's verdict and blocker codes, in report order.
type Verdict = (String, Vec<String>);

/// One row of the verdict table.
#[derive(Debug)]
struct Row {
    smtp: String,
    guid: String,
    in_scope: bool,
    /// pop, imap, smtp.
    protocols: Vec<Verdict>,
    recipient_type: String,
}

/// One totals section.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    mailboxes: usize,
    flagged: usize,
    /// Protocol to its allowed, blocked and unknown counts.
    by_protocol: BTreeMap<String, [usize; 3]>,
    /// Code to (mailbox x protocol occurrences, mailboxes with it on any protocol).
    by_blocker: BTreeMap<String, (usize, usize)>,
}

/// A whole `EXPECTED.md`.
#[derive(Debug)]
struct Expected {
    rows: Vec<Row>,
    /// "mailboxes in CasMailbox", "in scope", "out of scope".
    mailboxes: usize,
    in_scope: usize,
    out_of_scope: usize,
    default_scope: Totals,
    all: Totals,
}

/// A cursor over the lines of one file, failing with its path and line.
struct Lines<'a> {
    path: &'a str,
    lines: Vec<&'a str>,
    at: usize,
}

impl<'a> Lines<'a> {
    fn fail_at(&self, line: usize, expected: &str) -> ! {
        let found =
            self.lines.get(line).map_or("the end of the file".to_owned(), |l| format!("{l:?}"));
        panic!("{}:{}: expected {expected}, found {found}", self.path, line + 1)
    }

    fn fail(&self, expected: &str) -> ! {
        self.fail_at(self.at, expected)
    }

    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.at).copied()
    }

    /// Exactly this line.
    fn line(&mut self, want: &str) {
        if self.peek() != Some(want) {
            self.fail(&format!("{want:?}"));
        }
        self.at += 1;
    }

    /// `- LABEL: N`
    fn count(&mut self, label: &str) -> usize {
        let prefix = format!("- {label}: ");
        match self.peek().and_then(|l| l.strip_prefix(&prefix)).and_then(|n| n.parse().ok()) {
            Some(n) => {
                self.at += 1;
                n
            }
            None => self.fail(&format!("`{prefix}N`")),
        }
    }

    /// A header, its `|---|` rule, then rows of `width` cells up to a blank
    /// line or the end: `| a | b |`. Each row comes with its line index.
    fn table(&mut self, header: &str, width: usize) -> Vec<(usize, Vec<&'a str>)> {
        self.line(header);
        self.line(&format!("|{}", "---|".repeat(width)));
        let mut rows = Vec::new();
        while let Some(l) = self.peek().filter(|l| !l.is_empty()) {
            let cells: Option<Vec<&str>> = l
                .strip_prefix("| ")
                .and_then(|l| l.strip_suffix(" |"))
                .map(|l| l.split(" | ").collect());
            match cells {
                Some(cells) if cells.len() == width => rows.push((self.at, cells)),
                _ => self.fail(&format!("a table row of {width} cells")),
            }
            self.at += 1;
        }
        rows
    }

    fn parse<T: FromStr>(&self, line: usize, cell: &str, what: &str) -> T {
        cell.parse().unwrap_or_else(|_| self.fail_at(line, &format!("{what}, not {cell:?}")))
    }
}

/// `allowed`, or `blocked (codes)` / `unknown (codes)`: known codes, and the
/// verdict the README's rule gives for them.
fn verdict_cell(cell: &str) -> Option<Verdict> {
    let (verdict, codes): (&str, Vec<String>) = match cell.split_once(" (") {
        Some((v, codes)) => (v, codes.strip_suffix(')')?.split(", ").map(str::to_owned).collect()),
        None => (cell, Vec::new()),
    };
    let known = |c: &String| DEFINITE.contains(&c.as_str()) || INDEFINITE.contains(&c.as_str());
    let follows = if codes.iter().any(|c| DEFINITE.contains(&c.as_str())) {
        "blocked"
    } else if codes.is_empty() {
        "allowed"
    } else {
        "unknown"
    };
    (codes.iter().all(known) && verdict == follows).then(|| (verdict.to_owned(), codes))
}

/// Reads `fixtures/REL/EXPECTED.md`.
fn expected(rel: &str) -> Expected {
    let path = format!("fixtures/{rel}/EXPECTED.md");
    let text =
        std::fs::read_to_string(root().join(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut c = Lines { path: &path, lines: text.lines().collect(), at: 0 };

    // Free prose (the hand-worked reasoning) comes before the one verdict table.
    let headers: Vec<usize> =
        (0..c.lines.len()).filter(|&i| c.lines[i] == VERDICT_HEADER).collect();
    let [start] = headers[..] else {
        panic!("{path}: expected one verdict table (`{VERDICT_HEADER}`), found {}", headers.len())
    };
    c.at = start;
    let mut seen = BTreeSet::new();
    let rows: Vec<Row> = c
        .table(VERDICT_HEADER, 7)
        .into_iter()
        .map(|(line, cells)| {
            let protocols = cells[3..6]
                .iter()
                .map(|cell| {
                    verdict_cell(cell).unwrap_or_else(|| {
                        c.fail_at(
                            line,
                            "`allowed`, or `blocked`/`unknown` with the codes that give it",
                        )
                    })
                })
                .collect();
            let in_scope = match cells[2] {
                "yes" => true,
                "no" => false,
                _ => c.fail_at(line, "`yes` or `no` in the scope column"),
            };
            if cells[0].is_empty() || cells[1].is_empty() || !seen.insert(cells[0]) {
                c.fail_at(line, "a primary SMTP address and Guid, each address once");
            }
            Row {
                smtp: cells[0].to_owned(),
                guid: cells[1].to_owned(),
                in_scope,
                protocols,
                recipient_type: cells[6].to_owned(),
            }
        })
        .collect();
    if rows.is_empty() {
        c.fail("at least one mailbox row");
    }

    c.line("");
    c.line("## Summary");
    c.line("");
    let mailboxes = c.count("mailboxes in CasMailbox");
    let in_scope = c.count(IN_SCOPE_LABEL);
    let out_of_scope = c.count("out of scope");
    c.line("");
    c.line("## Totals, in scope (default scope)");
    c.line("");
    let default_scope = totals(&mut c);
    c.line("");
    c.line("## Totals, all mailboxes (`--all-recipient-types`)");
    c.line("");
    let all = totals(&mut c);
    if c.peek().is_some() {
        c.fail("the end of the file");
    }
    Expected { rows, mailboxes, in_scope, out_of_scope, default_scope, all }
}

/// One `## Totals` section's body.
fn totals(c: &mut Lines<'_>) -> Totals {
    let mailboxes = c.count("mailboxes");
    let flagged = c.count(FLAGGED_LABEL);
    c.line("");
    let protocols = c.table("| protocol | allowed | blocked | unknown |", 4);
    if !protocols.iter().map(|(_, cells)| cells[0]).eq(PROTOCOLS) {
        c.fail_at(
            protocols.first().map_or(c.at, |r| r.0),
            "the rows pop, imap, smtp in that order",
        );
    }
    let by_protocol = protocols
        .iter()
        .map(|(line, cells)| {
            let n = |i: usize| c.parse(*line, cells[i], "a count");
            (cells[0].to_owned(), [n(1), n(2), n(3)])
        })
        .collect();
    c.line("");
    let mut by_blocker = BTreeMap::new();
    let header = "| blocker | mailbox x protocol occurrences | mailboxes (any protocol) |";
    for (line, cells) in c.table(header, 3) {
        let known = DEFINITE.contains(&cells[0]) || INDEFINITE.contains(&cells[0]);
        let counts: (usize, usize) =
            (c.parse(line, cells[1], "a count"), c.parse(line, cells[2], "a count"));
        if !known || counts.1 == 0 || counts.0 < counts.1 {
            c.fail_at(line, "a known code, occurrences at least its mailboxes, at least one");
        }
        if by_blocker.insert(cells[0].to_owned(), counts).is_some() {
            c.fail_at(line, "each code once");
        }
    }
    Totals { mailboxes, flagged, by_protocol, by_blocker }
}

/// The totals that `rows` add up to: what the tables must say.
fn totals_of<'a>(rows: impl Iterator<Item = &'a Row>) -> Totals {
    let mut t = Totals::default();
    for p in PROTOCOLS {
        t.by_protocol.insert(p.to_owned(), [0; 3]);
    }
    for row in rows {
        t.mailboxes += 1;
        t.flagged += usize::from(row.protocols.iter().any(|(v, _)| v != "allowed"));
        let mut codes = BTreeSet::new();
        for (p, (verdict, on)) in PROTOCOLS.iter().zip(&row.protocols) {
            let k = VERDICTS.iter().position(|v| v == verdict).unwrap();
            t.by_protocol.get_mut(*p).unwrap()[k] += 1;
            for code in on.iter().collect::<BTreeSet<_>>() {
                t.by_blocker.entry(code.clone()).or_default().0 += 1;
                codes.insert(code);
            }
        }
        for code in codes {
            t.by_blocker.get_mut(code).unwrap().1 += 1;
        }
    }
    t
}

/// The codes of a mailbox's blockers for one protocol, in report order.
fn actual(mailbox: &Value, protocol: &str) -> Verdict {
    let p = &mailbox["protocols"][protocol];
    let codes = p["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap().to_owned())
        .collect();
    (p["basic_auth"].as_str().unwrap().to_owned(), codes)
}

fn count(v: &Value, what: &str) -> usize {
    let n = v.as_u64().unwrap_or_else(|| panic!("{what}: not a count: {v}"));
    usize::try_from(n).unwrap()
}

/// Every mailbox of the report against its row, and no mailbox without one.
fn check_mailboxes(want: &Expected, report: &Value, all: bool, what: &str) {
    let mailboxes = report["mailboxes"].as_array().unwrap();
    let mut checked = 0;
    for row in &want.rows {
        let found =
            mailboxes.iter().find(|m| m["primary_smtp_address"].as_str() == Some(&row.smtp));
        if !all && !row.in_scope {
            assert!(found.is_none(), "{what}: {} should be out of scope", row.smtp);
            continue;
        }
        let m = found.unwrap_or_else(|| panic!("{what}: {} missing from the report", row.smtp));
        assert_eq!(m["identity"].as_str(), Some(row.guid.as_str()), "{what}: {} Guid", row.smtp);
        assert_eq!(
            m["recipient_type"].as_str().unwrap_or("(no Get-User row)"),
            row.recipient_type,
            "{what}: {} RecipientTypeDetails",
            row.smtp
        );
        for (p, want) in PROTOCOLS.iter().zip(&row.protocols) {
            assert_eq!(&actual(m, p), want, "{what}: {} {p}", row.smtp);
        }
        checked += 1;
    }
    assert_eq!(checked, mailboxes.len(), "{what}: report has mailboxes EXPECTED.md lacks");
}

/// The report's `summary` against the totals tables.
fn check_summary(want: &Expected, report: &Value, all: bool, what: &str) {
    let t = if all { &want.all } else { &want.default_scope };
    let s = &report["summary"];
    let field = |name: &str| count(&s[name], &format!("{what}: summary.{name}"));
    assert_eq!(field("mailboxes"), want.mailboxes, "{what}: summary.mailboxes");
    assert_eq!(field("in_scope"), t.mailboxes, "{what}: summary.in_scope");
    assert_eq!(field("flagged"), t.flagged, "{what}: summary.flagged");
    assert_eq!(field("rejected_rows"), 0, "{what}: summary.rejected_rows");

    let by_protocol: BTreeMap<String, [usize; 3]> = s["by_protocol"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: summary.by_protocol is not an object"))
        .iter()
        .map(|(p, c)| (p.clone(), VERDICTS.map(|v| count(&c[v], &format!("{what}: {p}.{v}")))))
        .collect();
    assert_eq!(by_protocol, t.by_protocol, "{what}: summary.by_protocol");

    let by_blocker: BTreeMap<String, usize> = s["by_blocker"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: summary.by_blocker is not an object"))
        .iter()
        .map(|(code, n)| (code.clone(), count(n, &format!("{what}: by_blocker.{code}"))))
        .collect();
    let want_mailboxes: BTreeMap<String, usize> =
        t.by_blocker.iter().map(|(code, (_, m))| (code.clone(), *m)).collect();
    assert_eq!(by_blocker, want_mailboxes, "{what}: summary.by_blocker (mailboxes per code)");

    // The summary has no occurrence counts: count them over the report's mailboxes.
    let mut occurrences: BTreeMap<String, usize> = BTreeMap::new();
    for m in report["mailboxes"].as_array().unwrap() {
        for p in PROTOCOLS {
            for code in actual(m, p).1.into_iter().collect::<BTreeSet<_>>() {
                *occurrences.entry(code).or_default() += 1;
            }
        }
    }
    let want_occurrences: BTreeMap<String, usize> =
        t.by_blocker.iter().map(|(code, (n, _))| (code.clone(), *n)).collect();
    assert_eq!(occurrences, want_occurrences, "{what}: blocker occurrences per mailbox x protocol");
}

/// The totals tables add up to the verdict table: catches a slip in a
/// hand-worked file even where the report happens to agree with the rows.
fn check_arithmetic(rel: &str, want: &Expected) {
    let in_scope = want.rows.iter().filter(|r| r.in_scope).count();
    assert_eq!(
        (want.mailboxes, want.in_scope, want.out_of_scope),
        (want.rows.len(), in_scope, want.rows.len() - in_scope),
        "{rel}/EXPECTED.md: ## Summary against the verdict table"
    );
    assert_eq!(
        want.default_scope,
        totals_of(want.rows.iter().filter(|r| r.in_scope)),
        "{rel}/EXPECTED.md: in-scope totals against the verdict table"
    );
    assert_eq!(
        want.all,
        totals_of(want.rows.iter()),
        "{rel}/EXPECTED.md: all-mailbox totals against the verdict table"
    );
}

fn check(t: &Table) {
    let want = expected(t.expected);
    let folders = if t.folders.is_empty() { &[t.expected][..] } else { t.folders };
    for folder in folders {
        for all in [false, true] {
            let mut args = t.args.to_vec();
            if all {
                args.push("--all-recipient-types");
            }
            let what = format!("{folder} (against {}/EXPECTED.md) {}", t.expected, args.join(" "));
            let (report, code) = audit_json(&fixture(folder), &args);
            assert_eq!(code, 0, "{what}: exit code");
            check_mailboxes(&want, &report, all, &what);
            check_summary(&want, &report, all, &what);
        }
    }
    check_arithmetic(t.expected, &want);
}

fn check_all(prefix: &str) {
    let mut n = 0;
    for t in TABLES.iter().filter(|t| t.expected.starts_with(prefix)) {
        check(t);
        n += 1;
    }
    assert!(n > 0, "no table under {prefix}");
}

#[test]
fn contoso_and_its_copies_match_the_hand_worked_table() {
    check_all("contoso");
}

#[test]
fn quirk_folders_match_their_tables() {
    check_all("quirks/");
}

#[test]
fn onprem_matches_its_table() {
    check_all("onprem");
}

#[test]
fn a_folder_with_only_casmailbox_matches_its_table() {
    check_all("paste/");
}

#[test]
fn edge_values_match_their_hand_worked_tables() {
    // Blank PopEnabled/ImapEnabled/AllowBasicAuth*/tenant switch, and exports
    // without OrganizationConfig or TransportConfig (issue 9, point 3).
    check_all("edge-values/");
}

/// Folders under `dir` (relative to `fixtures/`) that hold an `EXPECTED.md`.
fn expected_files(dir: &Path, rel: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let sub = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        if entry.file_type().unwrap().is_dir() {
            expected_files(&entry.path(), &sub, out);
        } else if name == "EXPECTED.md" {
            out.insert(rel.to_owned());
        }
    }
}

#[test]
fn every_expected_md_under_fixtures_is_checked() {
    let mut found = BTreeSet::new();
    expected_files(&fixture(""), "", &mut found);
    let listed: BTreeSet<String> = TABLES
        .iter()
        .map(|t| t.expected)
        .chain(NOTES.iter().copied())
        .chain(COPIES.iter().copied())
        .chain(READINESS.iter().copied())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        found, listed,
        "fixtures/**/EXPECTED.md against TABLES, NOTES, COPIES and READINESS in tests/expected.rs"
    );

    // A note that grew a verdict table belongs in TABLES; and each note's
    // folder must be one tests/bad_input.rs runs.
    let bad_input = include_str!("bad_input.rs");
    for rel in NOTES {
        let text = std::fs::read_to_string(fixture(rel).join("EXPECTED.md")).unwrap();
        assert!(!text.contains("| PrimarySmtpAddress"), "{rel}/EXPECTED.md has a verdict table");
        assert!(
            bad_input.contains(&format!("\"{rel}\"")),
            "{rel} is not exercised by tests/bad_input.rs"
        );
    }
    // A copy is audited against the table its note names.
    for rel in COPIES {
        let text = std::fs::read_to_string(fixture(rel).join("EXPECTED.md")).unwrap();
        assert!(!text.contains("| PrimarySmtpAddress"), "{rel}/EXPECTED.md has a verdict table");
        let t = TABLES.iter().find(|t| t.folders.contains(rel));
        let t = t.unwrap_or_else(|| panic!("{rel} is in COPIES but in no table's `folders`"));
        assert!(
            text.contains(&format!("`fixtures/{}/EXPECTED.md`", t.expected)),
            "{rel}/EXPECTED.md does not name fixtures/{}/EXPECTED.md",
            t.expected
        );
    }
}
