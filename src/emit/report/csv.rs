//! The CSV report: one row per in-scope mailbox, one column per protocol verdict
//! and one for the blockers.
//!
//! Cells a spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab or
//! CR) are prefixed with `'` (OWASP "CSV injection"): mailbox names come from the
//! tenant and can be chosen by anyone who can name a mailbox.

use std::borrow::Cow;
use std::io;

use super::{MailboxView, Renderer, Report, write_blockers_cell};
use crate::audit::{self, Audit, Finding, Options};
use crate::model::Snapshot;
use crate::model::exceptions::format_date;
use crate::model::ids::Id;
use crate::model::usage::format_time;
use crate::progress::{Progress, Silent};

/// The CSV renderer.
#[derive(Debug, Clone, Copy)]
pub struct Csv;

/// Neutralises a cell that a spreadsheet would evaluate.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match is_formula(cell) {
        true => Cow::Owned(format!("'{cell}")),
        false => Cow::Borrowed(cell),
    }
}

/// True for a cell a spreadsheet would evaluate.
fn is_formula(cell: &str) -> bool {
    matches!(cell.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

impl Renderer for Csv {
    /// The rows come from an audit of their own ([`audit_and_write`]), the same
    /// pass that `exoauth audit` writes a CSV report in.
    fn render(&self, r: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        audit_and_write(&r.loaded.snapshot, r.options, &Silent, out).map(drop)
    }
}

/// Audits `snapshot` and writes its CSV report while doing so: the header, then
/// each in-scope mailbox's row as the audit reaches it, so that the report costs
/// no pass over the mailboxes of its own. Returns the audit.
pub fn audit_and_write<'s>(
    snapshot: &'s Snapshot,
    options: &Options,
    progress: &dyn Progress,
    out: &mut dyn io::Write,
) -> io::Result<Audit<'s>> {
    header(snapshot, options, out)?;
    audit::audit_writing(
        snapshot,
        options,
        progress,
        out,
        Some(&|found, buf| {
            let mut cell = String::new();
            for (f, mailbox) in found {
                row(snapshot, &f, &MailboxView::new(snapshot, &f, mailbox), &mut cell, buf);
            }
            Ok(())
        }),
    )
}

/// The header: the identifiers, the verdicts and blockers, then readiness and
/// exception columns when there is evidence or a register.
fn header(s: &Snapshot, options: &Options, out: &mut dyn io::Write) -> io::Result<()> {
    let mut header: Vec<String> = [
        "identity",
        "display_name",
        "user_principal_name",
        "primary_smtp_address",
        "recipient_type",
        "effective_policy",
        "policy_source",
        "flagged",
    ]
    .map(String::from)
    .into();
    header.extend(options.protocols.iter().map(|p| p.as_str().to_owned()));
    header.push("blockers".into());
    if s.usage.is_some() {
        for p in &options.protocols {
            header.push(format!("{p}_readiness"));
            header.push(format!("{p}_last_success"));
        }
    }
    if s.exceptions.is_some() {
        header.push("excepted".into());
        header.push("exception_until".into());
    }
    let mut line = Vec::new();
    let mut w = Line::new(&mut line);
    for name in &header {
        w.words(name);
    }
    w.end();
    out.write_all(&line)
}

/// Whether a cell holds a comma, a quote or a line break: eight bytes at a
/// time (the cells are names and addresses, a few dozen bytes each).
fn needs_quotes(cell: &[u8]) -> bool {
    use crate::input::tokenize::lanes_eq;
    let words = cell.chunks_exact(8);
    let rest = words.remainder();
    words.map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default())).any(|w| {
        (lanes_eq(w, b',') | lanes_eq(w, b'"') | lanes_eq(w, b'\r') | lanes_eq(w, b'\n')) != 0
    }) || rest.iter().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// One record being written: cells quoted as the `csv` crate's writer (its
/// defaults) quotes them, straight into the report's buffer. The report writes
/// twelve million cells at a million mailboxes; going through `csv::Writer`
/// cost a buffer copy and a call per cell, and most cells are exoauth's own
/// words, which need no scan for quotes (`perf`: writing the rows went from
/// about 13% of the run's CPU to 8%). A test holds the two byte-identical.
struct Line<'b> {
    out: &'b mut Vec<u8>,
    first: bool,
}

impl<'b> Line<'b> {
    fn new(out: &'b mut Vec<u8>) -> Line<'b> {
        Line { out, first: true }
    }

    /// Writes a cell, [`neutralise`]d.
    fn text(&mut self, cell: &str) {
        self.write(if is_formula(cell) { "'" } else { "" }, cell);
    }

    /// Writes an identifier: a GUID held as bytes as its 36 characters (hex
    /// digits and hyphens: never quoted, never a formula), text as [`Line::text`].
    fn id(&mut self, id: Id<'_>) {
        match id {
            Id::Guid(g) => {
                self.separate();
                self.out.extend_from_slice(g.ascii());
            }
            Id::Text(t) => self.text(t),
        }
    }

    /// Writes a cell of exoauth's own words (verdicts, codes, `true`, dates),
    /// which hold no quote or line break: quoted only for a comma.
    fn words(&mut self, cell: &str) {
        debug_assert!(!cell.contains(['"', '\r', '\n']), "{cell}");
        self.separate();
        match memchr::memchr(b',', cell.as_bytes()) {
            None => self.out.extend_from_slice(cell.as_bytes()),
            Some(_) => {
                self.out.push(b'"');
                self.out.extend_from_slice(cell.as_bytes());
                self.out.push(b'"');
            }
        }
    }

    fn separate(&mut self) {
        if !std::mem::replace(&mut self.first, false) {
            self.out.push(b',');
        }
    }

    /// Writes `prefix` then `cell` as one cell, quoted when it holds a comma,
    /// a quote or a line break (quotes doubled).
    fn write(&mut self, prefix: &str, cell: &str) {
        self.separate();
        let cell = cell.as_bytes();
        if !needs_quotes(cell) {
            self.out.extend_from_slice(prefix.as_bytes());
            self.out.extend_from_slice(cell);
            return;
        }
        self.out.push(b'"');
        self.out.extend_from_slice(prefix.as_bytes());
        let mut from = 0;
        for quote in memchr::memchr_iter(b'"', cell) {
            self.out.extend_from_slice(&cell[from..=quote]);
            self.out.push(b'"');
            from = quote + 1;
        }
        self.out.extend_from_slice(&cell[from..]);
        self.out.push(b'"');
    }

    /// Ends the record.
    fn end(self) {
        self.out.push(b'\n');
    }
}

/// Writes one mailbox's row; `cell` is a buffer for the cells made here.
fn row(s: &Snapshot, f: &Finding, v: &MailboxView<'_>, cell: &mut String, out: &mut Vec<u8>) {
    let mut w = Line::new(out);
    let (name, upn, smtp) = (v.display_name(), v.user_principal_name(), v.primary_smtp_address());
    w.id(v.identity());
    for c in [
        name.as_deref(),
        upn.as_deref(),
        smtp.as_deref(),
        f.recipient_type.as_deref(),
        f.effective_policy.as_deref(),
        Some(f.policy_source.as_str()),
        Some(if f.flagged { "true" } else { "false" }),
    ] {
        w.text(c.unwrap_or(""));
    }
    for (_, pv) in f.verdicts() {
        w.words(pv.verdict.as_str());
    }
    cell.clear();
    write_blockers_cell(f, cell);
    w.words(cell);
    if let Some(u) = &s.usage {
        for (p, _) in f.verdicts() {
            let pu = u.get(f.mailbox, p);
            w.words(pu.readiness().as_str());
            w.words(&pu.last_success.map(format_time).unwrap_or_default());
        }
    }
    if let Some(x) = &s.exceptions {
        let until = f.excepted.iter().map(|&k| x.rows[k as usize].until).min();
        w.words(if f.excepted.is_empty() { "false" } else { "true" });
        w.words(&until.map(format_date).unwrap_or_default());
    }
    w.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, want) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("alex@contoso.com", "alex@contoso.com"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), want);
        }
    }

    /// What the `csv` crate's writer, with its defaults, makes of `cells`
    /// neutralised.
    fn csv_crate(cells: &[String], words: &[String]) -> Vec<u8> {
        let mut w = ::csv::Writer::from_writer(Vec::new());
        let cells = cells.iter().map(|c| neutralise(c).into_owned());
        w.write_record(cells.chain(words.iter().cloned())).unwrap();
        w.into_inner().unwrap()
    }

    proptest::proptest! {
        /// Cells made of the bytes that matter (separators, quotes, line
        /// breaks, formula marks, non-ASCII), and cells of words, are written
        /// exactly as the `csv` crate writes them.
        #[test]
        fn lines_are_what_the_csv_crate_writes(
            cells in proptest::collection::vec("[a,\"\r\n=+@ \t'é-]{0,20}", 1..5),
            words in proptest::collection::vec("[a-z ,:;_-]{0,12}", 1..5),
        ) {
            let mut out = Vec::new();
            let mut line = Line::new(&mut out);
            for c in &cells {
                line.text(c);
            }
            for w in &words {
                line.words(w);
            }
            line.end();
            let want = csv_crate(&cells, &words);
            proptest::prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&want));
        }
    }
}
