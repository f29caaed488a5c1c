//! The blob store: sealed telemetry documents live here, the database
//! keeps their keys. A local directory by default (`DATA/blobs`), or any
//! S3-compatible bucket (`--blobs s3://BUCKET/PREFIX`, configured by the
//! usual `AWS_*` variables; `AWS_ENDPOINT` for MinIO, Ceph and the like).
//! Replicas of one PostgreSQL database must share one store.
//!
//! A blob is written before the row that names it is committed, so a
//! crash between the two leaves a blob no row names: the agent's retry
//! writes it again (under the day of the retry), and retention removes the
//! day directories past the retention, orphans included.

use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

pub(crate) struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Where the blobs are, for messages.
    location: String,
}

impl Blobs {
    /// The store `url` names: `s3://BUCKET[/PREFIX]`, `file:///DIR` or a
    /// directory; none means `DATA/blobs`.
    pub fn open(url: Option<&str>, data: &std::path::Path) -> Result<Blobs, String> {
        let dir = match url {
            None => data.join("blobs"),
            Some(u) if u.starts_with("s3://") => return Blobs::s3(u),
            Some(u) if u.contains("://") && !u.starts_with("file://") => {
                return Err(format!("blob store `{u}`: use s3://BUCKET[/PREFIX], file:///DIR or a directory"))
            }
            Some(u) => std::path::PathBuf::from(u.strip_prefix("file://").unwrap_or(u)),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the blob directory {}: {e}", dir.display()))?;
        let dir = dir.canonicalize().map_err(|e| format!("blob directory {}: {e}", dir.display()))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| format!("blob directory {}: {e}", dir.display()))?;
        Ok(Blobs { store: Arc::new(store), location: dir.display().to_string() })
    }

    fn s3(url: &str) -> Result<Blobs, String> {
        let rest = &url["s3://".len()..];
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("blob store `{url}` names no bucket"));
        }
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| format!("blob store `{url}`: {e}"))?;
        let store: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
            "" => Arc::new(store),
            p => Arc::new(object_store::prefix::PrefixStore::new(store, p)),
        };
        Ok(Blobs { store, location: url.to_owned() })
    }

    /// Where a run's telemetry from an agent goes when it arrives now.
    pub fn telemetry_key(run: &str, agent: &str, digest: &str, now_ms: i64) -> String {
        format!("telemetry/d{}/{run}/{agent}/{digest}", now_ms / DAY_MS)
    }

    /// Writes `bytes` at `key`, replacing what was there (one write is
    /// atomic: a reader sees the old blob or the new one).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        self.store
            .put(&Key::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot write {key} to the blob store {}: {e}", self.location))
    }

    /// The blob at `key`; `Ok(None)` when it is not there.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let read =
            |e: object_store::Error| format!("cannot read {key} from the blob store {}: {e}", self.location);
        match self.store.get(&Key::from(key)).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(read)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(read(e)),
        }
    }

    /// Deletes the blob at `key`; one already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), String> {
        match self.store.delete(&Key::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(format!("cannot delete {key} from the blob store {}: {e}", self.location)),
        }
    }

    /// Deletes every telemetry blob written on a day that ended before
    /// `cutoff_ms` (rows naming them are older than the retention too, and
    /// are deleted by then); the number deleted.
    pub async fn sweep_days_before(&self, cutoff_ms: i64) -> Result<usize, String> {
        let listed = self
            .store
            .list_with_delimiter(Some(&Key::from("telemetry")))
            .await
            .map_err(|e| format!("cannot list the blob store {}: {e}", self.location))?;
        let mut deleted = 0;
        for day in listed.common_prefixes {
            let number = day.filename().and_then(|d| d.strip_prefix('d')).and_then(|d| d.parse::<i64>().ok());
            let Some(number) = number else { continue };
            if (number + 1) * DAY_MS > cutoff_ms {
                continue;
            }
            let mut objects = self.store.list(Some(&day));
            while let Some(object) = objects.next().await {
                let object = object.map_err(|e| format!("cannot list {day} in {}: {e}", self.location))?;
                self.delete(object.location.as_ref()).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn blobs_round_trip_and_days_past_retention_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(None, dir.path()).unwrap();
        let (old, new) =
            (Blobs::telemetry_key("r1", "a1", "d1", 0), Blobs::telemetry_key("r2", "a1", "d2", 3 * DAY_MS));
        runtime().block_on(async {
            blobs.put(&old, b"old".to_vec()).await.unwrap();
            blobs.put(&new, b"new".to_vec()).await.unwrap();
            blobs.put(&new, b"newer".to_vec()).await.unwrap();
            assert_eq!(blobs.get(&new).await.unwrap().as_deref(), Some(&b"newer"[..]));
            assert_eq!(blobs.get("telemetry/d0/none").await.unwrap(), None);
            // Day 0 ended at DAY_MS; day 3 has not ended before 3.5 days.
            assert_eq!(blobs.sweep_days_before(DAY_MS * 7 / 2).await.unwrap(), 1);
            assert_eq!(blobs.get(&old).await.unwrap(), None);
            assert!(blobs.get(&new).await.unwrap().is_some());
            blobs.delete(&new).await.unwrap();
            blobs.delete(&new).await.unwrap();
            assert_eq!(blobs.get(&new).await.unwrap(), None);
        });
        assert!(dir.path().join("blobs/telemetry").is_dir(), "blobs live under DATA/blobs");
    }

    #[test]
    fn a_store_url_that_is_not_understood_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = Blobs::open(Some("gs://bucket"), dir.path()).err().unwrap();
        assert!(err.contains("gs://bucket"), "{err}");
        assert!(Blobs::open(Some("s3://"), dir.path()).err().unwrap().contains("no bucket"));
    }
}
