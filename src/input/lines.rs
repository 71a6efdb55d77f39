//! A text file read a block of whole lines at a time, decoded as
//! [`crate::decode::decode`] decodes a whole file when it is UTF-8 (with or
//! without its byte-order mark) or UTF-16 (by its byte-order mark), and held
//! to the same control-byte check. Anything else (Windows-1252, a control
//! byte, damaged UTF-16) is left to the whole-file reader, which gives the
//! exact warning or error with its line and column.

use std::io;

use crate::decode::{self, DecodingReader, Encoding};

/// How many bytes are read at once.
pub const BLOCK: usize = 1 << 20;

/// Calls `each(text, line)` with the file's text in blocks of whole lines, in
/// order, `line` being the number of the block's first line. Every block but
/// the last ends with `\n`; the last ends where the file does. Returns the
/// encoding, or `None` when the text is not read this way (see the module
/// documentation) or `each` returned false.
pub fn read_lines<'r>(
    mut input: impl io::Read + 'r,
    block: usize,
    each: &mut dyn FnMut(&str, usize) -> bool,
) -> io::Result<Option<Encoding>> {
    let block = block.max(4);
    let mut head = vec![0; block];
    let n = decode::read_full(&mut input, &mut head)?;
    head.truncate(n);
    let mut eof = n < block;
    let (mut reader, encoding, mut buf): (Box<dyn io::Read + 'r>, _, _) = match head.as_slice() {
        [0xFF, 0xFE, rest @ ..] => {
            eof = false;
            (Box::new(DecodingReader::utf16(input, false, rest)), Encoding::Utf16Le, Vec::new())
        }
        [0xFE, 0xFF, rest @ ..] => {
            eof = false;
            (Box::new(DecodingReader::utf16(input, true, rest)), Encoding::Utf16Be, Vec::new())
        }
        [0xEF, 0xBB, 0xBF, ..] => (Box::new(input), Encoding::Utf8Bom, head[3..].to_vec()),
        _ => (Box::new(input), Encoding::Utf8, head),
    };
    let mut line = 1;
    loop {
        if !eof {
            let len = buf.len();
            buf.resize(len + block, 0);
            let got = match decode::read_full(&mut reader, &mut buf[len..]) {
                Ok(got) => got,
                // Not UTF-16 after all: the whole-file reader says where.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(None),
                Err(e) => return Err(e),
            };
            buf.truncate(len + got);
            eof = got < block;
        }
        let end = match memchr::memrchr(b'\n', &buf) {
            _ if eof => buf.len(),
            Some(k) => k + 1,
            // A line longer than a block: read on.
            None => continue,
        };
        if end > 0 {
            // Cut after a `\n`, a block holds whole characters.
            let Ok(text) = decode::text(&buf[..end]) else { return Ok(None) };
            if decode::check_text(text).is_err() || !each(text, line) {
                return Ok(None);
            }
            line += memchr::memchr_iter(b'\n', text.as_bytes()).count();
            buf.drain(..end);
        }
        if eof {
            return Ok(Some(encoding));
        }
    }
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

    /// The blocks `read_lines` gives of `bytes`, joined, and the encoding.
    fn read(bytes: &[u8], block: usize) -> Option<(String, Vec<usize>, Encoding)> {
        let (mut text, mut firsts) = (String::new(), Vec::new());
        let encoding = read_lines(bytes, block, &mut |t, line| {
            assert_eq!(line, 1 + text.matches('\n').count(), "{t:?}");
            assert!(t.ends_with('\n') || !t.is_empty(), "{t:?}");
            text.push_str(t);
            firsts.push(line);
            true
        })
        .unwrap()?;
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
    fn what_the_whole_file_reader_must_judge_is_left_to_it() {
        let cases: [&[u8]; 4] = [
            b"Name : caf\xE9\n",                 // Windows-1252
            b"Name : a\x07b\n",                  // a control byte
            b"\xFF\xFEN\x00a\x00\x00\xD8\n\x00", // an unpaired surrogate
            b"\xEF\xBB\xBFName : \xC3\n",        // a BOM, then not UTF-8
        ];
        for bytes in cases {
            assert!(read(bytes, 4).is_none(), "{bytes:?}");
            assert!(read(bytes, BLOCK).is_none(), "{bytes:?}");
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
