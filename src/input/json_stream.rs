//! The objects of a large JSON document found as it is read from a file, a
//! block at a time, so that neither the file nor its objects are held: an
//! array of objects (`ConvertTo-Json` of many objects, the Entra portal's
//! sign-in download), or, where the caller allows it, a Graph response whose
//! `"value"` array holds them.
//!
//! Each object's text is found by following its strings and brackets (never
//! guessed from line breaks), handed to the caller with the line it begins on,
//! and parsed there on its own; a response's other property values are checked
//! as JSON the same way, and the bytes between them must be what JSON allows
//! there. Whatever else the file holds (another shape, bytes out of place, an
//! object the caller refuses, text that is not UTF-8 or UTF-16) makes the scan
//! give up, and the caller reads the file whole with `serde_json`, which gives
//! the exact error. So a file read here is one `serde_json` reads whole,
//! object for object (property tests hold it to that).

use std::io::{self, Read};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lines::encoded_len;
use super::stream::Counted;
use super::{Cells, Records, Warning, json};
use crate::decode::{DecodingReader, Encoding, read_full, read_some};
use crate::model::mailboxes::BlockAt;
use crate::progress::Progress;

/// Bytes read at a time; an object longer than a block grows it.
pub const BLOCK: usize = 1 << 20;

/// Where [`scan`] is in the document's own structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the document.
    Start,
    /// In the array of events (the document itself, or the response's
    /// `"value"`), at a place in it.
    Events(Slot),
    /// In the response object, at a place in it.
    Object(Slot),
    /// After a property's name (`value`: whether it is `"value"`).
    Colon { value: bool },
    /// After the colon.
    Value { value: bool },
    /// After the document.
    End,
}

/// A place in a list of elements or properties: before the first, after a
/// comma, after an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    First,
    Next,
    After,
}

/// What a document's top level may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Top {
    /// An array of objects.
    Array,
    /// An array of objects, or an object whose `"value"` array holds them (a
    /// Graph response); the response's other property names go to the
    /// caller.
    ArrayOrResponse,
}

/// Finds the objects of the JSON document `input` holds, in blocks of `block`
/// bytes (one object longer than that grows it), and hands each object's text
/// to `object` with the line it begins on and its offset in the text (UTF-8,
/// after any byte-order mark); `object` says whether it took it.
/// UTF-16 after its byte-order mark (what Windows PowerShell 5.1's `>` writes)
/// is decoded as it is read (an `InvalidData` error when it is not UTF-16);
/// anything else is read as UTF-8, after its byte-order mark if it has one
/// (an `InvalidData` error at the first text that is not). Returns the
/// encoding, or `None` when the file is to be read whole (see the module
/// documentation).
pub fn scan_file<R: Read>(
    mut input: R,
    block: usize,
    top: Top,
    object: &mut dyn FnMut(&str, usize, u64) -> bool,
    name: &mut dyn FnMut(&str),
) -> io::Result<Option<Encoding>> {
    let mut mark = [0; 3];
    let n = read_full(&mut input, &mut mark)?;
    let (read, encoding) = match mark[..n] {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => {
            let big_endian = mark[0] == 0xFE;
            let input = DecodingReader::utf16(input, big_endian, &mark[2..n]);
            let encoding = if big_endian { Encoding::Utf16Be } else { Encoding::Utf16Le };
            (scan(input, block, top, object, name)?, encoding)
        }
        [0xEF, 0xBB, 0xBF] => (scan(input, block, top, object, name)?, Encoding::Utf8Bom),
        _ => (scan(mark[..n].chain(input), block, top, object, name)?, Encoding::Utf8),
    };
    Ok(read.then_some(encoding))
}

/// [`scan_file`] of the text `input` gives: whether it was read.
fn scan<R: Read>(
    mut input: R,
    block: usize,
    top: Top,
    object: &mut dyn FnMut(&str, usize, u64) -> bool,
    name: &mut dyn FnMut(&str),
) -> io::Result<bool> {
    let mut buf = vec![0; block.max(16)];
    // `buf[pos..filled]`: bytes read and not taken yet; `counted`: the
    // offset up to which line breaks are counted, `line` the line there.
    let (mut filled, mut pos, mut eof) = (0, 0, false);
    let (mut line, mut counted) = (1, 0);
    // The offset in the text of `buf[0]`.
    let mut base = 0u64;
    let (mut at, mut response, mut seen_value) = (At::Start, false, false);
    loop {
        while pos < filled && matches!(buf[pos], b' ' | b'\t' | b'\r' | b'\n') {
            pos += 1;
        }
        if pos == filled {
            if eof {
                break;
            }
        } else {
            let b = buf[pos];
            let bytes = &buf[..filled];
            let taken = match (at, b) {
                (At::Start, b'[') => Some((At::Events(Slot::First), pos + 1)),
                (At::Start, b'{') if top == Top::ArrayOrResponse => {
                    response = true;
                    Some((At::Object(Slot::First), pos + 1))
                }
                (At::Events(Slot::First | Slot::Next), b'{') => match value_end(bytes, pos) {
                    Some(end) => {
                        line += memchr::memchr_iter(b'\n', &bytes[counted..pos]).count();
                        counted = pos;
                        let Ok(text) = crate::decode::text(&bytes[pos..end]) else {
                            return Err(not_utf8());
                        };
                        if !object(text, line, base + pos as u64) {
                            return Ok(false);
                        }
                        Some((At::Events(Slot::After), end))
                    }
                    None => None,
                },
                (At::Events(Slot::After), b',') => Some((At::Events(Slot::Next), pos + 1)),
                (At::Events(Slot::First | Slot::After), b']') => {
                    let next = if response { At::Object(Slot::After) } else { At::End };
                    Some((next, pos + 1))
                }
                (At::Object(Slot::First | Slot::Next), b'"') => {
                    match string_end(bytes, pos + 1) {
                        Some(end) => {
                            // The name as JSON reads it (escapes and all).
                            let Ok(text) = crate::decode::text(&bytes[pos..end]) else {
                                return Err(not_utf8());
                            };
                            let text = serde_json::from_str::<String>(text).ok();
                            let Some(text) = text else { return Ok(false) };
                            let value = text.eq_ignore_ascii_case("value");
                            if !value {
                                name(&text);
                            }
                            Some((At::Colon { value }, end))
                        }
                        None => None,
                    }
                }
                (At::Colon { value }, b':') => Some((At::Value { value }, pos + 1)),
                (At::Value { value: true }, b'[') => Some((At::Events(Slot::First), pos + 1)),
                (At::Value { value: false }, _) => match value_end(bytes, pos) {
                    Some(end) => {
                        let Ok(text) = crate::decode::text(&bytes[pos..end]) else {
                            return Err(not_utf8());
                        };
                        if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
                            return Ok(false);
                        }
                        Some((At::Object(Slot::After), end))
                    }
                    None => None,
                },
                (At::Object(Slot::After), b',') => Some((At::Object(Slot::Next), pos + 1)),
                // Without a `"value"`: one object on its own, or something else.
                (At::Object(Slot::First | Slot::After), b'}') if seen_value => {
                    Some((At::End, pos + 1))
                }
                _ => return Ok(false),
            };
            if let Some((next, end)) = taken {
                if let At::Value { value: true } = at {
                    seen_value = true;
                }
                (at, pos) = (next, end);
                continue;
            }
            // What starts at `pos` goes on past the bytes read.
            if eof {
                return Ok(false);
            }
        }
        // Read on, keeping what is not taken.
        line += memchr::memchr_iter(b'\n', &buf[counted..pos]).count();
        base += pos as u64;
        buf.copy_within(pos..filled, 0);
        (filled, pos, counted) = (filled - pos, 0, 0);
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = read_some(&mut input, &mut buf[filled..])?;
        (filled, eof) = (filled + n, n == 0);
    }
    Ok(at == At::End)
}

/// Why [`scan`] stops at text that is not UTF-8: an `InvalidData` error, which
/// [`JsonFile`] tells from the others to read the file as Windows-1252.
#[derive(Debug, thiserror::Error)]
#[error("not UTF-8")]
struct NotUtf8;

fn not_utf8() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, NotUtf8)
}

/// Whether `e` is [`scan`]'s error for text that is not UTF-8.
pub(crate) fn is_not_utf8(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<NotUtf8>())
}

/// The offset just past the string whose text starts at `from` (after its
/// opening quote); `None` when `bytes` end first.
fn string_end(bytes: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let k = from + memchr::memchr2(b'"', b'\\', bytes.get(from..)?)?;
        match bytes[k] {
            b'"' => return Some(k + 1),
            _ => from = k + 2,
        }
    }
}

/// The offset just past the JSON value that starts at `from` (by its strings
/// and brackets; a scalar ends where a delimiter or blank follows it); `None`
/// when `bytes` end first. Whether it is valid JSON is left to the parser.
fn value_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut k = from;
    loop {
        match *bytes.get(k)? {
            b'"' => k = string_end(bytes, k + 1)?,
            b'{' | b'[' => {
                depth += 1;
                k += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                k += 1;
            }
            b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n' if depth == 0 => return Some(k),
            _ => k += 1,
        }
        if depth == 0 && k > from && matches!(bytes[from], b'"' | b'{' | b'[') {
            return Some(k);
        }
    }
}

/// A `ConvertTo-Json` array of objects read from its file in two passes, so
/// that neither its text nor its records are held: the first finds the
/// columns (every property name, in the order first seen, as
/// [`json::Objects`] finds them) and checks every object; the second parses
/// each object again and hands its record ([`json::record`]) to the mapper.
/// A file [`scan_file`] does not read, or an object the caller refuses or
/// that is not one, leaves the file to the whole-file reader.
pub struct JsonFile<'p> {
    file: Arc<str>,
    path: PathBuf,
    columns: json::Columns,
    objects: usize,
    encoding: Encoding,
    progress: &'p dyn Progress,
    /// What the second pass found besides the records: the values `-Depth` cut.
    read: Option<io::Result<Option<Vec<Warning>>>>,
    /// With [`JsonFile::note_blocks`]: each block of objects the second pass
    /// read (about [`BLOCK`] bytes), with how many it handed on.
    blocks: Option<Vec<(BlockAt, usize)>>,
}

/// What reading a JSON export's blocks of objects again needs: its columns.
pub struct Reread {
    file: Arc<str>,
    columns: json::Columns,
}

impl Reread {
    /// The columns, as the second pass gave them.
    pub fn columns(&self) -> &[String] {
        self.columns.names()
    }

    /// Hands on the records of a block's objects (`text`, from line `first`),
    /// as the second pass handed them on; stops at anything else (the file
    /// changed).
    pub fn records(&self, text: &str, first: usize, f: &mut dyn FnMut(usize, Cells<'_>)) {
        let bytes = text.as_bytes();
        let (mut columns, mut warnings) = (self.columns.clone(), Vec::new());
        let (mut pos, mut line, mut counted) = (0, first, 0);
        loop {
            while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b'\r' | b'\n' | b',') {
                pos += 1;
            }
            if pos == bytes.len() || bytes[pos] != b'{' {
                return;
            }
            let Some(end) = value_end(bytes, pos) else { return };
            line += memchr::memchr_iter(b'\n', &bytes[counted..pos]).count();
            counted = pos;
            let Ok(map) = serde_json::from_str(&text[pos..end]) else { return };
            let record = json::record(&self.file, &mut columns, (line, map), &mut warnings);
            if columns.names().len() > self.columns.names().len() {
                return;
            }
            f(record.line, Cells::Owned(&record.values));
            pos = end;
        }
    }
}

/// An object's property names, in order, its values skipped (borrowed from
/// the text when they hold no escape).
struct Keys<'de>(Vec<std::borrow::Cow<'de, str>>);

impl<'de> serde::Deserialize<'de> for Keys<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys<'de>, D::Error> {
        struct Names;
        impl<'de> serde::de::Visitor<'de> for Names {
            type Value = Keys<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Keys<'de>, A::Error> {
                let mut keys = Vec::new();
                while let Some(json::Key(key)) = map.next_key()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(Names)
    }
}

impl<'p> JsonFile<'p> {
    /// Surveys the array of objects in the file at `path` (shown as `file`);
    /// `None` when it is to be read whole: anything [`scan_file`] does not
    /// read, no object at all, or an object `refuse` refuses. `progress`
    /// counts the bytes of the second pass.
    pub fn open(
        file: &Arc<str>,
        path: &Path,
        progress: &'p dyn Progress,
        refuse: &dyn Fn(&str) -> bool,
    ) -> io::Result<Option<JsonFile<'p>>> {
        // The columns and how many objects.
        let survey = |found: &mut (json::Columns, usize), text: &str| {
            if refuse(text) {
                return false;
            }
            let Ok(Keys(keys)) = serde_json::from_str(text) else { return false };
            for (k, key) in keys.iter().enumerate() {
                found.0.add_at(key, k);
            }
            found.1 += 1;
            true
        };
        let mut found = (json::Columns::default(), 0);
        let input = std::fs::File::open(path)?;
        let mut take = |text: &str, _, _| survey(&mut found, text);
        let scanned = match scan_file(input, BLOCK, Top::Array, &mut take, &mut |_| {}) {
            // Not UTF-8: Windows-1252, read again from the start, where the
            // whole-file reader would read it so.
            Err(e) if is_not_utf8(&e) && windows_1252(path)? => {
                found = (json::Columns::default(), 0);
                let mut take = |text: &str, _, _| survey(&mut found, text);
                let input = DecodingReader::windows_1252(std::fs::File::open(path)?, &[]);
                scan_file(input, BLOCK, Top::Array, &mut take, &mut |_| {})
                    .map(|read| read.map(|_| Encoding::Windows1252))
            }
            scanned => scanned,
        };
        let (columns, objects) = found;
        let encoding = match scanned {
            Ok(Some(encoding)) if objects > 0 => encoding,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(None),
            Err(e) => return Err(e),
        };
        let (file, path) = (file.clone(), path.to_owned());
        let blocks = None;
        Ok(Some(JsonFile { file, path, columns, objects, encoding, progress, read: None, blocks }))
    }

    /// Notes, in the second pass, where each block of objects is
    /// ([`JsonFile::blocks`]).
    pub fn note_blocks(&mut self) {
        self.blocks = Some(Vec::new());
    }

    /// The blocks of objects the second pass read, with how many records each
    /// handed on; empty unless [`JsonFile::note_blocks`] was called.
    pub fn blocks(&mut self) -> Vec<(BlockAt, usize)> {
        self.blocks.take().unwrap_or_default()
    }

    /// What reading the blocks again needs, once the second pass has read
    /// the file.
    pub fn reread(&self) -> Reread {
        Reread { file: self.file.clone(), columns: self.columns.clone() }
    }

    /// The file's encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The warnings of the second pass (values `-Depth` cut); `None` when the
    /// file is to be read whole after all (it is not what the first pass found).
    pub fn finish(self) -> io::Result<Option<Vec<Warning>>> {
        self.read.unwrap_or(Ok(None))
    }
}

/// Whether the file at `path`, which is not UTF-8, is one the whole-file
/// reader would read as Windows-1252 by its start: nothing that looks binary
/// ([`crate::decode::decode`]). Its rule that no UTF-8 beyond ASCII is
/// anywhere in the file is held by the decoding reader; and a file with a
/// byte-order mark, which it reads as UTF-8 or UTF-16 only, starts with the
/// mark's letters in Windows-1252, which are not JSON.
pub(crate) fn windows_1252(path: &Path) -> io::Result<bool> {
    let mut head = vec![0; crate::decode::HEAD];
    let n = read_full(&mut std::fs::File::open(path)?, &mut head)?;
    Ok(!crate::decode::looks_binary(&head[..n]))
}

impl Records for JsonFile<'_> {
    fn columns(&self) -> &[String] {
        self.columns.names()
    }

    fn size_hint(&self) -> usize {
        self.objects
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        let input = match Counted::open(&self.path, self.progress) {
            Ok(input) => input,
            Err(e) => {
                self.read = Some(Err(e));
                return;
            }
        };
        let (file, columns) = (&self.file, &mut self.columns);
        let (mut warnings, width) = (Vec::new(), columns.names().len());
        // Where each object is in the file: the text between two objects (a
        // comma, blanks) is ASCII, a unit a character.
        let (mark, unit) = match self.encoding {
            Encoding::Utf8Bom => (3, 1),
            Encoding::Utf16Le | Encoding::Utf16Be => (2, 2),
            _ => (0, 1),
        };
        let (mut text_end, mut raw_end) = (0u64, mark);
        let mut noted = self.blocks.take();
        let encoding = self.encoding;
        let mut object = |text: &str, line, at: u64| {
            let Ok(map) = serde_json::from_str(text) else { return false };
            let record = json::record(file, columns, (line, map), &mut warnings);
            // A name the first pass did not see: the file changed.
            if columns.names().len() > width {
                return false;
            }
            let raw = raw_end + (at - text_end) * unit;
            (text_end, raw_end) = (at + text.len() as u64, raw + encoded_len(text, encoding));
            if let Some(blocks) = noted.as_mut() {
                match blocks.last_mut() {
                    Some((b, n)) if raw - b.offset < BLOCK as u64 => {
                        (b.len, *n) = ((raw_end - b.offset) as usize, *n + 1);
                    }
                    _ => {
                        let len = (raw_end - raw) as usize;
                        blocks.push((BlockAt { offset: raw, len, first_line: line }, 1));
                    }
                }
            }
            f(record.line, Cells::Owned(&record.values));
            true
        };
        let scanned = match self.encoding {
            Encoding::Windows1252 => {
                let input = DecodingReader::windows_1252(input, &[]);
                scan_file(input, BLOCK, Top::Array, &mut object, &mut |_| {})
            }
            _ => scan_file(input, BLOCK, Top::Array, &mut object, &mut |_| {}),
        };
        self.blocks = noted;
        self.read = Some(match scanned {
            Ok(Some(_)) => Ok(Some(warnings)),
            Ok(None) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(None),
            Err(e) => Err(e),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    type Seen = (Vec<(usize, String)>, bool, bool);

    /// The events (line, text) of `bytes` read by [`scan`] in blocks of `block`,
    /// and whether the response is Graph's and has more pages. Like
    /// [`read_path`], an event that is not a JSON object stops the stream.
    fn scanned(bytes: &[u8], block: usize) -> Option<Seen> {
        let mut seen = Vec::new();
        let mut object = |text: &str, line, _| {
            seen.push((line, text.to_owned()));
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).is_ok()
        };
        let (mut graph, mut next) = (false, false);
        let mut name = |n: &str| {
            graph |= n.starts_with("@odata.");
            next |= n.eq_ignore_ascii_case("@odata.nextLink");
        };
        scan_file(bytes, block, Top::ArrayOrResponse, &mut object, &mut name).ok()??;
        Some((seen, graph, next))
    }

    /// The same read by serde_json from the whole text: an array of objects,
    /// or an object with a `"value"` array of them.
    fn whole(text: &str) -> Option<Seen> {
        #[derive(serde::Deserialize)]
        struct Response<'a> {
            #[serde(borrow)]
            value: Vec<&'a RawValue>,
            #[serde(rename = "@odata.context", default)]
            context: Option<&'a RawValue>,
            #[serde(rename = "@odata.nextLink", default)]
            next: Option<&'a RawValue>,
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (events, graph, next) = match text.trim_start().as_bytes().first()? {
            b'[' => (serde_json::from_str::<Vec<&RawValue>>(text).ok()?, false, false),
            _ => {
                let r: Response = serde_json::from_str(text).ok()?;
                (r.value, r.context.is_some() || r.next.is_some(), r.next.is_some())
            }
        };
        let line = |raw: &RawValue| {
            let at = raw.get().as_ptr() as usize - text.as_ptr() as usize;
            1 + text.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count()
        };
        if events.iter().any(|e| !e.get().starts_with('{')) {
            return None;
        }
        Some((events.iter().map(|e| (line(e), e.get().to_owned())).collect(), graph, next))
    }

    /// Events whose strings hold every byte that means something outside a
    /// string, nested objects and arrays, letters beyond ASCII, blank lines.
    const RESPONSE: &str = "{\"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns\",\r\n  \"value\": [\r\n    {\"id\": \"1\", \"userPrincipalName\": \"a@contoso.com\", \"clientAppUsed\": \"POP3\",\r\n     \"note\": \"} ] [ { \\\" \\\\ , : \\u0041\", \"n\": [1, {\"x\": []}, -2.5e3, true, null],\r\n     \"status\": {\"errorCode\": 0}},\r\n\r\n    {\"id\":\"2\",\"userPrincipalName\":\"zo\u{eb}@contoso.com\",\"clientAppUsed\":\"Authenticated SMTP\",\"location\":{\"city\":\"Z\u{fc}rich\"},\"status\":{\"errorCode\":50126}}\r\n  ],\r\n  \"@odata.nextLink\": \"https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=a]}\"\r\n}\r\n";

    #[test]
    fn events_are_read_in_blocks_as_serde_reads_them_whole() {
        let fixtures = ["graph/signIns.json", "powershell7/SignIns.json"]
            .map(|f| std::fs::read_to_string(format!("fixtures/contoso-signins/{f}")).unwrap());
        let events = RESPONSE.split_once("\"value\": [").unwrap().1;
        let array = format!("[{}]", events.split_once("\r\n  ],").unwrap().0);
        let bom = format!("\u{feff}{RESPONSE}");
        for text in [RESPONSE, &array, &bom, &fixtures[0], &fixtures[1]] {
            let expected = whole(text).unwrap();
            assert!(expected.0.len() >= 2, "{text}");
            // As it is, and as UTF-16 in either byte order.
            let units = || text.strip_prefix('\u{feff}').unwrap_or(text).encode_utf16();
            let le: Vec<u8> =
                [0xFF, 0xFE].into_iter().chain(units().flat_map(u16::to_le_bytes)).collect();
            let be: Vec<u8> =
                [0xFE, 0xFF].into_iter().chain(units().flat_map(u16::to_be_bytes)).collect();
            for bytes in [text.as_bytes(), &le, &be] {
                for block in [16, 17, 31, 64, 1000, BLOCK] {
                    let got = scanned(bytes, block);
                    assert_eq!(got.as_ref(), Some(&expected), "block {block}: {text}");
                }
            }
        }
        // The fixture Windows PowerShell 5.1 wrote (UTF-16): the same events as
        // PowerShell 7's, but for its dates.
        let ps51 = std::fs::read("fixtures/contoso-signins/powershell51/SignIns.json").unwrap();
        let (events, graph, _) = scanned(&ps51, 1000).unwrap();
        assert_eq!((events.len(), graph), (whole(&fixtures[1]).unwrap().0.len(), false));
        // UTF-16 cut in the middle of a character: left to the whole reader.
        assert_eq!(scanned(&ps51[..ps51.len() - 1], 1000), None);
        let (events, graph, next) = whole(RESPONSE).unwrap();
        assert_eq!((events[0].0, events[1].0, graph, next), (3, 7, true, true));
    }

    #[test]
    fn a_document_cut_anywhere_is_left_to_the_whole_reader() {
        let end = RESPONSE.trim_end().len();
        for cut in (0..end).filter(|&c| RESPONSE.is_char_boundary(c)) {
            assert_eq!(scanned(&RESPONSE.as_bytes()[..cut], 64), None, "cut at {cut}");
        }
    }

    proptest::proptest! {
        /// A byte taken out, put in or changed anywhere: the stream reads the
        /// document only when serde_json reads it whole, and then reads the
        /// same events.
        #[test]
        fn a_damaged_document_is_read_only_when_it_is_json(
            at in 0usize..RESPONSE.len(),
            byte in proptest::sample::select(b"{}[]\",:\\ a1\n".to_vec()),
            how in 0u8..3,
            block in 16usize..80,
        ) {
            let mut bytes = RESPONSE.as_bytes().to_vec();
            match how {
                0 => { bytes.remove(at); }
                1 => bytes.insert(at, byte),
                _ => bytes[at] = byte,
            }
            let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(()) };
            if let Some(got) = scanned(&bytes, block) {
                proptest::prop_assert_eq!(Some(got), whole(text), "{}", text);
            }
        }
    }

    /// What [`JsonFile`] reads of `text`: the columns, the records and the
    /// warnings; `None` when it leaves the file.
    fn json_file(text: impl AsRef<[u8]>, change_to: Option<&str>) -> Option<crate::input::Parsed> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CasMailbox.json");
        std::fs::write(&path, text).unwrap();
        let file: Arc<str> = Arc::from("CasMailbox.json");
        let mut json =
            JsonFile::open(&file, &path, &crate::progress::Silent, &|_| false).unwrap()?;
        if let Some(other) = change_to {
            std::fs::write(&path, other).unwrap();
        }
        let mut parsed = crate::input::Parsed::default();
        parsed.table.columns = json.columns().to_vec();
        json.each(&mut |line, cells| {
            let Cells::Owned(values) = cells else { panic!("a JSON record is owned") };
            parsed.table.rows.push(crate::input::Record { line, values: values.to_vec() });
        });
        parsed.warnings = json.finish().unwrap()?;
        Some(parsed)
    }

    #[test]
    fn an_export_is_read_in_two_passes_as_the_whole_file_reader_reads_it() {
        // Names that differ from object to object, one escaped, one twice in
        // an object; a date, and a value cut by -Depth.
        let text = concat!(
            "[\n  {\"Name\": \"a\", \"PopEnabled\": true},\n",
            "  {\"Na\\u006de\": \"b\", \"When\": \"\\/Date(1326441600000)\\/\", \"Name\": \"c\"},\n",
            "  {\"Extra\": \"System.Collections.Hashtable\", \"ImapEnabled\": null}\n]\n"
        );
        let file: Arc<str> = Arc::from("CasMailbox.json");
        let whole = crate::input::json::parse(&file, text).unwrap();
        let read = json_file(text, None).expect("streamed");
        assert_eq!(read.table, whole.table);
        assert_eq!(read.warnings, whole.warnings);
        assert_eq!(whole.table.columns, ["Name", "PopEnabled", "When", "Extra", "ImapEnabled"]);
        // A name the first pass did not see: the file changed between them.
        let changed = text.replace("ImapEnabled", "SmtpEnabled");
        assert!(json_file(text, Some(&changed)).is_none());
        // No object: the whole-file reader reads `[]`.
        assert!(json_file("[]\n", None).is_none());
    }

    #[test]
    fn windows_1252_is_read_where_the_whole_file_reader_reads_it() {
        let file: Arc<str> = Arc::from("CasMailbox.json");
        let ascii = "  {\"Name\": \"a\", \"PopEnabled\": true},\n".repeat(100);
        let ansi =
            [b"[\n", ascii.as_bytes(), b"  {\"Name\": \"Jos\xE9\", \"Title\": \"\x80\"}\n]\n"]
                .concat();
        let (text, encoding) = crate::decode::decode(&ansi).unwrap();
        assert_eq!(encoding, Encoding::Windows1252);
        let whole = crate::input::json::parse(&file, &text).unwrap();
        let read = json_file(&ansi, None).expect("streamed");
        assert_eq!((read.table, read.warnings), (whole.table, whole.warnings));
        // What the whole-file reader does not read as Windows-1252: a file
        // also holding UTF-8 beyond ASCII, one with a byte-order mark, one
        // that looks binary.
        let two = [&ansi[..ansi.len() - 4], "é\"}]".as_bytes()].concat();
        let marked = [b"\xEF\xBB\xBF", &ansi[..]].concat();
        let binary = [b"[{\"Name\": \"", &[0xFE; 40][..], b"\"}]\n"].concat();
        for (k, bytes) in [two, marked, binary].iter().enumerate() {
            assert!(crate::decode::decode(bytes).is_err(), "case {k}");
            assert!(json_file(bytes, None).is_none(), "case {k}");
        }
    }
}
