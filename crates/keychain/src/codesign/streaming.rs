//! Bundles for the algorithms that sign the artifact itself (pure Ed25519, ML-DSA), in
//! constant memory: the artifact streams to the signer through a reader that also hashes and
//! counts it for the bundle, so it is read once (ML-DSA, or a stream Ed25519 holds up to
//! [`crate::MAX_BUFFERED_MESSAGE`]) or twice (Ed25519 over a file), never held whole.

use std::io::{Read, Seek, SeekFrom};

use super::{SignatureBundle, bundle};
use crate::algorithm::{Hash, Hasher, SigningAlgorithm};
use crate::handle::Keychain;
use crate::{Result, Signed};

/// Hashes and counts what is read through it. A seek starts it over, so after the signer's
/// passes over a seekable artifact (each begins with a seek) it holds the last, complete one.
struct HashingReader<R> {
    inner: R,
    hash: Hash,
    hasher: Hasher,
    count: u64,
}

impl<R> HashingReader<R> {
    fn new(inner: R, hash: Hash) -> Self {
        HashingReader {
            inner,
            hash,
            hasher: hash.hasher(),
            count: 0,
        }
    }

    fn finish(self) -> (Vec<u8>, u64) {
        (self.hasher.finish(), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for HashingReader<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let at = self.inner.seek(to)?;
        self.hasher = self.hash.hasher();
        self.count = 0;
        Ok(at)
    }
}

/// The bundle of a message algorithm over a stream (see [`Keychain::sign_reader`]).
pub(super) async fn sign_stream(
    keychain: &Keychain,
    key: &str,
    artifact_name: &str,
    reader: impl Read + Send,
    algorithm: SigningAlgorithm,
) -> Result<SignatureBundle> {
    let mut tee = HashingReader::new(reader, algorithm.hash());
    let signed = keychain.sign_reader(key, &mut tee, Some(algorithm)).await?;
    finish(keychain, key, artifact_name, signed, tee).await
}

/// The bundle of a message algorithm over a seekable artifact (see
/// [`Keychain::sign_seekable`]).
pub(super) async fn sign_seekable(
    keychain: &Keychain,
    key: &str,
    artifact_name: &str,
    reader: impl Read + Seek + Send,
    algorithm: SigningAlgorithm,
) -> Result<SignatureBundle> {
    let mut tee = HashingReader::new(reader, algorithm.hash());
    let signed = keychain
        .sign_seekable(key, &mut tee, Some(algorithm))
        .await?;
    finish(keychain, key, artifact_name, signed, tee).await
}

async fn finish<R>(
    keychain: &Keychain,
    key: &str,
    artifact_name: &str,
    signed: Signed,
    tee: HashingReader<R>,
) -> Result<SignatureBundle> {
    // A backend that signs short messages only may have signed with Ed25519ph instead, over
    // the same SHA-512 (the note says so); the bundle names what was signed.
    let (digest, size) = tee.finish();
    bundle(keychain, key, artifact_name, signed, digest, size).await
}
