//! `assay fleet`: the command-line client of the admin API. Every command
//! is one or a few HTTP calls; errors are the server's, with its code.

use super::{Failure, Outcome};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The server's admin API.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "ASSAY_SERVER",
        default_value = "http://127.0.0.1:8443"
    )]
    server: String,
    /// An API token (`assay fleet token create`, or the first admin token).
    #[arg(long, global = true, value_name = "TOKEN", env = "ASSAY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Trust the PEM certificates of this file (the server's own, or the CA
    /// that signed it) for https://, instead of the public CAs.
    #[arg(long, global = true, value_name = "FILE", env = "ASSAY_CA")]
    ca: Option<std::path::PathBuf>,
    /// `table` for people, `json` for programs; `html` (the default of
    /// `report`) or `json` for reports.
    #[arg(long, global = true, value_enum, default_value = "table")]
    format: Format,
    #[command(subcommand)]
    command: Sub,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Html,
}

#[derive(clap::Subcommand)]
enum AgentSub {
    /// Revoke an agent: its certificates stop working at once and it
    /// leaves the runs it is in.
    Revoke { id: String },
}

#[derive(clap::Subcommand)]
enum Sub {
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenSub,
    },
    /// Enrolment tokens for agents.
    Enrollment {
        #[command(subcommand)]
        command: EnrollmentSub,
    },
    /// The enrolled agents, with their health.
    Agents {
        /// Only agents with this tag (`KEY` or `KEY=VALUE`; repeatable, any matches).
        #[arg(long = "tag", value_name = "K[=V]")]
        tags: Vec<String>,
    },
    /// One agent: `assay fleet agent revoke ID`.
    Agent {
        #[command(subcommand)]
        command: AgentSub,
    },
    /// Assessment targets: agents picked by tag.
    Target {
        #[command(subcommand)]
        command: TargetSub,
    },
    /// Assessment templates: packages, duration, attributes.
    Template {
        #[command(subcommand)]
        command: TemplateSub,
    },
    /// Assessment runs.
    Run {
        #[command(subcommand)]
        command: RunSub,
    },
    /// The audit log: who changed what, when (admin).
    Audit {
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        after: Option<String>,
    },
    /// The fleet's waiver file (docs/waivers.md).
    Waivers {
        #[command(subcommand)]
        command: WaiversSub,
    },
    /// The server's vulnerability feed.
    Feed {
        #[command(subcommand)]
        command: FeedSub,
    },
    /// Findings, filtered and paged: of a run, or with --state the fleet's
    /// current ones (open, resolved or waived, kept up to date by
    /// re-evaluation).
    Findings {
        #[arg(long, conflicts_with = "run")]
        state: Option<String>,
        #[arg(long)]
        run: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        agent: Option<String>,
        /// `KEY=VALUE` of an attribute the finding carries.
        #[arg(long, value_name = "K=V")]
        attribute: Option<String>,
        /// Findings per page.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// The cursor of the next page (printed after a full page).
        #[arg(long)]
        after: Option<String>,
    },
    /// The findings report of a finished run (`--full`: every rule's
    /// outcome on every host too), as HTML or JSON.
    Report {
        run: String,
        #[arg(long)]
        full: bool,
        /// Write it here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(clap::Subcommand)]
enum FeedSub {
    /// Import an osv.dev export (a folder or zip of OSV JSON records),
    /// upload it, and have the server re-evaluate every agent's latest
    /// telemetry with it.
    Import {
        #[arg(long, value_name = "PATH")]
        osv: std::path::PathBuf,
    },
    /// The feed the server uses.
    Show,
}

#[derive(clap::Subcommand)]
enum WaiversSub {
    /// Upload a waiver file; it applies fleet-wide from now on and the
    /// fleet is re-evaluated with it.
    Upload { file: std::path::PathBuf },
    /// The waiver file in use.
    Show,
}

#[derive(clap::Subcommand)]
enum TokenSub {
    /// Mint an API token (admin only); printed once.
    Create {
        /// read-only, operator or admin.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
    },
}

#[derive(clap::Subcommand)]
enum EnrollmentSub {
    /// Create an enrolment token for `assay agent --enroll-token`.
    Create {
        /// How many agents may enrol with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it is valid: `90m`, `24h`, `7d`.
        #[arg(long, default_value = "24h")]
        expires: String,
        /// Tags every agent enrolled with it gets (repeatable).
        #[arg(long = "tag", value_name = "K=V")]
        tags: Vec<String>,
    },
}

#[derive(clap::Subcommand)]
enum TargetSub {
    /// Create a target: agents with ANY of the tags (a key alone matches any value).
    Create {
        name: String,
        #[arg(long = "tag", value_name = "K[=V]", required = true)]
        tags: Vec<String>,
    },
    List,
    /// The agents the target matches now, and why any would be excluded.
    Preview {
        name: String,
    },
}

#[derive(clap::Subcommand)]
enum TemplateSub {
    /// Create a template, or a new version of it.
    Create {
        name: String,
        #[arg(long)]
        target: String,
        /// A rules package (repeatable).
        #[arg(long = "package", value_name = "NAME", required = true)]
        packages: Vec<String>,
        /// How long agents collect: `15m`, `1h`.
        #[arg(long, default_value = "1h")]
        duration: String,
        /// Added to every finding (repeatable).
        #[arg(long = "attribute", value_name = "K=V")]
        attributes: Vec<String>,
        /// Start runs on this cron schedule (UTC; `0 3 * * *`, or six
        /// fields with seconds first).
        #[arg(long, value_name = "CRON")]
        schedule: Option<String>,
        /// POST run events to this URL (with --event).
        #[arg(long, value_name = "URL", requires = "events")]
        notify: Option<String>,
        /// An event to notify: ASSESSMENT_RUN_STARTED, ASSESSMENT_RUN_STATE_CHANGED,
        /// ASSESSMENT_RUN_COMPLETED, FINDING_REPORTED (repeatable).
        #[arg(long = "event", value_name = "EVENT", requires = "notify")]
        events: Vec<String>,
    },
    List,
    /// Every version of a template.
    Show {
        name: String,
    },
}

#[derive(clap::Subcommand)]
enum RunSub {
    /// Start a run of a template's latest version.
    Start {
        template: String,
        /// Wait until the run finishes, printing its states.
        #[arg(long)]
        wait: bool,
    },
    List,
    /// A run with its state history, agents and exclusions.
    Show {
        run: String,
    },
    /// Stop collecting now; evaluate what arrived, or cancel.
    Stop {
        run: String,
        #[arg(long)]
        skip_evaluation: bool,
    },
}

/// Parses `90s`, `15m`, `24h`, `7d` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, Failure> {
    let bad = || Failure::input(miette::miette!("`{text}` is not a duration such as 90s, 15m, 24h or 7d"));
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let factor = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

fn key_values(pairs: &[String], what: &str) -> Result<serde_json::Map<String, Value>, Failure> {
    let mut map = serde_json::Map::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Failure::input(miette::miette!("{what} `{p}` should be KEY=VALUE")))?;
        map.insert(k.to_owned(), json!(v));
    }
    Ok(map)
}

struct Client {
    http: ureq::Agent,
    base: String,
    token: String,
}

impl Client {
    fn new(args: &Args) -> Result<Client, Failure> {
        let token = args.token.clone().ok_or_else(|| {
            Failure::input(miette::miette!(
                "no API token: pass --token or set ASSAY_TOKEN (the first `assay server` start prints one)"
            ))
        })?;
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)));
        if let Some(ca) = &args.ca {
            let pem = std::fs::read(ca)
                .map_err(|e| Failure::input(miette::miette!("cannot read {}: {e}", ca.display())))?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Failure::input(miette::miette!("{}: no PEM certificate in it", ca.display())));
            }
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build();
            config = config.tls_config(tls);
        }
        let http = config.build().into();
        Ok(Client { http, base: args.server.trim_end_matches('/').to_owned(), token })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let response = match method {
            "GET" => self.http.get(&url).header("authorization", &auth).call(),
            "PUT" => self
                .http
                .put(&url)
                .header("authorization", &auth)
                .send_json(body.unwrap_or_else(|| json!({}))),
            _ => self
                .http
                .post(&url)
                .header("authorization", &auth)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        self.answer(response)
    }

    fn send_bytes(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let request = match method {
            "PUT" => self.http.put(&url),
            _ => self.http.post(&url),
        };
        self.answer(
            request
                .header("authorization", &auth)
                .header("content-type", "application/octet-stream")
                .send(&body[..]),
        )
    }

    fn answer(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, Failure> {
        let mut response = response
            .map_err(|e| Failure::input(miette::miette!("cannot reach the server at {}: {e}", self.base)))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = value["error"]["message"].as_str().unwrap_or("the server gave no reason").to_owned();
        let details = &value["error"]["details"];
        let details = if details.is_null() { String::new() } else { format!("\n{details:#}") };
        let report = miette::miette!(
            "{status} {}: {message}{details}",
            value["error"]["code"].as_str().unwrap_or("error")
        );
        Err(if status >= 500 { Failure::internal(report) } else { Failure::input(report) })
    }
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> =
        pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v)))).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Everything but RFC 3986's unreserved characters is encoded.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a query value or a path segment.
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// Prints rows as aligned columns.
fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> =
            cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        outln!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_uppercase()).collect());
    for r in rows {
        line(r);
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn tags(v: &Value) -> String {
    match v {
        Value::Object(m) => m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect::<Vec<_>>().join(","),
        Value::Array(a) => a
            .iter()
            .map(|t| match t["value"].as_str() {
                Some(v) => format!("{}={v}", s(&t["key"])),
                None => s(&t["key"]),
            })
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    }
}

pub fn run(args: &Args) -> Outcome {
    let c = Client::new(args)?;
    let json_out = args.format == Format::Json;
    let print = |v: &Value| outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    match &args.command {
        Sub::Token { command: TokenSub::Create { role, name } } => {
            let v = c.call("POST", "/v1/tokens", Some(json!({ "role": role, "name": name })))?;
            if json_out {
                print(&v);
            } else {
                eprintln!("token {} ({}), shown once:", s(&v["id"]), s(&v["role"]));
                outln!("{}", s(&v["token"]));
            }
        }
        Sub::Enrollment { command: EnrollmentSub::Create { uses, expires, tags: t } } => {
            let body = json!({ "uses": uses, "expires_in_seconds": parse_duration(expires)?, "tags": key_values(t, "--tag")? });
            let v = c.call("POST", "/v1/enrollments", Some(body))?;
            if json_out {
                print(&v);
            } else {
                eprintln!("enrolment token {} for {} agent(s), shown once:", s(&v["id"]), s(&v["uses"]));
                outln!("{}", s(&v["token"]));
            }
        }
        Sub::Agents { tags: t } => {
            let q: String = t.iter().map(|t| format!("&tag={}", encode(t))).collect();
            let v = c.call("GET", &format!("/v1/agents?limit=1000{q}"), None)?;
            if json_out {
                print(&v);
            } else {
                let rows = items(&v)
                    .map(|a| {
                        vec![
                            s(&a["id"]),
                            s(&a["hostname"]),
                            s(&a["health"]),
                            s(&a["health_code"]),
                            tags(&a["tags"]),
                        ]
                    })
                    .collect();
                table(&["id", "hostname", "health", "code", "tags"], rows);
            }
        }
        Sub::Agent { command: AgentSub::Revoke { id } } => {
            let v = c.call("POST", &format!("/v1/agents/{}/revoke", encode(id)), None)?;
            if json_out {
                print(&v);
            } else {
                outln!("revoked {id}");
            }
        }
        Sub::Target { command } => match command {
            TargetSub::Create { name, tags: t } => {
                let filters: Vec<Value> = t
                    .iter()
                    .map(|t| match t.split_once('=') {
                        Some((k, v)) => json!({ "key": k, "value": v }),
                        None => json!({ "key": t }),
                    })
                    .collect();
                let v = c.call("POST", "/v1/targets", Some(json!({ "name": name, "tags": filters })))?;
                if json_out {
                    print(&v)
                } else {
                    outln!("target {} created", s(&v["name"]))
                }
            }
            TargetSub::List => {
                let v = c.call("GET", "/v1/targets?limit=1000", None)?;
                if json_out {
                    print(&v);
                } else {
                    table(
                        &["name", "tags"],
                        items(&v).map(|t| vec![s(&t["name"]), tags(&t["tags"])]).collect(),
                    );
                }
            }
            TargetSub::Preview { name } => {
                let v = c.call("GET", &format!("/v1/targets/{}/preview", encode(name)), None)?;
                if json_out {
                    print(&v);
                } else {
                    let rows = v["agents"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| vec![s(&a["id"]), s(&a["hostname"]), s(&a["health"]), s(&a["excluded"])])
                        .collect();
                    table(&["agent", "hostname", "health", "excluded"], rows);
                }
            }
        },
        Sub::Template { command } => match command {
            TemplateSub::Create {
                name,
                target,
                packages,
                duration,
                attributes,
                schedule,
                notify,
                events,
            } => {
                let notifications: Vec<Value> =
                    notify.iter().map(|url| json!({ "url": url, "events": events })).collect();
                let body = json!({
                    "target": target,
                    "packages": packages,
                    "duration_seconds": parse_duration(duration)?,
                    "attributes": key_values(attributes, "--attribute")?,
                    "schedule": schedule,
                    "notifications": notifications,
                });
                let v = c.call("PUT", &format!("/v1/templates/{}", encode(name)), Some(body))?;
                if json_out {
                    print(&v)
                } else {
                    outln!("template {} version {}", s(&v["name"]), s(&v["version"]))
                }
            }
            TemplateSub::List => {
                let v = c.call("GET", "/v1/templates?limit=1000", None)?;
                if json_out {
                    print(&v);
                } else {
                    let rows = items(&v)
                        .map(|t| {
                            let packages: Vec<String> =
                                t["packages"].as_array().into_iter().flatten().map(s).collect();
                            vec![
                                s(&t["name"]),
                                s(&t["version"]),
                                s(&t["target"]),
                                packages.join(","),
                                s(&t["duration_seconds"]),
                            ]
                        })
                        .collect();
                    table(&["name", "version", "target", "packages", "seconds"], rows);
                }
            }
            TemplateSub::Show { name } => {
                print(&c.call("GET", &format!("/v1/templates/{}", encode(name)), None)?)
            }
        },
        Sub::Run { command } => match command {
            RunSub::Start { template, wait } => {
                let v = c.call("POST", "/v1/runs", Some(json!({ "template": template })))?;
                let id = s(&v["id"]);
                if !wait {
                    if json_out {
                        print(&v)
                    } else {
                        outln!("{id} {}", s(&v["state"]))
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                eprintln!("{id} started");
                let mut seen = 0;
                loop {
                    let v = c.call("GET", &format!("/v1/runs/{id}"), None)?;
                    let history = v["history"].as_array().cloned().unwrap_or_default();
                    for h in history.iter().skip(seen) {
                        eprintln!("  {}", s(&h["state"]));
                    }
                    seen = history.len();
                    let state = s(&v["state"]);
                    if ["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED", "ERROR"]
                        .contains(&state.as_str())
                    {
                        if json_out {
                            print(&v)
                        } else {
                            show_run(&v)
                        }
                        return Ok(if state == "COMPLETED" { ExitCode::SUCCESS } else { ExitCode::from(1) });
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            RunSub::List => {
                let v = c.call("GET", "/v1/runs?limit=1000", None)?;
                if json_out {
                    print(&v);
                } else {
                    let rows = items(&v)
                        .map(|r| {
                            vec![s(&r["id"]), s(&r["template"]), s(&r["template_version"]), s(&r["state"])]
                        })
                        .collect();
                    table(&["run", "template", "version", "state"], rows);
                }
            }
            RunSub::Show { run } => {
                let v = c.call("GET", &format!("/v1/runs/{}", encode(run)), None)?;
                if json_out {
                    print(&v)
                } else {
                    show_run(&v)
                }
            }
            RunSub::Stop { run, skip_evaluation } => {
                let v = c.call(
                    "POST",
                    &format!("/v1/runs/{}/stop", encode(run)),
                    Some(json!({ "skip_evaluation": skip_evaluation })),
                )?;
                if json_out {
                    print(&v)
                } else {
                    outln!("{} {}", s(&v["id"]), s(&v["state"]))
                }
            }
        },
        Sub::Feed { command: FeedSub::Import { osv } } => {
            let (feed, warnings) =
                assay_runtime::feed::import_osv(osv).map_err(|e| Failure::input(miette::miette!("{e}")))?;
            for w in warnings.iter().take(20) {
                eprintln!("warning: skipped {}: {}", w.record, w.message);
            }
            let v = c.send_bytes("PUT", "/v1/feed", feed.to_bytes())?;
            if json_out {
                print(&v);
            } else {
                outln!(
                    "feed {} with {} advisories; re-evaluating {} agent(s)",
                    s(&v["digest"]),
                    s(&v["advisories"]),
                    s(&v["agents_queued"])
                );
            }
        }
        Sub::Audit { limit, after } => {
            let q = query(&[("limit", Some(limit.to_string())), ("after", after.clone())]);
            let v = c.call("GET", &format!("/v1/audit{q}"), None)?;
            if json_out {
                print(&v);
            } else {
                let rows = items(&v)
                    .map(|e| {
                        vec![
                            s(&e["id"]),
                            s(&e["at"]),
                            s(&e["actor"]),
                            s(&e["action"]),
                            e["detail"].to_string(),
                        ]
                    })
                    .collect();
                paged(&["id", "at", "actor", "action", "detail"], rows, &v);
            }
        }
        Sub::Waivers { command: WaiversSub::Upload { file } } => {
            let text = std::fs::read(file)
                .map_err(|e| Failure::input(miette::miette!("cannot read {}: {e}", file.display())))?;
            let v = c.send_bytes("PUT", "/v1/waivers", text)?;
            if json_out {
                print(&v);
            } else {
                outln!(
                    "{} waiver(s) in use; re-evaluating {} agent(s)",
                    s(&v["waivers"]),
                    s(&v["agents_queued"])
                );
            }
        }
        Sub::Waivers { command: WaiversSub::Show } => match c.call("GET", "/v1/waivers", None)? {
            Value::String(text) => out!("{text}"),
            other => print(&other),
        },
        Sub::Feed { command: FeedSub::Show } => print(&c.call("GET", "/v1/feed", None)?),
        Sub::Findings { state: Some(state), severity, rule, agent, limit, after, .. } => {
            let q = query(&[
                ("state", Some(state.clone())),
                ("severity", severity.clone()),
                ("rule", rule.clone()),
                ("agent", agent.clone()),
                ("limit", Some(limit.to_string())),
                ("after", after.clone()),
            ]);
            let v = c.call("GET", &format!("/v1/fleet-findings{q}"), None)?;
            if json_out {
                print(&v);
            } else {
                let rows = items(&v)
                    .map(|f| {
                        vec![
                            s(&f["state"]),
                            s(&f["severity"]),
                            s(&f["rule_id"]),
                            s(&f["asset"]["hostname"]),
                            s(&f["message"]),
                        ]
                    })
                    .collect();
                paged(&["state", "severity", "rule", "host", "message"], rows, &v);
            }
        }
        Sub::Findings { run, severity, rule, agent, attribute, limit, after, .. } => {
            let q = query(&[
                ("run", run.clone()),
                ("severity", severity.clone()),
                ("rule", rule.clone()),
                ("agent", agent.clone()),
                ("attribute", attribute.clone()),
                ("limit", Some(limit.to_string())),
                ("after", after.clone()),
            ]);
            let v = c.call("GET", &format!("/v1/findings{q}"), None)?;
            if json_out {
                print(&v);
            } else {
                let rows = items(&v)
                    .map(|f| {
                        vec![
                            s(&f["severity"]),
                            s(&f["rule_id"]),
                            s(&f["asset"]["hostname"]),
                            s(&f["message"]),
                        ]
                    })
                    .collect();
                paged(&["severity", "rule", "host", "message"], rows, &v);
            }
        }
        Sub::Report { run, full, output } => {
            let format = if args.format == Format::Json { "json" } else { "html" };
            let path = format!("/v1/runs/{}/report?full={full}&format={format}", encode(run));
            let v = c.call("GET", &path, None)?;
            let text = match v {
                Value::String(html) => html,
                other => format!("{}\n", serde_json::to_string_pretty(&other).unwrap_or_default()),
            };
            match output {
                Some(file) => std::fs::write(file, text)
                    .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", file.display())))?,
                None => out!("{text}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A page of a list as a table, and how to get the next one.
fn paged(headers: &[&str], rows: Vec<Vec<String>>, v: &Value) {
    table(headers, rows);
    if let Some(next) = v["next"].as_str() {
        eprintln!("more: --after {next}");
    }
}

fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v["items"].as_array().into_iter().flatten()
}

fn show_run(v: &Value) {
    outln!(
        "run {} of {} version {}: {}",
        s(&v["id"]),
        s(&v["template"]),
        s(&v["template_version"]),
        s(&v["state"])
    );
    for h in v["history"].as_array().into_iter().flatten() {
        outln!("  {:<36} {}", s(&h["state"]), s(&h["at"]));
    }
    let rows = v["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| vec![s(&a["agent"]), s(&a["hostname"]), s(&a["status"]), s(&a["evaluation"])])
        .collect();
    table(&["agent", "hostname", "collection", "evaluation"], rows);
    for e in v["exclusions"].as_array().into_iter().flatten() {
        outln!("excluded {} ({}): {}", s(&e["agent"]), s(&e["hostname"]), s(&e["reason"]));
    }
    let f = &v["findings"];
    outln!(
        "findings: {} high, {} medium, {} low, {} informational",
        f["high"].as_i64().unwrap_or(0),
        f["medium"].as_i64().unwrap_or(0),
        f["low"].as_i64().unwrap_or(0),
        f["informational"].as_i64().unwrap_or(0)
    );
}
