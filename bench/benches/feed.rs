//! `cargo bench --manifest-path bench/Cargo.toml --bench feed`: importing the whole Debian 12 feed
//! (`../shared/data/osv/debian-12-security.zip`, or `ASSAY_OSV=PATH`), then
//! matching this machine's installed packages against it. The aim is a
//! match well under 100 ms once the feed is loaded.

// Benchmark code: an unwrap that fails is a failed run, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assay_runtime::feed::{import_osv, Feed, Index};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Quick mode (`-- --quick`, or `cargo test --benches`, which does not pass
/// `--bench`): one short iteration, for CI, so the bench cannot rot.
fn quick() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench")
}

fn main() {
    let (loads, matches) = if quick() { (1, 1) } else { (5, 11) };
    let path = std::env::var_os("ASSAY_OSV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/osv/debian-12-security.zip")
    });
    if !path.exists() {
        println!("skipped: {} is not there (set ASSAY_OSV to an OSV zip or folder)", path.display());
        return;
    }
    let start = Instant::now();
    let (feed, warnings) = import_osv(&path).unwrap_or_else(|e| panic!("{e}"));
    let import = start.elapsed();
    let bytes = feed.to_bytes();
    let load = median(
        (0..loads)
            .map(|_| {
                let s = Instant::now();
                std::hint::black_box(Feed::from_bytes(&bytes).unwrap());
                s.elapsed()
            })
            .collect(),
    );
    let doc = assay_runtime::collector::collect(&assay_runtime::collector::Config::default(), &mut |_| {});
    let packages = doc.packages.unwrap_or_default();
    let index_time = Instant::now();
    let index = Index::new(&feed);
    let index_time = index_time.elapsed();
    let mut found = 0;
    let matching = median(
        (0..matches)
            .map(|_| {
                let s = Instant::now();
                found = std::hint::black_box(index.matches(&packages, doc.asset.os.as_ref())).len();
                s.elapsed()
            })
            .collect(),
    );
    println!(
        "import   {} advisories from {} in {:.2} s ({} skipped); feed file {} KiB",
        feed.advisories.len(),
        path.display(),
        import.as_secs_f64(),
        warnings.len(),
        bytes.len() / 1024
    );
    println!("load     {:.1} ms (decode the feed file)", load.as_secs_f64() * 1e3);
    println!("index    {:.1} ms", index_time.as_secs_f64() * 1e3);
    println!(
        "match    {:.2} ms for {} installed packages: {} vulnerabilities (median of {matches})",
        matching.as_secs_f64() * 1e3,
        packages.len(),
        found
    );
}
