//! The agent's side of the agent endpoint: HTTPS with the server's CA as
//! the only trusted root and, once enrolled, the agent's client
//! certificate.

use assay_api::ErrorBody;
use assay_model::hex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Why a request failed: the server was not reached (retry later), it
/// answered with an error status (retrying the same request will not help,
/// except for 429 and 5xx), or its answer is not the protocol's.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    Unreachable(String),
    /// The status, the error the server gave (when it is the protocol's
    /// error document) and the body as it came.
    Status {
        status: u16,
        error: Option<ErrorBody>,
        body: String,
    },
    /// A success whose body does not read as the answer expected: another
    /// version of the server, or something that is not one.
    Unexpected(String),
}

impl Error {
    /// Worth retrying later: the server away, overloaded or throttling.
    pub fn transient(&self) -> bool {
        match self {
            Error::Unreachable(_) => true,
            Error::Status { status, .. } => *status == 429 || *status >= 500,
            Error::Unexpected(_) => false,
        }
    }

    /// The HTTP status of an answered request.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unreachable(e) => write!(f, "cannot reach the server: {e}"),
            Error::Status { status, error: Some(e), .. } => {
                write!(f, "{status} {}: {}", e.error.code.as_str(), e.error.message)
            }
            Error::Status { status, error: None, body } => {
                let body: String = body.chars().take(200).collect();
                write!(f, "{status}: {}", if body.is_empty() { "the server gave no reason" } else { &body })
            }
            Error::Unexpected(e) => write!(f, "the server's answer is not the agent protocol's: {e}"),
        }
    }
}

/// The HTTP connection's input and output buffers, and the largest answer
/// head read.
const BUFFER: usize = 16 * 1024;

/// A connection to the agent endpoint at `base` (`https://host:port`).
#[derive(Clone)]
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

/// The SHA-256 of the first certificate of `pem`, in hex.
pub fn fingerprint(pem: &str) -> Option<String> {
    let cert = certificates(pem).into_iter().next()?;
    Some(hex::encode(&Sha256::digest(cert.der())))
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
            // The protocol's answers are small JSON and its uploads go in
            // chunks: buffers of 16 KiB rather than ureq's 128 KiB each way,
            // which a kept connection holds (a simulator holds thousands).
            .input_buffer_size(BUFFER)
            .output_buffer_size(BUFFER)
            .max_response_header_size(BUFFER)
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
            return Err(Error::Status { status, error: serde_json::from_str(&text).ok(), body: text });
        }
        Ok(text)
    }

    /// Posts `body` as JSON to `path`; the answer read as `T`.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, Error> {
        let url = format!("{}{path}", self.base);
        answer(self.http.post(&url).send_json(body))
    }

    /// Posts `body` as [`Client::post`] does, for a request the server may
    /// receive twice (a heartbeat): sent once more when the connection
    /// broke under it. A kept connection can be closed by the server as
    /// idle just as a request goes out on it; browsers and Go's HTTP client
    /// send such a request again on a new connection, and so does this.
    pub fn post_idempotent<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        let url = format!("{}{path}", self.base);
        answer(again_if_dropped(|| self.http.post(&url).send_json(body)))
    }

    /// Sends chunk `seq` of `total` of the telemetry for `run` (sent once
    /// more when the connection broke under it: the server keeps a chunk
    /// once); the answer read as `T` (`assay_api::agent::ChunkAnswer`).
    pub fn put_chunk<T: DeserializeOwned>(
        &self,
        run: &str,
        seq: usize,
        total: usize,
        chunk: &[u8],
    ) -> Result<T, Error> {
        let url = format!("{}/agent/v1/runs/{run}/chunks/{seq}?total={total}", self.base);
        let digest = hex::encode(&Sha256::digest(chunk));
        answer(again_if_dropped(|| {
            self.http
                .put(&url)
                .header("content-type", "application/octet-stream")
                .header("x-assay-digest", &digest)
                .send(chunk)
        }))
    }
}

/// `send()`, and once more when the connection broke (an I/O or protocol
/// error: never a timeout, a refused connection or an unknown host, which
/// a second try at once would only repeat).
fn again_if_dropped(
    send: impl Fn() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    match send() {
        Err(ureq::Error::Io(_) | ureq::Error::Protocol(_)) => send(),
        other => other,
    }
}

fn answer<T: DeserializeOwned>(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<T, Error> {
    let mut response = response.map_err(|e| Error::Unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(|e| Error::Unreachable(e.to_string()))?;
    if (200..300).contains(&status) {
        serde_json::from_str(&text)
            .map_err(|e| Error::Unexpected(format!("{e}: {}", text.chars().take(200).collect::<String>())))
    } else {
        Err(Error::Status { status, error: serde_json::from_str(&text).ok(), body: text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A loopback HTTP server that reads each request's head and closes
    /// the first `drop` connections without answering (a kept connection
    /// closed under a request), then answers `{}`; how many it accepted.
    fn dropping_server(drop: usize, answered: usize) -> (String, std::thread::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut accepted = 0;
            for stream in listener.incoming().take(drop + answered) {
                let mut stream = stream.unwrap();
                accepted += 1;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                if accepted > drop {
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
                }
            }
            accepted
        });
        (base, handle)
    }

    fn client(base: &str) -> Client {
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        Client::new(base, &ca.cert.pem(), None).unwrap()
    }

    #[test]
    fn an_idempotent_request_is_sent_again_once_when_its_connection_breaks() {
        let (base, server) = dropping_server(1, 1);
        let got: serde_json::Value = client(&base).post_idempotent("/agent/v1/heartbeat", &()).unwrap();
        assert_eq!(got, serde_json::json!({}));
        assert_eq!(server.join().unwrap(), 2);

        // Twice broken is an answer: unreachable, after two tries.
        let (base, server) = dropping_server(2, 0);
        let got = client(&base).post_idempotent::<serde_json::Value>("/agent/v1/heartbeat", &());
        assert!(matches!(got, Err(Error::Unreachable(_))), "{got:?}");
        assert_eq!(server.join().unwrap(), 2);
    }

    #[test]
    fn any_other_request_is_sent_once() {
        let (base, server) = dropping_server(1, 0);
        let got = client(&base).post::<serde_json::Value>("/agent/v1/enroll", &());
        assert!(matches!(got, Err(Error::Unreachable(_))), "{got:?}");
        assert_eq!(server.join().unwrap(), 1);
    }
}
