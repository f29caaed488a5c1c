//! The server's keys. A 256-bit master key (a file under `--data`, made
//! at the first start, or `ASSAY_MASTER_KEY`) wraps everything secret the
//! database holds: the data key of each run (telemetry is sealed with it,
//! XChaCha20-Poly1305, with authenticated data naming run, agent and
//! chunk) and the private key of the agents' certificate authority. The
//! database alone therefore opens nothing; every replica sharing a
//! PostgreSQL database needs the same master key.

use assay_model::hex;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256,
};
use sha2::{Digest, Sha256};
use std::path::Path;
use time::OffsetDateTime;

const NONCE: usize = 24;
/// What sealing adds to a plaintext: its nonce and its tag.
pub const OVERHEAD: usize = NONCE + 16;

/// A 256-bit key for XChaCha20-Poly1305.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    fn random() -> Key {
        let mut k = [0u8; 32];
        // The operating system's generator; failing it there is no key to make.
        let _ = getrandom::fill(&mut k);
        Key(k)
    }

    fn from_hex(text: &str) -> Option<Key> {
        let bytes = hex::decode(text.trim())?;
        Some(Key(bytes.try_into().ok()?))
    }

    /// A data key as unwrapped from the database: exactly 32 bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Key, String> {
        Ok(Key(bytes.try_into().map_err(|_| "a data key is not 32 bytes".to_owned())?))
    }

    /// A new data key, and its bytes (to wrap and store).
    pub fn generate() -> (Key, Vec<u8>) {
        let key = Key::random();
        let bytes = key.0.to_vec();
        (key, bytes)
    }

    /// `nonce || ciphertext`; `aad` is bound to it and must be given again
    /// to open it.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        let _ = getrandom::fill(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        // Encryption fails only for inputs beyond 256 GiB.
        let sealed =
            cipher.encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad }).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() < NONCE + 16 {
            return Err("the sealed data is truncated".into());
        }
        let (nonce, body) = sealed.split_at(NONCE);
        XChaCha20Poly1305::new((&self.0).into())
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
            .map_err(|_| "the data does not open with this key (wrong key, or altered)".to_owned())
    }
}

/// The master key: `ASSAY_MASTER_KEY` (64 hex digits), else the file
/// (made, readable by its owner only, when it does not exist).
pub fn master(file: &Path) -> Result<Key, String> {
    if let Ok(hex) = std::env::var("ASSAY_MASTER_KEY") {
        return Key::from_hex(&hex).ok_or_else(|| "ASSAY_MASTER_KEY is not 64 hexadecimal digits".to_owned());
    }
    match std::fs::read_to_string(file) {
        Ok(text) => {
            use std::os::unix::fs::PermissionsExt;
            // As ssh with a private key: a key others can read is no secret.
            let mode = std::fs::metadata(file).map(|m| m.permissions().mode()).unwrap_or(0);
            if mode & 0o077 != 0 {
                return Err(format!(
                    "the master key {} may be read by others (mode {:o}); `chmod 600 {}`",
                    file.display(),
                    mode & 0o777,
                    file.display()
                ));
            }
            Key::from_hex(&text)
                .ok_or_else(|| format!("{}: not a master key (64 hexadecimal digits)", file.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Key::random();
            assay_runtime::files::write_private(file, hex::encode(&key.0).as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(format!("cannot read the master key {}: {e}", file.display())),
    }
}

pub fn run_key_aad(run: &str) -> Vec<u8> {
    format!("assay/run-key/{run}").into_bytes()
}

pub fn chunk_aad(run: &str, agent: &str, seq: i64) -> Vec<u8> {
    format!("assay/chunk/{run}/{agent}/{seq}").into_bytes()
}

pub fn telemetry_aad(run: &str, agent: &str) -> Vec<u8> {
    format!("assay/telemetry/{run}/{agent}").into_bytes()
}

/// The agents' certificate authority: it signs each agent's client
/// certificate and this process's agent-listener certificate.
pub struct Ca {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

/// The SHA-256 of a DER certificate, as agents pin it (hex).
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(&Sha256::digest(der))
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "Assay");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

impl Ca {
    /// A new CA: it, and what to keep of it (its name, its certificate
    /// and its private key, both PEM).
    pub fn create() -> Result<(Ca, [String; 3]), String> {
        let name = format!("Assay agent CA {}", crate::ids::random_hex(4));
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
        let mut params = ca_params(&name);
        params.not_before = OffsetDateTime::now_utc() - time::Duration::hours(1);
        params.not_after = OffsetDateTime::now_utc() + time::Duration::days(3650);
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        let kept = [name.clone(), cert.pem(), key.serialize_pem()];
        let ca = Ca {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(ca_params(&name), key),
        };
        Ok((ca, kept))
    }

    /// The CA kept as `name`, `cert_pem` and `key_pem`.
    pub fn from_parts(name: &str, cert_pem: String, key_pem: &str) -> Result<Ca, String> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| format!("the CA key: {e}"))?;
        let cert_der = pem_der(&cert_pem).ok_or("the CA certificate in the database is not PEM")?;
        Ok(Ca { cert_pem, cert_der, issuer: Issuer::new(ca_params(name), key) })
    }

    /// A client certificate for `agent`'s public key (an uncompressed P-256
    /// point), valid for `lifetime_ms`: its PEM, DER and expiry (ms).
    pub fn issue_agent(
        &self,
        agent: &str,
        public_key: &[u8],
        lifetime_ms: i64,
    ) -> Result<(String, Vec<u8>, i64), String> {
        // The caller checked the holder's proof, which only a point on the
        // curve passes.
        if public_key.len() != 65 || public_key[0] != 4 {
            return Err("the public key must be an uncompressed P-256 point (65 bytes)".into());
        }
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, agent);
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(serial());
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + time::Duration::milliseconds(lifetime_ms);
        let cert = params.signed_by(&RawP256(public_key), &self.issuer).map_err(|e| e.to_string())?;
        Ok((cert.pem(), cert.der().to_vec(), crate::ids::now() + lifetime_ms))
    }

    /// This process's certificate for the agent listener, for `names`
    /// (host names or IP addresses), with a key that never leaves memory.
    pub fn issue_server(&self, names: &[String]) -> Result<(Vec<Vec<u8>>, Vec<u8>), String> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
        let mut params =
            CertificateParams::new(names.to_vec()).map_err(|e| format!("an --agent-name: {e}"))?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(serial());
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(365);
        let cert = params.signed_by(&key, &self.issuer).map_err(|e| e.to_string())?;
        Ok((vec![cert.der().to_vec(), self.cert_der.clone()], key.serialize_der()))
    }
}

fn serial() -> SerialNumber {
    let mut s = [0u8; 16];
    let _ = getrandom::fill(&mut s);
    s[0] &= 0x7f;
    SerialNumber::from_slice(&s)
}

/// An agent's public key as it sent it.
struct RawP256<'a>(&'a [u8]);

impl PublicKeyData for RawP256<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

fn pem_der(pem: &str) -> Option<Vec<u8>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).ok().map(|c| c.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key_and_context() {
        let key = Key::random();
        let sealed = key.seal(b"telemetry", b"run-1/agent-1");
        assert_eq!(key.open(&sealed, b"run-1/agent-1").as_deref(), Ok(&b"telemetry"[..]));
        assert!(key.open(&sealed, b"run-1/agent-2").is_err(), "moved to another agent");
        assert!(Key::random().open(&sealed, b"run-1/agent-1").is_err(), "another key");
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(key.open(&altered, b"run-1/agent-1").is_err(), "altered");
        assert!(key.open(&sealed[..10], b"run-1/agent-1").is_err(), "truncated");
    }
}
