//! Root causes: flagged mailboxes that share the same blockers share one fix.
//!
//! A group's signature is what its mailboxes are flagged for: per line, the
//! protocols, the verdict, and the blocker's code, setting and value. The source
//! line is left out: a mailbox's own switch sits on its own line of
//! `CasMailbox.csv`, and "PopEnabled False" is the same cause on every one.
//! Groups come largest first, so that the page opens on the fix that turns
//! around the most mailboxes.

use rustc_hash::FxHashMap;

use super::{FixRow, Report, fix_rows};
use crate::audit::{Code, Verdict};
use crate::input::Source;
use crate::model::{Protocol, Text};

/// One line of a group's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The protocols it concerns.
    pub protocols: Vec<Protocol>,
    /// Their verdict.
    pub verdict: Verdict,
    /// The blocker; `None` when nothing blocks (block direction).
    pub code: Option<Code>,
    /// The setting and its value.
    pub setting: Option<(Text, Text)>,
    /// Where the value came from, for a setting every member shares (a policy,
    /// the org default, the tenant switch); `None` for a mailbox's or user's own.
    pub shared_source: Option<Source>,
    /// What fixes it, in words.
    pub fix: String,
    /// For a shared setting: how many in-scope mailboxes it blocks in all
    /// (flagged or not), which is what changing it reaches.
    pub reach: Option<usize>,
}

/// Mailboxes flagged for the same causes.
#[derive(Debug, Clone)]
pub struct Group {
    /// 1-based, in order of size.
    pub id: usize,
    /// The causes.
    pub causes: Vec<Cause>,
    /// How many flagged mailboxes share them.
    pub count: usize,
    /// The first few members' labels.
    pub examples: Vec<String>,
}

/// The groups, and each flagged mailbox's group.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    /// Largest first.
    pub groups: Vec<Group>,
    /// Mailbox index to position in `groups`.
    of_mailbox: FxHashMap<usize, usize>,
}

impl Groups {
    /// The group of a flagged mailbox.
    pub fn of(&self, mailbox: usize) -> Option<&Group> {
        self.of_mailbox.get(&mailbox).map(|&k| &self.groups[k])
    }
}

/// How many examples a group keeps.
const EXAMPLES: usize = 3;

/// A setting shared by many mailboxes: changing it reaches all of them.
fn is_shared(setting: &str) -> bool {
    [
        "AuthenticationPolicy[",
        "OrganizationConfig.",
        "TransportConfig.",
        "SecurityDefaults.",
        "ConditionalAccessPolicy[",
    ]
    .iter()
    .any(|p| setting.starts_with(p))
}

fn key(row: &FixRow<'_>) -> String {
    let protocols: Vec<&str> = row.protocols.iter().map(|p| p.as_str()).collect();
    match row.blocker {
        Some(b) => format!(
            "{}|{}|{}|{}|{}",
            protocols.join(","),
            row.verdict.as_str(),
            b.code.as_str(),
            b.setting,
            b.value
        ),
        None => format!("{}|{}", protocols.join(","), row.verdict.as_str()),
    }
}

/// Groups the flagged mailboxes of a report.
pub fn groups(r: &Report<'_>) -> Groups {
    // What each shared setting blocks, over every in-scope mailbox.
    let mut reach: FxHashMap<(Code, Text, Text), usize> = FxHashMap::default();
    for f in r.audit.findings() {
        let mut seen: Vec<(Code, Text, Text)> = Vec::new();
        for (_, v) in f.verdicts() {
            for b in v.blockers.iter().filter(|b| is_shared(&b.setting)) {
                let k = (b.code, b.setting, b.value);
                if !seen.contains(&k) {
                    seen.push(k);
                }
            }
        }
        for k in seen {
            *reach.entry(k).or_insert(0) += 1;
        }
    }
    let mut by_key: FxHashMap<String, usize> = FxHashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut member: Vec<(usize, usize)> = Vec::new();
    for f in r.audit.flagged() {
        let rows = fix_rows(r, &f);
        let signature: Vec<String> = rows.iter().map(key).collect();
        let k = *by_key.entry(signature.join("\n")).or_insert_with(|| {
            groups.push(Group {
                id: 0,
                causes: rows
                    .iter()
                    .map(|row| {
                        let shared = row.blocker.filter(|b| is_shared(&b.setting));
                        Cause {
                            protocols: row.protocols.clone(),
                            verdict: row.verdict,
                            code: row.blocker.map(|b| b.code),
                            setting: row.blocker.map(|b| (b.setting, b.value)),
                            shared_source: shared.map(|b| b.source),
                            fix: row.fix.clone(),
                            reach: shared
                                .and_then(|b| reach.get(&(b.code, b.setting, b.value)).copied()),
                        }
                    })
                    .collect(),
                count: 0,
                examples: Vec::new(),
            });
            groups.len() - 1
        });
        let g = &mut groups[k];
        g.count += 1;
        if g.examples.len() < EXAMPLES {
            g.examples.push(r.view(&f).label().to_string());
        }
        member.push((f.mailbox, k));
    }
    // Largest first; equal sizes in order of first appearance.
    let mut ranked: Vec<(usize, Group)> = groups.into_iter().enumerate().collect();
    ranked.sort_by_key(|(_, g)| std::cmp::Reverse(g.count)); // stable: ties keep first appearance
    let mut position = vec![0; ranked.len()];
    for (at, (k, _)) in ranked.iter().enumerate() {
        position[*k] = at;
    }
    let groups: Vec<Group> =
        ranked.into_iter().enumerate().map(|(at, (_, g))| Group { id: at + 1, ..g }).collect();
    let of_mailbox = member.into_iter().map(|(m, k)| (m, position[k])).collect();
    Groups { groups, of_mailbox }
}

impl Group {
    /// The causes in one line: `pop, imap: default-policy-blocks
    /// AuthenticationPolicy[Block Basic Auth].AllowBasicAuthPop = False + ...`.
    pub fn label(&self) -> String {
        self.causes
            .iter()
            .map(|c| {
                let what = match (&c.code, &c.setting) {
                    (Some(code), Some((setting, value))) => {
                        let value = if value.is_empty() { "(blank)" } else { value.as_str() };
                        format!("{} {setting} = {value}", code.as_str())
                    }
                    _ => format!("{} (nothing blocks)", c.verdict.as_str()),
                };
                format!("{}: {what}", super::protocol_list(&c.protocols))
            })
            .collect::<Vec<_>>()
            .join(" + ")
    }
}
