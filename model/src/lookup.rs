//! Lookups by name: `host.sysctl("net.ipv4.ip_forward")`,
//! `host.file("/etc/shadow")`, `host.module("cramfs")`,
//! `host.service("ssh.service")`. The compiler checks each name here, the
//! bundle carries the names its rules look up (a [`CollectionPlan`]), the
//! collector gathers them besides its defaults, and a rule whose lookup the
//! telemetry did not cover is skipped, never passed.

use crate::telemetry::ContentFormat;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Kernel parameters the collector always looks up (runtime and persisted).
pub const DEFAULT_SYSCTLS: &[&str] = &[
    "kernel.randomize_va_space",
    "kernel.kptr_restrict",
    "kernel.dmesg_restrict",
    "kernel.yama.ptrace_scope",
    "kernel.core_pattern",
    "fs.suid_dumpable",
    "fs.protected_hardlinks",
    "fs.protected_symlinks",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.send_redirects",
    "net.ipv4.conf.default.send_redirects",
    "net.ipv4.conf.all.accept_redirects",
    "net.ipv4.conf.default.accept_redirects",
    "net.ipv4.conf.all.secure_redirects",
    "net.ipv4.conf.default.secure_redirects",
    "net.ipv4.conf.all.accept_source_route",
    "net.ipv4.conf.default.accept_source_route",
    "net.ipv4.conf.all.log_martians",
    "net.ipv4.conf.default.log_martians",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
    "net.ipv4.icmp_echo_ignore_broadcasts",
    "net.ipv4.icmp_ignore_bogus_error_responses",
    "net.ipv4.tcp_syncookies",
    "net.ipv6.conf.all.forwarding",
    "net.ipv6.conf.all.accept_ra",
    "net.ipv6.conf.default.accept_ra",
    "net.ipv6.conf.all.accept_redirects",
    "net.ipv6.conf.default.accept_redirects",
    "net.ipv6.conf.all.accept_source_route",
    "net.ipv6.conf.default.accept_source_route",
];

/// Kernel modules the collector always looks up.
pub const DEFAULT_MODULES: &[&str] = &[
    "cramfs",
    "freevxfs",
    "hfs",
    "hfsplus",
    "jffs2",
    "squashfs",
    "udf",
    "usb-storage",
    "dccp",
    "sctp",
    "rds",
    "tipc",
];

/// System directories and key files whose metadata the collector always reads.
pub const DEFAULT_FILES: &[&str] = &[
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/etc",
    "/boot",
    "/etc/passwd",
    "/etc/passwd-",
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/group",
    "/etc/group-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/ssh",
    "/etc/ssh/sshd_config",
    "/boot/grub/grub.cfg",
    "/boot/grub2/grub.cfg",
    "/boot/grub2/user.cfg",
    "/etc/crontab",
    "/etc/cron.hourly",
    "/etc/cron.daily",
    "/etc/cron.weekly",
    "/etc/cron.monthly",
    "/etc/cron.d",
    "/etc/cron.allow",
    "/etc/cron.deny",
    "/etc/at.allow",
    "/etc/at.deny",
    "/etc/motd",
    "/etc/issue",
    "/etc/issue.net",
    "/tmp",
    "/var/tmp",
    "/etc/sudoers",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LookupKind {
    Sysctl,
    File,
    Module,
    Service,
    /// A file's contents, parsed: `host.json(PATH, KEY)` and the other
    /// [`ContentFormat`]s. Its [`Lookup::name`] is the lookup as written.
    Content,
    /// A certificate file: `host.certificate(PATH)`.
    Certificate,
}

impl LookupKind {
    pub const ALL: [LookupKind; 5] = [
        LookupKind::Sysctl,
        LookupKind::File,
        LookupKind::Module,
        LookupKind::Service,
        LookupKind::Certificate,
    ];

    /// The word after `host.` in a policy.
    pub fn word(self) -> &'static str {
        match self {
            LookupKind::Sysctl => "sysctl",
            LookupKind::File => "file",
            LookupKind::Module => "module",
            LookupKind::Service => "service",
            LookupKind::Content => "contents",
            LookupKind::Certificate => "certificate",
        }
    }

    pub fn parse(word: &str) -> Option<LookupKind> {
        LookupKind::ALL.into_iter().find(|k| k.word() == word)
    }

    /// The telemetry list the item is found in, and the record type.
    pub fn list(self) -> (&'static [&'static str], &'static str) {
        match self {
            LookupKind::Sysctl => (&["kernel", "parameters"], "KernelParameter"),
            LookupKind::File => (&["files"], "FileEntry"),
            LookupKind::Module => (&["kernel", "modules"], "KernelModule"),
            LookupKind::Service => (&["services"], "Service"),
            LookupKind::Content => (&["contents"], "ContentValue"),
            LookupKind::Certificate => (&["certificates"], "CertificateFile"),
        }
    }

    /// The field of the record that holds the looked-up name.
    pub fn key_field(self) -> &'static str {
        match self {
            LookupKind::File | LookupKind::Certificate => "path",
            LookupKind::Content => "lookup",
            _ => "name",
        }
    }

    /// The names the collector looks up without being asked (none for
    /// services, which it gathers all of).
    pub fn defaults(self) -> &'static [&'static str] {
        match self {
            LookupKind::Sysctl => DEFAULT_SYSCTLS,
            LookupKind::File => DEFAULT_FILES,
            LookupKind::Module => DEFAULT_MODULES,
            LookupKind::Service | LookupKind::Content | LookupKind::Certificate => &[],
        }
    }

    /// Whether the collector gathers every item of this kind anyway
    /// (services: every unit file), so no plan is needed.
    pub fn always_complete(self) -> bool {
        self == LookupKind::Service
    }

    /// Checks a name and returns why it cannot be looked up.
    pub fn check(self, name: &str) -> Result<(), String> {
        if name.is_empty() || name.len() > 4096 || name.contains(['\0', '\n']) {
            return Err("an empty name, or one with a NUL or a newline".into());
        }
        match self {
            LookupKind::Sysctl => {
                let ok = name.split('.').count() >= 2
                    && name.split('.').all(|part| {
                        !part.is_empty()
                            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    });
                if ok {
                    Ok(())
                } else {
                    Err("a kernel parameter is dotted words such as `net.ipv4.ip_forward`".into())
                }
            }
            LookupKind::File => {
                if !name.starts_with('/') {
                    return Err("a file is looked up by its absolute path, such as `/etc/shadow`".into());
                }
                if name.len() > 1 && name.ends_with('/') {
                    return Err("write the path without a trailing `/`".into());
                }
                if name.split('/').skip(1).any(|c| c.is_empty() || c == "." || c == "..") {
                    return Err("the path must be normal: no `//`, `.` or `..`".into());
                }
                if name.contains(['*', '?', '[']) {
                    return Err("a lookup names one file; patterns are not expanded".into());
                }
                let virtual_fs = ["/proc", "/sys", "/dev"];
                if virtual_fs.iter().any(|v| name == *v || name.starts_with(&format!("{v}/"))) {
                    return Err("/proc, /sys and /dev are not files of the host's configuration; use \
                                `host.sysctl(...)` for kernel parameters"
                        .into());
                }
                Ok(())
            }
            LookupKind::Module => {
                if name.contains('_') {
                    return Err(format!("module names are written with `-`: `{}`", name.replace('_', "-")));
                }
                if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    Ok(())
                } else {
                    Err("a module name is letters, digits and `-`, such as `usb-storage`".into())
                }
            }
            // Checked as a [`ContentLookup`].
            LookupKind::Content => Ok(()),
            LookupKind::Certificate => LookupKind::File.check(name),
            LookupKind::Service => {
                let unit = [".service", ".socket", ".timer"].iter().any(|s| name.ends_with(s));
                if !unit {
                    return Err(format!("a service is a unit name with its type: `{name}.service`"));
                }
                if name.contains('/') {
                    return Err("a unit name has no `/`".into());
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for LookupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// One looked-up item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Lookup {
    pub kind: LookupKind,
    pub name: String,
    /// What a [`LookupKind::Content`] lookup reads.
    pub content: Option<ContentLookup>,
}

impl Lookup {
    pub fn named(kind: LookupKind, name: impl Into<String>) -> Lookup {
        Lookup { kind, name: name.into(), content: None }
    }

    pub fn content(content: ContentLookup) -> Lookup {
        Lookup { kind: LookupKind::Content, name: content.written(), content: Some(content) }
    }
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            LookupKind::Content => f.write_str(&self.name),
            kind => write!(f, "host.{}({:?})", kind, self.name),
        }
    }
}

/// The most content lookups one plan asks for, and the most files they
/// name: a bundle is input too.
pub const MAX_CONTENT_LOOKUPS: usize = 1_000;
pub const MAX_CONTENT_FILES: usize = 200;

/// A lookup of a configuration file's contents: the file, how to parse it,
/// and the key (or for `lines`, the pattern).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ContentLookup {
    /// `json`, `yaml`, `toml`, `ini`, `keyvalue` or `lines`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub format: ContentFormat,
    pub path: String,
    pub key: String,
    /// Only whether the key is set: the value is never read.
    pub presence: bool,
    /// Why a key that looks like a credential is none, in the author's
    /// words; without it such a key's value is never read.
    pub not_secret: Option<String>,
    /// A drop-in folder read after the file, `DIR/*SUFFIX` (`*` alone for
    /// every name): its files in name order, each overriding what was read
    /// before it (maps merged key by key, as the kubelet's `--config-dir`
    /// and systemd's `.conf.d` folders do); for `lines`, their lines after
    /// the file's.
    pub dropins: Option<String>,
}

impl ContentLookup {
    /// The lookup as written in a rule, which also names its record in the
    /// telemetry (`ContentValue::lookup`).
    pub fn written(&self) -> String {
        match &self.dropins {
            None => format!("host.{}({:?}, {:?})", self.format.as_str(), self.path, self.key),
            Some(d) => {
                format!("host.{}({:?}, {:?}, \"drop-ins: {d}\")", self.format.as_str(), self.path, self.key)
            }
        }
    }

    /// A lookup of `key` in `path`, with no option set.
    pub fn new(format: ContentFormat, path: impl Into<String>, key: impl Into<String>) -> ContentLookup {
        ContentLookup {
            format,
            path: path.into(),
            key: key.into(),
            presence: false,
            not_secret: None,
            dropins: None,
        }
    }

    /// The drop-in folder and the suffix its files' names end with.
    pub fn dropin_folder(&self) -> Option<(&str, &str)> {
        let (dir, name) = self.dropins.as_deref()?.rsplit_once('/')?;
        Some((if dir.is_empty() { "/" } else { dir }, name.strip_prefix('*')?))
    }

    /// Whether the collector may read the value, not only its presence.
    pub fn reads_value(&self) -> bool {
        !self.presence && (self.not_secret.is_some() || secret_word(&self.key).is_none())
    }

    /// Checks the path and the key and returns why they cannot be looked up.
    pub fn check(&self) -> Result<(), String> {
        LookupKind::File.check(&self.path)?;
        self.check_dropins()?;
        match self.format {
            ContentFormat::Lines => {
                if self.key.is_empty() || self.key.len() > 1024 {
                    return Err("a pattern of 1 to 1,024 characters".into());
                }
                regex::Regex::new(&self.key).map(|_| ()).map_err(|e| format!("not a regular expression: {e}"))
            }
            ContentFormat::Keyvalue => {
                if self.key.is_empty() || self.key.len() > 256 || self.key.contains(char::is_whitespace) {
                    return Err("a key of 1 to 256 characters without spaces, as the file writes it".into());
                }
                Ok(())
            }
            ContentFormat::Ini => match key_path(&self.key)?.len() {
                1 | 2 => Ok(()),
                _ => Err("an INI key is `KEY` (before any section) or `SECTION.KEY`; quote a name with \
                          dots: `\"client.x\".port`"
                    .into()),
            },
            _ => key_path(&self.key).map(|_| ()),
        }
    }
}

impl ContentLookup {
    /// Checks the drop-in folder, when there is one.
    pub fn check_dropins(&self) -> Result<(), String> {
        if self.dropins.is_none() {
            return Ok(());
        }
        let usage = "drop-ins are `DIR/*SUFFIX`, an absolute folder and the end of its files' names: \
                     `/etc/kubernetes/kubelet.conf.d/*.conf` (`DIR/*` for every file)";
        let Some((dir, suffix)) = self.dropin_folder() else { return Err(usage.into()) };
        if suffix.contains(['*', '?', '[', '/']) || suffix.len() > 64 {
            return Err(usage.into());
        }
        LookupKind::File.check(dir).map_err(|why| format!("the drop-in folder: {why}"))
    }
}

/// A dotted key split into its parts: `a.b."c.d".0` is `a`, `b`, `c.d`,
/// `0` (a number indexes a list).
pub fn key_path(key: &str) -> Result<Vec<String>, String> {
    let usage = "a key is dotted names, `authentication.anonymous.enabled`, with a name holding dots \
                 in double quotes: `plugins.\"io.containerd.grpc.v1.cri\".enable_selinux`";
    if key.is_empty() || key.len() > 512 {
        return Err(usage.into());
    }
    let mut parts = Vec::new();
    let mut rest = key;
    loop {
        let (part, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(|| format!("an unclosed `\"`: {usage}"))?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            if rest[..end].contains('"') {
                return Err(usage.into());
            }
            (&rest[..end], &rest[end..])
        };
        if part.is_empty() || part.contains(['\0', '\n']) {
            return Err(usage.into());
        }
        parts.push(part.to_owned());
        if after.is_empty() {
            return Ok(parts);
        }
        rest = after.strip_prefix('.').ok_or_else(|| usage.to_owned())?;
        if parts.len() >= 32 {
            return Err("a key of at most 32 parts".into());
        }
    }
}

/// The words that mark a key or a pattern as a credential; `key` and
/// `auth` only as whole words (`ssl_key_file`, not `keyboard`; `auth`,
/// not `authentication`).
const SECRET_WORDS: &[&str] =
    &["password", "passwd", "passphrase", "secret", "token", "credential", "private", "apikey"];
const SECRET_WHOLE_WORDS: &[&str] = &["key", "auth", "pass", "pwd", "dsn", "connection_string"];

/// The word that makes `text` (a key or a pattern) look like it names a
/// credential, if any.
pub fn secret_word(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    if let Some(w) = SECRET_WORDS.iter().find(|w| lower.contains(**w)) {
        return Some(w);
    }
    let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    if lower.contains("connection_string") || lower.contains("connectionstring") {
        return Some("connection_string");
    }
    SECRET_WHOLE_WORDS.iter().find(|w| words.contains(w)).copied()
}

/// What a bundle's rules look up by name, for the collector: sorted and
/// without duplicates. Services need no plan (see
/// [`LookupKind::always_complete`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CollectionPlan {
    pub sysctls: Vec<String>,
    pub files: Vec<String>,
    pub modules: Vec<String>,
    /// Lookups of files' contents (absent in plans of older builds).
    #[serde(default)]
    pub contents: Vec<ContentLookup>,
    /// Certificate files (absent in plans of older builds).
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Whether dpkg packages' licences are read (each package's copyright
    /// file: 50 ms for 800 packages, paid only when asked): set when a rule
    /// reads `licenses` (absent in plans of older builds).
    #[serde(default)]
    pub licenses: bool,
}

impl CollectionPlan {
    pub fn of<'a>(lookups: impl IntoIterator<Item = &'a Lookup>) -> CollectionPlan {
        let mut plan = CollectionPlan::default();
        for l in lookups {
            if let Some(content) = &l.content {
                plan.contents.push(content.clone());
            } else if let Some(list) = plan.list_mut(l.kind) {
                list.push(l.name.clone());
            }
        }
        plan.normalise();
        plan
    }

    /// The union of two plans.
    pub fn merge(&mut self, other: &CollectionPlan) {
        self.sysctls.extend(other.sysctls.iter().cloned());
        self.files.extend(other.files.iter().cloned());
        self.modules.extend(other.modules.iter().cloned());
        self.contents.extend(other.contents.iter().cloned());
        self.certificates.extend(other.certificates.iter().cloned());
        self.licenses |= other.licenses;
        self.normalise();
    }

    /// Only names that [`LookupKind::check`] accepts, sorted, once each: a
    /// plan read from a bundle is input too.
    pub fn normalise(&mut self) {
        for kind in [LookupKind::Sysctl, LookupKind::File, LookupKind::Module, LookupKind::Certificate] {
            if let Some(list) = self.list_mut(kind) {
                list.retain(|n| kind.check(n).is_ok());
                list.sort();
                list.dedup();
            }
        }
        self.contents.retain(|c| c.check().is_ok());
        self.contents.sort();
        self.contents.dedup();
        self.contents.truncate(MAX_CONTENT_LOOKUPS);
        self.certificates.truncate(MAX_CONTENT_FILES);
    }

    fn list_mut(&mut self, kind: LookupKind) -> Option<&mut Vec<String>> {
        match kind {
            LookupKind::Sysctl => Some(&mut self.sysctls),
            LookupKind::File => Some(&mut self.files),
            LookupKind::Module => Some(&mut self.modules),
            LookupKind::Certificate => Some(&mut self.certificates),
            LookupKind::Service | LookupKind::Content => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sysctls.is_empty()
            && self.files.is_empty()
            && self.modules.is_empty()
            && self.contents.is_empty()
            && self.certificates.is_empty()
            && !self.licenses
    }
}

impl crate::telemetry::LookedUp {
    /// Whether a collection that looked these items up covers `lookup`
    /// (services are all collected anyway).
    pub fn covers(&self, lookup: &Lookup) -> bool {
        let list = match lookup.kind {
            LookupKind::Sysctl => &self.sysctls,
            LookupKind::File => &self.files,
            LookupKind::Module => &self.modules,
            LookupKind::Service => return true,
            LookupKind::Content => match &self.contents {
                Some(contents) => contents,
                // A document of schema 4 looked up no contents.
                None => return false,
            },
            LookupKind::Certificate => match &self.certificates {
                Some(certificates) => certificates,
                None => return false,
            },
        };
        list.contains(&lookup.name)
    }
}

/// What `assay explain host.WORD` says of a lookup: its call, what it
/// gives and what the collector reads for it.
pub fn explain(word: &str) -> Option<String> {
    let word = word.strip_prefix("host.").unwrap_or(word);
    let word = word.split('(').next().unwrap_or(word);
    let content = |format: &str, reads: &str| {
        format!(
            "host.{format}(PATH, KEY) -> ContentValue?\n\n{reads}\n\n\
             Only the key named is read, never the whole file. The record tells apart a missing file \
             (`exists`), an unset key (`set`) and a value of another type (`kind`, and the typed \
             `text`, `integer`, `boolean`, `list`, each absent unless the value has that type); each \
             value carries the file and line it came from. A key that names a credential (password, \
             secret, token, key, ...) is looked up only with a third argument: `\"presence\"` (a \
             `bool?`: whether it is set) or `\"not secret: WHY\"` (E0313). A file that cannot be parsed \
             makes the rules that look it up skipped, with the parser's message.\n\n\
             See \"Lookups of configuration files\" in docs/language.md, and examples/container-host."
        )
    };
    Some(match word {
        "sysctl" => "host.sysctl(NAME) -> KernelParameter?\n\nA kernel parameter by its dotted name \
                     (`net.ipv4.ip_forward`): its live value from /proc/sys and the value the sysctl \
                     configuration files persist, with the file and line. The bundle asks the collector \
                     for it; a collection that did not look it up skips the rule (E0311, E0312)."
            .to_owned(),
        "file" => "host.file(PATH) -> FileEntry?\n\nA file's metadata (type, owner, group, mode), never \
                   its contents, by its absolute path outside /proc, /sys and /dev (E0311)."
            .to_owned(),
        "module" => "host.module(NAME) -> KernelModule?\n\nA kernel module by its name with `-` \
                     (`usb-storage`): built in, loadable or absent, loaded, disabled or blacklisted in \
                     modprobe.d (E0311)."
            .to_owned(),
        "service" => "host.service(UNIT) -> Service?\n\nA systemd unit by its name with its type \
                      (`ssh.service`); every unit is collected anyway (E0311)."
            .to_owned(),
        "certificate" => "host.certificate(PATH) -> CertificateFile?\n\nA PEM file (each certificate \
                          of a chain, in order) or a DER certificate: for each, subject, issuer, names, \
                          serial, validity and `days_remaining` at the collection's clock, key type and \
                          bits, signature algorithm, self-signed and SHA-256 fingerprint. A private key \
                          in the file gives `private_key: true`; the key itself is never read. A file \
                          that is no certificate makes the rules that look it up skipped."
            .to_owned(),
        "json" => content(
            "json",
            "A JSON file; the key is dotted names (`a.b`), a name with dots quoted \
                                   (`a.\"b.c\"`), a number indexing a list.",
        ),
        "yaml" => content(
            "yaml",
            "A YAML file (its first document); keys as for JSON \
                                   (`authentication.anonymous.enabled`).",
        ),
        "toml" => content(
            "toml",
            "A TOML file; keys as for JSON \
                                   (`plugins.\"io.containerd.grpc.v1.cri\".disable_apparmor`).",
        ),
        "ini" => content(
            "ini",
            "An INI file: `SECTION.KEY`, or `KEY` before any section; MySQL's \
                                 `!include` and `!includedir` are followed and `-` and `_` in names are \
                                 alike (`mysqld.local-infile`).",
        ),
        "keyvalue" => content(
            "keyvalue",
            "`key = value` or `key value` lines with `#` comments, the last \
                                           setting winning; PostgreSQL's `include`, `include_if_exists` \
                                           and `include_dir` are followed (`ssl` in postgresql.conf).",
        ),
        "lines" => "host.lines(PATH, PATTERN) -> ContentValue?\n\nThe lines of a file that match a \
                    regular expression (RE2 syntax, checked when compiling), for formats without a \
                    parser (pg_hba.conf, hosts.allow): `lines` lists each match with its text, number \
                    and capture groups, `set` whether any matched. A matched line that names a \
                    credential or lies in a private key is withheld; a pattern that names one is looked \
                    up only with `\"presence\"` (E0313)."
            .to_owned(),
        _ => return None,
    })
}

/// The words `assay explain` takes for lookups.
pub const EXPLAINED: &[&str] = &[
    "sysctl",
    "file",
    "module",
    "service",
    "certificate",
    "json",
    "yaml",
    "toml",
    "ini",
    "keyvalue",
    "lines",
];

/// The section of docs/telemetry.md listing what is looked up by name.
pub fn defaults_markdown() -> String {
    let mut out = String::from(
        "\n## Items looked up by name\n\n`kernel.parameters`, `kernel.modules` and `files` hold only the items the \
         collector looks up by name: the lists below, and what the bundle's rules look up with \
         `host.sysctl(...)`, `host.module(...)` and `host.file(...)` (docs/language.md). \
         `collection.looked_up` records both. Searching these lists for another name is a compile \
         error (E0312); a rule looking up an item the collection did not is skipped.\n",
    );
    for kind in [LookupKind::Sysctl, LookupKind::Module, LookupKind::File] {
        let title = match kind {
            LookupKind::Sysctl => "Kernel parameters",
            LookupKind::Module => "Kernel modules",
            _ => "Files (metadata only, never contents)",
        };
        out.push_str(&format!("\n{title}:\n\n"));
        for name in kind.defaults() {
            out.push_str(&format!("- `{name}`\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_per_kind() {
        assert!(LookupKind::Sysctl.check("net.ipv4.ip_forward").is_ok());
        assert!(LookupKind::Sysctl.check("net/ipv4").is_err());
        assert!(LookupKind::Sysctl.check("kernel").is_err());
        assert!(LookupKind::File.check("/etc/shadow").is_ok());
        assert!(LookupKind::File.check("etc/shadow").is_err());
        assert!(LookupKind::File.check("/etc/../root/.ssh").is_err());
        assert!(LookupKind::File.check("/proc/self/environ").is_err());
        assert!(LookupKind::File.check("/etc/*.conf").is_err());
        assert!(LookupKind::Module.check("usb-storage").is_ok());
        assert!(LookupKind::Module.check("usb_storage").unwrap_err().contains("usb-storage"));
        assert!(LookupKind::Service.check("ssh.service").is_ok());
        assert!(LookupKind::Service.check("ssh").unwrap_err().contains("ssh.service"));
    }

    #[test]
    fn every_lookup_is_explained() {
        for word in EXPLAINED {
            let text = explain(word).unwrap();
            assert!(text.starts_with(&format!("host.{word}(")), "{text}");
        }
        assert!(explain("host.json(").is_some());
        assert!(explain("jsn").is_none());
    }

    #[test]
    fn content_keys_are_dotted_names_with_quoted_parts() {
        assert_eq!(key_path("a.b").unwrap(), ["a", "b"]);
        assert_eq!(
            key_path("plugins.\"io.containerd.grpc.v1.cri\".enable_selinux").unwrap(),
            ["plugins", "io.containerd.grpc.v1.cri", "enable_selinux"]
        );
        assert_eq!(key_path("hosts.0").unwrap(), ["hosts", "0"]);
        for bad in ["", "a..b", "a.", ".a", "\"a", "a\"b\"", "\"a\"b"] {
            assert!(key_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_are_recognised_by_their_words() {
        for secret in [
            "password",
            "db.Password",
            "PASSWD",
            "client_secret",
            "auth.token",
            "ssl_key_file",
            "auths.auth",
            "api-key",
            "credentials.file",
            "private_key",
            "DSN",
        ] {
            assert!(secret_word(secret).is_some(), "{secret}");
        }
        for plain in [
            "authentication.anonymous.enabled",
            "keyboard",
            "live-restore",
            "monkey",
            "ssl",
            "max_connections",
        ] {
            assert_eq!(secret_word(plain), None, "{plain}");
        }
    }

    #[test]
    fn a_plan_keeps_valid_names_once_in_order() {
        let mut plan = CollectionPlan {
            licenses: false,
            sysctls: vec!["b.c".into(), "a.b".into(), "b.c".into(), "bad".into()],
            files: vec!["/x/../y".into(), "/etc/a".into()],
            modules: vec![],
            contents: vec![],
            certificates: vec![],
        };
        plan.normalise();
        assert_eq!(plan.sysctls, ["a.b", "b.c"]);
        assert_eq!(plan.files, ["/etc/a"]);
    }
}
