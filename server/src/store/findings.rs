//! What evaluations found: the findings of each run (unique per run,
//! agent and fingerprint, so a retried job never doubles one), each host's
//! report, and the fleet's findings with their lifecycle and its events.

use super::{placeholders, values, Conn, Json, Result, BATCH};
use assay_api::admin::FindingChange;
use assay_api::{FindingEventKind, FindingState, Severity, SeverityCounts};
use assay_model::findings::{AssetRef, Finding, Report};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

/// Stores a host's identity as its findings name it, once (by digest):
/// the digest they reference it by.
pub(crate) async fn put_asset(c: &mut Conn, asset: &AssetRef) -> Result<String> {
    let body = super::json(asset)?;
    let digest = crate::ids::digest(body.as_bytes());
    sqlx::query("INSERT INTO assets (digest, body) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(&digest)
        .bind(&body)
        .execute(c)
        .await?;
    Ok(digest)
}

/// A finding as stored: without its asset, which the row references.
fn stripped(f: &Finding) -> Result<String> {
    // Every field named (no `..`): a field added to `Finding` fails to
    // compile here rather than going unstored.
    let Finding {
        rule_id,
        package,
        package_version,
        title,
        severity,
        severity_score,
        description,
        recommendation,
        message,
        asset: _,
        attributes,
        evidence,
        fingerprint,
        bundle_digest,
        waived,
        suppressed,
        params,
    } = f;
    super::json(&Stored {
        rule_id,
        package,
        package_version,
        title,
        severity,
        severity_score: *severity_score,
        description,
        recommendation,
        message,
        attributes,
        evidence,
        fingerprint,
        bundle_digest,
        waived: waived.as_ref(),
        suppressed: suppressed.as_ref(),
        params,
    })
}

/// [`Finding`]'s fields but its asset, borrowed and serialised as
/// `Finding` serialises them: written straight to text, where going
/// through a `serde_json::Value` to drop the asset built a tree of every
/// finding twice per evaluation.
#[derive(serde::Serialize)]
struct Stored<'a> {
    rule_id: &'a str,
    package: &'a str,
    package_version: &'a str,
    title: &'a str,
    severity: &'a assay_model::Severity,
    severity_score: f64,
    description: &'a str,
    recommendation: &'a str,
    message: &'a str,
    attributes: &'a [assay_model::findings::KeyValue],
    evidence: &'a [assay_model::findings::Evidence],
    fingerprint: &'a str,
    bundle_digest: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    waived: Option<&'a assay_model::findings::Waived>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressed: Option<&'a assay_model::findings::Suppressed>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    params: &'a [assay_model::findings::KeyValue],
}

/// A stored finding with its asset put back (rows written before assets
/// were stored apart carry it in their body, and reference none).
fn with_asset(row: &AnyRow) -> Result<Finding> {
    let body: String = row.try_get("body")?;
    let asset: Option<String> = row.try_get("asset")?;
    let decode =
        |e: serde_json::Error| sqlx::Error::ColumnDecode { index: "body".into(), source: Box::new(e) };
    let mut value: serde_json::Value = serde_json::from_str(&body).map_err(decode)?;
    if let (Some(asset), Some(map)) = (asset, value.as_object_mut()) {
        map.insert("asset".into(), serde_json::from_str(&asset).map_err(decode)?);
    }
    serde_json::from_value(value).map_err(decode)
}

/// Inserts a host's findings of a run (again: no-op), naming the asset
/// stored as `asset`.
pub(crate) async fn insert(
    c: &mut Conn,
    run: &str,
    agent: &str,
    findings: &[Finding],
    asset: &str,
    now: i64,
) -> Result<()> {
    for batch in findings.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO findings (run_id, agent_id, rule_id, package, severity, fingerprint, body, created_at, asset) \
             VALUES {} ON CONFLICT DO NOTHING",
            values(c, batch.len(), 9)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for f in batch {
            insert = insert
                .bind(run.to_owned())
                .bind(agent.to_owned())
                .bind(f.rule_id.clone())
                .bind(f.package.clone())
                .bind(f.severity.as_str())
                .bind(f.fingerprint.clone())
                .bind(stripped(f)?)
                .bind(now)
                .bind(asset.to_owned());
        }
        insert.execute(&mut *c).await?;
    }
    Ok(())
}

/// A finding of a run.
#[derive(Debug)]
pub(crate) struct RunFinding {
    pub seq: i64,
    pub run_id: String,
    pub agent_id: String,
    pub body: Json<Finding>,
}

impl sqlx::FromRow<'_, AnyRow> for RunFinding {
    fn from_row(row: &AnyRow) -> Result<RunFinding> {
        Ok(RunFinding {
            seq: row.try_get("seq")?,
            run_id: row.try_get("run_id")?,
            agent_id: row.try_get("agent_id")?,
            body: Json(with_asset(row)?),
        })
    }
}

const RUN: &str = "SELECT f.seq, f.run_id, f.agent_id, f.body, a.body AS asset FROM findings f \
     LEFT JOIN assets a ON a.digest = f.asset";

/// Which findings of runs a page lists (empty: any).
pub(crate) struct Filter<'a> {
    pub after: i64,
    pub run: &'a str,
    pub severity: Option<Severity>,
    pub rule: &'a str,
    pub agent: &'a str,
    pub limit: i64,
}

pub(crate) async fn list(c: &mut Conn, f: &Filter<'_>) -> Result<Vec<RunFinding>> {
    let sql = format!(
        "{RUN} WHERE f.seq > $1 AND ($2 = '' OR f.run_id = $2) AND ($3 = '' OR f.severity = $3) \
         AND ($4 = '' OR f.rule_id = $4) AND ($5 = '' OR f.agent_id = $5) ORDER BY f.seq LIMIT $6"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(f.after)
        .bind(f.run)
        .bind(f.severity.map(Severity::as_str).unwrap_or_default())
        .bind(f.rule)
        .bind(f.agent)
        .bind(f.limit)
        .fetch_all(c)
        .await
}

pub(crate) async fn get(c: &mut Conn, seq: i64) -> Result<Option<RunFinding>> {
    let sql = format!("{RUN} WHERE f.seq = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(seq).fetch_optional(c).await
}

/// The latest run finding of `agent` with `fingerprint`.
pub(crate) async fn latest(c: &mut Conn, agent: &str, fingerprint: &str) -> Result<Option<RunFinding>> {
    let sql = format!("{RUN} WHERE f.agent_id = $1 AND f.fingerprint = $2 ORDER BY f.seq DESC LIMIT 1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(agent).bind(fingerprint).fetch_optional(c).await
}

/// Rewrites a run finding (its asset stays the one it references; a
/// finding from before assets were stored apart keeps its own).
pub(crate) async fn set_body(c: &mut Conn, seq: i64, body: &Finding) -> Result<()> {
    sqlx::query("UPDATE findings SET body = CASE WHEN asset IS NULL THEN $1 ELSE $2 END WHERE seq = $3")
        .bind(super::json(body)?)
        .bind(stripped(body)?)
        .bind(seq)
        .execute(c)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Count {
    #[sqlx(try_from = "String")]
    severity: Severity,
    n: i64,
}

/// The findings of `run` by severity.
pub(crate) async fn counts(c: &mut Conn, run: &str) -> Result<SeverityCounts> {
    let rows: Vec<Count> =
        sqlx::query_as("SELECT severity, COUNT(*) AS n FROM findings WHERE run_id = $1 GROUP BY severity")
            .bind(run)
            .fetch_all(c)
            .await?;
    let mut counts = SeverityCounts::default();
    for r in rows {
        counts.add(r.severity, r.n.max(0) as u64);
    }
    Ok(counts)
}

/// Findings of runs by template and severity (the metrics).
pub(crate) async fn counts_by_template(c: &mut Conn) -> Result<Vec<(String, Severity, i64)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        template: String,
        #[sqlx(try_from = "String")]
        severity: Severity,
        n: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.template, f.severity, COUNT(*) AS n FROM findings f JOIN runs r ON r.id = f.run_id \
         GROUP BY r.template, f.severity ORDER BY r.template, f.severity",
    )
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|r| (r.template, r.severity, r.n)).collect())
}

/// Writes (again: replaces) a host's report of a run.
pub(crate) async fn set_host_report(c: &mut Conn, run: &str, agent: &str, report: &Report) -> Result<()> {
    sqlx::query(
        "INSERT INTO host_reports (run_id, agent_id, body) VALUES ($1, $2, $3) \
         ON CONFLICT (run_id, agent_id) DO UPDATE SET body = EXCLUDED.body",
    )
    .bind(run)
    .bind(agent)
    .bind(super::json(report)?)
    .execute(c)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub(crate) struct HostReport {
    pub agent_id: String,
    #[sqlx(try_from = "String")]
    pub body: Json<Report>,
}

pub(crate) async fn host_reports(c: &mut Conn, run: &str) -> Result<Vec<HostReport>> {
    sqlx::query_as("SELECT agent_id, body FROM host_reports WHERE run_id = $1 ORDER BY agent_id")
        .bind(run)
        .fetch_all(c)
        .await
}

/// A fleet finding.
#[derive(Debug)]
pub(crate) struct FleetFinding {
    pub agent_id: String,
    pub fingerprint: String,
    pub state: FindingState,
    pub first_seen: i64,
    pub last_seen: i64,
    pub resolved_at: Option<i64>,
    pub body: Json<Finding>,
    /// Added by users; they outlive re-evaluations.
    pub user_attributes: Json<BTreeMap<String, String>>,
}

impl sqlx::FromRow<'_, AnyRow> for FleetFinding {
    fn from_row(row: &AnyRow) -> Result<FleetFinding> {
        let word = |column: &str| -> Result<String> { row.try_get(column) };
        let decode = |column: &'static str| {
            move |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::ColumnDecode {
                index: column.into(),
                source: e,
            }
        };
        Ok(FleetFinding {
            agent_id: row.try_get("agent_id")?,
            fingerprint: row.try_get("fingerprint")?,
            state: FindingState::parse(&word("state")?).map_err(|e| decode("state")(Box::new(e)))?,
            first_seen: row.try_get("first_seen")?,
            last_seen: row.try_get("last_seen")?,
            resolved_at: row.try_get("resolved_at")?,
            body: Json(with_asset(row)?),
            user_attributes: Json::try_from(word("user_attributes")?)
                .map_err(|e| decode("user_attributes")(Box::new(e)))?,
        })
    }
}

const FLEET: &str =
    "SELECT f.agent_id, f.fingerprint, f.state, f.first_seen, f.last_seen, f.resolved_at, f.body, \
     f.user_attributes, a.body AS asset FROM fleet_findings f LEFT JOIN assets a ON a.digest = f.asset";

/// Which fleet findings a page lists (empty: any), after `(agent,
/// fingerprint)`.
pub(crate) struct FleetFilter<'a> {
    pub after: (&'a str, &'a str),
    pub state: Option<FindingState>,
    pub severity: Option<Severity>,
    pub rule: &'a str,
    pub agent: &'a str,
    pub package: &'a str,
    pub limit: i64,
}

pub(crate) async fn fleet_list(c: &mut Conn, f: &FleetFilter<'_>) -> Result<Vec<FleetFinding>> {
    let sql = format!(
        "{FLEET} WHERE (f.agent_id > $1 OR (f.agent_id = $1 AND f.fingerprint > $2)) \
         AND ($3 = '' OR f.state = $3) AND ($4 = '' OR f.severity = $4) AND ($5 = '' OR f.rule_id = $5) \
         AND ($6 = '' OR f.agent_id = $6) AND ($7 = '' OR f.package = $7) ORDER BY f.agent_id, f.fingerprint LIMIT $8"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(f.after.0)
        .bind(f.after.1)
        .bind(f.state.map(FindingState::as_str).unwrap_or_default())
        .bind(f.severity.map(Severity::as_str).unwrap_or_default())
        .bind(f.rule)
        .bind(f.agent)
        .bind(f.package)
        .bind(f.limit)
        .fetch_all(c)
        .await
}

pub(crate) async fn fleet_get(c: &mut Conn, agent: &str, fingerprint: &str) -> Result<Option<FleetFinding>> {
    let sql = format!("{FLEET} WHERE f.agent_id = $1 AND f.fingerprint = $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(agent).bind(fingerprint).fetch_optional(c).await
}

pub(crate) async fn set_user_attributes(
    c: &mut Conn,
    agent: &str,
    fingerprint: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<()> {
    sqlx::query("UPDATE fleet_findings SET user_attributes = $1 WHERE agent_id = $2 AND fingerprint = $3")
        .bind(super::json(attributes)?)
        .bind(agent)
        .bind(fingerprint)
        .execute(c)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Event {
    #[sqlx(try_from = "String")]
    event: FindingEventKind,
    cause: String,
    at: i64,
}

/// A fleet finding's history, oldest first.
pub(crate) async fn history(c: &mut Conn, agent: &str, fingerprint: &str) -> Result<Vec<FindingChange>> {
    let rows: Vec<Event> = sqlx::query_as(
        "SELECT event, cause, at FROM finding_events WHERE agent_id = $1 AND fingerprint = $2 ORDER BY seq",
    )
    .bind(agent)
    .bind(fingerprint)
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|e| FindingChange { event: e.event, cause: e.cause, at: e.at }).collect())
}

/// A fleet finding's rule and state, as reconciliation needs them.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Known {
    pub fingerprint: String,
    pub rule_id: String,
    #[sqlx(try_from = "String")]
    pub state: FindingState,
}

pub(crate) async fn fleet_of_agent(c: &mut Conn, agent: &str) -> Result<Vec<Known>> {
    sqlx::query_as("SELECT fingerprint, rule_id, state FROM fleet_findings WHERE agent_id = $1")
        .bind(agent)
        .fetch_all(c)
        .await
}

/// The packages `agent` has fleet findings of.
pub(crate) async fn packages_of(c: &mut Conn, agent: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT package FROM fleet_findings WHERE agent_id = $1 ORDER BY package")
            .bind(agent)
            .fetch_all(c)
            .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

/// Writes fleet findings seen by an evaluation at `now`, of the asset
/// stored as `asset`: new ones with `now` as first seen, known ones keep
/// theirs; a resolved one reopens.
pub(crate) async fn upsert_fleet(
    c: &mut Conn,
    agent: &str,
    seen: &[(&Finding, FindingState)],
    asset: &str,
    now: i64,
) -> Result<()> {
    for batch in seen.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO fleet_findings (agent_id, fingerprint, rule_id, package, severity, state, first_seen, last_seen, body, asset) \
             VALUES {} ON CONFLICT (agent_id, fingerprint) DO UPDATE SET state = EXCLUDED.state, resolved_at = NULL, \
             last_seen = EXCLUDED.last_seen, body = EXCLUDED.body, severity = EXCLUDED.severity, asset = EXCLUDED.asset",
            values(c, batch.len(), 10)
        );
        let mut upsert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (f, state) in batch {
            upsert = upsert
                .bind(agent.to_owned())
                .bind(f.fingerprint.clone())
                .bind(f.rule_id.clone())
                .bind(f.package.clone())
                .bind(f.severity.as_str())
                .bind(state.as_str())
                .bind(now)
                .bind(now)
                .bind(stripped(f)?)
                .bind(asset.to_owned());
        }
        upsert.execute(&mut *c).await?;
    }
    Ok(())
}

/// Resolves fleet findings of `agent` at `now`.
pub(crate) async fn resolve(c: &mut Conn, agent: &str, fingerprints: &[&str], now: i64) -> Result<()> {
    for batch in fingerprints.chunks(BATCH) {
        let sql = format!(
            "UPDATE fleet_findings SET state = 'resolved', resolved_at = $1 WHERE agent_id = $2 AND fingerprint IN ({})",
            placeholders(3, batch.len())
        );
        let mut update = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(agent.to_owned());
        for fingerprint in batch {
            update = update.bind(fingerprint.to_string());
        }
        update.execute(&mut *c).await?;
    }
    Ok(())
}

/// Renames the fleet finding `old` of `agent` (and its history) to `new`.
pub(crate) async fn rekey(c: &mut Conn, agent: &str, old: &str, new: &str) -> Result<()> {
    for table in ["fleet_findings", "finding_events"] {
        let sql = format!("UPDATE {table} SET fingerprint = $1 WHERE agent_id = $2 AND fingerprint = $3");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(new).bind(agent).bind(old).execute(&mut *c).await?;
    }
    Ok(())
}

/// Records changes of fleet findings of `agent`, with their cause.
pub(crate) async fn insert_events(
    c: &mut Conn,
    agent: &str,
    events: &[(&str, FindingEventKind)],
    cause: &str,
    now: i64,
) -> Result<()> {
    for batch in events.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO finding_events (agent_id, fingerprint, event, cause, at) VALUES {}",
            values(c, batch.len(), 5)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (fingerprint, event) in batch {
            insert = insert
                .bind(agent.to_owned())
                .bind(fingerprint.to_string())
                .bind(event.as_str())
                .bind(cause.to_owned())
                .bind(now);
        }
        insert.execute(&mut *c).await?;
    }
    Ok(())
}

/// The fleet's findings by state and severity (the metrics).
pub(crate) async fn fleet_counts(c: &mut Conn) -> Result<Vec<(FindingState, Severity, i64)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(try_from = "String")]
        state: FindingState,
        #[sqlx(try_from = "String")]
        severity: Severity,
        n: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT state, severity, COUNT(*) AS n FROM fleet_findings GROUP BY state, severity ORDER BY state, severity",
    )
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|r| (r.state, r.severity, r.n)).collect())
}

/// A rule open on hosts of the fleet.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct OpenRule {
    pub rule_id: String,
    pub package: String,
    #[sqlx(try_from = "String")]
    pub severity: Severity,
    pub hosts: i64,
}

/// The rules open on the most hosts, most serious first, informational
/// ones left out.
pub(crate) async fn top_rules(c: &mut Conn, limit: i64) -> Result<Vec<OpenRule>> {
    sqlx::query_as(
        "SELECT rule_id, package, severity, COUNT(DISTINCT agent_id) AS hosts FROM fleet_findings \
         WHERE state = 'open' AND severity <> 'informational' GROUP BY rule_id, package, severity \
         ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, COUNT(DISTINCT agent_id) DESC, rule_id \
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(c)
    .await
}

/// The fleet findings open at the end of each day `ends` (Unix ms), by
/// severity: each finding's history is cut into intervals from one event
/// to the next, and a day counts the findings whose interval covering its
/// end began with an event that leaves them open.
pub(crate) async fn open_at(c: &mut Conn, ends: &[i64]) -> Result<Vec<SeverityCounts>> {
    let Some(first) = ends.first() else { return Ok(Vec::new()) };
    let sums: Vec<String> = (0..ends.len())
        .map(|i| {
            let p = i + 2;
            format!("CAST(SUM(CASE WHEN e.at <= ${p} AND (e.next_at IS NULL OR e.next_at > ${p}) THEN 1 ELSE 0 END) AS BIGINT)")
        })
        .collect();
    let sql = format!(
        "SELECT f.severity, {} FROM (SELECT agent_id, fingerprint, event, at, \
         LEAD(at) OVER (PARTITION BY agent_id, fingerprint ORDER BY seq) AS next_at FROM finding_events) e \
         JOIN fleet_findings f ON f.agent_id = e.agent_id AND f.fingerprint = e.fingerprint \
         WHERE e.event IN ('opened', 'reopened', 'unwaived') AND (e.next_at IS NULL OR e.next_at > $1) GROUP BY f.severity",
        sums.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*first);
    for end in ends {
        query = query.bind(*end);
    }
    let rows = query.fetch_all(c).await?;
    let mut out = vec![SeverityCounts::default(); ends.len()];
    for row in rows {
        use sqlx::Row;
        let severity: String = row.try_get(0)?;
        let severity = Severity::parse(&severity).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "severity".into(),
            source: format!("`{severity}` is not a severity").into(),
        })?;
        for (i, day) in out.iter_mut().enumerate() {
            let n: Option<i64> = row.try_get(i + 1)?;
            day.add(severity, n.unwrap_or(0).max(0) as u64);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_model::findings::{Evidence, KeyValue, Suppressed, Waived};

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue { key: key.into(), value: value.into() }
    }

    #[test]
    fn a_stored_finding_is_the_finding_without_its_asset() {
        let mut f = Finding {
            rule_id: "p:r".into(),
            package: "p".into(),
            package_version: "1.0.0".into(),
            title: "T \"quoted\"\u{0}".into(),
            severity: assay_model::Severity::High,
            severity_score: 7.5,
            description: "d".into(),
            recommendation: "r".into(),
            message: "m".into(),
            asset: AssetRef {
                id: "id".into(),
                hostname: "h".into(),
                tags: vec![kv("k", "v")],
                addresses: vec![],
            },
            attributes: vec![kv("a", "b")],
            evidence: vec![Evidence { path: "/etc/x".into(), value: "1".into(), source: Some("s".into()) }],
            fingerprint: "f".into(),
            bundle_digest: "b".into(),
            waived: Some(Waived {
                owner: "o".into(),
                justification: "j".into(),
                expires: "2027-01-01".into(),
                source: "w.yaml:1".into(),
            }),
            suppressed: Some(Suppressed {
                status: "fixed".into(),
                justification: "j".into(),
                source: "v".into(),
            }),
            params: vec![kv("x", "1")],
        };
        for _ in 0..2 {
            let mut expected = serde_json::to_value(&f).unwrap();
            expected.as_object_mut().unwrap().remove("asset");
            let stored: serde_json::Value = serde_json::from_str(&stripped(&f).unwrap()).unwrap();
            assert_eq!(stored, expected);
            // And with the optional fields absent.
            (f.waived, f.suppressed, f.params) = (None, None, Vec::new());
        }
    }
}
