//! The rules: a pure function from (snapshot, mailbox, options) to a verdict per
//! protocol with every blocker that applies. No I/O; parallel over mailboxes.

pub mod advisory;
pub mod rules;
pub mod scope;
pub mod summary;

use std::fmt;
use std::io;
use std::sync::OnceLock;

use crate::input::Source;
use crate::model::mailboxes::MailboxRef;
use crate::model::usage::Readiness;
use crate::model::{Environment, PerProtocol, Protocol, Snapshot};

pub use advisory::Advisory;
pub use scope::Scope;
pub use summary::Summary;

/// Which way the admin wants basic auth to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Want {
    /// Flag mailboxes that cannot use basic auth on an in-scope protocol.
    #[default]
    Allow,
    /// Flag mailboxes that still can (migration readiness).
    Block,
}

impl Want {
    /// `allow` or `block`.
    pub fn as_str(self) -> &'static str {
        match self {
            Want::Allow => "allow",
            Want::Block => "block",
        }
    }
}

/// A validated audit configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Direction.
    pub want: Want,
    /// In-scope protocols, in report order, without duplicates.
    pub protocols: Vec<Protocol>,
    /// Online or on premises.
    pub environment: Environment,
    /// The date service-level advisories are evaluated at.
    pub as_of: time::Date,
    /// Which mailboxes are audited.
    pub scope: Scope,
    /// Block direction with evidence: also block protocols in use with basic
    /// auth (by default they become manual steps).
    pub include_in_use: bool,
}

/// The verdict for one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// Nothing in the tenant configuration blocks basic auth.
    Allowed,
    /// At least one definite blocker applies.
    Blocked,
    /// No definite blocker, but a fact the verdict depends on is missing.
    Unknown,
}

impl Verdict {
    /// `allowed`, `blocked` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Blocked => "blocked",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Blocker codes (DESIGN.md §2, a contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// `Get-User` `AccountDisabled` is True.
    AccountDisabled,
    /// `PopEnabled` / `ImapEnabled` is False on the mailbox.
    MailboxProtocolDisabled,
    /// `SmtpClientAuthenticationDisabled` is True on the mailbox.
    MailboxSmtpAuthDisabled,
    /// The mailbox inherits and the tenant's `SmtpClientAuthenticationDisabled` is True.
    TenantSmtpAuthDisabled,
    /// The user's assigned policy blocks the protocol.
    UserPolicyBlocks,
    /// The org default policy (user has none) blocks the protocol.
    DefaultPolicyBlocks,
    /// Entra security defaults are enabled.
    SecurityDefaultsEnabled,
    /// A Conditional Access policy blocks legacy clients for the user.
    ConditionalAccessBlocks,
    /// The assigned or default policy is not in the policy export.
    PolicyNotFound,
    /// A fact the verdict depends on was not exported.
    InputMissing,
}

impl Code {
    /// Every code, in report order.
    pub const ALL: [Code; 10] = [
        Code::AccountDisabled,
        Code::MailboxProtocolDisabled,
        Code::MailboxSmtpAuthDisabled,
        Code::TenantSmtpAuthDisabled,
        Code::UserPolicyBlocks,
        Code::DefaultPolicyBlocks,
        Code::SecurityDefaultsEnabled,
        Code::ConditionalAccessBlocks,
        Code::PolicyNotFound,
        Code::InputMissing,
    ];

    /// The kebab-case code used in every report.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::AccountDisabled => "account-disabled",
            Code::MailboxProtocolDisabled => "mailbox-protocol-disabled",
            Code::MailboxSmtpAuthDisabled => "mailbox-smtp-auth-disabled",
            Code::TenantSmtpAuthDisabled => "tenant-smtp-auth-disabled",
            Code::UserPolicyBlocks => "user-policy-blocks",
            Code::DefaultPolicyBlocks => "default-policy-blocks",
            Code::SecurityDefaultsEnabled => "security-defaults-enabled",
            Code::ConditionalAccessBlocks => "conditional-access-blocks",
            Code::PolicyNotFound => "policy-not-found",
            Code::InputMissing => "input-missing",
        }
    }

    /// True for codes that make the verdict `blocked`; the rest make it `unknown`.
    pub fn is_definite(self) -> bool {
        !matches!(self, Code::PolicyNotFound | Code::InputMissing)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::model::{Text, intern};

/// One reason a protocol is not allowed: the code, the exact setting, its value
/// and where that value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// What blocks.
    pub code: Code,
    /// The setting, e.g. `CasMailbox.PopEnabled` or `AuthenticationPolicy[Block Basic Auth].AllowBasicAuthPop`.
    pub setting: Text,
    /// The value as exported (`False`, `True`, blank, or a policy name).
    pub value: Text,
    /// The row the value came from.
    pub source: Source,
}

/// The outcome for one protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolVerdict {
    /// Allowed, blocked or unknown.
    pub verdict: Verdict,
    /// Every blocker that applies, in code order.
    pub blockers: Vec<Blocker>,
}

impl ProtocolVerdict {
    /// Derives the verdict from the blockers: any definite one blocks, else any
    /// unknown one makes it unknown, else allowed.
    pub fn from_blockers(mut blockers: Vec<Blocker>) -> ProtocolVerdict {
        blockers.sort_by_key(|b| b.code);
        let verdict = if blockers.iter().any(|b| b.code.is_definite()) {
            Verdict::Blocked
        } else if blockers.is_empty() {
            Verdict::Allowed
        } else {
            Verdict::Unknown
        };
        ProtocolVerdict { verdict, blockers }
    }
}

/// Where a mailbox's effective authentication policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// Assigned to the user (`Get-User` `AuthenticationPolicy`).
    User,
    /// The org default (`Get-OrganizationConfig` `DefaultAuthenticationPolicy`).
    OrgDefault,
    /// Neither: policies do not block.
    None,
    /// Cannot tell: no user row, or no org config while the user has no policy.
    Unknown,
}

impl PolicySource {
    /// `user`, `org-default`, `none` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::User => "user",
            PolicySource::OrgDefault => "org-default",
            PolicySource::None => "none",
            PolicySource::Unknown => "unknown",
        }
    }
}

/// The audit of one in-scope mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Index into `Snapshot::mailboxes`.
    pub mailbox: usize,
    /// The effective policy's name (as resolved, or as referenced when not found).
    pub effective_policy: Option<Text>,
    /// Where the effective policy came from.
    pub policy_source: PolicySource,
    /// The recipient type used for scope, when known.
    pub recipient_type: Option<Text>,
    /// One verdict per in-scope protocol.
    pub protocols: PerProtocol<Option<ProtocolVerdict>>,
    /// Per in-scope protocol, what the sign-in evidence says; `None` without evidence.
    pub readiness: PerProtocol<Option<Readiness>>,
    /// Flagged for the chosen direction (never when excepted).
    pub flagged: bool,
    /// Block direction: the unexpired exceptions (positions in the register)
    /// that cover every protocol not blocked; empty when not excepted.
    pub excepted: Vec<u32>,
}

impl Finding {
    /// The in-scope protocols with their verdicts, in report order.
    pub fn verdicts(&self) -> impl Iterator<Item = (Protocol, &ProtocolVerdict)> {
        Protocol::ALL.into_iter().filter_map(|p| self.protocols[p].as_ref().map(|v| (p, v)))
    }
}

/// One in-scope mailbox of an audit: which, and whether it is flagged or
/// excepted, in eight bytes (a million mailboxes hold a million of them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Entry(u64);

impl Entry {
    const FLAGGED: u64 = 1 << 63;
    const EXCEPTED: u64 = 1 << 62;

    /// The entry of mailbox `mailbox` (an index into the snapshot's mailboxes,
    /// far below 2^62).
    pub fn new(mailbox: usize, flagged: bool, excepted: bool) -> Entry {
        debug_assert!((mailbox as u64) < Entry::EXCEPTED, "mailbox index {mailbox}");
        let index = mailbox as u64 & !(Entry::FLAGGED | Entry::EXCEPTED);
        Entry(
            index
                | if flagged { Entry::FLAGGED } else { 0 }
                | if excepted { Entry::EXCEPTED } else { 0 },
        )
    }

    /// Index into the snapshot's mailboxes ([`Snapshot::mailbox`]).
    pub fn mailbox(self) -> usize {
        (self.0 & !(Entry::FLAGGED | Entry::EXCEPTED)) as usize
    }

    /// Flagged for the chosen direction.
    pub fn flagged(self) -> bool {
        self.0 & Entry::FLAGGED != 0
    }

    /// Excepted by the register (block direction).
    pub fn excepted(self) -> bool {
        self.0 & Entry::EXCEPTED != 0
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("mailbox", &self.mailbox())
            .field("flagged", &self.flagged())
            .field("excepted", &self.excepted())
            .finish()
    }
}

/// The audit of a whole tenant.
///
/// It keeps the counts and, per in-scope mailbox, only an [`Entry`]: a mailbox's
/// [`Finding`] (its blockers, with settings, values and sources) is evaluated
/// again when a report or a plan asks for it. The rules are pure and cheap, and a
/// million findings held at once would cost hundreds of megabytes.
#[derive(Debug, Clone)]
pub struct Audit<'s> {
    snapshot: &'s Snapshot,
    options: Options,
    entries: Vec<Entry>,
    /// Mailboxes left out by scope.
    pub out_of_scope: usize,
    /// Counts.
    pub summary: Summary,
    /// Service-level and configuration advisories.
    pub advisories: Vec<Advisory>,
}

impl<'s> Audit<'s> {
    /// The snapshot audited.
    pub fn snapshot(&self) -> &'s Snapshot {
        self.snapshot
    }

    /// The options it was audited with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The in-scope mailboxes, in input order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries in consecutive ranges of at most `most`, each within one
    /// span of mailboxes ([`crate::model::Mailboxes::spans`]), so that whoever
    /// goes through a range reads its mailboxes at once.
    pub fn entry_chunks(&self, most: usize) -> Vec<std::ops::Range<usize>> {
        let mut chunks = Vec::new();
        let mut start = 0;
        for span in self.snapshot.mailboxes().spans() {
            let end = start + self.entries[start..].partition_point(|e| e.mailbox() < span.end);
            let mut from = start;
            while from < end {
                let to = (from + most.max(1)).min(end);
                chunks.push(from..to);
                from = to;
            }
            start = end;
        }
        chunks
    }

    /// The finding of one in-scope mailbox.
    pub fn finding(&self, entry: Entry) -> Finding {
        rules::evaluate(self.snapshot, entry.mailbox(), &self.options)
    }

    /// True when mailbox `i` (an index into `Snapshot::mailboxes`) is in scope.
    pub fn in_scope(&self, i: usize) -> bool {
        self.entry_of(i).is_some()
    }

    /// The finding of mailbox `i`, when it is in scope.
    pub fn finding_of(&self, i: usize) -> Option<Finding> {
        self.entry_of(i).map(|e| self.finding(e))
    }

    fn entry_of(&self, i: usize) -> Option<Entry> {
        // Entries are in input (index) order.
        self.entries.binary_search_by_key(&i, |e| e.mailbox()).ok().map(|k| self.entries[k])
    }

    /// The findings of `entries` (in input order), each with its mailbox row;
    /// the rows are read a span at a time ([`crate::model::Mailboxes::refs`]).
    pub fn findings_of<'a, E: IntoIterator<Item = &'a Entry>>(
        &'a self,
        entries: E,
    ) -> impl Iterator<Item = (Finding, MailboxRef<'s>)> + use<'a, 's, E> {
        let mailboxes = self.snapshot.mailboxes().refs(entries.into_iter().map(|e| e.mailbox()));
        mailboxes.map(|(i, mailbox)| {
            (rules::evaluate_row(self.snapshot, i, &mailbox, &self.options), mailbox)
        })
    }

    /// Every in-scope mailbox's finding, in input order.
    pub fn findings(&self) -> impl Iterator<Item = Finding> + '_ {
        self.findings_of(&self.entries).map(|(f, _)| f)
    }

    /// The flagged mailboxes' findings, in input order.
    pub fn flagged(&self) -> impl Iterator<Item = Finding> + '_ {
        self.findings_of(self.entries.iter().filter(|e| e.flagged())).map(|(f, _)| f)
    }
}

/// Audits every mailbox of the snapshot (in parallel) and summarises.
pub fn audit<'s>(snapshot: &'s Snapshot, options: &Options) -> Audit<'s> {
    audit_with(snapshot, options, &crate::progress::Silent)
}

/// [`audit`], reporting the mailboxes audited to `progress` (in chunks, so that
/// a million mailboxes do not mean a million reports).
pub fn audit_with<'s>(
    snapshot: &'s Snapshot,
    options: &Options,
    progress: &dyn crate::progress::Progress,
) -> Audit<'s> {
    match audit_writing(snapshot, options, progress, &mut io::sink(), None) {
        Ok(audit) => audit,
        // Nothing is rendered, and the sink takes every write.
        Err(_) => unreachable!("an audit that writes nothing cannot fail to write"),
    }
}

/// How a report written during the audit renders the in-scope mailboxes of a
/// span ([`audit_writing`]): each one's finding and row, in order, appended to
/// the span's buffer.
pub type WriteRows<'w> = dyn for<'r> Fn(&mut dyn Iterator<Item = (Finding, MailboxRef<'r>)>, &mut Vec<u8>) -> io::Result<()>
    + Sync
    + 'w;

/// [`audit_with`], writing a row per in-scope mailbox to `out` as the audit
/// reaches it, in mailbox order, when `write_rows` is given: a report of the
/// mailboxes alone (CSV) needs no other pass over them.
///
/// The mailboxes are audited a span at a time on every core
/// (`ordered::write_chunked`); each span's counts and marks are kept
/// until all are in, and its rows are written in turn.
pub fn audit_writing<'s>(
    snapshot: &'s Snapshot,
    options: &Options,
    progress: &dyn crate::progress::Progress,
    out: &mut dyn io::Write,
    write_rows: Option<&WriteRows<'_>>,
) -> io::Result<Audit<'s>> {
    let n = snapshot.mailbox_count();
    progress.start("auditing", Some(n as u64), crate::progress::Unit::Mailboxes);
    let mailboxes = snapshot.mailboxes();
    // A byte per mailbox (in scope, flagged, excepted), then the entries made
    // from them once their number is known: never the entries twice over.
    const IN_SCOPE: u8 = 1;
    const FLAGGED: u8 = 2;
    const EXCEPTED: u8 = 4;
    let spans = mailboxes.spans();
    let done: Vec<OnceLock<(Summary, Vec<u8>)>> = spans.iter().map(|_| OnceLock::new()).collect();
    let each = crate::ordered::even_chunks(spans.len(), 1);
    crate::ordered::write_chunked(out, &spans, &each, |k, span, buf| {
        let Some(span) = span.first() else { return Ok(()) };
        // A pass that only counts reads the rows as the rules read them, not
        // parsed again when what the rules read was noted at the first read.
        let rows = match write_rows {
            None if !rules::reads_identifiers(snapshot) => mailboxes.rule_rows(span),
            _ => mailboxes.rows(span),
        };
        let mut summary = Summary::new(0, options);
        let mut marks = vec![0u8; span.len()];
        let mut found = span.clone().zip(rows.iter()).zip(marks.iter_mut()).filter_map(
            |((i, mailbox), mark)| {
                let recipient_type = scope::recipient_type(snapshot, i, mailbox);
                if !options.scope.includes(snapshot, i, recipient_type.map(Text::as_str)) {
                    return None;
                }
                let f = rules::evaluate_row(snapshot, i, mailbox, options);
                summary.add(&f);
                *mark = IN_SCOPE
                    | if f.flagged { FLAGGED } else { 0 }
                    | if f.excepted.is_empty() { 0 } else { EXCEPTED };
                Some((f, MailboxRef::Held(mailbox)))
            },
        );
        if let Some(write) = write_rows {
            write(&mut found, buf)?;
        }
        // Whatever the writer left is audited all the same.
        found.for_each(drop);
        progress.advance(span.len() as u64);
        let _ = done[k].set((summary, marks));
        Ok(())
    })?;
    progress.finish();
    let done: Vec<(Summary, Vec<u8>)> = done.into_iter().filter_map(OnceLock::into_inner).collect();
    let in_scope = done.iter().flat_map(|(_, marks)| marks).filter(|&&m| m & IN_SCOPE != 0).count();
    let mut entries = Vec::with_capacity(in_scope);
    let mut summary = Summary::new(n, options);
    for (span, (part, marks)) in spans.iter().zip(done) {
        summary = summary.merge(part);
        for (i, &m) in span.clone().zip(&marks).filter(|(_, m)| **m & IN_SCOPE != 0) {
            entries.push(Entry::new(i, m & FLAGGED != 0, m & EXCEPTED != 0));
        }
    }
    let out_of_scope = n - entries.len();
    let advisories = advisory::advisories(snapshot, options);
    Ok(Audit { snapshot, options: options.clone(), entries, out_of_scope, summary, advisories })
}
