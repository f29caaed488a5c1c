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
pub use assay_model::diff::{Change, Diff, Flip, RuleDiff, SideInfo};
use assay_model::findings::Report;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Part of one side: a bundle and the packages of it that count (`None`:
/// all of them). A server's side may span several bundles.
#[derive(Clone, Copy)]
pub struct Part<'b> {
    pub bundle: &'b Bundle,
    pub packages: Option<&'b [String]>,
}

impl<'b> Part<'b> {
    pub fn whole(bundle: &'b Bundle) -> Part<'b> {
        Part { bundle, packages: None }
    }

    fn counts(&self, package: &str) -> bool {
        self.packages.is_none_or(|names| names.iter().any(|n| n == package))
    }
}

fn info(label: &str, parts: &[Part<'_>]) -> SideInfo {
    let digests: Vec<String> = parts.iter().map(|p| format!("sha256:{}", p.bundle.digest)).collect();
    SideInfo {
        label: label.to_owned(),
        digest: digests.join(" "),
        packages: parts
            .iter()
            .flat_map(|part| {
                part.bundle
                    .content
                    .packages
                    .iter()
                    .filter(|p| part.counts(&p.name))
                    .map(|p| format!("{}@{}", p.name, p.version))
            })
            .collect(),
    }
}

/// The metadata fields of two rules that differ.
fn metadata_changes(a: &RuleMeta, b: &RuleMeta) -> Vec<String> {
    let same = [
        ("severity", a.severity == b.severity),
        ("title", a.title == b.title),
        ("description", a.description == b.description),
        ("doc", a.doc == b.doc),
        ("rationale", a.rationale == b.rationale),
        ("recommendation", a.recommendation == b.recommendation),
        ("references", a.references == b.references),
        ("tags", a.tags == b.tags),
    ];
    same.iter().filter(|(_, same)| !same).map(|(name, _)| (*name).to_owned()).collect()
}

/// Every rule of a side by id: its package, metadata and logic digest.
fn rules_of<'b>(parts: &[Part<'b>]) -> BTreeMap<&'b str, (String, &'b RuleMeta, String)> {
    let mut rules = BTreeMap::new();
    for part in parts {
        let content = &part.bundle.content;
        let logic = logic::rule_digests(content);
        for (i, r) in content.rules.iter().enumerate() {
            let package =
                content.packages.get(r.package as usize).map(|p| p.name.clone()).unwrap_or_default();
            if part.counts(&package) {
                rules.insert(r.id.as_str(), (package, r, logic[i].clone()));
            }
        }
    }
    rules
}

/// Compares two bundles rule by rule.
pub fn compare(old_label: &str, old: &Bundle, new_label: &str, new: &Bundle) -> Diff {
    compare_parts(old_label, &[Part::whole(old)], new_label, &[Part::whole(new)])
}

/// Compares two sides, each of one or several bundles, rule by rule.
pub fn compare_parts(old_label: &str, old: &[Part<'_>], new_label: &str, new: &[Part<'_>]) -> Diff {
    let (old_rules, new_rules) = (rules_of(old), rules_of(new));
    let ids: std::collections::BTreeSet<&str> = old_rules.keys().chain(new_rules.keys()).copied().collect();
    let mut rules = Vec::new();
    let mut unchanged = 0;
    let diff_of = |package: &str, r: &RuleMeta, change: Change| RuleDiff {
        rule_id: r.id.clone(),
        package: package.to_owned(),
        title: r.title.clone(),
        change,
        fields: Vec::new(),
        old_severity: None,
        new_severity: None,
        flips: Vec::new(),
        same_hosts: 0,
    };
    for id in ids {
        let diff = match (old_rules.get(id), new_rules.get(id)) {
            (Some((_, a, la)), Some((package, b, lb))) => {
                let fields = metadata_changes(a, b);
                let change = if la != lb {
                    Change::Logic
                } else if !fields.is_empty() {
                    Change::Metadata
                } else {
                    unchanged += 1;
                    continue;
                };
                let severity_changed = a.severity != b.severity;
                RuleDiff {
                    fields,
                    old_severity: severity_changed.then_some(a.severity),
                    new_severity: severity_changed.then_some(b.severity),
                    ..diff_of(package, b, change)
                }
            }
            (Some((package, a, _)), None) => {
                RuleDiff { old_severity: Some(a.severity), ..diff_of(package, a, Change::Removed) }
            }
            (None, Some((package, b, _))) => {
                RuleDiff { new_severity: Some(b.severity), ..diff_of(package, b, Change::Added) }
            }
            (None, None) => continue,
        };
        rules.push(diff);
    }
    Diff { old: info(old_label, old), new: info(new_label, new), rules, unchanged, hosts: Vec::new() }
}

/// Evaluates both bundles on each `(name, host)` and records, per rule,
/// the hosts whose outcome differs.
pub fn evaluate(diff: &mut Diff, old: &Bundle, new: &Bundle, hosts: &[(String, Host)]) {
    let options = Options::default();
    let (old_program, new_program) = (Program::new(old), Program::new(new));
    for (name, host) in hosts {
        let a = old_program.evaluate(host, &options);
        let b = new_program.evaluate(host, &options);
        record(diff, name, None, &a, &b);
    }
}

/// Records one host's outcomes on both sides (reports of the rules that
/// count): a flip for each rule whose outcome differs, a same-host count
/// for the others.
pub fn record(diff: &mut Diff, host: &str, agent: Option<&str>, old: &Report, new: &Report) {
    diff.hosts.push(host.to_owned());
    let outcomes = |r: &Report| -> BTreeMap<String, (&'static str, String, String)> {
        r.rules
            .iter()
            .map(|x| (x.rule_id.clone(), (x.outcome.name(), x.package.clone(), x.title.clone())))
            .collect()
    };
    let (oa, ob) = (outcomes(old), outcomes(new));
    let ids: std::collections::BTreeSet<&String> = oa.keys().chain(ob.keys()).collect();
    for id in ids {
        let was = oa.get(id).map_or("absent", |o| o.0);
        let is = ob.get(id).map_or("absent", |o| o.0);
        let index = match diff.rules.iter().position(|r| &r.rule_id == id) {
            Some(i) => i,
            None if was == is => {
                continue;
            }
            None => {
                // Same logic, another outcome: cannot happen on the same
                // telemetry, but if it does, it is shown, not hidden.
                let (_, package, title) = ob.get(id).or(oa.get(id)).cloned().unwrap_or_default();
                diff.unchanged = diff.unchanged.saturating_sub(1);
                diff.rules.push(RuleDiff {
                    rule_id: id.clone(),
                    package,
                    title,
                    change: Change::Unchanged,
                    fields: Vec::new(),
                    old_severity: None,
                    new_severity: None,
                    flips: Vec::new(),
                    same_hosts: 0,
                });
                diff.rules.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
                diff.rules.iter().position(|r| &r.rule_id == id).unwrap_or_default()
            }
        };
        let rule = &mut diff.rules[index];
        if was == is {
            rule.same_hosts += 1;
        } else {
            rule.flips.push(Flip {
                host: host.to_owned(),
                agent: agent.map(str::to_owned),
                old: was.to_owned(),
                new: is.to_owned(),
            });
        }
    }
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

/// What else changed in a rule than its logic: its severity, then its
/// other metadata fields.
fn notes(r: &RuleDiff) -> Vec<String> {
    let mut notes = vec![severity_note(r)];
    let other: Vec<&str> = r.fields.iter().map(String::as_str).filter(|f| *f != "severity").collect();
    if !other.is_empty() {
        notes.push(format!("changed: {}", other.join(", ")));
    }
    notes.retain(|n| !n.is_empty());
    notes
}

/// How many rules changed, and how.
pub fn summary_line(d: &Diff) -> String {
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
        let notes = notes(r);
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
            let notes = notes(r);
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
