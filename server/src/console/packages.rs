//! Rules packages: every published package with its versions, signer and
//! digests; one version's rules and their documentation; what changed
//! between two versions.

use super::layout::{self, time};
use super::{param, segment, Api, AppState, Session};
use assay_api::admin::{PackageDetail, PackageVersionView, PackageVersions};
use assay_model::diff::{Change, Diff};
use axum::extract::Path;
use axum::response::Response;
use maud::{html, Markup};

fn signer(v: &PackageVersionView) -> Markup {
    html! {
        @match (&v.signer, v.builtin) {
            (Some(k), _) => { "key " code { (k) } }
            (None, true) => { "built into the server" }
            (None, false) => { span.muted { "unsigned" } }
        }
    }
}

fn short(digest: &str) -> &str {
    digest.get(..23).unwrap_or(digest)
}

pub async fn packages(axum::extract::State(app): AppState, session: Session) -> Response {
    let api = Api::new(&app, &session);
    let list: PackageVersions = match api.get("/v1/package-versions").await {
        Ok(l) => l,
        Err(f) => return layout::failed(&session, "packages", "Rules packages", f),
    };
    // Newest first within each name: the first row of a name is its newest.
    let mut newest: Vec<(&PackageVersionView, usize)> = Vec::new();
    for v in &list.items {
        match newest.iter_mut().find(|(n, _)| n.name == v.name) {
            Some((_, count)) => *count += 1,
            None => newest.push((v, 1)),
        }
    }
    let content = html! {
        p { "Built-in packages and the ones published to this server (" code { "assay fleet package publish" } "). Templates name them with a version requirement." }
        table {
            thead { tr { th { "Package" } th { "Newest version" } th.num { "Versions" } th.num { "Rules" } th { "Signer" } th { "Published" } } }
            tbody {
                @for (v, count) in &newest {
                    tr {
                        td { a href=(format!("/console/packages/{}", segment(&v.name))) { (v.title) } br; code { (v.name) } }
                        td { (v.version) @if v.yanked_at.is_some() { " (yanked)" } }
                        td.num { (count) }
                        td.num { (v.rule_count) }
                        td { (signer(v)) }
                        td { (time(v.published_at)) }
                    }
                }
            }
        }
    };
    let content = html! {
        (content)
        h2 { "Preview a candidate" }
        p { "What publishing a bundle (" code { "assay build -o FILE" } ") would change on the fleet: each rule that changes, and each host whose outcome would flip, evaluated on the hosts' latest telemetry. Nothing is published." }
        form.stack method="post" action="/console/packages/preview" enctype="multipart/form-data" {
            (layout::csrf(&session))
            label { "Bundle " input type="file" name="bundle" required; }
            label { "Signature (optional, " code { "FILE.minisig" } ") " input type="file" name="signature"; }
            button type="submit" { "Preview" }
        }
    };
    layout::page(&session, "packages", "Rules packages", content)
}

/// A form that cannot be read or lacks its file, said on the page.
fn bad_form(session: &Session, title: &str, message: String) -> Response {
    let failure = super::failure(axum::http::StatusCode::BAD_REQUEST, assay_api::ErrorCode::Invalid, message);
    layout::failed(session, "packages", title, failure)
}

/// `POST /console/packages/preview`: the candidate bundle's effect on the
/// fleet, through `POST /v1/packages/preview` (which writes nothing).
pub async fn preview(
    axum::extract::State(app): AppState,
    session: Session,
    mut form: axum::extract::Multipart,
) -> Response {
    let title = "Preview of a candidate";
    let mut csrf = String::new();
    let mut bundle = Vec::new();
    let mut signature = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return bad_form(&session, title, format!("the form could not be read: {e}")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => return bad_form(&session, title, format!("the form could not be read: {e}")),
        };
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            "bundle" => bundle = bytes.to_vec(),
            "signature" if !bytes.is_empty() => {
                signature = Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            _ => {}
        }
    }
    if bundle.is_empty() {
        return bad_form(&session, title, "choose a bundle file (`assay build -o FILE`)".to_owned());
    }
    let body = assay_api::admin::PublishBody {
        bundle: assay_model::hex::encode(&bundle),
        signature,
        sources: Vec::new(),
    };
    let api = Api::new(&app, &session);
    let d: Diff = match api.send(axum::http::Method::POST, "/v1/packages/preview", &body, &csrf).await {
        Ok(d) => d,
        Err(f) => return layout::failed(&session, "packages", title, f),
    };
    let content = html! {
        p { (assay_runtime::diff::summary_line(&d)) ", on " (d.hosts.len()) " host(s)' latest telemetry. Nothing was published." }
        @if d.rules.is_empty() {
            (layout::notice("Publishing it would change no rule and no outcome."))
        } @else {
            table {
                thead { tr { th { "Change" } th { "Rule" } th { "Title" } th { "Hosts that flip" } th.num { "Unchanged hosts" } } }
                tbody {
                    @for r in &d.rules {
                        tr {
                            td { (change(r.change)) }
                            td { code { (r.rule_id) } }
                            td { (r.title) }
                            td {
                                @for f in &r.flips {
                                    div { (f.host) ": " (f.old) " → " strong { (f.new) } }
                                }
                            }
                            td.num { (r.same_hosts) }
                        }
                    }
                }
            }
        }
        p { a href="/console/packages" { "Back to the packages" } }
    };
    layout::page(&session, "packages", title, content)
}

pub async fn package(
    axum::extract::State(app): AppState,
    session: Session,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let api = Api::new(&app, &session);
    let versions: PackageVersions = match api.get(&format!("/v1/packages/{}", segment(&name))).await {
        Ok(v) => v,
        Err(f) => return layout::failed(&session, "packages", "Rules packages", f),
    };
    let wanted = param(&q, "version");
    let shown = versions.items.iter().find(|v| v.version == wanted).or(versions.items.first());
    let Some(shown) = shown else {
        return layout::failed(
            &session,
            "packages",
            "Rules packages",
            super::failure(
                axum::http::StatusCode::NOT_FOUND,
                assay_api::ErrorCode::NotFound,
                format!("no rules package `{name}`"),
            ),
        );
    };
    let detail: PackageDetail =
        match api.get(&format!("/v1/packages/{}/{}", segment(&name), segment(&shown.version))).await {
            Ok(d) => d,
            Err(f) => return layout::failed(&session, "packages", "Rules packages", f),
        };
    let older = versions.items.get(1).map(|v| v.version.as_str()).unwrap_or(shown.version.as_str());
    let content = html! {
        p { (layout::prose(&detail.description)) }
        p.muted { "Package " code { (name) } " " (shown.version) ". " a href=(format!("/console/findings?package={}", segment(&name))) { "Its findings" } }
        h2 { "Versions" }
        table {
            thead { tr { th { "Version" } th.num { "Rules" } th { "Signer" } th { "Bundle" } th { "Sources" } th { "Published" } th { "" } } }
            tbody {
                @for v in &versions.items {
                    tr {
                        td { a href=(format!("/console/packages/{}?version={}", segment(&name), segment(&v.version))) { (v.version) } }
                        td.num { (v.rule_count) }
                        td { (signer(v)) }
                        td { code { (short(&v.bundle_digest)) } }
                        td { @if let Some(s) = &v.sources_digest { code { (short(s)) } } @else { span.muted { "not kept" } } }
                        td { (time(v.published_at)) " by " code { (v.published_by) } }
                        td { @if let Some(at) = v.yanked_at { "yanked " (time(at)) } }
                    }
                }
            }
        }
        @if versions.items.len() > 1 {
            form.inline method="get" action=(format!("/console/packages/{}/diff", segment(&name))) {
                label { "Compare " select name="from" { @for v in &versions.items { option value=(v.version) selected[v.version == older] { (v.version) } } } }
                label { " with " select name="to" { @for v in &versions.items { option value=(v.version) selected[v.version == shown.version] { (v.version) } } } }
                " " button type="submit" { "Compare" }
            }
        }
        h2 { "Rules of " (shown.version) }
        nav.toc aria-label="Rules" {
            ul { @for r in &detail.rules { li { a href=(format!("#{}", r.id)) { code { (r.id) } } " " (r.title) } } }
        }
        @for r in &detail.rules {
            article.rule id=(r.id) {
                h2 { code { (r.id) } " " (r.title) " " (layout::severity(r.severity)) }
                dl {
                    dt { "What is wrong" } dd { (layout::prose(&r.description)) }
                    dt { "Why it matters" } dd { (layout::prose(&r.rationale)) }
                    dt { "What to do" } dd { (layout::prose(&r.recommendation)) }
                    @if !r.references.is_empty() { dt { "References" } dd { (r.references.join("; ")) } }
                    @if !r.tags.is_empty() { dt { "Tags" } dd { (r.tags.join(", ")) } }
                }
                @if !r.doc.is_empty() { p { (layout::prose(&r.doc)) } }
            }
        }
    };
    layout::page(&session, "packages", &detail.version.title, content)
}

fn change(c: Change) -> Markup {
    html! { @match c { Change::Logic => strong { "logic" }, other => (other.word()) } }
}

pub async fn diff(
    axum::extract::State(app): AppState,
    session: Session,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let api = Api::new(&app, &session);
    let (from, to) = (param(&q, "from"), param(&q, "to"));
    let title = format!("{name} {from} → {to}");
    let path = format!("/v1/packages/{}/diff{}", segment(&name), super::query(&[("from", from), ("to", to)]));
    let d: Diff = match api.get(&path).await {
        Ok(d) => d,
        Err(f) => return layout::failed(&session, "packages", &title, f),
    };
    let content = html! {
        p {
            (assay_runtime::diff::summary_line(&d))
            ". Logic is compared on the compiled rules: reformatting is no change."
        }
        @if d.rules.is_empty() {
            (layout::notice("The two versions' rules do the same and say the same."))
        } @else {
            table {
                thead { tr { th { "Change" } th { "Rule" } th { "Title" } th { "Severity" } th { "Fields" } } }
                tbody {
                    @for r in &d.rules {
                        tr {
                            td { (change(r.change)) }
                            td { code { (r.rule_id) } }
                            td { (r.title) }
                            td {
                                @match (r.old_severity, r.new_severity) {
                                    (Some(a), Some(b)) => { (layout::severity(a)) " → " (layout::severity(b)) }
                                    (Some(a), None) | (None, Some(a)) => { (layout::severity(a)) }
                                    (None, None) => {}
                                }
                            }
                            td { (r.fields.join(", ")) }
                        }
                    }
                }
            }
        }
        p { a href=(format!("/console/packages/{}", segment(&name))) { "Back to " (name) } }
    };
    layout::page(&session, "packages", &title, content)
}
