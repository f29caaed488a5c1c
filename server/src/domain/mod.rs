//! What the service does, with no HTTP in it: each module takes typed
//! requests (`assay_api` types), applies the rules of its resource, and
//! returns typed views or an [`Error`]. The admin API, the agent endpoint
//! and the background loop call these; the store below holds the SQL.

pub(crate) mod agents;
pub(crate) mod auth;
pub(crate) mod eval;
pub(crate) mod feeds;
pub(crate) mod findings;
pub(crate) mod heartbeats;
pub(crate) mod identity;
pub(crate) mod inventory;
pub(crate) mod notify;
pub(crate) mod overview;
pub(crate) mod packages;
pub(crate) mod preview;
pub(crate) mod reports;
pub(crate) mod runs;
pub(crate) mod schedules;
pub(crate) mod setup;
pub(crate) mod targets;
pub(crate) mod templates;
pub(crate) mod uploads;

use crate::store::{self, Failure, Store};
use crate::{blobs, config::Config, cpu, keys, requests};
use assay_api::{ErrorCode, ErrorDetails, HeldAgent};
use assay_model::bundle::Bundle;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What every request and background task shares: one per process.
pub(crate) struct App {
    pub store: Store,
    /// The rules packages this server evaluates.
    pub bundle: &'static Bundle,
    pub config: Config,
    /// The latest feed, parsed once per version (a cache: the feed itself
    /// is in the database).
    pub feed: Mutex<Option<(i64, Arc<eval::FeedIndex>)>>,
    /// The latest VEX statements, parsed once per set (by digest).
    pub vex: Mutex<Option<(String, Arc<Vec<assay_runtime::vex::Statement>>)>>,
    /// This process's request counts and latencies.
    pub requests: requests::Requests,
    pub master: keys::Key,
    pub ca: keys::Ca,
    pub blobs: blobs::Blobs,
    /// Wakes long-polling heartbeats when a run starts in this process.
    pub wake: tokio::sync::Notify,
    /// Heartbeats not yet written ([`heartbeats::flush`]).
    pub seen: Mutex<HashMap<String, heartbeats::Seen>>,
    /// Heartbeats per agent in the current window (this process's own).
    pub heartbeat_windows: Mutex<HashMap<String, (i64, u32)>>,
    /// Repeated failures being aggregated for the audit log, by source and
    /// action ([`auth::audit_failure`]); also what limits logins.
    pub failures: Mutex<HashMap<(String, &'static str), auth::Failures>>,
    /// Decompression, validation and evaluation, below the priority of
    /// requests ([`cpu`]).
    pub cpu: cpu::Pool,
    /// Published bundles loaded for evaluation, by digest (immutable, so
    /// never stale).
    pub bundles: Mutex<HashMap<String, Arc<Bundle>>>,
    /// What each run's agents collect, by run (a run's package versions
    /// are pinned when it starts, so never stale); read on every
    /// heartbeat of a collecting agent.
    pub plans: Mutex<HashMap<String, Arc<assay_model::lookup::CollectionPlan>>>,
}

impl App {
    /// What agents pin at enrolment.
    pub(crate) fn ca_fingerprint(&self) -> String {
        keys::fingerprint(&self.ca.cert_der)
    }

    /// Heartbeats before this are too old: their agent is UNKNOWN.
    pub(crate) fn stale_before(&self) -> i64 {
        crate::ids::now() - self.config.unknown_after_ms
    }
}

/// Why a request or a task did not do what was asked: data, rendered for
/// HTTP in one place (`api::error`).
#[derive(Debug)]
pub(crate) enum Error {
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    Invalid(String),
    Conflict(String),
    /// Agents of the target are in runs that have not finished.
    AgentsInRun(Vec<HeldAgent>),
    TooLarge(String),
    Throttled(String),
    /// The database or the blob store cannot serve now: retry.
    Unavailable(String),
    Internal(String),
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Invalid(_) => ErrorCode::Invalid,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::AgentsInRun(_) => ErrorCode::AgentsInRun,
            Error::TooLarge(_) => ErrorCode::TooLarge,
            Error::Throttled(_) => ErrorCode::Throttled,
            Error::Unavailable(_) => ErrorCode::Unavailable,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            Error::AgentsInRun(_) => "agents of this target are in a run that has not finished".to_owned(),
            Error::Unauthorized(m)
            | Error::Forbidden(m)
            | Error::NotFound(m)
            | Error::Invalid(m)
            | Error::Conflict(m)
            | Error::TooLarge(m)
            | Error::Throttled(m)
            | Error::Unavailable(m)
            | Error::Internal(m) => m.clone(),
        }
    }

    pub(crate) fn details(&self) -> Option<ErrorDetails> {
        match self {
            Error::AgentsInRun(held) => Some(ErrorDetails { agents: held.clone() }),
            _ => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code().as_str(), self.message())
    }
}

/// A database error: unavailable (retry) when the database cannot be
/// reached or stays locked, a conflict for a unique key, invalid for a
/// value it refused, otherwise internal.
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        match store::classify(&e) {
            Failure::Unavailable => Error::Unavailable(format!("the database is unavailable: {e}")),
            Failure::Conflict => Error::Conflict(format!("it exists already: {e}")),
            Failure::BadValue => Error::Invalid(format!("the database refused a value: {e}")),
            Failure::Other => Error::Internal(format!("database error: {e}")),
        }
    }
}

/// Paging: at most `limit` (1 to 1,000; 100 when not given) items after
/// the cursor `after`.
#[derive(Clone, Debug, Default)]
pub(crate) struct PageRequest {
    pub limit: Option<i64>,
    pub after: Option<String>,
}

impl PageRequest {
    pub(crate) fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }

    pub(crate) fn after(&self) -> &str {
        self.after.as_deref().unwrap_or_default()
    }

    /// The cursor of the page after `items`: the last one's, when the page
    /// is full.
    pub(crate) fn next<T>(&self, items: &[T], cursor: impl Fn(&T) -> String) -> Option<String> {
        (items.len() as i64 == self.limit()).then(|| items.last().map(cursor)).flatten()
    }
}

/// Checks a name of a target or template.
pub(crate) fn valid_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("{what} `{name}` must be 1 to 128 letters, digits, `-`, `_` or `.`")))
    }
}
