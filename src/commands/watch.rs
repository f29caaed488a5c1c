//! `assay watch PATH...`: re-check a package and re-run its tests whenever
//! one of its files changes, for policy authors at work.

use super::{Failure, Outcome};
use notify::{RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Package folders or files to watch.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn round(paths: &[PathBuf]) {
    outln!("── checking {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" "));
    let check = super::check::Args::for_paths(paths.to_vec());
    let ok = matches!(super::check::run(&check), Ok(code) if code == std::process::ExitCode::SUCCESS);
    if ok {
        let test = super::test::Args::for_paths(paths.to_vec());
        if let Err(f) = super::test::run(&test) {
            eprintln!("{:?}", f.report);
        }
    }
    outln!("── watching for changes (Ctrl-C to stop)");
}

pub fn run(args: &Args) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(e) = event {
            if !e.kind.is_access() {
                let _ = tx.send(());
            }
        }
    })
    .map_err(|e| Failure::internal(miette::miette!("cannot watch files: {e}")))?;
    for p in &args.paths {
        watcher
            .watch(p, RecursiveMode::Recursive)
            .map_err(|e| Failure::input(miette::miette!("cannot watch {}: {e}", p.display())))?;
    }
    round(&args.paths);
    while rx.recv().is_ok() {
        // Editors write in bursts: wait for the burst to end.
        while rx.recv_timeout(Duration::from_millis(200)).is_ok() {}
        round(&args.paths);
    }
    Ok(std::process::ExitCode::SUCCESS)
}
