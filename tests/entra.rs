//! Entra exports: security defaults and Conditional Access beside the Exchange files.

use std::path::Path;

use serde_json::Value;

use crate::util::{audit_json, fixture};

/// contoso's Exchange files plus the given Entra files, in one temp folder.
fn tenant_with(entra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("contoso")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    for (name, text) in entra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn entra_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture("entra").join(name)).unwrap()
}

fn smtp<'a>(r: &'a Value, smtp: &str) -> &'a Value {
    &r["mailboxes"].as_array().unwrap().iter().find(|m| m["primary_smtp_address"] == smtp).unwrap()
        ["protocols"]["smtp"]
}

fn codes(p: &Value) -> Vec<&str> {
    p["blockers"].as_array().unwrap().iter().map(|b| b["code"].as_str().unwrap()).collect()
}

fn audit(dir: &Path) -> Value {
    let (r, code) = audit_json(dir, &["--protocols", "smtp"]);
    assert_eq!(code, 0);
    r
}

#[test]
fn conditional_access_blocks_by_object_id_and_group_targeting_is_unknown() {
    let dir = tenant_with(&[
        ("ConditionalAccessPolicy.json", &entra_fixture("ConditionalAccessPolicy.json")),
        ("SecurityDefaults.json", &entra_fixture("SecurityDefaults.json")),
    ]);
    let r = audit(dir.path());
    assert_eq!(r["tenant"]["security_defaults"], false);
    // Excluded from CA001 by object id; CA004 targets a group whose members are unknown.
    for excluded in ["scan.printer@contoso.com", "megan.bowen@contoso.com"] {
        let p = smtp(&r, excluded);
        assert_eq!(p["basic_auth"], "unknown", "{excluded}");
        assert_eq!(codes(p), ["input-missing"]);
        assert_eq!(
            p["blockers"][0]["setting"],
            "ConditionalAccessPolicy[CA004: Block legacy authentication for contractors]"
        );
    }
    // Everyone else is blocked by CA001, besides their Exchange blockers.
    let p = smtp(&r, "olga.petrova@contoso.com");
    assert_eq!(p["basic_auth"], "blocked");
    assert_eq!(
        codes(p),
        ["tenant-smtp-auth-disabled", "conditional-access-blocks", "input-missing"]
    );
    assert_eq!(p["blockers"][1]["source"], "ConditionalAccessPolicy.json:2");
    let advisories = r["advisories"].as_array().unwrap();
    let report_only =
        advisories.iter().find(|a| a["code"] == "conditional-access-report-only").unwrap();
    assert!(report_only["message"].as_str().unwrap().contains("CA003"));
    assert!(!advisories.iter().any(|a| a["code"] == "entra-not-exported"));
}

#[test]
fn security_defaults_block_every_mailbox() {
    let dir = tenant_with(&[(
        "SecurityDefaults.json",
        "{\r\n  \"Id\": \"x\",\r\n  \"IsEnabled\": true\r\n}\r\n",
    )]);
    let r = audit(dir.path());
    assert_eq!(r["tenant"]["security_defaults"], true);
    for m in r["mailboxes"].as_array().unwrap() {
        let p = &m["protocols"]["smtp"];
        assert_eq!(p["basic_auth"], "blocked");
        assert!(codes(p).contains(&"security-defaults-enabled"));
    }
    let missing = r["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "entra-not-exported")
        .unwrap();
    assert!(missing["message"].as_str().unwrap().starts_with("no ConditionalAccessPolicy export"));
}

#[test]
fn shallow_convertto_json_is_rejected_with_the_fix() {
    let shallow = "[\r\n  {\r\n    \"DisplayName\": \"Block legacy\",\r\n    \"State\": \"enabled\",\r\n    \"Conditions\": \"Microsoft.Graph.PowerShell.Models.MicrosoftGraphConditionalAccessConditionSet\",\r\n    \"GrantControls\": \"Microsoft.Graph.PowerShell.Models.MicrosoftGraphConditionalAccessGrantControls\"\r\n  }\r\n]\r\n";
    let dir = tenant_with(&[("ConditionalAccessPolicy.json", shallow)]);
    let (r, code) = audit_json(dir.path(), &[]);
    assert_eq!(code, 2);
    assert_eq!(r["rejected"][0]["source"], "ConditionalAccessPolicy.json:2");
    assert!(r["rejected"][0]["reason"].as_str().unwrap().contains("ConvertTo-Json -Depth 10"));
}
