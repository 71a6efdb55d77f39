//! The GitHub-flavoured Markdown report, for wikis and tickets: the service
//! timeline first (as GitHub alert blockquotes), the tenant summary, verdicts per
//! protocol and top blockers as tables, other advisories and input warnings, the
//! flagged mailboxes, each blocker with its setting, value, source and fix, the
//! plan's manual steps, the inputs and the rejected rows.
//!
//! Every piece of text that came from the tenant or the file system goes through
//! [`escape`]: a mailbox can be named by anyone who can create one, and a name
//! such as `| *x* <img src=x>` must not become table structure, emphasis, HTML, a
//! link, a GitHub mention (`@team`) or an issue reference (`#1`).

use std::fmt::Write as _;
use std::io;

use super::{
    MailboxView, Renderer, Report, TenantFacts, blockers_cell, fix_rows, is_service, protocol_list,
    readiness, top_blockers,
};
use crate::audit::{Finding, Verdict, Want};
use crate::model::usage::Readiness;

/// The Markdown renderer.
#[derive(Debug, Clone, Copy)]
pub struct Markdown;

/// Escapes text for an inline Markdown context, including a table cell: every
/// character that GFM gives a meaning mid-line is backslash-escaped (CommonMark
/// allows a backslash before any ASCII punctuation), and line breaks and other
/// control characters become spaces, so a value can never end a cell or a line.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '$' | '#' | '@'
            | '!' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A table row: `| a | b |`.
fn row(out: &mut Md<'_>, cells: &[String]) {
    row_into(&mut out.text, cells);
    out.pass_on_if_large();
}

/// [`row`] appended to a text.
fn row_into(out: &mut String, cells: &[String]) {
    out.push('|');
    for c in cells {
        if !c.is_empty() {
            out.push(' ');
            out.push_str(c);
        }
        out.push_str(" |");
    }
    out.push('\n');
}

/// A table header with its alignment row (`right`: numeric columns).
fn header(out: &mut Md<'_>, cells: &[&str], right: &[bool]) {
    row(out, &cells.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>());
    out.push('|');
    for i in 0..cells.len() {
        out.push_str(if right.get(i).copied().unwrap_or(false) { "---:|" } else { "---|" });
    }
    out.push('\n');
}

/// The report's text, passed on to the output a megabyte at a time: a million
/// flagged mailboxes make about a gigabyte of tables, which is never held.
struct Md<'o> {
    text: String,
    out: &'o mut dyn io::Write,
    /// Why the output stopped taking the text; nothing is written after it.
    failed: Option<io::Error>,
}

impl Md<'_> {
    /// Passes on what has been written so far.
    fn pass_on(&mut self) -> std::fmt::Result {
        if self.failed.is_none() {
            match self.out.write_all(self.text.as_bytes()) {
                Ok(()) => self.text.clear(),
                Err(e) => self.failed = Some(e),
            }
        }
        if self.failed.is_some() { Err(std::fmt::Error) } else { Ok(()) }
    }

    /// [`Md::pass_on`] once a megabyte has gathered (a failure is kept in
    /// `failed` and stops the rendering at its next `writeln!`).
    fn pass_on_if_large(&mut self) {
        if self.text.len() >= 1 << 20 {
            let _ = self.pass_on();
        }
    }

    fn push(&mut self, c: char) {
        self.text.push(c);
    }

    /// Passes on what has been written, then the rows `each` writes for the
    /// flagged mailboxes: a chunk of them at a time on every core, in order.
    fn flagged_rows(
        &mut self,
        r: &Report<'_>,
        each: impl Fn(&Finding, MailboxView<'_>, &mut String) + Sync,
    ) -> std::fmt::Result {
        self.pass_on()?;
        let entries = r.audit.entries();
        let chunks = r.audit.entry_chunks(1 << 11);
        let written = crate::ordered::write_chunked(self.out, entries, &chunks, |_, chunk, buf| {
            let mut text = String::new();
            for (f, row) in r.audit.findings_of(chunk.iter().filter(|e| e.flagged())) {
                each(&f, r.view_row(&f, row), &mut text);
            }
            buf.extend_from_slice(text.as_bytes());
            Ok(())
        });
        written.map_err(|e| {
            self.failed = Some(e);
            std::fmt::Error
        })
    }

    fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
    }
}

impl std::fmt::Write for Md<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.failed.is_some() {
            return Err(std::fmt::Error);
        }
        self.text.push_str(s);
        self.pass_on_if_large();
        Ok(())
    }
}

/// `` `code` `` for a code or switch we wrote ourselves (never tenant text).
fn code(s: &str) -> String {
    format!("`{s}`")
}

impl Renderer for Markdown {
    fn render(&self, r: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        let mut md = Md { text: String::with_capacity(1 << 21), out, failed: None };
        let rendered = render(r, &mut md).and_then(|()| md.pass_on());
        match (rendered, md.failed) {
            (_, Some(e)) => Err(e),
            (Err(e), None) => Err(io::Error::other(e)),
            (Ok(()), None) => Ok(()),
        }
    }
}

fn render(r: &Report<'_>, md: &mut Md<'_>) -> std::fmt::Result {
    let o = r.options;
    let sum = &r.audit.summary;
    let protocols: Vec<&str> = o.protocols.iter().map(|p| p.as_str()).collect();
    writeln!(md, "# exoauth audit of {}\n", escape(&r.dir.display().to_string()))?;
    writeln!(
        md,
        "exoauth {} · environment `{}` · want `{}` · protocols {} · as of {}\n",
        env!("CARGO_PKG_VERSION"),
        o.environment.as_str(),
        o.want.as_str(),
        protocols.join(", "),
        o.as_of
    )?;

    // The service timeline, first and prominent.
    for a in r.audit.advisories.iter().filter(|a| is_service(a)) {
        writeln!(md, "> [!WARNING]")?;
        writeln!(
            md,
            "> **Service timeline: `{}`** ({}): {}\n",
            a.code,
            protocol_list(&a.protocols),
            escape(&a.message)
        )?;
    }

    readiness_section(r, md)?;

    writeln!(md, "## Summary\n")?;
    header(md, &["mailboxes", "in scope", "out of scope", "flagged", "rejected rows"], &[true; 5]);
    row(
        md,
        &[
            sum.mailboxes.to_string(),
            sum.in_scope.to_string(),
            r.audit.out_of_scope.to_string(),
            format!("**{}**", sum.flagged),
            r.loaded.rejected.len().to_string(),
        ],
    );
    let t = TenantFacts::of(r);
    writeln!(md)?;
    writeln!(
        md,
        "- Org default authentication policy: {}",
        t.default_policy.as_deref().map_or_else(|| "none".to_owned(), escape)
    )?;
    writeln!(md, "- Tenant SMTP AUTH (`Get-TransportConfig`): {}", t.tenant_smtp_auth)?;
    writeln!(md, "- Entra security defaults: {}", t.security_defaults)?;
    writeln!(md, "- Conditional Access: {}\n", t.conditional_access)?;

    writeln!(md, "### Verdicts per protocol\n")?;
    header(md, &["protocol", "allowed", "blocked", "unknown"], &[false, true, true, true]);
    for (p, c) in sum.protocols() {
        row(
            md,
            &[
                p.as_str().into(),
                c.allowed.to_string(),
                c.blocked.to_string(),
                c.unknown.to_string(),
            ],
        );
    }
    writeln!(md)?;

    let top = top_blockers(r);
    if !top.is_empty() {
        writeln!(md, "### Most common blockers (in-scope mailboxes affected)\n")?;
        header(md, &["blocker", "mailboxes"], &[false, true]);
        for (c, n) in top {
            row(md, &[code(c.as_str()), n.to_string()]);
        }
        writeln!(md)?;
    }

    let others: Vec<_> = r.audit.advisories.iter().filter(|a| !is_service(a)).collect();
    if !others.is_empty() {
        writeln!(md, "## Advisories\n")?;
        for a in others {
            let scope = if a.protocols.is_empty() {
                String::new()
            } else {
                format!(" ({})", protocol_list(&a.protocols))
            };
            writeln!(md, "- `{}`{scope}: {}", a.code, escape(&a.message))?;
        }
        writeln!(md)?;
    }
    if !r.loaded.warnings.is_empty() {
        writeln!(md, "## Input warnings\n")?;
        for w in &r.loaded.warnings {
            match &w.source {
                Some(src) => writeln!(
                    md,
                    "- `{}` {}: {}",
                    w.code,
                    escape(&src.to_string()),
                    escape(&w.message)
                )?,
                None => writeln!(md, "- `{}`: {}", w.code, escape(&w.message))?,
            }
        }
        writeln!(md)?;
    }

    let flagged = sum.flagged;
    let what = match o.want {
        Want::Allow => "cannot use basic auth on an in-scope protocol",
        Want::Block => "can still use basic auth on an in-scope protocol",
    };
    writeln!(md, "## Flagged mailboxes ({flagged} of {})\n", sum.in_scope)?;
    writeln!(md, "These mailboxes {what}.\n")?;
    if flagged > 0 {
        let mut cols = vec!["mailbox", "identity", "policy (source)"];
        cols.extend(protocols.iter().copied());
        cols.push("blockers");
        header(md, &cols, &[]);
        md.flagged_rows(r, |f, v, text| {
            let policy = match &f.effective_policy {
                Some(p) => format!("{} ({})", escape(p), f.policy_source.as_str()),
                None => format!("({})", f.policy_source.as_str()),
            };
            let mut cells = vec![escape(&v.label()), escape(&v.identity()), policy];
            cells.extend(f.verdicts().map(|(p, pv)| {
                let verdict = match pv.verdict {
                    Verdict::Allowed => "allowed".to_owned(),
                    other => format!("**{}**", other.as_str()),
                };
                match f.readiness[p] {
                    Some(rd) if rd != Readiness::Unused => format!("{verdict}, {}", rd.as_str()),
                    _ => verdict,
                }
            }));
            cells.push(escape(&blockers_cell(f)));
            row_into(text, &cells);
        })?;
        writeln!(md)?;

        writeln!(md, "### Blockers and fixes\n")?;
        header(md, &["mailbox", "protocols", "blocker", "setting", "value", "source", "fix"], &[]);
        md.flagged_rows(r, |f, v, text| {
            let label = escape(&v.label());
            for fr in fix_rows(r, f) {
                let (blocker, setting, value, source) = match fr.blocker {
                    Some(b) => (
                        code(b.code.as_str()),
                        escape(&b.setting),
                        escape(&b.value),
                        escape(&b.source.to_string()),
                    ),
                    None => (
                        format!("(none: {})", fr.verdict.as_str()),
                        String::new(),
                        String::new(),
                        String::new(),
                    ),
                };
                row_into(
                    text,
                    &[
                        label.clone(),
                        protocol_list(&fr.protocols),
                        blocker,
                        setting,
                        value,
                        source,
                        escape(&fr.fix),
                    ],
                );
            }
        })?;
        writeln!(md)?;
    }

    if let Some(plan) = r.plan {
        writeln!(md, "## Remediation plan\n")?;
        let counts: Vec<String> = crate::plan::counts(&plan.actions)
            .iter()
            .map(|(k, n)| crate::plan::count_phrase(*n, k))
            .collect();
        writeln!(
            md,
            "Strategy `{}`: {} changes for {} flagged mailboxes{}.\n",
            plan.strategy.as_str(),
            plan.actions.len(),
            plan.flagged,
            if counts.is_empty() { String::new() } else { format!(" ({})", counts.join(", ")) }
        )?;
        let blast: Vec<_> =
            plan.actions.iter().filter_map(crate::plan::Action::blast_radius).collect();
        for (what, n) in blast {
            writeln!(
                md,
                "- Blast radius: editing {} also changes {n} other mailbox(es)",
                escape(&what)
            )?;
        }
        if !plan.manual.is_empty() {
            writeln!(md, "\n### Manual steps (the script cannot do them)\n")?;
            header(md, &["code", "protocols", "mailboxes", "what to do"], &[]);
            for step in &plan.manual {
                let scope = match step.mailboxes.len() {
                    0 => "tenant-wide".to_owned(),
                    1..=5 => escape(&step.mailboxes.join("; ")),
                    n => format!("{n} mailboxes"),
                };
                row(
                    md,
                    &[
                        code(step.code),
                        protocol_list(&step.protocols),
                        scope,
                        escape(&step.message),
                    ],
                );
            }
        }
        writeln!(md)?;
    }

    if let Some(x) = &r.loaded.snapshot.exceptions {
        writeln!(
            md,
            "## Exceptions register ({} rows, {} excepted)\n",
            x.rows.len(),
            sum.excepted
        )?;
        writeln!(
            md,
            "In the block direction a mailbox whose not-blocked protocols are all covered by active exceptions is excepted: not flagged and not in the plan.\n"
        )?;
        header(
            md,
            &["identity", "mailbox", "protocols", "until", "state", "owner", "reason", "source"],
            &[],
        );
        let states = readiness::exception_states(r, &x.rows);
        for (e, (mailbox, state)) in x.rows.iter().zip(states) {
            row(
                md,
                &[
                    escape(&e.identity),
                    escape(&mailbox),
                    e.protocol_list().map(|p| p.as_str()).collect::<Vec<_>>().join(", "),
                    e.until_text(),
                    escape(&state),
                    escape(&e.owner),
                    escape(&e.reason),
                    escape(&e.source.to_string()),
                ],
            );
        }
        writeln!(md)?;
    }

    if let Some(u) = &r.loaded.snapshot.usage {
        writeln!(md, "## Sign-in evidence\n")?;
        for line in readiness::evidence_lines(&u.summary) {
            writeln!(md, "- {}", escape(&line))?;
        }
        writeln!(md)?;
        header(md, &["file", "kind", "events", "SHA-256"], &[false, false, true, false]);
        for x in &u.summary.sources {
            row(
                md,
                &[
                    escape(&x.path),
                    x.kind.to_owned(),
                    x.events.to_string(),
                    code(super::digest(x.sha256.as_deref())),
                ],
            );
        }
        writeln!(md)?;
    }

    writeln!(md, "## Inputs\n")?;
    header(md, &["file", "cmdlet", "form", "rows", "SHA-256"], &[false, false, false, true]);
    for i in &r.loaded.inputs {
        let name = i
            .path
            .file_name()
            .map_or_else(|| i.path.display().to_string(), |n| n.to_string_lossy().into());
        row(
            md,
            &[
                escape(&name),
                i.cmdlet.produced_by().to_owned(),
                format!("{} {}", i.form.name(), i.encoding),
                i.rows.to_string(),
                code(super::digest(i.sha256.as_deref())),
            ],
        );
    }

    if !r.loaded.rejected.is_empty() {
        writeln!(md, "\n## Rejected rows ({})\n", r.loaded.rejected.len())?;
        header(md, &["source", "reason"], &[]);
        for x in &r.loaded.rejected {
            row(md, &[escape(&x.source.to_string()), escape(&x.reason)]);
        }
    }
    Ok(())
}

/// The readiness answer, first after the service timeline: who uses basic auth,
/// who is safe to block, who only fails; then the mailboxes with evidence.
fn readiness_section(r: &Report<'_>, md: &mut Md<'_>) -> std::fmt::Result {
    if let Some(note) = readiness::no_evidence(r) {
        writeln!(md, "> [!NOTE]\n> {note}\n")?;
    }
    let Some(u) = &r.loaded.snapshot.usage else { return Ok(()) };
    writeln!(md, "## Readiness\n")?;
    writeln!(md, "Sign-in evidence {}.\n", readiness::window(&u.summary))?;
    for h in readiness::headlines(r) {
        let mut sentences = h.sentences(r).into_iter();
        if let Some(first) = sentences.next() {
            writeln!(md, "- **{}**: **{}**", h.protocol, escape(&first))?;
        }
        for s in sentences {
            writeln!(md, "  {}", escape(&s))?;
        }
    }
    writeln!(md)?;
    let (rows, total) = readiness::usage_rows(r, LIST_LIMIT);
    writeln!(md, "### Basic auth in use or attempted ({total} mailbox-protocols)\n")?;
    if rows.is_empty() {
        writeln!(
            md,
            "None: no in-scope mailbox signed in with basic auth in the evidence window.\n"
        )?;
        return Ok(());
    }
    header(
        md,
        &[
            "mailbox",
            "protocol",
            "readiness",
            "configuration",
            "successes",
            "failures",
            "last success",
            "last failure",
            "clients (IP, user agent)",
            "likely",
        ],
        &[false, false, false, false, true, true],
    );
    for x in &rows {
        let name = match &x.display_name {
            Some(d) => format!("{} ({})", escape(&x.label), escape(d)),
            None => escape(&x.label),
        };
        row(
            md,
            &[
                name,
                x.protocol.to_string(),
                format!("**{}**", x.readiness.as_str()),
                x.verdict.as_str().to_owned(),
                x.usage.successes.to_string(),
                x.usage.failures.to_string(),
                x.last_success(),
                x.last_failure(),
                escape(&x.clients()),
                x.likely().to_owned(),
            ],
        );
    }
    if total > rows.len() {
        writeln!(
            md,
            "\n… and {} more: every mailbox is in the CSV and JSON reports.",
            total - rows.len()
        )?;
    }
    writeln!(md)
}

/// How many mailbox rows the readiness list shows before pointing to CSV/JSON.
const LIST_LIMIT: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ordered::Full;

    #[test]
    fn a_large_table_is_passed_on_as_it_grows_and_a_failed_write_stops_it() {
        let cells = vec!["alex".to_owned(), "blocked".to_owned()];
        let mut out = Vec::new();
        let mut md = Md { text: String::new(), out: &mut out, failed: None };
        for _ in 0..100_000 {
            row(&mut md, &cells);
        }
        // Never more than a megabyte and a row is held.
        assert!(md.text.len() < (1 << 20) + 64, "{}", md.text.len());
        md.pass_on().unwrap();
        assert_eq!(out, "| alex | blocked |\n".repeat(100_000).into_bytes());

        let mut full = Full { room: 3 << 20, got: Vec::new() };
        let mut md = Md { text: String::new(), out: &mut full, failed: None };
        let mut rows = 0;
        while writeln!(md, "| alex | blocked |").is_ok() {
            rows += 1;
        }
        assert!(rows < 200_000, "the writer failed at 3 MiB, yet {rows} rows were taken");
        assert_eq!(md.failed.map(|e| e.to_string()).as_deref(), Some("disk full"));
    }

    #[test]
    fn escape_neutralises_markdown_structure() {
        for (input, want) in [
            ("alex.wilber@contoso.com", "alex.wilber\\@contoso.com"),
            ("a | b", "a \\| b"),
            ("*bold* _it_ `code`", "\\*bold\\* \\_it\\_ \\`code\\`"),
            ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
            ("[x](http://e)", "\\[x\\](http://e)"),
            ("line\nbreak\r\tend", "line break  end"),
            ("#1 $x$ ~s~ &amp; \\", "\\#1 \\$x\\$ \\~s\\~ \\&amp; \\\\"),
            ("Zoë Ångström", "Zoë Ångström"),
        ] {
            assert_eq!(escape(input), want, "{input:?}");
        }
    }
}
