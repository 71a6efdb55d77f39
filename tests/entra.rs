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

/// One Conditional Access policy as `ConvertTo-Json -Depth 10` writes it: enabled,
/// blocking "Other clients" for all users on all applications, with `edit`
/// applied to it.
fn ca_policy(name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut p = serde_json::json!({
        "Conditions": {
            "Applications": {"ExcludeApplications": [], "IncludeApplications": ["All"]},
            "ClientAppTypes": ["other"],
            "Locations": null,
            "Platforms": null,
            "Users": {
                "ExcludeGroups": [], "ExcludeRoles": [], "ExcludeUsers": [],
                "IncludeGroups": [], "IncludeRoles": [], "IncludeUsers": ["All"]
            }
        },
        "DisplayName": name,
        "GrantControls": {"BuiltInControls": ["block"], "Operator": "OR"},
        "Id": "0b0e8a1c-7d2f-4c55-9b1e-3f6a2d4c8e10",
        "State": "enabled"
    });
    edit(&mut p);
    serde_json::to_string_pretty(&serde_json::json!([p])).unwrap().replace('\n', "\r\n")
}

/// A change to [`ca_policy`]'s policy.
type Edit = Box<dyn FnOnce(&mut Value)>;

/// The SMTP verdict, the blocker codes, and the `input-missing` reason.
type Outcome = (&'static str, Vec<&'static str>, Option<&'static str>);

/// What each kind of Conditional Access policy does to a mailbox whose SMTP AUTH
/// contoso otherwise allows (megan.bowen@: her own policy allows it, and her
/// mailbox turns it on): blocked when the policy surely reaches her,
/// `input-missing` with the reason when the export cannot tell, and nothing when
/// the policy cannot block Exchange Online at all.
#[test]
fn conditional_access_conditions_scopes_and_states() {
    let unknown = |why: &'static str| ("unknown", vec!["input-missing"], Some(why));
    let cases: Vec<(&str, Edit, Outcome)> = vec![
        ("plain block", Box::new(|_| {}), ("blocked", vec!["conditional-access-blocks"], None)),
        (
            "named location",
            Box::new(|p| {
                p["Conditions"]["Locations"] = serde_json::json!({
                    "IncludeLocations": ["All"],
                    "ExcludeLocations": ["3a1f2b7c-0d4e-4f5a-8b6c-7d8e9f0a1b2c"]
                })
            }),
            unknown("applies only under location conditions"),
        ),
        (
            "included location",
            Box::new(|p| {
                p["Conditions"]["Locations"] = serde_json::json!({
                    "IncludeLocations": ["3a1f2b7c-0d4e-4f5a-8b6c-7d8e9f0a1b2c"],
                    "ExcludeLocations": []
                })
            }),
            unknown("applies only under location conditions"),
        ),
        (
            "platform",
            Box::new(|p| {
                p["Conditions"]["Platforms"] = serde_json::json!({
                    "IncludePlatforms": ["android", "iOS"],
                    "ExcludePlatforms": []
                })
            }),
            unknown("applies only under device platform conditions"),
        ),
        (
            "excluded group",
            Box::new(|p| {
                p["Conditions"]["Users"]["ExcludeGroups"] =
                    serde_json::json!(["8d2e4f60-7a1b-4c3d-9e8f-0a1b2c3d4e05"])
            }),
            unknown("excludes groups or roles, whose membership the export does not hold"),
        ),
        (
            "excluded role",
            Box::new(|p| {
                // Global Administrator's role template id.
                p["Conditions"]["Users"]["ExcludeRoles"] =
                    serde_json::json!(["62e90394-69f5-4237-9190-012177145e10"])
            }),
            unknown("excludes groups or roles, whose membership the export does not hold"),
        ),
        (
            "all apps but Office 365",
            Box::new(|p| {
                p["Conditions"]["Applications"]["ExcludeApplications"] =
                    serde_json::json!(["Office365"])
            }),
            ("allowed", vec![], None),
        ),
        (
            "SharePoint only",
            Box::new(|p| {
                p["Conditions"]["Applications"]["IncludeApplications"] =
                    serde_json::json!(["00000003-0000-0ff1-ce00-000000000000"])
            }),
            ("allowed", vec![], None),
        ),
        ("disabled", Box::new(|p| p["State"] = "disabled".into()), ("allowed", vec![], None)),
    ];
    for (name, edit, (verdict, want_codes, why)) in cases {
        let dir = tenant_with(&[("ConditionalAccessPolicy.json", &ca_policy(name, edit))]);
        let r = audit(dir.path());
        let p = smtp(&r, "megan.bowen@contoso.com");
        assert_eq!(p["basic_auth"], verdict, "{name}: {p}");
        assert_eq!(codes(p), want_codes, "{name}: {p}");
        if let Some(b) = p["blockers"].as_array().unwrap().first() {
            assert_eq!(b["setting"], format!("ConditionalAccessPolicy[{name}]"), "{name}");
            assert_eq!(b["source"], "ConditionalAccessPolicy.json:2", "{name}");
            if let Some(why) = why {
                assert_eq!(b["value"], why, "{name}");
            }
        }
        // Only an enforced policy decides anything: no report-only advisory here.
        let advisories = r["advisories"].as_array().unwrap();
        assert!(!advisories.iter().any(|a| a["code"] == "conditional-access-report-only"));
    }
}

/// What no script can do is a manual step, named with its mailboxes: Entra
/// blocks and unresolved Conditional Access targeting in the allow direction;
/// in the block direction only protocols whose state is unknown, never a
/// disabled account that is already blocked. Regression: deleting the security
/// defaults or Conditional Access arm, or inverting the block-direction filter,
/// survived cargo-mutants.
#[test]
fn manual_steps_name_what_no_script_can_do() {
    let dir = tenant_with(&[
        ("ConditionalAccessPolicy.json", &entra_fixture("ConditionalAccessPolicy.json")),
        ("SecurityDefaults.json", "{\r\n  \"Id\": \"x\",\r\n  \"IsEnabled\": true\r\n}\r\n"),
    ]);
    let script = dir.path().join("fix.ps1");
    let steps = |want: &str, protocols: &str| {
        let (r, _) = audit_json(
            dir.path(),
            &["--protocols", protocols, "--want", want, "--script", script.to_str().unwrap()],
        );
        r["plan"]["manual_steps"].as_array().unwrap().clone()
    };
    let allow = steps("allow", "smtp");
    let step = |steps: &[Value], code: &str| steps.iter().find(|s| s["code"] == code).cloned();
    let defaults = step(&allow, "security-defaults-enabled").expect("security defaults step");
    assert!(defaults["message"].as_str().unwrap().contains("Entra admin center"));
    let ca = step(&allow, "conditional-access-blocks").expect("conditional access step");
    assert!(ca["message"].as_str().unwrap().contains("CA001"));
    assert!(
        ca["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("olga.petrova@contoso.com"))
    );
    let membership = allow
        .iter()
        .find(|s| {
            s["code"] == "input-missing"
                && s["message"]
                    .as_str()
                    .unwrap()
                    .ends_with("; check the user's membership in Entra")
        })
        .expect("group targeting step");
    assert!(
        membership["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("megan.bowen"))
    );
    assert!(step(&allow, "account-disabled").is_some());
    // Block direction: a protocol whose state is unknown (here SMTP AUTH, the
    // tenant switch exported blank) is a manual step; an allowed one is a change.
    let t = crate::util::TempTenant::new(
        "Allow All",
        "",
        &["a1,ann@contoso.com,,UserMailbox,False"],
        &["a1,ann@contoso.com,Ann,True,True,"],
    );
    let (r, _) =
        audit_json(t.dir.path(), &["--want", "block", "--script", script.to_str().unwrap()]);
    let block = r["plan"]["manual_steps"].as_array().unwrap();
    let missing = step(block, "input-missing").expect("the unknown SMTP state");
    assert_eq!(missing["protocols"], serde_json::json!(["smtp"]));
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .starts_with("TransportConfig.SmtpClientAuthenticationDisabled")
    );
    assert_eq!(block.len(), 1, "{block:?}");
}

/// A report's summary is counted in a pass before its mailboxes are written,
/// from what was noted of each mailbox at its first read, unless the rules
/// read the mailbox's identifiers: a Conditional Access policy reaches a
/// mailbox by its object id. Here there is no Get-User export, so the
/// policies reach each mailbox by its own ExternalDirectoryObjectId, and the
/// summary must count the verdicts the mailboxes show.
#[test]
fn the_summary_counts_what_conditional_access_decides_by_a_mailboxs_own_object_id() {
    let dir = tenant_with(&[(
        "ConditionalAccessPolicy.json",
        &entra_fixture("ConditionalAccessPolicy.json"),
    )]);
    std::fs::remove_file(dir.path().join("User.csv")).unwrap();
    let r = audit(dir.path());
    // The object id decided: excluded from CA001, blocked by it.
    assert!(!codes(smtp(&r, "megan.bowen@contoso.com")).contains(&"conditional-access-blocks"));
    assert!(codes(smtp(&r, "olga.petrova@contoso.com")).contains(&"conditional-access-blocks"));
    let mut shown = std::collections::BTreeMap::<String, u64>::new();
    for m in r["mailboxes"].as_array().unwrap() {
        let verdict = m["protocols"]["smtp"]["basic_auth"].as_str().unwrap();
        *shown.entry(verdict.to_owned()).or_default() += 1;
    }
    let counted: std::collections::BTreeMap<String, u64> = r["summary"]["by_protocol"]["smtp"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .filter(|&(_, n)| n > 0)
        .collect();
    assert_eq!(counted, shown);
    assert!(shown.len() > 1, "more than one verdict: {shown:?}");
}
