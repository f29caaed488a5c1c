//! `assay server`: runs the assessment service until interrupted;
//! `assay server admin-token` mints an API token straight in its database.

use super::{Failure, Outcome};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    options: Options,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Mint an API token (whoever can open the data directory or database
    /// is an admin); prints it once.
    AdminToken {
        #[command(flatten)]
        options: Options,
        /// read-only, operator or admin.
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Copy a service's database into an empty one (SQLite to PostgreSQL
    /// when one server is outgrown); stop the servers on the source first.
    Copy {
        /// The database to copy: `sqlite://DIR/assay.db` or `postgres://...`.
        #[arg(long, value_name = "URL")]
        from: String,
        /// An empty database (it is migrated first).
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Print the agents' CA certificate (for `assay agent --ca FILE`) and
    /// its SHA-256 fingerprint (for `assay agent --ca-fingerprint`).
    AgentCa {
        #[command(flatten)]
        options: Options,
    },
    /// Print the key webhook notifications are signed with, for receivers
    /// to check `X-Assay-Signature: sha256=HMAC` of each body.
    WebhookKey {
        #[command(flatten)]
        options: Options,
    },
}

#[derive(clap::Args)]
struct Options {
    /// Where the server keeps its SQLite database (created when missing).
    #[arg(long, value_name = "DIR", default_value = "./assay-data")]
    data: PathBuf,
    /// `postgres://USER@HOST/DB` to run on PostgreSQL instead (several
    /// servers may share one); default: SQLite under --data.
    #[arg(long, value_name = "URL", env = "ASSAY_DATABASE")]
    database: Option<String>,
    /// The admin API and the web console.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// The agent endpoint.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8444")]
    agent_listen: SocketAddr,
    /// At most this many agents in one run.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_agents_per_run: i64,
    /// At most this many targets.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    max_targets: i64,
    /// At most this many templates.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_templates: i64,
    /// An agent without a heartbeat for this long is UNKNOWN (`5m`, `1h`).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    unknown_after: String,
    /// Evaluation workers in this process.
    #[arg(long, value_name = "N", default_value_t = 2)]
    workers: usize,
    /// A name agents reach this server by (host name or IP address); the
    /// agent listener's certificate is valid for these. Repeatable;
    /// default: localhost and 127.0.0.1.
    #[arg(long = "agent-name", value_name = "NAME")]
    agent_names: Vec<String>,
    /// How long agents' client certificates are valid (`7d`); they renew
    /// at two thirds.
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    agent_cert_lifetime: String,
    /// Telemetry older than this is deleted (`30d`).
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    retention: String,
    /// How long the audit log keeps an entry (`365d`).
    #[arg(long, value_name = "DURATION", default_value = "365d")]
    audit_retention: String,
    /// An internal network webhooks may reach all the same (`10.0.0.0/8`,
    /// `127.0.0.1/32`; repeatable). Without it, a webhook whose host is or
    /// resolves to a loopback, private, link-local, multicast or
    /// unspecified address is refused.
    #[arg(long = "allow-webhook-to", value_name = "CIDR", value_parser = cidr)]
    allow_webhook_to: Vec<ipnet::IpNet>,
    /// A public key (`KEY.pub` from `assay key generate`) whose signatures
    /// published packages must carry (repeatable). With any, the server
    /// fails closed: unsigned packages, unknown keys, a signature that does
    /// not cover the packages, a changed byte and a rollback are refused.
    #[arg(long = "trusted-key", value_name = "FILE")]
    trusted_keys: Vec<PathBuf>,
    /// The master key file that wraps the database's keys (default:
    /// DATA/master.key, made at the first start; ASSAY_MASTER_KEY wins).
    /// Replicas on one PostgreSQL database need the same key.
    #[arg(long, value_name = "FILE")]
    master_key: Option<PathBuf>,
    /// How long an evaluation worker holds a job; a worker that died
    /// (a replica killed) is taken over after this (`2m`).
    #[arg(long, value_name = "DURATION", default_value = "2m")]
    job_lease: String,
    /// Where telemetry documents are kept, sealed: `s3://BUCKET[/PREFIX]`
    /// (configured by AWS_* variables; AWS_ENDPOINT for any S3-compatible
    /// store), `file:///DIR` or a directory; default: DATA/blobs. Replicas
    /// on one PostgreSQL database need the same store.
    #[arg(long, value_name = "URL", env = "ASSAY_BLOBS")]
    blobs: Option<String>,
    /// The chunk size agents upload telemetry with, in KiB (at most 4096).
    #[arg(long, value_name = "KIB", default_value_t = 1024)]
    chunk_kib: usize,
    /// Serve the admin API over TLS with this PEM certificate chain (with
    /// --tls-key); the agent listener always uses TLS, from the agents' CA.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// At most this many connections open at once from one address, over
    /// both listeners (raise it for agents behind one NAT address).
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_connections_per_ip: usize,
    /// The log's format on standard error: one line per event (refused
    /// requests and connections, revocations, job takeovers, failed
    /// webhooks), as `text` or `json`; ASSAY_LOG sets the level (`info`).
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Log lines written while the server starts (its workers run from the
/// start on), held until the address lines scripts read first are out:
/// `Some` until [`release_log`].
static HELD: std::sync::Mutex<Option<Vec<u8>>> = std::sync::Mutex::new(Some(Vec::new()));

/// Standard error, or the held lines while the server starts.
struct HeldStderr;

impl std::io::Write for HeldStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        match held.as_mut() {
            Some(lines) => {
                lines.extend_from_slice(buf);
                Ok(buf.len())
            }
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Writes the held log lines and lets later ones through.
fn release_log() {
    use std::io::Write;
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(lines) = held.take() {
        let _ = std::io::stderr().write_all(&lines);
    }
}

/// The log on standard error, from the start on (held until the address
/// lines are out); a bad ASSAY_LOG is an error, not a silent default.
fn log(format: LogFormat) -> Result<(), Failure> {
    let level = match std::env::var("ASSAY_LOG") {
        Ok(level) => level.parse::<tracing::level_filters::LevelFilter>().map_err(|_| {
            Failure::input(miette::miette!("ASSAY_LOG={level}: one of off, error, warn, info, debug, trace"))
        })?,
        Err(_) => tracing::level_filters::LevelFilter::INFO,
    };
    let builder = tracing_subscriber::fmt().with_writer(|| HeldStderr).with_max_level(level).with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}

impl Options {
    fn config(&self) -> Result<assay_server::Config, Failure> {
        let mut c = assay_server::Config::new(self.data.clone());
        c.database = self.database.clone();
        c.listen = self.listen;
        c.agent_listen = self.agent_listen;
        c.max_agents_per_run = self.max_agents_per_run.max(1);
        c.max_targets = self.max_targets.max(1);
        c.max_templates = self.max_templates.max(1);
        c.unknown_after_ms = super::fleet::parse_duration(&self.unknown_after)?.max(1) * 1000;
        c.workers = self.workers.clamp(1, 64);
        c.tls = self.tls_cert.clone().zip(self.tls_key.clone());
        if !self.agent_names.is_empty() {
            c.agent_names = self.agent_names.clone();
        }
        c.agent_cert_lifetime_ms = super::fleet::parse_duration(&self.agent_cert_lifetime)?.max(60) * 1000;
        c.retention_ms = super::fleet::parse_duration(&self.retention)?.max(60) * 1000;
        c.audit_retention_ms = super::fleet::parse_duration(&self.audit_retention)?.max(86_400) * 1000;
        c.allow_webhook_to.clone_from(&self.allow_webhook_to);
        c.rebuild = Some(assay_server::Rebuild(std::sync::Arc::new(rebuild)));
        for path in &self.trusted_keys {
            let key = super::verify::read_public(path)?;
            c.trusted_keys.push(key);
        }
        c.master_key = self.master_key.clone();
        c.job_lease_ms = super::fleet::parse_duration(&self.job_lease)?.max(1) * 1000;
        c.chunk_bytes = self.chunk_kib.clamp(1, 4096) << 10;
        c.blobs = self.blobs.clone();
        c.connections.per_ip = self.max_connections_per_ip.max(1);
        Ok(c)
    }
}

/// A line on standard error; a closed stderr (a supervisor that went away)
/// must not stop the server.
fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(miette::miette!("cannot start the async runtime: {e}")))
}

/// A network in CIDR notation; an address alone is that address.
fn cidr(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is not a network such as 10.0.0.0/8 or an address"))
}

pub fn run(args: &Args) -> Outcome {
    let rt = runtime()?;
    if let Some(Sub::AdminToken { options, role }) = &args.command {
        let role = assay_server::Role::parse(role).map_err(|_| {
            Failure::input(miette::miette!("--role {role}: one of read-only, operator, admin"))
        })?;
        let token = rt
            .block_on(assay_server::mint_token(&options.config()?, role, "assay server admin-token"))
            .map_err(|e| Failure::input(miette::miette!("{e}")))?;
        outln!("{token}");
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Sub::Copy { from, to }) = &args.command {
        let copied = rt
            .block_on(assay_server::copy_database(from, to))
            .map_err(|e| Failure::input(miette::miette!("{e}")))?;
        for (table, rows) in copied {
            outln!("{table:<16} {rows}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Sub::AgentCa { options }) = &args.command {
        let (pem, fingerprint) = rt
            .block_on(assay_server::agent_ca(&options.config()?))
            .map_err(|e| Failure::input(miette::miette!("{e}")))?;
        note(&format!("SHA-256 fingerprint: {fingerprint}"));
        out!("{pem}");
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Sub::WebhookKey { options }) = &args.command {
        let key = rt
            .block_on(assay_server::webhook_key(&options.config()?))
            .map_err(|e| Failure::input(miette::miette!("{e}")))?;
        outln!("{key}");
        return Ok(ExitCode::SUCCESS);
    }
    super::failpoints()?;
    let builtin = super::scan::builtin()?;
    let config = args.options.config()?;
    let log_format = args.options.log_format;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    log(log_format)?;
    rt.block_on(async move {
        let running = assay_server::start(config, builtin).await.map_err(|e| {
            // What was logged before the failure explains it.
            release_log();
            Failure::input(miette::miette!("{e}"))
        })?;
        note(&format!(
            "assay server: admin API on {scheme}://{}/v1, agents on https://{}/agent/v1",
            running.admin, running.agent
        ));
        note(&format!("assay server: agents' CA fingerprint (SHA-256) {}", running.ca_fingerprint));
        if let Some(token) = &running.first_admin_token {
            note("The first admin token (shown once; `assay server admin-token` mints another):");
            outln!("{token}");
        }
        // After the lines above, which scripts read first.
        release_log();
        if running.reclaimed_leases > 0 {
            tracing::info!(
                leases = running.reclaimed_leases,
                "ended the leases of this database's last server process, which is gone"
            );
        }
        // Ctrl-C, or SIGTERM from systemd or a container runtime.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Failure::internal(miette::miette!("cannot watch for SIGTERM: {e}")))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        note("assay server: stopping");
        running.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Compiles kept package sources into one bundle (for a published bundle
/// another build of assay wrote): each package's files are written to a
/// private temporary folder and compiled as `assay build` would.
fn rebuild(packages: &[(String, Vec<(String, String)>)]) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let mut roots = Vec::new();
    for (name, files) in packages {
        let root = dir.path().join(name);
        for (path, text) in files {
            let rel = std::path::Path::new(path);
            if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Err(format!("package {name} keeps a source at `{path}`, outside its folder"));
            }
            let target = root.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::write(&target, text).map_err(|e| e.to_string())?;
        }
        roots.push(root);
    }
    let loaded = assay_compiler::package::load(&roots).map_err(|e| e.to_string())?;
    assay_compiler::build(&loaded).map(|built| built.bytes).map_err(|diagnostics| {
        let errors: Vec<String> =
            diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
        format!("the kept sources do not compile with this assay: {}", errors.join("; "))
    })
}
