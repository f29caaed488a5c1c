//! The preview of a package version on the fleet (`POST
//! /v1/packages/preview`): the candidate and the published versions
//! evaluated on every agent's latest telemetry, nothing written. Above
//! both `packages` (what is published) and `eval` (how a host is
//! evaluated), so neither imports the other.

use super::auth::Caller;
use super::packages::{self, select, Selection, Shared};
use super::{App, Error, Result};
use crate::store::packages as rows;
use assay_api::admin::PublishBody;
use assay_api::Role;

/// The most agents a preview evaluates (each twice).
const MAX_PREVIEW_AGENTS: usize = 50_000;

/// `POST /v1/packages/preview`: what publishing the bundle would change on
/// the fleet, written nowhere. Every agent's latest telemetry is evaluated
/// with the newest published versions of the bundle's packages (none for a
/// new package) and with the candidate; the answer lists the rules added,
/// removed or changed and, per rule, the hosts whose outcome flips and how
/// many stay the same.
pub(crate) async fn preview(
    app: &App,
    caller: &Caller,
    body: PublishBody,
) -> Result<assay_model::diff::Diff> {
    caller.require(Role::Admin)?;
    let bytes = packages::sent_bundle(&body.bundle)?;
    let candidate = std::sync::Arc::new(packages::decoded(&bytes)?);
    let names: Vec<String> = candidate.content.packages.iter().map(|p| p.name.clone()).collect();
    let (current, agents) = {
        let mut c = app.store.read().await?;
        let mut current = Vec::new();
        for name in &names {
            if let Some(v) = rows::versions(&mut c, name).await?.into_iter().find(|v| v.yanked_at.is_none()) {
                if v.builtin_flag() {
                    return Err(Error::Conflict(format!(
                        "{name} is a built-in package of this server: publish your own rules under another name"
                    )));
                }
                current.push(format!("{}@{}", v.name, v.version));
            }
        }
        (select(app, &mut c, &current).await?, crate::store::telemetry::agents(&mut c).await?)
    };
    if agents.len() > MAX_PREVIEW_AGENTS {
        return Err(Error::TooLarge(format!(
            "{} agents have telemetry, more than the {MAX_PREVIEW_AGENTS} a preview evaluates",
            agents.len()
        )));
    }
    let new: Selection = vec![(Shared::Published(candidate.clone()), names.clone())];
    let old_parts: Vec<assay_runtime::diff::Part<'_>> = current
        .iter()
        .map(|(b, n)| assay_runtime::diff::Part { bundle: b, packages: Some(n.as_slice()) })
        .collect();
    let new_parts = [assay_runtime::diff::Part { bundle: &candidate, packages: Some(names.as_slice()) }];
    let published = if current.is_empty() { "nothing published".to_owned() } else { "published".to_owned() };
    let mut diff = assay_runtime::diff::compare_parts(&published, &old_parts, "candidate", &new_parts);
    // As many hosts at once as the CPU pool has threads: the evaluations
    // run there, the reads of telemetry overlap them.
    use futures_util::StreamExt;
    let width = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let mut results = futures_util::stream::iter(agents)
        .map(|agent: String| {
            let (old, new) = (current.clone(), new.clone());
            async move {
                let result = super::eval::preview_host(app, &agent, old, new).await;
                (agent, result)
            }
        })
        .buffered(width);
    while let Some((agent, result)) = results.next().await {
        match result? {
            Ok((hostname, before, after)) => {
                assay_runtime::diff::record(&mut diff, &hostname, Some(&agent), &before, &after)
            }
            Err(why) => tracing::warn!(agent = agent.as_str(), reason = %why, "preview skipped an agent"),
        }
    }
    Ok(diff)
}
