//! `Export-Csv` / `ConvertTo-Csv` text, as Windows PowerShell 5.1 and PowerShell 7
//! write it.
//!
//! Quirks handled:
//! - an optional first line `#TYPE Deserialized.Microsoft.Exchange...` (5.1 default;
//!   7 with `-IncludeTypeInformation`), or a bare `#TYPE`;
//! - every field quoted (`-UseQuotes Always`, the default), as needed, or never;
//! - `$null` written as nothing (`,,`) and the empty string as `""`: both mean null
//!   to the value rules, so the difference is not kept;
//! - CRLF or LF line endings, `,` or `;` delimiters;
//! - a truncated last row (cut mid-field, no final newline) is rejected as such;
//! - a row with the wrong number of fields is rejected with its line, not guessed.

use std::sync::Arc;

use super::tokenize::{Ends, Record, Span, Tokenizer};
use super::{Cells, Parsed, Records, Rejection, Source, SyntaxError, Table};

/// A CSV text read record by record. Each well-formed record goes to the caller
/// as it is read (see [`Records`]); broken ones become rejections, collected for
/// [`CsvStream::finish`].
pub struct CsvStream<'t> {
    file: Arc<str>,
    body: &'t str,
    skipped_lines: usize,
    delimiter: u8,
    /// Where the first record may start in `body` (past the header).
    records_from: usize,
    columns: Vec<String>,
    rejected: Vec<Rejection>,
}

impl<'t> CsvStream<'t> {
    /// Reads the header (after an optional `#TYPE` line).
    pub fn new(
        file: &Arc<str>,
        text: &'t str,
        delimiter: u8,
    ) -> Result<CsvStream<'t>, SyntaxError> {
        let (body, skipped_lines) = skip_type_line(text);
        let syntax = |message: String| SyntaxError::new(file, 1 + skipped_lines, 1, message);
        let (columns, span) = header(body, delimiter)
            .ok_or_else(|| syntax("the file has no header row; export with Export-Csv".into()))?;
        if let Some(cell) = data_like(&columns) {
            return Err(syntax(format!(
                "this line looks like a data row, not a CSV header: it holds {cell:?}, a value where Export-Csv writes a column name"
            ))
            .with_hint(
                "copy the header line (the first line of the export) with the rows, or export again with `Export-Csv -NoTypeInformation -Encoding UTF8`",
            ));
        }
        Ok(CsvStream {
            file: file.clone(),
            body,
            skipped_lines,
            delimiter,
            records_from: span.end,
            columns,
            rejected: Vec::new(),
        })
    }

    /// The rows rejected while streaming.
    pub fn finish(self) -> Vec<Rejection> {
        self.rejected
    }
}

impl Records for CsvStream<'_> {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn size_hint(&self) -> usize {
        // One record per line in PowerShell's exports (a value with a line break is
        // rare); counting bytes is far cheaper than growing the rows.
        memchr_count(self.body.as_bytes())
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        let width = self.columns.len();
        let first_line = 1 + self.skipped_lines;
        let (file, rejected) = (&self.file, &mut self.rejected);
        let block = Block { text: self.body, from: self.records_from, first_line, last: true };
        read_block(block, self.delimiter, width, &mut |r| match r {
            Read::Record(line, cells) => f(line, cells),
            Read::Rejected(line, reason) => rejected.push(Rejection {
                source: Source { file: crate::model::Text::new(file), line },
                reason,
            }),
        });
    }
}

/// The first header cell that is a value, not a column name: a GUID, an
/// address or a number (no property of an export is named so, and every
/// mailbox and user row holds a GUID or an address). Such a "header" is a data
/// row pasted without the export's header line, which would otherwise read as
/// a file with no rows at all.
pub(crate) fn data_like(columns: &[String]) -> Option<&str> {
    columns.iter().map(String::as_str).find(|c| {
        crate::model::looks_like_guid(c)
            || c.contains('@')
            || (!c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The header's column names, trimmed, and where it was found; `None` when
/// the text has no record or all its names are blank.
pub(crate) fn header(text: &str, delimiter: u8) -> Option<(Vec<String>, Span)> {
    let mut record = Record::new();
    let span = Tokenizer::new(delimiter, Ends::CrLf).read(text.as_bytes(), 0, &mut record)?;
    let fields = record.over_text(text);
    let columns: Vec<String> = fields.texts().map(|c| c.trim().to_owned()).collect();
    Some((columns, span)).filter(|(c, _)| !c.iter().all(String::is_empty))
}

/// What [`read_block`] found: a record to map, or a broken row with the reason.
pub(crate) enum Read<'a> {
    /// A well-formed record and the line it starts on.
    Record(usize, Cells<'a>),
    /// A row that cannot be used, its line and why.
    Rejected(usize, String),
}

/// Whole records of an export's text for [`read_block`].
pub(crate) struct Block<'t> {
    /// The text; its first byte is on line `first_line`.
    pub text: &'t str,
    /// Where the first record may start (past a header).
    pub from: usize,
    /// The line `text` starts on.
    pub first_line: usize,
    /// True when no more text follows.
    pub last: bool,
}

/// Reads the records of a block: each well-formed one with the line it starts
/// on, each broken one as a rejection.
///
/// When more text follows (`last` false) the block's final record may be cut
/// at the block's end, so it is not read but returned as `(byte offset, line)`,
/// to start the next block. When `last`, it is read, and rejected as truncated
/// when the text ends in the middle of it.
pub(crate) fn read_block(
    block: Block<'_>,
    delimiter: u8,
    width: usize,
    f: &mut dyn FnMut(Read<'_>),
) -> Option<(usize, usize)> {
    let Block { text, from, first_line, last } = block;
    let bytes = text.as_bytes();
    let tokenizer = Tokenizer::new(delimiter, Ends::CrLf);
    // Lines are counted by `\n`, as PowerShell ends them (CRLF or LF).
    let (mut counted_to, mut line) = (0usize, first_line);
    let mut record = Record::new();
    let mut at = from;
    while let Some(span) = tokenizer.read(bytes, at, &mut record) {
        line += memchr_count(&bytes[counted_to..span.start]);
        counted_to = span.start;
        at = span.end;
        // Only the final record can be cut short.
        let is_final =
            !span.terminated || bytes[span.end..].iter().all(|&b| b == b'\n' || b == b'\r');
        if is_final && !last {
            return Some((span.start, line));
        }
        let cells = record.over_text(text);
        if is_final
            && !text.ends_with('\n')
            && (bytes[span.start..].iter().filter(|&&b| b == b'"').count() % 2 == 1
                || cells.len() < width)
        {
            let reason = format!(
                "truncated row: the file ends in the middle of this record ({} of {width} fields); re-export the file",
                cells.len()
            );
            f(Read::Rejected(line, reason));
        } else if cells.len() == 1 && cells.get(0).unwrap_or("").trim().is_empty() && width > 1 {
            // a blank line
        } else if cells.len() != width {
            let reason = format!(
                "expected {width} fields as in the header, found {}; the row is broken (an unquoted delimiter or line break?)",
                cells.len()
            );
            f(Read::Rejected(line, reason));
        } else {
            f(Read::Record(line, Cells::Csv(cells)));
        }
    }
    None
}

/// The line feeds in `bytes`. Most calls count one record's (a few hundred
/// bytes): eight bytes at a time takes less than `memchr`'s dispatch and setup.
pub(crate) fn memchr_count(bytes: &[u8]) -> usize {
    if bytes.len() >= 1024 {
        return memchr::memchr_iter(b'\n', bytes).count();
    }
    const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let words = bytes.chunks_exact(8);
    let rest = words.remainder().iter().filter(|&&b| b == b'\n').count();
    words.fold(rest, |n, w| {
        let w: [u8; 8] = w.try_into().unwrap_or_default();
        // Each lane that is `\n` gets its high bit set, and only those.
        let x = u64::from_le_bytes(w) ^ 0x0A0A_0A0A_0A0A_0A0A;
        n + (!(((x & LO7) + LO7) | x | LO7)).count_ones() as usize
    })
}

/// Parses CSV text into a table of records.
pub fn parse(file: &Arc<str>, text: &str, delimiter: u8) -> Result<Parsed, SyntaxError> {
    let mut stream = CsvStream::new(file, text, delimiter)?;
    let mut table = Table { columns: stream.columns.clone(), rows: Vec::new() };
    stream.each(&mut |line, cells| {
        let values = (0..table.columns.len()).map(|c| cells.get(c).map(str::to_owned)).collect();
        table.rows.push(super::Record { line, values });
    });
    let rejected = stream.finish();
    Ok(Parsed { table, rejected, ..Parsed::default() })
}

/// Skips a leading `#TYPE ...` line, returning the rest and how many lines it held.
/// Blank lines before it (left where pasted wrapping was set aside) go with it.
pub(crate) fn skip_type_line(text: &str) -> (&str, usize) {
    let mut rest = text;
    let mut skipped = 0;
    while let Some(end) = rest.find('\n').filter(|&end| rest[..end].trim().is_empty()) {
        rest = &rest[end + 1..];
        skipped += 1;
    }
    if rest.starts_with("#TYPE") {
        match rest.find('\n') {
            Some(end) => (&rest[end + 1..], skipped + 1),
            None => ("", skipped + 1),
        }
    } else {
        (text, 0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::Just;

    use super::*;

    fn run(text: &str, delimiter: u8) -> Parsed {
        parse(&Arc::from("T.csv"), text, delimiter).unwrap()
    }

    fn values(p: &Parsed) -> Vec<Vec<String>> {
        p.table.rows.iter().map(|r| r.values.iter().map(|v| v.clone().unwrap()).collect()).collect()
    }

    #[test]
    fn windows_powershell_shape() {
        let p = run(
            "#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.CASMailbox\r\n\"Name\",\"PopEnabled\",\"SmtpClientAuthenticationDisabled\"\r\n\"O'Brien, \"\"Seán\"\"\",\"True\",\r\n\"b\",\"False\",\"True\"\r\n",
            b',',
        );
        assert_eq!(p.table.columns, ["Name", "PopEnabled", "SmtpClientAuthenticationDisabled"]);
        assert_eq!(values(&p), [["O'Brien, \"Seán\"", "True", ""], ["b", "False", "True"]]);
        assert_eq!(p.table.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 4]);
        assert!(p.rejected.is_empty());
    }

    #[test]
    fn semicolons_and_lf() {
        let p = run("Name;PopEnabled\nalex;True\n", b';');
        assert_eq!(values(&p), [["alex", "True"]]);
        assert_eq!(p.table.rows[0].line, 2);
    }

    #[test]
    fn truncated_last_row_is_rejected() {
        let p = run("\"Name\",\"PopEnabled\"\r\n\"a\",\"True\"\r\n\"b\",\"Tr", b',');
        assert_eq!(values(&p), [["a", "True"]]);
        assert_eq!(p.rejected.len(), 1);
        assert_eq!(p.rejected[0].source.line, 3);
        assert!(p.rejected[0].reason.starts_with("truncated row"), "{}", p.rejected[0].reason);
    }

    #[test]
    fn wrong_field_count_is_rejected_with_line() {
        let p = run("Name,PopEnabled\na,True,extra\nb,False\n", b',');
        assert_eq!(values(&p), [["b", "False"]]);
        assert_eq!(p.rejected[0].source.line, 2);
    }

    #[test]
    fn records_after_blank_lines_keep_their_own_line() {
        // Lines are counted by LF, as PowerShell ends them (CRLF or LF).
        for nl in ["\n", "\r\n"] {
            let text = format!("Name,PopEnabled{nl}{nl}{nl}a,True{nl}{nl}b,False{nl}");
            let p = run(&text, b',');
            let lines: Vec<usize> = p.table.rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, [4, 6], "{nl:?}");
        }
    }

    proptest::proptest! {
        /// Records written as Export-Csv writes them (every field quoted, quotes
        /// doubled), with line breaks inside values and blank lines between
        /// records, read back with their values and the line each starts on,
        /// counted independently here.
        #[test]
        fn values_and_start_lines_survive_any_layout(
            rows in proptest::collection::vec(
                (
                    proptest::collection::vec("[a\",\r\n \u{e9}]{0,12}", 3),
                    0usize..3,
                ),
                0..25,
            ),
            crlf: bool,
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut text = format!("\"A\",\"B\",\"C\"{nl}");
            let mut expected = Vec::new();
            for (values, blank_lines_before) in &rows {
                text.push_str(&nl.repeat(*blank_lines_before));
                let line = 1 + text.matches('\n').count();
                let cells: Vec<String> =
                    values.iter().map(|v| format!("\"{}\"", v.replace('"', "\"\""))).collect();
                text.push_str(&cells.join(","));
                text.push_str(nl);
                expected.push((line, values.clone()));
            }
            let p = run(&text, b',');
            let got: Vec<(usize, Vec<String>)> = p
                .table
                .rows
                .iter()
                .map(|r| (r.line, r.values.iter().map(|v| v.clone().unwrap_or_default()).collect()))
                .collect();
            proptest::prop_assert!(p.rejected.is_empty(), "{:?}", p.rejected);
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn multi_line_quoted_value_keeps_start_line() {
        let p = run("Name,Note\n\"a\",\"two\r\nlines\"\n\"b\",\"x\"\n", b',');
        assert_eq!(p.table.rows[1].line, 4);
    }

    proptest::proptest! {
        /// Line feeds are counted exactly, however many and wherever they sit
        /// in the eight-byte words (bytes near `\n`'s value included).
        #[test]
        fn line_feeds_are_counted_exactly(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![Just(b'\n'), Just(0x0B), Just(0x8A), Just(0), proptest::num::u8::ANY],
                0..1100,
            ),
        ) {
            let want = bytes.iter().filter(|&&b| b == b'\n').count();
            proptest::prop_assert_eq!(memchr_count(&bytes), want);
        }
    }
}
