//! Installed packages: dpkg (`/var/lib/dpkg/status`), apk
//! (`/lib/apk/db/installed`), rpm (the SQLite `rpmdb.sqlite` of current
//! Fedora and RHEL) and Python distributions (`*.dist-info/METADATA`).

use super::fs::FsError;
use super::Ctx;
use assay_model::telemetry::{Ecosystem, Package, Version};

pub fn collect(ctx: &mut Ctx) -> Option<Vec<Package>> {
    let mut out = Vec::new();
    let mut any = false;
    any |= dpkg(ctx, &mut out);
    any |= apk(ctx, &mut out);
    any |= rpm(ctx, &mut out);
    any |= python(ctx, &mut out);
    any.then_some(out)
}

fn read_db(ctx: &mut Ctx, path: &str) -> Option<String> {
    match ctx.fs.read(path) {
        Ok(t) => Some(t),
        Err(FsError::NotFound) => None,
        Err(e) => {
            ctx.error("packages", Some(path), &e);
            None
        }
    }
}

/// `Package:`/`Version:` stanzas; only `install ok installed` counts.
fn dpkg(ctx: &mut Ctx, out: &mut Vec<Package>) -> bool {
    const PATH: &str = "/var/lib/dpkg/status";
    let Some(text) = read_db(ctx, PATH) else { return false };
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_owned())
            })
        };
        let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
            if !stanza.trim().is_empty() {
                let first =
                    stanza.trim().lines().next().unwrap_or_default().chars().take(60).collect::<String>();
                ctx.error(
                    "packages",
                    Some(PATH),
                    format!("a stanza without Package and Version fields: `{first}`"),
                );
            }
            continue;
        };
        if field("Status").is_some_and(|s| !s.ends_with(" installed")) {
            continue;
        }
        // `Source: name (version)` when the source version differs.
        let (source_name, source_version) = match field("Source") {
            Some(s) => match s.split_once(' ') {
                Some((n, v)) => {
                    (n.to_owned(), v.trim().trim_start_matches('(').trim_end_matches(')').to_owned())
                }
                None => (s, version.clone()),
            },
            None => (name.clone(), version.clone()),
        };
        out.push(Package {
            name,
            version: Version(version),
            source_name: Some(source_name),
            source_version: Some(Version(source_version)),
            architecture: field("Architecture"),
            ecosystem: Ecosystem::Debian,
            origin: PATH.to_owned(),
        });
    }
    true
}

fn apk(ctx: &mut Ctx, out: &mut Vec<Package>) -> bool {
    const PATH: &str = "/lib/apk/db/installed";
    let Some(text) = read_db(ctx, PATH) else { return false };
    for stanza in text.split("\n\n") {
        let field = |k: &str| stanza.lines().find_map(|l| l.strip_prefix(k).map(str::to_owned));
        let (Some(name), Some(version)) = (field("P:"), field("V:")) else { continue };
        out.push(Package {
            source_name: field("o:").or_else(|| Some(name.clone())),
            source_version: Some(Version(version.clone())),
            name,
            version: Version(version),
            architecture: field("A:"),
            ecosystem: Ecosystem::Alpine,
            origin: PATH.to_owned(),
        });
    }
    true
}

fn rpm(ctx: &mut Ctx, out: &mut Vec<Package>) -> bool {
    for path in ["/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite"] {
        let Ok(meta) = ctx.fs.metadata(path) else { continue };
        if !meta.is_file() {
            ctx.error("packages", Some(path), "not a regular file");
            continue;
        }
        // SQLite opens the database by name, so it is handed the file this
        // collector opened confined to the root, by descriptor: no path under
        // the root is ever interpreted by SQLite.
        let file = match ctx.fs.open_file(path) {
            Ok((file, _)) => file,
            Err(e) => {
                ctx.error("packages", Some(path), e);
                continue;
            }
        };
        match rpm_sqlite(&file) {
            Ok(packages) => {
                for (i, header) in packages.into_iter().enumerate() {
                    match header {
                        Ok(mut p) => {
                            p.origin = path.to_owned();
                            out.push(p);
                        }
                        Err(e) => ctx.error("packages", Some(path), format!("package record {}: {e}", i + 1)),
                    }
                }
            }
            Err(e) => ctx.error("packages", Some(path), &e),
        }
        return true;
    }
    false
}

fn rpm_sqlite(file: &std::fs::File) -> Result<Vec<Result<Package, String>>, String> {
    use rusqlite::{Connection, OpenFlags};
    use std::os::fd::AsRawFd;
    // Read-only and immutable: no locks, no journal, nothing written. The
    // name is this process's descriptor of the opened file: digits only, so
    // nothing in it can be read as URI syntax.
    let uri = format!("file:/proc/self/fd/{}?immutable=1", file.as_raw_fd());
    let conn =
        Connection::open_with_flags(uri, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)
            .map_err(|e| format!("cannot open the rpm database: {e}"))?;
    let mut stmt =
        conn.prepare("SELECT blob FROM Packages").map_err(|e| format!("not an rpm database: {e}"))?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).map_err(|e| e.to_string())?;
    Ok(rows.map(|r| r.map_err(|e| e.to_string()).and_then(|blob| rpm_header(&blob))).collect())
}

/// Parses an rpm header blob as rpmdb.sqlite stores it: entry count and
/// data length (big-endian), 16-byte index entries, then the data store.
pub fn rpm_header(blob: &[u8]) -> Result<Package, String> {
    let be32 = |at: usize| -> Option<u32> {
        blob.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let count = be32(0).ok_or("truncated header")? as usize;
    let data_len = be32(4).ok_or("truncated header")? as usize;
    if count > 100_000 || data_len > blob.len() {
        return Err("implausible header sizes".into());
    }
    let data_start = 8 + count * 16;
    let data = blob.get(data_start..data_start + data_len).ok_or("truncated header data")?;
    let mut name = None;
    let mut version = None;
    let mut release = None;
    let mut epoch = None;
    let mut arch = None;
    let mut source = None;
    for i in 0..count {
        let at = 8 + i * 16;
        let (Some(tag), Some(kind), Some(offset)) = (be32(at), be32(at + 4), be32(at + 8)) else {
            return Err("truncated index".into());
        };
        let offset = offset as usize;
        let string = || -> Option<String> {
            let rest = data.get(offset..)?;
            let end = rest.iter().position(|b| *b == 0)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        match (tag, kind) {
            (1000, 6) => name = string(),
            (1001, 6) => version = string(),
            (1002, 6) => release = string(),
            (1003, 4) => {
                epoch = data.get(offset..offset + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            }
            (1022, 6) => arch = string(),
            (1044, 6) => source = string(),
            _ => {}
        }
    }
    let name = name.ok_or("no name tag")?;
    let version = version.ok_or("no version tag")?;
    let full = match (epoch, release) {
        (Some(e), Some(r)) if e > 0 => format!("{e}:{version}-{r}"),
        (_, Some(r)) => format!("{version}-{r}"),
        _ => version,
    };
    // `openssl-3.0.7-24.el9.src.rpm` → `openssl`.
    let source_name = source.as_deref().and_then(|s| {
        let base = s.strip_suffix(".src.rpm").or_else(|| s.strip_suffix(".nosrc.rpm"))?;
        let mut parts = base.rsplitn(3, '-');
        let (_, _, n) = (parts.next()?, parts.next()?, parts.next()?);
        Some(n.to_owned())
    });
    Ok(Package {
        name,
        source_version: Some(Version(full.clone())),
        version: Version(full),
        source_name,
        architecture: arch,
        ecosystem: Ecosystem::Rpm,
        origin: String::new(),
    })
}

fn python(ctx: &mut Ctx, out: &mut Vec<Package>) -> bool {
    let mut dirs = vec!["/usr/lib/python3/dist-packages".to_owned()];
    for base in ["/usr/lib", "/usr/lib64", "/usr/local/lib"] {
        for name in ctx.fs.read_dir(base).unwrap_or_default() {
            if name.starts_with("python3") {
                dirs.push(format!("{base}/{name}/site-packages"));
                dirs.push(format!("{base}/{name}/dist-packages"));
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    let mut any = false;
    for dir in dirs {
        for info in ctx.fs.glob(&format!("{dir}/*.dist-info")).unwrap_or_default() {
            any = true;
            let path = format!("{info}/METADATA");
            let text = match ctx.fs.read(&path) {
                Ok(t) => t,
                Err(e) => {
                    ctx.error("packages", Some(&path), &e);
                    continue;
                }
            };
            // Headers end at the first blank line (the description follows).
            let headers = text.split("\n\n").next().unwrap_or_default();
            let field =
                |k: &str| headers.lines().find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_owned()));
            match (field("Name:"), field("Version:")) {
                (Some(name), Some(version)) => out.push(Package {
                    source_name: None,
                    source_version: None,
                    name,
                    version: Version(version),
                    architecture: None,
                    ecosystem: Ecosystem::Pypi,
                    origin: path,
                }),
                _ => ctx.error("packages", Some(&path), "no Name or Version header"),
            }
        }
    }
    any
}
