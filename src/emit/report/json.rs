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

use super::{MailboxView, Renderer, Report};
use crate::audit::Finding;
use crate::input::Source;
use crate::model::exceptions::Exception;
use crate::model::usage::{Clients, ProtocolUsage, TOP_CLIENTS, format_time};
use crate::model::{Id, Protocol, Setting};

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
    sha256: Option<String>,
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
    fn of(u: &'a ProtocolUsage, of: &'a Clients) -> Self {
        UsageOut {
            readiness: u.readiness().as_str(),
            successes: u.successes,
            failures: u.failures,
            last_success: u.last_success.map(format_time),
            last_failure: u.last_failure.map(format_time),
            clients: of
                .top(u, TOP_CLIENTS)
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
    sha256: Option<&'a str>,
    events: u64,
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

/// Writes one mailbox of the `mailboxes` array as a compact JSON object: the
/// bytes serde_json writes for the object DESIGN.md §5 describes (these keys in
/// this order, `null` for what is missing), with each key written as it is and
/// each string copied whole when it holds nothing to escape ([`string`]). A
/// million mailboxes are a gigabyte of JSON: through serde_json's derived
/// serialisation, scanning every byte of every key and value for escapes was a
/// fifth of writing them. The exception and the sign-in usage, which most
/// mailboxes lack, go through serde_json. The golden reports hold every fixture's
/// JSON byte for byte.
fn write_mailbox(
    r: &Report<'_>,
    f: &Finding,
    v: &MailboxView<'_>,
    scratch: &mut String,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let s = &r.loaded.snapshot;
    // Of the exceptions that cover the mailbox, the one that runs out first.
    let exception = s
        .exceptions
        .as_ref()
        .and_then(|x| f.excepted.iter().map(|&k| &x.rows[k as usize]).min_by_key(|e| e.until));
    out.extend_from_slice(b"{\"identity\":");
    id(out, v.identity());
    out.extend_from_slice(b",\"external_directory_object_id\":");
    match v.external_directory_object_id() {
        Some(i) => id(out, i),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"user_principal_name\":");
    optional(out, v.user_principal_name().as_ref().map(|i| i.as_str()));
    out.extend_from_slice(b",\"primary_smtp_address\":");
    optional(out, v.primary_smtp_address().as_ref().map(|i| i.as_str()));
    out.extend_from_slice(b",\"recipient_type\":");
    optional(out, f.recipient_type.as_deref());
    out.extend_from_slice(b",\"effective_policy\":");
    optional(out, f.effective_policy.as_deref());
    out.extend_from_slice(b",\"policy_source\":");
    word(out, f.policy_source.as_str());
    out.extend_from_slice(if f.flagged { b",\"flagged\":true" } else { b",\"flagged\":false" });
    out.extend_from_slice(match f.excepted.is_empty() {
        true => b",\"excepted\":false",
        false => b",\"excepted\":true",
    });
    out.extend_from_slice(b",\"exception\":");
    match exception {
        Some(e) => serde_json::to_writer(&mut *out, &ExceptionOut::of(e))?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"protocols\":{");
    for (k, (p, pv)) in f.verdicts().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        word(out, p.as_str());
        out.extend_from_slice(b":{\"basic_auth\":");
        word(out, pv.verdict.as_str());
        out.extend_from_slice(b",\"blockers\":[");
        for (i, b) in pv.blockers.iter().enumerate() {
            out.extend_from_slice(if i > 0 { b",{\"code\":" } else { b"{\"code\":" });
            word(out, b.code.as_str());
            out.extend_from_slice(b",\"setting\":");
            string(out, &b.setting);
            out.extend_from_slice(b",\"value\":");
            string(out, &b.value);
            out.extend_from_slice(b",\"source\":");
            source(out, &b.source, scratch);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"usage\":");
        match &s.usage {
            Some(u) => {
                serde_json::to_writer(&mut *out, &UsageOut::of(u.get(f.mailbox, p), &u.clients))?
            }
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"}}");
    Ok(())
}

/// Writes one of exoauth's own words (a protocol, a verdict, a blocker code, a
/// policy source): lowercase ASCII letters and hyphens, which JSON never
/// escapes (a test checks every one), so they are copied without a look.
fn word(out: &mut Vec<u8>, word: &'static str) {
    debug_assert!(!needs_escape(word.as_bytes()), "{word}");
    out.push(b'"');
    out.extend_from_slice(word.as_bytes());
    out.push(b'"');
}

/// Writes an identifier: a GUID's 36 ASCII bytes as they are, text as a string.
fn id(out: &mut Vec<u8>, id: Id<'_>) {
    match id {
        Id::Guid(g) => {
            out.push(b'"');
            out.extend_from_slice(g.ascii());
            out.push(b'"');
        }
        Id::Text(text) => string(out, text),
    }
}

/// Writes a blocker's `File:LINE` as a string (`scratch` is used when the file
/// name needs escaping).
fn source(out: &mut Vec<u8>, source: &Source, scratch: &mut String) {
    let mut digits = itoa::Buffer::new();
    let line = digits.format(source.line);
    if needs_escape(source.file.as_bytes()) {
        scratch.clear();
        scratch.push_str(&source.file);
        scratch.push(':');
        scratch.push_str(line);
        return string(out, scratch);
    }
    out.push(b'"');
    out.extend_from_slice(source.file.as_bytes());
    out.push(b':');
    out.extend_from_slice(line.as_bytes());
    out.push(b'"');
}

/// Writes `text` as a JSON string, or `null`.
fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(t) => string(out, t),
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes `text` as a JSON string: copied between quotes when it holds no
/// quote, backslash or control character (which is what serde_json escapes;
/// it leaves `/`, DEL and every other character as they are), and written by
/// serde_json otherwise. A test holds the two byte-identical.
fn string(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        // Writing into a vector cannot fail, nor can serialising a string.
        serde_json::to_writer(&mut *out, text).unwrap_or_default();
        return;
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Whether `text` holds a byte JSON escapes: a quote, a backslash or one below
/// 0x20; eight bytes at a time.
fn needs_escape(text: &[u8]) -> bool {
    use crate::input::tokenize::lanes_eq;
    const LO: u64 = 0x0101_0101_0101_0101;
    let words = text.chunks_exact(8);
    let rest = words.remainder();
    // As `lanes_eq`: a lane at or above 0x80 is masked by `!w`, and a borrow
    // only runs upwards from a lane below 0x20, so the result is 0 exactly
    // when no lane is below 0x20.
    let below_space = |w: u64| w.wrapping_sub(LO * 0x20) & !w & (LO << 7);
    words
        .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
        .any(|w| (below_space(w) | lanes_eq(w, b'"') | lanes_eq(w, b'\\')) != 0)
        || rest.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
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
                by_blocker: sum.by_blocker.iter().map(|(c, n)| (c.as_str(), n)).collect(),
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
            let mut scratch = String::new();
            for (f, row) in r.audit.findings_of(chunk) {
                write_mailbox(r, &f, &r.view_row(&f, row), &mut scratch, put.next())?;
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
                        sha256: x.sha256.as_deref(),
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
        serde_json::to_writer(self.next(), element)
    }

    /// Starts the next element's line: the buffer to write the element into.
    fn next(&mut self) -> &mut Vec<u8> {
        self.buf.extend_from_slice(if self.first { b"\n    " } else { b",\n    " });
        self.first = false;
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Code, PolicySource, Verdict};

    #[test]
    fn exoauths_own_words_need_no_escaping() {
        let protocols = Protocol::ALL.map(Protocol::as_str);
        let verdicts = [Verdict::Allowed, Verdict::Blocked, Verdict::Unknown].map(Verdict::as_str);
        let sources = [PolicySource::User, PolicySource::OrgDefault, PolicySource::None]
            .into_iter()
            .chain([PolicySource::Unknown])
            .map(PolicySource::as_str);
        let words = protocols.into_iter().chain(verdicts).chain(sources);
        for word in words.chain(Code::ALL.map(Code::as_str)) {
            let mut out = Vec::new();
            super::word(&mut out, word);
            assert_eq!(out, serde_json::to_vec(word).unwrap(), "{word}");
        }
    }

    #[test]
    fn guids_and_sources_are_what_serde_json_writes() {
        // A GUID held as 16 bytes and one kept as exported text.
        for guid in
            ["6f9619ff-8b86-d011-b42d-00c04fc964ff", "{6F9619FF-8B86-D011-B42D-00C04FC964FF}"]
        {
            let ids = crate::model::Ids::new([Some(guid), None, None, None, None, None, None]);
            let key = ids.as_ref().unwrap().key();
            assert_eq!(matches!(key, Id::Guid(_)), !guid.starts_with('{'));
            let mut out = Vec::new();
            id(&mut out, key);
            assert_eq!(out, serde_json::to_vec(guid).unwrap(), "{guid}");
        }
        for file in ["AuthenticationPolicy.csv", "we\"ird\\name.csv"] {
            let at = Source { file: crate::model::Text::new(file), line: 1042 };
            let (mut out, mut scratch) = (Vec::new(), String::new());
            source(&mut out, &at, &mut scratch);
            assert_eq!(out, serde_json::to_vec(&format!("{file}:1042")).unwrap(), "{file}");
        }
    }

    #[test]
    fn strings_that_need_escaping_are_found() {
        for (text, want) in [
            ("user0@contoso.com", false),
            ("AuthenticationPolicy[Policy Ü 1].AllowBasicAuthPop", false),
            ("a/b\u{7f}\u{2028}", false),
            ("a somewhat longer text with \"a quote\" in it", true),
            ("C:\\path", true),
            ("tab\there", true),
            ("exactly8\n", true),
            ("\u{1f}", true),
        ] {
            assert_eq!(needs_escape(text.as_bytes()), want, "{text:?}");
        }
    }

    proptest::proptest! {
        /// Strings of the bytes that matter (quotes, backslashes, every
        /// control character, DEL, `/`, non-ASCII, the line separators JSON
        /// leaves alone) at every place in an eight-byte word are written
        /// exactly as serde_json writes them.
        #[test]
        fn strings_are_what_serde_json_writes(
            text in "[a\"\\\\/\\x00-\\x1f\\x7fé\u{2028}\u{1F600} ]{0,40}",
        ) {
            let mut out = Vec::new();
            string(&mut out, &text);
            let want = serde_json::to_vec(&text).unwrap();
            proptest::prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&want));
        }
    }
}
