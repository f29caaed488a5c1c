//! What a template's webhooks receive: one JSON document per event,
//! signed (`X-Assay-Signature: sha256=HEX`, the HMAC-SHA256 of the body
//! under the key `assay server webhook-key` prints).

use crate::vocab::{Event, RunState};
use assay_model::findings::Summary;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Notice {
    pub event: Event,
    pub run: String,
    pub template: String,
    /// When the event happened (Unix ms); a notice sent twice (a sender
    /// that died mid-send) has the same.
    pub at: i64,
    pub detail: NoticeDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum NoticeDetail {
    /// A run's state changed (and started, or finished).
    State { from: RunState, state: RunState },
    /// A host's evaluation: its counts.
    Host { agent: String, hostname: String, summary: Summary },
}
