//! A CSV export read straight from its file, block by block, so that a
//! million-row export is never held in memory: each block is decoded
//! (UTF-8 as it is; UTF-16 with a byte-order mark, as Windows PowerShell 5.1's
//! `-Encoding Unicode` writes, to UTF-8; Windows-1252, as Excel's "CSV (Comma
//! delimited)" saves, from the first block that is not UTF-8 on), checked and
//! parsed as it arrives, and its records are mapped as they are read.
//!
//! This is the fast path for the commonest and largest input, and only for it.
//! It reads exactly what the whole-file path ([`crate::load::parse_bytes`]:
//! decode, blank transcript noise, detect, parse) would read, and gives up
//! ([`CsvFile::finish`] says so) whenever that path could decide otherwise:
//! bytes that are not UTF-8 where it would not read Windows-1252 (UTF-8 beyond
//! ASCII elsewhere in the file, a byte-order mark, a start that looks binary),
//! not UTF-16 after its mark, or not text; anything that may be a prompt or
//! transcript banner; a form other than CSV. The caller then
//! reads the file whole and gets that path's exact errors and warnings. Both
//! read records with the same function (`input::csv::read_block`) and the
//! same tokenizer ([`super::tokenize`]).
//!
//! Blocks end at record boundaries found by the tokenizer itself, never
//! guessed from quotes: each block's last record may be cut by the block's end,
//! so it is not read there but carried into the next block, which starts with it.
//!
//! The file's SHA-256 is made by [`Digests::of_file`], from a read of its own, in a
//! task beside the stream: hashing is a sixth of reading an export, and the
//! other core takes it up when it is free (the second read comes from the page
//! cache).

use std::io;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::csv::{Block, Read, header, memchr_count, read_block, skip_type_line};
use super::{Cells, Form, Records, Rejection, Source};
use crate::decode::{self, DecodingReader, Encoding, read_full, read_some};
use crate::model::mailboxes::BlockAt;
use crate::progress::Progress;

/// Bytes read at a time; a record longer than a block grows it.
const BLOCK: usize = 1 << 20;

/// A CSV file being read block by block (see the module documentation).
pub struct CsvFile<'p, R> {
    file: Arc<str>,
    input: Input<'p, R>,
    delimiter: u8,
    why: String,
    encoding: Encoding,
    columns: Vec<String>,
    /// `buf[start..filled]`: text read and not parsed yet; `buf[start]` begins a
    /// record (or the header, before the first block is parsed) on line `line`.
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    /// Where `buf[start]` is in the file, kept while the header is read and
    /// while blocks are noted ([`CsvFile::note_blocks`]): for UTF-16, past the
    /// byte-order mark, two bytes for each code unit of the text before it.
    raw_start: u64,
    line: usize,
    eof: bool,
    size_hint: usize,
    rejected: Vec<Rejection>,
    give_up: bool,
    done: bool,
    /// With [`CsvFile::note_blocks`]: each block of records read, with how
    /// many records it gave.
    blocks: Option<Vec<(BlockAt, usize)>>,
    /// While the file is read as UTF-8 without a byte-order mark, what decides
    /// whether bytes that are not UTF-8 make it Windows-1252
    /// ([`CsvFile::switch_to_windows_1252`]): its first bytes ([`decode::HEAD`] of
    /// them), and whether the text read so far holds UTF-8 beyond ASCII.
    head: Vec<u8>,
    beyond_ascii: bool,
}

/// The file's bytes, counted as they are read.
pub struct Counted<'p, R> {
    pub(crate) inner: R,
    pub(crate) progress: &'p dyn Progress,
}

impl<'p, R> Counted<'p, R> {
    /// `inner`, its bytes counted to `progress` as they are read.
    pub fn new(inner: R, progress: &'p dyn Progress) -> Self {
        Counted { inner, progress }
    }
}

impl<'p> Counted<'p, std::fs::File> {
    /// The file at `path`, its bytes counted to `progress` as they are read.
    pub(crate) fn open(path: &Path, progress: &'p dyn Progress) -> io::Result<Self> {
        Ok(Counted { inner: std::fs::File::open(path)?, progress })
    }
}

impl<R: io::Read> io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Work no longer wanted ends here, as at the input's end.
        if self.progress.stopped() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// A file's length and modification time: when they differ from those taken
/// before a read, the file changed under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(u64, Option<std::time::SystemTime>);

impl Stamp {
    /// The stamp of a file's metadata.
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp(meta.len(), meta.modified().ok())
    }

    /// The stamp of the file at `path`.
    pub fn of_path(path: &Path) -> io::Result<Stamp> {
        std::fs::metadata(path).map(|meta| Stamp::of(&meta))
    }
}

/// Whether a run makes its inputs' SHA-256 digests. The reports that record
/// them (JSON, HTML, Markdown) and the scripts' headers need them; the text and
/// CSV reports do not, and hashing costs a tenth of reading an export and a
/// quarter of reading sign-in logs, so a run that writes only those skips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Digests {
    /// Every input is hashed.
    #[default]
    Made,
    /// No input is hashed: its digest is `None`.
    Skipped,
}

impl Digests {
    /// SHA-256 of `bytes`, lowercase hex, when digests are made.
    pub fn of_bytes(self, bytes: &[u8]) -> Option<String> {
        (self == Digests::Made).then(|| format!("{:x}", Sha256::digest(bytes)))
    }

    /// [`sha256_of`] the file at `path`, when digests are made.
    pub fn of_file(self, path: &Path) -> io::Result<Option<String>> {
        match self {
            Digests::Made => sha256_of(path).map(Some),
            Digests::Skipped => Ok(None),
        }
    }
}

/// SHA-256 of a file, lowercase hex, from a read of its own.
fn sha256_of(path: &Path) -> io::Result<String> {
    let mut input = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; BLOCK];
    loop {
        match read_some(&mut input, &mut buf)? {
            0 => return Ok(format!("{:x}", hasher.finalize())),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// Where a [`CsvFile`]'s text comes from: the file's bytes as they are
/// (UTF-8), or decoded from UTF-16 or Windows-1252.
enum Input<'p, R> {
    Utf8(Counted<'p, R>),
    Decoded(DecodingReader<Counted<'p, R>>),
    /// Only while UTF-8 gives way to Windows-1252.
    Switching,
}

impl<R: io::Read> io::Read for Input<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Utf8(r) => r.read(buf),
            Input::Decoded(r) => r.read(buf),
            Input::Switching => Ok(0),
        }
    }
}

/// How reading a file as a stream ended.
pub enum Finished {
    /// Read: the rejected rows and the file's encoding.
    Read(Vec<Rejection>, Encoding),
    /// The stream gave up; read the file whole instead.
    ReadWhole,
}

impl<'p, R: io::Read> CsvFile<'p, R> {
    /// Reads the first block; `Ok(None)` when the file is not one for this path
    /// (read it whole instead). `len` is the file's size, for sizing the rows.
    pub fn open(
        file: &Arc<str>,
        input: R,
        len: u64,
        progress: &'p dyn Progress,
    ) -> io::Result<Option<CsvFile<'p, R>>> {
        CsvFile::open_sized(file, input, len, progress, BLOCK)
    }

    /// [`CsvFile::open`] with the first block's size (tests use tiny ones).
    fn open_sized(
        file: &Arc<str>,
        input: R,
        len: u64,
        progress: &'p dyn Progress,
        block: usize,
    ) -> io::Result<Option<CsvFile<'p, R>>> {
        // The first bytes decide the encoding: UTF-16 by its byte-order mark
        // is decoded from there on; anything else is read as it is (and left
        // to the whole-file reader below unless it is UTF-8).
        let mut counted = Counted { inner: input, progress };
        let mut first = vec![0; block.max(4)];
        let n = read_full(&mut counted, &mut first)?;
        let head = &first[..n];
        let start = first[..n.min(decode::HEAD)].to_vec();
        let utf16 = match head {
            [0xFF, 0xFE, ..] => Some((false, Encoding::Utf16Le)),
            [0xFE, 0xFF, ..] => Some((true, Encoding::Utf16Be)),
            _ => None,
        };
        let (input, encoding, buf, filled, eof) = match utf16 {
            Some((big_endian, encoding)) => {
                let reader = DecodingReader::utf16(counted, big_endian, &first[2..n]);
                (Input::Decoded(reader), encoding, vec![0; block.max(4)], 0, false)
            }
            None if head.starts_with(b"\xEF\xBB\xBF") => {
                (Input::Utf8(counted), Encoding::Utf8Bom, first, n, n < block.max(4))
            }
            None => (Input::Utf8(counted), Encoding::Utf8, first, n, n < block.max(4)),
        };
        let mut s = CsvFile {
            file: file.clone(),
            input,
            delimiter: b',',
            why: String::new(),
            encoding,
            columns: Vec::new(),
            buf,
            start: if encoding == Encoding::Utf8Bom { 3 } else { 0 },
            filled,
            raw_start: match encoding {
                Encoding::Utf8Bom => 3,
                Encoding::Utf16Le | Encoding::Utf16Be => 2,
                _ => 0,
            },
            line: 1,
            eof,
            size_hint: 0,
            rejected: Vec::new(),
            give_up: false,
            done: false,
            blocks: None,
            head: if encoding == Encoding::Utf8 { start } else { Vec::new() },
            beyond_ascii: false,
        };
        if utf16.is_some() {
            s.fill()?;
            if s.give_up {
                return Ok(None);
            }
        }
        // The form is decided on the first lines: make sure they are all here.
        loop {
            let lines = match checked_text(&s.buf[s.start..s.filled], s.eof) {
                Ok(text) => text.lines().filter(|l| !l.trim().is_empty()).take(8).count(),
                Err(Unread::NoLineEnd) => 0,
                Err(Unread::NotUtf8) => match s.switch_to_windows_1252()? {
                    true => continue,
                    false => return Ok(None),
                },
                Err(Unread::NotPlain) => return Ok(None),
            };
            if s.eof || lines >= 8 {
                break;
            }
            if s.buf.len() >= 16 * block.max(BLOCK) {
                return Ok(None);
            }
            s.fill()?;
            if s.give_up {
                return Ok(None);
            }
        }
        let Ok(text) = checked_text(&s.buf[s.start..s.filled], s.eof) else { return Ok(None) };
        s.beyond_ascii = s.beyond_ascii || !text.is_ascii();
        // Pasted text (indented, quoted, with a command or banner) is read whole.
        if super::paste::may_need_cleaning(text) {
            return Ok(None);
        }
        let Ok(super::detect::Detection { form: Form::Csv { delimiter }, why, parts: false }) =
            super::detect::detect_scored(text)
        else {
            return Ok(None);
        };
        s.why = why;
        let (body, skipped) = skip_type_line(text);
        let Some((columns, span)) = header(body, delimiter) else {
            return Ok(None);
        };
        if super::csv::data_like(&columns).is_some() || !(span.terminated || s.eof) {
            return Ok(None);
        }
        let per_byte = memchr_count(text.as_bytes()) as f64 / text.len().max(1) as f64;
        // UTF-16 takes two bytes for each character of an export's text.
        let text_len = if utf16.is_some() { len / 2 } else { len };
        let size_hint = (per_byte * text_len as f64 * 1.05) as usize + 16;
        // The records start past the `#TYPE` line and the header.
        let type_line = text.len() - body.len();
        s.raw_start += raw_len(encoding, &s.buf[s.start..s.start + type_line + span.end]);
        s.start += type_line + span.end;
        s.line += skipped + memchr_count(&body.as_bytes()[..span.end]);
        s.delimiter = delimiter;
        s.columns = columns;
        s.size_hint = size_hint;
        Ok(Some(s))
    }

    /// How the stream ended: the rejected rows, or that it gave up.
    pub fn finish(self) -> Finished {
        if self.give_up || !self.done {
            return Finished::ReadWhole;
        }
        Finished::Read(self.rejected, self.encoding)
    }

    /// Tops the buffer up with the next bytes (growing it when one unread record
    /// fills it), reporting progress.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        // Room for at least one character (a decoded one takes up to four bytes).
        if self.buf.len() - self.filled < 4 {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        while self.filled < self.buf.len() && !self.eof {
            match read_some(&mut self.input, &mut self.buf[self.filled..]) {
                Ok(n) => {
                    if self.encoding == Encoding::Utf8 && self.head.len() < decode::HEAD {
                        let more = n.min(decode::HEAD - self.head.len());
                        self.head.extend_from_slice(&self.buf[self.filled..self.filled + more]);
                    }
                    self.filled += n;
                    self.eof = n == 0;
                }
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    // Not UTF-16 (or Windows-1252) after all: the whole-file
                    // reader names where.
                    self.give_up = true;
                    self.eof = true;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The unread bytes are not UTF-8: reads them and the rest of the file as
    /// Windows-1252 when the whole-file reader would ([`decode::decode`]): the
    /// file has no byte-order mark, its start does not look binary, and the
    /// text read before holds no UTF-8 beyond ASCII (which reads the same in
    /// Windows-1252). The decoding reader holds the rest of the file to that
    /// last rule. `false` when the file is to be read whole.
    fn switch_to_windows_1252(&mut self) -> io::Result<bool> {
        if self.encoding != Encoding::Utf8 || self.beyond_ascii {
            return Ok(false);
        }
        let Input::Utf8(mut counted) = std::mem::replace(&mut self.input, Input::Switching) else {
            return Ok(false);
        };
        let mut unread = self.buf[self.start..self.filled].to_vec();
        // The first bytes are all here but in tests with tiny blocks.
        let mut more = vec![0; decode::HEAD];
        while self.head.len() < decode::HEAD && !self.eof {
            let n = read_some(&mut counted, &mut more[..decode::HEAD - self.head.len()])?;
            self.head.extend_from_slice(&more[..n]);
            unread.extend_from_slice(&more[..n]);
            self.eof = n == 0;
        }
        if decode::looks_binary(&self.head) {
            self.input = Input::Utf8(counted);
            return Ok(false);
        }
        self.input = Input::Decoded(DecodingReader::windows_1252(counted, &unread));
        self.encoding = Encoding::Windows1252;
        (self.filled, self.eof) = (self.start, false);
        self.fill()?;
        Ok(!self.give_up)
    }

    /// The field delimiter.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The header's column names, as read.
    pub fn header(&self) -> &[String] {
        &self.columns
    }

    /// The file's encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Notes where each block of records is in the file, for
    /// [`CsvFile::blocks`].
    pub fn note_blocks(&mut self) {
        self.blocks = Some(Vec::new());
    }

    /// The blocks of records read, with how many records (not rejected by the
    /// reader) each gave; empty unless [`CsvFile::note_blocks`] was called.
    pub fn blocks(&mut self) -> Vec<(BlockAt, usize)> {
        self.blocks.take().unwrap_or_default()
    }

    /// Why the file was read as CSV (the detector's evidence on its first lines).
    pub fn why(&self) -> &str {
        &self.why
    }
}

/// How many bytes of a file in `encoding` `text` (whole characters of the text
/// read) came from: as many for UTF-8, two per UTF-16 code unit for UTF-16 (a
/// character of four UTF-8 bytes is a surrogate pair, any other one unit), one
/// per character for Windows-1252.
fn raw_len(encoding: Encoding, text: &[u8]) -> u64 {
    match encoding {
        Encoding::Windows1252 => {
            let chars: u64 = text
                .chunks(64)
                .map(|run| u64::from(run.iter().fold(0u8, |n, &b| n + u8::from((b as i8) >= -64))))
                .sum();
            chars
        }
        Encoding::Utf16Le | Encoding::Utf16Be => {
            // A unit per byte that starts a character, and one more per byte
            // that starts a four-byte one; counted in runs whose count fits a
            // byte, which the compiler turns into vector adds.
            let units: u64 = text
                .chunks(64)
                .map(|run| {
                    let n = run
                        .iter()
                        .fold(0u8, |n, &b| n + u8::from((b as i8) >= -64) + u8::from(b >= 0xF0));
                    u64::from(n)
                })
                .sum();
            2 * units
        }
        _ => text.len() as u64,
    }
}

/// Why the unparsed bytes cannot be parsed yet.
enum Unread {
    /// No line ends in them: read more.
    NoLineEnd,
    /// They are not UTF-8: perhaps Windows-1252, else read the file whole.
    NotUtf8,
    /// They are not plain CSV text: read the file whole.
    NotPlain,
}

/// The unparsed bytes `unread` up to the last line break (all of them at the end of
/// the file) as text, if they are text the whole-file path would read as is:
/// valid UTF-8, no control bytes, nothing that may be transcript noise.
/// The carried record is checked again with the block it starts: checking
/// it twice costs little, and every check then sees whole lines.
fn checked_text(unread: &[u8], eof: bool) -> Result<&str, Unread> {
    let end = match memchr::memrchr(b'\n', unread) {
        _ if eof => unread.len(),
        Some(k) => k + 1,
        None => return Err(Unread::NoLineEnd),
    };
    let text = decode::text(&unread[..end]).map_err(|_| Unread::NotUtf8)?;
    // Noise is looked for from the start of a line (a block starts on one),
    // so a block-wise check finds whatever a whole-text check finds.
    // (`may_need_cleaning_within` looks for transcript noise too.)
    if decode::check_text(text).is_err() || super::paste::may_need_cleaning_within(text) {
        return Err(Unread::NotPlain);
    }
    Ok(text)
}

impl<R: io::Read> Records for CsvFile<'_, R> {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn size_hint(&self) -> usize {
        self.size_hint
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        let width = self.columns.len();
        loop {
            let text = match checked_text(&self.buf[self.start..self.filled], self.eof) {
                Ok(text) => text,
                Err(Unread::NoLineEnd) => {
                    // A line longer than the block: read on (the buffer grows).
                    if self.fill().is_ok() {
                        continue;
                    }
                    self.give_up = true;
                    return;
                }
                Err(Unread::NotUtf8) => {
                    if let Ok(true) = self.switch_to_windows_1252() {
                        continue;
                    }
                    self.give_up = true;
                    return;
                }
                Err(Unread::NotPlain) => {
                    self.give_up = true;
                    return;
                }
            };
            if self.encoding == Encoding::Utf8 && !self.beyond_ascii {
                self.beyond_ascii = !text.is_ascii();
            }
            let last = self.eof;
            let block = Block { text, from: 0, first_line: self.line, last };
            let (file, rejected) = (&self.file, &mut self.rejected);
            let mut records = 0;
            let read = read_block(block, self.delimiter, width, &mut |r| match r {
                Read::Record(line, cells) => {
                    records += 1;
                    f(line, cells);
                }
                Read::Rejected(line, reason) => rejected.push(Rejection {
                    source: Source { file: crate::model::Text::new(file), line },
                    reason,
                }),
            });
            let text_len = text.len();
            if let Some(blocks) = &mut self.blocks {
                // The block's records, and the text read past (the same text
                // when both are some).
                let (len, past) = match read {
                    None if last => (text_len, 0),
                    Some((at, _)) => (at, at),
                    None => (0, text_len),
                };
                let text = &self.buf[self.start..self.start + len.max(past)];
                let raw = raw_len(self.encoding, text);
                if len > 0 {
                    let at = BlockAt {
                        offset: self.raw_start,
                        len: raw as usize,
                        first_line: self.line,
                    };
                    blocks.push((at, records));
                }
                if past > 0 {
                    self.raw_start += raw;
                }
            }
            match read {
                None if last => {
                    self.done = true;
                    return;
                }
                // No record started in this block (blank lines only): go on after it.
                None => {
                    self.line += memchr_count(&self.buf[self.start..self.start + text_len]);
                    self.start += text_len;
                }
                // One record fills the block: read more of it.
                Some((0, _)) => {}
                Some((at, line)) => {
                    self.start += at;
                    self.line = line;
                }
            }
            if self.fill().is_err() || self.give_up {
                self.give_up = true;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::csv::CsvStream;
    use crate::progress::Silent;

    type Seen = (Vec<(usize, Vec<String>)>, Vec<(usize, String)>);

    /// Records and rejections as the whole-text reader sees them.
    fn whole(text: &str) -> Result<Seen, crate::input::SyntaxError> {
        let file: Arc<str> = Arc::from("T.csv");
        let mut s = CsvStream::new(&file, text, b',')?;
        let mut records = Vec::new();
        s.each(&mut |line, cells| {
            records.push((line, (0..3).filter_map(|c| cells.get(c).map(str::to_owned)).collect()))
        });
        let rejected = s.finish();
        Ok((records, rejected.into_iter().map(|r| (r.source.line, r.reason)).collect()))
    }

    /// The same through the block reader, with blocks of `block` bytes.
    fn streamed(text: &str, block: usize) -> Option<Seen> {
        streamed_bytes(text.as_bytes(), block)
    }

    /// `text` as UTF-16 with its byte-order mark, little- or big-endian.
    fn utf16(text: &str, little: bool) -> Vec<u8> {
        let mark: [u8; 2] = if little { [0xFF, 0xFE] } else { [0xFE, 0xFF] };
        let units = text.encode_utf16();
        let bytes = units.flat_map(|u| if little { u.to_le_bytes() } else { u.to_be_bytes() });
        mark.into_iter().chain(bytes).collect()
    }

    /// A file's bytes through the block reader.
    fn streamed_bytes(bytes: &[u8], block: usize) -> Option<Seen> {
        streamed_as(bytes, block).map(|(seen, _)| seen)
    }

    /// [`streamed_bytes`], with the encoding the stream read.
    fn streamed_as(bytes: &[u8], block: usize) -> Option<(Seen, Encoding)> {
        let file: Arc<str> = Arc::from("T.csv");
        let mut s =
            CsvFile::open_sized(&file, bytes, bytes.len() as u64, &Silent, block).unwrap()?;
        let mut records = Vec::new();
        s.each(&mut |line, cells| {
            records.push((line, (0..3).filter_map(|c| cells.get(c).map(str::to_owned)).collect()))
        });
        match s.finish() {
            Finished::Read(rejected, encoding) => {
                let rejected = rejected.into_iter().map(|r| (r.source.line, r.reason)).collect();
                Some(((records, rejected), encoding))
            }
            Finished::ReadWhole => None,
        }
    }

    /// A CSV text with long and multi-line quoted values, broken rows and blank lines.
    fn sample(rows: usize, crlf: bool, type_line: bool, cut: bool) -> String {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut t = String::new();
        if type_line {
            t.push_str("#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.User");
            t.push_str(nl);
        }
        t.push_str("\"Name\",\"AuthenticationPolicy\",\"Note\"");
        t.push_str(nl);
        for i in 0..rows {
            let row = match i % 7 {
                0 => format!("\"user{i}\",\"Policy {i}\",\"two{nl}lines\""),
                1 => format!("\"O'Brien, \"\"Se\u{e1}n\"\" {i}\",\"\",\"x\""),
                2 => format!("\"broken {i}\",\"only two\""),
                3 => format!("\"long {i}\",\"{}\",\"\"", "\u{dc}".repeat(i % 50)),
                4 => String::new(),
                _ => format!("plain{i},P,{i}"),
            };
            t.push_str(&row);
            t.push_str(nl);
        }
        if cut {
            t.push_str("\"last\",\"Pol");
        }
        t
    }

    #[test]
    fn blocks_read_exactly_what_the_whole_text_reads() {
        for (crlf, type_line, cut) in
            [(false, false, false), (true, true, false), (true, false, true), (false, true, true)]
        {
            let text = sample(300, crlf, type_line, cut);
            let expected = whole(&text).unwrap();
            assert!(expected.0.len() > 200 && !expected.1.is_empty());
            for block in [64, 97, 256, 1000, 1 << 20] {
                let got =
                    streamed(&text, block).unwrap_or_else(|| panic!("gave up, block {block}"));
                assert_eq!(got, expected, "block {block}, crlf {crlf}, type line {type_line}");
                // The same text as UTF-16, either byte order: the same records.
                for little in [true, false] {
                    let got = streamed_bytes(&utf16(&text, little), block)
                        .unwrap_or_else(|| panic!("UTF-16 gave up, block {block}"));
                    assert_eq!(got, expected, "UTF-16 (little {little}), block {block}");
                }
            }
        }
    }

    proptest::proptest! {
        /// Any text of quotes, commas, line breaks, blanks and letters (none of
        /// which makes the stream give up) reads as the whole-text reader reads
        /// it, whatever the block size.
        #[test]
        fn any_text_reads_the_same_in_blocks(
            body in "[a\",\r\n \u{e9}]{0,300}",
            block in 8usize..120,
        ) {
            // Well-formed first rows: the form is decided on the first lines, and
            // this test is about block boundaries, not about detection.
            let head: String = (0..200).map(|i| format!("\"u{i}\",\"P\",\"n\"\n")).collect();
            let text = format!("\"Name\",\"AuthenticationPolicy\",\"Note\"\n{head}{body}");
            let got = streamed(&text, block);
            proptest::prop_assert!(got.is_some(), "gave up");
            proptest::prop_assert_eq!(Ok(got.unwrap_or_default()), whole(&text));
        }
    }

    /// `text` in Windows-1252, as Excel's "CSV (Comma delimited)" saves it.
    fn ansi(text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
        assert!(!unmappable, "{text:?} has a character Windows-1252 lacks");
        bytes.into_owned()
    }

    #[test]
    fn windows_1252_reads_exactly_what_the_whole_file_reads() {
        // Letters beyond ASCII from the first record on (the stream reads the
        // file as Windows-1252 from its first block), and only late (it reads
        // ASCII as UTF-8 first, then gives way at a later block).
        // (Without the runs of "Ü", which make the whole-file reader take the
        // file for binary, as a test below shows.)
        let sparse = sample(300, true, true, false).replace('\u{dc}', "");
        let early = format!("{sparse}\"Nu\u{f1}ez \u{20ac}\u{2019}\",\"x\",\"\"\n");
        let ascii = sample(300, false, false, false).replace(['\u{e1}', '\u{dc}'], "a");
        let late = format!("{ascii}\"Zo\u{eb} \u{201c}Q\u{201d}\",\"P\",\"n\"\nlast,P,1\n");
        assert!(ascii.is_ascii());
        for text in [early, late] {
            let bytes = ansi(&text);
            let (decoded, encoding) = decode::decode(&bytes).unwrap();
            assert_eq!((decoded.as_ref(), encoding), (text.as_str(), Encoding::Windows1252));
            let expected = whole(&text).unwrap();
            for block in [64, 97, 256, 1000, 1 << 20] {
                let got =
                    streamed_as(&bytes, block).unwrap_or_else(|| panic!("gave up, block {block}"));
                assert_eq!(got, (expected.clone(), Encoding::Windows1252), "block {block}");
            }
        }
    }

    #[test]
    fn byte_order_mark_is_skipped_and_reported() {
        let text = sample(40, true, false, false);
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(text.as_bytes());
        let file: Arc<str> = Arc::from("T.csv");
        let s = CsvFile::open_sized(&file, &bytes[..], 0, &Silent, 128).unwrap().unwrap();
        assert_eq!(s.columns(), ["Name", "AuthenticationPolicy", "Note"]);
        assert_eq!(s.encoding, Encoding::Utf8Bom);
    }

    #[test]
    fn anything_unusual_is_left_to_the_whole_file_reader() {
        let text = sample(60, false, false, false);
        let ascii = text.replace(['\u{e1}', '\u{dc}'], "a");
        let (header, body) = ascii.as_bytes().split_at(ascii.find('\n').unwrap() + 1);
        // A prompt line late in the file, invalid UTF-8, a control byte, UTF-16.
        let late = text.len() * 3 / 4;
        let cut = text[..late].rfind('\n').unwrap() + 1;
        let with = |insert: &[u8]| {
            let mut b = text.as_bytes()[..cut].to_vec();
            b.extend_from_slice(insert);
            b.extend_from_slice(&text.as_bytes()[cut..]);
            b
        };
        let file: Arc<str> = Arc::from("T.csv");
        for (case, bytes) in [
            with(b"PS C:\\> Get-User | Export-Csv\n"),
            with(b"\"bad\",\"\xC3\x28\",\"x\"\n"),
            with(b"\"nul\",\"\x00\",\"x\"\n"),
            // A letter beyond ASCII in the first record, then ASCII, then the
            // same letter late in the other encoding: UTF-8 then Windows-1252,
            // and Windows-1252 then UTF-8.
            [header, b"\"Zo\xC3\xAB\",\"P\",\"x\"\n", body, b"\"Zo\xEB\",\"P\",\"x\"\n"].concat(),
            [header, b"\"Zo\xEB\",\"P\",\"x\"\n", body, b"\"Zo\xC3\xAB\",\"P\",\"x\"\n"].concat(),
            // Windows-1252 so dense with letters beyond ASCII that the
            // whole-file reader takes it for binary.
            ansi(&text.replace(|c: char| c.is_ascii_lowercase(), "\u{e9}")),
            // UTF-16 with an unpaired surrogate late in the file, or cut in
            // the middle of a character.
            {
                let mut b = utf16(&text[..cut], true);
                b.extend_from_slice(&0xD800u16.to_le_bytes());
                b.extend_from_slice(&utf16(&text[cut..], true)[2..]);
                b
            },
            {
                let mut b = utf16(&text, true);
                b.pop();
                b
            },
        ]
        .into_iter()
        .enumerate()
        {
            let gave_up = match CsvFile::open_sized(&file, &bytes[..], 0, &Silent, 200).unwrap() {
                None => true,
                Some(mut s) => {
                    s.each(&mut |_, _| {});
                    matches!(s.finish(), Finished::ReadWhole)
                }
            };
            assert!(gave_up, "case {case}: {:?}", String::from_utf8_lossy(&bytes[cut..cut + 30]));
        }
        // A Format-List file is not CSV.
        let list = "\nName : a\nPopEnabled : True\n\nName : b\nPopEnabled : True\n".repeat(5);
        assert!(CsvFile::open_sized(&file, list.as_bytes(), 0, &Silent, 64).unwrap().is_none());
    }
}
