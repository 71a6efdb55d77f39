//! Console text (`Format-List`, `Format-Table`) read from its file in two
//! passes, so that neither the text nor its records are held
//! ([`ConsoleFile`]).
//!
//! The first pass finds the form's layout ([`list::Layout`]: the output width
//! and the labels; [`table::Layout`]: each block's columns) and checks that
//! the whole-file reader would read the file as plain output of that form:
//! text [`read_lines`] decodes as the whole-file reader does, nothing
//! [`paste::clean`] or the transcript reader would set aside, and lines the
//! detector can only call that form ([`detect::all_list`],
//! [`detect::all_table`]). The second pass reads the records with the
//! whole-file reader's own reader and hands each to the mapper. Anything else
//! (another encoding, a damaged or pasted file, a line of another form) is
//! left to the whole-file reader, which gives the exact warning or error.
//!
//! A transcript's part is read the same way over its stretch of the file
//! ([`ConsoleFile::open_window`], a [`Window`]), with the file's line numbers
//! and offsets; its text is not checked for pasted wrapping, as the
//! whole-file reader cleans a transcript whole and not its parts.

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::detect::{self, Detection, Form};
use super::lines::{BLOCK, Each, read_lines, read_lines_at, split};
use super::list::strip_ansi;
use super::stream::Counted;
use super::{Cells, Record, Records, Rejection, Warning, list, paste, table};
use crate::decode::Encoding;
use crate::model::mailboxes::BlockAt;
use crate::progress::Progress;

/// A console-text file surveyed by the first pass, read by [`Records::each`].
pub struct ConsoleFile<'p> {
    file: Arc<str>,
    path: PathBuf,
    layout: Layout,
    detection: Detection,
    encoding: Encoding,
    /// About how many records.
    records: usize,
    block: usize,
    progress: &'p dyn Progress,
    /// Which Format-Table columns' cut cells the caller rejects a row for.
    rejects_cut: Option<RejectsCut>,
    /// What the second pass read, once it has.
    read: Option<io::Result<Option<Read>>>,
    /// With [`ConsoleFile::note_blocks`]: each block of lines the second pass
    /// read, with where the reader was at its start.
    blocks: Option<Vec<NotedBlock>>,
    /// Whether a line break ends the file (known after the second pass).
    ended: bool,
    /// The stretch of the file read, when not all of it.
    window: Option<Window>,
}

/// A stretch of a file that starts on a line: a transcript's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Where it starts in the file.
    pub at: u64,
    /// How many bytes it holds.
    pub len: u64,
    /// Its first line.
    pub line: usize,
    /// The file's encoding, as its first read found it.
    pub encoding: Encoding,
}

/// Reads the lines of the file (`window`: of that stretch of it) a block at
/// a time, as [`read_lines`] and [`read_lines_at`] do.
fn lines_of(
    input: std::fs::File,
    window: Option<Window>,
    block: usize,
    progress: &dyn Progress,
    each: &mut Each<'_>,
) -> io::Result<Option<Encoding>> {
    use std::io::{Read as _, Seek as _};
    match window {
        None => read_lines(Counted { inner: input, progress }, block, each),
        Some(w) => {
            let mut input = input;
            input.seek(io::SeekFrom::Start(w.at))?;
            let inner = input.take(w.len);
            read_lines_at(Counted { inner, progress }, block, (w.at, w.line, w.encoding), each)
        }
    }
}

/// A block of whole lines as the second pass read it: where it is in the
/// file, where the reader was at its start, and what it handed on while
/// reading it. Reading the block's bytes again from that state
/// ([`Reread::records`]) hands on the same records.
#[derive(Debug, Clone)]
pub struct NotedBlock {
    /// Where its bytes are, and its first line.
    pub at: BlockAt,
    /// How many records were handed on while it was read.
    pub records: usize,
    /// The first line of the first record handed on while it was read; for a
    /// block that handed none on, the next block's (`usize::MAX` for none).
    pub first_record: usize,
    /// Where the reader was at its start.
    pub resume: Resume,
    /// Whether it is the file's last block: the reader's end is read with it.
    pub last: bool,
}

/// Where a form's reader was at the start of a block.
#[derive(Debug, Clone)]
pub enum Resume {
    /// A Format-List reader's state.
    List(list::State),
    /// A Format-Table reader's state.
    Table(table::State),
}

/// What reading a console file's blocks again needs: its layout, whether a
/// line break ends it, and which cut Format-Table cells reject a row.
pub struct Reread {
    file: Arc<str>,
    layout: Layout,
    ended: bool,
    rejects_cut: Option<RejectsCut>,
}

/// Which Format-Table columns' cut cells reject a row ([`ConsoleFile::rejecting_cut`]).
pub type RejectsCut = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A form's layout.
enum Layout {
    List(list::Layout),
    Table(table::Layout),
}

/// What the second pass read besides the records it handed on.
#[derive(Debug)]
pub struct Read {
    /// How many records it read: those it handed on, and those it did not for
    /// a cut cell (see [`ConsoleFile::rejecting_cut`]).
    pub records: usize,
    /// The rows that do not fit, and the record cut by the end of the file.
    pub rejected: Vec<Rejection>,
    /// Data loss: collections and cells cut to fit.
    pub warnings: Vec<Warning>,
    /// Format-Table cells cut to fit the console (see [`super::Parsed::truncated`]).
    pub truncated: Vec<(usize, String)>,
}

/// The first pass, a line at a time.
struct Survey<'f> {
    form: FormSurvey<'f>,
    /// It is a stretch of a transcript ([`Window`]).
    part: bool,
    /// A non-blank line has been seen.
    data: bool,
    /// The first and last non-blank lines, and how many there are.
    first: usize,
    last: usize,
    lines: usize,
    /// Paragraphs: about one record each in Format-List.
    paragraphs: usize,
    /// The line before is blank (or there is none).
    after_blank: bool,
    /// The last line taken.
    seen: usize,
}

/// What the first pass keeps for each form.
enum FormSurvey<'f> {
    List {
        layout: list::Layout,
        /// The line before is Format-List output (and not blank).
        after_list: bool,
    },
    Table {
        survey: table::Survey<'f>,
        /// The line's place in its paragraph, and whether a rule of dashes is
        /// second to fifth in it (then the detector takes the whole paragraph
        /// for a table).
        index: usize,
        ruled: bool,
    },
}

impl Survey<'_> {
    /// Takes a block of lines starting at line `first`; false when the file
    /// is to be read whole.
    fn block(&mut self, text: &str, first: usize) -> bool {
        // A block starts on a line, so a block-wise check finds what a
        // whole-text one does; a common indentation shows on the first line
        // that holds anything.
        // (A transcript's part is not cleaned: the transcript is, whole.)
        let pasted = match self.data {
            _ if self.part => false,
            false => paste::may_need_cleaning(text),
            true => paste::may_need_cleaning_within(text),
        };
        !pasted && split(text).enumerate().all(|(k, (raw, _))| self.line(first + k, raw))
    }

    /// Takes line `number`; false when the file is to be read whole.
    fn line(&mut self, number: usize, raw: &str) -> bool {
        let cleaned = strip_ansi(raw.trim_end_matches('\r'));
        let blank = cleaned.trim().is_empty();
        let fits = match &mut self.form {
            FormSurvey::List { layout, after_list } => {
                let parsed = layout.add(raw).is_some();
                let fits = blank
                    || (detect::is_in_list(&cleaned, *after_list) && !table::is_rule(&cleaned));
                *after_list = !blank;
                parsed && fits
            }
            FormSurvey::Table { survey, index, ruled } => {
                let parsed = survey.add(number, raw).is_ok();
                // The detector's CSV candidate explains half the lines at most
                // when the first holds no delimiter, and nothing else any.
                let first_fits = self.data || blank || {
                    let t = cleaned.trim_start();
                    !t.starts_with(['{', '['])
                        && !cleaned.starts_with("#TYPE")
                        && !cleaned.contains([',', ';'])
                };
                let fits = if blank {
                    // A paragraph ends: the detector took it whole for a table.
                    let whole = self.after_blank || *ruled;
                    (*index, *ruled) = (0, false);
                    whole
                } else {
                    *ruled |= (1..=4).contains(index) && table::is_rule(&cleaned);
                    *index += 1;
                    !detect::is_list_line(&cleaned)
                };
                parsed && first_fits && fits
            }
        };
        if !blank {
            self.paragraphs += usize::from(self.after_blank);
            if self.lines == 0 {
                self.first = number;
            }
            (self.data, self.last, self.lines) = (true, number, self.lines + 1);
        }
        (self.after_blank, self.seen) = (blank, number);
        fits
    }

    /// Ends the text: the layout, what the detector says, and about how many
    /// records there are; `None` when the file is to be read whole.
    fn finish(self) -> Option<(Layout, Detection, usize)> {
        // (An empty file is an error the whole-file reader gives.)
        if self.lines == 0 {
            return None;
        }
        let (first, last, n) = (self.first, self.last, self.lines);
        match self.form {
            FormSurvey::List { layout, .. } => {
                Some((Layout::List(layout), detect::all_list(first, last, n), self.paragraphs))
            }
            FormSurvey::Table { survey, index, ruled } => {
                // The last paragraph ends with the text.
                if index > 0 && !ruled {
                    return None;
                }
                let layout = Layout::Table(survey.finish(self.seen).ok()?);
                Some((layout, detect::all_table(first, last, n), n))
            }
        }
    }
}

impl<'p> ConsoleFile<'p> {
    /// Surveys the file at `path` (shown as `file`) as `form` (Format-List or
    /// Format-Table); `None` when it is to be read whole (see the module
    /// documentation). `progress` counts the bytes of the second pass.
    pub fn open(
        file: &Arc<str>,
        path: &Path,
        form: Form,
        progress: &'p dyn Progress,
    ) -> io::Result<Option<ConsoleFile<'p>>> {
        ConsoleFile::open_sized(file, path, form, progress, BLOCK, None)
    }

    /// [`ConsoleFile::open`] for a stretch of a file (a transcript's part):
    /// its line numbers and block offsets are the file's.
    pub fn open_window(
        file: &Arc<str>,
        path: &Path,
        form: Form,
        progress: &'p dyn Progress,
        window: Window,
    ) -> io::Result<Option<ConsoleFile<'p>>> {
        ConsoleFile::open_sized(file, path, form, progress, BLOCK, Some(window))
    }

    fn open_sized(
        file: &Arc<str>,
        path: &Path,
        form: Form,
        progress: &'p dyn Progress,
        block: usize,
        window: Option<Window>,
    ) -> io::Result<Option<ConsoleFile<'p>>> {
        let form = match form {
            Form::List => FormSurvey::List { layout: list::Layout::default(), after_list: false },
            Form::Table => {
                FormSurvey::Table { survey: table::Survey::new(file), index: 0, ruled: false }
            }
            Form::Csv { .. } | Form::Json => return Ok(None),
        };
        let mut survey = Survey {
            form,
            part: window.is_some(),
            data: false,
            first: 0,
            last: 0,
            lines: 0,
            paragraphs: 0,
            after_blank: true,
            seen: 0,
        };
        let input = std::fs::File::open(path)?;
        let each = &mut |text: &str, line, _, _| survey.block(text, line);
        let read = lines_of(input, window, block, &crate::progress::Silent, each)?;
        let Some(encoding) = read else { return Ok(None) };
        let Some((layout, detection, records)) = survey.finish() else { return Ok(None) };
        Ok(Some(ConsoleFile {
            file: file.clone(),
            path: path.to_owned(),
            layout,
            detection,
            encoding,
            records,
            block,
            progress,
            rejects_cut: None,
            read: None,
            blocks: None,
            ended: true,
            window,
        }))
    }

    /// Reads no row whose Format-Table cell in a column `rejects` names was
    /// cut to fit the console (the caller rejects them from
    /// [`Read::truncated`]); they are still counted in [`Read::records`].
    pub fn rejecting_cut(mut self, rejects: RejectsCut) -> ConsoleFile<'p> {
        self.rejects_cut = Some(rejects);
        self
    }

    /// What the detector says of the file.
    pub fn detection(&self) -> &Detection {
        &self.detection
    }

    /// The form it is read as.
    pub fn form(&self) -> Form {
        match self.layout {
            Layout::List(_) => Form::List,
            Layout::Table(_) => Form::Table,
        }
    }

    /// The file's encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// What the second pass read; `None` when the file is to be read whole
    /// after all (it is not what the first pass found).
    pub fn finish(self) -> io::Result<Option<Read>> {
        self.read.unwrap_or(Ok(None))
    }

    /// Notes, in the second pass, each block of lines and where the reader
    /// was at its start ([`ConsoleFile::blocks`]).
    pub fn note_blocks(&mut self) {
        self.blocks = Some(Vec::new());
    }

    /// The blocks the second pass read; empty unless
    /// [`ConsoleFile::note_blocks`] was called.
    pub fn blocks(&mut self) -> Vec<NotedBlock> {
        self.blocks.take().unwrap_or_default()
    }

    /// What reading the blocks again needs, once the second pass has read
    /// the file.
    pub fn reread(&mut self) -> Reread {
        let layout = std::mem::replace(&mut self.layout, Layout::List(list::Layout::default()));
        let rejects_cut = self.rejects_cut.clone();
        Reread { file: self.file.clone(), layout, ended: self.ended, rejects_cut }
    }
}

impl Reread {
    /// The columns, as the second pass gave them.
    pub fn columns(&self) -> &[String] {
        match &self.layout {
            Layout::List(layout) => layout.columns(),
            Layout::Table(layout) => layout.columns(),
        }
    }

    /// Hands on the records of a block's text (`text`, from line `first`),
    /// read from `block`'s state, as the second pass handed them on.
    pub fn records(&self, block: &NotedBlock, text: &str, f: &mut dyn FnMut(usize, Cells<'_>)) {
        let mut emit = |r: Record| f(r.line, Cells::Owned(&r.values));
        let first = block.at.first_line;
        match (&self.layout, &block.resume) {
            (Layout::List(layout), Resume::List(state)) => {
                let mut reader = list::Reader::resume(&self.file, layout, state.clone());
                for (k, (raw, unended_last)) in split(text).enumerate() {
                    match reader.line(first + k, raw, unended_last, &mut emit) {
                        Ok(list::Flow::Go) => {}
                        Ok(list::Flow::Stop) | Err(_) => break,
                    }
                }
                if block.last {
                    reader.finish(self.ended, &mut emit);
                }
            }
            (Layout::Table(layout), Resume::Table(state)) => {
                let rejects =
                    self.rejects_cut.as_deref().map(|r| r as &(dyn Fn(&str) -> bool + Sync));
                let mut reader = table::Reader::resume(&self.file, layout, rejects, state.clone());
                for (k, (raw, _)) in split(text).enumerate() {
                    reader.line(first + k, raw, &mut emit);
                }
                if block.last {
                    reader.finish(self.ended, &mut emit);
                }
            }
            // (A block is only ever read with the layout it was noted with.)
            _ => {}
        }
    }
}

impl Records for ConsoleFile<'_> {
    fn columns(&self) -> &[String] {
        match &self.layout {
            Layout::List(layout) => layout.columns(),
            Layout::Table(layout) => layout.columns(),
        }
    }

    fn size_hint(&self) -> usize {
        self.records
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        let input = match std::fs::File::open(&self.path) {
            Ok(input) => input,
            Err(e) => {
                self.read = Some(Err(e));
                return;
            }
        };
        let (window, progress) = (self.window, self.progress);
        let (mut records, mut ended) = (0, true);
        // Records handed on, and the first one's line, in the block being read.
        let (handed, first_record) = (Cell::new(0), Cell::new(None));
        let mut emit = |r: Record| {
            records += 1;
            handed.set(handed.get() + 1);
            if first_record.get().is_none() {
                first_record.set(Some(r.line));
            }
            f(r.line, Cells::Owned(&r.values));
        };
        let mut noted = self.blocks.take();
        // Ends the block noted last with what was handed on since it began.
        let close = |noted: &mut Option<Vec<NotedBlock>>| {
            if let Some(b) = noted.as_mut().and_then(|n| n.last_mut()) {
                b.records = handed.replace(0);
                b.first_record = first_record.take().unwrap_or(usize::MAX);
            }
        };
        let note = |noted: &mut Option<Vec<NotedBlock>>, text: &str, first, at, resume| {
            if let Some(n) = noted.as_mut() {
                let len = crate::input::lines::encoded_len(text, self.encoding) as usize;
                let at = BlockAt { offset: at, len, first_line: first };
                n.push(NotedBlock { at, records: 0, first_record: 0, resume, last: false });
            }
        };
        let file = &self.file;
        let (read, got) = match &self.layout {
            Layout::List(layout) => {
                let mut reader = list::Reader::new(file, layout);
                let mut failed = false;
                let read =
                    lines_of(input, window, self.block, progress, &mut |text, first, at, _| {
                        ended = text.ends_with('\n');
                        close(&mut noted);
                        note(&mut noted, text, first, at, Resume::List(reader.state()));
                        for (k, (raw, unended_last)) in split(text).enumerate() {
                            match reader.line(first + k, raw, unended_last, &mut emit) {
                                Ok(list::Flow::Go) => {}
                                Ok(list::Flow::Stop) => break,
                                Err(_) => {
                                    failed = true;
                                    return false;
                                }
                            }
                        }
                        true
                    });
                let (rejected, warnings) = reader.finish(ended, &mut emit);
                close(&mut noted);
                let got = (!failed).then_some((rejected, warnings, Vec::new()));
                (read, got)
            }
            Layout::Table(layout) => {
                let rejects =
                    self.rejects_cut.as_deref().map(|r| r as &(dyn Fn(&str) -> bool + Sync));
                let mut reader = table::Reader::new(file, layout, rejects);
                let read =
                    lines_of(input, window, self.block, progress, &mut |text, first, at, _| {
                        ended = text.ends_with('\n');
                        close(&mut noted);
                        note(&mut noted, text, first, at, Resume::Table(reader.state()));
                        for (k, (raw, _)) in split(text).enumerate() {
                            reader.line(first + k, raw, &mut emit);
                        }
                        true
                    });
                let (parsed, dropped) = reader.finish(ended, &mut emit);
                close(&mut noted);
                records += dropped;
                (read, Some((parsed.rejected, parsed.warnings, parsed.truncated)))
            }
        };
        // A block that handed nothing on ends where the next one's records
        // begin; the last block reads the reader's end too.
        if let Some(n) = noted.as_mut() {
            let mut next = usize::MAX;
            for b in n.iter_mut().rev() {
                if b.first_record == usize::MAX {
                    b.first_record = next;
                }
                next = b.first_record;
            }
            if let Some(b) = n.last_mut() {
                b.last = true;
            }
        }
        (self.blocks, self.ended) = (noted, ended);
        self.read = Some(match (read, got) {
            (Ok(Some(_)), Some((rejected, warnings, truncated))) => {
                Ok(Some(Read { records, rejected, warnings, truncated }))
            }
            (Ok(_), _) => Ok(None),
            (Err(e), _) => Err(e),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Parsed, list, table};
    use crate::progress::Silent;

    /// What the stream reads of `bytes` as `form`, as the whole-file reader's
    /// [`Parsed`] holds it, with the detection; `None` when it leaves the file.
    fn streamed_as(form: Form, bytes: &[u8], block: usize) -> Option<(Parsed, Detection)> {
        streamed_rejecting(form, bytes, block, None)
    }

    /// [`streamed_as`], not handing on the rows with a cut cell in a column
    /// `rejects` names.
    fn streamed_rejecting(
        form: Form,
        bytes: &[u8],
        block: usize,
        rejects: Option<RejectsCut>,
    ) -> Option<(Parsed, Detection)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CasMailbox.txt");
        std::fs::write(&path, bytes).unwrap();
        let file: Arc<str> = Arc::from("CasMailbox.txt");
        let mut list =
            ConsoleFile::open_sized(&file, &path, form, &Silent, block, None).unwrap()?;
        if let Some(rejects) = rejects {
            list = list.rejecting_cut(rejects);
        }
        let mut parsed = Parsed::default();
        parsed.table.columns = list.columns().to_vec();
        list.note_blocks();
        list.each(&mut |line, cells| {
            let Cells::Owned(values) = cells else { panic!("a list record is owned") };
            parsed.table.rows.push(super::super::Record { line, values: values.to_vec() });
        });
        // Each block read again from where its reader was hands on the
        // records the second pass handed on while reading it.
        let (blocks, encoding) = (list.blocks(), list.encoding());
        let reread = list.reread();
        let mut again = Vec::new();
        for b in &blocks {
            let raw = &bytes[b.at.offset as usize..b.at.offset as usize + b.at.len];
            let text = match encoding {
                Encoding::Utf16Le => encoding_rs::UTF_16LE.decode_without_bom_handling(raw).0,
                Encoding::Utf16Be => encoding_rs::UTF_16BE.decode_without_bom_handling(raw).0,
                Encoding::Windows1252 => {
                    encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0
                }
                _ => std::str::from_utf8(raw).unwrap().into(),
            };
            let before = again.len();
            reread.records(b, &text, &mut |line, cells| {
                let Cells::Owned(values) = cells else { panic!("a record is owned") };
                again.push(super::super::Record { line, values: values.to_vec() });
            });
            assert_eq!(again.len() - before, b.records, "the block at {}", b.at.offset);
        }
        assert_eq!(again, parsed.table.rows, "read again by blocks");
        let detection = list.detection().clone();
        let read = list.finish().unwrap()?;
        assert_eq!(read.records, parsed.table.rows.len() + dropped(&read, &parsed));
        (parsed.rejected, parsed.warnings, parsed.truncated) =
            (read.rejected, read.warnings, read.truncated);
        Some((parsed, detection))
    }

    /// How many rows the reader read and did not hand on.
    fn dropped(read: &Read, parsed: &Parsed) -> usize {
        read.records - parsed.table.rows.len()
    }

    fn streamed(bytes: &[u8], block: usize) -> Option<(Parsed, Detection)> {
        streamed_as(Form::List, bytes, block)
    }

    /// What the whole-file reader makes of `text`.
    fn whole(text: &str) -> (Parsed, Detection) {
        let file: Arc<str> = Arc::from("CasMailbox.txt");
        (list::parse(&file, text).unwrap(), detect::detect_scored(text).expect(text))
    }

    fn assert_same(a: &Parsed, b: &Parsed, what: &str) {
        assert_eq!(a.table, b.table, "{what}");
        assert_eq!(a.rejected, b.rejected, "{what}");
        assert_eq!(a.warnings, b.warnings, "{what}");
        assert_eq!(a.truncated, b.truncated, "{what}");
    }

    const OBJECTS: &str = concat!(
        "\r\n",
        "Name                             : Alex Wilber\r\n",
        "DistinguishedName                : CN=Alex Wilber,OU=contoso.onmicrosoft.com,OU=Microsoft Exchange Hosted Organizati\r\n",
        "                                   ons,DC=EURPR05A001,DC=PROD,DC=OUTLOOK,DC=COM\r\n",
        "EmailAddresses                   : {SMTP:alex@contoso.com, smtp:a@b, smtp:c@d, smtp:e@f...}\r\n",
        "PopEnabled                       : True\r\n",
        "SmtpClientAuthenticationDisabled :\r\n",
        "\r\n",
        "\x1b[32;1mName                             : \x1b[0mBea Sm\u{ED}th \u{674E}\r\n",
        "PopEnabled                       : False\r\n",
        "Title                            : Head of\r\n",
        "                                   Sales\r\n",
        "Name                             : Cy\r\n",
        "ImapEnabled                      : True\r\n",
        "\r\n\r\n",
    );

    #[test]
    fn records_are_read_in_blocks_as_the_whole_file_reader_reads_them() {
        let cut = OBJECTS.trim_end();
        let cases = [
            OBJECTS.to_string(),
            OBJECTS.replace("\r\n", "\n"),
            // Cut in a value: the last object has fewer values than the one before.
            cut.to_string(),
            format!("{cut}\r\nPopEnabled : Tr"),
        ];
        for text in &cases {
            let (parsed, detection) = whole(text);
            let mut utf16 = vec![0xFF, 0xFE];
            utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            for bytes in [text.as_bytes(), &utf16] {
                for block in [4, 9, 64, 200, BLOCK] {
                    let what = format!("{text:?} at {block}");
                    let (read, found) = streamed(bytes, block).expect(&what);
                    assert_same(&read, &parsed, &what);
                    assert_eq!(found, detection, "{what}");
                }
            }
        }
        // The cases cover what they are for.
        assert_eq!(whole(&cases[0]).0.warnings.len(), 1);
        assert_eq!(whole(&cases[2]).0.rejected.len(), 1);
        assert!(whole(&cases[0]).0.table.rows.len() == 3);
    }

    #[test]
    fn anything_the_whole_file_reader_would_treat_otherwise_is_left_to_it() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("two encodings", b"Name : caf\xE9\nDisplayName : caf\xC3\xA9\n".to_vec()),
            ("empty", b"\r\n  \r\n".to_vec()),
            ("indented (pasted)", b"    Name : a\n    PopEnabled : True\n".to_vec()),
            ("a prompt", b"PS C:\\> Get-CASMailbox | fl\n\nName : a\n".to_vec()),
            ("a fence", b"```\nName : a\n```\n".to_vec()),
            ("a line of another form", b"Name : a\nthis is not a list\n".to_vec()),
            ("a rule of dashes", b"Name : a\n     ---- --\n".to_vec()),
            ("a continuation after a blank line", b"Name : a\n\n     more\n".to_vec()),
            ("a label cut at the end", b"Name : a\nPop : b\n\nName : c\nPo".to_vec()),
            ("a table", b"Name PopEnabled\n---- ----------\na    True\n".to_vec()),
        ];
        for (what, bytes) in cases {
            for block in [4, 64, BLOCK] {
                assert!(streamed(&bytes, block).is_none(), "{what} at {block}");
            }
        }
    }

    #[test]
    fn a_file_that_changes_between_the_passes_is_left_to_the_whole_file_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CasMailbox.txt");
        std::fs::write(&path, "Name : a\nPopEnabled : True\n").unwrap();
        let file: Arc<str> = Arc::from("CasMailbox.txt");
        let mut list = ConsoleFile::open(&file, &path, Form::List, &Silent).unwrap().unwrap();
        // A label the first pass did not see.
        std::fs::write(&path, "Name : a\nImapEnabled : True\n").unwrap();
        let mut records = 0;
        list.each(&mut |_, _| records += 1);
        assert!(list.finish().unwrap().is_none());
    }

    /// What the whole-file reader makes of `text` as Format-Table.
    fn whole_table(text: &str) -> (Parsed, Detection) {
        let file: Arc<str> = Arc::from("CasMailbox.txt");
        (table::parse(&file, text).unwrap(), detect::detect_scored(text).expect(text))
    }

    const TABLES: &str = concat!(
        "\r\n",
        "Display      Pop     SmtpClientAuthenticationDisabled Note\r\n",
        "Name         Enabled\r\n",
        "-------      ------- -------------------------------- ----\r\n",
        "Alex Wilber  True    True                             Head of\r\n",
        "                                                      Sales\r\n",
        "\u{5C71}\u{7530}         False                                    ok\r\n",
        "Bea Smith\u{2026}   True    False\r\n",
        "Alexandra Wilberforce True\r\n",
        "\x1b[32;1mCy\x1b[0m           True    ...\r\n",
        "\r\n\r\n",
        "Name Identity\r\n",
        "---- --------\r\n",
        "Dee  dee\r\n",
        "Eve  eve\r\n",
        "\r\n",
    );

    #[test]
    fn table_rows_are_read_in_blocks_as_the_whole_file_reader_reads_them() {
        let cut = TABLES.trim_end();
        let cases = [
            TABLES.to_string(),
            TABLES.replace("\r\n", "\n"),
            cut.to_string(),
            format!("{cut}\r\nFay"),
        ];
        for text in &cases {
            let (parsed, detection) = whole_table(text);
            let mut utf16 = vec![0xFE, 0xFF];
            utf16.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
            for bytes in [text.as_bytes(), &utf16] {
                for block in [4, 9, 64, 200, BLOCK] {
                    let what = format!("{text:?} at {block}");
                    let (read, found) = streamed_as(Form::Table, bytes, block).expect(&what);
                    assert_same(&read, &parsed, &what);
                    assert_eq!(found, detection, "{what}");
                }
            }
        }
        // The cases cover what they are for: a wrapped note, cut cells, a row
        // across an edge, two tables, a row cut by the end of the file.
        let (p, _) = whole_table(&cases[0]);
        assert!(p.table.rows[0].values.contains(&Some("Head of Sales".into())), "{:?}", p.table);
        assert_eq!((p.truncated.len(), p.rejected.len(), p.table.rows.len()), (2, 1, 6));
        assert_eq!(p.table.columns.len(), 6);
        assert_eq!(whole_table(&cases[3]).0.rejected.len(), 2);
    }

    #[test]
    fn a_row_with_a_cut_cell_the_caller_rejects_is_counted_not_handed_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CasMailbox.txt");
        std::fs::write(&path, TABLES).unwrap();
        let file: Arc<str> = Arc::from("CasMailbox.txt");
        let rejects: RejectsCut = Arc::new(|column: &str| column == "Display Name");
        let mut table = ConsoleFile::open(&file, &path, Form::Table, &Silent).unwrap().unwrap();
        table = table.rejecting_cut(rejects);
        let mut lines = Vec::new();
        table.each(&mut |line, _| lines.push(line));
        let read = table.finish().unwrap().unwrap();
        // `Bea Smith…` (line 8) is not handed on; Cy's `...` (line 10) is:
        // its column is not one the caller rejects a row for.
        assert_eq!(lines, [5, 7, 10, 15, 16]);
        assert_eq!(read.records, 6);
        let cut = [(8, "Display Name"), (10, "SmtpClientAuthenticationDisabled")];
        assert_eq!(read.truncated, cut.map(|(l, c)| (l, c.to_string())));
        // Read by blocks of every size, and each block again from where its
        // reader was (a row held back across a block keeps its cut cells).
        for block in [4, 9, 64, 200, BLOCK] {
            let rejects: RejectsCut = Arc::new(|column: &str| column == "Display Name");
            let (read, _) =
                streamed_rejecting(Form::Table, TABLES.as_bytes(), block, Some(rejects))
                    .expect("streamed");
            let lines: Vec<usize> = read.table.rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, [5, 7, 10, 15, 16], "at {block}");
        }
    }

    #[test]
    fn a_table_the_detector_might_read_otherwise_is_left_to_the_whole_file_reader() {
        let cases: Vec<(&str, &str)> = vec![
            ("a header of five lines", "A\nB\nC\nD\nE\n-\n- -\nx y\n"),
            ("a delimiter in the first line", "Name, Pop\n---- ---\na    b\n"),
            ("a JSON-like first line", "[Name] Pop\n------ ---\na      b\n"),
            ("#TYPE first", "#TYPE Name\n----- ----\na     b\n"),
            ("a paragraph with no rule", "Name Pop\n---- ---\na    b\n\nDone.\n"),
            ("a Format-List line", "Name Pop\n---- ---\na :  b\n"),
            ("a fence", "```\nName Pop\n---- ---\na    b\n```\n"),
            ("no rule at all", "Name Pop\na    b\n"),
        ];
        for (what, text) in cases {
            for block in [4, BLOCK] {
                assert!(
                    streamed_as(Form::Table, text.as_bytes(), block).is_none(),
                    "{what} at {block}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Whatever the stream reads as Format-Table, the whole-file reader
        /// detects as Format-Table, in the same words, and reads the same: on
        /// tables of one to four headers, rows that wrap, cut cells, rows
        /// across an edge and blank lines, with now and then a line of
        /// another form (which the stream must leave, or read alike).
        #[test]
        fn whatever_the_stream_reads_as_a_table_the_whole_file_reader_reads_alike(
            tables in proptest::collection::vec((
                proptest::sample::select(vec![
                    "Name  Pop\n----  ---", "Display  Smtp\nName     Enabled\n-------- -------",
                    "Name\n----", "A\nB\nC\nD\n- -", "x,y Pop\n--- ---", "Name  Pop\n-", "-- --\n-- --",
                ]),
                proptest::collection::vec(proptest::sample::select(vec![
                    "a     True", "      b", "Alexandra True", "\u{5C71}    x", "Cut\u{2026} y",
                    "b...  False", "   ", "----  ---", "L : v", "{", "c     d e f",
                ]), 0..6),
                proptest::bool::ANY,
            ), 1..4),
            ended in proptest::bool::ANY,
        ) {
            let mut text = String::new();
            for (header, rows, blank) in &tables {
                text.push_str(header);
                for row in rows {
                    text.push('\n');
                    text.push_str(row);
                }
                text.push_str(if *blank { "\n\n" } else { "\n" });
            }
            if !ended {
                text.truncate(text.trim_end().len());
            }
            if let Some((read, found)) = streamed_as(Form::Table, text.as_bytes(), 8) {
                let (parsed, detection) = whole_table(&text);
                proptest::prop_assert_eq!(found, detection);
                assert_same(&read, &parsed, &text);
            }
        }
    }
}
