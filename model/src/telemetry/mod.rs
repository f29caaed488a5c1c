//! The telemetry model: one document per host, written by the collector and
//! read by the VM. Every section is optional, because a sensor can fail or not
//! apply; what a sensor could not read is listed in [`Telemetry::errors`].
//!
//! The structs are declared through `record!` and `enumeration!`, which derive
//! serde and a [`schema::Describe`] implementation from the same declaration.
//! The compiler's type environment and `docs/telemetry.md` are both built from
//! that description; nothing else lists the fields.

pub mod partial;
mod read;
pub mod schema;

pub use read::{from_json, ReadError, OLDEST_READABLE};

use assay_stdlib::versions::Scheme;
use schema::{Describe, EnumSchema, FieldSchema, RecordSchema, Shape};
use serde::{Deserialize, Serialize};

/// The telemetry format this build writes (it reads back to
/// [`OLDEST_READABLE`]); the fingerprint test fails until it is bumped
/// with the schema.
pub const SCHEMA_VERSION: u32 = 7;

/// Declares a telemetry record: the struct with serde derives (unknown keys
/// rejected, so a misspelt field in a fixture is an error) and its schema.
/// Only `///` docs are accepted on the struct and its fields.
macro_rules! record {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $( $(#[doc = $fdoc:literal])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $( $(#[doc = $fdoc])* pub $field: $ty, )*
        }

        impl $name {
            pub fn schema() -> RecordSchema {
                RecordSchema {
                    name: stringify!($name),
                    doc: concat!($($doc, "\n",)* ""),
                    fields: vec![$(FieldSchema {
                        name: stringify!($field),
                        doc: concat!($($fdoc, "\n",)* ""),
                        shape: <$ty as Describe>::shape(),
                    },)*],
                }
            }
        }

        impl Describe for $name {
            fn shape() -> Shape {
                Shape::Record($name::schema)
            }
        }
    };
}

/// Declares an enumeration whose values are lowercase words in JSON and in
/// policies (`l.protocol == tcp`).
macro_rules! enumeration {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident {
            $( $(#[doc = $vdoc:literal])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        pub enum $name {
            #[default]
            $( $(#[doc = $vdoc])* #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            pub fn schema() -> EnumSchema {
                EnumSchema {
                    name: stringify!($name),
                    doc: concat!($($doc, "\n",)* ""),
                    variants: vec![$(($text, concat!($($vdoc, "\n",)* ""))),*],
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )* }
            }

            /// The value written `text` in JSON and policies.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $( $text => Some($name::$variant), )* _ => None }
            }
        }

        impl Describe for $name {
            fn shape() -> Shape {
                Shape::Enum($name::schema)
            }
        }
    };
}

/// A configuration value and where it came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Provenance,
}

impl<T: Describe> Describe for Sourced<T> {
    fn shape() -> Shape {
        Shape::Sourced(Box::new(T::shape()))
    }
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Provenance) -> Self {
        Sourced { value, source }
    }
}

/// Where a value came from: a file and line, a kernel interface, or a
/// built-in default (no file).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The file the value was read from; absent for a built-in default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What the value is when it is not from a file (`OpenSSH default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Provenance {
    fn schema() -> RecordSchema {
        let field = |name, doc, shape| FieldSchema { name, doc, shape };
        RecordSchema {
            name: "Provenance",
            doc: "Where a value came from: a file and line, a kernel interface, or a built-in default.\n",
            fields: vec![
                field(
                    "file",
                    "The file the value was read from; absent for a built-in default.\n",
                    Option::<String>::shape(),
                ),
                field("line", "", Option::<u32>::shape()),
                field("note", "What the value is when it is not from a file.\n", Option::<String>::shape()),
            ],
        }
    }

    pub fn file(path: impl Into<String>, line: u32) -> Self {
        Provenance { file: Some(path.into()), line: Some(line), note: None }
    }

    pub fn path(path: impl Into<String>) -> Self {
        Provenance { file: Some(path.into()), line: None, note: None }
    }

    pub fn default_value(note: impl Into<String>) -> Self {
        Provenance { file: None, line: None, note: Some(note.into()) }
    }
}

impl Describe for Provenance {
    fn shape() -> Shape {
        Shape::Record(Provenance::schema)
    }
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line, &self.note) {
            (Some(file), Some(line), _) => write!(f, "{file}:{line}"),
            (Some(file), None, _) => f.write_str(file),
            (None, _, Some(note)) => f.write_str(note),
            (None, _, None) => f.write_str("unknown"),
        }
    }
}

/// A version string. Its comparison scheme is the `ecosystem` of the record
/// holding it (dpkg for Debian and Ubuntu, rpm, apk, PEP 440 for PyPI).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub String);

impl Describe for Version {
    fn shape() -> Shape {
        Shape::Version
    }
}

record! {
    /// One host's telemetry: the root of every rule's `host`.
    pub struct Telemetry {
        /// The format version.
        pub schema_version: u32,
        /// The fingerprint of the schema the writer used; absent in
        /// hand-written documents.
        pub schema_fingerprint: Option<String>,
        /// The host the document describes.
        pub asset: Asset,
        /// When and how the collection ran.
        pub collection: Option<Collection>,
        /// Installed packages of every package manager found.
        pub packages: Option<Vec<Package>>,
        /// The SSH server's effective configuration; absent when sshd is not installed.
        pub sshd: Option<Sshd>,
        /// Settings of `/etc/login.defs`.
        pub login_defs: Option<LoginDefs>,
        /// sudo's configuration (/etc/sudoers and /etc/sudoers.d); absent
        /// when neither exists.
        pub sudo: Option<Sudo>,
        /// The password quality policy enforced through PAM.
        pub password_policy: Option<PasswordPolicy>,
        /// Every line of the PAM stacks CIS audits, in order.
        pub pam: Option<Vec<PamLine>>,
        /// Kernel parameters and modules.
        pub kernel: Option<Kernel>,
        /// Processor features.
        pub cpu: Option<Cpu>,
        /// Metadata of system directories and key files.
        pub files: Option<Vec<FileEntry>>,
        /// World-writable entries of the local file systems (a walk bounded
        /// in entries and time; when it stops early, the section is listed in
        /// `collection.skipped_sections` and passing rules over it are skipped).
        pub world_writable: Option<Vec<FileEntry>>,
        /// Entries of the local file systems whose owner or group is no
        /// account or group of the host (the same walk).
        pub unowned: Option<Vec<FileEntry>>,
        /// Mounted file systems (or `/etc/fstab` for a root file system).
        pub mounts: Option<Vec<Mount>>,
        /// Local users, with password aging (never the hash).
        pub users: Option<Vec<User>>,
        /// Local groups.
        pub groups: Option<Vec<Group>>,
        /// Settings of the configuration files CIS audits beyond those
        /// above (journald, coredump, faillock, auditd, rsyslog, APT,
        /// firewalls, shell start-up files); absent when none of those files exists.
        pub config: Option<Vec<ConfigSetting>>,
        /// Values looked up in configuration files by the bundles' rules
        /// (`host.json(PATH, KEY)`, `host.lines(PATH, PATTERN)`, ...): only
        /// the keys and lines asked for, never a whole file, never the value
        /// of a key that looks like a credential. Absent in documents of
        /// schema 4.
        pub contents: Option<Vec<ContentValue>>,
        /// Certificate files looked up by the bundles' rules
        /// (`host.certificate(PATH)`); a private key in one is reported,
        /// never read. Absent in documents of schema 4.
        pub certificates: Option<Vec<CertificateFile>>,
        /// APT's package sources (sources.list and sources.list.d).
        pub apt_sources: Option<Vec<AptSource>>,
        /// systemd units.
        pub services: Option<Vec<Service>>,
        /// Running processes.
        pub processes: Option<Vec<Process>>,
        /// Listening TCP and UDP sockets.
        pub listeners: Option<Vec<Listener>>,
        /// Established connections.
        pub connections: Option<Vec<Connection>>,
        /// Installed packages affected by advisories of the vulnerability feed
        /// (filled by `assay scan` when a feed is imported).
        pub vulnerabilities: Option<Vec<Vulnerability>>,
        /// What the collector could not read.
        pub errors: Vec<CollectionError>,
    }
}

record! {
    /// The assessed host.
    pub struct Asset {
        /// A stable identifier (the machine id, or the hostname when there is none).
        pub id: String,
        pub hostname: String,
        /// Tags given at collection time, such as `env=prod`.
        pub tags: Vec<Tag>,
        pub os: Option<Os>,
        /// `uname -r`; absent for a root file system.
        pub kernel_release: Option<String>,
        /// `x86_64`, `aarch64`, ...
        pub architecture: Option<String>,
    }
}

record! {
    /// A key/value tag on an asset.
    pub struct Tag {
        pub key: String,
        pub value: String,
    }
}

record! {
    /// The operating system, from `/etc/os-release`.
    pub struct Os {
        pub family: OsFamily,
        /// `ID`: `debian`, `ubuntu`, `alpine`, `fedora`, `rhel`, ...
        pub distribution: String,
        /// `VERSION_ID`, such as `12` or `3.20.3`.
        pub version: Option<String>,
        /// `PRETTY_NAME`.
        pub name: Option<String>,
    }
}

enumeration! {
    /// The family of a Linux distribution (its packaging lineage).
    pub enum OsFamily {
        Debian = "debian",
        Redhat = "redhat",
        Alpine = "alpine",
        Suse = "suse",
        Arch = "arch",
        Other = "other",
    }
}

record! {
    /// When and how the collection ran.
    pub struct Collection {
        /// Start time, RFC 3339 in UTC.
        pub started: String,
        /// The sampling duration (0 for a single snapshot).
        pub duration_seconds: u64,
        pub interval_seconds: u64,
        /// How many runtime samples were taken.
        pub samples: u32,
        /// The root file system collected (`/` for the live host).
        pub root: String,
        /// The collector's version.
        pub collector_version: String,
        /// What was kept of process command lines.
        pub command_lines: CommandLines,
        /// Sections that could not be collected (a sensor failed, an input
        /// such as the vulnerability feed was not given, a live-only sensor
        /// on a root file system). Rules that read them are *skipped*, never
        /// passed or not applicable.
        pub skipped_sections: Vec<SkippedSection>,
        /// Everything looked up by name (the collector's defaults and the
        /// bundles' plans): a rule looking up another item is *skipped*.
        /// Absent in documents of schema 2.
        pub looked_up: Option<LookedUp>,
    }
}

record! {
    /// The items a collection looked up by name, present on the host or not.
    pub struct LookedUp {
        /// Kernel parameters (`net.ipv4.ip_forward`).
        pub sysctls: Vec<String>,
        /// File paths whose metadata was read.
        pub files: Vec<String>,
        /// Kernel modules (`usb-storage`).
        pub modules: Vec<String>,
        /// Lookups of files' contents, as written (`host.json("/etc/docker/daemon.json",
        /// "live-restore")`): a file that could not be parsed is not among them.
        /// Absent in documents of schema 4.
        pub contents: Option<Vec<String>>,
        /// Certificate files (`host.certificate(PATH)`) read; a file that
        /// could not be parsed is not among them. Absent in documents of
        /// schema 4.
        pub certificates: Option<Vec<String>>,
    }
}

record! {
    /// A certificate file looked up by a rule: PEM (a chain gives each
    /// certificate, in order) or DER.
    pub struct CertificateFile {
        pub path: String,
        /// Whether the file exists.
        pub exists: bool,
        /// Whether it holds a private key (its contents are never read).
        pub private_key: bool,
        pub certificates: Vec<Certificate>,
    }
}

record! {
    /// An X.509 certificate.
    pub struct Certificate {
        /// The subject's distinguished name (`CN=www.example.org, O=...`).
        pub subject: String,
        pub issuer: String,
        /// Subject alternative names: DNS names, IP addresses, e-mail
        /// addresses, URIs.
        pub names: Vec<String>,
        /// The serial number, hex bytes separated by `:`.
        pub serial: String,
        /// RFC 3339, UTC.
        pub not_before: String,
        pub not_after: String,
        /// Whole days from the collection to `not_after` (negative once expired).
        pub days_remaining: i64,
        /// `rsa`, `ec`, `ed25519`, `ed448`, `dsa`, `gost` or `unknown`.
        pub key_type: String,
        /// The key's size in bits (an EC key: its curve's).
        pub key_bits: i64,
        /// `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, ... or an OID.
        pub signature_algorithm: String,
        /// Whether the subject is the issuer.
        pub self_signed: bool,
        /// SHA-256 of the DER encoding, hex.
        pub fingerprint: String,
    }
}

record! {
    /// One lookup of a configuration file's contents and what it found.
    /// A missing file, a key that is not set and a value of another type
    /// are told apart: `exists`, `set`, `kind`, and the typed values,
    /// each absent unless the value has that type.
    pub struct ContentValue {
        /// The lookup as written in the rule, which finds this record.
        pub lookup: String,
        pub format: ContentFormat,
        /// The file looked up (includes it names are followed).
        pub path: String,
        /// The key (`authentication.anonymous.enabled`, `mysqld.local-infile`)
        /// or, for `lines`, the pattern.
        pub key: String,
        /// Whether the file exists.
        pub exists: bool,
        /// Whether the key is set (for `lines`: whether a line matches).
        pub set: bool,
        /// The value's type; absent when the key is not set or only its
        /// presence was looked up.
        pub kind: Option<ValueKind>,
        /// A string, number or boolean value, as text.
        pub text: Option<Sourced<String>>,
        /// An integer value (for `ini` and `keyvalue`, text that is one).
        pub integer: Option<Sourced<i64>>,
        /// A boolean value (for `ini` and `keyvalue`: `true`/`false`,
        /// `yes`/`no`, `on`/`off`, `1`/`0`).
        pub boolean: Option<Sourced<bool>>,
        /// A list of strings, numbers or booleans, each as text.
        pub list: Option<Sourced<Vec<String>>>,
        /// For `lines`: every matching line, in file order (at most 1,000);
        /// absent when the file does not exist.
        pub lines: Option<Vec<LineMatch>>,
    }
}

record! {
    /// A line of a file that matched a `lines` lookup's pattern.
    pub struct LineMatch {
        /// The line's text, with its file and line number.
        pub line: Sourced<String>,
        pub number: u32,
        /// The pattern's capture groups, in order (`""` for a group that
        /// did not take part).
        pub captures: Vec<String>,
    }
}

enumeration! {
    /// How a configuration file is parsed.
    pub enum ContentFormat {
        Json = "json",
        Yaml = "yaml",
        Toml = "toml",
        /// Sections and `key = value`; MySQL's `!include` and `!includedir`
        /// are followed.
        Ini = "ini",
        /// `key = value` or `key value` lines, `#` comments, the last one
        /// wins; PostgreSQL's `include`, `include_if_exists` and
        /// `include_dir` are followed.
        Keyvalue = "keyvalue",
        /// Lines matching a regular expression.
        Lines = "lines",
    }
}

enumeration! {
    /// The type of a value found in a configuration file.
    pub enum ValueKind {
        String = "string",
        Integer = "integer",
        Float = "float",
        Boolean = "boolean",
        List = "list",
        Map = "map",
        Null = "null",
    }
}

record! {
    /// A section of the document that was not collected, and why.
    pub struct SkippedSection {
        /// The top-level field of the document (`vulnerabilities`, `processes`).
        pub section: String,
        pub reason: String,
    }
}

enumeration! {
    /// How much of a process's command line the collector keeps.
    pub enum CommandLines {
        /// The program and the names of its options, never a value (the default).
        Flags = "flags",
        /// The whole line with credentials redacted (`--collect-cmdlines`).
        Redacted = "redacted",
    }
}

enumeration! {
    /// The package manager or language ecosystem a package belongs to; it
    /// decides how its versions compare.
    pub enum Ecosystem {
        Debian = "debian",
        Rpm = "rpm",
        Alpine = "alpine",
        Pypi = "pypi",
    }
}

impl Ecosystem {
    /// How versions of this ecosystem compare: the one mapping, used by the
    /// VM and the feed alike.
    pub fn scheme(self) -> Scheme {
        match self {
            Ecosystem::Debian => Scheme::Dpkg,
            Ecosystem::Rpm => Scheme::Rpm,
            Ecosystem::Alpine => Scheme::Apk,
            Ecosystem::Pypi => Scheme::Pep440,
        }
    }

    /// The name a package is looked up by: lowercase, and for PyPI
    /// normalized as PEP 503 says (runs of `-`, `_` and `.` are one `-`),
    /// so `PyYAML`, `pyyaml` and `py_yaml` find one distribution.
    pub fn name_key(self, name: &str) -> String {
        let lower = name.to_lowercase();
        if self != Ecosystem::Pypi {
            return lower;
        }
        let mut key = String::with_capacity(lower.len());
        for c in lower.chars() {
            if matches!(c, '-' | '_' | '.') {
                if !key.ends_with('-') {
                    key.push('-');
                }
            } else {
                key.push(c);
            }
        }
        key
    }
}

record! {
    /// An installed package.
    pub struct Package {
        pub name: String,
        /// Compared with the ecosystem's scheme (dpkg, rpm, apk or PEP 440).
        pub version: Version,
        /// The source package (Debian advisories name source packages).
        pub source_name: Option<String>,
        pub source_version: Option<Version>,
        pub architecture: Option<String>,
        pub ecosystem: Ecosystem,
        /// The database or metadata file the package was read from.
        pub origin: String,
        /// The licences the package's metadata states, each as written there:
        /// rpm's License tag, apk's `L:`, a Python distribution's
        /// `License-Expression` (else a one-line `License`, else its
        /// `License ::` classifiers), and for dpkg the `License:` short names
        /// of the `Files:` stanzas of a machine-readable (DEP-5)
        /// `/usr/share/doc/PACKAGE/copyright`, in order, once each. Absent
        /// where no licence is stated in a form that can be read (a copyright
        /// file in prose), in documents of schema 6, and for dpkg packages
        /// unless the collection plan asks for licences (`assay sbom`, the
        /// server, or a rule that reads `licenses`).
        pub licenses: Option<Vec<String>>,
    }
}

record! {
    /// The SSH server's effective configuration, as sshd reads it: includes
    /// followed, the first value of a keyword wins, OpenSSH's defaults for
    /// keywords left unset. Each value records the file and line it came from.
    pub struct Sshd {
        pub permit_root_login: Sourced<String>,
        /// `2` for every OpenSSH since 7.4, which removed protocol 1.
        pub protocol: Sourced<String>,
        pub password_authentication: Sourced<bool>,
        pub permit_empty_passwords: Sourced<bool>,
        pub pubkey_authentication: Sourced<bool>,
        pub kbd_interactive_authentication: Sourced<bool>,
        pub hostbased_authentication: Sourced<bool>,
        pub ignore_rhosts: Sourced<bool>,
        pub permit_user_environment: Sourced<bool>,
        pub x11_forwarding: Sourced<bool>,
        /// `yes`, `no`, `local` or `remote`.
        pub allow_tcp_forwarding: Sourced<String>,
        pub allow_agent_forwarding: Sourced<bool>,
        pub gssapi_authentication: Sourced<bool>,
        pub disable_forwarding: Sourced<bool>,
        pub use_pam: Sourced<bool>,
        pub max_auth_tries: Sourced<u32>,
        pub max_sessions: Sourced<u32>,
        /// `start:rate:full`, such as `10:30:100`.
        pub max_startups: Sourced<String>,
        /// In seconds.
        pub login_grace_time: Sourced<u32>,
        /// In seconds; 0 disables client keepalives.
        pub client_alive_interval: Sourced<u32>,
        pub client_alive_count_max: Sourced<u32>,
        pub log_level: Sourced<String>,
        /// `none` when no banner is shown.
        pub banner: Sourced<String>,
        pub ciphers: Sourced<Vec<String>>,
        pub macs: Sourced<Vec<String>>,
        pub kex_algorithms: Sourced<Vec<String>>,
        pub allow_users: Sourced<Vec<String>>,
        pub allow_groups: Sourced<Vec<String>>,
        pub deny_users: Sourced<Vec<String>>,
        pub deny_groups: Sourced<Vec<String>>,
        pub ports: Sourced<Vec<u32>>,
        /// Every keyword set in the global section, lowercased, first value.
        pub settings: Vec<SshdSetting>,
        /// `Match` blocks, kept apart from the global settings.
        pub match_blocks: Vec<SshdMatch>,
    }
}

record! {
    /// One keyword of sshd_config as written.
    pub struct SshdSetting {
        /// Lowercased keyword.
        pub keyword: String,
        pub value: Sourced<String>,
    }
}

record! {
    /// A `Match` block of sshd_config.
    pub struct SshdMatch {
        /// The criteria after `Match`, such as `User backup`.
        pub criteria: Sourced<String>,
        pub settings: Vec<SshdSetting>,
    }
}

record! {
    /// Settings of `/etc/login.defs` used by password aging and account creation.
    pub struct LoginDefs {
        pub pass_max_days: Option<Sourced<i64>>,
        pub pass_min_days: Option<Sourced<i64>>,
        pub pass_warn_age: Option<Sourced<i64>>,
        pub pass_min_len: Option<Sourced<i64>>,
        pub encrypt_method: Option<Sourced<String>>,
        pub umask: Option<Sourced<String>>,
        /// Every key set in the file.
        pub settings: Vec<LoginDefsSetting>,
    }
}

record! {
    /// One `KEY value` line of `/etc/login.defs`.
    pub struct LoginDefsSetting {
        pub key: String,
        pub value: Sourced<String>,
    }
}

record! {
    /// What sudo is configured to do, from /etc/sudoers and the files of
    /// /etc/sudoers.d it includes.
    pub struct Sudo {
        /// Every `Defaults` entry (`use_pty`, `logfile="/var/log/sudo.log"`,
        /// `timestamp_timeout=15`), one per comma-separated item.
        pub defaults: Vec<Sourced<String>>,
        /// Every rule granting commands (`alice ALL=(ALL) NOPASSWD: ALL`).
        pub rules: Vec<SudoRule>,
    }
}

record! {
    /// One line of sudoers that grants commands, or a `Defaults` line that
    /// turns authentication off.
    pub struct SudoRule {
        /// The line, as written (joined when continued with `\`).
        pub line: Sourced<String>,
        /// It grants commands without a password (`NOPASSWD:`).
        pub nopasswd: bool,
        /// It turns authentication off (`!authenticate`).
        pub no_authenticate: bool,
    }
}

record! {
    /// One line of a PAM stack in /etc/pam.d (`common-auth`, `system-auth`,
    /// ...): a module with its control and arguments, or an `@include`.
    pub struct PamLine {
        /// The stack's file name (`common-auth`).
        pub stack: String,
        /// `auth`, `account`, `password`, `session`, or `@include`.
        pub kind: String,
        /// `required`, `[success=1 default=ignore]`, ...; empty for `@include`.
        pub control: String,
        /// The module's file name (`pam_unix.so`), or the included stack,
        /// with the file and line of the line.
        pub module: Sourced<String>,
        /// The module's arguments; values of arguments named like a
        /// credential are `[redacted]`.
        pub arguments: Vec<String>,
    }
}

record! {
    /// The password quality policy: arguments of `pam_pwquality`,
    /// `pam_cracklib` and `pam_unix` and `/etc/security/pwquality.conf`.
    pub struct PasswordPolicy {
        /// The PAM module that checks quality (`pam_pwquality.so`), if any.
        pub quality_module: Option<Sourced<String>>,
        pub minlen: Option<Sourced<i64>>,
        /// Credits: negative values require that many characters of the class.
        pub dcredit: Option<Sourced<i64>>,
        pub ucredit: Option<Sourced<i64>>,
        pub lcredit: Option<Sourced<i64>>,
        pub ocredit: Option<Sourced<i64>>,
        pub minclass: Option<Sourced<i64>>,
        pub retry: Option<Sourced<i64>>,
        pub maxrepeat: Option<Sourced<i64>>,
        /// `remember=N` of pam_unix or pam_pwhistory.
        pub remember: Option<Sourced<i64>>,
        /// The hashing method pam_unix is given (`yescrypt`, `sha512`, ...).
        pub hash_method: Option<Sourced<String>>,
        /// `nullok` on pam_unix: empty passwords accepted.
        pub nullok: Option<Sourced<bool>>,
    }
}

record! {
    /// Kernel parameters and modules.
    pub struct Kernel {
        pub parameters: Vec<KernelParameter>,
        pub modules: Vec<KernelModule>,
        /// The kernel loads modules at all (`CONFIG_MODULES`); absent when
        /// its configuration could not be read.
        pub modules_supported: Option<bool>,
        /// The active Linux security modules, in order, from
        /// `/sys/kernel/security/lsm` (`lockdown,capability,yama,apparmor`);
        /// absent on a root file system or where securityfs is not mounted.
        /// A module built into the kernel but left out of `lsm=` at boot is
        /// not active.
        pub security_modules: Option<Vec<String>>,
    }
}

enumeration! {
    /// How a kernel feature is built, from `modules.dep`, `modules.builtin`
    /// and the kernel configuration.
    pub enum ModuleBuild {
        /// Neither the module lists nor the configuration could be read.
        Unknown = "unknown",
        /// A loadable module: modprobe.d can keep it from loading.
        Module = "module",
        /// Built into the kernel: modprobe cannot disable it.
        Builtin = "builtin",
        /// Not built at all: nothing can load it.
        Absent = "absent",
    }
}

record! {
    /// A sysctl parameter: its running value and the value configuration
    /// persists for the next boot, each with its source.
    pub struct KernelParameter {
        /// Dotted name, such as `kernel.randomize_va_space`.
        pub name: String,
        /// From `/proc/sys`; absent for a root file system.
        pub runtime: Option<Sourced<String>>,
        /// From the sysctl configuration files, with systemd-sysctl's precedence.
        pub persisted: Option<Sourced<String>>,
    }
}

record! {
    /// A kernel module: how it is built, loaded, disabled or blacklisted.
    pub struct KernelModule {
        pub name: String,
        pub build: ModuleBuild,
        pub loaded: bool,
        /// An `install NAME /bin/false` (or `/bin/true`) line prevents loading.
        pub disabled: Option<Sourced<String>>,
        /// A `blacklist NAME` line.
        pub blacklisted: Option<Sourced<String>>,
    }
}

record! {
    /// Processor features relevant to exploit mitigation.
    pub struct Cpu {
        /// The CPU advertises the NX (execute disable) flag.
        pub nx_supported: bool,
        /// The running kernel uses NX (not disabled with `noexec=off`).
        pub nx_enabled: Option<bool>,
    }
}

enumeration! {
    /// The type of a file system entry.
    pub enum FileType {
        File = "file",
        Directory = "directory",
        Symlink = "symlink",
        Other = "other",
    }
}

record! {
    /// Ownership and permissions of a file or directory.
    pub struct FileEntry {
        pub path: String,
        pub kind: FileType,
        pub uid: u32,
        pub gid: u32,
        /// The owner's name, when the user exists.
        pub owner: Option<String>,
        pub group: Option<String>,
        /// Permission bits, including setuid, setgid and sticky (`0o4755`).
        pub mode: u32,
    }
}

record! {
    /// A mounted file system.
    pub struct Mount {
        pub path: String,
        pub device: String,
        pub fs_type: String,
        pub options: Vec<String>,
        /// `/proc/self/mountinfo` or `/etc/fstab`, with the line.
        pub source: Provenance,
    }
}

enumeration! {
    /// The state of an account's password, read from `/etc/shadow` without the hash.
    pub enum PasswordState {
        /// A password hash is set.
        Set = "set",
        /// The hash field is empty: no password is needed.
        Empty = "empty",
        /// Locked (`!` or `*` prefix): password login is disabled.
        Locked = "locked",
        /// The user has no shadow entry.
        Unknown = "unknown",
    }
}

record! {
    /// A local user, with password aging from `/etc/shadow` (never the hash).
    pub struct User {
        pub name: String,
        pub uid: u32,
        pub gid: u32,
        pub home: String,
        pub shell: String,
        /// The password field of `/etc/passwd` is `x` (the hash lives in shadow).
        pub shadowed: bool,
        pub password: PasswordState,
        /// Days since 1970-01-01 of the last password change.
        pub last_change: Option<i64>,
        pub min_days: Option<i64>,
        pub max_days: Option<i64>,
        pub warn_days: Option<i64>,
        pub inactive_days: Option<i64>,
        pub expires: Option<i64>,
        /// For an interactive account (uid 1000 or more, a login shell):
        /// its home folder's metadata, absent when there is no such folder.
        pub home_folder: Option<FileEntry>,
        /// For an interactive account: the dot files CIS audits in its home
        /// (`.netrc`, `.rhosts`, `.forward`, `.bash_history`), metadata only,
        /// the ones that exist.
        pub dot_files: Vec<FileEntry>,
    }
}

record! {
    /// A local group.
    pub struct Group {
        pub name: String,
        pub gid: u32,
        pub members: Vec<String>,
    }
}

record! {
    /// A setting of a configuration file, with the file and line that set
    /// it. Only the keys listed under "Configurations" are kept, so nothing
    /// that can hold a credential (an APT proxy URL, rsyslog's TLS options)
    /// is read.
    pub struct ConfigSetting {
        /// Which configuration: one of those listed under "Configurations"
        /// below, each with the files it is read from and the keys kept.
        /// Where a program reads only the last value of a key (journald,
        /// faillock, APT, ...), that value is kept; where every occurrence
        /// counts (audit rules, rsyslog's directives, `umask` statements,
        /// firewall rules), each is a setting of its own.
        pub config: String,
        pub key: String,
        pub value: Sourced<String>,
    }
}

record! {
    /// An APT package source: one `deb` line of a `.list` file, or one
    /// suite of a deb822 `.sources` stanza.
    pub struct AptSource {
        /// `deb` or `deb-src`.
        pub kind: String,
        pub uri: String,
        pub suite: String,
        /// The keyring that verifies it (`signed-by`); absent when APT's
        /// trusted keyrings do.
        pub signed_by: Option<String>,
        /// `trusted=yes`: packages from it are installed unverified.
        pub trusted: bool,
        /// `allow-insecure=yes` or `allow-weak=yes`.
        pub allow_insecure: bool,
        pub source: Provenance,
    }
}

record! {
    /// A systemd unit.
    pub struct Service {
        /// Unit name with its type: `ssh.service`, `ssh.socket`, `dailyaidecheck.timer`.
        pub name: String,
        /// Enabled to start at boot (a `wants`/`requires` link exists).
        pub enabled: bool,
        /// A service running now; absent for a socket, a timer, or a root file system.
        pub active: Option<bool>,
        /// The unit file.
        pub path: String,
    }
}

record! {
    /// A process seen running.
    pub struct Process {
        pub pid: u32,
        pub ppid: u32,
        pub user: String,
        pub uid: u32,
        pub name: String,
        /// The executable, with its metadata and ELF hardening.
        pub executable: Option<Binary>,
        /// The program and its option names only, unless the collection
        /// kept whole lines (see `collection.command_lines`).
        pub command_line: Vec<String>,
        /// Shared objects mapped into the process.
        pub libraries: Vec<Binary>,
        pub seen: Sighting,
    }
}

record! {
    /// An executable or shared object, its ownership and ELF hardening.
    pub struct Binary {
        pub path: String,
        pub uid: u32,
        pub gid: u32,
        pub mode: u32,
        pub pie: Option<bool>,
        /// The stack is not executable (`PT_GNU_STACK` without `X`).
        pub nx_stack: Option<bool>,
        /// `none`, `partial` or `full`.
        pub relro: Option<String>,
        pub stack_protector: Option<bool>,
    }
}

record! {
    /// When a runtime object was observed during sampling.
    pub struct Sighting {
        /// RFC 3339.
        pub first_seen: String,
        pub last_seen: String,
        pub samples: u32,
    }
}

enumeration! {
    /// A transport protocol.
    pub enum Protocol {
        Tcp = "tcp",
        Udp = "udp",
    }
}

enumeration! {
    /// The address family of a socket.
    pub enum AddressFamily {
        Ipv4 = "ipv4",
        Ipv6 = "ipv6",
    }
}

record! {
    /// The process owning a socket.
    pub struct SocketOwner {
        pub pid: u32,
        pub name: String,
        pub user: String,
    }
}

record! {
    /// A listening socket.
    pub struct Listener {
        pub protocol: Protocol,
        pub family: AddressFamily,
        pub address: String,
        pub port: u16,
        pub process: Option<SocketOwner>,
        /// Connections accepted on it while sampling.
        pub connections_seen: u32,
        pub seen: Sighting,
    }
}

enumeration! {
    /// Which side of a connection this host is.
    pub enum Direction {
        /// This host connected out.
        Outbound = "outbound",
        /// A peer connected to a local listener.
        Inbound = "inbound",
    }
}

record! {
    /// An established connection.
    pub struct Connection {
        pub protocol: Protocol,
        pub direction: Direction,
        pub local_address: String,
        pub local_port: u16,
        pub remote_address: String,
        pub remote_port: u16,
        pub process: Option<SocketOwner>,
        pub seen: Sighting,
    }
}

enumeration! {
    /// An advisory's severity: from its CVSS base score, else its database's
    /// own rating (Debian's urgency, a GHSA or Ubuntu severity), else an
    /// imported one (`assay feed import --severities`).
    pub enum AdvisorySeverity {
        Low = "low",
        Medium = "medium",
        High = "high",
        /// CVSS 9.0 and above.
        Critical = "critical",
        /// Rated nowhere: never taken for medium.
        Unknown = "unknown",
    }
}

record! {
    /// An installed package affected by an advisory.
    pub struct Vulnerability {
        /// The advisory and the installed package, `DEBIAN-CVE-2024-6387
        /// openssh-server`: what names the item in evidence and in a
        /// finding's fingerprint (an advisory affects several packages).
        pub id: String,
        /// `DEBIAN-CVE-2024-6387`, `PYSEC-2023-74`, ...
        pub advisory_id: String,
        pub cves: Vec<String>,
        /// The installed (binary) package.
        pub package: String,
        /// The package the advisory names (the source package for distributions).
        pub source_package: String,
        pub installed_version: Version,
        /// The first version with the fix; absent when there is none yet.
        pub fixed_version: Option<Version>,
        pub ecosystem: Ecosystem,
        pub severity: AdvisorySeverity,
        /// Where the severity came from: `CVSS:3.1/AV:N/... (base score
        /// 9.8)`, `Debian urgency high`, `database severity HIGH`,
        /// `imported from FILE`, or `not rated`.
        pub severity_source: String,
        pub summary: String,
        pub references: Vec<String>,
    }
}

record! {
    /// Something a sensor could not read.
    pub struct CollectionError {
        pub sensor: String,
        pub path: Option<String>,
        pub message: String,
    }
}

impl Vulnerability {
    /// [`Vulnerability::id`]: the advisory, a space, the installed package.
    pub fn id_of(advisory_id: &str, package: &str) -> String {
        format!("{advisory_id} {package}")
    }
}

impl Telemetry {
    /// An empty document for `asset`: no sensor ran.
    pub fn empty(asset: Asset) -> Self {
        Telemetry {
            schema_version: SCHEMA_VERSION,
            schema_fingerprint: Some(crate::fingerprint::schema().to_owned()),
            asset,
            ..Telemetry::default()
        }
    }
}

#[cfg(test)]
mod tests;
