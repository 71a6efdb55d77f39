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
use crate::model::entra::{CaPolicy, CaState, Reach};
use crate::model::{
    AuthPolicy, CasMailbox, Environment, PerProtocol, Protocol, Setting, Snapshot, User,
};

use super::{
    Blocker, Code, Finding, Options, PolicySource, ProtocolVerdict, Text, Verdict, Want, intern,
};

/// The effective authentication policy of a mailbox's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effective<'a> {
    /// Neither a user policy nor an org default: policies block nothing.
    None,
    /// A resolved policy.
    Policy {
        /// The policy.
        policy: &'a AuthPolicy,
        /// Its position in `Snapshot::policies`.
        index: usize,
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
        setting: &'static &'static str,
        /// What was found instead.
        value: String,
        /// The row that made the fact necessary.
        source: Source,
    },
}

impl Effective<'_> {
    /// The policy name for reports.
    pub fn name(&self, s: &Snapshot) -> Option<Text> {
        match self {
            Effective::Policy { index, .. } => Some(s.policy_name(*index)),
            Effective::NotFound { reference, .. } => Some(intern(reference)),
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
            setting: &"User.AuthenticationPolicy",
            value: value.into(),
            source: mailbox.source,
        };
    };
    let (reference, from, source) = match (&user.authentication_policy, &s.org) {
        (Some(r), _) => (&**r, PolicySource::User, &user.source),
        (None, Some(org)) => match &org.default_policy {
            Some(r) => (r.as_str(), PolicySource::OrgDefault, &org.source),
            None => return Effective::None,
        },
        (None, None) => {
            return Effective::Missing {
                setting: &"OrganizationConfig.DefaultAuthenticationPolicy",
                value: "(not exported)".into(),
                source: user.source,
            };
        }
    };
    if s.policies.is_none() {
        return Effective::Missing {
            setting: &"AuthenticationPolicy",
            value: reference.into(),
            source: *source,
        };
    }
    let position = match (from, user.authentication_policy) {
        (PolicySource::User, Some(r)) => s.user_policy_position(r),
        _ => s.default_policy_position(reference),
    };
    match s.policies.as_deref().zip(position) {
        Some((policies, index)) => Effective::Policy { policy: &policies[index], index, from },
        None => Effective::NotFound { reference, from, source: *source },
    }
}

/// Audits one mailbox for every in-scope protocol.
pub fn evaluate(s: &Snapshot, i: usize, options: &Options) -> Finding {
    evaluate_row(s, i, &s.mailbox(i), options)
}

/// [`evaluate`] for mailbox `i` whose row (read once by the caller) is `mailbox`.
pub fn evaluate_row(s: &Snapshot, i: usize, mailbox: &CasMailbox, options: &Options) -> Finding {
    let user = s.user_of(i);
    let effective = effective_policy(s, mailbox, user);
    let mut protocols = PerProtocol([None, None, None]);
    for &p in &options.protocols {
        let mut blockers = Vec::new();
        account(user, &mut blockers);
        mailbox_switches(s, mailbox, p, &mut blockers);
        policy(s, &effective, p, &mut blockers);
        security_defaults(s, &mut blockers);
        conditional_access(s, mailbox, user, &mut blockers);
        protocols[p] = Some(ProtocolVerdict::from_blockers(blockers));
    }
    let verdicts = || protocols.0.iter().flatten().map(|v| v.verdict);
    let mut flagged = match options.want {
        Want::Allow => verdicts().any(|v| v != Verdict::Allowed),
        // Fail closed (DESIGN.md §2 Directions): a protocol whose state cannot be
        // shown is not blocked, so a compliance gate never passes on missing facts.
        Want::Block => verdicts().any(|v| v != Verdict::Blocked),
    };
    // The exceptions register speaks only to the block direction: it lists who
    // may keep basic auth, and until when.
    let mut excepted = Vec::new();
    if flagged && options.want == Want::Block {
        let open: Vec<Protocol> = Protocol::ALL
            .into_iter()
            .filter(|&p| protocols[p].as_ref().is_some_and(|v| v.verdict != Verdict::Blocked))
            .collect();
        if let Some(used) = s.exceptions.as_ref().and_then(|e| e.covering(i, &open, options.as_of))
        {
            excepted = used;
            flagged = false;
        }
    }
    let mut readiness = PerProtocol([None; 3]);
    if let Some(usage) = &s.usage {
        for &p in &options.protocols {
            readiness[p] = Some(usage.readiness(i, p));
        }
    }
    Finding {
        mailbox: i,
        effective_policy: effective.name(s),
        policy_source: effective.source_kind(),
        recipient_type: super::scope::recipient_type(s, i, mailbox),
        protocols,
        readiness,
        flagged,
        excepted,
    }
}

fn blocker(code: Code, setting: Text, value: Text, source: &Source) -> Blocker {
    Blocker { code, setting, value, source: *source }
}

/// A constant setting name or value: nothing to look up.
const fn st(s: &'static &'static str) -> Text {
    Text::from_static(s)
}

/// `account-disabled`: the account cannot sign in at all.
fn account(user: Option<&User>, out: &mut Vec<Blocker>) {
    if let Some(u) = user.filter(|u| u.account_disabled == Setting::Value(true)) {
        out.push(blocker(
            Code::AccountDisabled,
            st(&"User.AccountDisabled"),
            st(&"True"),
            &u.source,
        ));
    }
}

/// `mailbox-protocol-disabled`, `mailbox-smtp-auth-disabled`,
/// `tenant-smtp-auth-disabled`, and `input-missing` for absent switches.
fn mailbox_switches(s: &Snapshot, m: &CasMailbox, p: Protocol, out: &mut Vec<Blocker>) {
    let (setting, name) = match p {
        Protocol::Pop => (m.pop_enabled, &"CasMailbox.PopEnabled"),
        Protocol::Imap => (m.imap_enabled, &"CasMailbox.ImapEnabled"),
        Protocol::Smtp if s.environment == Environment::OnPrem => return,
        Protocol::Smtp => return smtp_switches(s, m, out),
    };
    match setting {
        Setting::Value(true) => {}
        Setting::Value(false) => {
            out.push(blocker(Code::MailboxProtocolDisabled, st(name), st(&"False"), &m.source))
        }
        Setting::Null | Setting::NotExported => {
            out.push(blocker(Code::InputMissing, st(name), setting.display_text(), &m.source))
        }
    }
}

/// SMTP AUTH: the mailbox value wins; blank inherits the tenant switch. An absent
/// column is `input-missing`, never "inherit" (Get-EXOCasMailbox omits it unless
/// asked; see competitors.md, PS365).
fn smtp_switches(s: &Snapshot, m: &CasMailbox, out: &mut Vec<Blocker>) {
    const MAILBOX: &&str = &"CasMailbox.SmtpClientAuthenticationDisabled";
    const TENANT: &&str = &"TransportConfig.SmtpClientAuthenticationDisabled";
    match m.smtp_client_auth_disabled {
        Setting::Value(true) => {
            out.push(blocker(Code::MailboxSmtpAuthDisabled, st(MAILBOX), st(&"True"), &m.source))
        }
        Setting::Value(false) => {}
        Setting::NotExported => {
            out.push(blocker(Code::InputMissing, st(MAILBOX), st(&"(not exported)"), &m.source))
        }
        Setting::Null => match &s.transport {
            None => {
                out.push(blocker(Code::InputMissing, st(TENANT), st(&"(not exported)"), &m.source))
            }
            Some(t) => match t.smtp_client_auth_disabled {
                Setting::Value(true) => out.push(blocker(
                    Code::TenantSmtpAuthDisabled,
                    st(TENANT),
                    st(&"True"),
                    &t.source,
                )),
                Setting::Value(false) => {}
                other => out.push(blocker(
                    Code::InputMissing,
                    st(TENANT),
                    other.display_text(),
                    &t.source,
                )),
            },
        },
    }
}

/// `user-policy-blocks`, `default-policy-blocks`, `policy-not-found`, and
/// `input-missing` when the policy cannot be known.
fn policy(s: &Snapshot, effective: &Effective<'_>, p: Protocol, out: &mut Vec<Blocker>) {
    match effective {
        Effective::None => {}
        Effective::Missing { setting, value, source } => {
            out.push(blocker(Code::InputMissing, st(setting), intern(value), source))
        }
        Effective::NotFound { reference, from, source } => {
            let setting = match from {
                PolicySource::OrgDefault => &"OrganizationConfig.DefaultAuthenticationPolicy",
                _ => &"User.AuthenticationPolicy",
            };
            out.push(blocker(Code::PolicyNotFound, st(setting), intern(reference), source));
        }
        Effective::Policy { policy, index, from } => {
            let code = match from {
                PolicySource::OrgDefault => Code::DefaultPolicyBlocks,
                _ => Code::UserPolicyBlocks,
            };
            let switch = policy.switches[p];
            let with = |code, value: Text| Blocker {
                code,
                setting: s.policy_setting(*index, p),
                value,
                source: policy.source,
            };
            match (policy.environment, p, switch) {
                (Environment::OnPrem, Protocol::Smtp, _) => {} // no SMTP switch on premises
                (Environment::Online, _, Setting::Value(false))
                | (Environment::OnPrem, _, Setting::Value(true)) => {
                    out.push(with(code, switch.display_text()))
                }
                (Environment::Online, _, Setting::Value(true))
                | (Environment::OnPrem, _, Setting::Value(false)) => {}
                (Environment::OnPrem, _, Setting::Null) => {} // blank: the default, blocks nothing
                (_, _, Setting::Null | Setting::NotExported) => {
                    out.push(with(Code::InputMissing, switch.display_text()))
                }
            }
        }
    }
}

/// `conditional-access-blocks`: an enabled policy that blocks "Other clients" for
/// Exchange Online reaches the user. Group or role targeting, and conditions such
/// as locations, cannot be resolved from the export: `input-missing` with the
/// reason, never a guess. Report-only policies are advisories, not blockers.
fn conditional_access(s: &Snapshot, m: &CasMailbox, user: Option<&User>, out: &mut Vec<Blocker>) {
    let mut blocking = blocking_policies(s).peekable();
    if blocking.peek().is_none() {
        return;
    }
    let object_id = user
        .and_then(|u| u.ids.external_directory_object_id())
        .or(m.ids.external_directory_object_id());
    for policy in blocking {
        let setting = intern(&format!("ConditionalAccessPolicy[{}]", policy.name));
        match policy.reach(object_id.as_deref()) {
            Reach::Applies => out.push(blocker(
                Code::ConditionalAccessBlocks,
                setting,
                st(&"blocks other clients (legacy authentication)"),
                &policy.source,
            )),
            Reach::Unknown(why) => {
                out.push(blocker(Code::InputMissing, setting, intern(&why), &policy.source))
            }
            Reach::DoesNot => {}
        }
    }
}

/// The Conditional Access policies that block legacy authentication, which
/// the rules weigh (online only).
fn blocking_policies(s: &Snapshot) -> impl Iterator<Item = &CaPolicy> {
    let online = s.environment == Environment::Online;
    let policies = s.conditional_access.iter().flatten().filter(move |_| online);
    policies.filter(|p| p.state == CaState::Enabled && p.blocks_legacy_auth())
}

/// True when the rules read a mailbox row's identifiers, not only its switches,
/// `RecipientTypeDetails` and source: a Conditional Access policy that blocks
/// legacy authentication is weighed by the mailbox's object id. Otherwise a
/// row made from what was noted of it at its first read
/// ([`crate::model::notes::RuleNotes`]) gets the same finding as the row.
pub fn reads_identifiers(s: &Snapshot) -> bool {
    blocking_policies(s).next().is_some()
}

/// `security-defaults-enabled`: Entra blocks every legacy-auth request.
fn security_defaults(s: &Snapshot, out: &mut Vec<Blocker>) {
    if s.environment == Environment::Online {
        if let Some(sd) =
            s.security_defaults.as_ref().filter(|sd| sd.is_enabled == Setting::Value(true))
        {
            out.push(blocker(
                Code::SecurityDefaultsEnabled,
                st(&"SecurityDefaults.IsEnabled"),
                st(&"True"),
                &sd.source,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    //! One test per rule of DESIGN.md §2, on a minimal in-memory tenant.

    use super::*;
    use crate::audit::{Scope, Want};
    use crate::model::{Ids, OrgConfig, Parts, SecurityDefaults, TransportConfig};

    fn src(file: &str, line: usize) -> Source {
        Source { file: file.into(), line }
    }

    fn policy(name: &str, pop: Setting, imap: Setting, smtp: Setting) -> AuthPolicy {
        AuthPolicy {
            name: name.into(),
            guid: None,
            distinguished_name: None,
            switches: PerProtocol([pop, imap, smtp]),
            all_switches: vec![
                ("AllowBasicAuthPop", pop),
                ("AllowBasicAuthImap", imap),
                ("AllowBasicAuthSmtp", smtp),
            ],
            environment: Environment::Online,
            source: src("AuthenticationPolicy.csv", 2),
        }
    }

    const T: Setting = Setting::Value(true);
    const F: Setting = Setting::Value(false);
    const NULL: Setting = Setting::Null;

    /// A tenant with one mailbox and its user.
    struct Tenant {
        parts: Parts,
    }

    impl Tenant {
        fn new() -> Tenant {
            let ids = Ids::new([Some("g1"), None, None, None, None, None, None]).unwrap();
            Tenant {
                parts: Parts {
                    environment: Environment::Online,
                    policies: Some(vec![
                        policy("Block", F, F, F),
                        policy("Allow All", T, T, T),
                        policy("Smtp Only", F, F, T),
                    ]),
                    org: Some(OrgConfig {
                        default_policy: None,
                        source: src("OrganizationConfig.csv", 2),
                    }),
                    transport: Some(TransportConfig {
                        smtp_client_auth_disabled: F,
                        source: src("TransportConfig.csv", 2),
                    }),
                    security_defaults: None,
                    conditional_access: None,
                    users: Some(vec![User {
                        ids: ids.clone(),
                        authentication_policy: None,
                        recipient_type_details: Some("UserMailbox".into()),
                        account_disabled: F,
                        source: src("User.csv", 2),
                    }]),
                    mailboxes: vec![CasMailbox {
                        ids,
                        pop_enabled: T,
                        imap_enabled: T,
                        smtp_client_auth_disabled: NULL,
                        recipient_type_details: None,
                        source: src("CasMailbox.csv", 2),
                    }]
                    .into(),
                },
            }
        }
        fn user(mut self, f: impl FnOnce(&mut User)) -> Self {
            f(&mut self.parts.users.as_mut().unwrap()[0]);
            self
        }
        fn mailbox(mut self, f: impl FnOnce(&mut CasMailbox)) -> Self {
            f(&mut self.parts.mailboxes.rows_mut()[0]);
            self
        }
        fn default_policy(mut self, name: &str) -> Self {
            self.parts.org.as_mut().unwrap().default_policy = Some(name.into());
            self
        }
        fn tenant_smtp_disabled(mut self, s: Setting) -> Self {
            self.parts.transport.as_mut().unwrap().smtp_client_auth_disabled = s;
            self
        }
        fn with(mut self, f: impl FnOnce(&mut Parts)) -> Self {
            f(&mut self.parts);
            self
        }
        fn run(self, want: Want) -> Finding {
            let environment = self.parts.environment;
            let s = Snapshot::build(self.parts, &mut Vec::new(), &mut Vec::new());
            let o = Options {
                want,
                protocols: Protocol::ALL.to_vec(),
                environment,
                as_of: time::macros::date!(2026 - 11 - 25),
                scope: Scope::default(),
                include_in_use: false,
            };
            evaluate(&s, 0, &o)
        }
        fn verdicts(self) -> Vec<(Verdict, Vec<&'static str>)> {
            let f = self.run(Want::Allow);
            f.verdicts()
                .map(|(_, v)| (v.verdict, v.blockers.iter().map(|b| b.code.as_str()).collect()))
                .collect()
        }
    }

    use Verdict::{Allowed, Blocked, Unknown};

    #[test]
    fn no_policy_and_nothing_disabled_allows_everything() {
        assert_eq!(Tenant::new().verdicts(), vec![(Allowed, vec![]); 3]);
        let f = Tenant::new().run(Want::Allow);
        assert_eq!((f.policy_source, f.effective_policy), (PolicySource::None, None));
    }

    #[test]
    fn mailbox_protocol_disabled() {
        let v = Tenant::new().mailbox(|m| m.pop_enabled = F).verdicts();
        assert_eq!(v[0], (Blocked, vec!["mailbox-protocol-disabled"]));
        assert_eq!(v[1], (Allowed, vec![]));
        let v = Tenant::new().mailbox(|m| m.imap_enabled = F).verdicts();
        assert_eq!(v[1], (Blocked, vec!["mailbox-protocol-disabled"]));
    }

    #[test]
    fn smtp_three_states_against_the_tenant_switch() {
        // (mailbox value, tenant value) -> smtp verdict
        let cases = [
            (T, F, (Blocked, vec!["mailbox-smtp-auth-disabled"])),
            (T, T, (Blocked, vec!["mailbox-smtp-auth-disabled"])),
            (F, T, (Allowed, vec![])), // the mailbox's False overrides the tenant's True
            (F, F, (Allowed, vec![])),
            (NULL, T, (Blocked, vec!["tenant-smtp-auth-disabled"])), // blank inherits
            (NULL, F, (Allowed, vec![])),
        ];
        for (mailbox, tenant, want) in cases {
            let v = Tenant::new()
                .mailbox(|m| m.smtp_client_auth_disabled = mailbox)
                .tenant_smtp_disabled(tenant)
                .verdicts();
            assert_eq!(v[2], want, "mailbox {mailbox:?} tenant {tenant:?}");
        }
    }

    #[test]
    fn absent_smtp_column_is_input_missing_never_inherit() {
        // Regression (PS365): Get-EXOCasMailbox omits the column unless asked; reading
        // its absence as "inherit" would report the tenant value for every mailbox.
        let v = Tenant::new()
            .mailbox(|m| m.smtp_client_auth_disabled = Setting::NotExported)
            .tenant_smtp_disabled(F)
            .verdicts();
        assert_eq!(v[2], (Unknown, vec!["input-missing"]));
    }

    #[test]
    fn inheriting_mailbox_without_transport_config_is_input_missing() {
        let v = Tenant::new().with(|p| p.transport = None).verdicts();
        assert_eq!(v[2], (Unknown, vec!["input-missing"]));
        // An explicit mailbox value does not need the tenant switch.
        let v = Tenant::new()
            .with(|p| p.transport = None)
            .mailbox(|m| m.smtp_client_auth_disabled = F)
            .verdicts();
        assert_eq!(v[2], (Allowed, vec![]));
    }

    #[test]
    fn user_policy_replaces_the_org_default() {
        // Org default blocks everything; the user's policy allows SMTP only.
        let f = Tenant::new()
            .default_policy("Block")
            .user(|u| u.authentication_policy = Some("Smtp Only".into()));
        let v = f.verdicts();
        assert_eq!(v[0], (Blocked, vec!["user-policy-blocks"]));
        assert_eq!(v[2], (Allowed, vec![]));
        let f = Tenant::new()
            .default_policy("Block")
            .user(|u| u.authentication_policy = Some("Smtp Only".into()));
        let finding = f.run(Want::Allow);
        assert_eq!(finding.policy_source, PolicySource::User);
        assert_eq!(finding.effective_policy.as_deref(), Some("Smtp Only"));
    }

    #[test]
    fn org_default_applies_when_the_user_has_none() {
        let v = Tenant::new().default_policy("smtp only").verdicts(); // case-insensitive
        assert_eq!(v[0], (Blocked, vec!["default-policy-blocks"]));
        assert_eq!(v[2], (Allowed, vec![]));
    }

    #[test]
    fn an_unassigned_permissive_policy_changes_nothing() {
        // Regression (365Inspect, ZeroSMTP, monkey365): a policy that allows basic
        // auth only matters when it is assigned or is the org default.
        let v = Tenant::new().default_policy("Block").verdicts();
        assert_eq!(v, vec![(Blocked, vec!["default-policy-blocks"]); 3]);
    }

    #[test]
    fn missing_policy_is_unknown_but_definite_blockers_still_block() {
        let v = Tenant::new()
            .user(|u| u.authentication_policy = Some("Contractors IMAP".into()))
            .mailbox(|m| m.imap_enabled = F)
            .verdicts();
        assert_eq!(v[0], (Unknown, vec!["policy-not-found"]));
        assert_eq!(v[1], (Blocked, vec!["mailbox-protocol-disabled", "policy-not-found"]));
    }

    #[test]
    fn missing_user_row_makes_the_policy_unknown() {
        let f = Tenant::new().with(|p| p.users = Some(vec![])).run(Want::Allow);
        assert_eq!(f.policy_source, PolicySource::Unknown);
        let pop = f.protocols[Protocol::Pop].as_ref().unwrap();
        assert_eq!(pop.verdict, Unknown);
        assert_eq!(&*pop.blockers[0].value, "(no Get-User row matches this mailbox)");
        assert_eq!(pop.blockers[0].source.to_string(), "CasMailbox.csv:2");
    }

    #[test]
    fn missing_org_config_matters_only_without_a_user_policy() {
        let v = Tenant::new().with(|p| p.org = None).verdicts();
        assert_eq!(v[0], (Unknown, vec!["input-missing"]));
        let v = Tenant::new()
            .with(|p| p.org = None)
            .user(|u| u.authentication_policy = Some("Allow All".into()))
            .verdicts();
        assert_eq!(v, vec![(Allowed, vec![]); 3]);
    }

    #[test]
    fn missing_policy_export_is_input_missing_not_policy_not_found() {
        let v = Tenant::new().default_policy("Block").with(|p| p.policies = None).verdicts();
        assert_eq!(v[0], (Unknown, vec!["input-missing"]));
    }

    #[test]
    fn account_disabled_blocks_every_protocol() {
        let v = Tenant::new().user(|u| u.account_disabled = T).verdicts();
        assert_eq!(v, vec![(Blocked, vec!["account-disabled"]); 3]);
    }

    #[test]
    fn security_defaults_block_legacy_auth_online() {
        let sd = |p: &mut Parts| {
            p.security_defaults =
                Some(SecurityDefaults { is_enabled: T, source: src("SecurityDefaults.json", 1) })
        };
        assert_eq!(
            Tenant::new().with(sd).verdicts(),
            vec![(Blocked, vec!["security-defaults-enabled"]); 3]
        );
    }

    #[test]
    fn all_blockers_are_listed_in_code_order() {
        let v = Tenant::new()
            .default_policy("Block")
            .user(|u| u.account_disabled = T)
            .mailbox(|m| m.pop_enabled = F)
            .tenant_smtp_disabled(T)
            .verdicts();
        assert_eq!(
            v[0].1,
            ["account-disabled", "mailbox-protocol-disabled", "default-policy-blocks"]
        );
        assert_eq!(
            v[2].1,
            ["account-disabled", "tenant-smtp-auth-disabled", "default-policy-blocks"]
        );
    }

    #[test]
    fn blocker_names_the_setting_value_and_source() {
        let f = Tenant::new().default_policy("Block").run(Want::Allow);
        let b = &f.protocols[Protocol::Smtp].as_ref().unwrap().blockers[0];
        assert_eq!(
            (&*b.setting, &*b.value, b.source.to_string().as_str()),
            (
                "AuthenticationPolicy[Block].AllowBasicAuthSmtp",
                "False",
                "AuthenticationPolicy.csv:2"
            )
        );
    }

    #[test]
    fn want_block_flags_what_is_still_allowed() {
        // Regression (M365SAT CSTM-Ex026, an inverted predicate).
        assert!(Tenant::new().run(Want::Block).flagged);
        assert!(!Tenant::new().run(Want::Allow).flagged);
        let blocked = || Tenant::new().default_policy("Block").tenant_smtp_disabled(T);
        assert!(!blocked().run(Want::Block).flagged);
        assert!(blocked().run(Want::Allow).flagged);
    }

    #[test]
    fn onprem_block_legacy_auth_has_the_opposite_default() {
        let onprem = |pop: Setting| {
            Tenant::new()
                .with(|p| {
                    p.environment = Environment::OnPrem;
                    let mut legacy = policy("Legacy", pop, NULL, Setting::NotExported);
                    legacy.environment = Environment::OnPrem;
                    p.policies = Some(vec![legacy]);
                    p.transport = None;
                })
                .mailbox(|m| m.smtp_client_auth_disabled = Setting::NotExported)
                .default_policy("Legacy")
                .verdicts()
        };
        let v = onprem(T);
        assert_eq!(v[0], (Blocked, vec!["default-policy-blocks"]));
        assert_eq!(v[1], (Allowed, vec![])); // blank BlockLegacyAuthImap blocks nothing
        assert_eq!(v[2], (Allowed, vec![])); // no SMTP switch on premises
        assert_eq!(onprem(F)[0], (Allowed, vec![]));
    }
}
