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

use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// An `exoauth/audit-v1` or `-v2` report, as far as a diff reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditReport {
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
    /// One entry per in-scope mailbox.
    pub mailboxes: Vec<ReportMailbox>,
    /// Whether usage evidence was given (v2 `evidence` not null).
    #[serde(default, deserialize_with = "present")]
    pub evidence: bool,
}

/// True for a present, non-null value.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<serde::de::IgnoredAny>::deserialize(d)?.is_some())
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

/// Reads a report, refusing anything that is not `exoauth/audit-v1`.
/// `path` only names the file in errors.
pub fn read_report(path: &str, bytes: &[u8]) -> Result<AuditReport, DiffError> {
    let (text, _) =
        crate::decode::decode(bytes).map_err(|_| DiffError::NotText { path: path.into() })?;
    let json = |error| DiffError::Json { path: path.into(), error };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(json)?;
    match value.get("schema") {
        Some(serde_json::Value::String(s)) if s == SCHEMA || s == SCHEMA_V1 => {}
        Some(other) => {
            return Err(DiffError::Schema { path: path.into(), found: other.to_string() });
        }
        None => return Err(DiffError::Schema { path: path.into(), found: "missing".into() }),
    }
    let report: AuditReport = serde_json::from_value(value).map_err(json)?;
    let invalid = |message: String| DiffError::Invalid { path: path.into(), message };
    parse_want(&report.want)
        .ok_or_else(|| invalid(format!("want is {:?}, expected allow or block", report.want)))?;
    let mut seen = BTreeSet::new();
    for m in &report.mailboxes {
        if !seen.insert(m.identity.as_str()) {
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
    }
    Ok(report)
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

fn side(path: &str, r: &AuditReport) -> Side {
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

fn codes(p: &ReportProtocol) -> BTreeSet<&str> {
    p.blockers.iter().map(|b| b.code.as_str()).collect()
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

    let old_by: HashMap<&str, &ReportMailbox> =
        old.mailboxes.iter().map(|m| (m.identity.as_str(), m)).collect();
    let new_ids: BTreeSet<&str> = new.mailboxes.iter().map(|m| m.identity.as_str()).collect();
    let as_ref = |m: &ReportMailbox| MailboxRef {
        identity: m.identity.clone(),
        label: m.label().to_string(),
        flagged: m.flagged,
    };
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for m in &new.mailboxes {
        let Some(before) = old_by.get(m.identity.as_str()) else {
            added.push(as_ref(m));
            continue;
        };
        let mut ps = Vec::new();
        for p in &protocols {
            let (Some(a), Some(b)) =
                (before.protocols.get(p.as_str()), m.protocols.get(p.as_str()))
            else {
                continue;
            };
            let (ca, cb) = (codes(a), codes(b));
            let (va, vb) = (verdict(a), verdict(b));
            let (ra, rb) =
                if readiness_compared { (a.readiness(), b.readiness()) } else { (None, None) };
            if va == vb && ca == cb && ra == rb {
                continue;
            }
            let mut change = ProtocolChange {
                protocol: *p,
                old: va,
                new: vb,
                appeared: cb.difference(&ca).map(|c| (*c).to_owned()).collect(),
                cleared: ca.difference(&cb).map(|c| (*c).to_owned()).collect(),
                old_readiness: ra,
                new_readiness: rb,
                regression: is_regression(want, va, vb),
            };
            change.regression |= want == Want::Block && change.newly_in_use();
            ps.push(change);
        }
        let exception_lapsed = match (&before.exception, &m.exception) {
            (Some(e), None) => Some(Lapsed {
                until: e.until.clone(),
                expired: new.as_of.as_str() > e.until.as_str(),
            }),
            _ => None,
        };
        if !ps.is_empty() || before.flagged != m.flagged || exception_lapsed.is_some() {
            changed.push(MailboxChange {
                identity: m.identity.clone(),
                label: m.label().to_string(),
                old_flagged: before.flagged,
                new_flagged: m.flagged,
                protocols: ps,
                exception_lapsed,
            });
        }
    }
    let removed = old
        .mailboxes
        .iter()
        .filter(|m| !new_ids.contains(m.identity.as_str()))
        .map(as_ref)
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
        assert!(new.evidence && !old.evidence);
        let d = diff("old.json", &old, "new.json", &new);
        // Nothing to compare readiness with: noted, not a regression.
        assert!(d.changed.is_empty(), "{:?}", d.changed);
        assert!(d.notes.iter().any(|n| n.contains("only the later report has usage evidence")));
        let bad = v2.replace(r#""readiness":"in-use""#, r#""readiness":"busy""#);
        let err = read_report("x.json", bad.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("usage readiness is \"busy\""), "{err}");
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
