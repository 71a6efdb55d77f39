//! Closed-loop checks of the remediation plan on generated tenants: write the
//! fix and rollback scripts, read back what their text does (`tests/ps.rs`),
//! apply that to the in-memory tenant, re-audit, and check that it did what it
//! claims and nothing more; then apply the rollback script's actions and check
//! that every *setting* is back as exported.

use exoauth::audit::{self, Code, Options, Scope, Verdict, Want};
use exoauth::emit::powershell::{self, Header};
use exoauth::generate;
use exoauth::model::{Environment, Protocol, Setting, Snapshot};
use exoauth::plan::{self, Strategy, apply::apply};
use serde_json::json;

use rayon::prelude::*;

use crate::ps;

/// The blockers a script can turn around, as the README lists them; written
/// out here rather than taken from the code under test.
const SCRIPT_FIXES: [Code; 5] = [
    Code::MailboxProtocolDisabled,
    Code::MailboxSmtpAuthDisabled,
    Code::TenantSmtpAuthDisabled,
    Code::UserPolicyBlocks,
    Code::DefaultPolicyBlocks,
];

fn header() -> Header {
    Header {
        tool_version: "test".into(),
        generated: "2026-11-25T00:00:00Z".into(),
        inputs: Vec::new(),
        name: "fix.ps1".into(),
    }
}

/// Every setting a plan can touch, as the tenant holds it: policies (name and
/// every switch), the org default, the tenant SMTP switch, each user's
/// assignment and each mailbox's switches. On premises a blank `Block*`
/// switch and False mean the same ("not blocked") and a rollback writes False
/// (README, Remediation scripts), so they compare equal.
#[derive(Debug, PartialEq)]
struct Settings {
    policies: Vec<(String, Vec<(&'static str, Setting)>)>,
    org_default: Option<Option<String>>,
    transport: Option<Setting>,
    users: Vec<(String, Option<String>)>,
    mailboxes: Vec<(String, [Setting; 3])>,
}

fn settings(s: &Snapshot) -> Settings {
    let onprem = s.environment == Environment::OnPrem;
    let mut policies: Vec<_> = s
        .policies
        .iter()
        .flatten()
        .map(|p| {
            let switches = p
                .all_switches
                .iter()
                .map(|(n, v)| match v {
                    Setting::Null if onprem => (*n, Setting::Value(false)),
                    other => (*n, *other),
                })
                .collect();
            (p.name.clone(), switches)
        })
        .collect();
    policies.sort_by(|a, b| a.0.cmp(&b.0));
    Settings {
        policies,
        org_default: s.org.as_ref().map(|o| o.default_policy.clone()),
        transport: s.transport.as_ref().map(|t| t.smtp_client_auth_disabled),
        users: s
            .users
            .iter()
            .flatten()
            .map(|u| {
                (u.ids.key().to_string(), u.authentication_policy.as_deref().map(str::to_owned))
            })
            .collect(),
        mailboxes: s
            .mailboxes()
            .iter()
            .map(|m| {
                (
                    m.ids.key().to_string(),
                    [m.pop_enabled, m.imap_enabled, m.smtp_client_auth_disabled],
                )
            })
            .collect(),
    }
}

fn options(
    want: Want,
    protocols: Vec<Protocol>,
    environment: Environment,
    all_types: bool,
) -> Options {
    Options {
        want,
        protocols,
        environment,
        as_of: time::macros::date!(2026 - 11 - 25),
        scope: Scope { identities: None, all_recipient_types: all_types },
        include_in_use: false,
    }
}

/// (verdict, blocker codes) per mailbox and protocol, every mailbox and protocol.
fn everything(s: &Snapshot) -> Vec<Vec<(Verdict, Vec<Code>)>> {
    let o = options(Want::Allow, Protocol::ALL.to_vec(), s.environment, true);
    audit::audit(s, &o)
        .findings()
        .map(|f| {
            f.verdicts()
                .map(|(_, v)| (v.verdict, v.blockers.iter().map(|b| b.code).collect()))
                .collect()
        })
        .collect()
}

fn protocol_sets(seed: u64) -> Vec<Protocol> {
    match seed % 4 {
        0 => Protocol::ALL.to_vec(),
        1 => vec![Protocol::Smtp],
        2 => vec![Protocol::Pop, Protocol::Imap],
        _ => vec![Protocol::Imap, Protocol::Smtp],
    }
}

#[test]
fn plans_fix_what_they_claim_change_nothing_else_and_roll_back() {
    // Seeds in parallel: the closed loop is the slowest test, and mutation runs repeat it.
    let checked_changes: usize = (0..160u64).into_par_iter().map(|seed| {
        let mut checked_changes = 0;
        let environment = if seed % 5 == 4 { Environment::OnPrem } else { Environment::Online };
        let s0 = Snapshot::build(
            generate::tenant(seed, 40, environment),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        for want in [Want::Allow, Want::Block] {
            for strategy in [Strategy::LeastPrivilege, Strategy::EditPolicies] {
                let o = options(want, protocol_sets(seed), environment, seed % 3 == 0);
                let a0 = audit::audit(&s0, &o);
                let p = plan::plan(&a0, strategy);
                let ctx = format!("seed {seed} {want:?} {strategy:?} {environment:?}");
                // What the scripts' text does, not only what the plan says.
                let fix = ps::actions(&powershell::fix_script(&p, &header()).unwrap(), &ctx);
                let undo = ps::actions(&powershell::rollback_script(&p, &header()).unwrap(), &ctx);
                let planned: Vec<_> = p.actions.iter().map(ps::executable).collect();
                assert_eq!(fix, planned, "{ctx}: the fix script differs from the plan");
                let s1 = apply(&s0, &fix);
                let a1 = audit::audit(&s1, &o);
                checked_changes += p.actions.len();

                // 1. What the plan claims: no fixable blocker remains on a flagged mailbox.
                for (f0, f1) in a0.findings().zip(a1.findings()) {
                    assert_eq!(f0.mailbox, f1.mailbox, "{ctx}");
                    if !f0.flagged {
                        continue;
                    }
                    let disabled = f0
                        .verdicts()
                        .any(|(_, v)| v.blockers.iter().any(|b| b.code == Code::AccountDisabled));
                    for ((p, v0), (_, v1)) in f0.verdicts().zip(f1.verdicts()) {
                        match want {
                            // A shared edit may reach a disabled account too (within the blast radius).
                            Want::Allow if disabled && strategy == Strategy::EditPolicies => {}
                            Want::Allow if disabled => {
                                assert_eq!(v0, v1, "{ctx}: disabled account changed")
                            }
                            Want::Allow => {
                                let left: Vec<Code> = v1
                                    .blockers
                                    .iter()
                                    .map(|b| b.code)
                                    .filter(|c| SCRIPT_FIXES.contains(c))
                                    .collect();
                                assert!(
                                    left.is_empty(),
                                    "{ctx}: mailbox {} {p}: {left:?} remain",
                                    f0.mailbox
                                );
                            }
                            Want::Block
                                if environment == Environment::OnPrem && p == Protocol::Smtp => {}
                            Want::Block => assert_ne!(
                                v1.verdict,
                                Verdict::Allowed,
                                "{ctx}: mailbox {} {p} still allowed",
                                f0.mailbox
                            ),
                        }
                    }
                }

                // 2. Least privilege: nothing outside the flagged set changes, on any protocol;
                //    flagged mailboxes keep their out-of-scope protocols. Edits stay within
                //    their declared blast radius.
                let (e0, e1) = (everything(&s0), everything(&s1));
                let flagged: Vec<usize> =
                    a0.entries().iter().filter(|e| e.flagged()).map(|e| e.mailbox()).collect();
                let mut changed_outside = 0usize; // unflagged mailboxes with a changed verdict
                for (i, (m0, m1)) in e0.iter().zip(&e1).enumerate() {
                    let is_flagged = flagged.contains(&i);
                    let mut changed = false;
                    for (p, (v0, v1)) in Protocol::ALL.iter().zip(m0.iter().zip(m1)) {
                        let in_scope = o.protocols.contains(p);
                        if (!is_flagged || !in_scope) && v0.0 != v1.0 {
                            match strategy {
                                Strategy::LeastPrivilege => panic!(
                                    "{ctx}: mailbox {i} {p} changed {v0:?} -> {v1:?} outside the plan"
                                ),
                                Strategy::EditPolicies => changed = true,
                            }
                        }
                    }
                    changed_outside += usize::from(changed && !is_flagged);
                }
                if strategy == Strategy::EditPolicies {
                    let radius: usize =
                        p.actions.iter().filter_map(|a| a.blast_radius()).map(|(_, n)| n).sum();
                    assert!(
                        changed_outside <= radius,
                        "{ctx}: {changed_outside} other mailboxes changed, blast radius {radius}"
                    );
                }

                // 3. Idempotent: planning again on the fixed tenant changes nothing more.
                if strategy == Strategy::LeastPrivilege {
                    let again = plan::plan(&a1, strategy);
                    assert!(again.actions.is_empty(), "{ctx}: second plan {:?}", again.actions);
                }

                // 4. The rollback script restores every setting (blank, inheriting SMTP
                //    values and "no policy" included), removes the variants, and so
                //    every verdict and blocker.
                let s2 = apply(&s1, &undo);
                assert_eq!(
                    settings(&s2),
                    settings(&s0),
                    "{ctx}: rollback did not restore the settings"
                );
                assert_eq!(everything(&s2), e0, "{ctx}: rollback did not restore the verdicts");
            }
        }
        checked_changes
    }).sum();
    assert!(
        checked_changes > 1000,
        "the generated tenants exercised only {checked_changes} changes"
    );
}

#[test]
fn contoso_plan_shape() {
    let loaded =
        exoauth::load::load(std::path::Path::new("fixtures/contoso"), Environment::Online).unwrap();
    let o = options(Want::Allow, Protocol::ALL.to_vec(), Environment::Online, false);
    let a = audit::audit(&loaded.snapshot, &o);
    let p = plan::plan(&a, Strategy::LeastPrivilege);
    // Variants are valid names: at most 64 characters, ASCII, no quotes, unique.
    let names: Vec<&str> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            plan::Action::NewPolicy { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names.len(), 4);
    for n in &names {
        assert!(n.len() <= 64 && n.is_ascii() && !n.contains(['\'', '"']), "{n}");
    }
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
    // Least privilege answers the tenant SMTP block with per-mailbox exceptions.
    assert!(!p.actions.iter().any(|a| matches!(a, plan::Action::SetTransport { .. })));
    // The disabled leaver is a manual step, not a change.
    assert!(
        p.manual
            .iter()
            .any(|m| m.code == "account-disabled" && m.mailboxes[0].contains("diego.siciliani"))
    );
    let diego = "754c2bb2-1ee0-4ccb-b74f-e8a402e2ce76";
    assert!(!p.actions.iter().any(|a| format!("{a:?}").contains(diego)));
    // edit-policies flips the tenant switch once and says how far it reaches.
    let e = plan::plan(&a, Strategy::EditPolicies);
    let radius = e.actions.iter().find_map(|a| match a {
        plan::Action::SetTransport { blast_radius, .. } => Some(*blast_radius),
        _ => None,
    });
    // Its radius, from the hand-worked EXPECTED.md: every mailbox that inherits
    // the tenant switch (so carries tenant-smtp-auth-disabled, in scope or not)
    // but is not one of the flagged, enabled in-scope mailboxes the edit is for.
    let expected = std::fs::read_to_string("fixtures/contoso/EXPECTED.md").unwrap();
    let rows: Vec<Vec<&str>> = expected
        .lines()
        .skip_while(|l| !l.starts_with("| PrimarySmtpAddress"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let inherits = rows.iter().filter(|r| r[5].contains("tenant-smtp-auth-disabled"));
    let (targeted, others): (Vec<_>, Vec<_>) =
        inherits.partition(|r| r[2] == "yes" && !r[5].contains("account-disabled"));
    assert!(!targeted.is_empty() && !others.is_empty());
    assert_eq!(radius, Some(others.len()), "{} targeted", targeted.len());
}

/// The audit counts chunk by chunk on every core and keeps one entry per
/// mailbox; the counts must be those of its findings counted one by one, and
/// the entries those of the findings, on tenants big enough for many chunks.
#[test]
fn audit_counts_and_entries_match_its_findings() {
    for (seed, environment) in [(1, Environment::Online), (2, Environment::OnPrem)] {
        let mut rejected = Vec::new();
        let mut warnings = Vec::new();
        let s = Snapshot::build(
            generate::tenant(seed, 20_000, environment),
            &mut rejected,
            &mut warnings,
        );
        for want in [Want::Allow, Want::Block] {
            let o = options(want, vec![Protocol::Imap, Protocol::Smtp], environment, seed == 1);
            let a = audit::audit(&s, &o);
            let mut counted = audit::Summary::new(s.mailbox_count(), &o);
            for f in a.findings() {
                counted.add(&f);
            }
            assert_eq!(a.summary, counted, "seed {seed} {want:?}");
            assert!(a.summary.in_scope > 5_000 && a.summary.flagged > 0, "{:?}", a.summary);
            assert_eq!(a.out_of_scope, s.mailbox_count() - a.summary.in_scope);
            let entries: Vec<(usize, bool)> =
                a.entries().iter().map(|e| (e.mailbox(), e.flagged())).collect();
            let findings: Vec<(usize, bool)> =
                a.findings().map(|f| (f.mailbox, f.flagged)).collect();
            assert_eq!(entries, findings);
            assert!(entries.windows(2).all(|w| w[0].0 < w[1].0), "input order");
        }
    }
}

/// With no policy anywhere, blocking by editing means a new blocking policy as
/// the org default: its blast radius is every mailbox whose user has no policy
/// (in scope or not) beyond the flagged ones the edit is for. Regression: the
/// org default's radius once went unreported (a surviving cargo-mutants mutant).
#[test]
fn an_org_default_edit_states_its_blast_radius() {
    let t = crate::util::TempTenant::new(
        "",
        "False",
        &[
            "a1,ann@contoso.com,,UserMailbox,False",
            "b2,ben@contoso.com,,UserMailbox,False",
            "c3,cat@contoso.com,,UserMailbox,False",
            "d4,info@contoso.com,,SharedMailbox,False",
            "e5,eve@contoso.com,Allow All,UserMailbox,False",
        ],
        &[
            "a1,ann@contoso.com,Ann,True,True,",
            "b2,ben@contoso.com,Ben,True,True,",
            // SMTP AUTH already off for Cat: not flagged for smtp, but reached by the default.
            "c3,cat@contoso.com,Cat,True,True,True",
            // Out of scope (shared), reached by the default all the same.
            "d4,info@contoso.com,Info,True,True,",
            "e5,eve@contoso.com,Eve,True,True,",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let fix = dir.path().join("harden.ps1");
    let (r, code) = crate::util::audit_json(
        t.dir.path(),
        &[
            "--want",
            "block",
            "--protocols",
            "smtp",
            "--strategy",
            "edit-policies",
            "--script",
            fix.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{r}");
    let radius = r["plan"]["blast_radius"].as_array().unwrap();
    let org =
        radius.iter().find(|b| b["edit"] == "the org default policy").expect("org default edit");
    assert_eq!(org["other_mailboxes"], 2, "{radius:?}");
    let script = std::fs::read_to_string(&fix).unwrap();
    assert!(script.contains(
        "# Blast radius: editing the org default policy also changes 2 other mailbox(es)"
    ));
}

/// The blast radius of each shared policy edit, counted from the report itself:
/// every mailbox (the audit covers all of them with --all-recipient-types) whose
/// effective policy is the edited one, less those the edit is for (flagged,
/// enabled, blocked by that policy). Regression: only "more than 0" was checked,
/// and cargo-mutants' mutations of the count survived.
#[test]
fn contoso_policy_edits_state_their_exact_blast_radius() {
    let dir = tempfile::tempdir().unwrap();
    let fix = dir.path().join("fix.ps1");
    let (r, _) = crate::util::audit_json(
        &crate::util::fixture("contoso"),
        &[
            "--strategy",
            "edit-policies",
            "--all-recipient-types",
            "--script",
            fix.to_str().unwrap(),
        ],
    );
    let mailboxes = r["mailboxes"].as_array().unwrap();
    assert_eq!(mailboxes.len() as u64, r["summary"]["mailboxes"].as_u64().unwrap());
    let radius = r["plan"]["blast_radius"].as_array().unwrap();
    let mut checked = 0;
    for edit in radius {
        let Some(policy) = edit["edit"].as_str().unwrap().strip_prefix("policy ") else { continue };
        let policy = policy.trim_matches('"').to_lowercase();
        let of_policy: Vec<&serde_json::Value> = mailboxes
            .iter()
            .filter(|m| {
                m["effective_policy"].as_str().map(str::to_lowercase) == Some(policy.clone())
            })
            .collect();
        let targeted = of_policy
            .iter()
            .filter(|m| {
                let blockers: Vec<&str> = m["protocols"]
                    .as_object()
                    .unwrap()
                    .values()
                    .flat_map(|p| p["blockers"].as_array().unwrap())
                    .map(|b| b["code"].as_str().unwrap())
                    .collect();
                m["flagged"] == true
                    && !blockers.contains(&"account-disabled")
                    && blockers
                        .iter()
                        .any(|c| *c == "user-policy-blocks" || *c == "default-policy-blocks")
            })
            .count();
        assert!(targeted > 0, "{policy}");
        assert_eq!(edit["other_mailboxes"], of_policy.len() - targeted, "{policy}");
        checked += 1;
    }
    assert!(checked >= 3, "{radius:?}");
}

/// The service-level facts a script cannot change are manual steps in the
/// allow direction only, for the protocols in scope, from their dates on.
/// Regression: inverting any condition of these steps survived cargo-mutants.
#[test]
fn service_level_manual_steps_follow_direction_scope_and_date() {
    let dir = tempfile::tempdir().unwrap();
    let fix = dir.path().join("fix.ps1");
    let codes = |want: &str, protocols: &str, as_of: &str| -> Vec<(String, serde_json::Value)> {
        let out = crate::util::exoauth()
            .args(["audit", "fixtures/contoso", "--format", "json", "--want", want])
            .args(["--protocols", protocols, "--as-of", as_of, "--script"])
            .arg(&fix)
            .output()
            .unwrap();
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        r["plan"]["manual_steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["code"].as_str().unwrap().starts_with("service-"))
            .map(|s| (s["code"].as_str().unwrap().to_owned(), s["protocols"].clone()))
            .collect()
    };
    assert_eq!(
        codes("allow", "pop,imap,smtp", "2026-11-25"),
        [("service-retired".to_owned(), json!(["pop", "imap"]))]
    );
    assert_eq!(
        codes("allow", "pop,imap,smtp", "2027-01-15"),
        [
            ("service-retired".to_owned(), json!(["pop", "imap"])),
            ("service-default-off".to_owned(), json!(["smtp"]))
        ]
    );
    assert_eq!(
        codes("allow", "smtp", "2027-01-15"),
        [("service-default-off".to_owned(), json!(["smtp"]))]
    );
    assert_eq!(codes("allow", "imap", "2022-06-01"), []);
    assert_eq!(codes("block", "pop,imap,smtp", "2027-01-15"), []);
}

/// The in-memory tenant removes a policy only when neither a user nor the org
/// default uses it, as the rollback script's test does. Regression: `||` read
/// as `&&` in that check survived cargo-mutants.
#[test]
fn apply_keeps_a_policy_that_a_user_or_the_org_default_uses() {
    let s0 = exoauth::load::load(std::path::Path::new("fixtures/contoso"), Environment::Online)
        .unwrap()
        .snapshot;
    let names = |s: &Snapshot| -> Vec<String> {
        s.policies.iter().flatten().map(|p| p.name.to_lowercase()).collect()
    };
    let remove = |s: &Snapshot, name: &str| {
        names(&apply(s, &[plan::Action::RemovePolicy { name: name.into() }]))
    };
    // The org default, assigned to no user by name.
    assert_eq!(s0.org.as_ref().unwrap().default_policy.as_deref(), Some("Block Basic Auth"));
    assert!(remove(&s0, "Block Basic Auth").contains(&"block basic auth".to_owned()));
    // Assigned to users (one of them in lower case), not the default.
    assert!(remove(&s0, "Allow SMTP Legacy Apps").contains(&"allow smtp legacy apps".to_owned()));
    // Used by nobody: removed.
    let variant =
        plan::Action::NewPolicy { name: "exoauth-test unused".into(), based_on: None, set: vec![] };
    let s1 = apply(&s0, &[variant]);
    assert!(names(&s1).contains(&"exoauth-test unused".to_owned()));
    assert_eq!(remove(&s1, "exoauth-test unused"), names(&s0));
}
