//! The blocker rules of DESIGN.md §2, one function per layer.
//!
//! Sources (research/domain.md):
//! - policies and precedence, §1.1: "the authentication policies assigned to users
//!   take precedence over the default policy" (Exchange docs, disable basic
//!   authentication in Exchange Online); no policy at all blocks nothing;
//!   `AllowBasicAuth*` False blocks (New-AuthenticationPolicy: "By default, Basic
//!   authentication is blocked"); on premises `BlockLegacyAuth*` True blocks,
//!   default None (New-AuthenticationPolicy, Exchange 2019 / SE).
//! - mailbox switches, §1.2: `PopEnabled`/`ImapEnabled` False disables the protocol
//!   (Set-CASMailbox); `SmtpClientAuthenticationDisabled` True disables, False
//!   enables, blank inherits Get-TransportConfig, "The mailbox setting takes
//!   precedence over the organization setting" (authenticated client SMTP
//!   submission); both exist only in Exchange Online.
//! - Entra security defaults, §1.3: "all authentication requests made by an older
//!   protocol will be blocked".
//! - `AccountDisabled`, §1.5: an account that cannot sign in cannot use basic auth
//!   (inferred; no Microsoft statement).

use crate::input::Source;
use crate::model::{
    AuthPolicy, CasMailbox, Environment, PerProtocol, Protocol, Setting, Snapshot, User,
};

use super::{Blocker, Code, Finding, Options, PolicySource, ProtocolVerdict, Verdict, Want};

/// The effective authentication policy of a mailbox's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effective<'a> {
    /// Neither a user policy nor an org default: policies block nothing.
    None,
    /// A resolved policy.
    Policy {
        /// The policy.
        policy: &'a AuthPolicy,
        /// User assignment or org default.
        from: PolicySource,
    },
    /// A policy is referenced but not in the policy export.
    NotFound {
        /// The reference as exported.
        reference: &'a str,
        /// User assignment or org default.
        from: PolicySource,
        /// The assigning row.
        source: Source,
    },
    /// A fact needed to know the policy was not exported.
    Missing {
        /// The missing setting.
        setting: &'static str,
        /// What was found instead.
        value: String,
        /// The row that made the fact necessary.
        source: Source,
    },
}

impl Effective<'_> {
    /// The policy name for reports.
    pub fn name(&self) -> Option<String> {
        match self {
            Effective::Policy { policy, .. } => Some(policy.name.clone()),
            Effective::NotFound { reference, .. } => Some((*reference).to_owned()),
            Effective::None | Effective::Missing { .. } => None,
        }
    }

    /// Where the policy came from.
    pub fn source_kind(&self) -> PolicySource {
        match self {
            Effective::Policy { from, .. } | Effective::NotFound { from, .. } => *from,
            Effective::None => PolicySource::None,
            Effective::Missing { .. } => PolicySource::Unknown,
        }
    }
}

/// Works out a mailbox's effective policy: the user's assignment replaces the org
/// default; with neither there is none.
pub fn effective_policy<'a>(
    s: &'a Snapshot,
    mailbox: &CasMailbox,
    user: Option<&'a User>,
) -> Effective<'a> {
    let Some(user) = user else {
        let value = if s.users.is_some() {
            "(no Get-User row matches this mailbox)"
        } else {
            "(not exported)"
        };
        return Effective::Missing {
            setting: "User.AuthenticationPolicy",
            value: value.into(),
            source: mailbox.source.clone(),
        };
    };
    let (reference, from, source) = match (&user.authentication_policy, &s.org) {
        (Some(r), _) => (r.as_str(), PolicySource::User, &user.source),
        (None, Some(org)) => match &org.default_policy {
            Some(r) => (r.as_str(), PolicySource::OrgDefault, &org.source),
            None => return Effective::None,
        },
        (None, None) => {
            return Effective::Missing {
                setting: "OrganizationConfig.DefaultAuthenticationPolicy",
                value: "(not exported)".into(),
                source: user.source.clone(),
            };
        }
    };
    if s.policies.is_none() {
        return Effective::Missing {
            setting: "AuthenticationPolicy",
            value: reference.into(),
            source: source.clone(),
        };
    }
    match s.resolve_policy(reference) {
        Some(policy) => Effective::Policy { policy, from },
        None => Effective::NotFound { reference, from, source: source.clone() },
    }
}

/// Audits one mailbox for every in-scope protocol.
pub fn evaluate(s: &Snapshot, i: usize, options: &Options) -> Finding {
    let mailbox = &s.mailboxes[i];
    let user = s.user_of(i);
    let effective = effective_policy(s, mailbox, user);
    let mut protocols = PerProtocol([None, None, None]);
    for &p in &options.protocols {
        let mut blockers = Vec::new();
        account(user, &mut blockers);
        mailbox_switches(s, mailbox, p, &mut blockers);
        policy(&effective, p, &mut blockers);
        security_defaults(s, &mut blockers);
        protocols[p] = Some(ProtocolVerdict::from_blockers(blockers));
    }
    let verdicts = || protocols.0.iter().flatten().map(|v| v.verdict);
    let flagged = match options.want {
        Want::Allow => verdicts().any(|v| v != Verdict::Allowed),
        Want::Block => verdicts().any(|v| v == Verdict::Allowed),
    };
    Finding {
        mailbox: i,
        effective_policy: effective.name(),
        policy_source: effective.source_kind(),
        recipient_type: super::scope::recipient_type(s, i).map(str::to_owned),
        protocols,
        flagged,
    }
}

fn blocker(
    code: Code,
    setting: impl Into<String>,
    value: impl Into<String>,
    source: &Source,
) -> Blocker {
    Blocker { code, setting: setting.into(), value: value.into(), source: source.clone() }
}

/// `account-disabled`: the account cannot sign in at all.
fn account(user: Option<&User>, out: &mut Vec<Blocker>) {
    if let Some(u) = user.filter(|u| u.account_disabled == Setting::Value(true)) {
        out.push(blocker(Code::AccountDisabled, "User.AccountDisabled", "True", &u.source));
    }
}

/// `mailbox-protocol-disabled`, `mailbox-smtp-auth-disabled`,
/// `tenant-smtp-auth-disabled`, and `input-missing` for absent switches.
fn mailbox_switches(s: &Snapshot, m: &CasMailbox, p: Protocol, out: &mut Vec<Blocker>) {
    let (setting, name) = match p {
        Protocol::Pop => (m.pop_enabled, "CasMailbox.PopEnabled"),
        Protocol::Imap => (m.imap_enabled, "CasMailbox.ImapEnabled"),
        Protocol::Smtp if s.environment == Environment::OnPrem => return,
        Protocol::Smtp => return smtp_switches(s, m, out),
    };
    match setting {
        Setting::Value(true) => {}
        Setting::Value(false) => {
            out.push(blocker(Code::MailboxProtocolDisabled, name, "False", &m.source))
        }
        Setting::Null | Setting::NotExported => {
            out.push(blocker(Code::InputMissing, name, setting.display(), &m.source))
        }
    }
}

/// SMTP AUTH: the mailbox value wins; blank inherits the tenant switch. An absent
/// column is `input-missing`, never "inherit" (Get-EXOCasMailbox omits it unless
/// asked; see competitors.md, PS365).
fn smtp_switches(s: &Snapshot, m: &CasMailbox, out: &mut Vec<Blocker>) {
    const MAILBOX: &str = "CasMailbox.SmtpClientAuthenticationDisabled";
    const TENANT: &str = "TransportConfig.SmtpClientAuthenticationDisabled";
    match m.smtp_client_auth_disabled {
        Setting::Value(true) => {
            out.push(blocker(Code::MailboxSmtpAuthDisabled, MAILBOX, "True", &m.source))
        }
        Setting::Value(false) => {}
        Setting::NotExported => {
            out.push(blocker(Code::InputMissing, MAILBOX, "(not exported)", &m.source))
        }
        Setting::Null => match &s.transport {
            None => out.push(blocker(Code::InputMissing, TENANT, "(not exported)", &m.source)),
            Some(t) => match t.smtp_client_auth_disabled {
                Setting::Value(true) => {
                    out.push(blocker(Code::TenantSmtpAuthDisabled, TENANT, "True", &t.source))
                }
                Setting::Value(false) => {}
                other => out.push(blocker(Code::InputMissing, TENANT, other.display(), &t.source)),
            },
        },
    }
}

/// `user-policy-blocks`, `default-policy-blocks`, `policy-not-found`, and
/// `input-missing` when the policy cannot be known.
fn policy(effective: &Effective<'_>, p: Protocol, out: &mut Vec<Blocker>) {
    match effective {
        Effective::None => {}
        Effective::Missing { setting, value, source } => {
            out.push(blocker(Code::InputMissing, *setting, value, source))
        }
        Effective::NotFound { reference, from, source } => {
            let setting = match from {
                PolicySource::OrgDefault => "OrganizationConfig.DefaultAuthenticationPolicy",
                _ => "User.AuthenticationPolicy",
            };
            out.push(blocker(Code::PolicyNotFound, setting, *reference, source));
        }
        Effective::Policy { policy, from } => {
            let code = match from {
                PolicySource::OrgDefault => Code::DefaultPolicyBlocks,
                _ => Code::UserPolicyBlocks,
            };
            let switch = policy.switches[p];
            let setting =
                || format!("AuthenticationPolicy[{}].{}", policy.name, policy.switch_name(p));
            match (policy.environment, p, switch) {
                (Environment::OnPrem, Protocol::Smtp, _) => {} // no SMTP switch on premises
                (Environment::Online, _, Setting::Value(false))
                | (Environment::OnPrem, _, Setting::Value(true)) => {
                    out.push(blocker(code, setting(), switch.display(), &policy.source))
                }
                (Environment::Online, _, Setting::Value(true))
                | (Environment::OnPrem, _, Setting::Value(false)) => {}
                (Environment::OnPrem, _, Setting::Null) => {} // blank: the default, blocks nothing
                (_, _, Setting::Null | Setting::NotExported) => out.push(blocker(
                    Code::InputMissing,
                    setting(),
                    switch.display(),
                    &policy.source,
                )),
            }
        }
    }
}

/// `security-defaults-enabled`: Entra blocks every legacy-auth request.
fn security_defaults(s: &Snapshot, out: &mut Vec<Blocker>) {
    if s.environment == Environment::Online {
        if let Some(sd) =
            s.security_defaults.as_ref().filter(|sd| sd.is_enabled == Setting::Value(true))
        {
            out.push(blocker(
                Code::SecurityDefaultsEnabled,
                "SecurityDefaults.IsEnabled",
                "True",
                &sd.source,
            ));
        }
    }
}
