//! The readiness views every format shares (DESIGN.md §2, Readiness): the
//! answer first (who uses basic SMTP AUTH and breaks when it goes off by
//! default), then the mailboxes with sign-in evidence, the evidence read and
//! the exceptions register.

use crate::audit::advisory::SMTP_DEFAULT_OFF;
use crate::audit::{Verdict, Want};
use crate::model::exceptions::Exception;
use crate::model::usage::{
    Clients, EvidenceSummary, ProtocolUsage, Readiness, TOP_CLIENTS, format_time,
};
use crate::model::{Environment, Protocol};

use super::Report;

/// The readiness answer for one protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headline {
    /// The protocol.
    pub protocol: Protocol,
    /// In-scope mailboxes with at least one successful basic-auth sign-in.
    pub in_use: usize,
    /// Of those, the ones the configuration blocks today.
    pub in_use_blocked: usize,
    /// Of those, the ones whose configuration verdict is unknown.
    pub in_use_unknown: usize,
    /// Allowed by the configuration and not used: safe to block today.
    pub allowed_unused: usize,
    /// Failures only.
    pub attempted: usize,
    /// Of those, failures from so many addresses that spraying is likelier.
    pub spraying: usize,
}

impl Headline {
    /// Failures-only mailboxes that look like one broken client.
    pub fn broken(&self) -> usize {
        self.attempted - self.spraying
    }

    /// The answer in sentences, for every format.
    pub fn sentences(&self, r: &Report<'_>) -> Vec<String> {
        let p = self.protocol;
        let name = match p {
            Protocol::Smtp => "basic SMTP AUTH",
            Protocol::Pop => "basic POP",
            Protocol::Imap => "basic IMAP",
        };
        let mut out = Vec::new();
        let online = r.options.environment == Environment::Online;
        let breaks = match (p, online) {
            (Protocol::Smtp, true) if r.options.as_of < SMTP_DEFAULT_OFF => {
                ": they fail when Microsoft turns SMTP AUTH basic auth off by default at the end of December 2026, unless an admin re-enables it or they move to OAuth"
            }
            (Protocol::Smtp, true) => {
                ": SMTP AUTH basic auth is off by default since the end of December 2026, so they fail unless an admin has re-enabled it; move them to OAuth"
            }
            (_, true) if self.in_use > 0 => {
                ": Exchange Online retired basic POP and IMAP in 2023, so check these events' client app and time"
            }
            (_, true) => " (Exchange Online retired it in 2023)",
            (_, false) => "",
        };
        out.push(format!(
            "{} mailbox{} in use with {name}{breaks}.",
            self.in_use,
            plural(self.in_use, "", "es")
        ));
        let mut now = Vec::new();
        if self.in_use_blocked > 0 {
            now.push(format!(
                "{} {} blocked by the configuration now (it changed within the evidence window, or something outside the export allowed it)",
                self.in_use_blocked,
                if self.in_use_blocked == 1 { "is" } else { "are" }
            ));
        }
        if self.in_use_unknown > 0 {
            now.push(format!(
                "{} {} unknown (a fact the verdict needs is missing; see its blockers)",
                self.in_use_unknown,
                if self.in_use_unknown == 1 { "is" } else { "are" }
            ));
        }
        if !now.is_empty() {
            out.push(format!("Of these, {}.", now.join(" and ")));
        }
        out.push(format!(
            "{} mailbox{} allowed {name} but did not use it: safe to block today.",
            self.allowed_unused,
            plural(self.allowed_unused, "", "es")
        ));
        if self.attempted > 0 {
            out.push(format!(
                "{} mailbox{} only failed sign-ins: {} likely password spraying (failures from {} or more addresses), {} likely a broken client with an old password.",
                self.attempted,
                plural(self.attempted, " has", "es have"),
                self.spraying,
                crate::model::usage::SPRAY_IPS,
                self.broken()
            ));
        } else {
            out.push("No mailbox has failed sign-ins only.".into());
        }
        out
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The readiness answer for each in-scope protocol, SMTP first; empty without evidence.
pub fn headlines(r: &Report<'_>) -> Vec<Headline> {
    let s = &r.loaded.snapshot;
    let Some(usage) = &s.usage else { return Vec::new() };
    let mut order: Vec<Protocol> = r.options.protocols.clone();
    order.sort_by_key(|p| *p != Protocol::Smtp);
    let mut headlines: Vec<Headline> = order
        .into_iter()
        .filter_map(|p| {
            let c = r.audit.summary.readiness[p]?;
            Some(Headline {
                protocol: p,
                in_use: c.in_use,
                in_use_blocked: 0,
                in_use_unknown: 0,
                allowed_unused: c.allowed_unused,
                attempted: c.attempted,
                spraying: 0,
            })
        })
        .collect();
    // The mailboxes with evidence in file order, so that their findings are
    // worked out from the export's rows in one pass.
    let mut with_evidence: Vec<u32> = usage.mailboxes.keys().copied().collect();
    with_evidence.sort_unstable();
    for i in with_evidence {
        let Some(f) = r.audit.finding_of(i as usize) else { continue };
        let per = &usage.mailboxes[&i];
        for h in &mut headlines {
            let Some(u) = per[h.protocol].as_ref() else { continue };
            h.spraying += usize::from(u.looks_like_spraying());
            if u.readiness() == Readiness::InUse {
                match f.protocols[h.protocol].as_ref().map(|v| v.verdict) {
                    Some(Verdict::Blocked) => h.in_use_blocked += 1,
                    Some(Verdict::Unknown) => h.in_use_unknown += 1,
                    _ => {}
                }
            }
        }
    }
    headlines
}

/// Said in the block direction when no evidence was given, so that nobody takes
/// "no readiness" for "unused".
pub fn no_evidence(r: &Report<'_>) -> Option<&'static str> {
    (r.loaded.snapshot.usage.is_none() && r.options.want == Want::Block).then_some(
        "No usage evidence was given: the plan blocks every allowed protocol, whether a client uses it or not. Add the Entra sign-in logs with --sign-ins to see who uses basic auth, and to keep in-use protocols as manual steps until their clients move to OAuth.",
    )
}

/// The evidence window in words: `2026-10-30 to 2026-11-28, 30 days`.
pub fn window(s: &EvidenceSummary) -> String {
    match (s.from, s.to) {
        (Some(from), Some(to)) => {
            let days = to.div_euclid(86_400) - from.div_euclid(86_400) + 1;
            let date = |t: i64| format_time(t)[..10].to_owned();
            format!(
                "{} to {}, {days} day{}",
                date(from),
                date(to),
                if days == 1 { "" } else { "s" }
            )
        }
        _ => "no event".into(),
    }
}

/// A mailbox and protocol with sign-in events.
#[derive(Debug, Clone)]
pub struct UsageRow<'a> {
    /// The mailbox's label (UPN, address, name).
    pub label: String,
    /// Its display name, when known and different from the label.
    pub display_name: Option<String>,
    /// The protocol.
    pub protocol: Protocol,
    /// What the evidence says.
    pub readiness: Readiness,
    /// The configuration verdict.
    pub verdict: Verdict,
    /// The counters.
    pub usage: &'a ProtocolUsage,
    /// The clients they number.
    pub clients: &'a Clients,
}

impl UsageRow<'_> {
    /// `2026-11-20T08:01:02Z` or `-`.
    pub fn last_success(&self) -> String {
        self.usage.last_success.map_or_else(|| "-".into(), format_time)
    }

    /// `2026-11-20T08:01:02Z` or `-`.
    pub fn last_failure(&self) -> String {
        self.usage.last_failure.map_or_else(|| "-".into(), format_time)
    }

    /// The top clients: `203.0.113.7 BAV2ROPC ×41; ...`.
    pub fn clients(&self) -> String {
        self.client_list().join("; ")
    }

    /// The top clients, one `203.0.113.7 BAV2ROPC ×41` each.
    pub fn client_list(&self) -> Vec<String> {
        self.clients.labels(self.usage, TOP_CLIENTS)
    }

    /// For failures only: which cause is likelier.
    pub fn likely(&self) -> &'static str {
        match self.readiness {
            Readiness::InUse => "",
            Readiness::Attempted if self.usage.looks_like_spraying() => "likely password spraying",
            Readiness::Attempted => "likely a broken client",
            Readiness::Unused => "",
        }
    }
}

/// The in-scope mailboxes and protocols with events: in use first (most
/// successes first), then failures only; at most `limit` rows, and the total.
pub fn usage_rows<'a>(r: &Report<'a>, limit: usize) -> (Vec<UsageRow<'a>>, usize) {
    let s = &r.loaded.snapshot;
    let Some(usage) = &s.usage else { return (Vec::new(), 0) };
    let mut rows: Vec<UsageRow<'a>> = Vec::new();
    let mut keys: Vec<&u32> = usage.mailboxes.keys().collect();
    keys.sort_unstable();
    for &i in keys {
        let i = i as usize;
        let Some(f) = r.audit.finding_of(i) else { continue };
        let v = r.view(&f);
        for (p, pv) in f.verdicts() {
            let u = usage.get(i, p);
            let readiness = u.readiness();
            if readiness == Readiness::Unused {
                continue;
            }
            let label = v.label().to_string();
            rows.push(UsageRow {
                display_name: v.display_name().filter(|d| **d != *label).map(|d| d.to_string()),
                label,
                protocol: p,
                readiness,
                verdict: pv.verdict,
                usage: u,
                clients: &usage.clients,
            });
        }
    }
    rows.sort_by(|a, b| {
        (
            a.readiness,
            a.protocol != Protocol::Smtp,
            std::cmp::Reverse(a.usage.successes),
            std::cmp::Reverse(a.usage.failures),
            &a.label,
        )
            .cmp(&(
                b.readiness,
                b.protocol != Protocol::Smtp,
                std::cmp::Reverse(b.usage.successes),
                std::cmp::Reverse(b.usage.failures),
                &b.label,
            ))
    });
    let total = rows.len();
    rows.truncate(limit);
    (rows, total)
}

/// The evidence read, in lines of words.
pub fn evidence_lines(s: &EvidenceSummary) -> Vec<String> {
    let mut out = Vec::new();
    match (s.from, s.to) {
        (Some(from), Some(to)) => {
            let days = to.div_euclid(86_400) - from.div_euclid(86_400) + 1;
            out.push(format!("window: {} to {} ({days} days)", format_time(from), format_time(to)));
        }
        _ => out.push("window: no event".into()),
    }
    out.push(format!(
        "{} events read ({} interactive, {} non-interactive{}); {} POP3/IMAP4/Authenticated SMTP events counted, {} matching no mailbox; {} other client apps (modern auth, ActiveSync, ...) not counted",
        s.events,
        s.interactive,
        s.non_interactive,
        if s.unknown_interactivity > 0 { format!(", {} not saying", s.unknown_interactivity) } else { String::new() },
        s.counted,
        s.unmatched,
        s.events - s.counted - s.unmatched
    ));
    if s.before_since > 0 {
        out.push(format!("{} events before --since left out", s.before_since));
    }
    out
}

/// What each exception of the register does in this audit, in words, with the
/// mailbox it names (its label), in register order. The mailboxes are read in
/// file order (a register may name thousands of them).
pub fn exception_states(r: &Report<'_>, rows: &[Exception]) -> Vec<(String, String)> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&k| rows[k].mailbox);
    let mut states = vec![(String::new(), String::new()); rows.len()];
    for k in order {
        states[k] = exception_state(r, k, &rows[k]);
    }
    states
}

/// What exception `k` of the register does in this audit.
fn exception_state(r: &Report<'_>, k: usize, e: &Exception) -> (String, String) {
    let Some(i) = e.mailbox.map(|i| i as usize) else {
        return (String::new(), "names no mailbox".into());
    };
    let s = &r.loaded.snapshot;
    let label = s.mailbox(i).ids.label().to_string();
    if e.expired(r.options.as_of) {
        return (label, format!("expired on {}", e.until_text()));
    }
    if r.options.want == Want::Allow {
        return (label, "active (the allow direction ignores the register)".into());
    }
    let Some(f) = r.audit.finding_of(i) else {
        return (label, "active; the mailbox is out of scope".into());
    };
    if f.excepted.contains(&(k as u32)) {
        return (label, "active: excepts the mailbox".into());
    }
    let open: Vec<&str> = f
        .verdicts()
        .filter(|(p, v)| v.verdict != Verdict::Blocked && !e.protocols[*p])
        .map(|(p, _)| p.as_str())
        .collect();
    let state = if !f.excepted.is_empty() {
        "active: the mailbox is excepted by another row".to_owned()
    } else if f.verdicts().all(|(_, v)| v.verdict == Verdict::Blocked) {
        "active: nothing to except, every protocol is blocked".to_owned()
    } else if open.is_empty() {
        "active: other rows for the mailbox have expired".to_owned()
    } else {
        format!("active, but {} stay open: the mailbox is flagged", open.join(", "))
    };
    (label, state)
}
