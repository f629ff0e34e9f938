//! Envelope encryption end to end: multi-GiB streams in constant memory, and the same format
//! with data keys from AWS KMS (LocalStack) as from the software keystore.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};

use keychain::envelope::{EnvelopeHeader, SealingKey};
use keychain::{Backend, CreateKeyRequest, EncryptionContext, Error, KeyRef, KeySpec};

/// A sink that hashes what it is given and counts it.
struct HashingSink {
    hasher: keychain::Hasher,
    len: u64,
}

impl Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A deterministic stream of `len` bytes copied from a table whose length (a prime) is not a
/// multiple of the chunk size, so a chunk mix-up would change the digest.
struct Pattern {
    pos: u64,
    len: u64,
}

const TABLE_LEN: usize = 1_048_573;

fn table() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Vec::with_capacity(TABLE_LEN);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..TABLE_LEN {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t.push(x as u8);
        }
        t
    })
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let table = table();
        let start = (self.pos % TABLE_LEN as u64) as usize;
        let n = buf
            .len()
            .min((self.len - self.pos) as usize)
            .min(TABLE_LEN - start);
        buf[..n].copy_from_slice(&table[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

fn context() -> EncryptionContext {
    [("purpose".to_string(), "envelope-test".to_string())].into()
}

/// Seals `len` pattern bytes and opens them again through an OS pipe (no disk, no buffer of
/// the whole), returning the decrypted length and digest beside the original's.
async fn round_trip_through_a_pipe(
    backend: &(dyn Backend + 'static),
    key: &KeyRef,
    len: u64,
) -> ((u64, Vec<u8>), (u64, Vec<u8>)) {
    let expected = {
        let mut sink = HashingSink {
            hasher: keychain::Hash::Sha256.hasher(),
            len: 0,
        };
        std::io::copy(&mut Pattern { pos: 0, len }, &mut sink).unwrap();
        (sink.len, sink.hasher.finish())
    };
    let sealing = SealingKey::generate(backend, key, &context())
        .await
        .unwrap();
    let (mut reader, writer) = std::io::pipe().unwrap();
    let sealer = std::thread::spawn(move || {
        let writer = std::io::BufWriter::new(writer);
        sealing.seal(Pattern { pos: 0, len }, writer).unwrap()
    });
    let header = EnvelopeHeader::read(&mut reader).unwrap();
    let opening = header.unwrap_key(backend, &context()).await.unwrap();
    let mut sink = HashingSink {
        hasher: keychain::Hash::Sha256.hasher(),
        len: 0,
    };
    let opened = opening
        .open(std::io::BufReader::new(reader), &mut sink)
        .unwrap();
    let sealed = sealer.join().unwrap();
    assert_eq!(sealed.plaintext_bytes, len);
    assert_eq!(opened.plaintext_bytes, len);
    (expected, (sink.len, sink.hasher.finish()))
}

const CHILD_ENV: &str = "KEYCHAIN_ENVELOPE_CHILD";

/// Runs in a child process so that its peak memory is its own: a 2 GiB round trip.
/// Started by `multi_gib_round_trip_in_constant_memory`; on its own it has nothing to do.
#[tokio::test(flavor = "multi_thread")]
async fn child_multi_gib_round_trip() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let (_dir, backend) = keychain_testkit::temp_software_backend().await;
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("big"))
        .await
        .unwrap();
    let key = KeyRef::parse("big").unwrap();
    // Just over 2 GiB and not a multiple of the chunk size.
    let len = (2u64 << 30) + 12_345;
    let (expected, got) = round_trip_through_a_pipe(&backend, &key, len).await;
    assert_eq!(got, expected, "2 GiB decrypted to different bytes");
    println!("PEAK_RSS_KIB={}", keychain_testkit::memory::peak_rss_kib());
}

#[test]
fn multi_gib_round_trip_in_constant_memory() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_multi_gib_round_trip",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak: u64 = stdout
        .split("PEAK_RSS_KIB=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in the child's output: {stdout}"));
    // Holding the stream would take gigabytes; two chunks and buffers take a few MiB.
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB over a 2 GiB stream");
}

#[cfg(feature = "aws")]
mod awskms {
    use super::*;
    use keychain_testkit::conformance::{Must, unique_prefix};
    use keychain_testkit::localstack::localstack;

    /// The same format with the data key from KMS GenerateDataKey (on LocalStack): round
    /// trips across chunk boundaries, and tampering and a wrong context still fail.
    #[tokio::test(flavor = "multi_thread")]
    async fn envelopes_with_kms_data_keys() {
        let backend = localstack()
            .backend()
            .await
            .must("connecting to LocalStack");
        let name = unique_prefix("envelope");
        backend
            .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(&name))
            .await
            .must("creating a symmetric key");
        let key = KeyRef::parse(&name).unwrap();
        for len in [0u64, 1, 65_536, 3 * 65_536 + 17] {
            let (expected, got) = round_trip_through_a_pipe(&backend, &key, len).await;
            assert_eq!(got, expected, "len {len}");
        }

        let sealing = SealingKey::generate(&backend, &key, &context())
            .await
            .unwrap();
        // The header names the KMS key that wrapped the data key.
        let named = backend
            .describe_key(&KeyRef::key_id(&sealing.header().key_id).unwrap())
            .await
            .must("describing the key the header names");
        let ours = backend.describe_key(&key).await.must("describing the key");
        assert_eq!(named.key_id, ours.key_id);
        let mut sealed = Vec::new();
        sealing.seal(&b"kms envelope"[..], &mut sealed).unwrap();
        let open = |bytes: Vec<u8>, ctx: EncryptionContext| {
            let backend = &backend;
            async move {
                let mut input = &bytes[..];
                let header = EnvelopeHeader::read(&mut input)?;
                let opening = header.unwrap_key(backend, &ctx).await?;
                let mut out = Vec::new();
                opening.open(input, &mut out)?;
                Ok::<_, Error>(out)
            }
        };
        assert_eq!(
            open(sealed.clone(), context()).await.unwrap(),
            b"kms envelope"
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(
            open(tampered, context()).await,
            Err(Error::Crypto { .. })
        ));
        let other: EncryptionContext = [("purpose".to_string(), "other".to_string())].into();
        assert!(matches!(
            open(sealed, other).await,
            Err(Error::Crypto { .. })
        ));
    }
}
