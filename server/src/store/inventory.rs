//! The fleet's package inventory: each agent's packages as its latest
//! evaluated telemetry lists them (`agent_inventories`, one row per agent;
//! `installed_packages`, one row per package), kept by the evaluation
//! jobs and read by name.

use super::{placeholders, values, Conn, Result, BATCH};
use assay_model::telemetry::Ecosystem;

/// An agent's inventory as stored: where it was read from.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Head {
    pub agent_id: String,
    pub run_id: String,
    pub received_at: i64,
    pub digest: String,
    pub packages: i64,
    pub os_id: String,
    pub os_version: Option<String>,
}

/// A package column of the `ecosystem` words ([`Ecosystem`]): another
/// word is an error naming the column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EcosystemWord(pub Ecosystem);

impl TryFrom<String> for EcosystemWord {
    type Error = String;
    fn try_from(word: String) -> std::result::Result<EcosystemWord, String> {
        Ecosystem::parse(&word).map(EcosystemWord).ok_or_else(|| format!("`{word}` is not an ecosystem"))
    }
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Installed {
    #[sqlx(try_from = "String")]
    pub ecosystem: EcosystemWord,
    pub name: String,
    pub version: String,
    pub architecture: Option<String>,
    pub source_name: Option<String>,
    pub source_version: Option<String>,
}

/// One installed package of some agent, with its inventory's head.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Found {
    pub agent_id: String,
    pub hostname: String,
    pub received_at: i64,
    pub os_id: String,
    pub os_version: Option<String>,
    #[sqlx(flatten)]
    pub package: Installed,
}

pub(crate) async fn head(c: &mut Conn, agent: &str) -> Result<Option<Head>> {
    sqlx::query_as(
        "SELECT agent_id, run_id, received_at, digest, packages, os_id, os_version FROM agent_inventories WHERE agent_id = $1",
    )
    .bind(agent)
    .fetch_optional(c)
    .await
}

/// Makes `head` the agent's inventory. With `packages`, they replace the
/// agent's; without, its packages are kept (the same digest).
pub(crate) async fn put(c: &mut Conn, head: &Head, packages: Option<&[Installed]>) -> Result<()> {
    if packages.is_some() {
        sqlx::query("DELETE FROM installed_packages WHERE agent_id = $1")
            .bind(&head.agent_id)
            .execute(&mut *c)
            .await?;
    }
    sqlx::query(
        "INSERT INTO agent_inventories (agent_id, run_id, received_at, digest, packages, os_id, os_version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (agent_id) DO UPDATE SET run_id = excluded.run_id, \
         received_at = excluded.received_at, digest = excluded.digest, packages = excluded.packages, \
         os_id = excluded.os_id, os_version = excluded.os_version",
    )
    .bind(&head.agent_id)
    .bind(&head.run_id)
    .bind(head.received_at)
    .bind(&head.digest)
    .bind(head.packages)
    .bind(&head.os_id)
    .bind(head.os_version.as_deref())
    .execute(&mut *c)
    .await?;
    for batch in packages.unwrap_or_default().chunks(BATCH) {
        let sql = format!(
            "INSERT INTO installed_packages (agent_id, ecosystem, name, name_key, version, architecture, source_name, source_version) VALUES {}",
            values(batch.len(), 8)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in batch {
            insert = insert
                .bind(head.agent_id.clone())
                .bind(p.ecosystem.0.as_str())
                .bind(p.name.clone())
                .bind(p.ecosystem.0.name_key(&p.name))
                .bind(p.version.clone())
                .bind(p.architecture.clone())
                .bind(p.source_name.clone())
                .bind(p.source_version.clone());
        }
        insert.execute(&mut *c).await?;
    }
    Ok(())
}

const FOUND: &str = "SELECT p.agent_id, a.hostname, i.received_at, i.os_id, i.os_version, p.ecosystem, p.name, \
     p.version, p.architecture, p.source_name, p.source_version \
     FROM installed_packages p JOIN agent_inventories i ON i.agent_id = p.agent_id JOIN agents a ON a.id = p.agent_id";

/// At most `limit` packages whose name is one of `keys`
/// ([`Ecosystem::name_key`]) of the agents (not revoked) after `after`
/// (an agent id), in agent id order.
pub(crate) async fn named(c: &mut Conn, keys: &[String], after: &str, limit: i64) -> Result<Vec<Found>> {
    let sql = format!(
        "{FOUND} WHERE p.name_key IN ({}) AND p.agent_id > $1 AND a.revoked_at IS NULL \
         ORDER BY p.agent_id, p.version LIMIT {limit}",
        placeholders(2, keys.len())
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(after);
    for k in keys {
        query = query.bind(k);
    }
    query.fetch_all(c).await
}

/// Every package whose name is one of `keys` on `agent`.
pub(crate) async fn named_on(c: &mut Conn, keys: &[String], agent: &str) -> Result<Vec<Found>> {
    let sql = format!(
        "{FOUND} WHERE p.name_key IN ({}) AND p.agent_id = $1 ORDER BY p.version",
        placeholders(2, keys.len())
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(agent);
    for k in keys {
        query = query.bind(k);
    }
    query.fetch_all(c).await
}

/// The packages of `agent`, by ecosystem and name.
pub(crate) async fn of_agent(c: &mut Conn, agent: &str) -> Result<Vec<Installed>> {
    sqlx::query_as(
        "SELECT ecosystem, name, version, architecture, source_name, source_version FROM installed_packages \
         WHERE agent_id = $1 ORDER BY ecosystem, name_key, version, architecture",
    )
    .bind(agent)
    .fetch_all(c)
    .await
}
