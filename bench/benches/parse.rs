//! Front-end throughput on a generated package of 10,000 rules: parsing
//! alone, and the whole of `assay check` (parse, resolve, type-check, lints).
//! `cargo bench --manifest-path bench/Cargo.toml --bench parse`; results in bench/PARSE.md.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assay_compiler::package::Loaded;
use assay_compiler::syntax::parse;
use assay_compiler::FileId;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A package of `n` rules shaped like the built-in ones: metadata, a guard, a
/// compound condition, loops and interpolated messages.
fn generate(n: usize) -> String {
    let mut src =
        String::from("//! Generated for benchmarking.\n\nconst LIMIT = 90\nconst PORTS = [21, 23, 80]\n\n");
    for i in 0..n {
        let rule = match i % 3 {
            0 => format!(
                "/// Rule {i}: a scalar setting.\nrule GEN-{i:05} \"Setting {i} is hardened\" {{\n  severity medium\n  \
                 description \"Setting {i} must be hardened.\"\n  recommendation \"Set `Option{i} no` in the configuration.\"\n  \
                 references [\"CIS 5.2.{i}\", \"https://example.org/rules/{i}\"]\n  tags [\"ssh\", \"generated\"]\n  \
                 applies when host.sshd is present\n\n  fail when host.sshd.permit_root_login != \"no-{i}\" and host.sshd.max_auth_tries > LIMIT\n    \
                 message \"option {i} is {{host.sshd.permit_root_login}}\"\n}}\n\n"
            ),
            1 => format!(
                "rule GEN-{i:05} \"Listener {i}\" {{\n  severity low\n  description \"Port {i}.\"\n  recommendation \"Close port {i}.\"\n  \
                 applies when host.listeners is present\n\n  \
                 for each l in host.listeners where l.port in PORTS and not (l.address starts with \"127.\")\n    \
                 fail message \"port {{l.port}} is open on {{l.address}}\"\n}}\n\n"
            ),
            _ => format!(
                "rule GEN-{i:05} \"Packages {i}\" {{\n  severity high\n  description \"Old package {i}.\"\n  recommendation \"Upgrade.\"\n  \
                 platform debian, ubuntu\n  applies when host.packages is present\n\n  \
                 let n = count(p in host.packages where p.name == \"pkg{i}\" and p.version < v\"1.{i}-1\")\n  \
                 fail when n > 0\n    message \"{{n}} vulnerable packages\"\n}}\n\n"
            ),
        };
        src.push_str(&rule);
    }
    src
}

fn bench_parse(c: &mut Criterion) {
    let src = generate(10_000);
    let parsed = parse(FileId(0), &src);
    assert!(parsed.diagnostics.is_empty(), "the generated package must be valid");
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(src.len() as u64));
    group.sample_size(10);
    group.bench_function("10k_rules", |b| b.iter(|| parse(FileId(0), std::hint::black_box(&src))));
    group.finish();

    let loaded = Loaded::from_memory(None, &[("generated.assay", &src)]);
    let compiled = assay_compiler::compile(&loaded);
    assert!(compiled.diagnostics.is_empty(), "{:?}", compiled.diagnostics.first());
    assert_eq!(compiled.program.map(|p| p.rules.len()), Some(10_000));
    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Bytes(src.len() as u64));
    group.sample_size(10);
    group.bench_function("10k_rules", |b| b.iter(|| assay_compiler::compile(std::hint::black_box(&loaded))));
    group.finish();

    // Formatting the same package (parse, lay out, reparse, compare).
    let mut group = c.benchmark_group("fmt");
    group.throughput(Throughput::Bytes(src.len() as u64));
    group.sample_size(10);
    group.bench_function("10k_rules", |b| {
        b.iter(|| assay_compiler::format::format_source(FileId(0), std::hint::black_box(&src)))
    });
    group.finish();

    // One rule with N `let` bindings, each reading the one before: the
    // time per binding must not grow with N (it was quadratic).
    let mut group = c.benchmark_group("check_lets");
    group.sample_size(10);
    for n in [10_000usize, 20_000, 40_000] {
        let mut rule = String::from("rule X \"t\" {\n  severity low\n  description \"d\"\n  recommendation \"r\"\n  let v0 = host.schema_version\n");
        for i in 1..n {
            rule.push_str(&format!("  let v{i} = v{} + 1\n", i - 1));
        }
        rule.push_str(&format!("  fail when v{} > 0\n    message \"m\"\n}}\n", n - 1));
        let loaded = Loaded::from_memory(None, &[("lets.assay", &rule)]);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{n}_lets"), |b| {
            b.iter(|| assay_compiler::compile(std::hint::black_box(&loaded)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
