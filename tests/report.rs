//! The Markdown and HTML reports, JSON on standard output, and colour: what each
//! format shows, that tenant text cannot break out of it, and that escape bytes
//! only ever reach a terminal.

use std::process::Command;

use crate::util::{TempTenant, exoauth, fixture};

fn render(dir: &std::path::Path, format: &str, extra: &[&str]) -> String {
    let out = exoauth()
        .arg("audit")
        .arg(dir)
        .args(["--as-of", "2026-11-25", "--format", format])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A tenant whose names try to become markup in every format.
fn hostile() -> TempTenant {
    TempTenant::new(
        "",
        "False",
        &["g1,\"<script>alert(1)</script> | *a* @team #1\",<b>Pol|x</b>,UserMailbox,False"],
        &["g1,\"\"\"><img src=x onerror=alert(2)>@contoso.com\",A,True,True,"],
    )
}

#[test]
fn markdown_report_of_contoso() {
    insta::assert_snapshot!(
        "contoso_markdown",
        render(std::path::Path::new("fixtures/contoso"), "markdown", &[])
    );
}

#[test]
fn markdown_shows_the_timeline_first_and_every_blocker_with_its_fix() {
    let md = render(&fixture("contoso"), "markdown", &[]);
    let timeline = md.find("> **Service timeline: `service-retired`**").unwrap();
    assert!(timeline < md.find("## Summary").unwrap());
    assert!(md.contains("| 44 | 35 | 9 | **32** | 0 |"));
    assert!(md.contains("| pop | 5 | 27 | 3 |"));
    assert!(md.contains(
        "| lee.gu\\@contoso.com | pop | `user-policy-blocks` | AuthenticationPolicy\\[Allow SMTP Legacy Apps\\].AllowBasicAuthPop | False | AuthenticationPolicy.csv:"
    ));
    assert!(md.contains("assign a policy with -AllowBasicAuthPop:\\$true"));
}

#[test]
fn tenant_text_is_escaped_in_markdown_and_html() {
    let t = hostile();
    let md = render(t.path(), "markdown", &[]);
    assert!(md.contains("\\<script\\>alert(1)\\</script\\> \\| \\*a\\* \\@team \\#1"), "{md}");
    assert!(md.contains("\\<b\\>Pol\\|x\\</b\\>"));
    assert!(!md.contains("<script>") && !md.contains("<img"));
    // Every table row keeps its column count: no value adds a `|`.
    for line in md.lines().filter(|l| l.starts_with("| ") && l.contains("g1")) {
        assert_eq!(line.replace("\\|", "").matches('|').count(), 8, "{line}");
    }

    let html = render(t.path(), "html", &[]);
    // The report's own script, and the mailbox table's data (JSON, never run).
    assert_eq!(html.matches("<script").count(), 2, "{html}");
    assert_eq!(html.matches("<script id=\"mailbox-data\" type=\"application/json\">").count(), 1);
    let data = &html[html.find("id=\"mailbox-data\"").unwrap()..];
    let data = &data[data.find('>').unwrap() + 1..data.find("</script>").unwrap()];
    assert!(!data.contains('<') && !data.contains('>'), "a tenant value can end the data: {data}");
    let parsed: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(parsed["policies"][0], "<b>Pol|x</b>", "the value itself is kept");
    assert!(!html.contains("<img") && !html.contains("<b>Pol"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; | *a* @team #1"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;@contoso.com"));
}

#[test]
fn html_is_one_self_contained_page() {
    let html = render(&fixture("contoso"), "html", &[]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';")
    );
    // No external asset: nothing is loaded from anywhere, and links stay in the page.
    for attr in [" src=", "url(", "@import"] {
        assert!(!html.contains(attr), "{attr}");
    }
    assert_eq!(html.matches(" href=").count(), html.matches(" href=\"#g").count());
    // Charts are inline SVG; the numbers are in the page, not only in the chart.
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("<td class=\"num\" id=\"count-smtp-allowed\">10</td>"));
    assert!(html.contains("<span class=\"n\" id=\"stat-flagged\">32</span>"));
    // The service timeline comes before the summary.
    assert!(
        html.find("data-code=\"service-retired\"").unwrap() < html.find("id=\"summary\"").unwrap()
    );
    // Each blocker: code, setting, value, source and fix.
    assert!(html.contains("<code>tenant-smtp-auth-disabled</code> <span class=\"mono\">TransportConfig.SmtpClientAuthenticationDisabled</span> = <span class=\"mono\">True</span> <span class=\"src\">(TransportConfig.csv:3)</span>"));
    assert!(html.contains("Fix: </b>a per-mailbox exception"));
    // No plan without --script.
    assert!(!html.contains("id=\"manual-steps\""));
}

#[test]
fn plan_manual_steps_appear_in_markdown_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fix.ps1");
    let script = script.to_str().unwrap();
    let md = render(&fixture("contoso"), "markdown", &["--script", script]);
    assert!(md.contains("## Remediation plan"));
    assert!(md.contains("### Manual steps (the script cannot do them)"));
    assert!(md.contains("| `account-disabled` | pop, imap, smtp | Diego Siciliani \\<diego.siciliani\\@contoso.com\\> |"));
    let html = render(&fixture("contoso"), "html", &["--script", script]);
    assert!(html.contains("id=\"manual-steps\""));
    assert!(html.contains("<td><code>policy-not-found</code></td>"));
}

#[test]
fn block_direction_shows_the_fix_for_open_protocols() {
    let md = render(&fixture("contoso"), "markdown", &["--want", "block", "--protocols", "smtp"]);
    assert!(md.contains("These mailboxes can still use basic auth on an in-scope protocol."));
    assert!(md.contains(
        "| megan.bowen\\@contoso.com | smtp | (none: allowed) | | | | Set-CASMailbox -SmtpClientAuthenticationDisabled \\$true, or assign a policy with -AllowBasicAuthSmtp:\\$false |"
    ));
}

#[test]
fn entra_blockers_and_advisories_show_in_markdown_and_html() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("contoso")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    for name in ["ConditionalAccessPolicy.json", "SecurityDefaults.json"] {
        std::fs::copy(fixture("entra").join(name), dir.path().join(name)).unwrap();
    }
    let md = render(dir.path(), "markdown", &[]);
    assert!(md.contains("- Conditional Access: "));
    assert!(md.contains("`conditional-access-blocks`"));
    assert!(md.contains("- `conditional-access-report-only` (pop, imap, smtp): "));
    assert!(md.contains("manual, in Entra: exclude the user"));
    let html = render(dir.path(), "html", &[]);
    assert!(html.contains("<code>conditional-access-blocks</code>"));
    assert!(html.contains("data-code=\"conditional-access-report-only\""));
    assert!(html.contains("<dd>disabled</dd>")); // security defaults exported, off
}

#[test]
fn json_goes_to_standard_output_with_dash() {
    let out = exoauth()
        .args(["audit", "fixtures/contoso", "--format", "json", "-o", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], "exoauth/audit-v2");
    assert_eq!(json["summary"]["flagged"], 32);
    // Standard error carries only the one-line note about input warnings.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "exoauth: 1 warning about the input (listed in the report)\n"
    );
    assert!(!std::path::Path::new("-").exists());
}

#[test]
fn pipes_and_files_never_get_escape_bytes() {
    for format in ["text", "csv", "json", "markdown", "html"] {
        let out = exoauth()
            .args(["audit", "fixtures/contoso", "--format", format])
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        assert!(!out.stdout.contains(&0x1b), "{format} on a pipe has an escape byte");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.txt");
    exoauth().args(["audit", "fixtures/contoso", "-o"]).arg(&path).assert().success();
    assert!(!std::fs::read(&path).unwrap().contains(&0x1b));
}

/// Quotes a word for `sh -c`.
fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

#[test]
fn colour_on_a_terminal_and_never_with_no_color() {
    // Regression (issue 9): this test used to turn any failure of exoauth on a
    // terminal, a panic included, into "SKIPPED", so it could not fail. Now only
    // a missing `script` skips it. It also handed `script` /dev/null as its
    // typescript file, which on this project's machines has been a regular file.
    //
    // `script` (util-linux) runs the command on a pseudo-terminal; `-e` passes
    // on the command's exit code, and everything it printed comes back on
    // `script`'s standard output.
    let bin = assert_cmd::cargo::cargo_bin!("exoauth");
    let line = format!(
        "{} audit fixtures/contoso --as-of 2026-11-25 --progress never",
        sh_quote(&bin.display().to_string())
    );
    let work = tempfile::tempdir().unwrap();
    let on_tty = |no_color: Option<&str>| -> Option<Vec<u8>> {
        let typescript = work.path().join("typescript");
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line])
            .arg(&typescript)
            .current_dir(crate::util::root())
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = match cmd.output() {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("cannot run `script`: {e}"),
        };
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "exoauth on a terminal (NO_COLOR={no_color:?}) failed: {}\n{shown}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!shown.contains("panicked"), "{shown}");
        assert!(typescript.is_file(), "`script` wrote no typescript file");
        Some(out.stdout)
    };
    let Some(coloured) = on_tty(None) else {
        eprintln!(
            "skipped: colour_on_a_terminal_and_never_with_no_color needs `script` (util-linux), which is not installed"
        );
        return;
    };
    assert!(coloured.windows(2).any(|w| w == b"\x1b["), "no colour on a terminal");
    assert!(String::from_utf8_lossy(&coloured).contains("Flagged mailboxes"));
    let plain = on_tty(Some("1")).unwrap();
    assert!(!plain.contains(&0x1b), "NO_COLOR=1 still coloured");
    assert!(String::from_utf8_lossy(&plain).contains("Flagged mailboxes (32 of 35)"));
}
