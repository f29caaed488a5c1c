//! Nothing lost when a process dies: the server killed (by `kill -9`,
//! and at each of its crash points, where it aborts as `kill -9` would)
//! while agents upload and while it evaluates; an agent killed after
//! spooling and in the middle of an upload. Each run must end COMPLETED
//! with the same findings, each once, as an undisturbed run of the same
//! hosts, and with every chunk counted once.
//!
//! Crash points are armed with `FAILPOINTS=NAME=ACTIONS` (the `fail`
//! crate's syntax: `return` aborts, `2*off->return` aborts the third time).

use super::{common, enrolled, fleet, spawn_server, with_postgres, ServerProcess};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port free now on loopback (the kernel's pick, released): a restarted
/// server must come back where its agents look for it.
fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// A server on fixed addresses over one data directory, restarted at will.
struct Site {
    data: tempfile::TempDir,
    listen: (String, String),
    token: Option<String>,
}

/// Short leases so that a job held by a killed server is taken over in
/// seconds; small chunks so that an upload has several.
const SERVER: [&str; 4] = ["--job-lease", "2s", "--chunk-kib", "1"];

impl Site {
    fn new() -> Site {
        Site { data: tempfile::tempdir().unwrap(), listen: (free_port(), free_port()), token: None }
    }

    fn start(&mut self, failpoints: Option<&str>) -> ServerProcess {
        let env: Vec<(&str, &str)> = failpoints.map(|f| ("FAILPOINTS", f)).into_iter().collect();
        let listen = (self.listen.0.as_str(), self.listen.1.as_str());
        let s = spawn_server(self.data.path(), listen, &SERVER, &env, self.token.as_deref());
        self.token = Some(s.token.clone());
        s
    }
}

/// A real agent process whose state directory outlives it.
struct Agent {
    child: Child,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent(s: &ServerProcess, state: &Path, token: &str, host: &str, failpoints: Option<&str>) -> Agent {
    agent_of(&s.agent, &s.fingerprint, state, token, host, failpoints)
}

fn agent_of(
    server: &str,
    fingerprint: &str,
    state: &Path,
    token: &str,
    host: &str,
    failpoints: Option<&str>,
) -> Agent {
    let mut command = Command::new(env!("CARGO_BIN_EXE_assay"));
    command
        .args(["agent", "--server", server, "--enroll-token", token, "--ca-fingerprint", fingerprint])
        .args(["--state-dir", state.to_str().unwrap(), "--nice", "0", "--retry-max", "1s"])
        .args(["--root", common::fixture(host).to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(f) = failpoints {
        command.env("FAILPOINTS", f);
    }
    Agent { child: command.spawn().unwrap() }
}

/// Waits for a process that should crash; whether it died by a signal
/// (abort, kill), not by exiting.
fn crashed(child: &mut Child, what: &str) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.signal().is_some();
        }
        assert!(start.elapsed() < Duration::from_secs(90), "{what}: never reached its crash point");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill9(child: &mut Child) {
    let status = Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let _ = child.wait();
}

/// The run's state, `None` while the server cannot answer.
fn run_state(s: &ServerProcess, id: &str) -> Option<Value> {
    let (code, out, _) = fleet(s, &["run", "show", id, "--format", "json"]);
    if code != 0 {
        return None;
    }
    serde_json::from_str(&out).ok()
}

fn finished(s: &ServerProcess, id: &str) -> Value {
    let start = Instant::now();
    loop {
        if let Some(v) = run_state(s, id) {
            if ["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "ERROR", "CANCELED"]
                .iter()
                .any(|st| v["state"] == *st)
            {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "the run did not finish: {v:#}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start_run(s: &ServerProcess) -> String {
    let (code, out, err) = fleet(s, &["run", "start", "all", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_owned()
}

/// A run's findings as (agent, rule, fingerprint), asserting none is
/// there twice.
fn findings(s: &ServerProcess, id: &str) -> BTreeSet<(String, String, String)> {
    let (code, out, err) = fleet(s, &["findings", "--run", id, "--format", "json", "--limit", "1000"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let items = v["items"].as_array().unwrap();
    assert!(v["next"].is_null(), "one page holds them all");
    let set: BTreeSet<_> = items
        .iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap().to_owned();
            (text("agent_id"), text("rule_id"), text("fingerprint"))
        })
        .collect();
    assert_eq!(set.len(), items.len(), "a finding is there twice");
    set
}

/// Every agent of a finished run delivered, each chunk counted once, and
/// was evaluated.
fn delivered_once(run: &Value, what: &str) {
    for a in run["agents"].as_array().unwrap() {
        assert_eq!(a["status"], "delivered", "{what}: {run:#}");
        assert!(a["chunks_total"].as_i64().unwrap() > 1, "{what}: uploads should have several chunks");
        assert_eq!(a["chunks_received"], a["chunks_total"], "{what}: a chunk was accepted twice: {run:#}");
        assert_eq!(a["evaluation"], "done", "{what}: {run:#}");
    }
}

/// The uploads waiting in an agent's spool.
fn spooled(spool: &Path) -> usize {
    std::fs::read_dir(spool)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
        .count()
}

/// Enrols agents on `hosts` and creates the template `all` (every
/// built-in package) over them.
fn fleet_of(s: &ServerProcess, states: &[tempfile::TempDir], hosts: &[&str]) -> (String, Vec<Agent>) {
    fleet_via(s, &s.agent, states, hosts)
}

/// [`fleet_of`] with agents that reach the server at `server`.
fn fleet_via(
    s: &ServerProcess,
    server: &str,
    states: &[tempfile::TempDir],
    hosts: &[&str],
) -> (String, Vec<Agent>) {
    let (_, token, _) = fleet(s, &["enrollment", "create", "--uses", "10", "--tag", "fleet=faults"]);
    let token = token.trim().to_owned();
    let agents = hosts
        .iter()
        .zip(states)
        .map(|(h, d)| agent_of(server, &s.fingerprint, d.path(), &token, h, None))
        .collect();
    enrolled(s, hosts.len());
    assert_eq!(fleet(s, &["target", "create", "faults", "--tag", "fleet"]).0, 0);
    let mut args = vec!["template", "create", "all", "--target", "faults", "--duration", "1m"];
    for p in ["cis-linux", "security-best-practices", "runtime-behavior", "cve"] {
        args.extend(["--package", p]);
    }
    let (code, _, err) = fleet(s, &args);
    assert_eq!(code, 0, "{err}");
    (token, agents)
}

/// Telemetry that arrived but cannot be evaluated (the fail point stands
/// for a lost blob or a deleted key) is the service's failure: the run
/// ends ERROR, not COMPLETED_WITH_ERRORS, and says why per agent.
#[test]
fn a_run_whose_telemetry_cannot_be_evaluated_ends_in_error() {
    let mut site = Site::new();
    let s = site.start(Some("eval.telemetry.unreadable=return"));
    let states = [tempfile::tempdir().unwrap()];
    let (_token, _agents) = fleet_of(&s, &states, &["debian-default"]);
    let id = start_run(&s);
    let done = finished(&s, &id);
    assert_eq!(done["state"], "ERROR", "{done:#}");
    let history: Vec<&str> =
        done["history"].as_array().unwrap().iter().map(|h| h["state"].as_str().unwrap()).collect();
    assert_eq!(history[history.len() - 2..], ["EVALUATING_RULES", "ERROR"], "{done:#}");
    let agent = &done["agents"][0];
    assert_eq!((&agent["status"], &agent["evaluation"]), (&json!("delivered"), &json!("failed")), "{done:#}");
    assert_eq!(agent["evaluation_attempts"], 3, "{done:#}");
    assert!(done.to_string().contains("cannot be read"), "the reason is shown: {done:#}");
    assert!(findings(&s, &id).is_empty());
    // A final state: a restart leaves it as it is.
    drop(s);
    let s = site.start(None);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(finished(&s, &id)["state"], "ERROR");
}

#[test]
fn a_server_killed_while_agents_upload_or_during_evaluation_loses_no_finding() {
    let mut site = Site::new();
    let mut s = site.start(None);
    let hosts = ["debian-default", "rpm"];
    let states: Vec<_> = hosts.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let (_token, _agents) = fleet_of(&s, &states, &hosts);

    // The reference: an undisturbed run of the same hosts.
    let reference_run = start_run(&s);
    let done = finished(&s, &reference_run);
    assert_eq!(done["state"], "COMPLETED", "{done:#}");
    delivered_once(&done, "reference");
    let reference = findings(&s, &reference_run);
    assert!(reference.len() > 20, "{reference:?}");

    // kill -9 from outside while the agents collect and upload (they
    // spool and retry), then each crash point in turn: a chunk stored but
    // not answered, a complete upload stored but not answered, a state
    // transition, a job leased but not evaluated, findings written but
    // not committed, a job committed but the worker not back.
    let points = [
        None,
        Some("agent.chunk.stored=2*off->return"),
        Some("agent.telemetry.stored=return"),
        Some("run.tick=1*off->return"),
        Some("eval.job.leased=return"),
        Some("eval.job.written=return"),
        Some("eval.job.done=return"),
    ];
    for point in points {
        let what = point.unwrap_or("kill -9 during collection");
        drop(s);
        s = site.start(point);
        let id = start_run(&s);
        match point {
            None => {
                let start = Instant::now();
                while run_state(&s, &id).is_none_or(|r| r["agents"][0]["chunks_received"] == 0) {
                    assert!(start.elapsed() < Duration::from_secs(60), "no upload started");
                    std::thread::sleep(Duration::from_millis(20));
                }
                kill9(&mut s.child);
            }
            Some(_) => assert!(crashed(&mut s.child, what), "{what}: the server exited instead of crashing"),
        }
        s = site.start(None);
        let done = finished(&s, &id);
        assert_eq!(done["state"], "COMPLETED", "{what}: {done:#}");
        delivered_once(&done, what);
        assert_eq!(findings(&s, &id), reference, "{what}: the findings differ from the undisturbed run's");
    }
}

#[test]
fn an_agent_killed_after_spooling_or_mid_upload_resumes_from_its_spool() {
    let mut site = Site::new();
    let s = site.start(None);
    let host = "debian-hardened";
    let states = [tempfile::tempdir().unwrap()];
    let (token, mut agents) = fleet_of(&s, &states, &[host]);
    let reference_run = start_run(&s);
    assert_eq!(finished(&s, &reference_run)["state"], "COMPLETED");
    let reference = findings(&s, &reference_run);

    // Killed after collecting into the spool, before sending anything;
    // then, restarted, killed with three chunks acknowledged but the
    // third not yet removed from the spool; then restarted to finish.
    agents.clear();
    let id = start_run(&s);
    let spool = states[0].path().join("spool");
    for point in ["agent.spooled=return", "agent.chunk.acked=2*off->return"] {
        let mut a = agent(&s, states[0].path(), &token, host, Some(point));
        assert!(crashed(&mut a.child, point), "{point}: the agent exited instead of crashing");
        assert_eq!(spooled(&spool), 1, "{point}: the upload waits in the spool");
    }
    let run = run_state(&s, &id).unwrap();
    assert_eq!(run["agents"][0]["chunks_received"], 3, "{run:#}");
    let _a = agent(&s, states[0].path(), &token, host, None);
    let done = finished(&s, &id);
    assert_eq!(done["state"], "COMPLETED", "{done:#}");
    delivered_once(&done, "agent restarted");
    assert_eq!(findings(&s, &id), reference, "the findings differ from the undisturbed run's");
    let start = Instant::now();
    while spooled(&spool) > 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "the delivered upload stays in the spool");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A loopback load balancer: each connection goes to the first backend
/// that accepts it, so agents behind it move to the next replica when one
/// dies. Its threads end with the test process.
fn balancer(backends: Vec<String>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Some(server) = backends.iter().find_map(|b| std::net::TcpStream::connect(b).ok()) else {
                continue;
            };
            for (mut from, mut to) in
                [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
            {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    addr
}

/// Two replicas on one PostgreSQL database behind a balancer. The first,
/// which the agents reach, is killed (`kill -9`) while they upload: the
/// other takes the agents over and finishes the run. Then the first, alone,
/// is killed holding an evaluation job: the other, started again, takes
/// the job over when its lease ends. Each run ends with the reference
/// findings.
#[test]
fn two_replicas_on_postgres_one_killed_mid_run_the_other_finishes() {
    with_postgres("assay_faults", replicas);
}

fn replicas(url: &str) {
    let (mut first, mut second) = (Site::new(), Site::new());
    // Replicas share the database, the master key and the blob store.
    let key = first.data.path().join("master.key").display().to_string();
    let blobs = first.data.path().join("blobs").display().to_string();
    let mut args: Vec<&str> = SERVER.to_vec();
    args.extend(["--database", url, "--master-key", &key, "--blobs", &blobs]);
    let start = |site: &mut Site, failpoints: &[(&str, &str)]| {
        let listen = (site.listen.0.clone(), site.listen.1.clone());
        let s =
            spawn_server(site.data.path(), (&listen.0, &listen.1), &args, failpoints, site.token.as_deref());
        site.token = Some(s.token.clone());
        s
    };
    let mut a = start(&mut first, &[]);
    second.token = first.token.clone();
    let b = start(&mut second, &[]);
    assert_eq!(a.fingerprint, b.fingerprint, "replicas share the agents' CA");
    let lb = format!("https://{}", balancer(vec![first.listen.1.clone(), second.listen.1.clone()]));
    let hosts = ["debian-default", "alpine"];
    let states: Vec<_> = hosts.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let (_token, _agents) = fleet_via(&b, &lb, &states, &hosts);

    let reference_run = start_run(&b);
    assert_eq!(finished(&b, &reference_run)["state"], "COMPLETED");
    let reference = findings(&b, &reference_run);

    // Killed while the agents upload to it.
    let id = start_run(&b);
    let t = Instant::now();
    while run_state(&b, &id)
        .is_none_or(|r| r["agents"].as_array().unwrap().iter().all(|a| a["chunks_received"] == 0))
    {
        assert!(t.elapsed() < Duration::from_secs(60), "no upload started");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill9(&mut a.child);
    let done = finished(&b, &id);
    assert_eq!(done["state"], "COMPLETED", "{done:#}");
    delivered_once(&done, "replica killed during uploads");
    assert_eq!(findings(&b, &id), reference);

    // Back with a crash point where a worker has leased a job, alone (the
    // other replica's workers would compete for the same jobs), killed
    // holding it; the other replica, started again, takes the job over
    // when the lease ends and finishes the run.
    drop(b);
    let mut a = start(&mut first, &[("FAILPOINTS", "eval.job.leased=return")]);
    let id = start_run(&a);
    assert!(crashed(&mut a.child, "replica evaluating"), "the first replica exited instead of crashing");
    let b = start(&mut second, &[]);
    let done = finished(&b, &id);
    assert_eq!(done["state"], "COMPLETED", "{done:#}");
    delivered_once(&done, "replica killed while evaluating");
    assert_eq!(findings(&b, &id), reference);
}

/// #27.17: a server that holds its SQLite database alone (a lock file)
/// ends the leases of its killed self at start, so the job it held is
/// evaluated at once rather than after the lease (2 minutes by default,
/// 117 s measured); a second server on the same database is refused.
#[test]
fn a_lone_sqlite_server_reclaims_its_killed_selfs_leases_at_once() {
    let data = tempfile::tempdir().unwrap();
    let listen = (free_port(), free_port());
    let ports = (listen.0.as_str(), listen.1.as_str());
    let options = ["--chunk-kib", "1"];
    let mut s = spawn_server(data.path(), ports, &options, &[("FAILPOINTS", "eval.job.leased=return")], None);
    let token = s.token.clone();
    let states = [tempfile::tempdir().unwrap()];
    let (_token, _agents) = fleet_of(&s, &states, &["debian-default"]);
    let id = start_run(&s);
    assert!(crashed(&mut s.child, "eval.job.leased"), "the server exited instead of crashing");
    drop(s);
    let s = spawn_server(data.path(), ports, &options, &[], Some(&token));
    let restarted = Instant::now();
    let done = finished(&s, &id);
    assert_eq!(done["state"], "COMPLETED", "{done:#}");
    let took = restarted.elapsed();
    assert!(took < Duration::from_secs(60), "the job waited out its lease: {took:?}");

    // The log says what happened, one line each.
    let mut s = s;
    super::terminate(s.child.id());
    s.child.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut s._output.0, &mut log).unwrap();
    assert!(log.contains("ended the leases of this database's last server process"), "{log}");
    assert!(log.contains("evaluation job taken over"), "{log}");
    let s = spawn_server(data.path(), ports, &options, &[], Some(&token));

    let second = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["server", "--data", data.path().to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--agent-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(err.contains(&format!("another assay server (pid {})", s.child.id())), "{err}");
}
