//! The HTML report in a real browser: headless Chromium (Debian's `chromium`
//! package) loads the contoso report, runs its script without a console message
//! (a JavaScript error or a blocked external load would print one), and shows the
//! same counts as the JSON report. It also takes the screenshot that the README
//! shows: set `EXOAUTH_UPDATE_SCREENSHOT=1` to write it to `docs/report.png`.
//!
//! Where no `chromium` or `chromium-browser` is on the `PATH`, the test says
//! so on standard error and skips itself. It never installs anything: that is
//! the job of the machine or of `.ci/run`, which installs Debian's `chromium`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{audit_json, exoauth, fixture, root};

/// How long one Chromium run may take: generous, so that a loaded machine (two
/// cores shared by several builds) does not fail the test.
const DEADLINE: Duration = Duration::from_secs(300);

/// Chromium's executable, searched for on the `PATH`.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Runs Chromium headless on a page, with stdout and stderr to files (the DOM is
/// larger than a pipe buffer), killed after [`DEADLINE`].
fn run(chromium: &Path, work: &Path, args: &[&str], url: &str) -> (String, String) {
    let (out, err) = (work.join("stdout"), work.join("stderr"));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", work.join("profile").display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {} s", DEADLINE.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    assert!(status.success(), "chromium failed: {status}\n{}", read(&err));
    (read(&out), read(&err))
}

/// The `file://` address of a page, with a fragment (`#q=text` searches on load).
fn url(page: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", page.display())
}

/// The text of the element with this id, in a DOM dump.
fn by_id<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let rest = &dom[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    &rest[open..open + close]
}

#[test]
fn html_report_loads_in_chromium_without_errors_and_shows_the_counts() {
    // Regression (issue 9): this test used to install Chromium itself with the
    // package manager, and to fail on a fixed 60 s deadline on a loaded machine.
    let Some(chromium) = chromium() else {
        eprintln!(
            "skipped: html_report_loads_in_chromium_without_errors_and_shows_the_counts needs `chromium` or `chromium-browser` on the PATH; install Debian's `chromium` package"
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let page = work.path().join("report.html");
    exoauth()
        .args(["audit", "fixtures/contoso", "--as-of", "2026-11-25", "--format", "html", "-o"])
        .arg(&page)
        .arg("--script")
        .arg(work.path().join("fix.ps1"))
        .assert()
        .success();

    let (dom, log) = run(&chromium, work.path(), &["--dump-dom"], &url(&page, ""));
    // Any console message is a failure: a script error, a CSP violation (an
    // external load), a warning.
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages:\n{}", console.join("\n"));
    assert!(dom.contains("data-sortable=\"ready\""), "the inline script did not run to its end");

    let (json, _) = audit_json(&fixture("contoso"), &[]);
    let s = &json["summary"];
    for (id, key) in [
        ("stat-mailboxes", "mailboxes"),
        ("stat-in-scope", "in_scope"),
        ("stat-flagged", "flagged"),
        ("stat-rejected", "rejected_rows"),
    ] {
        assert_eq!(by_id(&dom, id), s[key].to_string(), "#{id}");
    }
    assert_eq!(by_id(&dom, "stat-flagged"), "32");
    for p in ["pop", "imap", "smtp"] {
        for v in ["allowed", "blocked", "unknown"] {
            let id = format!("count-{p}-{v}");
            assert_eq!(by_id(&dom, &id), s["by_protocol"][p][v].to_string(), "#{id}");
        }
    }
    assert_eq!(by_id(&dom, "flagged-count"), "32");
    assert_eq!(dom.matches("<tr data-identity=").count(), 32);
    for code in ["service-retired", "service-default-off"] {
        assert!(dom.contains(&format!("data-code=\"{code}\"")), "{code} callout");
    }
    assert!(dom.contains("id=\"manual-steps\""));
    // The table script ran: it counts the rows it shows, and the groups of
    // root causes lead.
    assert!(dom.contains("data-table=\"ready\""), "the table script did not run to its end");
    assert_eq!(by_id(&dom, "flagged-shown"), "1\u{2013}32 of 32");
    assert!(dom.contains("id=\"root-causes-table\""));

    // A search narrows the table (`#q=` in the address types it on load).
    let (dom, log) = run(&chromium, work.path(), &["--dump-dom"], &url(&page, "#q=%C3%85ngstr"));
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages:\n{}", console.join("\n"));
    assert_eq!(by_id(&dom, "flagged-shown"), "1\u{2013}1 of 1");
    let rows = &dom[dom.find("id=\"flagged-rows\"").unwrap()..];
    let rows = &rows[..rows.find("</tbody>").unwrap()];
    assert_eq!(rows.matches("<tr").count(), 1);
    assert!(rows.contains("zoe.angstrom@contoso.com") && rows.contains("Zoë Ångström"), "{rows}");

    let shot = work.path().join("report.png");
    run(
        &chromium,
        work.path(),
        &[&format!("--screenshot={}", shot.display()), "--window-size=1280,1600"],
        &url(&page, ""),
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "{} bytes", png.len());
    if std::env::var_os("EXOAUTH_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(root().join("docs/report.png"), png).unwrap();
    }
}

#[test]
fn html_report_of_100000_mailboxes_stays_small_and_searches_in_chromium() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "skipped: html_report_of_100000_mailboxes_stays_small_and_searches_in_chromium needs `chromium` or `chromium-browser` on the PATH; install Debian's `chromium` package"
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let tenant = work.path().join("tenant");
    exoauth()
        .args(["generate", "--mailboxes", "100000", "--seed", "7", "-q", "-o"])
        .arg(&tenant)
        .assert()
        .success();
    let page = work.path().join("report.html");
    exoauth()
        .arg("audit")
        .arg(&tenant)
        .args(["--all-recipient-types", "--as-of", "2026-11-25", "--format", "html", "-o"])
        .arg(&page)
        .assert()
        .success();
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(size < 10 << 20, "the page is {size} bytes, over 10 MiB");

    let (dom, log) = run(&chromium, work.path(), &["--dump-dom"], &url(&page, "#q=user12345@"));
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages:\n{}", console.join("\n"));
    assert!(dom.contains("data-table=\"ready\""), "the table script did not run to its end");
    assert_eq!(by_id(&dom, "flagged-count"), "100000");
    assert_eq!(by_id(&dom, "flagged-shown"), "1\u{2013}1 of 1");
    let rows = &dom[dom.find("id=\"flagged-rows\"").unwrap()..];
    let rows = &rows[..rows.find("</tbody>").unwrap()];
    assert_eq!(rows.matches("<tr").count(), 1);
    assert!(rows.contains("user12345@contoso.com"), "{rows}");
}
