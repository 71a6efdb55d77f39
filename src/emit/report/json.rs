//! The `exoauth/audit-v2` JSON report (DESIGN.md §5, a contract): v1 plus the
//! readiness fields (`summary.excepted`, per mailbox `excepted` and `exception`,
//! per protocol `usage`, and the top-level `evidence`).
//!
//! Input warnings (data loss, likely `-ResultSize` cuts, columns not exported)
//! are listed under `advisories` with their own codes and an empty `protocols`
//! list, so the schema stays exactly `audit-v2`.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use crate::model::Id;

use super::{MailboxView, Renderer, Report};
use crate::audit::{Blocker, Finding};
use crate::input::Source;
use crate::model::exceptions::Exception;
use crate::model::usage::{ProtocolUsage, TOP_CLIENTS, Usage, format_time};
use crate::model::{Protocol, Setting};

/// The schema identifier.
pub const SCHEMA: &str = "exoauth/audit-v2";

/// The JSON renderer.
#[derive(Debug, Clone, Copy)]
pub struct Json;

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    tool_version: &'static str,
    want: &'static str,
    environment: &'static str,
    as_of: String,
    protocols: Vec<&'static str>,
    inputs: Vec<Input>,
    tenant: Tenant<'a>,
    advisories: Vec<Advisory>,
    summary: Summary,
}

/// Present only when a script was generated (`--script`): an additive key.
#[derive(Serialize)]
struct PlanOut<'a> {
    strategy: &'static str,
    changes: usize,
    by_kind: BTreeMap<&'static str, usize>,
    blast_radius: Vec<BlastRadius>,
    manual_steps: Vec<ManualOut<'a>>,
}

#[derive(Serialize)]
struct BlastRadius {
    edit: String,
    other_mailboxes: usize,
}

#[derive(Serialize)]
struct ManualOut<'a> {
    code: &'static str,
    protocols: Vec<&'static str>,
    mailboxes: &'a [String],
    message: &'a str,
}

#[derive(Serialize)]
struct Input {
    path: String,
    cmdlet: &'static str,
    form: &'static str,
    sha256: String,
    rows: usize,
}

#[derive(Serialize)]
struct Tenant<'a> {
    default_policy: Option<&'a str>,
    smtp_client_auth_disabled: Option<bool>,
    security_defaults: Option<bool>,
}

#[derive(Serialize)]
struct Advisory {
    code: &'static str,
    protocols: Vec<&'static str>,
    message: String,
}

#[derive(Serialize)]
struct Summary {
    mailboxes: usize,
    in_scope: usize,
    flagged: usize,
    excepted: usize,
    rejected_rows: usize,
    by_protocol: BTreeMap<&'static str, Counts>,
    by_blocker: BTreeMap<&'static str, usize>,
}

#[derive(Serialize)]
struct Counts {
    allowed: usize,
    blocked: usize,
    unknown: usize,
}

#[derive(Serialize)]
struct Mailbox<'a> {
    identity: Id<'a>,
    external_directory_object_id: Option<Id<'a>>,
    user_principal_name: Option<Id<'a>>,
    primary_smtp_address: Option<Id<'a>>,
    recipient_type: Option<&'a str>,
    effective_policy: Option<&'a str>,
    policy_source: &'static str,
    flagged: bool,
    excepted: bool,
    exception: Option<ExceptionOut<'a>>,
    protocols: Protocols<'a>,
}

#[derive(Serialize)]
struct ExceptionOut<'a> {
    protocols: Vec<&'static str>,
    until: String,
    owner: &'a str,
    reason: &'a str,
    source: String,
}

impl<'a> ExceptionOut<'a> {
    fn of(e: &'a Exception) -> Self {
        ExceptionOut {
            protocols: e.protocol_list().map(|p| p.as_str()).collect(),
            until: e.until_text(),
            owner: &e.owner,
            reason: &e.reason,
            source: e.source.to_string(),
        }
    }
}

/// A finding's verdicts as a JSON object keyed by protocol, in report order,
/// serialised straight from the finding (a million of them are written).
struct Protocols<'a>(&'a Finding, Option<&'a Usage>);

impl Serialize for Protocols<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (p, pv) in self.0.verdicts() {
            map.serialize_entry(
                p.as_str(),
                &ProtocolOut {
                    basic_auth: pv.verdict.as_str(),
                    blockers: Blockers(&pv.blockers),
                    usage: self.1.map(|u| UsageOut::of(u.get(self.0.mailbox, p))),
                },
            )?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct ProtocolOut<'a> {
    basic_auth: &'static str,
    blockers: Blockers<'a>,
    usage: Option<UsageOut<'a>>,
}

#[derive(Serialize)]
struct UsageOut<'a> {
    readiness: &'static str,
    successes: u64,
    failures: u64,
    last_success: Option<String>,
    last_failure: Option<String>,
    clients: Vec<ClientOut<'a>>,
}

impl<'a> UsageOut<'a> {
    fn of(u: &'a ProtocolUsage) -> Self {
        UsageOut {
            readiness: u.readiness().as_str(),
            successes: u.successes,
            failures: u.failures,
            last_success: u.last_success.map(format_time),
            last_failure: u.last_failure.map(format_time),
            clients: u
                .top_clients(TOP_CLIENTS)
                .into_iter()
                .map(|(ip, user_agent, count)| ClientOut { ip, user_agent, count })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct ClientOut<'a> {
    ip: &'a str,
    user_agent: &'a str,
    count: u64,
}

#[derive(Serialize)]
struct EvidenceOut<'a> {
    from: Option<String>,
    to: Option<String>,
    sources: Vec<SourceOut<'a>>,
    events: u64,
    counted: u64,
    unmatched: u64,
}

#[derive(Serialize)]
struct SourceOut<'a> {
    path: &'a str,
    kind: &'static str,
    sha256: &'a str,
    events: u64,
}

struct Blockers<'a>(&'a [Blocker]);

impl Serialize for Blockers<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|b| BlockerOut {
            code: b.code.as_str(),
            setting: &b.setting,
            value: &b.value,
            source: &b.source,
        }))
    }
}

#[derive(Serialize)]
struct BlockerOut<'a> {
    code: &'static str,
    setting: &'a str,
    value: &'a str,
    #[serde(serialize_with = "as_text")]
    source: &'a Source,
}

/// A `File:LINE` source as a JSON string, without an intermediate `String`.
fn as_text<S: serde::Serializer>(source: &&Source, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(source)
}

#[derive(Serialize)]
struct Rejected<'a> {
    source: String,
    reason: &'a str,
}

fn setting(s: Option<Setting>) -> Option<bool> {
    match s {
        Some(Setting::Value(b)) => Some(b),
        _ => None,
    }
}

fn mailbox<'a>(r: &Report<'a>, f: &'a Finding, v: &'a MailboxView<'_>) -> Mailbox<'a> {
    let s = &r.loaded.snapshot;
    // Of the exceptions that cover the mailbox, the one that runs out first.
    let exception = s
        .exceptions
        .as_ref()
        .and_then(|x| f.excepted.iter().map(|&k| &x.rows[k as usize]).min_by_key(|e| e.until));
    Mailbox {
        identity: v.identity(),
        external_directory_object_id: v.external_directory_object_id(),
        user_principal_name: v.user_principal_name(),
        primary_smtp_address: v.primary_smtp_address(),
        recipient_type: f.recipient_type.as_deref(),
        effective_policy: f.effective_policy.as_deref(),
        policy_source: f.policy_source.as_str(),
        flagged: f.flagged,
        excepted: !f.excepted.is_empty(),
        exception: exception.map(ExceptionOut::of),
        protocols: Protocols(f, s.usage.as_ref()),
    }
}

impl Renderer for Json {
    fn render(&self, r: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        let s = &r.loaded.snapshot;
        let sum = &r.audit.summary;
        // The readiness answer leads, then the service timeline and the rest.
        let mut advisories: Vec<Advisory> = super::readiness::headlines(r)
            .into_iter()
            .map(|h| Advisory {
                code: match h.protocol {
                    Protocol::Pop => "readiness-pop",
                    Protocol::Imap => "readiness-imap",
                    Protocol::Smtp => "readiness-smtp",
                },
                protocols: vec![h.protocol.as_str()],
                message: h.sentences(r).join(" "),
            })
            .collect();
        advisories.extend(r.audit.advisories.iter().map(|a| Advisory {
            code: a.code,
            protocols: a.protocols.iter().map(|p| p.as_str()).collect(),
            message: a.message.clone(),
        }));
        advisories.extend(r.loaded.warnings.iter().map(|w| Advisory {
            code: w.code,
            protocols: Vec::new(),
            message: match &w.source {
                Some(src) => format!("{src}: {}", w.message),
                None => w.message.clone(),
            },
        }));
        let doc = Doc {
            schema: SCHEMA,
            tool_version: env!("CARGO_PKG_VERSION"),
            want: r.options.want.as_str(),
            environment: r.options.environment.as_str(),
            as_of: r.options.as_of.to_string(),
            protocols: r.options.protocols.iter().map(|p| p.as_str()).collect(),
            inputs: r
                .loaded
                .inputs
                .iter()
                .map(|i| Input {
                    path: i.path.display().to_string(),
                    cmdlet: i.cmdlet.produced_by(),
                    form: i.form.name(),
                    sha256: i.sha256.clone(),
                    rows: i.rows,
                })
                .collect(),
            tenant: Tenant {
                default_policy: s.org.as_ref().and_then(|o| o.default_policy.as_deref()),
                smtp_client_auth_disabled: setting(
                    s.transport.as_ref().map(|t| t.smtp_client_auth_disabled),
                ),
                security_defaults: setting(s.security_defaults.as_ref().map(|d| d.is_enabled)),
            },
            advisories,
            summary: Summary {
                mailboxes: sum.mailboxes,
                in_scope: sum.in_scope,
                flagged: sum.flagged,
                excepted: sum.excepted,
                rejected_rows: r.loaded.rejected.len(),
                by_protocol: sum
                    .protocols()
                    .map(|(p, c)| {
                        (
                            p.as_str(),
                            Counts { allowed: c.allowed, blocked: c.blocked, unknown: c.unknown },
                        )
                    })
                    .collect(),
                by_blocker: sum.by_blocker.iter().map(|(c, n)| (c.as_str(), *n)).collect(),
            },
        };
        let plan = r.plan.map(|p| PlanOut {
            strategy: p.strategy.as_str(),
            changes: p.actions.len(),
            by_kind: crate::plan::counts(&p.actions).into_iter().collect(),
            blast_radius: p
                .actions
                .iter()
                .filter_map(crate::plan::Action::blast_radius)
                .map(|(edit, other_mailboxes)| BlastRadius { edit, other_mailboxes })
                .collect(),
            manual_steps: p
                .manual
                .iter()
                .map(|m| ManualOut {
                    code: m.code,
                    protocols: m.protocols.iter().map(|p| p.as_str()).collect(),
                    mailboxes: &m.mailboxes,
                    message: &m.message,
                })
                .collect(),
        });
        // The small parts pretty-printed; mailboxes and rejected rows one compact
        // object per line (readable, grep- and diff-friendly, and written in
        // parallel chunks, so that a million mailboxes stay quick).
        let head = serde_json::to_value(&doc)?;
        out.write_all(b"{")?;
        let mut first = true;
        if let serde_json::Value::Object(map) = head {
            for (key, value) in map {
                member(out, &mut first, &key, &value)?;
            }
        }
        key(out, &mut first, "mailboxes")?;
        // About a kilobyte a mailbox: chunks of a few megabytes.
        lines(out, r.audit.entries(), &r.audit.entry_chunks(1 << 11), |chunk, put| {
            for (f, row) in r.audit.findings_of(chunk) {
                put.put(&mailbox(r, &f, &r.view_row(&f, row)))?;
            }
            Ok(())
        })?;
        let evidence = s.usage.as_ref().map(|u| {
            let e = &u.summary;
            EvidenceOut {
                from: e.from.map(format_time),
                to: e.to.map(format_time),
                sources: e
                    .sources
                    .iter()
                    .map(|x| SourceOut {
                        path: &x.path,
                        kind: x.kind,
                        sha256: &x.sha256,
                        events: x.events,
                    })
                    .collect(),
                events: e.events,
                counted: e.counted,
                unmatched: e.unmatched,
            }
        });
        member(out, &mut first, "evidence", &serde_json::to_value(evidence)?)?;
        key(out, &mut first, "rejected")?;
        let rejected: Vec<Rejected<'_>> = r
            .loaded
            .rejected
            .iter()
            .map(|x| Rejected { source: x.source.to_string(), reason: &x.reason })
            .collect();
        let chunks = crate::ordered::even_chunks(rejected.len(), 2048);
        lines(out, &rejected, &chunks, |chunk, put| chunk.iter().try_for_each(|x| put.put(x)))?;
        if let Some(plan) = plan {
            member(out, &mut first, "plan", &serde_json::to_value(plan)?)?;
        }
        out.write_all(b"\n}\n")
    }
}

/// Writes `"key": ` as the next member of the top-level object.
fn key(out: &mut dyn io::Write, first: &mut bool, key: &str) -> io::Result<()> {
    out.write_all(if *first { b"\n  " } else { b",\n  " })?;
    *first = false;
    serde_json::to_writer(&mut *out, key)?;
    out.write_all(b": ")
}

/// Writes a member whose value is pretty-printed, indented one level.
fn member(
    out: &mut dyn io::Write,
    first: &mut bool,
    name: &str,
    value: &serde_json::Value,
) -> io::Result<()> {
    key(out, first, name)?;
    let text = serde_json::to_string_pretty(value)?;
    out.write_all(text.replace('\n', "\n  ").as_bytes())
}

/// Writes an array with one compact element per line, serialised on every core:
/// `write` puts the elements of each chunk of `items`, in order.
fn lines<T: Sync>(
    out: &mut dyn io::Write,
    items: &[T],
    chunks: &[std::ops::Range<usize>],
    write: impl Fn(&[T], &mut Elements<'_>) -> serde_json::Result<()> + Sync,
) -> io::Result<()> {
    if items.is_empty() {
        return out.write_all(b"[]");
    }
    out.write_all(b"[")?;
    crate::ordered::write_chunked(out, items, chunks, |offset, chunk, buf| {
        Ok(write(chunk, &mut Elements { buf, first: offset == 0 })?)
    })?;
    out.write_all(b"\n  ]")
}

/// Where [`lines`] puts a chunk's elements.
struct Elements<'b> {
    buf: &'b mut Vec<u8>,
    /// The next element is the array's first.
    first: bool,
}

impl Elements<'_> {
    /// Puts one element on a line of its own.
    fn put<S: Serialize>(&mut self, element: &S) -> serde_json::Result<()> {
        self.buf.extend_from_slice(if self.first { b"\n    " } else { b",\n    " });
        self.first = false;
        serde_json::to_writer(&mut *self.buf, element)
    }
}
