//! Sign-in logs as CSV: the Entra portal's download, Log Analytics exports and
//! the companion script's `SignIns.csv`, streamed record by record.

use std::io::{self, BufRead, BufReader, Read};

use super::{Event, EvidenceError, Names, Needed, Sink, is};
use crate::input::tokenize::{Ends, Record, Tokenizer, each_record};

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
            (0..fields.len()).map(|i| fields.get(i).unwrap_or("").to_owned()).collect()
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

/// Reads a CSV sign-in log, counting each event into `sink`; returns its kind.
pub(super) fn read(
    input: &mut dyn Read,
    sink: &mut Sink<'_>,
) -> Result<&'static str, EvidenceError> {
    let file = sink.file.clone();
    let io = |e: io::Error| EvidenceError::Shape { file: file.clone(), message: e.to_string() };
    let mut buf = BufReader::with_capacity(1 << 20, input);
    let head = buf.fill_buf().map_err(io)?;
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        // UTF-16 (Windows PowerShell 5.1's Out-File): decode whole, then read.
        let mut bytes = Vec::new();
        buf.read_to_end(&mut bytes).map_err(io)?;
        let (text, _) = crate::decode::decode(&bytes)
            .map_err(|e| EvidenceError::Shape { file: file.clone(), message: e.to_string() })?;
        return records(text.as_bytes(), sink);
    }
    if head.starts_with(b"\xEF\xBB\xBF") {
        buf.consume(3);
    }
    records(buf, sink)
}

fn records<R: BufRead>(mut input: R, sink: &mut Sink<'_>) -> Result<&'static str, EvidenceError> {
    let file = sink.file.clone();
    let io = |e: io::Error| EvidenceError::Shape { file: file.clone(), message: e.to_string() };
    // The header line, after a `#TYPE` line Export-Csv may write.
    let mut skipped = 0;
    let mut first = String::new();
    loop {
        first.clear();
        if input.read_line(&mut first).map_err(io)? == 0 {
            break;
        }
        skipped += 1;
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
    let kind = kind(&names);
    // Records end at `\n` only, so that lines are counted as a text editor
    // counts them after CRLF; a `\r` left at a line's end is trimmed with the
    // rest of the cell's spaces.
    let tokenizer = Tokenizer::new(delimiter(&first), Ends::Lf);
    let width = names.len();
    each_record(&mut input, tokenizer, skipped + 1, &mut |line, record| {
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
    .map_err(io)?;
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

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
