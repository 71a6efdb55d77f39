//! The HTML report in a real browser: headless Chromium (Debian's `chromium`
//! package) loads the contoso report, runs its script without a console message
//! (a JavaScript error or a blocked external load would print one), and shows the
//! same counts as the JSON report. It also takes the screenshot that the README
//! shows: set `EXOAUTH_UPDATE_SCREENSHOT=1` to write it to `docs/report.png`.
//!
//! Where Chromium is missing, the test installs it (`apt-get install -y
//! chromium`, as root); it skips, saying so, only where that is impossible.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{audit_json, exoauth, fixture, root};

const CANDIDATES: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

fn find() -> Option<PathBuf> {
    CANDIDATES.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Runs a command quietly; true when it succeeded.
fn quietly(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Chromium, installed with apt-get when missing and possible.
fn chromium() -> Result<PathBuf, String> {
    if let Some(path) = find() {
        return Ok(path);
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root || !Path::new("/usr/bin/apt-get").is_file() {
        return Err("chromium is not installed and apt-get cannot be run here (not root, or not Debian); install the `chromium` package to run this test".into());
    }
    let install = || {
        quietly(
            Command::new("apt-get")
                .args(["install", "-y", "chromium"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if !install() {
        // A fresh machine has no package lists yet.
        quietly(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"));
        install();
    }
    find().ok_or_else(|| "chromium is not installed and `apt-get install -y chromium` failed (no package access?)".into())
}

/// Runs Chromium headless on a page, with stdout and stderr to files (the DOM is
/// larger than a pipe buffer), killed after a minute.
fn run(chromium: &Path, work: &Path, args: &[&str], page: &Path) -> (String, String) {
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
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    assert!(status.success(), "chromium failed: {status}\n{}", read(&err));
    (read(&out), read(&err))
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
    let chromium = match chromium() {
        Ok(path) => path,
        Err(why) => {
            eprintln!("SKIPPED html_report_loads_in_chromium: {why}");
            return;
        }
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

    let (dom, log) = run(&chromium, work.path(), &["--dump-dom"], &page);
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
    // The sort buttons exist only once the script ran.
    assert!(dom.contains("<th><button type=\"button\">mailbox</button></th>"));

    let shot = work.path().join("report.png");
    run(
        &chromium,
        work.path(),
        &[&format!("--screenshot={}", shot.display()), "--window-size=1280,1600"],
        &page,
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "{} bytes", png.len());
    if std::env::var_os("EXOAUTH_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(root().join("docs/report.png"), png).unwrap();
    }
}
