//! The OpenAPI document of the admin API, generated: each operation is a
//! row of [`operations`] naming the `assay_api` types it takes and
//! answers, and their JSON schemas come from those types (schemars), so
//! the document describes what the server serializes and cannot drift
//! from it. Served at `/v1/openapi.json` without a token.

use assay_api::admin::*;
use assay_api::report::RunReport;
use assay_api::{ErrorBody, Page, Role};
use axum::response::IntoResponse;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What a request carries.
enum In {
    Nothing,
    Json(SchemaFn),
    /// Bytes of this media type.
    Bytes(&'static str),
    /// Optional JSON.
    MaybeJson(SchemaFn),
}

/// What a success answers.
enum Out {
    Json(SchemaFn),
    /// Text of this media type.
    Text(&'static str),
    /// Text of one of these media types (as the query asks).
    Texts(&'static [&'static str]),
    /// JSON, or with `format=html` one HTML page.
    JsonOrHtml(SchemaFn),
}

struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    role: Role,
    /// Query parameters: name, description.
    query: &'static [(&'static str, &'static str)],
    body: In,
    ok: (u16, Out),
    /// The errors it answers besides those every operation has (below).
    errors: &'static [u16],
}

const PAGE: [(&str, &str); 2] =
    [("limit", "items per page, 1 to 1000 (100)"), ("after", "the `next` of the previous page")];

fn operations() -> Vec<Operation> {
    use In::{Bytes, Json as Body, MaybeJson, Nothing};
    use Out::{Json, JsonOrHtml, Text, Texts};
    use Role::{Admin, Operator, ReadOnly};
    let op = |method, path, summary, role, query, body, ok, errors| Operation {
        method,
        path,
        summary,
        role,
        query,
        body,
        ok,
        errors,
    };
    vec![
        op("post", "/v1/tokens", "Mint an API token (shown once)", Admin, &[], Body(of::<NewToken>), (201, Json(of::<TokenCreated>)), &[400, 403, 422]),
        op("get", "/v1/tokens", "API tokens (never the tokens themselves)", Admin, &PAGE, Nothing, (200, Json(of::<Page<TokenView>>)), &[403, 422]),
        op("post", "/v1/tokens/revoke", "Revoke an API token, by its id or the token itself: it and its console sessions are refused at once", Admin, &[], Body(of::<RevokeToken>), (200, Json(of::<TokenRevoked>)), &[400, 403, 404, 409, 422]),
        op("put", "/v1/agents/{id}/tags", "Replace an agent's tags (which decide the targets it is in)", Admin, &[], Body(of::<AgentTags>), (200, Json(of::<AgentView>)), &[400, 403, 404, 422]),
        op("post", "/v1/enrollments", "Create an agent enrolment token (shown once)", Operator, &[], Body(of::<NewEnrollment>), (201, Json(of::<EnrollmentCreated>)), &[400, 403, 422]),
        op("get", "/v1/agents", "Agents with their health, by tag (`tag` repeats: any matches) and health", ReadOnly, &[("tag", "`KEY` or `KEY=VALUE`"), ("health", "HEALTHY, UNHEALTHY or UNKNOWN"), PAGE[0], PAGE[1]], Nothing, (200, Json(of::<Page<AgentView>>)), &[403, 422]),
        op("get", "/v1/agents/{id}", "An agent", ReadOnly, &[], Nothing, (200, Json(of::<AgentView>)), &[403, 404]),
        op("post", "/v1/agents/{id}/revoke", "Revoke an agent: its certificates stop working at once and it leaves the runs it is in", Operator, &[], Nothing, (200, Json(of::<Revoked>)), &[403, 404, 409]),
        op("get", "/v1/agents/{id}/packages", "The packages of an agent's latest evaluated telemetry, with their Package URLs", ReadOnly, &[], Nothing, (200, Json(of::<AgentPackages>)), &[403, 404]),
        op("get", "/v1/agents/{id}/sbom", "The SBOM of an agent's latest telemetry (as `assay sbom` writes it), the host named as enrolled", ReadOnly, &[("format", "`cyclonedx` (CycloneDX 1.6, the default) or `spdx` (SPDX 2.3)")], Nothing, (200, Texts(&["application/vnd.cyclonedx+json", "application/spdx+json"])), &[403, 404, 422]),
        op("get", "/v1/inventory", "The agents whose latest evaluated telemetry has a package, by name or Package URL, with each installed version; paged by agent", ReadOnly, &[("name", "a package name (PyPI names as PEP 503 normalizes them)"), ("ecosystem", "debian (deb), rpm, alpine (apk) or pypi"), ("version", "a version requirement, `<3.0.13` or `>=1.1.1,<1.1.1w`, compared as the ecosystem orders versions"), ("purl", "a Package URL instead of a name: without a version it names every version; the qualifiers it gives must match"), PAGE[0], PAGE[1]], Nothing, (200, Json(of::<Page<InstalledView>>)), &[403, 422]),
        op("post", "/v1/targets", "Create a target: agents with ANY of the tags", Operator, &[], Body(of::<NewTarget>), (201, Json(of::<TargetView>)), &[400, 403, 409, 422]),
        op("get", "/v1/targets", "Targets", ReadOnly, &PAGE, Nothing, (200, Json(of::<Page<TargetView>>)), &[403, 422]),
        op("delete", "/v1/targets/{name}", "Delete a target (refused while a template or an unfinished run uses it)", Operator, &[], Nothing, (200, Json(of::<Deleted>)), &[403, 404, 409]),
        op("put", "/v1/targets/{name}", "Replace a target's tag criteria (runs that started keep their agents)", Operator, &[], Body(of::<TargetTags>), (200, Json(of::<TargetView>)), &[403, 404, 413, 415, 422]),
        op("get", "/v1/targets/{name}/preview", "The agents a target matches now, with why any would be excluded", ReadOnly, &[("template", "also the packages of this template that would skip each agent")], Nothing, (200, Json(of::<TargetPreview>)), &[403, 404]),
        op("get", "/v1/templates", "Templates, latest version of each", ReadOnly, &PAGE, Nothing, (200, Json(of::<Page<TemplateView>>)), &[403, 422]),
        op("put", "/v1/templates/{name}", "Create a template (201) or a new version of it (200)", Operator, &[], Body(of::<TemplateBody>), (200, Json(of::<TemplateView>)), &[400, 403, 404, 409, 422]),
        op("get", "/v1/templates/{name}", "Every version of a template", ReadOnly, &[], Nothing, (200, Json(of::<TemplateVersions>)), &[403, 404]),
        op("delete", "/v1/templates/{name}", "Delete a template (refused while a run of it has not finished)", Operator, &[], Nothing, (200, Json(of::<Deleted>)), &[403, 404, 409]),
        op("post", "/v1/runs", "Start a run of a template's latest version (409 agents_in_run when its agents are in another run)", Operator, &[], Body(of::<NewRun>), (201, Json(of::<RunView>)), &[400, 403, 404, 409, 422]),
        op("get", "/v1/runs", "Runs, newest first", ReadOnly, &PAGE, Nothing, (200, Json(of::<Page<RunSummary>>)), &[403, 422]),
        op("get", "/v1/runs/{id}", "A run: state, history, agents, exclusions, deliveries, finding counts", ReadOnly, &[], Nothing, (200, Json(of::<RunView>)), &[403, 404]),
        op("post", "/v1/runs/{id}/stop", "Stop collecting; evaluate what arrived, or cancel", Operator, &[], MaybeJson(of::<StopRun>), (200, Json(of::<RunView>)), &[403, 404, 409, 422]),
        op("get", "/v1/runs/{id}/report", "The findings report (or full report) of a finished run, JSON or HTML", ReadOnly, &[("full", "`true`: every rule's outcome on every host too"), ("format", "`json` (the default) or `html`")], Nothing, (200, JsonOrHtml(of::<RunReport>)), &[403, 404, 409, 422]),
        op("get", "/v1/findings", "Findings of runs", ReadOnly, &[("run", "a run's id"), ("severity", "high, medium, low or informational"), ("rule", "a rule id"), ("agent", "an agent's id"), ("attribute", "`KEY=VALUE` or `KEY`"), PAGE[0], PAGE[1]], Nothing, (200, Json(of::<Page<FindingView>>)), &[403, 422]),
        op("post", "/v1/findings/{id}/attributes", "Add attributes to a finding (and to its fleet finding)", Operator, &[], Body(of::<NewAttributes>), (200, Json(of::<FindingView>)), &[400, 403, 404, 422]),
        op("get", "/v1/fleet-findings", "The fleet's findings with their lifecycle", ReadOnly, &[("state", "open, resolved or waived"), ("severity", "high, medium, low or informational"), ("rule", "a rule id"), ("agent", "an agent's id"), ("package", "a rules package"), ("attribute", "`KEY=VALUE` or `KEY`"), PAGE[0], PAGE[1]], Nothing, (200, Json(of::<Page<FleetFindingView>>)), &[403, 422]),
        op("get", "/v1/fleet-findings/{agent}/{fingerprint}", "A fleet finding with its history", ReadOnly, &[], Nothing, (200, Json(of::<FleetFindingView>)), &[403, 404]),
        op("post", "/v1/fleet-findings/{agent}/{fingerprint}/attributes", "Add user attributes to a fleet finding (kept across re-evaluations; also on its latest run finding)", Operator, &[], Body(of::<NewAttributes>), (200, Json(of::<FleetFindingView>)), &[400, 403, 404, 422]),
        op("put", "/v1/feed", "Upload a vulnerability feed (`assay feed import` output) and re-evaluate the fleet", Admin, &[], Bytes("application/octet-stream"), (200, Json(of::<FeedImported>)), &[403, 413, 422]),
        op("get", "/v1/feed", "The feed in use", ReadOnly, &[], Nothing, (200, Json(of::<FeedView>)), &[403, 404]),
        op("put", "/v1/waivers", "Upload the fleet's waiver file (YAML, docs/waivers.md) and re-evaluate the fleet with it", Admin, &[], Bytes("application/yaml"), (200, Json(of::<WaiversUploaded>)), &[403, 413, 422]),
        op("put", "/v1/vex", "Replace the fleet's VEX documents (OpenVEX 0.2 or CycloneDX VEX) and re-evaluate the fleet with them: the CVE findings a not_affected or fixed statement covers become waived, naming the statement", Admin, &[], Body(of::<VexUpload>), (200, Json(of::<VexUploaded>)), &[403, 422]),
        op("get", "/v1/vex", "The VEX documents in use", ReadOnly, &[], Nothing, (200, Json(of::<VexSet>)), &[403, 404]),
        op("get", "/v1/waivers", "The waiver file in use", ReadOnly, &[], Nothing, (200, Text("application/yaml")), &[403, 404]),
        op("get", "/v1/audit", "The audit log, oldest first", Admin, &PAGE, Nothing, (200, Json(of::<Page<AuditEntry>>)), &[403, 422]),
        op("get", "/v1/overview", "Agents by health, runs in progress, open findings per day and severity over 14 days, the rules open on most hosts", ReadOnly, &[], Nothing, (200, Json(of::<Overview>)), &[403]),
        op("get", "/v1/packages", "The rules packages this server evaluates, with every rule's documentation", ReadOnly, &[], Nothing, (200, Json(of::<Packages>)), &[403]),
        op("post", "/v1/packages", "Publish the packages of a bundle (each version immutable; signed by a trusted key when the server trusts any)", Admin, &[], Body(of::<PublishBody>), (200, Json(of::<Published>)), &[403, 409, 413, 415, 422]),
        op("post", "/v1/packages/preview", "What publishing a bundle would change on the fleet: every agent's latest telemetry evaluated with the published versions and with the candidate, nothing written", Admin, &[], Body(of::<PublishBody>), (200, Json(of::<assay_model::diff::Diff>)), &[403, 409, 413, 415, 422]),
        op("get", "/v1/package-versions", "Every published package version, by name and newest first", ReadOnly, &[], Nothing, (200, Json(of::<PackageVersions>)), &[403]),
        op("get", "/v1/packages/{name}", "The published versions of a package, newest first", ReadOnly, &[], Nothing, (200, Json(of::<PackageVersions>)), &[403, 404]),
        op("get", "/v1/packages/{name}/diff", "What changed between two published versions of a package, rule by rule", ReadOnly, &[("from", "the older version"), ("to", "the newer version")], Nothing, (200, Json(of::<assay_model::diff::Diff>)), &[403, 404, 422]),
        op("get", "/v1/packages/{name}/{version}", "A published package version with its rules' documentation", ReadOnly, &[], Nothing, (200, Json(of::<PackageDetail>)), &[403, 404, 503]),
        op("post", "/v1/packages/{name}/{version}/yank", "Yank a published version: kept for history and old runs, refused for new templates", Admin, &[], Nothing, (200, Json(of::<PackageVersionView>)), &[403, 404, 422]),
        op("get", "/metrics", "Prometheus metrics: agents by health, matching and healthy agents per target, runs by state, findings per template, the fleet's findings, queue depths, request counts and latencies", ReadOnly, &[], Nothing, (200, Text("text/plain; version=0.0.4")), &[403]),
    ]
}

fn json_content(schema: Schema) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn build() -> Result<Value, String> {
    let settings = |s: schemars::generate::SchemaSettings| {
        s.with(|s| {
            s.definitions_path = "#/components/schemas/".into();
            s.meta_schema = None;
        })
    };
    // Requests are described as the server reads them, answers as it
    // writes them; a type in both must read the same either way.
    let mut requests =
        settings(schemars::generate::SchemaSettings::draft2020_12().for_deserialize()).into_generator();
    let mut answers =
        settings(schemars::generate::SchemaSettings::draft2020_12().for_serialize()).into_generator();
    let error = answers.subschema_for::<ErrorBody>();
    let mut paths = Map::new();
    for o in operations() {
        let params: Vec<&str> =
            o.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        let mut parameters: Vec<Value> = params
            .iter()
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        parameters.extend(o.query.iter().map(|(name, description)| {
            json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } })
        }));
        let mut responses = Map::new();
        let ok = match o.ok.1 {
            Out::Json(f) => json!({ "description": "OK", "content": json_content(f(&mut answers)) }),
            Out::Text(media) => {
                json!({ "description": "OK", "content": { media: { "schema": { "type": "string" } } } })
            }
            Out::Texts(medias) => {
                let content: Map<String, Value> = medias
                    .iter()
                    .map(|m| (m.to_string(), json!({ "schema": { "type": "string" } })))
                    .collect();
                json!({ "description": "OK", "content": content })
            }
            Out::JsonOrHtml(f) => json!({ "description": "OK", "content": {
                "application/json": { "schema": f(&mut answers) },
                "text/html": { "schema": { "type": "string" } },
            } }),
        };
        responses.insert(o.ok.0.to_string(), ok);
        if o.method == "put" && o.ok.0 == 200 && o.path.starts_with("/v1/templates") {
            let created = responses.get("200").cloned().unwrap_or_default();
            responses.insert("201".to_owned(), created);
        }
        // Every operation may answer 401, 503, and 422 (a NUL in its path or
        // query); one with a JSON body, 415 without `Content-Type:
        // application/json` and 413 beyond the body limit.
        let json_body: &[u16] = match o.body {
            In::Json(_) | In::MaybeJson(_) => &[413, 415],
            In::Nothing | In::Bytes(_) => &[],
        };
        for status in o.errors.iter().chain(&[401, 422, 503]).chain(json_body) {
            responses.insert(status.to_string(), json!({ "$ref": "#/components/responses/Error" }));
        }
        let mut operation = json!({
            "summary": o.summary,
            "security": [{ "bearer": [] }],
            "x-assay-role": o.role.as_str(),
            "parameters": parameters,
            "responses": responses,
        });
        match o.body {
            In::Nothing => {}
            In::Json(f) => {
                operation["requestBody"] =
                    json!({ "required": true, "content": json_content(f(&mut requests)) })
            }
            In::MaybeJson(f) => {
                operation["requestBody"] =
                    json!({ "required": false, "content": json_content(f(&mut requests)) })
            }
            In::Bytes(media) => {
                operation["requestBody"] = json!({ "required": true, "content": { media: { "schema": { "type": "string", "contentMediaType": media } } } })
            }
        }
        let entry = paths.entry(o.path.to_owned()).or_insert_with(|| json!({}));
        entry[o.method] = operation;
    }
    let mut schemas = answers.take_definitions(true);
    for (name, schema) in requests.take_definitions(true) {
        match schemas.get(&name) {
            Some(other) if *other != schema => {
                return Err(format!("{name} is described differently as a request and as an answer"))
            }
            _ => {
                schemas.insert(name, schema);
            }
        }
    }
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Assay assessment service",
            "version": "1",
            "description": "The admin API of `assay server`. Every request carries `Authorization: Bearer TOKEN` (or a console session); roles are read-only < operator < admin. Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`. Lists page with a cursor: `next` is passed back as `after`. Times are Unix milliseconds. Generated from the types of the `assay-api` crate.",
        },
        "servers": [{ "url": "http://127.0.0.1:8443" }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": { "Error": { "description": "An error", "content": json_content(error) } },
            "schemas": schemas,
        },
        "paths": paths,
    }))
}

/// The document (made once).
pub(crate) fn document() -> Result<&'static Value, String> {
    static DOCUMENT: OnceLock<Result<Value, String>> = OnceLock::new();
    DOCUMENT.get_or_init(build).as_ref().map_err(Clone::clone)
}

pub(super) async fn serve() -> axum::response::Response {
    match document() {
        Ok(doc) => axum::Json(doc).into_response(),
        Err(e) => crate::domain::Error::Internal(format!("the OpenAPI document: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_generated_from_consistent_types() {
        let doc = super::document().map_err(|e| e.to_string());
        assert!(doc.is_ok(), "{doc:?}");
    }
}
