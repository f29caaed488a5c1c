use crate::package::Loaded;
use crate::Code;

fn codes(src: &str) -> Vec<Code> {
    let loaded = Loaded::from_memory(None, &[("t.assay", src)]);
    crate::compile(&loaded).diagnostics.iter().map(|d| d.code).collect()
}

fn rule(body: &str) -> String {
    format!("rule T-1 \"t\" {{\n  severity low\n  description \"d\"\n  recommendation \"r\"\n{body}\n}}\n")
}

#[test]
fn an_unguarded_optional_is_rejected_and_each_way_of_handling_it_compiles() {
    let unguarded = rule("  fail when host.sshd.max_auth_tries > 4\n    message \"m\"");
    assert_eq!(codes(&unguarded), vec![Code::E0402]);
    for ok in [
        "  fail when (host.sshd.max_auth_tries ?? 6) > 4\n    message \"m\"",
        "  fail when host.sshd is present and host.sshd.max_auth_tries > 4\n    message \"m\"",
        "  applies when host.sshd is present\n  fail when host.sshd.max_auth_tries > 4\n    message \"m\"",
        "  fail when host.sshd is absent or host.sshd.max_auth_tries > 4\n    message \"m\"",
        "  fail when if host.sshd is present then host.sshd.max_auth_tries > 4 else false\n    message \"m\"",
        "  fail when not (host.sshd is absent) and host.sshd.max_auth_tries > 4\n    message \"m\"",
    ] {
        assert_eq!(codes(&rule(ok)), vec![], "{ok}");
    }
}

#[test]
fn presence_facts_do_not_leak_out_of_their_scope() {
    // The `or` branch proves nothing about the message, and an `if` branch
    // proves nothing after the `if`.
    let src = rule("  fail when host.sshd is present or true\n    message \"{host.sshd.max_auth_tries}\"");
    assert!(codes(&src).contains(&Code::E0402));
    let src = rule(
        "  let a = if host.sshd is present then host.sshd.max_auth_tries else 0\n  fail when host.sshd.max_sessions > a\n    message \"m\"",
    );
    assert_eq!(codes(&src), vec![Code::E0402]);
}

#[test]
fn loops_over_optional_collections_need_a_guard() {
    let src = rule("  for each p in host.packages where p.name == \"telnet\"\n    fail message \"{p.name}\"");
    assert_eq!(codes(&src), vec![Code::E0402]);
    let src = rule(
        "  applies when host.packages is present\n  for each p in host.packages where p.name == \"telnet\"\n    fail message \"{p.name}\"",
    );
    assert_eq!(codes(&src), vec![]);
}

#[test]
fn enumeration_values_resolve_from_the_other_side() {
    let src = rule(
        "  applies when host.listeners is present\n  fail when any(l in host.listeners where tcp == l.protocol and l.protocol in [udp, tcp])\n    message \"m\"",
    );
    assert_eq!(codes(&src), vec![]);
}

#[test]
fn find_gives_an_optional_item() {
    let src = rule(
        "  applies when host.kernel is present\n  let p = find(k in host.kernel.parameters where k.name == \"kernel.randomize_va_space\")\n  fail when p.runtime ?? \"0\" != \"2\"\n    message \"m\"",
    );
    assert_eq!(codes(&src), vec![]);
    let src = rule(
        "  applies when host.kernel is present\n  let p = find(k in host.kernel.parameters where k.name == \"kernel.randomize_va_space\")\n  fail when p.name == \"x\"\n    message \"m\"",
    );
    assert_eq!(codes(&src), vec![Code::E0402]);
}

#[test]
fn functions_check_their_signatures_and_natives_their_arguments() {
    let src = format!(
        "import std.strings\n\nfn quiet(level: string) -> bool {{\n  strings.lower(level) == \"quiet\"\n}}\n\n{}",
        rule("  applies when host.sshd is present\n  fail when quiet(host.sshd.log_level)\n    message \"m\"")
    );
    assert_eq!(codes(&src), vec![]);
    let src = format!(
        "fn quiet(level: string) -> int {{\n  level == \"quiet\"\n}}\n\n{}",
        rule("  applies when host.sshd is present\n  fail when quiet(host.sshd.log_level) > 0\n    message \"m\"")
    );
    assert_eq!(codes(&src), vec![Code::E0401]);
}

#[test]
fn the_checked_program_resolves_fields_to_indices() {
    let loaded = Loaded::from_memory(
        None,
        &[(
            "t.assay",
            &rule("  applies when host.sshd is present\n  fail when host.sshd.use_pam\n    message \"m\""),
        )],
    );
    let program = crate::compile(&loaded).program.unwrap();
    assert_eq!(program.rules.len(), 1);
    let crate::check::hir::Step::Check(crate::check::hir::Check::Fail { condition: Some(cond), .. }) =
        &program.rules[0].steps[1]
    else {
        panic!("unexpected steps: {:?}", program.rules[0].steps)
    };
    let crate::check::hir::ExprKind::Field { index, sourced, .. } = &cond.kind else { panic!("{cond:?}") };
    let schema = crate::check::schema::Schema::get();
    let sshd = schema.record_by_name("Sshd").unwrap();
    assert_eq!(schema.record(sshd).fields[*index as usize].name, "use_pam");
    assert!(sourced);
}

#[test]
fn results_do_not_depend_on_file_order() {
    let a = ("a.assay", "const A = 1\n");
    let b = ("b.assay", "import a.{A}\n\nrule B-1 \"b\" {\n  severity low\n  description \"d\"\n  recommendation \"r\"\n  fail when host.schema_version > A\n    message \"m\"\n}\n");
    let manifest = crate::package::Manifest {
        name: "p".into(),
        title: "p".into(),
        version: "1.0.0".into(),
        description: "d".into(),
        platforms: vec!["linux".into()],
    };
    let one = crate::compile(&Loaded::from_memory(Some(manifest.clone()), &[a, b]));
    let two = crate::compile(&Loaded::from_memory(Some(manifest), &[b, a]));
    assert!(one.diagnostics.is_empty(), "{:?}", one.diagnostics);
    let (one, two) = (one.program.unwrap(), two.program.unwrap());
    assert_eq!(one.consts.len(), two.consts.len());
    assert_eq!(one.consts[0].name, two.consts[0].name);
}

#[test]
fn a_lookup_is_an_optional_record_and_is_recorded() {
    let src = rule(
        "  let p = host.sysctl(\"kernel.unprivileged_bpf_disabled\")\n  fail when (p.runtime ?? \"0\") == \"0\"\n    message \"m\"",
    );
    let loaded = Loaded::from_memory(None, &[("t.assay", &src)]);
    let compiled = crate::compile(&loaded);
    assert!(compiled.diagnostics.is_empty(), "{:?}", compiled.diagnostics);
    let program = compiled.program.unwrap();
    let lookups: Vec<String> = program.rules[0].lookups.iter().map(|l| l.to_string()).collect();
    assert_eq!(lookups, ["host.sysctl(\"kernel.unprivileged_bpf_disabled\")"]);
    // Reading the record without a default is the usual E0402.
    let src = rule("  fail when host.sysctl(\"kernel.dmesg_restrict\").runtime == \"1\"\n    message \"m\"");
    assert_eq!(codes(&src), vec![Code::E0402]);
}

/// Each quick fix a diagnostic offers, applied alone, gives text in which
/// that diagnostic is gone and no error is left; the fixed texts are
/// snapshotted.
#[test]
fn quick_fixes_mend_what_they_are_offered_for() {
    let cases = [
        // E0402 with no `applies when`: a default, or a new guard line.
        rule("\n  fail when host.sshd.max_auth_tries > 4\n    message \"m\""),
        // E0402 with an `applies when` to join, in arithmetic.
        rule("  applies when host.kernel is present or host.pam is present\n\n  fail when host.sshd.max_auth_tries + 1 > 5\n    message \"m\""),
        // W0102: a module import, one name of two, the last name, the only name.
        format!("import std.strings\nimport std.lists\n\n{}", rule("  fail when lists.len(host.users ?? []) > 4\n    message \"m\"")),
        format!("import helpers.{{a, b}}\n{}", rule("  fail when b() and host.users ?? [] == []\n    message \"m\"")),
        format!("import helpers.{{a, b}}\n{}", rule("  fail when a() and host.users ?? [] == []\n    message \"m\"")),
        // W0101: renamed `_spare`, or its line removed.
        rule("  let spare = 1\n  fail when host.users ?? [] == []\n    message \"m\""),
        // E0101 at `[`: a lookup by name, or a `find`.
        rule("  fail when host.kernel.parameters[\"kernel.randomize_va_space\"] is absent\n    message \"m\""),
        rule("  applies when host.packages is present\n  fail when host.packages[\"telnetd\"] is present\n    message \"m\""),
        format!("import helpers.{{a}}\n{}", rule("  fail when host.users ?? [] == []\n    message \"m\"")),
    ];
    let helpers = "fn a() -> bool {\n  true\n}\n\nfn b() -> bool {\n  true\n}\n";
    let mut out = String::new();
    for src in &cases {
        let mut offered = 0;
        let loaded = Loaded::from_memory(None, &[("t.assay", src), ("helpers.assay", helpers)]);
        let compiled = crate::compile(&loaded);
        for d in &compiled.diagnostics {
            for fix in &d.suggestions {
                offered += 1;
                let range = fix.span.range();
                assert_eq!(loaded.sources.get(fix.span.file).map(|f| f.name()), Some("t.assay"));
                let fixed = format!("{}{}{}", &src[..range.start], fix.replacement, &src[range.end..]);
                let again = Loaded::from_memory(None, &[("t.assay", &fixed), ("helpers.assay", helpers)]);
                // Gone, and no error in its place.
                let left: Vec<_> = crate::compile(&again)
                    .diagnostics
                    .into_iter()
                    .filter(|x| x.is_error() || (x.code == d.code && x.message == d.message))
                    .collect();
                assert!(left.is_empty(), "{:?} left after `{}`:\n{fixed}", left, fix.title);
                out.push_str(&format!("== {}: {}\n{fixed}\n", d.code.as_str(), fix.title));
            }
        }
        assert!(offered > 0, "no quick fix offered for:\n{src}");
    }
    insta::assert_snapshot!(out);
}

#[test]
fn a_rule_that_reads_licences_puts_them_in_the_collection_plan() {
    let plan = |body: &str| {
        let src = rule(body);
        let built = crate::build(&Loaded::from_memory(None, &[("t.assay", &src)])).expect("builds");
        assay_model::bundle::load(&built.bytes).expect("loads").content.plan.licenses
    };
    let reads =
        "  let agpl = find(p in host.packages ?? [] where \"AGPL-3.0-only\" in (p.licenses ?? []))\n  \
                 fail when agpl is present\n    message \"{agpl.name ?? \"\"} is under the AGPL\"";
    assert!(plan(reads));
    let names_only = "  let p = find(p in host.packages ?? [] where p.name == \"telnetd\")\n  \
                      fail when p is present\n    message \"telnetd is installed\"";
    assert!(!plan(names_only));
}
