//! The agent's identity in `--state-dir`: the id the server gave it, its
//! private key (made here, never sent; mode 0600), its client certificate
//! and the server's CA it pinned at enrolment.

use crate::client::{self, Client};
use assay_api::agent::{Enroll, Enrolled, Renew, Renewed};
use assay_model::hex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug)]
pub struct Identity {
    pub agent_id: String,
    pub server: String,
    pub ca_pem: String,
    pub cert_pem: String,
    key_pem: String,
    /// When the certificate expires (ms since the epoch).
    pub not_after: i64,
    /// The tags the agent asked for at enrolment (`None`: enrolled by an
    /// agent from before they were kept).
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    agent_id: String,
    server: String,
    not_after: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<BTreeMap<String, String>>,
}

/// A new P-256 key.
fn new_key() -> Result<rcgen::KeyPair, String> {
    rcgen::KeyPair::generate().map_err(|e| format!("cannot make a key pair: {e}"))
}

/// The key's public point in hex, and the proof that this agent holds it
/// (`assay_api::agent::key_proof`) for `purpose`, bound to `bound_to`.
fn proven(key: &rcgen::KeyPair, purpose: &str, bound_to: &str) -> Result<(String, String), String> {
    use rcgen::SigningKey;
    let public = hex::encode(key.public_key_raw());
    let signature = key
        .sign(&assay_api::agent::key_proof(purpose, &public, bound_to))
        .map_err(|e| format!("cannot sign with the new key: {e}"))?;
    Ok((public, hex::encode(&signature)))
}

/// The key a renewal asks a certificate for, kept in `dir` until the
/// certificate is saved: a renewal whose answer was lost is asked again
/// for the same key (the server renews a certificate once, to one key).
const RENEWING: &str = "renewing.pem";

fn read(dir: &Path, name: &str) -> Result<String, String> {
    std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
}

/// Writes `dir/name`, readable by the owner only, whole or not at all.
pub(crate) fn write(dir: &Path, name: &str, text: &[u8]) -> Result<(), String> {
    assay_runtime::files::write_private(&dir.join(name), text)
}

/// What an agent enrols with.
pub struct Enrolment<'a> {
    pub server: &'a str,
    pub token: &'a str,
    pub ca_pem: &'a str,
    pub hostname: String,
    pub machine_id: String,
    pub os: String,
    pub tags: BTreeMap<String, String>,
}

impl Identity {
    /// The identity in `dir`, if the agent enrolled before.
    pub fn load(dir: &Path) -> Result<Option<Identity>, String> {
        let stored = match std::fs::read_to_string(dir.join("agent.json")) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", dir.join("agent.json").display())),
        };
        let stored: Stored = serde_json::from_str(&stored)
            .map_err(|e| format!("{}: not an agent identity: {e}", dir.join("agent.json").display()))?;
        let credentials = read(dir, "credentials.pem")?;
        let Some(split) = credentials.find("-----BEGIN PRIVATE KEY-----") else {
            return Err(format!("{}: no private key in it", dir.join("credentials.pem").display()));
        };
        Ok(Some(Identity {
            agent_id: stored.agent_id,
            server: stored.server,
            ca_pem: read(dir, "ca.pem")?,
            cert_pem: credentials[..split].to_owned(),
            key_pem: credentials[split..].to_owned(),
            not_after: stored.not_after,
            tags: stored.tags,
        }))
    }

    /// Credentials and CA first, the identity file last: a crash before it
    /// leaves no identity (the agent enrols again), never half of one.
    pub(crate) fn save(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        write(dir, "credentials.pem", format!("{}{}", self.cert_pem, self.key_pem).as_bytes())?;
        write(dir, "ca.pem", self.ca_pem.as_bytes())?;
        let stored = Stored {
            agent_id: self.agent_id.clone(),
            server: self.server.clone(),
            not_after: self.not_after,
            tags: self.tags.clone(),
        };
        let stored =
            serde_json::to_vec_pretty(&stored).map_err(|e| format!("cannot write the identity: {e}"))?;
        write(dir, "agent.json", &stored)
    }

    /// Enrols with the server (the token spent once), saving the identity
    /// in `dir`. Also the agents the server saw with the same machine-id.
    pub fn enroll(dir: &Path, e: &Enrolment<'_>) -> Result<(Identity, Vec<String>), String> {
        let key = new_key()?;
        let (public_key, proof) = proven(&key, "enroll", e.token)?;
        let key_pem = key.serialize_pem();
        let client = Client::new(e.server, e.ca_pem, None)?;
        let body = Enroll {
            token: e.token.to_owned(),
            hostname: e.hostname.clone(),
            machine_id: e.machine_id.clone(),
            os: e.os.clone(),
            tags: e.tags.clone(),
            public_key,
            proof,
        };
        let v: Enrolled =
            client.post("/agent/v1/enroll", &body).map_err(|err| format!("enrolment failed: {err}"))?;
        if client::fingerprint(&v.certificate).is_none() {
            return Err("the server's enrolment answer has no certificate".into());
        }
        let identity = Identity {
            agent_id: v.agent_id,
            server: e.server.to_owned(),
            ca_pem: e.ca_pem.to_owned(),
            cert_pem: v.certificate,
            key_pem,
            not_after: v.not_after,
            tags: Some(e.tags.clone()),
        };
        identity.save(dir)?;
        Ok((identity, v.same_machine_id))
    }

    /// A client that shows this identity's certificate.
    pub fn client(&self) -> Result<Client, String> {
        Client::new(&self.server, &self.ca_pem, Some((&self.cert_pem, &self.key_pem)))
    }

    /// A new key and certificate, asked for with the current one, saved.
    pub fn renew(&mut self, dir: &Path) -> Result<(), String> {
        let key = match std::fs::read_to_string(dir.join(RENEWING)) {
            Ok(pem) => rcgen::KeyPair::from_pem(&pem)
                .map_err(|e| format!("{}: not a private key: {e}", dir.join(RENEWING).display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = new_key()?;
                write(dir, RENEWING, key.serialize_pem().as_bytes())?;
                key
            }
            Err(e) => return Err(format!("{}: {e}", dir.join(RENEWING).display())),
        };
        let (public_key, proof) = proven(&key, "renew", &self.agent_id)?;
        let v: Renewed = self
            .client()?
            .post("/agent/v1/certificate", &Renew { public_key, proof })
            .map_err(|e| format!("renewing the certificate: {e}"))?;
        if client::fingerprint(&v.certificate).is_none() {
            return Err("the server's renewal answer has no certificate".into());
        }
        self.cert_pem = v.certificate;
        self.key_pem = key.serialize_pem();
        self.not_after = v.not_after;
        self.save(dir)?;
        // Saved with the identity: the pending key is done with.
        let _ = std::fs::remove_file(dir.join(RENEWING));
        Ok(())
    }
}
