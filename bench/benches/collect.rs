//! `cargo bench --manifest-path bench/Cargo.toml --bench collect`: how long `assay collect` takes on this
//! machine (no sampling), the walk of the local file systems and everything
//! else apart (with the slowest other sensors), beside `find`'s search for the
//! same files and `lynis audit system --quick` measured in the same run (when
//! lynis is installed: `apt-get install lynis`), as ratios.
//! A custom harness, so one run prints both numbers and the ratio; `-- --quick`
//! (and `cargo test --benches`) collects once and leaves lynis out.

// Benchmark code: an unwrap that fails is a failed run, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Quick mode (`-- --quick`, or `cargo test --benches`, which does not pass
/// `--bench`): one short iteration, for CI, so the bench cannot rot.
fn quick() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench")
}

/// `find`'s search for what the walk reports (world-writable entries other
/// than symbolic links, whose mode means nothing; unowned; ungrouped), over
/// the root file system (`-xdev`): the walk's peer. The walk covers every
/// local file system, so where there are more than one the peer does less
/// work than Assay, and every path it prints must be among Assay's.
const FIND: &[&str] = &[
    "/", "-xdev", "(", "-perm", "-0002", "!", "-type", "l", "-o", "-nouser", "-o", "-nogroup", ")", "-print",
];

/// The built-in packages (`policies/`), built as `assay scan` runs them.
fn builtin() -> assay_model::bundle::Bundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("policies/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.join("package.yaml").exists())
        .collect();
    paths.sort();
    let loaded = assay_compiler::package::load(&paths).expect("the built-in packages load");
    let built = assay_compiler::build(&loaded).unwrap_or_else(|_| panic!("the built-in packages compile"));
    assay_model::bundle::load(&built.bytes).expect("the built-in bundle loads")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let runs = if quick() { 1 } else { 7 };
    let bundle = builtin();
    let program = assay_runtime::vm::Program::new(&bundle);
    let config = assay_runtime::collector::Config { plan: bundle.content.plan.clone(), ..Default::default() };
    // (whole collection, the walk, everything else, evaluation) per run.
    let mut whole = Vec::new();
    let mut walk = Vec::new();
    let mut rest = Vec::new();
    let mut eval = Vec::new();
    let mut slowest: Vec<(String, Duration)> = Vec::new();
    let mut rules = 0;
    let mut reported: std::collections::BTreeSet<String> = Default::default();
    for _ in 0..runs {
        let start = Instant::now();
        let (doc, timings) = assay_runtime::collector::collect_timed(&config, &mut |_| {});
        let total = start.elapsed();
        assert!(doc.packages.is_some() || doc.errors.iter().any(|e| e.sensor == "packages"));
        reported = doc.world_writable.iter().chain(&doc.unowned).flatten().map(|f| f.path.clone()).collect();
        let walked: Duration = timings.iter().filter(|(s, _)| s == "files").map(|(_, d)| *d).sum();
        let start = Instant::now();
        // As a scan does: the document becomes the VM's host, then runs.
        let host = assay_runtime::value::Host::new(doc).expect("the collection is readable");
        let report = std::hint::black_box(program.evaluate(&host, &Default::default()));
        eval.push(start.elapsed());
        rules = report.rules.len();
        whole.push(total);
        walk.push(walked);
        rest.push(total.saturating_sub(walked));
        slowest = timings;
    }
    let (ours, walk, rest, eval) = (median(whole), median(walk), median(rest), median(eval));
    println!(
        "assay collect (library, no sampling)   {:>9.3} s  (median of {runs}, the built-in packages' plan)",
        ours.as_secs_f64()
    );
    println!(
        "  the walk (world-writable, unowned)   {:>9.3} s  ({} paths reported)",
        walk.as_secs_f64(),
        reported.len()
    );
    println!("  everything else                      {:>9.3} s", rest.as_secs_f64());
    println!("evaluation of the built-in packages    {:>9.3} s  ({rules} rules)", eval.as_secs_f64());
    println!("scan without the walk (collect + eval) {:>9.3} s", (rest + eval).as_secs_f64());
    slowest.retain(|(s, _)| s != "files");
    slowest.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
    for (sensor, d) in slowest.iter().take(5) {
        println!("    {sensor:<32} {:>9.3} s  (last run)", d.as_secs_f64());
    }
    let runs_find = if quick() { 1 } else { 3 };
    let mut found: Vec<String> = Vec::new();
    let find: Vec<Duration> = (0..runs_find)
        .map(|_| {
            let start = Instant::now();
            let out = Command::new("find").args(FIND).stderr(Stdio::null()).output().expect("find runs");
            found = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
            start.elapsed()
        })
        .collect();
    let find = median(find);
    println!(
        "find / -xdev (-perm -0002 ! -type l -o -nouser -o -nogroup)  {:>9.3} s  ({} paths; median of {runs_find})",
        find.as_secs_f64(),
        found.len()
    );
    // What find saw and Assay did not (a file created between the two
    // runs, in /tmp say, is the only excuse).
    let missed: Vec<&String> = found.iter().filter(|p| !reported.contains(*p)).collect();
    println!("paths find printed that the walk did not report: {missed:?}");
    let volatile = ["/tmp/", "/var/tmp/", "/run/", "/dev/shm/"];
    assert!(
        missed.iter().all(|p| volatile.iter().any(|v| p.starts_with(v))),
        "the walk missed paths find reports outside the volatile folders: {missed:?}"
    );
    println!(
        "ratio (walk)                           {:>9.1}× find's time",
        find.as_secs_f64() / walk.as_secs_f64().max(1e-9)
    );
    if quick() {
        println!("lynis                                  not run in quick mode");
        return;
    }
    let start = Instant::now();
    let lynis = Command::new("lynis")
        .args(["audit", "system", "--quick", "--no-colors", "--no-log"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match lynis {
        Ok(status) => {
            let theirs = start.elapsed();
            println!("lynis audit system --quick             {:>9.3} s  ({status})", theirs.as_secs_f64());
            println!("ratio                                  {:>9.0}× faster than lynis", theirs.as_secs_f64() / ours.as_secs_f64());
        }
        Err(_) => println!("lynis                                  not installed (apt-get install lynis for the peer measurement)"),
    }
}
