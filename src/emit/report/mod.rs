//! Report renderers, one file per format behind one small trait (as hyperfine's
//! exporters are).

pub mod csv;
pub mod json;
pub mod text;

use std::io;
use std::path::Path;

use crate::audit::{Audit, Finding, Options};
use crate::export::Loaded;
use crate::model::CasMailbox;
use crate::plan::Plan;

/// Everything a report shows.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The export folder audited.
    pub dir: &'a Path,
    /// The audit's options.
    pub options: &'a Options,
    /// The loaded export.
    pub loaded: &'a Loaded,
    /// The audit.
    pub audit: &'a Audit,
    /// The remediation plan, when a script was asked for.
    pub plan: Option<&'a Plan>,
}

/// A report format.
pub trait Renderer {
    /// Writes the report.
    fn render(&self, report: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()>;
}

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable summary and flagged-mailbox table.
    Text,
    /// One row per mailbox, spreadsheet-safe.
    Csv,
    /// `exoauth/audit-v1`.
    Json,
}

impl Format {
    /// The renderer for this format.
    pub fn renderer(self) -> &'static dyn Renderer {
        match self {
            Format::Text => &text::Text,
            Format::Csv => &csv::Csv,
            Format::Json => &json::Json,
        }
    }
}

/// A mailbox's identifiers for display, merged from its mailbox and user rows.
#[derive(Debug, Clone, Copy)]
pub struct MailboxView<'a> {
    /// The unique identifier (Guid, else object id, else SMTP address).
    pub identity: &'a str,
    /// Entra object id.
    pub external_directory_object_id: Option<&'a str>,
    /// UPN (from the user row, Get-EXOCasMailbox has none).
    pub user_principal_name: Option<&'a str>,
    /// Primary SMTP address.
    pub primary_smtp_address: Option<&'a str>,
    /// Display name, else name.
    pub display_name: Option<&'a str>,
    /// The mailbox row.
    pub mailbox: &'a CasMailbox,
}

impl<'a> Report<'a> {
    /// The display identifiers of a finding's mailbox.
    pub fn view(&self, f: &Finding) -> MailboxView<'a> {
        let s = &self.loaded.snapshot;
        let m = &s.mailboxes[f.mailbox];
        let u = s.user_of(f.mailbox).map(|u| &u.ids);
        let pick = |a: &'a Option<String>, b: Option<&'a Option<String>>| {
            a.as_deref().or_else(|| b.and_then(|b| b.as_deref()))
        };
        MailboxView {
            identity: m.ids.key(),
            external_directory_object_id: pick(
                &m.ids.external_directory_object_id,
                u.map(|u| &u.external_directory_object_id),
            ),
            user_principal_name: pick(
                &m.ids.user_principal_name,
                u.map(|u| &u.user_principal_name),
            ),
            primary_smtp_address: pick(
                &m.ids.primary_smtp_address,
                u.map(|u| &u.primary_smtp_address),
            ),
            display_name: pick(&m.ids.display_name, u.map(|u| &u.display_name))
                .or(m.ids.name.as_deref()),
            mailbox: m,
        }
    }
}

impl MailboxView<'_> {
    /// The best human label: UPN, SMTP address, display name, or identity.
    pub fn label(&self) -> &str {
        self.user_principal_name
            .or(self.primary_smtp_address)
            .or(self.display_name)
            .unwrap_or(self.identity)
    }
}

/// `pop: a, b; smtp: c` — the blockers of a finding in one cell.
pub fn blockers_cell(f: &Finding) -> String {
    f.verdicts()
        .filter(|(_, v)| !v.blockers.is_empty())
        .map(|(p, v)| {
            let codes: Vec<&str> = v.blockers.iter().map(|b| b.code.as_str()).collect();
            format!("{p}: {}", codes.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}
