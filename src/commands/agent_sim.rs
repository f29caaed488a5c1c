//! `assay agent-sim`: simulated agents for load tests of a server on
//! loopback (bench/README.md).

use super::{Failure, Outcome};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The server's agent endpoint on loopback, `https://127.0.0.1:8444`.
    #[arg(long, value_name = "URL")]
    server: String,
    /// How many agents (at most 20,000).
    #[arg(long, value_name = "N")]
    agents: usize,
    /// An enrolment token with enough uses, for agents not enrolled yet.
    #[arg(long, value_name = "TOKEN", env = "ASSAY_ENROLL_TOKEN", hide_env_values = true)]
    enroll_token: Option<String>,
    /// The fingerprint of the server's agent CA (printed at its start).
    #[arg(long, value_name = "SHA256")]
    ca_fingerprint: Option<String>,
    /// Where the agents' identities are kept; a later simulation with the
    /// same directory reuses them instead of enrolling again.
    #[arg(long, value_name = "DIR", default_value = "./agent-sim")]
    state_dir: PathBuf,
    /// Fixture host roots whose telemetry the agents send, in turn
    /// (repeatable); default: every host under tests/fixtures/hosts.
    #[arg(long = "host", value_name = "DIR")]
    hosts: Vec<PathBuf>,
    /// Each agent's heartbeat interval (`60s`).
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    heartbeat: String,
    /// How long the simulation runs (`5m`, at most 4h).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    duration: String,
    /// Threads the agents are spread over.
    #[arg(long, value_name = "N", default_value_t = 64)]
    threads: usize,
    /// A tag every agent enrols with (`KEY=VALUE`, repeatable).
    #[arg(long = "tag", value_name = "K=V")]
    tags: Vec<String>,
    /// Synthetic packages added to each agent's telemetry (`sim-lib-K` at
    /// `1.K%10.I%20-1` on agent I; at most 5,000), for the fleet's package
    /// inventory at scale.
    #[arg(long, value_name = "N", default_value_t = 0)]
    packages: usize,
}

pub fn run(args: &Args) -> Outcome {
    let seconds = |text: &str| -> Result<Duration, Failure> {
        Ok(Duration::from_secs(super::fleet::parse_duration(text)?.max(1) as u64))
    };
    let hosts = if args.hosts.is_empty() {
        let dir = PathBuf::from("tests/fixtures/hosts");
        let mut hosts: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| {
                Failure::input(miette::miette!("cannot list {}: {e} (give --host DIR)", dir.display()))
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("etc").is_dir())
            .collect();
        hosts.sort();
        hosts
    } else {
        args.hosts.clone()
    };
    let mut tags = std::collections::BTreeMap::new();
    for t in &args.tags {
        let (k, v) = t
            .split_once('=')
            .ok_or_else(|| Failure::input(miette::miette!("--tag `{t}` should be KEY=VALUE")))?;
        tags.insert(k.to_owned(), v.to_owned());
    }
    let config = assay_agent::sim::SimConfig {
        server: args.server.trim_end_matches('/').to_owned(),
        enroll_token: args.enroll_token.clone(),
        ca_fingerprint: args.ca_fingerprint.clone(),
        agents: args.agents,
        state_dir: args.state_dir.clone(),
        hosts,
        heartbeat: seconds(&args.heartbeat)?,
        duration: seconds(&args.duration)?,
        threads: args.threads,
        packages: args.packages,
        tags,
    };
    // SIGINT/SIGTERM end the simulation early, with its report.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    super::agent::watch_signals(stop.clone())?;
    let report =
        assay_agent::sim::simulate(&config, &stop).map_err(|e| Failure::input(miette::miette!("{e}")))?;
    let summary = serde_json::to_string_pretty(&report.summary())
        .map_err(|e| Failure::internal(miette::miette!("{e}")))?;
    outln!("{summary}");
    Ok(ExitCode::SUCCESS)
}
