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

use super::{Parsed, Record, Rejection, Source, SyntaxError, Table};

/// Parses CSV text into records. `#TYPE` lines are skipped; the header names the
/// columns.
pub fn parse(file: &Arc<str>, text: &str, delimiter: u8) -> Result<Parsed, SyntaxError> {
    let (body, skipped_lines) = skip_type_line(text);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .trim(::csv::Trim::None)
        .from_reader(body.as_bytes());
    let syntax = |line: u64, message: String| {
        SyntaxError::new(file, line as usize + skipped_lines, 1, message)
    };
    let header =
        reader.headers().map_err(|e| syntax(1, format!("cannot read the CSV header: {e}")))?;
    let columns: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    if columns.iter().all(String::is_empty) {
        return Err(syntax(1, "the file has no header row; export with Export-Csv".into()));
    }
    let mut parsed = Parsed { table: Table { columns, rows: Vec::new() }, ..Parsed::default() };
    let width = parsed.table.columns.len();
    let mut record = ::csv::StringRecord::new();
    // Line numbers are counted here from byte offsets: with CRLF endings the csv
    // crate's record position points at the previous line's `\n` and its line
    // count lags by one.
    let (mut counted_to, mut line_at) = (0usize, 1usize);
    let mut last: Option<(usize, usize, usize)> = None; // (start byte, line, fields)
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| syntax(reader.position().line(), format!("unreadable CSV: {e}")))?;
        if !more {
            break;
        }
        let mut start = record.position().map_or(counted_to, |p| p.byte() as usize);
        if body.as_bytes().get(start) == Some(&b'\n') {
            start += 1;
        }
        line_at += body.as_bytes()[counted_to..start].iter().filter(|&&b| b == b'\n').count();
        counted_to = start;
        let line = line_at + skipped_lines;
        let source = Source { file: file.clone(), line };
        last = Some((start, line, record.len()));
        if record.len() == 1 && record[0].trim().is_empty() && width > 1 {
            continue; // a blank line
        }
        if record.len() != width {
            parsed.rejected.push(Rejection {
                source,
                reason: format!(
                    "expected {width} fields as in the header, found {}; the row is broken (an unquoted delimiter or line break?)",
                    record.len()
                ),
            });
            continue;
        }
        parsed
            .table
            .rows
            .push(Record { line, values: record.iter().map(|v| Some(v.to_owned())).collect() });
    }
    // A last record with no final newline and an odd number of quotes, or too few
    // fields, was cut off: replace whatever was made of it with a truncation.
    if let Some((start, line, fields)) = last.filter(|_| !body.ends_with('\n')) {
        if body[start..].matches('"').count() % 2 == 1 || fields < width {
            if parsed.table.rows.last().is_some_and(|r| r.line == line) {
                parsed.table.rows.pop();
            }
            parsed.rejected.retain(|r| r.source.line != line);
            parsed.rejected.push(Rejection {
                source: Source { file: file.clone(), line },
                reason: format!(
                    "truncated row: the file ends in the middle of this record ({fields} of {width} fields); re-export the file"
                ),
            });
        }
    }
    Ok(parsed)
}

/// Skips a leading `#TYPE ...` line, returning the rest and how many lines it held.
fn skip_type_line(text: &str) -> (&str, usize) {
    if text.starts_with("#TYPE") {
        match text.find('\n') {
            Some(end) => (&text[end + 1..], 1),
            None => ("", 1),
        }
    } else {
        (text, 0)
    }
}

#[cfg(test)]
mod tests {
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
    fn multi_line_quoted_value_keeps_start_line() {
        let p = run("Name,Note\n\"a\",\"two\r\nlines\"\n\"b\",\"x\"\n", b',');
        assert_eq!(p.table.rows[1].line, 4);
    }
}
