//! The fleet's package inventory: package sets stored once by digest
//! (`package_sets`, `set_packages`), and the set of each agent's latest
//! evaluated telemetry (`agent_inventories`). The evaluation jobs keep it;
//! queries read it by package name.

use super::{placeholders, values, Conn, Result, BATCH};
use assay_model::telemetry::Ecosystem;

/// A package set: what its Package URLs need of the hosts' OS.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Set {
    pub digest: String,
    pub os_id: String,
    pub os_version: Option<String>,
    pub packages: i64,
}

/// An agent's inventory: the set it names and where that was read.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Head {
    pub run_id: String,
    pub received_at: i64,
    #[sqlx(flatten)]
    pub set: Set,
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

/// One installed package of some agent, with what its inventory says of
/// the host.
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
        "SELECT i.run_id, i.received_at, s.digest, s.os_id, s.os_version, s.packages \
         FROM agent_inventories i JOIN package_sets s ON s.digest = i.digest WHERE i.agent_id = $1",
    )
    .bind(agent)
    .fetch_optional(c)
    .await
}

/// Stores `set` with its `packages` unless it is stored: a set is written
/// once, whichever agent reports it first.
pub(crate) async fn put_set(c: &mut Conn, set: &Set, packages: &[Installed]) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO package_sets (digest, os_id, os_version, packages) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(&set.digest)
    .bind(&set.os_id)
    .bind(set.os_version.as_deref())
    .bind(set.packages)
    .execute(&mut *c)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(());
    }
    for batch in packages.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO set_packages (set_digest, ecosystem, name, name_key, version, architecture, source_name, source_version) VALUES {}",
            values(c, batch.len(), 8)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in batch {
            insert = insert
                .bind(set.digest.clone())
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

/// Makes the set `digest` the agent's inventory, read from `run`'s
/// document received at `received_at`.
pub(crate) async fn put_head(
    c: &mut Conn,
    agent: &str,
    run: &str,
    received_at: i64,
    digest: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO agent_inventories (agent_id, run_id, received_at, digest) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (agent_id) DO UPDATE SET run_id = excluded.run_id, received_at = excluded.received_at, \
         digest = excluded.digest",
    )
    .bind(agent)
    .bind(run)
    .bind(received_at)
    .bind(digest)
    .execute(c)
    .await?;
    Ok(())
}

/// Deletes the set `digest` when no agent names it any more.
pub(crate) async fn drop_set_if_unused(c: &mut Conn, digest: &str) -> Result<()> {
    let unused = "NOT EXISTS (SELECT 1 FROM agent_inventories WHERE digest = $1)";
    let sql = format!("DELETE FROM set_packages WHERE set_digest = $1 AND {unused}");
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(digest).execute(&mut *c).await?;
    let sql = format!("DELETE FROM package_sets WHERE digest = $1 AND {unused}");
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(digest).execute(c).await?;
    Ok(())
}

const FOUND: &str =
    "SELECT i.agent_id, a.hostname, i.received_at, s.os_id, s.os_version, p.ecosystem, p.name, \
     p.version, p.architecture, p.source_name, p.source_version \
     FROM set_packages p JOIN package_sets s ON s.digest = p.set_digest \
     JOIN agent_inventories i ON i.digest = p.set_digest JOIN agents a ON a.id = i.agent_id";

/// At most `limit` packages whose name is one of `keys`
/// ([`Ecosystem::name_key`]) of the agents (not revoked) after `after`
/// (an agent id), in agent id order.
pub(crate) async fn named(c: &mut Conn, keys: &[String], after: &str, limit: i64) -> Result<Vec<Found>> {
    let sql = format!(
        "{FOUND} WHERE p.name_key IN ({}) AND i.agent_id > $1 AND a.revoked_at IS NULL \
         ORDER BY i.agent_id, p.version LIMIT {limit}",
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
        "{FOUND} WHERE p.name_key IN ({}) AND i.agent_id = $1 ORDER BY p.version",
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
        "SELECT p.ecosystem, p.name, p.version, p.architecture, p.source_name, p.source_version \
         FROM set_packages p JOIN agent_inventories i ON i.digest = p.set_digest \
         WHERE i.agent_id = $1 ORDER BY p.ecosystem, p.name_key, p.version, p.architecture",
    )
    .bind(agent)
    .fetch_all(c)
    .await
}
