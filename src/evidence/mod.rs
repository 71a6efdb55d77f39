//! Sign-in evidence (DESIGN.md §2, Readiness): Entra sign-in logs read as a
//! stream and counted per mailbox and protocol ([`crate::model::usage`]).
//!
//! Shapes: the Entra portal's CSV and JSON downloads, the Graph
//! `auditLogs/signIns` response, `Get-MgAuditLogSignIn | ConvertTo-Json` from
//! Windows PowerShell 5.1 and PowerShell 7, Log Analytics exports, and the
//! companion script's `SignIns.csv`. Columns and properties are found by name
//! (trimmed, case-insensitive), never by position: the portal's header changes
//! between versions and repeats some names.
//!
//! An event counts for a protocol when its client app is `POP3`, `IMAP4` or
//! `Authenticated SMTP` (any case; Entra docs, "Legacy authentication client
//! details"); every other client app is modern auth or another legacy protocol
//! and is only counted as read. It belongs to the mailbox whose identifiers
//! include the event's object id, else its UPN ([`Snapshot::identity_index`]).
//! Events are counted as they are read; a basic-auth event is kept (its
//! mailbox, protocol, outcome, time and client) only until it is added to its
//! mailbox's counters, at most 131,072 of them, so that the parts of a
//! large download add theirs in file order.

mod csv;
mod json;
pub mod time;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::input::stream::Digests;
use crate::input::{Rejection, Source, Warning};
use crate::model::snapshot::IdentityIndex;
use crate::model::usage::{EvidenceSource, EvidenceSummary, Usage, client_key, format_time};
use crate::model::{Protocol, Snapshot};
use crate::progress::{Progress, Unit};

/// Why sign-in evidence could not be read. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A path could not be read.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// A file given with `--sign-ins` is not a sign-in log, or lacks columns.
    #[error("{file}: {message}")]
    Shape {
        /// The file.
        file: Arc<str>,
        /// What is wrong and what to do.
        message: String,
    },
}

/// The columns an event needs, by the names each shape gives them (compared
/// trimmed and case-insensitively).
pub(crate) struct Names;

impl Names {
    pub(crate) const TIME: &[&str] = &["Date (UTC)", "createdDateTime", "TimeGenerated", "Date"];
    pub(crate) const USER_ID: &[&str] = &["User ID", "userId"];
    pub(crate) const UPN: &[&str] = &["Username", "userPrincipalName", "User principal name"];
    pub(crate) const CLIENT_APP: &[&str] = &["Client app", "clientAppUsed"];
    pub(crate) const STATUS: &[&str] = &["Status"];
    pub(crate) const ERROR_CODE: &[&str] = &["Sign-in error code", "ErrorCode", "ResultType"];
    pub(crate) const IP: &[&str] = &["IP address", "ipAddress"];
    pub(crate) const USER_AGENT: &[&str] = &["User agent", "userAgent"];
    pub(crate) const INTERACTIVE: &[&str] = &["isInteractive", "Is interactive"];
}

/// Which of the facts every event needs a file provides: when, which client
/// app, who, and whether it succeeded.
pub(crate) struct Needed {
    pub time: bool,
    pub client_app: bool,
    pub user: bool,
    pub status: bool,
}

impl Needed {
    /// The missing ones, named as CSV columns or (`json`) as JSON properties.
    pub(crate) fn missing(&self, json: bool) -> Vec<&'static str> {
        let pick = |csv: &'static str, json_name: &'static str| if json { json_name } else { csv };
        [
            (self.time, pick("Date (UTC) / createdDateTime", "createdDateTime")),
            (self.client_app, pick("Client app / clientAppUsed", "clientAppUsed")),
            (
                self.user,
                pick(
                    "User ID or Username / userId or userPrincipalName",
                    "userId or userPrincipalName",
                ),
            ),
            (self.status, pick("Status or Sign-in error code / ErrorCode", "status.errorCode")),
        ]
        .into_iter()
        .filter(|(present, _)| !present)
        .map(|(_, name)| name)
        .collect()
    }
}

/// True when `name` (trimmed, any case) is one of `names`.
pub(crate) fn is(name: &str, names: &[&str]) -> bool {
    let name = name.trim();
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The columns the companion script (`scripts/Export-ExoAuthInventory.ps1
/// -IncludeSignIns`) writes to `SignIns.csv`, in order: flat, one per fact.
pub const COMPANION_COLUMNS: [&str; 12] = [
    "CreatedDateTime",
    "UserId",
    "UserPrincipalName",
    "UserDisplayName",
    "ClientAppUsed",
    "IsInteractive",
    "ErrorCode",
    "FailureReason",
    "IPAddress",
    "UserAgent",
    "AppDisplayName",
    "Id",
];

/// The protocol a client app names, if it is basic auth on POP, IMAP or SMTP AUTH.
pub fn protocol_of(client_app: &str) -> Option<Protocol> {
    let app = client_app.trim();
    if app.eq_ignore_ascii_case("Authenticated SMTP") {
        Some(Protocol::Smtp)
    } else if app.eq_ignore_ascii_case("POP3") {
        Some(Protocol::Pop)
    } else if app.eq_ignore_ascii_case("IMAP4") {
        Some(Protocol::Imap)
    } else {
        None
    }
}

/// One event as a shape gives it, before it is counted.
#[derive(Debug, Default)]
pub(crate) struct Event<'a> {
    pub time: &'a str,
    pub user_id: &'a str,
    pub upn: &'a str,
    pub client_app: &'a str,
    /// `Success`, `Failure` or `Interrupted` (the portal's `Status`).
    pub status: &'a str,
    /// `0` for success (Graph `status.errorCode`, the portal's `Sign-in error code`).
    pub error_code: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub interactive: Option<bool>,
}

impl Event<'_> {
    /// Success or failure; `None` when the event says neither.
    fn success(&self) -> Option<bool> {
        let status = self.status.trim();
        if !status.is_empty() {
            return Some(status.eq_ignore_ascii_case("Success"));
        }
        let code = self.error_code.trim();
        (!code.is_empty()).then(|| code == "0")
    }
}

/// Counts the events of one file.
pub(crate) struct Sink<'i> {
    file: Arc<str>,
    index: &'i IdentityIndex<'i>,
    since: Option<i64>,
    interactive: Option<bool>,
    usage: Usage,
    /// Basic-auth events counted and not yet added to `usage`, in order
    /// ([`Sink::settle`]); their client keys in `clients`.
    pending: Vec<Pending>,
    clients: String,
    unmatched: FxHashMap<String, u64>,
    rejected: Vec<Rejection>,
    warnings: Vec<Warning>,
    events: u64,
    /// The client key of the event being counted (reused, not allocated per event).
    key: String,
    /// What each user id and name met so far resolved to: an account signs in
    /// again and again, and resolving checks the mailbox's own identifiers.
    found: FxHashMap<Box<str>, Option<u32>>,
}

/// A basic-auth event counted for a mailbox, kept as it is until it is added
/// to the counters ([`Sink::settle`]).
struct Pending {
    mailbox: u32,
    protocol: Protocol,
    success: bool,
    at: i64,
    /// Its client key in [`Sink::clients`].
    client: std::ops::Range<usize>,
}

/// Events a sink keeps before it adds them to its own counters, and the bytes
/// of their client keys (a user agent is whatever the client sent): a part of
/// a download (64 MiB, about 16,000 basic-auth events) never has this many, so
/// its events reach the file's counters in file order, as one pass would add
/// them, without a part's counters being built and merged.
const MAX_PENDING: usize = 1 << 17;
const MAX_PENDING_BYTES: usize = 16 << 20;

/// What a [`Sink`] has resolved: user ids and names to their mailboxes.
#[derive(Default)]
pub(crate) struct Lookups(FxHashMap<Box<str>, Option<u32>>);

/// Distinct unmatched sign-in names counted by name, per file.
const MAX_UNMATCHED_NAMES: usize = 100_000;

/// Distinct user ids and names whose mailbox [`Sink`] remembers, per file (a
/// spray against made-up names must not grow it without end).
const MAX_REMEMBERED: usize = 200_000;

impl<'i> Sink<'i> {
    fn new(
        file: &Arc<str>,
        index: &'i IdentityIndex<'i>,
        since: Option<i64>,
        interactive: Option<bool>,
    ) -> Self {
        Sink {
            file: file.clone(),
            index,
            since,
            interactive,
            usage: Usage::default(),
            pending: Vec::new(),
            clients: String::new(),
            unmatched: FxHashMap::default(),
            rejected: Vec::new(),
            warnings: Vec::new(),
            events: 0,
            key: String::new(),
            found: FxHashMap::default(),
        }
    }

    /// An empty sink for a part of the same file.
    pub(crate) fn part(&self) -> Sink<'i> {
        Sink::new(&self.file, self.index, self.since, self.interactive)
    }

    /// Adds the counts of a later part of the same file, whose rejected rows
    /// were numbered from 1 at the part's start, `lines_before` lines into
    /// the file.
    pub(crate) fn absorb(&mut self, part: Sink<'i>, lines_before: usize) {
        self.settle();
        let Sink { usage, pending, clients, unmatched, rejected, warnings, events, .. } = part;
        self.usage.summary.add(&usage.summary);
        // The part's own counters hold its earlier events (when it kept too
        // many), the pending ones its later.
        self.usage.merge(usage);
        add_pending(&mut self.usage, &pending, &clients);
        for (who, n) in unmatched {
            let room = self.unmatched.len() < MAX_UNMATCHED_NAMES;
            match self.unmatched.get_mut(&who) {
                Some(count) => *count += n,
                None if room => {
                    self.unmatched.insert(who, n);
                }
                None => {}
            }
        }
        self.rejected.extend(rejected.into_iter().map(|mut r| {
            r.source.line += lines_before;
            r
        }));
        self.warnings.extend(warnings);
        self.events += events;
    }

    /// Adds the pending events to the counters.
    pub(crate) fn settle(&mut self) {
        add_pending(&mut self.usage, &self.pending, &self.clients);
        self.pending.clear();
        self.clients.clear();
    }

    /// Takes what [`Sink::find`] remembers, for [`Sink::remember`] in the next
    /// part: the same accounts sign in all month, so each part would otherwise
    /// resolve (and allocate a copy of) every user id again.
    pub(crate) fn take_lookups(&mut self) -> Lookups {
        Lookups(std::mem::take(&mut self.found))
    }

    /// Starts from lookups another part of the same file made.
    pub(crate) fn remember(&mut self, lookups: Lookups) {
        self.found = lookups.0;
    }

    /// The mailbox an event's user id or name names, as [`IdentityIndex::find`].
    fn find(&mut self, id: &str) -> Option<u32> {
        if let Some(&found) = self.found.get(id) {
            return found;
        }
        let found = self.index.find(id);
        if self.found.len() < MAX_REMEMBERED {
            self.found.insert(id.into(), found);
        }
        found
    }

    pub(crate) fn reject(&mut self, line: usize, reason: String) {
        self.rejected.push(Rejection {
            source: Source { file: crate::model::Text::new(&self.file), line },
            reason,
        });
    }

    pub(crate) fn warn(&mut self, code: &'static str, message: String) {
        self.warnings.push(Warning {
            code,
            source: None,
            message: format!("{}: {message}", self.file),
        });
    }

    /// Counts one event; `line` says where it was read, for a rejection (so
    /// that a stream counts lines only when one is rejected).
    pub(crate) fn event(&mut self, line: impl FnOnce() -> usize, e: &Event<'_>) {
        let Some(at) = time::parse(e.time) else {
            self.reject(
                line(),
                format!(
                    "the sign-in time {:?} is not a date (expected ISO 8601 such as 2026-11-20T08:01:02Z); the event is not counted",
                    e.time.trim()
                ),
            );
            return;
        };
        let s = &mut self.usage.summary;
        if self.since.is_some_and(|since| at < since) {
            s.before_since += 1;
            return;
        }
        let protocol = protocol_of(e.client_app);
        let success = e.success();
        if protocol.is_some() && success.is_none() {
            self.reject(
                line(),
                "the event has neither a Status nor an error code, so it is neither a success nor a failure; re-download it".into(),
            );
            return;
        }
        self.events += 1;
        let s = &mut self.usage.summary;
        s.events += 1;
        s.from = Some(s.from.map_or(at, |f| f.min(at)));
        s.to = Some(s.to.map_or(at, |t| t.max(at)));
        match e.interactive.or(self.interactive) {
            Some(true) => s.interactive += 1,
            Some(false) => s.non_interactive += 1,
            None => s.unknown_interactivity += 1,
        }
        let (Some(p), Some(success)) = (protocol, success) else { return };
        let mailbox = self.find(e.user_id).or_else(|| self.find(e.upn));
        match mailbox {
            Some(i) => {
                self.usage.summary.counted += 1;
                client_key(&mut self.key, &printable(e.ip), &printable(e.user_agent));
                if self.pending.len() >= MAX_PENDING
                    || self.clients.len() + self.key.len() > MAX_PENDING_BYTES
                {
                    self.settle();
                }
                let from = self.clients.len();
                self.clients.push_str(&self.key);
                let client = from..self.clients.len();
                self.pending.push(Pending { mailbox: i, protocol: p, success, at, client });
            }
            None => {
                self.usage.summary.unmatched += 1;
                let who = [e.upn, e.user_id].into_iter().map(str::trim).find(|w| !w.is_empty());
                let who = who.map_or_else(|| "(no user)".to_owned(), str::to_lowercase);
                // Names of a spray against made-up accounts are many: count the
                // first so many by name, the rest only in the total.
                let room = self.unmatched.len() < MAX_UNMATCHED_NAMES;
                match self.unmatched.get_mut(&who) {
                    Some(n) => *n += 1,
                    None if room => {
                        self.unmatched.insert(who, 1);
                    }
                    None => {}
                }
            }
        }
    }
}

/// Adds `pending` events, whose client keys are in `clients`, to `usage` in order.
fn add_pending(usage: &mut Usage, pending: &[Pending], clients: &str) {
    for e in pending {
        let client = clients.get(e.client.clone()).unwrap_or_default();
        usage.add(e.mailbox, e.protocol, e.success, e.at, client);
    }
}

/// A client's IP address or user agent as it may be shown anywhere, a script's
/// comments included: trimmed, with control characters and line separators
/// (which anyone signing in can put in a user agent) replaced by `?`.
fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let s = s.trim();
    let bad = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if s.contains(bad) { s.replace(bad, "?").into() } else { s.into() }
}

/// What reading the evidence gave.
#[derive(Debug, Default)]
pub struct Evidence {
    /// The counters, per mailbox and protocol, and the summary.
    pub usage: Usage,
    /// Unreadable events.
    pub rejected: Vec<Rejection>,
    /// Data-quality warnings (short window, one kind of sign-ins, unmatched events).
    pub warnings: Vec<Warning>,
}

/// The file's shape, from its first bytes: `Some` for a sign-in log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Csv,
    Json,
}

/// Up to `n` bytes of the file's start as text (UTF-16 decoded, BOM dropped).
fn head(path: &Path, n: usize) -> io::Result<String> {
    let mut buf = Vec::with_capacity(n);
    std::fs::File::open(path)?.take(n as u64).read_to_end(&mut buf)?;
    Ok(crate::decode::decode_prefix(&buf))
}

/// True when the file's header (CSV) or first event (JSON) names a client app
/// and a user: a sign-in log, whatever its file name.
pub fn looks_like_sign_ins(path: &Path) -> bool {
    shape(path).ok().flatten().is_some()
}

fn shape(path: &Path) -> io::Result<Option<Shape>> {
    let text = head(path, 64 * 1024)?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let lower = text.to_ascii_lowercase();
        return Ok(lower.contains("\"clientappused\"").then_some(Shape::Json));
    }
    let Some(line) = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("#TYPE"))
    else {
        return Ok(None);
    };
    let names = csv::header_names(line);
    let has = |set: &[&str]| names.iter().any(|n| is(n, set));
    Ok((has(Names::CLIENT_APP) && (has(Names::USER_ID) || has(Names::UPN))).then_some(Shape::Csv))
}

/// The files a `--sign-ins` path names: the file itself, or a folder's sign-in
/// files (recognised by their columns; others are skipped with a warning).
pub fn expand(path: &Path, warnings: &mut Vec<Warning>) -> Result<Vec<PathBuf>, EvidenceError> {
    let io = |error| EvidenceError::Io { path: path.to_owned(), error };
    if !path.is_dir() {
        std::fs::metadata(path).map_err(io)?;
        return Ok(vec![path.to_owned()]);
    }
    let entries = crate::load::sorted_entries(path).map_err(io)?;
    let mut out = Vec::new();
    for p in entries.into_iter().filter(|p| p.is_file()) {
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if !matches!(ext.as_str(), "csv" | "json") {
            continue;
        }
        if looks_like_sign_ins(&p) {
            out.push(p);
        } else {
            warnings.push(Warning {
                code: "unknown-file",
                source: None,
                message: format!(
                    "ignored {}: it is not a sign-in log (no client app and user columns)",
                    p.display()
                ),
            });
        }
    }
    Ok(out)
}

/// Reads every file (side by side) and counts its events per mailbox of
/// `snapshot`, hashing each when `digests` says so.
pub fn read(
    paths: &[PathBuf],
    snapshot: &Snapshot,
    since: Option<::time::Date>,
    digests: Digests,
    progress: &dyn Progress,
) -> Result<Evidence, EvidenceError> {
    let index = snapshot.identity_index();
    let since = since.map(|d| d.midnight().assume_utc().unix_timestamp());
    let total: u64 = paths.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    progress.start("reading sign-ins", Some(total), Unit::Bytes);
    // Hashing is a task of its own per file, beside the parsing: with one large
    // and one smaller download (interactive and non-interactive), the core that
    // finishes the smaller file hashes the larger one instead of waiting.
    let (read, hashed) = rayon::join(
        || {
            paths
                .par_iter()
                .map(|path| read_file(path, &index, since, progress))
                .collect::<Result<Vec<FileRead<'_>>, _>>()
        },
        || {
            paths
                .par_iter()
                .map(|path| {
                    digests
                        .of_file(path)
                        .map_err(|error| EvidenceError::Io { path: path.clone(), error })
                })
                .collect::<Result<Vec<Option<String>>, _>>()
        },
    );
    progress.finish();
    let mut files = read?;
    for (file, sha256) in files.iter_mut().zip(hashed?) {
        file.0.sha256 = sha256;
    }
    let mut out = Evidence::default();
    let mut unmatched: FxHashMap<String, u64> = FxHashMap::default();
    let mut sources = Vec::new();
    out.warnings.extend(overlaps(&files));
    for (source, sink, names) in files {
        let Sink { usage, rejected, warnings, .. } = sink;
        out.usage.summary.add(&usage.summary);
        out.usage.merge(usage);
        out.rejected.extend(rejected);
        out.warnings.extend(warnings);
        for (who, n) in names {
            *unmatched.entry(who).or_insert(0) += n;
        }
        sources.push(source);
    }
    let mut top: Vec<(String, u64)> = unmatched.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(10);
    let s = &mut out.usage.summary;
    s.unmatched_top = top;
    s.sources = sources;
    if since.is_some() {
        s.from = since;
    }
    out.warnings.extend(summary_warnings(s));
    Ok(out)
}

/// Two files that both hold interactive (or both non-interactive) sign-ins of
/// the same days: likely one download given twice, in two shapes or under two
/// names, whose events would count twice. Split downloads of the same kind
/// cover different days and do not overlap.
fn overlaps(files: &[FileRead<'_>]) -> Vec<Warning> {
    let mut out = Vec::new();
    for (k, (a, sa, _)) in files.iter().enumerate() {
        for (b, sb, _) in &files[k + 1..] {
            let (fa, fb) = (&sa.usage.summary, &sb.usage.summary);
            let overlap = match (fa.from, fa.to, fb.from, fb.to) {
                (Some(a0), Some(a1), Some(b0), Some(b1)) => a0 <= b1 && b0 <= a1,
                _ => false,
            };
            let kinds = |f: &EvidenceSummary| {
                (
                    f.interactive > 0 || f.unknown_interactivity > 0,
                    f.non_interactive > 0 || f.unknown_interactivity > 0,
                )
            };
            let ((ai, an), (bi, bn)) = (kinds(fa), kinds(fb));
            if overlap && ((ai && bi) || (an && bn)) {
                out.push(Warning {
                    code: "evidence-overlap",
                    source: None,
                    message: format!(
                        "{} and {} hold sign-ins of the same kind from the same days: if they are the same download (in two shapes, or saved twice), every event in them is counted twice; give each download once",
                        a.path, b.path
                    ),
                });
            }
        }
    }
    out
}

/// Warnings about what the evidence as a whole can and cannot show.
fn summary_warnings(s: &EvidenceSummary) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |code, message: String| out.push(Warning { code, source: None, message });
    match (s.from, s.to) {
        (Some(from), Some(to)) => {
            let day = |t: i64| t.div_euclid(86_400);
            let days = day(to) - day(from) + 1;
            if days < 30 {
                warn(
                    "evidence-window-short",
                    format!(
                        "the sign-in evidence covers {days} day{} ({} to {}): a client that sends mail monthly may not show; download 30 days (the retention with Entra ID P1/P2)",
                        if days == 1 { "" } else { "s" },
                        format_time(from),
                        format_time(to)
                    ),
                );
            }
        }
        _ => warn(
            "evidence-empty",
            "the sign-in evidence holds no event, so every mailbox reads as unused; check that the files are the right ones".into(),
        ),
    }
    if s.events > 0 {
        if s.non_interactive == 0 && s.unknown_interactivity == 0 {
            warn(
                "evidence-one-kind",
                "only interactive sign-ins were given: a long-lived POP, IMAP or SMTP client may show only among the non-interactive ones; add the NonInteractiveSignIns download".into(),
            );
        } else if s.interactive == 0 && s.unknown_interactivity == 0 {
            warn(
                "evidence-one-kind",
                "only non-interactive sign-ins were given; add the InteractiveSignIns download"
                    .into(),
            );
        } else if s.unknown_interactivity > 0 && (s.interactive == 0 || s.non_interactive == 0) {
            warn(
                "evidence-one-kind",
                format!(
                    "{} events do not say whether they are interactive (no isInteractive column, and a file name other than InteractiveSignIns_/NonInteractiveSignIns_): make sure both kinds were exported",
                    s.unknown_interactivity
                ),
            );
        }
    }
    if s.unmatched > 0 {
        let names: Vec<String> =
            s.unmatched_top.iter().map(|(w, n)| format!("{w} ({n})")).collect();
        warn(
            "evidence-unmatched",
            format!(
                "{} POP3, IMAP4 or Authenticated SMTP event{} match no mailbox in the export (accounts without a mailbox, deleted or renamed ones): {}",
                s.unmatched,
                if s.unmatched == 1 { "" } else { "s" },
                names.join(", ")
            ),
        );
    }
    out
}

/// The interactivity a portal download's file name states.
fn interactivity_from_name(path: &Path) -> Option<bool> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.starts_with("noninteractivesignins") {
        Some(false)
    } else if name.starts_with("interactivesignins") {
        Some(true)
    } else {
        None
    }
}

type FileRead<'i> = (EvidenceSource, Sink<'i>, FxHashMap<String, u64>);

fn read_file<'i>(
    path: &Path,
    index: &'i IdentityIndex<'i>,
    since: Option<i64>,
    progress: &dyn Progress,
) -> Result<FileRead<'i>, EvidenceError> {
    let io = |error| EvidenceError::Io { path: path.to_owned(), error };
    let file: Arc<str> = Arc::from(path.display().to_string());
    if std::fs::metadata(path).map_err(io)?.len() == 0 {
        return Err(EvidenceError::Shape {
            file,
            message: "the file is empty; download or export the sign-in logs again".into(),
        });
    }
    let shape = shape(path).map_err(io)?;
    let mut sink = Sink::new(&file, index, since, interactivity_from_name(path));
    let kind = match shape {
        Some(Shape::Csv) => csv::read_path(path, &mut sink, progress)?,
        Some(Shape::Json) => {
            let fresh = || Sink::new(&file, index, since, interactivity_from_name(path));
            let mut read = json::read_path(path, &mut sink, progress, json::Decoding::AsMarked)?;
            if let json::Streamed::Windows1252 { counted } = read {
                sink = fresh();
                let decoding = json::Decoding::Windows1252 { counted };
                read = json::read_path(path, &mut sink, progress, decoding)?;
            }
            match read {
                json::Streamed::Read(kind) => kind,
                json::Streamed::ReadWhole | json::Streamed::Windows1252 { .. } => {
                    sink = fresh();
                    json::read_whole(path, &mut sink)?
                }
            }
        }
        None => {
            return Err(EvidenceError::Shape {
                file,
                message: "not a sign-in log: no client app column (`Client app` or `clientAppUsed`) with a user column (`User ID`, `Username`, `userId` or `userPrincipalName`); download the sign-in logs from the Entra admin center (CSV or JSON) or export them with the companion script's -IncludeSignIns".into(),
            });
        }
    };
    // The file's SHA-256 is computed by a task of its own (see `read`).
    let source = EvidenceSource {
        path: path.display().to_string(),
        kind,
        sha256: None,
        events: sink.events,
    };
    sink.settle();
    let names = std::mem::take(&mut sink.unmatched);
    Ok((source, sink, names))
}

/// A snapshot of `n` mailboxes, `user0@contoso.com` and on, for the readers'
/// tests to join events to.
#[cfg(test)]
pub(crate) fn mailboxes_for_tests(n: usize) -> crate::model::Snapshot {
    let mailboxes: Vec<crate::model::CasMailbox> = (0..n)
        .map(|n| {
            let smtp = format!("user{n}@contoso.com");
            let ids = crate::model::Ids::new([None, None, None, Some(&smtp), None, None, None]);
            crate::model::CasMailbox {
                ids: ids.unwrap(),
                pop_enabled: crate::model::Setting::Value(true),
                imap_enabled: crate::model::Setting::Value(true),
                smtp_client_auth_disabled: crate::model::Setting::Value(false),
                recipient_type_details: None,
                source: crate::input::Source { file: "m".into(), line: n + 2 },
            }
        })
        .collect();
    let parts = crate::model::snapshot::Parts { mailboxes: mailboxes.into(), ..Default::default() };
    crate::model::Snapshot::build(parts, &mut Vec::new(), &mut Vec::new())
}

/// What a sink counted, for the readers' tests to compare: its events, its
/// counters, the users it could not place (sorted) and its rejected lines.
#[cfg(test)]
pub(crate) type SinkOutcome = (u64, Usage, Vec<(String, u64)>, Vec<(usize, String)>);

/// The [`SinkOutcome`] of `sink`.
#[cfg(test)]
pub(crate) fn sink_outcome(sink: &Sink<'_>) -> SinkOutcome {
    let mut unmatched: Vec<_> = sink.unmatched.iter().map(|(k, v)| (k.clone(), *v)).collect();
    unmatched.sort();
    let rejected = sink.rejected.iter().map(|r| (r.source.line, r.reason.clone())).collect();
    (sink.events, sink.usage.clone(), unmatched, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_text_never_carries_a_line_break() {
        assert_eq!(printable(" BAV2ROPC "), "BAV2ROPC");
        assert_eq!(printable("ua\r\nRemove-Mailbox x\u{2028}y\u{1b}"), "ua??Remove-Mailbox x?y?");
    }

    #[test]
    fn only_the_three_legacy_client_apps_count() {
        for (app, p) in [
            ("Authenticated SMTP", Some(Protocol::Smtp)),
            ("authenticated smtp ", Some(Protocol::Smtp)),
            ("POP3", Some(Protocol::Pop)),
            ("Pop3", Some(Protocol::Pop)),
            ("IMAP4", Some(Protocol::Imap)),
            ("SMTP", None), // never occurs; a filter on it found nothing (CIPP-API #1594)
            ("Exchange ActiveSync", None),
            ("Browser", None),
            ("Mobile Apps and Desktop clients", None),
            ("", None),
        ] {
            assert_eq!(protocol_of(app), p, "{app:?}");
        }
    }

    #[test]
    fn status_wins_over_the_error_code_and_blank_says_nothing() {
        let e = |status, error_code| Event { status, error_code, ..Event::default() };
        assert_eq!(e("Success", "").success(), Some(true));
        assert_eq!(e("Interrupted", "0").success(), Some(false));
        assert_eq!(e("Failure", "50126").success(), Some(false));
        assert_eq!(e("", "0").success(), Some(true));
        assert_eq!(e("", "50126").success(), Some(false));
        assert_eq!(e(" ", "").success(), None);
    }
}
