//! The `exoauth/diff-v1` JSON diff: both runs, notes, counts of regressions and
//! improvements, the changed, added and removed mailboxes, and summary deltas.
//! Protocols keep report order (pop, imap, smtp), so they are arrays of objects.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use super::DiffRenderer;
use crate::diff::{Delta, Diff, MailboxRef, Side};

/// The schema identifier of the diff.
pub const SCHEMA: &str = "exoauth/diff-v1";

/// The JSON diff renderer.
#[derive(Debug, Clone, Copy)]
pub struct Json;

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    tool_version: &'static str,
    old: SideOut<'a>,
    new: SideOut<'a>,
    want: &'static str,
    notes: &'a [String],
    regressions: usize,
    improvements: usize,
    newly_in_use: usize,
    exceptions_lapsed: usize,
    changed: Vec<Changed<'a>>,
    added: Vec<MailboxOut<'a>>,
    removed: Vec<MailboxOut<'a>>,
    summary: SummaryOut<'a>,
}

#[derive(Serialize)]
struct SideOut<'a> {
    path: &'a str,
    as_of: &'a str,
    want: &'a str,
    environment: &'a str,
    tool_version: &'a str,
}

#[derive(Serialize)]
struct MailboxOut<'a> {
    identity: &'a str,
    label: &'a str,
    flagged: bool,
}

#[derive(Serialize)]
struct Changed<'a> {
    identity: &'a str,
    label: &'a str,
    flagged: DeltaBool,
    regression: bool,
    protocols: Vec<ProtocolOut<'a>>,
    exception_lapsed: Option<LapsedOut<'a>>,
}

#[derive(Serialize)]
struct LapsedOut<'a> {
    until: &'a str,
    expired: bool,
}

#[derive(Serialize)]
struct DeltaBool {
    old: bool,
    new: bool,
}

#[derive(Serialize)]
struct ProtocolOut<'a> {
    protocol: &'static str,
    old: &'static str,
    new: &'static str,
    change: &'static str,
    regression: bool,
    old_readiness: Option<&'static str>,
    new_readiness: Option<&'static str>,
    blockers_appeared: &'a [String],
    blockers_cleared: &'a [String],
}

#[derive(Serialize)]
struct DeltaOut {
    old: usize,
    new: usize,
    change: i64,
}

impl From<Delta> for DeltaOut {
    fn from(d: Delta) -> DeltaOut {
        DeltaOut { old: d.old, new: d.new, change: d.change() }
    }
}

#[derive(Serialize)]
struct CountsOut {
    protocol: &'static str,
    allowed: DeltaOut,
    blocked: DeltaOut,
    unknown: DeltaOut,
}

#[derive(Serialize)]
struct SummaryOut<'a> {
    mailboxes: DeltaOut,
    in_scope: DeltaOut,
    flagged: DeltaOut,
    excepted: DeltaOut,
    rejected_rows: DeltaOut,
    by_protocol: Vec<CountsOut>,
    by_blocker: BTreeMap<&'a str, DeltaOut>,
}

fn side(s: &Side) -> SideOut<'_> {
    SideOut {
        path: &s.path,
        as_of: &s.as_of,
        want: &s.want,
        environment: &s.environment,
        tool_version: &s.tool_version,
    }
}

fn mailboxes(list: &[MailboxRef]) -> Vec<MailboxOut<'_>> {
    list.iter()
        .map(|m| MailboxOut { identity: &m.identity, label: &m.label, flagged: m.flagged })
        .collect()
}

impl DiffRenderer for Json {
    fn render(&self, d: &Diff, out: &mut dyn io::Write) -> io::Result<()> {
        let s = &d.summary;
        let doc = Doc {
            schema: SCHEMA,
            tool_version: env!("CARGO_PKG_VERSION"),
            old: side(&d.old),
            new: side(&d.new),
            want: d.want.as_str(),
            notes: &d.notes,
            regressions: d.regressions(),
            improvements: d.improvements(),
            newly_in_use: d.newly_in_use(),
            exceptions_lapsed: d.lapsed(),
            changed: d
                .changed
                .iter()
                .map(|c| Changed {
                    identity: &c.identity,
                    label: &c.label,
                    flagged: DeltaBool { old: c.old_flagged, new: c.new_flagged },
                    regression: c.regressed(),
                    protocols: c
                        .protocols
                        .iter()
                        .map(|p| ProtocolOut {
                            protocol: p.protocol.as_str(),
                            old: p.old.as_str(),
                            new: p.new.as_str(),
                            change: p.movement().as_str(),
                            regression: p.regression,
                            old_readiness: p.old_readiness.map(|r| r.as_str()),
                            new_readiness: p.new_readiness.map(|r| r.as_str()),
                            blockers_appeared: &p.appeared,
                            blockers_cleared: &p.cleared,
                        })
                        .collect(),
                    exception_lapsed: c
                        .exception_lapsed
                        .as_ref()
                        .map(|l| LapsedOut { until: &l.until, expired: l.expired }),
                })
                .collect(),
            added: mailboxes(&d.added),
            removed: mailboxes(&d.removed),
            summary: SummaryOut {
                mailboxes: s.mailboxes.into(),
                in_scope: s.in_scope.into(),
                flagged: s.flagged.into(),
                excepted: s.excepted.into(),
                rejected_rows: s.rejected_rows.into(),
                by_protocol: s
                    .by_protocol
                    .iter()
                    .map(|(p, a, b, u)| CountsOut {
                        protocol: p.as_str(),
                        allowed: (*a).into(),
                        blocked: (*b).into(),
                        unknown: (*u).into(),
                    })
                    .collect(),
                by_blocker: s.by_blocker.iter().map(|(c, d)| (c.as_str(), (*d).into())).collect(),
            },
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")
    }
}
