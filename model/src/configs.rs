//! The configurations in `host.config` and the keys the collector keeps of
//! each: one table that the collector filters with and the compiler checks
//! rules against, so `c.config == "jornald"` or `c.key == "storage"` is a
//! compile error (E0314) instead of a comparison that never matches.
//!
//! Keys keep the case their program gives them (systemd's `Storage`,
//! faillock's `deny`, ufw's `ENABLED`): the programs themselves read them
//! case-sensitively.

/// One configuration of `host.config`.
#[derive(Debug, Clone, Copy)]
pub struct Configuration {
    /// The value of `ConfigSetting.config`.
    pub name: &'static str,
    /// The files read, in words, for docs/telemetry.md.
    pub files: &'static str,
    /// The keys kept: exact names, and forms ending in `*` that stand for
    /// any key starting with what precedes the `*`.
    pub keys: &'static [&'static str],
}

impl Configuration {
    /// Whether the collector keeps `key` of this configuration.
    pub fn keeps(&self, key: &str) -> bool {
        if self.name == "apt" {
            return apt_keeps(key);
        }
        self.keys.iter().any(|k| match k.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix) && key.len() > prefix.len(),
            None => *k == key,
        })
    }
}

/// APT's options are case-insensitive (`apt::get::allowunauthenticated`
/// is `APT::Get::AllowUnauthenticated`): kept are those that let
/// unverified packages in and the periodic (unattended) update settings,
/// never a proxy (its URL can carry a password).
fn apt_keeps(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    (lower.starts_with("apt::periodic::") && lower.len() > "apt::periodic::".len())
        || (lower.contains("::allow") && !lower.contains("proxy"))
}

const FIREWALL: &[&str] = &["input policy", "forward policy", "output policy", "loopback accept"];

/// Every configuration, in the order docs/telemetry.md lists them.
pub const CONFIGURATIONS: &[Configuration] = &[
    Configuration {
        name: "journald",
        files: "/etc/systemd/journald.conf and the drop-ins of journald.conf.d in /usr/lib, /run and /etc, \
                section `[Journal]`; the last value wins",
        keys: &[
            "Storage",
            "Compress",
            "Seal",
            "SplitMode",
            "SyncIntervalSec",
            "RateLimitIntervalSec",
            "RateLimitBurst",
            "SystemMaxUse",
            "SystemKeepFree",
            "SystemMaxFileSize",
            "SystemMaxFiles",
            "RuntimeMaxUse",
            "RuntimeKeepFree",
            "RuntimeMaxFileSize",
            "RuntimeMaxFiles",
            "MaxFileSec",
            "MaxRetentionSec",
            "ForwardToSyslog",
            "ForwardToKMsg",
            "ForwardToConsole",
            "ForwardToWall",
            "ForwardToSocket",
            "TTYPath",
            "MaxLevelStore",
            "MaxLevelSyslog",
            "MaxLevelKMsg",
            "MaxLevelConsole",
            "MaxLevelWall",
            "MaxLevelSocket",
            "LineMax",
            "ReadKMsg",
            "Audit",
        ],
    },
    Configuration {
        name: "coredump",
        files: "/etc/systemd/coredump.conf and its drop-ins, section `[Coredump]`; the last value wins",
        keys: &[
            "Storage",
            "Compress",
            "ProcessSizeMax",
            "ExternalSizeMax",
            "JournalSizeMax",
            "MaxUse",
            "KeepFree",
            "EnterNamespace",
        ],
    },
    Configuration {
        name: "faillock",
        files: "/etc/security/faillock.conf; a flag has the value `\"\"`",
        keys: &[
            "dir",
            "audit",
            "silent",
            "no_log_info",
            "local_users_only",
            "nodelay",
            "deny",
            "fail_interval",
            "unlock_time",
            "even_deny_root",
            "root_unlock_time",
            "admin_group",
        ],
    },
    Configuration {
        name: "ufw",
        files: "/etc/ufw/ufw.conf and /etc/default/ufw",
        keys: &["ENABLED", "DEFAULT_*"],
    },
    Configuration {
        name: "auditd",
        files: "/etc/audit/auditd.conf",
        keys: &[
            "local_events",
            "write_logs",
            "log_file",
            "log_group",
            "log_format",
            "flush",
            "freq",
            "max_log_file",
            "num_logs",
            "priority_boost",
            "disp_qos",
            "dispatcher",
            "name_format",
            "name",
            "max_log_file_action",
            "action_mail_acct",
            "space_left",
            "space_left_action",
            "verify_email",
            "admin_space_left",
            "admin_space_left_action",
            "disk_full_action",
            "disk_error_action",
            "tcp_listen_port",
            "tcp_listen_queue",
            "tcp_max_per_addr",
            "use_libwrap",
            "tcp_client_ports",
            "tcp_client_max_idle",
            "transport",
            "enable_krb5",
            "krb5_principal",
            "krb5_key_file",
            "distribute_network",
            "q_depth",
            "overflow_action",
            "max_restarts",
            "plugin_dir",
            "end_of_event_timeout",
        ],
    },
    Configuration {
        name: "audit-rules",
        files: "/etc/audit/rules.d/*.rules, every rule: `watch PATH` with the permissions of a `-w` rule, \
                `-e` with its mode, `rule` with any other line",
        keys: &["watch *", "-e", "rule"],
    },
    Configuration {
        name: "rsyslog",
        files: "rsyslog.conf and rsyslog.d/*.conf, every occurrence",
        keys: &["$FileCreateMode", "$Umask"],
    },
    Configuration {
        name: "apt",
        files:
            "apt.conf.d/* then apt.conf; the options that let unverified packages in (any `...::Allow...` \
                option but a proxy's, such as `APT::Get::AllowUnauthenticated`) and `APT::Periodic::*`, \
                spelt as the file spells them (APT ignores case)",
        keys: &["APT::Periodic::*", "APT::Get::AllowUnauthenticated", "Acquire::AllowInsecureRepositories"],
    },
    Configuration {
        name: "profile",
        files: "/etc/profile, /etc/bash.bashrc and /etc/profile.d/*.sh, every `umask` statement",
        keys: &["umask"],
    },
    Configuration {
        name: "nftables",
        files: "/etc/nftables.conf (the persisted ruleset; the loaded one is not read); a `loopback accept` \
                value is the rule",
        keys: FIREWALL,
    },
    Configuration { name: "iptables", files: "/etc/iptables/rules.v4", keys: FIREWALL },
    Configuration { name: "ip6tables", files: "/etc/iptables/rules.v6", keys: FIREWALL },
    Configuration { name: "ufw-rules", files: "/etc/ufw/before.rules and before6.rules", keys: FIREWALL },
];

/// The configuration named `name`.
pub fn configuration(name: &str) -> Option<&'static Configuration> {
    CONFIGURATIONS.iter().find(|c| c.name == name)
}

/// The section of docs/telemetry.md listing every configuration.
pub fn markdown() -> String {
    let mut out = String::from(
        "\n## Configurations\n\n`host.config` holds the settings of these configurations, and of each only \
         the keys listed (a key ending in `*` stands for every key that starts so). Keys keep their case, as \
         the programs read them: `Storage`, not `storage`. Comparing `c.config` or `c.key` with a literal \
         outside these lists is a compile error (E0314), since it would never match.\n\n\
         | Configuration | Read from | Keys |\n|---|---|---|\n",
    );
    for c in CONFIGURATIONS {
        let keys: Vec<String> = c.keys.iter().map(|k| format!("`{k}`")).collect();
        out.push_str(&format!("| `{}` | {} | {} |\n", c.name, c.files, keys.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_exact_or_prefixed() {
        let journald = configuration("journald").unwrap();
        assert!(journald.keeps("Storage"));
        assert!(!journald.keeps("storage"));
        assert!(!journald.keeps("Storag"));
        let ufw = configuration("ufw").unwrap();
        assert!(ufw.keeps("DEFAULT_INPUT_POLICY"));
        assert!(!ufw.keeps("DEFAULT_"));
        assert!(!ufw.keeps("LOGLEVEL"));
        let rules = configuration("audit-rules").unwrap();
        assert!(rules.keeps("watch /etc/shadow"));
        assert!(!rules.keeps("watch"));
    }

    #[test]
    fn apt_keeps_allow_options_in_any_case_and_never_a_proxy() {
        let apt = configuration("apt").unwrap();
        assert!(apt.keeps("APT::Get::AllowUnauthenticated"));
        assert!(apt.keeps("apt::get::allowunauthenticated"));
        assert!(apt.keeps("APT::Periodic::Unattended-Upgrade"));
        assert!(!apt.keeps("Acquire::http::Proxy"));
        assert!(!apt.keeps("Acquire::http::AllowRedirectProxy"));
        assert!(!apt.keeps("APT::Install-Recommends"));
        // Every listed example is kept.
        assert!(apt.keys.iter().all(|k| apt.keeps(&k.replace('*', "X"))));
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = CONFIGURATIONS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CONFIGURATIONS.len());
    }
}
