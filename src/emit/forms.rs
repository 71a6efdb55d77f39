//! A generic table rendered the way PowerShell's formatters print it, for
//! `exoauth generate --form list|table` (synthetic tenants in every form the
//! parser reads).
//!
//! - Format-List (`ListWriter`): labels padded to the object's longest label,
//!   then ` : `; an empty value leaves `Label :`; a blank line around each object;
//!   a property the object lacks is not printed.
//! - Format-Table (`TableWriter`) with every column wide enough (as with
//!   `-AutoSize` on a wide console): labels and dashes aligned with the values,
//!   one space between columns, the last column unpadded; nothing is cut.

use crate::input::Table;
use crate::input::table::cells;

/// Format-List text (CRLF).
pub fn list(table: &Table) -> String {
    let mut out = String::from("\r\n");
    for row in &table.rows {
        let present = || {
            table.columns.iter().zip(&row.values).filter_map(|(c, v)| v.as_ref().map(|v| (c, v)))
        };
        let width = present().map(|(c, _)| c.chars().count()).max().unwrap_or(0);
        for (c, v) in present() {
            let line = format!("{c:<width$} : {v}");
            out.push_str(line.trim_end());
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

/// Format-Table text (CRLF), wide enough that no cell is cut.
pub fn table(table: &Table) -> String {
    let widths: Vec<usize> = table
        .columns
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let values = table.rows.iter().filter_map(|r| r.values[k].as_deref()).map(cells);
            values.chain([cells(c)]).max().unwrap_or(0)
        })
        .collect();
    let line = |values: &mut dyn Iterator<Item = &str>| -> String {
        let parts: Vec<String> = values
            .enumerate()
            .map(|(k, s)| format!("{s}{}", " ".repeat(widths[k].saturating_sub(cells(s)))))
            .collect();
        parts.join(" ").trim_end().to_owned()
    };
    let mut out = String::from("\r\n");
    out.push_str(&line(&mut table.columns.iter().map(String::as_str)));
    out.push_str("\r\n");
    let dashes: Vec<String> = table.columns.iter().map(|c| "-".repeat(cells(c))).collect();
    out.push_str(&line(&mut dashes.iter().map(String::as_str)));
    out.push_str("\r\n");
    for row in &table.rows {
        out.push_str(&line(&mut row.values.iter().map(|v| v.as_deref().unwrap_or(""))));
        out.push_str("\r\n");
    }
    out.push_str("\r\n\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Record, list as list_parser, table as table_parser};
    use std::sync::Arc;

    fn sample() -> Table {
        Table {
            columns: vec![
                "Name".into(),
                "PopEnabled".into(),
                "SmtpClientAuthenticationDisabled".into(),
            ],
            rows: vec![
                Record {
                    line: 0,
                    values: vec![Some("Zoë Ångström".into()), Some("True".into()), Some("".into())],
                },
                Record {
                    line: 0,
                    values: vec![
                        Some("漢字 name".into()),
                        Some("False".into()),
                        Some("True".into()),
                    ],
                },
            ],
        }
    }

    fn values(t: &Table) -> Vec<Vec<String>> {
        t.rows
            .iter()
            .map(|r| r.values.iter().map(|v| v.clone().unwrap_or_default()).collect())
            .collect()
    }

    #[test]
    fn both_forms_read_back_unchanged() {
        let file: Arc<str> = Arc::from("T.txt");
        let from_list = list_parser::parse(&file, &list(&sample())).unwrap();
        assert_eq!(values(&from_list.table), values(&sample()));
        let from_table = table_parser::parse(&file, &table(&sample())).unwrap();
        assert_eq!(from_table.table.columns, sample().columns);
        assert_eq!(values(&from_table.table), values(&sample()));
    }
}
