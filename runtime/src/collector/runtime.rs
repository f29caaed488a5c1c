//! Runtime sensors, live hosts only: processes (with the executables and
//! shared objects they map, and the ELF hardening of each), listening
//! sockets and connections, sampled over a duration.

use super::accounts::user_names;
use super::fs::FsError;
use super::Ctx;
use assay_model::telemetry::{
    AddressFamily, Binary, Connection, Direction, Listener, Process, Protocol, Sighting, SocketOwner,
};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

pub struct Sampled {
    pub processes: Vec<Process>,
    pub listeners: Vec<Listener>,
    pub connections: Vec<Connection>,
    pub samples: u32,
}

/// The most processes inspected per sample.
const MAX_PROCESSES: usize = 4096;

pub fn sample(
    ctx: &mut Ctx,
    duration: Duration,
    interval: Duration,
    progress: &mut dyn FnMut(f64),
) -> Option<Sampled> {
    if !ctx.live() {
        ctx.not_live("processes");
        ctx.not_live("network");
        return None;
    }
    let start = Instant::now();
    let mut elf_cache: HashMap<String, Option<Binary>> = HashMap::new();
    let mut processes: BTreeMap<(u32, String), Process> = BTreeMap::new();
    let mut listeners: BTreeMap<(String, String, u16), Listener> = BTreeMap::new();
    let mut connections: BTreeMap<(String, String, u16, String, u16), Connection> = BTreeMap::new();
    let mut samples = 0u32;
    let users = user_names(ctx);
    loop {
        samples += 1;
        let now = super::now_rfc3339();
        let sighting = |seen: &mut Sighting| {
            seen.last_seen = now.clone();
            seen.samples += 1;
        };
        let fresh = || Sighting { first_seen: now.clone(), last_seen: now.clone(), samples: 0 };
        let procs = snapshot(ctx, &users, &mut elf_cache);
        for p in procs {
            let key =
                (p.pid, p.executable.as_ref().map(|e| e.path.clone()).unwrap_or_else(|| p.name.clone()));
            let entry = processes.entry(key).or_insert_with(|| Process { seen: fresh(), ..p });
            sighting(&mut entry.seen);
        }
        let owners = socket_owners(ctx);
        let (now_listeners, now_connections) = network(ctx, &owners);
        for l in now_listeners {
            let key = (l.protocol.as_str().to_owned(), l.address.clone(), l.port);
            let entry = listeners.entry(key).or_insert_with(|| Listener { seen: fresh(), ..l });
            sighting(&mut entry.seen);
        }
        for c in now_connections {
            let key = (
                c.protocol.as_str().to_owned(),
                c.local_address.clone(),
                c.local_port,
                c.remote_address.clone(),
                c.remote_port,
            );
            let is_new = !connections.contains_key(&key);
            let entry = connections.entry(key).or_insert_with(|| Connection { seen: fresh(), ..c });
            sighting(&mut entry.seen);
            if is_new && entry.direction == Direction::Inbound {
                for l in listeners.values_mut() {
                    if l.protocol == entry.protocol
                        && l.port == entry.local_port
                        && (l.address == entry.local_address
                            || matches!(l.address.as_str(), "0.0.0.0" | "::"))
                    {
                        l.connections_seen += 1;
                    }
                }
            }
        }
        let elapsed = start.elapsed();
        // A sampled run always ends with a sample at (or after) its end,
        // however long the first one took.
        if elapsed >= duration && (duration.is_zero() || samples >= 2) {
            break;
        }
        progress(elapsed.as_secs_f64() / duration.as_secs_f64().max(1e-9));
        std::thread::sleep(interval.min(duration.saturating_sub(elapsed)));
    }
    progress(1.0);
    Some(Sampled {
        processes: processes.into_values().collect(),
        listeners: listeners.into_values().collect(),
        connections: connections.into_values().collect(),
        samples,
    })
}

fn snapshot(
    ctx: &mut Ctx,
    users: &HashMap<u32, String>,
    elf_cache: &mut HashMap<String, Option<Binary>>,
) -> Vec<Process> {
    let pids: Vec<u32> =
        ctx.fs.read_dir("/proc").unwrap_or_default().iter().filter_map(|n| n.parse().ok()).collect();
    let mut out = Vec::new();
    if pids.len() > MAX_PROCESSES {
        let message = format!("{} processes; only the first {MAX_PROCESSES} were inspected", pids.len());
        ctx.error("processes", Some("/proc"), message);
    }
    for pid in pids.into_iter().take(MAX_PROCESSES) {
        let status_path = format!("/proc/{pid}/status");
        let status = match ctx.fs.read(&status_path) {
            Ok(s) => s,
            // The process exited while we read the others: nothing to report.
            Err(FsError::NotFound) => continue,
            Err(e) => {
                ctx.error("processes", Some(&status_path), format!("process {pid} not read: {e}"));
                continue;
            }
        };
        let field = |k: &str| status.lines().find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_owned()));
        let name = field("Name:").unwrap_or_default();
        // An unparsable uid is never taken as 0 (root).
        let (Some(ppid), Some(uid)) = (
            field("PPid:").and_then(|v| v.parse::<u32>().ok()),
            field("Uid:").and_then(|v| v.split_whitespace().next().and_then(|u| u.parse::<u32>().ok())),
        ) else {
            ctx.error("processes", Some(&status_path), format!("process {pid}: no numeric PPid and Uid"));
            continue;
        };
        let command_line: Vec<String> = ctx
            .fs
            .read_bytes(&format!("/proc/{pid}/cmdline"), 64 << 10)
            .map(|b| {
                b.split(|c| *c == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        // Kernel threads have no executable; any other failure is said.
        let exe_link = format!("/proc/{pid}/exe");
        let exe = match std::fs::read_link(&exe_link) {
            Ok(p) => Some(p.to_string_lossy().into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                ctx.error(
                    "processes",
                    Some(&exe_link),
                    format!("process {pid} ({name}): executable not read: {e}"),
                );
                None
            }
        };
        let executable = exe.and_then(|e| {
            let path = e.trim_end_matches(" (deleted)");
            if !path.starts_with('/') || path.starts_with("/memfd:") {
                // Run from memory (memfd_create) or an anonymous file: no
                // file to inspect, which is worth knowing in itself.
                ctx.error(
                    "processes",
                    Some(&exe_link),
                    format!("process {pid} ({name}) runs `{path}`, which is not a file on disk: its hardening is unknown"),
                );
                return None;
            }
            let found = binary(ctx, path, elf_cache);
            if found.is_none() {
                ctx.error("processes", Some(path), format!("process {pid} ({name}): executable not readable"));
            }
            found
        });
        let mut libraries: Vec<String> = ctx
            .fs
            .read(&format!("/proc/{pid}/maps"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .filter(|p| p.starts_with('/') && (p.contains(".so") || p.contains("/lib")))
            .map(str::to_owned)
            .collect();
        libraries.sort();
        libraries.dedup();
        let libraries = libraries.into_iter().filter_map(|l| binary(ctx, &l, elf_cache)).collect();
        out.push(Process {
            pid,
            ppid,
            user: users.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
            uid,
            name,
            executable,
            command_line: super::cmdline::keep(&command_line, ctx.command_lines),
            libraries,
            seen: Sighting::default(),
        });
    }
    out
}

/// Metadata and ELF hardening of an executable or shared object, cached.
fn binary(ctx: &Ctx, path: &str, cache: &mut HashMap<String, Option<Binary>>) -> Option<Binary> {
    if let Some(b) = cache.get(path) {
        return b.clone();
    }
    // What was opened is what is described: its metadata and its headers.
    let result = ctx.fs.open_file(path).ok().map(|(file, meta)| {
        let mut b = Binary {
            path: path.to_owned(),
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
            ..Binary::default()
        };
        if let Some(h) = super::elf::hardening(&file) {
            b.pie = Some(h.pie);
            b.nx_stack = Some(h.nx_stack);
            b.relro = Some(h.relro.to_owned());
            b.stack_protector = Some(h.stack_protector);
        }
        b
    });
    cache.insert(path.to_owned(), result.clone());
    result
}

/// Socket inode → owning process.
fn socket_owners(ctx: &Ctx) -> HashMap<u64, SocketOwner> {
    let mut out = HashMap::new();
    let users = user_names(ctx);
    for name in ctx.fs.read_dir("/proc").unwrap_or_default() {
        let Ok(pid) = name.parse::<u32>() else { continue };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        let status = ctx.fs.read(&format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |k: &str| status.lines().find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_owned()));
        let uid = field("Uid:").and_then(|v| v.split_whitespace().next().and_then(|u| u.parse::<u32>().ok()));
        let pname = field("Name:").unwrap_or_default();
        // Without a uid the owner is unknown, not root.
        let user = match uid {
            Some(uid) => users.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
            None => "unknown".to_owned(),
        };
        for fd in fds.filter_map(Result::ok) {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let t = target.to_string_lossy();
            if let Some(inode) =
                t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')).and_then(|i| i.parse().ok())
            {
                out.entry(inode).or_insert_with(|| SocketOwner {
                    pid,
                    name: pname.clone(),
                    user: user.clone(),
                });
            }
        }
    }
    out
}

fn network(ctx: &mut Ctx, owners: &HashMap<u64, SocketOwner>) -> (Vec<Listener>, Vec<Connection>) {
    let mut listeners = Vec::new();
    let mut raw_connections = Vec::new();
    for (file, protocol, family) in [
        ("/proc/net/tcp", Protocol::Tcp, AddressFamily::Ipv4),
        ("/proc/net/tcp6", Protocol::Tcp, AddressFamily::Ipv6),
        ("/proc/net/udp", Protocol::Udp, AddressFamily::Ipv4),
        ("/proc/net/udp6", Protocol::Udp, AddressFamily::Ipv6),
    ] {
        let text = match ctx.fs.read(file) {
            Ok(t) => t,
            Err(FsError::NotFound) => continue,
            Err(e) => {
                ctx.error("network", Some(file), &e);
                continue;
            }
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(state), Some(inode)) =
                (f.get(1), f.get(2), f.get(3), f.get(9))
            else {
                continue;
            };
            let (Some((la, lp)), Some((ra, rp))) = (endpoint(local), endpoint(remote)) else { continue };
            let owner = inode.parse::<u64>().ok().and_then(|i| owners.get(&i).cloned());
            let listening = match protocol {
                Protocol::Tcp => *state == "0A",
                Protocol::Udp => *state == "07" && rp == 0,
            };
            if listening {
                listeners.push(Listener {
                    protocol,
                    family,
                    address: la,
                    port: lp,
                    process: owner,
                    connections_seen: 0,
                    seen: Sighting::default(),
                });
            } else if protocol == Protocol::Tcp && *state == "01" {
                raw_connections.push((protocol, la, lp, ra, rp, owner));
            }
        }
    }
    let connections = raw_connections
        .into_iter()
        .map(|(protocol, la, lp, ra, rp, owner)| {
            let inbound = listeners.iter().any(|l| l.protocol == protocol && l.port == lp);
            Connection {
                protocol,
                direction: if inbound { Direction::Inbound } else { Direction::Outbound },
                local_address: la,
                local_port: lp,
                remote_address: ra,
                remote_port: rp,
                process: owner,
                seen: Sighting::default(),
            }
        })
        .collect();
    (listeners, connections)
}

/// `0100007F:0016` → 127.0.0.1:22; IPv6 as four little-endian words.
fn endpoint(text: &str) -> Option<(String, u16)> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let address = match addr.len() {
        8 => {
            let v = u32::from_str_radix(addr, 16).ok()?;
            std::net::Ipv4Addr::from(v.swap_bytes()).to_string()
        }
        32 => {
            let mut bytes = [0u8; 16];
            for w in 0..4 {
                let word = u32::from_str_radix(addr.get(w * 8..w * 8 + 8)?, 16).ok()?;
                bytes[w * 4..w * 4 + 4].copy_from_slice(&word.swap_bytes().to_be_bytes());
            }
            std::net::Ipv6Addr::from(bytes).to_string()
        }
        _ => return None,
    };
    Some((address, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_addresses_decode() {
        assert_eq!(endpoint("0100007F:0016"), Some(("127.0.0.1".into(), 22)));
        assert_eq!(endpoint("00000000000000000000000001000000:0050"), Some(("::1".into(), 80)));
        assert_eq!(endpoint("zz"), None);
    }
}
