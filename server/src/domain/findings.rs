//! Findings: a run's (as evaluated), and the fleet's (each agent's latest
//! evaluation, with a lifecycle that [`reconcile`] keeps current), user
//! attributes on both, and the filters operators page through.

use super::auth::{self, Caller};
use super::{App, Error, PageRequest, Result};
use crate::ids::now;
use crate::store::{findings as rows, Conn};
use assay_api::admin::{FindingView, FleetFindingView, NewAttributes};
use assay_api::{FindingEventKind, FindingState, Page, Role, Severity};
use assay_model::findings::{Finding, KeyValue, Outcome, Report};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// What a run findings list keeps (empty: any).
#[derive(Clone, Debug, Default)]
pub(crate) struct RunFilter {
    pub run: String,
    pub severity: Option<Severity>,
    pub rule: String,
    pub agent: String,
    /// `KEY=VALUE`, or `KEY` for any value.
    pub attribute: Option<String>,
}

/// What a fleet findings list keeps (empty: any).
#[derive(Clone, Debug, Default)]
pub(crate) struct FleetFilter {
    pub state: Option<FindingState>,
    pub severity: Option<Severity>,
    pub rule: String,
    pub agent: String,
    pub package: String,
    pub attribute: Option<String>,
}

/// `KEY=VALUE` or `KEY` as (key, value or "").
fn attribute_filter(attribute: Option<&str>) -> Option<(&str, &str)> {
    attribute.filter(|a| !a.is_empty()).map(|a| a.split_once('=').unwrap_or((a, "")))
}

/// Whether `finding` carries attribute `key` (with `value`, unless empty).
fn has_attribute(finding: &Finding, (key, value): (&str, &str)) -> bool {
    finding.attributes.iter().any(|a| a.key == key && (value.is_empty() || a.value == value))
}

/// Adds (or replaces, key by key) attributes in a finding's list.
fn merge_attributes(finding: &mut Finding, added: &BTreeMap<String, String>) {
    for (key, value) in added {
        finding.attributes.retain(|a| &a.key != key);
        finding.attributes.push(KeyValue { key: key.clone(), value: value.clone() });
    }
}

fn valid_attributes(attributes: &BTreeMap<String, String>) -> Result<()> {
    if attributes.is_empty()
        || attributes.len() > 50
        || attributes.iter().any(|(k, v)| k.is_empty() || k.len() > 128 || v.len() > 256)
    {
        return Err(Error::Invalid(
            "1 to 50 attributes, keys of 1 to 128 and values of at most 256 characters".into(),
        ));
    }
    Ok(())
}

fn run_view(r: rows::RunFinding) -> FindingView {
    FindingView { id: r.seq.to_string(), run_id: r.run_id, agent_id: r.agent_id, finding: r.body.0 }
}

fn fleet_view(r: rows::FleetFinding) -> FleetFindingView {
    let mut finding = r.body.0;
    merge_attributes(&mut finding, &r.user_attributes.0);
    FleetFindingView {
        agent_id: r.agent_id,
        finding,
        state: r.state,
        first_seen: r.first_seen,
        last_seen: r.last_seen,
        resolved_at: r.resolved_at,
        history: None,
    }
}

/// `GET /v1/findings`: findings of runs, in the order they were written.
pub(crate) async fn list(
    app: &App,
    caller: &Caller,
    q: &RunFilter,
    page: &PageRequest,
) -> Result<Page<FindingView>> {
    caller.require(Role::ReadOnly)?;
    let mut cursor: i64 = match page.after.as_deref() {
        None => 0,
        Some(a) => {
            a.parse().map_err(|_| Error::Invalid(format!("`after={a}` is not a cursor of this list")))?
        }
    };
    let attribute = attribute_filter(q.attribute.as_deref());
    let limit = page.limit();
    let mut c = app.store.read().await?;
    // The attribute filter runs on the decoded finding: read pages until
    // `limit` are kept or the rows run out.
    let mut items = Vec::new();
    loop {
        let filter = rows::Filter {
            after: cursor,
            run: &q.run,
            severity: q.severity,
            rule: &q.rule,
            agent: &q.agent,
            limit,
        };
        let found = rows::list(&mut c, &filter).await?;
        let exhausted = (found.len() as i64) < limit;
        for r in found {
            cursor = r.seq;
            if attribute.is_none_or(|a| has_attribute(&r.body.0, a)) {
                items.push(run_view(r));
                if items.len() as i64 == limit {
                    break;
                }
            }
        }
        if exhausted || items.len() as i64 == limit {
            break;
        }
    }
    let next = (items.len() as i64 == limit).then(|| cursor.to_string());
    Ok(Page { items, next })
}

/// `GET /v1/fleet-findings`: by agent and fingerprint.
pub(crate) async fn fleet_list(
    app: &App,
    caller: &Caller,
    q: &FleetFilter,
    page: &PageRequest,
) -> Result<Page<FleetFindingView>> {
    caller.require(Role::ReadOnly)?;
    let (mut agent, mut fingerprint) = match page.after.as_deref() {
        None => (String::new(), String::new()),
        Some(a) => {
            let (x, y) = a
                .split_once('/')
                .ok_or_else(|| Error::Invalid(format!("`after={a}` is not a cursor of this list")))?;
            (x.to_owned(), y.to_owned())
        }
    };
    let attribute = attribute_filter(q.attribute.as_deref());
    let limit = page.limit();
    let mut c = app.store.read().await?;
    let mut items = Vec::new();
    loop {
        let filter = rows::FleetFilter {
            after: (&agent, &fingerprint),
            state: q.state,
            severity: q.severity,
            rule: &q.rule,
            agent: &q.agent,
            package: &q.package,
            limit,
        };
        let found = rows::fleet_list(&mut c, &filter).await?;
        let exhausted = (found.len() as i64) < limit;
        for r in found {
            (agent, fingerprint) = (r.agent_id.clone(), r.fingerprint.clone());
            let view = fleet_view(r);
            if attribute.is_none_or(|a| has_attribute(&view.finding, a)) {
                items.push(view);
                if items.len() as i64 == limit {
                    break;
                }
            }
        }
        if exhausted || items.len() as i64 == limit {
            break;
        }
    }
    let next = (items.len() as i64 == limit).then(|| format!("{agent}/{fingerprint}"));
    Ok(Page { items, next })
}

/// `GET /v1/fleet-findings/{agent}/{fingerprint}`: with its history.
pub(crate) async fn fleet_get(
    app: &App,
    caller: &Caller,
    agent: &str,
    fingerprint: &str,
) -> Result<FleetFindingView> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let found = rows::fleet_get(&mut c, agent, fingerprint).await?;
    let found = found.ok_or_else(|| Error::NotFound("no such finding".into()))?;
    let history = rows::history(&mut c, agent, fingerprint).await?;
    Ok(FleetFindingView { history: Some(history), ..fleet_view(found) })
}

/// Merges `added` into a fleet finding's user attributes; false when
/// there is no such finding.
async fn add_user_attributes(
    c: &mut Conn,
    agent: &str,
    fingerprint: &str,
    added: &BTreeMap<String, String>,
) -> Result<bool> {
    let Some(found) = rows::fleet_get(c, agent, fingerprint).await? else { return Ok(false) };
    let mut attributes = found.user_attributes.0;
    attributes.extend(added.iter().map(|(k, v)| (k.clone(), v.clone())));
    rows::set_user_attributes(c, agent, fingerprint, &attributes).await?;
    Ok(true)
}

/// `POST /v1/fleet-findings/{agent}/{fingerprint}/attributes`: user
/// attributes outlive re-evaluations (kept apart from the evaluated
/// finding) and go to the agent's latest run finding of the same
/// fingerprint too.
pub(crate) async fn add_fleet_attributes(
    app: &App,
    caller: &Caller,
    agent: &str,
    fingerprint: &str,
    req: NewAttributes,
) -> Result<FleetFindingView> {
    caller.require(Role::Operator)?;
    valid_attributes(&req.attributes)?;
    let mut tx = app.store.write().await?;
    if !add_user_attributes(&mut tx, agent, fingerprint, &req.attributes).await? {
        return Err(Error::NotFound("no such finding".into()));
    }
    if let Some(mut latest) = rows::latest(&mut tx, agent, fingerprint).await? {
        merge_attributes(&mut latest.body.0, &req.attributes);
        rows::set_body(&mut tx, latest.seq, &latest.body.0).await?;
    }
    let found = rows::fleet_get(&mut tx, agent, fingerprint).await?;
    let found = found.ok_or_else(|| Error::Internal("the finding vanished".into()))?;
    tx.commit().await?;
    let detail = json!({ "agent": agent, "fingerprint": fingerprint, "attributes": req.attributes });
    auth::audit(app, &caller.token_id, "finding.attributes", detail).await?;
    Ok(fleet_view(found))
}

/// `POST /v1/findings/{id}/attributes`: on the run finding, and on the
/// fleet finding of the same agent and fingerprint.
pub(crate) async fn add_attributes(
    app: &App,
    caller: &Caller,
    id: &str,
    req: NewAttributes,
) -> Result<FindingView> {
    caller.require(Role::Operator)?;
    let seq: i64 = id.parse().map_err(|_| Error::NotFound(format!("no finding `{id}`")))?;
    valid_attributes(&req.attributes)?;
    let mut tx = app.store.write().await?;
    let mut found =
        rows::get(&mut tx, seq).await?.ok_or_else(|| Error::NotFound(format!("no finding `{id}`")))?;
    merge_attributes(&mut found.body.0, &req.attributes);
    rows::set_body(&mut tx, seq, &found.body.0).await?;
    add_user_attributes(&mut tx, &found.agent_id, &found.body.0.fingerprint, &req.attributes).await?;
    tx.commit().await?;
    auth::audit(
        app,
        &caller.token_id,
        "finding.attributes",
        json!({ "finding": id, "attributes": req.attributes }),
    )
    .await?;
    Ok(run_view(found))
}

/// Fleet findings an earlier release fingerprinted by their message keep
/// their state, history and attributes: a known fingerprint that is a new
/// finding's legacy one is renamed to the new one before reconciling, in
/// the database and in `known` (the agent's fleet findings, read once).
async fn rekey_legacy(
    c: &mut Conn,
    agent: &str,
    report: &Report,
    known: &mut BTreeMap<String, (String, FindingState)>,
) -> Result<()> {
    for f in &report.findings {
        if known.contains_key(&f.fingerprint) {
            continue;
        }
        let old = assay_model::findings::legacy_fingerprint(&f.rule_id, &f.asset.id, &f.message);
        // Taken out of `known` once renamed: each legacy row is renamed
        // at most once, to the first finding that claims it.
        if let Some(kept) = known.remove(&old) {
            rows::rekey(c, agent, &old, &f.fingerprint).await?;
            known.insert(f.fingerprint.clone(), kept);
        }
    }
    Ok(())
}

/// Brings the fleet's findings of `agent` in line with a new evaluation:
/// a finding seen again stays open (or reopens), a new one opens, and an
/// open one whose rule now passes or does not apply is resolved. A rule
/// that was skipped or failed to evaluate changes nothing.
pub(crate) async fn reconcile(
    c: &mut Conn,
    agent: &str,
    report: &Report,
    asset: &str,
    cause: &str,
) -> Result<()> {
    let at = now();
    let decided: BTreeSet<&str> = report
        .rules
        .iter()
        .filter(|r| {
            matches!(r.outcome, Outcome::Passed | Outcome::NotApplicable { .. } | Outcome::Failed { .. })
        })
        .map(|r| r.rule_id.as_str())
        .collect();
    let mut known: BTreeMap<String, (String, FindingState)> = rows::fleet_of_agent(c, agent)
        .await?
        .into_iter()
        .map(|k| (k.fingerprint, (k.rule_id, k.state)))
        .collect();
    rekey_legacy(c, agent, report, &mut known).await?;
    // Each fingerprint once: one upsert may not touch a row twice.
    let mut unique = BTreeSet::new();
    let seen: Vec<(&Finding, FindingState)> = report
        .findings
        .iter()
        .filter(|f| !f.rule_id.ends_with(":no-findings") && unique.insert(f.fingerprint.as_str()))
        // A finding a waiver accepts, or a VEX statement suppresses, is an
        // accepted exception: `waived`, the finding naming which.
        .map(|f| {
            let accepted = f.waived.is_some() || f.suppressed.is_some();
            (f, if accepted { FindingState::Waived } else { FindingState::Open })
        })
        .collect();
    let mut events: Vec<(&str, FindingEventKind)> = Vec::new();
    for (f, state) in &seen {
        let event = match (known.get(&f.fingerprint).map(|(_, s)| *s), state) {
            (None, FindingState::Waived) => Some(FindingEventKind::Waived),
            (None, _) => Some(FindingEventKind::Opened),
            (Some(FindingState::Resolved), FindingState::Open) => Some(FindingEventKind::Reopened),
            (Some(before), FindingState::Waived) if before != FindingState::Waived => {
                Some(FindingEventKind::Waived)
            }
            (Some(FindingState::Waived), FindingState::Open) => Some(FindingEventKind::Unwaived),
            _ => None,
        };
        if let Some(event) = event {
            events.push((f.fingerprint.as_str(), event));
        }
    }
    rows::upsert_fleet(c, agent, &seen, asset, at).await?;
    let seen: BTreeSet<&str> = unique;
    let resolved: Vec<&str> = known
        .iter()
        .filter(|(fingerprint, (rule, state))| {
            matches!(state, FindingState::Open | FindingState::Waived)
                && !seen.contains(fingerprint.as_str())
                && decided.contains(rule.as_str())
        })
        .map(|(fingerprint, _)| fingerprint.as_str())
        .collect();
    rows::resolve(c, agent, &resolved, at).await?;
    events.extend(resolved.iter().map(|f| (*f, FindingEventKind::Resolved)));
    rows::insert_events(c, agent, &events, cause, at).await?;
    Ok(())
}
