//! Each `assay fleet` command: its requests and what it prints.

use super::client::{encode, query, Client, Problem, Result};
use super::print::{self, maybe_time, paged, table, tags, time};
use super::{parse_duration, Args, Format, Paging, Sub};
use super::{AgentSub, EnrollmentSub, FeedSub, RunSub, TargetSub, TemplateSub, TokenSub, VexSub, WaiversSub};
use assay_api::admin::*;
use assay_api::report::RunReport;
use assay_api::{Event, Page, Role, RunState};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

fn key_values(pairs: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Problem::Input(format!("{what} `{p}` should be KEY=VALUE")))
        })
        .collect()
}

/// A list: one page when `paging` asks for one, else every item (as one
/// page without a next, so `--format json` reads the same either way).
fn list<T: DeserializeOwned>(
    c: &Client,
    path: &str,
    filters: &[(&str, Option<String>)],
    paging: &Paging,
) -> Result<Page<T>> {
    if paging.one_page() {
        let mut pairs = filters.to_vec();
        pairs.push(("limit", paging.limit.map(|l| l.to_string())));
        pairs.push(("after", paging.after.clone()));
        return c.get(&format!("{path}{}", query(&pairs)));
    }
    Ok(Page { items: c.all(&format!("{path}{}", query(filters)))?, next: None })
}

pub(super) fn run(args: &Args) -> Result<ExitCode> {
    let c = Client::new(args)?;
    let json = args.format == Format::Json;
    match &args.command {
        Sub::Token { command: TokenSub::Create { role, name, expires } } => {
            let role = Role::parse(role).map_err(|e| Problem::Input(e.to_string()))?;
            let expires_in_seconds = expires.as_deref().map(parse_duration).transpose()?;
            let v: TokenCreated =
                c.post("/v1/tokens", &NewToken { role, name: name.clone(), expires_in_seconds })?;
            if json {
                print::json(&v)?;
            } else {
                let until = v.expires_at.map(|t| format!(", expires {} UTC", time(t))).unwrap_or_default();
                eprintln!("token {} ({}{until}), shown once:", v.id, v.role);
                outln!("{}", v.token);
            }
        }
        Sub::Token { command: TokenSub::List { paging } } => {
            let page: Page<TokenView> = list(&c, "/v1/tokens", &[], paging)?;
            if json {
                print::json(&page)?;
            } else {
                let rows = page.items.iter().map(|t| {
                    vec![
                        t.id.clone(),
                        t.role.to_string(),
                        t.name.clone(),
                        time(t.created_at),
                        maybe_time(t.expires_at),
                        maybe_time(t.revoked_at),
                    ]
                });
                let headers = ["id", "role", "name", "created (UTC)", "expires (UTC)", "revoked (UTC)"];
                paged(&headers, rows.collect(), page.next.as_deref());
            }
        }
        Sub::Token { command: TokenSub::Revoke { token_or_id } } => {
            let body = if token_or_id.starts_with("tok-") {
                RevokeToken::Id { id: token_or_id.clone() }
            } else {
                RevokeToken::Token { token: token_or_id.clone() }
            };
            let v: TokenRevoked = c.post("/v1/tokens/revoke", &body)?;
            if json {
                print::json(&v)?;
            } else {
                outln!("revoked {} ({} console session(s) ended)", v.id, v.sessions);
            }
        }
        Sub::Enrollment { command: EnrollmentSub::Create { uses, expires, tags: t, agent_tag_prefix } } => {
            let body = NewEnrollment {
                uses: i64::from(*uses),
                expires_in_seconds: parse_duration(expires)?,
                tags: key_values(t, "--tag")?,
                agent_tag_prefix: agent_tag_prefix.clone(),
            };
            let v: EnrollmentCreated = c.post("/v1/enrollments", &body)?;
            if json {
                print::json(&v)?;
            } else {
                eprintln!("enrolment token {} for {} agent(s), shown once:", v.id, v.uses);
                outln!("{}", v.token);
            }
        }
        Sub::Agents { tags: t, health, paging } => {
            let mut filters: Vec<(&str, Option<String>)> =
                t.iter().map(|t| ("tag", Some(t.clone()))).collect();
            filters.push(("health", health.clone()));
            let page: Page<AgentView> = list(&c, "/v1/agents", &filters, paging)?;
            if json {
                print::json(&page)?;
            } else {
                let rows = page.items.iter().map(|a| {
                    let clone = if a.same_machine_id.is_empty() {
                        String::new()
                    } else {
                        format!("same machine-id as {}", a.same_machine_id.join(","))
                    };
                    vec![
                        a.id.clone(),
                        a.hostname.clone(),
                        a.health.to_string(),
                        a.health_code.to_string(),
                        a.addresses.join(","),
                        tags(&a.tags),
                        clone,
                    ]
                });
                paged(
                    &["id", "hostname", "health", "code", "addresses", "tags", "clone"],
                    rows.collect(),
                    page.next.as_deref(),
                );
            }
        }
        Sub::Agent { command: AgentSub::Show { id } } => {
            let a: AgentView = c.get(&format!("/v1/agents/{}", encode(id)))?;
            if json {
                print::json(&a)?;
            } else {
                outln!("agent {} on {} ({}): {} {}", a.id, a.hostname, a.os, a.health, a.health_code);
                if !a.health_detail.is_empty() {
                    outln!("  {}", a.health_detail);
                }
                outln!("  addresses {}", a.addresses.join(", "));
                outln!("  tags {}", tags(&a.tags));
                outln!("  machine-id {}", a.machine_id);
                outln!("  enrolled {}, last seen {}", time(a.enrolled_at), time(a.last_seen));
                if !a.same_machine_id.is_empty() {
                    outln!("  same machine-id as {} (a cloned image?)", a.same_machine_id.join(", "));
                }
                if a.revoked {
                    outln!("  revoked");
                }
            }
        }
        Sub::Agent { command: AgentSub::Packages { id } } => {
            let v: AgentPackages = c.get(&format!("/v1/agents/{}/packages", encode(id)))?;
            match args.format {
                Format::Json => print::json(&v)?,
                Format::Csv => installed_csv(false, v.packages.iter().map(|p| (None, p)))?,
                _ => {
                    match (&v.run, v.received_at) {
                        (Some(run), Some(at)) => eprintln!(
                            "agent {}: {} packages, from run {run} (telemetry of {})",
                            v.agent,
                            v.packages.len(),
                            time(at)
                        ),
                        _ => eprintln!("agent {}: no telemetry evaluated yet", v.agent),
                    }
                    let rows = v.packages.iter().map(|p| {
                        vec![
                            p.ecosystem.as_str().to_owned(),
                            p.name.clone(),
                            p.version.clone(),
                            p.architecture.clone().unwrap_or_default(),
                            source(p),
                        ]
                    });
                    table(&["ecosystem", "name", "version", "arch", "source"], rows.collect());
                }
            }
        }
        Sub::Packages { name, version, ecosystem, purl, paging } => {
            let filters = [
                ("name", name.clone()),
                ("version", version.clone()),
                ("ecosystem", ecosystem.clone()),
                ("purl", purl.clone()),
            ];
            let page: Page<InstalledView> = list(&c, "/v1/inventory", &filters, paging)?;
            match args.format {
                Format::Json => print::json(&page)?,
                Format::Csv => {
                    installed_csv(true, page.items.iter().map(|i| (Some(i), &i.package)))?;
                    if let Some(next) = &page.next {
                        eprintln!("next page: --after {next}");
                    }
                }
                _ => {
                    let rows = page.items.iter().map(|i| {
                        vec![
                            i.agent.clone(),
                            i.hostname.clone(),
                            tags(&i.tags),
                            i.package.ecosystem.as_str().to_owned(),
                            i.package.name.clone(),
                            i.package.version.clone(),
                            i.package.architecture.clone().unwrap_or_default(),
                            time(i.received_at),
                        ]
                    });
                    let hosts = {
                        let mut agents: Vec<&str> = page.items.iter().map(|i| i.agent.as_str()).collect();
                        agents.dedup();
                        agents.len()
                    };
                    eprintln!("{hosts} host(s), {} installed package(s)", page.items.len());
                    paged(
                        &[
                            "agent",
                            "hostname",
                            "tags",
                            "ecosystem",
                            "name",
                            "version",
                            "arch",
                            "telemetry of",
                        ],
                        rows.collect(),
                        page.next.as_deref(),
                    );
                }
            }
        }
        Sub::Sbom { agent, spdx, output } => {
            let format = if *spdx { "spdx" } else { "cyclonedx" };
            let text = c.text(&format!("/v1/agents/{}/sbom?format={format}", encode(agent)))?;
            match output {
                Some(file) => std::fs::write(file, text)
                    .map_err(|e| Problem::Input(format!("cannot write {}: {e}", file.display())))?,
                None => out!("{text}"),
            }
        }
        Sub::Agent { command: AgentSub::Tag { id, tags: t } } => {
            let body = AgentTags { tags: key_values(t, "--tag")? };
            let v: AgentView = c.put(&format!("/v1/agents/{}/tags", encode(id)), &body)?;
            if json {
                print::json(&v)?;
            } else {
                outln!("agent {} tagged {}", v.id, tags(&v.tags));
            }
        }
        Sub::Agent { command: AgentSub::Revoke { id } } => {
            let v: Revoked = c.post(&format!("/v1/agents/{}/revoke", encode(id)), &serde_json::json!({}))?;
            if json {
                print::json(&v)?;
            } else {
                outln!("revoked {}", v.agent);
            }
        }
        Sub::Target { command } => target(&c, command, json)?,
        Sub::Template { command } => template(&c, command, json)?,
        Sub::Run { command } => return run_command(&c, command, json),
        Sub::Feed { command: FeedSub::Import { osv } } => {
            let (feed, warnings) =
                assay_runtime::feed::import_osv(osv).map_err(|e| Problem::Input(e.to_string()))?;
            for w in warnings.iter().take(20) {
                eprintln!("warning: skipped {}: {}", w.record, w.message);
            }
            let v: FeedImported = c.put_bytes("/v1/feed", "application/octet-stream", &feed.to_bytes())?;
            if json {
                print::json(&v)?;
            } else {
                outln!(
                    "feed {} with {} advisories; re-evaluating {} agent(s)",
                    v.digest,
                    v.advisories,
                    v.agents_queued
                );
            }
        }
        Sub::Package { command } => super::packages::run(&c, command, args.format)?,
        Sub::Apply { file, dry_run, prune } => super::apply::apply(&c, file, *dry_run, *prune, json)?,
        Sub::Export { output } => super::apply::export(&c, output.as_deref())?,
        Sub::Finding { agent, fingerprint } => {
            let f: FleetFindingView =
                c.get(&format!("/v1/fleet-findings/{}/{}", encode(agent), encode(fingerprint)))?;
            if json {
                print::json(&f)?;
            } else {
                let g = &f.finding;
                outln!("{} {} {} on {} ({})", f.state, g.severity, g.rule_id, g.asset.hostname, f.agent_id);
                outln!("  {}", g.message);
                outln!("  {}@{}  bundle sha256:{}", g.package, g.package_version, g.bundle_digest);
                let rows = f
                    .history
                    .iter()
                    .flatten()
                    .map(|h| vec![time(h.at), h.event.to_string(), h.cause.clone()]);
                table(&["at (UTC)", "change", "cause"], rows.collect());
            }
        }
        Sub::Feed { command: FeedSub::Show } => {
            let v: FeedView = c.get("/v1/feed")?;
            if json {
                print::json(&v)?;
            } else {
                outln!(
                    "feed {} with {} advisories, imported {}",
                    v.digest,
                    v.advisories,
                    time(v.imported_at)
                );
                outln!("re-evaluations pending: {}", v.reevaluations_pending);
            }
        }
        Sub::Audit { limit, after } => {
            let page: Page<AuditEntry> = c.get(&format!(
                "/v1/audit{}",
                query(&[("limit", Some(limit.to_string())), ("after", after.clone())])
            ))?;
            if json {
                print::json(&page)?;
            } else {
                let rows = page.items.iter().map(|e| {
                    vec![e.id.clone(), time(e.at), e.actor.clone(), e.action.clone(), e.detail.to_string()]
                });
                paged(&["id", "at (UTC)", "actor", "action", "detail"], rows.collect(), page.next.as_deref());
            }
        }
        Sub::Waivers { command: WaiversSub::Upload { file } } => {
            let text = std::fs::read(file)
                .map_err(|e| Problem::Input(format!("cannot read {}: {e}", file.display())))?;
            let v: WaiversUploaded = c.put_bytes("/v1/waivers", "application/yaml", &text)?;
            if json {
                print::json(&v)?;
            } else {
                outln!("{} waiver(s) in use; re-evaluating {} agent(s)", v.waivers, v.agents_queued);
            }
        }
        Sub::Waivers { command: WaiversSub::Show } => out!("{}", c.text("/v1/waivers")?),
        Sub::Vex { command: VexSub::Upload { files } } => {
            let mut documents = Vec::new();
            for file in files {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| Problem::Input(format!("cannot read {}: {e}", file.display())))?;
                // Checked here too, so a bad file is named before anything is sent.
                assay_runtime::vex::read(text.as_bytes(), &file.display().to_string())
                    .map_err(|e| Problem::Input(format!("{}: {e}", file.display())))?;
                let name = file
                    .file_name()
                    .map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
                documents.push(VexDocument { name, text });
            }
            let v: VexUploaded = c.put("/v1/vex", &VexUpload { documents })?;
            if json {
                print::json(&v)?;
            } else {
                outln!(
                    "{} VEX document(s), {} statement(s) in use; re-evaluating {} agent(s)",
                    v.documents,
                    v.statements,
                    v.agents_queued
                );
            }
        }
        Sub::Vex { command: VexSub::Show } => {
            let v: VexSet = c.get("/v1/vex")?;
            if json {
                print::json(&v)?;
            } else {
                outln!(
                    "{} statement(s) in {} document(s), uploaded {}",
                    v.statements,
                    v.documents.len(),
                    time(v.uploaded_at)
                );
                for d in &v.documents {
                    outln!("  {} ({} bytes)", d.name, d.text.len());
                }
            }
        }
        Sub::Findings {
            state: Some(state), severity, rule, agent, package, attribute, limit, after, ..
        } => {
            let q = query(&[
                ("state", Some(state.clone())),
                ("severity", severity.clone()),
                ("rule", rule.clone()),
                ("agent", agent.clone()),
                ("package", package.clone()),
                ("attribute", attribute.clone()),
                ("limit", Some(limit.to_string())),
                ("after", after.clone()),
            ]);
            let page: Page<FleetFindingView> = c.get(&format!("/v1/fleet-findings{q}"))?;
            if json {
                print::json(&page)?;
            } else {
                let rows = page.items.iter().map(|f| {
                    let g = &f.finding;
                    vec![
                        f.state.to_string(),
                        g.severity.to_string(),
                        g.rule_id.clone(),
                        g.asset.hostname.clone(),
                        f.agent_id.clone(),
                        time(f.last_seen),
                        g.message.clone(),
                    ]
                });
                paged(
                    &["state", "severity", "rule", "host", "agent", "last seen (UTC)", "message"],
                    rows.collect(),
                    page.next.as_deref(),
                );
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
            let page: Page<FindingView> = c.get(&format!("/v1/findings{q}"))?;
            if json {
                print::json(&page)?;
            } else {
                let rows = page.items.iter().map(|f| {
                    let g = &f.finding;
                    vec![
                        g.severity.to_string(),
                        g.rule_id.clone(),
                        g.asset.hostname.clone(),
                        f.agent_id.clone(),
                        g.message.clone(),
                    ]
                });
                paged(
                    &["severity", "rule", "host", "agent", "message"],
                    rows.collect(),
                    page.next.as_deref(),
                );
            }
        }
        Sub::Report { run, full, output } => {
            let format = if json { "json" } else { "html" };
            let path = format!("/v1/runs/{}/report?full={full}&format={format}", encode(run));
            let text = if json {
                let report: RunReport = c.get(&path)?;
                let text = serde_json::to_string_pretty(&report)
                    .map_err(|e| Problem::Unreachable(format!("cannot print the report: {e}")))?;
                format!("{text}\n")
            } else {
                c.text(&path)?
            };
            match output {
                Some(file) => std::fs::write(file, text)
                    .map_err(|e| Problem::Input(format!("cannot write {}: {e}", file.display())))?,
                None => out!("{text}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn target(c: &Client, command: &TargetSub, json: bool) -> Result<()> {
    match command {
        TargetSub::Create { name, tags: t } => {
            let filters = t
                .iter()
                .map(|t| match t.split_once('=') {
                    Some((k, v)) => TagFilter { key: k.to_owned(), value: Some(v.to_owned()) },
                    None => TagFilter { key: t.clone(), value: None },
                })
                .collect();
            let v: TargetView = c.post("/v1/targets", &NewTarget { name: name.clone(), tags: filters })?;
            if json {
                print::json(&v)?;
            } else {
                outln!("target {} created", v.name);
            }
        }
        TargetSub::List { paging } => {
            let page: Page<TargetView> = list(c, "/v1/targets", &[], paging)?;
            if json {
                print::json(&page)?;
            } else {
                let rows = page.items.iter().map(|t| {
                    let criteria: Vec<String> = t.tags.iter().map(ToString::to_string).collect();
                    vec![t.name.clone(), criteria.join(","), time(t.created_at)]
                });
                paged(&["name", "tags", "created (UTC)"], rows.collect(), page.next.as_deref());
            }
        }
        TargetSub::Preview { name } => {
            let v: TargetPreview = c.get(&format!("/v1/targets/{}/preview", encode(name)))?;
            if json {
                print::json(&v)?;
            } else {
                let criteria: Vec<String> = v.tags.iter().map(ToString::to_string).collect();
                eprintln!("target {}: agents with any of {}", v.target, criteria.join(", "));
                let rows = v.agents.iter().map(|a| {
                    vec![
                        a.agent.id.clone(),
                        a.agent.hostname.clone(),
                        a.agent.health.to_string(),
                        a.excluded.clone().unwrap_or_else(|| "-".into()),
                    ]
                });
                table(&["agent", "hostname", "health", "excluded"], rows.collect());
            }
        }
        TargetSub::Delete { name } => {
            let v: Deleted = c.delete(&format!("/v1/targets/{}", encode(name)))?;
            if json {
                print::json(&v)?;
            } else {
                outln!("target {} deleted", v.name);
            }
        }
    }
    Ok(())
}

fn template(c: &Client, command: &TemplateSub, json: bool) -> Result<()> {
    match command {
        TemplateSub::Create {
            name,
            target,
            packages,
            duration,
            attributes,
            params,
            schedule,
            notify,
            events,
        } => {
            let events: Vec<Event> = events
                .iter()
                .map(|e| Event::parse(e).map_err(|e| Problem::Input(e.to_string())))
                .collect::<Result<_>>()?;
            let body = TemplateBody {
                target: target.clone(),
                packages: packages.clone(),
                duration_seconds: parse_duration(duration)?,
                attributes: key_values(attributes, "--attribute")?,
                // Typed by the server against the packages' declarations.
                params: key_values(params, "--param")?
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect(),
                schedule: schedule.clone(),
                notifications: notify
                    .iter()
                    .map(|url| Notification { url: url.clone(), events: events.clone() })
                    .collect(),
            };
            let v: TemplateView = c.put(&format!("/v1/templates/{}", encode(name)), &body)?;
            if json {
                print::json(&v)?;
            } else {
                outln!("template {} version {}", v.name, v.version);
            }
        }
        TemplateSub::List { paging } => {
            let page: Page<TemplateView> = list(c, "/v1/templates", &[], paging)?;
            if json {
                print::json(&page)?;
            } else {
                let rows = page.items.iter().map(|t| {
                    vec![
                        t.name.clone(),
                        t.version.to_string(),
                        t.target.clone(),
                        t.packages.join(","),
                        t.duration_seconds.to_string(),
                        t.schedule.clone().unwrap_or_else(|| "-".into()),
                    ]
                });
                paged(
                    &["name", "version", "target", "packages", "seconds", "schedule"],
                    rows.collect(),
                    page.next.as_deref(),
                );
            }
        }
        TemplateSub::Show { name } => {
            let v: TemplateVersions = c.get(&format!("/v1/templates/{}", encode(name)))?;
            if json {
                print::json(&v)?;
            } else {
                let rows = v.versions.iter().map(|t| {
                    let notes: Vec<String> = t
                        .notifications
                        .iter()
                        .map(|n| {
                            format!(
                                "{} ({})",
                                n.url,
                                n.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
                            )
                        })
                        .collect();
                    vec![
                        t.version.to_string(),
                        t.target.clone(),
                        t.packages.join(","),
                        t.duration_seconds.to_string(),
                        tags(&t.attributes),
                        t.schedule.clone().unwrap_or_else(|| "-".into()),
                        notes.join("; "),
                        time(t.created_at),
                    ]
                });
                eprintln!("template {}", v.name);
                table(
                    &[
                        "version",
                        "target",
                        "packages",
                        "seconds",
                        "attributes",
                        "schedule",
                        "notifications",
                        "saved (UTC)",
                    ],
                    rows.collect(),
                );
            }
        }
        TemplateSub::Delete { name } => {
            let v: Deleted = c.delete(&format!("/v1/templates/{}", encode(name)))?;
            if json {
                print::json(&v)?;
            } else {
                outln!("template {} deleted", v.name);
            }
        }
    }
    Ok(())
}

fn run_command(c: &Client, command: &RunSub, json: bool) -> Result<ExitCode> {
    match command {
        RunSub::Start { template, wait } => {
            let v: RunView = c.post("/v1/runs", &NewRun { template: template.clone() })?;
            if !wait {
                if json {
                    print::json(&v)?;
                } else {
                    outln!("{} {}", v.id, v.state);
                }
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("{} started", v.id);
            let mut seen = 0;
            loop {
                let v: RunView = c.get(&format!("/v1/runs/{}", encode(&v.id)))?;
                for h in v.history.iter().skip(seen) {
                    eprintln!("  {}", h.state);
                }
                seen = v.history.len();
                if v.state.is_final() {
                    if json {
                        print::json(&v)?;
                    } else {
                        show_run(&v);
                    }
                    return Ok(if v.state == RunState::Completed {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    });
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        RunSub::List { paging } => {
            let page: Page<RunSummary> = list(c, "/v1/runs", &[], paging)?;
            if json {
                print::json(&page)?;
            } else {
                let rows = page.items.iter().map(|r| {
                    vec![
                        r.id.clone(),
                        r.template.clone(),
                        r.template_version.to_string(),
                        r.state.to_string(),
                        time(r.created_at),
                        maybe_time(r.finished_at),
                    ]
                });
                paged(
                    &["run", "template", "version", "state", "started (UTC)", "finished (UTC)"],
                    rows.collect(),
                    page.next.as_deref(),
                );
            }
        }
        RunSub::Show { run } => {
            let v: RunView = c.get(&format!("/v1/runs/{}", encode(run)))?;
            if json {
                print::json(&v)?;
            } else {
                show_run(&v);
            }
        }
        RunSub::Stop { run, skip_evaluation } => {
            let v: RunView = c.post(
                &format!("/v1/runs/{}/stop", encode(run)),
                &StopRun { skip_evaluation: *skip_evaluation },
            )?;
            if json {
                print::json(&v)?;
            } else {
                outln!("{} {}", v.id, v.state);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_run(v: &RunView) {
    outln!("run {} of {} version {}: {}", v.id, v.template, v.template_version, v.state);
    outln!(
        "  started {} UTC, collecting until {} UTC, finished {}",
        time(v.created_at),
        time(v.collect_until),
        maybe_time(v.finished_at)
    );
    for h in &v.history {
        outln!("  {:<36} {} UTC", h.state.as_str(), time(h.at));
    }
    let rows = v.agents.iter().map(|a| {
        let upload =
            if a.chunks_total > 0 { format!("{}/{}", a.chunks_received, a.chunks_total) } else { "-".into() };
        let evaluation = a.evaluation.map(|e| e.to_string()).unwrap_or_else(|| "-".into());
        vec![a.agent.clone(), a.hostname.clone(), a.status.to_string(), upload, evaluation]
    });
    table(&["agent", "hostname", "collection", "chunks", "evaluation"], rows.collect());
    for e in &v.exclusions {
        outln!("excluded {} ({}): {}", e.host.agent, e.host.hostname, e.reason);
    }
    if !v.notifications.is_empty() {
        outln!("webhook deliveries:");
        let rows = v.notifications.iter().map(|n| {
            vec![
                n.event.to_string(),
                n.url.clone(),
                n.state.to_string(),
                n.attempts.to_string(),
                maybe_time(n.sent_at),
                n.error.clone().unwrap_or_default(),
            ]
        });
        table(&["event", "url", "delivery", "attempts", "sent (UTC)", "error"], rows.collect());
    }
    let f = &v.findings;
    outln!(
        "findings: {} high, {} medium, {} low, {} informational",
        f.high,
        f.medium,
        f.low,
        f.informational
    );
}

/// `name (version)` of the package's source, when it names one.
fn source(p: &InstalledPackage) -> String {
    match (&p.source_name, &p.source_version) {
        (Some(n), Some(v)) => format!("{n} ({v})"),
        (Some(n), None) => n.clone(),
        (None, Some(v)) => format!("({v})"),
        (None, None) => String::new(),
    }
}

/// Installed packages as CSV on standard output, with their agent when
/// there is one (RFC 4180 quoting, by the `csv` crate).
fn installed_csv<'a>(
    with_agent: bool,
    rows: impl Iterator<Item = (Option<&'a InstalledView>, &'a InstalledPackage)>,
) -> Result<()> {
    let fail = |e: csv::Error| Problem::Input(format!("cannot write CSV: {e}"));
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    let mut names =
        vec!["ecosystem", "name", "version", "architecture", "source_name", "source_version", "purl"];
    if with_agent {
        names.splice(0..0, ["agent", "hostname", "tags", "received_at"]);
    }
    w.write_record(&names).map_err(fail)?;
    for (agent, p) in rows {
        let mut record = Vec::new();
        if let Some(i) = agent {
            record.extend([i.agent.clone(), i.hostname.clone(), tags(&i.tags), time(i.received_at)]);
        }
        record.extend([
            p.ecosystem.as_str().to_owned(),
            p.name.clone(),
            p.version.clone(),
            p.architecture.clone().unwrap_or_default(),
            p.source_name.clone().unwrap_or_default(),
            p.source_version.clone().unwrap_or_default(),
            p.purl.clone().unwrap_or_default(),
        ]);
        w.write_record(&record).map_err(fail)?;
    }
    w.flush().map_err(|e| Problem::Input(format!("cannot write CSV: {e}")))
}
