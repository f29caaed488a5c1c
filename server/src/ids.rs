//! Times, random identifiers and digests, as the service writes them.

use assay_model::hex;

/// Milliseconds since the Unix epoch (0 for a clock before 1970).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `n` random bytes as lower-case hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // getrandom fails only without an entropy source; a zero id would
    // then collide at once on a primary key rather than pass silently.
    let _ = getrandom::fill(&mut bytes);
    hex::encode(&bytes)
}

/// The SHA-256 of a secret, as stored: tokens are never kept in clear.
pub(crate) fn hash(secret: &str) -> String {
    digest(secret.as_bytes())
}

/// The SHA-256 of `bytes` in hex: the digest of an upload.
pub(crate) fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(bytes))
}
