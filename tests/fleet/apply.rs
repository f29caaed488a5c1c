//! The fleet declared in git: `assay fleet apply` against a real server
//! (plan, apply, idempotence, prune) and `assay fleet export` read back.

use super::{fleet, server_with};

const FILE: &str = "\
targets:
  prod:
    tags: [{key: env, value: prod}]
  staging:
    tags: [{key: env, value: staging}, {key: canary}]
templates:
  nightly:
    target: prod
    packages: [security-best-practices, cis-linux@1]
    duration: 15m
    schedule: 0 3 * * *
    attributes: {team: infra}
  smoke:
    target: staging
    packages: [security-best-practices]
waivers:
  - rule: SBP-PWD-001
    asset: build-*
    owner: sec@example.com
    justification: build hosts have no local passwords
    expires: 2099-01-01
";

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout:\n{}\nstderr:\n{}", r.1, r.2);
    r.1
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn applying_a_fleet_file_twice_changes_nothing_the_second_time() {
    let data = tempfile::tempdir().unwrap();
    let s = server_with(data.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("fleet.yaml");
    std::fs::write(&file, FILE).unwrap();
    let f = file.to_str().unwrap();

    let plan = ok(fleet(&s, &["apply", f, "--dry-run"]));
    assert_eq!(
        lines(&plan),
        [
            "+ target prod",
            "+ target staging",
            "+ template nightly",
            "+ template smoke",
            "~ waivers (0 → 1 entries)",
            "5 would change (--dry-run: nothing applied)"
        ]
    );
    assert!(ok(fleet(&s, &["target", "list", "--format", "json"])).contains("\"items\": []"));

    assert_eq!(lines(&ok(fleet(&s, &["apply", f]))).last(), Some(&"5 changed"));
    assert_eq!(ok(fleet(&s, &["apply", f])).trim(), format!("no changes: the server matches {f}"));
    let nightly = ok(fleet(&s, &["template", "show", "nightly", "--format", "json"]));
    assert!(nightly.contains("\"duration_seconds\": 900") && nightly.contains("cis-linux@1"), "{nightly}");

    // What export writes is what apply reads: no change.
    let exported = work.path().join("exported.yaml");
    ok(fleet(&s, &["export", "-o", exported.to_str().unwrap()]));
    assert!(ok(fleet(&s, &["apply", exported.to_str().unwrap()])).starts_with("no changes"));
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.contains("duration: 15m") && text.contains("SBP-PWD-001"), "{text}");

    // A change of tags and of packages; a template left out stays...
    let changed = FILE.replace("{key: env, value: prod}", "{key: env, value: production}").replace(
        "packages: [security-best-practices]\n",
        "packages: [security-best-practices, runtime-behavior]\n",
    );
    std::fs::write(&file, &changed).unwrap();
    assert_eq!(
        lines(&ok(fleet(&s, &["apply", f]))),
        ["~ target prod (tags)", "~ template smoke (packages)", "2 changed"]
    );
    let without_smoke =
        changed.split("  smoke:").next().unwrap().to_owned() + &changed[changed.find("waivers:").unwrap()..];
    std::fs::write(&file, &without_smoke).unwrap();
    assert!(ok(fleet(&s, &["apply", f])).starts_with("no changes"));
    // ... unless --prune, which deletes it (and the target only it used).
    let staging_gone =
        without_smoke.replace("  staging:\n    tags: [{key: env, value: staging}, {key: canary}]\n", "");
    std::fs::write(&file, &staging_gone).unwrap();
    assert_eq!(
        lines(&ok(fleet(&s, &["apply", f, "--prune"]))),
        ["- template smoke", "- target staging", "2 changed"]
    );
    assert!(ok(fleet(&s, &["apply", f, "--prune"])).starts_with("no changes"));

    // A misspelt key is refused before anything is sent.
    std::fs::write(&file, FILE.replace("packages: [security-best-practices]", "pakages: [x]")).unwrap();
    let (code, _, err) = fleet(&s, &["apply", f]);
    assert_eq!(code, 2);
    assert!(err.contains("pakages"), "{err}");
    // An unknown package is refused by the server with its reason.
    std::fs::write(&file, FILE.replace("cis-linux@1", "cis-linux@9")).unwrap();
    let (code, _, err) = fleet(&s, &["apply", f]);
    assert_eq!(code, 2);
    assert!(super::unwrapped(&err).contains("no version of cis-linux matches `cis-linux@9`"), "{err}");
}
