//! `assay agent-sim`: many simulated agents against one server, for load
//! tests. Each is a real agent to the server: enrolled with its own key
//! and certificate (kept under `--state-dir`, so a second simulation
//! reuses them), its own connection, heartbeats on its own schedule, and
//! the telemetry of a fixture host (its hostname and id made its own)
//! uploaded in chunks when a run asks. Only the collection is simulated:
//! it takes the run's duration without reading anything.
//!
//! Bounded: loopback servers only, at most [`MAX_AGENTS`] agents, at most
//! [`MAX_DURATION`], and it stops by itself.

use crate::{Client, Enrolment, Error, Identity};
use assay_api::agent::{ChunkAnswer, Heartbeat, HeartbeatAnswer, Instruction};
use assay_api::ReportedHealth;
use assay_model::telemetry::Telemetry;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_AGENTS: usize = 20_000;
pub const MAX_DURATION: Duration = Duration::from_secs(4 * 3600);

/// How a simulation runs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub server: String,
    pub enroll_token: Option<String>,
    pub ca_fingerprint: Option<String>,
    pub agents: usize,
    /// Where the agents' identities are kept (one directory each).
    pub state_dir: PathBuf,
    /// Fixture host roots whose telemetry the agents send, in turn.
    pub hosts: Vec<PathBuf>,
    pub heartbeat: Duration,
    pub duration: Duration,
    /// OS threads the agents are spread over.
    pub threads: usize,
    /// Tags every agent enrols with.
    pub tags: BTreeMap<String, String>,
    /// Synthetic packages added to each agent's telemetry (`sim-lib-K`, at
    /// a version that varies by agent), for the fleet inventory's bench.
    pub packages: usize,
}

/// At most this many synthetic packages per agent.
pub const MAX_PACKAGES: usize = 5_000;

/// What a simulation measured.
#[derive(Debug, Default)]
pub struct SimReport {
    pub agents: usize,
    pub enrolled_now: usize,
    pub enrol_seconds: f64,
    pub heartbeats: usize,
    /// Heartbeat latencies, milliseconds, sorted.
    pub latencies_ms: Vec<f64>,
    /// The same per minute of the simulation (idle, a run, an evaluation).
    pub by_minute: BTreeMap<u64, Vec<f64>>,
    /// Failed requests by status (`unreachable` when no answer).
    pub errors: BTreeMap<String, usize>,
    pub uploads: usize,
    pub upload_seconds: Vec<f64>,
}

/// The `p` quantile of sorted `values`.
fn percentile(values: &[f64], p: f64) -> f64 {
    let i = ((values.len().max(1) - 1) as f64 * p).round() as usize;
    values.get(i).copied().unwrap_or(0.0)
}

impl SimReport {
    fn percentile(&self, p: f64) -> f64 {
        percentile(&self.latencies_ms, p)
    }

    /// What the simulation prints (`assay agent-sim`'s JSON).
    pub fn summary(&self) -> Summary {
        let mut u = self.upload_seconds.clone();
        u.sort_by(f64::total_cmp);
        Summary {
            agents: self.agents,
            enrolled_now: self.enrolled_now,
            enrol_seconds: self.enrol_seconds,
            heartbeats: self.heartbeats,
            heartbeat_ms: Latencies {
                p50: self.percentile(0.5),
                p90: self.percentile(0.9),
                p99: self.percentile(0.99),
                max: self.latencies_ms.last().copied().unwrap_or(0.0),
            },
            heartbeat_ms_by_minute: self
                .by_minute
                .iter()
                .map(|(m, v)| {
                    let mut v = v.clone();
                    v.sort_by(f64::total_cmp);
                    Minute { minute: *m, n: v.len(), p50: percentile(&v, 0.5), p99: percentile(&v, 0.99) }
                })
                .collect(),
            errors: self.errors.clone(),
            uploads: Uploads { count: self.uploads, p50_s: percentile(&u, 0.5), p99_s: percentile(&u, 0.99) },
        }
    }
}

/// A simulation's figures.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub agents: usize,
    pub enrolled_now: usize,
    pub enrol_seconds: f64,
    pub heartbeats: usize,
    pub heartbeat_ms: Latencies,
    pub heartbeat_ms_by_minute: Vec<Minute>,
    /// Failed requests by status (`unreachable` when no answer).
    pub errors: BTreeMap<String, usize>,
    pub uploads: Uploads,
}

#[derive(Debug, Serialize)]
pub struct Latencies {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Serialize)]
pub struct Minute {
    pub minute: u64,
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
}

#[derive(Debug, Serialize)]
pub struct Uploads {
    pub count: usize,
    pub p50_s: f64,
    pub p99_s: f64,
}

/// Refuses anything but a loopback server: a load test must not leave the
/// machine.
pub fn check_loopback(server: &str) -> Result<(), String> {
    let rest = server.strip_prefix("https://").ok_or("--server must be https://HOST:PORT")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!("agent-sim talks to loopback servers only, not `{host}`"))
    }
}

/// One simulated agent.
struct Sim {
    identity: Identity,
    client: Client,
    dir: PathBuf,
    /// Its telemetry, gzip-compressed JSON.
    telemetry: std::sync::Arc<Vec<u8>>,
    next_beat: Instant,
    /// A run being "collected", and when it is done.
    collecting: Option<(String, Instant, usize)>,
    delivered: std::collections::HashSet<String>,
}

/// The fixture telemetry of agent `i`: the `i`-th host in turn, renamed.
/// With `packages` synthetic packages: `sim-lib-K` at `1.K%10.I%20-1`, so
/// that a version requirement picks a known share of the agents
/// (`sim-lib-0 <1.0.10`: agents whose index ends in 0 to 9 of every 20).
fn telemetry_for(base: &[Telemetry], i: usize, packages: usize) -> Result<Vec<u8>, String> {
    let mut t = base[i % base.len()].clone();
    t.asset.hostname = format!("sim-{i:05}");
    t.asset.id = format!("sim-{i:05}");
    if packages > 0 {
        use assay_model::telemetry::{Ecosystem, Package, Version};
        t.packages.get_or_insert_with(Vec::new).extend((0..packages).map(|k| Package {
            licenses: None,
            name: format!("sim-lib-{k}"),
            version: Version(format!("1.{}.{}-1", k % 10, i % 20)),
            source_name: None,
            source_version: None,
            architecture: Some("amd64".into()),
            ecosystem: Ecosystem::Debian,
            origin: "/var/lib/dpkg/status".into(),
        }));
    }
    let json = serde_json::to_vec(&t).map_err(|e| e.to_string())?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).map_err(|e| e.to_string())?;
    gz.finish().map_err(|e| e.to_string())
}

/// Runs the simulation until `duration` passes or `stop` is set.
pub fn simulate(config: &SimConfig, stop: &AtomicBool) -> Result<SimReport, String> {
    check_loopback(&config.server)?;
    if config.agents == 0 || config.agents > MAX_AGENTS {
        return Err(format!("--agents must be 1 to {MAX_AGENTS}"));
    }
    if config.duration > MAX_DURATION {
        return Err(format!("--duration is at most {}h", MAX_DURATION.as_secs() / 3600));
    }
    if config.packages > MAX_PACKAGES {
        return Err(format!("--packages is at most {MAX_PACKAGES}"));
    }
    if config.hosts.is_empty() {
        return Err("no fixture hosts to draw telemetry from".into());
    }
    let base: Vec<Telemetry> =
        config.hosts.iter().map(|h| assay_runtime::collector::collect_root(h)).collect();
    std::fs::create_dir_all(&config.state_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.state_dir.display()))?;
    let ca_pem = ca_pem(config)?;

    // Enrol (or load) every agent, spread over the threads.
    let started = Instant::now();
    let threads = config.threads.clamp(1, 512);
    let next = AtomicUsize::new(0);
    let enrolled_now = AtomicUsize::new(0);
    let sims: Mutex<Vec<(usize, Sim)>> = Mutex::new(Vec::with_capacity(config.agents));
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= config.agents || stop.load(Ordering::Relaxed) {
                    return;
                }
                match prepare(config, &base, &ca_pem, i, &enrolled_now) {
                    Ok(sim) => sims.lock().unwrap_or_else(|e| e.into_inner()).push((i, sim)),
                    Err(e) => {
                        *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("agent {i}: {e}"));
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut sims = sims.into_inner().unwrap_or_else(|p| p.into_inner());
    sims.sort_by_key(|(i, _)| *i);
    let enrol_seconds = started.elapsed().as_secs_f64();
    let _ = writeln!(
        std::io::stderr(),
        "assay agent-sim: {} agents ready in {enrol_seconds:.1} s ({} enrolled now)",
        sims.len(),
        enrolled_now.load(Ordering::Relaxed)
    );

    // Heartbeats spread evenly over one interval, then every interval.
    let now = Instant::now();
    let n = sims.len().max(1) as u32;
    let mut shards: Vec<Vec<Sim>> = (0..threads).map(|_| Vec::new()).collect();
    for (k, (_, mut sim)) in sims.into_iter().enumerate() {
        sim.next_beat = now + config.heartbeat * (k as u32) / n;
        shards[k % threads].push(sim);
    }
    let until = now + config.duration;
    let report = Mutex::new(SimReport {
        agents: config.agents,
        enrolled_now: enrolled_now.load(Ordering::Relaxed),
        enrol_seconds,
        ..SimReport::default()
    });
    std::thread::scope(|scope| {
        for shard in shards {
            let report = &report;
            scope.spawn(move || drive(config, shard, until, stop, report));
        }
    });
    let mut report = report.into_inner().unwrap_or_else(|p| p.into_inner());
    report.latencies_ms.sort_by(f64::total_cmp);
    Ok(report)
}

fn ca_pem(config: &SimConfig) -> Result<String, String> {
    let pin = config.ca_fingerprint.as_deref().ok_or("--ca-fingerprint is needed to enrol")?;
    let pem = Client::unverified_ca(&config.server).map_err(|e| format!("fetching the server's CA: {e}"))?;
    let got = crate::fingerprint(&pem).unwrap_or_default();
    if got != pin.to_ascii_lowercase().replace(':', "") {
        return Err(format!("the server's CA has the fingerprint {got}, not {pin}"));
    }
    Ok(pem)
}

fn prepare(
    config: &SimConfig,
    base: &[Telemetry],
    ca_pem: &str,
    i: usize,
    enrolled_now: &AtomicUsize,
) -> Result<Sim, String> {
    let dir = config.state_dir.join(format!("agent-{i:05}"));
    let identity = match Identity::load(&dir)? {
        Some(identity) if identity.server == config.server => identity,
        _ => {
            let token = config.enroll_token.as_deref().ok_or("--enroll-token is needed to enrol")?;
            let enrolment = Enrolment {
                server: &config.server,
                token,
                ca_pem,
                hostname: format!("sim-{i:05}"),
                machine_id: format!("{:032x}", i as u128 + 0x5133_0000_0000),
                os: base[i % base.len()]
                    .asset
                    .os
                    .as_ref()
                    .map(|o| o.distribution.clone())
                    .unwrap_or_default(),
                tags: config.tags.clone(),
            };
            enrolled_now.fetch_add(1, Ordering::Relaxed);
            Identity::enroll(&dir, &enrolment)?.0
        }
    };
    let client = identity.client()?;
    Ok(Sim {
        identity,
        client,
        dir,
        telemetry: std::sync::Arc::new(telemetry_for(base, i, config.packages)?),
        next_beat: Instant::now(),
        collecting: None,
        delivered: Default::default(),
    })
}

fn count_error(report: &Mutex<SimReport>, e: &Error) {
    let key = match e {
        Error::Unreachable(_) => "unreachable".to_owned(),
        Error::Status { status, .. } => status.to_string(),
        Error::Unexpected(_) => "unexpected".to_owned(),
    };
    *report.lock().unwrap_or_else(|p| p.into_inner()).errors.entry(key).or_default() += 1;
}

/// One thread's agents: whichever is due heartbeats (and, after a
/// collection's duration, uploads), until `until`.
fn drive(
    config: &SimConfig,
    mut sims: Vec<Sim>,
    until: Instant,
    stop: &AtomicBool,
    report: &Mutex<SimReport>,
) {
    let mut latencies = Vec::new();
    let mut by_minute: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    let began = Instant::now();
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let Some(sim) = sims.iter_mut().min_by_key(|s| s.next_beat) else { return };
        if sim.next_beat > now {
            std::thread::sleep((sim.next_beat - now).min(Duration::from_millis(200)));
            continue;
        }
        sim.next_beat = now + config.heartbeat;
        if let Some((run, done, chunk)) = sim.collecting.clone() {
            if now >= done {
                let t = Instant::now();
                match upload(sim, &run, chunk) {
                    Ok(()) => {
                        let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
                        r.uploads += 1;
                        r.upload_seconds.push(t.elapsed().as_secs_f64());
                        sim.collecting = None;
                        sim.delivered.insert(run);
                    }
                    Err(e) if e.transient() => count_error(report, &e),
                    Err(e) => {
                        count_error(report, &e);
                        sim.collecting = None;
                    }
                }
            }
        }
        let code = if sim.collecting.is_some() { ReportedHealth::Running } else { ReportedHealth::Idle };
        let body = Heartbeat {
            health_code: Some(code),
            collecting: sim.collecting.as_ref().map(|c| c.0.clone()),
            ..Heartbeat::default()
        };
        let t = Instant::now();
        let answer = sim.client.post_idempotent::<HeartbeatAnswer>("/agent/v1/heartbeat?wait=0", &body);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        match answer {
            Ok(v) => {
                latencies.push(ms);
                by_minute.entry(began.elapsed().as_secs() / 60).or_default().push(ms);
                follow(sim, v.instruction);
                // A real agent uploads as soon as its collection ends.
                if let Some((_, done, _)) = &sim.collecting {
                    sim.next_beat = sim.next_beat.min(*done);
                }
            }
            Err(e) => count_error(report, &e),
        }
    }
    let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
    r.heartbeats += latencies.len();
    r.latencies_ms.extend(latencies);
    for (m, v) in by_minute {
        r.by_minute.entry(m).or_default().extend(v);
    }
}

fn follow(sim: &mut Sim, instruction: Instruction) {
    match instruction {
        Instruction::Collect { run, duration_seconds, max_chunk, .. }
            if sim.collecting.is_none() && !run.is_empty() && !sim.delivered.contains(&run) =>
        {
            let chunk = usize::try_from(max_chunk).unwrap_or(1 << 20).max(1024);
            sim.collecting = Some((run, Instant::now() + Duration::from_secs(duration_seconds), chunk));
        }
        Instruction::Stop { run } if sim.collecting.as_ref().is_some_and(|c| c.0 == run) => {
            sim.collecting = None;
        }
        Instruction::RenewCertificate if sim.identity.renew(&sim.dir).is_ok() => {
            if let Ok(c) = sim.identity.client() {
                sim.client = c;
            }
        }
        _ => {}
    }
}

fn upload(sim: &Sim, run: &str, chunk: usize) -> Result<(), Error> {
    let chunks: Vec<&[u8]> = sim.telemetry.chunks(chunk).collect();
    for (i, c) in chunks.iter().enumerate() {
        let answer: ChunkAnswer = sim.client.put_chunk(run, i, chunks.len(), c)?;
        if answer.complete {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_loopback;

    #[test]
    fn only_loopback_servers_are_simulated_against() {
        for ok in
            ["https://127.0.0.1:8444", "https://localhost:8444/", "https://[::1]:8444", "https://127.3.2.1"]
        {
            assert!(check_loopback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://10.0.0.1:8444",
            "https://example.com:8444",
            "http://127.0.0.1:8444",
            "https://[2001:db8::1]:1",
        ] {
            assert!(check_loopback(bad).is_err(), "{bad}");
        }
    }
}
