//! What changed between two audits: reads two `exoauth/audit-v1` or `-v2` JSON
//! reports (DESIGN.md §5) and compares them mailbox by mailbox, keyed by `identity`.
//!
//! The result lists mailboxes added and removed, every protocol whose verdict
//! changed (newly allowed, newly blocked, newly unknown), the blocker codes that
//! appeared or cleared on each protocol, and the summary deltas. A change is a
//! **regression** when it goes against the report's direction (`want`): in the
//! allow direction a protocol that was `allowed` no longer is; in the block
//! direction a protocol became `allowed`, or (with usage evidence in both
//! reports) became `in-use`: a client now depends on basic auth that did not
//! before. Exceptions that lapsed (expired or removed) are listed; the mailbox's
//! flag change shows what that means. Mailboxes that are new in the later
//! report are listed (with their flag) but are not regressions: nothing about
//! them got worse.
//!
//! Only the fields the comparison needs are read; unknown fields are ignored, so
//! additive keys (such as `plan`) do not break it. Any other `schema` is refused.
//!
//! A report is read a mailbox at a time ([`read_report_from`]), and
//! [`diff_files`] keeps of the earlier report only what the comparison needs
//! of each mailbox, so that two reports of a million mailboxes (a gigabyte of
//! JSON each) are compared in a few hundred megabytes. [`diff`] compares two
//! reports read whole through the same comparison.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read as _};

use serde::Deserialize;

use crate::audit::{Verdict, Want};
use crate::emit::report::json::SCHEMA;
use crate::model::usage::Readiness;

/// The first report schema, without readiness; still read.
pub const SCHEMA_V1: &str = "exoauth/audit-v1";
use crate::model::Protocol;

/// Why a report cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The bytes are not UTF-8 or UTF-16 text.
    #[error(
        "{path}: not a UTF-8 or UTF-16 text file; expected an `exoauth audit --format json` report"
    )]
    NotText {
        /// The file.
        path: String,
    },
    /// Not JSON, or JSON of the wrong shape.
    #[error("{path}: {error}; expected an `exoauth audit --format json` report")]
    Json {
        /// The file.
        path: String,
        /// What serde_json found (with line and column). Not the error's
        /// `source`, which would print it a second time.
        error: serde_json::Error,
    },
    /// JSON, but not an `exoauth/audit-v1` or `-v2` report.
    #[error(
        "{path}: schema is {found}, not \"{SCHEMA}\" (or the older \"{SCHEMA_V1}\"); expected an `exoauth audit --format json` report"
    )]
    Schema {
        /// The file.
        path: String,
        /// The schema found, quoted, or `missing`.
        found: String,
    },
    /// A value the schema does not allow.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// An `exoauth/audit-v1` or `-v2` report read whole ([`read_report`]), as
/// far as a diff reads it.
#[derive(Debug, Clone)]
pub struct AuditReport {
    /// Its fields but its mailboxes.
    pub head: ReportHead,
    /// One entry per in-scope mailbox.
    pub mailboxes: Vec<ReportMailbox>,
}

/// The `summary` object.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportSummary {
    /// Mailbox rows.
    pub mailboxes: usize,
    /// Mailboxes in scope.
    pub in_scope: usize,
    /// Mailboxes flagged.
    pub flagged: usize,
    /// Mailboxes excepted (v2).
    #[serde(default)]
    pub excepted: usize,
    /// Input rows rejected.
    pub rejected_rows: usize,
    /// Verdict counts per protocol.
    pub by_protocol: BTreeMap<String, ReportCounts>,
    /// Mailboxes per blocker code.
    pub by_blocker: BTreeMap<String, usize>,
}

/// Verdict counts of one protocol.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct ReportCounts {
    /// Allowed.
    pub allowed: usize,
    /// Blocked.
    pub blocked: usize,
    /// Unknown.
    pub unknown: usize,
}

/// One entry of `mailboxes`.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportMailbox {
    /// The unique key (Guid, else object id, else SMTP address).
    pub identity: String,
    /// UPN.
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// Primary SMTP address.
    #[serde(default)]
    pub primary_smtp_address: Option<String>,
    /// Flagged for the report's direction.
    pub flagged: bool,
    /// Excepted by the register (v2).
    #[serde(default)]
    pub excepted: bool,
    /// The covering exception (v2).
    #[serde(default)]
    pub exception: Option<ReportException>,
    /// Verdict per protocol.
    pub protocols: BTreeMap<String, ReportProtocol>,
}

/// A mailbox's exception (v2).
#[derive(Debug, Clone, Deserialize)]
pub struct ReportException {
    /// The last day it covers, `YYYY-MM-DD`.
    pub until: String,
}

impl ReportMailbox {
    /// UPN, else SMTP address, else identity.
    pub fn label(&self) -> &str {
        self.user_principal_name
            .as_deref()
            .or(self.primary_smtp_address.as_deref())
            .unwrap_or(&self.identity)
    }
}

/// One protocol of a mailbox.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportProtocol {
    /// `allowed`, `blocked` or `unknown`.
    pub basic_auth: String,
    /// The blockers.
    pub blockers: Vec<ReportBlocker>,
    /// The usage evidence (v2; null without evidence).
    #[serde(default)]
    pub usage: Option<ReportUsage>,
}

/// A protocol's usage evidence (v2).
#[derive(Debug, Clone, Deserialize)]
pub struct ReportUsage {
    /// `in-use`, `attempted` or `unused`.
    pub readiness: String,
}

impl ReportProtocol {
    fn readiness(&self) -> Option<Readiness> {
        self.usage.as_ref().and_then(|u| parse_readiness(&u.readiness))
    }
}

/// One blocker (only the code is compared; settings and sources move between
/// exports without meaning anything).
#[derive(Debug, Clone, Deserialize)]
pub struct ReportBlocker {
    /// The blocker code.
    pub code: String,
}

/// A report's fields but its mailboxes, as [`read_report_from`] reads them.
#[derive(Debug, Clone)]
pub struct ReportHead {
    /// `exoauth/audit-v2` or `exoauth/audit-v1`.
    pub schema: String,
    /// The exoauth version that wrote it.
    pub tool_version: String,
    /// `allow` or `block`.
    pub want: String,
    /// `online` or `onprem`.
    pub environment: String,
    /// The `--as-of` date.
    pub as_of: String,
    /// The protocols audited.
    pub protocols: Vec<String>,
    /// The counts.
    pub summary: ReportSummary,
    /// Whether usage evidence was given (v2 `evidence` not null).
    pub evidence: bool,
}

/// Reads a report whole, refusing anything that is not `exoauth/audit-v1` or
/// `-v2` ([`read_report_from`], its mailboxes kept). `path` only names the
/// file in errors.
pub fn read_report(path: &str, bytes: &[u8]) -> Result<AuditReport, DiffError> {
    let mut mailboxes = Vec::new();
    let head = read_report_from(path, bytes, &mut |m| mailboxes.push(m))?;
    Ok(AuditReport { head, mailboxes })
}

/// Reads a report from `input` a mailbox at a time, handing each to `each`
/// in report order, so that a million mailboxes' report (a gigabyte of JSON)
/// is never held: text in UTF-8 (with a byte-order mark or without), UTF-16
/// after its mark, or Windows-1252 where its start is not UTF-8, as
/// [`crate::decode::decode`] reads a file. Refuses anything that is not an
/// `exoauth/audit-v1` or `-v2` report, a mailbox identity that appears
/// twice, and a protocol, verdict or readiness the schema does not allow.
pub fn read_report_from(
    path: &str,
    input: impl io::Read,
    each: &mut dyn FnMut(ReportMailbox),
) -> Result<ReportHead, DiffError> {
    let json = |error| DiffError::Json { path: path.into(), error };
    let text = report_text(path, input)?;
    let mut refused = None;
    let mut de = serde_json::Deserializer::from_reader(io::BufReader::with_capacity(1 << 16, text));
    let seen = Seen128::default();
    let seed = ReportSeed { path, each, refused: &mut refused, seen };
    let read = serde::de::DeserializeSeed::deserialize(seed, &mut de).and_then(|head| {
        de.end()?;
        Ok(head)
    });
    if let Some(refused) = refused {
        return Err(refused);
    }
    let head = read.map_err(json)?;
    let invalid = |message: String| DiffError::Invalid { path: path.into(), message };
    parse_want(&head.want)
        .ok_or_else(|| invalid(format!("want is {:?}, expected allow or block", head.want)))?;
    Ok(head)
}

/// The text of a report as UTF-8, decoded as it is read.
fn report_text<'r>(
    path: &str,
    mut input: impl io::Read + 'r,
) -> Result<Box<dyn io::Read + 'r>, DiffError> {
    use crate::decode::{DecodingReader, HEAD, looks_binary, read_full};
    let not_text = || DiffError::NotText { path: path.into() };
    let mut head = vec![0; HEAD];
    let n = read_full(&mut input, &mut head)
        .map_err(|e| DiffError::Json { path: path.into(), error: serde_json::Error::io(e) })?;
    head.truncate(n);
    if let Some(rest) = head.strip_prefix(b"\xEF\xBB\xBF") {
        return Ok(Box::new(io::Cursor::new(rest.to_vec()).chain(input)));
    }
    for (mark, big_endian) in [(b"\xFF\xFE", false), (b"\xFE\xFF", true)] {
        if let Some(rest) = head.strip_prefix(mark) {
            return Ok(Box::new(DecodingReader::utf16(input, big_endian, rest)));
        }
    }
    if looks_binary(&head) {
        return Err(not_text());
    }
    match std::str::from_utf8(&head) {
        // UTF-8, or UTF-8 whose last character the head cuts.
        Ok(_) => Ok(Box::new(io::Cursor::new(head).chain(input))),
        Err(e) if e.error_len().is_none() => Ok(Box::new(io::Cursor::new(head).chain(input))),
        Err(_) => Ok(Box::new(DecodingReader::windows_1252(input, &head))),
    }
}

/// The identities a report has shown, each as two 64-bit hashes under keys
/// drawn for the run (16 bytes, where the text would take some 60 at a
/// million mailboxes): two identities are taken for one only if both hashes
/// agree, which among a million of them happens with a chance of about one
/// in 10^27.
#[derive(Default)]
struct Seen128 {
    keys: [std::hash::RandomState; 2],
    seen: rustc_hash::FxHashSet<u128>,
}

impl Seen128 {
    /// Whether `identity` is new (it is noted).
    fn insert(&mut self, identity: &str) -> bool {
        use std::hash::BuildHasher;
        let [a, b] = self.keys.each_ref().map(|k| k.hash_one(identity));
        self.seen.insert(u128::from(a) << 64 | u128::from(b))
    }
}

/// Reads a report's top-level object ([`read_report_from`]).
struct ReportSeed<'a, 'f> {
    path: &'a str,
    each: &'f mut dyn FnMut(ReportMailbox),
    /// Why the report was refused, when it was for what it says rather
    /// than for its JSON: the error serde is given only stops the reading.
    refused: &'f mut Option<DiffError>,
    /// The mailbox identities read so far.
    seen: Seen128,
}

impl ReportSeed<'_, '_> {
    fn refuse<E: serde::de::Error>(&mut self, error: DiffError) -> E {
        *self.refused = Some(error);
        E::custom("refused")
    }

    fn schema_missing<E: serde::de::Error>(&mut self) -> E {
        let path = self.path.into();
        self.refuse(DiffError::Schema { path, found: "missing".into() })
    }

    /// Checks a mailbox as the schema allows it and hands it on.
    fn mailbox(&mut self, m: ReportMailbox) -> Result<(), DiffError> {
        let invalid = |message: String| DiffError::Invalid { path: self.path.into(), message };
        if !self.seen.insert(&m.identity) {
            return Err(invalid(format!("mailbox identity {:?} appears twice", m.identity)));
        }
        for (p, v) in &m.protocols {
            Protocol::parse(p).ok_or_else(|| {
                invalid(format!("mailbox {:?}: unknown protocol {p:?}", m.identity))
            })?;
            parse_verdict(&v.basic_auth).ok_or_else(|| {
                invalid(format!(
                    "mailbox {:?}: {p} basic_auth is {:?}, expected allowed, blocked or unknown",
                    m.identity, v.basic_auth
                ))
            })?;
            if let Some(u) = &v.usage {
                parse_readiness(&u.readiness).ok_or_else(|| {
                    invalid(format!(
                        "mailbox {:?}: {p} usage readiness is {:?}, expected in-use, attempted or unused",
                        m.identity, u.readiness
                    ))
                })?;
            }
        }
        (self.each)(m);
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for ReportSeed<'_, '_> {
    type Value = ReportHead;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<ReportHead, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ReportSeed<'_, '_> {
    type Value = ReportHead;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an exoauth audit report")
    }

    // Anything but an object has no schema.
    fn visit_bool<E: serde::de::Error>(mut self, _: bool) -> Result<ReportHead, E> {
        Err(self.schema_missing())
    }

    fn visit_i64<E: serde::de::Error>(mut self, _: i64) -> Result<ReportHead, E> {
        Err(self.schema_missing())
    }

    fn visit_u64<E: serde::de::Error>(mut self, _: u64) -> Result<ReportHead, E> {
        Err(self.schema_missing())
    }

    fn visit_f64<E: serde::de::Error>(mut self, _: f64) -> Result<ReportHead, E> {
        Err(self.schema_missing())
    }

    fn visit_str<E: serde::de::Error>(mut self, _: &str) -> Result<ReportHead, E> {
        Err(self.schema_missing())
    }

    fn visit_unit<E: serde::de::Error>(mut self) -> Result<ReportHead, E> {
        Err(self.schema_missing())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, _: A) -> Result<ReportHead, A::Error> {
        Err(self.schema_missing())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        mut self,
        mut map: A,
    ) -> Result<ReportHead, A::Error> {
        use serde::de::Error as _;
        let mut schema = None;
        let (mut tool_version, mut want, mut environment, mut as_of) = (None, None, None, None);
        let (mut protocols, mut summary, mut evidence) = (None, None, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "schema" => {
                    let value: serde_json::Value = map.next_value()?;
                    match &value {
                        serde_json::Value::String(s) if s == SCHEMA || s == SCHEMA_V1 => {}
                        other => {
                            let found = other.to_string();
                            let path = self.path.into();
                            return Err(self.refuse(DiffError::Schema { path, found }));
                        }
                    }
                    schema = Some(value.as_str().unwrap_or_default().to_owned());
                }
                "tool_version" => tool_version = Some(map.next_value()?),
                "want" => want = Some(map.next_value()?),
                "environment" => environment = Some(map.next_value()?),
                "as_of" => as_of = Some(map.next_value()?),
                "protocols" => protocols = Some(map.next_value()?),
                "summary" => summary = Some(map.next_value()?),
                "evidence" => {
                    evidence = map.next_value::<Option<serde::de::IgnoredAny>>()?.is_some();
                }
                "mailboxes" => map.next_value_seed(Mailboxes(&mut self))?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let Some(schema) = schema else { return Err(self.schema_missing()) };
        let missing = A::Error::missing_field;
        Ok(ReportHead {
            schema,
            tool_version: tool_version.ok_or_else(|| missing("tool_version"))?,
            want: want.ok_or_else(|| missing("want"))?,
            environment: environment.ok_or_else(|| missing("environment"))?,
            as_of: as_of.ok_or_else(|| missing("as_of"))?,
            protocols: protocols.ok_or_else(|| missing("protocols"))?,
            summary: summary.ok_or_else(|| missing("summary"))?,
            evidence,
        })
    }
}

/// A report's `mailboxes`, each handed on as it is read.
struct Mailboxes<'s, 'a, 'f>(&'s mut ReportSeed<'a, 'f>);

impl<'de> serde::de::DeserializeSeed<'de> for Mailboxes<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Mailboxes<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence of mailboxes")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(m) = seq.next_element::<ReportMailbox>()? {
            if let Err(refused) = self.0.mailbox(m) {
                return Err(self.0.refuse(refused));
            }
        }
        Ok(())
    }
}

fn parse_want(s: &str) -> Option<Want> {
    match s {
        "allow" => Some(Want::Allow),
        "block" => Some(Want::Block),
        _ => None,
    }
}

fn parse_readiness(s: &str) -> Option<Readiness> {
    Readiness::ALL.into_iter().find(|r| r.as_str() == s)
}

fn parse_verdict(s: &str) -> Option<Verdict> {
    match s {
        "allowed" => Some(Verdict::Allowed),
        "blocked" => Some(Verdict::Blocked),
        "unknown" => Some(Verdict::Unknown),
        _ => None,
    }
}

/// What one report was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    /// The file, as given.
    pub path: String,
    /// Its `as_of`.
    pub as_of: String,
    /// Its `want`.
    pub want: String,
    /// Its `environment`.
    pub environment: String,
    /// The exoauth version that wrote it.
    pub tool_version: String,
}

/// A mailbox in only one of the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRef {
    /// Its identity.
    pub identity: String,
    /// UPN, else SMTP address, else identity.
    pub label: String,
    /// Flagged in the report it is in.
    pub flagged: bool,
}

/// How a protocol's verdict moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// Now allowed, was not.
    NewlyAllowed,
    /// Now blocked, was not.
    NewlyBlocked,
    /// Now unknown, was not.
    NewlyUnknown,
    /// Same verdict, now in use with basic auth (usage evidence in both reports).
    NewlyInUse,
    /// Same verdict, other readiness (no longer in use, or attempts began or stopped).
    ReadinessChanged,
    /// Same verdict, other blockers.
    BlockersChanged,
}

impl Movement {
    /// `newly-allowed`, `newly-blocked`, `newly-unknown` or `blockers-changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Movement::NewlyAllowed => "newly-allowed",
            Movement::NewlyBlocked => "newly-blocked",
            Movement::NewlyUnknown => "newly-unknown",
            Movement::NewlyInUse => "newly-in-use",
            Movement::ReadinessChanged => "readiness-changed",
            Movement::BlockersChanged => "blockers-changed",
        }
    }
}

/// A protocol of a mailbox whose verdict or blockers changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolChange {
    /// The protocol.
    pub protocol: Protocol,
    /// The verdict before.
    pub old: Verdict,
    /// The verdict after.
    pub new: Verdict,
    /// Blocker codes present now and not before.
    pub appeared: Vec<String>,
    /// Blocker codes present before and not now.
    pub cleared: Vec<String>,
    /// Readiness before, when both reports had usage evidence.
    pub old_readiness: Option<Readiness>,
    /// Readiness after, when both reports had usage evidence.
    pub new_readiness: Option<Readiness>,
    /// Worse for the direction (see the module documentation).
    pub regression: bool,
}

impl ProtocolChange {
    /// True when the protocol is in use now and was not before.
    pub fn newly_in_use(&self) -> bool {
        self.new_readiness == Some(Readiness::InUse)
            && self.old_readiness.is_some_and(|r| r != Readiness::InUse)
    }

    /// How the verdict moved.
    pub fn movement(&self) -> Movement {
        match (self.old == self.new, self.new) {
            (true, _) if self.newly_in_use() => Movement::NewlyInUse,
            (true, _) if self.old_readiness != self.new_readiness => Movement::ReadinessChanged,
            (true, _) => Movement::BlockersChanged,
            (false, Verdict::Allowed) => Movement::NewlyAllowed,
            (false, Verdict::Blocked) => Movement::NewlyBlocked,
            (false, Verdict::Unknown) => Movement::NewlyUnknown,
        }
    }
}

/// A mailbox in both reports with at least one changed protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxChange {
    /// Its identity.
    pub identity: String,
    /// UPN, else SMTP address, else identity (from the later report).
    pub label: String,
    /// Flagged before.
    pub old_flagged: bool,
    /// Flagged after.
    pub new_flagged: bool,
    /// The protocols that changed, in report order.
    pub protocols: Vec<ProtocolChange>,
    /// The exception that covered the mailbox before and no longer does.
    pub exception_lapsed: Option<Lapsed>,
}

/// An exception that no longer covers a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lapsed {
    /// Its last day, `YYYY-MM-DD`.
    pub until: String,
    /// True when the later report's date is past it; false when it was removed
    /// from the register (or no longer covers every open protocol).
    pub expired: bool,
}

impl MailboxChange {
    /// True when any protocol regressed.
    pub fn regressed(&self) -> bool {
        self.protocols.iter().any(|p| p.regression)
    }
}

/// A count before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delta {
    /// Before.
    pub old: usize,
    /// After.
    pub new: usize,
}

impl Delta {
    /// `new - old`.
    pub fn change(self) -> i64 {
        self.new as i64 - self.old as i64
    }
}

/// The summary counts before and after.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SummaryDelta {
    /// Mailbox rows.
    pub mailboxes: Delta,
    /// In scope.
    pub in_scope: Delta,
    /// Flagged.
    pub flagged: Delta,
    /// Excepted.
    pub excepted: Delta,
    /// Rejected input rows.
    pub rejected_rows: Delta,
    /// Verdict counts of the protocols both reports audited, in report order:
    /// (protocol, allowed, blocked, unknown).
    pub by_protocol: Vec<(Protocol, Delta, Delta, Delta)>,
    /// Mailboxes per blocker code, over the codes of either report.
    pub by_blocker: BTreeMap<String, Delta>,
}

/// The comparison of two reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// The earlier report.
    pub old: Side,
    /// The later report.
    pub new: Side,
    /// The direction regressions are judged by (the later report's).
    pub want: Want,
    /// Differences in how the reports were made that qualify the comparison.
    pub notes: Vec<String>,
    /// In the later report only, in its order.
    pub added: Vec<MailboxRef>,
    /// In the earlier report only, in its order.
    pub removed: Vec<MailboxRef>,
    /// In both, with a changed protocol, in the later report's order.
    pub changed: Vec<MailboxChange>,
    /// Summary deltas.
    pub summary: SummaryDelta,
}

impl Diff {
    /// Mailboxes with at least one regression.
    pub fn regressions(&self) -> usize {
        self.changed.iter().filter(|c| c.regressed()).count()
    }

    /// Mailboxes with at least one protocol newly allowed or newly blocked, in
    /// the direction's favour, and none against it.
    pub fn improvements(&self) -> usize {
        self.changed
            .iter()
            .filter(|c| {
                !c.regressed()
                    && c.protocols.iter().any(|p| match self.want {
                        Want::Allow => p.new == Verdict::Allowed && p.old != Verdict::Allowed,
                        Want::Block => p.old == Verdict::Allowed && p.new != Verdict::Allowed,
                    })
            })
            .count()
    }
}

fn side(path: &str, r: &ReportHead) -> Side {
    Side {
        path: path.into(),
        as_of: r.as_of.clone(),
        want: r.want.clone(),
        environment: r.environment.clone(),
        tool_version: r.tool_version.clone(),
    }
}

fn verdict(p: &ReportProtocol) -> Verdict {
    // Validated by read_report; a report built by hand that skipped it reads as unknown.
    parse_verdict(&p.basic_auth).unwrap_or(Verdict::Unknown)
}

/// Mailboxes with a protocol newly in use with basic auth.
impl Diff {
    /// Mailboxes with at least one protocol newly in use.
    pub fn newly_in_use(&self) -> usize {
        self.changed.iter().filter(|c| c.protocols.iter().any(ProtocolChange::newly_in_use)).count()
    }

    /// Mailboxes whose exception lapsed.
    pub fn lapsed(&self) -> usize {
        self.changed.iter().filter(|c| c.exception_lapsed.is_some()).count()
    }
}

/// Whether moving from `old` to `new` is worse for the direction.
pub fn is_regression(want: Want, old: Verdict, new: Verdict) -> bool {
    match want {
        Want::Allow => old == Verdict::Allowed && new != Verdict::Allowed,
        Want::Block => old != Verdict::Allowed && new == Verdict::Allowed,
    }
}

/// Compares two reports read by [`read_report`]; the paths only label them.
pub fn diff(old_path: &str, old: &AuditReport, new_path: &str, new: &AuditReport) -> Diff {
    let [earlier, later] = [old, new].map(|r| {
        let mut kept = KeptReport::default();
        r.mailboxes.iter().for_each(|m| kept.keep(m));
        kept
    });
    compare(earlier, &later).finish(old_path, &old.head, new_path, &new.head)
}

/// Compares two report files, read side by side a mailbox at a time: of each
/// only what the comparison needs of a mailbox is kept (its identity, label,
/// flag, exception and, per protocol, its verdict, readiness and set of
/// blocker codes), so that two reports of a million mailboxes are compared in
/// a few hundred megabytes rather than held as JSON.
pub fn diff_files(
    old_path: &str,
    old: impl io::Read + Send,
    new_path: &str,
    new: impl io::Read + Send,
) -> Result<Diff, DiffError> {
    let (old, new) = rayon::join(|| keep_report(old_path, old), || keep_report(new_path, new));
    let ((old_head, earlier), (new_head, later)) = (old?, new?);
    Ok(compare(earlier, &later).finish(old_path, &old_head, new_path, &new_head))
}

/// Reads a report, keeping what the comparison needs of each mailbox.
fn keep_report(path: &str, input: impl io::Read) -> Result<(ReportHead, KeptReport), DiffError> {
    let mut kept = KeptReport::default();
    let head = read_report_from(path, input, &mut |m| kept.keep(&m))?;
    Ok((head, kept))
}

/// Compares the later report's mailboxes, in its order, with the earlier's.
fn compare(earlier: KeptReport, later: &KeptReport) -> Later {
    let by_identity = earlier.index();
    let mut compared = Later { earlier, by_identity, added: Vec::new(), changed: Vec::new() };
    // The later report's code sets, numbered as the earlier report numbers them.
    let codes: Vec<u32> =
        later.codes.sets.iter().map(|set| compared.earlier.codes.number_set(set)).collect();
    for m in &later.kept {
        compared.compare(m, &codes);
    }
    compared
}

/// A protocol's verdict, readiness and blocker codes (a set, numbered by [`Codes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    verdict: Verdict,
    readiness: Option<Readiness>,
    codes: u32,
}

/// Each distinct set of blocker codes, numbered: a report has a handful.
#[derive(Default)]
struct Codes {
    sets: Vec<BTreeSet<String>>,
    number: HashMap<BTreeSet<String>, u32>,
}

impl Codes {
    fn number(&mut self, p: &ReportProtocol) -> u32 {
        self.number_set(&p.blockers.iter().map(|b| b.code.clone()).collect())
    }

    fn number_set(&mut self, set: &BTreeSet<String>) -> u32 {
        if let Some(&n) = self.number.get(set) {
            return n;
        }
        let n = self.sets.len() as u32;
        self.sets.push(set.clone());
        self.number.insert(set.clone(), n);
        n
    }

    fn seen(&mut self, m: &ReportMailbox) -> [Option<Seen>; 3] {
        Protocol::ALL.map(|p| {
            m.protocols.get(p.as_str()).map(|v| Seen {
                verdict: verdict(v),
                readiness: v.readiness(),
                codes: self.number(v),
            })
        })
    }
}

/// What the comparison keeps of a mailbox of a report.
struct Kept {
    identity: Box<str>,
    label: Box<str>,
    flagged: bool,
    /// The last day of the exception that covered it.
    until: Option<Box<str>>,
    /// Per protocol of [`Protocol::ALL`].
    protocols: [Option<Seen>; 3],
    /// Of the earlier report: also in the later one.
    matched: bool,
}

/// A report's mailboxes as kept, in its order.
#[derive(Default)]
struct KeptReport {
    kept: Vec<Kept>,
    codes: Codes,
}

fn identity_hash(identity: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(identity)
}

impl KeptReport {
    fn keep(&mut self, m: &ReportMailbox) {
        let protocols = self.codes.seen(m);
        self.kept.push(Kept {
            identity: m.identity.as_str().into(),
            label: m.label().into(),
            flagged: m.flagged,
            until: m.exception.as_ref().map(|e| e.until.as_str().into()),
            protocols,
            matched: false,
        });
    }

    /// Its mailboxes by identity (a report names each once).
    fn index(&self) -> hashbrown::HashTable<u32> {
        let mut index = hashbrown::HashTable::with_capacity(self.kept.len());
        for (n, m) in self.kept.iter().enumerate() {
            let hash = |&k: &u32| identity_hash(&self.kept[k as usize].identity);
            index.insert_unique(identity_hash(&m.identity), n as u32, hash);
        }
        index
    }
}

/// A protocol whose verdict, readiness or codes differ, before the reports'
/// heads say whether it is compared.
struct Candidate {
    protocol: Protocol,
    old: Seen,
    new: Seen,
}

/// A mailbox in both reports that may have changed.
struct Changed {
    identity: String,
    label: String,
    old_flagged: bool,
    new_flagged: bool,
    protocols: Vec<Candidate>,
    lapsed: Option<Box<str>>,
}

/// The later report's mailboxes compared, one at a time, with the earlier
/// report's. What the heads decide (which protocols both audited, whether
/// both have usage evidence, the direction, the later date) is applied once
/// both are read: a report's head may follow its mailboxes.
struct Later {
    earlier: KeptReport,
    by_identity: hashbrown::HashTable<u32>,
    added: Vec<MailboxRef>,
    changed: Vec<Changed>,
}

impl Later {
    /// Compares one mailbox of the later report, whose code sets `codes`
    /// numbers as the earlier report does.
    fn compare(&mut self, m: &Kept, codes: &[u32]) {
        let kept = &self.earlier.kept;
        let found = self
            .by_identity
            .find(identity_hash(&m.identity), |&k| kept[k as usize].identity == m.identity);
        let Some(&k) = found else {
            let (identity, label) = (m.identity.to_string(), m.label.to_string());
            self.added.push(MailboxRef { identity, label, flagged: m.flagged });
            return;
        };
        let seen = m.protocols.map(|p| p.map(|p| Seen { codes: codes[p.codes as usize], ..p }));
        let before = &mut self.earlier.kept[k as usize];
        before.matched = true;
        let protocols: Vec<Candidate> = (Protocol::ALL.into_iter().zip(before.protocols).zip(seen))
            .filter_map(|((protocol, old), new)| {
                let (old, new) = (old?, new?);
                (old != new).then_some(Candidate { protocol, old, new })
            })
            .collect();
        let lapsed = match (&before.until, &m.until) {
            (Some(until), None) => Some(until.clone()),
            _ => None,
        };
        if !protocols.is_empty() || before.flagged != m.flagged || lapsed.is_some() {
            self.changed.push(Changed {
                identity: m.identity.to_string(),
                label: m.label.to_string(),
                old_flagged: before.flagged,
                new_flagged: m.flagged,
                protocols,
                lapsed,
            });
        }
    }

    fn finish(self, old_path: &str, old: &ReportHead, new_path: &str, new: &ReportHead) -> Diff {
        let want = parse_want(&new.want).unwrap_or_default();
        let mut notes = Vec::new();
        if old.want != new.want {
            notes.push(format!(
                "the reports were made for different directions (want {} then {}); regressions are judged by the later one",
                old.want, new.want
            ));
        }
        if old.environment != new.environment {
            notes.push(format!(
                "the reports were made for different environments ({} then {})",
                old.environment, new.environment
            ));
        }
        let protocols: Vec<Protocol> = Protocol::ALL
            .into_iter()
            .filter(|p| {
                old.protocols.iter().any(|q| q == p.as_str())
                    && new.protocols.iter().any(|q| q == p.as_str())
            })
            .collect();
        let only: Vec<&str> = Protocol::ALL
            .into_iter()
            .filter(|p| !protocols.contains(p))
            .map(|p| p.as_str())
            .filter(|p| old.protocols.iter().chain(&new.protocols).any(|q| q == p))
            .collect();
        if !only.is_empty() {
            notes.push(format!(
                "only one report audited {}; those protocols are not compared",
                only.join(", ")
            ));
        }
        let readiness_compared = old.evidence && new.evidence;
        if old.evidence != new.evidence {
            notes.push(format!(
                "only the {} report has usage evidence (--sign-ins); readiness is not compared",
                if new.evidence { "later" } else { "earlier" }
            ));
        }
        let Later { earlier, added, changed, .. } = self;
        let sets = &earlier.codes.sets;
        let changed = changed
            .into_iter()
            .filter_map(|c| {
                let ps: Vec<ProtocolChange> = (c.protocols.iter())
                    .filter(|x| protocols.contains(&x.protocol))
                    .filter_map(|x| {
                        let (ra, rb) = match readiness_compared {
                            true => (x.old.readiness, x.new.readiness),
                            false => (None, None),
                        };
                        let (va, vb) = (x.old.verdict, x.new.verdict);
                        if va == vb && x.old.codes == x.new.codes && ra == rb {
                            return None;
                        }
                        let (ca, cb) = (&sets[x.old.codes as usize], &sets[x.new.codes as usize]);
                        let mut change = ProtocolChange {
                            protocol: x.protocol,
                            old: va,
                            new: vb,
                            appeared: cb.difference(ca).cloned().collect(),
                            cleared: ca.difference(cb).cloned().collect(),
                            old_readiness: ra,
                            new_readiness: rb,
                            regression: is_regression(want, va, vb),
                        };
                        change.regression |= want == Want::Block && change.newly_in_use();
                        Some(change)
                    })
                    .collect();
                let exception_lapsed = c.lapsed.map(|until| Lapsed {
                    expired: new.as_of.as_str() > &*until,
                    until: until.into(),
                });
                (!ps.is_empty() || c.old_flagged != c.new_flagged || exception_lapsed.is_some())
                    .then_some(MailboxChange {
                        identity: c.identity,
                        label: c.label,
                        old_flagged: c.old_flagged,
                        new_flagged: c.new_flagged,
                        protocols: ps,
                        exception_lapsed,
                    })
            })
            .collect();
        let removed = (earlier.kept.into_iter())
            .filter(|k| !k.matched)
            .map(|k| MailboxRef {
                identity: k.identity.into(),
                label: k.label.into(),
                flagged: k.flagged,
            })
            .collect();

        let d = |old: usize, new: usize| Delta { old, new };
        let (os, ns) = (&old.summary, &new.summary);
        let by_protocol = protocols
            .iter()
            .map(|p| {
                let a = os.by_protocol.get(p.as_str()).copied().unwrap_or_default();
                let b = ns.by_protocol.get(p.as_str()).copied().unwrap_or_default();
                (*p, d(a.allowed, b.allowed), d(a.blocked, b.blocked), d(a.unknown, b.unknown))
            })
            .collect();
        let by_blocker = os
            .by_blocker
            .keys()
            .chain(ns.by_blocker.keys())
            .map(|code| {
                let get = |m: &BTreeMap<String, usize>| m.get(code).copied().unwrap_or(0);
                (code.clone(), d(get(&os.by_blocker), get(&ns.by_blocker)))
            })
            .collect();
        Diff {
            old: side(old_path, old),
            new: side(new_path, new),
            want,
            notes,
            added,
            removed,
            changed,
            summary: SummaryDelta {
                mailboxes: d(os.mailboxes, ns.mailboxes),
                in_scope: d(os.in_scope, ns.in_scope),
                flagged: d(os.flagged, ns.flagged),
                excepted: d(os.excepted, ns.excepted),
                rejected_rows: d(os.rejected_rows, ns.rejected_rows),
                by_protocol,
                by_blocker,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(want: &str, mailboxes: &str) -> String {
        format!(
            r#"{{"schema":"exoauth/audit-v1","tool_version":"0.1.0","want":"{want}","environment":"online","as_of":"2026-11-25","protocols":["pop","smtp"],
            "summary":{{"mailboxes":2,"in_scope":2,"flagged":1,"rejected_rows":0,"by_protocol":{{}},"by_blocker":{{}}}},
            "mailboxes":[{mailboxes}]}}"#
        )
    }

    fn mailbox(id: &str, pop: &str, pop_codes: &[&str], smtp: &str) -> String {
        let blockers: Vec<String> =
            pop_codes.iter().map(|c| format!(r#"{{"code":"{c}"}}"#)).collect();
        format!(
            r#"{{"identity":"{id}","flagged":false,"protocols":{{"pop":{{"basic_auth":"{pop}","blockers":[{}]}},"smtp":{{"basic_auth":"{smtp}","blockers":[]}}}}}}"#,
            blockers.join(",")
        )
    }

    fn read(text: &str) -> AuditReport {
        read_report("x.json", text.as_bytes()).unwrap()
    }

    #[test]
    fn regressions_follow_the_direction() {
        use Verdict::*;
        for (want, old, new, worse) in [
            (Want::Allow, Allowed, Blocked, true),
            (Want::Allow, Allowed, Unknown, true),
            (Want::Allow, Blocked, Allowed, false),
            (Want::Allow, Blocked, Unknown, false),
            (Want::Block, Blocked, Allowed, true),
            (Want::Block, Unknown, Allowed, true),
            (Want::Block, Allowed, Blocked, false),
            (Want::Block, Blocked, Unknown, false),
        ] {
            assert_eq!(is_regression(want, old, new), worse, "{want:?} {old:?} -> {new:?}");
        }
    }

    #[test]
    fn changes_added_removed_and_blockers_by_code() {
        let old = read(&report(
            "allow",
            &[
                mailbox("a", "allowed", &[], "allowed"),
                mailbox("b", "blocked", &["user-policy-blocks"], "allowed"),
                mailbox("gone", "allowed", &[], "allowed"),
            ]
            .join(","),
        ));
        let new = read(&report(
            "allow",
            &[
                mailbox("a", "blocked", &["mailbox-protocol-disabled"], "allowed"),
                mailbox("b", "blocked", &["default-policy-blocks"], "allowed"),
                mailbox("new", "allowed", &[], "allowed"),
            ]
            .join(","),
        ));
        let d = diff("old.json", &old, "new.json", &new);
        assert_eq!(d.added.iter().map(|m| m.identity.as_str()).collect::<Vec<_>>(), ["new"]);
        assert_eq!(d.removed.iter().map(|m| m.identity.as_str()).collect::<Vec<_>>(), ["gone"]);
        assert_eq!(d.changed.len(), 2);
        let a = &d.changed[0].protocols[0];
        assert_eq!((a.movement(), a.regression), (Movement::NewlyBlocked, true));
        assert_eq!(a.appeared, ["mailbox-protocol-disabled"]);
        let b = &d.changed[1].protocols[0];
        assert_eq!((b.movement(), b.regression), (Movement::BlockersChanged, false));
        assert_eq!(
            (b.appeared.as_slice(), b.cleared.as_slice()),
            (&["default-policy-blocks".to_owned()][..], &["user-policy-blocks".to_owned()][..])
        );
        assert_eq!(d.regressions(), 1);
    }

    #[test]
    fn a_v1_report_compares_with_a_v2_one_without_readiness() {
        let old =
            read(&report("block", &mailbox("a", "blocked", &["user-policy-blocks"], "allowed")));
        let v2 = report("block", &mailbox("a", "blocked", &["user-policy-blocks"], "allowed"))
            .replace("exoauth/audit-v1", "exoauth/audit-v2")
            .replace(
                r#""blockers":[]}"#,
                r#""blockers":[],"usage":{"readiness":"in-use","successes":3}}"#,
            )
            .replace(r#""mailboxes":["#, r#""evidence":{"events":3},"mailboxes":["#);
        let new = read(&v2);
        assert!(new.head.evidence && !old.head.evidence);
        let d = diff("old.json", &old, "new.json", &new);
        // Nothing to compare readiness with: noted, not a regression.
        assert!(d.changed.is_empty(), "{:?}", d.changed);
        assert!(d.notes.iter().any(|n| n.contains("only the later report has usage evidence")));
        let bad = v2.replace(r#""readiness":"in-use""#, r#""readiness":"busy""#);
        let err = read_report("x.json", bad.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("usage readiness is \"busy\""), "{err}");
    }

    /// A report is read alike whatever the order of its keys (its head after
    /// its mailboxes, as a hand-edited or other writer's report may have it)
    /// and in every encoding `read_report_from` decodes as it reads, a
    /// character cut by the first read's end among them; and two reports
    /// compared as they are read give the diff of the two read whole.
    #[test]
    fn reports_are_read_and_compared_as_they_stream_in_any_order_and_encoding() {
        let upn = |id: &str| format!(r#""user_principal_name":"Ngozi Ångström {id}","#);
        let mailboxes = |ids: std::ops::Range<usize>, codes: &[&str], smtp: &str| -> String {
            ids.map(|i| {
                let id = format!("{i:04}");
                let m = mailbox(&id, "blocked", codes, if i % 7 == 0 { smtp } else { "allowed" });
                m.replacen("{", &format!("{{{}", upn(&id)), 1)
            })
            .collect::<Vec<_>>()
            .join(",")
        };
        // One mailbox gone, one new, others with other blockers or verdicts.
        let old = report("block", &mailboxes(0..60, &["user-policy-blocks"], "allowed"));
        let new = report("block", &mailboxes(1..61, &["default-policy-blocks"], "blocked"));
        // The head after the mailboxes.
        let at = old.find("\"mailboxes\":[").unwrap();
        let reordered = format!(
            "{{{},{}}}",
            &old[at..old.len() - 1],
            &old[1..at - 1].trim_end().trim_end_matches(',')
        );
        // A multi-byte character across the first read's end (4,096 bytes).
        let cut = {
            let first = old.find('Å').unwrap();
            assert!(first < 4095);
            format!("{{{}{}", " ".repeat(4095 - first), &old[1..])
        };
        let utf16 = |text: &str, big: bool| -> Vec<u8> {
            let mut bytes = if big { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
            for unit in text.encode_utf16() {
                bytes.extend(if big { unit.to_be_bytes() } else { unit.to_le_bytes() });
            }
            bytes
        };
        let variants: Vec<(&str, Vec<u8>)> = vec![
            ("utf-8", old.clone().into_bytes()),
            ("head last", reordered.into_bytes()),
            ("cut character", cut.into_bytes()),
            ("utf-8 with a mark", [&b"\xEF\xBB\xBF"[..], old.as_bytes()].concat()),
            ("utf-16le", utf16(&old, false)),
            ("utf-16be", utf16(&old, true)),
        ];
        let whole = read(&old);
        let later = read(&new);
        let want = diff("old.json", &whole, "new.json", &later);
        assert!(!want.changed.is_empty() && !want.added.is_empty() && !want.removed.is_empty());
        for (name, bytes) in variants {
            let read = read_report("x.json", &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(format!("{read:?}"), format!("{whole:?}"), "{name}");
            let got = diff_files("old.json", &bytes[..], "new.json", new.as_bytes()).unwrap();
            assert_eq!(got, want, "{name}");
        }
    }

    proptest::proptest! {
        /// A report cut, with a byte changed or with bytes put in anywhere,
        /// in UTF-8 or UTF-16, is read or refused with an error, never a
        /// panic; what is read compares with itself as unchanged.
        #[test]
        fn damaged_reports_are_read_or_refused(
            at in 0usize..2000, byte in proptest::prelude::any::<u8>(), cut in proptest::prelude::any::<bool>(),
            insert in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4), utf16 in proptest::prelude::any::<bool>(),
        ) {
            let text = report("block", &[
                mailbox("a", "blocked", &["user-policy-blocks"], "allowed"),
                mailbox("b", "allowed", &[], "unknown"),
            ].join(","));
            let mut bytes = if utf16 {
                let mut b = vec![0xFF, 0xFE];
                b.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
                b
            } else {
                text.into_bytes()
            };
            let at = at % bytes.len();
            if cut {
                bytes.truncate(at);
            } else {
                bytes[at] = byte;
                bytes.splice(at..at, insert);
            }
            if let Ok(r) = read_report("x.json", &bytes) {
                let same = diff("a", &r, "b", &r);
                proptest::prop_assert!(same.changed.is_empty() && same.added.is_empty() && same.removed.is_empty());
            }
        }
    }

    #[test]
    fn other_schemas_and_bad_values_are_refused() {
        for (text, want) in [
            ("{\"schema\":\"exoauth/audit-v3\"}", "schema is \"exoauth/audit-v3\""),
            ("{\"mailboxes\":[]}", "schema is missing"),
            ("[1,2]", "schema is missing"),
            ("not json", "expected ident"),
            (&report("sideways", ""), "want is \"sideways\""),
            (&report("allow", &mailbox("a", "maybe", &[], "allowed")), "basic_auth is \"maybe\""),
            (
                &report(
                    "allow",
                    &[
                        mailbox("a", "allowed", &[], "allowed"),
                        mailbox("a", "allowed", &[], "allowed"),
                    ]
                    .join(","),
                ),
                "appears twice",
            ),
        ] {
            let err = read_report("x.json", text.as_bytes()).unwrap_err().to_string();
            assert!(err.starts_with("x.json: ") && err.contains(want), "{err}");
        }
        assert!(matches!(read_report("x.json", b"\x00\x01\x02"), Err(DiffError::NotText { .. })));
    }
}
