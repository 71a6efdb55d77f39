//! Property tests: random records (non-ASCII names, quotes, commas, spaces, empty
//! values) rendered the way PowerShell prints them (Export-Csv with every field
//! quoted, Format-List, Format-Table wide enough for every value, ConvertTo-Json)
//! read back as the same records. The renderers here are written from the
//! PowerShell sources' rules, not from exoauth's parsers.

use std::collections::BTreeMap;
use std::sync::Arc;

use exoauth::input::{self, Table};
use proptest::prelude::*;

/// One generated object: (column, value) with `None` for a property it lacks.
type Object = Vec<(String, Option<String>)>;

#[derive(Debug, Clone)]
struct Records {
    columns: Vec<String>,
    /// Per column: right-aligned in Format-Table (PowerShell right-aligns numbers,
    /// so their values hold no spaces).
    right: Vec<bool>,
    /// Extra padding per column in Format-Table.
    slack: Vec<usize>,
    objects: Vec<Object>,
}

/// A value: letters from several scripts, quotes, commas, semicolons, inner
/// spaces; trimmed as every console form trims it.
fn value(spaces: bool) -> impl Strategy<Value = String> {
    let chars: &[char] = if spaces {
        &[
            'a', 'Z', '7', 'é', 'ß', 'Ω', '山', '田', ' ', '\'', '"', ',', ';', '-', '.', '@', '{',
            '}', ':', '’',
        ]
    } else {
        &['a', 'Z', '7', 'é', 'ß', 'Ω', '山', '\'', '"', ',', ';', '-', '.', '@']
    };
    proptest::collection::vec(proptest::sample::select(chars.to_vec()), 0..14)
        .prop_map(|cs| cs.into_iter().collect::<String>().trim().to_owned())
}

fn records() -> impl Strategy<Value = Records> {
    let names = proptest::collection::vec("[A-Z][A-Za-z0-9]{1,11}", 1..6).prop_filter(
        "distinct names",
        |names| {
            let lower: std::collections::HashSet<String> =
                names.iter().map(|n| n.to_lowercase()).collect();
            lower.len() == names.len()
        },
    );
    names.prop_flat_map(|columns| {
        let n = columns.len();
        (
            Just(columns),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(0usize..3, n),
            1usize..6,
        )
            .prop_flat_map(|(columns, right, slack, rows)| {
                let cells: Vec<BoxedStrategy<Option<String>>> = columns
                    .iter()
                    .enumerate()
                    .map(|(k, _)| {
                        if k == 0 {
                            // The first column identifies the object: never empty.
                            value(!right[0])
                                .prop_filter("identity", |v| !v.is_empty())
                                .prop_map(Some)
                                .boxed()
                        } else {
                            proptest::option::weighted(0.85, value(!right[k])).boxed()
                        }
                    })
                    .collect();
                let object = cells.prop_map({
                    let columns = columns.clone();
                    move |values| columns.iter().cloned().zip(values).collect::<Object>()
                });
                (Just(columns), Just(right), Just(slack), proptest::collection::vec(object, rows))
            })
            .prop_map(|(columns, right, slack, objects)| Records {
                columns,
                right,
                slack,
                objects,
            })
    })
}

// Labels have two characters at least: a one-column table whose label is one
// letter has a lone `-` for a rule, which exoauth does not take for one.

/// Records as name → value maps, absent properties left out.
fn maps(table: &Table) -> Vec<BTreeMap<String, String>> {
    table
        .rows
        .iter()
        .map(|r| {
            table
                .columns
                .iter()
                .zip(&r.values)
                .filter_map(|(c, v)| v.clone().map(|v| (c.clone(), v)))
                .collect()
        })
        .collect()
}

/// What a form that cannot say "absent" (CSV, Format-Table) reads back: blank.
fn expected(r: &Records, absent_is_blank: bool) -> Vec<BTreeMap<String, String>> {
    r.objects
        .iter()
        .map(|o| {
            o.iter()
                .filter_map(|(c, v)| match v {
                    Some(v) => Some((c.clone(), v.clone())),
                    None if absent_is_blank => Some((c.clone(), String::new())),
                    None => None,
                })
                .collect()
        })
        .collect()
}

/// Export-Csv (Windows PowerShell 5.1 style): `#TYPE`, every field quoted with
/// inner quotes doubled, `$null` as nothing, CRLF.
fn render_csv(r: &Records, delimiter: char) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let d = delimiter.to_string();
    let mut out = String::from("#TYPE Selected.System.Management.Automation.PSCustomObject\r\n");
    out.push_str(&r.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(&d));
    out.push_str("\r\n");
    for o in &r.objects {
        let fields: Vec<String> =
            o.iter().map(|(_, v)| v.as_deref().map(quote).unwrap_or_default()).collect();
        out.push_str(&fields.join(&d));
        out.push_str("\r\n");
    }
    out
}

/// Format-List (ListWriter): labels padded to the longest, ` : `, `Label :` for
/// an empty value, a blank line around each object. Properties an object lacks
/// are not printed.
fn render_list(r: &Records) -> String {
    let mut out = String::from("\r\n");
    for o in &r.objects {
        let width = o.iter().filter(|(_, v)| v.is_some()).map(|(c, _)| c.len()).max().unwrap_or(0);
        for (c, v) in o {
            if let Some(v) = v {
                let line = format!("{c:<width$} : {v}");
                out.push_str(line.trim_end());
                out.push_str("\r\n");
            }
        }
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

/// Console cells a value takes: East Asian wide and fullwidth characters take
/// two. Counted with the unicode-width crate, not with exoauth's own `cells`.
// Regression (issue 9): the renderer padded with exoauth's `cells`, so a width
// bug in the parser would have padded the table wrongly in the same way and
// cancelled itself out.
fn cells(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

fn pad(s: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(cells(s)));
    if right { format!("{fill}{s}") } else { format!("{s}{fill}") }
}

/// Format-Table (TableWriter) with every column wide enough: labels and dashes
/// aligned like the values, one space between columns, the last column unpadded.
fn render_table(r: &Records) -> String {
    let widths: Vec<usize> = r
        .columns
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let values = r.objects.iter().filter_map(|o| o[k].1.as_deref()).map(cells);
            values.chain([c.len()]).max().unwrap_or(0) + r.slack[k]
        })
        .collect();
    let row = |cells: Vec<String>| -> String {
        let parts: Vec<String> =
            cells.iter().enumerate().map(|(k, s)| pad(s, widths[k], r.right[k])).collect();
        parts.join(" ").trim_end().to_owned()
    };
    let mut lines = vec![String::new()];
    lines.push(row(r.columns.clone()));
    lines.push(row(r.columns.iter().map(|c| "-".repeat(c.len())).collect()));
    for o in &r.objects {
        lines.push(row(o.iter().map(|(_, v)| v.clone().unwrap_or_default()).collect()));
    }
    lines.push(String::new());
    lines.push(String::new());
    lines.join("\r\n")
}

/// ConvertTo-Json: an array of objects (a single object when there is one).
fn render_json(r: &Records) -> String {
    let objects: Vec<serde_json::Value> = r
        .objects
        .iter()
        .map(|o| {
            serde_json::Value::Object(
                o.iter()
                    .filter_map(|(c, v)| {
                        v.clone().map(|v| (c.clone(), serde_json::Value::String(v)))
                    })
                    .collect(),
            )
        })
        .collect();
    if objects.len() == 1 {
        serde_json::to_string_pretty(&objects[0]).unwrap()
    } else {
        serde_json::to_string_pretty(&objects).unwrap()
    }
}

fn file() -> Arc<str> {
    Arc::from("P.txt")
}

proptest! {
    #[test]
    fn csv_round_trips(r in records(), semicolon in any::<bool>()) {
        let d = if semicolon { ';' } else { ',' };
        let text = render_csv(&r, d);
        if r.columns.len() > 1 {
            prop_assert_eq!(input::detect(&text), input::Form::Csv { delimiter: d as u8 });
        }
        let p = input::csv::parse(&file(), &text, d as u8).unwrap();
        prop_assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        prop_assert_eq!(maps(&p.table), expected(&r, true));
    }

    #[test]
    fn list_round_trips(r in records()) {
        let text = render_list(&r);
        prop_assert_eq!(input::detect(&text), input::Form::List);
        let p = input::list::parse(&file(), &text).unwrap();
        prop_assert_eq!(maps(&p.table), expected(&r, false));
    }

    #[test]
    fn table_round_trips(r in records()) {
        let text = render_table(&r);
        prop_assert_eq!(input::detect(&text), input::Form::Table);
        let p = input::table::parse(&file(), &text).unwrap();
        prop_assert!(p.rejected.is_empty(), "{:?}\n{}", p.rejected, text);
        prop_assert_eq!(maps(&p.table), expected(&r, true), "{}", text);
    }

    #[test]
    fn json_round_trips(r in records()) {
        let text = render_json(&r);
        prop_assert_eq!(input::detect(&text), input::Form::Json);
        let p = input::json::parse(&file(), &text).unwrap();
        prop_assert_eq!(maps(&p.table), expected(&r, false));
    }

    /// The converter's CSV reads back as the records it was given.
    #[test]
    fn parse_output_reads_back(r in records()) {
        let p = input::table::parse(&file(), &render_table(&r)).unwrap();
        let csv = exoauth::emit::convert::render(&p.table, exoauth::emit::convert::Target::Csv);
        let csv = String::from_utf8(csv).unwrap();
        let back = input::csv::parse(&file(), &csv, b',').unwrap();
        prop_assert_eq!(maps(&back.table), maps(&p.table));
    }
}

/// The ways a console output reaches exoauth when it was pasted rather than
/// exported (issue 11): each wraps the whole text.
#[derive(Debug, Clone, Copy)]
enum Damage {
    None,
    /// A common indentation (an e-mail, a Markdown code block, a help comment).
    Indent(usize),
    /// `> ` before every line (a Markdown blockquote, an e-mail reply).
    Quote,
    /// The command typed above the output, without a prompt.
    Command,
    /// A prompt and a module banner above the output.
    Banner,
    /// A Markdown fence around the output.
    Fence,
    /// `<br>` at every line's end (copied from a web page).
    Br,
    /// Inside a script's `<# ... #>` help comment, indented.
    HelpComment,
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        Just(Damage::None),
        (1usize..9).prop_map(Damage::Indent),
        Just(Damage::Quote),
        Just(Damage::Command),
        Just(Damage::Banner),
        Just(Damage::Fence),
        Just(Damage::Br),
        Just(Damage::HelpComment),
    ]
}

fn wrap(text: &str, d: Damage) -> String {
    let each = |f: &dyn Fn(&str) -> String| -> String {
        text.split_inclusive('\n')
            .map(|l| {
                let (body, end) = l.strip_suffix("\r\n").map_or((l, ""), |b| (b, "\r\n"));
                format!("{}{end}", f(body))
            })
            .collect()
    };
    match d {
        Damage::None => text.to_owned(),
        Damage::Indent(n) => each(&|l| {
            if l.trim().is_empty() { l.to_owned() } else { format!("{}{l}", " ".repeat(n)) }
        }),
        Damage::Quote => each(&|l| if l.is_empty() { ">".to_owned() } else { format!("> {l}") }),
        Damage::Command => {
            format!("Get-EXOCasMailbox -ResultSize Unlimited | Format-List\r\n\r\n{text}")
        }
        Damage::Banner => format!(
            "PS C:\\> Get-CASMailbox | fl\r\nCreating a new Remote PowerShell session using Modern Authentication for implicit remoting of \"Get-CASMailbox\" command ...\r\n{text}"
        ),
        Damage::Fence => format!("```powershell\r\n{text}\r\n```\r\n"),
        Damage::Br => each(&|l| format!("{l}<br>")),
        Damage::HelpComment => {
            format!("<#\r\n{}\r\n#>\r\n", wrap(text, Damage::Indent(4)))
        }
    }
}

proptest! {
    /// Pasted output reads back as the same records, or stops with an error
    /// that says the form is unclear; it never reads as other records.
    #[test]
    fn pasted_output_reads_back_or_says_it_is_unclear(r in records(), d in damage(), form in 0usize..3) {
        let (text, absent_is_blank) = match form {
            0 => (render_csv(&r, ','), true),
            1 => (render_list(&r), false),
            _ => (render_table(&r), true),
        };
        let pasted = wrap(&text, d);
        match exoauth::load::read_one(std::path::Path::new("P.txt"), pasted.as_bytes(), None, None) {
            Ok(c) => {
                prop_assert_eq!(maps(&c.parsed.table), expected(&r, absent_is_blank), "{:?}\n{}", d, pasted);
                if !matches!(d, Damage::None) {
                    prop_assert!(
                        c.parsed.warnings.iter().any(|w| w.code == "set-aside"),
                        "nothing said about what was set aside: {:?}", c.parsed.warnings
                    );
                }
            }
            Err(e) => {
                let e = e.to_string();
                prop_assert!(
                    e.contains("cannot tell which form this is") || e.contains("no form fits this text"),
                    "{:?} form {}: {}\n{}", d, form, e, pasted
                );
            }
        }
    }
}
