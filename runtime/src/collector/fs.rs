//! Reading files under a root: the live host (`/`) or a mounted root file
//! system. Paths are resolved inside the root, symbolic links included (an
//! absolute link target is taken relative to the root, as a chroot would),
//! reads are bounded, and only regular files are read, so a FIFO, a device,
//! a symlink loop or a huge file is an error, never a hang.

use std::fs::{self, File, Metadata};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The most bytes read from one file.
pub const MAX_FILE: u64 = 4 << 20;
/// The most symbolic links followed while resolving one path.
const MAX_HOPS: u32 = 40;

pub struct RootFs {
    root: PathBuf,
}

impl RootFs {
    pub fn new(root: &Path) -> Self {
        RootFs { root: root.to_path_buf() }
    }

    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Where `path` (absolute, as on the target) is on this machine, with
    /// every symbolic link resolved inside the root.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, String> {
        if self.is_live() {
            // The kernel resolves links the same way for the live root.
            return Ok(PathBuf::from(if path.starts_with('/') {
                path.to_owned()
            } else {
                format!("/{path}")
            }));
        }
        let mut pending: Vec<String> = components(path);
        pending.reverse();
        let mut current: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                current.pop();
                continue;
            }
            current.push(part);
            let host_path = self.host_path(&current);
            match fs::symlink_metadata(&host_path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err("too many levels of symbolic links (a loop?)".into());
                    }
                    let target = fs::read_link(&host_path).map_err(|e| e.to_string())?;
                    let target = target.to_string_lossy().into_owned();
                    current.pop();
                    if target.starts_with('/') {
                        current.clear();
                    }
                    let mut parts = components(&target);
                    parts.reverse();
                    pending.extend(parts);
                }
                Ok(_) => {}
                // Not there (yet): the caller's open reports it.
                Err(_) => {}
            }
        }
        Ok(self.host_path(&current))
    }

    fn host_path(&self, parts: &[String]) -> PathBuf {
        let mut p = self.root.clone();
        for part in parts {
            p.push(part);
        }
        p
    }

    /// Metadata of `path` after resolving links.
    pub fn metadata(&self, path: &str) -> Result<Metadata, String> {
        let p = self.resolve(path)?;
        fs::metadata(&p).map_err(|e| describe(&e))
    }

    /// Metadata of `path` itself (a link is not followed at the end).
    pub fn symlink_metadata(&self, path: &str) -> Result<Metadata, String> {
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (if d.is_empty() { "/" } else { d }, n),
            None => ("/", path),
        };
        let p = self.resolve(dir)?.join(name);
        fs::symlink_metadata(&p).map_err(|e| describe(&e))
    }

    pub fn exists(&self, path: &str) -> bool {
        self.metadata(path).is_ok()
    }

    /// Reads a regular file, at most [`MAX_FILE`] bytes. Text that is not
    /// UTF-8 is decoded lossily; a file with NUL bytes is binary, an error.
    pub fn read(&self, path: &str) -> Result<String, String> {
        let bytes = self.read_bytes(path, MAX_FILE)?;
        if bytes.contains(&0) {
            return Err("binary content where text was expected".into());
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn read_bytes(&self, path: &str, limit: u64) -> Result<Vec<u8>, String> {
        let p = self.resolve(path)?;
        let meta = fs::metadata(&p).map_err(|e| describe(&e))?;
        let proc_file = self.is_live() && path.starts_with("/proc/");
        if !(meta.is_file() || proc_file) {
            return Err(if meta.is_dir() {
                "a directory, not a file".into()
            } else {
                "not a regular file".into()
            });
        }
        if meta.len() > limit {
            return Err(format!("{} bytes is more than the {limit} read from one file", meta.len()));
        }
        let file = File::open(&p).map_err(|e| describe(&e))?;
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| describe(&e))?;
        if bytes.len() as u64 > limit {
            return Err(format!("more than the {limit} bytes read from one file"));
        }
        Ok(bytes)
    }

    /// Names in a directory, sorted; hidden entries included.
    pub fn read_dir(&self, path: &str) -> Result<Vec<String>, String> {
        let p = self.resolve(path)?;
        let mut names: Vec<String> = fs::read_dir(&p)
            .map_err(|e| describe(&e))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Entries of a directory with their own metadata (links not followed), sorted.
    pub fn entries(&self, path: &str) -> Result<Vec<(String, Metadata)>, String> {
        let p = self.resolve(path)?;
        let mut out: Vec<(String, Metadata)> = fs::read_dir(&p)
            .map_err(|e| describe(&e))?
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.file_name().to_string_lossy().into_owned(), e.metadata().ok()?)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Expands a glob whose wildcards (`*`, `?`) are in the last component,
    /// as sshd's `Include` and most `*.d` folders need. Sorted.
    pub fn glob(&self, pattern: &str) -> Result<Vec<String>, String> {
        let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
        let dir = if dir.is_empty() { "/" } else { dir };
        if !name.contains(['*', '?', '[']) {
            return Ok(if self.exists(pattern) { vec![pattern.to_owned()] } else { vec![] });
        }
        let names = match self.read_dir(dir) {
            Ok(n) => n,
            Err(_) => return Ok(vec![]),
        };
        Ok(names
            .into_iter()
            .filter(|n| wildcard(name, n))
            .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
            .collect())
    }
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not found".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Shell-style matching of `*` and `?` (and `[...]` as a literal set).
pub fn wildcard(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some('['), Some(c)) => match p.iter().position(|x| *x == ']') {
                Some(end) if p[1..end].contains(c) => go(&p[end + 1..], &n[1..]),
                _ => false,
            },
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Hidden files match only patterns that start with a dot.
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    p.len() <= 256 && go(&p, &n)
}
