//! Code signing: detached signatures of artifacts of any size (hashed as they stream, in
//! constant memory) and a self-contained JSON signature bundle that can be checked offline,
//! with no backend.
//!
//! The raw signature is what `openssl dgst -verify` (and `openssl pkeyutl -verify -rawin` for
//! Ed25519) accepts; the bundle adds the artifact digest, the algorithm, the key and the time.
//! The exception is ED25519_PH_SHA_512 (chosen, or the fallback of pure Ed25519 past a
//! backend's message limit): as in AWS KMS, it signs the artifact's SHA-512 digest as the
//! Ed25519ph message, which OpenSSL 3.0 cannot check (docs/AWSKMS.md says how to).
//!
//! # What a verified bundle establishes
//!
//! The signature covers the artifact's bytes (through its digest) and nothing else, so that it
//! stays a plain signature OpenSSL checks. [`SignatureBundle::verify`] therefore reports only
//! what it checked: the artifact's digest and size as it computed them, the algorithm the
//! signature verified under, and the signer's key (trusted only when pinned). The bundle's
//! `artifact` name, `key` reference and `signed_at` time are **not** covered by the signature:
//! anyone can change them without invalidating the bundle, so they are informational, never
//! part of a [`BundleVerdict`], and `keychain verify-bundle` does not report them.

use std::io::{Read, Seek};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::algorithm::{Message, SigningAlgorithm};
use crate::handle::{Keychain, hash_reader};
use crate::public_key::PublicKey;
use crate::text::hex_lower;
use crate::{Error, Result, Signed};

mod streaming;

/// The bundle format name and version.
pub const BUNDLE_FORMAT: &str = "keychain-signature-bundle/v1";
/// The largest bundle [`SignatureBundle::from_json`] accepts.
pub const MAX_BUNDLE_LEN: usize = 1024 * 1024;

/// A detached signature with everything needed to check it offline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureBundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The artifact's name as given when signing. Not covered by the signature: informational
    /// only, and never reported by [`SignatureBundle::verify`].
    pub artifact: String,
    /// The artifact's size in bytes.
    pub size: u64,
    /// The hash used for the digest (`SHA_256`, …); for pure Ed25519 and ML-DSA, SHA-512 over
    /// the artifact, recorded for integrity checks only (they sign the bytes themselves).
    pub digest_algorithm: String,
    /// The artifact's digest, lowercase hex.
    pub digest: String,
    /// The signing algorithm (KMS spelling).
    pub algorithm: SigningAlgorithm,
    /// The key reference the signer used. Not covered by the signature: informational only
    /// (the signer is established by [`SignatureBundle::key_thumbprint`] and a pinned key).
    pub key: String,
    /// The signer's public key, SPKI PEM.
    pub public_key: String,
    /// The signer's RFC 7638 JWK thumbprint (a stable key fingerprint).
    pub key_thumbprint: String,
    /// The signature, base64 (DER for ECDSA).
    pub signature: String,
    /// When it was signed, seconds since the Unix epoch, by the signer's clock. Not covered by
    /// the signature: informational only.
    pub signed_at: u64,
}

/// Why a bundle verified, and whose key it was: only what [`SignatureBundle::verify`] checked
/// (see the [module docs](crate::codesign) for what the signature covers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleVerdict {
    /// Whether the signature over the artifact is valid.
    pub valid: bool,
    /// Whether the key was one the caller trusted (`false` when only the bundle's own key was
    /// used: that proves integrity, not who signed).
    pub trusted_key: bool,
    /// The signer's key thumbprint.
    pub key_thumbprint: String,
    /// The algorithm the signature was checked under (its hash made [`BundleVerdict::digest`]).
    pub algorithm: SigningAlgorithm,
    /// The artifact's digest as computed from the artifact given, lowercase hex.
    pub digest: String,
    /// The artifact's size in bytes as read.
    pub size: u64,
}

/// A digest of an artifact with its size, made in one streaming pass.
struct ArtifactDigest {
    digest: Vec<u8>,
    size: u64,
    /// For pure Ed25519 and ML-DSA only: the artifact itself (they sign the bytes).
    bytes: Option<Vec<u8>>,
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

fn digest_artifact(reader: impl Read, algorithm: SigningAlgorithm) -> Result<ArtifactDigest> {
    let hash = algorithm.hash();
    let mut counting = CountingReader {
        inner: reader,
        count: 0,
    };
    if !algorithm.accepts_digest() {
        // Pure Ed25519 and ML-DSA sign the artifact itself.
        let mut bytes = Vec::new();
        counting
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading the artifact", e))?;
        return Ok(ArtifactDigest {
            digest: hash.digest(&bytes),
            size: counting.count,
            bytes: Some(bytes),
        });
    }
    let digest = hash_reader(hash, &mut counting)?;
    Ok(ArtifactDigest {
        digest,
        size: counting.count,
        bytes: None,
    })
}

/// Signs an artifact and returns the bundle. The signature alone
/// ([`SignatureBundle::signature_bytes`]) is what `openssl dgst -verify` checks. The artifact
/// is read in constant memory: hashed as it streams, or for pure Ed25519 and ML-DSA streamed
/// to the signer (pure Ed25519 holds a stream up to [`crate::MAX_BUFFERED_MESSAGE`] bytes:
/// give a file to [`sign_artifact_seekable`]).
pub async fn sign_artifact(
    keychain: &Keychain,
    key: &str,
    artifact_name: &str,
    reader: impl Read + Send,
    algorithm: Option<SigningAlgorithm>,
) -> Result<SignatureBundle> {
    let algorithm = match algorithm {
        Some(a) => a,
        None => keychain.default_signing_algorithm(key).await?,
    };
    if !algorithm.accepts_digest() {
        return streaming::sign_stream(keychain, key, artifact_name, reader, algorithm).await;
    }
    let artifact = digest_artifact(reader, algorithm)?;
    let signed = keychain
        .sign_digest(key, &artifact.digest, Some(algorithm))
        .await?;
    bundle(
        keychain,
        key,
        artifact_name,
        signed,
        artifact.digest,
        artifact.size,
    )
    .await
}

/// [`sign_artifact`] for an artifact that can seek (a file): pure Ed25519 reads it twice
/// from its current position, in constant memory, whatever its size.
pub async fn sign_artifact_seekable(
    keychain: &Keychain,
    key: &str,
    artifact_name: &str,
    reader: impl Read + Seek + Send,
    algorithm: Option<SigningAlgorithm>,
) -> Result<SignatureBundle> {
    let algorithm = match algorithm {
        Some(a) => a,
        None => keychain.default_signing_algorithm(key).await?,
    };
    if algorithm.accepts_digest() {
        return sign_artifact(keychain, key, artifact_name, reader, Some(algorithm)).await;
    }
    streaming::sign_seekable(keychain, key, artifact_name, reader, algorithm).await
}

/// The bundle of a signature over an artifact of `digest` (made with the algorithm's hash)
/// and `size`.
async fn bundle(
    keychain: &Keychain,
    key: &str,
    artifact_name: &str,
    signed: Signed,
    digest: Vec<u8>,
    size: u64,
) -> Result<SignatureBundle> {
    let public_key = keychain.public_key(key).await?;
    let signed_at = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(SignatureBundle {
        format: BUNDLE_FORMAT.to_string(),
        artifact: artifact_name.to_string(),
        size,
        digest_algorithm: signed.algorithm.hash().to_string(),
        digest: hex_lower(&digest),
        algorithm: signed.algorithm,
        key: key.to_string(),
        public_key: public_key.to_pem(),
        key_thumbprint: public_key.jwk_thumbprint(),
        signature: B64.encode(signed.signature),
        signed_at,
    })
}

impl SignatureBundle {
    /// Parses a bundle (at most [`MAX_BUNDLE_LEN`] bytes), checking its format.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        if json.len() > MAX_BUNDLE_LEN {
            return Err(Error::invalid_input(format!(
                "signature bundle is larger than {MAX_BUNDLE_LEN} bytes"
            )));
        }
        let bundle: SignatureBundle = serde_json::from_slice(json)
            .map_err(|e| Error::invalid_input(format!("not a signature bundle: {e}")))?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(Error::invalid_input(format!(
                "unsupported bundle format {:?} (expected {BUNDLE_FORMAT})",
                bundle.format
            )));
        }
        Ok(bundle)
    }

    /// The bundle as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The raw signature bytes.
    pub fn signature_bytes(&self) -> Result<Vec<u8>> {
        B64.decode(self.signature.trim())
            .map_err(|e| Error::invalid_input(format!("bundle signature is not base64: {e}")))
    }

    /// The signer's public key from the bundle.
    pub fn public_key(&self) -> Result<PublicKey> {
        PublicKey::from_pem(&self.public_key)
    }

    /// Checks the bundle against an artifact, offline. With `trusted` keys the signature must
    /// be by one of them (matched by thumbprint); with none, the bundle's own key is used and
    /// the verdict says the signer is not established. A digest or size mismatch is
    /// `valid: false`; a malformed bundle is an error.
    pub fn verify(&self, artifact: impl Read, trusted: &[PublicKey]) -> Result<BundleVerdict> {
        let embedded = self.public_key()?;
        let thumbprint = embedded.jwk_thumbprint();
        if thumbprint != self.key_thumbprint {
            return Err(Error::invalid_input(
                "the bundle's key thumbprint does not match its public key",
            ));
        }
        let signature = self.signature_bytes()?;
        let artifact = digest_artifact(artifact, self.algorithm)?;
        let verdict = |valid, trusted_key| BundleVerdict {
            valid,
            trusted_key,
            key_thumbprint: thumbprint.clone(),
            algorithm: self.algorithm,
            digest: hex_lower(&artifact.digest),
            size: artifact.size,
        };
        let (key, trusted_key) = if trusted.is_empty() {
            (embedded, false)
        } else {
            match trusted.iter().find(|k| k.jwk_thumbprint() == thumbprint) {
                Some(k) => (k.clone(), true),
                None => return Ok(verdict(false, false)),
            }
        };
        let matches = artifact.size == self.size
            && hex_lower(&artifact.digest) == self.digest.to_ascii_lowercase()
            && self.digest_algorithm == self.algorithm.hash().to_string();
        let valid = matches
            && match &artifact.bytes {
                Some(bytes) => key.verify(Message::Raw(bytes), &signature, self.algorithm)?,
                None => key.verify(
                    Message::Digest(&artifact.digest),
                    &signature,
                    self.algorithm,
                )?,
            };
        Ok(verdict(valid, trusted_key))
    }
}
