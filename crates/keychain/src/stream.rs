//! A message read from a source rather than held in memory, for the algorithms that sign the
//! message itself (pure Ed25519, ML-DSA): they are signed and verified in constant memory.
//!
//! ML-DSA and every verification need one pass over the message. Pure Ed25519 signing needs two
//! (RFC 8032: `r = H(prefix ‖ M)`, then `k = H(R ‖ A ‖ M)`), so it needs a source that can be
//! read again: a seekable file, or bytes in memory. A stream that can be read only once (a pipe)
//! is buffered up to [`MAX_BUFFERED_MESSAGE`] bytes for it, and refused past that.

use std::io::{ErrorKind, Read, Seek, SeekFrom};

use crate::{Error, Hash, Result};

/// The most bytes of a stream that cannot be read twice (a pipe) that are held in memory to
/// sign it with pure Ed25519: 16 MiB. Larger messages must come from a file (read twice), or
/// be signed with ED25519_PH_SHA_512, which needs only their SHA-512 digest.
pub const MAX_BUFFERED_MESSAGE: usize = 16 * 1024 * 1024;

/// Bytes read at a time.
const CHUNK: usize = 64 * 1024;

/// A reader that can also seek: what a [`MessageSource`] reads twice.
pub trait ReadSeek: Read + Seek + Send {}

impl<T: Read + Seek + Send + ?Sized> ReadSeek for T {}

/// A message to sign or verify, read in chunks, from its start, once per pass.
pub struct MessageSource<'a> {
    kind: Kind<'a>,
}

enum Kind<'a> {
    /// Read from `start` on every pass.
    Seekable {
        reader: &'a mut dyn ReadSeek,
        start: u64,
    },
    /// Bytes in memory: any number of passes.
    Memory(&'a [u8]),
    /// A stream: one pass; `None` once it has been read.
    Once(Option<&'a mut (dyn Read + Send)>),
}

impl std::fmt::Debug for MessageSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Seekable { start, .. } => format!("seekable from byte {start}"),
            Kind::Memory(m) => format!("{} bytes in memory", m.len()),
            Kind::Once(_) => "a stream read once".to_string(),
        };
        f.debug_struct("MessageSource")
            .field("kind", &kind)
            .finish()
    }
}

impl<'a> MessageSource<'a> {
    /// A source read from its current position on every pass. `Err` when it cannot seek
    /// (a pipe or a terminal opened as a file): use [`MessageSource::once`] for those.
    pub fn seekable(reader: &'a mut dyn ReadSeek) -> std::io::Result<Self> {
        let start = reader.stream_position()?;
        Ok(MessageSource {
            kind: Kind::Seekable { reader, start },
        })
    }

    /// A message already in memory.
    pub fn memory(bytes: &'a [u8]) -> Self {
        MessageSource {
            kind: Kind::Memory(bytes),
        }
    }

    /// A stream that can be read only once: enough for ML-DSA and for verifying.
    pub fn once(reader: &'a mut (dyn Read + Send)) -> Self {
        MessageSource {
            kind: Kind::Once(Some(reader)),
        }
    }

    /// Whether the message can be read more than once (pure Ed25519 signing needs that).
    pub fn rereadable(&self) -> bool {
        !matches!(self.kind, Kind::Once(_))
    }

    /// The digest of the whole message with `hash` (one pass).
    pub fn digest(&mut self, hash: Hash) -> Result<Vec<u8>> {
        let mut hasher = hash.hasher();
        self.pass(&mut |chunk| hasher.update(chunk))?;
        Ok(hasher.finish())
    }

    /// Reads the whole message from its start, handing each chunk to `sink`; returns its
    /// length. A stream read once already is [`Error::InvalidInput`].
    pub fn pass(&mut self, sink: &mut dyn FnMut(&[u8])) -> Result<u64> {
        match &mut self.kind {
            Kind::Memory(bytes) => {
                for chunk in bytes.chunks(CHUNK) {
                    sink(chunk);
                }
                Ok(bytes.len() as u64)
            }
            Kind::Seekable { reader, start } => {
                reader
                    .seek(SeekFrom::Start(*start))
                    .map_err(|e| Error::io("rewinding the input", e))?;
                copy_chunks(&mut **reader, sink)
            }
            Kind::Once(reader) => match reader.take() {
                Some(reader) => copy_chunks(reader, sink),
                None => Err(Error::invalid_input(
                    "the input is a stream that can be read only once and this needs it twice",
                )),
            },
        }
    }
}

/// Reads `reader` to its end in chunks handed to `sink`; returns the length.
fn copy_chunks(reader: &mut (impl Read + ?Sized), sink: &mut dyn FnMut(&[u8])) -> Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                sink(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("reading the input", e)),
        }
    }
}

/// Reads a stream that can be read only once into memory, for pure Ed25519 (which reads its
/// message twice): at most [`MAX_BUFFERED_MESSAGE`] bytes; past that, nothing is signed and
/// the error says to give a file instead.
pub(crate) fn buffer_stream(reader: &mut (dyn Read + Send)) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    reader
        .take(MAX_BUFFERED_MESSAGE as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::io("reading the input", e))?;
    if data.len() > MAX_BUFFERED_MESSAGE {
        return Err(Error::invalid_input(format!(
            "pure Ed25519 reads its message twice and this input is a stream (a pipe) of more \
             than {} MiB, the most that is held in memory; give it as a file (read twice, in \
             constant memory) or sign with ED25519_PH_SHA_512",
            MAX_BUFFERED_MESSAGE >> 20
        )));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(source: &mut MessageSource<'_>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let n = source.pass(&mut |c| out.extend_from_slice(c))?;
        assert_eq!(n, out.len() as u64);
        Ok(out)
    }

    #[test]
    fn seekable_sources_read_from_where_they_started_on_every_pass() {
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut cursor = std::io::Cursor::new(data.clone());
        cursor.set_position(7);
        let mut source = MessageSource::seekable(&mut cursor).unwrap();
        assert!(source.rereadable());
        assert_eq!(collect(&mut source).unwrap(), data[7..]);
        assert_eq!(collect(&mut source).unwrap(), data[7..]);
    }

    #[test]
    fn a_stream_is_read_once() {
        let data = vec![5u8; 100_000];
        let mut reader: &[u8] = &data;
        let mut source = MessageSource::once(&mut reader);
        assert!(!source.rereadable());
        assert_eq!(collect(&mut source).unwrap(), data);
        assert!(matches!(
            collect(&mut source),
            Err(Error::InvalidInput { .. })
        ));
        let mut memory = MessageSource::memory(&data);
        assert_eq!(collect(&mut memory).unwrap(), data);
        assert_eq!(collect(&mut memory).unwrap(), data);
    }

    #[test]
    fn streams_are_buffered_up_to_the_limit_only() {
        let data = vec![1u8; MAX_BUFFERED_MESSAGE];
        assert_eq!(buffer_stream(&mut &data[..]).unwrap().len(), data.len());
        let over = vec![1u8; MAX_BUFFERED_MESSAGE + 1];
        let err = buffer_stream(&mut &over[..]).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(err.to_string().contains("give it as a file"), "{err}");
    }
}
