//! The `assay` command. Thin by design: it parses arguments, calls the
//! library crates and maps outcomes to exit codes:
//! 0 success, 1 problems found (diagnostics, files to reformat),
//! 2 usage or input errors (a missing file), 3 internal errors.

mod commands;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "assay", version, about = "Policy-as-code host security assessment")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assess this host (or --root) with the built-in rules packages.
    Scan(commands::scan::Args),
    /// Check policy sources for errors without running them.
    Check(commands::check::Args),
    /// Format policy sources in the canonical layout.
    Fmt(commands::fmt::Args),
    /// Create a package to start from: manifest, a rule, its tests, a README.
    New(commands::new::Args),
    /// Explain a diagnostic code, as in `assay explain E0101`.
    Explain(commands::explain::Args),
    /// Compile packages into one reproducible bundle and print its digest.
    Build(commands::build::Args),
    /// What a change to rules packages means: rules added, removed, changed
    /// in logic or only in metadata, and with --telemetry the hosts that flip.
    Diff(commands::diff::Args),
    /// Check a signed bundle and say who signed what.
    Verify(commands::verify::Args),
    /// Signing keys: `assay key generate --out KEY`.
    Key(commands::key::Args),
    /// List what a bundle holds; `--disasm` lists its instructions.
    Inspect(commands::inspect::Args),
    /// Evaluate a bundle against one host's telemetry.
    Eval(commands::eval::Args),
    /// Collect telemetry from this host or a mounted root file system.
    Collect(commands::collect::Args),
    /// The host's packages as an SBOM: CycloneDX 1.6 or SPDX 2.3 JSON.
    Sbom(commands::sbom::Args),
    /// Run the policy tests of packages (`tests/*.yaml`).
    Test(commands::test::Args),
    /// Serve the Language Server Protocol on stdin and stdout, for editors.
    Lsp(commands::lsp::Args),
    /// Manage the vulnerability feed: `assay feed import --osv PATH`.
    Feed(commands::feed::Args),
    /// Waiver files: `assay waivers export --openvex FILE --waivers FILE`.
    Waivers(commands::waivers::Args),
    /// Re-check a package and re-run its tests whenever a file changes.
    Watch(commands::watch::Args),
    /// Run the assessment service (targets, templates, runs, agents, findings).
    Server(Box<commands::server::Args>),
    /// Run an agent of an assessment service: enrol, heartbeat, collect, upload.
    Agent(commands::agent::Args),
    /// Simulate many agents against a server on loopback, for load tests.
    AgentSim(commands::agent_sim::Args),
    /// Use an assessment service: tokens, agents, targets, templates, runs, findings.
    Fleet(commands::fleet::Args),
}

fn main() -> miette::Result<ExitCode> {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Scan(args) => commands::scan::run(&args),
        Command::Check(args) => commands::check::run(&args),
        Command::Fmt(args) => commands::fmt::run(&args),
        Command::Explain(args) => commands::explain::run(&args),
        Command::New(args) => commands::new::run(&args),
        Command::Build(args) => commands::build::run(&args),
        Command::Inspect(args) => commands::inspect::run(&args),
        Command::Verify(args) => commands::verify::run(&args),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Key(args) => commands::key::run(&args),
        Command::Eval(args) => commands::eval::run(&args),
        Command::Collect(args) => commands::collect::run(&args),
        Command::Sbom(args) => commands::sbom::run(&args),
        Command::Test(args) => commands::test::run(&args),
        Command::Lsp(args) => commands::lsp::run(&args),
        Command::Feed(args) => commands::feed::run(&args),
        Command::Waivers(args) => commands::waivers::run(&args),
        Command::Watch(args) => commands::watch::run(&args),
        Command::Server(args) => commands::server::run(&args),
        Command::Fleet(args) => commands::fleet::run(&args),
        Command::Agent(args) => commands::agent::run(&args),
        Command::AgentSim(args) => commands::agent_sim::run(&args),
    };
    Ok(match outcome {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("{:?}", failure.report);
            ExitCode::from(failure.exit_code)
        }
    })
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks (unique names, valid defaults) over
    /// every subcommand, which otherwise only fail when that command runs.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
