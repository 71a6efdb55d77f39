//! The fleet report (`exoauth audit TENANTS_DIR --fleet`) in every format: one
//! row per tenant (mailboxes, flagged, excepted, basic SMTP AUTH not blocked and
//! in use, the largest root causes, or the error that stopped it) and the totals.

use std::io;

use maud::{DOCTYPE, html};
use serde::Serialize;

use super::report::Format;
use super::report::csv::neutralise;
use super::report::markdown::escape;
use crate::fleet::{Fleet, Tenant, TenantSummary};

/// The JSON fleet report's schema name.
pub const SCHEMA: &str = "exoauth/fleet-v1";

/// Writes the fleet report in `format`.
pub fn render(f: &Fleet, format: Format, out: &mut dyn io::Write) -> io::Result<()> {
    match format {
        Format::Text => text(f, out),
        Format::Markdown => markdown(f, out),
        Format::Html => out.write_all(page(f).as_bytes()),
        Format::Csv => csv(f, out),
        Format::Json => json(f, out),
    }
}

fn opt(n: Option<usize>) -> String {
    n.map_or_else(|| "-".into(), |n| n.to_string())
}

fn causes(s: &TenantSummary) -> String {
    s.root_causes.iter().map(|(what, n)| format!("{n} × {what}")).collect::<Vec<_>>().join("; ")
}

fn heading(f: &Fleet) -> String {
    let t = f.totals();
    format!(
        "Fleet of {} tenant{} in {}: want {}, as of {}",
        t.audited + t.failed,
        if t.audited + t.failed == 1 { "" } else { "s" },
        f.dir.display(),
        f.options.want.as_str(),
        f.options.as_of
    )
}

fn totals_line(f: &Fleet) -> String {
    let t = f.totals();
    let mut line = format!(
        "{} audited, {} failed; {} mailboxes, {} in scope, {} flagged, {} excepted, {}; basic SMTP AUTH not blocked on {}",
        t.audited,
        t.failed,
        t.mailboxes,
        t.in_scope,
        t.flagged,
        t.excepted,
        crate::emit::convert::plural(t.rejected, "rejected row"),
        t.smtp_open
    );
    if t.with_evidence > 0 {
        line.push_str(&format!(
            ", in use on {} (sign-in logs in {} tenant folder{})",
            t.smtp_in_use,
            t.with_evidence,
            if t.with_evidence == 1 { "" } else { "s" }
        ));
    }
    line
}

fn text(f: &Fleet, out: &mut dyn io::Write) -> io::Result<()> {
    writeln!(out, "{}", heading(f))?;
    writeln!(out, "  {}\n", totals_line(f))?;
    let width = f.tenants.iter().map(|t| t.name.chars().count()).max().unwrap_or(6).max(6);
    writeln!(
        out,
        "  {:<width$}  {:>9}  {:>8}  {:>7}  {:>8}  {:>8}  {:>9}  {:>11}  root causes",
        "tenant",
        "mailboxes",
        "in scope",
        "flagged",
        "excepted",
        "rejected",
        "smtp open",
        "smtp in use"
    )?;
    for t in &f.tenants {
        match &t.result {
            Ok(s) => writeln!(
                out,
                "  {:<width$}  {:>9}  {:>8}  {:>7}  {:>8}  {:>8}  {:>9}  {:>11}  {}",
                t.name,
                s.mailboxes,
                s.in_scope,
                s.flagged,
                s.excepted,
                s.rejected,
                opt(s.smtp_open),
                opt(s.smtp_in_use),
                causes(s)
            )?,
            Err(e) => writeln!(out, "  {:<width$}  error: {e}", t.name)?,
        }
    }
    Ok(())
}

fn markdown(f: &Fleet, out: &mut dyn io::Write) -> io::Result<()> {
    writeln!(out, "# {}\n", escape(&heading(f)))?;
    writeln!(out, "{}\n", escape(&totals_line(f)))?;
    writeln!(
        out,
        "| tenant | mailboxes | in scope | flagged | excepted | rejected rows | SMTP AUTH not blocked | SMTP AUTH in use | largest root causes |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|")?;
    for t in &f.tenants {
        match &t.result {
            Ok(s) => writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                escape(&t.name),
                s.mailboxes,
                s.in_scope,
                s.flagged,
                s.excepted,
                s.rejected,
                opt(s.smtp_open),
                opt(s.smtp_in_use),
                escape(&causes(s))
            )?,
            Err(e) => writeln!(
                out,
                "| {} | error: {} |  |  |  |  |  |  |  |",
                escape(&t.name),
                escape(e)
            )?,
        }
    }
    Ok(())
}

fn csv(f: &Fleet, out: &mut dyn io::Write) -> io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record([
        "tenant",
        "status",
        "mailboxes",
        "in_scope",
        "flagged",
        "excepted",
        "rejected_rows",
        "warnings",
        "smtp_not_blocked",
        "smtp_in_use",
        "root_causes",
        "error",
    ])?;
    for t in &f.tenants {
        let name = neutralise(&t.name).into_owned();
        match &t.result {
            Ok(s) => w.write_record([
                name,
                "audited".into(),
                s.mailboxes.to_string(),
                s.in_scope.to_string(),
                s.flagged.to_string(),
                s.excepted.to_string(),
                s.rejected.to_string(),
                s.warnings.to_string(),
                s.smtp_open.map(|n| n.to_string()).unwrap_or_default(),
                s.smtp_in_use.map(|n| n.to_string()).unwrap_or_default(),
                neutralise(&causes(s)).into_owned(),
                String::new(),
            ])?,
            Err(e) => {
                let mut row = vec![name, "failed".into()];
                row.extend(std::iter::repeat_n(String::new(), 9));
                row.push(neutralise(e).into_owned());
                w.write_record(row)?;
            }
        }
    }
    w.flush()
}

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    tool_version: &'static str,
    want: &'static str,
    environment: &'static str,
    as_of: String,
    dir: String,
    totals: TotalsOut,
    tenants: Vec<TenantOut<'a>>,
}

#[derive(Serialize)]
struct TotalsOut {
    audited: usize,
    failed: usize,
    mailboxes: usize,
    in_scope: usize,
    flagged: usize,
    excepted: usize,
    rejected_rows: usize,
    smtp_not_blocked: usize,
    smtp_in_use: usize,
    tenants_with_evidence: usize,
}

#[derive(Serialize)]
struct TenantOut<'a> {
    tenant: &'a str,
    dir: String,
    error: Option<&'a str>,
    summary: Option<SummaryOut<'a>>,
}

#[derive(Serialize)]
struct SummaryOut<'a> {
    mailboxes: usize,
    in_scope: usize,
    flagged: usize,
    excepted: usize,
    rejected_rows: usize,
    warnings: usize,
    smtp_not_blocked: Option<usize>,
    smtp_in_use: Option<usize>,
    root_causes: Vec<CauseOut<'a>>,
}

#[derive(Serialize)]
struct CauseOut<'a> {
    causes: &'a str,
    mailboxes: usize,
}

fn tenant_out(t: &Tenant) -> TenantOut<'_> {
    TenantOut {
        tenant: &t.name,
        dir: t.dir.display().to_string(),
        error: t.result.as_ref().err().map(String::as_str),
        summary: t.result.as_ref().ok().map(|s| SummaryOut {
            mailboxes: s.mailboxes,
            in_scope: s.in_scope,
            flagged: s.flagged,
            excepted: s.excepted,
            rejected_rows: s.rejected,
            warnings: s.warnings,
            smtp_not_blocked: s.smtp_open,
            smtp_in_use: s.smtp_in_use,
            root_causes: s
                .root_causes
                .iter()
                .map(|(c, n)| CauseOut { causes: c, mailboxes: *n })
                .collect(),
        }),
    }
}

fn json(f: &Fleet, out: &mut dyn io::Write) -> io::Result<()> {
    let t = f.totals();
    let doc = Doc {
        schema: SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION"),
        want: f.options.want.as_str(),
        environment: f.options.environment.as_str(),
        as_of: f.options.as_of.to_string(),
        dir: f.dir.display().to_string(),
        totals: TotalsOut {
            audited: t.audited,
            failed: t.failed,
            mailboxes: t.mailboxes,
            in_scope: t.in_scope,
            flagged: t.flagged,
            excepted: t.excepted,
            rejected_rows: t.rejected,
            smtp_not_blocked: t.smtp_open,
            smtp_in_use: t.smtp_in_use,
            tenants_with_evidence: t.with_evidence,
        },
        tenants: f.tenants.iter().map(tenant_out).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

const STYLE: &str = r#"
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1f2328}
main{max-width:1200px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:22px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;margin-top:12px}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid #d1d9e0}
th{background:#f6f8fa}
.num{text-align:right;font-variant-numeric:tabular-nums}
.err{color:#c62828}
.flag{color:#c62828;font-weight:600}
ul{margin:0;padding-left:16px}
.muted{color:#59636e}
"#;

fn page(f: &Fleet) -> String {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (super::page::head(&heading(f), super::page::CSP, STYLE))
            body {
                main {
                    h1 { (heading(f)) }
                    p #fleet-totals { (totals_line(f)) }
                    table #fleet-table {
                        thead {
                            tr {
                                th { "tenant" } th.num { "mailboxes" } th.num { "in scope" } th.num { "flagged" } th.num { "excepted" }
                                th.num { "rejected rows" } th.num { "SMTP AUTH not blocked" } th.num { "SMTP AUTH in use" }
                                th { "largest root causes" }
                            }
                        }
                        tbody {
                            @for t in &f.tenants {
                                tr data-tenant=(t.name) {
                                    td { strong { (t.name) } }
                                    @match &t.result {
                                        Ok(s) => {
                                            td.num { (s.mailboxes) } td.num { (s.in_scope) }
                                            td.num.flag[s.flagged > 0] { (s.flagged) }
                                            td.num { (s.excepted) }
                                            td.num { (s.rejected) }
                                            td.num { (opt(s.smtp_open)) } td.num { (opt(s.smtp_in_use)) }
                                            td { ul { @for (what, n) in &s.root_causes { li { (n) " × " span.muted { (what) } } } } }
                                        }
                                        Err(e) => { td.err colspan="8" { "error: " (e) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    markup.into_string()
}
