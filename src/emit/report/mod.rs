//! Report renderers, one file per format behind one small trait (as hyperfine's
//! exporters are), and the few views of the findings that several formats share:
//! the tenant facts, the service timeline, the blockers of a flagged mailbox with
//! their fixes.

pub mod csv;
pub mod groups;
pub mod html;
pub mod json;
pub mod markdown;
pub mod readiness;
pub mod text;

use std::io;
use std::path::Path;

use crate::audit::{
    Advisory, Audit, Blocker, Code, Finding, Options, ProtocolVerdict, Verdict, Want,
};
use crate::load::Loaded;
use crate::model::entra::CaState;
use crate::model::{CasMailbox, Environment, Id, Ids, MailboxRef, Protocol, Setting, Snapshot};
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
    pub audit: &'a Audit<'a>,
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
    /// `exoauth/audit-v2`.
    Json,
    /// GitHub-flavoured Markdown, for wikis and tickets.
    Markdown,
    /// One self-contained HTML page with charts.
    Html,
}

impl Format {
    /// The renderer for this format.
    pub fn renderer(self) -> &'static dyn Renderer {
        match self {
            Format::Text => &text::Text { color: false },
            Format::Csv => &csv::Csv,
            Format::Json => &json::Json,
            Format::Markdown => &markdown::Markdown,
            Format::Html => &html::Html,
        }
    }

    /// True when the report lists the input's warnings and rejected rows; the
    /// CSV report, one row per mailbox, has no place for them.
    pub fn lists_input_problems(self) -> bool {
        self != Format::Csv
    }

    /// True when the report records its inputs' SHA-256 digests (its list of
    /// inputs, and of sign-in logs read); the text and CSV reports have no
    /// place for them.
    pub fn records_digests(self) -> bool {
        match self {
            Format::Text | Format::Csv => false,
            Format::Json | Format::Markdown | Format::Html => true,
        }
    }
}

/// A mailbox's identifiers for display, merged from its mailbox and user rows.
#[derive(Debug)]
pub struct MailboxView<'a> {
    /// The mailbox row.
    row: MailboxRef<'a>,
    /// Its user's identity columns.
    user: Option<&'a Ids>,
}

impl<'a> Report<'a> {
    /// The display identifiers of a finding's mailbox.
    pub fn view(&self, f: &Finding) -> MailboxView<'a> {
        self.view_row(f, self.loaded.snapshot.mailbox(f.mailbox))
    }

    /// [`Report::view`] of a finding whose row was read with it
    /// ([`crate::audit::Audit::findings_of`]).
    pub fn view_row(&self, f: &Finding, row: MailboxRef<'a>) -> MailboxView<'a> {
        MailboxView::new(&self.loaded.snapshot, f, row)
    }
}

impl<'a> MailboxView<'a> {
    /// The view of a finding of `s` whose mailbox row is `row`.
    pub fn new(s: &'a Snapshot, f: &Finding, row: MailboxRef<'a>) -> MailboxView<'a> {
        MailboxView { row, user: s.user_of(f.mailbox).map(|u| &u.ids) }
    }

    /// The mailbox row.
    pub fn mailbox(&self) -> &CasMailbox {
        &self.row
    }

    /// The mailbox's identifier `field`, else its user's.
    fn pick(&self, field: usize) -> Option<Id<'_>> {
        self.row.ids.get(field).or_else(|| self.user.and_then(|u| u.get(field)))
    }

    /// The unique identifier (Guid, else object id, else SMTP address).
    pub fn identity(&self) -> Id<'_> {
        self.row.ids.key()
    }

    /// Entra object id.
    pub fn external_directory_object_id(&self) -> Option<Id<'_>> {
        self.pick(Ids::EXTERNAL_DIRECTORY_OBJECT_ID)
    }

    /// UPN (from the user row, Get-EXOCasMailbox has none).
    pub fn user_principal_name(&self) -> Option<Id<'_>> {
        self.pick(Ids::USER_PRINCIPAL_NAME)
    }

    /// Primary SMTP address.
    pub fn primary_smtp_address(&self) -> Option<Id<'_>> {
        self.pick(Ids::PRIMARY_SMTP_ADDRESS)
    }

    /// Display name, else name.
    pub fn display_name(&self) -> Option<Id<'_>> {
        self.pick(Ids::DISPLAY_NAME).or(self.row.ids.name())
    }

    /// The best human label: UPN, SMTP address, display name, or identity.
    pub fn label(&self) -> Id<'_> {
        self.user_principal_name()
            .or(self.primary_smtp_address())
            .or(self.display_name())
            .unwrap_or(self.identity())
    }
}

/// An input's SHA-256 as the human reports show it. A run that writes one of
/// them makes every digest, so "not made" only shows a caller that asked for
/// none ([`crate::load::Digests::Skipped`]).
pub fn digest(sha256: Option<&str>) -> &str {
    sha256.unwrap_or("not made")
}

/// `pop: a, b; smtp: c` — the blockers of a finding in one cell.
pub fn blockers_cell(f: &Finding) -> String {
    let mut cell = String::new();
    write_blockers_cell(f, &mut cell);
    cell
}

/// [`blockers_cell`] appended to `cell` (a buffer used row after row).
pub fn write_blockers_cell(f: &Finding, cell: &mut String) {
    let mut protocols = f.verdicts().filter(|(_, v)| !v.blockers.is_empty());
    if let Some((p, v)) = protocols.next() {
        write_codes(p, v, cell);
        for (p, v) in protocols {
            cell.push_str("; ");
            write_codes(p, v, cell);
        }
    }
}

/// `pop: a, b` for one protocol's blockers: each code once, so two missing
/// facts are one `input-missing` here (the JSON report names each setting).
fn write_codes(p: Protocol, v: &ProtocolVerdict, cell: &mut String) {
    cell.push_str(p.as_str());
    cell.push(':');
    let mut last = None;
    for code in v.blockers.iter().map(|b| b.code) {
        if last != Some(code) {
            cell.push_str(if last.is_none() { " " } else { ", " });
            cell.push_str(code.as_str());
            last = Some(code);
        }
    }
}

/// True for the service timeline advisories (`service-retired`,
/// `service-default-off`), which every format shows first and prominently.
pub fn is_service(a: &Advisory) -> bool {
    a.code.starts_with("service-")
}

/// `pop, imap` for a list of protocols.
pub fn protocol_list(protocols: &[Protocol]) -> String {
    protocols.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
}

/// The blocker codes with their counts, most common first (ties by code order).
pub fn top_blockers(r: &Report<'_>) -> Vec<(Code, usize)> {
    let mut by: Vec<(Code, usize)> = r.audit.summary.by_blocker.iter().collect();
    by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by
}

/// Tenant-wide facts, in words, for the summary of the Markdown and HTML reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantFacts {
    /// The org default authentication policy (`None`: no default, or not exported).
    pub default_policy: Option<String>,
    /// `Get-TransportConfig` `SmtpClientAuthenticationDisabled`, in words.
    pub tenant_smtp_auth: &'static str,
    /// Entra security defaults, in words.
    pub security_defaults: &'static str,
    /// Conditional Access, in words (policies exported, enforced legacy blocks).
    pub conditional_access: String,
}

impl TenantFacts {
    /// The facts of the report's snapshot.
    pub fn of(r: &Report<'_>) -> TenantFacts {
        let s = &r.loaded.snapshot;
        let default_policy = s.org.as_ref().and_then(|o| o.default_policy.clone());
        let tenant_smtp_auth = match (&s.transport, r.options.environment) {
            (_, Environment::OnPrem) => "not applicable on premises (receive connectors)",
            (None, _) => "not exported",
            (Some(t), _) => match t.smtp_client_auth_disabled {
                Setting::Value(true) => "disabled for mailboxes that inherit",
                Setting::Value(false) => "enabled for mailboxes that inherit",
                Setting::Null => "blank (enabled for mailboxes that inherit)",
                Setting::NotExported => "not exported",
            },
        };
        let security_defaults = match s.security_defaults.as_ref().map(|d| d.is_enabled) {
            None | Some(Setting::NotExported) => "not exported",
            Some(Setting::Value(true)) => "enabled (blocks legacy authentication)",
            Some(Setting::Value(false)) => "disabled",
            Some(Setting::Null) => "blank",
        };
        let conditional_access = match &s.conditional_access {
            None => "not exported".to_owned(),
            Some(ps) => {
                let blocking = ps
                    .iter()
                    .filter(|p| p.state == CaState::Enabled && p.blocks_legacy_auth())
                    .count();
                format!(
                    "{} polic{} exported, {blocking} enabled that block{} legacy authentication",
                    ps.len(),
                    if ps.len() == 1 { "y" } else { "ies" },
                    if blocking == 1 { "s" } else { "" }
                )
            }
        };
        TenantFacts { default_policy, tenant_smtp_auth, security_defaults, conditional_access }
    }
}

/// One line of a flagged mailbox's detail: the protocols it concerns, the blocker
/// (`None` when nothing blocks, in the block direction) and what fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixRow<'a> {
    /// The protocols this line is about (one blocker can apply to several).
    pub protocols: Vec<Protocol>,
    /// The verdict of those protocols.
    pub verdict: Verdict,
    /// What blocks (or makes the verdict unknown); `None`: nothing blocks.
    pub blocker: Option<&'a Blocker>,
    /// What to do, in words (the `--script` writes the exact commands).
    pub fix: String,
}

/// The lines that explain why a flagged mailbox is flagged and what fixes it, in
/// the report's direction. The same blocker (code, setting, value and source) on
/// several protocols is one line.
///
/// In the allow direction: every blocker of every protocol that is not allowed.
/// In the block direction: every allowed protocol (nothing blocks it, so the fix
/// is to block it), and the blockers that make a protocol unknown.
pub fn fix_rows<'a>(r: &Report<'_>, f: &'a Finding) -> Vec<FixRow<'a>> {
    let env = r.options.environment;
    let mut rows: Vec<FixRow<'a>> = Vec::new();
    for (p, v) in f.verdicts() {
        let relevant = match r.options.want {
            Want::Allow => v.verdict != Verdict::Allowed,
            Want::Block => v.verdict != Verdict::Blocked,
        };
        if !relevant {
            continue;
        }
        if v.blockers.is_empty() {
            rows.push(FixRow {
                protocols: vec![p],
                verdict: v.verdict,
                blocker: None,
                fix: block_fix(&[p], env),
            });
        }
        for b in &v.blockers {
            match rows.iter_mut().find(|row| row.blocker == Some(b) && row.verdict == v.verdict) {
                Some(row) => row.protocols.push(p),
                None => rows.push(FixRow {
                    protocols: vec![p],
                    verdict: v.verdict,
                    blocker: Some(b),
                    fix: String::new(),
                }),
            }
        }
    }
    for row in &mut rows {
        if let Some(b) = row.blocker {
            row.fix = fix(b.code, &row.protocols, env);
        }
    }
    rows
}

/// The policy switches for the protocols, with the value that allows (`allow`
/// true) or blocks basic auth: `-AllowBasicAuthPop:$true`, on premises
/// `-BlockLegacyAuthPop:$false`.
fn switches(protocols: &[Protocol], env: Environment, allow: bool) -> String {
    let (prefix, value) = match env {
        Environment::Online => ("AllowBasicAuth", allow),
        Environment::OnPrem => ("BlockLegacyAuth", !allow),
    };
    protocols
        .iter()
        .map(|p| format!("-{prefix}{}:${value}", p.policy_suffix()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What turns a blocker around in the allow direction, in words. The exact,
/// safely quoted commands are the `--script`'s job (DESIGN.md §2, "fix" column).
pub fn fix(code: Code, protocols: &[Protocol], env: Environment) -> String {
    let mailbox_switch = |p: &Protocol| match p {
        Protocol::Pop => "-PopEnabled $true",
        Protocol::Imap => "-ImapEnabled $true",
        Protocol::Smtp => "-SmtpClientAuthenticationDisabled $false",
    };
    match code {
        Code::MailboxProtocolDisabled | Code::MailboxSmtpAuthDisabled => format!(
            "Set-CASMailbox {}",
            protocols.iter().map(mailbox_switch).collect::<Vec<_>>().join(" ")
        ),
        Code::TenantSmtpAuthDisabled => "a per-mailbox exception: Set-CASMailbox -SmtpClientAuthenticationDisabled $false (or Set-TransportConfig -SmtpClientAuthenticationDisabled $false for the whole tenant)".into(),
        Code::UserPolicyBlocks => format!(
            "assign a policy with {} (--script creates a variant of this one), then Set-User -STSRefreshTokensValidFrom",
            switches(protocols, env, true)
        ),
        Code::DefaultPolicyBlocks => format!(
            "assign the user a policy with {} (a user policy replaces the org default), then Set-User -STSRefreshTokensValidFrom",
            switches(protocols, env, true)
        ),
        Code::SecurityDefaultsEnabled => "manual, in Entra: security defaults block legacy authentication for the whole tenant".into(),
        Code::ConditionalAccessBlocks => "manual, in Entra: exclude the user from this Conditional Access policy if basic auth is really needed".into(),
        Code::PolicyNotFound => "re-export Get-AuthenticationPolicy (or fix the assignment) and re-run exoauth".into(),
        Code::InputMissing => "re-export the missing setting and re-run exoauth".into(),
        Code::AccountDisabled => "none: the account cannot sign in; enable it first if it really needs basic auth".into(),
    }
}

/// What blocks basic auth on protocols that nothing blocks yet (the block
/// direction), in words.
pub fn block_fix(protocols: &[Protocol], env: Environment) -> String {
    if env == Environment::OnPrem && protocols.contains(&Protocol::Smtp) {
        return "restrict basic authentication on the client receive connectors (Set-ReceiveConnector -AuthMechanism)".into();
    }
    let mailbox: Vec<&str> = protocols
        .iter()
        .map(|p| match p {
            Protocol::Pop => "-PopEnabled $false",
            Protocol::Imap => "-ImapEnabled $false",
            Protocol::Smtp => "-SmtpClientAuthenticationDisabled $true",
        })
        .collect();
    format!(
        "Set-CASMailbox {}, or assign a policy with {}",
        mailbox.join(" "),
        switches(protocols, env, false)
    )
}
