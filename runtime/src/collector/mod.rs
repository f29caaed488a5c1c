//! The collector: one telemetry document from a live Linux host or a root
//! file system mounted anywhere (`--root`). Each sensor is a module; each
//! fails on its own into a recorded [`CollectionError`] and never stops the
//! others (a panic inside one is caught and recorded too). Sensors that need
//! a live kernel (`/proc`, sockets) say so for a root file system rather
//! than reading the collecting machine's.
//!
//! Secrets are never read into the document: `/etc/shadow` gives password
//! aging and state only, key files are only stat'ed, environment variables
//! are not collected, and of a command line only the program and its option
//! names are kept unless whole lines are asked for, redacted ([`cmdline`]).

mod accounts;
mod certificates;
pub mod cmdline;
mod config;
pub mod contents;
mod elf;
mod fs;
mod packages;
mod runtime;
mod sshd;
mod system;

use assay_model::lookup::{CollectionPlan, LookupKind};
use assay_model::telemetry::LookedUp;
use assay_model::telemetry::{
    Asset, Collection, CollectionError, CommandLines, SkippedSection, Tag, Telemetry, SCHEMA_VERSION,
};
use fs::RootFs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Config {
    /// `/` for the live host.
    pub root: PathBuf,
    /// Runtime sampling: how long, and how often.
    pub duration: Duration,
    pub interval: Duration,
    pub tags: Vec<Tag>,
    pub command_lines: CommandLines,
    /// Items the bundles' rules look up by name, gathered besides the
    /// collector's own list.
    pub plan: CollectionPlan,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            root: PathBuf::from("/"),
            duration: Duration::ZERO,
            interval: Duration::from_secs(10),
            tags: vec![],
            command_lines: CommandLines::Flags,
            plan: CollectionPlan::default(),
        }
    }
}

/// What a collection looks up by name: the built-in lists and `plan`.
pub fn looked_up(plan: &CollectionPlan) -> LookedUp {
    let mut all = CollectionPlan {
        sysctls: LookupKind::Sysctl.defaults().iter().map(|s| (*s).to_owned()).collect(),
        files: LookupKind::File.defaults().iter().map(|s| (*s).to_owned()).collect(),
        modules: LookupKind::Module.defaults().iter().map(|s| (*s).to_owned()).collect(),
        contents: Vec::new(),
        certificates: Vec::new(),
        licenses: false,
    };
    all.merge(plan);
    // Contents are covered once read ([`contents::collect`]).
    LookedUp {
        sysctls: all.sysctls,
        files: all.files,
        modules: all.modules,
        contents: None,
        certificates: None,
    }
}

/// The most errors kept per sensor; the rest are counted (a malformed file
/// can produce one error per line, and the document must stay small).
pub const MAX_ERRORS_PER_SENSOR: usize = 100;

/// State shared by the sensors of one collection.
pub struct Ctx {
    pub(crate) fs: RootFs,
    pub(crate) command_lines: CommandLines,
    /// The names the sensors look up (see [`looked_up`]).
    pub(crate) looked_up: LookedUp,
    /// Whether dpkg packages' copyright files are read for their licences.
    pub(crate) licenses: bool,
    /// Sections collected only in part, and why.
    pub(crate) partial: Vec<SkippedSection>,
    pub(crate) errors: Vec<CollectionError>,
    /// Errors per sensor, kept or not.
    counts: std::collections::BTreeMap<String, usize>,
    /// Errors already recorded: the same one again is not kept twice.
    seen: std::collections::HashSet<(String, Option<String>, String)>,
    /// How long each sensor took, in the order they ran ([`collect_timed`]).
    timings: Vec<(String, Duration)>,
}

impl Ctx {
    fn new(fs: RootFs, command_lines: CommandLines, looked_up: LookedUp) -> Ctx {
        Ctx {
            fs,
            command_lines,
            looked_up,
            licenses: false,
            partial: Vec::new(),
            errors: Vec::new(),
            counts: Default::default(),
            seen: Default::default(),
            timings: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, sensor: &str, path: Option<&str>, message: impl std::fmt::Display) {
        let message = message.to_string();
        let key = (sensor.to_owned(), path.map(str::to_owned), message);
        if self.seen.contains(&key) {
            return;
        }
        let count = self.counts.entry(sensor.to_owned()).or_insert(0);
        *count += 1;
        if *count > MAX_ERRORS_PER_SENSOR {
            return;
        }
        self.errors.push(CollectionError {
            sensor: key.0.clone(),
            path: key.1.clone(),
            message: key.2.clone(),
        });
        self.seen.insert(key);
    }

    /// The errors, with one more per sensor that says how many were dropped.
    fn finish_errors(&mut self) -> Vec<CollectionError> {
        let mut errors = std::mem::take(&mut self.errors);
        for (sensor, count) in &self.counts {
            if *count > MAX_ERRORS_PER_SENSOR {
                errors.push(CollectionError {
                    sensor: sensor.clone(),
                    path: None,
                    message: format!(
                        "{} more errors of this sensor were dropped (at most {MAX_ERRORS_PER_SENSOR} are kept)",
                        count - MAX_ERRORS_PER_SENSOR
                    ),
                });
            }
        }
        errors
    }

    pub(crate) fn live(&self) -> bool {
        self.fs.is_live()
    }

    /// Records that a live-kernel sensor does not apply to a root file system.
    pub(crate) fn not_live(&mut self, sensor: &str) {
        self.error(sensor, None, "not available for a root file system (needs the running kernel)");
    }
}

/// Runs one sensor, turning a panic into a recorded error, and records
/// how long it took.
fn sensor<T>(ctx: &mut Ctx, name: &str, f: impl FnOnce(&mut Ctx) -> Option<T>) -> Option<T> {
    let started = Instant::now();
    let result = match catch_unwind(AssertUnwindSafe(|| f(ctx))) {
        Ok(v) => v,
        Err(_) => {
            ctx.error(name, None, "the sensor failed unexpectedly (a bug in assay); other sensors ran");
            None
        }
    };
    ctx.timings.push((name.to_owned(), started.elapsed()));
    result
}

/// Collects one telemetry document. `progress` is told the fraction done
/// during runtime sampling.
pub fn collect(config: &Config, progress: &mut dyn FnMut(f64)) -> Telemetry {
    collect_timed(config, progress).0
}

/// [`collect`], with how long each sensor took (`files` holds the walk of
/// the local file systems), in the order they ran; the identity is read
/// first, as `identity`. Timings stay out of the document, which must not change
/// between two collections of an unchanged host.
pub fn collect_timed(config: &Config, progress: &mut dyn FnMut(f64)) -> (Telemetry, Vec<(String, Duration)>) {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let mut ctx = Ctx::new(RootFs::new(&config.root), config.command_lines, looked_up(&config.plan));
    ctx.licenses = config.plan.licenses;
    let identity = Instant::now();
    let (os, hostname, machine_id, kernel_release) = system::identity(&mut ctx);
    ctx.timings.push(("identity".to_owned(), identity.elapsed()));
    let architecture = if ctx.live() { Some(std::env::consts::ARCH.to_owned()) } else { None };
    let asset = Asset {
        id: machine_id.unwrap_or_else(|| hostname.clone()),
        hostname,
        tags: config.tags.clone(),
        os,
        kernel_release,
        architecture,
    };
    let mut doc = Telemetry::empty(asset);
    doc.packages = sensor(&mut ctx, "packages", packages::collect);
    doc.sshd = sensor(&mut ctx, "sshd", sshd::collect);
    doc.login_defs = sensor(&mut ctx, "login.defs", system::login_defs);
    doc.sudo = sensor(&mut ctx, "sudo", system::sudo);
    doc.password_policy = sensor(&mut ctx, "pam", system::password_policy);
    doc.pam = sensor(&mut ctx, "pam-stacks", system::pam_stacks);
    doc.kernel = sensor(&mut ctx, "kernel", system::kernel);
    doc.cpu = sensor(&mut ctx, "cpu", system::cpu);
    if let Some(found) = sensor(&mut ctx, "files", accounts::files) {
        doc.files = Some(found.files);
        doc.world_writable = Some(found.world_writable);
        doc.unowned = Some(found.unowned);
    }
    doc.mounts = sensor(&mut ctx, "mounts", system::mounts);
    doc.users = sensor(&mut ctx, "users", accounts::users);
    doc.groups = sensor(&mut ctx, "groups", accounts::groups);
    doc.services = sensor(&mut ctx, "services", system::services);
    doc.config = sensor(&mut ctx, "config", config::settings);
    doc.apt_sources = sensor(&mut ctx, "apt-sources", config::apt_sources);
    if !config.plan.contents.is_empty() {
        doc.contents =
            sensor(&mut ctx, "contents", |ctx| Some(contents::collect(ctx, &config.plan.contents)));
    }
    if !config.plan.certificates.is_empty() {
        let now = now_secs();
        doc.certificates = sensor(&mut ctx, "certificates", |ctx| {
            Some(certificates::collect(ctx, &config.plan.certificates, now))
        });
    }
    let sampled =
        sensor(&mut ctx, "runtime", |ctx| runtime::sample(ctx, config.duration, config.interval, progress));
    let samples = sampled.as_ref().map(|s| s.samples).unwrap_or(0);
    if let Some(s) = sampled {
        doc.processes = Some(s.processes);
        doc.listeners = Some(s.listeners);
        doc.connections = Some(s.connections);
    }
    doc.collection = Some(Collection {
        started: started_at,
        duration_seconds: started.elapsed().as_secs(),
        interval_seconds: config.interval.as_secs(),
        samples,
        root: config.root.display().to_string(),
        collector_version: concat!("assay ", env!("CARGO_PKG_VERSION")).to_owned(),
        command_lines: config.command_lines,
        skipped_sections: Vec::new(),
        looked_up: Some(ctx.looked_up.clone()),
    });
    let skipped_sections = skipped(&doc, &ctx);
    if let Some(c) = doc.collection.as_mut() {
        c.skipped_sections = skipped_sections;
    }
    doc.errors = ctx.finish_errors();
    doc.schema_version = SCHEMA_VERSION;
    (doc, ctx.timings)
}

/// The host's identity and installed packages with their licences, and
/// nothing else (`assay sbom`): no file walk, no sampling, no configuration
/// read.
pub fn inventory(root: &Path) -> Telemetry {
    let started_at = now_rfc3339();
    let mut ctx = Ctx::new(RootFs::new(root), CommandLines::Flags, looked_up(&CollectionPlan::default()));
    ctx.licenses = true;
    let (os, hostname, machine_id, kernel_release) = system::identity(&mut ctx);
    let architecture = if ctx.live() { Some(std::env::consts::ARCH.to_owned()) } else { None };
    let asset = Asset {
        id: machine_id.unwrap_or_else(|| hostname.clone()),
        hostname,
        tags: Vec::new(),
        os,
        kernel_release,
        architecture,
    };
    let mut doc = Telemetry::empty(asset);
    doc.packages = sensor(&mut ctx, "packages", packages::collect);
    doc.collection = Some(Collection {
        started: started_at,
        root: root.display().to_string(),
        collector_version: concat!("assay ", env!("CARGO_PKG_VERSION")).to_owned(),
        ..Collection::default()
    });
    doc.errors = ctx.finish_errors();
    doc
}

/// The sections a sensor should have filled but could not: it failed (the
/// section is absent and the sensor recorded errors), or it needs the live
/// kernel and this is a root file system. A section that is absent without
/// an error (no sshd installed) is the host's state, not a gap.
fn skipped(doc: &Telemetry, ctx: &Ctx) -> Vec<SkippedSection> {
    let first_error =
        |sensor: &str| ctx.errors.iter().find(|e| e.sensor == sensor).map(|e| e.message.clone());
    let sections: [(&str, &[&str], bool); 16] = [
        ("packages", &["packages"], doc.packages.is_some()),
        ("sshd", &["sshd"], doc.sshd.is_some()),
        ("login.defs", &["login_defs"], doc.login_defs.is_some()),
        ("pam", &["password_policy"], doc.password_policy.is_some()),
        ("pam-stacks", &["pam"], doc.pam.is_some()),
        ("sudo", &["sudo"], doc.sudo.is_some()),
        ("kernel", &["kernel"], doc.kernel.is_some()),
        ("cpu", &["cpu"], doc.cpu.is_some()),
        ("files", &["files", "world_writable", "unowned"], doc.files.is_some()),
        ("mounts", &["mounts"], doc.mounts.is_some()),
        ("users", &["users"], doc.users.is_some()),
        ("groups", &["groups"], doc.groups.is_some()),
        ("services", &["services"], doc.services.is_some()),
        ("config", &["config"], doc.config.is_some()),
        ("apt-sources", &["apt_sources"], doc.apt_sources.is_some()),
        ("processes", &["processes", "listeners", "connections"], doc.processes.is_some()),
    ];
    // Sections a sensor filled only in part (a walk that hit its budget).
    let mut out = ctx.partial.clone();
    for (sensor, fields, present) in sections {
        if present {
            continue;
        }
        if let Some(message) = first_error(sensor) {
            for field in fields {
                out.push(SkippedSection {
                    section: (*field).to_owned(),
                    reason: format!("the {sensor} sensor could not collect it: {message}"),
                });
            }
        }
    }
    out
}

/// The sensors [`collect_one`] can run alone.
pub const SENSORS: &[&str] = &[
    "os",
    "packages",
    "sshd",
    "login.defs",
    "pam",
    "pam-stacks",
    "sudo",
    "kernel",
    "mounts",
    "users",
    "groups",
    "config",
    "apt-sources",
];

/// Runs one sensor over a root file system and returns a document with only
/// its section and errors: the entry point of the parser fuzz targets (a
/// whole collection per input would be too slow to fuzz). `None` for a
/// name not in [`SENSORS`].
pub fn collect_one(root: &Path, name: &str) -> Option<Telemetry> {
    let mut ctx = Ctx::new(RootFs::new(root), CommandLines::Flags, looked_up(&CollectionPlan::default()));
    let mut doc = Telemetry::empty(Asset::default());
    match name {
        "os" => doc.asset.os = system::identity(&mut ctx).0,
        "packages" => doc.packages = sensor(&mut ctx, name, packages::collect),
        "sshd" => doc.sshd = sensor(&mut ctx, name, sshd::collect),
        "login.defs" => doc.login_defs = sensor(&mut ctx, name, system::login_defs),
        "pam" => doc.password_policy = sensor(&mut ctx, name, system::password_policy),
        "pam-stacks" => doc.pam = sensor(&mut ctx, name, system::pam_stacks),
        "sudo" => doc.sudo = sensor(&mut ctx, name, system::sudo),
        "kernel" => doc.kernel = sensor(&mut ctx, name, system::kernel),
        "mounts" => doc.mounts = sensor(&mut ctx, name, system::mounts),
        "users" => doc.users = sensor(&mut ctx, name, accounts::users),
        "groups" => doc.groups = sensor(&mut ctx, name, accounts::groups),
        "config" => doc.config = sensor(&mut ctx, name, config::settings),
        "apt-sources" => doc.apt_sources = sensor(&mut ctx, name, config::apt_sources),
        _ => return None,
    }
    doc.errors = ctx.finish_errors();
    Some(doc)
}

/// What an agent enrols with: the hostname, the machine-id and the
/// distribution (`debian`), read as a collection reads them.
pub fn identity(root: &Path) -> (String, Option<String>, String) {
    let mut ctx = Ctx::new(RootFs::new(root), CommandLines::Flags, looked_up(&CollectionPlan::default()));
    let (os, hostname, machine_id, _) = system::identity(&mut ctx);
    (hostname, machine_id, os.map(|o| o.distribution).unwrap_or_default())
}

/// Collects from a root file system with no sampling (for tests).
pub fn collect_root(root: &Path) -> Telemetry {
    collect(&Config { root: root.to_path_buf(), ..Config::default() }, &mut |_| {})
}

/// The current time in RFC 3339 (UTC), from the system clock.
pub fn now_rfc3339() -> String {
    rfc3339(now_secs())
}

/// Seconds since the epoch, from the system clock.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Seconds since the epoch in RFC 3339 (UTC).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests;
