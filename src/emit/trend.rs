//! The trend renderers (`exoauth trend`): Markdown, a self-contained HTML page
//! with an inline SVG line chart, and CSV. Pure functions of a [`Trend`].

use std::io;

use maud::{DOCTYPE, Markup, html};

use super::report::csv::neutralise;
use super::report::markdown::escape;
use crate::model::Protocol;
use crate::trend::{Direction, Run, Trend, short_name};

/// A trend format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendFormat {
    /// GitHub-flavoured Markdown.
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// One row per run.
    Csv,
}

/// Writes the trend in `format`.
pub fn render(t: &Trend, format: TrendFormat, out: &mut dyn io::Write) -> io::Result<()> {
    match format {
        TrendFormat::Markdown => markdown(t, out),
        TrendFormat::Html => out.write_all(html_page(t).into_string().as_bytes()),
        TrendFormat::Csv => csv(t, out),
    }
}

/// The protocols any run audited, in report order.
fn protocols(t: &Trend) -> Vec<&'static str> {
    Protocol::ALL
        .iter()
        .map(|p| p.as_str())
        .filter(|p| t.runs.iter().any(|r| r.protocols.iter().any(|q| q == p)))
        .collect()
}

fn title(t: &Trend) -> String {
    match (t.runs.first(), t.runs.last()) {
        (Some(a), Some(b)) => format!(
            "Basic-auth trend: want {}, {}, {} to {}",
            t.want,
            crate::emit::convert::plural(t.runs.len(), "run"),
            a.as_of,
            b.as_of
        ),
        _ => "Basic-auth trend".into(),
    }
}

fn counts(r: &Run, p: &str) -> String {
    r.verdicts.get(p).map_or_else(
        || "not audited".into(),
        |c| format!("{} / {} / {}", c.allowed, c.blocked, c.unknown),
    )
}

fn in_use(r: &Run, p: &str) -> String {
    r.in_use.as_ref().and_then(|u| u.get(p)).map_or_else(|| "no evidence".into(), usize::to_string)
}

fn excepted(r: &Run) -> String {
    r.excepted.map_or_else(|| "(v1)".into(), |n| n.to_string())
}

fn markdown(t: &Trend, out: &mut dyn io::Write) -> io::Result<()> {
    writeln!(out, "# {}\n", escape(&title(t)))?;
    let kind = match t.direction {
        Direction::Away => "WARNING",
        _ => "NOTE",
    };
    writeln!(out, "> [!{kind}]\n> {}\n", escape(&t.verdict))?;
    let ps = protocols(t);
    let mut header = vec!["date", "report", "mailboxes", "in scope", "flagged", "excepted"];
    let verdict_heads: Vec<String> =
        ps.iter().map(|p| format!("{p} allowed / blocked / unknown")).collect();
    let use_heads: Vec<String> = ps.iter().map(|p| format!("{p} in use")).collect();
    header.extend(verdict_heads.iter().map(String::as_str));
    header.extend(use_heads.iter().map(String::as_str));
    writeln!(out, "| {} |", header.join(" | "))?;
    let align: Vec<&str> =
        header.iter().enumerate().map(|(k, _)| if k < 2 { "---" } else { "---:" }).collect();
    writeln!(out, "|{}|", align.join("|"))?;
    for r in &t.runs {
        let mut cells = vec![
            r.as_of.to_string(),
            escape(short_name(&r.file)),
            r.mailboxes.to_string(),
            r.in_scope.to_string(),
            r.flagged.to_string(),
            excepted(r),
        ];
        cells.extend(ps.iter().map(|p| counts(r, p)));
        cells.extend(ps.iter().map(|p| in_use(r, p)));
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    writeln!(
        out,
        "\n\"In use\" counts mailboxes whose sign-in evidence shows successful basic-auth sign-ins; a run without `--sign-ins` has no evidence. The reports: {}.",
        t.runs.iter().map(|r| format!("`{}`", escape(&r.file))).collect::<Vec<_>>().join(", ")
    )
}

fn csv(t: &Trend, out: &mut dyn io::Write) -> io::Result<()> {
    let ps = protocols(t);
    let mut w = ::csv::Writer::from_writer(out);
    let mut header: Vec<String> =
        ["report", "as_of", "want", "environment", "mailboxes", "in_scope", "flagged", "excepted"]
            .map(String::from)
            .to_vec();
    for p in &ps {
        header.extend(["allowed", "blocked", "unknown"].map(|v| format!("{p}_{v}")));
    }
    header.extend(ps.iter().map(|p| format!("{p}_in_use")));
    w.write_record(&header)?;
    for r in &t.runs {
        let mut row = vec![
            neutralise(&r.file).into_owned(),
            r.as_of.to_string(),
            t.want.clone(),
            r.environment.clone(),
            r.mailboxes.to_string(),
            r.in_scope.to_string(),
            r.flagged.to_string(),
            r.excepted.map(|n| n.to_string()).unwrap_or_default(),
        ];
        for p in &ps {
            let c = r.verdicts.get(*p);
            row.extend(
                [c.map(|c| c.allowed), c.map(|c| c.blocked), c.map(|c| c.unknown)]
                    .map(|n| n.map(|n| n.to_string()).unwrap_or_default()),
            );
        }
        row.extend(ps.iter().map(|p| {
            r.in_use.as_ref().and_then(|u| u.get(*p)).map(|n| n.to_string()).unwrap_or_default()
        }));
        w.write_record(&row)?;
    }
    w.flush()
}

const STYLE: &str = r#"
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1f2328}
main{max-width:1100px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:22px;margin:0 0 12px}
.callout{border:1px solid #9ec5fe;border-left:6px solid #0b5cad;background:#eef5ff;border-radius:6px;padding:10px 14px;margin:10px 0 16px}
.callout.away{border-color:#f1aeae;border-left-color:#c62828;background:#fdeeee}
figure{margin:0 0 16px;border:1px solid #d1d9e0;border-radius:8px;padding:12px}
figcaption{font-weight:600;margin-bottom:6px}
svg{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #d1d9e0}
th{background:#f6f8fa}
.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#59636e}
"#;

/// One line of the chart: its name, colour and a value per run (`None`: a run
/// without it).
struct Series {
    name: &'static str,
    colour: &'static str,
    values: Vec<Option<usize>>,
}

fn series(t: &Trend) -> Vec<Series> {
    let mut out = vec![Series {
        name: "flagged",
        colour: "#c62828",
        values: t.runs.iter().map(|r| Some(r.flagged)).collect(),
    }];
    let open: Vec<Option<usize>> = t.runs.iter().map(Run::smtp_open).collect();
    if open.iter().any(Option::is_some) {
        out.push(Series { name: "SMTP AUTH not blocked", colour: "#b7791f", values: open });
    }
    let used: Vec<Option<usize>> = t.runs.iter().map(Run::smtp_in_use).collect();
    if used.iter().any(Option::is_some) {
        out.push(Series { name: "SMTP AUTH in use", colour: "#0b5cad", values: used });
    }
    out
}

fn chart(t: &Trend) -> Markup {
    let (w, h, left, right, top, bottom) = (760.0, 300.0, 56.0, 48.0, 16.0, 70.0);
    let all = series(t);
    let max = all.iter().flat_map(|s| s.values.iter().flatten()).copied().max().unwrap_or(0).max(1);
    let n = t.runs.len();
    let x = |k: usize| {
        if n < 2 {
            left + (w - left - right) / 2.0
        } else {
            left + (w - left - right) * k as f64 / (n - 1) as f64
        }
    };
    let y = |v: usize| top + (h - top - bottom) * (1.0 - v as f64 / max as f64);
    let ticks = [0, max / 2, max];
    html! {
        svg id="trend-chart" viewBox=(format!("0 0 {w} {h}")) width=(w) height=(h) role="img" aria-labelledby="trend-chart-title" {
            title id="trend-chart-title" { "Flagged mailboxes and basic SMTP AUTH per run" }
            @for v in ticks {
                line x1=(left) x2=(w - right) y1=(format!("{:.1}", y(v))) y2=(format!("{:.1}", y(v))) stroke="#d1d9e0" {}
                text x=(left - 6.0) y=(format!("{:.1}", y(v) + 4.0)) text-anchor="end" font-size="11" fill="#59636e" { (v) }
            }
            @for (k, r) in t.runs.iter().enumerate() {
                text x=(format!("{:.1}", x(k))) y=(h - bottom + 16.0) text-anchor="middle" font-size="11" fill="#59636e" { (r.as_of.to_string()) }
            }
            // Flagged is drawn last and dashed: in an SMTP-only run it is the
            // same line as "not blocked", and both must show.
            @for s in all.iter().rev() {
                @let points: Vec<String> = s.values.iter().enumerate().filter_map(|(k, v)| v.map(|v| format!("{:.1},{:.1}", x(k), y(v)))).collect();
                polyline points=(points.join(" ")) fill="none" stroke=(s.colour) stroke-width="2.5" stroke-dasharray=[(s.name == "flagged").then_some("7 5")] {}
                @for (k, v) in s.values.iter().enumerate() {
                    @if let Some(v) = v {
                        circle cx=(format!("{:.1}", x(k))) cy=(format!("{:.1}", y(*v))) r="3.5" fill=(s.colour) {
                            title { (s.name) " on " (t.runs[k].as_of.to_string()) ": " (v) }
                        }
                    }
                }
            }
            @for (k, s) in all.iter().enumerate() {
                @let lx = left + 170.0 * k as f64;
                rect x=(lx) y=(h - 30.0) width="12" height="12" rx="2" fill=(s.colour) {}
                text x=(lx + 18.0) y=(h - 20.0) font-size="12" fill="#1f2328" { (s.name) }
            }
        }
    }
}

fn html_page(t: &Trend) -> Markup {
    let ps = protocols(t);
    let away = t.direction == Direction::Away;
    html! {
        (DOCTYPE)
        html lang="en" {
            (super::page::head(&title(t), super::page::CSP, STYLE))
            body {
                main {
                    h1 { (title(t)) }
                    div.callout.away[away] id="trend-verdict" data-direction=(t.direction.as_str()) { (t.verdict) }
                    figure {
                        figcaption { "Flagged mailboxes and basic SMTP AUTH per run" }
                        (chart(t))
                    }
                    table id="trend-runs" {
                        thead {
                            tr {
                                th { "date" } th { "report" } th.num { "mailboxes" } th.num { "in scope" }
                                th.num { "flagged" } th.num { "excepted" }
                                @for p in &ps { th.num { (p) " allowed / blocked / unknown" } }
                                @for p in &ps { th.num { (p) " in use" } }
                            }
                        }
                        tbody {
                            @for r in &t.runs {
                                tr {
                                    td { (r.as_of.to_string()) }
                                    td.muted title=(r.file) { (short_name(&r.file)) }
                                    td.num { (r.mailboxes) } td.num { (r.in_scope) }
                                    td.num { (r.flagged) } td.num { (excepted(r)) }
                                    @for p in &ps { td.num { (counts(r, p)) } }
                                    @for p in &ps { td.num { (in_use(r, p)) } }
                                }
                            }
                        }
                    }
                    p.muted { "\"In use\" counts mailboxes whose sign-in evidence shows successful basic-auth sign-ins; a run without --sign-ins has no evidence." }
                }
            }
        }
    }
}
