//! `exoauth parse`: records of any supported form to clean CSV or JSON.
//!
//! CSV is written as PowerShell 7's `Export-Csv -NoTypeInformation` writes it
//! (UTF-8 without BOM, CRLF, every value double-quoted with inner quotes
//! doubled), except that a property an object did not have at all is written as
//! nothing (`,,`), as `Export-Csv` writes `$null`. Values are not neutralised for
//! spreadsheets: this is a data conversion, not a report.
//!
//! JSON is an array of objects with the properties in column order and every
//! value as the text PowerShell printed (absent properties are left out), so
//! nothing is re-typed by guess.
//!
//! Both are written a record at a time ([`Writer`]), so that a file streamed
//! from disk is converted without holding its records; [`render`] writes a
//! table read whole through the same writer.

use std::io::{self, Write};

use serde_json::{Map, Value};

use crate::input::{Cells, Table};
use crate::load::Converted;

/// The output format of `exoauth parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `Export-Csv` style CSV.
    Csv,
    /// An array of objects.
    Json,
}

/// Renders a table in the target format.
pub fn render(table: &Table, target: Target) -> Vec<u8> {
    let mut out = Vec::new();
    let written = (|| {
        let mut writer = Writer::start(&mut out, target, &table.columns)?;
        for row in &table.rows {
            writer.record(Cells::Owned(&row.values))?;
        }
        writer.finish()
    })();
    // Writing into memory does not fail.
    debug_assert!(written.is_ok());
    out
}

/// Writes records in the target format as they come: the header (CSV) or
/// the opening bracket (JSON) first, then each record, then the end, so that
/// a file streamed from disk is converted without holding its records.
pub struct Writer<'w> {
    out: &'w mut dyn Write,
    target: Target,
    columns: Vec<String>,
    records: usize,
    line: String,
}

impl<'w> Writer<'w> {
    /// Starts the output for records with these columns.
    pub fn start(
        out: &'w mut dyn Write,
        target: Target,
        columns: &[String],
    ) -> io::Result<Writer<'w>> {
        let mut line = String::new();
        if target == Target::Csv {
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                quote(&mut line, c);
            }
            line.push_str("\r\n");
        } else {
            line.push('[');
        }
        out.write_all(line.as_bytes())?;
        Ok(Writer { out, target, columns: columns.to_vec(), records: 0, line })
    }

    /// Writes one record: a CSV line with nothing for an absent property (as
    /// `Export-Csv` writes `$null`), or a JSON object without it.
    pub fn record(&mut self, cells: Cells<'_>) -> io::Result<()> {
        self.line.clear();
        match self.target {
            Target::Csv => {
                for i in 0..self.columns.len() {
                    if i > 0 {
                        self.line.push(',');
                    }
                    if let Some(value) = cells.get(i) {
                        quote(&mut self.line, value);
                    }
                }
                self.line.push_str("\r\n");
            }
            Target::Json => {
                let object: Map<String, Value> = (self.columns.iter().enumerate())
                    .filter_map(|(i, c)| Some((c.clone(), Value::String(cells.get(i)?.into()))))
                    .collect();
                let text = serde_json::to_string_pretty(&Value::Object(object))
                    .map_err(io::Error::other)?;
                // As an element of a pretty-printed array: each line two spaces in.
                self.line.push_str(if self.records == 0 { "\n" } else { ",\n" });
                for (k, line) in text.split('\n').enumerate() {
                    if k > 0 {
                        self.line.push('\n');
                    }
                    self.line.push_str("  ");
                    self.line.push_str(line);
                }
            }
        }
        self.records += 1;
        self.out.write_all(self.line.as_bytes())
    }

    /// Ends the output.
    pub fn finish(self) -> io::Result<()> {
        match (self.target, self.records) {
            (Target::Csv, _) => Ok(()),
            (Target::Json, 0) => self.out.write_all(b"]\n"),
            (Target::Json, _) => self.out.write_all(b"\n]\n"),
        }
    }
}

/// What was detected and found, for standard error: the form, encoding and record
/// count, the parts of a transcript, then every warning and rejected row once.
pub fn summary(c: &Converted) -> String {
    let p = &c.parsed;
    let mut out = format!(
        "exoauth: {}: {} ({}), {}, {}, {}\n",
        c.file,
        c.form.name(),
        c.encoding,
        plural(c.records, "record"),
        plural(p.warnings.len(), "warning"),
        plural(p.rejected.len(), "rejected row"),
    );
    out.push_str(&format!("  form: {}\n", c.why));
    if let Some(selected) = c.selected {
        for (k, part) in c.parts.iter().enumerate() {
            let records = if k == selected { c.records } else { part.parsed.table.rows.len() };
            out.push_str(&format!(
                "  {} part {} at line {}: {}{}, {}{}\n",
                if k == selected { "*" } else { " " },
                k + 1,
                part.line,
                part.form.name(),
                part.command.as_deref().map_or_else(String::new, |c| format!(" from `{c}`")),
                plural(records, "record"),
                part.cmdlet.map_or_else(String::new, |c| format!(" ({} output)", c.produced_by())),
            ));
        }
    }
    for w in &p.warnings {
        match &w.source {
            Some(src) => out.push_str(&format!("  warning[{}] {src}: {}\n", w.code, w.message)),
            None => out.push_str(&format!("  warning[{}] {}\n", w.code, w.message)),
        }
    }
    for r in &p.rejected {
        out.push_str(&format!("  rejected {}: {}\n", r.source, r.reason));
    }
    out
}

/// `1 record`, `2 records`.
pub fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Appends `s` double-quoted, its quotes doubled.
fn quote(out: &mut String, s: &str) {
    out.push('"');
    for (i, part) in s.split('"').enumerate() {
        if i > 0 {
            out.push_str("\"\"");
        }
        out.push_str(part);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Record;

    fn table() -> Table {
        Table {
            columns: vec!["Name".into(), "Note".into()],
            rows: vec![
                Record { line: 2, values: vec![Some("O'Brien, \"Seán\"".into()), None] },
                Record { line: 3, values: vec![Some("b".into()), Some(String::new())] },
            ],
        }
    }

    fn text(table: &Table, target: Target) -> String {
        String::from_utf8(render(table, target)).unwrap()
    }

    #[test]
    fn csv_is_export_csv_style() {
        assert_eq!(
            text(&table(), Target::Csv),
            "\"Name\",\"Note\"\r\n\"O'Brien, \"\"Seán\"\"\",\r\n\"b\",\"\"\r\n"
        );
    }

    #[test]
    fn json_leaves_out_absent_properties() {
        let v: Value = serde_json::from_str(&text(&table(), Target::Json)).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"Name": "O'Brien, \"Seán\""}, {"Name": "b", "Note": ""}])
        );
    }

    /// Records written one at a time make the text serde_json makes of the
    /// whole array pretty-printed: no records, a record with no property, and
    /// values with quotes, line breaks, tabs and letters beyond ASCII.
    #[test]
    fn json_written_a_record_at_a_time_is_the_whole_array_pretty_printed() {
        let row = |values: &[Option<&str>]| Record {
            line: 2,
            values: values.iter().map(|v| v.map(str::to_owned)).collect(),
        };
        let columns = vec!["Name".to_owned(), "Note".to_owned(), "Zeta".to_owned()];
        let tables = [
            Table { columns: columns.clone(), rows: vec![] },
            Table { columns: columns.clone(), rows: vec![row(&[None, None, None])] },
            Table {
                columns,
                rows: vec![
                    row(&[Some("a\"b"), None, Some("line\nbreak\ttab")]),
                    row(&[None, None, None]),
                    row(&[Some("Ngozi Ångström"), Some(""), Some("\\x")]),
                ],
            },
        ];
        for table in tables {
            let objects: Vec<Value> = (table.rows.iter())
                .map(|row| {
                    let pairs = table.columns.iter().zip(&row.values);
                    Value::Object(
                        pairs
                            .filter_map(|(c, v)| Some((c.clone(), Value::String(v.clone()?))))
                            .collect(),
                    )
                })
                .collect();
            let whole = serde_json::to_string_pretty(&Value::Array(objects)).unwrap() + "\n";
            assert_eq!(text(&table, Target::Json), whole);
        }
    }
}
