//! The generated scripts, read back with tree-sitter-powershell (`tests/ps.rs`):
//! they parse, use only the allowed cmdlets with literal arguments, address only
//! identities that came from the input, are ordered correctly, survive hostile
//! names, and *mean* what the plan says: every `-Test` reads back the very
//! setting and value its `-Apply` writes (so a second run changes nothing),
//! every change sits inside an `-Apply` (so `-WhatIf` and `-Confirm` govern it),
//! and the actions read back from the text equal the plan's.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use rayon::prelude::*;

use exoauth::audit::{self, Options, Scope, Want};
use exoauth::emit::powershell::{self, Header};
use exoauth::model::{Environment, Protocol, Snapshot};
use exoauth::plan::{self, Strategy};

use crate::ps::{self, Command, MUTATING, Script, Step, Value, decode};
use crate::util::{exoauth, fixture};

/// Exchange cmdlets a script may call, and the helpers of the script itself.
const EXCHANGE: [&str; 12] = [
    "Get-AuthenticationPolicy",
    "New-AuthenticationPolicy",
    "Set-AuthenticationPolicy",
    "Remove-AuthenticationPolicy",
    "Get-CASMailbox",
    "Set-CASMailbox",
    "Get-User",
    "Set-User",
    "Get-TransportConfig",
    "Set-TransportConfig",
    "Get-OrganizationConfig",
    "Set-OrganizationConfig",
];
const SCAFFOLD: [&str; 21] = [
    "Invoke-Change",
    "$Test",
    "$Apply",
    "Set-StrictMode",
    "Write-Progress",
    "Write-Warning",
    "Write-Error",
    "Write-Host",
    "Get-Command",
    "Join-Path",
    "Get-Date",
    "Export-Csv",
    "Import-Csv",
    "Start-Sleep",
    "Where-Object",
    "Get-FailureKind",
    "Test-Identity",
    "Get-Exact",
    "Get-PolicyByName",
    "Test-PolicyInUse",
    "Get-VariantSwitches",
];

/// Parses a script and checks it against the identities that came from input
/// (and, for a rollback, the variants its fix script creates), and checks what
/// each step means ([`check_steps`]). Returns the decoded literals of the
/// Exchange commands and the variants the script creates.
fn check_script(
    bytes: &[u8],
    identities: &HashSet<String>,
    what: &str,
) -> (Vec<String>, HashSet<String>) {
    let script = Script::parse(bytes, what);
    assert!(script.text.contains("#Requires -Version 5.1\r\n[CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]\r\nparam("), "{what}");
    let cmds = script.commands();
    let created: HashSet<String> = cmds
        .iter()
        .filter(|c| c.name == "New-AuthenticationPolicy")
        .filter_map(|c| c.arg("Name").and_then(Value::literal).map(str::to_owned))
        .collect();
    let known = |s: &str| identities.contains(s) || created.contains(s) || s == "organization";
    let mut literals = Vec::new();
    for c in &cmds {
        assert!(
            EXCHANGE.contains(&c.name.as_str()) || SCAFFOLD.contains(&c.name.as_str()),
            "{what}: command {} is not allowed",
            c.name
        );
        if c.name == "Invoke-Change" {
            match c.arg("Target") {
                Some(Value::Literal(t)) => {
                    assert!(known(t), "{what}: -Target {t:?} is not an input identity")
                }
                other => panic!("{what}: -Target is {other:?}"),
            }
        }
        if c.name == "Get-VariantSwitches" {
            if let Some(source) = c.arg("Source").and_then(Value::literal) {
                assert!(known(source), "{what}: -Source {source:?} is not an input policy");
            }
        }
        if !EXCHANGE.contains(&c.name.as_str()) {
            continue;
        }
        let mutating = !c.name.starts_with("Get-");
        for (param, colon, v) in &c.args {
            if param.starts_with("AllowBasicAuth")
                || param.starts_with("BlockLegacyAuth")
                || param.starts_with("BlockModernAuth")
            {
                assert!(colon, "{what}: {} -{param} must use the colon form", c.name);
            }
            match v {
                Some(Value::Literal(l)) => {
                    if matches!(
                        param.as_str(),
                        "Identity"
                            | "Name"
                            | "AuthenticationPolicy"
                            | "DefaultAuthenticationPolicy"
                    ) {
                        assert!(
                            known(l),
                            "{what}: {} -{param} {l:?} is not an input identity",
                            c.name
                        );
                    }
                    literals.push(l.clone());
                }
                // The variant's copied switches, splatted (see Get-VariantSwitches).
                Some(Value::Variable(v))
                    if mutating && c.name == "New-AuthenticationPolicy" && v == "@switches" => {}
                Some(Value::Variable(v)) if mutating => {
                    assert!(
                        ["$true", "$false", "$null"].contains(&v.as_str()),
                        "{what}: {} -{param} {v}",
                        c.name
                    )
                }
                Some(Value::Other(o)) if mutating => assert!(
                    (param == "STSRefreshTokensValidFrom" && o == "([DateTime]::UtcNow)")
                        || (param == "ErrorAction" && o == "Stop"),
                    "{what}: {} -{param} has a non-literal argument {o}",
                    c.name
                ),
                None if mutating => panic!("{what}: {} -{param} has no value", c.name),
                _ => {}
            }
        }
    }
    let steps = script.steps(what);
    check_steps(&script, &steps, &cmds, what);
    // Order: a variant exists before anyone is assigned it, an assignment comes
    // before its user's token refresh.
    let applied: Vec<&Command> =
        cmds.iter().filter(|c| MUTATING.contains(&c.name.as_str())).collect();
    for c in &applied {
        let Some(Value::Literal(p)) = c.arg("AuthenticationPolicy") else { continue };
        if let Some(new) = applied.iter().find(|n| {
            n.name == "New-AuthenticationPolicy"
                && n.arg("Name") == Some(&Value::Literal(p.clone()))
        }) {
            assert!(new.range.start < c.range.start, "{what}: {p} assigned before it is created");
        }
        let id = c.arg("Identity");
        if let Some(refresh) =
            applied.iter().find(|r| r.has("STSRefreshTokensValidFrom") && r.arg("Identity") == id)
        {
            assert!(
                c.range.start < refresh.range.start,
                "{what}: token refresh before the assignment of {id:?}"
            );
        }
    }
    (literals, created)
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Variable(x), Value::Variable(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// What every step means:
/// - its `-Apply` makes exactly one change, with the cmdlet `-Cmdlet` names, to
///   the object `-Target` names, and nothing else but reads;
/// - its `-Test` makes no change and reads the same kind of object, by the same
///   identity, and compares the same property with the same value that `-Apply`
///   writes, so that once the change is made the test passes and a second run
///   changes nothing;
/// - no change anywhere in the script stands outside an `-Apply` block, so
///   `ShouldProcess` (`-WhatIf`, `-Confirm`) governs every one;
/// - steps are numbered 1..N, as `$script:Total` says and the result log records;
/// - the script exits with 1 when any step failed.
fn check_steps(script: &Script, steps: &[Step], cmds: &[Command], what: &str) {
    let numbers: Vec<usize> = steps.iter().map(|s| s.number).collect();
    assert_eq!(numbers, (1..=steps.len()).collect::<Vec<_>>(), "{what}: step numbers");
    assert!(
        script.text.contains(&format!("$script:Total = {}\r\n", steps.len())),
        "{what}: $script:Total is not the number of steps"
    );
    for c in cmds.iter().filter(|c| MUTATING.contains(&c.name.as_str())) {
        assert!(
            steps.iter().any(|s| s.apply_range.contains(&c.range.start)),
            "{what}: {} stands outside every -Apply block",
            c.name
        );
    }
    for step in steps {
        let ctx = format!("{what}: step {} ({})", step.number, step.cmdlet);
        for c in &step.test {
            assert!(!MUTATING.contains(&c.name.as_str()), "{ctx}: -Test runs {}", c.name);
        }
        for c in &step.apply {
            assert!(
                MUTATING.contains(&c.name.as_str()) || c.name == "Get-VariantSwitches",
                "{ctx}: -Apply runs {}",
                c.name
            );
        }
        let action = ps::action_of(step, what);
        let write = step.apply.iter().find(|c| MUTATING.contains(&c.name.as_str())).unwrap();
        let identity = write.arg("Identity").or(write.arg("Name"));
        if let Some(id) = identity {
            assert_eq!(
                id,
                &Value::Literal(step.target.clone()),
                "{ctx}: -Target and -Apply differ"
            );
        }
        // The read of the same object, by the same identity.
        let read = |name: &str, kind: Option<&str>| -> &Command {
            step.test
                .iter()
                .find(|c| {
                    c.name == name
                        && kind.is_none_or(|k| {
                            matches!(c.arg("Kind"), Some(Value::Other(v) | Value::Literal(v)) if v == k)
                        })
                })
                .unwrap_or_else(|| panic!("{ctx}: -Test does not read with {name} {kind:?}"))
        };
        let check = |property: &str, value: &Value| {
            assert!(
                step.checks.iter().any(|c| c.property == property && same(&c.value, value)),
                "{ctx}: -Test does not compare {property} with {value:?}: {:?}",
                step.checks
            );
        };
        let settings: Vec<(&str, &Value)> = write
            .args
            .iter()
            .filter(|(p, _, _)| {
                !["Identity", "Name", "Confirm", "ErrorAction", ""].contains(&p.as_str())
            })
            .map(|(p, _, v)| (p.as_str(), v.as_ref().unwrap()))
            .collect();
        match &action {
            plan::Action::NewPolicy { .. } => {
                let r = read("Get-PolicyByName", None);
                assert_eq!(r.arg("Name"), identity, "{ctx}: -Test reads another policy");
                assert!(step.test_text.contains("($null -ne $p)"), "{ctx}: no existence check");
                let copy = step.apply.iter().find(|c| c.name == "Get-VariantSwitches").unwrap();
                assert!(!copy.hash.is_empty(), "{ctx}: a variant that changes nothing");
                for (k, v) in &copy.hash {
                    check(k, v);
                }
            }
            plan::Action::SetPolicy { .. } => {
                let r = read("Get-PolicyByName", None);
                assert_eq!(r.arg("Name"), identity, "{ctx}: -Test reads another policy");
                assert!(!settings.is_empty(), "{ctx}: an edit that changes nothing");
                for (p, v) in settings {
                    check(p, v);
                }
            }
            plan::Action::RemovePolicy { .. } => {
                let r = read("Get-PolicyByName", None);
                assert_eq!(r.arg("Name"), identity, "{ctx}: -Test reads another policy");
                assert!(step.test_text.contains("($null -eq $p)"), "{ctx}: no absence check");
                read("Test-PolicyInUse", None);
            }
            plan::Action::SetOrgDefault { .. } => {
                read("Get-OrganizationConfig", None);
                for (p, v) in settings {
                    check(p, v);
                }
            }
            plan::Action::SetTransport { .. } => {
                read("Get-TransportConfig", None);
                for (p, v) in settings {
                    check(p, v);
                }
            }
            plan::Action::AssignPolicy { .. } | plan::Action::SetMailbox { .. } => {
                let kind = if step.cmdlet == "Set-User" { "User" } else { "CASMailbox" };
                let r = read("Get-Exact", Some(kind));
                assert_eq!(r.arg("Identity"), identity, "{ctx}: -Test reads another object");
                assert_eq!(settings.len(), 1, "{ctx}: {settings:?}");
                for (p, v) in settings {
                    check(p, v);
                }
                if kind == "User" {
                    assert_eq!(
                        step.policy_changed.as_ref(),
                        Some(&step.target),
                        "{ctx}: the token refresh is not told"
                    );
                }
            }
            plan::Action::RefreshTokens { .. } => {
                let key = ps::refresh_key(step)
                    .unwrap_or_else(|| panic!("{ctx}: the refresh waits for no change"));
                assert!(
                    steps.iter().any(|s| s.number < step.number
                        && s.policy_changed.as_deref() == Some(key.as_str())),
                    "{ctx}: no earlier step records the change {key:?} it waits for"
                );
            }
        }
    }
    // The exit code reflects failures: 1 when a step failed, 2 without a session.
    let epilogue = &script.text[script.text.rfind("Write-Progress -Activity").unwrap()..];
    assert!(
        epilogue.contains("if ($c['failed'] -gt 0) {")
            && epilogue.contains("exit 1\r\n}\r\nexit 0"),
        "{what}: the exit code does not reflect failures"
    );
    assert!(script.text.contains("$result = 'failed'"), "{what}: a failure is never recorded");
}

/// Every identity-like string of a tenant: what a script may address.
fn identities(s: &Snapshot) -> HashSet<String> {
    let mut out = HashSet::new();
    for m in s.mailboxes().iter() {
        out.insert(m.ids.key().to_string());
    }
    for u in s.users.iter().flatten() {
        out.insert(u.ids.key().to_string());
        out.extend(u.authentication_policy.as_deref().map(str::to_owned));
    }
    for p in s.policies.iter().flatten() {
        out.insert(p.name.clone());
    }
    out.extend(s.org.as_ref().and_then(|o| o.default_policy.clone()));
    out
}

fn header() -> Header {
    Header {
        tool_version: "test".into(),
        generated: "2026-11-25T00:00:00Z".into(),
        inputs: vec![("x/CasMailbox.csv".into(), "0".repeat(64))],
        name: "fix.ps1".into(),
    }
}

fn scripts_for(s: &Snapshot, what: &str) -> usize {
    let ids = identities(s);
    let mut checked = 0;
    for want in [Want::Allow, Want::Block] {
        for strategy in [Strategy::LeastPrivilege, Strategy::EditPolicies] {
            let o = Options {
                want,
                protocols: Protocol::ALL.to_vec(),
                environment: s.environment,
                as_of: time::macros::date!(2026 - 11 - 25),
                scope: Scope { identities: None, all_recipient_types: true },
                include_in_use: false,
            };
            let a = audit::audit(s, &o);
            let p = plan::plan(&a, strategy);
            let ctx = format!("{what} {want:?} {strategy:?}");
            let fix = powershell::fix_script(&p, &header()).unwrap();
            let (_, created) = check_script(&fix, &ids, &format!("{ctx} fix"));
            let known: HashSet<String> = ids.union(&created).cloned().collect();
            let rollback = powershell::rollback_script(&p, &header()).unwrap();
            check_script(&rollback, &known, &format!("{ctx} rollback"));
            // The text does what the plan says, step by step.
            let planned: Vec<_> = p.actions.iter().map(ps::executable).collect();
            assert_eq!(ps::actions(&fix, &ctx), planned, "{ctx}: fix script");
            let planned: Vec<_> = p.rollback().iter().map(ps::executable).collect();
            assert_eq!(ps::actions(&rollback, &ctx), planned, "{ctx}: rollback script");
            checked += p.actions.len();
        }
    }
    checked
}

#[test]
fn fixture_scripts_parse_and_address_only_input_identities() {
    for (rel, env) in [
        ("contoso", Environment::Online),
        ("contoso-list", Environment::Online),
        ("quirks/hostile-names", Environment::Online),
        ("quirks/exo-minimum", Environment::Online),
        ("onprem", Environment::OnPrem),
    ] {
        let loaded = exoauth::load::load(&fixture(rel), env).unwrap();
        assert!(scripts_for(&loaded.snapshot, rel) > 0, "{rel}: no changes to check");
    }
}

#[test]
fn generated_tenant_scripts_parse_and_address_only_input_identities() {
    // Seeds in parallel: mutation runs repeat this test for every mutant.
    let changes: usize = (0..40u64)
        .into_par_iter()
        .map(|seed| {
            let env = if seed % 4 == 3 { Environment::OnPrem } else { Environment::Online };
            let s = Snapshot::build(
                exoauth::generate::tenant(seed, 25, env),
                &mut Vec::new(),
                &mut Vec::new(),
            );
            scripts_for(&s, &format!("seed {seed}"))
        })
        .sum();
    assert!(changes > 500, "only {changes} changes checked");
}

const HOSTILE: [&str; 12] = [
    "x'; Remove-Mailbox -Identity boss; '",
    "x’; Invoke-Expression $evil; ‘",
    "‚low‛ and ‘both’ quotes''",
    "$(Stop-Computer -Force)",
    "`whoami` ${env:USERNAME}",
    "a; b | c & d > e",
    "@' here-string '@ @\" and \"@",
    "invoice\u{202E}fdp.exe",
    "\"double\" “smart” „low“ quotes",
    "-Identity boss -Confirm:$false",
    "# not a comment <# nor this #>",
    "Ünïcødé ÄÖÜ ß 漢字 עברית",
];

/// A tenant whose names, addresses and policy names are all hostile.
fn hostile_tenant(dir: &Path) {
    let long = "Ж".repeat(200);
    let mut names: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    names.push(long);
    let write = |name: &str, rows: Vec<Vec<String>>| {
        let mut w = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Always)
            .from_path(dir.join(name))
            .unwrap();
        for r in rows {
            w.write_record(&r).unwrap();
        }
        w.flush().unwrap();
    };
    let mut policies = vec![vec![
        "Name".into(),
        "AllowBasicAuthPop".into(),
        "AllowBasicAuthImap".into(),
        "AllowBasicAuthSmtp".into(),
    ]];
    for n in &names {
        policies.push(vec![n.clone(), "False".into(), "True".into(), "False".into()]);
    }
    write("AuthenticationPolicy.csv", policies);
    write(
        "OrganizationConfig.csv",
        vec![vec!["DefaultAuthenticationPolicy".into()], vec![names[0].clone()]],
    );
    write(
        "TransportConfig.csv",
        vec![vec!["SmtpClientAuthenticationDisabled".into()], vec!["True".into()]],
    );
    let mut users = vec![vec![
        "Guid".into(),
        "UserPrincipalName".into(),
        "AuthenticationPolicy".into(),
        "RecipientTypeDetails".into(),
        "AccountDisabled".into(),
    ]];
    let mut cas = vec![vec![
        "Guid".into(),
        "PrimarySmtpAddress".into(),
        "DisplayName".into(),
        "PopEnabled".into(),
        "ImapEnabled".into(),
        "SmtpClientAuthenticationDisabled".into(),
    ]];
    for (i, n) in names.iter().enumerate() {
        // No Guid: the identity is the (hostile) address itself.
        let address = format!("{n}@contoso.com");
        let policy = if i % 2 == 0 { n.clone() } else { String::new() };
        users.push(vec![
            String::new(),
            address.clone(),
            policy,
            "UserMailbox".into(),
            "False".into(),
        ]);
        cas.push(vec![
            String::new(),
            address,
            n.clone(),
            "False".into(),
            "True".into(),
            String::new(),
        ]);
    }
    write("User.csv", users);
    write("CasMailbox.csv", cas);
}

#[test]
fn hostile_names_round_trip_as_inert_literals() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tenant(dir.path());
    let loaded = exoauth::load::load(dir.path(), Environment::Online).unwrap();
    assert!(loaded.rejected.is_empty(), "{:?}", loaded.rejected);
    let ids = identities(&loaded.snapshot);
    for args in [&["--want", "allow"][..], &["--want", "block", "--strategy", "edit-policies"][..]]
    {
        let fix = dir.path().join("fix.ps1");
        let undo = dir.path().join("undo.ps1");
        exoauth()
            .arg("audit")
            .arg(dir.path())
            .args(args)
            .args(["--script", fix.to_str().unwrap(), "--rollback", undo.to_str().unwrap()])
            .assert()
            .success();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let (literals, created) =
            check_script(&std::fs::read(&fix).unwrap(), &ids, &format!("{args:?} fix"));
        seen.extend(literals);
        let known: HashSet<String> = ids.union(&created).cloned().collect();
        seen.extend(
            check_script(&std::fs::read(&undo).unwrap(), &known, &format!("{args:?} rollback")).0,
        );
        for h in HOSTILE {
            let address = format!("{h}@contoso.com");
            assert!(
                seen.contains(&address),
                "{args:?}: {address:?} did not round-trip as one literal"
            );
        }
    }
}

#[test]
fn control_characters_in_input_are_refused_with_the_row() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tenant(dir.path());
    let path = dir.path().join("CasMailbox.csv");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\"$(Stop-Computer -Force)\",\"False\"",
        "\"Bob\nRemove-Mailbox boss\",\"False\"",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let fix = dir.path().join("fix.ps1");
    exoauth()
        .arg("audit")
        .arg(dir.path())
        .args(["--script", fix.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "CasMailbox.csv:5: display name contains U+000A (a line break)",
        ));
    assert!(!fix.exists(), "a refused script must not be written");
    // The script is streamed into a partial file beside it: that goes too.
    assert!(!dir.path().join(".fix.ps1.partial").exists(), "a partial script was left");
}

#[test]
fn literal_decoder_catches_an_unescaped_curly_quote() {
    // The check above is only as good as this decoder: it must see what tree-sitter does not.
    assert_eq!(decode("'x''y'").unwrap(), "x'y");
    assert_eq!(decode("'x’’y'").unwrap(), "x’y");
    assert!(decode("'x’; Invoke-Expression $evil; ‘'").is_err());
}

#[test]
fn contoso_scripts_snapshot() {
    let (p, _) = contoso_fix();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap().replace("\r\n", "\n");
    insta::assert_snapshot!("contoso_fix", text(powershell::fix_script(&p, &header()).unwrap()));
    insta::assert_snapshot!(
        "contoso_rollback",
        text(powershell::rollback_script(&p, &header()).unwrap())
    );
}

#[test]
fn report_states_blast_radius_and_manual_steps() {
    let dir = tempfile::tempdir().unwrap();
    let fix = dir.path().join("fix.ps1");
    let out = exoauth()
        .args([
            "audit",
            "fixtures/contoso",
            "--format",
            "json",
            "--strategy",
            "edit-policies",
            "--script",
        ])
        .arg(&fix)
        .output()
        .unwrap();
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let plan = &r["plan"];
    assert_eq!(plan["strategy"], "edit-policies");
    let radius = plan["blast_radius"].as_array().unwrap();
    let tenant = radius.iter().find(|b| b["edit"] == "the tenant SMTP AUTH switch").unwrap();
    assert!(tenant["other_mailboxes"].as_u64().unwrap() > 0);
    assert!(radius.iter().any(|b| b["edit"] == "policy \"Block Basic Auth\""));
    let manual = plan["manual_steps"].as_array().unwrap();
    assert!(
        manual
            .iter()
            .any(|m| m["code"] == "policy-not-found"
                && m["mailboxes"].as_array().unwrap().len() == 2)
    );
    let script = String::from_utf8(std::fs::read(&fix).unwrap()).unwrap();
    assert!(script.contains("# Blast radius: editing the tenant SMTP AUTH switch also changes"));
    // Without --script the report has no plan key: the audit-v1 shape is unchanged.
    let (plain, _) = crate::util::audit_json(&fixture("contoso"), &[]);
    assert!(plain.get("plan").is_none());
}

/// The contoso fix script, read back.
fn contoso_fix() -> (plan::Plan, Script) {
    let loaded = exoauth::load::load(&fixture("contoso"), Environment::Online).unwrap();
    let o = Options {
        want: Want::Allow,
        protocols: Protocol::ALL.to_vec(),
        environment: Environment::Online,
        as_of: time::macros::date!(2026 - 11 - 25),
        scope: Scope::default(),
        include_in_use: false,
    };
    let p = plan::plan(&audit::audit(&loaded.snapshot, &o), Strategy::LeastPrivilege);
    let script = Script::parse(&powershell::fix_script(&p, &header()).unwrap(), "contoso fix");
    (p, script)
}

/// The text of the function `name` in a script.
fn function<'s>(script: &'s Script, name: &str) -> &'s str {
    script
        .nodes()
        .into_iter()
        .find(|n| {
            n.kind() == "function_statement"
                && n.child_by_field_name("function_name")
                    .or_else(|| n.named_child(0))
                    .is_some_and(|f| script.node_text(f) == name)
        })
        .map(|n| script.node_text(n))
        .unwrap_or_else(|| panic!("no function {name}"))
}

/// Exchange Online throttles long runs: what the script retries and what it does
/// not is decided by `Get-FailureKind` from two word lists in the script. This
/// reads both lists and the function's order (permanent first, anything unknown
/// permanent) from the text and classifies real error records as Exchange and
/// PowerShell word them: (exception type, FullyQualifiedErrorId, message).
#[test]
fn failures_are_classified_from_the_script_text() {
    let (_, script) = contoso_fix();
    let transient = script.string_array("$script:TransientErrors");
    let permanent = script.string_array("$script:PermanentErrors");
    let body = function(&script, "Get-FailureKind");
    let (p, t) = (
        body.find("foreach ($pattern in $script:PermanentErrors)").expect("permanent loop"),
        body.find("foreach ($pattern in $script:TransientErrors)").expect("transient loop"),
    );
    assert!(p < t, "permanent patterns must be checked first");
    assert!(body.trim_end().ends_with("'permanent'\r\n}"), "the unknown must be permanent");
    assert!(body.contains("[System.StringComparison]::OrdinalIgnoreCase"));
    let kind = |text: &str| {
        let hit =
            |list: &[String]| list.iter().any(|w| text.to_lowercase().contains(&w.to_lowercase()));
        if hit(&permanent) {
            "permanent"
        } else if hit(&transient) {
            "transient"
        } else {
            "permanent"
        }
    };
    let cases = [
        (
            "System.Exception ServerBusyException Micro delay applied. Actual delay: 00:00:02.8765. Required delay: 00:00:05.",
            "transient",
        ),
        ("System.Exception Server Busy The server is busy. Please try again later.", "transient"),
        (
            "System.Net.Http.HttpRequestException x Response status code does not indicate success: 429 (Too Many Requests).",
            "transient",
        ),
        ("System.Net.WebException x The operation has timed out.", "transient"),
        (
            "System.Exception x Fail to create a runspace because you have exceeded the maximum number of connections allowed : 3 for the policy party : MaxConcurrency.",
            "transient",
        ),
        (
            "System.Net.WebException x The underlying connection was closed: An unexpected error occurred on a receive.",
            "transient",
        ),
        ("System.Net.WebException x Unable to connect to the remote server", "transient"),
        (
            "System.Exception x The remote server returned an error: (503) Server Unavailable.",
            "transient",
        ),
        (
            "System.Management.Automation.RemoteException Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object '8cf83133' couldn't be found on 'AM0PR01A001.eurprd01.prod.exchangelabs.com'.",
            "permanent",
        ),
        ("System.UnauthorizedAccessException x Access is denied.", "permanent"),
        (
            "System.Management.Automation.ParameterBindingException NamedParameterNotFound,New-AuthenticationPolicy A parameter cannot be found that matches parameter name 'BlockModernAuthPop'.",
            "permanent",
        ),
        (
            "System.Exception x The authentication policy 'exoauth-1 allow-pop x' already exists. Please try again later.",
            "permanent",
        ),
        (
            "System.Management.Automation.CommandNotFoundException x The term 'Set-CASMailbox' is not recognized as the name of a cmdlet",
            "permanent",
        ),
        ("System.Exception x Something nobody planned for happened.", "permanent"),
    ];
    for (text, want) in cases {
        assert_eq!(kind(text), want, "{text}");
    }
    // The retry loop checks again before it applies again (an attempt that timed
    // out may have landed), asks ShouldProcess once, and backs off exponentially.
    let invoke = function(&script, "Invoke-Change");
    let loop_start = invoke.find("while ($true)").expect("retry loop");
    let test = invoke[loop_start..].find("if (& $Test)").expect("test in the loop");
    let apply = invoke[loop_start..].find("$null = & $Apply").expect("apply in the loop");
    assert!(test < apply);
    assert!(
        invoke.contains("if ($null -eq $approved) { $approved = $script:Caller.ShouldProcess(")
    );
    assert!(invoke.contains(
        "(Get-FailureKind -ErrorRecord $_) -eq 'permanent' -or $attempt -ge $MaxAttempts"
    ));
    assert!(invoke.contains("$RetryDelaySeconds * [Math]::Pow(2, $attempt - 1)"));
}

/// A run that stops half-way (throttling, a closed session) resumes with
/// `-ResumeFrom LOG`: read from the script text, every step is logged as it
/// ends (not at the end of the run), with the script's plan id; a log of
/// another script is refused; only steps logged as applied or unchanged are
/// skipped, and a skipped assignment still lets its token refresh run.
#[test]
fn resume_skips_only_what_this_script_did() {
    let (p, script) = contoso_fix();
    assert!(script.text.contains("[string] $ResumeFrom,"), "no -ResumeFrom parameter");
    let invoke = function(&script, "Invoke-Change");
    let log = invoke.find("Export-Csv -LiteralPath $script:LogPath -Append").expect("per-step log");
    let row = &invoke[..log];
    for column in ["Plan = $script:PlanId", "Step = $Step", "Result = $result"] {
        assert!(row.contains(column), "the log row lacks {column}");
    }
    assert!(
        !script.text[script.text.rfind("Write-Progress -Activity").unwrap()..]
            .contains("Export-Csv")
    );
    let done = invoke.find("if ($script:Done.ContainsKey($Step)) {").expect("resume branch");
    let (skip, run) = invoke[done..].split_at(invoke[done..].find("} else {").unwrap());
    assert!(!skip.contains("& $Test") && !skip.contains("& $Apply"), "a resumed step runs");
    assert!(skip.contains("if ($PolicyChanged -and $result -eq 'applied') { $script:PolicyChanged[$PolicyChanged] = $true }"));
    assert!(run.contains("& $Test") && run.contains("& $Apply"));
    let loader = &script.text[script.text.find("if ($ResumeFrom) {").unwrap()..];
    let loader = &loader[..loader.find("\r\n}\r\n").unwrap()];
    assert!(loader.contains("Import-Csv -LiteralPath $ResumeFrom"));
    assert!(loader.contains("if ($row.Plan -ne $script:PlanId) {") && loader.contains("exit 2"));
    assert!(loader.contains("if ($row.Result -eq 'applied' -or $row.Result -eq 'unchanged') { $script:Done[[int]$row.Step] = $row.Result }"));
    // The plan id names these very steps: stable, and different for the rollback
    // and for another plan.
    let id = |bytes: Vec<u8>| {
        let text = String::from_utf8(bytes).unwrap();
        let at = text.find("$script:PlanId = '").unwrap() + 18;
        text[at..at + 16].to_owned()
    };
    let fix = id(powershell::fix_script(&p, &header()).unwrap());
    assert_eq!(fix, id(powershell::fix_script(&p, &header()).unwrap()));
    assert_ne!(fix, id(powershell::rollback_script(&p, &header()).unwrap()));
    let mut fewer = p.clone();
    fewer.actions.pop();
    assert_ne!(fix, id(powershell::fix_script(&fewer, &header()).unwrap()));
}

/// The helpers every check goes through, read from the script text: a `Get-*`
/// given a missing or `$null` identity may return every object
/// (Get-AuthenticationPolicy.md, Get-User.md, Get-CASMailbox.md), so policies
/// are listed and matched by exact `Name`, users and mailboxes are filtered to
/// the one whose identifier equals the one asked for, and anything but exactly
/// one match is an error. A variant copies only switches the server's
/// `New-AuthenticationPolicy` takes, refuses a source that shows no value, and
/// applies the changed switches last.
#[test]
fn existence_checks_match_exactly_and_variants_copy_the_live_policy() {
    let (_, script) = contoso_fix();
    let policy = function(&script, "Get-PolicyByName");
    assert!(policy.contains(
        "@(Get-AuthenticationPolicy -ErrorAction Stop | Where-Object { $_.Name -eq $Name })"
    ));
    assert!(!policy.contains("-Identity"), "a policy is never read by -Identity");
    assert!(policy.contains("if ($found.Count -gt 1) { throw"));
    let exact = function(&script, "Get-Exact");
    assert!(exact.contains("[ValidateNotNullOrEmpty()] [string] $Identity"));
    assert!(exact.contains(
        "@($objects | Where-Object { Test-Identity -InputObject $_ -Identity $Identity })"
    ));
    assert!(exact.contains("if ($found.Count -ne 1) { throw"));
    let identity = function(&script, "Test-Identity");
    assert!(identity.contains("[string]$property.Value -eq $Identity) { return $true }"));
    assert!(identity.trim_end().ends_with("$false\r\n}"));
    let copy = function(&script, "Get-VariantSwitches");
    assert!(copy.contains(
        "(Get-Command -Name 'New-AuthenticationPolicy' -ErrorAction Stop).Parameters.Keys | Where-Object { $_ -match '^(AllowBasicAuth|BlockLegacyAuth|BlockModernAuth)' }"
    ));
    assert!(copy.contains("if ($null -eq $property -or ($null -eq $property.Value -and $name -like 'AllowBasicAuth*')) {\r\n                throw"));
    assert!(copy.contains(
        "foreach ($name in $accepted) { $switches[$name] = $name -like 'AllowBasicAuth*' }"
    ));
    let last =
        copy.rfind("foreach ($name in $Set.Keys) { $switches[$name] = $Set[$name] }").unwrap();
    assert!(last > copy.find("$policy = Get-PolicyByName -Name $Source").unwrap());
}
