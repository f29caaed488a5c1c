//! The agent's side of the agent endpoint: HTTPS with the server's CA as
//! the only trusted root and, once enrolled, the agent's client
//! certificate.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Why a request failed: the server was not reached (retry later), or it
/// answered with an error status (retrying the same request will not help,
/// except for 429 and 5xx).
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    Unreachable(String),
    Status(u16, Value),
}

impl Error {
    /// Worth retrying later: the server away, overloaded or throttling.
    pub fn transient(&self) -> bool {
        match self {
            Error::Unreachable(_) => true,
            Error::Status(s, _) => *s == 429 || *s >= 500,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unreachable(e) => write!(f, "cannot reach the server: {e}"),
            Error::Status(s, v) => {
                let code = v["error"]["code"].as_str().unwrap_or("error");
                let message = v["error"]["message"].as_str().unwrap_or("the server gave no reason");
                write!(f, "{s} {code}: {message}")
            }
        }
    }
}

/// A connection to the agent endpoint at `base` (`https://host:port`).
pub struct Client {
    http: ureq::Agent,
    base: String,
}

fn certificates(pem: &str) -> Vec<ureq::tls::Certificate<'static>> {
    ureq::tls::parse_pem(pem.as_bytes())
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
            _ => None,
        })
        .collect()
}

fn private_key(pem: &str) -> Option<ureq::tls::PrivateKey<'static>> {
    ureq::tls::parse_pem(pem.as_bytes()).find_map(|item| match item {
        Ok(ureq::tls::PemItem::PrivateKey(k)) => Some(k.to_owned()),
        _ => None,
    })
}

/// Bytes as lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of the first certificate of `pem`, in hex.
pub fn fingerprint(pem: &str) -> Option<String> {
    let cert = certificates(pem).into_iter().next()?;
    Some(hex(&Sha256::digest(cert.der())))
}

impl Client {
    /// Trusting only `ca_pem`; with `identity` (certificate and key PEM),
    /// showing it as the client certificate.
    pub fn new(base: &str, ca_pem: &str, identity: Option<(&str, &str)>) -> Result<Client, String> {
        let roots = certificates(ca_pem);
        if roots.is_empty() {
            return Err("the server's CA is not a PEM certificate".into());
        }
        let mut tls =
            ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
        if let Some((cert, key)) = identity {
            let chain = certificates(cert);
            let key = private_key(key).ok_or("the agent's key is not a PEM private key")?;
            if chain.is_empty() {
                return Err("the agent's certificate is not PEM".into());
            }
            tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
        }
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(90)))
            // One connection kept across heartbeats (a minute apart at
            // most), so a heartbeat is not a TLS handshake each time.
            .max_idle_age(Duration::from_secs(120))
            .max_idle_connections_per_host(1)
            .tls_config(tls.build())
            .build()
            .into();
        Ok(Client { http, base: base.trim_end_matches('/').to_owned() })
    }

    /// The CA certificate the server presents, fetched without verifying
    /// it: only for pinning by fingerprint, which the caller checks.
    pub fn unverified_ca(base: &str) -> Result<String, Error> {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .tls_config(ureq::tls::TlsConfig::builder().disable_verification(true).build())
            .build()
            .into();
        let url = format!("{}/agent/v1/ca", base.trim_end_matches('/'));
        let mut response = http.get(&url).call().map_err(|e| Error::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if status != 200 {
            return Err(Error::Status(status, json!({})));
        }
        Ok(text)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, Error> {
        let url = format!("{}{path}", self.base);
        answer(self.http.post(&url).send_json(body))
    }

    /// Sends chunk `seq` of `total` of the telemetry for `run`.
    pub fn put_chunk(&self, run: &str, seq: usize, total: usize, chunk: &[u8]) -> Result<Value, Error> {
        let url = format!("{}/agent/v1/runs/{run}/chunks/{seq}?total={total}", self.base);
        let digest = hex(&Sha256::digest(chunk));
        answer(
            self.http
                .put(&url)
                .header("content-type", "application/octet-stream")
                .header("x-assay-digest", &digest)
                .send(chunk),
        )
    }
}

fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Value, Error> {
    let mut response = response.map_err(|e| Error::Unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        Err(Error::Status(status, value))
    }
}
