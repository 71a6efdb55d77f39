//! Diff renderers, one file per format behind one small trait, like the report
//! renderers: pure functions of a [`Diff`].

pub mod json;
pub mod markdown;
pub mod text;

use std::io;

use crate::diff::{Delta, Diff};

/// A diff format.
pub trait DiffRenderer {
    /// Writes the diff.
    fn render(&self, diff: &Diff, out: &mut dyn io::Write) -> io::Result<()>;
}

/// The diff formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    /// Human-readable.
    Text,
    /// `exoauth/diff-v1`.
    Json,
    /// GitHub-flavoured Markdown.
    Markdown,
}

impl DiffFormat {
    /// The renderer for this format.
    pub fn renderer(self) -> &'static dyn DiffRenderer {
        match self {
            DiffFormat::Text => &text::Text,
            DiffFormat::Json => &json::Json,
            DiffFormat::Markdown => &markdown::Markdown,
        }
    }
}

/// `+3`, `-1` or `0`.
pub fn signed(d: Delta) -> String {
    match d.change() {
        0 => "0".into(),
        n if n > 0 => format!("+{n}"),
        n => n.to_string(),
    }
}

/// The summary rows shared by the text and Markdown diffs: (label, delta), the
/// per-protocol verdict counts included.
pub fn summary_rows(d: &Diff) -> Vec<(String, Delta)> {
    let s = &d.summary;
    let mut rows = vec![
        ("mailboxes".to_owned(), s.mailboxes),
        ("in scope".to_owned(), s.in_scope),
        ("flagged".to_owned(), s.flagged),
        ("excepted".to_owned(), s.excepted),
        ("rejected rows".to_owned(), s.rejected_rows),
    ];
    for (p, allowed, blocked, unknown) in &s.by_protocol {
        rows.push((format!("{p} allowed"), *allowed));
        rows.push((format!("{p} blocked"), *blocked));
        rows.push((format!("{p} unknown"), *unknown));
    }
    rows
}

/// `allowed → blocked (newly-blocked)` and the blocker codes that moved, for one
/// protocol change, without the protocol name.
pub fn describe(p: &crate::diff::ProtocolChange) -> String {
    let mut s = if p.old == p.new {
        match p.movement() {
            crate::diff::Movement::BlockersChanged => {
                format!("{} (blockers changed)", p.new.as_str())
            }
            m => format!("{} ({})", p.new.as_str(), m.as_str()),
        }
    } else {
        format!("{} → {} ({})", p.old.as_str(), p.new.as_str(), p.movement().as_str())
    };
    if let (Some(a), Some(b)) = (p.old_readiness, p.new_readiness)
        && a != b
    {
        s.push_str(&format!("; usage: {} → {}", a.as_str(), b.as_str()));
    }
    if !p.appeared.is_empty() {
        s.push_str(&format!("; appeared: {}", p.appeared.join(", ")));
    }
    if !p.cleared.is_empty() {
        s.push_str(&format!("; cleared: {}", p.cleared.join(", ")));
    }
    s
}

/// `exception until 2026-10-31 expired` / `... was removed`.
pub fn lapsed(l: &crate::diff::Lapsed) -> String {
    format!(
        "exception until {} {}",
        l.until,
        if l.expired { "expired" } else { "no longer covers it (removed or narrowed)" }
    )
}
