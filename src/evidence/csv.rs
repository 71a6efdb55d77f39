//! Sign-in logs as CSV: the Entra portal's download, Log Analytics exports and
//! the companion script's `SignIns.csv`, streamed record by record.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use rayon::prelude::*;

use super::{Event, EvidenceError, Lookups, Names, Needed, Sink, is};
use crate::decode::{DecodingReader, read_full};
use crate::input::tokenize::{Ends, Reached, Record, Tokenizer, each_record_until};
use crate::progress::Progress;

/// The delimiter a header line uses: `,`, `;` (a localised Excel re-save) or tab.
fn delimiter(line: &str) -> u8 {
    let count = |c: char| line.matches(c).count();
    [(b',', count(',')), (b';', count(';')), (b'\t', count('\t'))]
        .into_iter()
        .max_by_key(|&(d, n)| (n, d == b','))
        .map_or(b',', |(d, _)| d)
}

/// The column names of a header line.
pub(super) fn header_names(line: &str) -> Vec<String> {
    let mut record = Record::new();
    let tokenizer = Tokenizer::new(delimiter(line), Ends::Lf);
    match tokenizer.read(line.as_bytes(), 0, &mut record) {
        Some(_) => {
            let fields = record.over_text(line);
            fields.texts().map(str::to_owned).collect()
        }
        None => Vec::new(),
    }
}

/// Where the columns an event needs are.
struct Columns {
    time: Option<usize>,
    user_id: Option<usize>,
    upn: Option<usize>,
    client_app: Option<usize>,
    status: Option<usize>,
    error_code: Option<usize>,
    ip: Option<usize>,
    user_agent: Option<usize>,
    interactive: Option<usize>,
}

impl Columns {
    fn find(names: &[String]) -> Columns {
        // The first of a repeated name wins (the portal repeats `Incoming token type`).
        let at = |set: &[&str]| names.iter().position(|n| is(n, set));
        Columns {
            time: at(Names::TIME),
            user_id: at(Names::USER_ID),
            upn: at(Names::UPN),
            client_app: at(Names::CLIENT_APP),
            status: at(Names::STATUS),
            error_code: at(Names::ERROR_CODE),
            ip: at(Names::IP),
            user_agent: at(Names::USER_AGENT),
            interactive: at(Names::INTERACTIVE),
        }
    }

    fn missing(&self) -> Vec<&'static str> {
        Needed {
            time: self.time.is_some(),
            client_app: self.client_app.is_some(),
            user: self.user_id.is_some() || self.upn.is_some(),
            status: self.status.is_some() || self.error_code.is_some(),
        }
        .missing(false)
    }
}

/// The shape a header names.
fn kind(names: &[String]) -> &'static str {
    let has = |n: &str| names.iter().any(|h| h.trim().eq_ignore_ascii_case(n));
    if has("Date (UTC)") {
        "entra-portal-csv"
    } else if has("TimeGenerated") {
        "log-analytics-csv"
    } else if names.iter().map(|n| n.trim()).eq(super::COMPANION_COLUMNS) {
        "exoauth-csv"
    } else {
        "sign-in-csv"
    }
}

/// Bytes of a CSV sign-in log one task reads: a larger download is read in
/// parts side by side, so that both cores parse one large file.
const PART: u64 = 64 << 20;

/// Reads the CSV sign-in log at `path`, counting each event into `sink`;
/// returns its kind.
///
/// A UTF-8 file larger than [`PART`] is read in parts, each from the line break
/// after its share of the bytes, into a sink of its own. A part's records are
/// those that start in it; its last may run into the next part. The parts are
/// right when each one's first record starts where the one before stopped
/// (the record after its share), which the tokenizer checks from the file's
/// own bytes; when a cut fell inside a quoted value, the rest of the file is
/// read again from the true record start, in one pass. The sinks are then
/// absorbed in order: a part keeps its basic-auth events and the file's sink
/// adds them after the part before's, so counts, times, rejected rows and
/// which clients are told apart (for a mailbox with more than
/// [`MAX_CLIENTS`](crate::model::usage::MAX_CLIENTS) of them) are those of one
/// pass, and no part builds counters of its own to merge. (A part with more
/// basic-auth events than a sink keeps, 131,072, such as the rest of a file
/// read again after a cut fell in a quoted value, adds its earlier ones to
/// counters of its own, merged in turn: there the choice of clients is made
/// per part, as it was for every part before.)
pub(super) fn read_path(
    path: &Path,
    sink: &mut Sink<'_>,
    progress: &dyn Progress,
) -> Result<&'static str, EvidenceError> {
    read_path_in(path, sink, progress, PART)
}

/// [`read_path`] with parts of `part` bytes (tests use tiny ones).
fn read_path_in(
    path: &Path,
    sink: &mut Sink<'_>,
    progress: &dyn Progress,
    part: u64,
) -> Result<&'static str, EvidenceError> {
    let file = sink.file.clone();
    let io = |e: io::Error| EvidenceError::Shape { file: file.clone(), message: e.to_string() };
    let mut input = File::open(path).map_err(io)?;
    let len = input.metadata().map_err(io)?.len();
    let mut buf = BufReader::with_capacity(64 << 10, &mut input);
    let head = buf.fill_buf().map_err(io)?;
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        // UTF-16 (Windows PowerShell 5.1's Out-File): decoded as it is read,
        // in one pass (its byte offsets are not the text's, so no parts).
        let big_endian = head[0] == 0xFE;
        buf.consume(2);
        progress.advance(len);
        let mut text =
            BufReader::with_capacity(64 << 10, DecodingReader::utf16(buf, big_endian, &[]));
        let header = header(&mut text, sink)?;
        let mut part = sink.part();
        read_part(&mut text, &header, u64::MAX, &mut part).map_err(io)?;
        sink.absorb(part, header.lines_after);
        return Ok(header.kind);
    }
    let bom = if head.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    buf.consume(bom);
    let header = header(&mut buf, sink)?;
    drop(buf);
    let start = bom as u64 + header.bytes;
    progress.advance(start);
    let starts = part_starts(&mut input, start, len, part).map_err(io)?;
    let ends: Vec<u64> = starts.iter().skip(1).copied().chain([len]).collect();
    // The parts a batch at a time, one per core, each in a sink of its own;
    // each batch is merged before the next starts, so that only a batch's
    // counts are held twice.
    let batch = rayon::current_num_threads().max(1);
    // Where the part before stopped (the first part starts after the header,
    // where a record starts), and the lines before `counted_to`.
    let mut stopped: Option<u64> = None;
    let (mut lines_before, mut counted_to) = (header.lines_after, start);
    let mut k = 0;
    // Each part's lookups, handed on to a part of the next batch.
    let mut lookups: Vec<Lookups> = Vec::new();
    'parts: while k < starts.len() {
        let end = (k + batch).min(starts.len());
        let given: Vec<Lookups> = (k..end).map(|_| lookups.pop().unwrap_or_default()).collect();
        let mut parts: Vec<(Sink<'_>, Reached)> = (k..end)
            .into_par_iter()
            .zip(given)
            .map(|(j, known)| {
                let mut part = sink.part();
                part.remember(known);
                let reached = read_from(path, starts[j], ends[j], &header, &mut part, progress)?;
                Ok((part, reached))
            })
            .collect::<io::Result<_>>()
            .map_err(io)?;
        for (part, _) in &mut parts {
            lookups.push(part.take_lookups());
        }
        for ((mut part, reached), &from) in parts.into_iter().zip(&starts[k..end]) {
            let first = from + reached.first.unwrap_or(reached.stop);
            let mut at = from;
            let misplaced = stopped.filter(|&expected| expected != first);
            if let Some(expected) = misplaced {
                // A cut fell inside a quoted value: read the rest again, whole.
                part = sink.part();
                read_from(path, expected, u64::MAX, &header, &mut part, &crate::progress::Silent)
                    .map_err(io)?;
                at = expected;
            }
            // Its rejected rows are numbered from its first line: count the
            // lines before it (only when it rejected one).
            if at > counted_to && !part.rejected.is_empty() {
                lines_before += count_lines(path, counted_to, at).map_err(io)?;
                counted_to = at;
            }
            sink.absorb(part, lines_before);
            if misplaced.is_some() {
                break 'parts;
            }
            stopped = Some(from + reached.stop);
        }
        k = end;
    }
    Ok(header.kind)
}

/// What a sign-in log's header says.
struct Header {
    kind: &'static str,
    columns: Columns,
    width: usize,
    delimiter: u8,
    /// Lines up to and including the header (a `#TYPE` line and blank lines
    /// before it count).
    lines_after: usize,
    /// Bytes up to and including the header's line break.
    bytes: u64,
}

/// Reads the header line, after a `#TYPE` line Export-Csv may write.
fn header(input: &mut impl BufRead, sink: &Sink<'_>) -> Result<Header, EvidenceError> {
    let file = sink.file.clone();
    let io = |e: io::Error| EvidenceError::Shape { file: file.clone(), message: e.to_string() };
    let (mut skipped, mut bytes) = (0, 0u64);
    let mut first = String::new();
    loop {
        first.clear();
        let n = input.read_line(&mut first).map_err(io)?;
        if n == 0 {
            break;
        }
        skipped += 1;
        bytes += n as u64;
        if !first.trim().is_empty() && !first.starts_with("#TYPE") {
            break;
        }
    }
    let names = header_names(first.trim_end_matches(['\r', '\n']));
    let columns = Columns::find(&names);
    let missing = columns.missing();
    if !missing.is_empty() {
        return Err(EvidenceError::Shape {
            file,
            message: format!(
                "line {skipped}: a sign-in log needs the columns {}; download the sign-in logs again from the Entra admin center in English, or export them with the companion script's -IncludeSignIns",
                missing.join(", ")
            ),
        });
    }
    Ok(Header {
        kind: kind(&names),
        columns,
        width: names.len(),
        delimiter: delimiter(&first),
        lines_after: skipped,
        bytes,
    })
}

/// Where the parts of the records from `start` begin: `start`, then the byte
/// after the first line break past each further `part` bytes.
fn part_starts(input: &mut File, start: u64, len: u64, part: u64) -> io::Result<Vec<u64>> {
    let mut starts = vec![start];
    let mut window = vec![0u8; 64 << 10];
    let mut cut = start + part;
    while cut + part / 2 < len {
        input.seek(SeekFrom::Start(cut))?;
        let n = read_full(input, &mut window)?;
        // A line longer than the window: no cut here.
        if let Some(k) = memchr::memchr(b'\n', &window[..n]) {
            starts.push(cut + k as u64 + 1);
        }
        cut += part;
    }
    Ok(starts)
}

/// The line breaks in bytes `from..to` of the file.
fn count_lines(path: &Path, from: u64, to: u64) -> io::Result<usize> {
    let mut input = File::open(path)?;
    input.seek(SeekFrom::Start(from))?;
    let mut input = input.take(to.saturating_sub(from));
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0;
    loop {
        let n = read_full(&mut input, &mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += crate::input::csv::memchr_count(&buf[..n]);
    }
}

/// Reads the records that start in bytes `from..to` of the file (the last may
/// run past `to`) into `sink`, lines numbered from 1 at `from`.
fn read_from(
    path: &Path,
    from: u64,
    to: u64,
    header: &Header,
    sink: &mut Sink<'_>,
    progress: &dyn Progress,
) -> io::Result<Reached> {
    let mut input = File::open(path)?;
    input.seek(SeekFrom::Start(from))?;
    let mut counting = Counting { inner: input, progress, left: to.saturating_sub(from) };
    read_part(&mut counting, header, to.saturating_sub(from), sink)
}

/// Reports the bytes read to a progress bar, up to `left` of them (a part
/// reads on past its end to finish its last record).
struct Counting<'p, R> {
    inner: R,
    progress: &'p dyn Progress,
    left: u64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let shown = (n as u64).min(self.left);
        self.left -= shown;
        self.progress.advance(shown);
        Ok(n)
    }
}

/// Counts the records of `input` that start before `limit` into `sink`,
/// lines numbered from 1 at the input's start.
fn read_part(
    input: &mut dyn Read,
    header: &Header,
    limit: u64,
    sink: &mut Sink<'_>,
) -> io::Result<Reached> {
    // Records end at `\n` only, so that lines are counted as a text editor
    // counts them after CRLF; a `\r` left at a line's end is trimmed with the
    // rest of the cell's spaces.
    let tokenizer = Tokenizer::new(header.delimiter, Ends::Lf);
    let (columns, width) = (&header.columns, header.width);
    each_record_until(input, tokenizer, 1, limit, &mut |line, record| {
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            return;
        }
        if record.len() != width {
            // A row cut short (a truncated download) or split by an unquoted
            // delimiter: its cells are not where the header says.
            sink.reject(
                line.get(),
                format!(
                    "expected {width} fields as in the header, found {}; the row is cut short or broken (download the file again)",
                    record.len()
                ),
            );
            return;
        }
        let mut bad = false;
        let mut cell = |c: Option<usize>| -> &str {
            let Some(c) = c.filter(|&c| c < record.len()) else { return "" };
            record.get(c).unwrap_or_else(|| {
                bad = true;
                ""
            })
        };
        let event = Event {
            time: cell(columns.time),
            user_id: cell(columns.user_id),
            upn: cell(columns.upn),
            client_app: cell(columns.client_app),
            status: cell(columns.status),
            error_code: cell(columns.error_code),
            ip: cell(columns.ip),
            user_agent: cell(columns.user_agent),
            interactive: match cell(columns.interactive).trim() {
                t if t.eq_ignore_ascii_case("true") => Some(true),
                t if t.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            },
        };
        if bad {
            sink.reject(
                line.get(),
                "a cell is not UTF-8 text; download the file again (the portal writes UTF-8)"
                    .into(),
            );
            return;
        }
        sink.event(|| line.get(), &event);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A download read in parts of a few hundred bytes (cut inside quoted
    /// values with line breaks, and beside broken rows) counts what it counts
    /// in one pass, with the same rejected lines.
    #[test]
    fn a_download_read_in_parts_counts_what_one_pass_counts() {
        let mut text = String::from(
            "\u{feff}\"Date (UTC)\",\"User ID\",\"Username\",\"User agent\",\"Client app\",\"Status\"\r\n",
        );
        for i in 0..400 {
            let agent = match i % 9 {
                0 => "\"two\nline\nagent\"".to_owned(),
                1 => format!("\"quoted \"\"{i}\"\" agent\""),
                _ => format!("\"agent {i}\""),
            };
            let app = ["POP3", "IMAP4", "Authenticated SMTP", "Browser"][i % 4];
            let status = if i % 5 == 0 { "Failure" } else { "Success" };
            if i % 37 == 0 {
                text.push_str(&format!(
                    "\"2026-11-{:02}T10:00:00Z\",\"cut short\"\r\n",
                    1 + i % 28
                ));
            } else if i % 41 == 0 {
                text.push_str("\"not a date\",\"u\",\"u@x\",\"a\",\"POP3\",\"Success\"\r\n\r\n");
            }
            text.push_str(&format!(
                "\"2026-11-{:02}T10:00:00Z\",\"id{}\",\"user{}@contoso.com\",{agent},\"{app}\",\"{status}\"\r\n",
                1 + i % 28,
                i % 13,
                i % 13
            ));
        }
        // One mailbox's POP3 from more clients than are told apart: which
        // ones are is decided as one pass decides it.
        let many = crate::model::usage::MAX_CLIENTS + 60;
        for i in 0..many {
            text.push_str(&format!(
                "\"2026-11-02T10:{:02}:00Z\",\"id0\",\"user0@contoso.com\",\"agent {}\",\"POP3\",\"Success\"\r\n",
                i % 60,
                i % (many - 20)
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("InteractiveSignIns_2026-11-01_2026-11-28.csv");
        std::fs::write(&path, &text).unwrap();
        // Mailboxes for users 0 to 9 (10 to 12 stay unmatched).
        let snapshot = super::super::mailboxes_for_tests(10);
        let index = snapshot.identity_index();
        let file: std::sync::Arc<str> = std::sync::Arc::from("s.csv");
        let read = |part: u64| {
            let mut sink = Sink::new(&file, &index, None, Some(true));
            read_path_in(&path, &mut sink, &crate::progress::Silent, part).unwrap();
            super::super::sink_outcome(&sink)
        };
        let whole = read(u64::MAX / 4);
        // 11 rows cut short, 9 bad dates (row 0 is cut short only).
        assert_eq!(whole.3.len(), 20, "{:?}", whole.3);
        assert!(whole.0 > 350 + many as u64, "{}", whole.0);
        assert_eq!(whole.1.mailboxes.len(), 10);
        let pop = whole.1.get(0, crate::model::Protocol::Pop);
        assert_eq!(pop.clients.len(), crate::model::usage::MAX_CLIENTS);
        assert!(pop.other_clients > 0);
        for part in [150, 333, 1000, 4096] {
            assert_eq!(read(part), whole, "parts of {part} bytes");
        }
    }

    #[test]
    fn the_portal_header_traps_are_found_by_name() {
        let names = header_names(
            "\"Date (UTC)\",\"Request ID\",\"User agent\",\"Correlation ID\",\"User ID\",\"User\",\"Username\",\"Incoming token type\",\"Application ID \",\"Autonomous system  number\",\"Incoming token type\",\"Client app\",\"Status\",\"Sign-in error code\",\"IP address\"",
        );
        let c = Columns::find(&names);
        assert_eq!((c.time, c.user_agent, c.user_id, c.upn), (Some(0), Some(2), Some(4), Some(6)));
        assert_eq!(
            (c.client_app, c.status, c.error_code, c.ip),
            (Some(11), Some(12), Some(13), Some(14))
        );
        assert!(c.missing().is_empty());
        assert_eq!(kind(&names), "entra-portal-csv");
    }

    #[test]
    fn a_semicolon_header_is_read() {
        assert_eq!(
            header_names("Date (UTC);Client app;Username"),
            ["Date (UTC)", "Client app", "Username"]
        );
    }
}
