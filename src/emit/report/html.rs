//! The HTML report: one self-contained page (inline CSS and SVG, no external
//! asset, readable without JavaScript) with the service timeline first, the
//! tenant summary, charts of the verdicts per protocol and of the most common
//! blockers, the other advisories and input warnings, the flagged mailboxes with
//! every blocker's code, setting, value, source and fix, the plan's manual steps,
//! the inputs and the rejected rows.
//!
//! The page is built with maud, which HTML-escapes every value spliced into the
//! template (tenant names are chosen by anyone who can name a mailbox); only the
//! constant stylesheet and script below are inserted unescaped. A
//! Content-Security-Policy forbids every external load, so the page stays
//! self-contained and a stray reference shows up as a console error. The small
//! inline script only makes the mailbox table sortable; it marks the page with
//! `data-sortable="ready"` once it has run, which the browser test checks.

use std::io;

use crate::model::Id;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{
    Renderer, Report, TenantFacts, blockers_cell, digest, fix_rows, is_service, protocol_list,
    readiness, top_blockers,
};
use crate::audit::summary::Counts;
use crate::audit::{Verdict, Want};
use crate::model::Protocol;
use crate::model::usage::Readiness;

/// The HTML renderer.
#[derive(Debug, Clone, Copy)]
pub struct Html;

const STYLE: &str = r#"
:root{--ok:#1b7f3b;--bad:#c62828;--unk:#b7791f;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--accent:#0b5cad}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
main{max-width:1200px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:24px;margin:0 0 4px}
.meta{color:var(--muted);margin:0 0 14px}
h2{font-size:18px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 8px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
.callout{border:1px solid #f0c36d;border-left:6px solid #d97706;background:#fff8e6;border-radius:6px;padding:10px 14px;margin:10px 0}
.callout.now{border-color:#f1aeae;border-left-color:var(--bad);background:#fdeeee}
.callout-title{font-weight:600;margin-bottom:2px}
.callout p{margin:0}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0 12px}
.card{flex:1 1 150px;border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--bg)}
.card .n{font-size:28px;font-weight:700;display:block;font-variant-numeric:tabular-nums}
.card.flag .n{color:var(--bad)}
.card .l{color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin-top:12px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:12px}
figcaption{font-weight:600;margin-bottom:6px}
svg{max-width:100%;height:auto;font-family:inherit}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid var(--line)}
th{background:var(--bg);font-weight:600;white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums}
.v{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.v-allowed{background:var(--ok)}
.v-blocked{background:var(--bad)}
.v-unknown{background:var(--unk)}
.id{display:block;color:var(--muted);font-size:12px}
#flagged-table td:last-child{width:55%}
ul.blockers{margin:0;padding-left:16px}
ul.blockers li{margin:2px 0 6px}
.fix{color:var(--muted)}
.fix b{color:var(--accent)}
.src{color:var(--muted)}
.muted{color:var(--muted)}
th button{all:unset;cursor:pointer}
th[aria-sort=ascending] button::after{content:" \25B2"}
th[aria-sort=descending] button::after{content:" \25BC"}
.scroll{overflow-x:auto}
#usage-table td.mono{white-space:nowrap}
#usage-table td.clients{white-space:normal;overflow-wrap:anywhere;min-width:14em}
.js-only{display:none}
html[data-sortable] .js-only{display:block}
footer{margin-top:32px;color:var(--muted);font-size:12px}
html[data-table] #flagged-controls{display:flex}
#flagged-controls{flex-wrap:wrap;gap:8px;align-items:center;margin:8px 0 4px}
#flagged-controls input[type=search]{flex:1 1 260px;padding:6px 8px;border:1px solid var(--line);border-radius:6px;font:inherit}
#flagged-controls select,#flagged-controls button{padding:5px 8px;border:1px solid var(--line);border-radius:6px;background:#fff;font:inherit}
html[data-table] .no-js{display:none}
details summary{cursor:pointer;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
details[open] summary{margin-bottom:4px}
.reach{color:var(--muted);font-size:12px}
#root-causes-table td.examples .id{display:block}
@media (max-width:900px){.charts{grid-template-columns:1fr}}
"#;

/// Makes every `table.sortable` sortable by a click on a column heading, by each
/// cell's `data-sort` (else its text), numbers in numeric order.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var key = function (row) {
          var cell = row.cells[col];
          return cell ? (cell.getAttribute("data-sort") || cell.textContent.trim()) : "";
        };
        rows.sort(function (a, b) {
          var order = key(a).localeCompare(key(b), undefined, { numeric: true, sensitivity: "base" });
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.documentElement.setAttribute("data-sortable", "ready");
})();
"#;

/// The flagged-mailbox table: search, filters and pages over the data in
/// `#mailbox-data`. Rows are built with `textContent`, never markup, so a
/// tenant value stays text. Until the reader searches, filters or pages, the
/// first rows stay as written (with their blockers and fixes). `#q=text` in
/// the address types the text into the search box on load, as an `input`
/// event (a link to a mailbox, and the browser test).
const TABLE_SCRIPT: &str = r##"
(function () {
  "use strict";
  var el = document.getElementById("mailbox-data");
  var body = document.getElementById("flagged-rows");
  if (!el || !body) { return; }
  var data = JSON.parse(el.textContent);
  var rows = data.rows, P = data.protocols, PAGE = 100, page = 0, hits = rows;
  var q = document.getElementById("search");
  var gsel = document.getElementById("filter-group"), psel = document.getElementById("filter-policy");
  var rsel = document.getElementById("filter-readiness"), xsel = document.getElementById("filter-excepted");
  var vsel = document.querySelectorAll("select[data-filter=verdict]");
  var shown = document.getElementById("flagged-shown");
  var prev = document.getElementById("page-prev"), next = document.getElementById("page-next");
  var option = function (select, value, text) {
    var o = document.createElement("option"); o.value = value; o.textContent = text; select.appendChild(o);
  };
  for (var g = 1; g <= data.groups; g++) { option(gsel, String(g), "root cause G" + g); }
  data.policies.forEach(function (p, k) { option(psel, String(k), p); });
  var lower = rows.map(function (r) { return (r[0] + "\n" + r[1] + "\n" + r[2] + "\n" + r[3]).toLowerCase(); });
  var verdicts = { a: "allowed", b: "blocked", u: "unknown" }, readiness = { i: "in-use", a: "attempted" };
  var add = function (parent, tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    parent.appendChild(e);
    return e;
  };
  var counter = function () {
    var start = page * PAGE, end = Math.min(start + PAGE, hits.length);
    shown.textContent = hits.length ? (start + 1) + "\u2013" + end + " of " + hits.length : "no mailbox matches";
    prev.disabled = page === 0;
    next.disabled = end >= hits.length;
  };
  var render = function () {
    var start = page * PAGE, end = Math.min(start + PAGE, hits.length);
    var rowsOut = document.createDocumentFragment();
    for (var k = start; k < end; k++) {
      var r = hits[k], tr = add(rowsOut, "tr"), td = add(tr, "td");
      add(td, "strong", "", r[0]);
      [r[1], r[2], r[3]].forEach(function (t) { if (t) { add(td, "span", "id", t); } });
      td = add(tr, "td");
      if (r[4] >= 0) { td.appendChild(document.createTextNode(data.policies[r[4]] + " ")); }
      add(td, "span", "muted", "(" + r[5] + ")");
      for (var p = 0; p < P.length; p++) {
        td = add(tr, "td");
        var v = verdicts[r[6].charAt(p)] || "";
        add(td, "span", "v v-" + v, v);
        if (readiness[r[7].charAt(p)]) { add(td, "span", "id", readiness[r[7].charAt(p)]); }
      }
      td = add(tr, "td");
      if (r[8]) { add(td, "a", "", "G" + r[8]).href = "#g" + r[8]; }
      if (r[9]) { add(td, "span", "id", "excepted"); }
    }
    body.textContent = "";
    body.appendChild(rowsOut);
    counter();
  };
  var apply = function () {
    var text = q.value.trim().toLowerCase(), g = gsel.value, pol = psel.value;
    var rd = rsel ? rsel.value : "", ex = xsel ? xsel.value : "";
    var want = Array.prototype.map.call(vsel, function (s) { return s.value; });
    hits = rows.filter(function (r, k) {
      if (text && lower[k].indexOf(text) < 0) { return false; }
      for (var p = 0; p < want.length; p++) { if (want[p] && r[6].charAt(p) !== want[p]) { return false; } }
      if (g && String(r[8]) !== g) { return false; }
      if (pol && String(r[4]) !== pol) { return false; }
      if (rd === "u" ? /[^u]/.test(r[7]) : rd && r[7].indexOf(rd) < 0) { return false; }
      if (ex && String(r[9]) !== ex) { return false; }
      return true;
    });
    page = 0;
    render();
  };
  q.addEventListener("input", apply);
  Array.prototype.forEach.call(document.querySelectorAll("#flagged-controls select"), function (s) {
    s.addEventListener("change", apply);
  });
  prev.addEventListener("click", function () { if (page > 0) { page -= 1; render(); } });
  next.addEventListener("click", function () { if ((page + 1) * PAGE < hits.length) { page += 1; render(); } });
  var asked = /(?:^#|&)q=([^&]*)/.exec(location.hash);
  if (asked) {
    q.value = decodeURIComponent(asked[1]);
    q.dispatchEvent(new Event("input"));
  } else {
    counter();
  }
  document.documentElement.setAttribute("data-table", "ready");
})();
"##;

const OK: &str = "#1b7f3b";
const BAD: &str = "#c62828";
const UNK: &str = "#b7791f";

impl Renderer for Html {
    fn render(&self, r: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        out.write_all(page(r).into_string().as_bytes())
    }
}

fn verdict_badge(v: Verdict) -> Markup {
    html! { span class={ "v v-" (v.as_str()) } { (v.as_str()) } }
}

/// Verdicts per protocol: one stacked horizontal bar per protocol.
fn verdict_chart(r: &Report<'_>) -> Markup {
    let rows: Vec<(Protocol, Counts)> = r.audit.summary.protocols().collect();
    let (label_w, bar_w, row_h) = (60.0, 470.0, 34.0);
    let height = 16.0 + row_h * rows.len() as f64 + 34.0;
    html! {
        svg #chart-verdicts viewBox={ "0 0 560 " (height) } width="560" height=(height)
            role="img" aria-labelledby="chart-verdicts-title" {
            title #chart-verdicts-title { "Verdicts per protocol" }
            @for (i, (p, c)) in rows.iter().enumerate() {
                @let y = 10.0 + row_h * i as f64;
                @let total = c.allowed + c.blocked + c.unknown;
                text x=(label_w - 8.0) y=(y + 17.0) text-anchor="end" font-size="13" font-weight="600" fill="#1f2328" { (p.as_str()) }
                @if total == 0 {
                    rect x=(label_w) y=(y) width=(bar_w) height="24" fill="#eaeef2" {}
                    text x=(label_w + 8.0) y=(y + 16.0) font-size="12" fill="#59636e" { "no mailbox in scope" }
                } @else {
                    @for (x, w, n, what, colour) in segments(label_w, bar_w, c) {
                        rect x=(fmt(x)) y=(y) width=(fmt(w)) height="24" fill=(colour) {
                            title { (p.as_str()) ": " (n) " " (what) }
                        }
                        @if w >= 26.0 {
                            text x=(fmt(x + w / 2.0)) y=(y + 16.5) text-anchor="middle" font-size="12" font-weight="600" fill="#fff" { (n) }
                        }
                    }
                }
            }
            @let ly = height - 14.0;
            @for (i, (what, colour)) in [("allowed", OK), ("blocked", BAD), ("unknown", UNK)].into_iter().enumerate() {
                @let lx = label_w + 110.0 * i as f64;
                rect x=(lx) y=(ly - 10.0) width="12" height="12" rx="2" fill=(colour) {}
                text x=(lx + 18.0) y=(ly) font-size="12" fill="#1f2328" { (what) }
            }
        }
    }
}

/// The most common blockers: one horizontal bar per code (at most ten).
fn blocker_chart(r: &Report<'_>) -> Markup {
    let top: Vec<_> = top_blockers(r).into_iter().take(10).collect();
    let max = top.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (220.0, 290.0, 26.0);
    let height = 12.0 + row_h * top.len().max(1) as f64;
    html! {
        svg #chart-blockers viewBox={ "0 0 560 " (height) } width="560" height=(height)
            role="img" aria-labelledby="chart-blockers-title" {
            title #chart-blockers-title { "Most common blockers (in-scope mailboxes affected)" }
            @if top.is_empty() {
                text x="8" y="20" font-size="12" fill="#59636e" { "no blockers" }
            }
            @for (i, (code, n)) in top.iter().enumerate() {
                @let y = 6.0 + row_h * i as f64;
                @let w = (bar_w * *n as f64 / max as f64).max(2.0);
                text x=(label_w - 8.0) y=(y + 14.0) text-anchor="end" font-size="12" font-family="ui-monospace,Menlo,Consolas,monospace" fill="#1f2328" { (code.as_str()) }
                rect x=(label_w) y=(y) width=(fmt(w)) height="18" rx="2" fill="#0b5cad" {
                    title { (code.as_str()) ": " (n) " mailboxes" }
                }
                text x=(fmt(label_w + w + 6.0)) y=(y + 14.0) font-size="12" font-weight="600" fill="#1f2328" { (n) }
            }
        }
    }
}

/// The non-empty segments of one protocol's bar: (x, width, count, verdict, colour).
fn segments(x0: f64, width: f64, c: &Counts) -> Vec<(f64, f64, usize, &'static str, &'static str)> {
    let total = (c.allowed + c.blocked + c.unknown).max(1) as f64;
    let mut x = x0;
    let mut out = Vec::new();
    for (n, what, colour) in
        [(c.allowed, "allowed", OK), (c.blocked, "blocked", BAD), (c.unknown, "unknown", UNK)]
    {
        let w = width * n as f64 / total;
        if n > 0 {
            out.push((x, w, n, what, colour));
        }
        x += w;
    }
    out
}

/// A coordinate with one decimal.
fn fmt(x: f64) -> String {
    format!("{x:.1}")
}

fn stat(id: &str, label: &str, n: usize, class: &str) -> Markup {
    html! {
        div class={ "card " (class) } {
            span.n id=(id) { (n) }
            span.l { (label) }
        }
    }
}

/// The readiness answer, first after the service timeline, and the mailboxes
/// with sign-in evidence.
fn readiness_section(r: &Report<'_>) -> Markup {
    let Some(u) = &r.loaded.snapshot.usage else {
        return html! {
            @if let Some(note) = readiness::no_evidence(r) {
                section #readiness { div.callout { div.callout-title { "No usage evidence" } p { (note) } } }
            }
        };
    };
    let (rows, total) = readiness::usage_rows(r, LIST_LIMIT);
    html! {
        section #readiness {
            h2 { "Readiness" }
            p.muted { "Sign-in evidence " (readiness::window(&u.summary)) "." }
            @for h in readiness::headlines(r) {
                @let sentences = h.sentences(r);
                div class=(if h.protocol == Protocol::Smtp { "callout now" } else { "callout" }) data-protocol=(h.protocol.as_str()) {
                    div.callout-title { (h.protocol.as_str()) ": " (sentences[0]) }
                    @for s in &sentences[1..] { p { (s) } }
                }
            }
            h3 { "Basic auth in use or attempted (" (total) " mailbox-protocols)" }
            @if rows.is_empty() {
                p { "None: no in-scope mailbox signed in with basic auth in the evidence window." }
            } @else {
                div.scroll { table #usage-table .sortable {
                    thead {
                        tr {
                            th { "mailbox" } th { "protocol" } th { "readiness" } th { "configuration" }
                            th.num { "successes / failures" } th { "last success / failure (UTC)" }
                            th { "clients (IP, user agent)" }
                        }
                    }
                    tbody {
                        @for x in &rows {
                            tr {
                                td data-sort=(x.label.to_lowercase()) {
                                    strong { (x.label) }
                                    @if let Some(d) = &x.display_name { span.id { (d) } }
                                }
                                td { (x.protocol.as_str()) }
                                td data-sort=(x.readiness.as_str()) { strong { (x.readiness.as_str()) } span.id { (x.likely()) } }
                                td data-sort=(x.verdict.as_str()) { (verdict_badge(x.verdict)) }
                                td.num data-sort=(x.usage.successes) { (x.usage.successes) " / " (x.usage.failures) }
                                td.mono data-sort=(x.last_success()) {
                                    div { (x.last_success().replace('T', " ").trim_end_matches('Z')) }
                                    div.muted { (x.last_failure().replace('T', " ").trim_end_matches('Z')) }
                                }
                                td.mono.clients { @for c in x.client_list() { div { (c) } } }
                            }
                        }
                    }
                } }
                @if total > rows.len() {
                    p.muted { "… and " (total - rows.len()) " more: every mailbox is in the CSV and JSON reports." }
                }
            }
        }
    }
}

/// How many flagged mailboxes are written as HTML rows, with every blocker and
/// fix (the page reads without JavaScript); the script pages through the rest.
const INLINE_ROWS: usize = 100;

/// How many flagged mailboxes the page holds at most (about 8 MB at this
/// size); past it, the page says that the full list is in the CSV and JSON
/// reports.
pub const PAGE_CAP: usize = 100_000;

/// One blocker line with its fix.
fn cause_line(c: &super::groups::Cause) -> Markup {
    html! {
        li {
            strong { (protocol_list(&c.protocols)) } " "
            @match (&c.code, &c.setting) {
                (Some(code), Some((setting, value))) => {
                    code { (code.as_str()) } " "
                    span.mono { (setting) }
                    " = " span.mono { @if value.is_empty() { "(blank)" } @else { (value) } }
                    @if let Some(src) = &c.shared_source { " " span.src { "(" (src.to_string()) ")" } }
                }
                _ => { span.muted { "nothing blocks basic auth (" (c.verdict.as_str()) ")" } }
            }
            div.fix { b { "Fix: " } (c.fix) }
            @if let Some(n) = c.reach {
                div.reach { "This setting blocks " (n) " in-scope mailbox" @if n != 1 { "es" } ": changing it reaches all of them." }
            }
        }
    }
}

/// Flagged mailboxes grouped by what they are flagged for, largest group first.
fn root_causes(r: &Report<'_>, groups: &super::groups::Groups) -> Markup {
    let flagged = r.audit.summary.flagged;
    html! {
        @if !groups.groups.is_empty() {
            section #root-causes {
                h2 { "Root causes (" (groups.groups.len()) " for " (flagged) " flagged mailbox" @if flagged != 1 { "es" } ")" }
                p { "Flagged mailboxes that share the same blockers (code, setting and value) share one fix. The largest group comes first." }
                table #root-causes-table {
                    thead { tr { th { "group" } th.num { "mailboxes" } th { "what blocks, and the fix" } th { "for example" } } }
                    tbody {
                        @for g in &groups.groups {
                            tr id={ "g" (g.id) } data-group=(g.id) {
                                td { "G" (g.id) }
                                td.num { (g.count) }
                                td { ul.blockers { @for c in &g.causes { (cause_line(c)) } } }
                                td.examples { @for e in &g.examples { span.id { (e) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `a`, `b` or `u` per in-scope protocol: the verdicts, compactly, for the script.
fn verdict_letters(f: &crate::audit::Finding) -> String {
    f.verdicts().map(|(_, v)| &v.verdict.as_str()[..1]).collect()
}

/// `i` (in use), `a` (attempted), `u` (unused) or `-` (no evidence) per protocol.
fn readiness_letters(f: &crate::audit::Finding) -> String {
    f.verdicts()
        .map(|(p, _)| match f.readiness[p] {
            Some(Readiness::InUse) => 'i',
            Some(Readiness::Attempted) => 'a',
            Some(Readiness::Unused) => 'u',
            None => '-',
        })
        .collect()
}

/// The flagged mailboxes as data for the table script: JSON inside a
/// `<script type="application/json">` element, with `<`, `>` and `&` escaped
/// so that no tenant value can end the element.
fn mailbox_data(r: &Report<'_>, groups: &super::groups::Groups) -> String {
    let mut policies: Vec<String> = Vec::new();
    // The rows as JSON text, one array each, written as they are made: a
    // page of a hundred thousand rows is a few megabytes of text, where a
    // tree of JSON values would be tens.
    let mut rows = b"[".to_vec();
    for (k, f) in r.audit.flagged().take(PAGE_CAP).enumerate() {
        let v = r.view(&f);
        let label = v.label();
        let policy = f.effective_policy.as_deref().map_or(-1, |p| {
            match policies.iter().position(|q| q == p) {
                Some(k) => k as i64,
                None => {
                    policies.push(p.to_owned());
                    (policies.len() - 1) as i64
                }
            }
        });
        let other =
            |a: Option<Id<'_>>| a.filter(|a| **a != *label).as_deref().unwrap_or("").to_owned();
        if k > 0 {
            rows.push(b',');
        }
        let row = (
            &*label,
            other(v.display_name()),
            other(v.user_principal_name()),
            other(v.primary_smtp_address()),
            policy,
            f.policy_source.as_str(),
            verdict_letters(&f),
            readiness_letters(&f),
            groups.of(f.mailbox).map_or(0, |g| g.id),
            u8::from(!f.excepted.is_empty()),
        );
        // Writing to a vector cannot fail, nor can serialising these values.
        let _ = serde_json::to_writer(&mut rows, &row);
    }
    rows.push(b']');
    #[derive(serde::Serialize)]
    struct Data<'a> {
        protocols: Vec<&'static str>,
        policies: &'a [String],
        groups: usize,
        evidence: bool,
        rows: &'a serde_json::value::RawValue,
    }
    // serde_json writes UTF-8 and valid JSON, so neither step can fail.
    let rows = String::from_utf8(rows).unwrap_or_default();
    let rows = serde_json::value::RawValue::from_string(rows).unwrap_or_default();
    let doc = serde_json::to_string(&Data {
        protocols: r.options.protocols.iter().map(|p| p.as_str()).collect(),
        policies: &policies,
        groups: groups.groups.len(),
        evidence: r.loaded.snapshot.usage.is_some(),
        rows: &rows,
    })
    .unwrap_or_default();
    let mut escaped = String::with_capacity(doc.len() + doc.len() / 16);
    for c in doc.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn flagged_section(r: &Report<'_>, groups: &super::groups::Groups, what: &str) -> Markup {
    let o = r.options;
    let sum = &r.audit.summary;
    let shown: Vec<_> = r.audit.flagged().take(INLINE_ROWS).collect();
    html! {
        section #flagged {
            h2 { "Flagged mailboxes (" span #flagged-count { (sum.flagged) } " of " (sum.in_scope) ")" }
            p { "These mailboxes " (what) ". Each row names the mailbox, its policy, the verdicts and its root cause; open a row for every blocker with its setting, value, source and fix." }
            @if sum.flagged > 0 {
                div.controls.js-only #flagged-controls {
                    input #search type="search" placeholder="Search name, UPN or SMTP address" aria-label="Search name, UPN or SMTP address";
                    @for p in &o.protocols {
                        select data-filter="verdict" data-protocol=(p.as_str()) aria-label={ (p.as_str()) " verdict" } {
                            option value="" { (p.as_str()) ": any" }
                            option value="a" { (p.as_str()) ": allowed" }
                            option value="b" { (p.as_str()) ": blocked" }
                            option value="u" { (p.as_str()) ": unknown" }
                        }
                    }
                    select #filter-group aria-label="Root cause" { option value="" { "any root cause" } }
                    select #filter-policy aria-label="Policy" { option value="" { "any policy" } }
                    @if r.loaded.snapshot.usage.is_some() {
                        select #filter-readiness aria-label="Readiness" {
                            option value="" { "any readiness" }
                            option value="i" { "in use (any protocol)" }
                            option value="a" { "attempted (any protocol)" }
                            option value="u" { "unused (every protocol)" }
                        }
                    }
                    @if r.loaded.snapshot.exceptions.is_some() {
                        select #filter-excepted aria-label="Excepted" {
                            option value="" { "excepted or not" }
                            option value="1" { "excepted" }
                            option value="0" { "not excepted" }
                        }
                    }
                    span #flagged-shown.muted {}
                    button #page-prev type="button" { "Previous" }
                    button #page-next type="button" { "Next" }
                }
                table #flagged-table {
                    thead {
                        tr {
                            th { "mailbox" }
                            th { "policy (source)" }
                            @for p in &o.protocols { th { (p.as_str()) } }
                            th { "root cause" }
                        }
                    }
                    tbody #flagged-rows {
                        @for f in &shown {
                            @let v = r.view(f);
                            @let group = groups.of(f.mailbox);
                            tr data-identity=(v.identity()) {
                                td {
                                    strong { (v.label()) }
                                    @if let Some(name) = v.display_name().filter(|d| *d != v.label()) { span.id { (name) } }
                                    @if let Some(smtp) = v.primary_smtp_address().filter(|a| *a != v.label()) { span.id { (smtp) } }
                                }
                                td {
                                    @if let Some(p) = &f.effective_policy { (p) " " }
                                    span.muted { "(" (f.policy_source.as_str()) ")" }
                                }
                                @for (p, pv) in f.verdicts() {
                                    td {
                                        (verdict_badge(pv.verdict))
                                        @if let Some(rd) = f.readiness[p].filter(|rd| *rd != Readiness::Unused) { span.id { (rd.as_str()) } }
                                    }
                                }
                                td {
                                    details {
                                        summary {
                                            @if let Some(g) = group { a href={ "#g" (g.id) } { "G" (g.id) } " " }
                                            (blockers_cell(f))
                                        }
                                        ul.blockers {
                                            @for fr in fix_rows(r, f) {
                                                li {
                                                    strong { (protocol_list(&fr.protocols)) } " "
                                                    @match fr.blocker {
                                                        Some(b) => {
                                                            code { (b.code.as_str()) } " "
                                                            span.mono { (b.setting) }
                                                            " = " span.mono { @if b.value.is_empty() { "(blank)" } @else { (b.value) } }
                                                            " " span.src { "(" (b.source.to_string()) ")" }
                                                        }
                                                        None => { span.muted { "nothing blocks basic auth (" (fr.verdict.as_str()) ")" } }
                                                    }
                                                    div.fix { b { "Fix: " } (fr.fix) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if sum.flagged > shown.len() {
                    p #flagged-more.no-js {
                        "The first " (shown.len()) " of " (sum.flagged) " flagged mailboxes are shown; with JavaScript on, search and page through "
                        @if sum.flagged > PAGE_CAP { "the first " (PAGE_CAP) } @else { "all of them" }
                        " here. Every mailbox, with every blocker, is in the CSV and JSON reports."
                    }
                }
                @if sum.flagged > PAGE_CAP {
                    p.muted #flagged-cap {
                        "This page holds the first " (PAGE_CAP) " flagged mailboxes (a larger page is too slow to open); the full list of " (sum.flagged) " is in the CSV and JSON reports."
                    }
                }
                script #mailbox-data type="application/json" { (PreEscaped(mailbox_data(r, groups))) }
            }
        }
    }
}

/// How many mailbox rows the readiness list shows before pointing to CSV/JSON.
const LIST_LIMIT: usize = 500;

fn page(r: &Report<'_>) -> Markup {
    let o = r.options;
    let sum = &r.audit.summary;
    let dir = r.dir.display().to_string();
    let facts = TenantFacts::of(r);
    let service: Vec<_> = r.audit.advisories.iter().filter(|a| is_service(a)).collect();
    let others: Vec<_> = r.audit.advisories.iter().filter(|a| !is_service(a)).collect();
    let groups = super::groups::groups(r);
    let what = match o.want {
        Want::Allow => "cannot use basic auth on an in-scope protocol",
        Want::Block => "can still use basic auth on an in-scope protocol",
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (crate::emit::page::head(&format!("exoauth audit of {dir}"), crate::emit::page::CSP_WITH_SCRIPT, STYLE))
            body {
                main {
                    header {
                        h1 { "Basic-auth audit of " (dir) }
                        p.meta {
                            "exoauth " (env!("CARGO_PKG_VERSION"))
                            " · environment " code { (o.environment.as_str()) }
                            " · want " code { (o.want.as_str()) }
                            " · protocols " (protocol_list(&o.protocols))
                            " · as of " (o.as_of.to_string())
                        }
                    }
                    @if !service.is_empty() {
                        section #timeline aria-label="Service timeline" {
                            @for a in &service {
                                @let now = !a.message.starts_with("upcoming");
                                div class=(if now { "callout now" } else { "callout" }) data-code=(a.code) {
                                    div.callout-title {
                                        "Service timeline: " code { (a.code) }
                                        " (" (protocol_list(&a.protocols)) ")"
                                    }
                                    p { (a.message) }
                                }
                            }
                        }
                    }
                    (readiness_section(r))
                    section #summary {
                        h2 { "Summary" }
                        div.cards {
                            (stat("stat-mailboxes", "mailboxes", sum.mailboxes, ""))
                            (stat("stat-in-scope", "in scope", sum.in_scope, ""))
                            (stat("stat-out-of-scope", "out of scope", r.audit.out_of_scope, ""))
                            (stat("stat-flagged", "flagged", sum.flagged, if sum.flagged > 0 { "flag" } else { "" }))
                            @if r.loaded.snapshot.exceptions.is_some() { (stat("stat-excepted", "excepted", sum.excepted, "")) }
                            (stat("stat-rejected", "rows rejected", r.loaded.rejected.len(), if r.loaded.rejected.is_empty() { "" } else { "flag" }))
                        }
                        dl.facts {
                            dt { "Org default authentication policy" }
                            dd { @match &facts.default_policy { Some(p) => { (p) }, None => { span.muted { "none" } } } }
                            dt { "Tenant SMTP AUTH (Get-TransportConfig)" }
                            dd { (facts.tenant_smtp_auth) }
                            dt { "Entra security defaults" }
                            dd { (facts.security_defaults) }
                            dt { "Conditional Access" }
                            dd { (facts.conditional_access) }
                        }
                        div.charts {
                            figure {
                                figcaption { "Verdicts per protocol (in-scope mailboxes)" }
                                (verdict_chart(r))
                                table #verdict-counts {
                                    thead { tr { th { "protocol" } th.num { "allowed" } th.num { "blocked" } th.num { "unknown" } } }
                                    tbody {
                                        @for (p, c) in sum.protocols() {
                                            tr {
                                                td { (p.as_str()) }
                                                td.num id={ "count-" (p.as_str()) "-allowed" } { (c.allowed) }
                                                td.num id={ "count-" (p.as_str()) "-blocked" } { (c.blocked) }
                                                td.num id={ "count-" (p.as_str()) "-unknown" } { (c.unknown) }
                                            }
                                        }
                                    }
                                }
                            }
                            figure {
                                figcaption { "Most common blockers (in-scope mailboxes affected)" }
                                (blocker_chart(r))
                            }
                        }
                    }
                    @if !others.is_empty() || !r.loaded.warnings.is_empty() {
                        section #advisories {
                            h2 { "Advisories" }
                            ul {
                                @for a in &others {
                                    li data-code=(a.code) {
                                        code { (a.code) }
                                        @if !a.protocols.is_empty() { " (" (protocol_list(&a.protocols)) ")" }
                                        ": " (a.message)
                                    }
                                }
                                @for w in &r.loaded.warnings {
                                    li data-code=(w.code) {
                                        code { (w.code) }
                                        @if let Some(src) = &w.source { " " span.src { (src.to_string()) } }
                                        ": " (w.message)
                                    }
                                }
                            }
                        }
                    }
                    (root_causes(r, &groups))
                    (flagged_section(r, &groups, what))
                    section #plan {
                        h2 { "Remediation plan" }
                        @match r.plan {
                            None => {
                                p.muted { "No plan in this run: add " code { "--script fix.ps1" } " (and " code { "--rollback undo.ps1" } ") to write the changes and list the manual steps here." }
                            }
                            Some(plan) => {
                                @let counts: Vec<String> = crate::plan::counts(&plan.actions).iter().map(|(k, n)| crate::plan::count_phrase(*n, k)).collect();
                                p {
                                    "Strategy " code { (plan.strategy.as_str()) } ": "
                                    span #plan-changes { (plan.actions.len()) } " changes for " (plan.flagged) " flagged mailboxes"
                                    @if !counts.is_empty() { " (" (counts.join(", ")) ")" }
                                    "."
                                }
                                @let blast: Vec<_> = plan.actions.iter().filter_map(crate::plan::Action::blast_radius).collect();
                                @if !blast.is_empty() {
                                    ul {
                                        @for (what, n) in &blast {
                                            li { "Blast radius: editing " (what) " also changes " (n) " other mailbox(es)" }
                                        }
                                    }
                                }
                                @if !plan.manual.is_empty() {
                                    h3 { "Manual steps (the script cannot do them)" }
                                    table #manual-steps {
                                        thead { tr { th { "code" } th { "protocols" } th { "mailboxes" } th { "what to do" } } }
                                        tbody {
                                            @for step in &plan.manual {
                                                tr {
                                                    td { code { (step.code) } }
                                                    td { (protocol_list(&step.protocols)) }
                                                    td {
                                                        @match step.mailboxes.len() {
                                                            0 => { "tenant-wide" }
                                                            1..=5 => { (step.mailboxes.join("; ")) }
                                                            n => {
                                                                details {
                                                                    summary { (n) " mailboxes" }
                                                                    (step.mailboxes.join("; "))
                                                                }
                                                            }
                                                        }
                                                    }
                                                    td { (step.message) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(x) = &r.loaded.snapshot.exceptions {
                        section #exceptions {
                            h2 { "Exceptions register (" (x.rows.len()) " rows, " span #excepted-count { (sum.excepted) } " excepted)" }
                            p { "In the block direction a mailbox whose not-blocked protocols are all covered by active exceptions is excepted: not flagged and not in the plan." }
                            table #exceptions-table {
                                thead { tr { th { "identity" } th { "mailbox" } th { "protocols" } th { "until" } th { "state" } th { "owner" } th { "reason" } th { "source" } } }
                                tbody {
                                    @for (e, (mailbox, state)) in x.rows.iter().zip(readiness::exception_states(r, &x.rows)) {
                                        tr {
                                            td { (e.identity) }
                                            td { (mailbox) }
                                            td { (e.protocol_list().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")) }
                                            td { (e.until_text()) }
                                            td { (state) }
                                            td { (e.owner) }
                                            td { (e.reason) }
                                            td.src { (e.source.to_string()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(u) = &r.loaded.snapshot.usage {
                        section #evidence {
                            h2 { "Sign-in evidence" }
                            ul { @for line in readiness::evidence_lines(&u.summary) { li { (line) } } }
                            table {
                                thead { tr { th { "file" } th { "kind" } th.num { "events" } th { "SHA-256" } } }
                                tbody {
                                    @for x in &u.summary.sources {
                                        tr { td { (x.path) } td { (x.kind) } td.num { (x.events) } td.mono { (digest(x.sha256.as_deref())) } }
                                    }
                                }
                            }
                        }
                    }
                    section #inputs {
                        h2 { "Inputs" }
                        table {
                            thead { tr { th { "file" } th { "cmdlet" } th { "form" } th.num { "rows" } th { "SHA-256" } } }
                            tbody {
                                @for i in &r.loaded.inputs {
                                    @let sha256 = digest(i.sha256.as_deref());
                                    tr {
                                        td { (i.path.file_name().map_or_else(|| i.path.display().to_string(), |n| n.to_string_lossy().into_owned())) }
                                        td { (i.cmdlet.produced_by()) }
                                        td { (i.form.name()) " " (i.encoding.to_string()) }
                                        td.num { (i.rows) }
                                        td.mono title=(sha256) { (sha256.get(..16).unwrap_or(sha256)) "…" }
                                    }
                                }
                            }
                        }
                    }
                    @if !r.loaded.rejected.is_empty() {
                        section #rejected {
                            h2 { "Rejected rows (" (r.loaded.rejected.len()) ")" }
                            table {
                                thead { tr { th { "source" } th { "reason" } } }
                                tbody {
                                    @for x in &r.loaded.rejected {
                                        tr { td.mono { (x.source.to_string()) } td { (x.reason) } }
                                    }
                                }
                            }
                        }
                    }
                    footer {
                        "Generated by exoauth " (env!("CARGO_PKG_VERSION")) ". Verdicts describe the exported tenant configuration; service-level facts are stated above, never mixed into them. The exact setting, value and source of every blocker of every mailbox is in "
                        code { "--format json" } "."
                    }
                }
                script { (PreEscaped(SCRIPT)) (PreEscaped(TABLE_SCRIPT)) }
            }
        }
    }
}
