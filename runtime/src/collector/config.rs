//! Configuration files CIS audits that have no section of their own:
//! journald, systemd-coredump, faillock, rsyslog, APT, the persisted
//! firewall rulesets and the shell start-up files' `umask`. Only the keys
//! `assay_model::configs` lists are kept, so nothing that
//! can hold a credential (a proxy URL, a TLS key path with a passphrase)
//! reaches the telemetry.

use super::fs::FsError;
use super::Ctx;
use assay_model::configs::configuration;
use assay_model::telemetry::{AptSource, ConfigSetting, Provenance, Sourced};

/// Settings kept per configuration: a bound against a hostile file of a
/// million keys.
const MAX_SETTINGS: usize = 1_000;
/// APT sources kept in all.
const MAX_SOURCES: usize = 1_000;

/// Collects every configuration of this module; `None` when none of the
/// files exists.
pub fn settings(ctx: &mut Ctx) -> Option<Vec<ConfigSetting>> {
    let mut out = Settings::default();
    for (config, section, main) in [
        ("journald", "Journal", "/etc/systemd/journald.conf"),
        ("coredump", "Coredump", "/etc/systemd/coredump.conf"),
    ] {
        systemd_ini(ctx, &mut out, config, section, main);
    }
    key_values(ctx, &mut out, "faillock", &["/etc/security/faillock.conf"], " = ");
    key_values(ctx, &mut out, "ufw", &["/etc/ufw/ufw.conf", "/etc/default/ufw"], "=");
    key_values(ctx, &mut out, "auditd", &["/etc/audit/auditd.conf"], " = ");
    audit_rules(ctx, &mut out);
    rsyslog(ctx, &mut out);
    apt_config(ctx, &mut out);
    for (config, paths) in [
        ("ufw-rules", &["/etc/ufw/before.rules", "/etc/ufw/before6.rules"][..]),
        ("iptables", &["/etc/iptables/rules.v4"][..]),
        ("ip6tables", &["/etc/iptables/rules.v6"][..]),
    ] {
        for path in paths {
            if let Some(text) = read(ctx, path) {
                iptables_save(&mut out, config, path, &text);
            }
        }
    }
    if let Some(text) = read(ctx, "/etc/nftables.conf") {
        nftables(&mut out, "/etc/nftables.conf", &text);
    }
    profile(ctx, &mut out);
    out.found.then_some(out.list)
}

#[derive(Default)]
struct Settings {
    list: Vec<ConfigSetting>,
    /// Whether any file was read (an empty list then means "none set").
    found: bool,
}

impl Settings {
    /// Records `key` of `config`; with `replace`, an earlier value of the
    /// same key is overridden (the program reads the files in this order
    /// and the last one wins).
    fn set(&mut self, config: &str, key: &str, value: &str, file: &str, line: usize, replace: bool) {
        if !configuration(config).is_some_and(|c| c.keeps(key)) {
            return;
        }
        let value = Sourced::new(value.to_owned(), Provenance::file(file, line as u32 + 1));
        if replace {
            if let Some(s) = self.list.iter_mut().find(|s| s.config == config && s.key == key) {
                s.value = value;
                return;
            }
        }
        if self.list.iter().filter(|s| s.config == config).count() < MAX_SETTINGS {
            self.list.push(ConfigSetting { config: config.to_owned(), key: key.to_owned(), value });
        }
    }
}

/// A file's text; absence is not an error, an unreadable file is.
fn read(ctx: &mut Ctx, path: &str) -> Option<String> {
    match ctx.fs.read(path) {
        Ok(text) => Some(text),
        Err(FsError::NotFound) => None,
        Err(e) => {
            ctx.error("config", Some(path), &e);
            None
        }
    }
}

/// A systemd configuration file and its drop-ins, as systemd reads them:
/// the main file, then every `*.conf` of the `.d` folders sorted by file
/// name, where a name in /etc hides the same name in /run and /usr/lib.
fn systemd_ini(ctx: &mut Ctx, out: &mut Settings, config: &str, section: &str, main: &str) {
    let mut files = vec![main.to_owned()];
    let name = main.rsplit('/').next().unwrap_or_default();
    let mut drop_ins: std::collections::BTreeMap<String, String> = Default::default();
    for dir in ["/usr/lib/systemd", "/run/systemd", "/etc/systemd"] {
        for path in ctx.fs.glob(&format!("{dir}/{name}.d/*.conf")).unwrap_or_default() {
            let file = path.rsplit('/').next().unwrap_or_default().to_owned();
            drop_ins.insert(file, path);
        }
    }
    files.extend(drop_ins.into_values());
    for path in files {
        let Some(text) = read(ctx, &path) else { continue };
        out.found = true;
        let mut in_section = false;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                in_section = name == section;
                continue;
            }
            if let (true, Some((key, value))) = (in_section, line.split_once('=')) {
                out.set(config, key.trim(), value.trim(), &path, i, true);
            }
        }
    }
}

/// `key <sep> value` lines (and bare flags, value `""`), `#` comments, the
/// last occurrence winning; quotes around a value are removed.
fn key_values(ctx: &mut Ctx, out: &mut Settings, config: &str, paths: &[&str], sep: &str) {
    for path in paths {
        let Some(text) = read(ctx, path) else { continue };
        out.found = true;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let (key, value) = match line.split_once(sep.trim()) {
                Some((k, v)) => (k.trim(), v.trim().trim_matches('"')),
                None if !line.contains(char::is_whitespace) => (line, ""),
                None => continue,
            };
            out.set(config, key, value, path, i, true);
        }
    }
}

/// The persisted audit rules, /etc/audit/rules.d/*.rules in the order
/// augenrules merges them: a watch `-w PATH -p PERMS` is the key
/// `watch PATH` with the permissions as value, `-e N` is the key `-e`, any
/// other rule the key `rule` with the line as value.
fn audit_rules(ctx: &mut Ctx, out: &mut Settings) {
    for path in ctx.fs.glob("/etc/audit/rules.d/*.rules").unwrap_or_default() {
        let Some(text) = read(ctx, &path) else { continue };
        out.found = true;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |flag: &str| words.windows(2).find(|w| w[0] == flag).map(|w| w[1]);
            match (words.first(), after("-w"), after("-e")) {
                (Some(&"-w"), Some(watched), _) => {
                    let perms = after("-p").unwrap_or("rwxa");
                    out.set("audit-rules", &format!("watch {watched}"), perms, &path, i, false);
                }
                (Some(&"-e"), _, Some(mode)) => out.set("audit-rules", "-e", mode, &path, i, false),
                _ => out.set("audit-rules", "rule", line, &path, i, false),
            }
        }
    }
}

/// rsyslog's legacy `$FileCreateMode` and `$Umask` directives, every
/// occurrence (each applies to the actions after it): rsyslog.conf, then
/// rsyslog.d/*.conf, which Debian's rsyslog.conf includes near its top.
fn rsyslog(ctx: &mut Ctx, out: &mut Settings) {
    let mut files = vec!["/etc/rsyslog.conf".to_owned()];
    files.extend(ctx.fs.glob("/etc/rsyslog.d/*.conf").unwrap_or_default());
    for path in files {
        let Some(text) = read(ctx, &path) else { continue };
        out.found = true;
        for (i, line) in text.lines().enumerate() {
            let mut words = line.split_whitespace();
            if let (Some(key @ ("$FileCreateMode" | "$Umask")), Some(value)) = (words.next(), words.next()) {
                out.set("rsyslog", key, value, &path, i, false);
            }
        }
    }
}

/// APT's configuration: apt.conf.d/* in name order, then apt.conf; nested
/// scopes (`APT { Get { X "true"; }; };`) are flattened to `APT::Get::X`.
fn apt_config(ctx: &mut Ctx, out: &mut Settings) {
    let mut files: Vec<String> = ctx
        .fs
        .read_dir("/etc/apt/apt.conf.d")
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.starts_with('.') && !n.ends_with('~') && !n.ends_with(".disabled"))
        .map(|n| format!("/etc/apt/apt.conf.d/{n}"))
        .collect();
    files.push("/etc/apt/apt.conf".to_owned());
    for path in files {
        let Some(text) = read(ctx, &path) else { continue };
        out.found = true;
        for (key, value, line) in apt_statements(&text) {
            out.set("apt", &key, &value, &path, line, true);
        }
    }
}

/// `(key, value, line index)` of every assignment of an apt.conf text.
fn apt_statements(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut scopes: Vec<String> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut line = 0usize;
    let mut start = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '"' => {
                let mut s = String::new();
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    if c == '\n' {
                        line += 1;
                    }
                    s.push(c);
                }
                words.push(s);
            }
            '{' => {
                if let Some(scope) = words.pop() {
                    scopes.push(scope);
                }
                words.clear();
                if scopes.len() > 64 {
                    return out;
                }
            }
            '}' => {
                scopes.pop();
                words.clear();
            }
            ';' => {
                if let [key, value, ..] = words.as_slice() {
                    let mut full = scopes.join("::");
                    if !full.is_empty() {
                        full.push_str("::");
                    }
                    full.push_str(key);
                    out.push((full, value.clone(), start));
                }
                words.clear();
            }
            c if c.is_whitespace() => {}
            c => {
                let mut s = String::from(c);
                while chars.peek().is_some_and(|&c| !c.is_whitespace() && !"\"{};".contains(c)) {
                    s.extend(chars.next());
                }
                if words.is_empty() {
                    start = line;
                }
                words.push(s);
            }
        }
    }
    out
}

/// An `iptables-save` file: the policies of the built-in INPUT, FORWARD
/// and OUTPUT chains of the filter table, and rules accepting loopback
/// traffic.
fn iptables_save(out: &mut Settings, config: &str, path: &str, text: &str) {
    out.found = true;
    let mut table = "";
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(t) = line.strip_prefix('*') {
            table = t;
            continue;
        }
        if table != "filter" {
            continue;
        }
        let mut words = line.split_whitespace();
        if let Some(chain) = line.strip_prefix(':') {
            let mut parts = chain.split_whitespace();
            if let (Some(chain @ ("INPUT" | "FORWARD" | "OUTPUT")), Some(policy)) =
                (parts.next(), parts.next())
            {
                out.set(config, &format!("{} policy", chain.to_ascii_lowercase()), policy, path, i, false);
            }
        } else if words.next() == Some("-A") {
            let rule: Vec<&str> = line.split_whitespace().collect();
            let has = |a: &str, b: &str| rule.windows(2).any(|w| w[0] == a && w[1] == b);
            if has("-i", "lo") && has("-j", "ACCEPT") {
                out.set(config, "loopback accept", line, path, i, false);
            }
        }
    }
}

/// An nftables ruleset file: the policy of every base chain hooked to
/// input, forward or output (`accept`, nftables' default, until a `policy`
/// statement of the same chain says otherwise), and rules accepting
/// loopback traffic. `include` lines are not followed.
fn nftables(out: &mut Settings, path: &str, text: &str) {
    out.found = true;
    // The setting of the current chain's hook, which a later `policy`
    // statement of that chain updates.
    let mut hooked: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default();
        for statement in line.split(';') {
            let words: Vec<&str> = statement.split_whitespace().collect();
            if words.first() == Some(&"chain") {
                hooked = None;
            }
            if let Some(at) = words.iter().position(|w| *w == "hook") {
                if let Some(hook @ (&"input" | &"forward" | &"output")) = words.get(at + 1) {
                    out.set("nftables", &format!("{hook} policy"), "accept", path, i, false);
                    hooked = out.list.len().checked_sub(1);
                }
            }
            if let (["policy", policy], Some(at)) = (words.as_slice(), hooked) {
                if let Some(s) = out.list.get_mut(at) {
                    s.value = Sourced::new((*policy).to_owned(), Provenance::file(path, i as u32 + 1));
                }
            }
            let lo = words
                .windows(2)
                .any(|p| (p[0] == "iif" || p[0] == "iifname") && p[1].trim_matches('"') == "lo");
            if lo && words.contains(&"accept") {
                out.set("nftables", "loopback accept", statement.trim(), path, i, false);
            }
        }
    }
}

/// `umask` statements of the shell start-up files, every occurrence.
fn profile(ctx: &mut Ctx, out: &mut Settings) {
    let mut files = vec!["/etc/profile".to_owned(), "/etc/bash.bashrc".to_owned()];
    files.extend(ctx.fs.glob("/etc/profile.d/*.sh").unwrap_or_default());
    for path in files {
        let Some(text) = read(ctx, &path) else { continue };
        out.found = true;
        for (i, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or_default();
            for statement in code.split([';', '&', '|']) {
                let mut words = statement.split_whitespace();
                if let (Some("umask"), Some(value)) = (words.next(), words.next()) {
                    if !value.starts_with('-') {
                        out.set("profile", "umask", value, &path, i, false);
                    }
                }
            }
        }
    }
}

/// APT sources: one-line `.list` files and deb822 `.sources` files.
pub fn apt_sources(ctx: &mut Ctx) -> Option<Vec<AptSource>> {
    let mut files = vec!["/etc/apt/sources.list".to_owned()];
    files.extend(ctx.fs.glob("/etc/apt/sources.list.d/*.list").unwrap_or_default());
    let deb822 = ctx.fs.glob("/etc/apt/sources.list.d/*.sources").unwrap_or_default();
    let mut found = false;
    let mut out = Vec::new();
    for path in files {
        let Some(text) = read(ctx, &path) else { continue };
        found = true;
        for (i, line) in text.lines().enumerate() {
            if let Some(s) = one_line_source(line, &path, i) {
                out.push(s);
            }
        }
    }
    for path in deb822 {
        let Some(text) = read(ctx, &path) else { continue };
        found = true;
        out.extend(deb822_sources(&text, &path));
    }
    out.truncate(MAX_SOURCES);
    found.then_some(out)
}

/// Options shared by both formats: `signed-by`, `trusted`, `allow-*`.
#[derive(Default)]
struct SourceOptions {
    signed_by: Option<String>,
    trusted: bool,
    allow_insecure: bool,
}

impl SourceOptions {
    fn set(&mut self, key: &str, value: &str) {
        let yes = value.eq_ignore_ascii_case("yes");
        match key.to_ascii_lowercase().as_str() {
            "signed-by" => self.signed_by = Some(value.to_owned()),
            "trusted" => self.trusted = yes,
            "allow-insecure" | "allow-weak" | "allow-downgrade-to-insecure" => self.allow_insecure |= yes,
            _ => {}
        }
    }
}

/// `uri` without a password: APT accepts `user:password@` in a URI, and
/// the collector never keeps a credential.
fn without_credentials(uri: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://[redacted]@{}", &rest[at + 1..]),
                None => uri.to_owned(),
            }
        }
        None => uri.to_owned(),
    }
}

/// `deb [opt=value ...] uri suite [components]`.
fn one_line_source(line: &str, path: &str, i: usize) -> Option<AptSource> {
    let line = line.split('#').next().unwrap_or_default().trim();
    let (kind, rest) = line.split_once(char::is_whitespace)?;
    if kind != "deb" && kind != "deb-src" {
        return None;
    }
    let mut options = SourceOptions::default();
    let mut rest = rest.trim_start();
    if let Some(open) = rest.strip_prefix('[') {
        let (inside, after) = open.split_once(']')?;
        for option in inside.split_whitespace() {
            if let Some((k, v)) = option.split_once('=') {
                options.set(k, v);
            }
        }
        rest = after;
    }
    let mut words = rest.split_whitespace();
    let (uri, suite) = (words.next()?, words.next()?);
    Some(AptSource {
        kind: kind.to_owned(),
        uri: without_credentials(uri),
        suite: suite.to_owned(),
        signed_by: options.signed_by,
        trusted: options.trusted,
        allow_insecure: options.allow_insecure,
        source: Provenance::file(path, i as u32 + 1),
    })
}

/// Stanzas of a deb822 file, one source per type × URI × suite.
fn deb822_sources(text: &str, path: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut first_line = 0usize;
    let flush = |fields: &mut Vec<(String, String)>, first_line: usize, out: &mut Vec<AptSource>| {
        let get = |k: &str| {
            fields.iter().find(|(f, _)| f.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str()).unwrap_or("")
        };
        if get("Enabled").eq_ignore_ascii_case("no") {
            fields.clear();
            return;
        }
        let mut options = SourceOptions::default();
        for (k, v) in fields.iter() {
            options.set(k, v.trim());
        }
        // An inline key block is "signed by" the stanza itself.
        if let Some(signed) = &options.signed_by {
            if signed.contains("BEGIN PGP") {
                options.signed_by = Some("(inline key)".to_owned());
            }
        }
        for kind in get("Types").split_whitespace() {
            for uri in get("URIs").split_whitespace() {
                for suite in get("Suites").split_whitespace() {
                    out.push(AptSource {
                        kind: kind.to_owned(),
                        uri: without_credentials(uri),
                        suite: suite.to_owned(),
                        signed_by: options.signed_by.clone(),
                        trusted: options.trusted,
                        allow_insecure: options.allow_insecure,
                        source: Provenance::file(path, first_line as u32 + 1),
                    });
                }
            }
        }
        fields.clear();
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            flush(&mut fields, first_line, &mut out);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            if let Some((_, v)) = fields.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            if fields.is_empty() {
                first_line = i;
            }
            fields.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    flush(&mut fields, first_line, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_scopes_are_flattened_with_the_line_of_the_key() {
        let text = "// a comment\nAPT {\n  Get {\n    AllowUnauthenticated \"true\";\n  };\n};\nAcquire::http::Proxy \"http://u:p@proxy\";\n";
        let statements = apt_statements(text);
        assert_eq!(
            statements,
            [
                ("APT::Get::AllowUnauthenticated".to_owned(), "true".to_owned(), 3),
                ("Acquire::http::Proxy".to_owned(), "http://u:p@proxy".to_owned(), 6),
            ]
        );
        let apt = configuration("apt").unwrap();
        assert!(apt.keeps(&statements[0].0));
        assert!(!apt.keeps(&statements[1].0), "a proxy URL can hold a password");
    }

    #[test]
    fn nftables_policies_and_loopback_rules_are_found() {
        let mut out = Settings::default();
        let text = "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    iif \"lo\" accept\n  }\n  chain output {\n    type filter hook output priority 0;\n  }\n  chain forward {\n    type filter hook forward priority 0\n    policy drop\n  }\n}\n";
        nftables(&mut out, "/etc/nftables.conf", text);
        let got: Vec<(&str, &str, Option<u32>)> =
            out.list.iter().map(|s| (s.key.as_str(), s.value.value.as_str(), s.value.source.line)).collect();
        assert_eq!(
            got,
            [
                ("input policy", "drop", Some(3)),
                ("loopback accept", "iif \"lo\" accept", Some(4)),
                ("output policy", "accept", Some(7)),
                ("forward policy", "drop", Some(11))
            ]
        );
    }

    #[test]
    fn iptables_save_policies_of_the_filter_table_only() {
        let mut out = Settings::default();
        let text = "*nat\n:INPUT ACCEPT [0:0]\nCOMMIT\n*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n";
        iptables_save(&mut out, "iptables", "/etc/iptables/rules.v4", text);
        let got: Vec<(&str, &str)> =
            out.list.iter().map(|s| (s.key.as_str(), s.value.value.as_str())).collect();
        assert_eq!(
            got,
            [
                ("input policy", "DROP"),
                ("forward policy", "DROP"),
                ("output policy", "ACCEPT"),
                ("loopback accept", "-A INPUT -i lo -j ACCEPT")
            ]
        );
    }

    #[test]
    fn apt_sources_in_both_formats() {
        let s = one_line_source(
            "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://deb.example/ bookworm main",
            "/etc/apt/sources.list",
            0,
        )
        .unwrap();
        assert_eq!((s.uri.as_str(), s.suite.as_str()), ("http://deb.example/", "bookworm"));
        assert_eq!(s.signed_by.as_deref(), Some("/usr/share/keyrings/x.gpg"));
        assert!(one_line_source("deb [trusted=yes] http://x/ ./", "f", 0).unwrap().trusted);
        assert!(one_line_source("# deb http://x/ y", "f", 0).is_none());
        let private =
            one_line_source("deb https://me:s3cret@repo.example/debian stable main", "f", 0).unwrap();
        assert_eq!(private.uri, "https://[redacted]@repo.example/debian");
        let text = "Types: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://x/\nSuites: y\nEnabled: no\n";
        let sources = deb822_sources(text, "/etc/apt/sources.list.d/debian.sources");
        assert_eq!(sources.len(), 4);
        assert!(sources.iter().all(|s| s.signed_by.is_some() && s.source.line == Some(1)));
    }
}
