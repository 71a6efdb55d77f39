//! Applies actions to an in-memory tenant, as Exchange would: the closed-loop
//! check behind the plan's tests (fix, re-audit, roll back, re-audit) and a
//! dry run that needs no tenant.

use crate::input::Source;
use crate::model::policy::settable;
use crate::model::{AuthPolicy, JoinKey, Parts, PerProtocol, Protocol, Setting, Snapshot};

use super::{Action, MailboxSetting, no_policy_value};

/// The tenant after `actions`, rebuilt and re-joined.
pub fn apply(snapshot: &Snapshot, actions: &[Action]) -> Snapshot {
    let mut parts = snapshot.parts();
    for action in actions {
        apply_one(&mut parts, action);
    }
    Snapshot::build(parts, &mut Vec::new(), &mut Vec::new())
}

fn apply_one(parts: &mut Parts, action: &Action) {
    let env = parts.environment;
    match action {
        Action::NewPolicy { name, based_on, set } => {
            let policies = parts.policies.get_or_insert_with(Vec::new);
            if policies.iter().any(|p| p.name.eq_ignore_ascii_case(name)) {
                return;
            }
            // As the script does: copy the live source policy (here, the tenant in
            // memory), or take the no-policy meaning of every switch, then change `set`.
            let source = based_on.as_ref().and_then(|(source, _)| {
                policies.iter().find(|p| p.name.eq_ignore_ascii_case(source)).cloned()
            });
            let mut variant = match source {
                Some(source) => source,
                None => AuthPolicy {
                    name: String::new(),
                    guid: None,
                    distinguished_name: None,
                    switches: PerProtocol([Setting::NotExported; 3]),
                    all_switches: settable(env)
                        .iter()
                        .map(|n| (*n, Setting::Value(no_policy_value(n))))
                        .collect(),
                    environment: env,
                    source: Source { file: "plan".into(), line: 0 },
                },
            };
            variant.name = name.clone();
            variant.guid = None;
            variant.distinguished_name = None;
            for p in Protocol::ALL {
                let switch = variant.switch_name(p);
                variant.switches[p] = variant
                    .all_switches
                    .iter()
                    .find(|(n, _)| *n == switch)
                    .map_or(Setting::NotExported, |s| s.1);
            }
            for (switch, value) in set {
                set_switch(&mut variant, switch, Setting::Value(*value));
            }
            policies.push(variant);
        }
        Action::SetPolicy { policy, changes, .. } => {
            for p in
                parts.policies.iter_mut().flatten().filter(|p| p.name.eq_ignore_ascii_case(policy))
            {
                for (name, _, value) in changes {
                    set_switch(p, name, Setting::Value(*value));
                }
            }
        }
        Action::SetOrgDefault { to, .. } => {
            if let Some(org) = parts.org.as_mut() {
                org.default_policy = to.clone();
            }
        }
        Action::SetTransport { to, .. } => {
            if let Some(t) = parts.transport.as_mut() {
                t.smtp_client_auth_disabled = Setting::Value(*to);
            }
        }
        Action::AssignPolicy { user, to, .. } => {
            let key = JoinKey::of(&user.identity);
            for u in parts.users.iter_mut().flatten().filter(|u| u.ids.join_key() == key) {
                u.authentication_policy = to.as_deref().map(Into::into);
            }
        }
        Action::SetMailbox { mailbox, setting, to, .. } => {
            let key = JoinKey::of(&mailbox.identity);
            for m in parts.mailboxes.rows_mut().iter_mut().filter(|m| m.ids.join_key() == key) {
                match setting {
                    MailboxSetting::PopEnabled => m.pop_enabled = *to,
                    MailboxSetting::ImapEnabled => m.imap_enabled = *to,
                    MailboxSetting::SmtpClientAuthenticationDisabled => {
                        m.smtp_client_auth_disabled = *to
                    }
                }
            }
        }
        Action::RefreshTokens { .. } => {}
        Action::RemovePolicy { name } => {
            let in_use = parts.users.iter().flatten().any(|u| {
                u.authentication_policy.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(name))
            }) || parts
                .org
                .as_ref()
                .and_then(|o| o.default_policy.as_deref())
                .is_some_and(|p| p.eq_ignore_ascii_case(name));
            if !in_use {
                if let Some(policies) = parts.policies.as_mut() {
                    policies.retain(|p| !p.name.eq_ignore_ascii_case(name));
                }
            }
        }
    }
}

fn set_switch(policy: &mut AuthPolicy, name: &str, value: Setting) {
    if let Some(slot) = policy.all_switches.iter_mut().find(|(n, _)| *n == name) {
        slot.1 = value;
    }
    for p in Protocol::ALL {
        if policy.switch_name(p) == name {
            policy.switches[p] = value;
        }
    }
}
