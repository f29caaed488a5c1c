//! A SQLite database is served by one process: the server holds an
//! exclusive lock on `DB.lock` while it runs. Holding it, the server knows
//! that every lease in the database was taken by a process that is gone
//! (itself, killed), so it reclaims them at start instead of waiting them
//! out (issue #27.17). PostgreSQL is shared by replicas and takes no lock.

use std::path::{Path, PathBuf};

/// The lock, held until dropped (or the process ends, however it ends).
pub(crate) struct Alone {
    _file: std::fs::File,
}

/// The file of a `sqlite:` URL (`None`: in memory, or not SQLite).
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Takes the lock of the database `db`, or says which process has it.
pub(crate) fn take(db: &Path) -> Result<Alone, String> {
    use rustix::fs::{flock, FlockOperation};
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
    if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Err(if e == rustix::io::Errno::WOULDBLOCK {
            format!(
                "another assay server (pid {}) serves {}: a SQLite database has one server process; for several, use PostgreSQL",
                holder.trim(),
                db.display()
            )
        } else {
            format!("cannot lock {}: {e}", path.display())
        });
    }
    // Who holds it, for the message above; the lock is what counts.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    Ok(Alone { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/assay/assay.db?mode=rwc"),
            Some("/var/lib/assay/assay.db".into())
        );
        assert_eq!(sqlite_file("sqlite:data/assay.db"), Some("data/assay.db".into()));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/assay"), None);
    }

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("assay.db");
        let first = take(&db).unwrap();
        let err = take(&db).err().unwrap();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(first);
        assert!(take(&db).is_ok());
    }
}
