//! Agents' identities: enrolment spends an enrolment token and signs the
//! agent's public key with the server's CA; every other request of an
//! agent is authenticated by that client certificate, looked up by its
//! fingerprint, so a revoked agent's certificates fail before they expire.

use super::agents::valid_tags;
use super::auth;
use super::{App, Error, Result};
use crate::ids::{hash, now, random_hex};
use crate::keys;
use crate::store::{agents, tokens};
use assay_api::agent::{Enroll, Enrolled, Renew, Renewed};
use assay_api::HealthCode;
use assay_model::hex;
use serde_json::json;

/// An agent authenticated by its client certificate.
#[derive(Clone, Debug)]
pub(crate) struct Agent {
    pub id: String,
    /// The certificate it connected with: its fingerprint, when it was
    /// issued and when it expires (ms).
    pub fingerprint: String,
    pub issued_at: i64,
    pub not_after: i64,
    /// Its health and addresses as last recorded.
    pub health: (HealthCode, String),
    pub addresses: Vec<String>,
}

/// The agent of the client certificate `fingerprint` (none: the
/// connection showed none), connecting from `peer`.
pub(crate) async fn authenticate(app: &App, peer: &str, fingerprint: Option<&str>) -> Result<Agent> {
    let Some(fingerprint) = fingerprint else {
        return Err(Error::Unauthorized(
            "this endpoint needs the agent's client certificate (enrol first: `assay agent --enroll-token`)"
                .into(),
        ));
    };
    let found = {
        let mut c = app.store.read().await?;
        agents::by_certificate(&mut c, fingerprint).await?
    };
    let Some(found) = found else {
        let _ = auth::audit_failure(app, peer, "agent.rejected", json!({ "reason": "unknown certificate" }))
            .await;
        return Err(Error::Unauthorized("this certificate belongs to no agent".into()));
    };
    if found.revoked_at.is_some() {
        let _ = auth::audit_failure(
            app,
            &found.id,
            "agent.rejected",
            json!({ "reason": "revoked", "peer": peer }),
        )
        .await;
        return Err(Error::Forbidden("this agent is revoked".into()));
    }
    Ok(Agent {
        id: found.id,
        fingerprint: fingerprint.to_owned(),
        issued_at: found.issued_at,
        not_after: found.not_after,
        health: (found.health_code, found.health_detail),
        addresses: found.addresses.0,
    })
}

/// Spends one use of an enrolment token, creates the agent and signs its
/// first certificate, in one transaction. Agents reporting a machine-id
/// another agent has are flagged (a cloned image), never merged.
pub(crate) async fn enroll(app: &App, peer: &str, req: Enroll) -> Result<Enrolled> {
    valid_identity(&req.hostname, &req.machine_id, &req.os)?;
    valid_tags(&req.tags)?;
    let public_key = proven(&req.public_key, &req.proof, "enroll", &req.token)?;
    let mut tx = app.store.write().await?;
    let Some(spent) = tokens::spend_enrollment(&mut tx, &hash(&req.token), now()).await? else {
        drop(tx);
        let _ = auth::audit_failure(app, peer, "agent.enroll.rejected", json!({ "hostname": req.hostname }))
            .await;
        return Err(Error::Unauthorized("the enrolment token is unknown, used up or expired".into()));
    };
    // The agent's own tags only where the token lets it set them, so an
    // agent cannot join a target of its choosing; the token's win.
    let refused: Vec<&str> = req
        .tags
        .keys()
        .filter(|k| !spent.agent_tag_prefix.as_deref().is_some_and(|p| k.starts_with(p)))
        .map(String::as_str)
        .collect();
    if !refused.is_empty() {
        let allowed = match &spent.agent_tag_prefix {
            None => "no tag of its own".to_owned(),
            Some(p) if p.is_empty() => "any tag".to_owned(),
            Some(p) => format!("tags whose key starts with `{p}`"),
        };
        return Err(Error::Forbidden(format!(
            "the enrolment token lets an agent set {allowed}, not {}; ask for a token that does, or have an admin tag the agent",
            refused.join(", ")
        )));
    }
    let mut tags = spent.tags.0;
    for (k, v) in req.tags {
        tags.entry(k).or_insert(v);
    }
    valid_tags(&tags)?;
    let id = format!("agent-{}", random_hex(8));
    let clones = agents::with_machine_id(&mut tx, &req.machine_id, &id).await?;
    let (certificate, der, not_after) =
        app.ca.issue_agent(&id, &public_key, app.config.agent_cert_lifetime_ms).map_err(Error::Invalid)?;
    let secret = random_hex(32);
    let agent = agents::NewAgent {
        id: &id,
        secret_hash: &secret,
        hostname: &req.hostname,
        machine_id: &req.machine_id,
        os: &req.os,
        tags: &tags,
        now: now(),
    };
    agents::insert(&mut tx, &agent).await?;
    agents::insert_cert(&mut tx, &keys::fingerprint(&der), &id, now(), not_after).await?;
    tx.commit().await?;
    auth::audit(app, &id, "agent.enroll", json!({ "hostname": req.hostname, "same_machine_id": clones }))
        .await?;
    Ok(Enrolled {
        agent_id: id,
        certificate,
        not_after,
        ca: app.ca.cert_pem.clone(),
        same_machine_id: clones,
    })
}

/// The identity an agent enrols with, bounded: a hostname as DNS allows
/// (1 to 253 bytes, no blank or control character), a machine-id and an
/// os-release ID of at most 64.
pub(crate) fn valid_identity(hostname: &str, machine_id: &str, os: &str) -> Result<()> {
    let clean = |s: &str| !s.chars().any(|c| c.is_control() || c.is_whitespace());
    if hostname.is_empty() || hostname.len() > 253 || !clean(hostname) {
        return Err(Error::Invalid(
            "hostname must be 1 to 253 bytes, without blanks or control characters".into(),
        ));
    }
    if machine_id.len() > 64 || !clean(machine_id) || os.len() > 64 || !clean(os) {
        return Err(Error::Invalid(
            "machine_id and os are at most 64 bytes, without blanks or control characters".into(),
        ));
    }
    Ok(())
}

/// A new certificate for a new key of an authenticated agent, proven to
/// hold it. A certificate is renewed once, to one key, and only in the
/// last third of its life (when heartbeats ask for it); the old one stays
/// valid until it expires, and revoking the agent refuses them all.
pub(crate) async fn renew(app: &App, agent: &Agent, req: Renew) -> Result<Renewed> {
    let public_key = proven(&req.public_key, &req.proof, "renew", &agent.id)?;
    let opens = renewal_opens(agent.issued_at, agent.not_after);
    if now() < opens {
        return Err(Error::Conflict(format!(
            "this certificate may be renewed from {} on (the last third of its life)",
            chrono::DateTime::from_timestamp_millis(opens).map_or(opens.to_string(), |t| t.to_rfc3339())
        )));
    }
    let (certificate, der, not_after) = app
        .ca
        .issue_agent(&agent.id, &public_key, app.config.agent_cert_lifetime_ms)
        .map_err(Error::Invalid)?;
    let mut tx = app.store.write().await?;
    if !agents::claim_renewal(&mut tx, &agent.fingerprint, &req.public_key).await? {
        return Err(Error::Conflict(
            "this certificate was renewed already, to another key; an agent that lost that key enrols again"
                .into(),
        ));
    }
    agents::insert_cert(&mut tx, &keys::fingerprint(&der), &agent.id, now(), not_after).await?;
    tx.commit().await?;
    auth::audit(app, &agent.id, "agent.certificate.renew", json!({ "not_after": not_after })).await?;
    Ok(Renewed { certificate, not_after })
}

/// When a certificate issued at `issued_at` and valid until `not_after`
/// enters the last third of its life.
pub(crate) fn renewal_opens(issued_at: i64, not_after: i64) -> i64 {
    not_after - (not_after - issued_at) / 3
}

/// The public key of a request, if `proof` is its holder's signature
/// over [`assay_api::agent::key_proof`] (which also checks that the point
/// is on the curve: the CA signed `04` and 64 zero bytes before).
fn proven(public_key: &str, proof: &str, purpose: &str, bound_to: &str) -> Result<Vec<u8>> {
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
    let Some(point) = hex::decode(public_key).filter(|p| p.len() == 65 && p[0] == 4) else {
        return Err(Error::Invalid("public_key must be an uncompressed P-256 point (65 bytes, hex)".into()));
    };
    let signature = hex::decode(proof).unwrap_or_default();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &point)
        .verify(&assay_api::agent::key_proof(purpose, public_key, bound_to), &signature)
        .map_err(|_| {
            Error::Invalid(
                "proof is not a signature of this request by public_key (or public_key is not a P-256 point)"
                    .into(),
            )
        })?;
    Ok(point)
}
