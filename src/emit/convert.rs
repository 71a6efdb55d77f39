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

use serde_json::{Map, Value};

use crate::input::Table;
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
    match target {
        Target::Csv => csv(table).into_bytes(),
        Target::Json => json(table).into_bytes(),
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
        plural(p.table.rows.len(), "record"),
        plural(p.warnings.len(), "warning"),
        plural(p.rejected.len(), "rejected row"),
    );
    out.push_str(&format!("  form: {}\n", c.why));
    if let Some(selected) = c.selected {
        for (k, part) in c.parts.iter().enumerate() {
            let records =
                if k == selected { p.table.rows.len() } else { part.parsed.table.rows.len() };
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

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The table as CSV text.
pub fn csv(table: &Table) -> String {
    let mut out = String::new();
    let header: Vec<String> = table.columns.iter().map(|c| quote(c)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in &table.rows {
        let fields: Vec<String> =
            row.values.iter().map(|v| v.as_deref().map(quote).unwrap_or_default()).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The table as a pretty-printed JSON array.
pub fn json(table: &Table) -> String {
    let objects: Vec<Value> = table
        .rows
        .iter()
        .map(|row| {
            let map: Map<String, Value> = table
                .columns
                .iter()
                .zip(&row.values)
                .filter_map(|(c, v)| v.as_ref().map(|v| (c.clone(), Value::String(v.clone()))))
                .collect();
            Value::Object(map)
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&Value::Array(objects)).unwrap_or_default();
    text.push('\n');
    text
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

    #[test]
    fn csv_is_export_csv_style() {
        assert_eq!(
            csv(&table()),
            "\"Name\",\"Note\"\r\n\"O'Brien, \"\"Seán\"\"\",\r\n\"b\",\"\"\r\n"
        );
    }

    #[test]
    fn json_leaves_out_absent_properties() {
        let v: Value = serde_json::from_str(&json(&table())).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"Name": "O'Brien, \"Seán\""}, {"Name": "b", "Note": ""}])
        );
    }
}
