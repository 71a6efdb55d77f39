//! A text file read a block of whole lines at a time, decoded as
//! [`crate::decode::decode`] decodes a whole file: UTF-8 (with or without its
//! byte-order mark), UTF-16 (by its byte-order mark), or Windows-1252 when it
//! has no mark, is not UTF-8 and holds no UTF-8 beyond ASCII anywhere; held
//! to the same control-byte check. Anything else (a file saved in two
//! encodings, one that looks binary, a control byte, damaged UTF-16) is left
//! to the whole-file reader, which gives the exact warning or error with its
//! line and column.

use std::io;

use crate::decode::{self, DecodingReader, Encoding};

/// How many bytes are read at once.
pub const BLOCK: usize = 1 << 20;

/// Calls `each(text, line, at, encoding)` with the file's text in blocks of
/// whole lines, in order, `line` being the number of the block's first line,
/// `at` the offset in the file of its first byte (bytes `at` to the next
/// block's are exactly its text, in `encoding`) and `encoding` the one it was
/// read in (a file that is not UTF-8 gives way to Windows-1252 after blocks
/// of ASCII). Every block but the last ends with `\n`; the last ends where
/// the file does. Returns the encoding, or `None` when the text is not read
/// this way (see the module documentation) or `each` returned false.
pub fn read_lines<'r>(
    input: impl io::Read + 'r,
    block: usize,
    each: &mut Each<'_>,
) -> io::Result<Option<Encoding>> {
    read_from(input, block, None, each)
}

/// What [`read_lines`] calls with each block.
pub type Each<'e> = dyn FnMut(&str, usize, u64, Encoding) -> bool + 'e;

/// [`read_lines`] for a stretch of a file that starts on a line (a
/// transcript's part): `input` reads its bytes, which start at offset `at`
/// in the file, on line `line`, in the `encoding` the whole file was found
/// to be in. `None` when they are not text in it.
pub fn read_lines_at<'r>(
    input: impl io::Read + 'r,
    block: usize,
    (at, line, encoding): (u64, usize, Encoding),
    each: &mut Each<'_>,
) -> io::Result<Option<Encoding>> {
    read_from(input, block, Some((at, line, encoding)), each)
}

fn read_from<'r>(
    mut input: impl io::Read + 'r,
    block: usize,
    within: Option<(u64, usize, Encoding)>,
    each: &mut Each<'_>,
) -> io::Result<Option<Encoding>> {
    let block = block.max(4);
    let mut head = vec![0; block];
    let n = decode::read_full(&mut input, &mut head)?;
    head.truncate(n);
    let mut eof = n < block;
    let (mut reader, mut encoding, mut buf): (Box<dyn io::Read + 'r>, _, _) =
        match (within, head.as_slice()) {
            // Within a file, in its encoding, without a byte-order mark.
            (Some((_, _, encoding @ (Encoding::Utf16Le | Encoding::Utf16Be))), _) => {
                eof = false;
                let big = encoding == Encoding::Utf16Be;
                (Box::new(DecodingReader::utf16(input, big, &head)), encoding, Vec::new())
            }
            (Some((_, _, Encoding::Windows1252)), _) => {
                eof = false;
                let reader = DecodingReader::windows_1252(input, &head);
                (Box::new(reader), Encoding::Windows1252, Vec::new())
            }
            (Some((_, _, encoding)), _) => (Box::new(input), encoding, head),
            (None, [0xFF, 0xFE, rest @ ..]) => {
                eof = false;
                (Box::new(DecodingReader::utf16(input, false, rest)), Encoding::Utf16Le, Vec::new())
            }
            (None, [0xFE, 0xFF, rest @ ..]) => {
                eof = false;
                (Box::new(DecodingReader::utf16(input, true, rest)), Encoding::Utf16Be, Vec::new())
            }
            (None, [0xEF, 0xBB, 0xBF, ..]) => {
                (Box::new(input), Encoding::Utf8Bom, head[3..].to_vec())
            }
            (None, _) => (Box::new(input), Encoding::Utf8, head),
        };
    // Without a mark: the file's first bytes, which say whether a file that is
    // not UTF-8 is binary, and whether the text given so far is all ASCII (a
    // file that is not UTF-8 is read as Windows-1252 only when it holds no
    // UTF-8 beyond ASCII).
    let mut first = buf[..buf.len().min(decode::HEAD)].to_vec();
    // (Within a file, its encoding is known.)
    let mut ascii = within.is_none();
    let mut line = within.map_or(1, |(_, line, _)| line);
    // Where the next block starts in the file: past the byte-order mark.
    let mut at = match encoding {
        _ if within.is_some() => within.map_or(0, |(at, _, _)| at),
        Encoding::Utf8Bom => 3,
        Encoding::Utf16Le | Encoding::Utf16Be => 2,
        _ => 0,
    };
    loop {
        if !eof {
            let len = buf.len();
            buf.resize(len + block, 0);
            let got = match decode::read_full(&mut reader, &mut buf[len..]) {
                Ok(got) => got,
                // Not UTF-16 after all, or UTF-8 beyond ASCII in a file read as
                // Windows-1252: the whole-file reader says where.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(None),
                Err(e) => return Err(e),
            };
            buf.truncate(len + got);
            eof = got < block;
            if encoding == Encoding::Utf8 && first.len() < decode::HEAD {
                let more = got.min(decode::HEAD - first.len());
                first.extend_from_slice(&buf[len..len + more]);
            }
        }
        let end = match memchr::memrchr(b'\n', &buf) {
            _ if eof => buf.len(),
            Some(k) => k + 1,
            // A line longer than a block: read on.
            None => continue,
        };
        if end > 0 {
            // Cut after a `\n`, a block holds whole characters.
            let text = match decode::text(&buf[..end]) {
                Ok(text) => text,
                Err(_) if encoding == Encoding::Utf8 && ascii => {
                    // Windows-1252 from here on, as the whole-file reader
                    // reads it (the text before is ASCII, which reads the
                    // same), unless the file looks binary.
                    while first.len() < decode::HEAD && !eof {
                        let mut more = vec![0; decode::HEAD - first.len()];
                        let got = decode::read_some(&mut reader, &mut more)?;
                        first.extend_from_slice(&more[..got]);
                        buf.extend_from_slice(&more[..got]);
                        eof = got == 0;
                    }
                    if decode::looks_binary(&first) {
                        return Ok(None);
                    }
                    reader = Box::new(DecodingReader::windows_1252(reader, &buf));
                    (encoding, eof) = (Encoding::Windows1252, false);
                    buf.clear();
                    continue;
                }
                Err(_) => return Ok(None),
            };
            if decode::check_text(text).is_err() || !each(text, line, at, encoding) {
                return Ok(None);
            }
            at += encoded_len(text, encoding);
            ascii = ascii && text.is_ascii();
            line += memchr::memchr_iter(b'\n', text.as_bytes()).count();
            buf.drain(..end);
        }
        if eof {
            return Ok(Some(encoding));
        }
    }
}

/// How many bytes `text` takes in the file in `encoding` (the text read as
/// UTF-8 before a file turned out to be Windows-1252 is ASCII, a byte a
/// character in both).
pub fn encoded_len(text: &str, encoding: Encoding) -> u64 {
    let len = match encoding {
        Encoding::Utf16Le | Encoding::Utf16Be => 2 * text.encode_utf16().count(),
        Encoding::Windows1252 => text.chars().count(),
        _ => text.len(),
    };
    len as u64
}

/// The lines of a block from [`read_lines`], each without its `\n`, with
/// whether it is the file's last line and no line break ends it.
pub fn split(text: &str) -> impl Iterator<Item = (&str, bool)> {
    let ended = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let ends = memchr::memchr_iter(b'\n', body.as_bytes()).chain([body.len()]);
    let mut start = 0;
    ends.map(move |end| {
        let line = &body[start..end];
        start = end + 1;
        (line, !ended && end == body.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocks `read_lines` gives of `bytes`, joined, and the encoding;
    /// each block is checked to be the text of the bytes from its offset to
    /// the next block's.
    fn read(bytes: &[u8], block: usize) -> Option<(String, Vec<usize>, Encoding)> {
        let (mut text, mut firsts, mut blocks) = (String::new(), Vec::new(), Vec::new());
        let encoding = read_lines(bytes, block, &mut |t, line, at, _| {
            assert_eq!(line, 1 + text.matches('\n').count(), "{t:?}");
            assert!(t.ends_with('\n') || !t.is_empty(), "{t:?}");
            text.push_str(t);
            firsts.push(line);
            blocks.push((t.to_owned(), at as usize));
            true
        })
        .unwrap()?;
        let ends = blocks.iter().skip(1).map(|(_, at)| *at).chain([bytes.len()]);
        for ((t, at), end) in blocks.iter().zip(ends) {
            let raw = &bytes[*at..end];
            let got = match encoding {
                Encoding::Utf16Le => encoding_rs::UTF_16LE.decode_without_bom_handling(raw).0,
                Encoding::Utf16Be => encoding_rs::UTF_16BE.decode_without_bom_handling(raw).0,
                Encoding::Windows1252 => {
                    encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0
                }
                _ => std::str::from_utf8(raw).unwrap().into(),
            };
            assert_eq!(&got, t, "the block at {at}");
            assert_eq!(encoded_len(t, encoding) as usize, end - at);
        }
        Some((text, firsts, encoding))
    }

    #[test]
    fn blocks_hold_whole_lines_of_the_text_decode_reads() {
        let text = "Name : Åsa\r\nPopEnabled : True\r\n\r\nName : 李\nDistinguishedName : CN=a,\n    DC=b\nlast";
        let mut utf16le = vec![0xFF, 0xFE];
        utf16le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut utf16be = vec![0xFE, 0xFF];
        utf16be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend(text.as_bytes());
        for bytes in [text.as_bytes().to_vec(), bom, utf16le, utf16be] {
            let (whole, encoding) = decode::decode(&bytes).unwrap();
            for block in [4, 5, 7, 16, 64, BLOCK] {
                let (read, firsts, got) = read(&bytes, block).unwrap();
                assert_eq!((read.as_str(), got), (&*whole, encoding), "block {block}");
                assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
            }
        }
    }

    #[test]
    fn windows_1252_is_read_as_the_whole_file_reader_reads_it() {
        // ASCII for a few blocks, then Windows-1252 from a later line on; and
        // a file that is not UTF-8 from its first line.
        let mut late = "Name : Alex\r\nPopEnabled : True\r\n\r\n".repeat(300).into_bytes();
        late.extend(b"Name : Jos\xE9 M\xFCller \x80\r\nPopEnabled : False\r\n\r\nName : z\r\n");
        let early = b"Name : caf\xE9\nDisplayName : \xC5sa\n".to_vec();
        for bytes in [late, early] {
            let (whole, encoding) = decode::decode(&bytes).unwrap();
            assert_eq!(encoding, Encoding::Windows1252);
            for block in [4, 5, 7, 64, 4096, BLOCK] {
                let (read, _, got) = read(&bytes, block).unwrap();
                assert_eq!((read.as_str(), got), (&*whole, encoding), "block {block}");
            }
        }
    }

    #[test]
    fn what_the_whole_file_reader_must_judge_is_left_to_it() {
        let ascii = "Name : Alex\n".repeat(1000);
        let cases: [Vec<u8>; 7] = [
            b"Name : a\x07b\n".to_vec(),                  // a control byte
            b"\xFF\xFEN\x00a\x00\x00\xD8\n\x00".to_vec(), // an unpaired surrogate
            b"\xEF\xBB\xBFName : \xC3\n".to_vec(),        // a BOM, then not UTF-8
            // Saved in two encodings: UTF-8 beyond ASCII before or after the
            // byte that is not UTF-8, in the same block or far apart.
            b"Name : \xC3\xA9\nName : \xE9\n".to_vec(),
            b"Name : \xE9\nName : \xC3\xA9\n".to_vec(),
            [b"Name : \xE9\n", ascii.as_bytes(), "Name : é\n".as_bytes()].concat(),
            // Not UTF-8, and mostly undecodable at its start: binary.
            [b"Name : ", &[0xFE; 40][..], b"\nName : Alex\n"].concat(),
        ];
        for (k, bytes) in cases.iter().enumerate() {
            assert!(decode::decode(bytes).is_err(), "case {k}");
            for block in [4, 64, BLOCK] {
                assert!(read(bytes, block).is_none(), "case {k}, block {block}");
            }
        }
    }

    #[test]
    fn each_line_is_split_once_and_only_the_unended_last_is_marked() {
        let lines: Vec<_> = split("a\r\n\nb\n").collect();
        assert_eq!(lines, [("a\r", false), ("", false), ("b", false)]);
        let lines: Vec<_> = split("a\nb").collect();
        assert_eq!(lines, [("a", false), ("b", true)]);
        assert_eq!(split("\n").collect::<Vec<_>>(), [("", false)]);
    }
}
