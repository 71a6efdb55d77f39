//! One file in any form, for `exoauth parse`.

use std::path::Path;
use std::sync::Arc;

use super::LoadError;
use super::form::{FormName, decide};
use super::text::{clean_text, decode_file, display_name};
use super::transcript::{TranscriptPart, transcript_parts};
use crate::decode::Encoding;
use crate::input::{self, Form, transcript};
use crate::model::Environment;

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
    /// The records converted.
    pub parsed: input::Parsed,
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
        parsed,
    })
}
