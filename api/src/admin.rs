//! The admin API (`/v1`): what operators, the console and `assay fleet`
//! send and get back. Request bodies refuse unknown fields, so a misspelt
//! field is an error rather than a default.

use crate::vocab::{
    DeliveryState, Event, FindingEventKind, FindingState, Health, HealthCode, JobState, Role, RunAgentStatus,
    RunState,
};
use crate::{HostRef, SeverityCounts};
use assay_model::findings::Finding;
use assay_model::Severity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /v1/tokens`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub role: Role,
    /// What it is for (at most 128 characters).
    #[serde(default)]
    pub name: String,
    /// It stops working this long after its creation (60 s to 10 years);
    /// none: when revoked.
    #[serde(default)]
    pub expires_in_seconds: Option<i64>,
}

/// A minted API token: the token itself is shown this once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenCreated {
    pub id: String,
    pub role: Role,
    pub token: String,
    pub expires_at: Option<i64>,
}

/// An API token as `GET /v1/tokens` lists it (never the token itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenView {
    pub id: String,
    pub role: Role,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `POST /v1/tokens/revoke`: a token by its id, or the token itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum RevokeToken {
    Id { id: String },
    Token { token: String },
}

/// A revoked token: it and its console sessions are refused from now on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenRevoked {
    pub id: String,
    pub revoked: bool,
    /// Console sessions ended with it.
    pub sessions: u64,
}

/// `POST /v1/enrollments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollment {
    /// How many agents may enrol with it (1 to 100,000).
    #[serde(default = "one")]
    pub uses: i64,
    /// 60 s to a year.
    #[serde(default = "day")]
    pub expires_in_seconds: i64,
    /// Every agent enrolled with it gets these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Agents enrolled with it may add tags of their own (`assay agent
    /// --tag`) whose keys start with this prefix (`""`: any key); none:
    /// no tag of their own. The token's tags win.
    #[serde(default)]
    pub agent_tag_prefix: Option<String>,
}

fn one() -> i64 {
    1
}

fn day() -> i64 {
    86_400
}

/// An enrolment token: shown this once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnrollmentCreated {
    pub id: String,
    pub token: String,
    pub uses: i64,
    pub expires_at: i64,
    pub tags: BTreeMap<String, String>,
    pub agent_tag_prefix: Option<String>,
}

/// `PUT /v1/agents/{id}/tags` (admin): an agent's tags, replaced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentTags {
    pub tags: BTreeMap<String, String>,
}

/// An enrolled agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentView {
    pub id: String,
    /// As reported at enrolment.
    pub hostname: String,
    /// As reported with its last heartbeats.
    pub addresses: Vec<String>,
    pub machine_id: String,
    /// An os-release ID (`debian`).
    pub os: String,
    pub tags: BTreeMap<String, String>,
    pub enrolled_at: i64,
    pub last_seen: i64,
    pub health: Health,
    pub health_code: HealthCode,
    pub health_detail: String,
    pub revoked: bool,
    /// Other agents (not revoked) that reported the same machine-id at
    /// enrolment: a cloned image, flagged on every one of them.
    pub same_machine_id: Vec<String>,
}

/// `POST /v1/agents/{id}/revoke`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Revoked {
    pub agent: String,
    pub revoked: bool,
}

/// A target's criterion: an agent matches with the tag `key` (and `value`,
/// when given).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagFilter {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl std::fmt::Display for TagFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={v}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// `POST /v1/targets`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTarget {
    pub name: String,
    /// An agent is in the target when ANY of these matches.
    pub tags: Vec<TagFilter>,
}

/// `PUT /v1/targets/{name}`: a target's new criteria.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetTags {
    /// An agent is in the target when ANY of these matches.
    pub tags: Vec<TagFilter>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetView {
    pub name: String,
    pub tags: Vec<TagFilter>,
    pub created_at: i64,
}

/// `GET /v1/targets/{name}/preview`: the agents a target matches now,
/// and why a run started now would leave any of them out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetPreview {
    pub target: String,
    pub tags: Vec<TagFilter>,
    pub agents: Vec<PreviewAgent>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreviewAgent {
    #[serde(flatten)]
    pub agent: AgentView,
    /// Why it would not be in a run started now (in another run, UNKNOWN,
    /// UNHEALTHY).
    pub excluded: Option<String>,
    /// With `?template=`: the template's packages that would skip it (not
    /// for its platform).
    pub packages_excluded: Vec<String>,
}

/// A webhook of a template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// `http://` or `https://`.
    pub url: String,
    pub events: Vec<Event>,
}

/// `PUT /v1/templates/{name}`: a template, or a new version of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    pub target: String,
    pub packages: Vec<String>,
    /// How long agents collect: 60 to 86,400.
    #[serde(default = "hour")]
    pub duration_seconds: i64,
    /// Added to every finding.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Package parameters (`PACKAGE.NAME`, or `NAME` where one package
    /// declares it, → a value of its type), checked against the packages.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// A cron expression (UTC) that starts runs on time.
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub notifications: Vec<Notification>,
}

fn hour() -> i64 {
    3600
}

/// One version of a template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateView {
    pub name: String,
    pub version: i64,
    pub target: String,
    pub packages: Vec<String>,
    pub duration_seconds: i64,
    pub attributes: BTreeMap<String, String>,
    /// Package parameters, `PACKAGE.NAME` → typed value (absent from
    /// servers older than parameters).
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    pub schedule: Option<String>,
    pub notifications: Vec<Notification>,
    pub created_at: i64,
}

/// `GET /v1/templates/{name}`: every version, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateVersions {
    pub name: String,
    pub versions: Vec<TemplateView>,
}

/// `DELETE /v1/targets/{name}` and `DELETE /v1/templates/{name}`: the
/// name is free again; runs keep what they ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deleted {
    pub name: String,
    pub deleted: bool,
}

/// `POST /v1/runs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    pub template: String,
}

/// `POST /v1/runs/{id}/stop` (the body is optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopRun {
    /// Cancel without evaluating what arrived.
    #[serde(default)]
    pub skip_evaluation: bool,
}

/// A run in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSummary {
    pub id: String,
    pub template: String,
    pub template_version: i64,
    pub state: RunState,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// A run with its history, agents, exclusions, deliveries and findings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunView {
    pub id: String,
    pub template: String,
    pub template_version: i64,
    pub state: RunState,
    pub created_at: i64,
    pub collect_until: i64,
    pub finished_at: Option<i64>,
    pub history: Vec<StateChange>,
    pub agents: Vec<RunAgentView>,
    /// Agents left out of the evaluation, or of a package, and why.
    pub exclusions: Vec<Exclusion>,
    /// The webhook deliveries of the run's events.
    pub notifications: Vec<Delivery>,
    /// The run's findings by severity (waived ones included).
    pub findings: SeverityCounts,
}

impl RunView {
    /// The run as lists show it.
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            id: self.id.clone(),
            template: self.template.clone(),
            template_version: self.template_version,
            state: self.state,
            created_at: self.created_at,
            finished_at: self.finished_at,
        }
    }

    /// The agents that delivered their telemetry.
    pub fn delivered(&self) -> usize {
        self.agents.iter().filter(|a| a.status == RunAgentStatus::Delivered).count()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StateChange {
    pub state: RunState,
    pub at: i64,
}

/// An agent of a run: its collection, upload and evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunAgentView {
    pub agent: String,
    pub hostname: String,
    pub status: RunAgentStatus,
    /// Chunks of its upload accepted, of the total it announced.
    pub chunks_received: i64,
    pub chunks_total: i64,
    /// The evaluation of its telemetry, once delivered.
    pub evaluation: Option<JobState>,
    pub evaluation_attempts: Option<i64>,
    /// The hostname its telemetry claimed, when it is not the one the
    /// agent was enrolled with (findings and reports use the enrolled one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_hostname: Option<String>,
}

/// A host left out of a run's evaluation (or of one of its packages).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Exclusion {
    #[serde(flatten)]
    pub host: HostRef,
    pub reason: String,
}

/// A webhook delivery of one event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Delivery {
    pub url: String,
    pub event: Event,
    pub state: DeliveryState,
    pub attempts: i64,
    /// The last failure; to a read-only caller only that it failed.
    pub error: Option<String>,
    pub sent_at: Option<i64>,
}

/// A finding of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FindingView {
    /// The cursor-ordered id (`POST /v1/findings/{id}/attributes`).
    pub id: String,
    pub run_id: String,
    pub agent_id: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// A finding of the fleet (the latest evaluation of an agent) with its
/// lifecycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetFindingView {
    pub agent_id: String,
    #[serde(flatten)]
    pub finding: Finding,
    pub state: FindingState,
    pub first_seen: i64,
    pub last_seen: i64,
    pub resolved_at: Option<i64>,
    /// With `GET /v1/fleet-findings/{agent}/{fingerprint}`: every change
    /// and its cause, oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<FindingChange>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FindingChange {
    pub event: FindingEventKind,
    /// `run ...`, `feed ... imported`, `waivers ... uploaded`, ...
    pub cause: String,
    pub at: i64,
}

/// `POST .../attributes`: added to the finding (a key given again takes
/// the new value).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttributes {
    pub attributes: BTreeMap<String, String>,
}

/// An entry of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    /// An API token's id, an agent's id, or the part of the server that
    /// acted (`schedule`).
    pub actor: String,
    /// `run.start`, `agent.revoke`, ...
    pub action: String,
    /// What the action concerned; its fields depend on the action.
    pub detail: serde_json::Value,
}

/// `PUT /v1/feed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeedImported {
    pub digest: String,
    pub advisories: u64,
    /// Agents whose latest telemetry is re-evaluated with it.
    pub agents_queued: u64,
}

/// `GET /v1/feed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeedView {
    pub digest: String,
    pub advisories: u64,
    pub imported_at: i64,
    pub reevaluations_pending: u64,
}

/// `PUT /v1/waivers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaiversUploaded {
    pub digest: String,
    pub waivers: u64,
    pub agents_queued: u64,
}

/// `GET /v1/overview`: what the console's first page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Overview {
    /// Agents by health (every health, zero included).
    pub agents: BTreeMap<Health, u64>,
    pub runs_in_progress: Vec<RunSummary>,
    /// The fleet's open findings (distinct agent and fingerprint) at the
    /// end of each of the last 14 days (UTC), oldest first.
    pub findings_per_day: Vec<DayCounts>,
    /// The rules open on the most hosts, most serious first.
    pub top_rules: Vec<TopRule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DayCounts {
    /// The day's start (UTC).
    pub day: i64,
    #[serde(flatten)]
    pub counts: SeverityCounts,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TopRule {
    pub rule_id: String,
    pub title: Option<String>,
    pub package: String,
    pub severity: Severity,
    /// Hosts it is open on.
    pub hosts: u64,
}

/// `GET /v1/packages`: the rules packages this server evaluates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Packages {
    pub items: Vec<PackageView>,
    pub bundle_digest: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PackageView {
    pub name: String,
    pub title: String,
    pub version: String,
    pub description: String,
    /// os-release IDs it is for; empty: every platform.
    pub platforms: Vec<String>,
    pub rules: Vec<RuleDoc>,
}

/// A rule's documentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleDoc {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub doc: String,
    pub description: String,
    pub rationale: String,
    pub recommendation: String,
    pub references: Vec<String>,
    pub tags: Vec<String>,
}

/// `POST /v1/packages`: publish the packages of a bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// The bundle file (`assay build -o FILE`), hex-encoded.
    pub bundle: String,
    /// The signature file's text (`FILE.minisig` from `assay build --sign`,
    /// docs/signing.md); required by a server that trusts keys.
    #[serde(default)]
    pub signature: Option<String>,
    /// The packages' source files, kept so a later server can rebuild them;
    /// checked against a signature's sources digests.
    #[serde(default)]
    pub sources: Vec<PackageSources>,
}

/// One package's source files, paths relative to its folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageSources {
    pub name: String,
    pub files: Vec<SourceFile>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// What a publication did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Published {
    pub bundle_digest: String,
    /// The trusted key that verified the signature; none: unsigned, or
    /// signed but this server trusts no key.
    pub signer: Option<String>,
    pub packages: Vec<PublishedPackage>,
    /// Agents whose latest telemetry is re-evaluated with the new versions.
    pub agents_queued: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PublishedPackage {
    pub name: String,
    pub version: String,
    /// False when this version was already published with the same content.
    pub new: bool,
}

/// One published version of a package.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PackageVersionView {
    pub name: String,
    pub version: String,
    pub title: String,
    pub rule_count: u64,
    pub bundle_digest: String,
    /// What the package's rules do and say (docs/server.md): equal for the
    /// same package however it was built or packed.
    pub content_digest: String,
    pub sources_digest: Option<String>,
    /// The trusted key that verified its bundle; none: unsigned.
    pub signer: Option<String>,
    /// Published by the server itself, from its built-in packages.
    pub builtin: bool,
    pub published_by: String,
    pub published_at: i64,
    /// Yanked versions stay for history and the runs that used them; new
    /// templates cannot name them.
    pub yanked_at: Option<i64>,
    /// The token that yanked it.
    pub yanked_by: Option<String>,
}

/// Published package versions, by name and newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PackageVersions {
    pub items: Vec<PackageVersionView>,
}

/// One published version with its documentation and rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PackageDetail {
    #[serde(flatten)]
    pub version: PackageVersionView,
    pub description: String,
    pub platforms: Vec<String>,
    pub rules: Vec<RuleDoc>,
}

/// `GET /v1/installed?name=...`: a package installed on an agent, as its
/// latest evaluated telemetry lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstalledView {
    pub agent: String,
    /// As the agent was enrolled.
    pub hostname: String,
    pub tags: BTreeMap<String, String>,
    pub package: InstalledPackage,
    /// When the telemetry it was read from arrived (Unix ms).
    pub received_at: i64,
}

/// An installed package.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstalledPackage {
    pub ecosystem: assay_model::telemetry::Ecosystem,
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// The source package it was built from, where the database says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Its Package URL (`pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// `GET /v1/agents/{id}/packages`: the packages of an agent's latest
/// evaluated telemetry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentPackages {
    pub agent: String,
    /// The run whose telemetry they were read from, and when it arrived
    /// (Unix ms); both absent while no telemetry of the agent has been
    /// evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<i64>,
    pub packages: Vec<InstalledPackage>,
}

/// `PUT /v1/vex`: the fleet's VEX documents (OpenVEX 0.2 or CycloneDX VEX),
/// replacing the set in use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VexUpload {
    pub documents: Vec<VexDocument>,
}

/// One VEX document, as uploaded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VexDocument {
    /// Its file name, for messages and a finding's `suppressed.source`.
    pub name: String,
    /// The JSON document.
    pub text: String,
}

/// `PUT /v1/vex`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VexUploaded {
    pub digest: String,
    pub documents: u64,
    pub statements: u64,
    pub agents_queued: u64,
}

/// `GET /v1/vex`: the VEX documents in use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VexSet {
    pub digest: String,
    pub statements: u64,
    pub uploaded_at: i64,
    pub documents: Vec<VexDocument>,
}
