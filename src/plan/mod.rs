//! Findings to a minimal, deduplicated list of changes ([`Action`]s), independent
//! of PowerShell syntax (DESIGN.md §4).
//!
//! Strategy `least-privilege` never widens a setting that other mailboxes rely
//! on: a shared policy that blocks a flagged user is copied into a **variant**
//! that differs only in the needed protocol switches (one variant per source
//! policy and protocol set), the variant is assigned to those users, and a
//! tenant-wide SMTP AUTH block is answered with per-mailbox exceptions. Strategy
//! `edit-policies` edits the shared policies and the tenant switch instead, and
//! every such edit carries its blast radius: how many other mailboxes it also
//! changes. Every user whose effective policy changes gets a token refresh
//! (changes otherwise take up to 24 hours: research/domain.md §1.1).
//!
//! What a script cannot fix (security defaults, Conditional Access, a disabled
//! account, a fact that was not exported, the service-level retirement) becomes
//! a [`ManualStep`], never a silent skip.

pub mod apply;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::audit::rules::{Effective, effective_policy};
use crate::audit::{Audit, Code, Finding, Options, Verdict, Want};
use crate::input::Source;
use crate::model::policy::settable;
use crate::model::usage::{Clients, ProtocolUsage, Readiness, TOP_CLIENTS, format_time};
use crate::model::{Environment, Protocol, Setting, Snapshot};

/// How the plan turns blockers around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Policy variants and per-mailbox exceptions; nothing shared is widened.
    #[default]
    LeastPrivilege,
    /// Edit shared policies and the tenant switch (with blast radius).
    EditPolicies,
}

impl Strategy {
    /// `least-privilege` or `edit-policies`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LeastPrivilege => "least-privilege",
            Strategy::EditPolicies => "edit-policies",
        }
    }
}

/// A mailbox or user a change is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// The unique identifier used in `-Identity` (Guid, else object id, else SMTP address), as exported.
    pub identity: Arc<str>,
    /// A human label for comments (display name and address).
    pub label: Arc<str>,
    /// The input row.
    pub source: Source,
}

/// A per-mailbox switch on `Set-CASMailbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MailboxSetting {
    /// `PopEnabled`.
    PopEnabled,
    /// `ImapEnabled`.
    ImapEnabled,
    /// `SmtpClientAuthenticationDisabled`.
    SmtpClientAuthenticationDisabled,
}

impl MailboxSetting {
    /// The parameter name.
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxSetting::PopEnabled => "PopEnabled",
            MailboxSetting::ImapEnabled => "ImapEnabled",
            MailboxSetting::SmtpClientAuthenticationDisabled => "SmtpClientAuthenticationDisabled",
        }
    }
}

/// One change to the tenant. `from` values are the exported ones, so that a
/// rollback can restore them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `New-AuthenticationPolicy`: a variant of `based_on`. Every switch the target
    /// server accepts is copied from the **live** source policy when the script runs
    /// (a value nobody exported is never asserted, and never left to the cmdlet's
    /// default, which on premises unblocks), then the switches in `set` are changed.
    /// With no source ("no policy"), every switch takes the no-policy meaning: online
    /// `AllowBasicAuth*` True, on premises `Block*` False.
    NewPolicy {
        /// The variant's name (generated: ASCII, no quotes, at most 64 characters).
        name: String,
        /// The policy copied and its row (`None`: no policy, i.e. basic auth allowed everywhere).
        based_on: Option<(String, Source)>,
        /// The switches this variant changes, with their new values.
        set: Vec<(&'static str, bool)>,
    },
    /// `Set-AuthenticationPolicy` on an existing (shared) policy.
    SetPolicy {
        /// The policy name as exported.
        policy: String,
        /// The policy's row.
        source: Source,
        /// (switch, old value, new value).
        changes: Vec<(&'static str, Setting, bool)>,
        /// Other mailboxes whose effective policy this is.
        blast_radius: usize,
    },
    /// `Set-OrganizationConfig -DefaultAuthenticationPolicy`.
    SetOrgDefault {
        /// The organisation config row, when exported.
        source: Option<Source>,
        /// Old value.
        from: Option<String>,
        /// New value.
        to: Option<String>,
        /// Other mailboxes whose users have no assigned policy.
        blast_radius: usize,
    },
    /// `Set-TransportConfig -SmtpClientAuthenticationDisabled`.
    SetTransport {
        /// Old value.
        from: Setting,
        /// New value.
        to: bool,
        /// Other mailboxes that inherit the tenant switch.
        blast_radius: usize,
    },
    /// `Set-User -AuthenticationPolicy`.
    AssignPolicy {
        /// The user.
        user: Target,
        /// Old assignment (`None`: no policy). Shared: a tenant has a handful
        /// of policies and a million users.
        from: Option<Arc<str>>,
        /// New assignment (shared, as `from`).
        to: Option<Arc<str>>,
    },
    /// `Set-CASMailbox -<setting>`.
    SetMailbox {
        /// The mailbox.
        mailbox: Target,
        /// Which switch.
        setting: MailboxSetting,
        /// Old value (`Null` for SMTP AUTH means inherit).
        from: Setting,
        /// New value.
        to: Setting,
    },
    /// `Set-User -STSRefreshTokensValidFrom` now, after the user's policy changed.
    RefreshTokens {
        /// The user.
        user: Target,
        /// The change that makes the refresh needed: it runs only once that
        /// change was applied (or shown, under `-WhatIf`).
        cause: Cause,
    },
    /// `Remove-AuthenticationPolicy` of a variant a fix script created (rollback only),
    /// when no user and no org default uses it any more.
    RemovePolicy {
        /// The variant's name.
        name: String,
    },
}

impl Action {
    /// The cmdlet that carries the change.
    pub fn cmdlet(&self) -> &'static str {
        match self {
            Action::NewPolicy { .. } => "New-AuthenticationPolicy",
            Action::SetPolicy { .. } => "Set-AuthenticationPolicy",
            Action::SetOrgDefault { .. } => "Set-OrganizationConfig",
            Action::SetTransport { .. } => "Set-TransportConfig",
            Action::AssignPolicy { .. } | Action::RefreshTokens { .. } => "Set-User",
            Action::SetMailbox { .. } => "Set-CASMailbox",
            Action::RemovePolicy { .. } => "Remove-AuthenticationPolicy",
        }
    }

    /// What kind of change this is, for counts (`policy assignments`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::NewPolicy { .. } => "new policy variants",
            Action::SetPolicy { .. } => "shared policy edits",
            Action::SetOrgDefault { .. } => "org default changes",
            Action::SetTransport { .. } => "tenant SMTP AUTH changes",
            Action::AssignPolicy { .. } => "policy assignments",
            Action::SetMailbox { .. } => "mailbox settings",
            Action::RefreshTokens { .. } => "token refreshes",
            Action::RemovePolicy { .. } => "policy variant removals",
        }
    }

    /// For an edit of a shared setting: what it edits and how many other mailboxes it also changes.
    pub fn blast_radius(&self) -> Option<(String, usize)> {
        match self {
            Action::SetPolicy { policy, blast_radius, .. } => {
                Some((format!("policy {policy:?}"), *blast_radius))
            }
            Action::SetOrgDefault { blast_radius, .. } => {
                Some(("the org default policy".into(), *blast_radius))
            }
            Action::SetTransport { blast_radius, .. } => {
                Some(("the tenant SMTP AUTH switch".into(), *blast_radius))
            }
            _ => None,
        }
    }

    /// Execution order: policies exist before they are assigned, assignments come
    /// before token refreshes, and variants are removed last.
    fn stage(&self) -> u8 {
        match self {
            Action::NewPolicy { .. } => 0,
            Action::SetPolicy { .. } => 1,
            Action::SetOrgDefault { .. } => 2,
            Action::SetTransport { .. } => 3,
            Action::AssignPolicy { .. } => 4,
            Action::SetMailbox { .. } => 5,
            Action::RefreshTokens { .. } => 6,
            Action::RemovePolicy { .. } => 7,
        }
    }
}

/// What changed a user's effective policy, so that the token refresh waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The user's own assignment ([`Action::AssignPolicy`]).
    Assignment,
    /// An edit of this shared policy ([`Action::SetPolicy`]).
    Policy(String),
    /// A change of the org default ([`Action::SetOrgDefault`]).
    OrgDefault,
}

/// Something the script cannot do, for the script header and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualStep {
    /// The blocker or advisory code.
    pub code: &'static str,
    /// Affected protocols.
    pub protocols: Vec<Protocol>,
    /// Affected mailboxes (labels), empty when tenant-wide.
    pub mailboxes: Vec<String>,
    /// What to do.
    pub message: String,
}

/// A remediation plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Direction.
    pub want: Want,
    /// Strategy.
    pub strategy: Strategy,
    /// Environment.
    pub environment: Environment,
    /// Protocols in scope.
    pub protocols: Vec<Protocol>,
    /// Flagged mailboxes the plan covers.
    pub flagged: usize,
    /// The changes, in execution order.
    pub actions: Vec<Action>,
    /// What the script cannot do.
    pub manual: Vec<ManualStep>,
}

/// The unique ASCII identifier and label of a mailbox (or its user).
fn target(ids: &crate::model::Ids, source: &Source) -> Target {
    let label = match (ids.display_name().or(ids.name()), ids.label()) {
        (Some(name), address) if name != address => format!("{name} <{address}>"),
        (_, address) => address.to_string(),
    };
    Target { identity: ids.key().to_string().into(), label: label.into(), source: *source }
}

/// The policy-switch value that allows (`want` allow) or blocks the protocol.
fn switch_value(environment: Environment, allow: bool) -> bool {
    match environment {
        Environment::Online => allow,  // AllowBasicAuth*: True allows
        Environment::OnPrem => !allow, // BlockLegacyAuth*: True blocks
    }
}

/// The switch name that governs basic auth for a protocol.
fn switch_name(environment: Environment, p: Protocol) -> &'static str {
    let names = settable(environment);
    let wanted = match environment {
        Environment::Online => format!("AllowBasicAuth{}", p.policy_suffix()),
        Environment::OnPrem => format!("BlockLegacyAuth{}", p.policy_suffix()),
    };
    names.iter().find(|n| **n == wanted).copied().unwrap_or("")
}

/// A switch's value under "no policy": nothing blocks basic auth, so online every
/// `AllowBasicAuth*` is True and on premises every `BlockLegacyAuth*` and
/// `BlockModernAuth*` is False (research/domain.md §1.1).
pub fn no_policy_value(switch: &str) -> bool {
    switch.starts_with("AllowBasicAuth")
}

/// A deterministic, unique, quote-free variant name of at most 64 characters:
/// `exoauth-<hash> <allow|block>-<protocols> <source>`.
pub fn variant_name(source: Option<&str>, want: Want, protocols: &BTreeSet<Protocol>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.unwrap_or("\0none").as_bytes());
    hasher.update([0, want as u8]);
    for p in protocols {
        hasher.update(p.as_str().as_bytes());
    }
    let digest = hasher.finalize();
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let protos: Vec<&str> = protocols.iter().map(|p| p.as_str()).collect();
    let head = format!("exoauth-{hash} {}-{} ", want.as_str(), protos.join("-"));
    let src: String =
        source
            .unwrap_or("no policy")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    let mut name = head;
    let room = 64usize.saturating_sub(name.len());
    name.extend(src.trim().chars().take(room));
    name.trim_end().to_owned()
}

/// The switches a variant changes: the protocols' switches, set to allow or block.
fn variant_switches(
    env: Environment,
    want: Want,
    protocols: &BTreeSet<Protocol>,
) -> Vec<(&'static str, bool)> {
    protocols
        .iter()
        .map(|p| (switch_name(env, *p), switch_value(env, want == Want::Allow)))
        .filter(|(name, _)| !name.is_empty())
        .collect()
}

/// A policy variant is identified by its source policy (`None`: no policy) and
/// the protocols whose switch it changes.
type VariantKey = (Option<String>, BTreeSet<Protocol>);

/// A user who needs a variant, with the policy assigned to them now.
type VariantUser = (Target, Option<Arc<str>>);

/// Manual steps grouped by (code, message): the protocols and mailboxes concerned.
type ManualGroups = BTreeMap<(&'static str, String), (BTreeSet<Protocol>, Vec<String>)>;

/// Builds the plan for the flagged mailboxes of an audit.
pub fn plan(audit: &Audit<'_>, strategy: Strategy) -> Plan {
    let (snapshot, options) = (audit.snapshot(), audit.options());
    let env = snapshot.environment;
    let want = options.want;
    let mut actions: Vec<Action> = Vec::new();
    let mut manual = Manual::default();

    // Per (source policy, protocol set): the users who need that variant, or, with
    // edit-policies, per policy the union of protocols and its users.
    let mut variants: BTreeMap<VariantKey, Vec<VariantUser>> = BTreeMap::new();
    let mut edits: BTreeMap<Option<String>, (BTreeSet<Protocol>, Vec<Target>)> = BTreeMap::new();
    let mut tenant_smtp: Vec<Target> = Vec::new();
    // Each policy name once, shared by every assignment that names it.
    let mut names: HashMap<&str, Arc<str>> = HashMap::new();

    for f in audit.flagged() {
        let f = &f;
        let mailbox = &*snapshot.mailbox(f.mailbox);
        let user = snapshot.user_of(f.mailbox);
        let mbx = target(&mailbox.ids, &mailbox.source);
        manual.note_finding(f, &mbx.label, want);
        if want == Want::Allow && has(f, Code::AccountDisabled) {
            continue; // never open basic auth for an account that cannot sign in
        }
        let mut policy_protocols = BTreeSet::new();
        for (p, v) in f.verdicts() {
            let needs = match want {
                Want::Allow => v.verdict != Verdict::Allowed,
                Want::Block => v.verdict == Verdict::Allowed,
            };
            if !needs {
                continue;
            }
            match want {
                Want::Allow => {
                    for b in &v.blockers {
                        match b.code {
                            Code::UserPolicyBlocks | Code::DefaultPolicyBlocks => {
                                policy_protocols.insert(p);
                            }
                            Code::MailboxProtocolDisabled => actions.push(Action::SetMailbox {
                                mailbox: mbx.clone(),
                                setting: if p == Protocol::Pop {
                                    MailboxSetting::PopEnabled
                                } else {
                                    MailboxSetting::ImapEnabled
                                },
                                from: Setting::Value(false),
                                to: Setting::Value(true),
                            }),
                            Code::MailboxSmtpAuthDisabled => {
                                actions.push(smtp_exception(&mbx, Setting::Value(true)))
                            }
                            Code::TenantSmtpAuthDisabled => match strategy {
                                Strategy::LeastPrivilege => {
                                    actions.push(smtp_exception(&mbx, Setting::Null))
                                }
                                Strategy::EditPolicies => tenant_smtp.push(mbx.clone()),
                            },
                            _ => {}
                        }
                    }
                }
                Want::Block => {
                    if env == Environment::OnPrem && p == Protocol::Smtp {
                        continue; // no policy switch: a manual step
                    }
                    if f.readiness[p] == Some(Readiness::InUse) && !options.include_in_use {
                        // A client depends on it: blocking now breaks it.
                        let usage =
                            snapshot.usage.as_ref().map(|u| (u.get(f.mailbox, p), &u.clients));
                        manual.add("in-use", in_use_message(p, usage), p, &mbx.label);
                        continue;
                    }
                    policy_protocols.insert(p);
                }
            }
        }
        if policy_protocols.is_empty() {
            continue;
        }
        let Some(user) = user else { continue };
        let effective = effective_policy(snapshot, mailbox, Some(user));
        let source = match &effective {
            Effective::Policy { policy, .. } => Some(policy.name.clone()),
            Effective::None => None,
            // Unknown policy: a manual step was noted; nothing safe to clone.
            Effective::NotFound { .. } | Effective::Missing { .. } => continue,
        };
        let usr = target(&user.ids, &user.source);
        match strategy {
            Strategy::LeastPrivilege => {
                variants.entry((source, policy_protocols)).or_default().push((
                    usr,
                    user.authentication_policy
                        .as_deref()
                        .map(|p| names.entry(p).or_insert_with(|| p.into()).clone()),
                ))
            }
            Strategy::EditPolicies => {
                let entry = edits.entry(source).or_default();
                entry.0.extend(policy_protocols);
                entry.1.push(usr);
            }
        }
    }

    let policy_users = effective_policy_counts(snapshot);
    for ((source, protocols), users) in variants {
        let source_policy = source.as_deref().and_then(|s| snapshot.resolve_policy(s));
        let name = variant_name(source.as_deref(), want, &protocols);
        if snapshot.resolve_policy(&name).is_none() {
            actions.push(Action::NewPolicy {
                name: name.clone(),
                based_on: source_policy.map(|p| (p.name.clone(), p.source)),
                set: variant_switches(env, want, &protocols),
            });
        }
        let to: Arc<str> = name.as_str().into();
        for (user, from) in users {
            actions.push(Action::AssignPolicy { user: user.clone(), from, to: Some(to.clone()) });
            if env == Environment::Online {
                actions.push(Action::RefreshTokens { user, cause: Cause::Assignment });
            }
        }
    }
    for (source, (protocols, users)) in edits {
        let targeted = users.len();
        let value = switch_value(env, want == Want::Allow);
        let cause = match source.as_deref().and_then(|s| snapshot.resolve_policy(s)) {
            Some(policy) => {
                let changes = protocols
                    .iter()
                    .map(|p| {
                        let name = switch_name(env, *p);
                        let from = policy
                            .all_switches
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map_or(Setting::NotExported, |s| s.1);
                        (name, from, value)
                    })
                    .collect();
                let users_of = policy_users.get(&policy.name.to_lowercase()).copied().unwrap_or(0);
                actions.push(Action::SetPolicy {
                    policy: policy.name.clone(),
                    source: policy.source,
                    changes,
                    blast_radius: users_of.saturating_sub(targeted),
                });
                Cause::Policy(policy.name.clone())
            }
            None => {
                // No policy at all (block direction): a new blocking policy becomes the
                // org default, which reaches every user without an assignment.
                let name = variant_name(None, want, &protocols);
                if snapshot.resolve_policy(&name).is_none() {
                    actions.push(Action::NewPolicy {
                        name: name.clone(),
                        based_on: None,
                        set: variant_switches(env, want, &protocols),
                    });
                }
                let unassigned = policy_users.get("").copied().unwrap_or(0);
                actions.push(Action::SetOrgDefault {
                    source: snapshot.org.as_ref().map(|o| o.source),
                    from: snapshot.org.as_ref().and_then(|o| o.default_policy.clone()),
                    to: Some(name),
                    blast_radius: unassigned.saturating_sub(targeted),
                });
                Cause::OrgDefault
            }
        };
        if env == Environment::Online {
            actions.extend(
                users.into_iter().map(|user| Action::RefreshTokens { user, cause: cause.clone() }),
            );
        }
    }
    if !tenant_smtp.is_empty() {
        let inheriting = snapshot
            .mailboxes()
            .iter()
            .filter(|m| m.smtp_client_auth_disabled == Setting::Null)
            .count();
        actions.push(Action::SetTransport {
            from: snapshot
                .transport
                .as_ref()
                .map_or(Setting::NotExported, |t| t.smtp_client_auth_disabled),
            to: false,
            blast_radius: inheriting.saturating_sub(tenant_smtp.len()),
        });
    }
    actions.sort_by_key(Action::stage); // stable: input order within a stage
    manual.service(env, options, want);
    Plan {
        want,
        strategy,
        environment: env,
        protocols: options.protocols.clone(),
        flagged: audit.summary.flagged,
        actions,
        manual: manual.finish(),
    }
}

/// `n` actions of a kind (from [`Action::kind`]): `1 tenant SMTP AUTH change`,
/// `2 policy assignments`.
pub fn count_phrase(n: usize, kind: &str) -> String {
    if n != 1 {
        return format!("{n} {kind}");
    }
    let one = kind.strip_suffix("refreshes").map_or_else(
        || kind.strip_suffix('s').unwrap_or(kind).to_owned(),
        |stem| format!("{stem}refresh"),
    );
    format!("1 {one}")
}

/// Counts of actions by kind, in execution order.
pub fn counts(actions: &[Action]) -> Vec<(&'static str, usize)> {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for a in actions {
        match counts.iter_mut().find(|(k, _)| *k == a.kind()) {
            Some((_, n)) => *n += 1,
            None => counts.push((a.kind(), 1)),
        }
    }
    counts
}

impl Plan {
    /// The actions that undo this plan: every changed setting back to its exported
    /// value (assignments including "no policy", then a token refresh), and the
    /// variants this plan created removed once nothing uses them.
    pub fn rollback(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for action in &self.actions {
            match action {
                Action::NewPolicy { name, .. } => {
                    out.push(Action::RemovePolicy { name: name.clone() })
                }
                Action::SetPolicy { policy, source, changes, blast_radius } => {
                    let changes: Vec<_> = changes
                        .iter()
                        .filter_map(|(n, from, to)| match from {
                            Setting::Value(old) => Some((*n, Setting::Value(*to), *old)),
                            // On premises a blank `Block*` switch means "not blocked",
                            // exactly what False means, and a switch parameter cannot
                            // write a blank back: it is restored as False. Online a blank
                            // switch is `input-missing`, so no plan edits one.
                            Setting::Null if self.environment == Environment::OnPrem => {
                                Some((*n, Setting::Value(*to), false))
                            }
                            Setting::Null | Setting::NotExported => None,
                        })
                        .collect();
                    if !changes.is_empty() {
                        out.push(Action::SetPolicy {
                            policy: policy.clone(),
                            source: *source,
                            changes,
                            blast_radius: *blast_radius,
                        });
                    }
                }
                Action::SetOrgDefault { source, from, to, blast_radius } => {
                    out.push(Action::SetOrgDefault {
                        source: *source,
                        from: to.clone(),
                        to: from.clone(),
                        blast_radius: *blast_radius,
                    })
                }
                Action::SetTransport { from: Setting::Value(old), to, blast_radius } => {
                    out.push(Action::SetTransport {
                        from: Setting::Value(*to),
                        to: *old,
                        blast_radius: *blast_radius,
                    })
                }
                Action::SetTransport { .. } => {}
                Action::AssignPolicy { user, from, to } => {
                    out.push(Action::AssignPolicy {
                        user: user.clone(),
                        from: to.clone(),
                        to: from.clone(),
                    });
                    if self.environment == Environment::Online {
                        out.push(Action::RefreshTokens {
                            user: user.clone(),
                            cause: Cause::Assignment,
                        });
                    }
                }
                Action::SetMailbox { mailbox, setting, from, to } => out.push(Action::SetMailbox {
                    mailbox: mailbox.clone(),
                    setting: *setting,
                    from: *to,
                    to: *from,
                }),
                // Undoing a shared edit changes those users' effective policy again.
                Action::RefreshTokens { cause: Cause::Policy(_) | Cause::OrgDefault, .. } => {
                    out.push(action.clone())
                }
                Action::RefreshTokens { cause: Cause::Assignment, .. }
                | Action::RemovePolicy { .. } => {}
            }
        }
        out.sort_by_key(Action::stage);
        out
    }
}

fn has(f: &Finding, code: Code) -> bool {
    f.verdicts().any(|(_, v)| v.blockers.iter().any(|b| b.code == code))
}

fn smtp_exception(mailbox: &Target, from: Setting) -> Action {
    Action::SetMailbox {
        mailbox: mailbox.clone(),
        setting: MailboxSetting::SmtpClientAuthenticationDisabled,
        from,
        to: Setting::Value(false),
    }
}

/// How many mailboxes (all of them, in scope or not) each change would reach:
/// per effective policy (lowercase name), and under `""` the mailboxes whose users
/// have no assigned policy (reached by a change of the org default).
fn effective_policy_counts(snapshot: &Snapshot) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (i, mailbox) in snapshot.mailboxes().iter().enumerate() {
        let user = snapshot.user_of(i);
        if let Effective::Policy { policy, .. } = effective_policy(snapshot, &mailbox, user) {
            *counts.entry(policy.name.to_lowercase()).or_insert(0) += 1;
        }
        if user.is_some_and(|u| u.authentication_policy.is_none()) {
            *counts.entry(String::new()).or_insert(0) += 1;
        }
    }
    counts
}

/// The manual step for a protocol in use with basic auth: what uses it, and what
/// to do before blocking it.
fn in_use_message(p: Protocol, usage: Option<(&ProtocolUsage, &Clients)>) -> String {
    let Some((u, of)) = usage else { return String::new() };
    let clients = of.labels(u, TOP_CLIENTS);
    let next = match p {
        Protocol::Smtp => {
            "move this client to OAuth (or to High Volume Email / an SMTP relay connector) first"
        }
        _ => "move this client to OAuth first",
    };
    format!(
        "{} basic auth is in use: {} successful sign-in{}, the last {}, from {}; {next}, then block it (or run with --include-in-use)",
        p.as_str().to_uppercase(),
        u.successes,
        if u.successes == 1 { "" } else { "s" },
        u.last_success.map_or_else(|| "-".into(), format_time),
        clients.join(", ")
    )
}

/// Collects manual steps, grouped by code and reason.
#[derive(Default)]
struct Manual {
    steps: ManualGroups,
    global: Vec<ManualStep>,
}

impl Manual {
    fn add(&mut self, code: &'static str, message: String, p: Protocol, mailbox: &str) {
        let entry = self.steps.entry((code, message)).or_default();
        entry.0.insert(p);
        if entry.1.last().map(String::as_str) != Some(mailbox) {
            entry.1.push(mailbox.to_owned());
        }
    }

    fn note_finding(&mut self, f: &Finding, label: &str, want: Want) {
        for (p, v) in f.verdicts() {
            let relevant = match want {
                Want::Allow => v.verdict != Verdict::Allowed,
                Want::Block => v.verdict == Verdict::Unknown,
            };
            if !relevant {
                continue;
            }
            // Only what a script cannot fix: every other code is `continue`d below.
            for b in &v.blockers {
                let message = match b.code {
                    Code::AccountDisabled => "the account is disabled (AccountDisabled True); the script leaves its mailbox alone: enable the account first if it really needs basic auth, then re-run exoauth".to_string(),
                    Code::SecurityDefaultsEnabled => "Entra security defaults block all legacy authentication; turning them off is a tenant-wide decision made in the Entra admin center, outside Exchange".to_string(),
                    Code::ConditionalAccessBlocks => format!("{} blocks legacy authentication for this user; exclude the user in Entra if basic auth is really needed", b.setting),
                    Code::PolicyNotFound => format!("{} is {:?}, which is not in the policy export; re-export Get-AuthenticationPolicy (or fix the assignment) and re-run exoauth", b.setting, b.value),
                    Code::InputMissing if b.setting.starts_with("ConditionalAccessPolicy") => format!("{}: {}; check the user's membership in Entra", b.setting, b.value),
                    Code::InputMissing => format!("{}: {}; re-export it and re-run exoauth", b.setting, b.value.trim_start_matches('(').trim_end_matches(')')),
                    _ => continue,
                };
                self.add(b.code.as_str(), message, p, label);
            }
        }
    }

    fn service(&mut self, env: Environment, options: &Options, want: Want) {
        if env != Environment::Online {
            if want == Want::Block && options.protocols.contains(&Protocol::Smtp) {
                self.global.push(ManualStep {
                    code: "onprem-smtp-connectors",
                    protocols: vec![Protocol::Smtp],
                    mailboxes: Vec::new(),
                    message: "Exchange Server has no SMTP AUTH policy switch: restrict basic authentication on the client receive connectors (Set-ReceiveConnector -AuthMechanism)".into(),
                });
            }
            return;
        }
        let pop_imap: Vec<Protocol> =
            options.protocols.iter().copied().filter(|p| *p != Protocol::Smtp).collect();
        if want == Want::Allow
            && !pop_imap.is_empty()
            && options.as_of >= crate::audit::advisory::POP_IMAP_RETIRED
        {
            self.global.push(ManualStep {
                code: "service-retired",
                protocols: pop_imap,
                mailboxes: Vec::new(),
                message: "Exchange Online retired basic authentication for POP and IMAP in January 2023: this script fixes the tenant configuration (which also governs OAuth access), but no setting brings basic auth back; move those clients to OAuth".into(),
            });
        }
        if want == Want::Allow
            && options.protocols.contains(&Protocol::Smtp)
            && options.as_of >= crate::audit::advisory::SMTP_DEFAULT_OFF
        {
            self.global.push(ManualStep {
                code: "service-default-off",
                protocols: vec![Protocol::Smtp],
                mailboxes: Vec::new(),
                message: "since the end of December 2026 SMTP AUTH basic authentication is off by default at the service level (MC786329); re-enable it for the tenant as Microsoft documents, in addition to this script's changes".into(),
            });
        }
    }

    fn finish(self) -> Vec<ManualStep> {
        let mut out = self.global;
        out.extend(self.steps.into_iter().map(|((code, message), (protocols, mailboxes))| {
            ManualStep { code, protocols: protocols.into_iter().collect(), mailboxes, message }
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Ids;

    #[test]
    fn one_change_is_singular() {
        assert_eq!(count_phrase(1, "tenant SMTP AUTH changes"), "1 tenant SMTP AUTH change");
        assert_eq!(count_phrase(1, "token refreshes"), "1 token refresh");
        assert_eq!(count_phrase(1, "new policy variants"), "1 new policy variant");
        assert_eq!(count_phrase(2, "token refreshes"), "2 token refreshes");
        assert_eq!(count_phrase(0, "mailbox settings"), "0 mailbox settings");
    }

    #[test]
    fn a_label_names_the_person_beside_the_address_once() {
        let src = Source { file: "CasMailbox.csv".into(), line: 2 };
        let ids = |name: Option<&str>, display: Option<&str>| {
            Ids::new([Some("0f1e"), None, None, Some("megan@contoso.com"), None, name, display])
                .unwrap()
        };
        let t = target(&ids(None, Some("Megan Bowen")), &src);
        assert_eq!((&*t.identity, &*t.label), ("0f1e", "Megan Bowen <megan@contoso.com>"));
        // A display name that is the address itself is not repeated.
        let label =
            |name: Option<&str>, display: Option<&str>| target(&ids(name, display), &src).label;
        assert_eq!(&*label(None, Some("megan@contoso.com")), "megan@contoso.com");
        assert_eq!(&*label(Some("megan"), None), "megan <megan@contoso.com>");
        assert_eq!(&*label(None, None), "megan@contoso.com");
    }
}
