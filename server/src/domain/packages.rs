//! Rules packages: the ones this server evaluates, as the API documents
//! them, and which of them leave a host out for its platform; and the
//! packages published to it (`POST /v1/packages`), each version immutable,
//! signed by a trusted key when the server trusts any (fail closed:
//! docs/server.md, "Rules packages").

use super::auth::{self, Caller};
use super::{App, Error, Result};
use crate::ids::now;
use crate::store::{self, packages as rows};
use assay_api::admin::{
    PackageDetail, PackageVersionView, PackageVersions, PackageView, Packages, PublishBody, Published,
    PublishedPackage, RuleDoc,
};
use assay_api::Role;
use assay_model::bundle::{logic, Bundle, Content};
use assay_runtime::signing;
use serde_json::json;

/// Why `selection` would not assess a host with `os` (an os-release ID
/// such as `debian`): one reason per package whose platforms leave it out.
/// A host that reported no OS is left out of none.
pub(crate) fn unsupported(selection: &Selection, os: &str) -> Vec<String> {
    if os.is_empty() {
        return Vec::new();
    }
    selection
        .iter()
        .flat_map(|(bundle, names)| {
            bundle.content.packages.iter().filter(move |p| names.contains(&p.name)).filter_map(move |p| {
                if p.platforms.is_empty() || p.platforms.iter().any(|pl| pl.includes(os)) {
                    return None;
                }
                let names: Vec<&str> = p.platforms.iter().map(|pl| pl.as_str()).collect();
                Some(format!("package {} is for {}, not {os}", p.name, names.join(", ")))
            })
        })
        .collect()
}

/// The title of rule `id`, if this server has it.
pub(crate) fn title(app: &App, id: &str) -> Option<String> {
    app.bundle.content.rules.iter().find(|r| r.id == id).map(|r| r.title.clone())
}

/// `GET /v1/packages`: every package with its rules' documentation.
pub(crate) fn list(app: &App, caller: &Caller) -> Result<Packages> {
    caller.require(Role::ReadOnly)?;
    let content = &app.bundle.content;
    let items = content
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| PackageView {
            name: p.name.clone(),
            title: p.title.clone(),
            version: p.version.clone(),
            description: p.description.clone(),
            platforms: p.platforms.iter().map(|pl| pl.as_str().to_owned()).collect(),
            rules: rule_docs(content, i),
        })
        .collect();
    Ok(Packages { items, bundle_digest: app.bundle.digest.clone() })
}

fn rule_docs(content: &Content, package: usize) -> Vec<RuleDoc> {
    content
        .rules
        .iter()
        .filter(|r| r.package as usize == package)
        .map(|r| RuleDoc {
            id: r.id.clone(),
            title: r.title.clone(),
            severity: r.severity,
            doc: r.doc.clone(),
            description: r.description.clone(),
            rationale: r.rationale.clone(),
            recommendation: r.recommendation.clone(),
            references: r.references.clone(),
            tags: r.tags.clone(),
        })
        .collect()
}

/// The largest bundle a publication may carry (hex doubles it on the wire).
pub(crate) const MAX_BUNDLE: usize = 16 << 20;
/// The most source bytes a publication may carry, all packages together.
const MAX_SOURCES: usize = 16 << 20;

/// `MAJOR.MINOR.PATCH`, each a number without leading zeros.
fn semver(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.split('.');
    let mut next = || {
        let p = parts.next()?;
        if p.is_empty()
            || p.len() > 9
            || (p.len() > 1 && p.starts_with('0'))
            || !p.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        p.parse().ok()
    };
    let v = (next()?, next()?, next()?);
    parts.next().is_none().then_some(v)
}

/// Why a publication was refused by the signature policy: audited, then
/// answered.
async fn refuse(app: &App, caller: &Caller, digest: &str, why: String) -> Error {
    let detail = json!({ "bundle": digest, "reason": why });
    if let Err(e) = auth::audit(app, &caller.token_id, "package.publish.refused", detail).await {
        return e;
    }
    tracing::warn!(bundle = digest, reason = %why, "package publication refused");
    Error::Invalid(why)
}

/// The bundle file a publication or a preview sends, hex-encoded, within
/// its bound.
pub(crate) fn sent_bundle(hex: &str) -> Result<Vec<u8>> {
    let bytes = assay_model::hex::decode(hex)
        .ok_or_else(|| Error::Invalid("`bundle` is not hex (the bundle file, hex-encoded)".into()))?;
    if bytes.len() > MAX_BUNDLE {
        return Err(Error::TooLarge(format!("the bundle is {} bytes, more than {MAX_BUNDLE}", bytes.len())));
    }
    Ok(bytes)
}

/// A sent bundle decoded; what is wrong with it is the client's error.
pub(crate) fn decoded(bytes: &[u8]) -> Result<Bundle> {
    assay_model::bundle::load(bytes).map_err(|e| Error::Invalid(format!("the bundle: {e}")))
}

/// `POST /v1/packages`: publishes every package of a bundle. With trusted
/// keys, the bundle must be signed by one of them, the signature must
/// cover exactly its packages and versions (and the sources sent), and no
/// version may be lower than one already published (a rollback);
/// otherwise nothing is stored and the refusal is audited. A version
/// already published with the same content is left as it is; with other
/// content it is refused.
pub(crate) async fn publish(app: &App, caller: &Caller, body: PublishBody) -> Result<Published> {
    caller.require(Role::Admin)?;
    let bytes = sent_bundle(&body.bundle)?;
    let digest = signing::bundle_digest(&bytes);
    let trusted = &app.config.trusted_keys;
    // With trusted keys, the signature is checked before the bundle is
    // decoded: nothing unauthenticated reaches the loader.
    let verified = match (&body.signature, trusted.is_empty()) {
        (_, true) => None,
        (None, false) => {
            let why = "the bundle is unsigned and this server accepts only packages signed by a trusted key \
                       (`assay build --sign KEY`, docs/signing.md)"
                .to_owned();
            return Err(refuse(app, caller, &digest, why).await);
        }
        (Some(signature), false) => match signing::verify(&bytes, signature, trusted) {
            Ok(v) => Some(v),
            Err(e) => return Err(refuse(app, caller, &digest, e.to_string()).await),
        },
    };
    let bundle = decoded(&bytes)?;
    let names: Vec<&str> = bundle.content.packages.iter().map(|p| p.name.as_str()).collect();
    let source_bytes: usize =
        body.sources.iter().flat_map(|p| &p.files).map(|f| f.path.len() + f.text.len()).sum();
    if source_bytes > MAX_SOURCES {
        return Err(Error::TooLarge(format!(
            "the sources are {source_bytes} bytes, more than {MAX_SOURCES}"
        )));
    }
    if let Some(p) = body.sources.iter().find(|p| !names.contains(&p.name.as_str())) {
        return Err(Error::Invalid(format!("sources of `{}`, which the bundle does not hold", p.name)));
    }
    let inside = |path: &str| {
        let p = std::path::Path::new(path);
        !path.is_empty() && p.components().all(|c| matches!(c, std::path::Component::Normal(_)))
    };
    if let Some(f) = body.sources.iter().flat_map(|p| &p.files).find(|f| !inside(&f.path)) {
        return Err(Error::Invalid(format!(
            "source path `{}` is not a relative path inside its package",
            f.path
        )));
    }
    let sources_digest = |name: &str| {
        body.sources
            .iter()
            .find(|p| p.name == name)
            .map(|p| signing::sources_digest(p.files.iter().map(|f| (f.path.as_str(), f.text.as_bytes()))))
    };
    let signer = match verified {
        None => None,
        Some(verified) => {
            let held: Vec<(String, String)> =
                bundle.content.packages.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
            if let Err(e) = verified.covers(&held) {
                return Err(refuse(app, caller, &digest, e.to_string()).await);
            }
            for name in &names {
                if let Some(d) = sources_digest(name) {
                    if let Err(e) = verified.covers_sources(name, &d) {
                        return Err(refuse(app, caller, &digest, e.to_string()).await);
                    }
                }
            }
            Some(verified.key.to_string())
        }
    };
    let contents = logic::package_digests(&bundle.content);
    let mut versions = Vec::new();
    for (p, content) in bundle.content.packages.iter().zip(&contents) {
        let semver = semver(&p.version).ok_or_else(|| {
            Error::Invalid(format!(
                "package {} has version `{}`: a published package needs MAJOR.MINOR.PATCH",
                p.name, p.version
            ))
        })?;
        super::valid_name("package", &p.name)?;
        versions.push((p, content, semver));
    }
    let mut tx = app.store.write().await?;
    let mut published = Vec::new();
    let mut rollback = None;
    // The newest version of each package before this one.
    let mut previous: Vec<(String, String)> = Vec::new();
    for (p, content, semver) in &versions {
        let existing = rows::versions(&mut tx, &p.name).await?;
        if let Some(newest) = existing.iter().find(|v| v.yanked_at.is_none()) {
            previous.push((p.name.clone(), newest.version.clone()));
        }
        if existing.iter().any(rows::Version::builtin_flag) {
            return Err(Error::Conflict(format!(
                "{} is a built-in package of this server: publish your own rules under another name",
                p.name
            )));
        }
        if let Some(same) = existing.iter().find(|v| v.version == p.version) {
            if same.content != **content {
                return Err(Error::Conflict(format!(
                    "{}@{} is already published with other content (bundle {}): a published version never changes; publish a new version",
                    p.name, p.version, same.bundle
                )));
            }
            published.push(PublishedPackage { name: p.name.clone(), version: p.version.clone(), new: false });
            continue;
        }
        let newest = existing.iter().find(|v| !v.builtin_flag()).map(|v| (v.major, v.minor, v.patch));
        if let Some(newest) = newest {
            let mine = (semver.0 as i64, semver.1 as i64, semver.2 as i64);
            if !trusted.is_empty() && mine < newest {
                rollback = Some(format!(
                    "{}@{} is lower than {}@{}.{}.{}, already published: a rollback is refused while the server trusts keys",
                    p.name, p.version, p.name, newest.0, newest.1, newest.2
                ));
                break;
            }
        }
        published.push(PublishedPackage { name: p.name.clone(), version: p.version.clone(), new: true });
    }
    if let Some(why) = rollback {
        drop(tx);
        return Err(refuse(app, caller, &digest, why).await);
    }
    let at = now();
    rows::insert_bundle(
        &mut tx,
        &rows::NewBundle {
            digest: &digest,
            body: &bytes,
            signature: body.signature.as_deref(),
            signer: signer.as_deref(),
            published_by: &caller.token_id,
            published_at: at,
        },
    )
    .await?;
    for ((p, content, semver), outcome) in versions.iter().zip(&published) {
        if !outcome.new {
            continue;
        }
        let files = body.sources.iter().find(|s| s.name == p.name);
        let sources = match files {
            Some(s) => {
                let pairs: Vec<(&str, &str)> =
                    s.files.iter().map(|f| (f.path.as_str(), f.text.as_str())).collect();
                Some(store::json(&pairs)?)
            }
            None => None,
        };
        let rules = bundle
            .content
            .rules
            .iter()
            .filter(|r| bundle.content.packages[r.package as usize].name == p.name);
        rows::insert_version(
            &mut tx,
            &rows::NewVersion {
                name: &p.name,
                version: &p.version,
                semver: *semver,
                bundle: &digest,
                content,
                title: &p.title,
                rules: rules.count() as i64,
                sources,
                sources_digest: sources_digest(&p.name).as_deref(),
                builtin: false,
                published_by: &caller.token_id,
                published_at: at,
            },
        )
        .await?;
    }
    // A new version reaches the fleet's findings: every agent's latest
    // telemetry is evaluated again with the newest versions its template
    // follows, each change naming the package and the versions.
    let mut causes = Vec::new();
    for ((p, _, _), outcome) in versions.iter().zip(&published) {
        if outcome.new {
            let before =
                previous.iter().find(|(n, _)| *n == p.name).map(|(_, v)| v.as_str()).unwrap_or("none");
            causes.push(format!("package {} {before} → {}", p.name, p.version));
        }
    }
    let queued = if causes.is_empty() {
        0
    } else {
        store::jobs::queue_reevaluation(&mut tx, &causes.join(", ")).await?
    };
    tx.commit().await?;
    let detail = json!({ "bundle": digest, "signer": signer, "agents_queued": queued, "packages": published.iter().map(|p| format!("{}@{}", p.name, p.version)).collect::<Vec<_>>() });
    auth::audit(app, &caller.token_id, "package.publish", detail).await?;
    Ok(Published { bundle_digest: digest, signer, packages: published, agents_queued: queued })
}

/// Publishes the server's built-in packages as the server itself, so
/// built-in and published packages are listed alike. A built-in version
/// whose content differs from the one an earlier server published (its
/// rules changed without a new version) is replaced: the server's own
/// packages are what it evaluates.
pub(crate) async fn register_builtins(store: &crate::store::Store, bundle: &Bundle) -> Result<()> {
    let bytes = assay_model::bundle::encode(&bundle.content).map_err(|e| Error::Internal(e.to_string()))?;
    let digest = format!("sha256:{}", bundle.digest);
    let contents = logic::package_digests(&bundle.content);
    let at = now();
    let mut tx = store.write().await?;
    rows::insert_bundle(
        &mut tx,
        &rows::NewBundle {
            digest: &digest,
            body: &bytes,
            signature: None,
            signer: None,
            published_by: "assay server",
            published_at: at,
        },
    )
    .await?;
    for (i, (p, content)) in bundle.content.packages.iter().zip(&contents).enumerate() {
        let Some(semver) = semver(&p.version) else { continue };
        match rows::get(&mut tx, &p.name, &p.version).await? {
            Some(v) if v.content == *content => continue,
            Some(v) if v.builtin_flag() => rows::delete_builtin(&mut tx, &p.name, &p.version).await?,
            // A published package of the same name and version: it stays.
            Some(_) => continue,
            None => {}
        }
        let rules = bundle.content.rules.iter().filter(|r| r.package as usize == i).count();
        rows::insert_version(
            &mut tx,
            &rows::NewVersion {
                name: &p.name,
                version: &p.version,
                semver,
                bundle: &digest,
                content,
                title: &p.title,
                rules: rules as i64,
                sources: None,
                sources_digest: None,
                builtin: true,
                published_by: "assay server",
                published_at: at,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn version_view(v: rows::Version) -> PackageVersionView {
    PackageVersionView {
        builtin: v.builtin_flag(),
        name: v.name,
        version: v.version,
        title: v.title,
        rule_count: v.rules.max(0) as u64,
        bundle_digest: v.bundle,
        content_digest: v.content,
        sources_digest: v.sources_digest,
        signer: v.signer,
        published_by: v.published_by,
        published_at: v.published_at,
        yanked_at: v.yanked_at,
        yanked_by: v.yanked_by,
    }
}

/// `GET /v1/package-versions`: every published version.
pub(crate) async fn all_versions(app: &App, caller: &Caller) -> Result<PackageVersions> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let items = rows::all(&mut c).await?.into_iter().map(version_view).collect();
    Ok(PackageVersions { items })
}

/// `GET /v1/packages/{name}`: the versions of one package.
pub(crate) async fn versions(app: &App, caller: &Caller, name: &str) -> Result<PackageVersions> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let items: Vec<PackageVersionView> =
        rows::versions(&mut c, name).await?.into_iter().map(version_view).collect();
    if items.is_empty() {
        return Err(Error::NotFound(format!("no package `{name}` is published")));
    }
    Ok(PackageVersions { items })
}

/// `GET /v1/packages/{name}/{version}`: one version with its rules.
pub(crate) async fn detail(app: &App, caller: &Caller, name: &str, version: &str) -> Result<PackageDetail> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let v = rows::get(&mut c, name, version)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no package {name}@{version} is published")))?;
    let bundle = published(app, &mut c, &v.bundle, &format!("{name}@{version}")).await?;
    let index = bundle
        .content
        .packages
        .iter()
        .position(|p| p.name == name)
        .ok_or_else(|| Error::Internal(format!("the bundle {} does not hold {name}", v.bundle)))?;
    let p = &bundle.content.packages[index];
    Ok(PackageDetail {
        description: p.description.clone(),
        platforms: p.platforms.iter().map(|pl| pl.as_str().to_owned()).collect(),
        rules: rule_docs(&bundle.content, index),
        version: version_view(v),
    })
}

/// `GET /v1/packages/{name}/diff?from=V&to=W`: what changed between two
/// published versions, rule by rule (as `assay diff` says it).
pub(crate) async fn diff_versions(
    app: &App,
    caller: &Caller,
    name: &str,
    from: &str,
    to: &str,
) -> Result<assay_model::diff::Diff> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let mut sides = Vec::new();
    for version in [from, to] {
        let v = rows::get(&mut c, name, version)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no package {name}@{version} is published")))?;
        sides.push(published(app, &mut c, &v.bundle, &format!("{name}@{version}")).await?);
    }
    let names = [name.to_owned()];
    let old = [assay_runtime::diff::Part { bundle: &sides[0], packages: Some(&names) }];
    let new = [assay_runtime::diff::Part { bundle: &sides[1], packages: Some(&names) }];
    Ok(assay_runtime::diff::compare_parts(&format!("{name}@{from}"), &old, &format!("{name}@{to}"), &new))
}

/// `POST /v1/packages/{name}/{version}/yank`: kept for history and the
/// runs that used it, refused for new templates.
pub(crate) async fn yank(
    app: &App,
    caller: &Caller,
    name: &str,
    version: &str,
) -> Result<PackageVersionView> {
    caller.require(Role::Admin)?;
    let mut tx = app.store.write().await?;
    let existing = rows::get(&mut tx, name, version)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no package {name}@{version} is published")))?;
    if existing.builtin_flag() {
        return Err(Error::Invalid(format!(
            "{name}@{version} is built into this server and cannot be yanked"
        )));
    }
    rows::yank(&mut tx, name, version, &caller.token_id, now()).await?;
    let v = rows::get(&mut tx, name, version).await?.ok_or_else(|| Error::Internal("vanished".into()))?;
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "package.yank", json!({ "package": format!("{name}@{version}") }))
        .await?;
    Ok(version_view(v))
}

#[cfg(test)]
mod tests {
    use super::semver;

    #[test]
    fn versions_are_three_numbers() {
        assert_eq!(semver("1.2.3"), Some((1, 2, 3)));
        assert_eq!(semver("0.10.0"), Some((0, 10, 0)));
        for bad in ["1.2", "1.2.3.4", "01.2.3", "1.2.x", "", "1..3", "-1.2.3", "1.2.3-rc1", "9999999999.0.0"]
        {
            assert_eq!(semver(bad), None, "{bad}");
        }
    }
}

/// A bundle a run evaluates: the server's own, or a published one (loaded
/// once per process and digest).
#[derive(Clone)]
pub(crate) enum Shared {
    Builtin(&'static Bundle),
    Published(std::sync::Arc<Bundle>),
}

impl std::ops::Deref for Shared {
    type Target = Bundle;
    fn deref(&self) -> &Bundle {
        match self {
            Shared::Builtin(b) => b,
            Shared::Published(b) => b,
        }
    }
}

/// What a run evaluates: each bundle with the names of its packages to
/// evaluate, in the order the run lists them.
pub(crate) type Selection = Vec<(Shared, Vec<String>)>;

/// The bundles of `packages`, a run's list: `name@version` (resolved when
/// it started) or, for a run from before the registry, a built-in
/// package's name.
pub(crate) async fn select(app: &App, c: &mut store::Conn, packages: &[String]) -> Result<Selection> {
    let own = format!("sha256:{}", app.bundle.digest);
    let mut groups: Vec<(String, Shared, Vec<String>)> = Vec::new();
    for entry in packages {
        let (digest, name) = match entry.split_once('@') {
            None => (own.clone(), entry.clone()),
            Some((name, version)) => {
                let v = rows::pick(c, name, version)
                    .await?
                    .ok_or_else(|| Error::Internal(format!("{entry} is not published on this server")))?;
                (v.bundle, name.to_owned())
            }
        };
        if let Some(group) = groups.iter_mut().find(|g| g.0 == digest) {
            if !group.2.contains(&name) {
                group.2.push(name);
            }
            continue;
        }
        let shared = if digest == own {
            Shared::Builtin(app.bundle)
        } else {
            published(app, c, &digest, entry).await?
        };
        groups.push((digest, shared, vec![name]));
    }
    Ok(groups.into_iter().map(|(_, b, names)| (b, names)).collect())
}

async fn published(app: &App, c: &mut store::Conn, digest: &str, entry: &str) -> Result<Shared> {
    if let Some(b) = app.bundles.lock().unwrap_or_else(|p| p.into_inner()).get(digest) {
        return Ok(Shared::Published(b.clone()));
    }
    let body = rows::bundle_body(c, digest)
        .await?
        .ok_or_else(|| Error::Internal(format!("the bundle {digest} of {entry} is missing")))?;
    let bundle = match assay_model::bundle::load(&body) {
        Ok(bundle) => bundle,
        Err(e) => rebuilt(app, c, digest, &body, e)
            .await
            .map_err(|why| Error::Invalid(format!("{entry} cannot be evaluated by this server: {why}")))?,
    };
    let bundle = std::sync::Arc::new(bundle);
    app.bundles.lock().unwrap_or_else(|p| p.into_inner()).insert(digest.to_owned(), bundle.clone());
    Ok(Shared::Published(bundle))
}

/// A stored bundle this server cannot load because another build wrote
/// it (another instruction set or telemetry schema), compiled again from
/// the sources kept with its packages. The rebuilt bundle is used in its
/// place in this process; the stored one and its signature stay as they
/// were published. With trusted keys, the bundle's signature must still
/// verify and cover the kept sources.
async fn rebuilt(
    app: &App,
    c: &mut store::Conn,
    digest: &str,
    body: &[u8],
    error: assay_model::bundle::LoadError,
) -> std::result::Result<Bundle, String> {
    use assay_model::bundle::LoadError;
    if !matches!(
        error,
        LoadError::InstructionSet { .. } | LoadError::Schema { .. } | LoadError::UnsupportedVersion { .. }
    ) {
        return Err(error.to_string());
    }
    let Some(rebuild) = &app.config.rebuild else { return Err(error.to_string()) };
    let (signature, packages) = rows::sources_of(c, digest).await.map_err(|e| e.to_string())?;
    let mut sources = Vec::new();
    for (name, files, _) in &packages {
        let files = files.as_deref().ok_or_else(|| {
            format!("{error}; package {name} was published without its sources, so it cannot be rebuilt: publish it again")
        })?;
        let files: Vec<(String, String)> =
            serde_json::from_str(files).map_err(|e| format!("the kept sources of {name}: {e}"))?;
        sources.push((name.clone(), files));
    }
    if !app.config.trusted_keys.is_empty() {
        let signature = signature.ok_or("the bundle is unsigned and this server trusts keys")?;
        let verified =
            signing::verify(body, &signature, &app.config.trusted_keys).map_err(|e| e.to_string())?;
        for (name, files) in &sources {
            let d = signing::sources_digest(files.iter().map(|(p, t)| (p.as_str(), t.as_bytes())));
            verified.covers_sources(name, &d).map_err(|e| e.to_string())?;
        }
    }
    let bytes = (rebuild.0)(&sources)?;
    let bundle = assay_model::bundle::load(&bytes).map_err(|e| format!("the rebuilt bundle: {e}"))?;
    tracing::info!(bundle = digest, rebuilt = %bundle.digest, "rebuilt a published bundle from its sources ({error})");
    Ok(bundle)
}

/// The package an entry of a run (`name@version`, or a built-in's name
/// alone) or a template (`name@requirement` or `name`) names.
pub(crate) fn name_of(entry: &str) -> &str {
    entry.split_once('@').map_or(entry, |(name, _)| name)
}

/// The exact version a template's requirement names now: `name` (the
/// newest), `name@1` (the newest 1.x.y), `name@2.1` (the newest 2.1.x)
/// or `name@2.1.0`. Yanked versions are skipped, except an exact one when
/// a run starts (its template was saved before the yank); a new template
/// may not name one.
pub(crate) async fn resolve(c: &mut store::Conn, requirement: &str, new_template: bool) -> Result<String> {
    let (name, wanted) = match requirement.split_once('@') {
        Some((name, req)) => (name, Some(req)),
        None => (requirement, None),
    };
    let parts: Vec<u64> = match wanted {
        None => Vec::new(),
        Some(req) => {
            let parsed: Option<Vec<u64>> =
                req.split('.').map(|p| semver(&format!("{p}.0.0")).map(|v| v.0)).collect();
            match parsed {
                Some(parts) if (1..=3).contains(&parts.len()) => parts,
                _ => {
                    return Err(Error::Invalid(format!(
                        "`{requirement}`: a package is NAME, NAME@MAJOR, NAME@MAJOR.MINOR or NAME@MAJOR.MINOR.PATCH"
                    )))
                }
            }
        }
    };
    let versions = rows::picks(c, name).await?;
    if versions.is_empty() {
        let known: Vec<String> = rows::all(c)
            .await?
            .into_iter()
            .map(|v| v.name)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        return Err(Error::Invalid(format!(
            "`{name}` is not a rules package of this server: {}",
            known.join(", ")
        )));
    }
    let matches = |v: &rows::Pick| {
        let have = [v.major, v.minor, v.patch];
        parts.iter().zip(have).all(|(w, h)| *w as i64 == h)
    };
    let exact = parts.len() == 3;
    let found =
        versions.iter().filter(|v| matches(v)).find(|v| v.yanked_at.is_none() || (exact && !new_template));
    match found {
        Some(v) => Ok(format!("{}@{}", v.name, v.version)),
        None => {
            let listed: Vec<String> = versions
                .iter()
                .map(|v| {
                    if v.yanked_at.is_some() {
                        format!("{} (yanked)", v.version)
                    } else {
                        v.version.clone()
                    }
                })
                .collect();
            Err(Error::Invalid(format!(
                "no version of {name} matches `{requirement}`: published {}",
                listed.join(", ")
            )))
        }
    }
}

/// The collection plan of a selection: what each bundle looks up, and the
/// packages' licences, which the server's SBOMs carry.
pub(crate) fn plan(selection: &Selection) -> assay_model::lookup::CollectionPlan {
    let mut plan = assay_model::lookup::CollectionPlan { licenses: true, ..Default::default() };
    for (bundle, _) in selection {
        plan.merge(&bundle.content.plan);
    }
    plan
}
