//! Signing and verifying everything a reader yields, in constant memory whatever the algorithm.
//!
//! Digest algorithms hash the input as it streams. Pure Ed25519 and ML-DSA sign the message
//! itself: the backend streams it ([`crate::Backend::sign_source`]) — ML-DSA in one pass,
//! Ed25519 in two, so a stream that cannot be read twice (a pipe) is held in memory up to
//! [`crate::MAX_BUFFERED_MESSAGE`] bytes and refused past that. Verifying is one pass for every
//! algorithm, with the public key, locally.

use std::io::{Read, Seek};

use super::{Keychain, Signed, default_signing_algorithm_of, hash_reader};
use crate::algorithm::{Hash, Message, SigningAlgorithm};
use crate::key::KeyInfo;
use crate::key_ref::KeyRef;
use crate::stream::{MessageSource, buffer_stream};
use crate::{Error, Result};

impl Keychain {
    /// Signs everything `reader` yields with `algorithm` or the key's default, in constant
    /// memory: digest algorithms hash it as it streams, ML-DSA streams it into its μ. Pure
    /// Ed25519 reads its message twice, so a reader that cannot seek is held in memory, up to
    /// [`crate::MAX_BUFFERED_MESSAGE`] bytes (more is [`Error::InvalidInput`]; give a file to
    /// [`Keychain::sign_seekable`] instead). On a backend that signs short messages only (AWS
    /// KMS: 4096 bytes), longer input falls back to Ed25519ph for Ed25519 (the note says so);
    /// for ML-DSA its external μ is computed locally, in one pass, and the backend signs those
    /// 64 bytes (KMS `EXTERNAL_MU`): the same kind of signature, of the whole input.
    pub async fn sign_reader(
        &self,
        key: &str,
        reader: impl Read + Send,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Signed> {
        let key = KeyRef::parse(key)?;
        let (info, algorithm) = self.signing_key(&key, algorithm).await?;
        self.sign_reader_ref(&key, &info, reader, algorithm).await
    }

    /// [`Keychain::sign_reader`] for a reader that can seek (a file): pure Ed25519 reads it
    /// twice from its current position, in constant memory, whatever its size. A reader whose
    /// seeks fail (a pipe opened as a file) is signed as [`Keychain::sign_reader`] signs it.
    pub async fn sign_seekable(
        &self,
        key: &str,
        mut reader: impl Read + Seek + Send,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Signed> {
        let key = KeyRef::parse(key)?;
        let (info, algorithm) = self.signing_key(&key, algorithm).await?;
        let two_passes = algorithm == SigningAlgorithm::Ed25519Sha512
            && self.backend.capabilities().max_raw_message.is_none();
        if !two_passes || reader.stream_position().is_err() {
            return self.sign_reader_ref(&key, &info, reader, algorithm).await;
        }
        let mut source =
            MessageSource::seekable(&mut reader).map_err(|e| Error::io("reading the input", e))?;
        self.sign_source(&key, &info, &mut source, algorithm).await
    }

    /// Verifies a signature over everything `reader` yields, in one pass and constant memory
    /// for every algorithm (see [`Keychain::sign_reader`]).
    pub async fn verify_reader(
        &self,
        key: &str,
        mut reader: impl Read + Send,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        let key = KeyRef::parse(key)?;
        if algorithm.accepts_digest() {
            let digest = hash_reader(algorithm.hash(), reader)?;
            return self
                .verify_ref(&key, Message::Digest(&digest), signature, algorithm)
                .await;
        }
        let public_key = self.verifying_key(&key, algorithm).await?;
        public_key.verify_source(&mut MessageSource::once(&mut reader), signature, algorithm)
    }

    /// The key's metadata and the algorithm to sign with: `algorithm`, or the key's default.
    async fn signing_key(
        &self,
        key: &KeyRef,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<(KeyInfo, SigningAlgorithm)> {
        let info = self.info(key).await?;
        let algorithm = match algorithm {
            Some(a) => a,
            None => default_signing_algorithm_of(&info)?,
        };
        Ok((info, algorithm))
    }

    /// [`Keychain::sign_reader`] once the key is parsed and its algorithm chosen.
    async fn sign_reader_ref(
        &self,
        key: &KeyRef,
        info: &KeyInfo,
        mut reader: impl Read + Send,
        algorithm: SigningAlgorithm,
    ) -> Result<Signed> {
        if algorithm.accepts_digest() {
            let digest = hash_reader(algorithm.hash(), reader)?;
            return self
                .signed(key, info, Message::Digest(&digest), algorithm)
                .await;
        }
        if let Some(limit) = self.backend.capabilities().max_raw_message {
            return self
                .sign_limited(key, info, &mut reader, algorithm, limit)
                .await;
        }
        if algorithm == SigningAlgorithm::Ed25519Sha512 {
            let data = buffer_stream(&mut reader)?;
            let mut source = MessageSource::memory(&data);
            return self.sign_source(key, info, &mut source, algorithm).await;
        }
        let mut source = MessageSource::once(&mut reader);
        self.sign_source(key, info, &mut source, algorithm).await
    }

    /// Has the backend stream the message; a backend that cannot gets it in memory.
    async fn sign_source(
        &self,
        key: &KeyRef,
        info: &KeyInfo,
        source: &mut MessageSource<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Signed> {
        match self.backend.sign_source(key, source, algorithm).await {
            Err(Error::Unsupported { .. }) => {
                let mut data = Vec::new();
                source.pass(&mut |chunk| data.extend_from_slice(chunk))?;
                self.signed(key, info, Message::Raw(&data), algorithm).await
            }
            other => Ok(Signed {
                signature: other?,
                algorithm,
                note: None,
                key_id: info.key_id.clone(),
            }),
        }
    }

    /// A message algorithm on a backend that signs at most `limit` bytes of message: the
    /// message itself when it fits; otherwise ML-DSA's external μ (streamed locally with the
    /// public key) for ML-DSA, and Ed25519ph over its SHA-512 (hashed as it streams) for
    /// Ed25519. At most `limit + 1` bytes are held.
    async fn sign_limited(
        &self,
        key: &KeyRef,
        info: &KeyInfo,
        reader: &mut (dyn Read + Send),
        algorithm: SigningAlgorithm,
        limit: usize,
    ) -> Result<Signed> {
        let mut head = Vec::new();
        (&mut *reader)
            .take(limit as u64 + 1)
            .read_to_end(&mut head)
            .map_err(|e| Error::io("reading the input", e))?;
        if head.len() <= limit {
            return self.signed(key, info, Message::Raw(&head), algorithm).await;
        }
        let backend = self.backend.name();
        if algorithm == SigningAlgorithm::MlDsaShake256 {
            // μ is streamed locally with the public key; the backend signs 64 bytes, and the
            // signature is an ordinary ML-DSA signature of the whole input.
            let public_key = self.public_key_of(key).await?;
            let mut rest = head.as_slice().chain(reader);
            let mu = public_key.ml_dsa_external_mu(&mut MessageSource::once(&mut rest))?;
            let mut signed = self
                .signed(key, info, Message::ExternalMu(&mu), algorithm)
                .await?;
            signed.note = Some(format!(
                "the {backend} backend signs at most {limit} bytes of message; sent ML-DSA's \
                 external μ of the input (computed locally) instead"
            ));
            return Ok(signed);
        }
        if algorithm != SigningAlgorithm::Ed25519Sha512 {
            return Err(Error::invalid_input(format!(
                "{algorithm} signs the message itself and the {backend} backend signs at most \
                 {limit} bytes of message; this input is longer"
            )));
        }
        let fallback = SigningAlgorithm::Ed25519PhSha512;
        let digest = hash_reader(Hash::Sha512, head.as_slice().chain(reader))?;
        let mut signed = self
            .signed(key, info, Message::Digest(&digest), fallback)
            .await?;
        signed.note = Some(format!(
            "the {backend} backend signs at most {limit} bytes with pure Ed25519; signed the \
             SHA-512 digest with ED25519_PH_SHA_512 instead"
        ));
        Ok(signed)
    }
}
