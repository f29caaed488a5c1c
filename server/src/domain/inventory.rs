//! The fleet's package inventory: which hosts run a package, at which
//! versions, answered from a table the evaluation jobs keep current
//! ([`record`]) rather than by reading every agent's telemetry; each
//! agent's packages and SBOM.

use super::auth::Caller;
use super::{uploads, App, Error, PageRequest, Result};
use crate::store::inventory::{self as rows, EcosystemWord, Installed, Set};
use crate::store::{self, telemetry, Conn};
use assay_api::admin::{AgentPackages, InstalledPackage, InstalledView};
use assay_api::{Page, Role};
use assay_model::telemetry::{Ecosystem, Package, Telemetry, Version};
use assay_stdlib::requirement::Requirement;
use sha2::{Digest, Sha256};

/// At most this many packages of one document are kept, each field
/// bounded: an agent cannot fill the inventory for the fleet.
const MAX_PACKAGES: usize = 50_000;
const MAX_FIELD: usize = 256;

/// Rows read at a time by a query of the inventory.
const CHUNK: i64 = 2_000;

/// The inventory read from one document, before it is stored.
pub(crate) struct Taken {
    /// Its digest: SHA-256 over the OS and the packages, hex.
    pub set: Set,
    /// Sorted, once each.
    pub packages: Vec<Installed>,
    /// Packages left out: beyond [`MAX_PACKAGES`], or with a field beyond
    /// [`MAX_FIELD`] bytes.
    pub left_out: usize,
}

/// The inventory of `t`.
pub(crate) fn take(t: &Telemetry) -> Taken {
    let (os_id, os_version) = assay_runtime::sbom::host_os(t);
    // PostgreSQL's text cannot hold a NUL: one would fail the evaluation's
    // transaction, every time it is retried.
    let bounded = |s: &str| s.len() <= MAX_FIELD && !s.contains('\0');
    let all = t.packages.as_deref().unwrap_or_default();
    let mut packages: Vec<Installed> = all
        .iter()
        .filter(|p| {
            bounded(&p.name)
                && bounded(&p.version.0)
                && p.architecture.as_deref().is_none_or(bounded)
                && p.source_name.as_deref().is_none_or(bounded)
                && p.source_version.as_ref().is_none_or(|v| bounded(&v.0))
        })
        .map(|p| Installed {
            ecosystem: EcosystemWord(p.ecosystem),
            name: p.name.clone(),
            version: p.version.0.clone(),
            architecture: p.architecture.clone().filter(|a| !a.is_empty()),
            source_name: p.source_name.clone().filter(|s| !s.is_empty()),
            source_version: p.source_version.as_ref().map(|v| v.0.clone()).filter(|v| !v.is_empty()),
        })
        .collect();
    packages.sort_by(|a, b| {
        (a.ecosystem.0, &a.name, &a.version, &a.architecture).cmp(&(
            b.ecosystem.0,
            &b.name,
            &b.version,
            &b.architecture,
        ))
    });
    packages.dedup();
    packages.truncate(MAX_PACKAGES);
    let mut h = Sha256::new();
    for part in [os_id.as_str(), os_version.unwrap_or_default()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for p in &packages {
        for part in [
            p.ecosystem.0.as_str(),
            &p.name,
            &p.version,
            p.architecture.as_deref().unwrap_or_default(),
            p.source_name.as_deref().unwrap_or_default(),
            p.source_version.as_deref().unwrap_or_default(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update([1]);
    }
    let set = Set {
        digest: assay_model::hex::encode(&h.finalize()),
        os_id,
        os_version: os_version.map(str::to_owned),
        packages: packages.len() as i64,
    };
    Taken { left_out: all.len().saturating_sub(packages.len()), set, packages }
}

/// Makes `taken`, read from the document `agent` delivered for `run` at
/// `received_at`, its inventory, unless a later document's is stored (jobs
/// may finish out of order). A package set already stored (another host of
/// the same image, or the same host again) is not written again: the
/// agent names it. The set the agent named before is deleted when no agent
/// names it any more.
pub(crate) async fn record(
    c: &mut Conn,
    agent: &str,
    run: &str,
    received_at: i64,
    taken: &Taken,
) -> Result<()> {
    let current = rows::head(c, agent).await?;
    if current.as_ref().is_some_and(|h| h.received_at > received_at) {
        return Ok(());
    }
    let set = &taken.set;
    rows::put_set(c, set, &taken.packages).await?;
    rows::put_head(c, agent, run, received_at, &set.digest).await?;
    if let Some(old) = current.filter(|h| h.set.digest != set.digest) {
        rows::drop_set_if_unused(c, &old.set.digest).await?;
    }
    if taken.left_out > 0 {
        tracing::warn!(
            agent,
            run,
            left_out = taken.left_out,
            "packages left out of the inventory (too many, or a field too long)"
        );
    }
    Ok(())
}

/// What `assay fleet packages` asks: a package by name (and ecosystem) or
/// by Package URL, and a version requirement.
pub(crate) struct Query {
    name: String,
    ecosystem: Option<Ecosystem>,
    requirement: Option<Requirement>,
    purl: Option<String>,
}

impl Query {
    /// From the query string's `name`, `ecosystem` (`debian` or the PURL
    /// type `deb`, ...), `version` and `purl`: one of `name` and `purl`.
    pub(crate) fn parse(
        name: Option<&str>,
        ecosystem: Option<&str>,
        version: Option<&str>,
        purl: Option<&str>,
    ) -> Result<Query> {
        let ecosystem = match ecosystem {
            None => None,
            Some(e) => Some(
                Ecosystem::parse(e).or_else(|| assay_runtime::sbom::ecosystem_of_purl_type(e)).ok_or_else(
                    || {
                        Error::Invalid(format!(
                            "ecosystem `{e}` is not one of debian (deb), rpm, alpine (apk) or pypi"
                        ))
                    },
                )?,
            ),
        };
        let requirement = version.map(Requirement::parse).transpose().map_err(Error::Invalid)?;
        let (name, ecosystem, purl) = match (name, purl) {
            (Some(name), None) => (name.to_owned(), ecosystem, None),
            (None, Some(purl)) => {
                let (of_purl, name) = assay_runtime::sbom::purl_package(purl).map_err(Error::Invalid)?;
                if ecosystem.is_some_and(|e| e != of_purl) {
                    return Err(Error::Invalid(format!(
                        "the Package URL `{purl}` is not of the ecosystem given"
                    )));
                }
                (name, Some(of_purl), Some(purl.to_owned()))
            }
            (Some(_), Some(_)) => return Err(Error::Invalid("give `name` or `purl`, not both".into())),
            (None, None) => return Err(Error::Invalid("give a package `name` or `purl`".into())),
        };
        if name.is_empty() || name.len() > MAX_FIELD || name.chars().any(char::is_control) {
            return Err(Error::Invalid(format!(
                "a package name is 1 to {MAX_FIELD} bytes without control characters"
            )));
        }
        Ok(Query { name, ecosystem, requirement, purl })
    }

    fn matches(&self, found: &rows::Found) -> bool {
        let p = &found.package;
        self.ecosystem.is_none_or(|e| e == p.ecosystem.0)
            && self.requirement.as_ref().is_none_or(|r| r.matches(p.ecosystem.0.scheme(), &p.version))
            && self.purl.as_deref().is_none_or(|q| {
                purl_of(p, &found.os_id, found.os_version.as_deref())
                    .is_some_and(|purl| assay_runtime::sbom::purl_matches(q, &purl))
            })
    }
}

/// The package's Package URL, as `assay sbom` writes it.
fn purl_of(p: &Installed, os_id: &str, os_version: Option<&str>) -> Option<String> {
    let package = Package {
        licenses: None,
        name: p.name.clone(),
        version: Version(p.version.clone()),
        source_name: p.source_name.clone(),
        source_version: p.source_version.clone().map(Version),
        architecture: p.architecture.clone(),
        ecosystem: p.ecosystem.0,
        origin: String::new(),
    };
    assay_runtime::sbom::purl(&package, os_id, os_version)
}

fn view(p: Installed, purl: Option<String>) -> InstalledPackage {
    InstalledPackage {
        ecosystem: p.ecosystem.0,
        name: p.name,
        version: p.version,
        architecture: p.architecture,
        source_name: p.source_name,
        source_version: p.source_version,
        purl,
    }
}

/// The rows `query` matches of the first `limit` agents after `after`
/// that have one, and the cursor of the next page when there are more.
/// Rows are read `chunk` at a time in agent order, each chunk cut to whole
/// agents (its last agent may be cut short: it is read again with the
/// next chunk), so a page reads about what it answers, not every row
/// after its cursor.
async fn matching(
    c: &mut Conn,
    query: &Query,
    after: &str,
    limit: usize,
    chunk: i64,
) -> Result<(Vec<rows::Found>, Option<String>)> {
    // Without an ecosystem, a name is looked up as each ecosystem keys it.
    let mut keys = vec![query.ecosystem.unwrap_or(Ecosystem::Debian).name_key(&query.name)];
    if query.ecosystem.is_none() {
        keys.push(Ecosystem::Pypi.name_key(&query.name));
        keys.dedup();
    }
    let mut out: Vec<rows::Found> = Vec::new();
    let mut agents = 0;
    let mut cursor = after.to_owned();
    loop {
        let mut found = rows::named(c, &keys, &cursor, chunk).await?;
        let full = found.len() as i64 == chunk;
        if full {
            let cut = found.last().map(|f| f.agent_id.clone()).unwrap_or_default();
            if found.first().is_some_and(|f| f.agent_id == cut) {
                // One agent fills a chunk: read it whole.
                found = rows::named_on(c, &keys, &cut).await?;
            } else {
                found.retain(|f| f.agent_id != cut);
            }
        }
        let Some(end) = found.last().map(|f| f.agent_id.clone()) else { break };
        for f in found {
            if !query.matches(&f) {
                continue;
            }
            if out.last().is_none_or(|l| l.agent_id != f.agent_id) {
                if agents == limit {
                    let next = out.last().map(|l| l.agent_id.clone());
                    return Ok((out, next));
                }
                agents += 1;
            }
            out.push(f);
        }
        if !full {
            break;
        }
        cursor = end;
    }
    Ok((out, None))
}

/// The agents (not revoked) whose inventory has a package `query` matches,
/// one item per matching package, paged by agent: a page ends with an
/// agent's last package.
pub(crate) async fn installed(
    app: &App,
    caller: &Caller,
    query: &Query,
    page: &PageRequest,
) -> Result<Page<InstalledView>> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let (found, next) = matching(&mut c, query, page.after(), page.limit() as usize, CHUNK).await?;
    let mut items: Vec<InstalledView> = found
        .into_iter()
        .map(|f| {
            let purl = purl_of(&f.package, &f.os_id, f.os_version.as_deref());
            InstalledView {
                agent: f.agent_id,
                hostname: f.hostname,
                tags: Default::default(),
                package: view(f.package, purl),
                received_at: f.received_at,
            }
        })
        .collect();
    let ids: Vec<&str> = {
        let mut ids: Vec<&str> = items.iter().map(|i| i.agent.as_str()).collect();
        ids.dedup();
        ids
    };
    let tags = store::agents::tags(&mut c, &ids).await?;
    for item in &mut items {
        item.tags = tags.get(&item.agent).cloned().unwrap_or_default();
    }
    Ok(Page { items, next })
}

/// The packages of `agent`'s inventory.
pub(crate) async fn of_agent(app: &App, caller: &Caller, agent: &str) -> Result<AgentPackages> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    if !store::agents::exists(&mut c, agent).await? {
        return Err(Error::NotFound(format!("no agent `{agent}`")));
    }
    let Some(head) = rows::head(&mut c, agent).await? else {
        return Ok(AgentPackages {
            agent: agent.to_owned(),
            run: None,
            received_at: None,
            packages: Vec::new(),
        });
    };
    let packages = rows::of_agent(&mut c, agent)
        .await?
        .into_iter()
        .map(|p| {
            let purl = purl_of(&p, &head.set.os_id, head.set.os_version.as_deref());
            view(p, purl)
        })
        .collect();
    Ok(AgentPackages {
        agent: agent.to_owned(),
        run: Some(head.run_id),
        received_at: Some(head.received_at),
        packages,
    })
}

/// The SBOM of `agent`'s latest telemetry (`assay sbom` of the host), the
/// host named as it was enrolled.
pub(crate) async fn sbom(
    app: &App,
    caller: &Caller,
    agent: &str,
    format: assay_runtime::sbom::Format,
) -> Result<String> {
    caller.require(Role::ReadOnly)?;
    let delivered = {
        let mut c = app.store.read().await?;
        if !store::agents::exists(&mut c, agent).await? {
            return Err(Error::NotFound(format!("no agent `{agent}`")));
        }
        telemetry::latest(&mut c, agent).await?
    };
    let delivered = delivered
        .ok_or_else(|| Error::NotFound(format!("agent `{agent}` has delivered no telemetry yet")))?;
    let body = uploads::open(app, &delivered).await?.map_err(Error::Internal)?;
    let identity = super::agents::enrolled_as(app, agent).await?;
    let version = env!("CARGO_PKG_VERSION");
    let agent = agent.to_owned();
    app.cpu
        .run(move || {
            let mut t = assay_model::telemetry::from_json(&body)
                .map_err(|e| format!("the telemetry of agent {agent} does not validate: {e}"))?;
            t.asset.id = identity.id;
            t.asset.hostname = identity.hostname;
            assay_runtime::sbom::render(&t, format, version)
        })
        .await
        .map_err(Error::Internal)?
        .map_err(Error::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{testing, Store};

    fn package(name: &str, version: &str) -> Package {
        Package {
            licenses: None,
            name: name.into(),
            version: Version(version.into()),
            source_name: None,
            source_version: None,
            architecture: Some("amd64".into()),
            ecosystem: Ecosystem::Debian,
            origin: "/var/lib/dpkg/status".into(),
        }
    }

    fn telemetry(packages: Vec<Package>) -> Telemetry {
        let mut t = Telemetry::default();
        t.asset.os = Some(assay_model::telemetry::Os {
            family: Default::default(),
            distribution: "debian".into(),
            version: Some("12".into()),
            name: None,
        });
        t.packages = Some(packages);
        t
    }

    #[test]
    fn a_documents_inventory_is_sorted_bounded_and_digested_by_content() {
        let a = take(&telemetry(vec![
            package("zlib1g", "1:1.2.13"),
            package("bash", "5.2"),
            package("bash", "5.2"),
        ]));
        let b = take(&telemetry(vec![package("bash", "5.2"), package("zlib1g", "1:1.2.13")]));
        assert_eq!(a.packages.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["bash", "zlib1g"]);
        assert_eq!(a.set.digest, b.set.digest, "the order of a database is not a change");
        assert_ne!(a.set.digest, take(&telemetry(vec![package("bash", "5.3")])).set.digest);
        let hostile = take(&telemetry(vec![
            package("bash", "5.2"),
            package("nul\0name", "1"),
            package(&"x".repeat(MAX_FIELD + 1), "1"),
        ]));
        assert_eq!(hostile.packages.len(), 1);
        assert_eq!(hostile.left_out, 2);
        assert_eq!((hostile.set.os_id.as_str(), hostile.set.os_version.as_deref()), ("debian", Some("12")));
    }

    #[test]
    fn queries_name_a_package_once_and_say_what_is_wrong() {
        let err = |q: Result<Query>| match q {
            Err(Error::Invalid(why)) => why,
            _ => panic!("accepted"),
        };
        assert!(err(Query::parse(None, None, None, None)).contains("give a package"));
        assert!(err(Query::parse(Some("a"), None, None, Some("pkg:deb/debian/a"))).contains("not both"));
        assert!(err(Query::parse(Some("a"), Some("npm"), None, None)).contains("ecosystem `npm`"));
        assert!(err(Query::parse(Some("a"), None, Some(">=1 <2"), None)).contains("commas"));
        assert!(err(Query::parse(None, None, None, Some("pkg:npm/left-pad"))).contains("type `npm`"));
        assert!(err(Query::parse(None, Some("rpm"), None, Some("pkg:deb/debian/a")))
            .contains("not of the ecosystem"));
        assert!(err(Query::parse(Some("a\0"), None, None, None)).contains("control"));
        let q = Query::parse(None, None, None, Some("pkg:deb/debian/openssl?arch=amd64")).unwrap();
        assert_eq!((q.name.as_str(), q.ecosystem), ("openssl", Some(Ecosystem::Debian)));
        assert_eq!(
            Query::parse(Some("a"), Some("apk"), None, None).unwrap().ecosystem,
            Some(Ecosystem::Alpine)
        );
    }

    /// The inventory follows the latest document: a later one replaces it,
    /// an earlier one (a job finishing late) does not, the same packages
    /// move only its date.
    async fn the_inventory_follows_the_latest_document(store: &Store) {
        let mut tx = store.write().await.unwrap();
        testing::enrol(&mut tx, "a1").await;
        tx.commit().await.unwrap();
        async fn state(store: &Store) -> (String, i64, Vec<String>, usize) {
            let mut c = store.read().await.unwrap();
            let head = rows::head(&mut c, "a1").await.unwrap().unwrap();
            let packages: Vec<String> = rows::of_agent(&mut c, "a1")
                .await
                .unwrap()
                .into_iter()
                .map(|p| format!("{}={}", p.name, p.version))
                .collect();
            let found = rows::named(&mut c, &["openssl".to_owned()], "", 10).await.unwrap();
            (head.run_id, head.received_at, packages, found.len())
        }
        let write = |run: &'static str, at: i64, t: Telemetry| async move {
            let mut tx = store.write().await.unwrap();
            record(&mut tx, "a1", run, at, &take(&t)).await.unwrap();
            tx.commit().await.unwrap();
        };
        write("r1", 100, telemetry(vec![package("openssl", "3.0.11-1"), package("bash", "5.2")])).await;
        assert_eq!(
            state(store).await,
            ("r1".into(), 100, vec!["bash=5.2".into(), "openssl=3.0.11-1".into()], 1)
        );
        write("r2", 200, telemetry(vec![package("openssl", "3.0.15-1")])).await;
        assert_eq!(state(store).await, ("r2".into(), 200, vec!["openssl=3.0.15-1".into()], 1));
        write("r0", 50, telemetry(vec![package("bash", "4")])).await;
        assert_eq!(state(store).await.0, "r2", "an earlier document does not replace a later one");
        write("r3", 300, telemetry(vec![package("openssl", "3.0.15-1")])).await;
        assert_eq!(state(store).await, ("r3".into(), 300, vec!["openssl=3.0.15-1".into()], 1));
        // A second host of the same image names the same set; the sets no
        // host names any more are gone.
        let mut tx = store.write().await.unwrap();
        testing::enrol(&mut tx, "a2").await;
        record(&mut tx, "a2", "r3", 300, &take(&telemetry(vec![package("openssl", "3.0.15-1")])))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let counts = || async {
            let mut c = store.read().await.unwrap();
            let (sets,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM package_sets").fetch_one(&mut *c).await.unwrap();
            let (rows,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM set_packages").fetch_one(&mut *c).await.unwrap();
            let found = rows::named(&mut c, &["openssl".to_owned()], "", 10).await.unwrap();
            (sets, rows, found.iter().map(|f| f.agent_id.clone()).collect::<Vec<_>>())
        };
        assert_eq!(counts().await, (1, 1, vec!["a1".to_owned(), "a2".to_owned()]));
        write("r4", 400, telemetry(vec![package("bash", "5.2")])).await;
        assert_eq!(counts().await, (2, 2, vec!["a2".to_owned()]), "a2 still names the openssl set");
        let mut tx = store.write().await.unwrap();
        record(&mut tx, "a2", "r4", 400, &take(&telemetry(vec![package("bash", "5.2")]))).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(counts().await, (1, 1, vec![]), "the openssl set is named by no host: deleted");
    }

    /// Every page, at every page size and chunk size, lists the matching
    /// packages of each agent once and whole, agents in order.
    #[tokio::test]
    async fn pages_and_chunks_cut_between_agents_never_inside_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::sqlite(dir.path()).await;
        let arch = |name: &str, version: &str, arch: &str| Package {
            architecture: Some(arch.into()),
            ..package(name, version)
        };
        let hosts: [(&str, Vec<Package>); 5] = [
            ("a1", vec![arch("openssl", "1.0", "amd64"), arch("openssl", "1.0", "i386")]),
            ("a2", vec![package("openssl", "3.0")]),
            ("a3", vec![package("bash", "5")]),
            (
                "a4",
                vec![
                    arch("openssl", "1.1", "amd64"),
                    arch("openssl", "1.1", "arm64"),
                    arch("openssl", "1.1", "i386"),
                ],
            ),
            ("a5", vec![package("OpenSSL", "2.0"), package("zlib", "1")]),
        ];
        let mut tx = store.write().await.unwrap();
        for (id, packages) in hosts {
            testing::enrol(&mut tx, id).await;
            record(&mut tx, id, "r1", 10, &take(&telemetry(packages))).await.unwrap();
        }
        tx.commit().await.unwrap();
        let query = Query::parse(Some("openssl"), None, Some("<2.5"), None).unwrap();
        let expected =
            ["a1 1.0 amd64", "a1 1.0 i386", "a4 1.1 amd64", "a4 1.1 arm64", "a4 1.1 i386", "a5 2.0 amd64"];
        let mut c = store.read().await.unwrap();
        for limit in 1..=4 {
            for chunk in 1..=7 {
                let (mut all, mut after, mut pages) = (Vec::new(), String::new(), 0);
                loop {
                    let (found, next) = matching(&mut c, &query, &after, limit, chunk).await.unwrap();
                    pages += 1;
                    let agents: std::collections::BTreeSet<&str> =
                        found.iter().map(|f| f.agent_id.as_str()).collect();
                    assert!(agents.len() <= limit, "limit {limit}, chunk {chunk}: {agents:?}");
                    all.extend(found.iter().map(|f| {
                        format!(
                            "{} {} {}",
                            f.agent_id,
                            f.package.version,
                            f.package.architecture.as_deref().unwrap_or("")
                        )
                    }));
                    match next {
                        Some(n) => after = n,
                        None => break,
                    }
                }
                assert_eq!(all, expected, "limit {limit}, chunk {chunk}");
                assert_eq!(pages, 3_usize.div_ceil(limit), "limit {limit}, chunk {chunk}");
            }
        }
    }

    #[tokio::test]
    async fn the_inventory_follows_the_latest_document_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        the_inventory_follows_the_latest_document(&testing::sqlite(dir.path()).await).await;
    }

    #[tokio::test]
    async fn the_inventory_follows_the_latest_document_on_postgres() {
        let Some((store, name)) = testing::postgres("assay_inventory").await else { return };
        the_inventory_follows_the_latest_document(&store).await;
        testing::drop_postgres(store, &name).await;
    }
}
