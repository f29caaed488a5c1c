//! `assay scan`: the main job. Collect this host (or `--root`), evaluate the
//! built-in rules packages, which were compiled from `policies/` when assay
//! was built and are embedded in the binary, and report.

use super::collect::SourceArgs;
use super::{Failure, Outcome};
use assay_compiler::diagnostics::render_human;
use assay_model::bundle::{self, Bundle};
use assay_runtime::findings::{Report, Summary};
use assay_runtime::value::Host;
use assay_runtime::vm::Program;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The built-in packages, compiled by `build.rs`.
static BUILTIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin.bundle"));

pub fn builtin() -> Result<Bundle, Failure> {
    bundle::load(BUILTIN)
        .map_err(|e| Failure::internal(miette::miette!("the built-in bundle does not load: {e}")))
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
    /// The packages to assess with (repeatable; default: every built-in
    /// one): a built-in package's name (security-best-practices,
    /// runtime-behavior, cis-linux, cve), a package folder or `.assay` file
    /// (compiled on the fly; its diagnostics on failure), or a bundle built
    /// by `assay build`.
    #[arg(long = "package", value_name = "NAME|PATH")]
    packages: Vec<String>,
    #[command(flatten)]
    selection: super::select::RuleSelection,
    #[command(flatten)]
    params: super::params::ParamArgs,
    /// The vulnerability feed to match packages against (default: the one
    /// `assay feed import` wrote to Assay's data directory).
    #[arg(long, value_name = "FILE")]
    feed: Option<PathBuf>,
    /// Assess the components of this SBOM instead of a host (CycloneDX
    /// 1.4-1.6 or SPDX 2.2/2.3 JSON) with the `cve` package: each
    /// component is matched by its Package URL; one of an ecosystem the
    /// feed does not cover is listed as skipped.
    #[arg(long, value_name = "FILE", conflicts_with = "root")]
    sbom: Option<PathBuf>,
    #[command(flatten)]
    output: super::OutputArgs,
}

pub fn run(args: &Args) -> Outcome {
    let builtin = builtin()?;
    let names: Vec<&str> = builtin.content.packages.iter().map(|p| p.name.as_str()).collect();
    let mut chosen: Vec<String> = Vec::new();
    // An SBOM holds packages only: the rules about them, unless chosen.
    if args.sbom.is_some() && args.packages.is_empty() {
        chosen.push("cve".to_owned());
    }
    let mut custom: Vec<Bundle> = Vec::new();
    for p in &args.packages {
        if names.contains(&p.as_str()) {
            chosen.push(p.clone());
        } else if Path::new(p).exists() {
            custom.push(own_package(Path::new(p))?);
        } else {
            return Err(Failure::input(miette::miette!(
                "`--package {p}` is neither a built-in package ({}) nor a path",
                names.join(", ")
            )));
        }
    }
    let mut bundles: Vec<Bundle> = Vec::new();
    if !chosen.is_empty() || custom.is_empty() {
        bundles.push(builtin);
    }
    bundles.extend(custom);
    check_selection(&bundles, args)?;
    let params = args.params.resolve(&bundles.iter().collect::<Vec<_>>())?;
    let mut plan = assay_model::lookup::CollectionPlan::default();
    for b in &bundles {
        plan.merge(&b.content.plan);
    }
    let mut skipped_components = 0;
    let mut telemetry = match &args.sbom {
        Some(path) => {
            let bytes = super::read_bounded(path, 256 << 20, "SBOM", "")?;
            let read = assay_runtime::sbom::read::read(&bytes, &path.display().to_string())
                .map_err(|e| Failure::input(miette::miette!("{}: {e}", path.display())))?;
            skipped_components = read.skipped.len();
            let packages = read.telemetry.packages.as_ref().map_or(0, Vec::len);
            eprintln!("note: {}: {}, {packages} component(s) assessed", path.display(), read.format);
            for s in &read.skipped {
                eprintln!(
                    "note: skipped component {} ({}): {}",
                    s.name,
                    s.purl.as_deref().unwrap_or("no Package URL"),
                    s.why
                );
            }
            read.telemetry
        }
        None => args.source.collect(&plan)?,
    };
    // The feed is matched (or its absence recorded) only when a rule that
    // will run reads `vulnerabilities`. With packages chosen by name, the
    // built-in bundle is the first and only those packages of it run.
    let reads_cve = bundles.iter().enumerate().any(|(i, b)| {
        b.content.rules.iter().any(|r| {
            let package = b.content.packages.get(r.package as usize).map(|p| p.name.as_str());
            let runs = i > 0 || chosen.is_empty() || chosen.iter().any(|c| Some(c.as_str()) == package);
            runs && r.reads.iter().any(|s| s == "vulnerabilities")
        })
    });
    if reads_cve {
        super::feed::apply(&mut telemetry, args.feed.as_deref(), true)?;
    }
    let sbom_packages = args.sbom.as_ref().and_then(|_| telemetry.packages.clone());
    let for_vex = args.output.needs_telemetry().then(|| telemetry.clone());
    let host = Host::new(telemetry)
        .map_err(|e| Failure::internal(miette::miette!("the collected telemetry does not load: {e}")))?;
    let options = args.output.options()?;
    let mut merged: Option<Report> = None;
    for (i, bundle) in bundles.iter().enumerate() {
        let options = assay_runtime::vm::Options { params: params[i].clone(), ..options.clone() };
        let mut report = Program::new(bundle).evaluate(&host, &options);
        if i == 0 && !chosen.is_empty() {
            report.findings.retain(|f| chosen.contains(&f.package));
            report.rules.retain(|r| chosen.contains(&r.package));
        }
        merged = Some(match merged {
            None => report,
            Some(mut all) => {
                all.findings.extend(report.findings);
                all.rules.extend(report.rules);
                all.summary.instructions += report.summary.instructions;
                all.params.extend(report.params);
                all
            }
        });
    }
    let Some(mut report) = merged else { return Err(Failure::internal(miette::miette!("no bundle to run"))) };
    let refs: Vec<&Bundle> = bundles.iter().collect();
    args.selection.apply(&mut report, &refs);
    if let Some(packages) = &sbom_packages {
        assay_runtime::sbom::read::name_components(&mut report, packages);
    }
    if let Some(telemetry) = &for_vex {
        args.output.apply_vex(&mut report, telemetry)?;
        args.output.write_openvex(&report, telemetry)?;
    }
    // The packages chosen by name and the bundles merged above changed the
    // outcomes counted.
    let instructions = report.summary.instructions;
    report.summary = Summary::of(&report.findings, &report.rules);
    report.summary.instructions = instructions;
    // Absolute, for SARIF's HOSTROOT.
    let root = args.source.root.as_ref().map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.clone()));
    let code = args.output.emit_for_root(&refs, vec![report], root.as_deref())?;
    // A gate never passes over components it could not assess.
    if skipped_components > 0
        && args.output.fail_on.is_some()
        && !args.output.allow_skipped
        && code == ExitCode::SUCCESS
    {
        eprintln!(
            "error: {skipped_components} component(s) of the SBOM were not assessed (see the notes above); \
             --allow-skipped accepts them"
        );
        return Ok(ExitCode::from(super::EXIT_INCOMPLETE));
    }
    Ok(code)
}

/// `--package PATH`: a bundle file, or sources compiled now.
pub(super) fn own_package(path: &Path) -> Result<Bundle, Failure> {
    let is_bundle = path.is_file()
        && std::fs::File::open(path)
            .and_then(|mut f| {
                let mut magic = [0u8; 8];
                std::io::Read::read_exact(&mut f, &mut magic).map(|_| &magic == bundle::MAGIC)
            })
            .unwrap_or(false);
    if is_bundle {
        return super::load_bundle(path);
    }
    let loaded = super::load_sources(&[path.to_path_buf()])?;
    match assay_compiler::build(&loaded) {
        Ok(built) => {
            if !built.diagnostics.is_empty() {
                eprint!("{}", render_human(&loaded.sources, &built.diagnostics, super::stderr_color()));
            }
            bundle::load(&built.bytes)
                .map_err(|e| Failure::internal(miette::miette!("the bundle just built does not load: {e}")))
        }
        Err(diagnostics) => {
            eprint!("{}", render_human(&loaded.sources, &diagnostics, super::stderr_color()));
            Err(Failure::problems(miette::miette!(
                "{} does not compile; nothing was scanned",
                path.display()
            )))
        }
    }
}

/// Every `--rule` and `--rule-tag` selects a rule, and no rule id is in two
/// bundles.
fn check_selection(bundles: &[Bundle], args: &Args) -> Result<(), Failure> {
    let mut seen = std::collections::HashMap::new();
    for (i, b) in bundles.iter().enumerate() {
        for r in &b.content.rules {
            if let Some(other) = seen.insert(r.id.as_str(), i) {
                if other != i {
                    return Err(Failure::input(miette::miette!(
                        "the rule id `{}` is in two of the packages given; rule ids must be unique",
                        r.id
                    )));
                }
            }
        }
    }
    let refs: Vec<&Bundle> = bundles.iter().collect();
    args.selection.check(&refs)
}
