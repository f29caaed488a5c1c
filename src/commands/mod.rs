//! One module per subcommand.

/// `print!` that does not panic when standard output is a closed pipe
/// (`assay collect | head -c10`): output stops quietly, as with other
/// command-line tools, and the exit code is still the command's own.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::commands::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` with the same behaviour as [`out!`].
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => {{
        out!($($arg)*);
        out!("\n");
    }};
}

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).and_then(|_| out.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

pub mod agent;
pub mod agent_sim;
pub mod build;
pub mod check;
pub mod collect;
pub mod diff;
pub mod eval;
pub mod explain;
pub mod feed;
pub mod fleet;
pub mod fmt;
pub mod inspect;
pub mod key;
pub mod lsp;
pub mod new;
pub mod params;
pub mod sbom;
pub mod scan;
pub mod select;
pub mod server;
pub mod test;
pub mod verify;
pub mod waivers;
pub mod watch;

use assay_model::bundle::Bundle;
use assay_runtime::findings::{Report, Severity};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use assay_compiler::diagnostics::ColorChoice;
use std::io::IsTerminal;

/// A command that could not do its job, with the exit code that says why.
pub struct Failure {
    pub report: miette::Report,
    pub exit_code: u8,
}

impl Failure {
    /// Bad input: a missing file, an unknown code (exit 2).
    pub fn input(report: miette::Report) -> Self {
        Failure { report, exit_code: 2 }
    }

    /// Problems found in the user's sources (exit 1), already printed.
    pub fn problems(report: miette::Report) -> Self {
        Failure { report, exit_code: 1 }
    }

    /// A bug in Assay (exit 3).
    pub fn internal(report: miette::Report) -> Self {
        Failure { report, exit_code: 3 }
    }
}

impl From<assay_compiler::package::LoadError> for Failure {
    fn from(error: assay_compiler::package::LoadError) -> Self {
        Failure::input(miette::miette!("cannot read {}", error))
    }
}

pub type Outcome = Result<std::process::ExitCode, Failure>;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiagnosticFormat {
    /// rustc-style text with source excerpts.
    #[default]
    Human,
    /// One JSON document on standard output.
    Json,
    /// SARIF 2.1.0 on standard output, for code scanning of a policy
    /// repository (paths relative to the folder `check` runs in).
    Sarif,
}

/// Colour for diagnostics on standard error: only on a terminal, never when
/// `NO_COLOR` is set.
/// Arms the crash points named in `FAILPOINTS` (`name=actions;...`, the
/// `fail` crate's syntax), for the fault tests of the server and agent.
pub fn failpoints() -> Result<(), Failure> {
    let Ok(spec) = std::env::var("FAILPOINTS") else { return Ok(()) };
    for item in spec.split(';').filter(|s| !s.trim().is_empty()) {
        let (name, actions) = item
            .split_once('=')
            .ok_or_else(|| Failure::input(miette::miette!("FAILPOINTS: `{item}` should be NAME=ACTIONS")))?;
        fail::cfg(name.trim(), actions.trim())
            .map_err(|e| Failure::input(miette::miette!("FAILPOINTS: `{item}`: {e}")))?;
    }
    Ok(())
}

pub fn stderr_color() -> ColorChoice {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        ColorChoice::Always
    } else {
        ColorChoice::Never
    }
}

/// Reads at most `limit` bytes of `path`, checking the size while it reads
/// (so `/dev/zero` or a 3 GB file costs `limit`, not the file), or an input
/// error naming the file and the limit.
pub fn read_bounded(path: &Path, limit: u64, what: &str, how_to_raise: &str) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let cannot =
        |e: std::io::Error| Failure::input(miette::miette!("cannot read {what} {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let too_large = || {
        Failure::input(miette::miette!(
            "{} is larger than the {} MiB a {what} may have{how_to_raise}",
            path.display(),
            limit >> 20
        ))
    };
    if let Ok(meta) = file.metadata() {
        if meta.is_file() && meta.len() > limit {
            return Err(too_large());
        }
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Loads policy sources for `check`, `build`, `test` and `fmt`: a path that
/// holds no policy source is an input error naming it (an empty folder, a
/// package whose manifest has no modules beside it, a file that is neither
/// a `.assay` source nor a `package.yaml`), never a silent success.
pub fn load_sources(paths: &[PathBuf]) -> Result<assay_compiler::package::Loaded, Failure> {
    use assay_compiler::package::{EXTENSION, MANIFEST};
    for path in paths {
        if path.is_file() {
            let is_source = path.extension().is_some_and(|e| e == EXTENSION);
            let is_manifest = path.file_name().is_some_and(|n| n == MANIFEST);
            if !is_source && !is_manifest {
                return Err(Failure::input(miette::miette!(
                    "{} is not a policy source: give `.{EXTENSION}` files, package folders or `{MANIFEST}` files",
                    path.display()
                )));
            }
        }
    }
    let loaded = assay_compiler::package::load(paths)?;
    for package in &loaded.packages {
        if package.files.is_empty() {
            return Err(Failure::input(miette::miette!(
                "the package in {} has no modules: no `.{EXTENSION}` file beside its {MANIFEST}",
                package.root.display()
            )));
        }
    }
    if loaded.source_files().is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Failure::input(miette::miette!(
            "no policy source (`.{EXTENSION}` file) in {}",
            shown.join(", ")
        )));
    }
    Ok(loaded)
}

/// Reads and verifies a bundle; any problem is an input error naming the file.
pub fn load_bundle(path: &Path) -> Result<Bundle, Failure> {
    let bytes = read_bounded(path, assay_model::bundle::MAX_BUNDLE_LEN as u64, "bundle", "")?;
    assay_model::bundle::load(&bytes)
        .map_err(|e| Failure::input(miette::miette!("{} cannot be loaded: {e}", path.display())))
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportFormat {
    /// Findings grouped by severity, for people.
    #[default]
    Table,
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// JUnit XML: one test case per rule and host.
    Junit,
}

/// Output options shared by `eval` and `scan`.
#[derive(clap::Args)]
pub struct OutputArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// Exit 1 when a finding has this severity or higher (default: never).
    #[arg(long, value_parser = eval::parse_severity)]
    pub fail_on: Option<Severity>,
    /// `KEY=VALUE` copied onto every finding (repeatable).
    #[arg(long = "attribute", value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// `full` also lists every rule that passed, did not apply or was skipped.
    #[arg(long, value_enum, default_value_t)]
    pub report: ReportKind,
    /// Also write a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// With `--fail-on`: accept rules that were skipped (an input they need
    /// was not collected) instead of failing with exit code 4. Rules that
    /// failed to evaluate still fail the gate.
    #[arg(long)]
    pub allow_skipped: bool,
    /// Accept the findings this waiver file lists (docs/waivers.md): kept
    /// in reports as waived, never failing `--fail-on`.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Exit 1 when a waiver matched no finding (stale waivers in CI).
    #[arg(long)]
    pub fail_on_unused_waivers: bool,
    /// VEX documents (OpenVEX 0.2 or CycloneDX VEX, repeatable): CVE
    /// findings a `not_affected` or `fixed` statement covers are kept as
    /// suppressed and never fail `--fail-on` (docs/vulnerabilities.md).
    #[arg(long = "vex", value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// With `--waivers`: also write the CVE findings the waivers accept as
    /// an OpenVEX 0.2 document (`not_affected`, the waiver as the impact
    /// statement), so the exception travels to other tools.
    #[arg(long, value_name = "FILE", requires = "waivers")]
    pub export_openvex: Option<PathBuf>,
    /// List the findings VEX suppressed in the table (else only their count).
    #[arg(long)]
    pub show_suppressed: bool,
    /// With `--format sarif`: `package` gives one result per vulnerable
    /// source package instead of one per advisory and installed package,
    /// for code scanning's limits (README, "SARIF and code scanning").
    #[arg(long, value_enum, default_value_t)]
    pub sarif_group: SarifGroupArg,
    /// Instructions one rule may execute before it is stopped with an error.
    #[arg(long, default_value_t = assay_runtime::vm::Limits::default().instructions)]
    pub max_instructions: u64,
    /// Memory one rule may allocate, in MiB, before it is stopped with an error.
    #[arg(long, default_value_t = assay_runtime::vm::Limits::default().memory >> 20)]
    pub max_memory_mib: u64,
}

/// How SARIF results are cut.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SarifGroupArg {
    /// One result per finding.
    #[default]
    Finding,
    /// One result per rule, host and vulnerable source package, listing its
    /// advisories (CVE findings only; others are one result each).
    Package,
}

/// How much a report lists.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportKind {
    /// Findings, and the rules that were skipped or failed.
    #[default]
    Findings,
    /// Findings, and every rule that passed, did not apply or was skipped, with the reason.
    Full,
}

/// Exit codes: the README's table lists them.
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_INCOMPLETE: u8 = 4;

impl OutputArgs {
    fn full(&self) -> bool {
        self.report == ReportKind::Full
    }

    /// Evaluation options: attributes and budgets.
    pub fn options(&self) -> Result<assay_runtime::vm::Options, Failure> {
        let limits = assay_runtime::vm::Limits {
            instructions: self.max_instructions,
            memory: self.max_memory_mib.saturating_mul(1 << 20),
            ..assay_runtime::vm::Limits::default()
        };
        Ok(assay_runtime::vm::Options { limits, attributes: self.attributes()?, params: Vec::new() })
    }

    pub fn attributes(&self) -> Result<Vec<(String, String)>, Failure> {
        self.attributes
            .iter()
            .map(|a| match a.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
                _ => Err(Failure::input(miette::miette!("`--attribute {a}`: expected KEY=VALUE"))),
            })
            .collect()
    }

    /// Marks the findings the `--vex` documents suppress.
    pub fn apply_vex(
        &self,
        report: &mut Report,
        telemetry: &assay_model::telemetry::Telemetry,
    ) -> Result<(), Failure> {
        let mut statements = Vec::new();
        for path in &self.vex {
            let bytes = read_bounded(path, 64 << 20, "VEX document", "")?;
            let name = path.display().to_string();
            statements.extend(
                assay_runtime::vex::read(&bytes, &name)
                    .map_err(|e| Failure::input(miette::miette!("{name}: {e}")))?,
            );
        }
        if !statements.is_empty() {
            let n = assay_runtime::vex::suppress(report, telemetry, &statements);
            eprintln!("note: VEX: {} statement(s) read, {n} finding(s) suppressed", statements.len());
        }
        Ok(())
    }

    /// Whether VEX reading or writing needs the telemetry after evaluation.
    pub fn needs_telemetry(&self) -> bool {
        !self.vex.is_empty() || self.export_openvex.is_some()
    }

    /// `--export-openvex`: the CVE findings of `report` the `--waivers`
    /// accept, as OpenVEX, written to the file asked for.
    pub fn write_openvex(
        &self,
        report: &Report,
        telemetry: &assay_model::telemetry::Telemetry,
    ) -> Result<(), Failure> {
        let (Some(out), Some(path)) = (&self.export_openvex, &self.waivers) else { return Ok(()) };
        let waivers =
            assay_runtime::waivers::load(path).map_err(|e| Failure::input(miette::miette!("{e}")))?;
        let mut waived = vec![report.clone()];
        assay_runtime::waivers::apply(&waivers, &mut waived, assay_runtime::waivers::today());
        let timestamp = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(assay_runtime::collector::rfc3339)
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                assay_runtime::collector::rfc3339(now.map_or(0, |d| d.as_secs() as i64))
            });
        let author = format!("assay, from the waivers of {}", path.display());
        let doc = assay_runtime::vex::export_openvex(&waived[0], telemetry, &author, &timestamp);
        let n = doc["statements"].as_array().map_or(0, Vec::len);
        let text =
            serde_json::to_string_pretty(&doc).map_err(|e| Failure::internal(miette::miette!("{e}")))? + "\n";
        std::fs::write(out, text)
            .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", out.display())))?;
        eprintln!("note: OpenVEX: {n} statement(s) of accepted CVE findings written to {}", out.display());
        Ok(())
    }

    /// Renders, writes, and gives the exit code `--fail-on` asks for.
    pub fn emit(&self, bundles: &[&Bundle], reports: Vec<Report>) -> Outcome {
        self.emit_for_root(bundles, reports, None)
    }

    /// [`OutputArgs::emit`] of an assessment of the root file system at
    /// `root` (`--root`), which SARIF's locations resolve against.
    pub fn emit_for_root(
        &self,
        bundles: &[&Bundle],
        mut reports: Vec<Report>,
        root: Option<&Path>,
    ) -> Outcome {
        use assay_runtime::reports;
        let mut unused = 0;
        if let Some(path) = &self.waivers {
            let waivers =
                assay_runtime::waivers::load(path).map_err(|e| Failure::input(miette::miette!("{e}")))?;
            let applied =
                assay_runtime::waivers::apply(&waivers, &mut reports, assay_runtime::waivers::today());
            for w in &applied.expired {
                eprintln!(
                    "warning: {}: the waiver of {} expired on {}; it waives nothing",
                    w.source, w.rule, w.expires_text
                );
            }
            for w in &applied.unused {
                eprintln!("warning: {}: the waiver of {} matched no finding", w.source, w.rule);
            }
            for (w, now) in &applied.legacy {
                eprintln!(
                    "warning: {}: the waiver of {} pins a fingerprint of an earlier release, which matches for \
                     this release only; pin `fingerprint: {now}`",
                    w.source, w.rule
                );
            }
            unused = applied.unused.len();
        }
        if self.sarif_group != SarifGroupArg::Finding && self.format != ReportFormat::Sarif {
            return Err(Failure::input(miette::miette!("--sarif-group applies to --format sarif only")));
        }
        let reports = &reports[..];
        let text = match self.format {
            ReportFormat::Table => {
                Ok(reports::table(reports, self.full(), self.show_suppressed || self.full()))
            }
            ReportFormat::Json => reports::json(reports),
            ReportFormat::Sarif => {
                let group = match self.sarif_group {
                    SarifGroupArg::Finding => reports::SarifGroup::Finding,
                    SarifGroupArg::Package => reports::SarifGroup::Package,
                };
                reports::sarif_grouped(bundles, reports, root, group)
            }
            ReportFormat::Junit => reports::junit(reports),
        }
        .map_err(|e| Failure::internal(miette::miette!("{e}")))?;
        match &self.output {
            Some(path) => std::fs::write(path, text)
                .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", path.display())))?,
            None => out!("{text}"),
        }
        if let Some(path) = &self.html {
            std::fs::write(path, reports::html(reports, self.full()))
                .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", path.display())))?;
        }
        if self.fail_on_unused_waivers && unused > 0 {
            eprintln!("error: --fail-on-unused-waivers: {unused} waiver(s) matched no finding");
            return Ok(ExitCode::from(EXIT_FINDINGS));
        }
        let Some(threshold) = self.fail_on else { return Ok(ExitCode::SUCCESS) };
        if reports.iter().any(|r| r.fails_at(threshold)) {
            return Ok(ExitCode::from(EXIT_FINDINGS));
        }
        // A gate never passes on checks it did not do.
        let incomplete: Vec<String> = reports
            .iter()
            .flat_map(|r| r.incomplete(self.allow_skipped))
            .map(|r| match &r.outcome {
                assay_runtime::findings::Outcome::Skipped { reason } => {
                    format!("  {} skipped: {reason}", r.rule_id)
                }
                assay_runtime::findings::Outcome::Error { reason } => {
                    format!("  {} ({}) failed to evaluate: {reason}", r.rule_id, r.location)
                }
                _ => String::new(),
            })
            .collect();
        if incomplete.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        let shown = 20;
        eprintln!(
            "error: --fail-on {threshold}: {} rule(s) were not evaluated, so the gate cannot pass{}",
            incomplete.len(),
            if self.allow_skipped { "" } else { " (--allow-skipped accepts skipped rules)" }
        );
        for line in incomplete.iter().take(shown) {
            eprintln!("{}", assay_runtime::reports::terminal_safe(line));
        }
        if incomplete.len() > shown {
            eprintln!("  and {} more", incomplete.len() - shown);
        }
        Ok(ExitCode::from(EXIT_INCOMPLETE))
    }
}
