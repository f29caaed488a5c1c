//! Agents, their tags and their certificates. An agent's health is
//! decided here, in SQL ([`health!`]), so a list filtered by health pages
//! in the database and every view of an agent reads the same rule.

use super::{placeholders, Conn, Json, Result};
use assay_api::admin::TagFilter;
use assay_api::{Health, HealthCode};
use std::collections::BTreeMap;

/// Inspector's health of agent `a` when `$1` is the time before which a
/// heartbeat is too old: revoked agents are UNHEALTHY; agents that shut
/// down or have not heartbeat since are UNKNOWN; the others as their last
/// heartbeat said (UNHEALTHY, or THROTTLED when they heartbeat too often).
macro_rules! health {
    () => {
        "CASE WHEN a.revoked_at IS NOT NULL THEN 'UNHEALTHY' \
         WHEN a.health_code = 'SHUTDOWN' OR a.last_seen < $1 THEN 'UNKNOWN' \
         WHEN a.health_code IN ('UNHEALTHY', 'THROTTLED') THEN 'UNHEALTHY' ELSE 'HEALTHY' END"
    };
}

/// The code shown with that health.
macro_rules! health_code {
    () => {
        "CASE WHEN a.revoked_at IS NOT NULL THEN 'UNHEALTHY' WHEN a.health_code = 'SHUTDOWN' THEN 'SHUTDOWN' \
         WHEN a.last_seen < $1 THEN 'UNKNOWN' ELSE a.health_code END"
    };
}

macro_rules! agent_columns {
    () => {
        concat!(
            "a.id, a.hostname, a.machine_id, a.os, a.enrolled_at, a.last_seen, a.revoked_at, a.health_detail, a.addresses, ",
            health!(),
            " AS health, ",
            health_code!(),
            " AS health_code"
        )
    };
}

/// An agent as the API shows it (its tags apart: [`tags`]).
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct Agent {
    pub id: String,
    pub hostname: String,
    pub machine_id: String,
    pub os: String,
    pub enrolled_at: i64,
    pub last_seen: i64,
    pub revoked_at: Option<i64>,
    pub health_detail: String,
    #[sqlx(try_from = "String")]
    pub addresses: Json<Vec<String>>,
    #[sqlx(try_from = "String")]
    pub health: Health,
    #[sqlx(try_from = "String")]
    pub health_code: HealthCode,
}

pub(crate) struct NewAgent<'a> {
    pub id: &'a str,
    pub secret_hash: &'a str,
    pub hostname: &'a str,
    pub machine_id: &'a str,
    pub os: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    pub now: i64,
}

pub(crate) async fn insert(c: &mut Conn, a: &NewAgent<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO agents (id, secret_hash, hostname, machine_id, os, enrolled_at, last_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.id)
    .bind(a.secret_hash)
    .bind(a.hostname)
    .bind(a.machine_id)
    .bind(a.os)
    .bind(a.now)
    .bind(a.now)
    .execute(&mut *c)
    .await?;
    set_tags(c, a.id, a.tags).await
}

/// Replaces the tags of `agent`.
pub(crate) async fn set_tags(c: &mut Conn, agent: &str, tags: &BTreeMap<String, String>) -> Result<()> {
    sqlx::query("DELETE FROM agent_tags WHERE agent_id = $1").bind(agent).execute(&mut *c).await?;
    for (key, value) in tags {
        sqlx::query("INSERT INTO agent_tags (agent_id, key, value) VALUES ($1, $2, $3)")
            .bind(agent)
            .bind(key)
            .bind(value)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub(crate) async fn insert_cert(
    c: &mut Conn,
    fingerprint: &str,
    agent: &str,
    now: i64,
    not_after: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO agent_certs (fingerprint, agent_id, issued_at, not_after) VALUES ($1, $2, $3, $4)",
    )
    .bind(fingerprint)
    .bind(agent)
    .bind(now)
    .bind(not_after)
    .execute(c)
    .await?;
    Ok(())
}

/// Marks the certificate `fingerprint` renewed to `key`: false when it
/// was renewed to another key already (the same key may ask again, its
/// answer lost).
pub(crate) async fn claim_renewal(c: &mut Conn, fingerprint: &str, key: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE agent_certs SET renewal_key = $2 \
         WHERE fingerprint = $1 AND (renewal_key IS NULL OR renewal_key = $2)",
    )
    .bind(fingerprint)
    .bind(key)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
struct Id {
    id: String,
}

/// The agents (not revoked) that reported `machine_id`, but `except`.
pub(crate) async fn with_machine_id(c: &mut Conn, machine_id: &str, except: &str) -> Result<Vec<String>> {
    if machine_id.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Id> = sqlx::query_as(
        "SELECT id FROM agents WHERE machine_id = $1 AND id <> $2 AND revoked_at IS NULL ORDER BY id",
    )
    .bind(machine_id)
    .bind(except)
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

#[derive(sqlx::FromRow)]
struct Shared {
    id: String,
    machine_id: String,
}

/// For each of `agents`, the other agents (not revoked) with its
/// machine-id.
pub(crate) async fn clones_of(c: &mut Conn, agents: &[&Agent]) -> Result<BTreeMap<String, Vec<String>>> {
    let machines: Vec<&str> =
        agents.iter().filter(|a| !a.machine_id.is_empty()).map(|a| a.machine_id.as_str()).collect();
    let mut by_machine: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for batch in machines.chunks(super::BATCH) {
        let sql = format!(
            "SELECT id, machine_id FROM agents WHERE revoked_at IS NULL AND machine_id IN ({}) ORDER BY id",
            placeholders(1, batch.len())
        );
        let mut query = sqlx::query_as::<_, Shared>(sqlx::AssertSqlSafe(sql));
        for m in batch {
            query = query.bind(*m);
        }
        for row in query.fetch_all(&mut *c).await? {
            by_machine.entry(row.machine_id).or_default().push(row.id);
        }
    }
    Ok(agents
        .iter()
        .map(|a| {
            let same = by_machine
                .get(&a.machine_id)
                .map(|ids| ids.iter().filter(|id| **id != a.id).cloned().collect());
            (a.id.clone(), same.unwrap_or_default())
        })
        .collect())
}

/// What a request with a client certificate is: its agent.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Certified {
    pub id: String,
    pub revoked_at: Option<i64>,
    #[sqlx(try_from = "String")]
    pub health_code: HealthCode,
    pub health_detail: String,
    #[sqlx(try_from = "String")]
    pub addresses: Json<Vec<String>>,
    /// When this certificate was issued, and when it expires.
    pub issued_at: i64,
    pub not_after: i64,
}

pub(crate) async fn by_certificate(c: &mut Conn, fingerprint: &str) -> Result<Option<Certified>> {
    sqlx::query_as(
        "SELECT a.id, a.revoked_at, a.health_code, a.health_detail, a.addresses, c.issued_at, c.not_after \
         FROM agent_certs c JOIN agents a ON a.id = c.agent_id WHERE c.fingerprint = $1",
    )
    .bind(fingerprint)
    .fetch_optional(c)
    .await
}

pub(crate) async fn get(c: &mut Conn, id: &str, stale_before: i64) -> Result<Option<Agent>> {
    sqlx::query_as(sqlx::AssertSqlSafe(concat!(
        "SELECT ",
        agent_columns!(),
        " FROM agents a WHERE a.id = $2"
    )))
    .bind(stale_before)
    .bind(id)
    .fetch_optional(c)
    .await
}

/// `EXISTS (...)`: agent `a` has a tag any of `filters` matches, with its
/// parameters numbered from `$first`; and those parameters in order.
fn tag_match(filters: &[TagFilter], first: usize) -> (String, Vec<&str>) {
    let mut n = first;
    let mut binds = Vec::new();
    let clauses: Vec<String> = filters
        .iter()
        .map(|f| {
            binds.push(f.key.as_str());
            let key = n;
            n += 1;
            match &f.value {
                Some(v) => {
                    binds.push(v.as_str());
                    n += 1;
                    format!("(t.key = ${key} AND t.value = ${})", key + 1)
                }
                None => format!("t.key = ${key}"),
            }
        })
        .collect();
    (
        format!("EXISTS (SELECT 1 FROM agent_tags t WHERE t.agent_id = a.id AND ({}))", clauses.join(" OR ")),
        binds,
    )
}

/// Which agents a page lists.
pub(crate) struct Filter<'a> {
    /// Any of them matches; none: every agent.
    pub tags: &'a [TagFilter],
    pub health: Option<Health>,
    pub after: &'a str,
    pub limit: i64,
    pub stale_before: i64,
}

/// A page of agents by id.
pub(crate) async fn list(c: &mut Conn, f: &Filter<'_>) -> Result<Vec<Agent>> {
    let (tags, binds) =
        if f.tags.is_empty() { ("1 = 1".to_owned(), Vec::new()) } else { tag_match(f.tags, 5) };
    let sql = format!(
        "SELECT {} FROM agents a WHERE a.id > $2 AND ($3 = '' OR {} = $3) AND {tags} ORDER BY a.id LIMIT $4",
        agent_columns!(),
        health!()
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(f.stale_before)
        .bind(f.after)
        .bind(f.health.map(Health::as_str).unwrap_or_default())
        .bind(f.limit);
    for b in binds {
        query = query.bind(b);
    }
    query.fetch_all(c).await
}

/// The agents (not revoked) a target's tags match now, by id.
pub(crate) async fn matching(c: &mut Conn, filters: &[TagFilter], stale_before: i64) -> Result<Vec<Agent>> {
    if filters.is_empty() {
        return Ok(Vec::new());
    }
    let (tags, binds) = tag_match(filters, 2);
    let sql = format!(
        "SELECT {} FROM agents a WHERE a.revoked_at IS NULL AND {tags} ORDER BY a.id",
        agent_columns!()
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(stale_before);
    for b in binds {
        query = query.bind(b);
    }
    query.fetch_all(c).await
}

#[derive(sqlx::FromRow)]
struct Tag {
    agent_id: String,
    key: String,
    value: String,
}

/// The tags of each of `agents`.
pub(crate) async fn tags(
    c: &mut Conn,
    agents: &[&str],
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for batch in agents.chunks(super::BATCH) {
        let sql = format!(
            "SELECT agent_id, key, value FROM agent_tags WHERE agent_id IN ({})",
            placeholders(1, batch.len())
        );
        let mut query = sqlx::query_as::<_, Tag>(sqlx::AssertSqlSafe(sql));
        for a in batch {
            query = query.bind(*a);
        }
        for t in query.fetch_all(&mut *c).await? {
            out.entry(t.agent_id).or_default().insert(t.key, t.value);
        }
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
pub(crate) struct Tagged {
    pub agent_id: String,
    pub key: String,
    pub value: String,
    #[sqlx(try_from = "String")]
    pub health: Health,
}

/// Every tag of every agent with the agent's health (the metrics match
/// every target against the whole fleet).
pub(crate) async fn all_tags(c: &mut Conn, stale_before: i64) -> Result<Vec<Tagged>> {
    sqlx::query_as(sqlx::AssertSqlSafe(concat!(
        "SELECT t.agent_id, t.key, t.value, ",
        health!(),
        " AS health FROM agent_tags t JOIN agents a ON a.id = t.agent_id ORDER BY t.agent_id"
    )))
    .bind(stale_before)
    .fetch_all(c)
    .await
}

#[derive(sqlx::FromRow)]
struct HealthCount {
    #[sqlx(try_from = "String")]
    health: Health,
    n: i64,
}

/// The number of agents of each health (absent: none).
pub(crate) async fn health_counts(c: &mut Conn, stale_before: i64) -> Result<BTreeMap<Health, u64>> {
    let rows: Vec<HealthCount> = sqlx::query_as(sqlx::AssertSqlSafe(concat!(
        "SELECT h.health, COUNT(*) AS n FROM (SELECT ",
        health!(),
        " AS health FROM agents a) h GROUP BY h.health"
    )))
    .bind(stale_before)
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|r| (r.health, r.n.max(0) as u64)).collect())
}

/// Marks `agent` revoked; false when there is no such agent, or it was
/// revoked already.
pub(crate) async fn revoke(c: &mut Conn, agent: &str, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE agents SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(agent)
        .execute(c)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn exists(c: &mut Conn, agent: &str) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM agents WHERE id = $1").bind(agent).fetch_optional(c).await?.is_some())
}

/// Records a heartbeat of `agent` at `at`, unless a later one was
/// recorded (by another replica): with its health and addresses when they
/// changed.
pub(crate) async fn seen(
    c: &mut Conn,
    agent: &str,
    at: i64,
    health: Option<(HealthCode, &str, &[String])>,
) -> Result<()> {
    match health {
        None => {
            sqlx::query("UPDATE agents SET last_seen = $1 WHERE id = $2 AND last_seen < $1")
                .bind(at)
                .bind(agent)
                .execute(c)
                .await?;
        }
        Some((code, detail, addresses)) => {
            sqlx::query(
                "UPDATE agents SET last_seen = $1, health_code = $2, health_detail = $3, addresses = $4 \
                 WHERE id = $5 AND last_seen <= $1",
            )
            .bind(at)
            .bind(code.as_str())
            .bind(detail)
            .bind(super::json(addresses)?)
            .bind(agent)
            .execute(c)
            .await?;
        }
    }
    Ok(())
}

pub(crate) async fn set_health_code(c: &mut Conn, agent: &str, code: HealthCode) -> Result<()> {
    sqlx::query("UPDATE agents SET health_code = $1 WHERE id = $2")
        .bind(code.as_str())
        .bind(agent)
        .execute(c)
        .await?;
    Ok(())
}
