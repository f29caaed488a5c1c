//! `assay fleet`: the command-line client of the admin API. Every command
//! is one or a few HTTP calls with `assay_api`'s types; lists follow their
//! pages to the end unless `--limit` or `--after` asks for one page. A
//! failure is the server's error with its code, as text or (with
//! `--format json`) as the API's error document on standard error; the
//! exit code is 2 for a refused request (4xx) or a bad command line, 3
//! when the server cannot be reached or fails (5xx).

mod apply;
mod client;
mod commands;
mod packages;
mod print;

use super::{Failure, Outcome};
use client::Problem;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The server's admin API.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "ASSAY_SERVER",
        default_value = "http://127.0.0.1:8443"
    )]
    server: String,
    /// An API token (`assay fleet token create`, or the first admin token).
    #[arg(long, global = true, value_name = "TOKEN", env = "ASSAY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Trust the PEM certificates of this file (the server's own, or the CA
    /// that signed it) for https://, instead of the public CAs.
    #[arg(long, global = true, value_name = "FILE", env = "ASSAY_CA")]
    ca: Option<std::path::PathBuf>,
    /// `table` for people, `json` for programs (errors too); `html` (the
    /// default of `report`) or `json` for reports.
    #[arg(long, global = true, value_enum, default_value = "table")]
    format: Format,
    #[command(subcommand)]
    command: Sub,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Format {
    Table,
    Json,
    Html,
    /// For a pull-request comment (`package publish --dry-run`).
    Markdown,
    /// Comma-separated values, one row per item (`packages`).
    Csv,
}

/// One page of a list (`--limit`, `--after`), or, without either, every
/// item.
#[derive(clap::Args, Clone, Default)]
struct Paging {
    /// Items per page (1 to 1000): print one page, and the cursor of the
    /// next on standard error.
    #[arg(long)]
    limit: Option<u32>,
    /// The cursor of the page to print (printed after a full page).
    #[arg(long)]
    after: Option<String>,
}

impl Paging {
    fn one_page(&self) -> bool {
        self.limit.is_some() || self.after.is_some()
    }
}

#[derive(clap::Subcommand)]
enum AgentSub {
    /// One agent: its health, tags, addresses, and the agents that share
    /// its machine-id.
    Show { id: String },
    /// The packages of an agent's latest evaluated telemetry.
    Packages { id: String },
    /// Replace an agent's tags (admin): they decide the targets it is in.
    Tag {
        id: String,
        /// A tag (repeatable); the agent keeps only these.
        #[arg(long = "tag", value_name = "K=V")]
        tags: Vec<String>,
    },
    /// Revoke an agent: its certificates stop working at once and it
    /// leaves the runs it is in.
    Revoke { id: String },
}

#[derive(clap::Subcommand)]
enum Sub {
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenSub,
    },
    /// Enrolment tokens for agents.
    Enrollment {
        #[command(subcommand)]
        command: EnrollmentSub,
    },
    /// The enrolled agents, with their health.
    Agents {
        /// Only agents with this tag (`KEY` or `KEY=VALUE`; repeatable, any matches).
        #[arg(long = "tag", value_name = "K[=V]")]
        tags: Vec<String>,
        /// Only agents of this health: HEALTHY, UNHEALTHY or UNKNOWN.
        #[arg(long)]
        health: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// The hosts that run a package: agents whose latest evaluated
    /// telemetry lists it, with each installed version (paged by agent).
    Packages {
        /// The package's name (PyPI names as PEP 503 normalizes them).
        #[arg(long, required_unless_present = "purl", conflicts_with = "purl")]
        name: Option<String>,
        /// Only versions meeting this requirement, compared as the
        /// package's ecosystem orders versions: `<3.0.13`, `>=1.1.1,<1.1.1w`.
        #[arg(long, value_name = "REQUIREMENT")]
        version: Option<String>,
        /// Only packages of this ecosystem: debian (deb), rpm, alpine (apk)
        /// or pypi.
        #[arg(long)]
        ecosystem: Option<String>,
        /// A Package URL instead of a name: without a version it names
        /// every version; qualifiers given (`?arch=amd64`) must match.
        #[arg(long)]
        purl: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// The SBOM of an agent's latest telemetry, as `assay sbom` writes it
    /// of a host.
    Sbom {
        agent: String,
        /// SPDX 2.3 JSON instead of CycloneDX 1.6 JSON.
        #[arg(long)]
        spdx: bool,
        /// Write it here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// One agent: `show` or `revoke`.
    Agent {
        #[command(subcommand)]
        command: AgentSub,
    },
    /// Assessment targets: agents picked by tag.
    Target {
        #[command(subcommand)]
        command: TargetSub,
    },
    /// Assessment templates: packages, duration, attributes.
    Template {
        #[command(subcommand)]
        command: TemplateSub,
    },
    /// Assessment runs.
    Run {
        #[command(subcommand)]
        command: RunSub,
    },
    /// The audit log: who changed what, when (admin).
    Audit {
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        after: Option<String>,
    },
    /// The fleet's waiver file (docs/waivers.md).
    Waivers {
        #[command(subcommand)]
        command: WaiversSub,
    },
    /// The fleet's VEX documents (docs/vulnerabilities.md#vex): the CVE
    /// findings their not_affected and fixed statements cover are waived.
    Vex {
        #[command(subcommand)]
        command: VexSub,
    },
    /// Make the server's targets, templates and waivers those of a YAML
    /// file (`assay fleet export` writes one): the plan, then the changes.
    Apply {
        file: std::path::PathBuf,
        /// Show the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete the targets and templates the file does not name.
        #[arg(long)]
        prune: bool,
    },
    /// Write the server's targets, templates and waivers as a file for
    /// `assay fleet apply`.
    Export {
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Rules packages published to the server: publish, list, show, yank.
    Package {
        #[command(subcommand)]
        command: packages::PackageSub,
    },
    /// The server's vulnerability feed.
    Feed {
        #[command(subcommand)]
        command: FeedSub,
    },
    /// Findings, filtered and paged: of a run, or with --state the fleet's
    /// current ones (open, resolved or waived, kept up to date by
    /// re-evaluation).
    Findings {
        #[arg(long, conflicts_with = "run")]
        state: Option<String>,
        #[arg(long)]
        run: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        agent: Option<String>,
        /// The fleet's findings of this rules package.
        #[arg(long, conflicts_with = "run")]
        package: Option<String>,
        /// `KEY=VALUE` of an attribute the finding carries.
        #[arg(long, value_name = "K=V")]
        attribute: Option<String>,
        /// Findings per page.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// The cursor of the next page (printed after a full page).
        #[arg(long)]
        after: Option<String>,
    },
    /// One of the fleet's findings with its history: every change and its
    /// cause (a run, a feed, waivers, a package version).
    Finding { agent: String, fingerprint: String },
    /// The findings report of a finished run (`--full`: every rule's
    /// outcome on every host too), as HTML or JSON.
    Report {
        run: String,
        #[arg(long)]
        full: bool,
        /// Write it here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(clap::Subcommand)]
enum FeedSub {
    /// Import an osv.dev export (a folder or zip of OSV JSON records),
    /// upload it, and have the server re-evaluate every agent's latest
    /// telemetry with it.
    Import {
        #[arg(long, value_name = "PATH")]
        osv: std::path::PathBuf,
    },
    /// The feed the server uses.
    Show,
}

#[derive(clap::Subcommand)]
enum WaiversSub {
    /// Upload a waiver file; it applies fleet-wide from now on and the
    /// fleet is re-evaluated with it.
    Upload { file: std::path::PathBuf },
    /// The waiver file in use.
    Show,
}

#[derive(clap::Subcommand)]
enum VexSub {
    /// Upload the fleet's VEX documents (OpenVEX 0.2 or CycloneDX VEX),
    /// replacing those in use; the fleet is re-evaluated with them.
    Upload {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// The VEX documents in use.
    Show,
}

#[derive(clap::Subcommand)]
enum TokenSub {
    /// Mint an API token (admin only); printed once.
    Create {
        /// read-only, operator or admin.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        /// It stops working after this long: `90d`, `12h` (default: when revoked).
        #[arg(long)]
        expires: Option<String>,
    },
    /// The API tokens (admin only; never the tokens themselves).
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// Revoke a token, by its id (`tok-...`) or the token itself: it and
    /// its console sessions stop working at once.
    Revoke {
        // Not named `token`: that is the global --token's id, which this
        // value would then replace as the caller's credential.
        #[arg(value_name = "TOKEN_OR_ID")]
        token_or_id: String,
    },
}

#[derive(clap::Subcommand)]
enum EnrollmentSub {
    /// Create an enrolment token for `assay agent --enroll-token`.
    Create {
        /// How many agents may enrol with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it is valid: `90m`, `24h`, `7d`.
        #[arg(long, default_value = "24h")]
        expires: String,
        /// Tags every agent enrolled with it gets (repeatable).
        #[arg(long = "tag", value_name = "K=V")]
        tags: Vec<String>,
        /// Let its agents add tags of their own (`assay agent --tag`) whose
        /// keys start with this (`""`: any); by default they add none.
        #[arg(long, value_name = "PREFIX")]
        agent_tag_prefix: Option<String>,
    },
}

#[derive(clap::Subcommand)]
enum TargetSub {
    /// Create a target: agents with ANY of the tags (a key alone matches any value).
    Create {
        name: String,
        #[arg(long = "tag", value_name = "K[=V]", required = true)]
        tags: Vec<String>,
    },
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// The agents the target matches now, and why any would be excluded.
    #[command(alias = "show")]
    Preview { name: String },
    /// Delete a target (refused while a template or an unfinished run uses it).
    Delete { name: String },
}

#[derive(clap::Subcommand)]
enum TemplateSub {
    /// Create a template, or a new version of it.
    Create {
        name: String,
        #[arg(long)]
        target: String,
        /// A rules package (repeatable): NAME for its newest version,
        /// NAME@MAJOR or NAME@MAJOR.MINOR for the newest of those, or
        /// NAME@MAJOR.MINOR.PATCH for exactly one (`assay fleet package list`).
        #[arg(long = "package", value_name = "NAME[@VERSION]", required = true)]
        packages: Vec<String>,
        /// How long agents collect: `15m`, `1h`.
        #[arg(long, default_value = "1h")]
        duration: String,
        /// Added to every finding (repeatable).
        #[arg(long = "attribute", value_name = "K=V")]
        attributes: Vec<String>,
        /// A package parameter, `PACKAGE.NAME=VALUE` (repeatable; a list is
        /// comma-separated), versioned with the template.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Start runs on this cron schedule (UTC; `0 3 * * *`, or six
        /// fields with seconds first).
        #[arg(long, value_name = "CRON")]
        schedule: Option<String>,
        /// POST run events to this URL (with --event).
        #[arg(long, value_name = "URL", requires = "events")]
        notify: Option<String>,
        /// An event to notify: ASSESSMENT_RUN_STARTED, ASSESSMENT_RUN_STATE_CHANGED,
        /// ASSESSMENT_RUN_COMPLETED, FINDING_REPORTED (repeatable).
        #[arg(long = "event", value_name = "EVENT", requires = "notify")]
        events: Vec<String>,
    },
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// Every version of a template.
    Show { name: String },
    /// Delete a template (refused while a run of it has not finished).
    Delete { name: String },
}

#[derive(clap::Subcommand)]
enum RunSub {
    /// Start a run of a template's latest version.
    Start {
        template: String,
        /// Wait until the run finishes, printing its states.
        #[arg(long)]
        wait: bool,
    },
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// A run with its state history, agents, exclusions and deliveries.
    Show { run: String },
    /// Stop collecting now; evaluate what arrived, or cancel.
    Stop {
        run: String,
        #[arg(long)]
        skip_evaluation: bool,
    },
}

/// Parses `90s`, `15m`, `24h`, `7d` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, Failure> {
    let bad = || Failure::input(miette::miette!("`{text}` is not a duration such as 90s, 15m, 24h or 7d"));
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let factor = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

pub fn run(args: &Args) -> Outcome {
    match commands::run(args) {
        Ok(code) => Ok(code),
        Err(problem) => {
            if args.format == Format::Json {
                let doc = serde_json::to_string_pretty(&problem.document()).unwrap_or_default();
                eprintln!("{doc}");
            } else {
                eprintln!("error: {}", problem.text());
            }
            Ok(ExitCode::from(problem.exit_code()))
        }
    }
}

impl From<Failure> for Problem {
    fn from(f: Failure) -> Problem {
        Problem::Input(f.report.to_string())
    }
}
