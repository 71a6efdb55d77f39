//! A file read as a stream from disk, so that neither its text nor its
//! records are held: plain CSV ([`input::stream`]), a `ConvertTo-Json` array
//! ([`input::json_stream`]), Format-List and Format-Table text
//! ([`input::console_stream`]). A mailbox export's mailboxes are not kept:
//! where each block of them starts is noted, and they are read again from
//! there when asked for ([`Mailboxes`](crate::model::Mailboxes)).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::LoadError;
use super::checks::{file_warnings, reject_truncated, rejects_cut};
use super::file::{Mapped, Outcome, Typed, map_typed, outcome, take};
use super::form::FormName;
use super::text::{display_name, guessed};
use crate::decode::Encoding;
use crate::input::console_stream::{ConsoleFile, NotedBlock, RejectsCut};
use crate::input::csv::memchr_count;
use crate::input::json_stream::JsonFile;
use crate::input::stream::{CsvFile, Digests, Finished, Stamp};
use crate::input::{self, Cells, Form, Records, Rejection, Warning};
use crate::model::columns::{self, Cmdlet};
use crate::model::mailboxes::{BlockAt, BlockForm, FileLayout};
use crate::model::notes::{JoinNotes, RuleNotes};
use crate::model::{Environment, Mailboxes, cas};
use crate::progress::Progress;

/// Reads a file named after a cmdlet as a stream (plain CSV with
/// [`input::stream`], a `ConvertTo-Json` array with [`input::json_stream`],
/// Format-List and Format-Table text with [`input::console_stream`]),
/// hashing it in a task beside (when digests are made); `None` when it must be
/// read whole.
///
/// A form `given` with `--form` is read as a stream when the stream finds
/// that form: the stream reads only what the detector calls one form
/// clearly, and the whole-file reader reads such a file alike whether its
/// form was given or detected. Any other file given a form is read whole, as
/// that form.
pub(super) fn load_streamed(
    cmdlet: Cmdlet,
    environment: Environment,
    path: &Path,
    given: Option<FormName>,
    digests: Digests,
    progress: &dyn Progress,
) -> Result<Option<Outcome>, LoadError> {
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    let before = Stamp::of_path(path).map_err(io)?;
    let (mapped, sha256) = rayon::join(
        || stream_and_map(cmdlet, environment, path, given, progress),
        || digests.of_file(path),
    );
    let Some(mut mapped) = mapped? else { return Ok(None) };
    if given.is_some() {
        mapped.why = format!("{}: given with --form (read as a stream)", mapped.form.title());
    }
    let sha256 = sha256.map_err(io)?;
    // The hash is of what was parsed only if the file stayed as it was.
    unchanged(before, path)?;
    outcome(cmdlet, path, sha256, mapped).map(Some)
}

/// An error naming the file when it is no longer as `before` found it.
pub(super) fn unchanged(before: Stamp, path: &Path) -> Result<(), LoadError> {
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    match Stamp::of_path(path).map_err(io)? == before {
        true => Ok(()),
        false => Err(io(std::io::Error::other(
            "the file changed while it was read (its size or modification time); run again on an export that is not being written",
        ))),
    }
}

/// The streamed read of [`load_streamed`].
fn stream_and_map(
    cmdlet: Cmdlet,
    environment: Environment,
    path: &Path,
    given: Option<FormName>,
    progress: &dyn Progress,
) -> Result<Option<Mapped>, LoadError> {
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    let head = head_form(path).map_err(io)?;
    let found = match head {
        Some(Head::JsonArray { .. }) => FormName::Json,
        Some(Head::List) => FormName::List,
        Some(Head::Table) => FormName::Table,
        None => FormName::Csv,
    };
    if given.is_some_and(|given| given != found) {
        return Ok(None);
    }
    match head {
        Some(Head::JsonArray { line }) => {
            return json_and_map(cmdlet, environment, path, line, progress);
        }
        Some(Head::List) => {
            return console_and_map(cmdlet, environment, path, Form::List, progress);
        }
        Some(Head::Table) => {
            return console_and_map(cmdlet, environment, path, Form::Table, progress);
        }
        None => {}
    }
    let file = display_name(path);
    let again = Again::open(path).map_err(io)?;
    let input = again.input.try_clone().map_err(io)?;
    let len = again.opened.len();
    let Some(mut stream) = CsvFile::open(&file, input, len, progress).map_err(io)? else {
        return Ok(None);
    };
    let header = input::Table { columns: stream.columns().to_vec(), rows: Vec::new() };
    columns::check(cmdlet, environment, &file, &header)?;
    let mut rejected = Vec::new();
    let mut warnings = Vec::new();
    // The mailboxes are not kept: they are read again from the file when
    // asked for ([`Mailboxes`]). What the join needs of them is noted now.
    let read_again = cmdlet == Cmdlet::CasMailbox;
    let (typed, mapped) = if read_again {
        mailboxes_read_again(&mut stream, again, &file, &mut rejected, &mut warnings)
    } else {
        map_typed(cmdlet, environment, &file, &mut stream, &mut rejected, &mut warnings)
    };
    let form = Form::Csv { delimiter: stream.delimiter() };
    let why = format!("{} (read as a stream)", stream.why());
    let Finished::Read(parse_rejected, encoding) = stream.finish() else {
        return Ok(None);
    };
    let rows = mapped + parse_rejected.len();
    rejected.extend(parse_rejected);
    // The whole-file reader says so first, as it decodes.
    warnings.splice(0..0, guessed(&file, encoding));
    file_warnings(cmdlet, environment, &file, &header, rows, &mut warnings);
    Ok(Some(Mapped { typed, rows, form, why, encoding, rejected, warnings }))
}

/// A mailbox export read as a stream, which notes where each block of its
/// records is so that its mailboxes are read again from the file
/// ([`Mailboxes::from_file`]) instead of held.
trait ReadAgain: Records {
    /// Notes the blocks as the records are read.
    fn note_blocks(&mut self);
    /// The blocks read, each with how many records it handed on and the line
    /// its records start from (a record read with a block may begin before
    /// it), and what was noted of each for reading it again.
    fn blocks_read(&mut self) -> (Vec<(BlockAt, usize)>, Vec<usize>, Vec<NotedBlock>);
    /// How its blocks are read again, and its encoding.
    fn form(&mut self) -> (BlockForm, Encoding);
}

impl<R: std::io::Read> ReadAgain for CsvFile<'_, R> {
    fn note_blocks(&mut self) {
        CsvFile::note_blocks(self);
    }

    fn blocks_read(&mut self) -> (Vec<(BlockAt, usize)>, Vec<usize>, Vec<NotedBlock>) {
        records_from_first_line(self.blocks())
    }

    fn form(&mut self) -> (BlockForm, Encoding) {
        let (columns, delimiter) = (self.header().to_vec(), self.delimiter());
        (BlockForm::Csv { columns, delimiter }, self.encoding())
    }
}

impl ReadAgain for ConsoleFile<'_> {
    fn note_blocks(&mut self) {
        ConsoleFile::note_blocks(self);
    }

    fn blocks_read(&mut self) -> (Vec<(BlockAt, usize)>, Vec<usize>, Vec<NotedBlock>) {
        let noted = self.blocks();
        let blocks = noted.iter().map(|b| (b.at.clone(), b.records)).collect();
        let bounds = noted.iter().map(|b| b.first_record).collect();
        (blocks, bounds, noted)
    }

    fn form(&mut self) -> (BlockForm, Encoding) {
        (BlockForm::Console(self.reread()), self.encoding())
    }
}

impl ReadAgain for JsonFile<'_> {
    fn note_blocks(&mut self) {
        JsonFile::note_blocks(self);
    }

    fn blocks_read(&mut self) -> (Vec<(BlockAt, usize)>, Vec<usize>, Vec<NotedBlock>) {
        records_from_first_line(self.blocks())
    }

    fn form(&mut self) -> (BlockForm, Encoding) {
        (BlockForm::Json(self.reread()), self.encoding())
    }
}

/// [`ReadAgain::blocks_read`] of blocks whose records start in them, each
/// with its first line (CSV records, JSON objects): nothing more is noted.
fn records_from_first_line(
    blocks: Vec<(BlockAt, usize)>,
) -> (Vec<(BlockAt, usize)>, Vec<usize>, Vec<NotedBlock>) {
    let bounds = blocks.iter().map(|(at, _)| at.first_line).collect();
    (blocks, bounds, Vec::new())
}

/// A file opened before its first read: it is read again as it was then (a
/// change since fails the reads).
pub(super) struct Again {
    path: PathBuf,
    input: std::fs::File,
    opened: std::fs::Metadata,
}

impl Again {
    /// Opens the file at `path`, before its first read.
    pub(super) fn open(path: &Path) -> std::io::Result<Again> {
        let input = std::fs::File::open(path)?;
        let opened = input.metadata()?;
        Ok(Again { path: path.to_owned(), input, opened })
    }
}

/// Maps a mailbox export's records as `stream` reads them, noting what the
/// join needs of each mailbox and where each block is, and keeping none: the
/// mailboxes are read again from `again` by blocks. Returns them, with how
/// many records the mapper saw.
fn mailboxes_read_again(
    stream: &mut dyn ReadAgain,
    again: Again,
    file: &Arc<str>,
    rejected: &mut Vec<Rejection>,
    warnings: &mut Vec<Warning>,
) -> (Typed, usize) {
    stream.note_blocks();
    let n = stream.size_hint();
    let (mut rows, mut notes, mut rules) =
        (0, JoinNotes::with_capacity(n), RuleNotes::with_capacity(n));
    let m = cas::map_into(file, stream, &mut |m| {
        notes.note(&m);
        rules.note(&m);
        rows += 1;
    });
    // The mapper's rejections fall in the block whose records hold them.
    let map_rejected: Vec<usize> = m.rejected.iter().map(|r| r.source.line).collect();
    let (_, n) = take(m, rejected, warnings);
    let (blocks, bounds, noted) = stream.blocks_read();
    let (form, encoding) = stream.form();
    let layout = FileLayout {
        path: again.path,
        input: again.input,
        opened: again.opened,
        name: file.clone(),
        form,
        encoding,
        blocks: rows_per_block(blocks, &bounds, &map_rejected),
        noted,
    };
    (Typed::Mailboxes(Mailboxes::from_file(layout, notes, rules)), n + rows)
}

/// What the start of a file says it is, for the streams that read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Head {
    /// A `[` at the start of line `line` (after a byte-order mark and blank
    /// lines), as `ConvertTo-Json` of many objects writes it.
    JsonArray { line: usize },
    /// A first non-blank line that is a Format-List property.
    List,
    /// A rule of dashes second to fifth in the first paragraph (a table header
    /// of one to four lines).
    Table,
}

/// What the start of a file says it is; `None` for anything else (CSV among it).
pub(super) fn head_form(path: &Path) -> std::io::Result<Option<Head>> {
    let mut head = [0; 4096];
    let n = crate::decode::read_full(&mut std::fs::File::open(path)?, &mut head)?;
    // (Lossy, for recognising the form only.)
    let text = crate::decode::decode_prefix(&head[..n]);
    let blank = text.len() - text.trim_start_matches(['\r', '\n']).len();
    if text[blank..].starts_with('[') {
        return Ok(Some(Head::JsonArray { line: 1 + memchr_count(&text.as_bytes()[..blank]) }));
    }
    let mut lines = text.split('\n').map(|l| input::list::strip_ansi(l.trim_end_matches('\r')));
    let mut paragraph = lines.by_ref().skip_while(|l| l.trim().is_empty());
    let Some(first) = paragraph.next() else { return Ok(None) };
    if input::detect::is_list_line(&first) {
        return Ok(Some(Head::List));
    }
    let mut header = paragraph.take(4).take_while(|l| !l.trim().is_empty());
    Ok(header.any(|l| input::table::is_rule(&l)).then_some(Head::Table))
}

/// Reads a Format-List or Format-Table file (`form`) straight from it, record
/// by record ([`input::console_stream`]), into the rows the whole-file reader
/// makes of it, so that neither its text nor its records are held; `None`
/// when the file is to be read whole (see there).
fn console_and_map(
    cmdlet: Cmdlet,
    environment: Environment,
    path: &Path,
    form: Form,
    progress: &dyn Progress,
) -> Result<Option<Mapped>, LoadError> {
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    let file = display_name(path);
    let again = Again::open(path).map_err(io)?;
    let Some(console) = ConsoleFile::open(&file, path, form, progress).map_err(io)? else {
        return Ok(None);
    };
    map_console(cmdlet, environment, &file, again, console, &mut Watch::default())
}

/// What a transcript's part read as a stream is watched for: each record, as
/// it is handed on.
#[derive(Default)]
pub(super) struct Watch<'w> {
    pub(super) each: Option<&'w mut Watcher<'w>>,
}

/// What watches each record of a console file, with its line.
pub(super) type Watcher<'w> = dyn FnMut(usize, Cells<'_>) + Send + 'w;

/// Maps the records of a console file surveyed by its first pass (its
/// second pass reads them), as [`console_and_map`] does; `None` when it is to
/// be read whole after all.
pub(super) fn map_console(
    cmdlet: Cmdlet,
    environment: Environment,
    file: &Arc<str>,
    again: Again,
    console: ConsoleFile<'_>,
    watch: &mut Watch<'_>,
) -> Result<Option<Mapped>, LoadError> {
    let path = again.path.clone();
    let io = |error| LoadError::Io { path: path.clone(), error };
    let form = console.form();
    let rejects: RejectsCut = Arc::new(move |column| rejects_cut(cmdlet, environment, column));
    let mut console = Watched { inner: console.rejecting_cut(rejects), each: watch.each.take() };
    let header = input::Table { columns: console.columns().to_vec(), rows: Vec::new() };
    columns::check(cmdlet, environment, file, &header)?;
    let (mut rejected, mut warnings) = (Vec::new(), Vec::new());
    // The mailboxes are not kept: each block of lines is read again from
    // where its reader was ([`Mailboxes`]), as for a CSV export.
    let typed = if cmdlet == Cmdlet::CasMailbox {
        mailboxes_read_again(&mut console, again, file, &mut rejected, &mut warnings).0
    } else {
        map_typed(cmdlet, environment, file, &mut console, &mut rejected, &mut warnings).0
    };
    let console = console.inner;
    let (why, encoding) =
        (format!("{} (read as a stream)", console.detection().why), console.encoding());
    let Some(read) = console.finish().map_err(io)? else { return Ok(None) };
    let rows = read.records + read.rejected.len();
    // The rows it did not read for a cut cell, rejected as the whole-file
    // reader rejects them.
    let mut cut = input::Parsed { truncated: read.truncated, ..input::Parsed::default() };
    reject_truncated(cmdlet, environment, file, &mut cut);
    // The whole-file reader gives the reader's own first, as it parses first,
    // and what it guessed of the encoding before them, as it decodes first.
    rejected.splice(0..0, read.rejected.into_iter().chain(cut.rejected));
    warnings.splice(0..0, guessed(file, encoding).into_iter().chain(read.warnings));
    file_warnings(cmdlet, environment, file, &header, rows, &mut warnings);
    Ok(Some(Mapped { typed, rows, form, why, encoding, rejected, warnings }))
}

/// A console file whose records are handed to `each` too, before the mapper.
struct Watched<'c, 'w> {
    inner: ConsoleFile<'c>,
    each: Option<&'w mut Watcher<'w>>,
}

impl Records for Watched<'_, '_> {
    fn columns(&self) -> &[String] {
        self.inner.columns()
    }

    fn size_hint(&self) -> usize {
        self.inner.size_hint()
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        match self.each.as_mut() {
            Some(watch) => self.inner.each(&mut |line, cells| {
                watch(line, cells);
                f(line, cells);
            }),
            None => self.inner.each(f),
        }
    }
}

impl ReadAgain for Watched<'_, '_> {
    fn note_blocks(&mut self) {
        self.inner.note_blocks();
    }

    fn blocks_read(&mut self) -> (Vec<(BlockAt, usize)>, Vec<usize>, Vec<NotedBlock>) {
        ReadAgain::blocks_read(&mut self.inner)
    }

    fn form(&mut self) -> (BlockForm, Encoding) {
        ReadAgain::form(&mut self.inner)
    }
}

/// Reads a JSON export that is an array of objects straight from its file,
/// object by object, in two passes ([`input::json_stream::JsonFile`]), into
/// the rows the whole-file reader makes of it, so that neither its text nor
/// its records are held; `None` when the file is to be read whole: anything
/// the stream does not read (see there), and any object with what the
/// whole-file reader would set aside as pasted wrapping or transcript noise.
fn json_and_map(
    cmdlet: Cmdlet,
    environment: Environment,
    path: &Path,
    line: usize,
    progress: &dyn Progress,
) -> Result<Option<Mapped>, LoadError> {
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    let file = display_name(path);
    let again = Again::open(path).map_err(io)?;
    let refuse = input::paste::may_need_cleaning_within;
    let Some(mut json) = JsonFile::open(&file, path, progress, &refuse).map_err(io)? else {
        return Ok(None);
    };
    let header = input::Table { columns: json.columns().to_vec(), rows: Vec::new() };
    columns::check(cmdlet, environment, &file, &header)?;
    let (mut rejected, mut warnings) = (Vec::new(), Vec::new());
    // The mailboxes are not kept: each block of objects is read again
    // ([`Mailboxes`]), as for a CSV export.
    let (typed, rows) = if cmdlet == Cmdlet::CasMailbox {
        mailboxes_read_again(&mut json, again, &file, &mut rejected, &mut warnings)
    } else {
        map_typed(cmdlet, environment, &file, &mut json, &mut rejected, &mut warnings)
    };
    let encoding = json.encoding();
    let Some(cut) = json.finish().map_err(io)? else { return Ok(None) };
    // The whole-file reader gives the reader's own first, as it parses first,
    // and what it guessed of the encoding before them, as it decodes first.
    warnings.splice(0..0, guessed(&file, encoding).into_iter().chain(cut));
    file_warnings(cmdlet, environment, &file, &header, rows, &mut warnings);
    let why = format!(
        "JSON: line {line} starts with `[` as ConvertTo-Json output does (read as a stream)"
    );
    Ok(Some(Mapped { typed, rows, form: Form::Json, why, encoding, rejected, warnings }))
}

/// The rows the mapper made of each block: the block's records less those it
/// rejected (`rejected` holds their lines, ascending). `bounds` holds the
/// line each block's records start from, ascending: a rejection falls in the
/// last block that starts at or before its line.
fn rows_per_block(
    blocks: Vec<(BlockAt, usize)>,
    bounds: &[usize],
    rejected: &[usize],
) -> Vec<(BlockAt, usize)> {
    let mut rejected = rejected.iter().peekable();
    let mut out = Vec::with_capacity(blocks.len());
    for (k, (at, records)) in blocks.into_iter().enumerate() {
        let next = bounds.get(k + 1).copied().unwrap_or(usize::MAX);
        let mut lost = 0;
        while rejected.next_if(|&&line| line < next).is_some() {
            lost += 1;
        }
        // (A block holds the records the mapper rejected: never more.)
        out.push((at, records.saturating_sub(lost)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_changes_between_its_two_reads_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("User.csv");
        std::fs::write(&path, "Guid,UserPrincipalName\n").unwrap();
        let stamp = Stamp::of_path(&path).unwrap();
        assert!(unchanged(stamp, &path).is_ok());
        std::fs::write(&path, "Guid,UserPrincipalName\na,b@contoso.com\n").unwrap();
        let e = unchanged(stamp, &path).unwrap_err().to_string();
        assert!(e.starts_with(&path.display().to_string()), "{e}");
        assert!(e.contains("changed while it was read"), "{e}");
    }
}
