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
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| format!("cannot create the blob directory {}: {e}", dir.display()))?;
            // Sealed blobs, but no one else's to list or read.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot make the blob directory {} private: {e}", dir.display()))?;
        }
        let dir = dir.canonicalize().map_err(|e| format!("blob directory {}: {e}", dir.display()))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| format!("blob directory {}: {e}", dir.display()))?;
        Ok(Blobs { store: Arc::new(store), location: dir.display().to_string() })
    }

    fn s3(url: &str) -> Result<Blobs, String> {
        Blobs::s3_with(url, object_store::aws::AmazonS3Builder::from_env())
    }

    /// `s3://BUCKET[/PREFIX]` on the endpoint and credentials of `builder`.
    fn s3_with(url: &str, builder: object_store::aws::AmazonS3Builder) -> Result<Blobs, String> {
        let rest = &url["s3://".len()..];
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("blob store `{url}` names no bucket"));
        }
        // reqwest (the S3 client) speaks TLS through rustls without a
        // provider of its own: ring, as the listeners use. Installed once
        // per process; one installed before (by an embedder) is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store =
            builder.with_bucket_name(bucket).build().map_err(|e| format!("blob store `{url}`: {e}"))?;
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

    /// Just enough of S3's REST API (path-style PUT, GET, DELETE and
    /// ListObjectsV2) on loopback for the client the server builds.
    mod fake_s3 {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        use axum::response::{IntoResponse, Response};
        use std::collections::BTreeMap;
        use std::sync::{Arc, Mutex};

        type Objects = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;
        const MODIFIED: &str = "Tue, 01 Dec 2026 00:00:00 GMT";

        pub async fn serve() -> (String, Objects) {
            let objects: Objects = Arc::default();
            let app = axum::Router::new().fallback(handle).with_state(objects.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });
            (format!("http://{address}"), objects)
        }

        async fn handle(State(objects): State<Objects>, method: Method, uri: Uri, body: Bytes) -> Response {
            let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy().into_owned();
            let mut objects = objects.lock().unwrap();
            let etag = |b: &[u8]| format!("\"{}\"", b.len());
            let query: Vec<(String, String)> =
                serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
            match method {
                Method::PUT => {
                    let tag = etag(&body);
                    objects.insert(path, body.to_vec());
                    ([("etag", tag)], "").into_response()
                }
                // DeleteObjects: `<Delete><Object><Key>K</Key></Object>...</Delete>`.
                Method::POST if query.iter().any(|(k, _)| k == "delete") => {
                    let text = String::from_utf8_lossy(&body);
                    let mut deleted = String::new();
                    for part in text.split("<Key>").skip(1) {
                        let key = part.split("</Key>").next().unwrap_or_default();
                        objects.remove(&format!("{}/{key}", path.trim_end_matches('/')));
                        deleted.push_str(&format!("<Deleted><Key>{key}</Key></Deleted>"));
                    }
                    let xml = format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                         <DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{deleted}</DeleteResult>"
                    );
                    ([("content-type", "application/xml")], xml).into_response()
                }
                Method::DELETE => {
                    objects.remove(&path);
                    StatusCode::NO_CONTENT.into_response()
                }
                Method::GET if query.iter().any(|(k, v)| k == "list-type" && v == "2") => {
                    let field = |name: &str| {
                        query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
                    };
                    let (bucket, prefix, delimiter) =
                        (path.trim_matches('/'), field("prefix"), field("delimiter"));
                    let mut contents = String::new();
                    let mut prefixes = std::collections::BTreeSet::new();
                    for (key, body) in objects.range(format!("/{bucket}/")..) {
                        let Some(key) = key.strip_prefix(&format!("/{bucket}/")) else { break };
                        let Some(rest) = key.strip_prefix(&prefix) else { continue };
                        match rest.find(delimiter.as_str()).filter(|_| !delimiter.is_empty()) {
                            Some(end) => {
                                prefixes.insert(format!("{prefix}{}", &rest[..=end]));
                            }
                            None => contents.push_str(&format!(
                                "<Contents><Key>{key}</Key><LastModified>2026-12-01T00:00:00.000Z</LastModified>\
                                 <ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                                etag(body),
                                body.len()
                            )),
                        }
                    }
                    let prefixes: String = prefixes
                        .iter()
                        .map(|p| format!("<CommonPrefixes><Prefix>{p}</Prefix></CommonPrefixes>"))
                        .collect();
                    let xml = format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                         <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{bucket}</Name>\
                         <Prefix>{prefix}</Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>\
                         {contents}{prefixes}</ListBucketResult>"
                    );
                    ([("content-type", "application/xml")], xml).into_response()
                }
                Method::GET => match objects.get(&path) {
                    Some(body) => {
                        let mut headers = HeaderMap::new();
                        headers.insert("etag", etag(body).parse().unwrap());
                        headers.insert("last-modified", MODIFIED.parse().unwrap());
                        (headers, body.clone()).into_response()
                    }
                    None => (StatusCode::NOT_FOUND, "<Error><Code>NoSuchKey</Code></Error>").into_response(),
                },
                _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
            }
        }
    }

    #[test]
    fn an_s3_compatible_store_is_reached_at_its_endpoint_under_its_prefix() {
        runtime().block_on(async {
            let (endpoint, objects) = fake_s3::serve().await;
            let builder = object_store::aws::AmazonS3Builder::new()
                .with_endpoint(&endpoint)
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_access_key_id("assay")
                .with_secret_access_key("not-a-secret");
            let blobs = Blobs::s3_with("s3://fleet/assay", builder).unwrap();
            let (old, new) = (
                Blobs::telemetry_key("r1", "a1", "d1", 0),
                Blobs::telemetry_key("r2", "a1", "d2", 3 * DAY_MS),
            );
            blobs.put(&old, b"old".to_vec()).await.unwrap();
            blobs.put(&new, b"new".to_vec()).await.unwrap();
            let stored: Vec<String> = objects.lock().unwrap().keys().cloned().collect();
            assert_eq!(stored, ["/fleet/assay/telemetry/d0/r1/a1/d1", "/fleet/assay/telemetry/d3/r2/a1/d2"]);
            assert_eq!(blobs.get(&new).await.unwrap().as_deref(), Some(&b"new"[..]));
            assert_eq!(blobs.get("telemetry/d0/none").await.unwrap(), None);
            assert_eq!(blobs.sweep_days_before(DAY_MS * 7 / 2).await.unwrap(), 1);
            assert_eq!(blobs.get(&old).await.unwrap(), None);
            blobs.delete(&new).await.unwrap();
            assert!(objects.lock().unwrap().is_empty());
        });
    }

    #[test]
    fn a_store_url_that_is_not_understood_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = Blobs::open(Some("gs://bucket"), dir.path()).err().unwrap();
        assert!(err.contains("gs://bucket"), "{err}");
        assert!(Blobs::open(Some("s3://"), dir.path()).err().unwrap().contains("no bucket"));
    }
}
