//! Root causes: flagged mailboxes that share the same blockers share one fix.
//!
//! A group's signature is what its mailboxes are flagged for: per line, the
//! protocols, the verdict, and the blocker's code, setting and value. The source
//! line is left out: a mailbox's own switch sits on its own line of
//! `CasMailbox.csv`, and "PopEnabled False" is the same cause on every one.
//! Groups come largest first, so that the page opens on the fix that turns
//! around the most mailboxes.

use rayon::prelude::*;
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
    /// Each flagged mailbox's position in `groups`, by mailbox index (ascending).
    of_mailbox: Vec<(usize, usize)>,
}

impl Groups {
    /// The group of a flagged mailbox.
    pub fn of(&self, mailbox: usize) -> Option<&Group> {
        let at = self.of_mailbox.binary_search_by_key(&mailbox, |&(m, _)| m).ok()?;
        Some(&self.groups[self.of_mailbox[at].1])
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

/// Groups the flagged mailboxes of a report. Both passes go through the
/// mailboxes a chunk at a time on every core; the chunks' groups are merged in
/// order, so that groups are numbered by where they first appear, as one pass
/// would number them.
pub fn groups(r: &Report<'_>) -> Groups {
    let entries = r.audit.entries();
    let chunks = r.audit.entry_chunks(CHUNK);
    // What each shared setting blocks, over every in-scope mailbox.
    let reach = chunks
        .par_iter()
        .map(|range| {
            let mut reach: Reach = FxHashMap::default();
            for (f, _) in r.audit.findings_of(&entries[range.clone()]) {
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
            reach
        })
        .reduce(FxHashMap::default, |mut all, part| {
            for (k, n) in part {
                *all.entry(k).or_insert(0) += n;
            }
            all
        });
    let group = |range: &std::ops::Range<usize>| {
        let flagged = entries[range.clone()].iter().filter(|e| e.flagged());
        let mut part = Part::default();
        for (f, row) in r.audit.findings_of(flagged) {
            let rows = fix_rows(r, &f);
            let signature: Vec<String> = rows.iter().map(key).collect();
            let signature = signature.join("\n");
            let k = match part.by_key.get(&signature) {
                Some(&k) => k,
                None => {
                    part.by_key.insert(signature.clone(), part.groups.len());
                    part.groups.push((signature, group_of(&rows, &reach)));
                    part.groups.len() - 1
                }
            };
            let g = &mut part.groups[k].1;
            g.count += 1;
            if g.examples.len() < EXAMPLES {
                g.examples.push(r.view_row(&f, row).label().to_string());
            }
            part.members.push((f.mailbox, k));
        }
        part
    };
    let mut by_key: FxHashMap<String, usize> = FxHashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut member: Vec<(usize, usize)> =
        Vec::with_capacity(entries.iter().filter(|e| e.flagged()).count());
    // A batch of chunks at a time, merged before the next: a chunk's groups
    // repeat the other chunks' (a hundred groups, each in every chunk).
    for batch in chunks.chunks(8 * rayon::current_num_threads().max(1)) {
        let parts: Vec<Part> = batch.par_iter().map(group).collect();
        for part in parts {
            let global: Vec<usize> = part
                .groups
                .into_iter()
                .map(|(signature, group)| match by_key.get(&signature) {
                    Some(&k) => {
                        let g = &mut groups[k];
                        g.count += group.count;
                        let room = EXAMPLES.saturating_sub(g.examples.len());
                        g.examples.extend(group.examples.into_iter().take(room));
                        k
                    }
                    None => {
                        by_key.insert(signature, groups.len());
                        groups.push(group);
                        groups.len() - 1
                    }
                })
                .collect();
            member.extend(part.members.into_iter().map(|(m, k)| (m, global[k])));
        }
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
    // In mailbox order already (the chunks and their entries are in order).
    let of_mailbox = member.into_iter().map(|(m, k)| (m, position[k])).collect();
    Groups { groups, of_mailbox }
}

/// Mailboxes a task groups at a time.
const CHUNK: usize = 1 << 11;

/// How many in-scope mailboxes each shared setting (code, setting, value) blocks.
type Reach = FxHashMap<(Code, Text, Text), usize>;

/// One chunk's groups, in the order they first appear in it, by signature,
/// and its flagged mailboxes' groups.
#[derive(Default)]
struct Part {
    groups: Vec<(String, Group)>,
    by_key: FxHashMap<String, usize>,
    members: Vec<(usize, usize)>,
}

/// A new group (no members yet) for a mailbox's fix rows.
fn group_of(rows: &[FixRow<'_>], reach: &Reach) -> Group {
    Group {
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
                    reach: shared.and_then(|b| reach.get(&(b.code, b.setting, b.value)).copied()),
                }
            })
            .collect(),
        count: 0,
        examples: Vec::new(),
    }
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
