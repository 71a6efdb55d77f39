//! `exoauth trend`: one tenant's JSON reports over time (`exoauth/audit-v2`
//! and `-v1`), one row per run, and whether the tenant is moving toward the
//! end-of-December 2026 SMTP AUTH default-off or away from it.
//!
//! The measure is basic SMTP AUTH: the mailboxes the sign-in evidence shows
//! using it when the first and the last run both have evidence (they are the
//! ones that break), else the mailboxes whose configuration does not block it
//! (allowed or unknown, failing closed like the block direction).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use time::Date;

use crate::audit::advisory::SMTP_DEFAULT_OFF;
use crate::diff::{DiffError, ReportCounts, ReportHead, read_report_from};
use crate::input::stream::Counted;
use crate::progress::{Progress, Unit};

/// Why the reports cannot make a trend.
#[derive(Debug, thiserror::Error)]
pub enum TrendError {
    /// A file or folder could not be read.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A file is not a report.
    #[error(transparent)]
    Report(#[from] DiffError),
    /// A report's `as_of` is not a date.
    #[error("{file}: as_of {as_of:?} is not a date as YYYY-MM-DD; is this an exoauth report?")]
    Date {
        /// The file.
        file: String,
        /// What it holds.
        as_of: String,
    },
    /// No report among the paths.
    #[error(
        "no JSON report found in {0}; give `exoauth audit --format json` reports of one tenant, or folders of them"
    )]
    Empty(String),
    /// Reports of both directions: their flagged counts mean opposite things.
    #[error(
        "the reports mix directions ({allow} with want allow, {block} with want block); a trend compares runs of one direction: give the reports of one"
    )]
    MixedDirections {
        /// A report of the allow direction.
        allow: String,
        /// A report of the block direction.
        block: String,
    },
}

/// One run: a report's counts.
#[derive(Debug, Clone)]
pub struct Run {
    /// The report's path, as given.
    pub file: String,
    /// Its `as_of` date.
    pub as_of: Date,
    /// `online` or `onprem`.
    pub environment: String,
    /// The protocols audited.
    pub protocols: Vec<String>,
    /// Mailbox rows in the export.
    pub mailboxes: usize,
    /// Mailboxes in scope.
    pub in_scope: usize,
    /// Mailboxes flagged.
    pub flagged: usize,
    /// Mailboxes excepted by the register (`None` for a v1 report).
    pub excepted: Option<usize>,
    /// Verdict counts per protocol audited.
    pub verdicts: BTreeMap<String, ReportCounts>,
    /// Per protocol, mailboxes in use with basic auth; `None` without evidence.
    pub in_use: Option<BTreeMap<String, usize>>,
}

impl Run {
    /// A run from a report's head and, per protocol key, how many of its
    /// mailboxes were in use with basic auth.
    fn of(
        file: String,
        r: &ReportHead,
        in_use: &BTreeMap<String, usize>,
    ) -> Result<Run, TrendError> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let as_of = Date::parse(&r.as_of, format)
            .map_err(|_| TrendError::Date { file: file.clone(), as_of: r.as_of.clone() })?;
        let in_use = r.evidence.then(|| {
            r.protocols.iter().map(|p| (p.clone(), in_use.get(p).copied().unwrap_or(0))).collect()
        });
        Ok(Run {
            file,
            as_of,
            environment: r.environment.clone(),
            protocols: r.protocols.clone(),
            mailboxes: r.summary.mailboxes,
            in_scope: r.summary.in_scope,
            flagged: r.summary.flagged,
            excepted: (r.schema != crate::diff::SCHEMA_V1).then_some(r.summary.excepted),
            verdicts: r.summary.by_protocol.clone(),
            in_use,
        })
    }

    /// Mailboxes whose configuration does not block basic SMTP AUTH (allowed,
    /// or unknown: fail closed, as the block direction counts them), when SMTP
    /// was audited.
    pub fn smtp_open(&self) -> Option<usize> {
        self.verdicts.get("smtp").map(|c| c.allowed + c.unknown)
    }

    /// Mailboxes in use with basic SMTP AUTH, when there was evidence.
    pub fn smtp_in_use(&self) -> Option<usize> {
        self.in_use.as_ref().and_then(|u| u.get("smtp").copied())
    }
}

/// Which way the tenant is moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Fewer mailboxes depend on basic SMTP AUTH than in the first run.
    Toward,
    /// More do.
    Away,
    /// As many.
    Steady,
    /// One run, or SMTP not audited in the first and last: nothing to compare.
    Unknown,
}

impl Direction {
    /// `toward`, `away`, `steady` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Toward => "toward",
            Direction::Away => "away",
            Direction::Steady => "steady",
            Direction::Unknown => "unknown",
        }
    }
}

/// The runs in date order and what they say.
#[derive(Debug, Clone)]
pub struct Trend {
    /// `allow` or `block`.
    pub want: String,
    /// One per report, oldest first.
    pub runs: Vec<Run>,
    /// Which way the tenant moves.
    pub direction: Direction,
    /// The sentences that say so, with the figures.
    pub verdict: String,
}

/// The report files among `paths`: a file as given, a folder's `.json` files
/// in name order.
pub fn report_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TrendError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let io = |error| TrendError::Io { path: path.clone(), error };
            let entries = crate::load::sorted_entries(path).map_err(io)?;
            files.extend(entries.into_iter().filter(|p| {
                p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
            }));
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// A report's head, read a mailbox at a time, and per protocol how many of
/// its mailboxes are in use with basic auth.
fn read_run(
    path: &Path,
    progress: &dyn Progress,
) -> Result<(String, ReportHead, BTreeMap<String, usize>), TrendError> {
    let input =
        std::fs::File::open(path).map_err(|error| TrendError::Io { path: path.into(), error })?;
    let name = path.display().to_string();
    let mut in_use: BTreeMap<String, usize> = BTreeMap::new();
    let report = read_report_from(&name, Counted::new(input, progress), &mut |m| {
        for (p, v) in &m.protocols {
            if v.usage.as_ref().is_some_and(|u| u.readiness == "in-use") {
                *in_use.entry(p.clone()).or_default() += 1;
            }
        }
    })?;
    Ok((name, report, in_use))
}

/// Reads the reports, a mailbox at a time, and orders them by date (then by
/// path), counting the bytes read to `progress`.
pub fn read(paths: &[PathBuf], progress: &dyn Progress) -> Result<Trend, TrendError> {
    let files = report_files(paths)?;
    let total = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    progress.start("reading", Some(total), Unit::Bytes);
    let read = read_files(&files, paths, progress);
    progress.finish();
    read
}

fn read_files(
    files: &[PathBuf],
    paths: &[PathBuf],
    progress: &dyn Progress,
) -> Result<Trend, TrendError> {
    use rayon::prelude::*;
    // The reports are read side by side; what they say is taken in order,
    // so the first error is the first file's that has one.
    let read: Vec<_> = files.par_iter().map(|path| read_run(path, progress)).collect();
    let mut runs = Vec::new();
    let mut first_of: BTreeMap<String, String> = BTreeMap::new();
    for read in read {
        let (name, report, in_use) = read?;
        first_of.entry(report.want.clone()).or_insert_with(|| name.clone());
        runs.push(Run::of(name, &report, &in_use)?);
    }
    if let (Some(allow), Some(block)) = (first_of.get("allow"), first_of.get("block")) {
        return Err(TrendError::MixedDirections { allow: allow.clone(), block: block.clone() });
    }
    let Some(want) = first_of.into_keys().next() else {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(TrendError::Empty(shown.join(", ")));
    };
    runs.sort_by(|a, b| a.as_of.cmp(&b.as_of).then_with(|| a.file.cmp(&b.file)));
    let (direction, verdict) = judge(&runs);
    Ok(Trend { want, runs, direction, verdict })
}

/// Compares the first and the last run (see the module documentation).
fn judge(runs: &[Run]) -> (Direction, String) {
    let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
        return (Direction::Unknown, String::new());
    };
    let days = (SMTP_DEFAULT_OFF - last.as_of).whole_days();
    let deadline = if days >= 0 {
        format!(
            "{days} days from {} to the SMTP AUTH basic-auth default-off at the end of December 2026 ({SMTP_DEFAULT_OFF}).",
            last.as_of
        )
    } else {
        format!(
            "The SMTP AUTH basic-auth default-off was due on {SMTP_DEFAULT_OFF}, {} days before {}.",
            -days, last.as_of
        )
    };
    if runs.len() < 2 {
        return (
            Direction::Unknown,
            format!("One run ({}): nothing to compare yet. {deadline}", last.as_of),
        );
    }
    let measure = match (first.smtp_in_use(), last.smtp_in_use()) {
        (Some(a), Some(b)) => Some((a, b, "in use with basic SMTP AUTH (sign-in evidence)")),
        _ => first.smtp_open().zip(last.smtp_open()).map(|(a, b)| {
            (a, b, "not blocked from basic SMTP AUTH by their configuration (allowed or unknown)")
        }),
    };
    let Some((was, now, what)) = measure else {
        return (
            Direction::Unknown,
            format!(
                "SMTP AUTH was not audited in both the first and the last run, so the trend toward the default-off cannot be told. {deadline}"
            ),
        );
    };
    let mailboxes = |n: usize| format!("{n} {}", if n == 1 { "mailbox" } else { "mailboxes" });
    let (direction, sentence) = match now.cmp(&was) {
        std::cmp::Ordering::Less => (
            Direction::Toward,
            format!(
                "Moving toward the default-off: {} {what} on {}, down from {} on {}.",
                mailboxes(now),
                last.as_of,
                was,
                first.as_of
            ),
        ),
        std::cmp::Ordering::Greater => (
            Direction::Away,
            format!(
                "Moving away from the default-off: {} {what} on {}, up from {} on {}.",
                mailboxes(now),
                last.as_of,
                was,
                first.as_of
            ),
        ),
        std::cmp::Ordering::Equal => (
            Direction::Steady,
            format!(
                "Not moving: {} {what} on {}, as on {}.",
                mailboxes(now),
                last.as_of,
                first.as_of
            ),
        ),
    };
    (direction, format!("{sentence} {deadline}"))
}

/// The file name of a run, for tables.
pub fn short_name(file: &str) -> &str {
    Path::new(file).file_name().and_then(|n| n.to_str()).unwrap_or(file)
}
