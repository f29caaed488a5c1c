//! The fleet's installed software: which hosts run a package (by name,
//! version requirement and ecosystem), each agent's packages, and its SBOM
//! as a download.

use super::layout::{self, time};
use super::{param, query, segment, Api, AppState, Pairs, Session};
use assay_api::admin::{AgentPackages, InstalledView};
use assay_api::Page;
use axum::extract::{Path, Query, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

const ECOSYSTEMS: [(&str, &str); 4] =
    [("debian", "Debian (deb)"), ("rpm", "RPM"), ("alpine", "Alpine (apk)"), ("pypi", "PyPI")];

pub async fn installed(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let (name, version, ecosystem, after) =
        (param(&q, "name"), param(&q, "version"), param(&q, "ecosystem"), param(&q, "after"));
    let filters = [("name", name), ("version", version), ("ecosystem", ecosystem)];
    let form = html! {
        form.filters method="get" action="/console/inventory" role="search" {
            label { "Package " input type="text" name="name" value=(name) placeholder="openssl" required; }
            label { "Version " input type="text" name="version" value=(version) placeholder="<3.0.13"; }
            label { "Ecosystem "
                select name="ecosystem" {
                    option value="" selected[ecosystem.is_empty()] { "any" }
                    @for (word, label) in ECOSYSTEMS { option value=(word) selected[ecosystem == word] { (label) } }
                }
            }
            button type="submit" { "Search" }
        }
    };
    if name.is_empty() {
        let content = html! {
            (form)
            p.muted { "Which hosts run a package, at which versions: the packages of each agent's latest "
                "evaluated telemetry. A version requirement is compared as the package's ecosystem orders "
                "versions (" code { "<3.0.13" } ", " code { ">=1.1.1,<1.1.1w" } ")." }
        };
        return layout::page(&session, "inventory", "Installed software", content);
    }
    let api = Api::new(&app, &session);
    let mut pairs = filters.to_vec();
    pairs.push(("after", after));
    let list = api.get::<Page<InstalledView>>(&format!("/v1/inventory{}", query(&pairs))).await;
    let content = html! {
        (form)
        @match &list {
            Err(f) => (layout::error(f)),
            Ok(list) => {
                @if list.items.is_empty() {
                    p.muted { "No host runs " code { (name) } @if !version.is_empty() { " " code { (version) } } "." }
                } @else {
                    table {
                        caption { (hosts(&list.items)) " host(s) with " code { (name) } @if !version.is_empty() { " " code { (version) } } }
                        thead { tr { th { "Agent" } th { "Host" } th { "Tags" } th { "Package" } th { "Version" } th { "Arch" } th { "Telemetry of" } } }
                        tbody {
                            @for i in &list.items {
                                tr {
                                    td { a href=(format!("/console/agents/{}", segment(&i.agent))) { code { (i.agent) } } }
                                    td { (i.hostname) }
                                    td { (layout::tags(&i.tags)) }
                                    td { (i.package.name) " " span.muted { (i.package.ecosystem.as_str()) } }
                                    td { code { (i.package.version) } }
                                    td { (i.package.architecture.as_deref().unwrap_or_default()) }
                                    td { (time(i.received_at)) }
                                }
                            }
                        }
                    }
                    (layout::pager("/console/inventory", &filters, list.next.as_deref()))
                }
            }
        }
    };
    layout::page(&session, "inventory", "Installed software", content)
}

fn hosts(items: &[InstalledView]) -> usize {
    let mut agents: Vec<&str> = items.iter().map(|i| i.agent.as_str()).collect();
    agents.dedup();
    agents.len()
}

/// An agent's packages, for its page.
pub(super) async fn of_agent(api: &Api<'_>, id: &str) -> Markup {
    let packages = api.get::<AgentPackages>(&format!("/v1/agents/{}/packages", segment(id))).await;
    html! {
        section aria-labelledby="packages" {
            h2 #packages { "Packages" }
            @match &packages {
                Err(f) => (layout::error(f)),
                Ok(p) => {
                    @match (&p.run, p.received_at) {
                        (Some(run), Some(at)) => {
                            p { (p.packages.len()) " packages, from the telemetry of " (time(at)) " (run "
                                a href=(format!("/console/runs/{}", segment(run))) { (run) } "). SBOM: "
                                a href=(format!("/console/agents/{}/sbom", segment(id))) download { "CycloneDX" } ", "
                                a href=(format!("/console/agents/{}/sbom?format=spdx", segment(id))) download { "SPDX" } }
                            @if !p.packages.is_empty() {
                                table {
                                    thead { tr { th { "Ecosystem" } th { "Package" } th { "Version" } th { "Arch" } th { "Source" } } }
                                    tbody {
                                        @for pkg in &p.packages {
                                            tr {
                                                td { (pkg.ecosystem.as_str()) }
                                                td { (pkg.name) }
                                                td { code { (pkg.version) } }
                                                td { (pkg.architecture.as_deref().unwrap_or_default()) }
                                                td { (pkg.source_name.as_deref().unwrap_or_default())
                                                    @if let Some(v) = &pkg.source_version { " " code { (v) } } }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        _ => p.muted { "No telemetry of this agent has been evaluated yet." },
                    }
                }
            }
        }
    }
}

/// `GET /console/agents/{id}/sbom?format=spdx`: the API's SBOM, as a file.
pub async fn sbom(
    State(app): AppState,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<Pairs>,
) -> Response {
    let format = if param(&q, "format") == "spdx" { "spdx" } else { "cyclonedx" };
    let api = Api::new(&app, &session);
    let uri = format!("/v1/agents/{}/sbom?format={format}", segment(&id));
    match api.call(Method::GET, &uri, None, None).await {
        Ok((_, headers, body)) => {
            let media = headers.get(header::CONTENT_TYPE).cloned();
            // The agent id is ours (a UUID-like word), but a file name is
            // built from it only as far as it is safe.
            let stem: String =
                id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect();
            let extension = if format == "spdx" { "spdx.json" } else { "cdx.json" };
            let disposition = format!("attachment; filename=\"{stem}.{extension}\"");
            let mut response = body.into_response();
            if let Some(media) = media {
                response.headers_mut().insert(header::CONTENT_TYPE, media);
            }
            if let Ok(value) = header::HeaderValue::from_str(&disposition) {
                response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(f) => layout::failed(&session, "agents", &format!("Agent {id}"), f),
    }
}
