//! Users, groups, and the ownership and permissions of system files.
//! `/etc/shadow` is read for password aging and state only: the hash field
//! is inspected for its shape (empty, locked, set) and never kept.

use super::fs::{FsError, Meta};
use super::Ctx;
use assay_model::telemetry::{FileEntry, FileType, Group, PasswordState, User};
use std::collections::HashMap;

fn passwd_names(ctx: &Ctx, path: &str) -> HashMap<u32, String> {
    ctx.fs
        .read(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, (*f.first()?).to_owned()))
        })
        .collect()
}

pub fn users(ctx: &mut Ctx) -> Option<Vec<User>> {
    let passwd = match ctx.fs.read("/etc/passwd") {
        Ok(t) => t,
        Err(e) => {
            ctx.error("users", Some("/etc/passwd"), &e);
            return None;
        }
    };
    struct Aging {
        state: PasswordState,
        fields: [Option<i64>; 6],
    }
    let mut shadow: HashMap<String, Aging> = HashMap::new();
    match ctx.fs.read("/etc/shadow") {
        Ok(text) => {
            for line in text.lines() {
                let f: Vec<&str> = line.split(':').collect();
                let (Some(name), Some(hash)) = (f.first(), f.get(1)) else { continue };
                let state = if hash.is_empty() {
                    PasswordState::Empty
                } else if hash.starts_with('!') || hash.starts_with('*') {
                    PasswordState::Locked
                } else {
                    PasswordState::Set
                };
                let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok());
                shadow.insert(
                    (*name).to_owned(),
                    Aging { state, fields: [num(2), num(3), num(4), num(5), num(6), num(7)] },
                );
            }
        }
        Err(e) => ctx.error("users", Some("/etc/shadow"), &e),
    }
    let mut users = Vec::new();
    for (i, line) in passwd.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with('+') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            ctx.error("users", Some(&format!("/etc/passwd:{}", i + 1)), "a line without seven fields");
            continue;
        }
        let (Ok(uid), Ok(gid)) = (f[2].parse::<u32>(), f[3].parse::<u32>()) else {
            ctx.error("users", Some(&format!("/etc/passwd:{}", i + 1)), "a uid or gid that is not a number");
            continue;
        };
        let aging = shadow.get(f[0]);
        let field = |k: usize| aging.and_then(|a| a.fields[k]);
        users.push(User {
            name: f[0].to_owned(),
            uid,
            gid,
            home: f[5].to_owned(),
            shell: f[6].to_owned(),
            shadowed: f[1] == "x",
            password: match aging {
                Some(a) => a.state,
                None if f[1].is_empty() => PasswordState::Empty,
                None => PasswordState::Unknown,
            },
            last_change: field(0),
            min_days: field(1),
            max_days: field(2),
            warn_days: field(3),
            inactive_days: field(4),
            expires: field(5),
        });
    }
    Some(users)
}

pub fn groups(ctx: &mut Ctx) -> Option<Vec<Group>> {
    let text = match ctx.fs.read("/etc/group") {
        Ok(t) => t,
        Err(e) => {
            ctx.error("groups", Some("/etc/group"), &e);
            return None;
        }
    };
    Some(
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                Some(Group {
                    name: (*f.first()?).to_owned(),
                    gid: f.get(2)?.parse().ok()?,
                    members: f
                        .get(3)
                        .map(|m| m.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect())
                        .unwrap_or_default(),
                })
            })
            .collect(),
    )
}

/// System directories and key files that rules check.
pub const KEY_PATHS: &[&str] = &[
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

/// Folders walked for world-writable entries: where executables, libraries
/// and configuration live.
const WALKED: &[&str] = &["/bin", "/sbin", "/usr", "/lib", "/lib64", "/etc", "/boot", "/opt"];
/// Data-only trees skipped by the walk (documentation, headers, sources,
/// firmware, kernel modules: large and never executed from).
const SKIPPED: &[&str] = &[
    "/usr/share",
    "/usr/include",
    "/usr/src",
    "/usr/lib/modules",
    "/usr/lib/firmware",
    "/lib/modules",
    "/lib/firmware",
];
/// Bounds of the walk: entries visited in all, and depth.
const MAX_WALK: usize = 200_000;
const MAX_DEPTH: usize = 16;

pub fn files(ctx: &mut Ctx) -> Option<(Vec<FileEntry>, Vec<FileEntry>)> {
    let users = passwd_names(ctx, "/etc/passwd");
    let groups = passwd_names(ctx, "/etc/group");
    let entry = |path: &str, meta: &Meta| FileEntry {
        path: path.to_owned(),
        kind: if meta.is_symlink() {
            FileType::Symlink
        } else if meta.is_dir() {
            FileType::Directory
        } else if meta.is_file() {
            FileType::File
        } else {
            FileType::Other
        },
        uid: meta.uid(),
        gid: meta.gid(),
        owner: users.get(&meta.uid()).cloned(),
        group: groups.get(&meta.gid()).cloned(),
        mode: meta.mode() & 0o7777,
    };
    let mut paths: Vec<String> = KEY_PATHS.iter().map(|p| (*p).to_owned()).collect();
    // Host keys: their permissions matter; their contents are never read.
    paths.extend(ctx.fs.glob("/etc/ssh/ssh_host_*_key").unwrap_or_default());
    let mut files = Vec::new();
    for path in &paths {
        match ctx.fs.symlink_metadata(path) {
            Ok(meta) => files.push(entry(path, &meta)),
            Err(FsError::NotFound) => {}
            Err(e) => ctx.error("files", Some(path), &e),
        }
    }
    let mut writable = Vec::new();
    let mut visited = 0usize;
    let mut truncated = false;
    let mut stack: Vec<(String, usize)> = WALKED.iter().rev().map(|p| ((*p).to_owned(), 0)).collect();
    while let Some((dir, depth)) = stack.pop() {
        // A link to a folder is not followed (no loops, no leaving the tree).
        match ctx.fs.symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            _ => continue,
        }
        let Ok(entries) = ctx.fs.entries(&dir) else { continue };
        for (name, meta) in entries {
            visited += 1;
            if visited > MAX_WALK {
                truncated = true;
                break;
            }
            let path = if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") };
            if meta.is_symlink() {
                continue;
            }
            if meta.mode() & 0o002 != 0 {
                writable.push(entry(&path, &meta));
            }
            if meta.is_dir() && depth + 1 < MAX_DEPTH && !SKIPPED.contains(&path.as_str()) {
                stack.push((path, depth + 1));
            }
        }
        if truncated {
            break;
        }
    }
    if truncated {
        ctx.error("files", None, format!("the world-writable search stopped after {MAX_WALK} entries"));
    }
    Some((files, writable))
}
