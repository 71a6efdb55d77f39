//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture folder.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// The exoauth binary, run from the repository root with a fixed date.
pub fn exoauth() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("exoauth"));
    cmd.current_dir(root());
    cmd
}

/// Runs `exoauth audit DIR --format json --as-of 2026-11-25 [extra]` and parses the report.
pub fn audit_json(dir: &Path, extra: &[&str]) -> (serde_json::Value, i32) {
    let out = exoauth()
        .arg("audit")
        .arg(dir)
        .args(["--format", "json", "--as-of", "2026-11-25"])
        .args(extra)
        .output()
        .expect("run exoauth");
    let code = out.status.code().unwrap_or(-1);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}); stderr: {}", String::from_utf8_lossy(&out.stderr))
    });
    (json, code)
}
