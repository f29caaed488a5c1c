//! What the service's tests share: a server on SQLite or on a fresh
//! PostgreSQL database (127.0.0.1:5432, dropped after), fake agents with
//! the real agent's client and identity, and calls to the admin API.

// Test code: an unwrap that fails is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use assay_server::{start, Config, Running};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
pub fn bundle() -> assay_model::bundle::Bundle {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let loaded = assay_compiler::package::load(&[root]).unwrap();
    let built = assay_compiler::build(&loaded).ok().unwrap();
    assay_model::bundle::load(&built.bytes).unwrap()
}

pub fn telemetry(host: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hosts").join(host);
    serde_json::to_vec(&assay_runtime::collector::collect_root(&root)).unwrap()
}

/// A database for one test: a temporary SQLite file, or a new PostgreSQL
/// database dropped when the test ends.
pub struct Database {
    pub url: Option<String>,
    pub drop_pg: Option<String>,
}

impl Database {
    pub fn sqlite() -> Database {
        Database { url: None, drop_pg: None }
    }

    /// PostgreSQL when 127.0.0.1:5432 answers (the project's machines and
    /// CI run it); `None`, with a message, when it does not.
    pub fn postgres_if_reachable(rt: &tokio::runtime::Runtime) -> Option<Database> {
        use sqlx::Connection;
        let reachable = rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(5),
                sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/test"),
            )
            .await
        });
        match reachable {
            Ok(Ok(_)) => Some(Database::postgres(rt)),
            other => {
                assert!(
                    std::env::var("ASSAY_REQUIRE_POSTGRES").is_err(),
                    "PostgreSQL at 127.0.0.1:5432 is unreachable ({other:?}) and ASSAY_REQUIRE_POSTGRES is set"
                );
                eprintln!("skipped: PostgreSQL at 127.0.0.1:5432 is unreachable ({other:?})");
                None
            }
        }
    }

    pub fn postgres(rt: &tokio::runtime::Runtime) -> Database {
        // Unique across the tests of this process (the counter) and across
        // runs, including one killed before it dropped its database (the
        // time): the process id alone is reused.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("assay_test_{}_{n}_{nanos}", std::process::id());
        rt.block_on(admin_sql(&format!("CREATE DATABASE {name}")));
        Database { url: Some(format!("postgres://postgres@127.0.0.1:5432/{name}")), drop_pg: Some(name) }
    }
}

pub async fn admin_sql(sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/test").await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.unwrap();
}

pub struct Server {
    pub rt: tokio::runtime::Runtime,
    pub running: Option<Running>,
    pub data: tempfile::TempDir,
    pub db: Database,
    pub http: ureq::Agent,
    pub token: String,
    /// Overrides the retention of the next start.
    pub retention_ms: Option<i64>,
    /// Overrides the audit log's retention of the next start.
    pub audit_retention_ms: Option<i64>,
    /// Internal networks webhooks may reach (loopback, by default here).
    pub allow_webhook_to: Vec<ipnet::IpNet>,
    /// Overrides the listeners' limits of the next start.
    pub connections: Option<assay_server::Limits>,
    /// Overrides the agents' certificate lifetime of the next start.
    pub cert_lifetime_ms: Option<i64>,
}

impl Server {
    /// A server on SQLite, or on PostgreSQL (`None` when it is unreachable).
    pub fn new(postgres: bool) -> Option<Server> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let db = if postgres { Database::postgres_if_reachable(&rt)? } else { Database::sqlite() };
        Some(Server::on(rt, db))
    }

    /// A server on `db`, started.
    pub fn on(rt: tokio::runtime::Runtime, db: Database) -> Server {
        let data = tempfile::tempdir().unwrap();
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut s = Server {
            rt,
            running: None,
            data,
            db,
            http,
            token: String::new(),
            retention_ms: None,
            audit_retention_ms: None,
            allow_webhook_to: vec!["127.0.0.0/8".parse().unwrap()],
            connections: None,
            cert_lifetime_ms: None,
        };
        let first = s.boot();
        s.token = first.expect("a first start prints an admin token");
        s
    }

    pub fn config(&self) -> Config {
        let mut c = Config::new(self.data.path().to_path_buf());
        c.database = self.db.url.clone();
        c.listen = "127.0.0.1:0".parse().unwrap();
        c.agent_listen = "127.0.0.1:0".parse().unwrap();
        // The tests' webhook receivers listen on loopback.
        c.allow_webhook_to = self.allow_webhook_to.clone();
        if let Some(ms) = self.audit_retention_ms {
            c.audit_retention_ms = ms;
        }
        if let Some(ms) = self.cert_lifetime_ms {
            c.agent_cert_lifetime_ms = ms;
        }
        if let Some(limits) = self.connections {
            c.connections = limits;
        }
        if let Some(ms) = self.retention_ms {
            c.retention_ms = ms;
        }
        c
    }

    /// Starts a server process on the same database; the first admin token
    /// if this start minted it.
    pub fn boot(&mut self) -> Option<String> {
        let running = self.rt.block_on(start(self.config(), bundle())).unwrap();
        let token = running.first_admin_token.clone();
        self.running = Some(running);
        token
    }

    pub fn halt(&mut self) {
        if let Some(r) = self.running.take() {
            self.rt.block_on(r.stop());
        }
    }

    pub fn agent_base(&self) -> String {
        format!("https://{}", self.running.as_ref().unwrap().agent)
    }

    pub fn url(&self, agent: bool, path: &str) -> String {
        let r = self.running.as_ref().unwrap();
        format!("http://{}{path}", if agent { r.agent } else { r.admin })
    }

    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        self.raw(false, method, path, token, body.map(|b| b.to_string().into_bytes()))
    }

    pub fn raw(
        &self,
        agent: bool,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Vec<u8>>,
    ) -> (u16, Value) {
        let url = self.url(agent, path);
        let auth = format!("Bearer {token}");
        let response = match (method, body) {
            ("GET", _) => self.http.get(&url).header("authorization", &auth).call(),
            ("POST", b) => self
                .http
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(b.unwrap_or_else(|| b"{}".to_vec())),
            ("PUT", b) => self
                .http
                .put(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(b.unwrap_or_default()),
            ("DELETE", _) => self.http.delete(&url).header("authorization", &auth).call(),
            _ => unreachable!(),
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, &self.token, body);
        assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
        v
    }

    pub fn wait_for(&self, run: &str, states: &[&str]) -> Value {
        let start = Instant::now();
        loop {
            let r = self.ok("GET", &format!("/v1/runs/{run}"), None);
            if states.contains(&r["state"].as_str().unwrap()) {
                return r;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "run {run} stayed {}: {r:#}", r["state"]);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.halt();
        if let Some(name) = self.db.drop_pg.take() {
            self.rt.block_on(admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")));
        }
    }
}

/// A fake agent: enrolled through the agent endpoint with the real agent's
/// client (its own key, a certificate from the server's CA), it answers
/// instructions by uploading telemetry of a fixture host in chunks.
pub struct FakeAgent {
    pub id: String,
    pub identity: assay_agent::Identity,
    pub host: &'static str,
    pub _state: tempfile::TempDir,
}

/// The machine-id of a fixture host, as its agent would enrol with it.
pub fn machine_id(host: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hosts").join(host);
    std::fs::read_to_string(root.join("etc/machine-id")).unwrap().trim().to_owned()
}

pub fn try_enroll(
    s: &Server,
    token: &str,
    host: &'static str,
    machine_id: &str,
    os: &str,
) -> Result<(FakeAgent, Vec<String>), String> {
    try_enroll_tagged(s, token, host, machine_id, os, &[])
}

/// An enrolment with tags of the agent's own (`assay agent --tag`).
pub fn try_enroll_tagged(
    s: &Server,
    token: &str,
    host: &'static str,
    machine_id: &str,
    os: &str,
    tags: &[(&str, &str)],
) -> Result<(FakeAgent, Vec<String>), String> {
    let state = tempfile::tempdir().unwrap();
    let server = s.agent_base();
    let enrolment = assay_agent::Enrolment {
        server: &server,
        token,
        ca_pem: &s.running.as_ref().unwrap().ca_pem,
        hostname: host.to_owned(),
        machine_id: machine_id.to_owned(),
        os: os.to_owned(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    let (identity, clones) = assay_agent::Identity::enroll(state.path(), &enrolment)?;
    Ok((FakeAgent { id: identity.agent_id.clone(), identity, host, _state: state }, clones))
}

pub fn enroll(s: &Server, token: &str, host: &'static str, machine_id: &str) -> FakeAgent {
    let (agent, clones) = try_enroll(s, token, host, machine_id, "debian").unwrap();
    assert!(clones.is_empty(), "{clones:?}");
    agent
}

pub fn answer(r: Result<Value, assay_agent::Error>) -> (u16, Value) {
    match r {
        Ok(v) => (200, v),
        Err(assay_agent::Error::Status { status, body, .. }) => {
            (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
        }
        Err(e) => panic!("{e}"),
    }
}

pub fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body).unwrap();
    gz.finish().unwrap()
}

impl FakeAgent {
    /// A client at the server's current address (a restart moves it).
    pub fn client(&self, s: &Server) -> assay_agent::Client {
        let mut identity = self.identity.clone();
        identity.server = s.agent_base();
        identity.client().unwrap()
    }

    pub fn heartbeat(&self, s: &Server) -> Value {
        let (status, v) = self.try_heartbeat(s);
        assert_eq!(status, 200, "{v}");
        v["instruction"].clone()
    }

    pub fn try_heartbeat(&self, s: &Server) -> (u16, Value) {
        answer(self.client(s).post("/agent/v1/heartbeat", &json!({})))
    }

    /// Uploads `body` (telemetry JSON) gzip-compressed in chunks of
    /// `chunk` bytes; the answer to the last chunk.
    pub fn upload_in(&self, s: &Server, run: &str, body: &[u8], chunk: usize) -> (u16, Value) {
        let compressed = gzip(body);
        let chunks: Vec<&[u8]> = compressed.chunks(chunk).collect();
        let client = self.client(s);
        let mut last = (0, Value::Null);
        for (i, c) in chunks.iter().enumerate() {
            last = answer(client.put_chunk(run, i, chunks.len(), c));
            if last.0 >= 300 {
                return last;
            }
        }
        last
    }

    pub fn upload(&self, s: &Server, run: &str, body: Vec<u8>) -> (u16, Value) {
        let (status, v) = self.upload_in(s, run, &body, 1 << 20);
        // 201 for the chunk that completes the upload, as for a new document.
        (if status == 200 && v["accepted"] == true { 201 } else { status }, v)
    }
}

/// The findings a local evaluation of `host` with `packages` gives, by rule.
pub fn local_findings(host: &str, packages: &[&str]) -> Vec<(String, String)> {
    let b = bundle();
    let h = assay_runtime::value::Host::from_json(&telemetry(host)).unwrap();
    let report = assay_runtime::vm::Program::new(&b).evaluate(&h, &Default::default());
    let mut out: Vec<(String, String)> = report
        .findings
        .iter()
        .filter(|f| packages.contains(&f.package.as_str()))
        .map(|f| (f.rule_id.clone(), f.fingerprint.clone()))
        .collect();
    out.sort();
    out
}

pub fn all_findings(s: &Server, run: &str, agent: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after = String::new();
    loop {
        let page = s.ok("GET", &format!("/v1/findings?run={run}&agent={agent}&limit=7{after}"), None);
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => return items,
        }
    }
}
