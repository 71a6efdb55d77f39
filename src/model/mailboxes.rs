//! The mailbox rows of a snapshot: held in memory, or read again from their
//! export a block at a time.
//!
//! A million-mailbox `CasMailbox.csv` is about 150 MiB of rows once parsed. A
//! streamed export is therefore not kept: the first read (the loader's
//! stream) notes where each block of records is in the file, and a mailbox
//! is parsed again from its block when it is asked for. Every reader goes
//! through the rows in order, a range at a time (the join, the audit, each
//! report), so each block is parsed once per pass and dropped when no one
//! holds it; a few recent ones are kept for the readers working side by side.
//!
//! How a block is read again depends on the form ([`BlockForm`]): CSV records
//! with the header and the first read's reader (`input::csv::read_block`);
//! Format-List and Format-Table text with the form's reader, resumed from
//! where it was at the block's start (a record may span two blocks, and one
//! is handed on only once the next is complete); a `ConvertTo-Json` array's
//! objects under its columns. Each is mapped by [`super::cas::map`], as the
//! first time, so it gives the same rows. Should the file change or fail to
//! read in between, the rows asked for are blank and [`Mailboxes::failure`]
//! says what happened: whoever writes output checks it first.
//!
//! Other inputs (pasted or damaged text read whole, the built-in sample, rows
//! made by tests and by the what-if check) are held as they are.

use std::collections::VecDeque;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use super::notes::{JoinNotes, RuleNotes};
use super::{CasMailbox, Ids, Setting, Text};
use crate::decode::Encoding;
use crate::input::console_stream::{NotedBlock, Reread};
use crate::input::csv::{Block, Read as Found, read_block};
use crate::input::json_stream::Reread as JsonReread;
use crate::input::stream::Stamp;
use crate::input::{Cells, Records, Source};

/// The mailbox rows of a snapshot, in file order.
#[derive(Default)]
pub struct Mailboxes {
    /// The rows, when they are held.
    held: Vec<CasMailbox>,
    /// Where they are read from again, when they are not.
    file: Option<Arc<FileRows>>,
    /// What the join needs of them, when it was noted as they were first read.
    notes: Option<JoinNotes>,
}

impl Clone for Mailboxes {
    /// The same rows; a copy of rows read from a file reads the same file, with
    /// a cache of its own.
    fn clone(&self) -> Mailboxes {
        Mailboxes {
            held: self.held.clone(),
            file: self.file.as_ref().map(|file| Arc::new(FileRows::clone(file))),
            notes: self.notes.clone(),
        }
    }
}

impl fmt::Debug for Mailboxes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries((0..self.len()).map(|i| self.get(i))).finish()
    }
}

impl From<Vec<CasMailbox>> for Mailboxes {
    fn from(rows: Vec<CasMailbox>) -> Mailboxes {
        Mailboxes { held: rows, file: None, notes: None }
    }
}

/// One mailbox row: borrowed from the held rows, or from a parsed block that it
/// keeps alive.
pub enum MailboxRef<'a> {
    /// A held row, or a row of a block its reader holds.
    Held(&'a CasMailbox),
    /// A row of a block read again from the file.
    Block(Arc<Vec<CasMailbox>>, usize),
}

impl std::ops::Deref for MailboxRef<'_> {
    type Target = CasMailbox;

    fn deref(&self) -> &CasMailbox {
        match self {
            MailboxRef::Held(m) => m,
            MailboxRef::Block(rows, k) => &rows[*k],
        }
    }
}

/// The rows of a span ([`Mailboxes::rows`]).
pub enum Rows<'a> {
    /// Held rows.
    Held(&'a [CasMailbox]),
    /// A block read again from the file.
    Block(Arc<Vec<CasMailbox>>),
}

impl std::ops::Deref for Rows<'_> {
    type Target = [CasMailbox];

    fn deref(&self) -> &[CasMailbox] {
        match self {
            Rows::Held(rows) => rows,
            Rows::Block(rows) => rows,
        }
    }
}

impl fmt::Debug for MailboxRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl Mailboxes {
    /// How many rows.
    pub fn len(&self) -> usize {
        self.file.as_ref().map_or(self.held.len(), |file| file.len)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`. Panics when `i` is out of range, as indexing a slice does.
    pub fn get(&self, i: usize) -> MailboxRef<'_> {
        match &self.file {
            None => MailboxRef::Held(&self.held[i]),
            Some(file) => {
                let k = file.block_of(i);
                MailboxRef::Block(file.block(k), i - file.blocks[k].first)
            }
        }
    }

    /// The rows in consecutive spans that cover them all, each read at once by
    /// [`Mailboxes::rows`]: the file's blocks, or a few thousand held rows.
    pub fn spans(&self) -> Vec<Range<usize>> {
        const HELD: usize = 1 << 12;
        match &self.file {
            None => (0..self.held.len().div_ceil(HELD))
                .map(|c| c * HELD..((c + 1) * HELD).min(self.held.len()))
                .collect(),
            Some(file) => file.blocks.iter().map(|b| b.first..b.first + b.kept()).collect(),
        }
    }

    /// The rows of `span`, one of [`Mailboxes::spans`] (else only its first
    /// block's).
    pub fn rows(&self, span: &Range<usize>) -> Rows<'_> {
        match &self.file {
            None => Rows::Held(&self.held[span.clone()]),
            Some(file) => Rows::Block(file.block(file.block_of(span.start))),
        }
    }

    /// The rows of `span` as [`Mailboxes::rows`] gives them, or, for rows read
    /// again from a file, as the rules read them: made from what was noted of
    /// them at their first read ([`RuleNotes`]), with no identifiers, and not
    /// parsed again. For a pass that counts verdicts when the rules read no
    /// identifier ([`crate::audit::rules::reads_identifiers`]).
    pub fn rule_rows(&self, span: &Range<usize>) -> Rows<'_> {
        let Some((file, rules)) = self.file.as_ref().and_then(|f| Some((f, f.rules.as_ref()?)))
        else {
            return self.rows(span);
        };
        let block = &file.blocks[file.block_of(span.start)];
        let name = Text::new(&file.name);
        let mut dropped = block.dropped.iter().peekable();
        let mut rows = Vec::with_capacity(block.kept());
        for j in 0..block.rows {
            if dropped.next_if(|&&d| d as usize == j).is_none() {
                rows.push(rules.row(block.mapped + j, name));
            }
        }
        Rows::Block(Arc::new(rows))
    }

    /// Every row, in order.
    pub fn iter(&self) -> impl Iterator<Item = MailboxRef<'_>> + '_ {
        self.refs(0..self.len()).map(|(_, row)| row)
    }

    /// Rows `indices` (ascending), each with its index. A span's rows are read
    /// at once, so a row of the span just read costs no lookup, where
    /// [`Mailboxes::get`] finds and locks its block every time (indices out of
    /// order are still right, only slower).
    pub fn refs<I: IntoIterator<Item = usize>>(
        &self,
        indices: I,
    ) -> impl Iterator<Item = (usize, MailboxRef<'_>)> + use<'_, I> {
        let mut at: Option<(Arc<Vec<CasMailbox>>, Range<usize>)> = None;
        indices.into_iter().map(move |i| {
            let Some(file) = &self.file else { return (i, MailboxRef::Held(&self.held[i])) };
            let row = match &at {
                Some((rows, span)) if span.contains(&i) => {
                    MailboxRef::Block(rows.clone(), i - span.start)
                }
                _ => {
                    let k = file.block_of(i);
                    let (rows, first) = (file.block(k), file.blocks[k].first);
                    at = Some((rows.clone(), first..first + file.blocks[k].kept()));
                    MailboxRef::Block(rows, i - first)
                }
            };
            (i, row)
        })
    }

    /// The rows as a vector of their own (for changing them).
    pub fn into_vec(self) -> Vec<CasMailbox> {
        match self.file {
            None => self.held,
            Some(_) => self.iter().map(|m| (*m).clone()).collect(),
        }
    }

    /// The rows, held (read from the file first if need be), to change them.
    pub fn rows_mut(&mut self) -> &mut Vec<CasMailbox> {
        if self.file.is_some() {
            self.held = std::mem::take(self).into_vec();
        }
        // The rows may change: what was noted of them may no longer hold.
        self.notes = None;
        &mut self.held
    }

    /// Keeps only the rows whose flag in `keep` (one per row, in order) is set.
    pub(super) fn retain(self, keep: &[bool]) -> Mailboxes {
        match self.file {
            None => {
                let kept = self.held.into_iter().zip(keep).filter(|(_, k)| **k).map(|(m, _)| m);
                Mailboxes::from(kept.collect::<Vec<_>>())
            }
            Some(file) => {
                let mut file = Arc::unwrap_or_clone(file);
                file.retain(keep);
                Mailboxes { held: Vec::new(), file: Some(Arc::new(file)), notes: None }
            }
        }
    }

    /// What the join needs of each row: as noted when they were first read,
    /// else read from them now ([`JoinNotes::of`]).
    pub(super) fn take_notes(&mut self) -> JoinNotes {
        let noted = self.notes.take().filter(|notes| notes.len() == self.len());
        noted.unwrap_or_else(|| JoinNotes::of(self))
    }

    /// What went wrong reading the file again, if anything: the rows asked for
    /// since then are blank, so nothing read from them may be written out.
    pub fn failure(&self) -> Option<&str> {
        self.file.as_ref().and_then(|file| file.failed.get()).map(String::as_str)
    }

    /// How many blocks a file is read again in (0 for held rows).
    pub fn blocks(&self) -> usize {
        self.file.as_ref().map_or(0, |file| file.blocks.len())
    }

    /// How many times a block has been parsed again so far: every reader goes
    /// through the rows in order, so this grows by about [`Mailboxes::blocks`]
    /// a pass (tests check that nothing reads them out of order).
    pub fn blocks_read(&self) -> usize {
        self.file.as_ref().map_or(0, |file| file.reads.load(Ordering::Relaxed))
    }
}

/// Where one block of records is in the file.
#[derive(Debug, Clone)]
pub struct BlockAt {
    /// Its first byte.
    pub offset: u64,
    /// Its length in bytes.
    pub len: usize,
    /// The line it starts on.
    pub first_line: usize,
}

/// Rows parsed again, block by block, from their file.
struct FileRows {
    path: PathBuf,
    name: Arc<str>,
    input: Arc<Mutex<std::fs::File>>,
    /// The file's length and modification time when it was opened for the
    /// first read.
    stamp: Stamp,
    form: Arc<BlockForm>,
    encoding: Encoding,
    blocks: Vec<FileBlock>,
    len: usize,
    slots: Vec<Mutex<Weak<Vec<CasMailbox>>>>,
    recent: Mutex<VecDeque<Arc<Vec<CasMailbox>>>>,
    failed: OnceLock<String>,
    /// Blocks parsed again so far.
    reads: AtomicUsize,
    /// What the rules read of every row the mapper made, when all were noted.
    rules: Option<Arc<RuleNotes>>,
}

impl Clone for FileRows {
    /// The same file and blocks, with a cache of its own.
    fn clone(&self) -> FileRows {
        FileRows {
            path: self.path.clone(),
            name: self.name.clone(),
            input: self.input.clone(),
            stamp: self.stamp,
            form: self.form.clone(),
            encoding: self.encoding,
            blocks: self.blocks.clone(),
            len: self.len,
            slots: self.blocks.iter().map(|_| Mutex::new(Weak::new())).collect(),
            recent: Mutex::new(VecDeque::new()),
            failed: self.failed.clone(),
            reads: AtomicUsize::new(0),
            rules: self.rules.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct FileBlock {
    at: BlockAt,
    /// Rows the mapper made of it.
    rows: usize,
    /// Index of its first kept row among all kept rows.
    first: usize,
    /// Its rows (by position among `rows`) that were dropped, ascending.
    dropped: Vec<u32>,
    /// Index of its first row among all the rows the mapper made (its first
    /// [`RuleNotes`]), whatever is dropped.
    mapped: usize,
    /// For console text: what its second read noted of it.
    noted: Option<Arc<NotedBlock>>,
}

impl FileBlock {
    fn kept(&self) -> usize {
        self.rows - self.dropped.len()
    }
}

/// Why a block cannot be read again when the file is not what was first read.
const CHANGED: &str = "the file has changed since it was first read";

/// How many of the blocks parsed last are kept alive beyond their use, for the
/// readers working side by side (about 1 MiB of rows each).
const RECENT: usize = 4;

impl FileRows {
    /// The block that holds kept row `i`.
    fn block_of(&self, i: usize) -> usize {
        self.blocks.partition_point(|b| b.first + b.kept() <= i)
    }

    fn block(&self, k: usize) -> Arc<Vec<CasMailbox>> {
        let mut slot = self.slots[k].lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rows) = slot.upgrade() {
            return rows;
        }
        let rows = Arc::new(self.parse(k));
        self.reads.fetch_add(1, Ordering::Relaxed);
        *slot = Arc::downgrade(&rows);
        drop(slot);
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.push_back(rows.clone());
        if recent.len() > RECENT {
            recent.pop_front();
        }
        rows
    }

    /// Block `k`'s kept rows, parsed again; blank rows (and a failure noted)
    /// when the file cannot be read or no longer holds them.
    fn parse(&self, k: usize) -> Vec<CasMailbox> {
        let block = &self.blocks[k];
        match self.read(block) {
            Ok(rows) => {
                let mut dropped = block.dropped.iter().peekable();
                let mut out = Vec::with_capacity(block.kept());
                for (j, row) in rows.into_iter().enumerate() {
                    if dropped.peek().is_some_and(|&&d| d as usize == j) {
                        dropped.next();
                    } else {
                        out.push(row);
                    }
                }
                out
            }
            Err(why) => {
                let _ = self.failed.set(format!(
                    "{}: {why} (the block from line {}); run again on an export that is not being changed",
                    self.path.display(),
                    block.at.first_line
                ));
                let source = Source { file: Text::new(&self.name), line: block.at.first_line };
                vec![blank(source); block.kept()]
            }
        }
    }

    fn read(&self, block: &FileBlock) -> Result<Vec<CasMailbox>, String> {
        let mut bytes = vec![0; block.at.len];
        {
            let mut input = self.input.lock().unwrap_or_else(PoisonError::into_inner);
            let meta =
                input.metadata().map_err(|e| format!("the file cannot be read again: {e}"))?;
            if Stamp::of(&meta) != self.stamp {
                return Err(CHANGED.into());
            }
            input
                .seek(SeekFrom::Start(block.at.offset))
                .and_then(|_| input.read_exact(&mut bytes))
                .map_err(|e| format!("the file cannot be read again: {e}"))?;
        }
        let text = crate::decode::stretch(&bytes, self.encoding).ok_or(CHANGED)?;
        let mapped = match (&*self.form, &block.noted) {
            (BlockForm::Csv { columns, delimiter }, _) => {
                let mut records = BlockRecords {
                    columns,
                    text: &text,
                    first_line: block.at.first_line,
                    delimiter: *delimiter,
                };
                super::cas::map(&self.name, &mut records)
            }
            (BlockForm::Console(reread), Some(noted)) => {
                super::cas::map(&self.name, &mut ConsoleRecords { reread, noted, text: &text })
            }
            (BlockForm::Console(_), None) => return Err(CHANGED.into()),
            (BlockForm::Json(reread), _) => {
                let mut records = JsonRecords { reread, text: &text, first: block.at.first_line };
                super::cas::map(&self.name, &mut records)
            }
        };
        if mapped.rows.len() != block.rows {
            return Err(CHANGED.into());
        }
        Ok(mapped.rows)
    }

    fn retain(&mut self, keep: &[bool]) {
        let mut at = 0;
        let mut first = 0;
        for b in &mut self.blocks {
            b.dropped = (0..b.rows).filter(|j| !keep[at + j]).map(|j| j as u32).collect();
            at += b.rows;
            b.first = first;
            first += b.kept();
        }
        self.len = first;
        self.slots = self.blocks.iter().map(|_| Mutex::new(Weak::new())).collect();
        self.recent = Mutex::new(VecDeque::new());
    }
}

/// A row with nothing in it, standing in for one that could not be read again.
fn blank(source: Source) -> CasMailbox {
    CasMailbox {
        ids: Ids::default(),
        pop_enabled: Setting::NotExported,
        imap_enabled: Setting::NotExported,
        smtp_client_auth_disabled: Setting::NotExported,
        recipient_type_details: None,
        source,
    }
}

/// One block's records, read with the export's header.
struct BlockRecords<'t> {
    columns: &'t [String],
    text: &'t str,
    first_line: usize,
    delimiter: u8,
}

impl Records for BlockRecords<'_> {
    fn columns(&self) -> &[String] {
        self.columns
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        let block = Block { text: self.text, from: 0, first_line: self.first_line, last: true };
        read_block(block, self.delimiter, self.columns.len(), &mut |r| {
            if let Found::Record(line, cells) = r {
                f(line, cells);
            }
        });
    }
}

/// One block of console text's records, read again from where its reader was.
struct ConsoleRecords<'t> {
    reread: &'t Reread,
    noted: &'t NotedBlock,
    text: &'t str,
}

impl Records for ConsoleRecords<'_> {
    fn columns(&self) -> &[String] {
        self.reread.columns()
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        self.reread.records(self.noted, self.text, f);
    }
}

/// One block of a JSON export's objects, read again.
struct JsonRecords<'t> {
    reread: &'t JsonReread,
    text: &'t str,
    first: usize,
}

impl Records for JsonRecords<'_> {
    fn columns(&self) -> &[String] {
        self.reread.columns()
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        self.reread.records(self.text, self.first, f);
    }
}

/// How a file's blocks are read again.
pub enum BlockForm {
    /// CSV: the header's column names and the delimiter.
    Csv {
        /// The header's column names.
        columns: Vec<String>,
        /// The delimiter.
        delimiter: u8,
    },
    /// Format-List or Format-Table text, each block from where its reader
    /// was ([`FileLayout::noted`]).
    Console(Reread),
    /// A `ConvertTo-Json` array: each block's objects, under its columns.
    Json(JsonReread),
}

/// What the loader's first read of a mailbox export gives to read it
/// again: its form and the blocks its records are in, with how many rows the
/// mapper made of each.
pub struct FileLayout {
    /// The file.
    pub path: PathBuf,
    /// The file as it was opened for the first read (another handle to it), so
    /// that it is read again even if the path is given another file since.
    pub input: std::fs::File,
    /// Its metadata when it was opened, before the first read: a change during
    /// or after that read makes every later read fail.
    pub opened: std::fs::Metadata,
    /// Its name as shown in reports.
    pub name: Arc<str>,
    /// How its blocks are read.
    pub form: BlockForm,
    /// The file's encoding: UTF-8 (with a byte-order mark or without), UTF-16
    /// or Windows-1252.
    pub encoding: Encoding,
    /// The blocks and the rows mapped from each.
    pub blocks: Vec<(BlockAt, usize)>,
    /// For console text, what its second read noted of each block (beside
    /// `blocks`, one for one).
    pub noted: Vec<NotedBlock>,
}

impl Mailboxes {
    /// Rows read again from a file as `layout` describes; `notes` is what
    /// the join needs of them, and `rules` what the rules read of them, both
    /// noted as they were first read.
    pub fn from_file(layout: FileLayout, notes: JoinNotes, rules: RuleNotes) -> Mailboxes {
        let (input, meta) = (layout.input, layout.opened);
        let mut first = 0;
        let mut noted = layout.noted.into_iter().map(|n| Some(Arc::new(n)));
        let blocks: Vec<FileBlock> = layout
            .blocks
            .into_iter()
            .map(|(at, rows)| (at, rows, noted.next().flatten()))
            .filter(|(_, rows, _)| *rows > 0)
            .map(|(at, rows, noted)| {
                let b = FileBlock { at, rows, first, dropped: Vec::new(), mapped: first, noted };
                first += rows;
                b
            })
            .collect();
        let file = FileRows {
            path: layout.path,
            name: layout.name,
            input: Arc::new(Mutex::new(input)),
            stamp: Stamp::of(&meta),
            form: Arc::new(layout.form),
            encoding: layout.encoding,
            slots: blocks.iter().map(|_| Mutex::new(Weak::new())).collect(),
            blocks,
            len: first,
            recent: Mutex::new(VecDeque::new()),
            failed: OnceLock::new(),
            reads: AtomicUsize::new(0),
            rules: rules.complete().filter(|r| r.len() == first).map(Arc::new),
        };
        Mailboxes { held: Vec::new(), file: Some(Arc::new(file)), notes: Some(notes) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file changed after its first read is never read as something else:
    /// the rows asked for are blank and the failure names the file.
    #[test]
    fn a_file_changed_since_its_first_read_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CasMailbox.csv");
        let header = "Guid,PopEnabled,ImapEnabled\r\n";
        let rows = "4e45b331-e772-455d-9d3e-cdb3db85df23,True,False\r\n";
        std::fs::write(&path, format!("{header}{rows}")).unwrap();
        let input = std::fs::File::open(&path).unwrap();
        let layout = FileLayout {
            opened: input.metadata().unwrap(),
            input,
            path: path.clone(),
            name: "CasMailbox.csv".into(),
            form: BlockForm::Csv {
                columns: ["Guid", "PopEnabled", "ImapEnabled"].map(String::from).to_vec(),
                delimiter: b',',
            },
            encoding: Encoding::Utf8,
            blocks: vec![(
                BlockAt { offset: header.len() as u64, len: rows.len(), first_line: 2 },
                1,
            )],
            noted: Vec::new(),
        };
        let mailboxes = Mailboxes::from_file(layout, JoinNotes::default(), RuleNotes::default());
        assert_eq!(mailboxes.len(), 1);
        let m = mailboxes.get(0);
        assert_eq!((m.pop_enabled, m.imap_enabled), (Setting::Value(true), Setting::Value(false)));
        assert_eq!(m.source.line, 2);
        assert_eq!(m.ids.guid().as_deref(), Some("4e45b331-e772-455d-9d3e-cdb3db85df23"));
        assert!(mailboxes.failure().is_none());

        std::fs::write(&path, format!("{header}{rows}{rows}")).unwrap();
        // A copy shares the file but not the blocks already read.
        let again = mailboxes.clone();
        let m = again.get(0);
        assert_eq!(m.pop_enabled, Setting::NotExported);
        assert!(m.ids.guid().is_none());
        let failure = again.failure().unwrap();
        assert!(
            failure.ends_with(
                "CasMailbox.csv: the file has changed since it was first read (the block from line 2); run again on an export that is not being changed"
            ),
            "{failure}"
        );
    }
}
