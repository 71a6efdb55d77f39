//! One file in any form, for `exoauth parse`: streamed from disk when it is
//! CSV, Format-List or Format-Table text or a `ConvertTo-Json` array the
//! streams read as the whole-file reader would ([`open_streamed`]), else
//! read whole ([`read_one`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::LoadError;
use super::form::{FormName, decide};
use super::streamed::{Head, head_form};
use super::text::{clean_text, decode_file, display_name, guessed};
use super::transcript::{TranscriptPart, transcript_parts};
use crate::decode::Encoding;
use crate::input::console_stream::ConsoleFile;
use crate::input::json_stream::JsonFile;
use crate::input::stream::{CsvFile, Finished};
use crate::input::{self, Cells, Form, Records, transcript};
use crate::model::Environment;
use crate::progress::Progress;

/// What `exoauth parse` read from one file.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The file name used in messages.
    pub file: Arc<str>,
    /// The detected encoding.
    pub encoding: Encoding,
    /// The form of the records converted.
    pub form: Form,
    /// Why that form (the detector's evidence, or `--form`).
    pub why: String,
    /// For a transcript, every output found (the one converted is `selected`).
    pub parts: Vec<TranscriptPart>,
    /// Index in `parts` of the part converted.
    pub selected: Option<usize>,
    /// How many records were converted.
    pub records: usize,
    /// The records converted (none are held when the file was streamed: its
    /// table has only the columns), their rejected rows and warnings.
    pub parsed: input::Parsed,
}

/// A file `exoauth parse` reads from disk a record at a time ([`open_streamed`]).
pub struct Streamed<'p> {
    path: PathBuf,
    file: Arc<str>,
    why: String,
    records: usize,
    reader: Reader<'p>,
}

enum Reader<'p> {
    Csv(CsvFile<'p, std::fs::File>),
    Console(ConsoleFile<'p>),
    Json(JsonFile<'p>),
}

/// Opens a file for `exoauth parse` as a stream when it is CSV, Format-List
/// or Format-Table text or a `ConvertTo-Json` array that the streams read as
/// [`read_one`] reads it whole (their first pass checks it, see
/// [`crate::input::console_stream`] and [`crate::input::json_stream`]), so
/// that a large export is converted without holding its text or records.
/// `None` when it is to be read whole: a transcript, pasted or damaged text,
/// a part asked for beyond the first, or a form given with `--form`. A CSV
/// file is read in one pass, so the stream may give way to the whole read
/// after records were handed on ([`Streamed::finish`]).
pub fn open_streamed<'p>(
    path: &Path,
    part: Option<usize>,
    given: Option<FormName>,
    progress: &'p dyn Progress,
) -> Result<Option<Streamed<'p>>, LoadError> {
    if given.is_some() || part.is_some_and(|p| p != 1) {
        return Ok(None);
    }
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    let file = display_name(path);
    let opened = match head_form(path).map_err(io)? {
        Some(Head::JsonArray { line }) => {
            let refuse = input::paste::may_need_cleaning_within;
            JsonFile::open(&file, path, progress, &refuse).map_err(io)?.map(|json| {
                let why =
                    format!("JSON: line {line} starts with `[` as ConvertTo-Json output does");
                (why, Reader::Json(json))
            })
        }
        Some(head @ (Head::List | Head::Table)) => {
            let form = if head == Head::List { Form::List } else { Form::Table };
            ConsoleFile::open(&file, path, form, progress)
                .map_err(io)?
                .map(|console| (console.detection().why.clone(), Reader::Console(console)))
        }
        None => {
            let input = std::fs::File::open(path).map_err(io)?;
            let len = input.metadata().map_err(io)?.len();
            CsvFile::open(&file, input, len, progress)
                .map_err(io)?
                .map(|csv| (csv.why().to_owned(), Reader::Csv(csv)))
        }
    };
    let path = path.to_owned();
    Ok(opened.map(|(why, reader)| Streamed { path, file, why, records: 0, reader }))
}

impl Reader<'_> {
    fn records(&self) -> &dyn Records {
        match self {
            Reader::Csv(csv) => csv,
            Reader::Console(console) => console,
            Reader::Json(json) => json,
        }
    }

    fn records_mut(&mut self) -> &mut dyn Records {
        match self {
            Reader::Csv(csv) => csv,
            Reader::Console(console) => console,
            Reader::Json(json) => json,
        }
    }
}

impl Streamed<'_> {
    /// The columns, in the order the whole-file reader gives them.
    pub fn columns(&self) -> &[String] {
        self.reader.records().columns()
    }

    /// Hands on every record, in order, with its line.
    pub fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        let records = &mut self.records;
        self.reader.records_mut().each(&mut |line, cells| {
            *records += 1;
            f(line, cells);
        });
    }

    /// What was read, as [`read_one`] says it, once [`Streamed::each`] has
    /// run; `None` when the file is to be read whole after all: a console or
    /// JSON file's second pass did not find what its first found (it changed
    /// while read), or a CSV file holds, past its start, what only the
    /// whole-file reader reads (pasted text, a second encoding).
    pub fn finish(self) -> Result<Option<Converted>, LoadError> {
        let Streamed { path, file, why, records, reader } = self;
        let io = |error| LoadError::Io { path: path.clone(), error };
        let columns = reader.records().columns().to_vec();
        let (form, encoding, rejected, read_warnings) = match reader {
            Reader::Csv(csv) => {
                let form = Form::Csv { delimiter: csv.delimiter() };
                let Finished::Read(rejected, encoding) = csv.finish() else { return Ok(None) };
                (form, encoding, rejected, Vec::new())
            }
            Reader::Console(console) => {
                let (form, encoding) = (console.form(), console.encoding());
                let Some(read) = console.finish().map_err(io)? else { return Ok(None) };
                (form, encoding, read.rejected, read.warnings)
            }
            Reader::Json(json) => {
                let encoding = json.encoding();
                let Some(warnings) = json.finish().map_err(io)? else { return Ok(None) };
                (Form::Json, encoding, Vec::new(), warnings)
            }
        };
        // What the whole-file reader guessed of the encoding comes first, as
        // it decodes first.
        let warnings = guessed(&file, encoding).into_iter().chain(read_warnings).collect();
        let table = input::Table { columns, rows: Vec::new() };
        let parsed = input::Parsed { table, rejected, warnings, truncated: Vec::new() };
        Ok(Some(Converted {
            file,
            encoding,
            form,
            why,
            parts: Vec::new(),
            selected: None,
            records,
            parsed,
        }))
    }
}

/// Reads one file in any supported form for `exoauth parse`. A transcript with
/// several outputs needs `part` (1-based) to say which one to convert.
pub fn read_one(
    path: &Path,
    bytes: &[u8],
    part: Option<usize>,
    given: Option<FormName>,
) -> Result<Converted, LoadError> {
    let file = display_name(path);
    let mut warnings = Vec::new();
    let (text, encoding) = decode_file(&file, bytes, &mut warnings)?;
    let text = clean_text(&file, text, &mut warnings);
    if !transcript::is_transcript(&text) && part.is_none_or(|p| p == 1) {
        let detection = decide(&file, &text, given)?;
        if !detection.parts || given.is_some() {
            let mut parsed = input::parse(&file, &text, detection.form)?;
            warnings.append(&mut parsed.warnings);
            parsed.warnings = warnings;
            return Ok(Converted {
                file,
                encoding,
                form: detection.form,
                why: detection.why,
                parts: Vec::new(),
                selected: None,
                records: parsed.table.rows.len(),
                parsed,
            });
        }
    }
    let mut parts = transcript_parts(&file, &text, Environment::Online, &mut warnings);
    let list = || {
        parts
            .iter()
            .enumerate()
            .map(|(k, p)| {
                format!(
                    "\n  --part {}: line {}, {}{}, {}{}",
                    k + 1,
                    p.line,
                    p.form.name(),
                    p.command.as_deref().map_or_else(String::new, |c| format!(" from `{c}`")),
                    crate::emit::convert::plural(p.parsed.table.rows.len(), "record"),
                    p.cmdlet.map_or_else(String::new, |c| format!(" ({} output)", c.produced_by()))
                )
            })
            .collect::<String>()
    };
    let selected = match (part, parts.len()) {
        (_, 0) => {
            return Err(LoadError::Parts {
                file,
                message: "no output found between the prompts".into(),
            });
        }
        (None, 1) => 0,
        (None, n) => {
            return Err(LoadError::Parts {
                file,
                message: format!(
                    "this transcript holds {n} outputs; choose one with --part N:{}",
                    list()
                ),
            });
        }
        (Some(p), n) if p == 0 || p > n => {
            return Err(LoadError::Parts {
                file,
                message: format!("there is no part {p}; the transcript holds:{}", list()),
            });
        }
        (Some(p), _) => p - 1,
    };
    let mut parsed = std::mem::take(&mut parts[selected].parsed);
    warnings.append(&mut parsed.warnings);
    parsed.warnings = warnings;
    let form = parts[selected].form;
    Ok(Converted {
        file,
        encoding,
        form,
        why: format!("{}: part {} of {}", form.title(), selected + 1, parts.len()),
        parts,
        selected: Some(selected),
        records: parsed.table.rows.len(),
        parsed,
    })
}
