//! VM benchmarks: `cargo bench --manifest-path bench/Cargo.toml`.
//!
//! 1. The cost of one instruction on a tight loop (a nested `count` over
//!    1,000 packages), in nanoseconds per executed instruction and per
//!    iteration, beside the same loop in Lua 5.4.
//! 2. A full evaluation of a realistic package of 60 rules (SSH settings,
//!    installed packages, kernel parameters, listeners, accounts) over one
//!    host's telemetry, beside the same rules written in Rego and evaluated by
//!    the `regorus` crate on the same document, in the same run. Both sides
//!    must agree on which rules fire; the ratio is printed.
//!
//! Each is measured twice for Assay: as it runs (loop filters fused into
//! one step, `runtime/src/vm/scan.rs`) and as plain instructions
//! (`Program::plain`), which must report the same.
//!
//! A custom harness rather than criterion, so one run can print the ratio.
//! Each side is warmed up, then timed over many iterations; the median of
//! several batches is reported. `-- --quick` (and `cargo test --benches`)
//! runs each side once; `-- --profile` only Assay's evaluation, for `perf`.

use assay_compiler::package::{Loaded, Manifest};
use assay_model::bundle;
use assay_model::telemetry as t;
use assay_runtime::value::Host;
use assay_runtime::vm::{Options, Program};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    if profile() {
        versus_regorus();
        return;
    }
    tight_loop();
    versus_regorus();
}

/// `-- --profile`: only Assay's 60-rule evaluation, 3,000 times, nothing
/// printed but the instruction count: a steady loop to run under `perf
/// record`.
fn profile() -> bool {
    std::env::args().any(|a| a == "--profile")
}

/// Quick mode (`-- --quick`, or `cargo test --benches`, which does not pass
/// `--bench`): one short iteration of each measurement, still checking that
/// Assay and its peer agree. CI runs it so the bench cannot rot.
fn quick() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench")
}

/// Median time per call of `f` over `batches` batches of `per_batch` calls
/// (one call in quick mode).
fn measure(batches: usize, per_batch: usize, mut f: impl FnMut()) -> Duration {
    let (batches, per_batch) = if quick() { (1, 1) } else { (batches, per_batch) };
    for _ in 0..per_batch.min(10) {
        f();
    }
    let mut samples: Vec<Duration> = (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            start.elapsed() / per_batch as u32
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn manifest() -> Manifest {
    Manifest {
        name: "bench".into(),
        title: "Benchmark".into(),
        version: "1.0.0".into(),
        description: "Generated for benchmarking.".into(),
        platforms: vec!["linux".into()],
    }
}

fn compile(src: &str) -> bundle::Bundle {
    let loaded = Loaded::from_memory(Some(manifest()), &[("rules.assay", src)]);
    match assay_compiler::build(&loaded) {
        Ok(built) => match bundle::load(&built.bytes) {
            Ok(b) => b,
            Err(e) => panic!("the generated bundle does not load: {e}"),
        },
        Err(d) => panic!(
            "the generated package does not compile:\n{}",
            assay_compiler::diagnostics::render_human(
                &loaded.sources,
                &d,
                assay_compiler::diagnostics::ColorChoice::Never
            )
        ),
    }
}

fn package(name: &str, version: &str) -> t::Package {
    t::Package {
        name: name.into(),
        version: t::Version(version.into()),
        source_name: Some(name.into()),
        source_version: Some(t::Version(version.into())),
        architecture: Some("amd64".into()),
        ecosystem: t::Ecosystem::Debian,
        origin: "/var/lib/dpkg/status".into(),
        licenses: None,
    }
}

/// The synthetic host is built from the model's own types, so a schema
/// change breaks the bench's build, never a run.
fn base_host() -> t::Telemetry {
    t::Telemetry {
        schema_version: 1,
        asset: t::Asset {
            id: "bench".into(),
            hostname: "bench".into(),
            tags: Vec::new(),
            os: Some(t::Os {
                family: t::OsFamily::Debian,
                distribution: "debian".into(),
                version: Some("12".into()),
                name: None,
            }),
            kernel_release: None,
            architecture: None,
        },
        ..t::Telemetry::default()
    }
}

/// The document both engines read: JSON written from the model's types and
/// read back by the runtime as an agent's upload would be.
fn document(host: &t::Telemetry) -> (String, Host) {
    let json = serde_json::to_string(host).expect("telemetry serializes");
    let parsed =
        Host::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("the runtime refuses the telemetry: {e}"));
    (json, parsed)
}

fn tight_loop() {
    let mut host = base_host();
    // 1,000 packages walked 1,000 times (a nested `count`): a million inner
    // iterations over data that stays in cache, so the loop measures the
    // interpreter rather than memory.
    host.packages = Some((0..1_000).map(|i| package(&format!("pkg{i}"), "1.0-1")).collect());
    let (_, host) = document(&host);
    let src = "rule LOOP-1 \"Tight loop\" {\n  severity low\n  description \"d\"\n  recommendation \"r\"\n  \
               applies when host.packages is present\n\n  \
               let n = count(o in host.packages where count(p in host.packages where p.ecosystem == debian) > 0)\n  \
               fail when n < 0\n    message \"{n}\"\n}\n";
    let bundle = compile(src);
    let program = Program::new(&bundle);
    let options = Options::default();
    let report = program.evaluate(&host, &options);
    let instructions = report.summary.instructions;
    let plain = Program::plain(&bundle);
    assert_eq!(plain.evaluate(&host, &options), report, "fused and plain programs must report the same");
    let time = measure(7, 3, || {
        black_box(program.evaluate(black_box(&host), &options));
    });
    let unfused = measure(7, 3, || {
        black_box(plain.evaluate(black_box(&host), &options));
    });
    println!("tight loop: a nested count over 1,000 packages (a million inner iterations)");
    println!(
        "  assay VM        {instructions} instructions in {:.2} ms: {:.2} ns per instruction, {:.1} ns per iteration",
        time.as_secs_f64() * 1e3,
        time.as_secs_f64() * 1e9 / instructions as f64,
        time.as_secs_f64() * 1e9 / 1e6
    );
    println!(
        "  plain           {:.2} ms: {:.1} ns per iteration (no fused filters)",
        unfused.as_secs_f64() * 1e3,
        unfused.as_secs_f64() * 1e9 / 1e6
    );
    lua_peer(time);
}

struct Pair {
    assay: String,
    rego: String,
}

/// 60 rules, each written in Assay and in Rego with the same meaning.
fn rules() -> Vec<Pair> {
    let mut out = Vec::new();
    let header = |id: &str| {
        format!("rule {id} \"{id}\" {{\n  severity medium\n  description \"d\"\n  recommendation \"r\"\n")
    };
    // SSH settings: 20 rules.
    let ssh: [(&str, &str, &str); 20] = [
        ("permit_root_login", "!=", "\"no\""),
        ("password_authentication", "==", "true"),
        ("permit_empty_passwords", "==", "true"),
        ("x11_forwarding", "==", "true"),
        ("max_auth_tries", ">", "4"),
        ("login_grace_time", ">", "60"),
        ("client_alive_interval", "==", "0"),
        ("client_alive_count_max", ">", "3"),
        ("hostbased_authentication", "==", "true"),
        ("ignore_rhosts", "==", "false"),
        ("permit_user_environment", "==", "true"),
        ("log_level", "==", "\"QUIET\""),
        ("allow_tcp_forwarding", "!=", "\"no\""),
        ("allow_agent_forwarding", "==", "true"),
        ("gssapi_authentication", "==", "true"),
        ("use_pam", "==", "false"),
        ("max_sessions", ">", "10"),
        ("banner", "==", "\"none\""),
        ("kbd_interactive_authentication", "==", "true"),
        ("protocol", "!=", "\"2\""),
    ];
    for (i, (field, op, lit)) in ssh.iter().enumerate() {
        let id = format!("SSH-{i:03}");
        out.push(Pair {
            assay: format!(
                "{}  applies when host.sshd is present\n\n  fail when host.sshd.{field} {op} {lit}\n    message \"{field}\"\n}}\n\n",
                header(&id)
            ),
            rego: format!("deny contains \"{id}\" if {{\n  input.sshd.{field}.value {op} {lit}\n}}\n\n"),
        });
    }
    // Installed packages: 15 rules.
    for i in 0..15 {
        let id = format!("PKG-{i:03}");
        let names = [format!("pkg{}", i * 37), format!("pkg{}", i * 37 + 5000), format!("absent{i}")];
        let list = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        out.push(Pair {
            assay: format!(
                "{}  applies when host.packages is present\n\n  for each p in host.packages where p.name in [{list}]\n    fail message \"{{p.name}}\"\n}}\n\n",
                header(&id)
            ),
            rego: format!(
                "deny contains sprintf(\"{id} %s\", [p.name]) if {{\n  some p in input.packages\n  p.name in {{{list}}}\n}}\n\n"
            ),
        });
    }
    // Kernel parameters: 10 rules.
    for i in 0..10 {
        let id = format!("KRN-{i:03}");
        let name = format!("net.ipv4.param_{i}");
        let want = if i % 3 == 0 { "1" } else { "0" };
        out.push(Pair {
            assay: format!(
                "{}  applies when host.kernel is present\n\n  let k = host.sysctl(\"{name}\")\n  \
                 fail when k is absent or (k.runtime ?? \"\") != \"{want}\"\n    message \"{name}\"\n}}\n\n",
                header(&id)
            ),
            rego: format!("deny contains \"{id}\" if {{\n  not param_is(\"{name}\", \"{want}\")\n}}\n\n"),
        });
    }
    // Listeners: 10 rules.
    for i in 0..10 {
        let id = format!("NET-{i:03}");
        let port = [21, 23, 25, 80, 110, 143, 161, 513, 514, 8080][i];
        out.push(Pair {
            assay: format!(
                "{}  applies when host.listeners is present\n\n  for each l in host.listeners where l.port == {port} and not (l.address starts with \"127.\")\n    \
                 fail message \"{{l.address}}:{{l.port}}\"\n}}\n\n",
                header(&id)
            ),
            rego: format!(
                "deny contains sprintf(\"{id} %s:%d\", [l.address, l.port]) if {{\n  some l in input.listeners\n  l.port == {port}\n  not startswith(l.address, \"127.\")\n}}\n\n"
            ),
        });
    }
    // Accounts: 5 rules.
    let users: [(&str, &str); 5] = [
        ("u.uid == 0 and u.name != \"root\"", "u.uid == 0\n  u.name != \"root\""),
        ("u.password == empty", "u.password == \"empty\""),
        ("not u.shadowed", "u.shadowed == false"),
        (
            "(u.max_days ?? 99999) > 365 and u.password == set",
            "object.get(u, \"max_days\", 99999) > 365\n  u.password == \"set\"",
        ),
        ("u.shell == \"/bin/sh\" and u.uid >= 1000", "u.shell == \"/bin/sh\"\n  u.uid >= 1000"),
    ];
    for (i, (cond, rego)) in users.iter().enumerate() {
        let id = format!("USR-{i:03}");
        out.push(Pair {
            assay: format!(
                "{}  applies when host.users is present\n\n  for each u in host.users where {cond}\n    fail message \"{{u.name}}\"\n}}\n\n",
                header(&id)
            ),
            rego: format!(
                "deny contains sprintf(\"{id} %s\", [u.name]) if {{\n  some u in input.users\n  {rego}\n}}\n\n"
            ),
        });
    }
    out
}

fn realistic_host() -> t::Telemetry {
    fn sourced<T>(value: T) -> t::Sourced<T> {
        let source = t::Provenance { file: Some("/etc/ssh/sshd_config".into()), line: Some(10), note: None };
        t::Sourced::new(value, source)
    }
    let s = |v: &str| sourced(v.to_owned());
    let strings = |v: &[&str]| sourced(v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>());
    let mut host = base_host();
    host.packages = Some((0..1500).map(|i| package(&format!("pkg{i}"), &format!("1.{i}-1"))).collect());
    host.sshd = Some(t::Sshd {
        permit_root_login: s("prohibit-password"),
        protocol: s("2"),
        password_authentication: sourced(true),
        permit_empty_passwords: sourced(false),
        pubkey_authentication: sourced(true),
        kbd_interactive_authentication: sourced(false),
        hostbased_authentication: sourced(false),
        ignore_rhosts: sourced(true),
        permit_user_environment: sourced(false),
        x11_forwarding: sourced(true),
        allow_tcp_forwarding: s("yes"),
        allow_agent_forwarding: sourced(true),
        gssapi_authentication: sourced(false),
        disable_forwarding: sourced(false),
        use_pam: sourced(true),
        max_auth_tries: sourced(6),
        max_sessions: sourced(10),
        max_startups: s("10:30:100"),
        login_grace_time: sourced(120),
        client_alive_interval: sourced(0),
        client_alive_count_max: sourced(3),
        log_level: s("INFO"),
        banner: s("none"),
        ciphers: strings(&["aes256-ctr"]),
        macs: strings(&["hmac-sha2-256"]),
        kex_algorithms: strings(&["curve25519-sha256"]),
        allow_users: strings(&[]),
        allow_groups: strings(&[]),
        deny_users: strings(&[]),
        deny_groups: strings(&[]),
        ports: sourced(vec![22]),
        ..t::Sshd::default()
    });
    let parameters = (0..40)
        .map(|i| t::KernelParameter {
            name: format!("net.ipv4.param_{i}"),
            runtime: Some(t::Sourced::new(
                if i % 2 == 0 { "1" } else { "0" }.to_owned(),
                t::Provenance { file: Some("/proc/sys/x".into()), ..t::Provenance::default() },
            )),
            persisted: None,
        })
        .collect();
    host.kernel = Some(t::Kernel { parameters, ..t::Kernel::default() });
    let seen = t::Sighting {
        first_seen: "2026-11-23T00:00:00Z".into(),
        last_seen: "2026-11-23T00:00:00Z".into(),
        samples: 1,
    };
    host.listeners = Some(
        (0..25u32)
            .map(|i| t::Listener {
                protocol: t::Protocol::Tcp,
                family: t::AddressFamily::Ipv4,
                address: if i % 3 == 0 { "127.0.0.1" } else { "0.0.0.0" }.into(),
                port: [22, 25, 53, 80, 111, 123, 443, 631, 5432, 6379, 8080, 9090][i as usize % 12],
                process: None,
                connections_seen: i % 4,
                seen: seen.clone(),
            })
            .collect(),
    );
    host.users = Some(
        (0..30u32)
            .map(|i| t::User {
                name: format!("user{i}"),
                uid: if i == 7 { 0 } else { 1000 + i },
                gid: 1000,
                home: "/home/u".into(),
                shell: if i % 5 == 0 { "/bin/sh" } else { "/bin/bash" }.into(),
                shadowed: i != 3,
                password: if i == 4 { t::PasswordState::Empty } else { t::PasswordState::Set },
                last_change: Some(19000),
                min_days: Some(0),
                max_days: Some(if i % 2 == 0 { 99999 } else { 90 }),
                warn_days: Some(7),
                inactive_days: None,
                expires: None,
                ..t::User::default()
            })
            .collect(),
    );
    host
}

fn versus_regorus() {
    let pairs = rules();
    let assay_src: String = pairs.iter().map(|p| p.assay.as_str()).collect();
    let rego_src = format!(
        "package assay\n\nimport rego.v1\n\nparam_is(name, value) if {{\n  some p in input.kernel.parameters\n  p.name == name\n  p.runtime.value == value\n}}\n\n{}",
        pairs.iter().map(|p| p.rego.as_str()).collect::<String>()
    );
    let (json, host) = document(&realistic_host());

    let bundle = compile(&assay_src);
    let program = Program::new(&bundle);
    let options = Options::default();
    let report = program.evaluate(&host, &options);
    assert_eq!(report.summary.errors, 0, "{:?}", report.rules.iter().find(|r| r.outcome.name() == "error"));

    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    engine.add_policy("bench.rego".into(), rego_src).expect("the Rego policy parses");
    engine.set_input(regorus::Value::from_json_str(&json).expect("input parses"));
    let deny = engine.eval_rule("data.assay.deny".into()).expect("the Rego policy evaluates");
    let rego_findings = deny.as_set().map(|s| s.len()).unwrap_or(0);
    // A Rego set holds each (rule, message) once; two listeners on the same
    // address and port are one entry there and two findings here.
    let distinct: std::collections::BTreeSet<(String, String)> =
        report.findings.iter().map(|f| (f.rule_id.clone(), f.message.clone())).collect();
    assert_eq!(
        rego_findings,
        distinct.len(),
        "both engines must report the same findings (Rego: {deny}, Assay: {:?})",
        report.findings.iter().map(|f| (&f.rule_id, &f.message)).collect::<Vec<_>>()
    );

    // The plain instructions (no fused loop filters) report the same, and
    // are the peer that says what the fusion is worth.
    let plain = Program::plain(&bundle);
    assert_eq!(plain.evaluate(&host, &options), report, "fused and plain programs must report the same");
    if profile() {
        eprintln!("instructions per host: {}", report.summary.instructions);
        for _ in 0..3000 {
            black_box(program.evaluate(black_box(&host), &options));
        }
        return;
    }
    let ours = measure(21, 50, || {
        black_box(program.evaluate(black_box(&host), &options));
    });
    let unfused = measure(21, 50, || {
        black_box(plain.evaluate(black_box(&host), &options));
    });
    let theirs = measure(11, 5, || {
        black_box(engine.eval_rule("data.assay.deny".into()).ok());
    });
    println!("\nfull evaluation: 60 rules, 1,500 packages, 25 listeners, 40 kernel parameters, 30 users");
    println!("  findings        {} (both engines agree)", report.findings.len());
    println!("  assay VM        {:>10.1} µs per host", ours.as_secs_f64() * 1e6);
    println!(
        "  plain           {:>10.1} µs per host (no fused filters: {:.2}× the time)",
        unfused.as_secs_f64() * 1e6,
        unfused.as_secs_f64() / ours.as_secs_f64()
    );
    println!("  regorus         {:>10.1} µs per host", theirs.as_secs_f64() * 1e6);
    println!("  ratio           {:>10.1}× faster than regorus", theirs.as_secs_f64() / ours.as_secs_f64());
}

/// The same loop in Lua 5.4, when `lua5.4` is installed, as a peer measured
/// in the same run (a table per package, `ipairs`, a string comparison).
fn lua_peer(ours: Duration) {
    let script = r#"
local items = {}
for i = 1, 1000 do items[i] = { name = "pkg" .. i, ecosystem = "debian" } end
local times = {}
for run = 1, 7 do
  local t0 = os.clock()
  local n = 0
  for o = 1, 1000 do
    local c = 0
    for _, p in ipairs(items) do
      if p.ecosystem == "debian" then c = c + 1 end
    end
    if c > 0 then n = n + 1 end
  end
  times[#times + 1] = os.clock() - t0
end
table.sort(times)
print(times[4])
"#;
    match std::process::Command::new("lua5.4").arg("-e").arg(script).output() {
        Ok(out) if out.status.success() => {
            let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(f64::NAN);
            println!(
                "  lua 5.4         {:.2} ms: {:.1} ns per iteration (median of 7)",
                secs * 1e3,
                secs * 1e9 / 1e6
            );
            println!("  ratio           {:.2}× Lua's time per iteration", ours.as_secs_f64() / secs);
        }
        _ => println!("  lua 5.4         not installed (apt-get install lua5.4 for the peer measurement)"),
    }
}
