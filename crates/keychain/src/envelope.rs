//! Envelope encryption: a data key from the backend, AES-256-GCM over the data in chunks, so
//! input of any size is encrypted and decrypted in constant memory. The format is described
//! in `docs/ENVELOPE.md`.
//!
//! The backend is asked once per file (to make or unwrap the data key); the streaming work is
//! synchronous and local, so an async caller runs it on a blocking thread:
//!
//! ```no_run
//! # async fn demo(kc: keychain::Keychain) -> keychain::Result<()> {
//! use keychain::envelope::{EnvelopeHeader, SealingKey};
//! let context = keychain::EncryptionContext::from([("app".to_string(), "billing".to_string())]);
//! let key = keychain::KeyRef::parse("data-key")?;
//! let sealing = SealingKey::generate(kc.backend().as_ref(), &key, &context).await?;
//! let mut out = Vec::new();
//! sealing.seal(&b"hello"[..], &mut out)?;
//!
//! let mut input = &out[..];
//! let header = EnvelopeHeader::read(&mut input)?;
//! let opening = header.unwrap_key(kc.backend().as_ref(), &context).await?;
//! let mut plain = Vec::new();
//! opening.open(input, &mut plain)?;
//! assert_eq!(plain, b"hello");
//! # Ok(()) }
//! ```

use std::io::{Read, Write};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::algorithm::{DataKeySpec, EncryptionAlgorithm, Hash};
use crate::backend::Backend;
use crate::data_key::EncryptionContext;
use crate::key_ref::KeyRef;
use crate::random::random_bytes;
use crate::secret::Secret;
use crate::{Error, Result};

/// The first bytes of every envelope file.
pub const MAGIC: &[u8; 6] = b"KCENV\x01";
/// The bytes that mark a keychain envelope of any version: a file that starts with them is
/// an envelope, and any damage after them is an integrity failure ([`Error::Crypto`]).
pub const MAGIC_PREFIX: &[u8; 5] = b"KCENV";
/// Plaintext bytes per chunk unless chosen otherwise.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// The largest chunk a reader accepts (bounds memory on hostile input).
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
const ALG_AES_256_GCM_CHUNKED: u8 = 1;
const TAG_LEN: usize = 16;
const NONCE_PREFIX_LEN: usize = 7;
const MAX_KEY_ID: usize = 2048;
const MAX_WRAPPED_KEY: usize = 8192;
const MAX_CONTEXT_PAIRS: usize = 64;
const MAX_CONTEXT_ITEM: usize = 4096;

/// The most plaintext a backend encrypts directly (the AWS KMS `Encrypt` limit, which every
/// backend keeps); more than this goes in an envelope.
pub const MAX_DIRECT_PLAINTEXT: usize = 4096;
/// The largest direct ciphertext read back (AWS KMS ciphertexts are at most 6144 bytes; RSA-4096
/// OAEP ones 512): anything larger that is not an envelope is not a keychain ciphertext.
pub const MAX_DIRECT_CIPHERTEXT: usize = 64 * 1024;

/// How data is encrypted under a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An envelope file: a data key from the backend, AES-256-GCM in chunks, any size in
    /// constant memory, the encryption context bound to every chunk.
    Envelope,
    /// The backend encrypts the data itself (at most [`MAX_DIRECT_PLAINTEXT`] bytes) with this
    /// algorithm.
    Direct(EncryptionAlgorithm),
}

impl Format {
    /// The format for a key whose natural encryption algorithm is `algorithm`
    /// ([`crate::Keychain::default_encryption_algorithm`]): symmetric keys make envelopes unless
    /// `direct` is asked for; other keys (RSA, OAEP) can only encrypt directly.
    pub fn for_algorithm(algorithm: EncryptionAlgorithm, direct: bool) -> Format {
        if algorithm == EncryptionAlgorithm::SymmetricDefault && !direct {
            Format::Envelope
        } else {
            Format::Direct(algorithm)
        }
    }
}

/// Whether a ciphertext is an envelope, from its first bytes (at least [`MAGIC`]'s length, or
/// the whole input when it is shorter): anything that starts with [`MAGIC_PREFIX`] is one, of
/// whatever version, so damage after the prefix is reported as damage ([`Error::Crypto`]), not
/// as "not a ciphertext". Anything else can only be a direct ciphertext.
pub fn is_envelope(prefix: &[u8]) -> bool {
    prefix.starts_with(MAGIC_PREFIX)
}

/// The header of an envelope file: everything needed to decrypt it but the backend key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeHeader {
    /// The key id of the backend key that wrapped the data key.
    pub key_id: String,
    /// The data key, encrypted under the backend key.
    pub wrapped_key: Vec<u8>,
    /// The encryption context (bound to the wrapped key and to every chunk).
    pub context: EncryptionContext,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    encoded: Vec<u8>,
}

fn put_u16_bytes(out: &mut Vec<u8>, b: &[u8]) -> Result<()> {
    let len = u16::try_from(b.len())
        .map_err(|_| Error::invalid_input("envelope header field too long"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b);
    Ok(())
}

/// A reader of header fields with limits, for hostile input.
struct FieldReader<R> {
    inner: R,
    consumed: Vec<u8>,
}

impl<R: Read> FieldReader<R> {
    fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.inner.read_exact(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::crypto("envelope header is truncated")
            } else {
                Error::io("reading the envelope header", e)
            }
        })?;
        self.consumed.extend_from_slice(&buf);
        Ok(buf)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, max: usize, what: &str) -> Result<String> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(Error::crypto(format!(
                "envelope {what} is too long ({len} bytes)"
            )));
        }
        String::from_utf8(self.bytes(len)?)
            .map_err(|_| Error::crypto(format!("envelope {what} is not UTF-8")))
    }
}

impl EnvelopeHeader {
    fn new(
        key_id: String,
        wrapped_key: Vec<u8>,
        context: EncryptionContext,
        chunk_size: u32,
    ) -> Result<Self> {
        if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
            return Err(Error::invalid_input(format!(
                "chunk size must be 1 to {MAX_CHUNK_SIZE} bytes"
            )));
        }
        if context.len() > MAX_CONTEXT_PAIRS
            || context
                .iter()
                .any(|(k, v)| k.len() > MAX_CONTEXT_ITEM || v.len() > MAX_CONTEXT_ITEM)
        {
            return Err(Error::invalid_input(format!(
                "encryption context is limited to {MAX_CONTEXT_PAIRS} pairs of at most \
                 {MAX_CONTEXT_ITEM} bytes"
            )));
        }
        let prefix: [u8; NONCE_PREFIX_LEN] = random_bytes(NONCE_PREFIX_LEN)?
            .try_into()
            .map_err(|_| Error::crypto("bad nonce prefix"))?;
        let mut h = EnvelopeHeader {
            key_id,
            wrapped_key,
            context,
            chunk_size,
            nonce_prefix: prefix,
            encoded: Vec::new(),
        };
        h.encoded = h.encode()?;
        Ok(h)
    }

    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = MAGIC.to_vec();
        out.push(ALG_AES_256_GCM_CHUNKED);
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        out.extend_from_slice(&self.nonce_prefix);
        if self.key_id.len() > MAX_KEY_ID {
            return Err(Error::invalid_input(
                "key id too long for an envelope header",
            ));
        }
        put_u16_bytes(&mut out, self.key_id.as_bytes())?;
        if self.wrapped_key.len() > MAX_WRAPPED_KEY {
            return Err(Error::invalid_input("wrapped data key too long"));
        }
        put_u16_bytes(&mut out, &self.wrapped_key)?;
        let pairs = u16::try_from(self.context.len())
            .map_err(|_| Error::invalid_input("too many encryption context pairs"))?;
        out.extend_from_slice(&pairs.to_be_bytes());
        for (k, v) in &self.context {
            put_u16_bytes(&mut out, k.as_bytes())?;
            put_u16_bytes(&mut out, v.as_bytes())?;
        }
        Ok(out)
    }

    /// Reads and validates a header, leaving `reader` at the first chunk.
    pub fn read(reader: &mut impl Read) -> Result<Self> {
        let mut r = FieldReader {
            inner: reader,
            consumed: Vec::new(),
        };
        let magic = r.bytes(MAGIC.len())?;
        if !magic.starts_with(MAGIC_PREFIX) {
            return Err(Error::crypto("not a keychain envelope (bad magic)"));
        }
        if magic != MAGIC {
            return Err(Error::crypto(format!(
                "unknown envelope version {} (this keychain reads version {}): the file is \
                 damaged or was made by a newer keychain",
                magic[MAGIC_PREFIX.len()],
                MAGIC[MAGIC_PREFIX.len()]
            )));
        }
        let alg = r.u8()?;
        if alg != ALG_AES_256_GCM_CHUNKED {
            return Err(Error::crypto(format!("unknown envelope algorithm {alg}")));
        }
        let chunk_size = r.u32()?;
        if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
            return Err(Error::crypto(format!(
                "bad envelope chunk size {chunk_size}"
            )));
        }
        let nonce_prefix: [u8; NONCE_PREFIX_LEN] = r
            .bytes(NONCE_PREFIX_LEN)?
            .try_into()
            .map_err(|_| Error::crypto("bad nonce prefix"))?;
        let key_id = r.string(MAX_KEY_ID, "key id")?;
        let wrapped_len = usize::from(r.u16()?);
        if wrapped_len > MAX_WRAPPED_KEY {
            return Err(Error::crypto("envelope wrapped key is too long"));
        }
        let wrapped_key = r.bytes(wrapped_len)?;
        let pairs = usize::from(r.u16()?);
        if pairs > MAX_CONTEXT_PAIRS {
            return Err(Error::crypto("envelope has too many context pairs"));
        }
        let mut context = EncryptionContext::new();
        for _ in 0..pairs {
            let k = r.string(MAX_CONTEXT_ITEM, "context key")?;
            let v = r.string(MAX_CONTEXT_ITEM, "context value")?;
            if context.insert(k, v).is_some() {
                return Err(Error::crypto("envelope context repeats a key"));
            }
        }
        Ok(EnvelopeHeader {
            key_id,
            wrapped_key,
            context,
            chunk_size,
            nonce_prefix,
            encoded: r.consumed,
        })
    }

    /// Unwraps the data key with the backend. `expected_context` must equal the header's:
    /// a different context is refused before the backend is asked.
    pub async fn unwrap_key(
        &self,
        backend: &dyn Backend,
        expected_context: &EncryptionContext,
    ) -> Result<OpeningKey> {
        if expected_context != &self.context {
            let mut differing: Vec<&str> = self
                .context
                .keys()
                .chain(expected_context.keys())
                .filter(|k| self.context.get(*k) != expected_context.get(*k))
                .map(String::as_str)
                .collect();
            differing.dedup();
            return Err(Error::Crypto {
                message: format!(
                    "the encryption context differs from the one the data was encrypted with \
                     (keys: {})",
                    differing.join(", ")
                ),
            });
        }
        let unwrap = async {
            let key = KeyRef::key_id(&self.key_id)?;
            backend
                .decrypt(
                    Some(&key),
                    &self.wrapped_key,
                    EncryptionAlgorithm::SymmetricDefault,
                    &self.context,
                )
                .await
        };
        // The header is authenticated only once the data key is unwrapped. A backend that does
        // not know the key it names, or does not take the wrapped key as a ciphertext of that
        // key, is looking at an altered header (or at a file encrypted with another backend):
        // an integrity failure like any other damage to the file, not a bad argument.
        let data_key = unwrap.await.map_err(|e| match e {
            Error::NotFound { .. } | Error::InvalidInput { .. } => Error::Crypto {
                message: format!(
                    "cannot unwrap the envelope's data key ({e}): the envelope header is \
                     damaged, or the file was encrypted with a key this backend does not have \
                     (key id {:?})",
                    self.key_id
                ),
            },
            other => other,
        })?;
        Ok(OpeningKey {
            cipher: ChunkCipher::new(&data_key, self)?,
        })
    }

    /// The serialised header.
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }
}

/// AES-256-GCM over chunks, with the STREAM nonce construction: prefix ‖ counter ‖ last-flag.
struct ChunkCipher {
    key: LessSafeKey,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    aad: Vec<u8>,
    chunk_size: usize,
}

impl ChunkCipher {
    fn new(data_key: &Secret, header: &EnvelopeHeader) -> Result<Self> {
        let key = UnboundKey::new(&AES_256_GCM, data_key.expose())
            .map_err(|_| Error::crypto("the data key is not an AES-256 key"))?;
        Ok(ChunkCipher {
            key: LessSafeKey::new(key),
            nonce_prefix: header.nonce_prefix,
            // Every chunk authenticates the whole header (key id, wrapped key, context).
            aad: Hash::Sha256.digest(header.as_bytes()),
            chunk_size: header.chunk_size as usize,
        })
    }

    fn nonce(&self, counter: u64, last: bool) -> Result<Nonce> {
        let counter = u32::try_from(counter)
            .map_err(|_| Error::invalid_input("input too large for one envelope"))?;
        let mut n = [0u8; 12];
        n[..NONCE_PREFIX_LEN].copy_from_slice(&self.nonce_prefix);
        n[NONCE_PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
        n[11] = u8::from(last);
        Ok(Nonce::assume_unique_for_key(n))
    }
}

/// Fills `buf` from `reader` as far as it goes; returns how many bytes were read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("reading the input", e)),
        }
    }
    Ok(filled)
}

/// What a seal or open did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    /// Plaintext bytes processed.
    pub plaintext_bytes: u64,
    /// Chunks processed.
    pub chunks: u64,
}

/// A fresh data key and its header, ready to encrypt one stream.
pub struct SealingKey {
    header: EnvelopeHeader,
    cipher: ChunkCipher,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("key_id", &self.header.key_id)
            .field("chunk_size", &self.header.chunk_size)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    /// Asks the backend for a data key under `key` (a symmetric key), bound to `context`.
    pub async fn generate(
        backend: &dyn Backend,
        key: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<Self> {
        Self::generate_with_chunk_size(backend, key, context, DEFAULT_CHUNK_SIZE).await
    }

    /// [`SealingKey::generate`] with a chosen chunk size (1 byte to 16 MiB).
    pub async fn generate_with_chunk_size(
        backend: &dyn Backend,
        key: &KeyRef,
        context: &EncryptionContext,
        chunk_size: u32,
    ) -> Result<Self> {
        let data_key = backend
            .generate_data_key(key, DataKeySpec::Aes256, context)
            .await?;
        let header = EnvelopeHeader::new(
            data_key.key_id.clone(),
            data_key.ciphertext.clone(),
            context.clone(),
            chunk_size,
        )?;
        let cipher = ChunkCipher::new(&data_key.plaintext, &header)?;
        Ok(SealingKey { header, cipher })
    }

    /// The header this key writes.
    pub fn header(&self) -> &EnvelopeHeader {
        &self.header
    }

    /// Encrypts everything `reader` yields into `writer` (header first). Memory use is two
    /// chunks whatever the input size. Consumes the key: one data key, one stream.
    pub fn seal(self, mut reader: impl Read, mut writer: impl Write) -> Result<StreamSummary> {
        let write_err = |e| Error::io("writing the ciphertext", e);
        writer
            .write_all(self.header.as_bytes())
            .map_err(write_err)?;
        let size = self.cipher.chunk_size;
        let mut current = vec![0u8; size + TAG_LEN];
        let mut next = vec![0u8; size + TAG_LEN];
        let mut current_len = read_full(&mut reader, &mut current[..size])?;
        let mut counter = 0u64;
        let mut total = 0u64;
        loop {
            // Look ahead one chunk: the last chunk is marked, so truncation is detected.
            let next_len = if current_len == size {
                read_full(&mut reader, &mut next[..size])?
            } else {
                0
            };
            let last = next_len == 0;
            let tag = self
                .cipher
                .key
                .seal_in_place_separate_tag(
                    self.cipher.nonce(counter, last)?,
                    Aad::from(&self.cipher.aad),
                    &mut current[..current_len],
                )
                .map_err(|_| Error::crypto("AES-GCM encryption failed"))?;
            writer
                .write_all(&current[..current_len])
                .map_err(write_err)?;
            writer.write_all(tag.as_ref()).map_err(write_err)?;
            total += current_len as u64;
            counter += 1;
            if last {
                break;
            }
            std::mem::swap(&mut current, &mut next);
            current_len = next_len;
        }
        writer.flush().map_err(write_err)?;
        Ok(StreamSummary {
            plaintext_bytes: total,
            chunks: counter,
        })
    }
}

/// An unwrapped data key, ready to decrypt the chunks after its header.
pub struct OpeningKey {
    cipher: ChunkCipher,
}

impl std::fmt::Debug for OpeningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpeningKey").finish_non_exhaustive()
    }
}

impl OpeningKey {
    /// Decrypts the chunks `reader` yields (after the header) into `writer`. Any truncation,
    /// reordering, tampering or trailing data is an error; on error the caller must discard
    /// what was written so far (the CLI writes to a temporary file and renames on success).
    pub fn open(self, mut reader: impl Read, mut writer: impl Write) -> Result<StreamSummary> {
        let write_err = |e| Error::io("writing the plaintext", e);
        let size = self.cipher.chunk_size + TAG_LEN;
        let mut current = vec![0u8; size];
        let mut next = vec![0u8; size];
        let mut current_len = read_full(&mut reader, &mut current)?;
        let mut counter = 0u64;
        let mut total = 0u64;
        loop {
            if current_len < TAG_LEN {
                return Err(Error::crypto(
                    "the ciphertext is truncated (a chunk is shorter than its tag)",
                ));
            }
            let next_len = if current_len == size {
                read_full(&mut reader, &mut next)?
            } else {
                0
            };
            let last = next_len == 0;
            let plain = self
                .cipher
                .key
                .open_in_place(
                    self.cipher.nonce(counter, last)?,
                    Aad::from(&self.cipher.aad),
                    &mut current[..current_len],
                )
                .map_err(|_| {
                    Error::crypto(format!(
                        "chunk {counter} failed authentication: the ciphertext was truncated, \
                         reordered or altered"
                    ))
                })?;
            writer.write_all(plain).map_err(write_err)?;
            total += plain.len() as u64;
            counter += 1;
            if last {
                break;
            }
            std::mem::swap(&mut current, &mut next);
            current_len = next_len;
        }
        writer.flush().map_err(write_err)?;
        Ok(StreamSummary {
            plaintext_bytes: total,
            chunks: counter,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{CreateKeyRequest, KeySpec};
    use crate::software::{SoftwareBackend, SoftwareConfig};

    #[test]
    fn symmetric_keys_make_envelopes_unless_direct_is_asked() {
        let sym = EncryptionAlgorithm::SymmetricDefault;
        let oaep = EncryptionAlgorithm::RsaesOaepSha256;
        assert_eq!(Format::for_algorithm(sym, false), Format::Envelope);
        assert_eq!(Format::for_algorithm(sym, true), Format::Direct(sym));
        assert_eq!(Format::for_algorithm(oaep, false), Format::Direct(oaep));
        assert!(is_envelope(MAGIC));
        assert!(is_envelope(b"KCENV\x07 a later version"));
        assert!(!is_envelope(b"KCEN"));
        assert!(!is_envelope(b""));
    }

    async fn backend() -> (tempfile::TempDir, SoftwareBackend, KeyRef) {
        let dir = tempfile::tempdir().unwrap();
        let b = SoftwareBackend::open(
            SoftwareConfig::new(dir.path().join("ks"))
                .password("pw")
                .kdf_iterations(2048),
        )
        .await
        .unwrap();
        b.create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("data"))
            .await
            .unwrap();
        (dir, b, KeyRef::parse("data").unwrap())
    }

    fn ctx() -> EncryptionContext {
        [("app".to_string(), "test".to_string())].into()
    }

    async fn seal(b: &SoftwareBackend, key: &KeyRef, data: &[u8], chunk: u32) -> Vec<u8> {
        let s = SealingKey::generate_with_chunk_size(b, key, &ctx(), chunk)
            .await
            .unwrap();
        let mut out = Vec::new();
        s.seal(data, &mut out).unwrap();
        out
    }

    async fn open(
        b: &SoftwareBackend,
        sealed: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let mut input = sealed;
        let header = EnvelopeHeader::read(&mut input)?;
        let key = header.unwrap_key(b, context).await?;
        let mut out = Vec::new();
        key.open(input, &mut out)?;
        Ok(out)
    }

    #[tokio::test]
    async fn round_trips_at_every_boundary() {
        let (_d, b, key) = backend().await;
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 64, 100] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sealed = seal(&b, &key, &data, 16).await;
            assert_eq!(open(&b, &sealed, &ctx()).await.unwrap(), data, "len {len}");
        }
    }

    #[tokio::test]
    async fn every_tampering_fails() {
        let (_d, b, key) = backend().await;
        let data = vec![7u8; 50];
        let sealed = seal(&b, &key, &data, 16).await;
        let header_len = EnvelopeHeader::read(&mut &sealed[..])
            .unwrap()
            .as_bytes()
            .len();
        // Flip each bit in turn: header (the key id and the wrapped key included) or body,
        // everything is an integrity failure, never "not found" or "invalid input".
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                match open(&b, &bad, &ctx()).await {
                    Err(Error::Crypto { .. }) => {}
                    other => panic!("flip of bit {bit} at {i}: {other:?}"),
                }
            }
        }
        // Truncation at every length, including at a chunk boundary.
        for cut in 0..sealed.len() {
            match open(&b, &sealed[..cut], &ctx()).await {
                Err(Error::Crypto { .. }) => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        // Trailing data.
        let mut long = sealed.clone();
        long.extend_from_slice(&[0u8; 32]);
        assert!(open(&b, &long, &ctx()).await.is_err());
        // Swapping the first two chunks.
        let body = &sealed[header_len..];
        let mut swapped = sealed[..header_len].to_vec();
        swapped.extend_from_slice(&body[32..64]);
        swapped.extend_from_slice(&body[..32]);
        swapped.extend_from_slice(&body[64..]);
        assert!(open(&b, &swapped, &ctx()).await.is_err());
        // Wrong context.
        let other: EncryptionContext = [("app".to_string(), "other".to_string())].into();
        let err = open(&b, &sealed, &other).await.unwrap_err();
        assert!(err.to_string().contains("app"), "{err}");
    }

    #[test]
    fn hostile_headers_are_bounded() {
        let mut h = MAGIC.to_vec();
        h.push(1);
        h.extend_from_slice(&(MAX_CHUNK_SIZE + 1).to_be_bytes());
        assert!(EnvelopeHeader::read(&mut &h[..]).is_err());
        assert!(EnvelopeHeader::read(&mut &b"KCENV"[..]).is_err());
        assert!(EnvelopeHeader::read(&mut &b"NOTENVELOPE"[..]).is_err());
    }
}
