//! `assay agent`: enrols with an assay server, then heartbeats, collects
//! and uploads telemetry when a run asks (docs/agent.md).

use super::{Failure, Outcome};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The server's agent endpoint, `https://HOST:8444`. An enrolled agent
    /// follows a new address, keeping its identity; the server must still
    /// show the CA pinned at enrolment.
    #[arg(long, value_name = "URL", env = "ASSAY_AGENT_SERVER")]
    server: String,
    /// An enrolment token (`assay fleet enrollment create`); needed only
    /// for the first start, when --state-dir holds no identity.
    #[arg(long, value_name = "TOKEN", env = "ASSAY_ENROLL_TOKEN", hide_env_values = true)]
    enroll_token: Option<String>,
    /// Where the agent keeps its key, certificate and spool.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/assay-agent")]
    state_dir: PathBuf,
    /// A tag asked for at enrolment (`KEY=VALUE`, repeatable): kept only
    /// under the prefix the enrolment token allows, and the token's own
    /// tags win. Once enrolled, an admin retags (`assay fleet agent tag`);
    /// a different --tag is refused.
    #[arg(long = "tag", value_name = "K=V")]
    tags: Vec<String>,
    /// The root file system collected.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// The server's agent CA (`assay server agent-ca`), pinned at enrolment.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Or its SHA-256 fingerprint: the CA is fetched at the first contact
    /// and kept only if it has this fingerprint.
    #[arg(long, value_name = "SHA256", conflicts_with = "ca")]
    ca_fingerprint: Option<String>,
    /// Deliver the telemetry of one run, then exit (images, CI).
    #[arg(long)]
    once: bool,
    /// With --once: give up after this long without a run (`1h`).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    once_timeout: String,
    /// The spool's bound in MiB; beyond it the oldest uploads are dropped
    /// (and the loss reported).
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    spool_max_mb: u64,
    /// Runtime sampling interval during a collection (`10s`).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    interval: String,
    /// Added to the agent's nice value (0 leaves it).
    #[arg(long, value_name = "N", default_value_t = 10)]
    nice: i32,
    /// The longest wait between retries while the server is unreachable
    /// (`60s`); retries start at 1 s and double.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    retry_max: String,
}

pub fn run(args: &Args) -> Outcome {
    let mut config = assay_agent::Config::new(args.server.clone(), args.state_dir.clone());
    config.enroll_token = args.enroll_token.clone();
    for t in &args.tags {
        let (k, v) = t
            .split_once('=')
            .ok_or_else(|| Failure::input(miette::miette!("--tag `{t}` should be KEY=VALUE")))?;
        config.tags.insert(k.to_owned(), v.to_owned());
    }
    config.root = args.root.clone();
    config.ca = args.ca.clone();
    config.ca_fingerprint = args.ca_fingerprint.clone();
    config.once = args.once;
    config.once_timeout =
        Duration::from_secs(super::fleet::parse_duration(&args.once_timeout)?.max(1) as u64);
    config.spool_max_bytes = args.spool_max_mb.max(1) << 20;
    config.interval = Duration::from_secs(super::fleet::parse_duration(&args.interval)?.max(1) as u64);
    config.nice = args.nice;
    config.retry_max = Duration::from_secs(super::fleet::parse_duration(&args.retry_max)?.max(1) as u64);
    super::failpoints()?;
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone())?;
    let delivered = assay_agent::run(&config, &stop).map_err(|e| Failure::input(miette::miette!("{e}")))?;
    if args.once {
        outln!("{}", delivered.join("\n"));
    }
    Ok(ExitCode::SUCCESS)
}

/// Sets `stop` on SIGTERM or SIGINT; the agent's loop checks it between
/// steps, tells the server SHUTDOWN and exits.
pub(super) fn watch_signals(stop: Arc<AtomicBool>) -> Result<(), Failure> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(miette::miette!("cannot watch for signals: {e}")))?;
    let (mut term, mut int) = rt
        .block_on(async {
            Ok::<_, std::io::Error>((signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?))
        })
        .map_err(|e| Failure::internal(miette::miette!("cannot watch for signals: {e}")))?;
    std::thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    Ok(())
}
