//! Transcripts: a console session holding several cmdlets' outputs, each
//! recognised by its columns.
//!
//! This module reads a transcript whole ([`whole_transcript`]), and any part
//! the stream leaves to it ([`read_part`]); [`stream`] reads one from its file
//! a part at a time, and gives way to the whole read where the two would
//! differ.

use std::path::Path;
use std::sync::Arc;

use super::LoadError;
use super::file::{Outcome, outcome};
use super::form::decide;
use super::text::{clean_text, decode_file, display_name, then};
use super::whole::map_parsed;
use crate::decode::Encoding;
use crate::input::stream::Digests;
use crate::input::{self, Form, Warning, transcript};
use crate::model::Environment;
use crate::model::columns::{self, Cmdlet};

mod stream;

pub(super) use stream::stream_transcript;

/// One file (or one cmdlet's parts of a transcript) decoded and parsed.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    /// The file name used in messages.
    pub file: Arc<str>,
    /// Its records.
    pub parsed: input::Parsed,
    /// The detected form.
    pub form: Form,
    /// The detected encoding.
    pub encoding: Encoding,
    /// SHA-256 of the bytes, lowercase hex; `None` when digests are not made.
    pub sha256: Option<String>,
}

/// Decodes and parses one file's bytes. Prompt lines (`PS C:\> Get-User | fl`)
/// and transcript banners are ignored, so that a file holding one cmdlet's output
/// with the command that made it reads as that output.
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<ParsedFile, LoadError> {
    let file = display_name(path);
    let sha256 = Digests::Made.of_bytes(bytes);
    let mut warnings = Vec::new();
    let (text, encoding) = decode_file(&file, bytes, &mut warnings)?;
    let text = clean_text(&file, text, &mut warnings);
    let text = then(text, transcript::blank_noise);
    let detection = decide(&file, &text, None)?;
    let mut parsed = input::parse(&file, &text, detection.form)?;
    warnings.append(&mut parsed.warnings);
    parsed.warnings = warnings;
    Ok(ParsedFile { file, parsed, form: detection.form, encoding, sha256 })
}

/// One output found in a transcript: its cmdlet (when recognised), form and records.
#[derive(Debug, Clone)]
pub struct TranscriptPart {
    /// The part's first line.
    pub line: usize,
    /// The command typed before it, if any.
    pub command: Option<String>,
    /// The recognised cmdlet.
    pub cmdlet: Option<Cmdlet>,
    /// The part's form.
    pub form: Form,
    /// Its records.
    pub parsed: input::Parsed,
}

/// Splits a transcript into its outputs and recognises each by its columns. A
/// Format-List part is recognised object by object, so outputs pasted without a
/// prompt between them still separate. A part that cannot be parsed is a
/// warning, not an error: the rest of the transcript is still read.
pub fn transcript_parts(
    file: &Arc<str>,
    text: &str,
    environment: Environment,
    warnings: &mut Vec<Warning>,
) -> Vec<TranscriptPart> {
    let mut out = Vec::new();
    for part in transcript::split(text) {
        let part_text = part.text(text);
        read_part(file, &part, &part_text, environment, warnings, &mut out);
    }
    out
}

/// Reads one part of a transcript (`part_text`: [`transcript::Part::text`])
/// into `out`: a Format-List part object by object, so that outputs pasted
/// without a prompt between them separate.
pub(super) fn read_part(
    file: &Arc<str>,
    part: &transcript::Part,
    part_text: &str,
    environment: Environment,
    warnings: &mut Vec<Warning>,
    out: &mut Vec<TranscriptPart>,
) {
    let form = input::detect(part_text);
    let mut parsed = match input::parse(file, part_text, form) {
        Ok(parsed) => parsed,
        Err(e) => {
            warnings.push(Warning {
                code: "transcript-part-unreadable",
                source: Some(input::Source {
                    file: crate::model::Text::new(file),
                    line: part.line,
                }),
                message: format!("ignored an unreadable {} part: {e}", form.name()),
            });
            return;
        }
    };
    let recognise = |t: &input::Table| Cmdlet::recognise(environment, |n| t.column(n).is_some());
    if form == Form::List && parsed.table.rows.len() > 1 {
        // Object by object: consecutive objects of one cmdlet form a part.
        let table = &parsed.table;
        let mut groups: Vec<(Option<Cmdlet>, usize)> = Vec::new();
        for k in 0..table.rows.len() {
            let cmdlet = Cmdlet::recognise(environment, |n| table.row_has(k, n));
            match groups.last_mut() {
                Some((c, rows)) if *c == cmdlet => *rows += 1,
                _ => groups.push((cmdlet, 1)),
            }
        }
        // A rejected object (one the end of the file cut) follows the rest:
        // it goes with the last group.
        let mut rejected = std::mem::take(&mut parsed.rejected);
        let last = groups.len().saturating_sub(1);
        let lengths: Vec<usize> = groups.iter().map(|&(_, n)| n).collect();
        let tables = std::mem::take(&mut parsed.table).into_runs(&lengths);
        for (k, ((cmdlet, _), table)) in groups.into_iter().zip(tables).enumerate() {
            let lines: Vec<usize> = table.rows.iter().map(|r| r.line).collect();
            debug_assert!(lines.is_sorted(), "rows in text order");
            let first = lines.first().copied().unwrap_or(part.line);
            let mut p = input::Parsed { table, ..input::Parsed::default() };
            if k == last {
                p.rejected = std::mem::take(&mut rejected);
            }
            p.warnings = parsed
                .warnings
                .iter()
                // `lines` ascend, as the rows do.
                .filter(|w| w.source.as_ref().is_some_and(|s| lines.binary_search(&s.line).is_ok()))
                .cloned()
                .collect();
            out.push(TranscriptPart {
                line: first,
                command: part.command.clone(),
                cmdlet,
                form,
                parsed: p,
            });
        }
    } else {
        let cmdlet = recognise(&parsed.table);
        out.push(TranscriptPart {
            line: part.line,
            command: part.command.clone(),
            cmdlet,
            form,
            parsed,
        });
    }
}

/// Reads a transcript whole and adds an outcome for each cmdlet it holds
/// that `outcomes` does not yet hold (a warning for each it does).
pub(super) fn whole_transcript(
    path: &Path,
    bytes: std::borrow::Cow<'static, [u8]>,
    environment: Environment,
    digests: Digests,
    outcomes: &mut Vec<Outcome>,
    warnings: &mut Vec<Warning>,
) -> Result<(), LoadError> {
    for (cmdlet, part) in parse_transcript(path, bytes, environment, digests, warnings) {
        if let Some(held) = held(outcomes, &part.file, cmdlet) {
            warnings.push(held);
            continue;
        }
        let ParsedFile { file, parsed, form, encoding, sha256 } = part;
        let why = format!("{}: a part of the transcript", form.title());
        let mapped = map_parsed(cmdlet, environment, &file, parsed, form, why, encoding)?;
        outcomes.push(outcome(cmdlet, path, sha256, mapped)?);
    }
    Ok(())
}

/// The warning for a transcript's part of a cmdlet that `outcomes` already
/// holds, if one does.
pub(super) fn held(outcomes: &[Outcome], file: &str, cmdlet: Cmdlet) -> Option<Warning> {
    let first = outcomes.iter().find(|o| o.input.cmdlet == cmdlet)?;
    Some(Warning {
        code: "transcript-part-ignored",
        source: None,
        message: format!(
            "{file}: ignored its {} output: {} already holds it",
            cmdlet.produced_by(),
            first.input.path.display()
        ),
    })
}

/// Reads a transcript: one [`ParsedFile`] per recognised cmdlet (its parts
/// merged), and a warning for each part that matches no export.
pub(super) fn parse_transcript(
    path: &Path,
    bytes: std::borrow::Cow<'static, [u8]>,
    environment: Environment,
    digests: Digests,
    warnings: &mut Vec<Warning>,
) -> Vec<(Cmdlet, ParsedFile)> {
    let file = display_name(path);
    let sha256 = digests.of_bytes(&bytes);
    let (text, encoding) = match decode_file(&file, &bytes, warnings) {
        Ok(decoded) => decoded,
        Err(error) => {
            warnings.push(Warning {
                code: "unknown-file",
                source: None,
                message: format!("ignored {}: not a transcript ({error})", path.display()),
            });
            return Vec::new();
        }
    };
    // The bytes are let go once decoded and cleaned: a transcript of a large
    // tenant is hundreds of megabytes.
    let text = clean_text(&file, text, warnings).into_owned();
    drop(bytes);
    let mut found: Vec<(Cmdlet, ParsedFile)> = Vec::new();
    let parts = transcript_parts(&file, &text, environment, warnings);
    let recognised = parts.iter().filter(|p| p.cmdlet.is_some()).count();
    for part in parts {
        let Some(cmdlet) = part.cmdlet else {
            if recognised > 0 {
                warnings.push(ignored(&file, &part, environment));
            }
            continue;
        };
        match found.iter_mut().find(|(c, _)| *c == cmdlet) {
            Some((_, pf)) => pf.parsed.append(part.parsed),
            None => found.push((
                cmdlet,
                ParsedFile {
                    file: file.clone(),
                    parsed: part.parsed,
                    form: part.form,
                    encoding,
                    sha256: sha256.clone(),
                },
            )),
        }
    }
    if found.is_empty() {
        warnings.push(none_recognised(path));
    }
    found
}

/// The warning for a part that matches no export (when another part does).
pub(super) fn ignored(file: &Arc<str>, part: &TranscriptPart, environment: Environment) -> Warning {
    let mut columns: Vec<&str> =
        part.parsed.table.columns.iter().map(String::as_str).take(6).collect();
    if part.parsed.table.columns.len() > 6 {
        columns.push("...");
    }
    let why = part
        .command
        .as_deref()
        .and_then(Cmdlet::from_command)
        .and_then(|c| columns::check(c, environment, file, &part.parsed.table).err())
        .map_or_else(String::new, |e| format!(" ({})", e.message));
    Warning {
        code: "transcript-part-ignored",
        source: Some(input::Source { file: crate::model::Text::new(file), line: part.line }),
        message: format!(
            "ignored {}{} with columns {}: it matches no export{why}",
            part.form.name(),
            part.command.as_deref().map_or_else(String::new, |c| format!(" output of `{c}`")),
            columns.join(", "),
        ),
    }
}

/// The warning for a transcript of which no part matches an export.
pub(super) fn none_recognised(path: &Path) -> Warning {
    Warning {
        code: "unknown-file",
        source: None,
        message: format!(
            "ignored {}: its name matches no export and no part of it was recognised as one",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_part_split_by_cmdlet_keeps_each_objects_warnings() {
        // Get-User objects, then Get-CASMailbox objects, with no prompt between.
        let text = "\
Guid                 : 1
UserPrincipalName    : a@contoso.com
AuthenticationPolicy :
RecipientTypeDetails : UserMailbox
EmailAddresses       : {SMTP:a@contoso.com, smtp:a1@contoso.com, smtp:a2@contoso.com, smtp:a3@contoso.com...}

Guid                 : 2
UserPrincipalName    : b@contoso.com
AuthenticationPolicy :
RecipientTypeDetails : UserMailbox

Guid                             : 1
PrimarySmtpAddress               : a@contoso.com
PopEnabled                       : True
ImapEnabled                      : True
SmtpClientAuthenticationDisabled :

Guid                             : 2
PrimarySmtpAddress               : b@contoso.com
EmailAddresses                   : {SMTP:b@contoso.com, smtp:b1@contoso.com, smtp:b2@contoso.com, smtp:b3@contoso.com...}
PopEnabled                       : False
ImapEnabled                      : True
SmtpClientAuthenticationDisabled : True
";
        let mut warnings = Vec::new();
        let parts = transcript_parts(
            &Arc::from("transcript.txt"),
            text,
            Environment::Online,
            &mut warnings,
        );
        let found: Vec<(Option<Cmdlet>, Vec<usize>, Vec<usize>)> = parts
            .iter()
            .map(|p| {
                let rows = p.parsed.table.rows.iter().map(|r| r.line).collect();
                let warned = p.parsed.warnings.iter().filter_map(|w| w.source.map(|s| s.line));
                (p.cmdlet, rows, warned.collect())
            })
            .collect();
        assert_eq!(
            found,
            [
                (Some(Cmdlet::User), vec![1, 7], vec![1]),
                (Some(Cmdlet::CasMailbox), vec![12, 18], vec![18]),
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");

        // Cut by the end of the file in the last object: that object is
        // rejected with the last group, never lost.
        let cut = &text[..text.find("PopEnabled                       : False").unwrap() + 15];
        let parts =
            transcript_parts(&Arc::from("transcript.txt"), cut, Environment::Online, &mut warnings);
        let last = &parts.last().unwrap().parsed;
        assert_eq!(last.table.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [12]);
        let rejected: Vec<usize> = last.rejected.iter().map(|r| r.source.line).collect();
        assert_eq!(rejected, [18]);
        assert!(parts[0].parsed.rejected.is_empty());
    }
}
