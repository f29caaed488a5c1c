//! W0108: `host.sysctl(NAME)` with a name no kernel documents, such as
//! `kernel.unprivileged_bpf_disable`. The lookup would find nothing on any
//! host, and the rule would judge its default everywhere. A warning, not an error:
//! the table (compiler/data/sysctls.txt, generated from the kernel's
//! documentation and a running kernel's /proc/sys by sysctls.py there)
//! cannot know every out-of-tree module's parameters.
//!
//! Decided where the lookup is checked, since the typed program keeps the
//! looked-up name but not its span.

use crate::diagnostics::suggest::did_you_mean;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;
use std::sync::OnceLock;

/// The table's names split at dots; `*` stands for one segment of any name
/// (an interface, a device).
pub(super) fn table() -> &'static [Vec<&'static str>] {
    static TABLE: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("../../../data/sysctls.txt")
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.split('.').collect())
            .collect()
    })
}

/// `pattern` with its `*` segments taken from `name`, when both have the
/// same number of segments (else from `all`), for "did you mean".
fn instantiate(pattern: &[&str], name: &[&str]) -> String {
    let same = pattern.len() == name.len();
    let parts: Vec<&str> = pattern
        .iter()
        .enumerate()
        .map(|(i, p)| match (*p, same) {
            ("*", true) => name[i],
            ("*", false) => "all",
            (p, _) => p,
        })
        .collect();
    parts.join(".")
}

pub(in crate::check) fn check(name: &str, span: Span) -> Option<Diagnostic> {
    let parts: Vec<&str> = name.split('.').collect();
    let known = table()
        .iter()
        .any(|t| t.len() == parts.len() && t.iter().zip(&parts).all(|(t, p)| *t == "*" || t == p));
    if known {
        return None;
    }
    let candidates: Vec<String> = table().iter().map(|t| instantiate(t, &parts)).collect();
    let d = Diagnostic::new(Code::W0108, format!("no kernel documents a parameter {name:?}"))
        .primary(span, "not a known kernel parameter");
    let d = match did_you_mean(name, candidates.iter().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")).suggest(span, format!("{s:?}")),
        None => d.help(
            "check the name against the kernel's documentation (Documentation/admin-guide/sysctl/ and \
             networking/ip-sysctl.rst) or `sysctl -a` on a host; a parameter of an out-of-tree module is \
             not in the compiler's table",
        ),
    };
    Some(d.note("a parameter no host has is always absent: the rule sees only its default"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warned(name: &str) -> Option<String> {
        check(name, Span::default()).map(|d| d.help.unwrap_or_default())
    }

    #[test]
    fn documented_names_and_interfaces_pass() {
        assert_eq!(warned("kernel.unprivileged_bpf_disabled"), None);
        assert_eq!(warned("net.ipv4.conf.all.rp_filter"), None);
        assert_eq!(warned("net.ipv4.conf.eth0.rp_filter"), None);
        assert_eq!(warned("net.ipv6.conf.default.accept_ra"), None);
        assert_eq!(warned("kernel.yama.ptrace_scope"), None);
        assert_eq!(warned("fs.suid_dumpable"), None);
        assert_eq!(warned("vm.mmap_min_addr"), None);
    }

    #[test]
    fn typos_get_the_nearest_name() {
        assert_eq!(
            warned("kernel.unprivileged_bpf_disable").unwrap(),
            "did you mean `kernel.unprivileged_bpf_disabled`?"
        );
        assert_eq!(
            warned("net.ipv4.conf.eth0.rp_filtr").unwrap(),
            "did you mean `net.ipv4.conf.eth0.rp_filter`?"
        );
        assert!(warned("acme.widget.frobnicate").unwrap().contains("out-of-tree"));
    }
}
