//! `assay fleet apply FILE` and `assay fleet export`: the fleet's targets,
//! templates and waivers declared in one YAML file kept in git. Apply shows
//! the plan (create, change, delete) and carries it out through the admin
//! API; applying the same file again changes nothing, and what the file
//! does not name is left alone unless `--prune`. Export writes the current
//! state in the same format, so `export` then `apply` is a no-op.

use super::client::{encode, Client, Problem, Result};
use assay_api::admin::{
    Deleted, NewTarget, Notification, TagFilter, TargetTags, TargetView, TemplateBody, TemplateView,
    WaiversUploaded,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The file: everything keyed by name, so it diffs well and sorts itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FleetFile {
    #[serde(default)]
    pub targets: BTreeMap<String, TargetSpec>,
    #[serde(default)]
    pub templates: BTreeMap<String, TemplateSpec>,
    /// The fleet's waivers, as the entries of a waiver file
    /// (docs/waivers.md); absent: the server's are left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waivers: Option<Vec<serde_yaml::Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TargetSpec {
    /// An agent is in the target when ANY of these matches.
    pub tags: Vec<TagFilter>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TemplateSpec {
    pub target: String,
    /// Package requirements: `name`, `name@1`, `name@1.4.0`.
    pub packages: Vec<String>,
    /// How long agents collect: `90s`, `15m`, `1h` (default 1h).
    #[serde(default = "hour")]
    pub duration: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Package parameters: `PACKAGE.NAME` → value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Notification>,
}

fn hour() -> String {
    "1h".into()
}

/// `3600` as `1h`, `90` as `90s`: what the file says.
fn duration_text(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    CreateTarget(String, TargetSpec),
    ChangeTarget(String, TargetSpec),
    DeleteTarget(String),
    /// A new template, or a new version of one (with what changed).
    PutTemplate(String, TemplateBody, Vec<&'static str>),
    DeleteTemplate(String),
    /// The waiver file, with the number of entries before and after.
    PutWaivers(String, usize, usize),
}

impl Step {
    fn describe(&self) -> String {
        match self {
            Step::CreateTarget(name, _) => format!("+ target {name}"),
            Step::ChangeTarget(name, _) => format!("~ target {name} (tags)"),
            Step::DeleteTarget(name) => format!("- target {name}"),
            Step::PutTemplate(name, _, changed) if changed.is_empty() => format!("+ template {name}"),
            Step::PutTemplate(name, _, changed) => format!("~ template {name} ({})", changed.join(", ")),
            Step::DeleteTemplate(name) => format!("- template {name}"),
            Step::PutWaivers(_, before, after) => format!("~ waivers ({before} → {after} entries)"),
        }
    }
}

/// The server's state as a file.
fn current(c: &Client) -> Result<FleetFile> {
    let targets: Vec<TargetView> = c.all("/v1/targets")?;
    let templates: Vec<TemplateView> = c.all("/v1/templates")?;
    let waivers = match c.text("/v1/waivers") {
        Ok(text) => Some(waiver_entries(&text).map_err(Problem::Unreachable)?),
        Err(Problem::Refused { status: 404, .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(FleetFile {
        targets: targets.into_iter().map(|t| (t.name, TargetSpec { tags: t.tags })).collect(),
        templates: templates
            .into_iter()
            .map(|t| {
                let spec = TemplateSpec {
                    target: t.target,
                    packages: t.packages,
                    duration: duration_text(t.duration_seconds),
                    attributes: t.attributes,
                    params: t.params,
                    schedule: t.schedule,
                    notifications: t.notifications,
                };
                (t.name, spec)
            })
            .collect(),
        waivers,
    })
}

/// The entries of a waiver file's text.
fn waiver_entries(text: &str) -> std::result::Result<Vec<serde_yaml::Value>, String> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        waivers: Vec<serde_yaml::Value>,
    }
    serde_yaml::from_str::<File>(text)
        .map(|f| f.waivers)
        .map_err(|e| format!("the server's waiver file: {e}"))
}

fn body(spec: &TemplateSpec) -> Result<TemplateBody> {
    let duration_seconds =
        super::parse_duration(&spec.duration).map_err(|f| Problem::Input(format!("{}", f.report)))?;
    Ok(TemplateBody {
        target: spec.target.clone(),
        packages: spec.packages.clone(),
        duration_seconds,
        attributes: spec.attributes.clone(),
        params: spec.params.clone(),
        schedule: spec.schedule.clone(),
        notifications: spec.notifications.clone(),
    })
}

/// What differs between two versions of a template.
fn template_changes(have: &TemplateSpec, want: &TemplateSpec) -> Vec<&'static str> {
    let same = [
        ("target", have.target == want.target),
        ("packages", have.packages == want.packages),
        (
            "duration",
            super::parse_duration(&have.duration).ok() == super::parse_duration(&want.duration).ok(),
        ),
        ("attributes", have.attributes == want.attributes),
        ("params", have.params == want.params),
        ("schedule", have.schedule == want.schedule),
        ("notifications", have.notifications == want.notifications),
    ];
    same.iter().filter(|(_, same)| !same).map(|(name, _)| *name).collect()
}

/// The steps that take the server from `have` to `want`, in an order the
/// API accepts: targets before the templates that name them, templates
/// deleted before their targets.
fn plan(have: &FleetFile, want: &FleetFile, prune: bool) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for (name, spec) in &want.targets {
        match have.targets.get(name) {
            None => steps.push(Step::CreateTarget(name.clone(), spec.clone())),
            Some(old) if old != spec => steps.push(Step::ChangeTarget(name.clone(), spec.clone())),
            Some(_) => {}
        }
    }
    for (name, spec) in &want.templates {
        let new_body = body(spec)?;
        match have.templates.get(name) {
            None => steps.push(Step::PutTemplate(name.clone(), new_body, Vec::new())),
            Some(old) => {
                let changed = template_changes(old, spec);
                if !changed.is_empty() {
                    steps.push(Step::PutTemplate(name.clone(), new_body, changed));
                }
            }
        }
    }
    if let Some(wanted) = &want.waivers {
        if have.waivers.as_ref() != Some(wanted) {
            let mut text = serde_yaml::to_string(&BTreeMap::from([("waivers", wanted)]))
                .map_err(|e| Problem::Input(format!("the waivers: {e}")))?;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            let before = have.waivers.as_ref().map_or(0, Vec::len);
            steps.push(Step::PutWaivers(text, before, wanted.len()));
        }
    }
    if prune {
        for name in have.templates.keys().filter(|n| !want.templates.contains_key(*n)) {
            steps.push(Step::DeleteTemplate(name.clone()));
        }
        for name in have.targets.keys().filter(|n| !want.targets.contains_key(*n)) {
            steps.push(Step::DeleteTarget(name.clone()));
        }
    }
    Ok(steps)
}

fn carry_out(c: &Client, step: &Step) -> Result<()> {
    match step {
        Step::CreateTarget(name, spec) => {
            let _: TargetView =
                c.post("/v1/targets", &NewTarget { name: name.clone(), tags: spec.tags.clone() })?;
        }
        Step::ChangeTarget(name, spec) => {
            let _: TargetView =
                c.put(&format!("/v1/targets/{}", encode(name)), &TargetTags { tags: spec.tags.clone() })?;
        }
        Step::DeleteTarget(name) => {
            let _: Deleted = c.delete(&format!("/v1/targets/{}", encode(name)))?;
        }
        Step::PutTemplate(name, body, _) => {
            let _: TemplateView = c.put(&format!("/v1/templates/{}", encode(name)), body)?;
        }
        Step::DeleteTemplate(name) => {
            let _: Deleted = c.delete(&format!("/v1/templates/{}", encode(name)))?;
        }
        Step::PutWaivers(text, _, _) => {
            let _: WaiversUploaded = c.put_bytes("/v1/waivers", "application/yaml", text.as_bytes())?;
        }
    }
    Ok(())
}

/// `assay fleet apply FILE [--dry-run] [--prune]`.
pub(super) fn apply(c: &Client, file: &Path, dry_run: bool, prune: bool, json: bool) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Problem::Input(format!("cannot read {}: {e}", file.display())))?;
    let want: FleetFile =
        serde_yaml::from_str(&text).map_err(|e| Problem::Input(format!("{}: {e}", file.display())))?;
    let have = current(c)?;
    let steps = plan(&have, &want, prune)?;
    let lines: Vec<String> = steps.iter().map(Step::describe).collect();
    if !dry_run {
        for step in &steps {
            carry_out(c, step)?;
        }
    }
    if json {
        let doc = serde_json::json!({ "applied": !dry_run, "changes": lines });
        return super::print::json(&doc);
    }
    if lines.is_empty() {
        outln!("no changes: the server matches {}", file.display());
        return Ok(());
    }
    for line in &lines {
        outln!("{line}");
    }
    let verb = if dry_run { "would change" } else { "changed" };
    outln!("{} {verb}{}", lines.len(), if dry_run { " (--dry-run: nothing applied)" } else { "" });
    Ok(())
}

/// `assay fleet export [-o FILE]`.
pub(super) fn export(c: &Client, output: Option<&Path>) -> Result<()> {
    let state = current(c)?;
    let text = serde_yaml::to_string(&state).map_err(|e| Problem::Input(e.to_string()))?;
    let text = format!("# The fleet's targets, templates and waivers (`assay fleet apply FILE`).\n{text}");
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Problem::Input(format!("cannot write {}: {e}", path.display())))?,
        None => out!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(packages: &[&str]) -> TemplateSpec {
        TemplateSpec {
            target: "prod".into(),
            packages: packages.iter().map(|p| (*p).to_owned()).collect(),
            duration: "1h".into(),
            attributes: BTreeMap::new(),
            params: BTreeMap::new(),
            schedule: None,
            notifications: Vec::new(),
        }
    }

    #[test]
    fn the_plan_creates_changes_and_prunes_in_an_order_the_api_takes() {
        let mut have = FleetFile::default();
        have.targets.insert("old".into(), TargetSpec { tags: vec![] });
        have.templates.insert("gone".into(), spec(&["cis-linux"]));
        have.templates.insert("team".into(), TemplateSpec { duration: "60m".into(), ..spec(&["my-team@1"]) });
        let mut want = FleetFile::default();
        want.targets
            .insert("prod".into(), TargetSpec { tags: vec![TagFilter { key: "env".into(), value: None }] });
        want.templates.insert("team".into(), spec(&["my-team@1"]));
        // 60m and 1h are the same duration: nothing to do for `team`.
        let steps: Vec<String> = plan(&have, &want, true).unwrap().iter().map(Step::describe).collect();
        assert_eq!(steps, ["+ target prod", "- template gone", "- target old"]);
        let kept: Vec<String> = plan(&have, &want, false).unwrap().iter().map(Step::describe).collect();
        assert_eq!(kept, ["+ target prod"]);
        want.templates.insert("team".into(), spec(&["my-team@2"]));
        let steps: Vec<String> = plan(&have, &want, false).unwrap().iter().map(Step::describe).collect();
        assert_eq!(steps, ["+ target prod", "~ template team (packages)"]);
    }

    #[test]
    fn durations_read_back_as_written() {
        for (s, text) in [(3600, "1h"), (90, "90s"), (900, "15m"), (86_400, "1d")] {
            assert_eq!(duration_text(s), text);
            assert_eq!(super::super::parse_duration(text).ok(), Some(s));
        }
    }

    #[test]
    fn the_example_in_the_operators_guide_is_a_fleet_file() {
        let guide = include_str!("../../../docs/server.md");
        let section = guide.split("## The fleet declared in git").nth(1).unwrap();
        let yaml = section.split("```yaml\n").nth(1).unwrap().split("```").next().unwrap();
        let file: FleetFile = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(file.templates["nightly"].packages, ["security-best-practices", "my-team@1"]);
        assert!(body(&file.templates["nightly"]).is_ok());
        assert_eq!(file.waivers.map(|w| w.len()), Some(1));
    }

    #[test]
    fn a_misspelt_key_is_an_error_naming_it() {
        let e = serde_yaml::from_str::<FleetFile>("templates:\n  t:\n    target: x\n    pakages: [a]\n")
            .unwrap_err();
        assert!(e.to_string().contains("pakages"), "{e}");
    }
}
