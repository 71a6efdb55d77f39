//! Byte-identity of every report: each fixture tenant's reports in every format,
//! and its fix and rollback scripts, hashed and compared with
//! `tests/golden/reports.sha256`.
//!
//! This guards changes to how the export is read and the reports are written
//! (streaming, parallel rendering): they must not change a byte of any output.
//! A change that is meant to change an output updates the manifest on purpose:
//!
//! ```text
//! EXOAUTH_GOLDEN=bless cargo test --test integration golden
//! ```
//!
//! and the commit then shows which outputs changed. To see *how* an output
//! changed, write every output before and after and compare the folders:
//! `EXOAUTH_GOLDEN=dump:DIR cargo test --test integration golden`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::util::{READINESS, exoauth, fixture_folders, root};

/// The report formats, by `--format` name and file extension.
const FORMATS: [(&str, &str); 5] =
    [("text", "txt"), ("markdown", "md"), ("html", "html"), ("csv", "csv"), ("json", "json")];

/// The cases: a name and the `exoauth audit` arguments (folder first).
fn cases() -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let mut cases = vec![
        ("contoso", s(&["fixtures/contoso"])),
        ("contoso-block", s(&["fixtures/contoso", "--want", "block"])),
        ("contoso-edit-policies", s(&["fixtures/contoso", "--strategy", "edit-policies"])),
        ("contoso-smtp-only", s(&["fixtures/contoso", "--protocols", "smtp"])),
        ("contoso-all-types", s(&["fixtures/contoso", "--all-recipient-types"])),
        ("contoso-list", s(&["fixtures/contoso-list"])),
        ("contoso-table", s(&["fixtures/contoso-table"])),
        ("contoso-utf16", s(&["fixtures/contoso-utf16"])),
        ("onprem", s(&["fixtures/onprem", "--environment", "onprem"])),
        ("onprem-block", s(&["fixtures/onprem", "--environment", "onprem", "--want", "block"])),
        ("transcript", s(&["fixtures/transcript"])),
        ("readiness", s(&READINESS)),
        (
            "readiness-graph",
            s(&["fixtures/contoso-signins/export", "--sign-ins", "fixtures/contoso-signins/graph"]),
        ),
    ];
    for group in ["edge-values", "quirks", "paste"] {
        for name in fixture_folders(group) {
            let case: &'static str = format!("{group}-{name}").leak();
            cases.push((case, vec![format!("fixtures/{group}/{name}")]));
        }
    }
    cases
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().expect("name").to_string_lossy().into_owned()
}

/// The outputs of one case: file name to bytes (the scripts' `Generated:` time
/// blanked), or the exit code and stderr when the audit writes no report.
fn outputs(args: &[String]) -> BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().expect("tempdir");
    let mut files = BTreeMap::new();
    for (k, (format, ext)) in FORMATS.into_iter().enumerate() {
        let report = out.path().join(format!("report.{ext}"));
        let mut cmd = exoauth();
        cmd.arg("audit")
            .args(args)
            .args(["--as-of", "2026-11-25", "--progress", "never", "--format", format, "-o"])
            .arg(&report);
        if k == 0 {
            cmd.arg("--script").arg(out.path().join("fix.ps1"));
            cmd.arg("--rollback").arg(out.path().join("rollback.ps1"));
        }
        let run = cmd.output().expect("run exoauth");
        let code = run.status.code().unwrap_or(-1);
        if !report.exists() {
            // An input the audit refuses: its message is the output.
            files.insert(format!("refused.{ext}"), format!("exit {code}\n").into_bytes());
            files.entry("stderr".into()).or_insert(run.stderr);
            continue;
        }
        files.insert(format!("exit.{ext}"), format!("exit {code}\n").into_bytes());
    }
    for entry in std::fs::read_dir(out.path()).expect("outputs") {
        let path = entry.expect("entry").path();
        let mut bytes = std::fs::read(&path).expect("read output");
        if path.extension().is_some_and(|e| e == "ps1") {
            bytes = blank_generated(&bytes);
        }
        files.insert(dir_name(&path), bytes);
    }
    files
}

/// The script header's `# Generated:   <time>` line, which changes every run.
fn blank_generated(script: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.starts_with("# Generated:") {
            out.push_str("# Generated:   (time)\n");
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

fn manifest_path() -> PathBuf {
    root().join("tests/golden/reports.sha256")
}

#[test]
fn every_report_is_byte_identical_to_the_manifest() {
    let mode = std::env::var("EXOAUTH_GOLDEN").unwrap_or_default();
    let dump = mode.strip_prefix("dump:").map(PathBuf::from);
    let mut actual = BTreeMap::new();
    for (name, args) in cases() {
        for (file, bytes) in outputs(&args) {
            if let Some(dir) = &dump {
                let path = dir.join(name).join(&file);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("dump folder");
                std::fs::write(&path, &bytes).expect("dump");
            }
            actual.insert(format!("{name}/{file}"), format!("{:x}", Sha256::digest(&bytes)));
        }
    }
    let text: String = actual.iter().map(|(k, v)| format!("{v}  {k}\n")).collect();
    if mode == "bless" {
        std::fs::create_dir_all(manifest_path().parent().expect("parent")).expect("golden folder");
        std::fs::write(manifest_path(), &text).expect("write manifest");
        return;
    }
    let expected = std::fs::read_to_string(manifest_path()).expect(
        "tests/golden/reports.sha256 is missing; write it with EXOAUTH_GOLDEN=bless cargo test --test integration golden",
    );
    let expected: BTreeMap<&str, &str> = expected
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(hash, name)| (name, hash))
        .collect();
    let mut differ = Vec::new();
    for (name, hash) in &actual {
        match expected.get(name.as_str()) {
            Some(h) if h == hash => {}
            Some(_) => differ.push(format!("changed: {name}")),
            None => differ.push(format!("new: {name}")),
        }
    }
    for name in expected.keys().filter(|n| !actual.contains_key(**n)) {
        differ.push(format!("gone: {name}"));
    }
    assert!(
        differ.is_empty(),
        "{} outputs differ from tests/golden/reports.sha256:\n  {}\nIf the change is meant, re-bless (EXOAUTH_GOLDEN=bless); to see it, dump the outputs before and after (EXOAUTH_GOLDEN=dump:DIR) and diff the folders",
        differ.len(),
        differ.join("\n  ")
    );
}
