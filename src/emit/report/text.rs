//! The human-readable report: run header, inputs, advisories, warnings, summary
//! counts, top blockers, the flagged mailboxes as a table, and rejected rows.

use std::io::{self, Write};

use super::{Renderer, Report, blockers_cell};
use crate::audit::Want;

/// The text renderer.
#[derive(Debug, Clone, Copy)]
pub struct Text;

/// Writes rows as left-aligned columns separated by two spaces (widths in chars).
fn table(
    out: &mut dyn Write,
    indent: &str,
    rows: &[Vec<String>],
    right: &[bool],
) -> io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::from(indent);
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            let last = c + 1 == row.len();
            if right.get(c).copied().unwrap_or(false) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if !last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if !last {
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

impl Renderer for Text {
    fn render(&self, r: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let o = r.options;
        let sum = &r.audit.summary;
        let protocols: Vec<&str> = o.protocols.iter().map(|p| p.as_str()).collect();
        writeln!(
            out,
            "exoauth {} audit of {} (environment {}, want {}, protocols {}, as of {})",
            env!("CARGO_PKG_VERSION"),
            r.dir.display(),
            o.environment.as_str(),
            o.want.as_str(),
            protocols.join(", "),
            o.as_of
        )?;

        writeln!(out, "\nInputs")?;
        let rows: Vec<Vec<String>> = r
            .loaded
            .inputs
            .iter()
            .map(|i| {
                vec![
                    i.path.file_name().map_or_else(
                        || i.path.display().to_string(),
                        |n| n.to_string_lossy().into(),
                    ),
                    i.cmdlet.produced_by().to_owned(),
                    format!("{} {}", i.form.name(), i.encoding),
                    format!("{} row{}", i.rows, if i.rows == 1 { "" } else { "s" }),
                ]
            })
            .collect();
        table(out, "  ", &rows, &[false, false, false, true])?;

        if !r.audit.advisories.is_empty() {
            writeln!(out, "\nAdvisories")?;
            for a in &r.audit.advisories {
                let ps: Vec<&str> = a.protocols.iter().map(|p| p.as_str()).collect();
                let scope =
                    if ps.is_empty() { String::new() } else { format!(" ({})", ps.join(", ")) };
                writeln!(out, "  ! {}{scope}: {}", a.code, a.message)?;
            }
        }

        if !r.loaded.warnings.is_empty() {
            writeln!(out, "\nWarnings")?;
            for w in &r.loaded.warnings {
                match &w.source {
                    Some(src) => writeln!(out, "  ! {src}: {}", w.message)?,
                    None => writeln!(out, "  ! {}", w.message)?,
                }
            }
        }

        writeln!(out, "\nSummary")?;
        writeln!(
            out,
            "  {} mailboxes: {} in scope, {} out of scope; {} flagged; {} rows rejected",
            sum.mailboxes,
            sum.in_scope,
            r.audit.out_of_scope,
            sum.flagged,
            r.loaded.rejected.len()
        )?;
        let mut rows =
            vec![vec!["protocol".into(), "allowed".into(), "blocked".into(), "unknown".into()]];
        rows.extend(sum.protocols().map(|(p, c)| {
            vec![p.to_string(), c.allowed.to_string(), c.blocked.to_string(), c.unknown.to_string()]
        }));
        table(out, "  ", &rows, &[false, true, true, true])?;

        if !sum.by_blocker.is_empty() {
            writeln!(out, "\nTop blockers (in-scope mailboxes affected)")?;
            let mut by: Vec<_> = sum.by_blocker.iter().collect();
            by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let rows: Vec<Vec<String>> =
                by.iter().map(|(c, n)| vec![c.to_string(), n.to_string()]).collect();
            table(out, "  ", &rows, &[false, true])?;
        }

        let flagged: Vec<_> = r.audit.findings.iter().filter(|f| f.flagged).collect();
        let what = match o.want {
            Want::Allow => "cannot use basic auth on an in-scope protocol",
            Want::Block => "can still use basic auth on an in-scope protocol",
        };
        writeln!(out, "\nFlagged mailboxes ({} of {}): {what}", flagged.len(), sum.in_scope)?;
        if !flagged.is_empty() {
            let mut header = vec!["mailbox".to_owned(), "policy (source)".to_owned()];
            header.extend(protocols.iter().map(|p| p.to_string()));
            header.push("blockers".into());
            let mut rows = vec![header];
            for f in flagged {
                let v = r.view(f);
                let policy = match &f.effective_policy {
                    Some(p) => format!("{p} ({})", f.policy_source.as_str()),
                    None => format!("({})", f.policy_source.as_str()),
                };
                let mut row = vec![v.label().to_owned(), policy];
                row.extend(f.verdicts().map(|(_, pv)| pv.verdict.as_str().to_owned()));
                row.push(blockers_cell(f));
                rows.push(row);
            }
            table(out, "  ", &rows, &[])?;
            writeln!(
                out,
                "  (each blocker's exact setting, value and source line is in --format json)"
            )?;
        }

        if let Some(plan) = r.plan {
            let counts: Vec<String> = crate::plan::counts(&plan.actions)
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            writeln!(
                out,
                "\nRemediation plan ({}): {} changes for {} flagged mailboxes",
                plan.strategy.as_str(),
                plan.actions.len(),
                plan.flagged
            )?;
            if !counts.is_empty() {
                writeln!(out, "  {}", counts.join(", "))?;
            }
            for (what, n) in plan.actions.iter().filter_map(crate::plan::Action::blast_radius) {
                writeln!(out, "  blast radius: editing {what} also changes {n} other mailbox(es)")?;
            }
            if !plan.manual.is_empty() {
                writeln!(out, "  Manual steps (the script cannot do them):")?;
                for step in &plan.manual {
                    let ps: Vec<&str> = step.protocols.iter().map(|p| p.as_str()).collect();
                    let scope = match step.mailboxes.len() {
                        0 => "tenant-wide".to_owned(),
                        1..=5 => step.mailboxes.join("; "),
                        n => format!("{n} mailboxes"),
                    };
                    writeln!(
                        out,
                        "  - [{}] {} ({scope}): {}",
                        step.code,
                        ps.join(", "),
                        step.message
                    )?;
                }
            }
        }

        if !r.loaded.rejected.is_empty() {
            writeln!(out, "\nRejected rows ({})", r.loaded.rejected.len())?;
            for x in &r.loaded.rejected {
                writeln!(out, "  {}: {}", x.source, x.reason)?;
            }
        }
        Ok(())
    }
}
