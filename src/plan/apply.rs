//! Applies actions to an in-memory tenant, as Exchange would: the closed-loop
//! check behind the plan's tests (fix, re-audit, roll back, re-audit) and a
//! dry run that needs no tenant.

use crate::model::{AuthPolicy, Parts, PerProtocol, Protocol, Setting, Snapshot, join_key};

use super::{Action, MailboxSetting};

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
        Action::NewPolicy { name, switches, .. } => {
            let policies = parts.policies.get_or_insert_with(Vec::new);
            if policies.iter().any(|p| p.name.eq_ignore_ascii_case(name)) {
                return;
            }
            let all_switches: Vec<(&'static str, Setting)> =
                switches.iter().map(|(n, v)| (*n, Setting::Value(*v))).collect();
            let lookup = |p: Protocol| {
                let prefix = if env == crate::model::Environment::Online {
                    "AllowBasicAuth"
                } else {
                    "BlockLegacyAuth"
                };
                let wanted = format!("{prefix}{}", p.policy_suffix());
                all_switches
                    .iter()
                    .find(|(n, _)| *n == wanted)
                    .map_or(Setting::NotExported, |s| s.1)
            };
            let source = policies
                .first()
                .map(|p| p.source.clone())
                .unwrap_or_else(|| crate::input::Source { file: "plan".into(), line: 0 });
            let switches = PerProtocol(Protocol::ALL.map(lookup));
            policies.push(AuthPolicy {
                name: name.clone(),
                guid: None,
                distinguished_name: None,
                switches,
                all_switches,
                environment: env,
                source,
            });
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
            let key = join_key(&user.identity);
            for u in parts.users.iter_mut().flatten().filter(|u| join_key(u.ids.key()) == key) {
                u.authentication_policy = to.as_deref().map(Into::into);
            }
        }
        Action::SetMailbox { mailbox, setting, to, .. } => {
            let key = join_key(&mailbox.identity);
            for m in parts.mailboxes.iter_mut().filter(|m| join_key(m.ids.key()) == key) {
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
