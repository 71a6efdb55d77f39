//! `Format-List` console text, as PowerShell's `ListWriter` prints it.
//!
//! ```text
//!                                      <- blank lines between objects
//! Name                             : Alex Wilber
//! DistinguishedName                : CN=Alex Wilber,OU=contoso.onmicrosoft.com,OU=Microsoft Exchange Hosted Organizati
//!                                    ons,DC=EURPR05A001,DC=PROD,DC=OUTLOOK,DC=COM
//! EmailAddresses                   : {SMTP:alex@contoso.com, smtp:alex@contoso.onmicrosoft.com}
//! AdminDisplayName                 :
//! ```
//!
//! Labels are padded to the longest label of the object, then ` : `. Long values
//! wrap onto continuation lines indented to the value column. PowerShell breaks at
//! a space when it can (dropping the space) and cuts a word longer than the line
//! mid-word, so a piece that ends before the full output width lost a space at
//! the break and one that fills the width did not; the width is the longest line
//! in the file. A `$null` or
//! empty value leaves `Label :` alone. PowerShell 7.2+ may colour labels with ANSI
//! escapes when output is redirected from an outer shell; those are stripped.
//! Collections cut by `$FormatEnumerationLimit` (`{a, b, c, d...}` or `…}`) are
//! data loss and produce a warning naming the line and property.
//!
//! The text is read in two passes: the first finds the [`Layout`] (the width,
//! and the labels, which are the columns), the second reads the records a
//! line at a time ([`Reader`]). [`parse`] makes both passes over a text in
//! memory; [`super::list_stream`] makes them over a file, so that a million
//! objects are never held, with the same reader.

use std::borrow::Cow;
use std::sync::Arc;

use nom::bytes::complete::{tag, take_while};
use nom::sequence::preceded;
use nom::{IResult, Parser};
use rustc_hash::FxHashMap;

use super::value::is_truncated_collection;
use super::{
    HeldBack, Parsed, Record, Rejection, Source, SyntaxError, Table, Warning, cut_rejection,
};

/// One line of Format-List text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    /// `Label   : value` (value possibly empty).
    Property { label: &'a str, value: &'a str },
    /// `            rest of a wrapped value`
    Continuation(&'a str),
    /// Whitespace only: separates objects.
    Blank,
}

/// What one line of Format-List text is; `None` when it is none of them.
///
/// - white space only: [`Line::Blank`];
/// - a label (letters, digits, `_`, `.`, `-`) at the line's start, spaces or
///   tabs, a colon, then nothing or a space and the value:
///   [`Line::Property`]; a label followed by anything else is no line of
///   Format-List text;
/// - spaces or tabs, then text: [`Line::Continuation`], a wrapped value's rest.
///
/// Every line of a Format-List file is read here twice (the survey, the
/// read), so it is one pass over the line's start with no parser combinators:
/// with them it was a quarter of reading a million mailboxes as Format-List.
/// A test holds it to the rules written as combinators on any text.
fn line(i: &str) -> Option<Line<'_>> {
    if i.chars().all(char::is_whitespace) {
        return Some(Line::Blank);
    }
    // The label, a byte at a time while it is ASCII (a character beyond it is
    // part of a label when it is a letter or digit of any script).
    let b = i.as_bytes();
    let mut label = 0;
    while let Some(&c) = b.get(label) {
        if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-') {
            label += 1;
        } else if let Some(c) = i[label..].chars().next().filter(|c| c.is_alphanumeric()) {
            label += c.len_utf8();
        } else {
            break;
        }
    }
    if label > 0 {
        let gap = b[label..].iter().take_while(|&&c| c == b' ' || c == b'\t').count();
        let rest = i[label + gap..].strip_prefix(':')?;
        let value = match rest.strip_prefix(' ') {
            Some(value) => value.trim_end(),
            None if rest.is_empty() => "",
            None => return None,
        };
        return Some(Line::Property { label: &i[..label], value });
    }
    let text = i.trim_start_matches([' ', '\t']);
    (text.len() < i.len() && !text.trim().is_empty()).then(|| Line::Continuation(text.trim_end()))
}

/// Removes ANSI SGR sequences (`ESC [ ... m`) that PowerShell 7.2+ can leave in
/// redirected output.
pub(crate) fn strip_ansi(line: &str) -> std::borrow::Cow<'_, str> {
    if memchr::memchr(0x1b, line.as_bytes()).is_none() {
        return line.into();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('\x1b') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let seq: IResult<&str, &str> =
            preceded(tag("["), take_while(|c: char| c.is_ascii_digit() || c == ';')).parse(after);
        rest = match seq {
            Ok((tail, _)) => tail.strip_prefix(|c: char| c.is_ascii_alphabetic()).unwrap_or(tail),
            Err(_) => after,
        };
    }
    out.push_str(rest);
    out.into()
}

/// How many characters a line has (ASCII, nearly always: its length).
fn char_count(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.chars().count() }
}

/// What a first pass over Format-List text finds, for the reader to make each
/// record as it comes: the output width (the longest line), and the labels in
/// the order they first appear (the columns).
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    width: usize,
    columns: Vec<String>,
    index: FxHashMap<String, usize>,
}

impl Layout {
    /// Takes one line of the text (without its `\n`). Returns it as the
    /// reader reads it (colour and `\r` removed); `None` when it is not a line
    /// of Format-List text (the reader will say so).
    pub(crate) fn add<'r>(&mut self, raw: &'r str) -> Option<Cow<'r, str>> {
        let cleaned = strip_ansi(raw.trim_end_matches('\r'));
        // The width counts the line as a console shows it (colour removed,
        // then spaces: never the other way round).
        let shown = match cleaned {
            Cow::Borrowed(_) => Cow::Borrowed(raw.trim_end()),
            Cow::Owned(_) => strip_ansi(raw.trim_end()),
        };
        self.width = self.width.max(char_count(&shown));
        match line(&cleaned) {
            Some(Line::Property { label, .. }) => {
                if !self.index.contains_key(label) {
                    self.index.insert(label.to_owned(), self.columns.len());
                    self.columns.push(label.to_owned());
                }
            }
            Some(_) => {}
            None => return None,
        }
        Some(cleaned)
    }

    /// The labels, in the order they first appear.
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }
}

/// Reads Format-List text a line at a time into records, with the [`Layout`]
/// a first pass found. Each record is handed on once the next one is
/// complete or the text has ended, for the end may show it cut.
pub(crate) struct Reader<'a> {
    file: &'a Arc<str>,
    layout: &'a Layout,
    /// The record being built: its first line and (column, value) pairs.
    current: Option<(usize, Vec<(usize, String)>)>,
    /// The length of the line before, in characters.
    previous_len: usize,
    /// The last record completed, not handed on yet.
    last: HeldBack,
    /// Records cut by the end of the text.
    rejected: Vec<Rejection>,
    /// Collections cut by `$FormatEnumerationLimit`, in record order.
    warnings: Vec<Warning>,
}

/// What the reader does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Reads on.
    Go,
    /// The text was cut in this line, its last: nothing more to read.
    Stop,
}

/// The values a record has (a blank one counts; an absent one does not).
fn value_count(record: &Record) -> usize {
    record.values.iter().flatten().count()
}

/// Where a [`Reader`] is between two lines: what it needs to read on from
/// the next one (the record being built, the line before's length, the
/// record held back), without what it has said so far.
#[derive(Debug, Clone, Default)]
pub struct State {
    current: Option<(usize, Vec<(usize, String)>)>,
    previous_len: usize,
    last: HeldBack,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(file: &'a Arc<str>, layout: &'a Layout) -> Reader<'a> {
        Reader::resume(file, layout, State::default())
    }

    /// A reader that reads on from where [`Reader::state`] was taken.
    pub(crate) fn resume(file: &'a Arc<str>, layout: &'a Layout, state: State) -> Reader<'a> {
        let State { current, previous_len, last } = state;
        Reader {
            file,
            layout,
            current,
            previous_len,
            last,
            rejected: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Where the reader is (see [`State`]).
    pub(crate) fn state(&self) -> State {
        State {
            current: self.current.clone(),
            previous_len: self.previous_len,
            last: self.last.clone(),
        }
    }

    /// Reads line `lineno` (without its `\n`); `unended_last` when it is the
    /// text's last line and no line break ends it (the file may have been cut
    /// there). Completed records go to `emit`.
    pub(crate) fn line(
        &mut self,
        lineno: usize,
        raw: &str,
        unended_last: bool,
        emit: &mut dyn FnMut(Record),
    ) -> Result<Flow, SyntaxError> {
        let cleaned = strip_ansi(raw.trim_end_matches('\r'));
        let parsed_line = match line(&cleaned) {
            Some(l) => l,
            // A label cut short by the end of the file, after objects read:
            // its object is cut (text with no object at all is not Format-List).
            None if (self.current.is_some() || self.last.any()) && unended_last => {
                let at = self.current.take().map_or(lineno, |(first, _)| first);
                let detail = format!("its last line, {:?}, is cut", truncate_for_message(&cleaned));
                self.rejected.push(cut_rejection(self.file, at, "object", &detail));
                return Ok(Flow::Stop);
            }
            None => {
                // The first character that cannot be in a label (in characters).
                let column = cleaned
                    .find(|c: char| !c.is_alphanumeric())
                    .map_or(1, |p| cleaned[..p].chars().count() + 1);
                return Err(SyntaxError::new(
                    self.file,
                    lineno,
                    column,
                    format!(
                        "expected `Name : value` as Format-List prints it, found {:?}; is this Format-List output?",
                        truncate_for_message(&cleaned)
                    ),
                ));
            }
        };
        match parsed_line {
            Line::Blank => self.complete(emit),
            Line::Property { label, value } => {
                // The layout was made from the same lines, so it has every
                // label, unless the file changed between two reads of it.
                let Some(&column) = self.layout.index.get(label) else {
                    return Err(SyntaxError::new(
                        self.file,
                        lineno,
                        1,
                        format!(
                            "the label {label:?} was not there when the file was first read: the file changed while it was read; run again on an export that is not being written"
                        ),
                    ));
                };
                // A label seen twice means a new object began without a blank line.
                if self
                    .current
                    .as_ref()
                    .is_some_and(|(_, props)| props.iter().any(|(c, _)| *c == column))
                {
                    self.complete(emit);
                }
                let (_, props) = self.current.get_or_insert_with(|| (lineno, Vec::new()));
                props.push((column, value.to_owned()));
            }
            Line::Continuation(more) => match self.current.as_mut().and_then(|(_, p)| p.last_mut())
            {
                Some((_, value)) => {
                    if self.previous_len < self.layout.width {
                        value.push(' ');
                    }
                    value.push_str(more.trim_start());
                }
                None => {
                    return Err(SyntaxError::new(
                        self.file,
                        lineno,
                        1,
                        "an indented line with no property before it; is this Format-List output?",
                    ));
                }
            },
        }
        self.previous_len = char_count(cleaned.trim_end());
        Ok(Flow::Go)
    }

    /// Ends the record being built, if any, as a row as wide as the columns.
    fn complete(&mut self, emit: &mut dyn FnMut(Record)) {
        let Some((line, props)) = self.current.take() else { return };
        let mut values = vec![None; self.layout.columns.len()];
        for (col, value) in props {
            values[col] = Some(value);
        }
        if let Some(previous) = self.last.hold(Record { line, values }, value_count) {
            self.hand_on(previous, emit);
        }
    }

    /// Hands a record on, with a warning for each collection in it that
    /// `$FormatEnumerationLimit` cut (data loss).
    fn hand_on(&mut self, record: Record, emit: &mut dyn FnMut(Record)) {
        for (col, value) in record.values.iter().enumerate() {
            if value.as_deref().is_some_and(is_truncated_collection) {
                self.warnings.push(Warning {
                    code: "truncated-collection",
                    source: Some(Source { file: crate::model::Text::new(self.file), line: record.line }),
                    message: format!(
                        "{} was cut by $FormatEnumerationLimit (ends in `...}}`): values are missing; set $FormatEnumerationLimit = -1 or export with Export-Csv",
                        self.layout.columns[col]
                    ),
                });
            }
        }
        emit(record);
    }

    /// Ends the text, which `ended` with a line break or not; the last record
    /// is rejected when the end shows it cut ([`HeldBack`]). Returns the
    /// rejections and warnings.
    pub(crate) fn finish(
        mut self,
        ended: bool,
        emit: &mut dyn FnMut(Record),
    ) -> (Vec<Rejection>, Vec<Warning>) {
        self.complete(emit);
        match std::mem::take(&mut self.last).finish(ended, self.file, "object", value_count) {
            Some(Ok(last)) => self.hand_on(last, emit),
            Some(Err(cut)) => self.rejected.push(cut),
            None => {}
        }
        (self.rejected, self.warnings)
    }
}

/// Parses Format-List text into records: the [`Layout`], then the [`Reader`].
pub fn parse(file: &Arc<str>, text: &str) -> Result<Parsed, SyntaxError> {
    let mut layout = Layout::default();
    text.split('\n').for_each(|l| {
        layout.add(l);
    });
    let mut rows = Vec::new();
    let mut reader = Reader::new(file, &layout);
    let ended = text.ends_with('\n');
    let last = super::csv::memchr_count(text.as_bytes()) + 1;
    for (n, raw) in text.split('\n').enumerate() {
        let unended_last = !ended && n + 1 == last;
        if reader.line(n + 1, raw, unended_last, &mut |r| rows.push(r))? == Flow::Stop {
            break;
        }
    }
    let (rejected, warnings) = reader.finish(ended, &mut |r| rows.push(r));
    let table = Table { columns: layout.columns, rows };
    Ok(Parsed { table, rejected, warnings, ..Parsed::default() })
}

pub(crate) fn truncate_for_message(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Parsed {
        parse(&Arc::from("T.txt"), text).unwrap()
    }

    #[test]
    fn line_kinds() {
        assert_eq!(
            line("Name       : Alex").unwrap(),
            Line::Property { label: "Name", value: "Alex" }
        );
        assert_eq!(
            line("AdminDisplayName :").unwrap(),
            Line::Property { label: "AdminDisplayName", value: "" }
        );
        assert_eq!(
            line("Title : a : b ").unwrap(),
            Line::Property { label: "Title", value: "a : b" }
        );
        assert_eq!(line("             ons,DC=PROD").unwrap(), Line::Continuation("ons,DC=PROD"));
        assert_eq!(line("   ").unwrap(), Line::Blank);
        assert_eq!(line("PS C:\\> Get-User"), None);
        assert_eq!(line("Title:x"), None);
    }

    /// The rules of [`line`] as parser combinators, as they were first written.
    fn by_combinators(i: &str) -> Option<Line<'_>> {
        use nom::branch::alt;
        use nom::bytes::complete::{take_while, take_while1};
        use nom::character::complete::{char, space0, space1};
        use nom::combinator::{all_consuming, map, opt, rest, verify};
        let label = take_while1(|c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
        let property = map(
            (label, space0, char(':'), opt(preceded(char(' '), rest))),
            |(label, _, _, value): (&str, &str, char, Option<&str>)| Line::Property {
                label,
                value: value.unwrap_or("").trim_end(),
            },
        );
        let continuation =
            map(preceded(space1, verify(rest, |s: &str| !s.trim().is_empty())), |s: &str| {
                Line::Continuation(s.trim_end())
            });
        let blank = map(all_consuming(take_while(|c: char| c.is_whitespace())), |_| Line::Blank);
        let parsed: IResult<&str, Line<'_>> =
            all_consuming(alt((blank, property, continuation))).parse(i);
        parsed.ok().map(|(_, l)| l)
    }

    proptest::proptest! {
        /// Any line made of what a Format-List line is made of (white space
        /// of every kind, a label's characters and others, colons, a value)
        /// in any order and amount is read as the combinators read it.
        #[test]
        fn a_line_reads_as_the_combinators_read_it(
            lead in "[ \t\u{a0}\u{3000}]{0,2}",
            label in "[a-zA-Z0-9_.\\-\u{e9}\u{4e2d}\"x]{0,6}",
            gap in "[ \t\u{a0}]{0,3}",
            colon in ":?",
            after in "[ \t\u{3000}x:]{0,2}",
            rest in "[a-z :\t\u{a0}]{0,8}",
            any in "[a-zA-Z0-9_.\\- :\t\u{a0}\u{3000}\u{e9}\"]{0,12}",
        ) {
            let i = format!("{lead}{label}{gap}{colon}{after}{rest}");
            proptest::prop_assert_eq!(line(&i), by_combinators(&i));
            proptest::prop_assert_eq!(line(&any), by_combinators(&any));
        }
    }

    #[test]
    fn records_wraps_and_absent_properties() {
        let p = run(
            "\r\nName              : Alex\r\nDistinguishedName : CN=Alex,OU=conto\r\n                    so,DC=COM\r\nAdminDisplayName  :\r\n\r\nName : Bea\r\nPopEnabled : False\r\nTitle : Head of\r\n        Sales\r\n\r\n\r\n",
        );
        assert_eq!(
            p.table.columns,
            ["Name", "DistinguishedName", "AdminDisplayName", "PopEnabled", "Title"]
        );
        assert_eq!(p.table.rows.len(), 2);
        assert_eq!(p.table.rows[0].line, 2);
        assert_eq!(
            p.table.rows[0].values,
            [
                Some("Alex".into()),
                Some("CN=Alex,OU=contoso,DC=COM".into()),
                Some("".into()),
                None,
                None
            ]
        );
        // "Head of" ends before the full width (the DN line), so a space was dropped there.
        assert_eq!(
            p.table.rows[1].values,
            [Some("Bea".into()), None, None, Some("False".into()), Some("Head of Sales".into())]
        );
    }

    #[test]
    fn an_object_is_rejected_as_cut_only_when_the_text_ends_inside_it() {
        let objects = "Name : a\nPopEnabled : True\nImapEnabled :\n\nName : b\nPopEnabled : False";
        // Cut: no line break at the end, and fewer properties than the object before.
        let p = run(objects);
        assert_eq!(p.table.rows.len(), 1);
        assert_eq!(p.rejected[0].source.line, 5);
        assert!(p.rejected[0].reason.contains("2 of the 3 values"), "{}", p.rejected[0].reason);
        // Cut in a label: the object is cut, not the file unreadable.
        let p = run(&format!("{objects}\nImapEn"));
        assert_eq!((p.table.rows.len(), p.rejected[0].source.line), (1, 5));
        assert!(p.rejected[0].reason.contains("\"ImapEn\", is cut"), "{}", p.rejected[0].reason);
        // Text with no object before its one unreadable line is not Format-List.
        assert_eq!(parse(&Arc::from("T.txt"), "Name is cut").unwrap_err().line, 1);
        // Whole: as many properties (one of them blank), or a line break at the end.
        for whole in [format!("{objects}\nImapEnabled :"), format!("{objects}\n")] {
            let p = run(&whole);
            assert_eq!((p.table.rows.len(), p.rejected.len()), (2, 0), "{whole:?}");
        }
    }

    #[test]
    fn truncated_collections_warn_with_line() {
        let p = run(
            "Name : a\nEmailAddresses : {SMTP:a@x, smtp:b@x, smtp:c@x, smtp:d@x...}\n\nName : b\nEmailAddresses : {x, y…}\n",
        );
        assert_eq!(p.warnings.len(), 2);
        assert_eq!(p.warnings[1].source.as_ref().unwrap().line, 4);
        assert!(p.warnings[0].message.starts_with("EmailAddresses was cut"));
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi("\x1b[32;1mName      : \x1b[0mAlex"), "Name      : Alex");
        let p = run("\x1b[32;1mName : \x1b[0mAlex\n");
        assert_eq!(p.table.rows[0].values, [Some("Alex".into())]);
    }

    #[test]
    fn garbage_is_a_syntax_error_with_line() {
        let err = parse(&Arc::from("T.txt"), "Name : a\nthis is not a list\n").unwrap_err();
        assert_eq!((err.line, &*err.file), (2, "T.txt"));
    }
}
