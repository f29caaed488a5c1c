//! Installed packages: dpkg (`/var/lib/dpkg/status`), apk
//! (`/lib/apk/db/installed`), rpm (the SQLite `rpmdb.sqlite` of current
//! Fedora and RHEL) and Python distributions (`*.dist-info/METADATA`), each
//! with the licences its metadata states. A dpkg package's licences live in
//! a file of their own (`/usr/share/doc/PACKAGE/copyright`), read only when
//! the plan asks ([`Ctx::licenses`]).

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
        let licenses = if ctx.licenses { copyright(ctx, &name) } else { None };
        out.push(Package {
            name,
            version: Version(version),
            source_name: Some(source_name),
            source_version: Some(Version(source_version)),
            architecture: field("Architecture"),
            ecosystem: Ecosystem::Debian,
            origin: PATH.to_owned(),
            licenses,
        });
    }
    true
}

/// The licences of a dpkg package's machine-readable copyright file. A
/// missing file says nothing (a package may ship none, an image may strip
/// them); one that cannot be read is an error of its own.
fn copyright(ctx: &mut Ctx, package: &str) -> Option<Vec<String>> {
    if package.contains('/') || package.starts_with('.') {
        return None;
    }
    let path = format!("/usr/share/doc/{package}/copyright");
    match ctx.fs.read(&path) {
        Ok(text) => dep5_licenses(&text),
        Err(FsError::NotFound) => None,
        Err(e) => {
            ctx.error("packages", Some(&path), &e);
            None
        }
    }
}

/// The `License:` short names of a DEP-5 copyright file's `Files:`
/// stanzas (the header's when no stanza names one), in order, once each.
/// `None` for a file in prose: it states its licences for people only.
/// Field names are matched without case, as in every deb822 file.
fn dep5_licenses(text: &str) -> Option<Vec<String>> {
    // Each paragraph's fields, by name and the first line of their value.
    let mut paragraphs: Vec<Vec<(&str, &str)>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            if paragraphs.last().is_some_and(|p| !p.is_empty()) {
                paragraphs.push(Vec::new());
            }
            continue;
        }
        if line.starts_with([' ', '\t', '#']) {
            continue;
        }
        if let (Some((name, value)), Some(last)) = (line.split_once(':'), paragraphs.last_mut()) {
            last.push((name.trim(), value.trim()));
        }
    }
    fn get<'t>(p: &[(&str, &'t str)], name: &str) -> Option<&'t str> {
        p.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v).filter(|v| !v.is_empty())
    }
    let header = paragraphs.first()?;
    let format = get(header, "Format")?;
    if !(format.contains("copyright-format") || format.contains("dep5")) {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for p in paragraphs.iter().filter(|p| get(p, "Files").is_some()) {
        if let Some(license) = get(p, "License") {
            if !out.iter().any(|l| l == license) {
                out.push(license.to_owned());
            }
        }
    }
    if out.is_empty() {
        out.extend(get(header, "License").map(str::to_owned));
    }
    (!out.is_empty()).then_some(out)
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
            licenses: field("L:").filter(|l| !l.trim().is_empty()).map(|l| vec![l.trim().to_owned()]),
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
    let mut license = None;
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
            (1014, 6) => license = string(),
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
        licenses: license.filter(|l| !l.trim().is_empty()).map(|l| vec![l.trim().to_owned()]),
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
                    licenses: python_licenses(headers),
                }),
                _ => ctx.error("packages", Some(&path), "no Name or Version header"),
            }
        }
    }
    any
}

/// A distribution's licences: `License-Expression` (PEP 639), else a
/// `License` that names one (a single short line: many hold the whole text,
/// or `UNKNOWN`), else the last part of each `License ::` classifier.
fn python_licenses(headers: &str) -> Option<Vec<String>> {
    let lines: Vec<&str> = headers.lines().collect();
    let value = |name: &str| {
        lines.iter().enumerate().find_map(|(i, l)| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some((i, v.trim()))
        })
    };
    if let Some((_, expression)) = value("License-Expression").filter(|(_, v)| !v.is_empty()) {
        return Some(vec![expression.to_owned()]);
    }
    if let Some((i, license)) = value("License") {
        let continued = lines.get(i + 1).is_some_and(|next| next.starts_with([' ', '\t']));
        if !continued
            && !license.is_empty()
            && license.len() <= 100
            && !license.eq_ignore_ascii_case("UNKNOWN")
        {
            return Some(vec![license.to_owned()]);
        }
    }
    let classifiers: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let v = v.trim();
            (k.eq_ignore_ascii_case("Classifier") && v.starts_with("License ::"))
                .then(|| v.rsplit("::").next().unwrap_or_default().trim().to_owned())
        })
        .filter(|l| !l.is_empty())
        .collect();
    (!classifiers.is_empty()).then_some(classifiers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep5_files_stanzas_give_their_licences_in_order_once_each() {
        // Abridged from Debian 12's libssl3 and bash copyright files.
        let text = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
                    Upstream-Name: OpenSSL\n\n\
                    Files: *\nCopyright: 1998-2021 The OpenSSL Authors\nlicense: Apache-2.0\n\n\
                    Files: debian/*\nCopyright: 2012 Kurt Roeckx\nLicense: GPL-2+\n \
                    This program is free software...\n .\n License text continues.\n\n\
                    Files: crypto/ec/curve448/*\nLicense: Apache-2.0\n\n\
                    License: Apache-2.0\n Licensed under the Apache License, Version 2.0.\n";
        assert_eq!(dep5_licenses(text), Some(vec!["Apache-2.0".to_owned(), "GPL-2+".to_owned()]));
        // A header that names the licence, and no stanza that does.
        let header_only = "Format: http://dep.debian.net/deps/dep5\nLicense: MIT\n\nFiles: *\nCopyright: x\n";
        assert_eq!(dep5_licenses(header_only), Some(vec!["MIT".to_owned()]));
        // Whitespace-only lines separate paragraphs too.
        let spaced = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n  \n\
                      Files: *\nLicense: Zlib\n";
        assert_eq!(dep5_licenses(spaced), Some(vec!["Zlib".to_owned()]));
    }

    #[test]
    fn a_copyright_file_in_prose_states_no_licence_that_can_be_read() {
        // The start of Debian 12's libc6 copyright file.
        let prose = "This is the Debian prepackaged version of the GNU C Library\nversion 2.36.\n\n\
                     License: LGPL-2.1+ is mentioned here only in passing.\n";
        assert_eq!(dep5_licenses(prose), None);
        assert_eq!(dep5_licenses(""), None);
        assert_eq!(dep5_licenses("Format: something else\n\nFiles: *\nLicense: MIT\n"), None);
        let no_license =
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\n";
        assert_eq!(dep5_licenses(no_license), None);
    }

    #[test]
    fn python_licences_come_from_the_expression_the_field_or_the_classifiers() {
        let licenses = |headers: &str| python_licenses(headers);
        assert_eq!(
            licenses("Name: a\nLicense-Expression: MIT OR Apache-2.0\nLicense: MIT\n"),
            Some(vec!["MIT OR Apache-2.0".to_owned()])
        );
        assert_eq!(licenses("Name: a\nLicense: BSD-3-Clause\n"), Some(vec!["BSD-3-Clause".to_owned()]));
        // The whole text in the field, or UNKNOWN: the classifiers instead.
        let text = "Name: a\nLicense: Copyright (c) 2024\n        Permission is hereby granted\n\
                    Classifier: Programming Language :: Python\n\
                    Classifier: License :: OSI Approved :: MIT License\n";
        assert_eq!(licenses(text), Some(vec!["MIT License".to_owned()]));
        assert_eq!(licenses("Name: a\nLicense: UNKNOWN\n"), None);
        assert_eq!(licenses("Name: a\n"), None);
    }

    #[test]
    fn an_rpm_header_gives_its_license_tag() {
        // Tags as rpmdb.sqlite stores them: name, version, release, license.
        let strings = ["openssl", "3.0.7", "27.el9", "ASL 2.0"];
        let tags = [1000u32, 1001, 1002, 1014];
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, s) in tags.iter().zip(strings) {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&6u32.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(s.as_bytes());
            data.push(0);
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(tags.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(data);
        let p = rpm_header(&blob).unwrap();
        assert_eq!((p.name.as_str(), p.licenses), ("openssl", Some(vec!["ASL 2.0".to_owned()])));
    }
}
