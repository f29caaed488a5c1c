//! `assay server`: the assessment service. Operators group agents into
//! targets by tag, describe templates (packages, duration, attributes) and
//! start runs; agents heartbeat, collect and upload telemetry; the server
//! evaluates it with the built-in rules packages and keeps the findings.
//!
//! Layers, each importing only the ones below it:
//! - [`console`]: web pages over the admin API, called in process;
//! - [`api`] (admin API, `/v1`) and [`agent_api`] (agents, `/agent/v1`):
//!   thin HTTP handlers speaking `assay_api`'s types;
//! - [`domain`]: what the service does (runs, targets, templates, agents,
//!   findings, evaluation, reports, notifications), with no HTTP;
//! - [`store`]: every SQL statement, typed rows, SQLite and PostgreSQL;
//! - leaves: keys, blobs, the CPU pool, TLS, connections ([`serve`]), ids,
//!   configuration.
//!
//! All state is in the database (SQLite under `--data`, or PostgreSQL)
//! and the blob store: the background loop ([`domain::runs::tick`],
//! [`domain::eval::work_one`]) is idempotent, so several processes can
//! share one PostgreSQL database, and a restarted server resumes every
//! run where the database says it is.

mod agent_api;
mod alone;
mod api;
mod blobs;
mod config;
mod console;
mod cpu;
mod domain;
mod faults;
mod ids;
mod keys;
mod requests;
mod serve;
mod store;
mod tls;

use assay_model::bundle::Bundle;
use domain::App;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use assay_api::Role;
pub use config::{Config, Rebuild};
pub use serve::Limits;

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
    /// Leases of a killed server ended at this start (SQLite only).
    pub reclaimed_leases: u64,
    /// A SQLite database's lock, released when the server stops.
    _alone: Option<alone::Alone>,
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
    private_directory(&config.data)?;
    let alone = alone::sqlite_file(&config.database_url()).map(|db| alone::take(&db)).transpose()?;
    let store = store::Store::open(&config.database_url()).await?;
    private_files(&config.data)?;
    let reclaimed_leases = match alone {
        Some(_) => domain::setup::reclaim_leases(&store)
            .await
            .map_err(|e| format!("cannot reclaim the leases of the last start: {e}"))?,
        None => 0,
    };
    let blobs = blobs::Blobs::open(config.blobs.as_deref(), &config.data)?;
    let master = keys::master(&config.master_key_file())?;
    let ca = domain::setup::ca(&store, &master).await?;
    let (chain, key) = ca.issue_server(&config.agent_names)?;
    let agent_tls = tls::agent_config(chain, key, &ca.cert_der)?;
    let first_admin_token = domain::setup::first_token(&store)
        .await
        .map_err(|e| format!("cannot create the first admin token: {e}"))?;
    domain::setup::rules_changed(&store, &bundle)
        .await
        .map_err(|e| format!("cannot compare the rules packages with the last start's: {e}"))?;
    domain::setup::builtin_packages(&store, &bundle)
        .await
        .map_err(|e| format!("cannot publish the built-in packages: {e}"))?;
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
        store,
        bundle: Box::leak(Box::new(bundle)),
        config,
        feed: Default::default(),
        vex: Default::default(),
        requests: Default::default(),
        master,
        ca,
        blobs,
        wake: tokio::sync::Notify::new(),
        seen: Default::default(),
        heartbeat_windows: Default::default(),
        failures: Default::default(),
        cpu: cpu::Pool::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
        bundles: Default::default(),
        plans: Default::default(),
    });
    let (shutdown, watch) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let tracked = |router: axum::Router<Arc<App>>| {
        router
            .route_layer(axum::middleware::from_fn_with_state(app.clone(), api::track))
            .layer(axum::middleware::from_fn(api::error::refuse_nul))
    };
    let admin_router = tracked(api::routes(app.clone()).merge(console::routes()));
    tasks.extend(serve_both(
        (admin, agents),
        (tls, agent_tls),
        (admin_router, tracked(agent_api::routes())),
        app.clone(),
        &watch,
    ));
    tasks.push(every(&watch, Duration::from_millis(500), app.clone(), |app| async move {
        // A failed tick (the database away) is retried on the next.
        let _ = domain::eval::expire(&app).await;
        let _ = domain::runs::tick(&app).await;
        let _ = domain::schedules::start_due(&app).await;
        let _ = domain::auth::flush_failures(&app).await;
        false
    }));
    tasks.push(every(&watch, Duration::from_secs(60), app.clone(), |app| async move {
        let _ = domain::eval::retention(&app).await;
        false
    }));
    // Written once more when stopping, so no heartbeat is lost.
    let mut stop = watch.clone();
    let flusher = app.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            let _ = domain::heartbeats::flush(&flusher).await;
            if stopping {
                break;
            }
        }
    }));
    tasks.push(every(&watch, Duration::from_millis(250), app.clone(), |app| async move {
        domain::notify::send_one(&app).await.unwrap_or(false)
    }));
    for _ in 0..workers {
        tasks.push(every(&watch, Duration::from_millis(250), app.clone(), |app| async move {
            domain::eval::work_one(&app).await.unwrap_or(false)
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
        reclaimed_leases,
        _alone: alone,
    })
}

/// Makes the data directory (readable by its owner only), or tightens one
/// that others may read to 0700. One that others may write is refused:
/// whoever can replace its files can replace the master key.
fn private_directory(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let shown = dir.display();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create the data directory {shown}: {e}"))?;
    let mode =
        std::fs::metadata(dir).map_err(|e| format!("the data directory {shown}: {e}"))?.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(format!(
            "the data directory {shown} may be written by others (mode {:o}): it holds the master key and the database; `chmod 700 {shown}`",
            mode & 0o777
        ));
    }
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make the data directory {shown} private: {e}"))?;
    }
    Ok(())
}

/// The database files in the data directory, readable by the owner only
/// (SQLite makes them with the process's umask).
fn private_files(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    for name in ["assay.db", "assay.db-wal", "assay.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("cannot make {} private: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Runs `work` until the server stops: again at once while it says it
/// did something, else after `pause`.
fn every<F, Fut>(
    watch: &tokio::sync::watch::Receiver<bool>,
    pause: Duration,
    app: Arc<App>,
    work: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Arc<App>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let mut stop = watch.clone();
    tokio::spawn(async move {
        loop {
            if work(app.clone()).await {
                if *stop.borrow() {
                    break;
                }
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    })
}

/// Serves both listeners on one [`serve::Gate`]: the admin API (TLS when
/// configured) and the agents' (TLS always, the client certificate of each
/// connection passed to the handlers). Refused connections and failed
/// handshakes go to the audit log through a bounded queue: a flood of bad
/// clients drops records rather than memory.
fn serve_both(
    (admin, agents): (tokio::net::TcpListener, tokio::net::TcpListener),
    (admin_tls, agent_tls): (Option<Arc<rustls::ServerConfig>>, Arc<rustls::ServerConfig>),
    (admin_router, agent_router): (axum::Router<Arc<App>>, axum::Router<Arc<App>>),
    app: Arc<App>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut limits = app.config.connections;
    limits.total = limits.total.min(serve::raise_file_limit());
    let gate = serve::Gate::new(limits);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(SocketAddr, &'static str, String)>(256);
    let auditor = app.clone();
    let audit = tokio::spawn(async move {
        while let Some((peer, action, why)) = rx.recv().await {
            let detail = serde_json::json!({ "peer": peer.to_string(), "reason": why });
            let _ = domain::auth::audit_failure(&auditor, &peer.ip().to_string(), action, detail).await;
        }
    });
    let refused = |listener: &'static str| -> serve::OnRefuse {
        let tx = tx.clone();
        Arc::new(move |peer, action, why| {
            tracing::info!(%peer, listener, action, reason = %why, "connection refused");
            let action = match (listener, action) {
                ("agent", "tls.rejected") => "agent.tls.rejected",
                ("agent", _) => "agent.connection.refused",
                (_, "tls.rejected") => "admin.tls.rejected",
                _ => "admin.connection.refused",
            };
            let _ = tx.try_send((peer, action, why));
        })
    };
    let admin = serve::serve(
        admin,
        admin_tls,
        admin_router.with_state(app.clone()),
        gate.clone(),
        refused("admin"),
        stop.clone(),
    );
    let agents = serve::serve(
        agents,
        Some(agent_tls),
        agent_router.with_state(app),
        gate,
        refused("agent"),
        stop.clone(),
    );
    drop(tx);
    vec![tokio::spawn(admin), tokio::spawn(agents), audit]
}

/// Mints an API token straight in the database (`assay server
/// admin-token`): whoever can open the data directory is an admin.
pub async fn mint_token(config: &Config, role: Role, name: &str) -> Result<String, String> {
    let store = store::Store::open(&config.database_url()).await?;
    domain::setup::mint_token(&store, role, name).await
}

/// The key webhook notifications are signed with (made at the first
/// start): `assay server webhook-key`, for receivers to verify
/// `X-Assay-Signature`.
pub async fn webhook_key(config: &Config) -> Result<String, String> {
    let store = store::Store::open(&config.database_url()).await?;
    let master = keys::master(&config.master_key_file())?;
    domain::notify::webhook_key(&store, &master).await.map_err(|e| e.to_string())
}

/// The signature a receiver expects for `body` under `key`.
pub fn webhook_signature(key: &str, body: &str) -> String {
    domain::notify::signature(key, body)
}

/// The agents' CA certificate (PEM) and its SHA-256 fingerprint, which
/// an agent pins at enrolment (`assay agent --ca-fingerprint`).
pub async fn agent_ca(config: &Config) -> Result<(String, String), String> {
    let store = store::Store::open(&config.database_url()).await?;
    let master = keys::master(&config.master_key_file())?;
    let ca = domain::setup::ca(&store, &master).await?;
    Ok((ca.cert_pem.clone(), keys::fingerprint(&ca.cert_der)))
}

/// Copies a service's database into an empty one (`assay server copy`);
/// the rows copied per table.
pub async fn copy_database(from: &str, to: &str) -> Result<Vec<(String, u64)>, String> {
    store::copy::copy(from, to).await
}

/// The OpenAPI document of the admin API (`/v1/openapi.json`).
pub fn openapi() -> Result<serde_json::Value, String> {
    api::openapi_document().cloned()
}
