//! Users, groups, and the ownership and permissions of system files.
//! `/etc/shadow` is read for password aging and state only: the hash field
//! is inspected for its shape (empty, locked, set) and never kept.

use super::fs::{FsError, Meta};
use super::Ctx;
use assay_model::telemetry::{FileEntry, FileType, Group, PasswordState, SkippedSection, User};
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
    first_names(passwd_lines(&text).filter_map(|(_, l)| l.ok()).map(|l| (l.uid, l.name.to_owned())))
}

/// gid → name from `/etc/group`.
pub(crate) fn group_names(ctx: &Ctx) -> HashMap<u32, String> {
    let text = ctx.fs.read("/etc/group").unwrap_or_default();
    first_names(group_lines(&text).map(|g| (g.gid, g.name)))
}

/// id → name where the first line with an id names it, as `getpwuid` and
/// `getgrgid` answer: `root` and `toor` share uid 0, and it is `root`'s.
fn first_names(ids: impl Iterator<Item = (u32, String)>) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    for (id, name) in ids {
        out.entry(id).or_insert(name);
    }
    out
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
            home_folder: None,
            dot_files: Vec::new(),
        });
    }
    // Interactive accounts: their home folder and the dot files CIS audits
    // (metadata only; contents are never read).
    let (names, groups) = (user_map(&users), group_names(ctx));
    let entry = |path: &str, meta: &Meta| file_entry(path, meta, &names, &groups);
    for user in users.iter_mut().filter(|u| is_interactive(u)) {
        let home = user.home.trim_end_matches('/').to_owned();
        if home.is_empty() || !home.starts_with('/') {
            continue;
        }
        match ctx.fs.symlink_metadata(&home) {
            Ok(meta) => user.home_folder = Some(entry(&home, &meta)),
            Err(FsError::NotFound) => continue,
            Err(e) => {
                ctx.error("users", Some(&home), &e);
                continue;
            }
        }
        for dot in DOT_FILES {
            let path = format!("{home}/{dot}");
            match ctx.fs.symlink_metadata(&path) {
                Ok(meta) => user.dot_files.push(entry(&path, &meta)),
                Err(FsError::NotFound) => {}
                Err(e) => ctx.error("users", Some(&path), &e),
            }
        }
    }
    Some(users)
}

/// The dot files CIS 7.2.10 audits in interactive users' homes.
const DOT_FILES: &[&str] = &[".netrc", ".rhosts", ".forward", ".bash_history"];

/// An account people log in to: uid 1000 or more (the Debian and RHEL
/// `UID_MIN`) and a shell that allows logins.
fn is_interactive(u: &User) -> bool {
    u.uid >= 1000 && u.uid != 65534 && !(u.shell.ends_with("/nologin") || u.shell.ends_with("/false"))
}

fn user_map(users: &[User]) -> HashMap<u32, String> {
    first_names(users.iter().map(|u| (u.uid, u.name.clone())))
}

fn file_entry(
    path: &str,
    meta: &Meta,
    users: &HashMap<u32, String>,
    groups: &HashMap<u32, String>,
) -> FileEntry {
    FileEntry {
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
    }
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

/// File-system types the walk does not enter: kernel interfaces and
/// pseudo file systems, and network file systems (another host's files).
const NOT_LOCAL: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "bpf",
    "debugfs",
    "tracefs",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "binfmt_misc",
    "autofs",
    "efivarfs",
    "rpc_pipefs",
    "nsfs",
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "fuse.sshfs",
    "fuse.s3fs",
    "ceph",
    "glusterfs",
    "afs",
];
/// Kernel interfaces, never walked even without a mount table (a root file
/// system's own, normally empty, folders).
const INTERFACES: &[&str] = &["/proc", "/sys", "/dev"];
/// Bounds of the walk: entries visited in all, time, and depth.
const MAX_WALK: usize = 1_000_000;
const MAX_WALK_TIME: std::time::Duration = std::time::Duration::from_secs(60);
const MAX_DEPTH: usize = 32;
/// Entries of each list kept; the rest are counted.
const MAX_LISTED: usize = 10_000;

/// What the files sensor gives.
pub struct Found {
    pub files: Vec<FileEntry>,
    pub world_writable: Vec<FileEntry>,
    pub unowned: Vec<FileEntry>,
}

pub fn files(ctx: &mut Ctx) -> Option<Found> {
    let users = user_names(ctx);
    let groups = group_names(ctx);
    let entry = |path: &str, meta: &Meta| file_entry(path, meta, &users, &groups);
    let mut paths: Vec<String> = ctx.looked_up.files.clone();
    // Host keys: their permissions matter; their contents are never read.
    paths.extend(ctx.fs.glob("/etc/ssh/ssh_host_*_key").unwrap_or_default());
    paths.extend(ctx.fs.glob("/etc/ssh/ssh_host_*_key.pub").unwrap_or_default());
    let mut files = Vec::new();
    for path in &paths {
        match ctx.fs.symlink_metadata(path) {
            Ok(meta) => files.push(entry(path, &meta)),
            Err(FsError::NotFound) => {}
            Err(e) => ctx.error("files", Some(path), &e),
        }
    }
    // Every local file system, from the root: mount points of other kinds
    // (from the live mount table) and the kernel's interfaces are pruned.
    let mut pruned: std::collections::HashSet<String> = INTERFACES.iter().map(|p| (*p).to_owned()).collect();
    if ctx.live() {
        if let Ok(table) = ctx.fs.read("/proc/self/mountinfo") {
            for line in table.lines() {
                let Some((left, right)) = line.split_once(" - ") else { continue };
                let (Some(point), Some(kind)) =
                    (left.split_whitespace().nth(4), right.split_whitespace().next())
                else {
                    continue;
                };
                if NOT_LOCAL.contains(&kind) || (kind.starts_with("fuse.") && kind != "fuse.lxcfs") {
                    pruned.insert(super::system::unescape(point));
                }
            }
        }
    }
    let started = std::time::Instant::now();
    let (mut writable, mut unowned) = (Vec::new(), Vec::new());
    let (mut writable_count, mut unowned_count) = (0usize, 0usize);
    let mut visited = 0usize;
    let mut stopped: Option<String> = None;
    let mut stack: Vec<(String, usize)> = vec![("/".to_owned(), 0)];
    'walk: while let Some((dir, depth)) = stack.pop() {
        // A link to a folder is not followed (no loops, no leaving the tree).
        match ctx.fs.symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            _ => continue,
        }
        let Ok(entries) = ctx.fs.entries(&dir) else { continue };
        for (name, meta) in entries {
            visited += 1;
            if visited > MAX_WALK {
                stopped =
                    Some(format!("the walk of the local file systems stopped after {MAX_WALK} entries"));
                break 'walk;
            }
            if visited % 4096 == 0 && started.elapsed() > MAX_WALK_TIME {
                stopped = Some(format!(
                    "the walk of the local file systems stopped after {} s ({visited} entries)",
                    MAX_WALK_TIME.as_secs()
                ));
                break 'walk;
            }
            let path = if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") };
            if meta.is_symlink() {
                continue;
            }
            if meta.mode() & 0o002 != 0 {
                writable_count += 1;
                if writable.len() < MAX_LISTED {
                    writable.push(entry(&path, &meta));
                }
            }
            if !users.contains_key(&meta.uid()) || !groups.contains_key(&meta.gid()) {
                unowned_count += 1;
                if unowned.len() < MAX_LISTED {
                    unowned.push(entry(&path, &meta));
                }
            }
            if meta.is_dir() && depth + 1 < MAX_DEPTH && !pruned.contains(&path) {
                stack.push((path, depth + 1));
            }
        }
    }
    for (count, what) in [(writable_count, "world-writable"), (unowned_count, "unowned")] {
        if count > MAX_LISTED {
            ctx.error("files", None, format!("{count} {what} entries; the first {MAX_LISTED} are listed"));
        }
    }
    if let Some(reason) = stopped {
        ctx.error("files", None, &reason);
        for section in ["world_writable", "unowned"] {
            ctx.partial.push(SkippedSection { section: section.to_owned(), reason: reason.clone() });
        }
    }
    Some(Found { files, world_writable: writable, unowned })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_shared_id_is_named_by_its_first_line() {
        let text = "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0:root:/root:/bin/sh\nada:x:1000:1000::/home/ada:/bin/bash\n";
        let names = super::first_names(
            super::passwd_lines(text).filter_map(|(_, l)| l.ok()).map(|l| (l.uid, l.name.to_owned())),
        );
        assert_eq!(names[&0], "root");
        assert_eq!(names[&1000], "ada");
    }
}
