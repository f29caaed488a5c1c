//! VM benchmarks: `cargo bench --manifest-path bench/Cargo.toml`.
//!
//! 1. The cost of one instruction on a tight loop (a `count` over 100,000
//!    packages), reported in nanoseconds per executed instruction.
//! 2. A full evaluation of a realistic package of 60 rules (SSH settings,
//!    installed packages, kernel parameters, listeners, accounts) over one
//!    host's telemetry, beside the same rules written in Rego and evaluated by
//!    the `regorus` crate on the same document, in the same run. Both sides
//!    must agree on which rules fire; the ratio is printed.
//!
//! A custom harness rather than criterion, so one run can print the ratio.
//! Each side is warmed up, then timed over many iterations; the median of
//! several batches is reported.

use assay_compiler::package::{Loaded, Manifest};
use assay_model::bundle;
use assay_runtime::value::Host;
use assay_runtime::vm::{Options, Program};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    tight_loop();
    versus_regorus();
}

/// Median time per call of `f` over `batches` batches of `per_batch` calls.
fn measure(batches: usize, per_batch: usize, mut f: impl FnMut()) -> Duration {
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

fn package_json(name: &str, version: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name, "version": version, "source_name": name, "source_version": version,
        "architecture": "amd64", "ecosystem": "debian", "origin": "/var/lib/dpkg/status"
    })
}

fn base_host() -> serde_json::Value {
    serde_json::json!({
        "schema_version": 1,
        "asset": {"id": "bench", "hostname": "bench", "tags": [], "os": {"family": "debian", "distribution": "debian", "version": "12", "name": null}, "kernel_release": null, "architecture": null},
        "errors": []
    })
}

fn tight_loop() {
    let mut host = base_host();
    // 1,000 packages walked 1,000 times (a nested `count`): a million inner
    // iterations over data that stays in cache, so the loop measures the
    // interpreter rather than memory.
    let packages: Vec<_> = (0..1_000).map(|i| package_json(&format!("pkg{i}"), "1.0-1")).collect();
    host["packages"] = serde_json::Value::Array(packages);
    let host = Host::from_json(host.to_string().as_bytes()).expect("valid telemetry");
    let src = "rule LOOP-1 \"Tight loop\" {\n  severity low\n  description \"d\"\n  recommendation \"r\"\n  \
               applies when host.packages is present\n\n  \
               let n = count(o in host.packages where count(p in host.packages where p.ecosystem == debian) > 0)\n  \
               fail when n < 0\n    message \"{n}\"\n}\n";
    let bundle = compile(src);
    let program = Program::new(&bundle);
    let options = Options::default();
    let instructions = program.evaluate(&host, &options).summary.instructions;
    let time = measure(7, 3, || {
        black_box(program.evaluate(black_box(&host), &options));
    });
    println!("tight loop: a nested count over 1,000 packages (a million inner iterations)");
    println!(
        "  assay VM        {instructions} instructions in {:.2} ms: {:.2} ns per instruction, {:.1} ns per iteration",
        time.as_secs_f64() * 1e3,
        time.as_secs_f64() * 1e9 / instructions as f64,
        time.as_secs_f64() * 1e9 / 1e6
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
                "{}  applies when host.kernel is present\n\n  let k = find(p in host.kernel.parameters where p.name == \"{name}\")\n  \
                 fail when k is absent or (k.runtime ?? \"\") != \"{want}\"\n    message \"{name}\"\n}}\n\n",
                header(&id)
            ),
            rego: format!(
                "deny contains \"{id}\" if {{\n  not param_is(\"{name}\", \"{want}\")\n}}\n\n"
            ),
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

fn realistic_host() -> serde_json::Value {
    let sourced = |v: serde_json::Value| serde_json::json!({"value": v, "source": {"file": "/etc/ssh/sshd_config", "line": 10}});
    let mut host = base_host();
    host["packages"] = (0..1500).map(|i| package_json(&format!("pkg{i}"), &format!("1.{i}-1"))).collect();
    host["sshd"] = serde_json::json!({
        "permit_root_login": sourced("prohibit-password".into()),
        "protocol": sourced("2".into()),
        "password_authentication": sourced(true.into()),
        "permit_empty_passwords": sourced(false.into()),
        "pubkey_authentication": sourced(true.into()),
        "kbd_interactive_authentication": sourced(false.into()),
        "hostbased_authentication": sourced(false.into()),
        "ignore_rhosts": sourced(true.into()),
        "permit_user_environment": sourced(false.into()),
        "x11_forwarding": sourced(true.into()),
        "allow_tcp_forwarding": sourced("yes".into()),
        "allow_agent_forwarding": sourced(true.into()),
        "gssapi_authentication": sourced(false.into()),
        "disable_forwarding": sourced(false.into()),
        "use_pam": sourced(true.into()),
        "max_auth_tries": sourced(6.into()),
        "max_sessions": sourced(10.into()),
        "max_startups": sourced("10:30:100".into()),
        "login_grace_time": sourced(120.into()),
        "client_alive_interval": sourced(0.into()),
        "client_alive_count_max": sourced(3.into()),
        "log_level": sourced("INFO".into()),
        "banner": sourced("none".into()),
        "ciphers": sourced(serde_json::json!(["aes256-ctr"])),
        "macs": sourced(serde_json::json!(["hmac-sha2-256"])),
        "kex_algorithms": sourced(serde_json::json!(["curve25519-sha256"])),
        "allow_users": sourced(serde_json::json!([])),
        "allow_groups": sourced(serde_json::json!([])),
        "deny_users": sourced(serde_json::json!([])),
        "deny_groups": sourced(serde_json::json!([])),
        "ports": sourced(serde_json::json!([22])),
        "settings": [],
        "match_blocks": []
    });
    let params: Vec<_> = (0..40)
        .map(|i| {
            let value = if i % 2 == 0 { "1" } else { "0" };
            serde_json::json!({"name": format!("net.ipv4.param_{i}"), "runtime": {"value": value, "source": {"file": "/proc/sys/x"}}, "persisted": null})
        })
        .collect();
    host["kernel"] = serde_json::json!({"parameters": params, "modules": []});
    let seen = serde_json::json!({"first_seen": "2026-11-23T00:00:00Z", "last_seen": "2026-11-23T00:00:00Z", "samples": 1});
    host["listeners"] = (0..25)
        .map(|i| {
            let port = [22, 25, 53, 80, 111, 123, 443, 631, 5432, 6379, 8080, 9090][i % 12];
            let address = if i % 3 == 0 { "127.0.0.1" } else { "0.0.0.0" };
            serde_json::json!({"protocol": "tcp", "family": "ipv4", "address": address, "port": port, "process": null, "connections_seen": i % 4, "seen": seen})
        })
        .collect();
    host["users"] = (0..30)
        .map(|i| {
            serde_json::json!({
                "name": format!("user{i}"), "uid": if i == 7 { 0 } else { 1000 + i }, "gid": 1000, "home": "/home/u",
                "shell": if i % 5 == 0 { "/bin/sh" } else { "/bin/bash" }, "shadowed": i != 3,
                "password": if i == 4 { "empty" } else { "set" }, "last_change": 19000, "min_days": 0,
                "max_days": if i % 2 == 0 { 99999 } else { 90 }, "warn_days": 7, "inactive_days": null, "expires": null
            })
        })
        .collect();
    host
}

fn versus_regorus() {
    let pairs = rules();
    let assay_src: String = pairs.iter().map(|p| p.assay.as_str()).collect();
    let rego_src = format!(
        "package assay\n\nimport rego.v1\n\nparam_is(name, value) if {{\n  some p in input.kernel.parameters\n  p.name == name\n  p.runtime.value == value\n}}\n\n{}",
        pairs.iter().map(|p| p.rego.as_str()).collect::<String>()
    );
    let json = realistic_host().to_string();

    let bundle = compile(&assay_src);
    let host = Host::from_json(json.as_bytes()).expect("valid telemetry");
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

    let ours = measure(21, 50, || {
        black_box(program.evaluate(black_box(&host), &options));
    });
    let theirs = measure(11, 5, || {
        black_box(engine.eval_rule("data.assay.deny".into()).ok());
    });
    println!("\nfull evaluation: 60 rules, 1,500 packages, 25 listeners, 40 kernel parameters, 30 users");
    println!("  findings        {} (both engines agree)", report.findings.len());
    println!("  assay VM        {:>10.1} µs per host", ours.as_secs_f64() * 1e6);
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
