//! `cargo bench --manifest-path bench/Cargo.toml --bench collect`: how long `assay collect` takes on this
//! machine (no sampling), beside `lynis audit system --quick` measured in the
//! same run (when lynis is installed: `apt-get install lynis`), as a ratio.
//! A custom harness, so one run prints both numbers and the ratio; `-- --quick`
//! (and `cargo test --benches`) collects once and leaves lynis out.

// Benchmark code: an unwrap that fails is a failed run, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Quick mode (`-- --quick`, or `cargo test --benches`, which does not pass
/// `--bench`): one short iteration, for CI, so the bench cannot rot.
fn quick() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench")
}

fn main() {
    let runs = if quick() { 1 } else { 7 };
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let doc =
                assay_runtime::collector::collect(&assay_runtime::collector::Config::default(), &mut |_| {});
            std::hint::black_box(&doc);
            start.elapsed()
        })
        .collect();
    samples.sort();
    let ours = samples[samples.len() / 2];
    println!("assay collect (library, no sampling)   {:>9.3} s  (median of {runs})", ours.as_secs_f64());
    assert!(!samples.is_empty());
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
