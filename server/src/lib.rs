//! `assay server`: the assessment service. Operators group agents into
//! targets by tag, describe templates (packages, duration, attributes) and
//! start runs; agents heartbeat, collect and upload telemetry; the server
//! evaluates it with the built-in rules packages and keeps the findings.
//!
//! All state is in the database (SQLite under `--data`, or PostgreSQL):
//! the background loop ([`runs::tick`], [`eval::work_one`]) is idempotent,
//! so several processes can share one PostgreSQL database, and a restarted
//! server resumes every run where the database says it is.

mod agent;
mod api;
mod auth;
mod blobs;
mod console;
mod copy;
mod cpu;
mod db;
mod error;
mod eval;
mod keys;
mod metrics;
mod notify;
mod report;
mod runs;
mod tls;

use assay_model::bundle::Bundle;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use auth::Role;

/// How a server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the default SQLite database lives.
    pub data: PathBuf,
    /// `postgres://...` or `sqlite://...`; default: `DATA/assay.db`.
    pub database: Option<String>,
    pub listen: SocketAddr,
    pub agent_listen: SocketAddr,
    /// An agent without a heartbeat for this long is UNKNOWN.
    pub unknown_after_ms: i64,
    pub max_agents_per_run: i64,
    pub max_targets: i64,
    pub max_templates: i64,
    /// Evaluation workers in this process.
    pub workers: usize,
    /// A PEM certificate chain and key for the admin listener (the agent
    /// listener always speaks TLS, with a certificate from the agents' CA).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The names agents reach this server by: the agent listener's
    /// certificate is valid for them.
    pub agent_names: Vec<String>,
    /// How long an agent's certificate is valid; it renews at two thirds.
    pub agent_cert_lifetime_ms: i64,
    /// Telemetry older than this is deleted, with the keys of runs that
    /// have none left.
    pub retention_ms: i64,
    /// The master key file (default `DATA/master.key`; `ASSAY_MASTER_KEY`
    /// wins over both).
    pub master_key: Option<PathBuf>,
    /// How long an evaluation worker holds a job before another worker (of
    /// any replica, or this server after a restart) may take it over.
    pub job_lease_ms: i64,
    /// The chunk size agents are told to upload with.
    pub chunk_bytes: usize,
    /// The blob store for telemetry: `s3://BUCKET[/PREFIX]`, `file:///DIR`
    /// or a directory; default `DATA/blobs`.
    pub blobs: Option<String>,
}

impl Config {
    pub fn new(data: PathBuf) -> Config {
        Config {
            data,
            database: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            agent_listen: SocketAddr::from(([127, 0, 0, 1], 8444)),
            unknown_after_ms: 5 * 60_000,
            max_agents_per_run: 10_000,
            max_targets: 1_000,
            max_templates: 10_000,
            workers: 2,
            tls: None,
            agent_names: vec!["localhost".into(), "127.0.0.1".into()],
            agent_cert_lifetime_ms: 7 * 24 * 3600 * 1000,
            retention_ms: 30 * 24 * 3600 * 1000,
            master_key: None,
            job_lease_ms: 120_000,
            chunk_bytes: 1 << 20,
            blobs: None,
        }
    }

    fn master_key_file(&self) -> PathBuf {
        self.master_key.clone().unwrap_or_else(|| self.data.join("master.key"))
    }

    fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data.join("assay.db").display()))
    }
}

/// A crash point for the fault tests: with `FAILPOINTS=NAME=return` (the
/// `fail` crate's syntax; `2*off->return` for the third time) the process
/// aborts here as `kill -9` would end it: no destructor, no flush, no
/// answer to the request in flight. Without FAILPOINTS it costs a lookup.
pub(crate) fn crash_point(name: &str) {
    fn configured(name: &str) -> bool {
        fail::fail_point!(name, |_| true);
        false
    }
    if configured(name) {
        std::process::abort();
    }
}

/// What every handler shares.
pub struct App {
    db: db::Db,
    bundle: &'static Bundle,
    config: Config,
    /// The latest feed, parsed once per version (a cache: the feed itself
    /// is in the database).
    feed: std::sync::Mutex<Option<(i64, Arc<eval::FeedIndex>)>>,
    /// This process's request counts and latencies.
    requests: metrics::Requests,
    master: keys::Key,
    ca: keys::Ca,
    blobs: blobs::Blobs,
    /// Wakes long-polling heartbeats when a run starts in this process.
    wake: tokio::sync::Notify,
    /// Heartbeats not yet written ([`agent::flush_seen`]).
    seen: std::sync::Mutex<std::collections::HashMap<String, agent::Seen>>,
    /// Heartbeats per agent in the current window (this process's own).
    heartbeats: std::sync::Mutex<std::collections::HashMap<String, (i64, u32)>>,
    /// Decompression, validation and evaluation, below the priority of
    /// requests ([`cpu`]).
    cpu: cpu::Pool,
}

impl App {
    /// What agents pin at enrolment.
    pub(crate) fn ca_fingerprint(&self) -> String {
        keys::fingerprint(&self.ca.cert_der)
    }
}

/// A started server: its addresses, and how to stop it.
pub struct Running {
    pub admin: SocketAddr,
    pub agent: SocketAddr,
    /// The admin token minted at the first start, shown once.
    pub first_admin_token: Option<String>,
    /// What agents pin at enrolment (`assay agent --ca-fingerprint`).
    pub ca_fingerprint: String,
    pub ca_pem: String,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting requests and the background loop, and waits for them.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Opens the database (migrating it), mints the first admin token when
/// there is none, binds both listeners and starts the background loop.
pub async fn start(config: Config, bundle: Bundle) -> Result<Running, String> {
    std::fs::create_dir_all(&config.data)
        .map_err(|e| format!("cannot create the data directory {}: {e}", config.data.display()))?;
    let db = db::Db::open(&config.database_url()).await?;
    let blobs = blobs::Blobs::open(config.blobs.as_deref(), &config.data)?;
    let master = keys::master(&config.master_key_file())?;
    let ca = keys::Ca::load_or_create(&db, &master).await?;
    let (chain, key) = ca.issue_server(&config.agent_names)?;
    let agent_tls = tls::agent_config(chain, key, &ca.cert_der)?;
    let first_admin_token =
        first_token(&db).await.map_err(|e| format!("cannot create the first admin token: {e}"))?;
    rules_changed(&db, &bundle)
        .await
        .map_err(|e| format!("cannot compare the rules packages with the last start's: {e}"))?;
    let admin = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let agents = tokio::net::TcpListener::bind(config.agent_listen)
        .await
        .map_err(|e| format!("cannot listen on {} for agents: {e}", config.agent_listen))?;
    let (admin_addr, agent_addr) =
        (admin.local_addr().map_err(|e| e.to_string())?, agents.local_addr().map_err(|e| e.to_string())?);
    let workers = config.workers;
    let tls = match &config.tls {
        Some((cert, key)) => Some(tls::config(cert, key)?),
        None => None,
    };
    let app = Arc::new(App {
        db,
        bundle: Box::leak(Box::new(bundle)),
        config,
        feed: Default::default(),
        requests: Default::default(),
        master,
        ca,
        blobs,
        wake: tokio::sync::Notify::new(),
        heartbeats: Default::default(),
        seen: Default::default(),
        cpu: cpu::Pool::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
    });
    let (shutdown, watch) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let serve = |listener: tokio::net::TcpListener, router: axum::Router<Arc<App>>| {
        let mut stop = watch.clone();
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let router = router.with_state(app);
            let _ = match tls {
                Some(config) => match tls::Listener::new(listener, config, None) {
                    Ok(l) => axum::serve(l, router).with_graceful_shutdown(shutdown).await,
                    Err(_) => Ok(()),
                },
                None => axum::serve(listener, router).with_graceful_shutdown(shutdown).await,
            };
        })
    };
    let tracked = |router: axum::Router<Arc<App>>| {
        router.route_layer(axum::middleware::from_fn_with_state(app.clone(), metrics::track))
    };
    tasks.push(serve(admin, tracked(api::routes(app.clone()).merge(console::routes()))));
    tasks.push(serve_agents(agents, agent_tls, tracked(agent::routes()), app.clone(), watch.clone()));
    let mut stop = watch.clone();
    let ticker = app.clone();
    tasks.push(tokio::spawn(async move {
        let mut last_retention = std::time::Instant::now() - Duration::from_secs(3600);
        loop {
            // A failed tick (the database away) is retried on the next.
            let _ = eval::expire(&ticker.db).await;
            let _ = runs::tick(&ticker.db).await;
            let _ = notify::schedules(&ticker).await;
            if last_retention.elapsed() > Duration::from_secs(60) {
                last_retention = std::time::Instant::now();
                let _ = eval::retention(&ticker).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    }));
    let mut stop = watch.clone();
    let flusher = app.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            let _ = agent::flush_seen(&flusher).await;
            if stopping {
                break;
            }
        }
    }));
    let mut stop = watch.clone();
    let sender = app.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            if !notify::send_one(&sender).await.unwrap_or(false) {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            } else if *stop.borrow() {
                break;
            }
        }
    }));
    for _ in 0..workers {
        let mut stop = watch.clone();
        let worker = app.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let worked = eval::work_one(&worker).await.unwrap_or(false);
                if !worked {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                        _ = stop.wait_for(|s| *s) => break,
                    }
                } else if *stop.borrow() {
                    break;
                }
            }
        }));
    }
    let (ca_fingerprint, ca_pem) = (app.ca_fingerprint(), app.ca.cert_pem.clone());
    Ok(Running {
        admin: admin_addr,
        agent: agent_addr,
        first_admin_token,
        ca_fingerprint,
        ca_pem,
        shutdown,
        tasks,
    })
}

/// Serves the agent listener: TLS always, the client certificate of each
/// connection passed to the handlers, failed handshakes in the audit log
/// (through a bounded queue: a flood of bad clients drops records rather
/// than memory).
fn serve_agents(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: axum::Router<Arc<App>>,
    app: Arc<App>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(SocketAddr, String)>(256);
    let auditor = app.clone();
    tokio::spawn(async move {
        while let Some((peer, why)) = rx.recv().await {
            let detail = serde_json::json!({ "peer": peer.to_string(), "reason": why });
            let _ = auth::audit(&auditor.db, &peer.to_string(), "agent.tls.rejected", detail).await;
        }
    });
    let on_reject: tls::OnReject = Arc::new(move |peer, why| {
        let _ = tx.try_send((peer, why));
    });
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let Ok(listener) = tls::Listener::new(listener, config, Some(on_reject)) else { return };
        let service = router.with_state(app).into_make_service_with_connect_info::<tls::Peer>();
        let _ = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    })
}

/// The first admin token, when the database has no token at all. Counted
/// and minted in one write transaction, so two replicas starting at once
/// mint one.
async fn first_token(db: &db::Db) -> Result<Option<String>, sqlx::Error> {
    let mut tx = db.write().await?;
    if db.backend == db::Backend::Postgres {
        sqlx::query("LOCK TABLE api_tokens IN EXCLUSIVE MODE").execute(&mut *tx).await?;
    }
    let row = sqlx::query("SELECT COUNT(*) AS n FROM api_tokens").fetch_one(&mut *tx).await?;
    if db::int(&row, "n") > 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let token = auth::mint(&mut *tx, Role::Admin, "first admin").await?.1;
    tx.commit().await?;
    Ok(Some(token))
}

/// Queues the re-evaluation of the fleet when the rules packages differ
/// from those of the last start (an upgrade of assay).
async fn rules_changed(db: &db::Db, bundle: &Bundle) -> Result<(), sqlx::Error> {
    let digest = bundle.digest.clone();
    let mut tx = db.write().await?;
    let last = sqlx::query("SELECT value FROM server_state WHERE key = 'bundle_digest'")
        .fetch_optional(&mut *tx)
        .await?;
    match last.map(|r| db::text(&r, "value")) {
        Some(d) if d == digest => {}
        previous => {
            if previous.is_some() {
                eval::queue_reevaluation(
                    &mut tx,
                    &format!("rules packages updated (bundle {})", &digest[..16]),
                )
                .await?;
            }
            sqlx::query("DELETE FROM server_state WHERE key = 'bundle_digest'").execute(&mut *tx).await?;
            sqlx::query("INSERT INTO server_state (key, value) VALUES ('bundle_digest', $1)")
                .bind(&digest)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Mints an API token straight in the database (`assay server
/// admin-token`): whoever can open the data directory is an admin.
pub async fn mint_token(config: &Config, role: Role, name: &str) -> Result<String, String> {
    let db = db::Db::open(&config.database_url()).await?;
    let (id, token) = auth::mint(&db.pool, role, name).await.map_err(|e| e.to_string())?;
    auth::audit(
        &db,
        "server admin-token",
        "token.create",
        serde_json::json!({ "id": id, "role": role.as_str() }),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(token)
}

/// The key webhook notifications are signed with (made at the first
/// start): `assay server webhook-key`, for receivers to verify
/// `X-Assay-Signature`.
pub async fn webhook_key(config: &Config) -> Result<String, String> {
    let db = db::Db::open(&config.database_url()).await?;
    notify::signing_key(&db).await.map_err(|e| e.to_string())
}

/// The signature a receiver expects for `body` under `key`.
pub fn webhook_signature(key: &str, body: &str) -> String {
    notify::signature(key, body)
}

/// The agents' CA certificate (PEM) and its SHA-256 fingerprint, which
/// an agent pins at enrolment (`assay agent --ca-fingerprint`).
pub async fn agent_ca(config: &Config) -> Result<(String, String), String> {
    let db = db::Db::open(&config.database_url()).await?;
    let master = keys::master(&config.master_key_file())?;
    let ca = keys::Ca::load_or_create(&db, &master).await?;
    Ok((ca.cert_pem.clone(), keys::fingerprint(&ca.cert_der)))
}

/// Copies a service's database into an empty one (`assay server copy`);
/// the rows copied per table.
pub async fn copy_database(from: &str, to: &str) -> Result<Vec<(String, u64)>, String> {
    copy::copy(from, to).await
}
