//! A file read whole: decoded, cleaned of pasted wrapping and transcript
//! noise, its form detected (or given with `--form`), parsed and mapped. Every
//! file the streams do not read comes here, and so does the built-in sample.

use std::sync::Arc;

use super::LoadError;
use super::checks::{file_warnings, reject_truncated};
use super::file::{Mapped, Outcome, SourceFile, map_typed, outcome};
use super::form::{FormName, decide};
use super::text::{clean_text, decode_file, display_name, then};
use crate::decode::Encoding;
use crate::input::csv::CsvStream;
use crate::input::stream::Digests;
use crate::input::{self, Form, Records, transcript};
use crate::model::Environment;
use crate::model::columns::{self, Cmdlet};

/// Decodes, parses and maps one file's bytes. CSV, by far the commonest and
/// largest form, is mapped record by record as it is read; the other forms go
/// through a parsed [`input::Table`].
pub(super) fn parse_and_map(
    cmdlet: Cmdlet,
    environment: Environment,
    file: &Arc<str>,
    bytes: &[u8],
    given: Option<FormName>,
) -> Result<Mapped, LoadError> {
    let mut warnings = Vec::new();
    let (text, encoding) = decode_file(file, bytes, &mut warnings)?;
    let text = clean_text(file, text, &mut warnings);
    let text = then(text, transcript::blank_noise);
    let detection = decide(file, &text, given)?;
    if detection.parts {
        let parts = input::transcript::split(&text);
        let list: Vec<String> = parts
            .iter()
            .map(|p| format!("a {} at line {}", input::detect(&p.text(&text)).title(), p.line))
            .collect();
        return Err(LoadError::Parts {
            file: file.clone(),
            message: format!(
                "this file holds {} outputs ({}), not one {} output; keep one output per file, or name the file transcript.txt to have each part recognised by its columns (`exoauth parse {file}` lists them)",
                parts.len(),
                list.join(", "),
                cmdlet.produced_by()
            ),
        });
    }
    let (form, why) = (detection.form, detection.why);
    let mut rejected = Vec::new();
    let (typed, rows, header) = match form {
        Form::Csv { delimiter } => {
            let mut stream =
                CsvStream::new(file, &text, delimiter).map_err(|e| e.in_context(&text))?;
            let header = input::Table { columns: stream.columns().to_vec(), rows: Vec::new() };
            columns::check(cmdlet, environment, file, &header)?;
            let (typed, mapped) =
                map_typed(cmdlet, environment, file, &mut stream, &mut rejected, &mut warnings);
            let parse_rejected = stream.finish();
            let rows = mapped + parse_rejected.len();
            rejected.extend(parse_rejected);
            (typed, rows, header)
        }
        _ => {
            let mut parsed = input::parse(file, &text, form)?;
            warnings.append(&mut parsed.warnings);
            parsed.warnings = warnings;
            return map_parsed(cmdlet, environment, file, parsed, form, why, encoding);
        }
    };
    file_warnings(cmdlet, environment, file, &header, rows, &mut warnings);
    Ok(Mapped { typed, rows, form, why, encoding, rejected, warnings })
}

/// Maps an already parsed file (any form but streamed CSV, or a transcript's part).
pub(super) fn map_parsed(
    cmdlet: Cmdlet,
    environment: Environment,
    file: &Arc<str>,
    mut parsed: input::Parsed,
    form: Form,
    why: String,
    encoding: Encoding,
) -> Result<Mapped, LoadError> {
    // `ConvertTo-Json -InputObject @()` (no Conditional Access policies) is `[]`:
    // no objects, so no columns to check.
    let empty_json = form == Form::Json && parsed.table.columns.is_empty();
    if !empty_json {
        columns::check(cmdlet, environment, file, &parsed.table)?;
    }
    let parsed_rows = parsed.table.rows.len() + parsed.rejected.len();
    reject_truncated(cmdlet, environment, file, &mut parsed);
    let mut rejected = std::mem::take(&mut parsed.rejected);
    let mut warnings = std::mem::take(&mut parsed.warnings);
    let (typed, _) =
        map_typed(cmdlet, environment, file, &mut parsed.table, &mut rejected, &mut warnings);
    parsed.table.rows.clear();
    file_warnings(cmdlet, environment, file, &parsed.table, parsed_rows, &mut warnings);
    Ok(Mapped { typed, rows: parsed_rows, form, why, encoding, rejected, warnings })
}

/// Hashes one file (when digests are made) while decoding, parsing and mapping it.
pub(super) fn load_one(
    cmdlet: Cmdlet,
    source: &SourceFile,
    environment: Environment,
    given: Option<FormName>,
    digests: Digests,
) -> Result<Outcome, LoadError> {
    let SourceFile { path, bytes, .. } = source;
    let file = display_name(path);
    let (sha256, mapped) = rayon::join(
        || digests.of_bytes(bytes),
        || parse_and_map(cmdlet, environment, &file, bytes, given),
    );
    outcome(cmdlet, path, sha256, mapped?)
}
