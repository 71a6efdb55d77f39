//! The Markdown diff, for tickets and wikis: the same content as the text diff,
//! with every mailbox name escaped as in the Markdown report.

use std::fmt::Write as _;
use std::io;

use super::{DiffRenderer, describe, lapsed, signed, summary_rows};
use crate::diff::Diff;
use crate::emit::report::markdown::escape;

/// The Markdown diff renderer.
#[derive(Debug, Clone, Copy)]
pub struct Markdown;

impl DiffRenderer for Markdown {
    fn render(&self, d: &Diff, out: &mut dyn io::Write) -> io::Result<()> {
        let mut md = String::new();
        // Writing to a String cannot fail.
        let _ = render(d, &mut md);
        out.write_all(md.as_bytes())
    }
}

fn render(d: &Diff, md: &mut String) -> std::fmt::Result {
    writeln!(md, "# exoauth diff\n")?;
    writeln!(
        md,
        "{} (as of {}, want `{}`) → {} (as of {}, want `{}`)\n",
        escape(&d.old.path),
        d.old.as_of,
        escape(&d.old.want),
        escape(&d.new.path),
        d.new.as_of,
        escape(&d.new.want)
    )?;
    for n in &d.notes {
        writeln!(md, "> [!NOTE]\n> {}\n", escape(n))?;
    }
    let regressions = d.regressions();
    if regressions > 0 {
        writeln!(
            md,
            "> [!WARNING]\n> **{regressions} mailbox(es) regressed** for want `{}`.\n",
            d.want.as_str()
        )?;
    }
    writeln!(
        md,
        "{regressions} regressed, {} improved, {} other change(s); {} added, {} removed.\n",
        d.improvements(),
        d.changed.len() - regressions - d.improvements(),
        d.added.len(),
        d.removed.len()
    )?;

    writeln!(md, "## Summary\n")?;
    writeln!(md, "| | old | new | change |\n|---|---:|---:|---:|")?;
    for (label, delta) in summary_rows(d) {
        writeln!(md, "| {label} | {} | {} | {} |", delta.old, delta.new, signed(delta))?;
    }
    let blockers: Vec<_> =
        d.summary.by_blocker.iter().filter(|(_, delta)| delta.change() != 0).collect();
    if !blockers.is_empty() {
        writeln!(md, "\n### Blockers (in-scope mailboxes affected)\n")?;
        writeln!(md, "| blocker | old | new | change |\n|---|---:|---:|---:|")?;
        for (code, delta) in blockers {
            writeln!(
                md,
                "| {} | {} | {} | {} |",
                escape(code),
                delta.old,
                delta.new,
                signed(*delta)
            )?;
        }
    }

    if !d.changed.is_empty() {
        writeln!(md, "\n## Changed mailboxes ({})\n", d.changed.len())?;
        writeln!(
            md,
            "| mailbox | identity | protocol | change | regression |\n|---|---|---|---|---|"
        )?;
        let ordered = d
            .changed
            .iter()
            .filter(|c| c.regressed())
            .chain(d.changed.iter().filter(|c| !c.regressed()));
        for c in ordered {
            for p in &c.protocols {
                writeln!(
                    md,
                    "| {} | {} | {} | {} | {} |",
                    escape(&c.label),
                    escape(&c.identity),
                    p.protocol,
                    escape(&describe(p)),
                    if p.regression { "**yes**" } else { "no" }
                )?;
            }
            if let Some(l) = &c.exception_lapsed {
                writeln!(
                    md,
                    "| {} | {} | | {}; flagged {} → {} | no |",
                    escape(&c.label),
                    escape(&c.identity),
                    lapsed(l),
                    c.old_flagged,
                    c.new_flagged
                )?;
            } else if c.protocols.is_empty() {
                writeln!(
                    md,
                    "| {} | {} | | flagged {} → {} | no |",
                    escape(&c.label),
                    escape(&c.identity),
                    c.old_flagged,
                    c.new_flagged
                )?;
            }
        }
    }
    for (title, list) in [("Added mailboxes", &d.added), ("Removed mailboxes", &d.removed)] {
        if list.is_empty() {
            continue;
        }
        writeln!(md, "\n## {title} ({})\n", list.len())?;
        writeln!(md, "| mailbox | identity | flagged |\n|---|---|---|")?;
        for m in list {
            writeln!(md, "| {} | {} | {} |", escape(&m.label), escape(&m.identity), m.flagged)?;
        }
    }
    Ok(())
}
