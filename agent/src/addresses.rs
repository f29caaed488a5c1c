//! The host's IP addresses, reported with each heartbeat so that findings
//! carry them (Inspector's `ipv4Addresses`). Read from the running
//! kernel's `/proc/net`, whatever `--root` is: the agent runs on the host
//! it assesses, and a mounted root has no addresses of its own.
//!
//! IPv4: the `LOCAL` entries of `/proc/net/fib_trie` (the addresses the
//! kernel answers for); IPv6: `/proc/net/if_inet6`. Loopback and IPv6
//! link-local addresses are left out: no one reaches a host by them.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// At most this many addresses are reported (the server refuses more).
pub const MAX: usize = 64;

/// The addresses of this host, sorted; empty when `/proc/net` is not
/// readable.
pub fn of_this_host() -> Vec<String> {
    let fib = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    let inet6 = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    parse(&fib, &inet6)
}

fn parse(fib_trie: &str, if_inet6: &str) -> Vec<String> {
    let mut found: BTreeSet<IpAddr> = BTreeSet::new();
    // A leaf is a `|-- ADDRESS` line followed by its `/LEN host LOCAL`
    // line(s).
    let mut last: Option<Ipv4Addr> = None;
    for line in fib_trie.lines() {
        let line = line.trim();
        if let Some(address) = line.strip_prefix("|-- ") {
            last = address.trim().parse().ok();
        } else if line.starts_with("/32 host LOCAL") {
            if let Some(a) = last.filter(|a| !a.is_loopback() && !a.is_unspecified()) {
                found.insert(IpAddr::V4(a));
            }
        }
    }
    // `ADDRESS-HEX IFINDEX PREFIX SCOPE FLAGS NAME`
    for line in if_inet6.lines() {
        let Some(hex) = line.split_whitespace().next() else { continue };
        let Ok(bits) = u128::from_str_radix(hex, 16) else { continue };
        if hex.len() != 32 {
            continue;
        }
        let a = Ipv6Addr::from(bits);
        let link_local = (a.segments()[0] & 0xffc0) == 0xfe80;
        if !a.is_loopback() && !a.is_unspecified() && !link_local {
            found.insert(IpAddr::V6(a));
        }
    }
    found.into_iter().take(MAX).map(|a| a.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::parse;

    const FIB: &str = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.0.2.0/24 2 0 2
        |-- 10.0.2.0
           /24 link UNICAST
        |-- 10.0.2.15
           /32 host LOCAL
        |-- 10.0.2.255
           /32 link BROADCAST
  +-- 127.0.0.0/8 2 0 2
     |-- 127.0.0.1
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
        |-- 10.0.2.15
           /32 host LOCAL
        |-- 192.168.1.7
           /32 host LOCAL
";

    const INET6: &str = "\
00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000505400fffe123456 02 40 20 80     eth0
20010db8000000000000000000000042 02 40 00 00     eth0
not-an-address 03 40 00 00 junk
";

    #[test]
    fn addresses_are_read_without_loopback_link_local_or_broadcast() {
        assert_eq!(parse(FIB, INET6), ["10.0.2.15", "192.168.1.7", "2001:db8::42"]);
    }

    #[test]
    fn unreadable_or_garbled_files_give_no_address() {
        assert!(parse("", "").is_empty());
        assert!(parse("|-- not.an.ip\n/32 host LOCAL\n|--\n", "zz 01\n1234\n").is_empty());
    }
}
