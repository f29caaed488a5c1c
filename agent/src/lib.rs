//! `assay agent`: enrols with an `assay server` (its own key pair, a
//! client certificate from the server's CA), then heartbeats by long-poll
//! and follows the server's instructions, a closed set: `idle`, `collect`
//! (run the collector over `--root` for the run's duration and upload the
//! telemetry), `stop` (abandon a run's collection), `renew_certificate`.
//! Nothing else is ever executed on the server's behalf.
//!
//! Telemetry goes through the spool ([`spool`]): compressed, cut into
//! chunks, written to `--state-dir`, then sent chunk by chunk; a chunk is
//! deleted once the server has it. A dead server, a killed agent or a lost
//! connection therefore cost a retry, never data (unless the spool fills,
//! which is recorded and reported).

mod addresses;
mod client;
mod identity;
pub mod sim;
mod spool;

pub use client::{fingerprint, Client, Error};
pub use identity::{Enrolment, Identity};

use assay_api::agent::{ChunkAnswer, Heartbeat, HeartbeatAnswer, Instruction};
use assay_api::ReportedHealth;
use assay_model::lookup::CollectionPlan;
use assay_model::telemetry::{CommandLines, Tag};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How an agent runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The agent endpoint, `https://host:8444`.
    pub server: String,
    pub enroll_token: Option<String>,
    pub state_dir: PathBuf,
    pub tags: BTreeMap<String, String>,
    /// The file system collected (`/`: this host).
    pub root: PathBuf,
    /// The server's CA, as a PEM file; or its SHA-256 fingerprint, pinned
    /// at the first contact. Needed only to enrol.
    pub ca: Option<PathBuf>,
    pub ca_fingerprint: Option<String>,
    /// Deliver one run's telemetry and exit.
    pub once: bool,
    /// `--once` gives up after this long without a run.
    pub once_timeout: Duration,
    pub spool_max_bytes: u64,
    /// How long an idle heartbeat waits at the server for an instruction.
    pub wait: Duration,
    /// Runtime sampling interval during a run's collection.
    pub interval: Duration,
    /// Added to the process's nice value at start (0: unchanged).
    pub nice: i32,
    /// The longest pause between retries while the server is away.
    pub retry_max: Duration,
}

impl Config {
    pub fn new(server: String, state_dir: PathBuf) -> Config {
        Config {
            server,
            enroll_token: None,
            state_dir,
            tags: BTreeMap::new(),
            root: PathBuf::from("/"),
            ca: None,
            ca_fingerprint: None,
            once: false,
            once_timeout: Duration::from_secs(3600),
            spool_max_bytes: 256 << 20,
            wait: Duration::from_secs(25),
            interval: Duration::from_secs(10),
            nice: 10,
            retry_max: Duration::from_secs(60),
        }
    }
}

/// The largest chunk the agent sends (the server may ask for smaller).
const CHUNK: usize = 1 << 20;

/// A crash point for the fault tests (see assay-server's): with
/// `FAILPOINTS=NAME=return` the agent aborts here as `kill -9` would.
fn crash_point(name: &str) {
    fn configured(name: &str) -> bool {
        fail::fail_point!(name, |_| true);
        false
    }
    if configured(name) {
        std::process::abort();
    }
}

/// A collection in progress, on its own thread.
struct Collecting {
    run: String,
    /// The chunk size the server asked for.
    chunk: usize,
    thread: JoinHandle<Result<Vec<u8>, String>>,
}

/// Progress on stderr; a closed stderr must not stop the agent.
fn say(_: &Config, message: &str) {
    let _ = writeln!(std::io::stderr(), "assay agent: {message}");
}

/// The identity in the state directory, or a new one by enrolment.
pub fn identity(config: &Config) -> Result<Identity, String> {
    if let Some(identity) = Identity::load(&config.state_dir)? {
        return enrolled(config, identity);
    }
    let token = config.enroll_token.as_deref().ok_or_else(|| {
        format!("{} holds no identity: enrol with --enroll-token", config.state_dir.display())
    })?;
    let ca_pem = match (&config.ca, &config.ca_fingerprint) {
        (Some(file), _) => {
            std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?
        }
        (None, Some(pin)) => {
            let pem = Client::unverified_ca(&config.server)
                .map_err(|e| format!("fetching the server's CA: {e}"))?;
            let got = fingerprint(&pem).unwrap_or_default();
            let pin = pin.to_ascii_lowercase().replace(':', "");
            if got != pin {
                return Err(format!(
                    "the server's CA has the fingerprint {got}, not {pin}: not the server you meant (or someone in between)"
                ));
            }
            pem
        }
        (None, None) => {
            return Err("to enrol, pin the server's CA: --ca FILE or --ca-fingerprint SHA256 \
                        (`assay server agent-ca` prints both)"
                .into())
        }
    };
    let (hostname, machine_id, os) = assay_runtime::collector::identity(&config.root);
    let enrolment = Enrolment {
        server: &config.server,
        token,
        ca_pem: &ca_pem,
        hostname,
        machine_id: machine_id.unwrap_or_default(),
        os,
        tags: config.tags.clone(),
    };
    let (identity, clones) = Identity::enroll(&config.state_dir, &enrolment)?;
    say(config, &format!("enrolled as {}", identity.agent_id));
    if !clones.is_empty() {
        say(
            config,
            &format!(
                "warning: agents {} report this machine-id too (a cloned image?); the server flags them",
                clones.join(", ")
            ),
        );
    }
    Ok(identity)
}

/// An enrolled agent started with flags that differ from its enrolment.
/// A new `--server` is used: the identity is kept, and the CA pinned at
/// enrolment still has to vouch for the server, so the move cannot hand the
/// agent to another server. Tags are the server's to keep once enrolled, so
/// a `--tag` other than the enrolment's is refused, saying what to do.
fn enrolled(config: &Config, mut identity: Identity) -> Result<Identity, String> {
    let state = config.state_dir.display();
    if let Some(tags) = &identity.tags {
        if !config.tags.is_empty() && *tags != config.tags {
            return Err(format!(
                "{state} holds agent {} enrolled with the tags {}, not {}: tags are chosen at enrolment and kept \
                 by the server. An admin retags the agent with `assay fleet agent tag {} --tag K=V`; to enrol \
                 again (a new agent), stop the agent and remove {state}/agent.json",
                identity.agent_id,
                shown_tags(tags),
                shown_tags(&config.tags),
                identity.agent_id,
            ));
        }
    }
    if identity.server != config.server {
        say(
            config,
            &format!(
                "the server moved from {} to {}: agent {} keeps its identity (the server must still show the CA pinned at enrolment)",
                identity.server, config.server, identity.agent_id
            ),
        );
        identity.server.clone_from(&config.server);
        identity.save(&config.state_dir)?;
    }
    Ok(identity)
}

fn shown_tags(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        return "(none)".into();
    }
    tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Runs `call` on a thread of its own and waits for its result until
/// `stop` is set or `until` passes (`None`: the call was abandoned; its
/// thread ends with its own timeout, or with the process).
fn interruptible<T: Send + 'static>(
    stop: &AtomicBool,
    until: Instant,
    call: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    use std::sync::mpsc::RecvTimeoutError;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(call());
    });
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(v) => return Some(v),
            Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::Relaxed) && Instant::now() < until => {}
            Err(_) => return None,
        }
    }
}

/// Runs the agent until `stop` is set (or, with `--once`, one run is
/// delivered). Returns the runs whose telemetry the server accepted.
pub fn run(config: &Config, stop: &AtomicBool) -> Result<Vec<String>, String> {
    if config.nice != 0 {
        // Best effort: an agent that cannot lower its priority still works.
        let _ = rustix::process::nice(config.nice);
    }
    let mut identity = identity(config)?;
    let mut client = identity.client()?;
    let mut spool = spool::Spool::open(spool::dir(&config.state_dir), config.spool_max_bytes)?;
    let mut collecting: Option<Collecting> = None;
    // Runs this process collected or abandoned: a repeated `collect` for
    // them (the server has not seen the upload yet) is not a new one.
    let mut seen: HashSet<String> = HashSet::new();
    let mut delivered = Vec::new();
    let mut unhealthy: Option<String> = None;
    let mut backoff = Duration::from_secs(1);
    let started = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            // Said if the server answers within a second; stopping is not
            // held up by a server that is away.
            let bye = Heartbeat { health_code: Some(ReportedHealth::Shutdown), ..Heartbeat::default() };
            let c = client.clone();
            let never = AtomicBool::new(false);
            let _ = interruptible(&never, Instant::now() + Duration::from_secs(1), move || {
                c.post::<HeartbeatAnswer>("/agent/v1/heartbeat", &bye)
            });
            return Ok(delivered);
        }
        if config.once && !delivered.is_empty() {
            return Ok(delivered);
        }
        if config.once
            && collecting.is_none()
            && spool.pending().is_empty()
            && started.elapsed() > config.once_timeout
        {
            return Err(format!(
                "--once: no run asked for this agent's telemetry within {:?}",
                config.once_timeout
            ));
        }
        if collecting.as_ref().is_some_and(|c| c.thread.is_finished()) {
            if let Some(c) = collecting.take() {
                match c.thread.join() {
                    Ok(Ok(compressed)) => {
                        let chunks: Vec<Vec<u8>> = compressed.chunks(c.chunk).map(<[u8]>::to_vec).collect();
                        spool.add(&c.run, &chunks)?;
                        crash_point("agent.spooled");
                        say(
                            config,
                            &format!("collected for {} ({} bytes compressed)", c.run, compressed.len()),
                        );
                    }
                    Ok(Err(e)) => unhealthy = Some(format!("collection for {} failed: {e}", c.run)),
                    Err(_) => unhealthy = Some(format!("the collector crashed during run {}", c.run)),
                }
            }
        }
        match flush(config, &client, &spool, stop) {
            Ok(done) => {
                for run in done {
                    say(config, &format!("delivered the telemetry of {run}"));
                    delivered.push(run);
                }
            }
            Err(e) => {
                say(config, &format!("upload paused: {e}"));
                pause(&mut backoff, config.retry_max, stop);
                continue;
            }
        }
        if config.once && !delivered.is_empty() {
            continue;
        }
        let code = if unhealthy.is_some() {
            ReportedHealth::Unhealthy
        } else if collecting.is_some() {
            ReportedHealth::Running
        } else {
            ReportedHealth::Idle
        };
        let lost = spool.lost();
        let reported = !lost.is_empty();
        let beat = Heartbeat {
            health_code: Some(code),
            detail: unhealthy.clone().unwrap_or_default(),
            collecting: collecting.as_ref().map(|c| c.run.clone()),
            lost,
            addresses: Some(addresses::of_this_host()),
        };
        let mut wait = if collecting.is_some() { 2 } else { config.wait.as_secs() };
        if config.once && collecting.is_none() {
            // The long poll ends when --once-timeout does.
            let left = config.once_timeout.saturating_sub(started.elapsed());
            wait = wait.min(left.as_secs() + 1);
        }
        // The long poll is waited for on another thread, so SIGTERM ends
        // the agent at once rather than when the server answers.
        let c = client.clone();
        let path = format!("/agent/v1/heartbeat?wait={wait}");
        let posted = interruptible(stop, Instant::now() + Duration::from_secs(wait + 95), move || {
            c.post_idempotent::<HeartbeatAnswer>(&path, &beat)
        });
        let Some(posted) = posted else { continue };
        let answer: HeartbeatAnswer = match posted {
            Ok(v) => v,
            Err(e @ Error::Status { status: 401 | 403, .. }) => {
                return Err(format!("the server refuses this agent: {e}"));
            }
            Err(Error::Unexpected(e)) => {
                // An instruction outside the set this agent knows (a newer
                // server?): nothing is done on its behalf, and the next
                // heartbeat says why.
                say(config, &format!("the server's answer is not one this agent knows: {e}"));
                unhealthy = Some(format!("the server sent an answer this agent does not know: {e}"));
                pause(&mut backoff, config.retry_max, stop);
                continue;
            }
            Err(e) => {
                say(config, &format!("heartbeat failed: {e}"));
                pause(&mut backoff, config.retry_max, stop);
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        if reported {
            spool.lost_reported();
        }
        unhealthy = None;
        match answer.instruction {
            Instruction::Collect { run, duration_seconds, plan, max_chunk } => {
                if collecting.is_none() && !run.is_empty() && !seen.contains(&run) && !spool.has(&run) {
                    say(config, &format!("collecting for {run}"));
                    seen.insert(run.clone());
                    collecting = Some(start_collection(config, run, duration_seconds, plan, max_chunk));
                }
            }
            Instruction::Stop { run } => {
                if collecting.as_ref().is_some_and(|c| c.run == run) {
                    // The collector thread finishes on its own; its
                    // result is dropped.
                    say(config, &format!("run {run} stopped: collection abandoned"));
                    collecting = None;
                }
            }
            Instruction::RenewCertificate => match identity.renew(&config.state_dir) {
                Ok(()) => {
                    client = identity.client()?;
                    say(config, "certificate renewed");
                }
                Err(e) => unhealthy = Some(e),
            },
            Instruction::Idle => {}
        }
        // Jitter, so a fleet restarted at once does not heartbeat in step.
        std::thread::sleep(Duration::from_millis(jitter(250)));
    }
}

/// Sends every spooled chunk the server does not have, oldest upload first.
/// The runs whose upload completed; an error means the server is away
/// (try later).
fn flush(
    config: &Config,
    client: &Client,
    spool: &spool::Spool,
    stop: &AtomicBool,
) -> Result<Vec<String>, Error> {
    let mut done = Vec::new();
    'entries: for entry in spool.pending() {
        for i in 0..entry.total {
            if stop.load(Ordering::Relaxed) {
                // What is acknowledged stays acknowledged; the rest is sent
                // by the next start.
                return Ok(done);
            }
            let Some(chunk) = spool.chunk(&entry, i) else { continue };
            match client.put_chunk::<ChunkAnswer>(&entry.run, i, entry.total, &chunk) {
                Ok(answer) => {
                    crash_point("agent.chunk.acked");
                    spool.ack(&entry, i);
                    if answer.complete {
                        spool.finish(&entry);
                        done.push(entry.run.clone());
                        continue 'entries;
                    }
                }
                Err(e) if e.transient() => return Err(e),
                Err(e) => {
                    // 404/409/422: the server will never take it (the run
                    // ended, the agent left it, the data is invalid).
                    say(config, &format!("the telemetry of {} was refused: {e}", entry.run));
                    spool.drop_entry(&entry, &format!("refused by the server: {e}"));
                    continue 'entries;
                }
            }
        }
        // Every chunk was acknowledged before this start: the agent died
        // after the last answer (which completes the upload, or refuses
        // it) and before removing the directory.
        spool.finish(&entry);
        done.push(entry.run.clone());
    }
    Ok(done)
}

fn start_collection(
    config: &Config,
    run: String,
    duration_seconds: u64,
    plan: CollectionPlan,
    max_chunk: u64,
) -> Collecting {
    let duration = Duration::from_secs(duration_seconds);
    let collector = assay_runtime::collector::Config {
        root: config.root.clone(),
        duration,
        interval: config.interval.min(duration.max(Duration::from_secs(1))),
        tags: config.tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect(),
        command_lines: CommandLines::Flags,
        plan,
    };
    let thread = std::thread::spawn(move || {
        let telemetry = assay_runtime::collector::collect(&collector, &mut |_| {});
        let json = serde_json::to_vec(&telemetry).map_err(|e| e.to_string())?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json).map_err(|e| e.to_string())?;
        gz.finish().map_err(|e| e.to_string())
    });
    let chunk = usize::try_from(max_chunk).unwrap_or(CHUNK).clamp(1024, CHUNK);
    Collecting { run, chunk, thread }
}

/// Sleeps the backoff (with jitter) unless stopped, and doubles it up to
/// `max`.
fn pause(backoff: &mut Duration, max: Duration, stop: &AtomicBool) {
    let until = Instant::now() + *backoff + Duration::from_millis(jitter(backoff.as_millis() as u64 / 2 + 1));
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    *backoff = (*backoff * 2).min(max);
}

fn jitter(max_ms: u64) -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b) % max_ms.max(1)
}
