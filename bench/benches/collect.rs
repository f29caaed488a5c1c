//! `cargo bench --manifest-path bench/Cargo.toml --bench collect`: how long `assay collect` takes on this
//! machine (no sampling), beside `lynis audit system --quick` measured in the
//! same run (when lynis is installed: `apt-get install lynis`), as a ratio.
//! A custom harness, so one run prints both numbers and the ratio.

// Benchmark code: an unwrap that fails is a failed run, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let mut samples: Vec<Duration> = (0..7)
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
    println!("assay collect (library, no sampling)   {:>9.3} s  (median of 7)", ours.as_secs_f64());
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
