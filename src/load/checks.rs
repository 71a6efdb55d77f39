//! Warnings about what the export lacks: missing files, columns not exported,
//! a likely `-ResultSize` cut, and Format-Table cells cut to fit the console.

use std::sync::Arc;

use crate::input::{self, Rejection, Warning};
use crate::model::columns::Cmdlet;
use crate::model::{self, Environment, Snapshot};

/// One warning naming the export files that are missing *and* that some verdict
/// needed (each then says `input-missing`), with what each would have decided.
/// A file nothing needed (no policies, when no user has one) is not named.
pub(super) fn missing_files(s: &Snapshot) -> Option<Warning> {
    let users = s.users.as_deref();
    let needs_policies = users.is_none_or(|u| u.iter().any(|u| u.authentication_policy.is_some()))
        || s.org.as_ref().is_some_and(|o| o.default_policy.is_some());
    let needs_org = users.is_none_or(|u| u.iter().any(|u| u.authentication_policy.is_none()));
    // Only asked when the file is missing: it reads the mailboxes (again, for a
    // streamed CasMailbox.csv) until one inherits the tenant switch.
    let needs_transport = || {
        s.environment == Environment::Online
            && s.mailboxes().iter().any(|m| m.smtp_client_auth_disabled == model::Setting::Null)
    };
    let mut missing = Vec::new();
    if users.is_none() {
        missing.push("User (each user's assigned authentication policy, mailbox type and disabled state: without it every mailbox's policy is unknown)");
    }
    if s.policies.is_none() && needs_policies {
        missing.push("AuthenticationPolicy (which protocols each policy allows)");
    }
    if s.org.is_none() && needs_org {
        missing.push("OrganizationConfig (the org default policy, for users without one)");
    }
    if s.transport.is_none() && needs_transport() {
        missing
            .push("TransportConfig (the tenant SMTP AUTH switch, for mailboxes that inherit it)");
    }
    if missing.is_empty() || s.mailboxes().is_empty() {
        return None;
    }
    Some(Warning {
        code: "files-missing",
        source: None,
        message: format!(
            "{} export file{} missing, so every verdict that depends on {} is unknown (input-missing): {}; export {} too (scripts/Export-ExoAuthInventory.ps1 writes the whole folder)",
            missing.len(),
            if missing.len() == 1 { " is" } else { "s are" },
            if missing.len() == 1 { "it" } else { "them" },
            missing.join("; "),
            if missing.len() == 1 { "it" } else { "them" },
        ),
    })
}

/// Rejects the rows whose Format-Table cell in a column exoauth reads was cut to
/// fit the console: the value is lost, and a cut identity or policy name must
/// never be matched or written into a script as if it were whole.
pub(super) fn reject_truncated(
    cmdlet: Cmdlet,
    environment: Environment,
    file: &Arc<str>,
    parsed: &mut input::Parsed,
) {
    let mut cut: Vec<(usize, &str)> = parsed
        .truncated
        .iter()
        .filter(|(_, col)| rejects_cut(cmdlet, environment, col))
        .map(|(line, col)| (*line, col.as_str()))
        .collect();
    cut.dedup_by_key(|(line, _)| *line);
    if cut.is_empty() {
        return;
    }
    let lines: std::collections::HashSet<usize> = cut.iter().map(|(line, _)| *line).collect();
    parsed.table.rows.retain(|r| !lines.contains(&r.line));
    for (line, col) in cut {
        parsed.rejected.push(Rejection {
            source: input::Source { file: crate::model::Text::new(file), line },
            reason: format!(
                "{col} was cut by Format-Table to fit the console, so the row cannot be used; re-export with `Export-Csv -NoTypeInformation -Encoding UTF8`"
            ),
        });
    }
}

/// Whether a row whose Format-Table cell in `column` was cut is rejected
/// ([`reject_truncated`]): exoauth reads the column.
pub(super) fn rejects_cut(cmdlet: Cmdlet, environment: Environment, column: &str) -> bool {
    cmdlet.columns(environment).iter().any(|r| r.eq_ignore_ascii_case(column))
}

/// Whole-file warnings: a likely `-ResultSize` cut and optional columns that were
/// not exported.
pub(super) fn file_warnings(
    cmdlet: Cmdlet,
    environment: Environment,
    file: &Arc<str>,
    table: &input::Table,
    rows: usize,
    warnings: &mut Vec<Warning>,
) {
    let mut warn = |code, message: String| {
        warnings.push(Warning { code, source: None, message: format!("{file}: {message}") })
    };
    if matches!(cmdlet, Cmdlet::CasMailbox | Cmdlet::User) && rows == 1000 {
        warn(
            "result-size-cut",
            format!(
                "exactly 1,000 rows: almost certainly cut by {}'s default -ResultSize 1000, so mailboxes are missing; re-export with -ResultSize Unlimited",
                cmdlet.produced_by()
            ),
        );
    }
    if cmdlet == Cmdlet::CasMailbox
        && environment == Environment::Online
        && table.column("SmtpClientAuthenticationDisabled").is_none()
    {
        warn(
            "column-not-exported",
            "no SmtpClientAuthenticationDisabled column: Get-EXOCasMailbox leaves it out unless asked, so every SMTP verdict is unknown (input-missing); re-export with -Properties SmtpClientAuthenticationDisabled".into(),
        );
    }
    if cmdlet == Cmdlet::User && table.column("AccountDisabled").is_none() {
        warn(
            "column-not-exported",
            "no AccountDisabled column: disabled accounts cannot be recognised; re-export Get-User with all properties".into(),
        );
    }
}
