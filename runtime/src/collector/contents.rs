//! Values looked up in configuration files by the bundles' plans
//! (`host.json(PATH, KEY)`, `host.lines(PATH, PATTERN)`, ...). Only the keys
//! and lines a plan names are kept, never a whole file; the value of a key
//! that looks like a credential is never read unless the rule said why it
//! is none, a matched line that names a credential is withheld, and a
//! password in a URL is masked. Each file is read once, under the root's
//! confinement and size cap, whatever number of lookups name it.
//!
//! A missing file is a result (`exists: false`); a file that cannot be read
//! or parsed is an error naming the parser's message and line, and its
//! lookups are left out of `looked_up`, so their rules are skipped.

use super::fs::FsError;
use super::Ctx;
use crate::yaml_path::Step;
use assay_model::lookup::{secret_word, ContentLookup, MAX_CONTENT_FILES};
use assay_model::telemetry::{ContentFormat, ContentValue, LineMatch, Provenance, Sourced, ValueKind};
use std::collections::BTreeMap;

const SENSOR: &str = "contents";
/// The longest value kept, and the most items of a list or matched lines.
const MAX_VALUE: usize = 4096;
const MAX_ITEMS: usize = 1000;
/// How deep includes nest, and how many files one lookup's includes read.
const MAX_INCLUDE_DEPTH: usize = 8;
const MAX_INCLUDED_FILES: usize = 256;

/// A parsed value of a structured file.
#[derive(Clone)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// One `key value` setting of an INI or key-value file, where it was.
struct Setting {
    section: Option<String>,
    key: String,
    value: String,
    file: String,
    line: u32,
}

/// One parsed document and where it came from.
struct Document {
    path: String,
    tree: Node,
    text: Text,
}

/// A document's text, as the parser that gives positions reads it: JSON is
/// read as YAML (of which it is, in practice, a subset).
enum Text {
    Yaml(String),
    Toml(String),
}

impl Text {
    /// The line of the node at `steps`.
    fn line(&self, steps: &[Step]) -> Option<usize> {
        match self {
            Text::Yaml(text) => crate::yaml_path::find(text, steps).map(|(line, _)| line),
            Text::Toml(text) => toml_line(text, steps),
        }
    }
}

/// The line of the TOML value at `steps`, from the parser's spans.
fn toml_line(text: &str, steps: &[Step]) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    type Node<'a, 'i> = &'a toml::Spanned<DeValue<'i>>;
    fn entry<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<Node<'a, 'i>> {
        table.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(_, v)| v)
    }
    let doc = DeTable::parse(text).ok()?;
    let mut node: Option<Node<'_, '_>> = None;
    for step in steps {
        node = Some(match (node.map(|n| n.get_ref()), step) {
            (None, Step::Key(k)) => entry(doc.get_ref(), k)?,
            (Some(DeValue::Table(t)), Step::Key(k)) => entry(t, k)?,
            (Some(DeValue::Array(a)), Step::Index(i)) => a.get(*i)?,
            _ => return None,
        });
    }
    let start = node?.span().start;
    Some(text.get(..start)?.matches('\n').count() + 1)
}

enum Parsed {
    Missing,
    /// JSON, YAML or TOML documents (the file, then its drop-ins), each
    /// with its path and text, where a value's line is found again.
    Trees(Vec<Document>),
    Settings(Vec<Setting>),
    /// The texts of a line-format file and its drop-ins, each with its path.
    Texts(Vec<(String, String)>),
}

pub(super) fn collect(ctx: &mut Ctx, plan: &[ContentLookup]) -> Vec<ContentValue> {
    let read = read_all(&ctx.fs, plan);
    for (path, message) in read.errors {
        ctx.error(SENSOR, Some(&path), message);
    }
    ctx.looked_up.contents = Some(read.covered);
    read.values
}

/// What the lookups of a plan found: the values, the lookups they cover
/// (as written), and per file what could not be read or parsed.
pub struct Read {
    pub values: Vec<ContentValue>,
    pub covered: Vec<String>,
    pub errors: Vec<(String, String)>,
}

/// The files contents are read from: a root file system, or the text a
/// policy test gives (`files:` in a case).
pub trait Files {
    /// A file's text; `None` when it does not exist.
    fn text(&self, path: &str) -> Result<Option<String>, String>;
    /// The names in a directory, sorted; `None` when it does not exist.
    fn names(&self, dir: &str) -> Result<Option<Vec<String>>, String>;
}

impl Files for super::fs::RootFs {
    fn text(&self, path: &str) -> Result<Option<String>, String> {
        match self.read(path) {
            Ok(text) => Ok(Some(text)),
            Err(FsError::NotFound) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn names(&self, dir: &str) -> Result<Option<Vec<String>>, String> {
        match self.read_dir(dir) {
            Ok(names) => Ok(Some(names)),
            Err(FsError::NotFound) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Files given by path (a policy test's `files:`).
impl Files for BTreeMap<String, String> {
    fn text(&self, path: &str) -> Result<Option<String>, String> {
        Ok(self.get(path).cloned())
    }

    fn names(&self, dir: &str) -> Result<Option<Vec<String>>, String> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let names: Vec<String> = self
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_owned)
            .collect();
        Ok((!names.is_empty()).then_some(names))
    }
}

/// Reads every lookup of `plan` from `files`, each file parsed once.
pub fn read_all(files: &dyn Files, plan: &[ContentLookup]) -> Read {
    type Source<'p> = (String, ContentFormat, Option<&'p str>);
    let mut by_file: BTreeMap<Source<'_>, Vec<&ContentLookup>> = BTreeMap::new();
    for lookup in plan {
        by_file
            .entry((lookup.path.clone(), lookup.format, lookup.dropins.as_deref()))
            .or_default()
            .push(lookup);
    }
    let mut read = Read { values: Vec::new(), covered: Vec::new(), errors: Vec::new() };
    for (count, ((path, _, _), lookups)) in by_file.into_iter().enumerate() {
        if count >= MAX_CONTENT_FILES {
            read.errors.push((path, format!("more than {MAX_CONTENT_FILES} files looked up; not read")));
            continue;
        }
        let parsed = match parse(files, lookups[0]) {
            Ok(parsed) => parsed,
            Err(message) => {
                read.errors.push((path, message));
                continue;
            }
        };
        for lookup in lookups {
            match value(&parsed, lookup) {
                Ok(v) => {
                    read.covered.push(lookup.written());
                    read.values.push(v);
                }
                Err(message) => read.errors.push((path.clone(), format!("{}: {message}", lookup.written()))),
            }
        }
    }
    read.covered.sort();
    read.covered.dedup();
    read.values.sort_by(|a, b| a.lookup.cmp(&b.lookup));
    read.values.dedup_by(|a, b| a.lookup == b.lookup);
    read
}

/// Parses the file `lookup` names, then its drop-ins; missing when none
/// of them exists.
fn parse(files: &dyn Files, lookup: &ContentLookup) -> Result<Parsed, String> {
    let (path, format) = (lookup.path.as_str(), lookup.format);
    let dropins = match lookup.dropin_folder() {
        Some((dir, suffix)) => included(files, dir, &[suffix])?,
        None => Vec::new(),
    };
    if dropins.len() >= MAX_INCLUDED_FILES {
        return Err(format!("more than {MAX_INCLUDED_FILES} drop-in files"));
    }
    match format {
        ContentFormat::Ini | ContentFormat::Keyvalue => {
            let mut settings = Vec::new();
            let mut budget = MAX_INCLUDED_FILES;
            let mut found = settings_of(files, path, format, 0, &mut budget, &mut settings)?;
            for dropin in &dropins {
                found |= settings_of(files, dropin, format, 0, &mut budget, &mut settings)?;
            }
            Ok(if found { Parsed::Settings(settings) } else { Parsed::Missing })
        }
        ContentFormat::Lines => {
            let mut texts = Vec::new();
            for file in std::iter::once(path).chain(dropins.iter().map(String::as_str)) {
                match files.text(file) {
                    Ok(Some(text)) => texts.push((file.to_owned(), text)),
                    Ok(None) => {}
                    Err(e) if file == path => return Err(e),
                    Err(e) => return Err(format!("{file}: {e}")),
                }
            }
            Ok(if texts.is_empty() { Parsed::Missing } else { Parsed::Texts(texts) })
        }
        ContentFormat::Json | ContentFormat::Yaml | ContentFormat::Toml => {
            let mut documents = Vec::new();
            for file in std::iter::once(path).chain(dropins.iter().map(String::as_str)) {
                let text = match files.text(file) {
                    Ok(Some(text)) => text,
                    Ok(None) => continue,
                    // The file's own error names it; a drop-in's is named here.
                    Err(e) if file == path => return Err(e),
                    Err(e) => return Err(format!("{file}: {e}")),
                };
                let tree =
                    document(&text, format)
                        .map_err(|e| if file == path { e } else { format!("{file}: {e}") })?;
                let text = if format == ContentFormat::Toml { Text::Toml(text) } else { Text::Yaml(text) };
                documents.push(Document { path: file.to_owned(), tree, text });
            }
            Ok(if documents.is_empty() { Parsed::Missing } else { Parsed::Trees(documents) })
        }
    }
}

/// A JSON, YAML or TOML document's tree.
fn document(text: &str, format: ContentFormat) -> Result<Node, String> {
    match format {
        ContentFormat::Json => serde_json::from_str::<serde_json::Value>(text)
            .map(from_json)
            .map_err(|e| format!("not valid JSON: {e}")),
        // An empty document is an empty map, as tools read it.
        ContentFormat::Yaml if text.trim().is_empty() => Ok(Node::Map(Vec::new())),
        ContentFormat::Yaml => serde_yaml::from_str::<serde_yaml::Value>(text)
            .map(from_yaml)
            .map_err(|e| format!("not valid YAML: {e}")),
        _ => toml::from_str::<toml::Table>(text)
            .map(|t| from_toml(toml::Value::Table(t)))
            .map_err(|e| toml_error(text, &e)),
    }
}

/// The TOML parser's message and where, without the excerpt of the file
/// its own rendering quotes (which may hold a credential).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("not valid TOML at line {line}, column {column}: {}", e.message())
        }
        None => format!("not valid TOML: {}", e.message()),
    }
}

fn from_json(v: serde_json::Value) -> Node {
    use serde_json::Value as J;
    match v {
        J::Null => Node::Null,
        J::Bool(b) => Node::Bool(b),
        J::Number(n) => {
            n.as_i64().map(Node::Int).unwrap_or_else(|| Node::Float(n.as_f64().unwrap_or(f64::NAN)))
        }
        J::String(s) => Node::Str(s),
        J::Array(items) => Node::List(items.into_iter().map(from_json).collect()),
        J::Object(map) => Node::Map(map.into_iter().map(|(k, v)| (k, from_json(v))).collect()),
    }
}

fn from_yaml(v: serde_yaml::Value) -> Node {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Node::Null,
        Y::Bool(b) => Node::Bool(b),
        Y::Number(n) => {
            n.as_i64().map(Node::Int).unwrap_or_else(|| Node::Float(n.as_f64().unwrap_or(f64::NAN)))
        }
        Y::String(s) => Node::Str(s),
        Y::Sequence(items) => Node::List(items.into_iter().map(from_yaml).collect()),
        Y::Mapping(map) => Node::Map(
            map.into_iter()
                .filter_map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        Y::Number(n) => n.to_string(),
                        Y::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    Some((key, from_yaml(v)))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => from_yaml(tagged.value),
    }
}

fn from_toml(v: toml::Value) -> Node {
    use toml::Value as T;
    match v {
        T::String(s) => Node::Str(s),
        T::Integer(i) => Node::Int(i),
        T::Float(f) => Node::Float(f),
        T::Boolean(b) => Node::Bool(b),
        T::Datetime(d) => Node::Str(d.to_string()),
        T::Array(items) => Node::List(items.into_iter().map(from_toml).collect()),
        T::Table(t) => Node::Map(t.into_iter().map(|(k, v)| (k, from_toml(v))).collect()),
    }
}

/// Reads the settings of an INI or key-value file and the files it
/// includes, in the order the program reads them; whether the file exists.
fn settings_of(
    files: &dyn Files,
    path: &str,
    format: ContentFormat,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<Setting>,
) -> Result<bool, String> {
    if *budget == 0 {
        return Err(format!("includes read more than {MAX_INCLUDED_FILES} files"));
    }
    *budget -= 1;
    let text = match files.text(path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(false),
        Err(e) => return Err(format!("{path}: {e}")),
    };
    let dir = path.rsplit_once('/').map_or("/", |(d, _)| if d.is_empty() { "/" } else { d }).to_owned();
    let absolute = |p: &str| if p.starts_with('/') { p.to_owned() } else { format!("{dir}/{p}") };
    let mut section: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = (i + 1) as u32;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        if format == ContentFormat::Ini {
            if let Some(rest) = trimmed.strip_prefix('!') {
                let (directive, target) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let target = absolute(target.trim());
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(format!("{path}:{line}: includes nest more than {MAX_INCLUDE_DEPTH} deep"));
                }
                match directive {
                    "include" => {
                        settings_of(files, &target, format, depth + 1, budget, out)?;
                    }
                    "includedir" => {
                        for name in included(files, &target, &[".cnf"])? {
                            settings_of(files, &name, format, depth + 1, budget, out)?;
                        }
                    }
                    // Its text is not repeated: it may be anything.
                    _ => return Err(format!("{path}:{line}: an unknown `!` directive")),
                }
                continue;
            }
            if trimmed.starts_with(['#', ';']) {
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[') {
                let Some(name) = name.strip_suffix(']') else {
                    return Err(format!("{path}:{line}: a section header without its `]`"));
                };
                section = Some(name.trim().to_owned());
                continue;
            }
            let (key, value) = match trimmed.split_once('=') {
                Some((k, v)) => (k.trim(), unquote(strip_comment(v.trim(), &['#', ';']))),
                // A flag (`skip-networking`).
                None => (trimmed, String::new()),
            };
            out.push(Setting {
                section: section.clone(),
                key: key.to_owned(),
                value,
                file: path.to_owned(),
                line,
            });
            continue;
        }
        // Key-value: `key = value` or `key value`, `#` comments.
        if trimmed.starts_with('#') {
            continue;
        }
        let body = strip_comment(trimmed, &['#']);
        let (key, value) = match body.split_once(|c: char| c == '=' || c.is_whitespace()) {
            Some((k, v)) => (k.trim(), v.trim().trim_start_matches('=').trim()),
            None => (body, ""),
        };
        let value = unquote(value);
        let include = match key {
            "include" => Some(false),
            "include_if_exists" => Some(true),
            _ => None,
        };
        if depth >= MAX_INCLUDE_DEPTH && (include.is_some() || key == "include_dir") {
            return Err(format!("{path}:{line}: includes nest more than {MAX_INCLUDE_DEPTH} deep"));
        }
        if let Some(optional) = include {
            let target = absolute(&value);
            let found = settings_of(files, &target, format, depth + 1, budget, out)?;
            if !found && !optional {
                return Err(format!("{path}:{line}: the included file {target} does not exist"));
            }
            continue;
        }
        if key == "include_dir" {
            for name in included(files, &absolute(&value), &[".conf"])? {
                settings_of(files, &name, format, depth + 1, budget, out)?;
            }
            continue;
        }
        out.push(Setting { section: None, key: key.to_owned(), value, file: path.to_owned(), line });
    }
    Ok(true)
}

/// The files of an include directory with one of `suffixes`, in name
/// order (hidden files skipped); none when it does not exist.
fn included(files: &dyn Files, dir: &str, suffixes: &[&str]) -> Result<Vec<String>, String> {
    let names = files.names(dir).map_err(|e| format!("{dir}: {e}"))?.unwrap_or_default();
    Ok(names
        .into_iter()
        .filter(|n| !n.starts_with('.') && suffixes.iter().any(|s| n.ends_with(s)))
        .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
        .collect())
}

/// `value # comment` without the comment (outside quotes).
fn strip_comment<'t>(text: &'t str, marks: &[char]) -> &'t str {
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if marks.contains(&c) => return text[..i].trim_end(),
            None => {}
        }
    }
    text
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    for q in ['\'', '"'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_owned();
        }
    }
    v.to_owned()
}

/// Option names compare with `-` and `_` alike, as MySQL's do.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| x == y || (matches!(x, b'-' | b'_') && matches!(y, b'-' | b'_')))
}

/// What one lookup finds in a parsed file.
fn value(parsed: &Parsed, lookup: &ContentLookup) -> Result<ContentValue, String> {
    let mut out = ContentValue {
        lookup: lookup.written(),
        format: lookup.format,
        path: lookup.path.clone(),
        key: lookup.key.clone(),
        exists: !matches!(parsed, Parsed::Missing),
        ..ContentValue::default()
    };
    let reads_value = lookup.reads_value();
    match parsed {
        Parsed::Missing => {}
        Parsed::Texts(texts) => {
            let pattern = regex::Regex::new(&lookup.key).map_err(|e| format!("the pattern: {e}"))?;
            let mut lines = Vec::new();
            for (path, text) in texts {
                // Inside a PEM private key block, every line is the key's.
                let mut in_key = false;
                for (i, line) in text.lines().enumerate() {
                    let key_line = in_key || (line.starts_with("-----BEGIN") && line.contains("PRIVATE KEY"));
                    in_key = key_line && !(line.starts_with("-----END") && line.contains("PRIVATE KEY"));
                    let Some(caps) = pattern.captures(line) else { continue };
                    if lines.len() >= MAX_ITEMS {
                        return Err(format!("more than {MAX_ITEMS} lines match"));
                    }
                    let number = (i + 1) as u32;
                    let source = Provenance::file(path, number);
                    // A line that names a credential is withheld, whatever the pattern.
                    let named = if key_line { Some("private") } else { secret_word(line) };
                    let (text, captures) = match (reads_value, named) {
                        (true, None) => {
                            let masked = mask(&bounded(line)?);
                            // A group that held (part of) a masked password
                            // is not in the masked line.
                            let captures = caps
                                .iter()
                                .skip(1)
                                .map(|c| match c.map(|m| m.as_str()) {
                                    None => String::new(),
                                    Some(group) if masked.contains(group) => group.to_owned(),
                                    Some(_) => "***".to_owned(),
                                })
                                .collect();
                            (masked, captures)
                        }
                        (_, Some(word)) => (format!("(withheld: the line names `{word}`)"), Vec::new()),
                        (false, None) => ("(withheld: presence only)".to_owned(), Vec::new()),
                    };
                    lines.push(LineMatch { line: Sourced::new(text, source), number, captures });
                }
            }
            out.set = !lines.is_empty();
            out.lines = Some(lines);
        }
        Parsed::Settings(settings) => {
            let path = if lookup.format == ContentFormat::Ini {
                assay_model::lookup::key_path(&lookup.key)?
            } else {
                vec![lookup.key.clone()]
            };
            let (section, key) = match path.as_slice() {
                [key] => (None, key.as_str()),
                [section, key] => (Some(section.as_str()), key.as_str()),
                _ => return Err("an INI key is KEY or SECTION.KEY".into()),
            };
            // The last setting read wins.
            let found = settings.iter().rev().find(|s| {
                same_key(&s.key, key)
                    && match (section, &s.section) {
                        (None, None) => true,
                        (Some(a), Some(b)) => a == b,
                        _ => false,
                    }
            });
            if let Some(s) = found {
                out.set = true;
                if reads_value {
                    let source = Provenance::file(&s.file, s.line);
                    let text = mask(&bounded(&s.value)?);
                    out.kind = Some(ValueKind::String);
                    out.integer = text.parse::<i64>().ok().map(|n| Sourced::new(n, source.clone()));
                    out.boolean = boolean(&text).map(|b| Sourced::new(b, source.clone()));
                    out.text = Some(Sourced::new(text, source));
                }
            }
        }
        Parsed::Trees(documents) => {
            let parts = assay_model::lookup::key_path(&lookup.key)?;
            // Each document's node at the key, the later overriding.
            let mut merged: Option<Node> = None;
            let mut last = None;
            for doc in documents {
                if let Some((node, steps)) = at_key(&doc.tree, &parts) {
                    merged = Some(match merged.take() {
                        Some(before) => merge(before, node),
                        None => node.clone(),
                    });
                    last = Some((doc, steps));
                }
            }
            if let (Some(node), Some((doc, steps))) = (merged, last) {
                out.set = true;
                if reads_value {
                    // The line of the value in the document that set it
                    // last, where the text gives it back (a JSON document
                    // YAML cannot read: the file alone).
                    let source = match doc.text.line(&steps) {
                        Some(line) => Provenance::file(&doc.path, line as u32),
                        None => Provenance::path(&doc.path),
                    };
                    fill(&mut out, &node, source)?;
                }
            }
        }
    }
    Ok(out)
}

/// The node at a key's parts, and the steps that reach it.
fn at_key<'n>(root: &'n Node, parts: &[String]) -> Option<(&'n Node, Vec<Step>)> {
    let mut node = root;
    let mut steps = Vec::with_capacity(parts.len());
    for part in parts {
        node = match node {
            Node::Map(entries) => {
                steps.push(Step::Key(part.clone()));
                entries.iter().rev().find(|(k, _)| k == part).map(|(_, v)| v)?
            }
            Node::List(items) => {
                let i = part.parse::<usize>().ok()?;
                steps.push(Step::Index(i));
                items.get(i)?
            }
            _ => return None,
        };
    }
    Some((node, steps))
}

/// `later` over `before`: maps merged key by key, anything else replaced.
fn merge(before: Node, later: &Node) -> Node {
    match (before, later) {
        (Node::Map(mut entries), Node::Map(over)) => {
            for (key, value) in over {
                match entries.iter().rposition(|(k, _)| k == key) {
                    Some(i) => {
                        let (k, old) = entries.remove(i);
                        entries.insert(i, (k, merge(old, value)));
                    }
                    None => entries.push((key.clone(), value.clone())),
                }
            }
            Node::Map(entries)
        }
        (_, later) => later.clone(),
    }
}

fn fill(out: &mut ContentValue, node: &Node, source: Provenance) -> Result<(), String> {
    let (kind, text) = match node {
        Node::Null => (ValueKind::Null, None),
        Node::Bool(b) => {
            out.boolean = Some(Sourced::new(*b, source.clone()));
            (ValueKind::Boolean, Some(b.to_string()))
        }
        Node::Int(n) => {
            out.integer = Some(Sourced::new(*n, source.clone()));
            (ValueKind::Integer, Some(n.to_string()))
        }
        Node::Float(f) => (ValueKind::Float, Some(f.to_string())),
        Node::Str(s) => (ValueKind::String, Some(mask(&bounded(s)?))),
        Node::List(items) => {
            if items.len() > MAX_ITEMS {
                return Err(format!("a list of more than {MAX_ITEMS} items"));
            }
            let mut texts = Vec::new();
            for item in items {
                let text = match item {
                    Node::Bool(b) => b.to_string(),
                    Node::Int(n) => n.to_string(),
                    Node::Float(f) => f.to_string(),
                    Node::Str(s) => mask(&bounded(s)?),
                    Node::Null | Node::List(_) | Node::Map(_) => continue,
                };
                texts.push(text);
            }
            out.list = Some(Sourced::new(texts, source.clone()));
            (ValueKind::List, None)
        }
        Node::Map(_) => (ValueKind::Map, None),
    };
    out.kind = Some(kind);
    out.text = text.map(|t| Sourced::new(t, source));
    Ok(())
}

fn bounded(text: &str) -> Result<String, String> {
    if text.len() > MAX_VALUE {
        return Err(format!("a value of {} bytes, more than the {MAX_VALUE} kept", text.len()));
    }
    Ok(text.to_owned())
}

/// `true` for `true`, `yes`, `on`, `1`; `false` for their opposites; as
/// configuration files write booleans.
fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Every password in a URL (`postgres://app:s3cret@db/app`) masked; a
/// value holding a PEM private key withheld whole.
fn mask(text: &str) -> String {
    if text.contains("PRIVATE KEY-----") {
        return "(withheld: a private key)".to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme) = rest.find("://") {
        out.push_str(&rest[..scheme + 3]);
        rest = &rest[scheme + 3..];
        // The authority ends at a path, a space or a quote.
        let end =
            rest.find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'').unwrap_or(rest.len());
        let authority = &rest[..end];
        match authority.rfind('@').map(|at| (&authority[..at], at)) {
            Some((userinfo, at)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or_default();
                out.push_str(user);
                out.push_str(":***");
                rest = &rest[at..];
            }
            _ => {}
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(mask("postgres://app:s3cret@db:5432/app"), "postgres://app:***@db:5432/app");
        assert_eq!(mask("https://example.org/a@b"), "https://example.org/a@b");
        assert_eq!(mask("plain"), "plain");
        assert_eq!(
            mask("a=\"redis://:pw@r:6379\" b=amqp://u:p@q/v c=http://x@y/"),
            "a=\"redis://:***@r:6379\" b=amqp://u:***@q/v c=http://x@y/"
        );
    }

    #[test]
    fn comments_and_quotes() {
        assert_eq!(strip_comment("on # really", &['#']), "on");
        assert_eq!(strip_comment("'a # b' # c", &['#']), "'a # b'");
        assert_eq!(unquote("'%m [%p] '"), "%m [%p] ");
        assert!(same_key("local-infile", "local_infile"));
        assert!(!same_key("local-infile", "local-infilf"));
    }
}
