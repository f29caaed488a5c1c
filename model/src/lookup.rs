//! Lookups by name: `host.sysctl("net.ipv4.ip_forward")`,
//! `host.file("/etc/shadow")`, `host.module("cramfs")`,
//! `host.service("ssh.service")`. The compiler checks each name here, the
//! bundle carries the names its rules look up (a [`CollectionPlan`]), the
//! collector gathers them besides its defaults, and a rule whose lookup the
//! telemetry did not cover is skipped, never passed.

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
}

impl LookupKind {
    pub const ALL: [LookupKind; 4] =
        [LookupKind::Sysctl, LookupKind::File, LookupKind::Module, LookupKind::Service];

    /// The word after `host.` in a policy.
    pub fn word(self) -> &'static str {
        match self {
            LookupKind::Sysctl => "sysctl",
            LookupKind::File => "file",
            LookupKind::Module => "module",
            LookupKind::Service => "service",
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
        }
    }

    /// The field of the record that holds the looked-up name.
    pub fn key_field(self) -> &'static str {
        match self {
            LookupKind::File => "path",
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
            LookupKind::Service => &[],
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
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host.{}({:?})", self.kind, self.name)
    }
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
}

impl CollectionPlan {
    pub fn of<'a>(lookups: impl IntoIterator<Item = &'a Lookup>) -> CollectionPlan {
        let mut plan = CollectionPlan::default();
        for l in lookups {
            if let Some(list) = plan.list_mut(l.kind) {
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
        self.normalise();
    }

    /// Only names that [`LookupKind::check`] accepts, sorted, once each: a
    /// plan read from a bundle is input too.
    pub fn normalise(&mut self) {
        for kind in [LookupKind::Sysctl, LookupKind::File, LookupKind::Module] {
            if let Some(list) = self.list_mut(kind) {
                list.retain(|n| kind.check(n).is_ok());
                list.sort();
                list.dedup();
            }
        }
    }

    fn list_mut(&mut self, kind: LookupKind) -> Option<&mut Vec<String>> {
        match kind {
            LookupKind::Sysctl => Some(&mut self.sysctls),
            LookupKind::File => Some(&mut self.files),
            LookupKind::Module => Some(&mut self.modules),
            LookupKind::Service => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sysctls.is_empty() && self.files.is_empty() && self.modules.is_empty()
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
        };
        list.contains(&lookup.name)
    }
}

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
    fn a_plan_keeps_valid_names_once_in_order() {
        let mut plan = CollectionPlan {
            sysctls: vec!["b.c".into(), "a.b".into(), "b.c".into(), "bad".into()],
            files: vec!["/x/../y".into(), "/etc/a".into()],
            modules: vec![],
        };
        plan.normalise();
        assert_eq!(plan.sysctls, ["a.b", "b.c"]);
        assert_eq!(plan.files, ["/etc/a"]);
    }
}
