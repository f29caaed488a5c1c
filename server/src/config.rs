//! How a server runs: its options, with their defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Audit log entries older than this are deleted.
    pub audit_retention_ms: i64,
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
    /// Internal addresses webhooks may reach all the same (loopback,
    /// private, link-local ... are refused otherwise).
    pub allow_webhook_to: Vec<ipnet::IpNet>,
    /// Deadlines and connection counts of both listeners; `total` is kept
    /// below what the process's file limit allows.
    pub connections: crate::serve::Limits,
    /// Keys whose signatures publications must carry; none: unsigned
    /// packages are accepted (and shown as unsigned).
    pub trusted_keys: Vec<assay_runtime::signing::PublicKey>,
    /// Compiles a published package's kept sources again when its stored
    /// bundle was built for another instruction set or telemetry schema
    /// (the `assay` program passes its compiler; this crate has none).
    pub rebuild: Option<Rebuild>,
}

/// One package's kept sources: its name and `(path, text)` pairs.
pub type PackageSources = (String, Vec<(String, String)>);

/// Compiles packages' sources into one bundle's bytes, or says why not.
pub type Compile = dyn Fn(&[PackageSources]) -> Result<Vec<u8>, String> + Send + Sync;

/// The compiler the `assay` program lends the server ([`Config::rebuild`]).
#[derive(Clone)]
pub struct Rebuild(pub std::sync::Arc<Compile>);

impl std::fmt::Debug for Rebuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rebuild")
    }
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
            audit_retention_ms: 365 * 24 * 3600 * 1000,
            master_key: None,
            job_lease_ms: 120_000,
            chunk_bytes: 1 << 20,
            blobs: None,
            allow_webhook_to: Vec::new(),
            connections: crate::serve::Limits::default(),
            trusted_keys: Vec::new(),
            rebuild: None,
        }
    }

    pub(crate) fn master_key_file(&self) -> PathBuf {
        self.master_key.clone().unwrap_or_else(|| self.data.join("master.key"))
    }

    pub(crate) fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data.join("assay.db").display()))
    }
}
