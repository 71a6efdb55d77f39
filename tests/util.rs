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

/// A small export folder written from CSV text, for tests that need a tenant
/// shaped a particular way.
pub struct TempTenant {
    /// The folder (deleted on drop).
    pub dir: tempfile::TempDir,
}

impl TempTenant {
    /// A tenant with an `Allow All` and a `Block` policy, the given org default,
    /// tenant SMTP switch, and users/mailboxes given as CSV rows.
    ///
    /// `users`: `Guid,UserPrincipalName,AuthenticationPolicy,RecipientTypeDetails,AccountDisabled`
    /// `mailboxes`: `Guid,PrimarySmtpAddress,DisplayName,PopEnabled,ImapEnabled,SmtpClientAuthenticationDisabled`
    pub fn new(
        default_policy: &str,
        tenant_smtp_disabled: &str,
        users: &[&str],
        mailboxes: &[&str],
    ) -> TempTenant {
        let dir = tempfile::tempdir().expect("tempdir");
        let write =
            |name: &str, text: String| std::fs::write(dir.path().join(name), text).expect("write");
        write(
            "AuthenticationPolicy.csv",
            "Name,AllowBasicAuthPop,AllowBasicAuthImap,AllowBasicAuthSmtp\r\nAllow All,True,True,True\r\nBlock,False,False,False\r\n"
                .into(),
        );
        write(
            "OrganizationConfig.csv",
            format!("DefaultAuthenticationPolicy\r\n\"{default_policy}\"\r\n"),
        );
        write(
            "TransportConfig.csv",
            format!("SmtpClientAuthenticationDisabled\r\n{tenant_smtp_disabled}\r\n"),
        );
        let mut u = String::from(
            "Guid,UserPrincipalName,AuthenticationPolicy,RecipientTypeDetails,AccountDisabled\r\n",
        );
        for row in users {
            u.push_str(row);
            u.push_str("\r\n");
        }
        write("User.csv", u);
        let mut m = String::from(
            "Guid,PrimarySmtpAddress,DisplayName,PopEnabled,ImapEnabled,SmtpClientAuthenticationDisabled\r\n",
        );
        for row in mailboxes {
            m.push_str(row);
            m.push_str("\r\n");
        }
        write("CasMailbox.csv", m);
        TempTenant { dir }
    }

    /// The folder path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The names of the fixture tenants in `fixtures/GROUP`, sorted.
pub fn fixture_folders(group: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixture(group))
        .expect("fixture group")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `exoauth audit` arguments of the readiness case: the sample with sign-in
/// evidence and the exceptions register, in the block direction.
pub const READINESS: [&str; 7] = [
    "fixtures/contoso-signins/export",
    "--sign-ins",
    "fixtures/contoso-signins/portal-csv",
    "--exceptions",
    "fixtures/contoso-signins/exceptions.csv",
    "--want",
    "block",
];
