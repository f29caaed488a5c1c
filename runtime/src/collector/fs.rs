//! Reading files under a root: the live host (`/`) or a root file system
//! mounted anywhere, which may be hostile (a container image someone else
//! wrote). Every file is opened confined to the root and then read through
//! the descriptor that was opened, never by path again:
//!
//! - with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` where the kernel
//!   has it: symbolic links (absolute ones included) and `..` resolve inside
//!   the root, as a chroot would, and the kernel does it atomically;
//! - otherwise by walking the path one component at a time from a descriptor
//!   of the root, each step `openat(O_NOFOLLOW)` relative to the last
//!   directory opened, links read and followed by hand inside the root.
//!
//! A file is first opened `O_PATH` (no side effects, whatever it is), checked
//! to be a regular file, and only then reopened for reading through
//! `/proc/self/fd`, so a FIFO, a device or a socket is never opened. Reads
//! are bounded, directory listings are bounded while they stream.
//!
//! Paths are text for the rest of the collector, but file names are bytes:
//! a name that is not UTF-8 is written with `\xHH` escapes (and a backslash
//! as `\\`), which this module turns back into the exact bytes when it
//! opens the path. So `00-\xff.conf` is read, and rendered escaped.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, CWD};
use rustix::io::Errno;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The most bytes read from one file.
pub const MAX_FILE: u64 = 4 << 20;
/// The most entries listed from one directory.
pub const MAX_DIR_ENTRIES: usize = 100_000;
/// The most symbolic links followed while resolving one path.
const MAX_HOPS: u32 = 40;

/// Why a path could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FsError {
    NotFound,
    PermissionDenied,
    /// A directory where a file was expected.
    Directory,
    /// A FIFO, socket, device or (for a directory listing) a plain file.
    NotRegular,
    /// Binary content where text was expected.
    Binary,
    /// Larger than the bound of this read.
    TooLarge {
        size: Option<u64>,
        limit: u64,
    },
    /// More entries than a directory listing reads.
    TooManyEntries {
        limit: usize,
    },
    /// Too many symbolic links (a loop).
    Loop,
    Io(String),
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::NotFound => f.write_str("not found"),
            FsError::PermissionDenied => f.write_str("permission denied"),
            FsError::Directory => f.write_str("a directory, not a file"),
            FsError::NotRegular => f.write_str("not a regular file"),
            FsError::Binary => f.write_str("binary content where text was expected"),
            FsError::TooLarge { size: Some(size), limit } => {
                write!(f, "{size} bytes is more than the {limit} read from one file")
            }
            FsError::TooLarge { size: None, limit } => {
                write!(f, "more than the {limit} bytes read from one file")
            }
            FsError::TooManyEntries { limit } => write!(f, "more than {limit} entries in one directory"),
            FsError::Loop => f.write_str("too many levels of symbolic links (a loop?)"),
            FsError::Io(e) => f.write_str(e),
        }
    }
}

impl From<Errno> for FsError {
    fn from(e: Errno) -> Self {
        match e {
            Errno::NOENT | Errno::NOTDIR => FsError::NotFound,
            Errno::ACCESS | Errno::PERM => FsError::PermissionDenied,
            Errno::LOOP => FsError::Loop,
            // RESOLVE_IN_ROOT refuses a path that would leave the root
            // through a race it detected.
            Errno::XDEV | Errno::AGAIN => {
                FsError::Io("the path changed while it was opened; not read".into())
            }
            other => FsError::Io(std::io::Error::from(other).to_string()),
        }
    }
}

impl From<std::io::Error> for FsError {
    fn from(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(code) => Errno::from_raw_os_error(code).into(),
            None => FsError::Io(e.to_string()),
        }
    }
}

/// The metadata of an entry, from the descriptor opened (or `fstatat`
/// without following a link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    kind: FileType,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    dev: u64,
    ino: u64,
}

impl Meta {
    fn of(st: &rustix::fs::Stat) -> Meta {
        Meta {
            kind: FileType::from_raw_mode(st.st_mode),
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            size: u64::try_from(st.st_size).unwrap_or(0),
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }

    pub fn is_file(&self) -> bool {
        self.kind == FileType::RegularFile
    }

    pub fn is_dir(&self) -> bool {
        self.kind == FileType::Directory
    }

    pub fn is_symlink(&self) -> bool {
        self.kind == FileType::Symlink
    }

    /// The full mode, type bits included (`mode() & 0o7777` for permissions).
    pub fn mode(&self) -> u32 {
        self.mode
    }

    pub fn uid(&self) -> u32 {
        self.uid
    }

    pub fn gid(&self) -> u32 {
        self.gid
    }

    pub fn len(&self) -> u64 {
        self.size
    }

    /// Device and inode: the same file reached by two paths has one identity.
    pub fn identity(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolver {
    /// The live host: the kernel resolves paths from `/`.
    Live,
    /// `openat2` with `RESOLVE_IN_ROOT`.
    InRoot,
    /// Component by component with `O_NOFOLLOW`.
    Walk,
}

pub struct RootFs {
    /// A descriptor of the root, or why it could not be opened.
    root_fd: Result<OwnedFd, FsError>,
    resolver: Resolver,
}

impl RootFs {
    pub fn new(root: &Path) -> Self {
        let root_fd =
            rustix::fs::open(root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(FsError::from);
        let resolver = if root == Path::new("/") {
            Resolver::Live
        } else {
            match &root_fd {
                Ok(fd) => match rustix::fs::openat2(
                    fd,
                    ".",
                    OFlags::PATH | OFlags::CLOEXEC,
                    Mode::empty(),
                    in_root(),
                ) {
                    Ok(_) => Resolver::InRoot,
                    // ENOSYS before Linux 5.6, EPERM under some seccomp filters.
                    Err(_) => Resolver::Walk,
                },
                Err(_) => Resolver::Walk,
            }
        };
        RootFs { root_fd, resolver }
    }

    /// The same root, always resolved component by component (tests the
    /// fallback on kernels that have `openat2`).
    #[cfg(test)]
    pub fn walking(root: &Path) -> Self {
        let mut fs = RootFs::new(root);
        if fs.resolver == Resolver::InRoot {
            fs.resolver = Resolver::Walk;
        }
        fs
    }

    pub fn is_live(&self) -> bool {
        self.resolver == Resolver::Live
    }

    #[cfg(test)]
    pub fn resolver(&self) -> Resolver {
        self.resolver
    }

    /// Opens `path` (absolute, as on the target) confined to the root.
    /// `follow`: whether a symbolic link as the last component is followed.
    fn open(&self, path: &str, flags: OFlags, follow: bool) -> Result<OwnedFd, FsError> {
        let bytes = unescape(path);
        let flags = flags | OFlags::CLOEXEC | if follow { OFlags::empty() } else { OFlags::NOFOLLOW };
        match self.resolver {
            Resolver::Live => {
                let mut abs = vec![b'/'];
                abs.extend_from_slice(trim_slashes(&bytes));
                Ok(rustix::fs::openat(CWD, bytes_path(&abs), flags, Mode::empty())?)
            }
            Resolver::InRoot => {
                let root = self.root_fd.as_ref().map_err(Clone::clone)?;
                let rel = trim_slashes(&bytes);
                let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
                // openat2 rejects any flag O_PATH ignores.
                let flags = if flags.contains(OFlags::PATH) { flags } else { flags | OFlags::NOCTTY };
                Ok(rustix::fs::openat2(root, bytes_path(rel), flags, Mode::empty(), in_root())?)
            }
            Resolver::Walk => self.walk(&bytes, flags, follow),
        }
    }

    /// Resolves `path` one component at a time below the root descriptor.
    /// Every step opens a name relative to a directory already opened, with
    /// `O_NOFOLLOW`: a component swapped for a link between two steps makes
    /// the step fail, it never leaves the root.
    fn walk(&self, path: &[u8], flags: OFlags, follow: bool) -> Result<OwnedFd, FsError> {
        let root = self.root_fd.as_ref().map_err(Clone::clone)?;
        let mut pending: Vec<Vec<u8>> = components(path);
        pending.reverse();
        let mut dirs: Vec<OwnedFd> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            if part == b".." {
                dirs.pop();
                continue;
            }
            let last = pending.is_empty();
            let dir = dirs.last().map(|d| d.as_fd()).unwrap_or(root.as_fd());
            let step = rustix::fs::openat(
                dir,
                bytes_path(&part),
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let st = rustix::fs::fstat(&step)?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Symlink && (!last || follow) {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(FsError::Loop);
                }
                let target = rustix::fs::readlinkat(dir, bytes_path(&part), Vec::new())?;
                let target = target.into_bytes();
                if target.starts_with(b"/") {
                    dirs.clear();
                }
                let mut parts = components(&target);
                parts.reverse();
                pending.extend(parts);
                if pending.is_empty() {
                    // A link to `/` (or to `.` of the root).
                    return self.reopen_dir(dirs.last().map(|d| d.as_fd()).unwrap_or(root.as_fd()), flags);
                }
                continue;
            }
            if last {
                if flags.contains(OFlags::PATH) {
                    return Ok(step);
                }
                return Ok(rustix::fs::openat(
                    dir,
                    bytes_path(&part),
                    flags | OFlags::NOFOLLOW,
                    Mode::empty(),
                )?);
            }
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                return Err(FsError::NotFound);
            }
            dirs.push(step);
        }
        self.reopen_dir(dirs.last().map(|d| d.as_fd()).unwrap_or(root.as_fd()), flags)
    }

    fn reopen_dir(&self, dir: rustix::fd::BorrowedFd<'_>, flags: OFlags) -> Result<OwnedFd, FsError> {
        Ok(rustix::fs::openat(dir, ".", flags, Mode::empty())?)
    }

    /// Metadata of `path` after resolving links.
    pub fn metadata(&self, path: &str) -> Result<Meta, FsError> {
        let fd = self.open(path, OFlags::PATH, true)?;
        Ok(Meta::of(&rustix::fs::fstat(&fd)?))
    }

    /// Metadata of `path` itself (a link is not followed at the end).
    pub fn symlink_metadata(&self, path: &str) -> Result<Meta, FsError> {
        let fd = self.open(path, OFlags::PATH, false)?;
        Ok(Meta::of(&rustix::fs::fstat(&fd)?))
    }

    pub fn exists(&self, path: &str) -> bool {
        self.metadata(path).is_ok()
    }

    /// Opens a regular file for reading, with its metadata. Whatever `path`
    /// is, it is opened `O_PATH` first; only a regular file (or, on the live
    /// host, a `/proc` or `/sys` file) is then reopened for reading.
    pub fn open_file(&self, path: &str) -> Result<(File, Meta), FsError> {
        let probe = self.open(path, OFlags::PATH, true)?;
        let meta = Meta::of(&rustix::fs::fstat(&probe)?);
        let kernel_file = self.is_live() && (path.starts_with("/proc/") || path.starts_with("/sys/"));
        if meta.is_dir() {
            return Err(FsError::Directory);
        }
        if !(meta.is_file() || kernel_file) {
            return Err(FsError::NotRegular);
        }
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let proc_path = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&probe));
        let fd = match rustix::fs::open(proc_path.as_str(), flags, Mode::empty()) {
            Ok(fd) => fd,
            // No /proc (a minimal sandbox): open again confined; the type is
            // checked again on what was opened.
            Err(Errno::NOENT) => self.open(path, flags, true)?,
            Err(e) => return Err(e.into()),
        };
        let opened = Meta::of(&rustix::fs::fstat(&fd)?);
        if opened.identity() != meta.identity() || !(opened.is_file() || kernel_file) {
            return Err(FsError::Io("the file changed while it was opened; not read".into()));
        }
        Ok((File::from(fd), opened))
    }

    /// Reads a regular file, at most [`MAX_FILE`] bytes. Text that is not
    /// UTF-8 is decoded lossily; a file with NUL bytes is binary, an error.
    pub fn read(&self, path: &str) -> Result<String, FsError> {
        let bytes = self.read_bytes(path, MAX_FILE)?;
        if bytes.contains(&0) {
            return Err(FsError::Binary);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn read_bytes(&self, path: &str, limit: u64) -> Result<Vec<u8>, FsError> {
        let (file, meta) = self.open_file(path)?;
        if meta.len() > limit {
            return Err(FsError::TooLarge { size: Some(meta.len()), limit });
        }
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(FsError::TooLarge { size: None, limit });
        }
        Ok(bytes)
    }

    fn open_dir(&self, path: &str) -> Result<OwnedFd, FsError> {
        match self.open(path, OFlags::RDONLY | OFlags::DIRECTORY, true) {
            Err(FsError::NotFound) if self.metadata(path).is_ok() => Err(FsError::NotRegular),
            other => other,
        }
    }

    /// Calls `each` with every name in a directory (escaped, `.` and `..`
    /// left out), stopping with an error past [`MAX_DIR_ENTRIES`].
    fn list(&self, dir: &OwnedFd, mut each: impl FnMut(&[u8], String)) -> Result<(), FsError> {
        let mut count = 0;
        for entry in rustix::fs::Dir::read_from(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            count += 1;
            if count > MAX_DIR_ENTRIES {
                return Err(FsError::TooManyEntries { limit: MAX_DIR_ENTRIES });
            }
            each(name, escape(name));
        }
        Ok(())
    }

    /// Names in a directory, sorted; hidden entries included.
    pub fn read_dir(&self, path: &str) -> Result<Vec<String>, FsError> {
        let dir = self.open_dir(path)?;
        let mut names = Vec::new();
        self.list(&dir, |_, name| names.push(name))?;
        names.sort();
        Ok(names)
    }

    /// Entries of a directory with their own metadata (links not followed), sorted.
    pub fn entries(&self, path: &str) -> Result<Vec<(String, Meta)>, FsError> {
        let dir = self.open_dir(path)?;
        let mut out = Vec::new();
        self.list(&dir, |raw, name| {
            if let Ok(st) = rustix::fs::statat(&dir, bytes_path(raw), AtFlags::SYMLINK_NOFOLLOW) {
                out.push((name, Meta::of(&st)));
            }
        })?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Expands a glob whose wildcards (`*`, `?`, `[...]`) are in the last
    /// component, as sshd's `Include` and most `*.d` folders need. Sorted.
    pub fn glob(&self, pattern: &str) -> Result<Vec<String>, FsError> {
        let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
        let dir = if dir.is_empty() { "/" } else { dir };
        if !name.contains(['*', '?', '[']) {
            return Ok(if self.exists(pattern) { vec![pattern.to_owned()] } else { vec![] });
        }
        let Some(matcher) = Wildcard::new(name) else { return Ok(vec![]) };
        let names = match self.read_dir(dir) {
            Ok(n) => n,
            Err(FsError::NotFound) => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        Ok(names
            .into_iter()
            .filter(|n| matcher.matches(n))
            .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
            .collect())
    }
}

fn in_root() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

fn bytes_path(bytes: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

fn trim_slashes(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != b'/').unwrap_or(bytes.len());
    &bytes[start..]
}

/// The components of a path, `.` and empty ones left out.
fn components(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|b| *b == b'/').filter(|c| !c.is_empty() && *c != b".").map(<[u8]>::to_vec).collect()
}

/// A file name as text: UTF-8 as it is, other bytes as `\xHH`, and a
/// backslash as `\\`, so the text turns back into the same bytes.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes a path written by [`escape`] stands for. A backslash that
/// starts no escape stands for itself.
pub fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b'\\') {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'x') {
                let hex = bytes.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok());
                if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Shell-style matching of one file name (`*`, `?`, `[...]`), linear in the
/// name's length whatever the pattern (globset compiles it to a regex).
/// Hidden files match only patterns that start with a dot, as in a shell.
pub struct Wildcard {
    matcher: globset::GlobMatcher,
    dot: bool,
}

impl Wildcard {
    /// `None` for a pattern that does not compile, or one over 256 bytes.
    pub fn new(pattern: &str) -> Option<Wildcard> {
        if pattern.len() > 256 {
            return None;
        }
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .ok()?;
        Some(Wildcard { matcher: glob.compile_matcher(), dot: pattern.starts_with('.') })
    }

    pub fn matches(&self, name: &str) -> bool {
        (self.dot || !name.starts_with('.')) && self.matcher.is_match(name)
    }
}

/// Whether `name` matches `pattern` (see [`Wildcard`]).
pub fn wildcard(pattern: &str, name: &str) -> bool {
    Wildcard::new(pattern).is_some_and(|w| w.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_every_name() {
        for name in [&b"plain.conf"[..], b"00-\xff.conf", b"back\\slash", b"\\x41", b"caf\xc3\xa9", b"\xc3"] {
            assert_eq!(unescape(&escape(name)), name, "{}", escape(name));
        }
        assert_eq!(escape(b"00-\xff.conf"), "00-\\xff.conf");
        assert_eq!(unescape("C:\\temp"), b"C:\\temp");
    }

    /// A writer swaps a file under the root for a link to a file outside it
    /// as fast as it can while the reader reads: nothing outside may appear.
    fn race(fs: &RootFs, root: &Path, outside: &Path) {
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
        use std::sync::Arc;
        use std::time::{Duration, Instant};
        let etc = root.join("etc");
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU32::new(0));
        let racer = {
            let (etc, outside, stop, swaps) =
                (etc.clone(), outside.to_path_buf(), stop.clone(), swaps.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && swaps.load(Ordering::Relaxed) < 5_000_000 {
                    let _ = std::os::unix::fs::symlink(&outside, etc.join(".link"));
                    let _ = std::fs::rename(etc.join(".link"), etc.join("target"));
                    let _ = std::fs::write(etc.join(".file"), "inside");
                    let _ = std::fs::rename(etc.join(".file"), etc.join("target"));
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        // Start reading once the writer runs (a loaded machine may delay it),
        // and read until both sides have raced, within a bound.
        let start = Instant::now();
        while swaps.load(Ordering::Relaxed) < 10 && start.elapsed() < Duration::from_secs(10) {
            std::thread::yield_now();
        }
        let before = swaps.load(Ordering::Relaxed);
        let (mut read, mut tries) = (0u32, 0u32);
        while (tries < 3000 || read == 0) && start.elapsed() < Duration::from_secs(20) {
            tries += 1;
            if let Ok(text) = fs.read("/etc/target") {
                assert_eq!(text, "inside", "read a file outside the root");
                read += 1;
            }
            assert!(fs.read_bytes("/etc/target", 64).map_or(true, |b| b == b"inside"));
        }
        let during = swaps.load(Ordering::Relaxed) - before;
        stop.store(true, Ordering::Relaxed);
        racer.join().unwrap();
        assert!(read > 0 && during > 0, "the race did not run: {read} reads in {tries}, {during} swaps");
    }

    #[test]
    fn a_racing_writer_cannot_make_a_read_leave_the_root() {
        let base = tempfile::tempdir().unwrap();
        let outside = base.path().join("secret");
        std::fs::write(&outside, "SECRET-OUTSIDE-THE-ROOT").unwrap();
        let root = base.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/target"), "inside").unwrap();
        let fs = RootFs::new(&root);
        race(&fs, &root, &outside);
        let walking = RootFs::walking(&root);
        assert_eq!(walking.resolver(), Resolver::Walk);
        race(&walking, &root, &outside);
    }

    #[test]
    fn links_and_dot_dot_stay_inside_the_root_in_both_resolvers() {
        let base = tempfile::tempdir().unwrap();
        std::fs::write(base.path().join("secret"), "outside").unwrap();
        let root = base.path().join("root");
        std::fs::create_dir_all(root.join("etc/sub")).unwrap();
        std::fs::write(root.join("secret"), "inside").unwrap();
        std::os::unix::fs::symlink("../../../secret", root.join("etc/sub/up")).unwrap();
        std::os::unix::fs::symlink(base.path().join("secret"), root.join("etc/abs")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("etc/loop")).unwrap();
        std::os::unix::fs::symlink("/", root.join("etc/top")).unwrap();
        for fs in [RootFs::new(&root), RootFs::walking(&root)] {
            assert_eq!(fs.read("/etc/sub/up").unwrap(), "inside", "{:?}", fs.resolver());
            assert_eq!(fs.read("/../../secret").unwrap(), "inside");
            // The absolute target is re-rooted: `<root>/<base>/secret` does not exist.
            assert_eq!(fs.read("/etc/abs"), Err(FsError::NotFound));
            assert_eq!(fs.read("/etc/loop"), Err(FsError::Loop));
            assert_eq!(fs.read("/etc/top/secret").unwrap(), "inside");
            assert!(fs.symlink_metadata("/etc/abs").unwrap().is_symlink());
            assert_eq!(fs.read("/etc"), Err(FsError::Directory));
            assert_eq!(fs.read_dir("/etc/sub").unwrap(), vec!["up".to_owned()]);
        }
    }

    #[test]
    fn fifos_and_devices_are_never_opened() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path();
        std::fs::create_dir_all(root.join("dev")).unwrap();
        let fifo = root.join("dev/fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        std::os::unix::fs::symlink("/dev/null", root.join("dev/null-link")).unwrap();
        let fs = RootFs::new(root);
        // Opening a FIFO for reading would block until a writer came.
        assert_eq!(fs.read("/dev/fifo"), Err(FsError::NotRegular));
        assert_eq!(fs.read("/dev/null-link"), Err(FsError::NotFound));
    }

    #[test]
    fn wildcards_match_like_a_shell_in_linear_time() {
        assert!(wildcard("*.conf", "50-cloud.conf"));
        assert!(!wildcard("*.conf", ".hidden.conf"));
        assert!(wildcard(".*", ".hidden"));
        assert!(wildcard("ssh_host_*_key", "ssh_host_ed25519_key"));
        assert!(wildcard("file[0-9]", "file7"));
        assert!(!wildcard("*.conf", "a/b.conf"));
        // Exponential for a backtracking matcher; instant here.
        let name = "a".repeat(200);
        assert!(!wildcard("*a*a*a*a*a*a*a*a*a*a*a*a*b", &name));
    }
}
