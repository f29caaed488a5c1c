//! The service's words for states and statuses: each a closed enum with
//! the one spelling the API, the database and the documents use. A word
//! the service does not know is an error ([`UnknownWord`]) wherever it is
//! read, never a default.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A stored or sent word that is not one of its vocabulary's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownWord {
    pub vocabulary: &'static str,
    pub word: String,
    pub known: &'static [&'static str],
}

impl fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a {}: one of {}", self.word, self.vocabulary, self.known.join(", "))
    }
}

impl std::error::Error for UnknownWord {}

/// An enum of words: serde, JSON schema, `as_str`, `FromStr` and
/// `TryFrom<String>` (for database columns) from one list. Variants are
/// ordered as declared.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident ($what:literal) { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every word, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const WORDS: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(text: &str) -> Result<$name, UnknownWord> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownWord { vocabulary: $what, word: text.to_owned(), known: $name::WORDS }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownWord;
            fn from_str(text: &str) -> Result<$name, UnknownWord> {
                $name::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownWord;
            fn try_from(text: String) -> Result<$name, UnknownWord> {
                $name::parse(&text)
            }
        }
    };
}

vocabulary! {
    /// What an API token (and a console session logged in with it) may
    /// do; each role includes the ones before it.
    Role("role") {
        /// Lists and reads.
        ReadOnly = "read-only",
        /// Also enrolment tokens, targets, templates, runs, attributes.
        Operator = "operator",
        /// Also API tokens, agents' tags, the vulnerability feed and the
        /// waivers (they change every host's findings), and the audit log.
        Admin = "admin",
    }
}

vocabulary! {
    /// Inspector's assessment run states, in the order a run goes through
    /// them; the last five are final.
    RunState("run state") {
        Created = "CREATED",
        StartPending = "START_DATA_COLLECTION_PENDING",
        StartInProgress = "START_DATA_COLLECTION_IN_PROGRESS",
        Collecting = "COLLECTING_DATA",
        StopPending = "STOP_DATA_COLLECTION_PENDING",
        DataCollected = "DATA_COLLECTED",
        EvalPending = "START_EVALUATING_RULES_PENDING",
        Evaluating = "EVALUATING_RULES",
        Completed = "COMPLETED",
        CompletedWithErrors = "COMPLETED_WITH_ERRORS",
        /// No agent delivered telemetry.
        Failed = "FAILED",
        /// The service could not do its part: no delivered telemetry could
        /// be evaluated, or the run cannot be resumed.
        Error = "ERROR",
        Canceled = "CANCELED",
    }
}

impl RunState {
    /// The states in which agents collect.
    pub const COLLECTING: [RunState; 3] =
        [RunState::StartPending, RunState::StartInProgress, RunState::Collecting];
    /// The states after which nothing changes.
    pub const FINAL: [RunState; 5] = [
        RunState::Completed,
        RunState::CompletedWithErrors,
        RunState::Failed,
        RunState::Error,
        RunState::Canceled,
    ];

    pub fn is_final(self) -> bool {
        RunState::FINAL.contains(&self)
    }

    pub fn is_collecting(self) -> bool {
        RunState::COLLECTING.contains(&self)
    }
}

vocabulary! {
    /// How far an agent of a run got.
    RunAgentStatus("run agent status") {
        /// Told to collect at its next heartbeat.
        Pending = "pending",
        Collecting = "collecting",
        Delivered = "delivered",
        /// The collection ended without its telemetry.
        Missing = "missing",
        /// Revoked while the run waited for it.
        Revoked = "revoked",
    }
}

impl RunAgentStatus {
    /// The run still waits for this agent's telemetry.
    pub fn waiting(self) -> bool {
        matches!(self, RunAgentStatus::Pending | RunAgentStatus::Collecting)
    }
}

vocabulary! {
    /// An evaluation job (a run's agent, or an agent's re-evaluation).
    JobState("job state") {
        Pending = "pending",
        /// A worker holds it until its lease ends.
        Leased = "leased",
        Done = "done",
        Failed = "failed",
    }
}

vocabulary! {
    /// An agent's health as Inspector reported it.
    Health("health") {
        Healthy = "HEALTHY",
        Unhealthy = "UNHEALTHY",
        /// No heartbeat recently, or the agent shut down.
        Unknown = "UNKNOWN",
    }
}

vocabulary! {
    /// The reason behind an agent's health.
    HealthCode("health code") {
        Idle = "IDLE",
        Running = "RUNNING",
        Shutdown = "SHUTDOWN",
        Unhealthy = "UNHEALTHY",
        /// It heartbeats more often than the server allows.
        Throttled = "THROTTLED",
        /// No heartbeat recently.
        Unknown = "UNKNOWN",
    }
}

vocabulary! {
    /// What an agent may say of itself in a heartbeat.
    ReportedHealth("reported health") {
        Idle = "IDLE",
        Running = "RUNNING",
        Shutdown = "SHUTDOWN",
        Unhealthy = "UNHEALTHY",
    }
}

impl From<ReportedHealth> for HealthCode {
    fn from(h: ReportedHealth) -> HealthCode {
        match h {
            ReportedHealth::Idle => HealthCode::Idle,
            ReportedHealth::Running => HealthCode::Running,
            ReportedHealth::Shutdown => HealthCode::Shutdown,
            ReportedHealth::Unhealthy => HealthCode::Unhealthy,
        }
    }
}

vocabulary! {
    /// A fleet finding's lifecycle.
    FindingState("finding state") {
        Open = "open",
        /// Its rule passed (or no longer applied) at a later evaluation.
        Resolved = "resolved",
        /// A waiver accepts it.
        Waived = "waived",
    }
}

vocabulary! {
    /// A change in a fleet finding's lifecycle.
    FindingEventKind("finding event") {
        Opened = "opened",
        Resolved = "resolved",
        Reopened = "reopened",
        Waived = "waived",
        Unwaived = "unwaived",
    }
}

vocabulary! {
    /// A webhook notification's delivery.
    DeliveryState("delivery state") {
        Pending = "pending",
        /// A sender holds it.
        Leased = "leased",
        Sent = "sent",
        /// It gave up after its last attempt.
        Failed = "failed",
    }
}

vocabulary! {
    /// The events a template's webhooks can ask for (Inspector's).
    Event("notification event") {
        RunStarted = "ASSESSMENT_RUN_STARTED",
        RunStateChanged = "ASSESSMENT_RUN_STATE_CHANGED",
        RunCompleted = "ASSESSMENT_RUN_COMPLETED",
        /// One per host evaluated, with its counts.
        FindingReported = "FINDING_REPORTED",
    }
}

vocabulary! {
    /// A rule's outcome on a host, as reports group them.
    OutcomeKind("outcome") {
        Passed = "passed",
        Failed = "failed",
        NotApplicable = "not_applicable",
        Skipped = "skipped",
        Error = "error",
    }
}

impl From<&assay_model::findings::Outcome> for OutcomeKind {
    fn from(o: &assay_model::findings::Outcome) -> OutcomeKind {
        use assay_model::findings::Outcome;
        match o {
            Outcome::Passed => OutcomeKind::Passed,
            Outcome::Failed { .. } => OutcomeKind::Failed,
            Outcome::NotApplicable { .. } => OutcomeKind::NotApplicable,
            Outcome::Skipped { .. } => OutcomeKind::Skipped,
            Outcome::Error { .. } => OutcomeKind::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_text_and_json() {
        for s in RunState::ALL {
            assert_eq!(RunState::parse(s.as_str()), Ok(*s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.as_str())));
        }
        for r in Role::ALL {
            assert_eq!(Role::try_from(r.as_str().to_owned()), Ok(*r));
        }
        assert!(Role::ReadOnly < Role::Operator && Role::Operator < Role::Admin);
    }

    #[test]
    fn an_unknown_word_is_an_error_naming_the_known_ones() {
        let e = RunState::parse("RUNNING").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with("`RUNNING` is not a run state: one of CREATED,"), "{e}");
        assert!(serde_json::from_str::<JobState>("\"busy\"").is_err());
    }
}
