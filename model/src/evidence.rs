//! Evidence paths as findings print them: in the language's own syntax, so
//! a path copied from a finding into a rule compiles (#31).
//!
//! The VM records a path with `[]` for the item of a list
//! (`host.kernel.parameters[].runtime`) and the item's name beside it. The
//! *bracketed* form names the item inside the brackets
//! (`host.kernel.parameters["net.ipv4.ip_forward"].runtime`); fingerprints
//! are computed from it, so they do not change with how paths are printed.
//! The *printed* form is an expression:
//!
//! - an item of a list the collector fills by name is its lookup:
//!   `host.sysctl("net.ipv4.ip_forward").runtime`, `host.module("cramfs")`,
//!   `host.file("/etc/shadow")`, `host.service("ssh.service")`,
//!   `host.certificate("/etc/ssl/certs/a.pem")`;
//! - an item of any other list is the `find` that picks it by its naming
//!   field: `find(p in host.packages where p.name == "openssl").version`;
//! - a file's parsed contents are the lookup as written
//!   (`host.json("/etc/docker/daemon.json", "icc").boolean`);
//! - an item with no name (a PAM line) keeps `[]`, which names no one item:
//!   its evidence's source (file and line) says which it is.

use crate::lookup::LookupKind;
use crate::syntax::{parse_string_literal, string_literal};
use crate::telemetry::schema::{self, Shape};
use std::borrow::Cow;

/// The fields that name an item of a record type, in order of preference:
/// a file contents' `lookup`, else `name`, else `path`, else `id`. The
/// compiler records the first one a record has (as a string) as the item's
/// name in its evidence.
pub const ITEM_KEYS: [&str; 4] = ["lookup", "name", "path", "id"];

/// A loop item's name, as the VM read it from the item's naming field.
#[derive(Clone, Copy, Debug)]
pub enum ItemName<'a> {
    Str(&'a str),
    Int(i64),
}

/// The bracketed form of `path` (with its last `[]` for the item), for
/// fingerprints: `host.packages["openssl"].version`.
pub fn bracketed(path: &str, item: Option<ItemName<'_>>) -> String {
    match (item, path.rfind("[]")) {
        (Some(ItemName::Str(name)), Some(at)) if &path[..at] == "host.contents" => {
            format!("{name}{}", &path[at + 2..])
        }
        (Some(ItemName::Str(name)), Some(at)) => format!("{}[{name:?}]{}", &path[..at], &path[at + 2..]),
        (Some(ItemName::Int(n)), Some(at)) => format!("{}[{n}]{}", &path[..at], &path[at + 2..]),
        _ => path.to_owned(),
    }
}

/// The printed form of `path` (see the module's doc).
pub fn printed(path: &str, item: Option<ItemName<'_>>) -> String {
    let (Some(ItemName::Str(name)), Some(at)) = (item, path.rfind("[]")) else {
        return bracketed(path, item);
    };
    let (list, rest) = (&path[..at], &path[at + 2..]);
    if list == "host.contents" {
        return format!("{name}{rest}");
    }
    let literal = string_literal(name);
    if let Some(kind) = lookup_of(list) {
        return format!("host.{}({literal}){rest}", kind.word());
    }
    match item_key(list) {
        Some(key) => {
            let var = variable(list);
            format!("find({var} in {list} where {var}.{key} == {literal}){rest}")
        }
        None => bracketed(path, item),
    }
}

/// The bracketed form of a printed path, and the kind and name of the item
/// it is about (`sysctl`, `net.ipv4.ip_forward`): for reading paths back
/// (policy tests' expected paths, SARIF's logical locations). A path in
/// neither form is returned as it is, with no item.
pub fn parse(printed: &str) -> (Cow<'_, str>, Option<(&'static str, String)>) {
    if let Some(after) = printed.strip_prefix("host.") {
        for kind in LookupKind::ALL {
            let Some(args) = after.strip_prefix(kind.word()).and_then(|a| a.strip_prefix('(')) else {
                continue;
            };
            let Some((name, used)) = parse_string_literal(args) else { continue };
            let Some(rest) = args[used..].strip_prefix(')') else { continue };
            let list = format!("host.{}", kind.list().0.join("."));
            let item = (kind_word(&list).unwrap_or(kind.word()), name.clone());
            return (Cow::Owned(format!("{list}[{name:?}]{rest}")), Some(item));
        }
    }
    if let Some((list, name, rest)) = parse_find(printed) {
        let item = kind_word(list).map(|k| (k, name.clone()));
        return (Cow::Owned(format!("{list}[{name:?}]{rest}")), item);
    }
    // The bracketed form itself (as earlier releases printed it).
    let item = printed.split_once("[\"").and_then(|(list, key)| {
        let (name, _) = parse_string_literal(&format!("\"{key}"))?;
        Some((kind_word(list)?, name))
    });
    (Cow::Borrowed(printed), item)
}

/// `find(v in LIST where v.KEY == "NAME")REST`.
fn parse_find(path: &str) -> Option<(&str, String, &str)> {
    let inner = path.strip_prefix("find(")?;
    let (var, inner) = inner.split_once(" in ")?;
    let (list, inner) = inner.split_once(" where ")?;
    let inner = inner.strip_prefix(var)?.strip_prefix('.')?;
    let (_key, inner) = inner.split_once(" == ")?;
    let (name, used) = parse_string_literal(inner)?;
    let rest = inner[used..].strip_prefix(')')?;
    Some((list, name, rest))
}

/// What kind of host item a list holds, for SARIF's logical locations:
/// `package` for `host.packages`.
fn kind_word(list: &str) -> Option<&'static str> {
    Some(match list.strip_prefix("host.")? {
        "packages" => "package",
        "mounts" => "mount",
        "files" | "world_writable" | "unowned" => "file",
        "users" => "user",
        "groups" => "group",
        "services" => "service",
        "kernel.modules" => "module",
        "kernel.parameters" => "sysctl",
        "processes" => "process",
        "listeners" => "listener",
        "certificates" => "certificate",
        "config" => "config",
        "vulnerabilities" => "vulnerability",
        _ => return None,
    })
}

fn lookup_of(list: &str) -> Option<LookupKind> {
    let rest = list.strip_prefix("host.")?;
    LookupKind::ALL.into_iter().find(|k| {
        let (segments, _) = k.list();
        // `rest` is the segments joined by dots.
        let mut parts = rest.split('.');
        segments.iter().all(|s| parts.next() == Some(*s)) && parts.next().is_none()
    })
}

/// The loop variable of a printed `find`: the list's initial (`p` for
/// `host.packages`).
fn variable(list: &str) -> char {
    let last = list.rsplit('.').next().unwrap_or("");
    last.chars().next().filter(char::is_ascii_lowercase).unwrap_or('x')
}

/// The naming field of the items of `list` (a dotted path from `host`,
/// through records only), from the telemetry schema. Findings print every
/// evidence path through here, so the schema is walked once.
fn item_key(list: &str) -> Option<&'static str> {
    static KEYS: std::sync::OnceLock<std::collections::HashMap<String, &'static str>> =
        std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = std::collections::HashMap::new();
        if let Some(root) = schema::catalog().records.first() {
            item_keys("host", root, &mut keys, 0);
        }
        keys
    })
    .get(list)
    .copied()
}

/// Every list of records reachable from `record` through records, with its
/// items' naming field. The schema has no cycle through records, and the
/// depth bound keeps a future one from looping.
fn item_keys(
    path: &str,
    record: &schema::RecordSchema,
    keys: &mut std::collections::HashMap<String, &'static str>,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    for field in &record.fields {
        let mut shape = &field.shape;
        while let Shape::Optional(inner) | Shape::Sourced(inner) = shape {
            shape = inner;
        }
        let here = format!("{path}.{}", field.name);
        match shape {
            Shape::Record(r) => item_keys(&here, &r(), keys, depth + 1),
            Shape::List(inner) => {
                let Shape::Record(r) = inner.as_ref() else { continue };
                let items = r();
                let key = ITEM_KEYS
                    .iter()
                    .copied()
                    .find(|key| items.fields.iter().any(|f| f.name == *key && matches!(f.shape, Shape::Str)));
                if let Some(key) = key {
                    keys.insert(here, key);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str) -> Option<ItemName<'_>> {
        Some(ItemName::Str(name))
    }

    #[test]
    fn items_print_as_the_expression_that_reads_them() {
        let cases = [
            (
                "host.kernel.parameters[].runtime",
                "net.ipv4.ip_forward",
                "host.sysctl(\"net.ipv4.ip_forward\").runtime",
            ),
            ("host.kernel.modules[].build", "squashfs", "host.module(\"squashfs\").build"),
            ("host.files[].mode", "/etc/shadow", "host.file(\"/etc/shadow\").mode"),
            ("host.services[].enabled", "ssh.service", "host.service(\"ssh.service\").enabled"),
            (
                "host.packages[].version",
                "openssl",
                "find(p in host.packages where p.name == \"openssl\").version",
            ),
            (
                "host.mounts[].options",
                "/dev/shm",
                "find(m in host.mounts where m.path == \"/dev/shm\").options",
            ),
            (
                "host.contents[].boolean",
                "host.json(\"/etc/docker/daemon.json\", \"icc\")",
                "host.json(\"/etc/docker/daemon.json\", \"icc\").boolean",
            ),
        ];
        for (path, name, want) in cases {
            assert_eq!(printed(path, s(name)), want);
            let (back, _) = parse(want);
            assert_eq!(back, bracketed(path, s(name)), "{want}");
        }
        // No item, or an item with no name: as recorded.
        assert_eq!(printed("host.sshd.permit_root_login", None), "host.sshd.permit_root_login");
        assert_eq!(printed("host.pam[].arguments", None), "host.pam[].arguments");
        assert_eq!(printed("host.listeners[].port", Some(ItemName::Int(22))), "host.listeners[22].port");
    }

    #[test]
    fn names_are_quoted_as_the_language_reads_them() {
        let odd = "a \"b\" {c} \\ \n\u{1b}";
        let literal = string_literal(odd);
        assert_eq!(literal, "\"a \\\"b\\\" \\{c\\} \\\\ \\n\\u{1b}\"");
        assert_eq!(parse_string_literal(&literal), Some((odd.to_owned(), literal.len())));
        let path = printed("host.files[].mode", s(odd));
        let (back, item) = parse(&path);
        assert_eq!(back, bracketed("host.files[].mode", s(odd)));
        assert_eq!(item, Some(("file", odd.to_owned())));
    }

    #[test]
    fn parsed_paths_name_their_host_item() {
        let item = |p: &str| parse(p).1;
        assert_eq!(
            item("host.sysctl(\"net.ipv4.ip_forward\").runtime"),
            Some(("sysctl", "net.ipv4.ip_forward".into()))
        );
        assert_eq!(
            item("find(p in host.packages where p.name == \"openssl\").version"),
            Some(("package", "openssl".into()))
        );
        assert_eq!(item("host.packages[\"openssl\"].version"), Some(("package", "openssl".into())));
        assert_eq!(item("host.login_defs.pass_max_days"), None);
        assert_eq!(item("host.listeners[22].port"), None);
    }

    /// Every list the collector fills by name is printed as its lookup, and
    /// every other list of records has a naming field or is printed `[]`.
    #[test]
    fn every_lookup_list_is_found_in_the_schema() {
        for kind in LookupKind::ALL {
            let list = format!("host.{}", kind.list().0.join("."));
            assert_eq!(lookup_of(&list), Some(kind));
            assert_eq!(item_key(&list), Some(kind.key_field()), "{list}");
        }
        assert_eq!(item_key("host.packages"), Some("name"));
        assert_eq!(item_key("host.sudo.rules"), None);
    }
}
