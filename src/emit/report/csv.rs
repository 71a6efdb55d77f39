//! The CSV report: one row per in-scope mailbox, one column per protocol verdict
//! and one for the blockers.
//!
//! Cells a spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab or
//! CR) are prefixed with `'` (OWASP "CSV injection"): mailbox names come from the
//! tenant and can be chosen by anyone who can name a mailbox.

use std::borrow::Cow;
use std::io;

use super::{Renderer, Report, write_blockers_cell};
use crate::model::exceptions::format_date;
use crate::model::usage::format_time;

/// The CSV renderer.
#[derive(Debug, Clone, Copy)]
pub struct Csv;

/// Neutralises a cell that a spreadsheet would evaluate.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

impl Renderer for Csv {
    fn render(&self, r: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        let mut w = ::csv::WriterBuilder::new().from_writer(&mut *out);
        let header = vec![
            "identity",
            "display_name",
            "user_principal_name",
            "primary_smtp_address",
            "recipient_type",
            "effective_policy",
            "policy_source",
            "flagged",
        ];
        let mut header: Vec<String> = header.into_iter().map(String::from).collect();
        header.extend(r.options.protocols.iter().map(|p| p.as_str().to_owned()));
        header.push("blockers".into());
        // Readiness and exception columns only when there is evidence or a register.
        if r.loaded.snapshot.usage.is_some() {
            for p in &r.options.protocols {
                header.push(format!("{p}_readiness"));
                header.push(format!("{p}_last_success"));
            }
        }
        if r.loaded.snapshot.exceptions.is_some() {
            header.push("excepted".into());
            header.push("exception_until".into());
        }
        w.write_record(&header)?;
        w.flush()?;
        drop(w);
        let (entries, chunks) = (r.audit.entries(), r.audit.entry_chunks(1 << 13));
        super::write_chunked(out, entries, &chunks, |_, chunk, buf| {
            let mut w = ::csv::WriterBuilder::new().from_writer(buf);
            let mut cell = String::new();
            for (f, mailbox) in r.audit.findings_of(chunk) {
                row(r, &f, &r.view_row(&f, mailbox), &mut cell, &mut w)?;
            }
            w.flush()
        })
    }
}

/// Writes one mailbox's row; `cell` is a buffer for the cells made here.
fn row(
    r: &Report<'_>,
    f: &crate::audit::Finding,
    v: &super::MailboxView<'_>,
    cell: &mut String,
    w: &mut ::csv::Writer<&mut Vec<u8>>,
) -> io::Result<()> {
    let (identity, name) = (v.identity(), v.display_name());
    let (upn, smtp) = (v.user_principal_name(), v.primary_smtp_address());
    for c in [
        Some(&*identity),
        name.as_deref(),
        upn.as_deref(),
        smtp.as_deref(),
        f.recipient_type.as_deref(),
        f.effective_policy.as_deref(),
        Some(f.policy_source.as_str()),
        Some(if f.flagged { "true" } else { "false" }),
    ] {
        w.write_field(&*neutralise(c.unwrap_or("")))?;
    }
    for (_, pv) in f.verdicts() {
        w.write_field(pv.verdict.as_str())?;
    }
    cell.clear();
    write_blockers_cell(f, cell);
    w.write_field(&*cell)?;
    let s = &r.loaded.snapshot;
    if let Some(u) = &s.usage {
        for (p, _) in f.verdicts() {
            let pu = u.get(f.mailbox, p);
            w.write_field(pu.readiness().as_str())?;
            w.write_field(pu.last_success.map(format_time).unwrap_or_default())?;
        }
    }
    if let Some(x) = &s.exceptions {
        let until = f.excepted.iter().map(|&k| x.rows[k as usize].until).min();
        w.write_field(if f.excepted.is_empty() { "false" } else { "true" })?;
        w.write_field(until.map(format_date).unwrap_or_default())?;
    }
    w.write_record(None::<&[u8]>)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, want) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("alex@contoso.com", "alex@contoso.com"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), want);
        }
    }
}
