//! The published JSON schemas (`schema/*.schema.json`, draft 2020-12) against
//! what exoauth really writes: every fixture tenant's `exoauth/audit-v2` report
//! validates against `audit-v2.schema.json`, and the comparisons of pairs of
//! them against `diff-v1.schema.json`.
//!
//! Each schema is first checked against the draft 2020-12 meta-schema, and
//! every closed object in it must require each key it declares (the one
//! optional key is the report's `plan`), so a key the code stops writing
//! fails here. A report with a key renamed or a value misspelt must fail
//! validation, so that the test cannot pass by accepting anything.

use std::collections::BTreeSet;
use std::path::Path;

use jsonschema::Validator;
use serde_json::Value;

use crate::util::{READINESS, exoauth, fixture, fixture_folders, root};

/// The base of every schema's `$id`.
const ID_BASE: &str = "https://github.com/exoauth/exoauth/schema/";

/// Fixture folders the audit refuses (no report is written); all others must
/// yield one.
const REFUSED: [&str; 6] = [
    "bad/binary",
    "bad/missing-column",
    "bad/wrong-cmdlet",
    "paste/empty",
    "paste/one-line-csv",
    "paste/table-then-list",
];

/// Reads `schema/NAME.schema.json`, checks it against the draft 2020-12
/// meta-schema and its own conventions, and compiles it with format checks on.
fn validator(name: &str) -> Validator {
    let path = root().join("schema").join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
    assert_eq!(schema["$id"], format!("{ID_BASE}{name}.schema.json"), "{name}: $id");
    assert_eq!(
        schema["properties"]["schema"]["const"],
        format!("exoauth/{name}"),
        "{name}: the `schema` key's const"
    );
    if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
        panic!("{name} is not a valid draft 2020-12 schema: {} at {}", e, e.instance_path());
    }
    let mut loose = Vec::new();
    closed_objects_require_every_key(&schema, "", &mut loose);
    assert!(
        loose.is_empty(),
        "{name}: these closed objects do not require every key they declare: {loose:?}"
    );
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"))
}

/// Collects the schema locations where an object with `additionalProperties:
/// false` declares a property it does not require (the report's `plan` aside).
fn closed_objects_require_every_key(s: &Value, at: &str, out: &mut Vec<String>) {
    match s {
        Value::Object(map) => {
            if let (Some(Value::Object(props)), Some(Value::Bool(false))) =
                (map.get("properties"), map.get("additionalProperties"))
            {
                let required: BTreeSet<&str> = map
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for key in props.keys() {
                    let optional = at.is_empty() && key == "plan";
                    if !optional && !required.contains(key.as_str()) {
                        out.push(format!("{at}/properties/{key}"));
                    }
                }
            }
            for (k, v) in map {
                closed_objects_require_every_key(v, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                closed_objects_require_every_key(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Every validation error, with the instance path it is at.
fn errors(v: &Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| {
            let mut message = e.to_string();
            if message.len() > 400 {
                let cut = (0..=400).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
                message.truncate(cut);
                message.push_str(" ...");
            }
            format!("at {:?}: {message}", e.instance_path().to_string())
        })
        .collect()
}

/// Validates each named document and fails with every error of every one.
fn assert_valid(v: &Validator, schema: &str, docs: &[(String, Value)]) {
    let mut failures = Vec::new();
    for (name, doc) in docs {
        let errs = errors(v, doc);
        if !errs.is_empty() {
            failures.push(format!("{name} ({} errors):\n    {}", errs.len(), errs.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} documents do not match schema/{schema}.schema.json:\n  {}",
        failures.len(),
        docs.len(),
        failures.join("\n  ")
    );
}

/// The audit cases: a name and the arguments after `exoauth audit` (folder
/// first), as tests/golden.rs runs them, plus runs with a script (`plan`).
fn audit_cases(entra: &Path) -> Vec<(String, Vec<String>)> {
    let readiness = READINESS;
    let with = |base: &[&str], more: &[&str]| -> Vec<String> {
        base.iter().chain(more).map(ToString::to_string).collect()
    };
    let entra = entra.to_string_lossy().into_owned();
    let mut cases: Vec<(String, Vec<String>)> = vec![
        ("contoso".into(), with(&["fixtures/contoso"], &[])),
        ("contoso-block".into(), with(&["fixtures/contoso", "--want", "block"], &[])),
        ("contoso-script".into(), with(&["fixtures/contoso", "--script", "{tmp}/fix.ps1"], &[])),
        (
            "contoso-block-edit-policies-script".into(),
            with(
                &["fixtures/contoso", "--want", "block", "--strategy", "edit-policies"],
                &["--script", "{tmp}/fix.ps1"],
            ),
        ),
        ("contoso-smtp-only".into(), with(&["fixtures/contoso", "--protocols", "smtp"], &[])),
        ("contoso-all-types".into(), with(&["fixtures/contoso", "--all-recipient-types"], &[])),
        ("contoso-list".into(), with(&["fixtures/contoso-list"], &[])),
        ("contoso-table".into(), with(&["fixtures/contoso-table"], &[])),
        ("contoso-utf16".into(), with(&["fixtures/contoso-utf16"], &[])),
        ("onprem".into(), with(&["fixtures/onprem", "--environment", "onprem"], &[])),
        (
            "onprem-block-script".into(),
            with(
                &["fixtures/onprem", "--environment", "onprem", "--want", "block"],
                &["--script", "{tmp}/fix.ps1"],
            ),
        ),
        ("transcript".into(), with(&["fixtures/transcript"], &[])),
        ("readiness".into(), with(&readiness, &[])),
        ("readiness-script".into(), with(&readiness, &["--script", "{tmp}/fix.ps1"])),
        ("readiness-since".into(), with(&readiness, &["--since", "2026-11-20"])),
        // Past one exception's last day (2027-02-28): it lapses as expired.
        ("readiness-later".into(), with(&readiness, &["--as-of", "2027-03-15"])),
        ("readiness-no-evidence".into(), with(&readiness[..1], &["--want", "block"])),
        (
            "readiness-overlap".into(),
            with(&readiness[..3], &["--sign-ins", "fixtures/contoso-signins/graph"]),
        ),
        ("entra".into(), vec![entra.clone()]),
        ("entra-block".into(), with(&[entra.as_str(), "--want", "block"], &[])),
    ];
    // The other shapes of the same sign-in evidence, in the allow direction.
    for shape in ["graph", "companion", "powershell51", "powershell7"] {
        let evidence = format!("fixtures/contoso-signins/{shape}");
        cases.push((
            format!("readiness-{shape}"),
            with(&[readiness[0], "--sign-ins", evidence.as_str()], &[]),
        ));
    }
    for group in ["bad", "edge-values", "quirks", "paste"] {
        for name in fixture_folders(group) {
            cases.push((format!("{group}/{name}"), vec![format!("fixtures/{group}/{name}")]));
        }
    }
    cases
}

/// Runs `exoauth audit ARGS --format json` into `out/NAME.json`; the report, or
/// None when the audit refused the input and wrote none.
fn audit(name: &str, args: &[String], out: &Path) -> Option<Value> {
    let report = out.join(format!("{}.json", name.replace('/', "-")));
    let tmp = out.to_string_lossy();
    let args: Vec<String> = args.iter().map(|a| a.replace("{tmp}", &tmp)).collect();
    let mut cmd = exoauth();
    cmd.arg("audit").args(&args);
    if !args.iter().any(|a| a == "--as-of") {
        cmd.args(["--as-of", "2026-11-25"]);
    }
    let run = cmd
        .args(["--format", "json", "--progress", "never", "-o"])
        .arg(&report)
        .output()
        .expect("run exoauth");
    if !report.exists() {
        assert_eq!(
            run.status.code(),
            Some(2),
            "{name}: no report and not a refusal: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        return None;
    }
    let text = std::fs::read_to_string(&report).expect("read report");
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not JSON: {e}")))
}

/// A copy of the contoso export with the Entra files (security defaults off, a
/// Conditional Access policy that blocks legacy clients) beside it.
fn contoso_with_entra() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for folder in ["contoso", "entra"] {
        for entry in std::fs::read_dir(fixture(folder)).expect("fixture") {
            let path = entry.expect("entry").path();
            let keep = match folder {
                "contoso" => path.extension().is_some_and(|e| e == "csv"),
                _ => path.extension().is_some_and(|e| e == "json"),
            };
            if keep {
                std::fs::copy(&path, dir.path().join(path.file_name().expect("name")))
                    .expect("copy fixture");
            }
        }
    }
    dir
}

/// Every fixture's report, in both directions, online and on premises, with
/// and without sign-in evidence, exceptions and a plan.
fn reports(out: &Path) -> Vec<(String, Value)> {
    let entra = contoso_with_entra();
    let mut docs = Vec::new();
    let mut refused = Vec::new();
    for (name, args) in audit_cases(entra.path()) {
        match audit(&name, &args, out) {
            Some(doc) => docs.push((name, doc)),
            None => refused.push(name),
        }
    }
    assert_eq!(refused, REFUSED, "the fixtures that yield no report");
    docs
}

fn report<'a>(docs: &'a [(String, Value)], name: &str) -> &'a Value {
    &docs.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no report {name}")).1
}

#[test]
fn every_fixture_report_and_comparison_matches_its_schema() {
    let out = tempfile::tempdir().expect("tempdir");
    let docs = reports(out.path());
    let v = validator("audit-v2");
    assert_valid(&v, "audit-v2", &docs);
    eprintln!("{} reports match schema/audit-v2.schema.json", docs.len());

    // The parts the schema's conditions speak to are really there.
    let has = |name: &str, key: &str| !report(&docs, name)[key].is_null();
    assert!(has("readiness", "evidence") && !has("readiness-no-evidence", "evidence"));
    assert!(has("contoso-script", "plan") && !has("contoso", "plan"));
    let excepted = |name: &str| report(&docs, name)["summary"]["excepted"].as_u64();
    assert_eq!(excepted("readiness"), Some(3));

    let v = validator("diff-v1");
    let path = |name: &str| out.path().join(format!("{}.json", name.replace('/', "-")));
    // Pairs that `exoauth diff` compares, each showing other movements.
    let pairs = [
        ("contoso", "contoso"),                 // nothing changed
        ("contoso", "contoso-block"),           // other direction: a note
        ("contoso", "entra"),                   // Conditional Access blockers appear
        ("entra", "contoso"),                   // and clear: newly allowed
        ("contoso", "contoso-smtp-only"),       // protocols audited once only
        ("contoso", "onprem"),                  // other environment, mailboxes added and removed
        ("contoso", "edge-values/blanks"),      // newly unknown
        ("readiness-no-evidence", "readiness"), // evidence in the later report only
        ("readiness", "readiness-no-evidence"), // the register gone: exceptions removed
        ("readiness-since", "readiness"),       // newly in use
        ("readiness", "readiness-later"),       // exceptions expired
        ("readiness-graph", "readiness"),       // both with evidence, other direction
    ];
    let mut diffs = Vec::new();
    for (old, new) in pairs {
        assert!(docs.iter().any(|(n, _)| n == old) && docs.iter().any(|(n, _)| n == new));
        let run = exoauth()
            .arg("diff")
            .arg(path(old))
            .arg(path(new))
            .args(["--format", "json"])
            .output()
            .expect("run exoauth diff");
        assert!(run.status.success(), "diff {old} {new}: {}", String::from_utf8_lossy(&run.stderr));
        let doc: Value = serde_json::from_slice(&run.stdout)
            .unwrap_or_else(|e| panic!("diff {old} {new}: not JSON: {e}"));
        diffs.push((format!("{old} -> {new}"), doc));
    }
    assert_valid(&v, "diff-v1", &diffs);
    eprintln!("{} comparisons match schema/diff-v1.schema.json", diffs.len());

    // Every kind of change was among them, so each condition of the schema met a case.
    let changes: BTreeSet<&str> = diffs
        .iter()
        .flat_map(|(_, d)| d["changed"].as_array().into_iter().flatten())
        .flat_map(|c| c["protocols"].as_array().into_iter().flatten())
        .filter_map(|p| p["change"].as_str())
        .collect();
    let all = [
        "blockers-changed",
        "newly-allowed",
        "newly-blocked",
        "newly-in-use",
        "newly-unknown",
        "readiness-changed",
    ];
    assert_eq!(changes, BTreeSet::from(all), "the kinds of change the pairs show");
    let expired: BTreeSet<bool> = diffs
        .iter()
        .flat_map(|(_, d)| d["changed"].as_array().into_iter().flatten())
        .filter_map(|c| c["exception_lapsed"]["expired"].as_bool())
        .collect();
    assert_eq!(expired, BTreeSet::from([false, true]), "lapsed exceptions, expired and removed");
}

/// Applies `change` to a copy of `doc` and asserts the schema rejects it, with
/// an error at or under `at`.
fn assert_rejected(v: &Validator, doc: &Value, what: &str, at: &str, change: impl Fn(&mut Value)) {
    let mut bad = doc.clone();
    change(&mut bad);
    assert_ne!(&bad, doc, "{what}: the change changed nothing");
    let errs = errors(v, &bad);
    assert!(!errs.is_empty(), "{what}: the schema accepted it");
    assert!(
        v.iter_errors(&bad).any(|e| e.instance_path().as_str().starts_with(at)),
        "{what}: no error at {at}: {errs:?}"
    );
}

/// Renames `from` to `to` in an object, keeping its place.
fn rename(obj: &mut Value, from: &str, to: &str) {
    let map = obj.as_object_mut().expect("an object");
    let value = map.shift_remove(from).unwrap_or_else(|| panic!("no key {from}"));
    map.insert(to.into(), value);
}

#[test]
fn a_renamed_key_or_a_misspelt_value_fails_validation() {
    let audit_v2 = validator("audit-v2");
    let diff_v1 = validator("diff-v1");
    let out = tempfile::tempdir().expect("tempdir");
    let args: Vec<String> =
        READINESS.iter().chain(&["--script", "{tmp}/fix.ps1"]).map(ToString::to_string).collect();
    let doc = audit("readiness", &args, out.path()).expect("a report");
    assert!(errors(&audit_v2, &doc).is_empty(), "the unchanged report must match");

    assert_rejected(&audit_v2, &doc, "mailbox key renamed", "/mailboxes/0", |d| {
        rename(&mut d["mailboxes"][0], "user_principal_name", "upn");
    });
    assert_rejected(&audit_v2, &doc, "verdict misspelt", "/mailboxes/0/protocols/pop", |d| {
        d["mailboxes"][0]["protocols"]["pop"]["basic_auth"] = "block".into();
    });
    assert_rejected(&audit_v2, &doc, "blocker code misspelt", "/mailboxes/0/protocols/pop", |d| {
        d["mailboxes"][0]["protocols"]["pop"]["blockers"][0]["code"] = "policy-blocks".into();
    });
    assert_rejected(&audit_v2, &doc, "readiness misspelt", "/mailboxes/0/protocols/smtp", |d| {
        d["mailboxes"][0]["protocols"]["smtp"]["usage"]["readiness"] = "in_use".into();
    });
    assert_rejected(&audit_v2, &doc, "summary key renamed", "/summary", |d| {
        rename(&mut d["summary"], "rejected_rows", "rejected");
    });
    assert_rejected(&audit_v2, &doc, "another schema name", "/schema", |d| {
        d["schema"] = "exoauth/audit-v1".into();
    });
    assert_rejected(&audit_v2, &doc, "an allowed verdict with blockers", "/mailboxes/0", |d| {
        d["mailboxes"][0]["protocols"]["pop"]["basic_auth"] = "allowed".into();
    });
    assert_rejected(&audit_v2, &doc, "usage without evidence", "/mailboxes", |d| {
        d["evidence"] = Value::Null;
    });

    // A diff with changes of several kinds: the later report has Conditional Access.
    let entra = contoso_with_entra();
    let old = audit("contoso", &["fixtures/contoso".into()], out.path()).expect("a report");
    let new = audit("entra", &[entra.path().to_string_lossy().into_owned()], out.path())
        .expect("a report");
    assert!(old["mailboxes"] != new["mailboxes"]);
    let run = exoauth()
        .arg("diff")
        .arg(out.path().join("contoso.json"))
        .arg(out.path().join("entra.json"))
        .args(["--format", "json"])
        .output()
        .expect("run exoauth diff");
    let diff: Value = serde_json::from_slice(&run.stdout).expect("diff JSON");
    assert!(errors(&diff_v1, &diff).is_empty(), "the unchanged diff must match");
    assert!(!diff["changed"].as_array().expect("changed").is_empty());

    assert_rejected(&diff_v1, &diff, "top-level key renamed", "", |d| {
        rename(d, "regressions", "regression");
    });
    assert_rejected(&diff_v1, &diff, "change misspelt", "/changed/0/protocols/0", |d| {
        d["changed"][0]["protocols"][0]["change"] = "newly_blocked".into();
    });
    assert_rejected(&diff_v1, &diff, "verdict misspelt", "/changed/0/protocols/0", |d| {
        d["changed"][0]["protocols"][0]["new"] = "block".into();
    });
    assert_rejected(&diff_v1, &diff, "delta key renamed", "/summary/flagged", |d| {
        rename(&mut d["summary"]["flagged"], "change", "delta");
    });
}
