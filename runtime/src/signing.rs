//! Signed bundles: who built what, checkable by hand with `minisign`.
//!
//! Keys and signatures are minisign's (Ed25519; the `minisign` crate, the
//! reference implementation's author's own): a key pair from
//! `assay key generate` is a minisign key pair, and a signature is a
//! `.minisig` file beside the bundle, so `minisign -Vm BUNDLE -p KEY.pub`
//! verifies it without Assay. The signed message is the bundle file itself
//! (every byte); the signature's *trusted comment*, which minisign signs
//! too, is a [`Statement`] in JSON: the bundle's digest, every package's
//! name, version and sources digest, the creation time and the key id. A
//! signature whose trusted comment is anything else (a plain `minisign -S`
//! signature) does not say what it covers and is refused. The format is
//! documented in `docs/signing.md`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// What the trusted comment's `format` says: this layout, version 1.
pub const FORMAT: &str = "assay-signature/1";
/// The file name suffix of a signature beside what it signs.
pub const SUFFIX: &str = ".minisig";
/// minisign's reference implementation reads trusted comments of at most
/// 8,192 bytes; a statement longer than this could not be checked by hand.
const MAX_STATEMENT: usize = 8000;

/// A key's identifier: minisign's 8 random bytes, shown as minisign shows
/// them (the little-endian number in 16 upper-case hex digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 8]);

impl KeyId {
    fn from_slice(bytes: &[u8]) -> KeyId {
        let mut id = [0u8; 8];
        for (d, s) in id.iter_mut().zip(bytes) {
            *d = *s;
        }
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

/// A secret key, ready to sign.
pub struct SecretKey {
    key: minisign::SecretKey,
    public: minisign::PublicKey,
}

impl SecretKey {
    pub fn id(&self) -> KeyId {
        KeyId::from_slice(self.key.keynum())
    }
}

/// A public key: what a verifier trusts.
#[derive(Clone)]
pub struct PublicKey {
    key: minisign::PublicKey,
}

impl PublicKey {
    pub fn id(&self) -> KeyId {
        KeyId::from_slice(self.key.keynum())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

/// A new key pair as the two files' texts: the secret key (minisign's
/// unencrypted format, as `minisign -G -W` writes) and the public key.
pub struct KeyFiles {
    pub id: KeyId,
    pub secret: String,
    pub public: String,
}

/// Generates a key pair.
pub fn generate() -> Result<KeyFiles, String> {
    let pair = minisign::KeyPair::generate_unencrypted_keypair().map_err(|e| e.to_string())?;
    let id = KeyId::from_slice(pair.pk.keynum());
    let comment = format!("assay secret key {id}");
    let secret = pair.sk.to_box(Some(&comment)).map_err(|e| e.to_string())?.to_string();
    let public = pair.pk.to_box().map_err(|e| e.to_string())?.to_string();
    Ok(KeyFiles { id, secret, public })
}

/// Reads a secret key file: unencrypted (as `assay key generate` and
/// `minisign -G -W` write it), or encrypted (minisign's default) with
/// `password`. Never asks for a password on the terminal.
pub fn read_secret(text: &str, password: Option<String>) -> Result<SecretKey, String> {
    const ENCRYPTED: &str = "the key is encrypted: set ASSAY_KEY_PASSWORD to its password";
    let boxed =
        || minisign::SecretKeyBox::from_string(text).map_err(|e| format!("not a minisign secret key: {e}"));
    let key = match boxed()?.into_unencrypted_secret_key() {
        Ok(key) => key,
        Err(e) if e.to_string().contains("encrypted") => match password {
            Some(password) => boxed()?.into_secret_key(Some(password)).map_err(|e| match e.kind() {
                minisign::ErrorKind::Verify => {
                    "the key is encrypted and ASSAY_KEY_PASSWORD is not its password".into()
                }
                _ => format!("cannot read the secret key: {e}"),
            })?,
            None => return Err(ENCRYPTED.into()),
        },
        Err(e) => return Err(format!("not a minisign secret key: {e}")),
    };
    let public = minisign::PublicKey::from_secret_key(&key).map_err(|e| e.to_string())?;
    Ok(SecretKey { key, public })
}

/// Reads a public key: a `.pub` file as minisign writes it (a comment line
/// and the key), or the key's one base64 line alone (as `minisign -P`
/// takes it).
pub fn read_public(text: &str) -> Result<PublicKey, String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let key = match lines.as_slice() {
        [line] => minisign::PublicKey::from_base64(line),
        [comment, _] if comment.starts_with("untrusted comment:") => {
            minisign::PublicKeyBox::from_string(text).and_then(|b| b.into_public_key())
        }
        _ => return Err("not a minisign public key (expected a comment line and a base64 line)".into()),
    }
    .map_err(|e| format!("not a minisign public key: {e}"))?;
    Ok(PublicKey { key })
}

/// One package a signature covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPackage {
    pub name: String,
    pub version: String,
    /// `sha256:` and [`sources_digest`] of the package's source files.
    pub sources: String,
}

/// What a signature says it covers: the trusted comment, in this order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// [`FORMAT`].
    pub format: String,
    /// The key that signed, as [`KeyId`] shows it.
    pub key: String,
    /// When, in RFC 3339 (UTC).
    pub created: String,
    /// The bundle's digest as `assay build` prints it and findings carry
    /// it: `sha256:` and the SHA-256 of the file without its last 32 bytes
    /// (`head -c -32 BUNDLE | sha256sum`).
    pub bundle: String,
    /// Sorted by name.
    pub packages: Vec<SignedPackage>,
}

/// The digest of a package's sources: the SHA-256 of the lines
/// `sha256sum` prints for them (`HEX  PATH\n`, paths relative to the
/// package folder, sorted bytewise), so that
/// `find . -type f \( -name '*.assay' -o -name package.yaml \) | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum`
/// in the package folder prints the same.
pub fn sources_digest<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut lines: Vec<(&str, String)> = files
        .into_iter()
        .map(|(path, bytes)| (path, assay_model::hex::encode(&Sha256::digest(bytes))))
        .collect();
    lines.sort();
    let mut all = Sha256::new();
    for (path, hex) in lines {
        all.update(format!("{hex}  {path}\n").as_bytes());
    }
    format!("sha256:{}", assay_model::hex::encode(&all.finalize()))
}

/// `sha256:` and the SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", assay_model::hex::encode(&Sha256::digest(bytes)))
}

/// A bundle's digest, computed (never read from its trailer): the SHA-256
/// of all but its last 32 bytes.
pub fn bundle_digest(bundle: &[u8]) -> String {
    sha256(&bundle[..bundle.len().saturating_sub(32)])
}

/// Signs `bundle` (the file's bytes) with `key`, stating `packages`;
/// returns the `.minisig` file's text.
pub fn sign(
    key: &SecretKey,
    bundle: &[u8],
    created: &str,
    packages: Vec<SignedPackage>,
) -> Result<String, String> {
    let mut packages = packages;
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let statement = Statement {
        format: FORMAT.to_owned(),
        key: key.id().to_string(),
        created: created.to_owned(),
        bundle: bundle_digest(bundle),
        packages,
    };
    let comment = serde_json::to_string(&statement).map_err(|e| e.to_string())?;
    if comment.len() > MAX_STATEMENT {
        return Err(format!(
            "the signed statement is {} bytes (its {} packages), more than minisign can check ({MAX_STATEMENT}): \
             sign fewer packages per bundle",
            comment.len(),
            statement.packages.len()
        ));
    }
    let untrusted = format!("assay signature from key {}", key.id());
    let signature = minisign::sign(Some(&key.public), &key.key, bundle, Some(&comment), Some(&untrusted))
        .map_err(|e| e.to_string())?;
    Ok(signature.to_string())
}

/// A signature that verified: which trusted key made it and what it states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub key: KeyId,
    pub statement: Statement,
}

/// Why a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The signature file is not one.
    Malformed(String),
    /// Signed by a key that is not trusted.
    UnknownKey { key: KeyId, trusted: Vec<KeyId> },
    /// The bytes or the statement changed after signing, or the signature
    /// was not made by the key it names.
    Forged,
    /// A signature without a statement of what it covers (a plain minisign
    /// signature, or another format).
    NoStatement(String),
    /// The statement names another key than the one that signed it.
    KeyMismatch { signed: KeyId, stated: String },
    /// The statement's bundle digest is not this file's.
    BundleMismatch { stated: String, actual: String },
    /// The bundle holds packages the statement does not cover, or the
    /// other way round, or other versions.
    PackagesMismatch { stated: Vec<String>, actual: Vec<String> },
    /// A package's sources are not the ones signed.
    SourcesMismatch { package: String, stated: String, actual: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(why) => write!(f, "the signature file is malformed: {why}"),
            Refusal::UnknownKey { key, trusted } if trusted.is_empty() => {
                write!(f, "signed by key {key}, and no key is trusted")
            }
            Refusal::UnknownKey { key, trusted } => {
                let list: Vec<String> = trusted.iter().map(KeyId::to_string).collect();
                write!(f, "signed by key {key}, which is not trusted (trusted: {})", list.join(", "))
            }
            Refusal::Forged => f.write_str(
                "the signature does not verify: the bundle or the signed statement was changed after signing",
            ),
            Refusal::NoStatement(why) => write!(
                f,
                "the signature does not say what it covers (its trusted comment is not an {FORMAT} statement: {why}); sign with `assay build --sign`"
            ),
            Refusal::KeyMismatch { signed, stated } => {
                write!(f, "signed by key {signed} but the statement names key {stated}")
            }
            Refusal::BundleMismatch { stated, actual } => {
                write!(f, "the signature covers bundle {stated}, this file is {actual}")
            }
            Refusal::PackagesMismatch { stated, actual } => write!(
                f,
                "the signature covers {}, the bundle holds {}",
                list_or_none(stated),
                list_or_none(actual)
            ),
            Refusal::SourcesMismatch { package, stated, actual } => {
                write!(f, "the sources of package {package} are {actual}, the signature covers {stated}")
            }
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "no package".into()
    } else {
        items.join(", ")
    }
}

impl std::error::Error for Refusal {}

/// Verifies `signature` (a `.minisig` file's text) over `bundle` (the
/// file's bytes) against `trusted` keys: the signature, then the statement
/// (format, key, bundle digest). What the bundle holds is checked by
/// [`Verified::covers`]. Never panics, whatever the inputs.
pub fn verify(bundle: &[u8], signature: &str, trusted: &[PublicKey]) -> Result<Verified, Refusal> {
    let boxed =
        minisign::SignatureBox::from_string(signature).map_err(|e| Refusal::Malformed(e.to_string()))?;
    let signer = KeyId::from_slice(boxed.keynum());
    let key = trusted.iter().find(|k| k.id() == signer).ok_or_else(|| Refusal::UnknownKey {
        key: signer,
        trusted: trusted.iter().map(PublicKey::id).collect(),
    })?;
    minisign::verify(&key.key, &boxed, std::io::Cursor::new(bundle), true, false, false)
        .map_err(|_| Refusal::Forged)?;
    let comment = boxed.trusted_comment().map_err(|e| Refusal::Malformed(e.to_string()))?;
    let statement: Statement =
        serde_json::from_str(&comment).map_err(|e| Refusal::NoStatement(format!("{comment:?}: {e}")))?;
    if statement.format != FORMAT {
        return Err(Refusal::NoStatement(format!("format {:?}", statement.format)));
    }
    if statement.key != signer.to_string() {
        return Err(Refusal::KeyMismatch { signed: signer, stated: statement.key });
    }
    let actual = bundle_digest(bundle);
    if statement.bundle != actual {
        return Err(Refusal::BundleMismatch { stated: statement.bundle, actual });
    }
    Ok(Verified { key: signer, statement })
}

impl Verified {
    /// Checks that the statement covers exactly `packages` (`(name,
    /// version)` of every package the bundle holds).
    pub fn covers(&self, packages: &[(String, String)]) -> Result<(), Refusal> {
        let mut stated: Vec<String> =
            self.statement.packages.iter().map(|p| format!("{}@{}", p.name, p.version)).collect();
        let mut actual: Vec<String> = packages.iter().map(|(n, v)| format!("{n}@{v}")).collect();
        stated.sort();
        actual.sort();
        if stated != actual {
            return Err(Refusal::PackagesMismatch { stated, actual });
        }
        Ok(())
    }

    /// Checks one package's sources digest against the statement's.
    pub fn covers_sources(&self, package: &str, digest: &str) -> Result<(), Refusal> {
        let stated = self.statement.packages.iter().find(|p| p.name == package).map(|p| p.sources.clone());
        match stated {
            Some(stated) if stated == digest => Ok(()),
            Some(stated) => Err(Refusal::SourcesMismatch {
                package: package.to_owned(),
                stated,
                actual: digest.to_owned(),
            }),
            None => Err(Refusal::PackagesMismatch {
                stated: self.statement.packages.iter().map(|p| p.name.clone()).collect(),
                actual: vec![package.to_owned()],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pair() -> (SecretKey, PublicKey) {
        let files = generate().unwrap();
        (read_secret(&files.secret, None).unwrap(), read_public(&files.public).unwrap())
    }

    fn package(name: &str, version: &str) -> SignedPackage {
        SignedPackage {
            name: name.into(),
            version: version.into(),
            sources: sources_digest([("a.assay", &b"x"[..])]),
        }
    }

    #[test]
    fn a_signature_verifies_and_states_what_it_covers() {
        let (secret, public) = pair();
        let bundle = b"ASSAYBC\0 pretend bundle";
        let sig =
            sign(&secret, bundle, "2026-12-06T18:00:00Z", vec![package("b", "1.0.0"), package("a", "2.1.0")])
                .unwrap();
        let v = verify(bundle, &sig, std::slice::from_ref(&public)).unwrap();
        assert_eq!(v.key, public.id());
        assert_eq!(v.statement.packages.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(v.statement.bundle, bundle_digest(bundle));
        v.covers(&[("b".into(), "1.0.0".into()), ("a".into(), "2.1.0".into())]).unwrap();
        assert!(matches!(v.covers(&[("a".into(), "2.1.0".into())]), Err(Refusal::PackagesMismatch { .. })));
        assert!(matches!(
            v.covers(&[("a".into(), "2.1.1".into()), ("b".into(), "1.0.0".into())]),
            Err(Refusal::PackagesMismatch { .. })
        ));
        v.covers_sources("a", &sources_digest([("a.assay", &b"x"[..])])).unwrap();
        assert!(matches!(
            v.covers_sources("a", &sources_digest([("a.assay", &b"y"[..])])),
            Err(Refusal::SourcesMismatch { .. })
        ));
    }

    #[test]
    fn a_changed_byte_an_unknown_key_and_a_bare_signature_are_refused() {
        let (secret, public) = pair();
        let (_, stranger) = pair();
        let bundle = b"ASSAYBC\0 pretend bundle".to_vec();
        let sig = sign(&secret, &bundle, "2026-12-06T18:00:00Z", vec![package("a", "1.0.0")]).unwrap();
        let mut tampered = bundle.clone();
        tampered[9] ^= 1;
        assert_eq!(verify(&tampered, &sig, std::slice::from_ref(&public)), Err(Refusal::Forged));
        assert!(matches!(verify(&bundle, &sig, &[stranger]), Err(Refusal::UnknownKey { .. })));
        assert!(matches!(verify(&bundle, &sig, &[]), Err(Refusal::UnknownKey { .. })));
        // The statement edited (version raised) after signing.
        let edited = sig.replace("\"1.0.0\"", "\"9.0.0\"");
        assert_ne!(edited, sig);
        assert_eq!(verify(&bundle, &edited, std::slice::from_ref(&public)), Err(Refusal::Forged));
        // A plain minisign signature: valid, but states nothing.
        let bare =
            minisign::sign(Some(&secret.public), &secret.key, &bundle[..], None, None).unwrap().to_string();
        assert!(matches!(verify(&bundle, &bare, &[public]), Err(Refusal::NoStatement(_))));
    }

    #[test]
    fn the_sources_digest_is_sha256sums_output_hashed() {
        // printf 'rule\n' > a.assay; printf 'name: p\n' > package.yaml;
        // sha256sum a.assay package.yaml | sha256sum
        let d = sources_digest([("package.yaml", &b"name: p\n"[..]), ("a.assay", &b"rule\n"[..])]);
        let a = assay_model::hex::encode(&Sha256::digest(b"rule\n"));
        let p = assay_model::hex::encode(&Sha256::digest(b"name: p\n"));
        let listing = format!("{a}  a.assay\n{p}  package.yaml\n");
        assert_eq!(d, sha256(listing.as_bytes()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever arrives as a signature or key file, reading it never panics.
        #[test]
        fn any_signature_or_key_text_is_refused_without_panic(text in "\\PC{0,300}", bundle in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (_, public) = pair();
            let _ = verify(&bundle, &text, &[public]);
            let _ = read_public(&text);
            let _ = read_secret(&text, None);
        }
    }
}
