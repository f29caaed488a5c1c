//! `assay fleet package`: publish, list, show and yank rules packages.

use super::client::{encode, Client, Problem, Result};
use super::print::{self, maybe_time, table, time};
use assay_api::admin::{
    PackageDetail, PackageSources, PackageVersionView, PackageVersions, PublishBody, Published, SourceFile,
};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub(super) enum PackageSub {
    /// Publish the packages of a folder, `.assay` files, or a bundle from
    /// `assay build` (with its `BUNDLE.minisig` when there is one). A
    /// server with trusted keys accepts only signed packages: `--sign KEY`
    /// signs what is built from sources.
    Publish {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Sign the bundle built from the sources with this secret key.
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
        /// For a bundle: the package folders it was built from, sent along
        /// (and checked against its signature).
        #[arg(long = "sources", value_name = "PATH")]
        sources: Vec<PathBuf>,
        /// Publish nothing: evaluate the candidate and the published
        /// versions on every agent's latest telemetry and list, per rule,
        /// the hosts whose outcome would flip (`--format markdown` for a
        /// pull request).
        #[arg(long)]
        dry_run: bool,
    },
    /// Every published package version.
    List,
    /// A package's versions, or with NAME@VERSION one version and its rules.
    Show { package: String },
    /// Yank NAME@VERSION: kept for history and old runs, refused for new templates.
    Yank { package: String },
}

pub(super) fn run(c: &Client, command: &PackageSub, format: super::Format) -> Result<()> {
    let json = format == super::Format::Json;
    match command {
        PackageSub::Publish { paths, sign, sources, dry_run: true } => {
            let body = publication(paths, sign.as_deref(), sources)?;
            let diff: assay_model::diff::Diff = c.post("/v1/packages/preview", &body)?;
            match format {
                super::Format::Json => return print::json(&diff),
                super::Format::Markdown => out!("{}", assay_runtime::diff::render_markdown(&diff)),
                _ => out!("{}", assay_runtime::diff::render_table(&diff)),
            }
        }
        PackageSub::Publish { paths, sign, sources, dry_run: false } => {
            let body = publication(paths, sign.as_deref(), sources)?;
            let v: Published = c.post("/v1/packages", &body)?;
            if json {
                return print::json(&v);
            }
            let signer =
                v.signer.as_deref().map(|k| format!("signed by key {k}")).unwrap_or("unsigned".into());
            outln!("bundle {} ({signer})", v.bundle_digest);
            for p in &v.packages {
                let what = if p.new { "published" } else { "already published, unchanged" };
                outln!("  {}@{}  {what}", p.name, p.version);
            }
            if v.agents_queued > 0 {
                outln!("re-evaluating {} agent(s) with the new versions", v.agents_queued);
            }
        }
        PackageSub::List => {
            let v: PackageVersions = c.get("/v1/package-versions")?;
            if json {
                return print::json(&v);
            }
            versions_table(&v.items);
        }
        PackageSub::Show { package } => match package.split_once('@') {
            None => {
                let v: PackageVersions = c.get(&format!("/v1/packages/{}", encode(package)))?;
                if json {
                    return print::json(&v);
                }
                versions_table(&v.items);
            }
            Some((name, version)) => {
                let v: PackageDetail =
                    c.get(&format!("/v1/packages/{}/{}", encode(name), encode(version)))?;
                if json {
                    return print::json(&v);
                }
                let p = &v.version;
                outln!("{}@{} — {}", p.name, p.version, p.title);
                if !v.description.is_empty() {
                    outln!("  {}", v.description);
                }
                outln!("  bundle     {}", p.bundle_digest);
                outln!("  content    sha256:{}", p.content_digest);
                if let Some(s) = &p.sources_digest {
                    outln!("  sources    {s}");
                }
                outln!("  signer     {}", signer(p));
                outln!("  published  {} by {}", time(p.published_at), p.published_by);
                if let Some(at) = p.yanked_at {
                    outln!("  yanked     {} by {}", time(at), p.yanked_by.as_deref().unwrap_or("?"));
                }
                let platforms =
                    if v.platforms.is_empty() { "every platform".to_owned() } else { v.platforms.join(", ") };
                outln!("  platforms  {platforms}\n");
                let rows =
                    v.rules.iter().map(|r| vec![r.id.clone(), r.severity.to_string(), r.title.clone()]);
                table(&["rule", "severity", "title"], rows.collect());
            }
        },
        PackageSub::Yank { package } => {
            let (name, version) = package
                .split_once('@')
                .ok_or_else(|| Problem::Input(format!("`{package}`: yank NAME@VERSION")))?;
            let v: PackageVersionView = c.post(
                &format!("/v1/packages/{}/{}/yank", encode(name), encode(version)),
                &serde_json::json!({}),
            )?;
            if json {
                return print::json(&v);
            }
            outln!("yanked {}@{} ({})", v.name, v.version, maybe_time(v.yanked_at));
        }
    }
    Ok(())
}

fn signer(p: &PackageVersionView) -> String {
    match (&p.signer, p.builtin) {
        (Some(k), _) => format!("key {k}"),
        (None, true) => "built into the server".into(),
        (None, false) => "unsigned".into(),
    }
}

fn versions_table(items: &[PackageVersionView]) {
    let rows = items.iter().map(|p| {
        let state = if p.yanked_at.is_some() { "yanked" } else { "" };
        vec![
            p.name.clone(),
            p.version.clone(),
            p.rule_count.to_string(),
            signer(p),
            time(p.published_at),
            state.to_owned(),
            p.bundle_digest.chars().take(23).collect(),
        ]
    });
    table(&["package", "version", "rules", "signer", "published (UTC)", "", "bundle"], rows.collect());
}

fn input(e: impl std::fmt::Display) -> Problem {
    Problem::Input(e.to_string())
}

/// What `publish` sends: a bundle read or built, its signature, sources.
fn publication(paths: &[PathBuf], sign: Option<&Path>, sources: &[PathBuf]) -> Result<PublishBody> {
    let (bytes, signature, loaded) = match paths {
        [bundle] if crate::commands::diff::is_bundle(bundle) => {
            if sign.is_some() {
                return Err(input(
                    "--sign signs what is built from sources; sign a bundle with `assay build --sign`",
                ));
            }
            let bytes =
                std::fs::read(bundle).map_err(|e| input(format!("cannot read {}: {e}", bundle.display())))?;
            let sig_path = crate::commands::verify::signature_path(bundle);
            let signature = sig_path.exists().then(|| std::fs::read_to_string(&sig_path)).transpose();
            let signature =
                signature.map_err(|e| input(format!("cannot read {}: {e}", sig_path.display())))?;
            let loaded = if sources.is_empty() {
                None
            } else {
                Some(crate::commands::load_sources(sources).map_err(|f| input(f.report))?)
            };
            (bytes, signature, loaded)
        }
        _ => {
            if !sources.is_empty() {
                return Err(input("--sources is for a bundle; the sources of folders are sent with them"));
            }
            let loaded = crate::commands::load_sources(paths).map_err(|f| input(f.report))?;
            let built = assay_compiler::build(&loaded).map_err(|diagnostics| {
                let rendered = assay_compiler::diagnostics::render_human(
                    &loaded.sources,
                    &diagnostics,
                    crate::commands::stderr_color(),
                );
                input(format!("{rendered}the packages do not compile; nothing was published"))
            })?;
            let signature = match sign {
                Some(key) => {
                    let key = crate::commands::build::read_secret(key).map_err(|f| input(f.report))?;
                    Some(
                        crate::commands::build::sign(&key, &loaded, &built.bytes)
                            .map_err(|f| input(f.report))?,
                    )
                }
                None => None,
            };
            (built.bytes, signature, Some(loaded))
        }
    };
    let sources = loaded
        .map(|l| {
            assay_compiler::package_sources(&l)
                .into_iter()
                .map(|p| PackageSources {
                    name: p.name,
                    files: p.files.into_iter().map(|(path, text)| SourceFile { path, text }).collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(PublishBody { bundle: assay_model::hex::encode(&bytes), signature, sources })
}
