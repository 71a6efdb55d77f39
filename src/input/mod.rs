//! Text to records: detects the form a cmdlet's output was saved in and turns it
//! into one generic, format-independent [`Table`].
//!
//! Every record keeps the line it started on, so that every later message (a bad
//! value, a blocker's source, a rejected row) can name `File:LINE`. Forms are
//! recognised from content, never from the file extension: admins save
//! Format-List text as `.csv` and CSV as `.txt`.

pub mod csv;
pub mod detect;
pub mod json;
pub mod list;
pub mod value;

use std::fmt;
use std::sync::Arc;

pub use detect::{Form, detect};

/// Where a record or a value came from: the file's name and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    /// The file name as shown to users (not the full path).
    pub file: Arc<str>,
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
    Csv(&'a ::csv::StringRecord),
}

impl<'a> Cells<'a> {
    /// The raw value of column `col`; `None` when the property is absent.
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
}

impl Records for Table {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        for r in &self.rows {
            f(r.line, Cells::Owned(&r.values));
        }
    }
}

impl Table {
    /// Index of a column, matched case-insensitively as PowerShell does.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.eq_ignore_ascii_case(name))
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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SyntaxError {
    /// File name.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What was expected and what to do.
    pub message: String,
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
}

/// Parses text in the given form.
pub fn parse(file: &Arc<str>, text: &str, form: Form) -> Result<Parsed, SyntaxError> {
    match form {
        Form::Csv { delimiter } => csv::parse(file, text, delimiter),
        Form::List => list::parse(file, text),
        Form::Json => json::parse(file, text),
        Form::Table => Err(SyntaxError {
            file: file.clone(),
            line: 1,
            column: 1,
            message: "this looks like Format-Table output, which exoauth does not read yet (it cuts values at the console width); re-export with `Export-Csv -NoTypeInformation -Encoding UTF8`".into(),
        }),
    }
}
