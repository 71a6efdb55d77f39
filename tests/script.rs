//! The generated scripts, read back with tree-sitter-powershell: they parse, use
//! only the allowed cmdlets with literal arguments, address only identities that
//! came from the input, are ordered correctly, and survive hostile names.
//!
//! tree-sitter's grammar does not treat the curly single quotes as string
//! delimiters although PowerShell does, so every literal is decoded here by the
//! language specification's rules (any of `'` U+2018 U+2019 U+201A U+201B ends a
//! verbatim string unless doubled): an unescaped curly quote fails the decode.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use tree_sitter::{Node, Parser};

use exoauth::audit::{self, Options, Scope, Want};
use exoauth::emit::powershell::{self, Header};
use exoauth::model::{Environment, Protocol, Snapshot};
use exoauth::plan::{self, Strategy};

use crate::util::{exoauth, fixture};

const QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

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
const SCAFFOLD: [&str; 12] = [
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
];

/// Decodes a verbatim literal by the PowerShell rules, or says why it is not one.
fn decode(text: &str) -> Result<String, String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 2 || !QUOTES.contains(&chars[0]) || !QUOTES.contains(&chars[chars.len() - 1]) {
        return Err(format!("not a single-quoted literal: {text}"));
    }
    let inner = &chars[1..chars.len() - 1];
    let mut out = String::new();
    let mut i = 0;
    while i < inner.len() {
        if QUOTES.contains(&inner[i]) {
            if i + 1 < inner.len() && QUOTES.contains(&inner[i + 1]) {
                out.push(inner[i]);
                i += 2;
                continue;
            }
            return Err(format!("unescaped quote {:?} ends the literal early: {text}", inner[i]));
        }
        out.push(inner[i]);
        i += 1;
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Literal(String),
    Variable(String),
    Other(String),
}

#[derive(Debug)]
struct Command {
    name: String,
    /// (parameter without dash, colon form, value)
    args: Vec<(String, bool, Option<Value>)>,
    /// Byte offset, for ordering.
    at: usize,
}

fn value(node: Node, src: &[u8]) -> Value {
    let text = node.utf8_text(src).unwrap().to_owned();
    let mut cursor = node.walk();
    let mut n = node;
    while matches!(n.kind(), "array_literal_expression" | "unary_expression" | "string_literal")
        && n.named_child_count() == 1
    {
        n = n.named_child(0).unwrap();
    }
    let _ = &mut cursor;
    match n.kind() {
        "verbatim_string_characters" => {
            Value::Literal(decode(&text).unwrap_or_else(|e| panic!("{e}")))
        }
        "variable" => Value::Variable(text),
        _ => Value::Other(text),
    }
}

fn commands(node: Node, src: &[u8], out: &mut Vec<Command>) {
    if node.kind() == "command" {
        let name =
            node.child_by_field_name("command_name").unwrap().utf8_text(src).unwrap().to_owned();
        let mut args: Vec<(String, bool, Option<Value>)> = Vec::new();
        let mut colon = false;
        if let Some(elements) = node.child_by_field_name("command_elements") {
            let mut c = elements.walk();
            for e in elements.named_children(&mut c) {
                match e.kind() {
                    "command_parameter" => {
                        args.push((
                            e.utf8_text(src).unwrap().trim_start_matches('-').to_owned(),
                            false,
                            None,
                        ));
                        colon = false;
                    }
                    "command_argument_sep" => colon = e.utf8_text(src).unwrap() == ":",
                    _ => {
                        let v = value(e, src);
                        match args.last_mut() {
                            Some(last) if last.2.is_none() => {
                                last.1 = colon;
                                last.2 = Some(v);
                            }
                            _ => args.push((String::new(), false, Some(v))),
                        }
                    }
                }
            }
        }
        out.push(Command { name, args, at: node.start_byte() });
    }
    let mut c = node.walk();
    for child in node.named_children(&mut c) {
        commands(child, src, out);
    }
}

fn first_error(node: Node) -> Option<Node> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut c = node.walk();
    node.children(&mut c).find_map(first_error)
}

/// Parses a script and checks it against the identities that came from input
/// (and, for a rollback, the variants its fix script creates). Returns the decoded
/// literals of the Exchange commands and the variants the script creates.
fn check_script(
    bytes: &[u8],
    identities: &HashSet<String>,
    what: &str,
) -> (Vec<String>, HashSet<String>) {
    let text = std::str::from_utf8(
        bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or_else(|| panic!("{what}: no UTF-8 BOM")),
    )
    .unwrap();
    assert!(text.contains("#Requires -Version 5.1\r\n[CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]\r\nparam()"), "{what}");
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_powershell::LANGUAGE.into()).unwrap();
    let tree = parser.parse(text, None).unwrap();
    if let Some(e) = first_error(tree.root_node()) {
        panic!(
            "{what}: syntax error at {:?}: {:?}",
            e.start_position(),
            e.utf8_text(text.as_bytes())
        );
    }
    let mut cmds = Vec::new();
    commands(tree.root_node(), text.as_bytes(), &mut cmds);
    let created: HashSet<String> = cmds
        .iter()
        .filter(|c| c.name == "New-AuthenticationPolicy")
        .filter_map(|c| c.args.iter().find(|a| a.0 == "Name"))
        .filter_map(|a| match &a.2 {
            Some(Value::Literal(n)) => Some(n.clone()),
            _ => None,
        })
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
            match c.args.iter().find(|a| a.0 == "Target").and_then(|a| a.2.clone()) {
                Some(Value::Literal(t)) => {
                    assert!(known(&t), "{what}: -Target {t:?} is not an input identity")
                }
                other => panic!("{what}: -Target is {other:?}"),
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
    // Order: a variant exists before anyone is assigned it, an assignment comes
    // before its user's token refresh.
    let applied: Vec<&Command> =
        cmds.iter().filter(|c| c.name.starts_with("New-") || c.name.starts_with("Set-")).collect();
    for c in &applied {
        let Some(Some(Value::Literal(p))) =
            c.args.iter().find(|a| a.0 == "AuthenticationPolicy").map(|a| a.2.clone())
        else {
            continue;
        };
        if let Some(new) = applied.iter().find(|n| {
            n.name == "New-AuthenticationPolicy"
                && n.args.iter().any(|a| a.2 == Some(Value::Literal(p.clone())))
        }) {
            assert!(new.at < c.at, "{what}: {p} assigned before it is created");
        }
        let id = c.args.iter().find(|a| a.0 == "Identity").and_then(|a| a.2.clone());
        if let Some(refresh) = applied.iter().find(|r| {
            r.args.iter().any(|a| a.0 == "STSRefreshTokensValidFrom")
                && r.args.iter().any(|a| a.0 == "Identity" && a.2 == id)
        }) {
            assert!(c.at < refresh.at, "{what}: token refresh before the assignment of {id:?}");
        }
    }
    (literals, created)
}

/// Every identity-like string of a tenant: what a script may address.
fn identities(s: &Snapshot) -> HashSet<String> {
    let mut out = HashSet::new();
    for m in &s.mailboxes {
        out.insert(m.ids.key().to_owned());
    }
    for u in s.users.iter().flatten() {
        out.insert(u.ids.key().to_owned());
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
            };
            let a = audit::audit(s, &o);
            let p = plan::plan(&a, strategy);
            let ctx = format!("{what} {want:?} {strategy:?}");
            let (_, created) = check_script(
                &powershell::fix_script(&p, &header()).unwrap(),
                &ids,
                &format!("{ctx} fix"),
            );
            let known: HashSet<String> = ids.union(&created).cloned().collect();
            check_script(
                &powershell::rollback_script(&p, &header()).unwrap(),
                &known,
                &format!("{ctx} rollback"),
            );
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
        let loaded = exoauth::export::load(&fixture(rel), env).unwrap();
        assert!(scripts_for(&loaded.snapshot, rel) > 0, "{rel}: no changes to check");
    }
}

#[test]
fn generated_tenant_scripts_parse_and_address_only_input_identities() {
    let mut changes = 0;
    for seed in 0..40u64 {
        let env = if seed % 4 == 3 { Environment::OnPrem } else { Environment::Online };
        let s = Snapshot::build(
            exoauth::generate::tenant(seed, 25, env),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        changes += scripts_for(&s, &format!("seed {seed}"));
    }
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
    let loaded = exoauth::export::load(dir.path(), Environment::Online).unwrap();
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
    let loaded = exoauth::export::load(&fixture("contoso"), Environment::Online).unwrap();
    let o = Options {
        want: Want::Allow,
        protocols: Protocol::ALL.to_vec(),
        environment: Environment::Online,
        as_of: time::macros::date!(2026 - 11 - 25),
        scope: Scope::default(),
    };
    let a = audit::audit(&loaded.snapshot, &o);
    let p = plan::plan(&a, Strategy::LeastPrivilege);
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
