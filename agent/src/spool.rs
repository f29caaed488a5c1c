//! The spool: telemetry waiting to be delivered, under `STATE/spool`. Each
//! run's upload is a directory of numbered chunks, made complete in a
//! temporary directory and renamed into place (a crash leaves all of it or
//! none); a chunk's file is deleted once the server has it, so a restarted
//! agent resumes where it was. The spool is bounded: adding beyond it drops
//! the oldest uploads first, and each loss is recorded (and reported to the
//! server with the next heartbeat) rather than silent.

use assay_api::agent::Lost;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    run: String,
    total: usize,
    bytes: u64,
    created_at: i64,
}

/// One upload in the spool.
#[derive(Clone, Debug)]
pub struct Entry {
    dir: PathBuf,
    pub run: String,
    pub total: usize,
    bytes: u64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Spool {
    /// Opens (making) the spool; half-written uploads of a crash are removed.
    pub fn open(dir: PathBuf, max_bytes: u64) -> Result<Spool, String> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the spool {}: {e}", dir.display()))?;
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(".tmp-") {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        Ok(Spool { dir, max_bytes })
    }

    /// The uploads waiting, oldest first.
    pub fn pending(&self) -> Vec<Entry> {
        let mut out: Vec<(i64, Entry)> = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return out.into_iter().map(|e| e.1).collect() };
        for e in entries.flatten() {
            let path = e.path();
            if !path.is_dir() || e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let manifest = std::fs::read(path.join("manifest.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok());
            match manifest {
                Some(m) => {
                    out.push((m.created_at, Entry { dir: path, run: m.run, total: m.total, bytes: m.bytes }))
                }
                // Not an upload this agent wrote: removed rather than sent.
                None => {
                    let _ = std::fs::remove_dir_all(&path);
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.run.cmp(&b.1.run)));
        out.into_iter().map(|e| e.1).collect()
    }

    pub fn has(&self, run: &str) -> bool {
        self.pending().iter().any(|e| e.run == run)
    }

    /// Adds the chunks of `run`'s telemetry, dropping the oldest uploads
    /// while the spool would exceed its bound. An upload larger than the
    /// whole spool is itself dropped (and recorded).
    pub fn add(&mut self, run: &str, chunks: &[Vec<u8>]) -> Result<(), String> {
        let bytes: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        if bytes > self.max_bytes {
            self.record_loss(
                run,
                &format!("{bytes} bytes of telemetry exceed the spool's {}", self.max_bytes),
            );
            return Ok(());
        }
        let pending = self.pending();
        let mut used: u64 = pending.iter().map(|e| e.bytes).sum();
        for old in pending {
            if used + bytes <= self.max_bytes {
                break;
            }
            used -= old.bytes;
            self.drop_entry(&old, "the spool was full: the oldest upload was dropped for a newer one");
        }
        let name = format!("{}-{}", now_ms(), safe(run));
        let tmp = self.dir.join(format!(".tmp-{name}"));
        std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot write the spool: {e}"))?;
        for (i, c) in chunks.iter().enumerate() {
            crate::identity::write(&tmp, &format!("{i}.chunk"), c)?;
        }
        let manifest = Manifest { run: run.to_owned(), total: chunks.len(), bytes, created_at: now_ms() };
        let manifest = serde_json::to_vec(&manifest).map_err(|e| format!("cannot write the spool: {e}"))?;
        crate::identity::write(&tmp, "manifest.json", &manifest)?;
        std::fs::rename(&tmp, self.dir.join(name)).map_err(|e| format!("cannot write the spool: {e}"))
    }

    /// Chunk `i` of `entry`, unless the server has it already.
    pub fn chunk(&self, entry: &Entry, i: usize) -> Option<Vec<u8>> {
        std::fs::read(entry.dir.join(format!("{i}.chunk"))).ok()
    }

    /// The server has chunk `i`.
    pub fn ack(&self, entry: &Entry, i: usize) {
        let _ = std::fs::remove_file(entry.dir.join(format!("{i}.chunk")));
    }

    /// The upload is complete on the server.
    pub fn finish(&self, entry: &Entry) {
        let _ = std::fs::remove_dir_all(&entry.dir);
    }

    /// Drops an upload the server will never take, recording why.
    pub fn drop_entry(&self, entry: &Entry, why: &str) {
        self.record_loss(&entry.run, why);
        let _ = std::fs::remove_dir_all(&entry.dir);
    }

    fn lost_path(&self) -> PathBuf {
        self.dir.join("lost.jsonl")
    }

    fn record_loss(&self, run: &str, why: &str) {
        use std::io::Write;
        let lost = Lost { run: run.to_owned(), reason: why.to_owned(), at: now_ms() };
        let Ok(line) = serde_json::to_string(&lost) else { return };
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(self.lost_path()) {
            let _ = writeln!(f, "{line}");
        }
    }

    /// The losses not yet reported to the server.
    pub fn lost(&self) -> Vec<Lost> {
        std::fs::read_to_string(self.lost_path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .take(100)
            .collect()
    }

    /// The server has the losses [`Spool::lost`] returned; they are kept in
    /// `lost-reported.jsonl` for whoever looks at the host.
    pub fn lost_reported(&self) {
        let text = std::fs::read_to_string(self.lost_path()).unwrap_or_default();
        if text.is_empty() {
            return;
        }
        use std::io::Write;
        if let Ok(mut f) =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("lost-reported.jsonl"))
        {
            let _ = f.write_all(text.as_bytes());
        }
        let _ = std::fs::remove_file(self.lost_path());
    }
}

/// A run id as a file name: anything but `[A-Za-z0-9_-]` becomes `_`.
fn safe(run: &str) -> String {
    run.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(100)
        .collect()
}

/// The directory of the spool under a state directory.
pub fn dir(state: &Path) -> PathBuf {
    state.join("spool")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_spool_drops_the_oldest_upload_and_records_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path().join("spool"), 10).unwrap();
        spool.add("run-1", &[vec![0; 4], vec![0; 2]]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3));
        spool.add("run-2", &[vec![0; 3]]).unwrap();
        assert_eq!(spool.pending().iter().map(|e| e.run.as_str()).collect::<Vec<_>>(), ["run-1", "run-2"]);
        std::thread::sleep(std::time::Duration::from_millis(3));
        spool.add("run-3", &[vec![0; 5]]).unwrap();
        assert_eq!(spool.pending().iter().map(|e| e.run.as_str()).collect::<Vec<_>>(), ["run-2", "run-3"]);
        spool.add("run-4", &[vec![0; 11]]).unwrap();
        let lost: Vec<String> = spool.lost().into_iter().map(|l| l.run).collect();
        assert_eq!(lost, ["run-1", "run-4"]);
        spool.lost_reported();
        assert!(spool.lost().is_empty());
    }

    #[test]
    fn acknowledged_chunks_are_not_sent_again_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path().join("spool"), 1000).unwrap();
        spool.add("run-1", &[b"a".to_vec(), b"b".to_vec()]).unwrap();
        let entry = spool.pending().remove(0);
        spool.ack(&entry, 0);
        // A crash mid-write leaves a temporary directory: removed on open.
        std::fs::create_dir_all(dir.path().join("spool/.tmp-9-run-2")).unwrap();
        let spool = Spool::open(dir.path().join("spool"), 1000).unwrap();
        let entry = spool.pending().remove(0);
        assert_eq!((spool.chunk(&entry, 0), spool.chunk(&entry, 1)), (None, Some(b"b".to_vec())));
        assert_eq!(spool.pending().len(), 1);
        spool.finish(&entry);
        assert!(spool.pending().is_empty());
    }
}
