//! Reads an emitted remediation or rollback script back, with
//! tree-sitter-powershell, into what it *does*: one [`Step`] per `Invoke-Change`
//! (its `-Test` and `-Apply` blocks taken apart), and the [`Action`]s its
//! `-Apply` blocks carry out. The closed-loop tests apply those actions, so they
//! cover the text users run, not only the plan it was written from.
//!
//! tree-sitter's grammar does not treat the curly single quotes as string
//! delimiters although PowerShell does, so every literal is decoded here by the
//! language specification's rules (any of `'` U+2018 U+2019 U+201A U+201B ends a
//! verbatim string unless doubled): an unescaped curly quote fails the decode.

use tree_sitter::{Node, Parser, Tree};

use exoauth::model::Setting;
use exoauth::plan::{Action, Cause, MailboxSetting, Target};

const QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// Decodes a verbatim literal by the PowerShell rules, or says why it is not one.
pub fn decode(text: &str) -> Result<String, String> {
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

/// An argument or operand: a decoded literal, a variable, or other code.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Literal(String),
    Variable(String),
    Other(String),
}

impl Value {
    /// `$true`, `$false` or `$null` as a setting.
    pub fn setting(&self) -> Option<Setting> {
        match self {
            Value::Variable(v) if v.eq_ignore_ascii_case("$true") => Some(Setting::Value(true)),
            Value::Variable(v) if v.eq_ignore_ascii_case("$false") => Some(Setting::Value(false)),
            Value::Variable(v) if v.eq_ignore_ascii_case("$null") => Some(Setting::Null),
            _ => None,
        }
    }

    pub fn literal(&self) -> Option<&str> {
        match self {
            Value::Literal(l) => Some(l),
            _ => None,
        }
    }
}

/// One command invocation.
#[derive(Debug, Clone)]
pub struct Command {
    pub name: String,
    /// (parameter without dash, colon form, value)
    pub args: Vec<(String, bool, Option<Value>)>,
    /// Byte range, for ordering and nesting.
    pub range: std::ops::Range<usize>,
    /// `key = value` entries of hashtable arguments (`-Set @{ A = $true }`).
    pub hash: Vec<(String, Value)>,
}

impl Command {
    /// The value of `-name`.
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.iter().find(|a| a.0.eq_ignore_ascii_case(name)).and_then(|a| a.2.as_ref())
    }

    pub fn has(&self, name: &str) -> bool {
        self.args.iter().any(|a| a.0.eq_ignore_ascii_case(name))
    }
}

/// A comparison read by a `-Test` block: `<...>.Property -eq value`, or
/// `-not <...>.Property` (value `$null`).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub property: String,
    pub value: Value,
}

/// One `Invoke-Change`.
#[derive(Debug, Clone)]
pub struct Step {
    pub number: usize,
    pub cmdlet: String,
    pub target: String,
    pub policy_changed: Option<String>,
    /// Commands of the `-Test` block.
    pub test: Vec<Command>,
    /// Comparisons of the `-Test` block.
    pub checks: Vec<Check>,
    /// The `-Test` block's text.
    pub test_text: String,
    /// Commands of the `-Apply` block.
    pub apply: Vec<Command>,
    pub apply_range: std::ops::Range<usize>,
}

/// A parsed script.
pub struct Script {
    pub text: String,
    pub tree: Tree,
}

/// Cmdlets that change the tenant.
pub const MUTATING: [&str; 7] = [
    "New-AuthenticationPolicy",
    "Set-AuthenticationPolicy",
    "Remove-AuthenticationPolicy",
    "Set-CASMailbox",
    "Set-User",
    "Set-TransportConfig",
    "Set-OrganizationConfig",
];

impl Script {
    /// Parses script bytes (UTF-8 with BOM); panics on a missing BOM or a syntax error.
    pub fn parse(bytes: &[u8], what: &str) -> Script {
        let text = std::str::from_utf8(
            bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or_else(|| panic!("{what}: no UTF-8 BOM")),
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .to_owned();
        let mut parser = Parser::new();
        parser.set_language(&tree_sitter_powershell::LANGUAGE.into()).unwrap();
        let tree = parser.parse(&text, None).unwrap();
        if let Some(e) = first_error(tree.root_node()) {
            panic!(
                "{what}: syntax error at {:?}: {:?}",
                e.start_position(),
                e.utf8_text(text.as_bytes())
            );
        }
        Script { text, tree }
    }

    fn src(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// Every command of the script, in order.
    pub fn commands(&self) -> Vec<Command> {
        let mut out = Vec::new();
        commands(self.tree.root_node(), self.src(), &mut out);
        out
    }

    /// Every node, depth first.
    pub fn nodes(&self) -> Vec<Node<'_>> {
        nodes(self.tree.root_node())
    }

    pub fn node_text(&self, node: Node<'_>) -> &str {
        &self.text[node.byte_range()]
    }

    /// The `Invoke-Change` steps, in order.
    pub fn steps(&self, what: &str) -> Vec<Step> {
        let mut steps = Vec::new();
        for node in self.nodes() {
            if node.kind() != "command" || self.command_name(node) != "Invoke-Change" {
                continue;
            }
            let mut blocks: Vec<(String, Node)> = Vec::new();
            let mut last_param = String::new();
            let elements = node.child_by_field_name("command_elements").unwrap();
            let mut c = elements.walk();
            for e in elements.named_children(&mut c) {
                if e.kind() == "command_parameter" {
                    last_param = self.node_text(e).trim_start_matches('-').to_owned();
                } else if e.kind() != "command_argument_sep" {
                    blocks.push((last_param.clone(), e));
                }
            }
            let arg = |name: &str| blocks.iter().find(|(p, _)| p == name).map(|(_, n)| *n);
            let lit = |name: &str| {
                arg(name).map(|n| match value(n, self.src()) {
                    Value::Literal(l) => l,
                    other => panic!("{what}: Invoke-Change -{name} is {other:?}"),
                })
            };
            let test = arg("Test").unwrap_or_else(|| panic!("{what}: Invoke-Change without -Test"));
            let apply =
                arg("Apply").unwrap_or_else(|| panic!("{what}: Invoke-Change without -Apply"));
            // The argument wraps the block: the whole argument must be that one block.
            fn block<'t>(n: Node<'t>, name: &str, what: &str) -> Node<'t> {
                let b = nodes(n)
                    .into_iter()
                    .find(|b| b.kind() == "script_block_expression")
                    .unwrap_or_else(|| panic!("{what}: -{name} is not a block"));
                assert_eq!(b.byte_range(), n.byte_range(), "{what}: -{name} is more than a block");
                b
            }
            let (test, apply) = (block(test, "Test", what), block(apply, "Apply", what));
            let mut test_cmds = Vec::new();
            commands(test, self.src(), &mut test_cmds);
            let mut apply_cmds = Vec::new();
            commands(apply, self.src(), &mut apply_cmds);
            steps.push(Step {
                number: self.node_text(arg("Step").unwrap()).parse().unwrap(),
                cmdlet: lit("Cmdlet").unwrap(),
                target: lit("Target").unwrap(),
                policy_changed: lit("PolicyChanged"),
                test: test_cmds,
                checks: checks(test, self.src()),
                test_text: self.node_text(test).to_owned(),
                apply: apply_cmds,
                apply_range: apply.byte_range(),
            });
        }
        steps
    }

    fn command_name(&self, node: Node<'_>) -> String {
        node.child_by_field_name("command_name")
            .map(|n| self.node_text(n).to_owned())
            .unwrap_or_default()
    }

    /// The decoded single-quoted strings of `$name = @('a', 'b')`.
    pub fn string_array(&self, name: &str) -> Vec<String> {
        let assignment = self
            .nodes()
            .into_iter()
            .find(|n| {
                n.kind() == "assignment_expression"
                    && n.child(0).is_some_and(|l| self.node_text(l).trim() == name)
            })
            .unwrap_or_else(|| panic!("no assignment to {name}"));
        nodes(assignment)
            .into_iter()
            .filter(|n| n.kind() == "verbatim_string_characters")
            .map(|n| decode(self.node_text(n)).unwrap())
            .collect()
    }
}

fn first_error(node: Node) -> Option<Node> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut c = node.walk();
    node.children(&mut c).find_map(first_error)
}

/// Every node under `node`, depth first.
pub fn nodes(node: Node<'_>) -> Vec<Node<'_>> {
    let mut out = vec![node];
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        out.extend(nodes(child));
    }
    out
}

fn value(node: Node, src: &[u8]) -> Value {
    let text = node.utf8_text(src).unwrap().to_owned();
    // Wrappers (pipeline, argument and unary expressions, string literals) hold
    // one child: descend to what they wrap, stopping at anything with meaning.
    let mut n = node;
    while n.named_child_count() == 1
        && !matches!(
            n.kind(),
            "variable"
                | "verbatim_string_characters"
                | "command"
                | "script_block_expression"
                | "parenthesized_expression"
                | "member_access"
                | "cast_expression"
                | "expression_with_unary_operator"
                | "sub_expression"
                | "hash_literal_expression"
        )
    {
        n = n.named_child(0).unwrap();
    }
    match n.kind() {
        "verbatim_string_characters" => {
            Value::Literal(decode(text.trim()).unwrap_or_else(|e| panic!("{e}")))
        }
        "variable" => Value::Variable(text.trim().to_owned()),
        _ => Value::Other(text.trim().to_owned()),
    }
}

fn commands(node: Node, src: &[u8], out: &mut Vec<Command>) {
    if node.kind() == "command" {
        let name = node
            .child_by_field_name("command_name")
            .map(|n| n.utf8_text(src).unwrap().to_owned())
            .unwrap_or_default();
        let mut args: Vec<(String, bool, Option<Value>)> = Vec::new();
        let mut hash = Vec::new();
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
                        for entry in nodes(e).into_iter().filter(|n| n.kind() == "hash_entry") {
                            let key = entry.named_child(0).unwrap();
                            let v =
                                entry.named_child((entry.named_child_count() - 1) as u32).unwrap();
                            hash.push((
                                key.utf8_text(src).unwrap().trim().to_owned(),
                                value(v, src),
                            ));
                        }
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
        out.push(Command { name, args, range: node.byte_range(), hash });
    }
    let mut c = node.walk();
    for child in node.named_children(&mut c) {
        commands(child, src, out);
    }
}

/// The last member name under a node (`(Get-X ...).Property` → `Property`).
fn member(node: Node, src: &[u8]) -> Option<String> {
    nodes(node)
        .into_iter()
        .rfind(|n| n.kind() == "member_name")
        .map(|n| n.utf8_text(src).unwrap().to_owned())
}

/// The comparisons of a `-Test` block.
fn checks(block: Node, src: &[u8]) -> Vec<Check> {
    let mut out = Vec::new();
    for n in nodes(block) {
        match n.kind() {
            "comparison_expression" => {
                let op = (0..n.child_count())
                    .filter_map(|i| n.child(i as u32))
                    .find(|c| c.kind() == "comparison_operator")
                    .map(|c| c.utf8_text(src).unwrap().to_ascii_lowercase());
                if op.as_deref() != Some("-eq") {
                    continue;
                }
                let (left, right) = (n.named_child(0).unwrap(), n.named_child(2).unwrap());
                let (prop, other) = match (member(left, src), member(right, src)) {
                    (Some(p), None) => (p, right),
                    (None, Some(p)) => (p, left),
                    _ => continue,
                };
                out.push(Check { property: prop, value: value(other, src) });
            }
            "expression_with_unary_operator"
                if n.utf8_text(src)
                    .unwrap()
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("-not") =>
            {
                let inner = n.named_child((n.named_child_count() - 1) as u32).unwrap();
                if inner.kind() == "comparison_expression" {
                    continue;
                }
                if let Some(p) = member(inner, src) {
                    out.push(Check { property: p, value: Value::Variable("$null".into()) });
                }
            }
            _ => {}
        }
    }
    out
}

fn target(identity: &str) -> Target {
    Target {
        identity: identity.into(),
        label: "".into(),
        source: exoauth::input::Source { file: "script".into(), line: 0 },
    }
}

fn bool_of(v: &Value, what: &str) -> bool {
    match v.setting() {
        Some(Setting::Value(b)) => b,
        other => panic!("{what}: {v:?} is not a boolean ({other:?})"),
    }
}

/// The action a step's `-Apply` block carries out, with only what the script
/// states (no labels, rows, old values or blast radius: see [`executable`]).
pub fn action_of(step: &Step, what: &str) -> Action {
    let writes: Vec<&Command> =
        step.apply.iter().filter(|c| MUTATING.contains(&c.name.as_str())).collect();
    assert_eq!(writes.len(), 1, "{what}: step {} applies {} changes", step.number, writes.len());
    let w = writes[0];
    assert_eq!(w.name, step.cmdlet, "{what}: step {} -Cmdlet differs from -Apply", step.number);
    let id = |name: &str| -> String {
        w.arg(name)
            .and_then(Value::literal)
            .unwrap_or_else(|| panic!("{what}: step {}: -{name} is not a literal", step.number))
            .to_owned()
    };
    let switches = || -> Vec<(&'static str, bool)> {
        w.args
            .iter()
            .filter(|(p, _, _)| p.starts_with("AllowBasicAuth") || p.starts_with("Block"))
            .map(|(p, colon, v)| {
                assert!(colon, "{what}: -{p} must use the colon form");
                (switch(p), bool_of(v.as_ref().unwrap(), what))
            })
            .collect()
    };
    match w.name.as_str() {
        "New-AuthenticationPolicy" => {
            let copy = step
                .apply
                .iter()
                .find(|c| c.name == "Get-VariantSwitches")
                .unwrap_or_else(|| panic!("{what}: a variant without Get-VariantSwitches"));
            assert!(
                w.args.iter().any(|a| a.2 == Some(Value::Variable("@switches".into())))
                    || w.args.iter().any(|a| a.0.is_empty()),
                "{what}: New-AuthenticationPolicy does not splat the copied switches"
            );
            let based_on = match (copy.arg("Source").and_then(Value::literal), copy.has("NoPolicy"))
            {
                (Some(source), false) => Some((
                    source.to_owned(),
                    exoauth::input::Source { file: "script".into(), line: 0 },
                )),
                (None, true) => None,
                other => panic!("{what}: Get-VariantSwitches with {other:?}"),
            };
            let set = copy.hash.iter().map(|(k, v)| (switch(k), bool_of(v, what))).collect();
            Action::NewPolicy { name: id("Name"), based_on, set }
        }
        "Set-AuthenticationPolicy" => Action::SetPolicy {
            policy: id("Identity"),
            source: exoauth::input::Source { file: "script".into(), line: 0 },
            changes: switches().into_iter().map(|(n, v)| (n, Setting::NotExported, v)).collect(),
            blast_radius: 0,
        },
        "Remove-AuthenticationPolicy" => Action::RemovePolicy { name: id("Identity") },
        "Set-OrganizationConfig" => Action::SetOrgDefault {
            source: None,
            from: None,
            to: match w.arg("DefaultAuthenticationPolicy") {
                Some(Value::Literal(l)) => Some(l.clone()),
                Some(v) if v.setting() == Some(Setting::Null) => None,
                other => panic!("{what}: -DefaultAuthenticationPolicy {other:?}"),
            },
            blast_radius: 0,
        },
        "Set-TransportConfig" => Action::SetTransport {
            from: Setting::NotExported,
            to: bool_of(w.arg("SmtpClientAuthenticationDisabled").unwrap(), what),
            blast_radius: 0,
        },
        "Set-User" if w.has("STSRefreshTokensValidFrom") => {
            let user = id("Identity");
            let key =
                refresh_key(step).unwrap_or_else(|| panic!("{what}: a refresh with no cause"));
            let cause = if key == user {
                Cause::Assignment
            } else if let Some(policy) = key.strip_prefix("AuthenticationPolicy:") {
                Cause::Policy(policy.to_owned())
            } else {
                assert_eq!(key, "DefaultAuthenticationPolicy", "{what}: refresh key");
                Cause::OrgDefault
            };
            Action::RefreshTokens { user: target(&user), cause }
        }
        "Set-User" => Action::AssignPolicy {
            user: target(&id("Identity")),
            from: None,
            to: match w.arg("AuthenticationPolicy") {
                Some(Value::Literal(l)) => Some(l.as_str().into()),
                Some(v) if v.setting() == Some(Setting::Null) => None,
                other => panic!("{what}: -AuthenticationPolicy {other:?}"),
            },
        },
        "Set-CASMailbox" => {
            let (setting, value) = [
                MailboxSetting::PopEnabled,
                MailboxSetting::ImapEnabled,
                MailboxSetting::SmtpClientAuthenticationDisabled,
            ]
            .into_iter()
            .find_map(|s| w.arg(s.as_str()).map(|v| (s, v)))
            .unwrap_or_else(|| panic!("{what}: Set-CASMailbox changes no known switch"));
            Action::SetMailbox {
                mailbox: target(&id("Identity")),
                setting,
                from: Setting::NotExported,
                to: value.setting().unwrap_or_else(|| panic!("{what}: {value:?}")),
            }
        }
        other => panic!("{what}: unexpected cmdlet {other}"),
    }
}

/// The change a token refresh waits for: the literal in its `-Test`'s
/// `$script:PolicyChanged.ContainsKey('...')`.
pub fn refresh_key(step: &Step) -> Option<String> {
    let start = step.test_text.find("$script:PolicyChanged.ContainsKey(")? + 34;
    let end = step.test_text[start..].rfind(')')? + start;
    decode(step.test_text[start..end].trim()).ok()
}

/// The settable switch name as the crate spells it.
fn switch(name: &str) -> &'static str {
    exoauth::model::policy::SETTABLE_ONLINE
        .iter()
        .chain(exoauth::model::policy::SETTABLE_ONPREM.iter())
        .find(|s| s.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or_else(|| panic!("{name} is not a settable switch"))
}

/// What of an action a script carries out: everything but labels, input rows,
/// the old values (shown in `-Change` for the reader) and the blast radius.
pub fn executable(action: &Action) -> Action {
    let blank = exoauth::input::Source { file: "script".into(), line: 0 };
    match action.clone() {
        Action::NewPolicy { name, based_on, set } => {
            Action::NewPolicy { name, based_on: based_on.map(|(n, _)| (n, blank)), set }
        }
        Action::SetPolicy { policy, changes, .. } => Action::SetPolicy {
            policy,
            source: blank,
            changes: changes.into_iter().map(|(n, _, v)| (n, Setting::NotExported, v)).collect(),
            blast_radius: 0,
        },
        Action::SetOrgDefault { to, .. } => {
            Action::SetOrgDefault { source: None, from: None, to, blast_radius: 0 }
        }
        Action::SetTransport { to, .. } => {
            Action::SetTransport { from: Setting::NotExported, to, blast_radius: 0 }
        }
        Action::AssignPolicy { user, to, .. } => {
            Action::AssignPolicy { user: target(&user.identity), from: None, to }
        }
        Action::SetMailbox { mailbox, setting, to, .. } => Action::SetMailbox {
            mailbox: target(&mailbox.identity),
            setting,
            from: Setting::NotExported,
            to,
        },
        Action::RefreshTokens { user, cause } => {
            Action::RefreshTokens { user: target(&user.identity), cause }
        }
        Action::RemovePolicy { name } => Action::RemovePolicy { name },
    }
}

/// The actions a script carries out, read from its text.
pub fn actions(bytes: &[u8], what: &str) -> Vec<Action> {
    let script = Script::parse(bytes, what);
    script.steps(what).iter().map(|s| action_of(s, what)).collect()
}
