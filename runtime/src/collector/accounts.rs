//! Users, groups, and the ownership and permissions of system files.
//! `/etc/shadow` is read for password aging and state only: the hash field
//! is inspected for its shape (empty, locked, set) and never kept.

use super::fs::{FsError, Meta};
use super::Ctx;
use assay_model::telemetry::{FileEntry, FileType, Group, PasswordState, User};
use std::collections::HashMap;

/// One account line of `/etc/passwd`.
pub(crate) struct PasswdLine<'a> {
    pub name: &'a str,
    /// The password field (`x` when the hash lives in shadow).
    pub password: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub home: &'a str,
    pub shell: &'a str,
}

/// The one `/etc/passwd` parser: each account line with its number, or why
/// it was skipped. Comments, blank lines and NIS `+` lines are left out. An
/// unparsable uid is an error, never a default (0 would be root).
pub(crate) fn passwd_lines(
    text: &str,
) -> impl Iterator<Item = (usize, Result<PasswdLine<'_>, &'static str>)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with('+') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return Some((i + 1, Err("a line without seven fields")));
        }
        let (Ok(uid), Ok(gid)) = (f[2].parse::<u32>(), f[3].parse::<u32>()) else {
            return Some((i + 1, Err("a uid or gid that is not a number")));
        };
        Some((i + 1, Ok(PasswdLine { name: f[0], password: f[1], uid, gid, home: f[5], shell: f[6] })))
    })
}

/// uid → name from `/etc/passwd`, for owners of files and processes.
pub(crate) fn user_names(ctx: &Ctx) -> HashMap<u32, String> {
    let text = ctx.fs.read("/etc/passwd").unwrap_or_default();
    passwd_lines(&text).filter_map(|(_, l)| l.ok()).map(|l| (l.uid, l.name.to_owned())).collect()
}

/// gid → name from `/etc/group`.
pub(crate) fn group_names(ctx: &Ctx) -> HashMap<u32, String> {
    let text = ctx.fs.read("/etc/group").unwrap_or_default();
    group_lines(&text).map(|g| (g.gid, g.name)).collect()
}

/// The one `/etc/group` parser; lines without a numeric gid are left out.
fn group_lines(text: &str) -> impl Iterator<Item = Group> + '_ {
    text.lines().filter_map(|l| {
        if l.starts_with('#') || l.starts_with('+') {
            return None;
        }
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
    for (line_no, line) in passwd_lines(&passwd) {
        let line = match line {
            Ok(l) => l,
            Err(why) => {
                ctx.error("users", Some(&format!("/etc/passwd:{line_no}")), why);
                continue;
            }
        };
        let aging = shadow.get(line.name);
        let field = |k: usize| aging.and_then(|a| a.fields[k]);
        users.push(User {
            name: line.name.to_owned(),
            uid: line.uid,
            gid: line.gid,
            home: line.home.to_owned(),
            shell: line.shell.to_owned(),
            shadowed: line.password == "x",
            password: match aging {
                Some(a) => a.state,
                None if line.password.is_empty() => PasswordState::Empty,
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
    Some(group_lines(&text).collect())
}

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
    let users = user_names(ctx);
    let groups = group_names(ctx);
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
    let mut paths: Vec<String> = ctx.looked_up.files.clone();
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
