//! Counts over the findings: per protocol and per blocker code.

use crate::model::usage::Readiness;
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

/// Readiness counts for one protocol (with usage evidence only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadinessCounts {
    /// Mailboxes with at least one successful basic-auth sign-in.
    pub in_use: usize,
    /// Mailboxes with failed sign-ins only.
    pub attempted: usize,
    /// Mailboxes with no sign-in.
    pub unused: usize,
    /// Mailboxes whose configuration allows basic auth and that did not use it:
    /// safe to block today.
    pub allowed_unused: usize,
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
    /// Mailboxes excepted by the register (block direction).
    pub excepted: usize,
    /// Readiness counts per in-scope protocol; `None` without evidence.
    pub readiness: PerProtocol<Option<ReadinessCounts>>,
    /// Verdict counts per in-scope protocol.
    pub by_protocol: PerProtocol<Option<Counts>>,
    /// In-scope mailboxes with at least one blocker of each code.
    pub by_blocker: CodeCounts,
}

/// A count per blocker code: a counter each, so that counting a million
/// mailboxes' codes is an increment, not a map lookup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodeCounts([usize; Code::ALL.len()]);

impl CodeCounts {
    /// The codes counted at least once, with their counts, in code order.
    pub fn iter(&self) -> impl Iterator<Item = (Code, usize)> + '_ {
        Code::ALL.into_iter().zip(self.0).filter(|&(_, n)| n > 0)
    }

    /// True when no code was counted.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&n| n == 0)
    }

    /// Counts `code` `n` more times.
    pub fn add(&mut self, code: Code, n: usize) {
        self.0[code as usize] += n;
    }
}

impl Summary {
    /// An empty summary of `mailboxes` mailbox rows, before any finding is counted.
    pub fn new(mailboxes: usize, options: &Options) -> Summary {
        let mut by_protocol = PerProtocol([None; 3]);
        for &p in &options.protocols {
            by_protocol[p] = Some(Counts::default());
        }
        Summary {
            mailboxes,
            in_scope: 0,
            flagged: 0,
            excepted: 0,
            readiness: PerProtocol([None; 3]),
            by_protocol,
            by_blocker: CodeCounts::default(),
        }
    }

    /// Counts one more in-scope finding.
    pub fn add(&mut self, f: &Finding) {
        self.in_scope += 1;
        self.flagged += usize::from(f.flagged);
        self.excepted += usize::from(!f.excepted.is_empty());
        for (p, v) in f.verdicts() {
            if let Some(r) = f.readiness[p] {
                let c = self.readiness[p].get_or_insert_with(ReadinessCounts::default);
                match r {
                    Readiness::InUse => c.in_use += 1,
                    Readiness::Attempted => c.attempted += 1,
                    Readiness::Unused => {
                        c.unused += 1;
                        c.allowed_unused += usize::from(v.verdict == Verdict::Allowed);
                    }
                }
            }
            if let Some(c) = self.by_protocol[p].as_mut() {
                match v.verdict {
                    Verdict::Allowed => c.allowed += 1,
                    Verdict::Blocked => c.blocked += 1,
                    Verdict::Unknown => c.unknown += 1,
                }
            }
        }
        // Each code once per mailbox, however many protocols it blocks.
        let mut seen = [false; Code::ALL.len()];
        for b in f.verdicts().flat_map(|(_, v)| &v.blockers) {
            let k = b.code as usize;
            if !seen[k] {
                seen[k] = true;
                self.by_blocker.add(b.code, 1);
            }
        }
    }

    /// Adds the counts of `other`, a summary of other findings of the same rows.
    pub fn merge(mut self, other: Summary) -> Summary {
        self.in_scope += other.in_scope;
        self.flagged += other.flagged;
        self.excepted += other.excepted;
        for p in Protocol::ALL {
            if let Some(b) = other.readiness[p] {
                let a = self.readiness[p].get_or_insert_with(ReadinessCounts::default);
                a.in_use += b.in_use;
                a.attempted += b.attempted;
                a.unused += b.unused;
                a.allowed_unused += b.allowed_unused;
            }
            if let (Some(a), Some(b)) = (self.by_protocol[p].as_mut(), other.by_protocol[p]) {
                a.allowed += b.allowed;
                a.blocked += b.blocked;
                a.unknown += b.unknown;
            }
        }
        for (code, n) in other.by_blocker.iter() {
            self.by_blocker.add(code, n);
        }
        self
    }

    /// The protocols with counts, in report order.
    pub fn protocols(&self) -> impl Iterator<Item = (Protocol, Counts)> + '_ {
        Protocol::ALL.into_iter().filter_map(|p| self.by_protocol[p].map(|c| (p, c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_counted_under_itself_in_code_order() {
        let mut counts = CodeCounts::default();
        assert!(counts.is_empty());
        assert_eq!(counts.iter().count(), 0);
        // Every code but the first, the k-th counted k times.
        for (k, &code) in Code::ALL.iter().enumerate().skip(1) {
            counts.add(code, k);
        }
        assert!(!counts.is_empty());
        let want: Vec<(Code, usize)> = Code::ALL.iter().copied().zip(0..).skip(1).collect();
        assert_eq!(counts.iter().collect::<Vec<_>>(), want);
        for (k, &code) in Code::ALL.iter().enumerate() {
            assert_eq!(code as usize, k, "{code}: a code's counter is its place in Code::ALL");
        }
    }
}
