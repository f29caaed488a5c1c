//! Chunks of telemetry uploads.

use super::AppState;
use crate::api::error::Params;
use crate::domain::uploads::{self, Stored, MAX_CHUNK};
use crate::domain::{auth, Error};
use crate::tls::Peer;
use assay_api::agent::ChunkAnswer;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use std::time::Duration;

#[derive(serde::Deserialize)]
pub(super) struct ChunkQuery {
    total: i64,
}

/// `PUT /agent/v1/runs/{run}/chunks/{seq}?total=N` with the chunk's
/// SHA-256 in `X-Assay-Digest`: 201 when this request stored it.
pub(super) async fn chunk(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Path((run, seq)): Path<(String, i64)>,
    Params(q): Params<ChunkQuery>,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<ChunkAnswer>), Error> {
    let agent = super::agent(&app, &peer).await?;
    let Ok(body) = read_chunk(body).await else {
        let detail = serde_json::json!({ "run": run, "seq": seq, "reason": "too large" });
        let _ = auth::audit_failure(&app, &agent.id, "agent.chunk.rejected", detail).await;
        return Err(Error::TooLarge(format!("a chunk is at most {MAX_CHUNK} bytes")));
    };
    let claimed = headers.get("x-assay-digest").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (stored, answer) = uploads::chunk(&app, &agent, &run, seq, q.total, claimed, body).await?;
    let status = if stored == Stored::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(answer)))
}

/// How much of a too large chunk is read (and dropped) before the 413 is
/// answered, and for how long at most.
const DRAIN: usize = 4 * MAX_CHUNK;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// A chunk's body, at most [`MAX_CHUNK`] bytes. A larger one is read on
/// and dropped (up to [`DRAIN`]) before it is refused: a server that stops
/// reading and closes the connection makes the client's write fail (a
/// broken pipe, a reset) before it can read why.
async fn read_chunk(body: axum::body::Body) -> Result<Vec<u8>, ()> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(frame) = stream.next().await {
        let bytes = frame.map_err(|_| ())?;
        if out.len() + bytes.len() > MAX_CHUNK {
            let mut read = out.len() + bytes.len();
            let _ = tokio::time::timeout(DRAIN_TIME, async {
                while read <= DRAIN {
                    match stream.next().await {
                        Some(Ok(more)) => read += more.len(),
                        _ => break,
                    }
                }
            })
            .await;
            return Err(());
        }
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}
