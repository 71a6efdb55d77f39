//! Usage evidence joined to mailboxes (DESIGN.md §2, Readiness): per mailbox
//! and protocol, how often basic auth succeeded and failed in the sign-in logs,
//! when last, and from which clients.
//!
//! The sign-in files are read by [`crate::evidence`]; what is kept here is
//! small: counters per (mailbox, protocol) that has events, never the events.

use rustc_hash::FxHashMap;

use super::{PerProtocol, Protocol};

/// What the evidence says about one mailbox and protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Readiness {
    /// At least one successful basic-auth sign-in in the evidence window: a
    /// client depends on it and breaks when basic auth goes.
    InUse,
    /// Failures only: a broken client, or someone guessing passwords.
    Attempted,
    /// No event at all: safe to block.
    Unused,
}

impl Readiness {
    /// Every readiness, in report order.
    pub const ALL: [Readiness; 3] = [Readiness::InUse, Readiness::Attempted, Readiness::Unused];

    /// `in-use`, `attempted` or `unused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::InUse => "in-use",
            Readiness::Attempted => "attempted",
            Readiness::Unused => "unused",
        }
    }
}

/// A client seen in the evidence, as one key: its IP address, a tab, its user
/// agent (neither holds a tab: control characters are replaced on reading).
pub fn client_key(buf: &mut String, ip: &str, user_agent: &str) {
    buf.clear();
    buf.push_str(ip);
    buf.push('\t');
    buf.push_str(user_agent);
}

/// Distinct clients counted one by one per mailbox and protocol; more (a spray
/// from thousands of addresses) are counted together, so that memory stays
/// bounded whatever the logs hold.
pub const MAX_CLIENTS: usize = 256;

/// The evidence for one mailbox and protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolUsage {
    /// Successful sign-ins.
    pub successes: u64,
    /// Failed or interrupted sign-ins.
    pub failures: u64,
    /// The latest success, in seconds since the Unix epoch (UTC).
    pub last_success: Option<i64>,
    /// The latest failure, in seconds since the Unix epoch (UTC).
    pub last_failure: Option<i64>,
    /// Events per client ([`client_key`]), for up to [`MAX_CLIENTS`] clients.
    pub clients: FxHashMap<Box<str>, u64>,
    /// Events of further clients, beyond [`MAX_CLIENTS`].
    pub other_clients: u64,
}

/// How many clients a report lists per mailbox and protocol.
pub const TOP_CLIENTS: usize = 3;

/// Distinct client IP addresses from which failures-only evidence points to
/// password spraying rather than one broken client.
pub const SPRAY_IPS: usize = 3;

impl ProtocolUsage {
    /// `in-use` with any success, `attempted` with failures only, else `unused`.
    pub fn readiness(&self) -> Readiness {
        if self.successes > 0 {
            Readiness::InUse
        } else if self.failures > 0 {
            Readiness::Attempted
        } else {
            Readiness::Unused
        }
    }

    /// Counts one event of `client` ([`client_key`]).
    pub fn add(&mut self, success: bool, at: i64, client: &str) {
        let (count, last) = if success {
            (&mut self.successes, &mut self.last_success)
        } else {
            (&mut self.failures, &mut self.last_failure)
        };
        *count += 1;
        *last = Some(last.map_or(at, |l| l.max(at)));
        self.count_client(client, 1);
    }

    fn count_client(&mut self, client: &str, n: u64) {
        let room = self.clients.len() < MAX_CLIENTS;
        match self.clients.get_mut(client) {
            Some(c) => *c += n,
            None if room => {
                self.clients.insert(client.into(), n);
            }
            None => self.other_clients += n,
        }
    }

    /// Adds another partial count of the same mailbox and protocol.
    pub fn merge(&mut self, other: ProtocolUsage) {
        self.successes += other.successes;
        self.failures += other.failures;
        self.last_success = max_opt(self.last_success, other.last_success);
        self.last_failure = max_opt(self.last_failure, other.last_failure);
        self.other_clients += other.other_clients;
        for (client, n) in other.clients {
            // The key is moved, not copied.
            let room = self.clients.len() < MAX_CLIENTS;
            match self.clients.get_mut(&client) {
                Some(c) => *c += n,
                None if room => {
                    self.clients.insert(client, n);
                }
                None => self.other_clients += n,
            }
        }
    }

    /// The most frequent clients: by count, then IP, then user agent.
    pub fn top_clients(&self, n: usize) -> Vec<(&str, &str, u64)> {
        let mut all: Vec<(&str, &str, u64)> = self
            .clients
            .iter()
            .map(|(key, &c)| {
                let (ip, ua) = key.split_once('\t').unwrap_or((key, ""));
                (ip, ua, c)
            })
            .collect();
        all.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(b.0)).then_with(|| a.1.cmp(b.1)));
        all.truncate(n);
        all
    }

    /// Distinct client IP addresses (at least; beyond [`MAX_CLIENTS`] clients
    /// the rest are not told apart).
    pub fn distinct_ips(&self) -> usize {
        let mut ips: Vec<&str> =
            self.clients.keys().map(|k| k.split_once('\t').map_or(&**k, |(ip, _)| ip)).collect();
        ips.sort_unstable();
        ips.dedup();
        ips.len()
    }

    /// For failures only: true when they come from so many addresses that
    /// password spraying is likelier than one broken client.
    pub fn looks_like_spraying(&self) -> bool {
        self.readiness() == Readiness::Attempted && self.distinct_ips() >= SPRAY_IPS
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Whether a sign-in file says its events are interactive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interactivity {
    /// Interactive sign-ins.
    Interactive,
    /// Non-interactive sign-ins (a long POP session may show only here).
    NonInteractive,
}

/// One evidence file as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceSource {
    /// The path as given.
    pub path: String,
    /// Which shape it is (`entra-portal-csv`, `graph-json`, ...).
    pub kind: &'static str,
    /// SHA-256 of the raw bytes, lowercase hex.
    pub sha256: String,
    /// Events read (rejected rows not included).
    pub events: u64,
}

/// What was read, for the report's evidence section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceSummary {
    /// The window's start (the earliest event, or `--since`), Unix seconds.
    pub from: Option<i64>,
    /// The window's end (the latest event), Unix seconds.
    pub to: Option<i64>,
    /// The files read.
    pub sources: Vec<EvidenceSource>,
    /// Every event read, whatever its client app.
    pub events: u64,
    /// POP3, IMAP4 and Authenticated SMTP events matched to a mailbox.
    pub counted: u64,
    /// POP3, IMAP4 and Authenticated SMTP events that match no mailbox.
    pub unmatched: u64,
    /// Events before `--since`, left out.
    pub before_since: u64,
    /// Interactive events.
    pub interactive: u64,
    /// Non-interactive events.
    pub non_interactive: u64,
    /// Events whose file did not say which they are.
    pub unknown_interactivity: u64,
    /// The sign-in names (UPN or object id) with the most unmatched events.
    pub unmatched_top: Vec<(String, u64)>,
}

impl EvidenceSummary {
    /// Adds the counts and window of another part of the evidence (sources and
    /// names of unmatched sign-ins are kept by whoever reads the files).
    pub fn add(&mut self, other: &EvidenceSummary) {
        self.from = [self.from, other.from].into_iter().flatten().min();
        self.to = [self.to, other.to].into_iter().flatten().max();
        self.events += other.events;
        self.counted += other.counted;
        self.unmatched += other.unmatched;
        self.before_since += other.before_since;
        self.interactive += other.interactive;
        self.non_interactive += other.non_interactive;
        self.unknown_interactivity += other.unknown_interactivity;
    }
}

/// The usage evidence of a tenant: per mailbox (index into
/// `Snapshot::mailboxes`) with any event, its counters per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Counters of the mailboxes that have events.
    pub mailboxes: FxHashMap<u32, Box<PerProtocol<Option<ProtocolUsage>>>>,
    /// What was read.
    pub summary: EvidenceSummary,
}

/// The counters of a mailbox and protocol without events.
static NO_EVENTS: std::sync::LazyLock<ProtocolUsage> = std::sync::LazyLock::new(Default::default);

impl Usage {
    /// The evidence for mailbox `i` and protocol `p` (all zero without events).
    pub fn get(&self, i: usize, p: Protocol) -> &ProtocolUsage {
        u32::try_from(i)
            .ok()
            .and_then(|i| self.mailboxes.get(&i))
            .and_then(|m| m[p].as_ref())
            .unwrap_or(&NO_EVENTS)
    }

    /// The readiness of mailbox `i` for protocol `p`.
    pub fn readiness(&self, i: usize, p: Protocol) -> Readiness {
        self.get(i, p).readiness()
    }

    /// Counts one event of mailbox `i` from `client` ([`client_key`]).
    pub fn add(&mut self, i: u32, p: Protocol, success: bool, at: i64, client: &str) {
        let entry = self.mailboxes.entry(i).or_default();
        entry[p].get_or_insert_with(Default::default).add(success, at, client);
    }

    /// Adds another partial count (another file).
    pub fn merge(&mut self, other: Usage) {
        for (i, per) in other.mailboxes {
            let entry = self.mailboxes.entry(i).or_default();
            for (p, u) in Protocol::ALL.into_iter().zip(per.0) {
                if let Some(u) = u {
                    match &mut entry[p] {
                        Some(e) => e.merge(u),
                        slot => *slot = Some(u),
                    }
                }
            }
        }
    }
}

/// Formats Unix seconds as `2026-11-20T08:01:02Z`.
pub fn format_time(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_successes_then_failures() {
        let mut u = ProtocolUsage::default();
        assert_eq!(u.readiness(), Readiness::Unused);
        u.add(false, 10, "1.1.1.1\tBAV2ROPC");
        assert_eq!(u.readiness(), Readiness::Attempted);
        u.add(true, 5, "1.1.1.1\tBAV2ROPC");
        assert_eq!(u.readiness(), Readiness::InUse);
        assert_eq!((u.last_success, u.last_failure), (Some(5), Some(10)));
        assert_eq!(u.top_clients(3), [("1.1.1.1", "BAV2ROPC", 2)]);
    }

    #[test]
    fn spraying_needs_failures_from_several_addresses() {
        let mut u = ProtocolUsage::default();
        for ip in ["10.0.0.1", "10.0.0.2"] {
            u.add(false, 1, &format!("{ip}\tBAV2ROPC"));
        }
        assert!(!u.looks_like_spraying());
        u.add(false, 2, "10.0.0.3\tpython-requests");
        assert!(u.looks_like_spraying());
        u.add(true, 3, "10.0.0.3\tBAV2ROPC");
        assert!(!u.looks_like_spraying(), "a success makes it in use, not an attack");
    }

    #[test]
    fn merging_partial_counts_keeps_the_latest_times_and_sums_clients() {
        let mut a = Usage::default();
        a.add(0, Protocol::Smtp, true, 100, "1.1.1.1\tua");
        let mut b = Usage::default();
        b.add(0, Protocol::Smtp, true, 50, "1.1.1.1\tua");
        b.add(0, Protocol::Smtp, false, 70, "2.2.2.2\tua");
        b.add(1, Protocol::Pop, false, 70, "2.2.2.2\tua");
        a.merge(b);
        let s = a.get(0, Protocol::Smtp);
        assert_eq!(
            (s.successes, s.failures, s.last_success, s.last_failure),
            (2, 1, Some(100), Some(70))
        );
        assert_eq!(s.top_clients(1), [("1.1.1.1", "ua", 2)]);
        assert_eq!(a.readiness(1, Protocol::Pop), Readiness::Attempted);
        assert_eq!(a.readiness(2, Protocol::Pop), Readiness::Unused);
    }

    #[test]
    fn a_spray_from_thousands_of_addresses_stays_bounded() {
        let mut u = ProtocolUsage::default();
        for n in 0..10_000u32 {
            u.add(
                false,
                i64::from(n),
                &format!("10.{}.{}.{}\tBAV2ROPC", n >> 16, (n >> 8) & 255, n & 255),
            );
        }
        u.add(false, 1, "10.0.0.0\tBAV2ROPC");
        assert_eq!(u.clients.len(), MAX_CLIENTS);
        assert_eq!(u.other_clients, 10_000 - MAX_CLIENTS as u64);
        assert_eq!(u.failures, 10_001);
        assert_eq!(u.top_clients(1), [("10.0.0.0", "BAV2ROPC", 2)]);
        assert!(u.looks_like_spraying());
    }
}
