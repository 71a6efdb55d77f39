//! Bytes to text: the first stage of the data flow.
//!
//! Exports reach us in whatever encoding the admin's shell chose: Windows
//! PowerShell 5.1's `Export-Csv -Encoding UTF8` writes UTF-8 with a BOM, its
//! `Out-File` and `>` write UTF-16LE with a BOM, PowerShell 7 writes UTF-8
//! without one. The encoding is taken from the byte-order mark; without one
//! the text must be valid UTF-8. Invalid sequences are an error naming the
//! line, column and byte offset, never silently replaced: a replaced character
//! in a policy name would change which policy a user resolves to.

use std::borrow::Cow;
use std::fmt;
use std::io;

/// The encoding a file was decoded from, as reported in `exoauth parse` and the
/// report's input list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 without a byte-order mark (PowerShell 7's default).
    Utf8,
    /// UTF-8 with a byte-order mark (Windows PowerShell 5.1 `-Encoding UTF8`).
    Utf8Bom,
    /// UTF-16 little-endian with a byte-order mark (5.1 `Out-File`, `>`, `-Encoding Unicode`).
    Utf16Le,
    /// UTF-16 big-endian with a byte-order mark (`-Encoding BigEndianUnicode`).
    Utf16Be,
    /// Windows-1252, the ANSI code page of western Windows: what Excel's "CSV
    /// (Comma delimited)" and Windows PowerShell 5.1's `Set-Content` write.
    /// Read only when the text has no BOM and is not UTF-8.
    Windows1252,
}

impl Encoding {
    /// True when the encoding was a guess the user should hear about.
    pub fn is_guess(self) -> bool {
        self == Encoding::Windows1252
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf8Bom => "utf-8-bom",
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
            Encoding::Windows1252 => "windows-1252",
        })
    }
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A byte sequence that is not valid in the detected encoding.
    #[error(
        "{}: invalid {encoding} ({detail}); re-export with `Export-Csv -Encoding UTF8`",
        at(*offset, *place)
    )]
    Invalid {
        /// Byte offset in the file (BOM included).
        offset: usize,
        /// Its line and column, when they can be told.
        place: Option<Place>,
        /// The encoding being decoded.
        encoding: Encoding,
        /// What is wrong.
        detail: &'static str,
    },
    /// The text holds NUL or other control bytes that no PowerShell export writes.
    #[error(
        "{}: this is not text (byte 0x{byte:02X}); is it the right file? re-export with `Export-Csv -Encoding UTF8`",
        at(*offset, Some(*place))
    )]
    Binary {
        /// Byte offset in the decoded text.
        offset: usize,
        /// Its line and column.
        place: Place,
        /// The control byte.
        byte: u8,
    },
}

/// Where in a text an undecodable byte is: 1-based line (by `\n`, as
/// PowerShell ends them) and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

impl Place {
    /// The place of byte `at` of `text` (the bytes as read, or the text as
    /// decoded); the characters before it on its line are counted as UTF-8,
    /// an undecodable byte as one.
    pub fn of(text: &[u8], at: usize) -> Place {
        let before = &text[..at.min(text.len())];
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        Place { line: memchr::memchr_iter(b'\n', before).count() + 1, column }
    }
}

/// `line L, column C (byte B)`, or `byte B` when the place is not known.
fn at(offset: usize, place: Option<Place>) -> String {
    match place {
        Some(Place { line, column }) => format!("line {line}, column {column} (byte {offset})"),
        None => format!("byte {offset}"),
    }
}

/// Decodes a whole file, returning the text (without BOM) and the encoding found.
/// UTF-8 input is borrowed, not copied: exports run to hundreds of megabytes.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, Encoding), DecodeError> {
    let (text, encoding) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        (Cow::Borrowed(utf8(rest, 3, Encoding::Utf8Bom)?), Encoding::Utf8Bom)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        (Cow::Owned(utf16(rest, 2, u16::from_le_bytes, Encoding::Utf16Le)?), Encoding::Utf16Le)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        (Cow::Owned(utf16(rest, 2, u16::from_be_bytes, Encoding::Utf16Be)?), Encoding::Utf16Be)
    } else {
        match utf8(bytes, 0, Encoding::Utf8) {
            Ok(text) => (Cow::Borrowed(text), Encoding::Utf8),
            Err(e @ DecodeError::Invalid { .. }) => {
                (Cow::Owned(windows_1252(bytes, e)?), Encoding::Windows1252)
            }
            Err(e) => return Err(e),
        }
    };
    check_text(&text)?;
    Ok((text, encoding))
}

/// The start of a file as text, for recognising what it holds: decoded by its
/// byte-order mark like [`decode`], but lossily, since a prefix may end inside a
/// character. Never use it for data.
pub fn decode_prefix(bytes: &[u8]) -> String {
    let units = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
        char::decode_utf16(rest.chunks_exact(2).map(|p| unit([p[0], p[1]])))
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    };
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        String::from_utf8_lossy(rest).into_owned()
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        units(rest, u16::from_le_bytes)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        units(rest, u16::from_be_bytes)
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Text without a BOM that is not UTF-8: an ANSI file (Excel, `Set-Content` in
/// 5.1), read as Windows-1252 with encoding_rs. Unless it also holds valid UTF-8
/// sequences beyond ASCII: then it is UTF-8 damaged by a second encoding, and
/// guessing would garble one half or the other, so `utf8_error` stands.
fn windows_1252(bytes: &[u8], utf8_error: DecodeError) -> Result<String, DecodeError> {
    let lossy = String::from_utf8_lossy(bytes);
    if lossy.chars().any(|c| !c.is_ascii() && c != char::REPLACEMENT_CHARACTER) {
        return Err(match utf8_error {
            DecodeError::Invalid { offset, place, encoding, .. } => DecodeError::Invalid {
                offset,
                place,
                encoding,
                detail: "not a UTF-8 sequence, although the file holds UTF-8 elsewhere: it was saved in two encodings",
            },
            other => other,
        });
    }
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    Ok(text.into_owned())
}

/// `bytes` as text when they are UTF-8: [`std::str::from_utf8`], checked with
/// SIMD (several times quicker on the large exports, which are read more than
/// once); the standard check runs only on failure, for where it failed.
/// A stretch of a file whose encoding the first read of it found (a block
/// read again, a transcript's part), decoded as that read decoded it: UTF-16
/// with the same decoder, which takes nothing but whole, paired code units;
/// Windows-1252 with the same table (a file that gave way to Windows-1252
/// after ASCII reads the same); UTF-8 as it is. `None` when the bytes are not
/// text in that encoding (the file changed).
pub fn stretch(bytes: &[u8], encoding: Encoding) -> Option<Cow<'_, str>> {
    match encoding {
        Encoding::Utf16Le => {
            encoding_rs::UTF_16LE.decode_without_bom_handling_and_without_replacement(bytes)
        }
        Encoding::Utf16Be => {
            encoding_rs::UTF_16BE.decode_without_bom_handling_and_without_replacement(bytes)
        }
        // Every byte is a character in Windows-1252.
        Encoding::Windows1252 => {
            Some(encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0)
        }
        _ => text(bytes).ok().map(Cow::Borrowed),
    }
}

/// UTF-8 text, checked with SIMD.
pub fn text(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

/// How much of the start of a file that is not UTF-8 says whether it is binary.
pub(crate) const HEAD: usize = 4096;

/// Whether a file that is not UTF-8 is binary rather than text in another
/// encoding, by its first [`HEAD`] bytes.
pub(crate) fn looks_binary(head: &[u8]) -> bool {
    control_byte(head).is_some() || mostly_undecodable(head)
}

/// A control byte near the start means a binary file (or UTF-16 without a
/// BOM), which is worth saying instead of "invalid UTF-8".
fn control_byte(head: &[u8]) -> Option<usize> {
    head.iter().position(|&b| b == 0 || (b < 0x20 && !b"\t\r\n\x1b".contains(&b)))
}

/// Mostly undecodable bytes: binary noise rather than one mis-encoded letter.
fn mostly_undecodable(head: &[u8]) -> bool {
    let replaced = String::from_utf8_lossy(head).matches('\u{FFFD}').count();
    replaced >= 8 && replaced * 20 > head.len()
}

fn utf8(bytes: &[u8], base: usize, encoding: Encoding) -> Result<&str, DecodeError> {
    match text(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let offset = base + e.valid_up_to();
            let head = &bytes[..bytes.len().min(HEAD)];
            if let Some(pos) = control_byte(head) {
                let place = Place::of(bytes, pos);
                return Err(DecodeError::Binary { offset: base + pos, place, byte: bytes[pos] });
            }
            let place = Place::of(bytes, e.valid_up_to());
            if mostly_undecodable(head) {
                return Err(DecodeError::Binary { offset, place, byte: bytes[offset - base] });
            }
            let detail = "not a UTF-8 sequence";
            Err(DecodeError::Invalid { offset, place: Some(place), encoding, detail })
        }
    }
}

fn utf16(
    bytes: &[u8],
    base: usize,
    unit: fn([u8; 2]) -> u16,
    encoding: Encoding,
) -> Result<String, DecodeError> {
    if bytes.len() % 2 != 0 {
        return Err(DecodeError::Invalid {
            offset: base + bytes.len() - 1,
            place: None,
            encoding,
            detail: "odd number of bytes; the file is truncated",
        });
    }
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    let mut out = String::with_capacity(bytes.len() / 2);
    let mut offset = base;
    for decoded in char::decode_utf16(units) {
        match decoded {
            Ok(c) => {
                out.push(c);
                offset += c.len_utf16() * 2;
            }
            Err(_) => {
                return Err(DecodeError::Invalid {
                    offset,
                    place: Some(Place::of(out.as_bytes(), out.len())),
                    encoding,
                    detail: "unpaired surrogate",
                });
            }
        }
    }
    Ok(out)
}

/// Reads what `input` gives into `buf`, retrying when a signal interrupts the
/// read; 0 only at the end of the input.
pub(crate) fn read_some(input: &mut (impl io::Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Fills `buf` as far as `input` goes: less than its length only at the end.
pub(crate) fn read_full(input: &mut (impl io::Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match read_some(input, &mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Text in another encoding read as UTF-8, a block at a time, so that a large
/// file is never held whole: UTF-16 after its byte-order mark (Windows
/// PowerShell 5.1's `-Encoding Unicode`, `Out-File`, `>`), or Windows-1252 (see
/// [`DecodingReader::windows_1252`]). Text that is not UTF-16 (an unpaired
/// surrogate, a cut last character), or Windows-1252 that holds UTF-8, is an
/// `InvalidData` error.
pub struct DecodingReader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    /// `raw[start..end]`: bytes read from `inner` and not decoded yet.
    raw: Vec<u8>,
    start: usize,
    end: usize,
    read_all: bool,
    done: bool,
    /// A decoded character that did not fit a caller's tiny buffer.
    spill: [u8; 4],
    spilled: std::ops::Range<usize>,
    /// For Windows-1252: the UTF-8 the raw bytes are searched for.
    utf8: Option<Utf8Search>,
    /// Why the text is not in its encoding, once found: every read after
    /// says it again (the decoder may not be used once it has failed at the
    /// end of the input).
    failed: Option<&'static str>,
}

impl<R: io::Read> DecodingReader<R> {
    /// Reads `inner` as UTF-16 (`big_endian` or little), after `read`: bytes
    /// already taken from `inner` past the byte-order mark.
    pub fn utf16(inner: R, big_endian: bool, read: &[u8]) -> DecodingReader<R> {
        let codec = if big_endian { encoding_rs::UTF_16BE } else { encoding_rs::UTF_16LE };
        DecodingReader::new(inner, codec, read, None)
    }

    /// Reads `inner` as Windows-1252, after `read`: bytes already taken from
    /// it. [`decode`] reads a file as Windows-1252 only when it holds no UTF-8
    /// beyond ASCII anywhere (else it was saved in two encodings); this reader
    /// holds the rest of the file to the same rule, and fails on the first
    /// UTF-8 sequence beyond ASCII in what it reads.
    pub fn windows_1252(inner: R, read: &[u8]) -> DecodingReader<R> {
        let search = Utf8Search::default();
        DecodingReader::new(inner, encoding_rs::WINDOWS_1252, read, Some(search))
    }

    fn new(
        inner: R,
        codec: &'static encoding_rs::Encoding,
        read: &[u8],
        utf8: Option<Utf8Search>,
    ) -> DecodingReader<R> {
        let mut raw = vec![0; (256 << 10).max(read.len())];
        raw[..read.len()].copy_from_slice(read);
        let mut reader = DecodingReader {
            inner,
            decoder: codec.new_decoder_without_bom_handling(),
            raw,
            start: 0,
            end: read.len(),
            read_all: false,
            done: false,
            spill: [0; 4],
            spilled: 0..0,
            utf8,
            failed: None,
        };
        if let Some(search) = &mut reader.utf8 {
            search.scan(&reader.raw[..reader.end], false);
        }
        reader
    }
}

impl<R: io::Read> io::Read for DecodingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if !self.spilled.is_empty() {
            let n = self.spilled.len().min(out.len());
            out[..n].copy_from_slice(&self.spill[self.spilled.start..self.spilled.start + n]);
            self.spilled.start += n;
            return Ok(n);
        }
        let fail = |why: &'static str| Err(io::Error::new(io::ErrorKind::InvalidData, why));
        loop {
            if let Some(why) = self.failed {
                return fail(why);
            }
            if self.done {
                return Ok(0);
            }
            if self.start == self.end && !self.read_all {
                let n = read_some(&mut self.inner, &mut self.raw)?;
                (self.start, self.end, self.read_all) = (0, n, n == 0);
                if let Some(search) = &mut self.utf8 {
                    search.scan(&self.raw[..n], n == 0);
                }
            }
            if self.utf8.as_ref().is_some_and(|s| s.found) {
                self.failed = Some(
                    "not Windows-1252 text: it holds UTF-8 too, so it was saved in two encodings",
                );
                continue;
            }
            // A buffer too small for any character gets one through `spill`.
            let small = out.len() < 4;
            let target: &mut [u8] = if small { &mut self.spill } else { out };
            let (result, used, written, malformed) =
                self.decoder.decode_to_utf8(&self.raw[self.start..self.end], target, self.read_all);
            self.start += used;
            if malformed {
                self.failed = Some(
                    "not UTF-16 text: an unpaired surrogate or a cut last character; export or download the file again",
                );
                continue;
            }
            self.done = self.read_all && result == encoding_rs::CoderResult::InputEmpty;
            if written > 0 {
                if !small {
                    return Ok(written);
                }
                let n = written.min(out.len());
                out[..n].copy_from_slice(&self.spill[..n]);
                self.spilled = n..written;
                return Ok(n);
            }
        }
    }
}

/// Whether bytes read piece by piece hold a UTF-8 sequence beyond ASCII: the
/// rule [`windows_1252`] applies to a whole file (a character of
/// `String::from_utf8_lossy` that is neither ASCII nor a replacement), for a
/// file read in pieces cut anywhere. Whether a sequence is valid depends only
/// on its own bytes (a lead byte never continues another sequence), so each
/// lead byte is tried where it stands; one too near a piece's end to decide is
/// kept with the next piece.
#[derive(Debug, Default)]
pub struct Utf8Search {
    /// The bytes at the end of the pieces so far that start an undecided
    /// sequence (at most three).
    pending: Vec<u8>,
    /// A sequence was found.
    pub found: bool,
}

impl Utf8Search {
    /// Searches the next piece; `last` when no piece follows.
    pub fn scan(&mut self, piece: &[u8], last: bool) {
        if self.found {
            return;
        }
        if !self.pending.is_empty() {
            // The undecided lead bytes, with enough of this piece to decide
            // them (a sequence is at most four bytes).
            let mut joined = std::mem::take(&mut self.pending);
            let starts = joined.len();
            let taken = piece.len().min(3);
            joined.extend_from_slice(&piece[..taken]);
            match search(&joined, starts, last) {
                Search::Found => {
                    self.found = true;
                    return;
                }
                // A piece too short to decide them: they wait for the next,
                // and so do the piece's own bytes (all in `joined`).
                Search::Undecided(at) if taken == piece.len() => {
                    joined.drain(..at);
                    self.pending = joined;
                    return;
                }
                _ => {}
            }
        }
        match search(piece, piece.len(), last) {
            Search::Found => self.found = true,
            Search::Undecided(at) => self.pending = piece[at..].to_vec(),
            Search::None => {}
        }
    }
}

enum Search {
    /// A valid sequence beyond ASCII starts in the range.
    Found,
    /// None starts before this offset, where a lead byte needs bytes the
    /// piece does not have.
    Undecided(usize),
    /// None starts in the range.
    None,
}

/// Looks for a valid UTF-8 sequence beyond ASCII starting in `bytes[..starts]`;
/// at the end of the text (`last`) a cut sequence is simply invalid.
fn search(bytes: &[u8], starts: usize, last: bool) -> Search {
    let mut i = 0;
    while i < starts {
        // Lead bytes are 0xC2..=0xF4; runs without one are skipped whole.
        if bytes[i..starts.min(i + 32)].iter().fold(true, |none, &b| none & (b < 0xC2)) {
            i += 32;
            continue;
        }
        let b = bytes[i];
        let len = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => {
                i += 1;
                continue;
            }
        };
        let seq = &bytes[i..bytes.len().min(i + len)];
        match std::str::from_utf8(seq) {
            Ok(_) => return Search::Found,
            Err(e) if e.error_len().is_none() && !last => return Search::Undecided(i),
            Err(_) => {}
        }
        i += 1;
    }
    Search::None
}

/// Rejects text with control characters no export writes (binary files that happen
/// to decode). Tab, CR, LF and ESC (ANSI colour in PowerShell 7 transcripts) pass.
/// Works on bytes: in UTF-8 every byte of a multi-byte character is >= 0x80.
pub(crate) fn check_text(text: &str) -> Result<(), DecodeError> {
    let bad = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n' | 0x1b)) || b == 0x7f;
    // Whole chunks are checked without a branch per byte (the compiler turns
    // this into vector compares), since every block of a million-row export
    // passes through here; only a chunk with a bad byte is searched for it.
    let bytes = text.as_bytes();
    let mut offset = 0;
    for chunk in bytes.chunks(64) {
        if chunk.iter().fold(false, |any, &b| any | bad(b)) {
            let k = chunk.iter().position(|&b| bad(b)).unwrap_or(0);
            let place = Place::of(bytes, offset + k);
            return Err(DecodeError::Binary { offset: offset + k, place, byte: chunk[k] });
        }
        offset += chunk.len();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_byte_is_found_at_its_offset_in_any_chunk() {
        for at in [0, 1, 63, 64, 65, 127, 200] {
            for byte in [0x00, 0x07, 0x1f, 0x7f] {
                let mut text = "a,b\r\n\t".repeat(60).into_bytes();
                text[at] = byte;
                let text = String::from_utf8(text).unwrap();
                // Lines end at each unit's `\n` (byte 4 of 6).
                let line = (at + 1) / 6 + 1;
                let start = if line == 1 { 0 } else { 6 * (line - 1) - 1 };
                let place = Place { line, column: at - start + 1 };
                assert_eq!(check_text(&text), Err(DecodeError::Binary { offset: at, place, byte }));
            }
        }
        assert_eq!(check_text(&"Zoë\t\u{1b}[0m\r\n".repeat(40)), Ok(()));
    }

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFName\r\n").unwrap(),
            ("Name\r\n".into(), Encoding::Utf8Bom)
        );
        assert_eq!(decode("Zoë".as_bytes()).unwrap(), ("Zoë".into(), Encoding::Utf8));
    }

    #[test]
    fn utf16_reads_as_utf8_through_any_buffer() {
        use std::io::Read;
        let text = "Zo\u{eb} \u{1F600} \"O'Brien\"\r\n".repeat(50);
        for big in [false, true] {
            let units = text.encode_utf16();
            let bytes: Vec<u8> =
                units.flat_map(|u| if big { u.to_be_bytes() } else { u.to_le_bytes() }).collect();
            for (taken, size) in [(0, 1), (3, 2), (7, 3), (100, 5), (bytes.len(), 4096)] {
                let mut r = DecodingReader::utf16(&bytes[taken..], big, &bytes[..taken]);
                let mut out = Vec::new();
                let mut buf = vec![0; size];
                loop {
                    let n = r.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf[..n]);
                }
                assert_eq!(String::from_utf8(out).unwrap(), text, "big {big}, {taken}, {size}");
            }
            // An unpaired surrogate, and a cut last character, are errors.
            let mut bad = bytes.clone();
            bad.extend_from_slice(
                &(if big { 0xD800u16.to_be_bytes() } else { 0xD800u16.to_le_bytes() }),
            );
            let mut sink = Vec::new();
            assert!(DecodingReader::utf16(&bad[..], big, &[]).read_to_end(&mut sink).is_err());
            let cut = &bytes[..bytes.len() - 1];
            assert!(DecodingReader::utf16(cut, big, &[]).read_to_end(&mut sink).is_err());
            // A reader read again after its error says it again: the decoder,
            // which has failed at the end of its input, is not used again.
            for input in [&bad[..], cut] {
                let mut r = DecodingReader::utf16(input, big, &[]);
                assert!(r.read_to_end(&mut sink).is_err());
                for _ in 0..3 {
                    let again = r.read(&mut [0; 64]).unwrap_err();
                    assert_eq!(again.kind(), io::ErrorKind::InvalidData);
                }
            }
        }
    }

    /// The whole-file rule: `String::from_utf8_lossy` finds a character
    /// that is neither ASCII nor a replacement.
    fn holds_utf8_beyond_ascii(bytes: &[u8]) -> bool {
        String::from_utf8_lossy(bytes).chars().any(|c| !c.is_ascii() && c != '\u{FFFD}')
    }

    proptest::proptest! {
        /// Bytes cut into pieces anywhere (the reads of a file) are searched
        /// for UTF-8 as the whole-file rule searches them at once.
        #[test]
        fn utf8_is_found_in_pieces_as_in_the_whole(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![
                    b'a', 0x80, 0x9F, 0xA9, 0xBF, 0xC0, 0xC2, 0xC3, 0xDF, 0xE0, 0xE2, 0xED,
                    0xF0, 0xF4, 0xF5, 0xFF,
                ]),
                0..24,
            ),
            cuts in proptest::collection::vec(0usize..24, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut search = Utf8Search::default();
            let mut from = 0;
            for cut in cuts {
                search.scan(&bytes[from..cut], false);
                from = cut;
            }
            search.scan(&bytes[from..], true);
            proptest::prop_assert_eq!(search.found, holds_utf8_beyond_ascii(&bytes), "{:x?}", bytes);
        }
    }

    #[test]
    fn utf8_is_found_across_a_cut() {
        // "ë" and "😀" cut between their bytes, in pieces of one byte and of none.
        for text in ["Zo\u{eb}", "x\u{1F600}"] {
            for cut in 0..=text.len() {
                let mut search = Utf8Search::default();
                let (a, b) = text.as_bytes().split_at(cut);
                for piece in [a, &[], b] {
                    search.scan(piece, false);
                }
                search.scan(&[], true);
                assert!(search.found, "{text:?} cut at {cut}");
            }
        }
        // A lead byte cut from its continuation by the end of the file: none.
        let mut search = Utf8Search::default();
        search.scan(b"Zo\xC3", false);
        search.scan(b"", true);
        assert!(!search.found);
    }

    #[test]
    fn utf16_both_orders() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("Zoë".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode(&le).unwrap(), ("Zoë".into(), Encoding::Utf16Le));
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("Ab".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode(&be).unwrap(), ("Ab".into(), Encoding::Utf16Be));
    }

    #[test]
    fn truncated_utf16_names_the_offset() {
        let err = decode(&[0xFF, 0xFE, b'A', 0, b'B']).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Invalid {
                offset: 4,
                place: None,
                encoding: Encoding::Utf16Le,
                detail: "odd number of bytes; the file is truncated"
            }
        );
    }

    #[test]
    fn windows_1252_is_read_when_the_text_is_not_utf8() {
        // "Zoë Ångström" and a curly quote in Windows-1252, as Excel saves them.
        let (text, encoding) =
            decode(b"Name;PopEnabled\r\nZo\xEB \xC5ngstr\xF6m \x93x\x94;TRUE\r\n").unwrap();
        assert_eq!(encoding, Encoding::Windows1252);
        assert_eq!(text, "Name;PopEnabled\r\nZoë Ångström \u{201C}x\u{201D};TRUE\r\n");
        assert!(encoding.is_guess());
    }

    #[test]
    fn utf8_damaged_by_a_second_encoding_stays_an_error() {
        let err = decode(
            "Zoë\r\nZo\u{eb}"
                .as_bytes()
                .iter()
                .copied()
                .chain(*b"\r\nZo\xEB\r\n")
                .collect::<Vec<_>>()
                .as_slice(),
        )
        .unwrap_err();
        assert!(matches!(err, DecodeError::Invalid { offset: 14, .. }), "{err:?}");
        assert!(err.to_string().contains("two encodings"), "{err}");
        // The third line's third character ("Zo" are the first two).
        assert!(err.to_string().starts_with("line 3, column 3 (byte 14): "), "{err}");
        // With a UTF-8 BOM the file says what it is: no guess.
        assert!(matches!(decode(b"\xEF\xBB\xBFZo\xEB").unwrap_err(), DecodeError::Invalid { .. }));
    }

    #[test]
    fn a_bad_byte_is_placed_by_line_and_character() {
        // Columns count characters: "Ñandú" is five, in seven bytes.
        let text = "Name,Pop\r\n\"Ñandú\",True\r\n".as_bytes();
        let mut bytes = text.to_vec();
        bytes.extend_from_slice(b"\"Zo\xC3\",True\r\n");
        let err = decode(&bytes).unwrap_err();
        let place = Some(Place { line: 3, column: 4 });
        assert!(matches!(err, DecodeError::Invalid { place: p, .. } if p == place), "{err:?}");
        // The same in UTF-16: an unpaired surrogate after "Ñandú" on line 2.
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "Name\r\nÑandú".encode_utf16().chain([0xD800, u16::from(b'x')]) {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let err = decode(&utf16).unwrap_err();
        let place = Some(Place { line: 2, column: 6 });
        assert!(matches!(err, DecodeError::Invalid { place: p, .. } if p == place), "{err:?}");
        assert!(err.to_string().starts_with("line 2, column 6 (byte 24): "), "{err}");
        // A control byte in the decoded text of a later line.
        let err = decode("a,b\r\n\"Ñ\u{1}\"\r\n".as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("line 2, column 3 (byte 8): "), "{err}");
    }

    #[test]
    fn binary_is_refused() {
        assert!(matches!(
            decode(b"PK\x03\x04\x14\x00").unwrap_err(),
            DecodeError::Binary { offset: 2, .. }
        ));
        assert!(matches!(
            decode(b"\x89PNG\r\n\x1a\n\xff").unwrap_err(),
            DecodeError::Binary { .. }
        ));
    }
}
