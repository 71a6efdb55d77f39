//! The form of a file (CSV, Format-List, Format-Table, JSON): given with
//! `--form`, or detected from its content.

use std::sync::Arc;

use super::LoadError;
use crate::input::{self, Form};
use crate::model::columns::Cmdlet;

/// A form named on the command line (`--form list`, `--form CasMailbox=csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormName {
    /// CSV (the delimiter is still sniffed from the header).
    Csv,
    /// Format-List.
    List,
    /// Format-Table.
    Table,
    /// JSON.
    Json,
}

impl FormName {
    /// Parses `csv`, `list`, `table` or `json`.
    pub fn parse(s: &str) -> Option<FormName> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(FormName::Csv),
            "list" | "fl" | "format-list" => Some(FormName::List),
            "table" | "ft" | "format-table" => Some(FormName::Table),
            "json" => Some(FormName::Json),
            _ => None,
        }
    }

    fn form(self, text: &str) -> Form {
        match self {
            FormName::Csv => match input::detect(text) {
                csv @ Form::Csv { .. } => csv,
                _ => {
                    let header =
                        text.lines().find(|l| !l.trim().is_empty() && !l.starts_with("#TYPE"));
                    let semis = header.map_or(0, |h| h.matches(';').count());
                    let commas = header.map_or(0, |h| h.matches(',').count());
                    Form::Csv { delimiter: if semis > commas { b';' } else { b',' } }
                }
            },
            FormName::List => Form::List,
            FormName::Table => Form::Table,
            FormName::Json => Form::Json,
        }
    }
}

/// The forms given on the command line: for every file, or per cmdlet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forms {
    /// `--form list`: every file.
    pub all: Option<FormName>,
    /// `--form CasMailbox=list`: one cmdlet's file.
    pub per: Vec<(Cmdlet, FormName)>,
}

impl Forms {
    /// The form given for a cmdlet's file, if any.
    pub fn of(&self, cmdlet: Option<Cmdlet>) -> Option<FormName> {
        cmdlet.and_then(|c| self.per.iter().find(|(k, _)| *k == c).map(|(_, f)| *f)).or(self.all)
    }
}

/// The form of one output's text: given with `--form`, or detected from its
/// content; an unclear text is an error naming the candidates.
pub(super) fn decide(
    file: &Arc<str>,
    text: &str,
    given: Option<FormName>,
) -> Result<input::detect::Detection, LoadError> {
    if let Some(name) = given {
        let form = name.form(text);
        return Ok(input::detect::Detection {
            form,
            why: format!("{}: given with --form", form.title()),
            parts: false,
        });
    }
    input::detect::detect_scored(text).map_err(|u| {
        let candidates = match u.best {
            Form::List => "list",
            Form::Table => "table",
            Form::Csv { .. } => "csv",
            Form::Json => "json",
        };
        LoadError::Syntax(
            input::SyntaxError::new(file, u.line, 1, u.message)
                .with_hint(match Cmdlet::from_stem(file.split('.').next().unwrap_or(file)) {
                    Some(c) => format!(
                        "if you know the form, say it: `exoauth audit DIR --form {}={candidates}` (or `exoauth parse {file} --form {candidates}`); better, re-export with `Export-Csv -NoTypeInformation -Encoding UTF8`",
                        c.stem()
                    ),
                    None => format!(
                        "if you know the form, say it: `exoauth parse {file} --form {candidates}`; better, re-export with `Export-Csv -NoTypeInformation -Encoding UTF8`"
                    ),
                })
                .in_context(text),
        )
    })
}
