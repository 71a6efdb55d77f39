//! Which form a text is in, decided from its content.
//!
//! - CSV: optionally led by `#TYPE ...` (Windows PowerShell 5.1 writes it by
//!   default); delimiter `,`, or `;` from `Export-Csv -UseCulture` on many
//!   European cultures, sniffed from the header line.
//! - Format-List: `Label<padding> : value` lines.
//! - Format-Table: one to four header lines (labels wider than their column wrap)
//!   followed by a rule of dashes.
//! - JSON: `ConvertTo-Json` output, starting with `{` or `[`.

use super::table;

/// The detected form of an input text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `Export-Csv` / `ConvertTo-Csv` output with the given delimiter.
    Csv {
        /// `b','` or `b';'`.
        delimiter: u8,
    },
    /// `Format-List` console text.
    List,
    /// `Format-Table` console text.
    Table,
    /// `ConvertTo-Json` output.
    Json,
}

impl Form {
    /// The form as PowerShell names what writes it: `CSV`, `Format-List`, ...
    pub fn title(self) -> &'static str {
        match self {
            Form::Csv { .. } => "CSV",
            Form::List => "Format-List",
            Form::Table => "Format-Table",
            Form::Json => "JSON",
        }
    }

    /// Short name used in reports (`csv`, `list`, `table`, `json`).
    pub fn name(self) -> &'static str {
        match self {
            Form::Csv { .. } => "csv",
            Form::List => "list",
            Form::Table => "table",
            Form::Json => "json",
        }
    }
}

/// What the detector decided, and the evidence, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The form.
    pub form: Form,
    /// Why: which lines look like what (for `-v` and messages).
    pub why: String,
    /// The text holds outputs of several forms (a table, then a list): it is
    /// read in parts, as a transcript is.
    pub parts: bool,
}

/// No form fits the text clearly: the candidates and their evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unclear {
    /// The line the likeliest form's evidence starts on.
    pub line: usize,
    /// The likeliest form.
    pub best: Form,
    /// The candidates and why, in words.
    pub message: String,
}

/// One candidate form: how much of the text it explains.
struct Candidate {
    form: Form,
    /// Share of the non-blank lines the form explains, 0 to 1.
    score: f64,
    why: String,
    line: usize,
}

/// Detects the form of `text` (pasted wrapping already set aside by
/// [`super::paste::clean`]), or says that no form fits clearly.
///
/// JSON (a first `{` or `[`) and CSV led by `#TYPE` are certain. Otherwise each
/// of Format-List, Format-Table and CSV is scored by the share of non-blank
/// lines it explains: `Name : value` lines and their indented continuations;
/// blocks around a rule of dashes; lines with as many fields as the header (a
/// one-column "CSV" counts half, and never the lines that look like
/// `Name : value`). The best wins when it explains at least 45% of the lines
/// and leads any other that explains 30% or more by at least 0.5. A table and
/// a list in paragraphs of their own that together explain the text are
/// several outputs, read in parts.
pub fn detect_scored(text: &str) -> Result<Detection, Unclear> {
    let lines: Vec<(usize, std::borrow::Cow<'_, str>)> = text
        .split('\n')
        .enumerate()
        .map(|(k, l)| (k + 1, super::list::strip_ansi(l.trim_end_matches('\r'))))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let Some((first_no, first)) = lines.first() else {
        return Ok(Detection {
            form: Form::Csv { delimiter: b',' },
            why: "empty".into(),
            parts: false,
        });
    };
    let first_trimmed = first.trim_start();
    if first_trimmed.starts_with('{') || first_trimmed.starts_with('[') {
        let c = &first_trimmed[..1];
        return Ok(Detection {
            form: Form::Json,
            why: format!("JSON: line {first_no} starts with `{c}` as ConvertTo-Json output does"),
            parts: false,
        });
    }
    if first.starts_with("#TYPE") {
        let header = lines.get(1).map_or("", |(_, l)| &**l);
        return Ok(Detection {
            form: Form::Csv { delimiter: sniff_delimiter(header) },
            why: format!("CSV: line {first_no} is Export-Csv's #TYPE line"),
            parts: false,
        });
    }
    let n = lines.len();
    let adjacent = |a: usize, b: usize| lines[b].0 == lines[a].0 + 1;
    // Format-List: property lines, and indented continuations right after them.
    let mut in_list = vec![false; n];
    for k in 0..n {
        let l = &lines[k].1;
        in_list[k] = is_in_list(l, k > 0 && in_list[k - 1] && adjacent(k - 1, k));
    }
    let list_n = in_list.iter().filter(|x| **x).count();
    // Format-Table: each block (paragraph) holding a rule under a header.
    let mut in_table = vec![false; n];
    for (r, (_, line)) in lines.iter().enumerate().skip(1) {
        if !(table::is_rule(line) && adjacent(r - 1, r)) {
            continue;
        }
        let mut start = r;
        while start > 0 && adjacent(start - 1, start) && r - start < 4 && !in_list[start - 1] {
            start -= 1;
        }
        let mut end = r;
        while end + 1 < n && adjacent(end, end + 1) {
            end += 1;
        }
        for x in &mut in_table[start..=end] {
            *x = true;
        }
    }
    let table_n = in_table.iter().filter(|x| **x).count();
    // CSV: lines of records with as many fields as the header (a quoted value
    // may span lines).
    let delimiter = sniff_delimiter(first);
    let fields = count_fields(first, delimiter);
    // A `Name : value` line is no CSV header, whatever its commas.
    let csv_n = if in_list[0] {
        0
    } else if fields >= 2 {
        let from = text.split('\n').take(first_no - 1).map(|l| l.len() + 1).sum::<usize>();
        csv_lines(&text[from.min(text.len())..], delimiter, fields)
    } else {
        (0..n).filter(|&k| !in_list[k]).count()
    };
    let share = |k: usize| k as f64 / n as f64;
    let span = |flags: &[bool]| {
        let first = flags.iter().position(|x| *x).map_or(0, |k| lines[k].0);
        let last = flags.iter().rposition(|x| *x).map_or(0, |k| lines[k].0);
        (first, span_text(first, last))
    };
    let (list_line, list_span) = span(&in_list);
    let (table_line, table_span) = span(&in_table);
    let of = |k: usize| lines_of(k, n);
    // Several outputs: lists and tables in paragraphs of their own (a transcript
    // without prompts), together nearly the whole text.
    let mut separate = true;
    let mut paragraph = (false, false); // (has a list line, has a table line)
    for k in 0..n {
        if k > 0 && !adjacent(k - 1, k) {
            paragraph = (false, false);
        }
        paragraph.0 |= in_list[k];
        paragraph.1 |= in_table[k];
        separate &= !(paragraph.0 && paragraph.1);
    }
    // (A table is a header, a rule and a row at least.)
    if list_n >= 2 && table_n >= 3 && separate && share(list_n + table_n) >= 0.9 {
        let form = if table_line < list_line { Form::Table } else { Form::List };
        return Ok(Detection {
            form,
            why: format!(
                "several outputs: Format-Table on {table_span} and Format-List on {list_span}"
            ),
            parts: true,
        });
    }
    let mut candidates = [
        Candidate {
            form: Form::List,
            score: share(list_n),
            why: list_why(&list_span, list_n, n),
            line: list_line,
        },
        Candidate {
            form: Form::Table,
            score: share(table_n),
            why: table_why(&table_span, table_n, n),
            line: table_line,
        },
        if fields >= 2 {
            Candidate {
                form: Form::Csv { delimiter },
                score: share(csv_n),
                why: format!(
                    "line {first_no} looks like a CSV header with {fields} fields ({} have {fields})",
                    of(csv_n)
                ),
                line: *first_no,
            }
        } else {
            Candidate {
                form: Form::Csv { delimiter },
                score: share(csv_n) / 2.0,
                why: format!(
                    "line {first_no} would be a one-column CSV header ({} are not `Name : value` lines)",
                    of(csv_n)
                ),
                line: *first_no,
            }
        },
    ];
    // Stable: on a tie the earlier candidate (list, table, CSV) leads.
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let (best, second) = (&candidates[0], &candidates[1]);
    let weak = best.score < 0.45;
    let close = second.score >= 0.3 && best.score - second.score < 0.5;
    if weak || close {
        let message = if weak {
            let also =
                if second.score > 0.0 { format!(", and {}", second.why) } else { String::new() };
            format!(
                "no form fits this text: {}{also}; it is not CSV, Format-List, Format-Table or JSON output as PowerShell writes it",
                best.why
            )
        } else {
            format!("cannot tell which form this is: {}, but {}", best.why, second.why)
        };
        return Err(Unclear { line: best.line.max(1), best: best.form, message });
    }
    Ok(Detection {
        form: best.form,
        why: format!("{}: {}", best.form.title(), best.why),
        parts: false,
    })
}

/// `line N` or `lines N-M`.
fn span_text(first: usize, last: usize) -> String {
    if first == last { format!("line {first}") } else { format!("lines {first}-{last}") }
}

/// `K of N lines`.
fn lines_of(k: usize, n: usize) -> String {
    format!("{k} of {n} line{}", if n == 1 { "" } else { "s" })
}

/// Why a text may be Format-List: `k` of its `n` non-blank lines, on `span`, are.
fn list_why(span: &str, k: usize, n: usize) -> String {
    format!(
        "{span} look like Format-List ({} are `Name : value` lines or their continuations)",
        lines_of(k, n)
    )
}

/// Why a text may be Format-Table: `k` of its `n` non-blank lines, on `span`, are.
fn table_why(span: &str, k: usize, n: usize) -> String {
    format!(
        "{span} look like Format-Table ({} are in blocks with a rule of dashes under the header)",
        lines_of(k, n)
    )
}

/// What [`detect_scored`] finds of a text whose `n` non-blank lines, from line
/// `first` to line `last`, are all in tables, each paragraph having a rule of
/// dashes ([`table::is_rule`]) second to fifth in it, none of them a
/// Format-List line ([`is_list_line`]), and whose first non-blank line starts
/// with neither JSON nor `#TYPE` and holds no `,` or `;`: Format-Table, for
/// it explains every line, no list any, and a one-column CSV half of them at
/// most (a lead of 0.5 is clear).
pub(crate) fn all_table(first: usize, last: usize, n: usize) -> Detection {
    let why = table_why(&span_text(first, last), n, n);
    Detection { form: Form::Table, why: format!("{}: {why}", Form::Table.title()), parts: false }
}

/// What [`detect_scored`] finds of a text whose `n` non-blank lines, from line
/// `first` to line `last`, are all Format-List lines ([`is_in_list`]), none of
/// them a rule of dashes ([`table::is_rule`]): Format-List, for it explains
/// every line, and no other form explains any (no table without a rule, no
/// CSV whose header is a `Name : value` line).
pub(crate) fn all_list(first: usize, last: usize, n: usize) -> Detection {
    let why = list_why(&span_text(first, last), n, n);
    Detection { form: Form::List, why: format!("{}: {why}", Form::List.title()), parts: false }
}

/// Detects the form of `text`: the likeliest one, also when it is not clear
/// ([`detect_scored`] says when it is not).
pub fn detect(text: &str) -> Form {
    match detect_scored(text) {
        Ok(d) => d.form,
        Err(u) => u.best,
    }
}

/// Non-blank lines of `text` that belong to records of exactly `fields` fields,
/// reading records as CSV does: a line break inside quotes does not end one.
fn csv_lines(text: &str, delimiter: u8, fields: usize) -> usize {
    let (mut total, mut quoted, mut n, mut lines, mut filled) = (0, false, 1, 0, false);
    let mut end_record = |n: usize, lines: usize| {
        if n == fields {
            total += lines;
        }
    };
    for b in text.bytes() {
        match b {
            b'"' => {
                quoted = !quoted;
                filled = true;
            }
            b'\n' if !quoted => {
                if filled {
                    end_record(n, lines + 1);
                }
                (n, lines, filled) = (1, 0, false);
            }
            b'\n' => lines += 1,
            d if d == delimiter && !quoted => {
                n += 1;
                filled = true;
            }
            b'\r' | b' ' | b'\t' => {}
            _ => filled = true,
        }
    }
    if filled {
        end_record(n, lines + 1);
    }
    total
}

/// Fields in a CSV line, counting delimiters outside quotes.
fn count_fields(line: &str, delimiter: u8) -> usize {
    let mut quoted = false;
    let mut n = 1;
    for b in line.bytes() {
        match b {
            b'"' => quoted = !quoted,
            d if d == delimiter && !quoted => n += 1,
            _ => {}
        }
    }
    n
}

/// Whether a non-blank line (ANSI colour and `\r` removed) is Format-List
/// output: a property, or an indented continuation right `after_list` (the
/// line before is Format-List output, and not blank).
pub(crate) fn is_in_list(line: &str, after_list: bool) -> bool {
    is_list_line(line) || (after_list && line.starts_with([' ', '\t']))
}

/// `Label   : value` or `Label :` as Format-List prints a property: a label
/// (letters, digits, `_`, `.`, `-`), white space ending in a space, a colon,
/// then nothing or a space.
pub(crate) fn is_list_line(line: &str) -> bool {
    // Every Format-List line is asked this, twice (the detector, the paste
    // check): an ASCII label is read byte by byte, anything else by the rule.
    let b = line.as_bytes();
    let label =
        b.iter().take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    let k = label.count();
    match b.get(k) {
        Some(b' ') if k > 0 => {
            let gap = b[k..].iter().take_while(|&&c| c == b' ').count();
            match b.get(k + gap) {
                Some(b':') => matches!(b.get(k + gap + 1), None | Some(b' ')),
                Some(c) if c.is_ascii() && !c.is_ascii_whitespace() => false,
                _ => list_line_by_rule(line),
            }
        }
        // (White space before ` :` is trimmed off the label by the rule.)
        Some(c) if c.is_ascii() && !c.is_ascii_whitespace() => false,
        None => false,
        _ => list_line_by_rule(line),
    }
}

/// [`is_list_line`] as its rule reads, for any text.
fn list_line_by_rule(line: &str) -> bool {
    let Some(at) = memchr::memmem::find(line.as_bytes(), b" :") else { return false };
    let label = line[..at].trim_end();
    let rest = &line[label.len()..].trim_start();
    let after = &rest[1..];
    !label.is_empty()
        && !label.starts_with('"')
        && label.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && (after.is_empty() || after.starts_with(' '))
}

/// Counts `,` and `;` outside quotes in the header line.
fn sniff_delimiter(header: &str) -> u8 {
    let (mut commas, mut semis, mut quoted) = (0, 0, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semis += 1,
            _ => {}
        }
    }
    if semis > commas { b';' } else { b',' }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The byte-wise reading of a property line is the rule's, on text
        /// made of what decides it: label characters, spaces and tabs,
        /// colons, quotes, and letters and spaces beyond ASCII.
        #[test]
        fn a_list_line_is_read_byte_wise_as_by_the_rule(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "Z", "9", "_", ".", "-", " ", "  ", "\t", ":", " : ", "\"", "é", "\u{3000}", "\u{A0}", "x y", "\r",
            ]), 0..12),
        ) {
            let line: String = parts.concat();
            proptest::prop_assert_eq!(is_list_line(&line), list_line_by_rule(&line), "{:?}", line);
        }
    }

    #[test]
    fn forms() {
        let cases: &[(&str, Form)] = &[
            ("#TYPE Deserialized.Foo\r\n\"Name\",\"Guid\"\r\n", Form::Csv { delimiter: b',' }),
            ("#TYPE Deserialized.Foo\r\n\"Name\";\"Guid\"\r\n", Form::Csv { delimiter: b';' }),
            ("\"Name\";\"Guid\";\"PopEnabled\"\n", Form::Csv { delimiter: b';' }),
            ("Name,Guid\n", Form::Csv { delimiter: b',' }),
            ("DefaultAuthenticationPolicy\r\n\"Block\"\r\n", Form::Csv { delimiter: b',' }),
            ("\r\n\r\nName       : Alex\r\nPopEnabled : True\r\n", Form::List),
            ("AdminDisplayName :\r\n", Form::List),
            ("\nName  PopEnabled\n----  ----------\nAlex        True\n", Form::Table),
            ("Display  Smtp\nName     Enabled\n-------- -------\n", Form::Table),
            ("[\n  {\n", Form::Json),
            ("{\"IsEnabled\": true}", Form::Json),
            ("", Form::Csv { delimiter: b',' }),
        ];
        for (text, want) in cases {
            assert_eq!(detect(text), *want, "{text:?}");
        }
    }

    #[test]
    fn csv_header_with_colon_is_not_a_list() {
        assert_eq!(detect("\"Name : x\",\"b\"\n"), Form::Csv { delimiter: b',' });
        assert!(!is_list_line("Name,Value : x"));
    }
}
