//! The companion export scripts: each parses as PowerShell (tree-sitter-powershell,
//! no ERROR or MISSING node), and the properties it selects for each file are
//! exactly the columns exoauth reads, `Cmdlet::columns(env)`: one list, kept in
//! the Rust code, that the scripts must follow.

use exoauth::model::Environment;
use exoauth::model::columns::Cmdlet;
use tree_sitter::{Node, Parser, Tree};

use crate::ps::nodes;
use crate::util::root;

struct Script {
    text: String,
    tree: Tree,
}

impl Script {
    fn load(name: &str) -> Script {
        let text = std::fs::read_to_string(root().join("scripts").join(name)).expect("script");
        let mut parser = Parser::new();
        parser.set_language(&tree_sitter_powershell::LANGUAGE.into()).expect("grammar");
        let tree = parser.parse(&text, None).expect("parse");
        Script { text, tree }
    }

    fn text(&self, node: Node<'_>) -> &str {
        &self.text[node.byte_range()]
    }
}

fn assert_parses(name: &str, script: &Script) {
    let bad: Vec<String> = nodes(script.tree.root_node())
        .into_iter()
        .filter(|n| n.is_error() || n.is_missing())
        .map(|n| {
            let p = n.start_position();
            format!("{name}:{}:{}: {} {:?}", p.row + 1, p.column + 1, n.kind(), script.text(n))
        })
        .collect();
    assert!(bad.is_empty(), "syntax errors:\n{}", bad.join("\n"));
}

/// The `$Columns = [ordered]@{ Stem = @('A', 'B') ... }` table: (stem, names).
fn column_table(script: &Script) -> Vec<(String, Vec<String>)> {
    let all = nodes(script.tree.root_node());
    let assignment = all
        .iter()
        .find(|n| {
            n.kind() == "assignment_expression"
                && n.child(0).is_some_and(|left| script.text(left).trim() == "$Columns")
        })
        .expect("a `$Columns = ...` assignment");
    nodes(*assignment)
        .into_iter()
        .filter(|n| n.kind() == "hash_entry")
        .map(|entry| {
            let key = nodes(entry)
                .into_iter()
                .find(|n| n.kind() == "key_expression")
                .map(|k| script.text(k).trim().to_owned())
                .expect("key");
            let names = nodes(entry)
                .into_iter()
                .filter(|n| n.kind() == "string_literal")
                .map(|s| script.text(s).trim_matches(['\'', '"']).to_owned())
                .collect();
            (key, names)
        })
        .collect()
}

/// Commands by name (case-insensitive), with their full text.
fn commands<'a>(script: &'a Script, name: &str) -> Vec<&'a str> {
    nodes(script.tree.root_node())
        .into_iter()
        .filter(|n| n.kind() == "command")
        .filter(|n| {
            n.child_by_field_name("command_name")
                .is_some_and(|c| script.text(c).eq_ignore_ascii_case(name))
        })
        .map(|n| script.text(n))
        .collect()
}

fn check(name: &str, env: Environment, stems: &[Cmdlet], sign_ins: bool) {
    let script = Script::load(name);
    assert_parses(name, &script);

    let table = column_table(&script);
    let mut want: Vec<(String, Vec<String>)> = stems
        .iter()
        .map(|c| (c.stem().to_owned(), c.columns(env).into_iter().map(str::to_owned).collect()))
        .collect();
    if sign_ins {
        // The sign-in export is read by the evidence reader, by its own columns.
        want.push((
            "SignIns".into(),
            exoauth::evidence::COMPANION_COLUMNS.iter().map(|c| c.to_string()).collect(),
        ));
    }
    assert_eq!(table, want, "{name}: $Columns must equal Cmdlet::columns({env:?})");

    // Every property selection goes through $Columns, and every file is written.
    for select in commands(&script, "Select-Object") {
        if select.contains("-Property") {
            assert!(select.contains("$Columns["), "{name}: {select}");
        }
    }
    for (stem, _) in &table {
        let written = [" ", "\r\n", "\n"]
            .iter()
            .any(|end| script.text.contains(&format!("-Name {stem}{end}")));
        assert!(written, "{name}: {stem} is never written");
    }
    // The cmdlets' default -ResultSize 1000 silently cuts large tenants, and
    // collecting a large tenant's mailboxes into an array (`@(Get-User ...)`)
    // holds them all in memory: they are streamed into Export-Csv instead.
    for cmdlet in ["Get-EXOCasMailbox", "Get-CASMailbox", "Get-User"] {
        assert!(
            !script.text.contains(&format!("@({cmdlet}")),
            "{name}: {cmdlet} output is collected, not streamed"
        );
        for call in commands(&script, cmdlet) {
            assert!(call.contains("-ResultSize Unlimited"), "{name}: {call}");
        }
    }
    // Comment-based help, with every parameter described.
    assert!(script.text.starts_with("<#"), "{name}: no comment-based help");
    for keyword in [".SYNOPSIS", ".DESCRIPTION", ".EXAMPLE"] {
        assert!(script.text.contains(keyword), "{name}: no {keyword}");
    }
    let in_function = |n: &Node<'_>| {
        let mut up = n.parent();
        while let Some(p) = up {
            if p.kind() == "function_statement" {
                return true;
            }
            up = p.parent();
        }
        false
    };
    for param in nodes(script.tree.root_node())
        .into_iter()
        .filter(|n| n.kind() == "script_parameter" && !in_function(n))
    {
        let variable = nodes(param)
            .into_iter()
            .find(|n| n.kind() == "variable")
            .map(|v| script.text(v).trim_start_matches('$').to_owned())
            .expect("parameter variable");
        if nodes(param).iter().any(|n| n.kind() == "attribute_list" || n.kind() == "type_literal") {
            assert!(
                script.text.contains(&format!(".PARAMETER {variable}")),
                "{name}: parameter {variable} is not described"
            );
        }
    }
}

#[test]
fn online_script_selects_exactly_the_columns_exoauth_reads() {
    check("Export-ExoAuthInventory.ps1", Environment::Online, &Cmdlet::ALL, true);
    let script = Script::load("Export-ExoAuthInventory.ps1");
    let cas = commands(&script, "Get-EXOCasMailbox");
    assert_eq!(cas.len(), 1);
    assert!(
        cas[0].contains(
            "-PropertySets Minimum, Pop, Imap -Properties ExternalDirectoryObjectId, SmtpClientAuthenticationDisabled"
        ),
        "{}",
        cas[0]
    );
    // ConvertTo-Json's default -Depth 2 cuts Conditional Access conditions.
    for json in commands(&script, "ConvertTo-Json") {
        assert!(json.contains("-Depth"), "{json}");
    }
    assert!(
        commands(&script, "Export-Csv")
            .iter()
            .all(|c| c.contains("-NoTypeInformation -Encoding UTF8"))
    );
}

#[test]
fn onprem_script_selects_exactly_the_columns_exoauth_reads() {
    // No TransportConfig: nothing in it is read on premises.
    assert!(Cmdlet::TransportConfig.columns(Environment::OnPrem).is_empty());
    check(
        "Export-ExoAuthInventory.OnPrem.ps1",
        Environment::OnPrem,
        &[
            Cmdlet::AuthenticationPolicy,
            Cmdlet::OrganizationConfig,
            Cmdlet::CasMailbox,
            Cmdlet::User,
        ],
        false,
    );
}

#[test]
fn a_broken_script_is_caught() {
    // The check itself works: an unclosed hashtable is a syntax error.
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_powershell::LANGUAGE.into()).unwrap();
    let tree = parser.parse("$Columns = @{ A = @('x'\n", None).unwrap();
    assert!(nodes(tree.root_node()).iter().any(|n| n.is_error() || n.is_missing()));
}
