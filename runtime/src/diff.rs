//! `assay diff`: what a change to rules packages means, rule by rule, and
//! with recorded telemetry, host by host.
//!
//! Rules are matched by id. A rule whose logic digest
//! ([`assay_model::bundle::logic`]) differs changed its *logic*; one whose
//! digest is the same but whose metadata differs changed its *metadata*
//! only (severity changes are called out); a reformatted or renamed-local
//! rule is unchanged. With telemetry, both sides are evaluated on every
//! host and each rule's outcome compared.

use crate::value::Host;
use crate::vm::{Options, Program};
use assay_model::bundle::{logic, Bundle, RuleMeta};
use assay_model::Severity;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One side of a comparison, as the report names it.
#[derive(Clone, Debug, Serialize)]
pub struct SideInfo {
    /// What the user gave (`main:policies/my-team`, a folder, a bundle).
    pub label: String,
    pub digest: String,
    /// `name@version` of every package.
    pub packages: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    /// The compiled code, platforms or what the rule reads changed.
    Logic,
    /// Only what describes the rule (severity, title, texts, tags).
    Metadata,
    /// Neither; listed only when an outcome flipped anyway.
    Unchanged,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Logic => "logic",
            Change::Metadata => "metadata",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One host whose outcome of a rule differs between the sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Flip {
    pub host: String,
    /// The outcome's name (`passed`, `failed`, `not applicable`,
    /// `skipped`, `error`), or `absent` where the side has no such rule.
    pub old: String,
    pub new: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleDiff {
    pub rule_id: String,
    pub package: String,
    pub title: String,
    pub change: Change,
    /// The metadata fields that differ (`severity`, `title`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<&'static str>,
    /// Present when the severity differs (or on one side only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_severity: Option<Severity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flips: Vec<Flip>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    pub old: SideInfo,
    pub new: SideInfo,
    /// Changed rules (and unchanged ones whose outcome flipped), by id.
    pub rules: Vec<RuleDiff>,
    /// Rules the same on both sides.
    pub unchanged: usize,
    /// The hosts evaluated (empty without telemetry).
    pub hosts: Vec<String>,
}

impl Diff {
    pub fn flips(&self) -> usize {
        self.rules.iter().map(|r| r.flips.len()).sum()
    }
}

fn info(label: &str, bundle: &Bundle) -> SideInfo {
    SideInfo {
        label: label.to_owned(),
        digest: format!("sha256:{}", bundle.digest),
        packages: bundle.content.packages.iter().map(|p| format!("{}@{}", p.name, p.version)).collect(),
    }
}

/// The metadata fields of two rules that differ.
fn metadata_changes(a: &RuleMeta, b: &RuleMeta) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let mut check = |name, same: bool| {
        if !same {
            fields.push(name);
        }
    };
    check("severity", a.severity == b.severity);
    check("title", a.title == b.title);
    check("description", a.description == b.description);
    check("doc", a.doc == b.doc);
    check("rationale", a.rationale == b.rationale);
    check("recommendation", a.recommendation == b.recommendation);
    check("references", a.references == b.references);
    check("tags", a.tags == b.tags);
    fields
}

/// Compares two bundles rule by rule.
pub fn compare(old_label: &str, old: &Bundle, new_label: &str, new: &Bundle) -> Diff {
    let package = |b: &Bundle, r: &RuleMeta| {
        b.content.packages.get(r.package as usize).map(|p| p.name.clone()).unwrap_or_default()
    };
    let old_logic = logic::rule_digests(&old.content);
    let new_logic = logic::rule_digests(&new.content);
    let old_rules: BTreeMap<&str, usize> =
        old.content.rules.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    let new_rules: BTreeMap<&str, usize> =
        new.content.rules.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    let ids: std::collections::BTreeSet<&str> = old_rules.keys().chain(new_rules.keys()).copied().collect();
    let mut rules = Vec::new();
    let mut unchanged = 0;
    for id in ids {
        let diff = match (old_rules.get(id), new_rules.get(id)) {
            (Some(&o), Some(&n)) => {
                let (a, b) = (&old.content.rules[o], &new.content.rules[n]);
                let fields = metadata_changes(a, b);
                let change = if old_logic[o] != new_logic[n] {
                    Change::Logic
                } else if !fields.is_empty() {
                    Change::Metadata
                } else {
                    Change::Unchanged
                };
                let severity_changed = a.severity != b.severity;
                RuleDiff {
                    rule_id: id.to_owned(),
                    package: package(new, b),
                    title: b.title.clone(),
                    change,
                    fields,
                    old_severity: severity_changed.then_some(a.severity),
                    new_severity: severity_changed.then_some(b.severity),
                    flips: Vec::new(),
                }
            }
            (Some(&o), None) => {
                let a = &old.content.rules[o];
                RuleDiff {
                    rule_id: id.to_owned(),
                    package: package(old, a),
                    title: a.title.clone(),
                    change: Change::Removed,
                    fields: Vec::new(),
                    old_severity: Some(a.severity),
                    new_severity: None,
                    flips: Vec::new(),
                }
            }
            (None, Some(&n)) => {
                let b = &new.content.rules[n];
                RuleDiff {
                    rule_id: id.to_owned(),
                    package: package(new, b),
                    title: b.title.clone(),
                    change: Change::Added,
                    fields: Vec::new(),
                    old_severity: None,
                    new_severity: Some(b.severity),
                    flips: Vec::new(),
                }
            }
            (None, None) => continue,
        };
        if diff.change == Change::Unchanged {
            unchanged += 1;
        }
        rules.push(diff);
    }
    let mut diff =
        Diff { old: info(old_label, old), new: info(new_label, new), rules, unchanged, hosts: Vec::new() };
    diff.rules.retain(|r| r.change != Change::Unchanged);
    diff
}

/// Evaluates both bundles on each `(name, host)` and records, per rule,
/// the hosts whose outcome differs.
pub fn evaluate(diff: &mut Diff, old: &Bundle, new: &Bundle, hosts: &[(String, Host)]) {
    let options = Options::default();
    let (old_program, new_program) = (Program::new(old), Program::new(new));
    let mut flips: BTreeMap<String, Vec<Flip>> = BTreeMap::new();
    let mut titles: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (name, host) in hosts {
        diff.hosts.push(name.clone());
        let a = old_program.evaluate(host, &options);
        let b = new_program.evaluate(host, &options);
        let outcomes = |r: &crate::findings::Report| -> BTreeMap<String, &'static str> {
            r.rules.iter().map(|x| (x.rule_id.clone(), x.outcome.name())).collect()
        };
        let (oa, ob) = (outcomes(&a), outcomes(&b));
        for r in a.rules.iter().chain(&b.rules) {
            titles.entry(r.rule_id.clone()).or_insert_with(|| (r.package.clone(), r.title.clone()));
        }
        let ids: std::collections::BTreeSet<&String> = oa.keys().chain(ob.keys()).collect();
        for id in ids {
            let was = oa.get(id).copied().unwrap_or("absent");
            let is = ob.get(id).copied().unwrap_or("absent");
            if was != is {
                flips.entry(id.clone()).or_default().push(Flip {
                    host: name.clone(),
                    old: was.to_owned(),
                    new: is.to_owned(),
                });
            }
        }
    }
    for (id, list) in flips {
        match diff.rules.iter_mut().find(|r| r.rule_id == id) {
            Some(rule) => rule.flips = list,
            None => {
                // Same logic, another outcome: cannot happen on the same
                // telemetry, but if it does, it is shown, not hidden.
                let (package, title) = titles.get(&id).cloned().unwrap_or_default();
                diff.unchanged = diff.unchanged.saturating_sub(1);
                diff.rules.push(RuleDiff {
                    rule_id: id,
                    package,
                    title,
                    change: Change::Unchanged,
                    fields: Vec::new(),
                    old_severity: None,
                    new_severity: None,
                    flips: list,
                });
            }
        }
    }
    diff.rules.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
}

fn severity_note(r: &RuleDiff) -> String {
    match (r.old_severity, r.new_severity) {
        (Some(a), Some(b)) if a != b => {
            let how = if b > a { "raised" } else { "lowered" };
            format!("severity {a} → {b} ({how})")
        }
        (Some(a), None) | (None, Some(a)) => a.to_string(),
        _ => String::new(),
    }
}

fn summary_line(d: &Diff) -> String {
    let count = |c: Change| d.rules.iter().filter(|r| r.change == c).count();
    format!(
        "{} added, {} removed, {} logic changed, {} metadata only, {} unchanged",
        count(Change::Added),
        count(Change::Removed),
        count(Change::Logic),
        count(Change::Metadata),
        d.unchanged
    )
}

/// For people: one line per changed rule, then the flips.
pub fn render_table(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "old  {}  {}  {}", d.old.label, d.old.digest, d.old.packages.join(" "));
    let _ = writeln!(out, "new  {}  {}  {}", d.new.label, d.new.digest, d.new.packages.join(" "));
    let _ = writeln!(out);
    for r in &d.rules {
        let mut notes = vec![severity_note(r)];
        let other: Vec<&str> = r.fields.iter().copied().filter(|f| *f != "severity").collect();
        if !other.is_empty() {
            notes.push(format!("changed: {}", other.join(", ")));
        }
        notes.retain(|n| !n.is_empty());
        let _ = writeln!(
            out,
            "{:<9} {:<16} {:<20} {}{}",
            r.change.word(),
            r.rule_id,
            r.package,
            r.title,
            if notes.is_empty() { String::new() } else { format!("  [{}]", notes.join("; ")) }
        );
    }
    let _ = writeln!(out, "\n{}", summary_line(d));
    if !d.hosts.is_empty() {
        let flipped: std::collections::BTreeSet<&str> =
            d.rules.iter().flat_map(|r| r.flips.iter().map(|f| f.host.as_str())).collect();
        let _ =
            writeln!(out, "{} outcome flip(s) on {} of {} host(s)", d.flips(), flipped.len(), d.hosts.len());
        for r in &d.rules {
            for f in &r.flips {
                let _ = writeln!(out, "  {:<16} {:<24} {} → {}", r.rule_id, f.host, f.old, f.new);
            }
        }
    }
    out
}

/// For a pull-request comment.
pub fn render_markdown(d: &Diff) -> String {
    let mut out = String::from("### assay diff\n\n");
    let _ = writeln!(out, "| | source | digest | packages |\n| --- | --- | --- | --- |");
    for (name, s) in [("old", &d.old), ("new", &d.new)] {
        let _ =
            writeln!(out, "| {name} | {} | `{}` | {} |", md(&s.label), s.digest, md(&s.packages.join(", ")));
    }
    let _ = writeln!(out, "\n{}\n", summary_line(d));
    if !d.rules.is_empty() {
        let _ = writeln!(out, "| change | rule | package | title | notes |\n| --- | --- | --- | --- | --- |");
        for r in &d.rules {
            let mut notes = vec![severity_note(r)];
            let other: Vec<&str> = r.fields.iter().copied().filter(|f| *f != "severity").collect();
            if !other.is_empty() {
                notes.push(format!("changed: {}", other.join(", ")));
            }
            notes.retain(|n| !n.is_empty());
            let change = match r.change {
                Change::Logic => "**logic**".to_owned(),
                c => c.word().to_owned(),
            };
            let _ = writeln!(
                out,
                "| {change} | {} | {} | {} | {} |",
                md(&r.rule_id),
                md(&r.package),
                md(&r.title),
                md(&notes.join("; "))
            );
        }
    }
    if !d.hosts.is_empty() {
        let _ = writeln!(out, "\n**{} outcome flip(s)** over {} host(s)\n", d.flips(), d.hosts.len());
        if d.flips() > 0 {
            let _ = writeln!(out, "| rule | host | old | new |\n| --- | --- | --- | --- |");
            for r in &d.rules {
                for f in &r.flips {
                    let _ = writeln!(out, "| {} | {} | {} | {} |", md(&r.rule_id), md(&f.host), f.old, f.new);
                }
            }
        }
    }
    out
}

/// Escapes what would break a Markdown table cell or start markup.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '<' | '>' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
