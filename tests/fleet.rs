//! `exoauth audit TENANTS_DIR --fleet`: three generated tenants, the sample
//! with its sign-in logs, and a broken folder.

use std::path::Path;

use crate::util::{audit_json, exoauth, fixture};

/// A folder of tenant folders: `alpha` and `beta` generated, `contoso` the
/// sample with its portal sign-in downloads, `broken` a CasMailbox.csv that is
/// not one.
fn fleet(dir: &Path) {
    for (name, n, seed) in [("alpha", "300", "1"), ("beta", "120", "2")] {
        exoauth()
            .args(["generate", "--mailboxes", n, "--seed", seed, "-q", "-o"])
            .arg(dir.join(name))
            .assert()
            .success();
    }
    let contoso = dir.join("contoso");
    std::fs::create_dir_all(&contoso).unwrap();
    for from in [fixture("contoso-signins/export"), fixture("contoso-signins/portal-csv")] {
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, contoso.join(path.file_name().unwrap())).unwrap();
        }
    }
    // Its register, by the name the folder pickup knows.
    std::fs::copy(fixture("contoso-signins/exceptions.csv"), contoso.join("Exceptions.csv"))
        .unwrap();
    std::fs::create_dir_all(dir.join("broken")).unwrap();
    std::fs::write(dir.join("broken/CasMailbox.csv"), "not,a,mailbox\r\n").unwrap();
}

#[test]
fn every_tenant_is_audited_as_on_its_own_and_a_broken_one_stops_nobody() {
    let work = tempfile::tempdir().unwrap();
    let tenants = work.path().join("tenants");
    fleet(&tenants);
    let out = work.path().join("out");
    let run = exoauth()
        .arg("audit")
        .arg(&tenants)
        .args(["--fleet", "--want", "block", "--format", "json", "--as-of", "2026-11-25", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    // A failed tenant (and the sample's deliberately bad sign-in row) exit 2.
    assert_eq!(run.status.code(), Some(2), "{}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("fleet.json")).unwrap()).unwrap();
    assert_eq!(report["schema"], "exoauth/fleet-v1");
    let rows = report["tenants"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|t| t["tenant"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "beta", "broken", "contoso"]);

    let broken = &rows[2];
    assert!(broken["summary"].is_null());
    assert!(
        broken["error"].as_str().unwrap().starts_with("CasMailbox.csv: missing required columns")
    );

    let mut flagged = 0;
    for row in rows.iter().filter(|t| t["error"].is_null()) {
        let name = row["tenant"].as_str().unwrap();
        let alone_dir = tenants.join(name);
        let (alone, _) = audit_json(&alone_dir, &["--want", "block"]);
        let (s, a) = (&row["summary"], &alone["summary"]);
        for (key, theirs) in [
            ("mailboxes", "mailboxes"),
            ("in_scope", "in_scope"),
            ("flagged", "flagged"),
            ("rejected_rows", "rejected_rows"),
        ] {
            assert_eq!(s[key], a[theirs], "{name} {key}");
        }
        let by = &a["by_protocol"]["smtp"];
        let open = by["allowed"].as_u64().unwrap() + by["unknown"].as_u64().unwrap();
        assert_eq!(s["smtp_not_blocked"], open, "{name}");
        flagged += s["flagged"].as_u64().unwrap();
        // Each tenant's own report, written beside the fleet's, is the one a
        // run on its folder alone writes.
        let own: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out.join("tenants").join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(own["summary"], alone["summary"], "{name}");
        assert_eq!(own["mailboxes"], alone["mailboxes"], "{name}");
    }
    assert_eq!(report["totals"]["flagged"], flagged);
    assert_eq!(report["totals"]["audited"], 3);
    assert_eq!(report["totals"]["failed"], 1);

    // The sample's sign-in logs count for it alone.
    let contoso = &rows[3]["summary"];
    let (alone, _) = audit_json(
        &tenants.join("contoso"),
        &["--want", "block", "--sign-ins", fixture("contoso-signins/portal-csv").to_str().unwrap()],
    );
    let in_use = alone["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["protocols"]["smtp"]["usage"]["readiness"] == "in-use")
        .count();
    assert_eq!(contoso["smtp_in_use"], in_use);
    // The register in its folder excepts what `--exceptions` with it excepts.
    let (named, _) = audit_json(
        &tenants.join("contoso"),
        &[
            "--want",
            "block",
            "--exceptions",
            fixture("contoso-signins/exceptions.csv").to_str().unwrap(),
        ],
    );
    assert!(named["summary"]["excepted"].as_u64().unwrap() > 0);
    assert_eq!(contoso["excepted"], named["summary"]["excepted"]);
    assert!(rows[0]["summary"]["smtp_in_use"].is_null(), "no sign-in logs, no count");
    assert_eq!(report["totals"]["tenants_with_evidence"], 1);
}

#[test]
fn fail_on_flagged_spans_the_fleet_and_every_format_names_each_tenant() {
    let work = tempfile::tempdir().unwrap();
    let tenants = work.path().join("tenants");
    fleet(&tenants);
    std::fs::remove_dir_all(tenants.join("broken")).unwrap();
    std::fs::remove_dir_all(tenants.join("contoso")).unwrap();
    exoauth()
        .arg("audit")
        .arg(&tenants)
        .args(["--fleet", "--as-of", "2026-11-25", "--format", "csv"])
        .assert()
        .success();
    exoauth()
        .arg("audit")
        .arg(&tenants)
        .args(["--fleet", "--as-of", "2026-11-25", "--fail-on", "flagged", "-q"])
        .assert()
        .code(1);
    // Reports written inside the folder of tenants, and hidden folders, are
    // not tenants on the next run.
    std::fs::create_dir_all(tenants.join(".git")).unwrap();
    for _ in 0..2 {
        exoauth()
            .arg("audit")
            .arg(&tenants)
            .args(["--fleet", "--as-of", "2026-11-25", "--format", "json", "-o"])
            .arg(tenants.join("reports"))
            .assert()
            .success();
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tenants.join("reports/fleet.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = report["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    for format in ["text", "markdown", "html", "csv"] {
        let out = exoauth()
            .arg("audit")
            .arg(&tenants)
            .args(["--fleet", "--as-of", "2026-11-25", "--format", format])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("alpha") && text.contains("beta"), "{format}: {text}");
    }
    // Scripts and registers are per tenant.
    exoauth().arg("audit").arg(&tenants).args(["--fleet", "--script", "fix.ps1"]).assert().code(2);
}
