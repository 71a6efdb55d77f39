//! `Format-List` text read from its file in two passes, so that neither the
//! text nor its records are held ([`ListFile`]).
//!
//! The first pass finds the [`Layout`] (the output width, the labels) and
//! checks that the whole-file reader would read the file as plain
//! Format-List: text [`read_lines`] decodes as the whole-file reader does,
//! nothing [`paste::clean`] or the transcript reader would set aside, and
//! every non-blank line a Format-List line and none a rule of dashes, so that
//! the detector can only say Format-List ([`detect::all_list`]). The second
//! pass reads the records with the whole-file reader's own [`Reader`] and
//! hands each to the mapper. Anything else (another encoding, a damaged or
//! pasted file, a line of another form) is left to the whole-file reader,
//! which gives the exact warning or error.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::detect::{self, Detection};
use super::lines::{BLOCK, read_lines, split};
use super::list::{Flow, Layout, Reader};
use super::stream::Counted;
use super::{Cells, Records, Rejection, Warning, paste, table};
use crate::decode::Encoding;
use crate::progress::Progress;

/// A Format-List file surveyed by the first pass, read by [`Records::each`].
pub struct ListFile<'p> {
    file: Arc<str>,
    path: PathBuf,
    layout: Layout,
    detection: Detection,
    encoding: Encoding,
    /// About how many records.
    records: usize,
    block: usize,
    progress: &'p dyn Progress,
    /// What the second pass read, once it has.
    read: Option<io::Result<Option<Read>>>,
}

/// What the second pass read besides the records it handed on.
#[derive(Debug)]
pub struct Read {
    /// How many records it handed on.
    pub records: usize,
    /// The records cut by the end of the file.
    pub rejected: Vec<Rejection>,
    /// The collections cut by `$FormatEnumerationLimit`.
    pub warnings: Vec<Warning>,
}

/// The first pass, a line at a time.
#[derive(Default)]
struct Survey {
    layout: Layout,
    /// A non-blank line has been seen.
    data: bool,
    /// The line before is Format-List output (and not blank).
    after_list: bool,
    /// The first and last non-blank lines, and how many there are.
    first: usize,
    last: usize,
    lines: usize,
    records: usize,
}

impl Survey {
    /// Takes a block of lines starting at line `first`; false when the file
    /// is to be read whole.
    fn block(&mut self, text: &str, first: usize) -> bool {
        // A block starts on a line, so a block-wise check finds what a
        // whole-text one does; a common indentation shows on the first line
        // that holds anything.
        let pasted = match self.data {
            false => paste::may_need_cleaning(text),
            true => paste::may_need_cleaning_within(text),
        };
        if pasted {
            return false;
        }
        for (k, (raw, _)) in split(text).enumerate() {
            let Some(cleaned) = self.layout.add(raw) else { return false };
            if cleaned.trim().is_empty() {
                self.after_list = false;
                continue;
            }
            if !detect::is_in_list(&cleaned, self.after_list) || table::is_rule(&cleaned) {
                return false;
            }
            self.records += usize::from(!self.after_list);
            self.after_list = true;
            self.data = true;
            if self.lines == 0 {
                self.first = first + k;
            }
            self.last = first + k;
            self.lines += 1;
        }
        true
    }
}

impl<'p> ListFile<'p> {
    /// Surveys the file at `path` (shown as `file`); `None` when it is to be
    /// read whole (see the module documentation). `progress` counts the bytes
    /// of the second pass.
    pub fn open(
        file: &Arc<str>,
        path: &Path,
        progress: &'p dyn Progress,
    ) -> io::Result<Option<ListFile<'p>>> {
        ListFile::open_sized(file, path, progress, BLOCK)
    }

    fn open_sized(
        file: &Arc<str>,
        path: &Path,
        progress: &'p dyn Progress,
        block: usize,
    ) -> io::Result<Option<ListFile<'p>>> {
        let mut survey = Survey::default();
        let input = std::fs::File::open(path)?;
        let Some(encoding) = read_lines(input, block, &mut |text, line| survey.block(text, line))?
        else {
            return Ok(None);
        };
        // (An empty file is an error the whole-file reader gives.)
        if survey.lines == 0 {
            return Ok(None);
        }
        Ok(Some(ListFile {
            file: file.clone(),
            path: path.to_owned(),
            detection: detect::all_list(survey.first, survey.last, survey.lines),
            layout: survey.layout,
            encoding,
            records: survey.records,
            block,
            progress,
            read: None,
        }))
    }

    /// What the detector says of the file.
    pub fn detection(&self) -> &Detection {
        &self.detection
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
}

impl Records for ListFile<'_> {
    fn columns(&self) -> &[String] {
        self.layout.columns()
    }

    fn size_hint(&self) -> usize {
        self.records
    }

    fn each(&mut self, f: &mut dyn FnMut(usize, Cells<'_>)) {
        let mut reader = Reader::new(&self.file, &self.layout);
        let (mut records, mut ended, mut failed) = (0, true, false);
        let mut emit = |r: super::Record| {
            records += 1;
            f(r.line, Cells::Owned(&r.values));
        };
        let input = match std::fs::File::open(&self.path) {
            Ok(inner) => Counted { inner, progress: self.progress },
            Err(e) => {
                self.read = Some(Err(e));
                return;
            }
        };
        let read = read_lines(input, self.block, &mut |text, first| {
            ended = text.ends_with('\n');
            for (k, (raw, unended_last)) in split(text).enumerate() {
                match reader.line(first + k, raw, unended_last, &mut emit) {
                    Ok(Flow::Go) => {}
                    Ok(Flow::Stop) => break,
                    Err(_) => {
                        failed = true;
                        return false;
                    }
                }
            }
            true
        });
        let (rejected, warnings) = reader.finish(ended, &mut emit);
        self.read = Some(match read {
            Ok(Some(_)) if !failed => Ok(Some(Read { records, rejected, warnings })),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Parsed, list};
    use crate::progress::Silent;

    /// What the stream reads of `bytes`, as the whole-file reader's [`Parsed`]
    /// holds it, with the detection; `None` when it leaves the file.
    fn streamed(bytes: &[u8], block: usize) -> Option<(Parsed, Detection)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CasMailbox.txt");
        std::fs::write(&path, bytes).unwrap();
        let file: Arc<str> = Arc::from("CasMailbox.txt");
        let mut list = ListFile::open_sized(&file, &path, &Silent, block).unwrap()?;
        let mut parsed = Parsed::default();
        parsed.table.columns = list.columns().to_vec();
        list.each(&mut |line, cells| {
            let Cells::Owned(values) = cells else { panic!("a list record is owned") };
            parsed.table.rows.push(super::super::Record { line, values: values.to_vec() });
        });
        let detection = list.detection().clone();
        let read = list.finish().unwrap()?;
        assert_eq!(read.records, parsed.table.rows.len());
        (parsed.rejected, parsed.warnings) = (read.rejected, read.warnings);
        Some((parsed, detection))
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
            ("Windows-1252", b"Name : caf\xE9\nPopEnabled : True\n".to_vec()),
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
        let mut list = ListFile::open(&file, &path, &Silent).unwrap().unwrap();
        // A label the first pass did not see.
        std::fs::write(&path, "Name : a\nImapEnabled : True\n").unwrap();
        let mut records = 0;
        list.each(&mut |_, _| records += 1);
        assert!(list.finish().unwrap().is_none());
    }
}
