//! The service's wire: every request and response of the admin API
//! (`/v1`, [`admin`]) and of the agent protocol (`/agent/v1`, [`agent`]),
//! the run reports ([`report`]), the webhook notices ([`webhook`]), and the
//! words the service uses for states and statuses ([`vocab`]). `assay server` serializes these types, its
//! console and `assay fleet` deserialize them, and `assay agent` speaks
//! the agent protocol with them; the server's OpenAPI document is generated
//! from them (`JsonSchema`), so the document cannot drift from the code.
//!
//! Nothing here does IO. Times are Unix milliseconds (`i64`), as the
//! database keeps them.

pub mod admin;
pub mod agent;
pub mod report;
pub mod vocab;
pub mod webhook;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use assay_model::findings::{AssetRef, Evidence, Finding, KeyValue, Waived};
pub use assay_model::Severity;
pub use vocab::{
    DeliveryState, Event, FindingEventKind, FindingState, Health, HealthCode, JobState, OutcomeKind,
    ReportedHealth, Role, RunAgentStatus, RunState, UnknownWord,
};

/// One page of a list, and the cursor of the next (`None` on the last
/// page): pass it back as `after`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Page_{T}")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Every error of both APIs: `{"error": {"code", "message", "details"}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ErrorDetails>,
}

/// Stable error codes, for programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No valid token, session or client certificate.
    Unauthorized,
    /// The caller's role does not allow it.
    Forbidden,
    NotFound,
    /// The request is malformed or a value is out of range.
    Invalid,
    /// It contradicts the state (exists already, finished, in use).
    Conflict,
    /// Agents of the target are in a run that has not finished (details
    /// name them).
    AgentsInRun,
    TooLarge,
    /// An agent heartbeats too often.
    Throttled,
    /// The database or the blob store cannot serve now: retry.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Invalid => "invalid",
            ErrorCode::Conflict => "conflict",
            ErrorCode::AgentsInRun => "agents_in_run",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Throttled => "throttled",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// What an error names besides its message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetails {
    /// With `agents_in_run`: which agents, held by which runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<HeldAgent>,
}

/// An agent that a run in progress holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HeldAgent {
    pub agent: String,
    pub run: String,
}

/// A host, as every report, run and finding names it: the agent (the
/// identity the server gave it at enrolment), its hostname and the IP
/// addresses it last reported. Two hosts may share a hostname; never an
/// agent id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct HostRef {
    pub agent: String,
    pub hostname: String,
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// Findings counted by severity, most serious first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeverityCounts {
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub informational: u64,
}

impl SeverityCounts {
    pub fn add(&mut self, severity: Severity, n: u64) {
        *self.get_mut(severity) += n;
    }

    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Informational => self.informational,
        }
    }

    fn get_mut(&mut self, severity: Severity) -> &mut u64 {
        match severity {
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Informational => &mut self.informational,
        }
    }

    /// Each severity with its count, most serious first.
    pub fn iter(&self) -> impl Iterator<Item = (Severity, u64)> + '_ {
        Severity::ALL.into_iter().map(|s| (s, self.get(s)))
    }

    pub fn total(&self) -> u64 {
        self.high + self.medium + self.low + self.informational
    }
}
