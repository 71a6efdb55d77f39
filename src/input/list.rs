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

use std::collections::HashMap;
use std::sync::Arc;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, space0, space1};
use nom::combinator::{all_consuming, map, opt, rest, verify};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::value::is_truncated_collection;
use super::{Parsed, Record, Source, SyntaxError, Table, Warning};

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

/// `Label` — a property name: letters, digits, `_`, `.`, `-`.
fn label(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '-')).parse(i)
}

/// `Label<padding> : value` or `Label<padding> :`
fn property(i: &str) -> IResult<&str, Line<'_>> {
    map((label, space0, char(':'), opt(preceded(char(' '), rest))), |(label, _, _, value)| {
        Line::Property { label, value: value.unwrap_or("").trim_end() }
    })
    .parse(i)
}

/// `<indent>text` — the rest of a wrapped value.
fn continuation(i: &str) -> IResult<&str, Line<'_>> {
    map(preceded(space1, verify(rest, |s: &str| !s.trim().is_empty())), |s: &str| {
        Line::Continuation(s.trim_end())
    })
    .parse(i)
}

/// A line of spaces only.
fn blank(i: &str) -> IResult<&str, Line<'_>> {
    map(all_consuming(take_while(|c: char| c.is_whitespace())), |_| Line::Blank).parse(i)
}

fn line(i: &str) -> IResult<&str, Line<'_>> {
    all_consuming(alt((blank, property, continuation))).parse(i)
}

/// Removes ANSI SGR sequences (`ESC [ ... m`) that PowerShell 7.2+ can leave in
/// redirected output.
pub(crate) fn strip_ansi(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains('\x1b') {
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

/// Parses Format-List text into records.
pub fn parse(file: &Arc<str>, text: &str) -> Result<Parsed, SyntaxError> {
    let mut parsed = Parsed { table: Table::default(), ..Parsed::default() };
    let mut index: HashMap<String, usize> = HashMap::new();
    // The record being built: its first line and (column, value) pairs.
    let mut current: Option<(usize, Vec<(usize, String)>)> = None;
    let width =
        text.split('\n').map(|l| strip_ansi(l.trim_end()).chars().count()).max().unwrap_or(0);
    let mut previous_len = 0;

    for (n, raw) in text.split('\n').enumerate() {
        let lineno = n + 1;
        let cleaned = strip_ansi(raw.trim_end_matches('\r'));
        let parsed_line = match line(&cleaned) {
            Ok((_, l)) => l,
            // A label cut short by the end of the file, after objects read:
            // its object is cut (text with no object at all is not Format-List).
            Err(_)
                if (current.is_some() || !parsed.table.rows.is_empty())
                    && is_unended_last_line(text, lineno) =>
            {
                let at = current.take().map_or(lineno, |(first, _)| first);
                let detail = format!("its last line, {:?}, is cut", truncate_for_message(&cleaned));
                parsed.reject_cut(file, at, "object", &detail);
                break;
            }
            Err(_) => {
                // The first character that cannot be in a label (in characters).
                let column = cleaned
                    .find(|c: char| !c.is_alphanumeric())
                    .map_or(1, |p| cleaned[..p].chars().count() + 1);
                return Err(SyntaxError::new(
                    file,
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
            Line::Blank => push_record(&mut parsed.table, &mut current),
            Line::Property { label, value } => {
                // Looked up before it is copied: a label is new once per file.
                let column = match index.get(label) {
                    Some(&column) => column,
                    None => {
                        parsed.table.columns.push(label.to_owned());
                        index.insert(label.to_owned(), parsed.table.columns.len() - 1);
                        parsed.table.columns.len() - 1
                    }
                };
                // A label seen twice means a new object began without a blank line.
                if current
                    .as_ref()
                    .is_some_and(|(_, props)| props.iter().any(|(c, _)| *c == column))
                {
                    push_record(&mut parsed.table, &mut current);
                }
                let (_, props) = current.get_or_insert_with(|| (lineno, Vec::new()));
                props.push((column, value.to_owned()));
            }
            Line::Continuation(more) => match current.as_mut().and_then(|(_, p)| p.last_mut()) {
                Some((_, value)) => {
                    if previous_len < width {
                        value.push(' ');
                    }
                    value.push_str(more.trim_start());
                }
                None => {
                    return Err(SyntaxError::new(
                        file,
                        lineno,
                        1,
                        "an indented line with no property before it; is this Format-List output?",
                    ));
                }
            },
        }
        previous_len = cleaned.trim_end().chars().count();
    }
    push_record(&mut parsed.table, &mut current);
    parsed.table.widen();
    // A property printed blank is still there; one the cut took is absent.
    parsed.reject_cut_last(file, text, "object", |r| r.values.iter().flatten().count());

    // Data loss: collections cut by $FormatEnumerationLimit.
    for record in &parsed.table.rows {
        for (col, value) in record.values.iter().enumerate() {
            if value.as_deref().is_some_and(is_truncated_collection) {
                parsed.warnings.push(Warning {
                    code: "truncated-collection",
                    source: Some(Source { file: crate::model::Text::new(file), line: record.line }),
                    message: format!(
                        "{} was cut by $FormatEnumerationLimit (ends in `...}}`): values are missing; set $FormatEnumerationLimit = -1 or export with Export-Csv",
                        parsed.table.columns[col]
                    ),
                });
            }
        }
    }
    Ok(parsed)
}

/// True when line `lineno` is the text's last and no line break ends it: the
/// file may have been cut there. (Asked only of a line that cannot be read.)
fn is_unended_last_line(text: &str, lineno: usize) -> bool {
    !text.ends_with('\n') && lineno == super::csv::memchr_count(text.as_bytes()) + 1
}

/// Ends the record being built, if any, as a row as wide as the columns seen so far.
fn push_record(table: &mut Table, current: &mut Option<(usize, Vec<(usize, String)>)>) {
    if let Some((line, props)) = current.take() {
        let mut values = vec![None; table.columns.len()];
        for (col, value) in props {
            values[col] = Some(value);
        }
        table.rows.push(Record { line, values });
    }
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
            ("", Line::Property { label: "Name", value: "Alex" })
        );
        assert_eq!(
            line("AdminDisplayName :").unwrap().1,
            Line::Property { label: "AdminDisplayName", value: "" }
        );
        assert_eq!(
            line("Title : a : b ").unwrap().1,
            Line::Property { label: "Title", value: "a : b" }
        );
        assert_eq!(line("             ons,DC=PROD").unwrap().1, Line::Continuation("ons,DC=PROD"));
        assert_eq!(line("   ").unwrap().1, Line::Blank);
        assert!(line("PS C:\\> Get-User").is_err());
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
