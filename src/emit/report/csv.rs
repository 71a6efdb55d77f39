//! The CSV report: one row per in-scope mailbox, one column per protocol verdict
//! and one for the blockers.
//!
//! Cells a spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab or
//! CR) are prefixed with `'` (OWASP "CSV injection"): mailbox names come from the
//! tenant and can be chosen by anyone who can name a mailbox.

use std::borrow::Cow;
use std::io;

use super::{MailboxView, Renderer, Report, write_blockers_cell};
use crate::audit::{self, Audit, Finding, Options};
use crate::model::Snapshot;
use crate::model::exceptions::format_date;
use crate::model::usage::format_time;
use crate::progress::{Progress, Silent};

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
    /// The rows come from an audit of their own ([`audit_and_write`]), the same
    /// pass that `exoauth audit` writes a CSV report in.
    fn render(&self, r: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        audit_and_write(&r.loaded.snapshot, r.options, &Silent, out).map(drop)
    }
}

/// Audits `snapshot` and writes its CSV report while doing so: the header, then
/// each in-scope mailbox's row as the audit reaches it, so that the report costs
/// no pass over the mailboxes of its own. Returns the audit.
pub fn audit_and_write<'s>(
    snapshot: &'s Snapshot,
    options: &Options,
    progress: &dyn Progress,
    out: &mut dyn io::Write,
) -> io::Result<Audit<'s>> {
    header(snapshot, options, out)?;
    audit::audit_writing(
        snapshot,
        options,
        progress,
        out,
        Some(&|found, buf| {
            let mut w = ::csv::WriterBuilder::new().from_writer(buf);
            let mut cell = String::new();
            for (f, mailbox) in found {
                row(snapshot, &f, &MailboxView::new(snapshot, &f, mailbox), &mut cell, &mut w)?;
            }
            w.flush()
        }),
    )
}

/// The header: the identifiers, the verdicts and blockers, then readiness and
/// exception columns when there is evidence or a register.
fn header(s: &Snapshot, options: &Options, out: &mut dyn io::Write) -> io::Result<()> {
    let mut header: Vec<String> = [
        "identity",
        "display_name",
        "user_principal_name",
        "primary_smtp_address",
        "recipient_type",
        "effective_policy",
        "policy_source",
        "flagged",
    ]
    .map(String::from)
    .into();
    header.extend(options.protocols.iter().map(|p| p.as_str().to_owned()));
    header.push("blockers".into());
    if s.usage.is_some() {
        for p in &options.protocols {
            header.push(format!("{p}_readiness"));
            header.push(format!("{p}_last_success"));
        }
    }
    if s.exceptions.is_some() {
        header.push("excepted".into());
        header.push("exception_until".into());
    }
    let mut w = ::csv::WriterBuilder::new().from_writer(out);
    w.write_record(&header)?;
    w.flush()
}

/// Writes one mailbox's row; `cell` is a buffer for the cells made here.
fn row(
    s: &Snapshot,
    f: &Finding,
    v: &MailboxView<'_>,
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
