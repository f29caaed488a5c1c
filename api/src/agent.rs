//! The agent protocol (`/agent/v1`, mutual TLS): enrolment, certificate
//! renewal, heartbeats answered with an instruction from a closed set, and
//! chunked uploads. The agent deserializes every answer into these types:
//! an instruction it does not know is an error it reports, never an idle.

use crate::vocab::ReportedHealth;
use assay_model::lookup::CollectionPlan;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /agent/v1/enroll` (the only request without a client
/// certificate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Enroll {
    /// An enrolment token (`assay fleet enrollment create`).
    pub token: String,
    pub hostname: String,
    #[serde(default)]
    pub machine_id: String,
    /// An os-release ID.
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The agent's P-256 public key, an uncompressed point in hex.
    pub public_key: String,
    /// Proof that the agent holds the key's private half: its ECDSA
    /// P-256 SHA-256 signature (ASN.1 DER, hex) over
    /// [`key_proof`]`("enroll", public_key, token)`.
    pub proof: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Enrolled {
    pub agent_id: String,
    /// The client certificate (PEM) for the agent's key.
    pub certificate: String,
    pub not_after: i64,
    /// The CA's certificate (PEM).
    pub ca: String,
    /// Agents that reported the same machine-id (a cloned image).
    pub same_machine_id: Vec<String>,
}

/// `POST /agent/v1/certificate`: a certificate for a new key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Renew {
    /// The new key, an uncompressed P-256 point in hex.
    pub public_key: String,
    /// The signature with the new key over [`key_proof`]`("renew",
    /// public_key, agent_id)`, as for [`Enroll::proof`].
    pub proof: String,
}

/// What an agent signs with a key to prove it holds it (as a CSR would):
/// the purpose, the key, and what the proof is bound to (the enrolment
/// token, or the agent's id), so a proof made for one request is worth
/// nothing in another.
pub fn key_proof(purpose: &str, public_key: &str, bound_to: &str) -> Vec<u8> {
    format!("assay agent key proof v1\n{purpose}\n{public_key}\n{bound_to}").into_bytes()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Renewed {
    pub certificate: String,
    pub not_after: i64,
}

/// `POST /agent/v1/heartbeat?wait=SECONDS`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Heartbeat {
    /// As the agent sees itself; none: IDLE.
    #[serde(default)]
    pub health_code: Option<ReportedHealth>,
    /// Why, when UNHEALTHY.
    #[serde(default)]
    pub detail: String,
    /// The run the agent is collecting for.
    #[serde(default)]
    pub collecting: Option<String>,
    /// Uploads the agent's spool dropped since its last heartbeat.
    #[serde(default)]
    pub lost: Vec<Lost>,
    /// The host's IP addresses; none: unchanged.
    #[serde(default)]
    pub addresses: Option<Vec<String>>,
}

/// An upload the agent's spool dropped, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Lost {
    pub run: String,
    pub reason: String,
    pub at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HeartbeatAnswer {
    pub instruction: Instruction,
    pub agent_id: String,
}

/// What the server asks of an agent: the whole set. Nothing else is ever
/// executed on the server's behalf.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Instruction {
    /// Nothing to do: heartbeat again.
    Idle,
    /// Collect for `run` during `duration_seconds` what `plan` names (and
    /// the built-in sensors), then upload in chunks of at most `max_chunk`
    /// bytes.
    Collect { run: String, duration_seconds: u64, plan: CollectionPlan, max_chunk: u64 },
    /// Abandon the collection for `run`.
    Stop { run: String },
    /// Make a new key and get a certificate for it.
    RenewCertificate,
}

/// The answer to `PUT /agent/v1/runs/{run}/chunks/{seq}?total=N`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChunkAnswer {
    /// This request stored the chunk (false: it was there already).
    pub accepted: bool,
    /// The upload was complete before this request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// Every chunk is in and the document was validated and stored.
    pub complete: bool,
    /// The SHA-256 of the document, once complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_are_tagged_by_kind_and_unknown_kinds_are_refused() {
        let stop = serde_json::json!({ "kind": "stop", "run": "run-1" });
        assert_eq!(
            serde_json::from_value::<Instruction>(stop).ok(),
            Some(Instruction::Stop { run: "run-1".into() })
        );
        assert_eq!(
            serde_json::to_value(Instruction::RenewCertificate).ok(),
            Some(serde_json::json!({ "kind": "renew_certificate" }))
        );
        assert!(serde_json::from_value::<Instruction>(serde_json::json!({ "kind": "exec", "cmd": "sh" }))
            .is_err());
        assert!(serde_json::from_value::<Instruction>(serde_json::json!({ "kind": "collect", "run": "r" }))
            .is_err());
    }
}
