//! The human-readable report: run header, inputs, advisories (the service
//! timeline first), warnings, summary counts, top blockers, the flagged mailboxes
//! as a table, and rejected rows.
//!
//! With `color`, headings, advisories and verdicts are styled with ANSI escapes.
//! The renderer never decides that itself: the binary asks for colour only when
//! standard output is a terminal and `NO_COLOR` is not set, so a file or a pipe
//! never receives an escape byte.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{MailboxView, Renderer, Report, blockers_cell, is_service, readiness};
use crate::audit::{Finding, Want};
use crate::model::usage::Readiness;

/// How many mailbox rows the readiness list shows before pointing to CSV/JSON.
const LIST_LIMIT: usize = 200;

/// The text renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Text {
    /// Style headings, advisories and verdicts with ANSI escapes (for a terminal).
    pub color: bool,
}

const HEADING: Style = Style::new().bold();
const SERVICE: Style = AnsiColor::Red.on_default().bold();
const NOTE: Style = AnsiColor::Yellow.on_default();
const ALLOWED: Style = AnsiColor::Green.on_default();
const BLOCKED: Style = AnsiColor::Red.on_default();
const UNKNOWN: Style = AnsiColor::Yellow.on_default();

/// Applies styles when colour is on, and is the identity otherwise.
#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn style(self, style: Style, text: &str) -> String {
        if self.0 { format!("{style}{text}{style:#}") } else { text.to_owned() }
    }

    /// A table cell: verdict words get their colour.
    fn cell(self, text: &str) -> String {
        match text {
            "allowed" => self.style(ALLOWED, text),
            "blocked" => self.style(BLOCKED, text),
            "unknown" => self.style(UNKNOWN, text),
            _ => text.to_owned(),
        }
    }
}

/// Writes rows as left-aligned columns separated by two spaces (widths in chars,
/// measured before any styling).
fn table(
    out: &mut dyn Write,
    indent: &str,
    rows: &[Vec<String>],
    right: &[bool],
    paint: Paint,
) -> io::Result<()> {
    table_of(out, indent, &|each| rows.iter().try_for_each(|row| each(row)), right, paint)
}

/// Something that calls `each` with every row of a table, in turn.
type EachRow<'a> = dyn Fn(&mut dyn FnMut(&[String]) -> io::Result<()>) -> io::Result<()> + 'a;

/// [`table`] for rows made by `rows` (which calls `each` with every row in
/// turn), twice: once to measure the columns, once to write them. So a table
/// of a million flagged mailboxes is never held, at the price of making its
/// rows twice.
fn table_of(
    out: &mut dyn Write,
    indent: &str,
    rows: &EachRow<'_>,
    right: &[bool],
    paint: Paint,
) -> io::Result<()> {
    let mut widths: Vec<usize> = Vec::new();
    rows(&mut |row| {
        measure(&mut widths, row);
        Ok(())
    })?;
    let mut line = String::new();
    rows(&mut |row| {
        line.clear();
        write_line(&mut line, indent, &widths, row, right, paint);
        out.write_all(line.as_bytes())
    })
}

/// Widens `widths` to fit `row`.
fn measure(widths: &mut Vec<usize>, row: &[String]) {
    if widths.len() < row.len() {
        widths.resize(row.len(), 0);
    }
    for (width, cell) in widths.iter_mut().zip(row) {
        *width = (*width).max(cell.chars().count());
    }
}

/// Appends `row` as a line of a table whose columns are `widths` wide.
fn write_line(
    line: &mut String,
    indent: &str,
    widths: &[usize],
    row: &[String],
    right: &[bool],
    paint: Paint,
) {
    let from = line.len();
    line.push_str(indent);
    for (c, cell) in row.iter().enumerate() {
        let pad = widths[c].saturating_sub(cell.chars().count());
        let last = c + 1 == row.len();
        if right.get(c).copied().unwrap_or(false) {
            line.extend(std::iter::repeat_n(' ', pad));
            line.push_str(&paint.cell(cell));
        } else {
            line.push_str(&paint.cell(cell));
            if !last {
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        if !last {
            line.push_str("  ");
        }
    }
    let end = from + line[from..].trim_end().len();
    line.truncate(end);
    line.push('\n');
}

/// The flagged mailboxes' table: measured, then written, a chunk of mailboxes
/// at a time on every core (a million of them are never held).
fn flagged_table(
    out: &mut dyn Write,
    r: &Report<'_>,
    header: &[String],
    paint: Paint,
) -> io::Result<()> {
    use rayon::prelude::*;
    let entries = r.audit.entries();
    let chunks = r.audit.entry_chunks(1 << 11);
    let rows_of = |chunk: &[crate::audit::Entry], each: &mut dyn FnMut(&[String])| {
        for (f, row) in r.audit.findings_of(chunk.iter().filter(|e| e.flagged())) {
            each(&flagged_row(&f, &r.view_row(&f, row)));
        }
    };
    let mut widths = chunks
        .par_iter()
        .map(|range| {
            let mut widths = Vec::new();
            rows_of(&entries[range.clone()], &mut |row| measure(&mut widths, row));
            widths
        })
        .reduce(Vec::new, |mut a, b| {
            if a.len() < b.len() {
                a.resize(b.len(), 0);
            }
            for (x, y) in a.iter_mut().zip(b) {
                *x = (*x).max(y);
            }
            a
        });
    measure(&mut widths, header);
    let mut line = String::new();
    write_line(&mut line, "  ", &widths, header, &[], paint);
    out.write_all(line.as_bytes())?;
    crate::ordered::write_chunked(out, entries, &chunks, |_, chunk, buf| {
        let mut text = String::new();
        rows_of(chunk, &mut |row| write_line(&mut text, "  ", &widths, row, &[], paint));
        buf.extend_from_slice(text.as_bytes());
        Ok(())
    })
}

/// A flagged mailbox's row: label, policy, each protocol's verdict, blockers.
fn flagged_row(f: &Finding, v: &MailboxView<'_>) -> Vec<String> {
    let policy = match &f.effective_policy {
        Some(p) => format!("{p} ({})", f.policy_source.as_str()),
        None => format!("({})", f.policy_source.as_str()),
    };
    let mut row = vec![v.label().to_string(), policy];
    row.extend(f.verdicts().map(|(p, pv)| match f.readiness[p] {
        Some(rd) if rd != Readiness::Unused => format!("{}, {}", pv.verdict.as_str(), rd.as_str()),
        _ => pv.verdict.as_str().to_owned(),
    }));
    row.push(blockers_cell(f));
    row
}

impl Renderer for Text {
    fn render(&self, r: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let paint = Paint(self.color);
        let h = |title: &str| paint.style(HEADING, title);
        let o = r.options;
        let sum = &r.audit.summary;
        let protocols: Vec<&str> = o.protocols.iter().map(|p| p.as_str()).collect();
        writeln!(
            out,
            "exoauth {} audit of {} (environment {}, want {}, protocols {}, as of {})",
            env!("CARGO_PKG_VERSION"),
            r.dir.display(),
            o.environment.as_str(),
            o.want.as_str(),
            protocols.join(", "),
            o.as_of
        )?;

        writeln!(out, "\n{}", h("Inputs"))?;
        let rows: Vec<Vec<String>> = r
            .loaded
            .inputs
            .iter()
            .map(|i| {
                vec![
                    i.path.file_name().map_or_else(
                        || i.path.display().to_string(),
                        |n| n.to_string_lossy().into(),
                    ),
                    i.cmdlet.produced_by().to_owned(),
                    format!("{} {}", i.form.name(), i.encoding),
                    format!("{} row{}", i.rows, if i.rows == 1 { "" } else { "s" }),
                ]
            })
            .collect();
        table(out, "  ", &rows, &[false, false, false, true], paint)?;

        if !r.audit.advisories.is_empty() {
            writeln!(out, "\n{}", h("Advisories"))?;
            // The service timeline first: it changes what every verdict means.
            let (service, others): (Vec<_>, Vec<_>) =
                r.audit.advisories.iter().partition(|a| is_service(a));
            for a in service.into_iter().chain(others) {
                let ps: Vec<&str> = a.protocols.iter().map(|p| p.as_str()).collect();
                let scope =
                    if ps.is_empty() { String::new() } else { format!(" ({})", ps.join(", ")) };
                let style = if is_service(a) { SERVICE } else { NOTE };
                writeln!(
                    out,
                    "  {}{scope}: {}",
                    paint.style(style, &format!("! {}", a.code)),
                    a.message
                )?;
            }
        }

        if !r.loaded.warnings.is_empty() {
            writeln!(out, "\n{}", h("Warnings"))?;
            for w in &r.loaded.warnings {
                let mark = paint.style(NOTE, "!");
                match &w.source {
                    Some(src) => writeln!(out, "  {mark} {src}: {}", w.message)?,
                    None => writeln!(out, "  {mark} {}", w.message)?,
                }
            }
        }

        writeln!(out, "\n{}", h("Summary"))?;
        let headlines = readiness::headlines(r);
        if let Some(u) = &r.loaded.snapshot.usage {
            writeln!(out, "  Readiness (sign-in evidence {}):", readiness::window(&u.summary))?;
            for hl in &headlines {
                let mut sentences = hl.sentences(r).into_iter();
                if let Some(first) = sentences.next() {
                    writeln!(
                        out,
                        "  {} {}",
                        paint.style(SERVICE, &format!("{}:", hl.protocol)),
                        first
                    )?;
                }
                for s in sentences {
                    writeln!(out, "        {s}")?;
                }
            }
        }
        if let Some(note) = readiness::no_evidence(r) {
            writeln!(out, "  {} {note}", paint.style(NOTE, "!"))?;
        }
        if sum.excepted > 0 {
            writeln!(
                out,
                "  {} mailbox{} excepted by the register (listed below)",
                sum.excepted,
                if sum.excepted == 1 { "" } else { "es" }
            )?;
        }
        writeln!(
            out,
            "  {} mailboxes: {} in scope, {} out of scope; {} flagged; {} rows rejected",
            sum.mailboxes,
            sum.in_scope,
            r.audit.out_of_scope,
            sum.flagged,
            r.loaded.rejected.len()
        )?;
        let mut rows =
            vec![vec!["protocol".into(), "allowed".into(), "blocked".into(), "unknown".into()]];
        rows.extend(sum.protocols().map(|(p, c)| {
            vec![p.to_string(), c.allowed.to_string(), c.blocked.to_string(), c.unknown.to_string()]
        }));
        table(out, "  ", &rows, &[false, true, true, true], paint)?;

        if r.loaded.snapshot.usage.is_some() {
            let (rows, total) = readiness::usage_rows(r, LIST_LIMIT);
            writeln!(
                out,
                "\n{}",
                h(&format!("Basic auth in use or attempted ({total} mailbox-protocols)"))
            )?;
            if rows.is_empty() {
                writeln!(
                    out,
                    "  none: no in-scope mailbox signed in with basic auth in the evidence window"
                )?;
            } else {
                let mut table_rows = vec![
                    [
                        "mailbox",
                        "protocol",
                        "readiness",
                        "config",
                        "ok",
                        "failed",
                        "last success",
                        "last failure",
                        "clients (IP, user agent)",
                    ]
                    .map(String::from)
                    .to_vec(),
                ];
                for u in &rows {
                    table_rows.push(vec![
                        u.label.clone(),
                        u.protocol.to_string(),
                        u.readiness.as_str().to_owned(),
                        u.verdict.as_str().to_owned(),
                        u.usage.successes.to_string(),
                        u.usage.failures.to_string(),
                        u.last_success(),
                        u.last_failure(),
                        match u.likely() {
                            "" => u.clients(),
                            likely => format!("{} ({likely})", u.clients()),
                        },
                    ]);
                }
                table(out, "  ", &table_rows, &[false, false, false, false, true, true], paint)?;
                if total > rows.len() {
                    writeln!(
                        out,
                        "  ... and {} more (all are in --format csv and json)",
                        total - rows.len()
                    )?;
                }
            }
        }

        if !sum.by_blocker.is_empty() {
            writeln!(out, "\n{}", h("Top blockers (in-scope mailboxes affected)"))?;
            let mut by: Vec<_> = sum.by_blocker.iter().collect();
            by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let rows: Vec<Vec<String>> =
                by.iter().map(|(c, n)| vec![c.to_string(), n.to_string()]).collect();
            table(out, "  ", &rows, &[false, true], paint)?;
        }

        let flagged = sum.flagged;
        let what = match o.want {
            Want::Allow => "cannot use basic auth on an in-scope protocol",
            Want::Block => "can still use basic auth on an in-scope protocol",
        };
        let title = format!("Flagged mailboxes ({flagged} of {})", sum.in_scope);
        let title = if flagged == 0 { h(&title) } else { paint.style(SERVICE, &title) };
        writeln!(out, "\n{title}: {what}")?;
        if flagged > 0 {
            let mut header = vec!["mailbox".to_owned(), "policy (source)".to_owned()];
            header.extend(protocols.iter().map(|p| p.to_string()));
            header.push("blockers".into());
            // One row per flagged mailbox: made twice (measured, then written)
            // rather than held.
            flagged_table(out, r, &header, paint)?;
            writeln!(
                out,
                "  (each blocker's exact setting, value and source line is in --format json)"
            )?;
        }

        if let Some(x) = &r.loaded.snapshot.exceptions {
            writeln!(
                out,
                "\n{}",
                h(&format!(
                    "Exceptions register ({} rows, {} excepted)",
                    x.rows.len(),
                    sum.excepted
                ))
            )?;
            let mut rows = vec![
                ["identity", "mailbox", "protocols", "until", "state", "owner", "reason", "source"]
                    .map(String::from)
                    .to_vec(),
            ];
            let states = readiness::exception_states(r, &x.rows);
            for (e, (mailbox, state)) in x.rows.iter().zip(states) {
                rows.push(vec![
                    e.identity.clone(),
                    mailbox,
                    e.protocol_list().map(|p| p.as_str()).collect::<Vec<_>>().join(","),
                    e.until_text(),
                    state,
                    e.owner.clone(),
                    e.reason.clone(),
                    e.source.to_string(),
                ]);
            }
            table(out, "  ", &rows, &[], paint)?;
        }

        if let Some(u) = &r.loaded.snapshot.usage {
            writeln!(out, "\n{}", h("Sign-in evidence"))?;
            for line in readiness::evidence_lines(&u.summary) {
                writeln!(out, "  {line}")?;
            }
            let rows: Vec<Vec<String>> = u
                .summary
                .sources
                .iter()
                .map(|s| vec![s.path.clone(), s.kind.to_owned(), format!("{} events", s.events)])
                .collect();
            table(out, "  ", &rows, &[false, false, true], paint)?;
        }

        if let Some(plan) = r.plan {
            let counts: Vec<String> = crate::plan::counts(&plan.actions)
                .iter()
                .map(|(k, n)| crate::plan::count_phrase(*n, k))
                .collect();
            writeln!(
                out,
                "\n{} ({}): {} changes for {} flagged mailboxes",
                h("Remediation plan"),
                plan.strategy.as_str(),
                plan.actions.len(),
                plan.flagged
            )?;
            if !counts.is_empty() {
                writeln!(out, "  {}", counts.join(", "))?;
            }
            for (what, n) in plan.actions.iter().filter_map(crate::plan::Action::blast_radius) {
                writeln!(out, "  blast radius: editing {what} also changes {n} other mailbox(es)")?;
            }
            if !plan.manual.is_empty() {
                writeln!(out, "  Manual steps (the script cannot do them):")?;
                for step in &plan.manual {
                    let ps: Vec<&str> = step.protocols.iter().map(|p| p.as_str()).collect();
                    let scope = match step.mailboxes.len() {
                        0 => "tenant-wide".to_owned(),
                        1..=5 => step.mailboxes.join("; "),
                        n => format!("{n} mailboxes"),
                    };
                    writeln!(
                        out,
                        "  - [{}] {} ({scope}): {}",
                        step.code,
                        ps.join(", "),
                        step.message
                    )?;
                }
            }
        }

        if !r.loaded.rejected.is_empty() {
            writeln!(out, "\n{}", h(&format!("Rejected rows ({})", r.loaded.rejected.len())))?;
            for x in &r.loaded.rejected {
                writeln!(out, "  {}: {}", x.source, x.reason)?;
            }
        }
        Ok(())
    }
}
