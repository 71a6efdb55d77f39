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

/// A client of the evidence: its IP address and user agent, each by its
/// number in the evidence's [`Clients`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Client {
    ip: u32,
    agent: u32,
}

/// Every IP address and user agent of the evidence, each kept once and
/// numbered in the order first seen. A mailbox's counters hold its clients by
/// number (eight bytes each): the same few user agents and a spray's
/// addresses recur across thousands of mailboxes, and a text key per mailbox,
/// protocol and client took 92 MiB of the 255 at 10,000,000 events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clients {
    ips: Strings,
    agents: Strings,
}

type Strings = indexmap::IndexSet<Box<str>, rustc_hash::FxBuildHasher>;

/// The number of `text` in `strings`, added if new. Past `u32::MAX` strings
/// (some 60 GB of them, which the counters could not hold anyway), the last
/// number stands for every further one.
fn number_in(strings: &mut Strings, text: &str) -> u32 {
    let at = match strings.get_index_of(text) {
        Some(at) => at,
        None => strings.insert_full(text.into()).0,
    };
    u32::try_from(at).unwrap_or(u32::MAX)
}

impl Clients {
    /// The client with IP address `ip` and user agent `agent`, if numbered.
    fn find(&self, ip: &str, agent: &str) -> Option<Client> {
        let at = |strings: &Strings, text| u32::try_from(strings.get_index_of(text)?).ok();
        Some(Client { ip: at(&self.ips, ip)?, agent: at(&self.agents, agent)? })
    }

    /// The client with IP address `ip` and user agent `agent`, numbered if new.
    fn number(&mut self, ip: &str, agent: &str) -> Client {
        Client { ip: number_in(&mut self.ips, ip), agent: number_in(&mut self.agents, agent) }
    }

    /// Counts `n` events of the client with IP address `ip` and user agent
    /// `agent` for `u`. A client is numbered only when `u` keeps it, so that
    /// a spray from millions of addresses adds no more than the counters hold.
    fn count(&mut self, u: &mut ProtocolUsage, ip: &str, agent: &str, n: u64) {
        let search = |u: &ProtocolUsage, c: Client| u.clients.binary_search_by_key(&c, |&(c, _)| c);
        if let Some(Ok(at)) = self.find(ip, agent).map(|c| search(u, c)) {
            u.clients[at].1 += n;
        } else if u.clients.len() < MAX_CLIENTS {
            let c = self.number(ip, agent);
            let at = search(u, c).unwrap_or_else(|at| at);
            u.clients.insert(at, (c, n));
        } else {
            u.other_clients += n;
        }
    }

    /// The IP address and user agent of `c`.
    pub fn get(&self, c: Client) -> (&str, &str) {
        fn text(strings: &Strings, at: u32) -> &str {
            strings.get_index(at as usize).map_or("", |s| s)
        }
        (text(&self.ips, c.ip), text(&self.agents, c.agent))
    }

    /// The most frequent clients of `u`: by count, then IP, then user agent.
    pub fn top(&self, u: &ProtocolUsage, n: usize) -> Vec<(&str, &str, u64)> {
        let mut all: Vec<(&str, &str, u64)> = u
            .clients
            .iter()
            .map(|&(c, count)| {
                let (ip, agent) = self.get(c);
                (ip, agent, count)
            })
            .collect();
        all.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(b.0)).then_with(|| a.1.cmp(b.1)));
        all.truncate(n);
        all
    }

    /// The most frequent clients of `u` as reports show them, one
    /// `203.0.113.7 BAV2ROPC ×41` each.
    pub fn labels(&self, u: &ProtocolUsage, n: usize) -> Vec<String> {
        self.top(u, n)
            .into_iter()
            .map(|(ip, agent, count)| {
                format!(
                    "{} {} ×{count}",
                    if ip.is_empty() { "(no IP)" } else { ip },
                    if agent.is_empty() { "(no user agent)" } else { agent }
                )
            })
            .collect()
    }
}

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
    /// Events per client, for up to [`MAX_CLIENTS`] clients, in the order of
    /// their numbers (so that a client is found by a binary search).
    pub clients: Vec<(Client, u64)>,
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

    /// Counts one event, without its client ([`Clients::count`]).
    fn record(&mut self, success: bool, at: i64) {
        let (count, last) = if success {
            (&mut self.successes, &mut self.last_success)
        } else {
            (&mut self.failures, &mut self.last_failure)
        };
        *count += 1;
        *last = Some(last.map_or(at, |l| l.max(at)));
    }

    /// Adds `other`'s counts and times, and its events of clients not told
    /// apart (not the clients it tells apart: [`Usage::merge`]).
    fn add_counts(&mut self, other: &ProtocolUsage) {
        self.successes += other.successes;
        self.failures += other.failures;
        self.last_success = max_opt(self.last_success, other.last_success);
        self.last_failure = max_opt(self.last_failure, other.last_failure);
        self.other_clients += other.other_clients;
    }

    /// Distinct client IP addresses (at least; beyond [`MAX_CLIENTS`] clients
    /// the rest are not told apart).
    pub fn distinct_ips(&self) -> usize {
        let mut ips: Vec<u32> = self.clients.iter().map(|(c, _)| c.ip).collect();
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
    /// SHA-256 of the raw bytes, lowercase hex; `None` when the run makes no
    /// digests.
    pub sha256: Option<String>,
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
/// `Snapshot::mailboxes`) with any event, its counters per protocol. Two are
/// equal when they hold the same counters with their clients numbered alike
/// (as reading the same events in the same order numbers them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Counters of the mailboxes that have events.
    pub mailboxes: FxHashMap<u32, Box<PerProtocol<Option<ProtocolUsage>>>>,
    /// The clients the counters number.
    pub clients: Clients,
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
        let u = self.mailboxes.entry(i).or_default()[p].get_or_insert_with(Default::default);
        u.record(success, at);
        let (ip, agent) = client.split_once('\t').unwrap_or((client, ""));
        self.clients.count(u, ip, agent, 1);
    }

    /// Adds another partial count (another file, or a later part of one). A
    /// counter only `other` has is moved here with its clients numbered anew;
    /// into one both have, `other`'s most frequent clients are counted first,
    /// so that those are the ones kept when there is no room for all.
    pub fn merge(&mut self, other: Usage) {
        let Usage { mailboxes, clients: theirs, .. } = other;
        for (i, per) in mailboxes {
            let entry = self.mailboxes.entry(i).or_default();
            for (p, u) in Protocol::ALL.into_iter().zip(per.0) {
                let Some(mut u) = u else { continue };
                let Some(e) = &mut entry[p] else {
                    for (c, _) in &mut u.clients {
                        let (ip, agent) = theirs.get(*c);
                        *c = self.clients.number(ip, agent);
                    }
                    u.clients.sort_unstable_by_key(|&(c, _)| c);
                    entry[p] = Some(u);
                    continue;
                };
                e.add_counts(&u);
                u.clients.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                for (c, n) in u.clients {
                    let (ip, agent) = theirs.get(c);
                    self.clients.count(e, ip, agent, n);
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
        let mut u = Usage::default();
        assert_eq!(u.readiness(0, Protocol::Imap), Readiness::Unused);
        u.add(0, Protocol::Imap, false, 10, "1.1.1.1\tBAV2ROPC");
        assert_eq!(u.readiness(0, Protocol::Imap), Readiness::Attempted);
        u.add(0, Protocol::Imap, true, 5, "1.1.1.1\tBAV2ROPC");
        assert_eq!(u.readiness(0, Protocol::Imap), Readiness::InUse);
        let imap = u.get(0, Protocol::Imap);
        assert_eq!((imap.last_success, imap.last_failure), (Some(5), Some(10)));
        assert_eq!(u.clients.top(imap, 3), [("1.1.1.1", "BAV2ROPC", 2)]);
        assert_eq!(u.clients.labels(imap, 3), ["1.1.1.1 BAV2ROPC ×2"]);
    }

    #[test]
    fn spraying_needs_failures_from_several_addresses() {
        let mut u = Usage::default();
        for ip in ["10.0.0.1", "10.0.0.2"] {
            u.add(0, Protocol::Smtp, false, 1, &format!("{ip}\tBAV2ROPC"));
        }
        assert!(!u.get(0, Protocol::Smtp).looks_like_spraying());
        u.add(0, Protocol::Smtp, false, 2, "10.0.0.3\tpython-requests");
        assert!(u.get(0, Protocol::Smtp).looks_like_spraying());
        u.add(0, Protocol::Smtp, true, 3, "10.0.0.3\tBAV2ROPC");
        let smtp = u.get(0, Protocol::Smtp);
        assert!(!smtp.looks_like_spraying(), "a success makes it in use, not an attack");
        assert_eq!(smtp.distinct_ips(), 3, "one address with two user agents is one address");
    }

    #[test]
    fn merging_partial_counts_keeps_the_latest_times_and_sums_clients() {
        let mut a = Usage::default();
        a.add(0, Protocol::Smtp, true, 100, "1.1.1.1\tua");
        a.add(3, Protocol::Imap, true, 100, "3.3.3.3\t");
        let mut b = Usage::default();
        // Numbered the other way round from `a`: merging renumbers them.
        b.add(0, Protocol::Smtp, false, 70, "2.2.2.2\tother");
        b.add(0, Protocol::Smtp, true, 50, "1.1.1.1\tua");
        b.add(0, Protocol::Smtp, true, 60, "1.1.1.1\tua");
        b.add(1, Protocol::Pop, false, 70, "2.2.2.2\tua");
        a.merge(b);
        let s = a.get(0, Protocol::Smtp);
        assert_eq!(
            (s.successes, s.failures, s.last_success, s.last_failure),
            (3, 1, Some(100), Some(70))
        );
        assert_eq!(a.clients.top(s, 3), [("1.1.1.1", "ua", 3), ("2.2.2.2", "other", 1)]);
        let pop = a.get(1, Protocol::Pop);
        assert_eq!(a.clients.top(pop, 3), [("2.2.2.2", "ua", 1)]);
        let imap = a.get(3, Protocol::Imap);
        assert_eq!(a.clients.labels(imap, 3), ["3.3.3.3 (no user agent) ×1"]);
        assert_eq!(a.readiness(1, Protocol::Pop), Readiness::Attempted);
        assert_eq!(a.readiness(2, Protocol::Pop), Readiness::Unused);
        // Each address and user agent is kept once, whichever part saw it.
        assert_eq!((a.clients.ips.len(), a.clients.agents.len()), (3, 3));

        // A mailbox only the later part has, whose clients the merge numbers
        // in the other order: they are still found, not counted twice.
        let mut b = Usage::default();
        for ip in ["6.6.6.6", "7.7.7.7", "3.3.3.3"] {
            b.add(5, Protocol::Imap, false, 1, &format!("{ip}\tua"));
        }
        a.merge(b);
        a.add(5, Protocol::Imap, false, 2, "3.3.3.3\tua");
        let imap = a.get(5, Protocol::Imap);
        assert_eq!(
            a.clients.top(imap, 4),
            [("3.3.3.3", "ua", 2), ("6.6.6.6", "ua", 1), ("7.7.7.7", "ua", 1)]
        );
    }

    #[test]
    fn a_spray_from_thousands_of_addresses_stays_bounded() {
        let mut u = Usage::default();
        for n in 0..10_000u32 {
            u.add(
                7,
                Protocol::Pop,
                false,
                i64::from(n),
                &format!("10.{}.{}.{}\tBAV2ROPC", n >> 16, (n >> 8) & 255, n & 255),
            );
        }
        u.add(7, Protocol::Pop, false, 1, "10.0.0.0\tBAV2ROPC");
        let pop = u.get(7, Protocol::Pop);
        assert_eq!(pop.clients.len(), MAX_CLIENTS);
        assert_eq!(pop.other_clients, 10_000 - MAX_CLIENTS as u64);
        assert_eq!(pop.failures, 10_001);
        assert_eq!(u.clients.top(pop, 1), [("10.0.0.0", "BAV2ROPC", 2)]);
        assert!(pop.looks_like_spraying());
        // Only the addresses the counters keep are numbered.
        assert_eq!(u.clients.ips.len(), MAX_CLIENTS);
    }

    #[test]
    fn a_merge_with_no_room_keeps_the_most_frequent_clients() {
        let key = |n: usize| format!("10.0.{}.{}\tBAV2ROPC", n >> 8, n & 255);
        let mut a = Usage::default();
        for n in 0..MAX_CLIENTS - 1 {
            a.add(0, Protocol::Smtp, false, 1, &key(n));
        }
        let mut b = Usage::default();
        for (n, events) in [(1000, 1), (1001, 5), (1002, 2)] {
            for _ in 0..events {
                b.add(0, Protocol::Smtp, false, 1, &key(n));
            }
        }
        a.merge(b);
        let s = a.get(0, Protocol::Smtp);
        assert_eq!(s.clients.len(), MAX_CLIENTS);
        assert_eq!(s.other_clients, 3, "the two less frequent clients are counted together");
        assert_eq!(a.clients.top(s, 1), [("10.0.3.233", "BAV2ROPC", 5)]);
        assert_eq!(a.clients.ips.len(), MAX_CLIENTS, "the clients not kept are not numbered");
    }
}
