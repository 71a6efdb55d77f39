//! Text to records: detects the form a cmdlet's output was saved in and turns it
//! into one generic, format-independent [`Table`].
//!
//! Every record keeps the line it started on, so that every later message (a bad
//! value, a blocker's source, a rejected row) can name `File:LINE`. Forms are
//! recognised from content, never from the file extension: admins save
//! Format-List text as `.csv` and CSV as `.txt`.

pub mod console_stream;
pub mod csv;
pub mod detect;
pub mod json;
pub mod json_stream;
pub mod lines;
pub mod list;
pub mod paste;
pub mod stream;
pub mod table;
pub mod tokenize;
pub mod transcript;
pub mod value;

use std::fmt;
use std::sync::Arc;

pub use detect::{Form, detect};

/// Where a record or a value came from: the file's name and a 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    /// The file name as shown to users (not the full path).
    pub file: crate::model::Text,
    /// 1-based line number of the record's first line.
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A generic table of records: column names in first-seen order, one row per
/// object. `None` in a cell means the object did not have that property at all
/// (possible in Format-List text), which is different from a blank value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Property names as written in the input.
    pub columns: Vec<String>,
    /// One record per object, in input order.
    pub rows: Vec<Record>,
}

/// One object's raw values, aligned with [`Table::columns`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line the record starts on.
    pub line: usize,
    /// Raw values; `None` when the property is absent from this record.
    pub values: Vec<Option<String>>,
}

/// One record's raw values, whichever reader produced them.
#[derive(Debug, Clone, Copy)]
pub enum Cells<'a> {
    /// A materialised record of a [`Table`].
    Owned(&'a [Option<String>]),
    /// A CSV record read in a stream, never materialised.
    Csv(tokenize::Fields<'a>),
}

impl<'a> Cells<'a> {
    /// The raw value of column `col`; `None` when the property is absent.
    #[inline]
    pub fn get(&self, col: usize) -> Option<&'a str> {
        match self {
            Cells::Owned(values) => values.get(col).and_then(|v| v.as_deref()),
            Cells::Csv(record) => record.get(col),
        }
    }
}

/// A source of records with named columns: a parsed [`Table`], or a CSV stream
/// that maps each record as it is read, so that a million-row export is never
/// held twice in memory.
pub trait Records {
    /// The column names.
    fn columns(&self) -> &[String];

    /// Index of a column, matched case-insensitively as PowerShell does.
    fn column(&self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.eq_ignore_ascii_case(name))
    }

    /// Calls `f(line, cells)` for every record, in order.
    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>));

    /// About how many records there are, to size the typed rows once instead of
    /// growing (and copying) a million-row vector step by step.
    fn size_hint(&self) -> usize {
        0
    }
}

impl Records for Table {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn size_hint(&self) -> usize {
        self.rows.len()
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        for r in &self.rows {
            f(r.line, Cells::Owned(&r.values));
        }
    }
}

impl Table {
    /// Gives every row a value (`None`, absent) for the columns first seen after
    /// it. A reader that adds columns as it goes calls this once, at the end:
    /// widening every row read so far at each new record is quadratic.
    pub fn widen(&mut self) {
        let width = self.columns.len();
        for row in &mut self.rows {
            row.values.resize(width, None);
        }
    }

    /// Index of a column, matched case-insensitively as PowerShell does.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.eq_ignore_ascii_case(name))
    }

    /// Appends another table's rows, adding the columns this one lacks (matched
    /// case-insensitively); values a row did not have are `None`.
    pub fn append(&mut self, other: Table) {
        let slots: Vec<usize> = other
            .columns
            .into_iter()
            .map(|name| match self.column(&name) {
                Some(k) => k,
                None => {
                    self.columns.push(name);
                    self.columns.len() - 1
                }
            })
            .collect();
        self.widen();
        let width = self.columns.len();
        for row in other.rows {
            let mut values = vec![None; width];
            for (k, v) in row.values.into_iter().enumerate() {
                if let Some(&slot) = slots.get(k) {
                    values[slot] = v;
                }
            }
            self.rows.push(Record { line: row.line, values });
        }
    }

    /// True when row `k` has a value (even blank) in a column named `name`,
    /// matched case-insensitively as PowerShell does.
    pub fn row_has(&self, k: usize, name: &str) -> bool {
        self.rows.get(k).is_some_and(|r| {
            self.columns
                .iter()
                .zip(&r.values)
                .any(|(c, v)| v.is_some() && c.eq_ignore_ascii_case(name))
        })
    }

    /// Splits the table into consecutive runs of `lengths` rows (which add up
    /// to at most its rows; rows past them are dropped), moving every value.
    /// Each run keeps only the columns at least one of its rows has, so that a
    /// column none of them had stays absent (not blank).
    pub fn into_runs(self, lengths: &[usize]) -> Vec<Table> {
        let Table { columns, rows } = self;
        let mut rows = rows.into_iter();
        lengths
            .iter()
            .map(|&n| {
                let run: Vec<Record> = rows.by_ref().take(n).collect();
                let keep: Vec<usize> = (0..columns.len())
                    .filter(|&c| run.iter().any(|r| r.values.get(c).is_some_and(Option::is_some)))
                    .collect();
                let rows = run
                    .into_iter()
                    .map(|mut r| Record {
                        line: r.line,
                        values: keep
                            .iter()
                            .map(|&c| r.values.get_mut(c).and_then(Option::take))
                            .collect(),
                    })
                    .collect();
                Table { columns: keep.iter().map(|&c| columns[c].clone()).collect(), rows }
            })
            .collect()
    }
}

/// A problem that does not stop the audit but that the user must see: data loss
/// such as a truncated collection, a likely `-ResultSize` cut, duplicate rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Short stable code, e.g. `result-size-cut`.
    pub code: &'static str,
    /// Where, when it concerns one record.
    pub source: Option<Source>,
    /// What happened and what to do.
    pub message: String,
}

/// An input row that could not be used, with the reason. Rejected rows are listed
/// in every report: nothing is silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The row's file and line.
    pub source: Source,
    /// Why it was rejected and what to do.
    pub reason: String,
}

/// A fatal syntax error: the file cannot be read as any record structure.
///
/// Displayed as `File:LINE:COLUMN: message`, then the offending line with a caret
/// under the column and a hint saying what to do, once [`SyntaxError::in_context`]
/// has seen the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SyntaxError {
    /// File name.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
    /// The offending line, when known.
    pub excerpt: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
}

impl SyntaxError {
    /// An error at `file:line:column` without excerpt or hint.
    pub fn new(file: &Arc<str>, line: usize, column: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            file: file.clone(),
            line,
            column,
            message: message.into(),
            excerpt: None,
            hint: None,
        }
    }

    /// Sets the hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Fills in the offending line from the file's text, and a hint recognised
    /// from the text when the parser gave none.
    pub fn in_context(mut self, text: &str) -> Self {
        let line = text.split('\n').nth(self.line.saturating_sub(1)).unwrap_or("");
        let line = list::strip_ansi(line.trim_end_matches('\r')).into_owned();
        if self.hint.is_none() {
            self.hint = hint_for(&line, text).map(str::to_owned);
        }
        self.excerpt = Some(line);
        self
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)?;
        if let Some(excerpt) = &self.excerpt {
            let number = self.line.to_string();
            let gutter = " ".repeat(number.len());
            // The caret sits under the column: tabs stay tabs, wide characters
            // take two cells, so it lines up on a terminal.
            let pad: String = excerpt
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| match c {
                    '\t' => "\t".to_owned(),
                    c => " ".repeat(table::cell_width(c)),
                })
                .collect();
            write!(f, "\n{gutter} |\n{number} | {excerpt}\n{gutter} | {pad}^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// A hint recognised from the offending line and the whole text.
fn hint_for(line: &str, text: &str) -> Option<&'static str> {
    let t = line.trim();
    if transcript::is_prompt(line) {
        return Some(
            "this looks like a console transcript: name the file transcript.txt (its parts are recognised by their columns) or keep only one cmdlet's output",
        );
    }
    let table_like = text.lines().any(table::is_rule);
    if table_like && (t.ends_with('…') || t.ends_with("...")) {
        return Some(
            "this looks like Format-Table output truncated at console width; re-export with `Export-Csv -NoTypeInformation -Encoding UTF8`",
        );
    }
    if table_like {
        return Some(
            "this looks like Format-Table output whose layout is broken (edited, or cut at console width); re-export with `Export-Csv -NoTypeInformation -Encoding UTF8`",
        );
    }
    if t.starts_with('{') || t.starts_with('[') || t.starts_with('"') {
        return Some(
            "re-export with `ConvertTo-Json -Depth 10`, or with `Export-Csv -NoTypeInformation -Encoding UTF8`",
        );
    }
    Some(
        "re-export with `Export-Csv -NoTypeInformation -Encoding UTF8` or the companion script scripts/Export-ExoAuthInventory.ps1",
    )
}

/// The result of parsing one file's text: records plus per-row problems.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The records.
    pub table: Table,
    /// Rows that could not be read (truncated, wrong field count).
    pub rejected: Vec<Rejection>,
    /// Data-loss and other warnings.
    pub warnings: Vec<Warning>,
    /// Cells that Format-Table cut to fit the console, as (record line, column
    /// name): the caller rejects a row whose cut cell it needs.
    pub truncated: Vec<(usize, String)>,
}

impl Parsed {
    /// Appends another part of the same file (a transcript's second output of
    /// the same cmdlet).
    pub fn append(&mut self, other: Parsed) {
        self.table.append(other.table);
        self.rejected.extend(other.rejected);
        self.warnings.extend(other.warnings);
        self.truncated.extend(other.truncated);
    }
}

/// The last record a console-text reader completed, held back until the
/// next one is complete or the text ends: console output always ends with a
/// line break, so when the text ends without one and its last record holds
/// fewer values than the one before it, the file was cut in the middle of that
/// record, which is rejected. A CSV row cut short is rejected the same way
/// ([`csv::read_block`]); a cut record must never be audited as if whole (a
/// cut identity could name another mailbox).
#[derive(Debug, Default, Clone)]
pub(crate) struct HeldBack {
    last: Option<Record>,
    /// How many values the record before `last` holds.
    before: Option<usize>,
}

impl HeldBack {
    /// The line of the record held back, if any.
    pub(crate) fn line(&self) -> Option<usize> {
        self.last.as_ref().map(|r| r.line)
    }

    /// Holds `record` back; returns the one it held, to be handed on.
    /// `count` counts a record's values.
    pub(crate) fn hold(&mut self, record: Record, count: fn(&Record) -> usize) -> Option<Record> {
        let previous = self.last.replace(record)?;
        self.before = Some(count(&previous));
        Some(previous)
    }

    /// The text has ended, with a line break or not (`ended`): the record
    /// held back, to be handed on, or its rejection as a `what` cut by the end
    /// of the file.
    pub(crate) fn finish(
        self,
        ended: bool,
        file: &Arc<str>,
        what: &str,
        count: fn(&Record) -> usize,
    ) -> Option<Result<Record, Rejection>> {
        let last = self.last?;
        let has = count(&last);
        Some(match self.before {
            Some(had) if !ended && has < had => {
                let detail = format!("it has {has} of the {had} values the {what} before it has");
                Err(cut_rejection(file, last.line, what, &detail))
            }
            _ => Ok(last),
        })
    }

    /// Whether a record has been completed.
    pub(crate) fn any(&self) -> bool {
        self.last.is_some()
    }
}

/// The rejection of the record (`what`) on `line` as cut by the end of the file.
pub(crate) fn cut_rejection(file: &Arc<str>, line: usize, what: &str, detail: &str) -> Rejection {
    Rejection {
        source: Source { file: crate::model::Text::new(file), line },
        reason: format!(
            "truncated {what}: the file ends in the middle of it, without a line break ({detail}); re-export the file"
        ),
    }
}

/// Parses text in the given form.
pub fn parse(file: &Arc<str>, text: &str, form: Form) -> Result<Parsed, SyntaxError> {
    match form {
        Form::Csv { delimiter } => csv::parse(file, text, delimiter),
        Form::List => list::parse(file, text),
        Form::Json => json::parse(file, text),
        Form::Table => table::parse(file, text),
    }
    .map_err(|e| e.in_context(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: usize, values: &[Option<&str>]) -> Record {
        Record { line, values: values.iter().map(|v| v.map(str::to_owned)).collect() }
    }

    #[test]
    fn a_row_has_a_column_when_it_holds_a_value_even_blank() {
        let t = Table {
            columns: vec!["Guid".into(), "PopEnabled".into()],
            rows: vec![row(1, &[Some("1"), None]), row(5, &[Some("2"), Some("")])],
        };
        assert!(t.row_has(0, "GUID"));
        assert!(!t.row_has(0, "PopEnabled"));
        assert!(t.row_has(1, "popenabled"));
        assert!(!t.row_has(1, "ImapEnabled"));
        assert!(!t.row_has(2, "Guid"));
    }

    #[test]
    fn runs_keep_only_the_columns_their_rows_have() {
        let t = Table {
            columns: vec!["Guid".into(), "UserPrincipalName".into(), "PopEnabled".into()],
            rows: vec![
                row(1, &[Some("1"), Some("a@contoso.com"), None]),
                row(4, &[Some("2"), Some(""), None]),
                row(8, &[Some("1"), None, Some("True")]),
                row(12, &[None, None, Some("False")]),
            ],
        };
        let runs = t.into_runs(&[2, 2]);
        assert_eq!(
            runs,
            [
                Table {
                    columns: vec!["Guid".into(), "UserPrincipalName".into()],
                    rows: vec![
                        row(1, &[Some("1"), Some("a@contoso.com")]),
                        row(4, &[Some("2"), Some("")]),
                    ],
                },
                Table {
                    columns: vec!["Guid".into(), "PopEnabled".into()],
                    rows: vec![row(8, &[Some("1"), Some("True")]), row(12, &[None, Some("False")])],
                },
            ]
        );
    }
}
