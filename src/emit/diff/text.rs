//! The human-readable diff: the two runs, notes, regressions first, the summary
//! deltas, blocker deltas, then the changed, added and removed mailboxes.

use std::io::{self, Write};

use super::{DiffRenderer, describe, lapsed, signed, summary_rows};
use crate::diff::Diff;

/// The text diff renderer.
#[derive(Debug, Clone, Copy)]
pub struct Text;

impl DiffRenderer for Text {
    fn render(&self, d: &Diff, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "exoauth diff: {} (as of {}, want {}) -> {} (as of {}, want {})",
            d.old.path, d.old.as_of, d.old.want, d.new.path, d.new.as_of, d.new.want
        )?;
        for n in &d.notes {
            writeln!(out, "  ! {n}")?;
        }
        writeln!(
            out,
            "\n{} mailbox(es) regressed (want {}), {} improved, {} other change(s); {} added, {} removed",
            d.regressions(),
            d.want.as_str(),
            d.improvements(),
            d.changed.len() - d.regressions() - d.improvements(),
            d.added.len(),
            d.removed.len()
        )?;
        if d.newly_in_use() > 0 || d.lapsed() > 0 {
            writeln!(
                out,
                "{} mailbox(es) newly in use with basic auth, {} exception(s) lapsed",
                d.newly_in_use(),
                d.lapsed()
            )?;
        }

        writeln!(out, "\nSummary")?;
        let rows = summary_rows(d);
        let w = rows.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0).max(7);
        writeln!(out, "  {:<w$}  {:>6}  {:>6}  {:>6}", "", "old", "new", "change")?;
        for (label, delta) in rows {
            writeln!(
                out,
                "  {label:<w$}  {:>6}  {:>6}  {:>6}",
                delta.old,
                delta.new,
                signed(delta)
            )?;
        }
        let blockers: Vec<_> =
            d.summary.by_blocker.iter().filter(|(_, delta)| delta.change() != 0).collect();
        if !blockers.is_empty() {
            writeln!(out, "\nBlockers (in-scope mailboxes affected)")?;
            let w = blockers.iter().map(|(c, _)| c.chars().count()).max().unwrap_or(0);
            for (code, delta) in blockers {
                writeln!(
                    out,
                    "  {code:<w$}  {:>6}  {:>6}  {:>6}",
                    delta.old,
                    delta.new,
                    signed(*delta)
                )?;
            }
        }

        if !d.changed.is_empty() {
            writeln!(out, "\nChanged mailboxes ({})", d.changed.len())?;
            // Regressions first, each group in report order.
            let ordered = d
                .changed
                .iter()
                .filter(|c| c.regressed())
                .chain(d.changed.iter().filter(|c| !c.regressed()));
            for c in ordered {
                let mark = if c.regressed() { "!" } else { "*" };
                let mut notes = Vec::new();
                if c.regressed() {
                    notes.push("REGRESSION");
                }
                match (c.old_flagged, c.new_flagged) {
                    (false, true) => notes.push("now flagged"),
                    (true, false) => notes.push("no longer flagged"),
                    _ => {}
                }
                let notes = if notes.is_empty() {
                    String::new()
                } else {
                    format!(": {}", notes.join(", "))
                };
                writeln!(out, "  {mark} {} ({}){notes}", c.label, c.identity)?;
                for p in &c.protocols {
                    writeln!(out, "      {}: {}", p.protocol, describe(p))?;
                }
                if let Some(l) = &c.exception_lapsed {
                    writeln!(out, "      {}", lapsed(l))?;
                }
            }
        }
        if !d.added.is_empty() {
            writeln!(out, "\nAdded mailboxes ({})", d.added.len())?;
            for m in &d.added {
                let flag = if m.flagged { ", flagged" } else { "" };
                writeln!(out, "  + {} ({}){flag}", m.label, m.identity)?;
            }
        }
        if !d.removed.is_empty() {
            writeln!(out, "\nRemoved mailboxes ({})", d.removed.len())?;
            for m in &d.removed {
                writeln!(out, "  - {} ({})", m.label, m.identity)?;
            }
        }
        if d.changed.is_empty() && d.added.is_empty() && d.removed.is_empty() {
            writeln!(out, "\nNo mailbox changed.")?;
        }
        Ok(())
    }
}
