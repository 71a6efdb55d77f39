//! Counts over the findings: per protocol and per blocker code.

use std::collections::BTreeMap;

use crate::model::{PerProtocol, Protocol};

use super::{Code, Finding, Options, Verdict};

/// Verdict counts for one protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Mailboxes allowed.
    pub allowed: usize,
    /// Mailboxes blocked.
    pub blocked: usize,
    /// Mailboxes unknown.
    pub unknown: usize,
}

/// The summary of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Mailbox rows audited or left out by scope (rejected rows not included).
    pub mailboxes: usize,
    /// Mailboxes in scope.
    pub in_scope: usize,
    /// Mailboxes flagged for the chosen direction.
    pub flagged: usize,
    /// Verdict counts per in-scope protocol.
    pub by_protocol: PerProtocol<Option<Counts>>,
    /// In-scope mailboxes with at least one blocker of each code.
    pub by_blocker: BTreeMap<Code, usize>,
}

impl Summary {
    /// Counts the findings.
    pub fn of(findings: &[Finding], mailboxes: usize, options: &Options) -> Summary {
        let mut by_protocol = PerProtocol([None; 3]);
        for &p in &options.protocols {
            by_protocol[p] = Some(Counts::default());
        }
        for f in findings {
            for (p, v) in f.verdicts() {
                if let Some(c) = by_protocol[p].as_mut() {
                    match v.verdict {
                        Verdict::Allowed => c.allowed += 1,
                        Verdict::Blocked => c.blocked += 1,
                        Verdict::Unknown => c.unknown += 1,
                    }
                }
            }
        }
        Summary {
            mailboxes,
            in_scope: findings.len(),
            flagged: findings.iter().filter(|f| f.flagged).count(),
            by_protocol,
            by_blocker: super::count_blockers(findings),
        }
    }

    /// The protocols with counts, in report order.
    pub fn protocols(&self) -> impl Iterator<Item = (Protocol, Counts)> + '_ {
        Protocol::ALL.into_iter().filter_map(|p| self.by_protocol[p].map(|c| (p, c)))
    }
}
