//! Certificates the bundles look up (`host.certificate(PATH)`): a PEM file
//! (each certificate of a chain, in order) or a DER certificate, parsed by
//! x509-parser. A file that holds a private key says only that it does: the
//! key's block is never decoded, nor kept. The days a certificate has left
//! are counted against the collection's own clock.

use super::fs::FsError;
use super::Ctx;
use assay_model::telemetry::{Certificate, CertificateFile};
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

const SENSOR: &str = "certificates";
/// A certificate file larger than this is not one.
const MAX_BYTES: u64 = 1 << 20;
/// The most certificates kept of one file.
const MAX_CHAIN: usize = 64;

pub(super) fn collect(ctx: &mut Ctx, paths: &[String], now: i64) -> Vec<CertificateFile> {
    let mut out = Vec::new();
    let mut covered = Vec::new();
    for path in paths {
        match read(ctx, path, now) {
            Ok(file) => {
                covered.push(path.clone());
                out.push(file);
            }
            Err(message) => ctx.error(SENSOR, Some(path), message),
        }
    }
    ctx.looked_up.certificates = Some(covered);
    out
}

fn read(ctx: &Ctx, path: &str, now: i64) -> Result<CertificateFile, String> {
    let mut file = CertificateFile { path: path.to_owned(), ..CertificateFile::default() };
    let bytes = match ctx.fs.read_bytes(path, MAX_BYTES) {
        Ok(bytes) => bytes,
        Err(FsError::NotFound) => return Ok(file),
        Err(e) => return Err(e.to_string()),
    };
    file.exists = true;
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        for pem in Pem::iter_from_buffer(&bytes) {
            let pem = pem.map_err(|e| format!("not a valid PEM file: {e}"))?;
            if pem.label.contains("PRIVATE KEY") {
                file.private_key = true;
            } else if pem.label == "CERTIFICATE" || pem.label == "TRUSTED CERTIFICATE" {
                if file.certificates.len() >= MAX_CHAIN {
                    return Err(format!("more than {MAX_CHAIN} certificates"));
                }
                let n = file.certificates.len() + 1;
                file.certificates
                    .push(certificate(&pem.contents, now).map_err(|e| format!("certificate {n}: {e}"))?);
            }
        }
    } else {
        file.certificates.push(certificate(&bytes, now)?);
    }
    Ok(file)
}

fn certificate(der: &[u8], now: i64) -> Result<Certificate, String> {
    let (_, cert) = parse_x509_certificate(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => names.push((*n).to_owned()),
                GeneralName::RFC822Name(n) => names.push((*n).to_owned()),
                GeneralName::URI(n) => names.push((*n).to_owned()),
                GeneralName::IPAddress(ip) => names.push(ip_text(ip)),
                _ => {}
            }
        }
    }
    let (key_type, key_bits) = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => ("rsa", rsa.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => ("ec", ec.key_size()),
        Ok(x509_parser::public_key::PublicKey::DSA(_)) => ("dsa", 0),
        Ok(
            x509_parser::public_key::PublicKey::GostR3410(_)
            | x509_parser::public_key::PublicKey::GostR3410_2012(_),
        ) => ("gost", 0),
        _ => match cert.public_key().algorithm.algorithm.to_id_string().as_str() {
            "1.3.101.112" => ("ed25519", 256),
            "1.3.101.113" => ("ed448", 456),
            _ => ("unknown", 0),
        },
    };
    Ok(Certificate {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        serial: cert.raw_serial_as_string(),
        not_before: super::rfc3339(not_before),
        not_after: super::rfc3339(not_after),
        days_remaining: (not_after - now).div_euclid(86_400),
        key_type: key_type.to_owned(),
        key_bits: key_bits as i64,
        signature_algorithm: signature_name(&cert.signature_algorithm.algorithm.to_id_string()),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        fingerprint: Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect(),
    })
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(b).to_string()
        }
        _ => String::new(),
    }
}

/// The names people use for the signature algorithms certificates carry;
/// another is given by its OID.
fn signature_name(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ed25519",
        "1.3.101.113" => "ed448",
        other => other,
    };
    name.to_owned()
}
