//! The admin API's client: typed requests and answers (`assay_api`), and
//! what went wrong as data ([`Problem`]), printed once, as text or JSON.

use super::Args;
use assay_api::{ErrorBody, ErrorCode, ErrorDetail, Page};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// Why a command failed.
#[derive(Debug)]
pub(super) enum Problem {
    /// The command line or a local file (exit 2).
    Input(String),
    /// The server was not reached, or its answer is not the API's (exit 3).
    Unreachable(String),
    /// The server refused (exit 2 for 4xx, 3 for 5xx).
    Refused { status: u16, error: Option<ErrorBody>, body: String },
}

impl Problem {
    pub(super) fn exit_code(&self) -> u8 {
        match self {
            Problem::Input(_) => 2,
            Problem::Unreachable(_) => 3,
            Problem::Refused { status, .. } if *status >= 500 => 3,
            Problem::Refused { .. } => 2,
        }
    }

    /// The problem as the API's error document (with the HTTP status when
    /// the server answered).
    pub(super) fn document(&self) -> serde_json::Value {
        let (status, error) = match self {
            Problem::Input(m) => (
                None,
                ErrorBody {
                    error: ErrorDetail { code: ErrorCode::Invalid, message: m.clone(), details: None },
                },
            ),
            Problem::Unreachable(m) => (
                None,
                ErrorBody {
                    error: ErrorDetail { code: ErrorCode::Unavailable, message: m.clone(), details: None },
                },
            ),
            Problem::Refused { status, error: Some(e), .. } => (Some(*status), e.clone()),
            Problem::Refused { status, error: None, body } => (
                Some(*status),
                ErrorBody {
                    error: ErrorDetail { code: ErrorCode::Internal, message: body.clone(), details: None },
                },
            ),
        };
        let mut doc = serde_json::to_value(error).unwrap_or_default();
        if let (Some(status), Some(map)) = (status, doc.as_object_mut()) {
            map.insert("status".into(), status.into());
        }
        doc
    }

    /// The problem for people.
    pub(super) fn text(&self) -> String {
        match self {
            Problem::Input(m) | Problem::Unreachable(m) => m.clone(),
            Problem::Refused { status, error: Some(e), .. } => {
                let mut text = format!("{status} {}: {}", e.error.code.as_str(), e.error.message);
                for held in e.error.details.iter().flat_map(|d| &d.agents) {
                    text.push_str(&format!("\n  agent {} is in run {}", held.agent, held.run));
                }
                text
            }
            Problem::Refused { status, error: None, body } => {
                format!("{status}: {}", if body.is_empty() { "the server gave no reason" } else { body })
            }
        }
    }
}

pub(super) type Result<T> = std::result::Result<T, Problem>;

pub(super) struct Client {
    http: ureq::Agent,
    base: String,
    token: String,
}

/// Everything but RFC 3986's unreserved characters is encoded.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a query value or a path segment.
pub(super) fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// `?k=v&...` of the pairs that have a value.
pub(super) fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> =
        pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v)))).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

impl Client {
    pub(super) fn new(args: &Args) -> Result<Client> {
        let token = args.token.clone().ok_or_else(|| {
            Problem::Input(
                "no API token: pass --token or set ASSAY_TOKEN (the first `assay server` start prints one)"
                    .into(),
            )
        })?;
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)));
        if let Some(ca) = &args.ca {
            let pem = std::fs::read(ca)
                .map_err(|e| Problem::Input(format!("cannot read {}: {e}", ca.display())))?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Problem::Input(format!("{}: no PEM certificate in it", ca.display())));
            }
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build();
            config = config.tls_config(tls);
        }
        Ok(Client { http: config.build().into(), base: args.server.trim_end_matches('/').to_owned(), token })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// The answer's body, or the problem: an unreachable server, or its
    /// refusal.
    fn answer(
        &self,
        response: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String> {
        let mut response = response
            .map_err(|e| Problem::Unreachable(format!("cannot reach the server at {}: {e}", self.base)))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Problem::Unreachable(format!("the server's answer did not arrive whole: {e}")))?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(Problem::Refused { status, error: serde_json::from_str(&text).ok(), body: text })
        }
    }

    fn read<T: DeserializeOwned>(&self, text: &str) -> Result<T> {
        serde_json::from_str(text)
            .map_err(|e| Problem::Unreachable(format!("the server's answer is not this client's API ({e})")))
    }

    /// `GET path` as text (a report, the waiver file).
    pub(super) fn text(&self, path: &str) -> Result<String> {
        self.answer(self.http.get(&self.url(path)).header("authorization", &self.auth()).call())
    }

    pub(super) fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let text = self.text(path)?;
        self.read(&text)
    }

    /// Every item of a list, following `next` page by page (`path` has a
    /// query already or not).
    pub(super) fn all<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        let join = if path.contains('?') { '&' } else { '?' };
        loop {
            let cursor = after.as_ref().map(|a| format!("&after={}", encode(a))).unwrap_or_default();
            let page: Page<T> = self.get(&format!("{path}{join}limit=1000{cursor}"))?;
            items.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(items),
            }
        }
    }

    pub(super) fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let text = self
            .answer(self.http.post(&self.url(path)).header("authorization", &self.auth()).send_json(body))?;
        self.read(&text)
    }

    pub(super) fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let text = self
            .answer(self.http.put(&self.url(path)).header("authorization", &self.auth()).send_json(body))?;
        self.read(&text)
    }

    pub(super) fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let text =
            self.answer(self.http.delete(&self.url(path)).header("authorization", &self.auth()).call())?;
        self.read(&text)
    }

    /// `PUT path` with raw bytes of `content_type`.
    pub(super) fn put_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<T> {
        let request = self
            .http
            .put(&self.url(path))
            .header("authorization", &self.auth())
            .header("content-type", content_type);
        let text = self.answer(request.send(body))?;
        self.read(&text)
    }
}
