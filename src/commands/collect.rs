//! `assay collect [--root DIR] [--duration D --interval I] [-o FILE]`: write
//! one telemetry document for this host or a mounted root file system.

use super::{Failure, Outcome};
use assay_model::lookup::CollectionPlan;
use assay_model::telemetry::{CommandLines, Tag};
use assay_runtime::collector::{self, Config};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Write the document here instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Fill `vulnerabilities` by matching the packages against this feed
    /// (without it the section is recorded as skipped).
    #[arg(long, value_name = "FILE")]
    feed: Option<PathBuf>,
    /// Also gather what this bundle's rules look up by name (repeatable;
    /// the built-in packages' lookups are always gathered).
    #[arg(long = "bundle", value_name = "FILE")]
    bundles: Vec<PathBuf>,
}

/// What to collect: shared by `collect` and `scan`.
#[derive(clap::Args)]
pub struct SourceArgs {
    /// A root file system to read instead of `/` (a container root, a mounted image).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Sample processes, listeners and connections for this long: `15m`, `1h`, `90s`.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub duration: Duration,
    /// Time between samples.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub interval: Duration,
    /// `KEY=VALUE` tags on the asset (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Keep whole process command lines, with credentials redacted (by
    /// default only the program and its option names are kept).
    #[arg(long)]
    pub collect_cmdlines: bool,
}

impl SourceArgs {
    /// Collects, gathering `plan`'s lookups by name besides the built-in list.
    pub fn collect(&self, plan: &CollectionPlan) -> Result<assay_model::telemetry::Telemetry, Failure> {
        let root = self.root.clone().unwrap_or_else(|| PathBuf::from("/"));
        if !root.is_dir() {
            return Err(Failure::input(miette::miette!("--root {}: not a directory", root.display())));
        }
        let tags = self
            .tags
            .iter()
            .map(|t| match t.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    Ok(Tag { key: k.trim().to_owned(), value: v.to_owned() })
                }
                _ => Err(Failure::input(miette::miette!("`--tag {t}`: expected KEY=VALUE"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let config = Config {
            root,
            duration: self.duration,
            interval: self.interval.max(Duration::from_millis(100)),
            tags,
            command_lines: if self.collect_cmdlines { CommandLines::Redacted } else { CommandLines::Flags },
            plan: plan.clone(),
        };
        let show = std::io::stderr().is_terminal() && self.duration >= Duration::from_secs(5);
        let total = self.duration;
        let mut progress = |fraction: f64| {
            if show {
                let done = (fraction * 30.0).round() as usize;
                let elapsed = total.mul_f64(fraction.clamp(0.0, 1.0)).as_secs();
                eprint!(
                    "\rsampling [{}{}] {}s of {}s",
                    "#".repeat(done),
                    " ".repeat(30 - done.min(30)),
                    elapsed,
                    total.as_secs()
                );
                let _ = std::io::stderr().flush();
                if fraction >= 1.0 {
                    eprintln!();
                }
            }
        };
        Ok(collector::collect(&config, &mut progress))
    }
}

/// `90`, `90s`, `500ms`, `15m`, `1h`, `1h30m`, `2d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration such as 90s, 500ms, 15m or 1h");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "" | "s" => Duration::from_secs(n),
            "ms" => Duration::from_millis(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86400)),
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = total.saturating_add(unit);
    }
    Ok(total)
}

pub fn run(args: &Args) -> Outcome {
    let mut plan = super::scan::builtin()?.content.plan;
    for path in &args.bundles {
        plan.merge(&super::load_bundle(path)?.content.plan);
    }
    let mut doc = args.source.collect(&plan)?;
    super::feed::apply(&mut doc, args.feed.as_deref(), false)?;
    let mut text =
        serde_json::to_string_pretty(&doc).map_err(|e| Failure::internal(miette::miette!("{e}")))?;
    text.push('\n');
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", path.display())))?,
        None => out!("{text}"),
    }
    if !doc.errors.is_empty() {
        eprintln!("collected with {} sensor error(s); see `errors` in the document", doc.errors.len());
    }
    Ok(ExitCode::SUCCESS)
}
