//! The cmdlets exoauth reads and the columns it needs from each: one list, used by
//! the mappers, by the error messages and by the companion export script's test.
//!
//! Source: DESIGN.md section 3; property names from the cmdlet references
//! (Get-AuthenticationPolicy, Get-OrganizationConfig, Get-TransportConfig,
//! Get-EXOCasMailbox property sets, Get-User) summarised in research/domain.md §2.

use std::sync::Arc;

use super::{Environment, MapError};
use crate::input::Table;

/// A cmdlet whose output exoauth reads, identified by the file stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cmdlet {
    /// `Get-AuthenticationPolicy`.
    AuthenticationPolicy,
    /// `Get-OrganizationConfig`.
    OrganizationConfig,
    /// `Get-TransportConfig`.
    TransportConfig,
    /// `Get-EXOCasMailbox` / `Get-CASMailbox`.
    CasMailbox,
    /// `Get-User`.
    User,
    /// `Get-MgPolicyIdentitySecurityDefaultEnforcementPolicy` (optional).
    SecurityDefaults,
    /// `Get-MgIdentityConditionalAccessPolicy` (optional).
    ConditionalAccessPolicy,
}

/// A required column: any one of the alternatives satisfies it.
pub type Need = &'static [&'static str];

impl Cmdlet {
    /// Every cmdlet, in load order.
    pub const ALL: [Cmdlet; 7] = [
        Cmdlet::AuthenticationPolicy,
        Cmdlet::OrganizationConfig,
        Cmdlet::TransportConfig,
        Cmdlet::CasMailbox,
        Cmdlet::User,
        Cmdlet::SecurityDefaults,
        Cmdlet::ConditionalAccessPolicy,
    ];

    /// The file stem (`CasMailbox` for `CasMailbox.csv`).
    pub fn stem(self) -> &'static str {
        match self {
            Cmdlet::AuthenticationPolicy => "AuthenticationPolicy",
            Cmdlet::OrganizationConfig => "OrganizationConfig",
            Cmdlet::TransportConfig => "TransportConfig",
            Cmdlet::CasMailbox => "CasMailbox",
            Cmdlet::User => "User",
            Cmdlet::SecurityDefaults => "SecurityDefaults",
            Cmdlet::ConditionalAccessPolicy => "ConditionalAccessPolicy",
        }
    }

    /// The cmdlet that produces the file.
    pub fn produced_by(self) -> &'static str {
        match self {
            Cmdlet::AuthenticationPolicy => "Get-AuthenticationPolicy",
            Cmdlet::OrganizationConfig => "Get-OrganizationConfig",
            Cmdlet::TransportConfig => "Get-TransportConfig",
            Cmdlet::CasMailbox => "Get-EXOCasMailbox",
            Cmdlet::User => "Get-User",
            Cmdlet::SecurityDefaults => "Get-MgPolicyIdentitySecurityDefaultEnforcementPolicy",
            Cmdlet::ConditionalAccessPolicy => "Get-MgIdentityConditionalAccessPolicy",
        }
    }

    /// The cmdlet for a file stem, matched case-insensitively.
    pub fn from_stem(stem: &str) -> Option<Cmdlet> {
        Cmdlet::ALL.into_iter().find(|c| c.stem().eq_ignore_ascii_case(stem))
    }

    /// Columns without which the file cannot be used.
    pub fn required(self, env: Environment) -> &'static [Need] {
        use Environment::*;
        match (self, env) {
            (Cmdlet::AuthenticationPolicy, Online) => &[
                &["Name", "Identity"],
                &["AllowBasicAuthPop"],
                &["AllowBasicAuthImap"],
                &["AllowBasicAuthSmtp"],
            ],
            (Cmdlet::AuthenticationPolicy, OnPrem) => {
                &[&["Name", "Identity"], &["BlockLegacyAuthPop"], &["BlockLegacyAuthImap"]]
            }
            (Cmdlet::OrganizationConfig, _) => &[&["DefaultAuthenticationPolicy"]],
            (Cmdlet::TransportConfig, Online) => &[&["SmtpClientAuthenticationDisabled"]],
            (Cmdlet::TransportConfig, OnPrem) => &[],
            (Cmdlet::CasMailbox, _) => &[
                &["Guid", "ExternalDirectoryObjectId", "PrimarySmtpAddress", "Identity"],
                &["PopEnabled"],
                &["ImapEnabled"],
            ],
            (Cmdlet::User, _) => &[
                &["Guid", "ExternalDirectoryObjectId", "UserPrincipalName"],
                &["AuthenticationPolicy"],
                &["RecipientTypeDetails"],
            ],
            (Cmdlet::SecurityDefaults, _) => &[&["IsEnabled"]],
            (Cmdlet::ConditionalAccessPolicy, _) => {
                &[&["State"], &["Conditions"], &["GrantControls"]]
            }
        }
    }

    /// Columns read when present. An absent optional column is reported where it
    /// matters (for example SMTP AUTH on a mailbox becomes `input-missing`).
    pub fn optional(self, env: Environment) -> &'static [&'static str] {
        use Environment::*;
        match (self, env) {
            (Cmdlet::AuthenticationPolicy, _) => &["Name", "Identity", "Guid", "DistinguishedName"],
            (Cmdlet::OrganizationConfig, _) | (Cmdlet::TransportConfig, _) => &[],
            (Cmdlet::CasMailbox, Online) => &[
                "Guid",
                "ExternalDirectoryObjectId",
                "PrimarySmtpAddress",
                "Identity",
                "Name",
                "DisplayName",
                "SmtpClientAuthenticationDisabled",
            ],
            (Cmdlet::CasMailbox, OnPrem) => &[
                "Guid",
                "ExternalDirectoryObjectId",
                "PrimarySmtpAddress",
                "Identity",
                "Name",
                "DisplayName",
            ],
            (Cmdlet::User, Online) => &[
                "Guid",
                "ExternalDirectoryObjectId",
                "UserPrincipalName",
                "WindowsEmailAddress",
                "Identity",
                "Name",
                "DisplayName",
                "AccountDisabled",
                // Exported as DESIGN.md §3 lists it (when each user's tokens were
                // last revoked); no verdict reads it, so it is not kept.
                "STSRefreshTokensValidFrom",
            ],
            // STSRefreshTokensValidFrom is a cloud-only property.
            (Cmdlet::User, OnPrem) => &[
                "Guid",
                "ExternalDirectoryObjectId",
                "UserPrincipalName",
                "WindowsEmailAddress",
                "Identity",
                "Name",
                "DisplayName",
                "AccountDisabled",
            ],
            (Cmdlet::SecurityDefaults, _) => &[],
            (Cmdlet::ConditionalAccessPolicy, _) => &["DisplayName", "Id"],
        }
    }

    /// Every column exoauth reads from this cmdlet's output, in a stable order
    /// without duplicates: what the export script must select.
    pub fn columns(self, env: Environment) -> Vec<&'static str> {
        // Every policy switch, not only the audited ones: a policy variant is a
        // copy of its source (DESIGN.md §4), and a full export shows what it copies.
        let switches: &[&str] = match self {
            Cmdlet::AuthenticationPolicy => crate::model::policy::settable(env),
            _ => &[],
        };
        let mut out: Vec<&'static str> = Vec::new();
        for name in self
            .required(env)
            .iter()
            .flat_map(|need| need.iter())
            .chain(self.optional(env))
            .chain(switches)
        {
            if !out.contains(name) {
                out.push(name);
            }
        }
        out
    }

    /// True when a table has every required column of this cmdlet.
    fn satisfied_by(self, env: Environment, table: &Table) -> bool {
        self.satisfied(env, |n| table.column(n).is_some())
    }

    fn satisfied(self, env: Environment, has: impl Fn(&str) -> bool) -> bool {
        !self.required(env).is_empty()
            && self.required(env).iter().all(|need| need.iter().any(|n| has(n)))
    }

    /// The cmdlet whose output has these properties: the most specific one (most
    /// required columns) whose required columns are all present. Used to
    /// recognise the parts of a transcript.
    pub fn recognise(env: Environment, has: impl Fn(&str) -> bool) -> Option<Cmdlet> {
        Cmdlet::ALL.into_iter().filter(|c| c.satisfied(env, &has)).fold(
            None,
            |best: Option<Cmdlet>, c| match best {
                Some(b) if b.required(env).len() >= c.required(env).len() => Some(b),
                _ => Some(c),
            },
        )
    }

    /// The cmdlet a typed command runs (`Get-CASMailbox -ResultSize Unlimited | fl`),
    /// from its first word, ignoring case.
    pub fn from_command(command: &str) -> Option<Cmdlet> {
        let first = command.split_whitespace().next()?;
        let first = first.split('|').next().unwrap_or(first);
        Cmdlet::ALL.into_iter().find(|c| {
            c.produced_by().eq_ignore_ascii_case(first)
                || (*c == Cmdlet::CasMailbox && first.eq_ignore_ascii_case("Get-CASMailbox"))
        })
    }
}

/// Checks that `table` holds the required columns of `cmdlet`; the error lists all
/// that are missing and, when the columns fit another cmdlet, says which.
pub fn check(
    cmdlet: Cmdlet,
    env: Environment,
    file: &Arc<str>,
    table: &Table,
) -> Result<(), MapError> {
    let missing: Vec<String> = cmdlet
        .required(env)
        .iter()
        .filter(|need| need.iter().all(|n| table.column(n).is_none()))
        .map(|need| need.join(" or "))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // The most specific other cmdlet whose required columns are all present.
    let looks_like = Cmdlet::ALL
        .into_iter()
        .filter(|&other| other != cmdlet && other.satisfied_by(env, table))
        .max_by_key(|other| other.required(env).len())
        .map(|other| {
            format!(
                " this looks like {} output, not {};",
                other.produced_by(),
                cmdlet.produced_by()
            )
        })
        .unwrap_or_default();
    let hint = match (cmdlet, env) {
        (Cmdlet::AuthenticationPolicy, Environment::Online)
            if table.columns.iter().any(|c| c.starts_with("BlockLegacyAuth")) =>
        {
            " the policies carry BlockLegacyAuth* switches, so this is Exchange Server: run with --environment onprem"
        }
        (Cmdlet::AuthenticationPolicy, Environment::OnPrem)
            if table.columns.iter().any(|c| c.starts_with("AllowBasicAuth")) =>
        {
            " the policies carry AllowBasicAuth* switches, so this is Exchange Online: run with --environment online"
        }
        _ => " re-export it with the companion script scripts/Export-ExoAuthInventory.ps1",
    };
    Err(MapError {
        file: file.clone(),
        message: format!(
            "missing required column{} {} for {};{looks_like}{hint}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            cmdlet.produced_by(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cols: &[&str]) -> Table {
        Table { columns: cols.iter().map(|c| c.to_string()).collect(), rows: vec![] }
    }

    #[test]
    fn stems_match_case_insensitively() {
        assert_eq!(Cmdlet::from_stem("casmailbox"), Some(Cmdlet::CasMailbox));
        assert_eq!(Cmdlet::from_stem("Mailbox"), None);
    }

    #[test]
    fn missing_columns_are_listed_together() {
        let err =
            check(Cmdlet::User, Environment::Online, &Arc::from("User.csv"), &table(&["Name"]))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "User.csv: missing required columns Guid or ExternalDirectoryObjectId or UserPrincipalName, AuthenticationPolicy, RecipientTypeDetails for Get-User; re-export it with the companion script scripts/Export-ExoAuthInventory.ps1"
        );
    }

    #[test]
    fn wrong_cmdlet_is_named() {
        let t = table(&["Guid", "PopEnabled", "ImapEnabled", "Name"]);
        let err = check(Cmdlet::User, Environment::Online, &Arc::from("User.csv"), &t).unwrap_err();
        assert!(
            err.message.contains("this looks like Get-EXOCasMailbox output, not Get-User"),
            "{err}"
        );
    }

    #[test]
    fn property_names_are_case_insensitive() {
        let t = table(&["guid", "popenabled", "IMAPENABLED"]);
        assert!(check(Cmdlet::CasMailbox, Environment::Online, &Arc::from("c"), &t).is_ok());
    }

    #[test]
    fn parts_are_recognised_by_their_columns() {
        let has = |cols: &'static [&'static str]| {
            move |n: &str| cols.iter().any(|c| c.eq_ignore_ascii_case(n))
        };
        let env = Environment::Online;
        // Get-CASMailbox | fl also has SmtpClientAuthenticationDisabled: the more
        // specific CasMailbox wins over TransportConfig.
        assert_eq!(
            Cmdlet::recognise(
                env,
                has(&["Guid", "PopEnabled", "ImapEnabled", "SmtpClientAuthenticationDisabled"])
            ),
            Some(Cmdlet::CasMailbox)
        );
        assert_eq!(
            Cmdlet::recognise(env, has(&["SmtpClientAuthenticationDisabled", "MaxSendSize"])),
            Some(Cmdlet::TransportConfig)
        );
        assert_eq!(Cmdlet::recognise(env, has(&["Name", "RecipientType"])), None);
        assert_eq!(
            Cmdlet::from_command("get-casmailbox -ResultSize Unlimited | fl"),
            Some(Cmdlet::CasMailbox)
        );
        assert_eq!(Cmdlet::from_command("Get-User|ft"), Some(Cmdlet::User));
        assert_eq!(Cmdlet::from_command("Get-Mailbox"), None);
    }

    #[test]
    fn policy_columns_hold_every_settable_switch() {
        for env in [Environment::Online, Environment::OnPrem] {
            let columns = Cmdlet::AuthenticationPolicy.columns(env);
            for switch in crate::model::policy::settable(env) {
                assert!(columns.contains(switch), "{env:?}: {switch} is not exported");
            }
        }
    }

    #[test]
    fn columns_are_unique() {
        let cols = Cmdlet::User.columns(Environment::Online);
        assert_eq!(cols.len(), cols.iter().collect::<std::collections::HashSet<_>>().len());
        assert!(cols.contains(&"AuthenticationPolicy"));
    }
}
