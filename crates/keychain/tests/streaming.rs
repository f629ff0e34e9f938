//! `Keychain::sign_reader`, `sign_seekable` and `verify_reader` on the software backend: pure
//! Ed25519 and ML-DSA over streams, judged by Python `cryptography` and by the public key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Seek, SeekFrom, Write};

use keychain::{KeySpec, Keychain, MAX_BUFFERED_MESSAGE, Message, SigningAlgorithm};
use keychain_testkit::{SignatureCase, python_verify_batch, temp_software_backend};

async fn keychain_with(specs: &[(&str, KeySpec)]) -> (tempfile::TempDir, Keychain) {
    let (dir, backend) = temp_software_backend().await;
    let kc = Keychain::new(backend);
    for (name, spec) in specs {
        kc.create_key(&keychain::CreateKeyRequest::new(*spec).name(*name))
            .await
            .unwrap();
    }
    (dir, kc)
}

/// A seekable reader is signed from where it stands, read twice by pure Ed25519; the
/// signature is the message's, for Python and for `verify_reader`; a stream of the same bytes
/// gets the same (deterministic) signature.
#[tokio::test]
async fn seekable_input_is_signed_from_its_position() {
    let (_dir, kc) = keychain_with(&[("ed", KeySpec::EccNistEdwards25519)]).await;
    let message: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let mut cursor = Cursor::new(message.clone());
    cursor.seek(SeekFrom::Start(1000)).unwrap();
    let signed = kc.sign_seekable("ed", &mut cursor, None).await.unwrap();
    assert_eq!(signed.algorithm, SigningAlgorithm::Ed25519Sha512);
    assert_eq!(signed.note, None);
    let pk = kc.public_key("ed").await.unwrap();
    assert!(
        pk.verify(
            Message::Raw(&message[1000..]),
            &signed.signature,
            signed.algorithm
        )
        .unwrap()
    );
    let streamed = kc.sign_reader("ed", &message[1000..], None).await.unwrap();
    assert_eq!(streamed.signature, signed.signature);
    let alg = signed.algorithm;
    assert!(
        kc.verify_reader("ed", &message[1000..], &signed.signature, alg)
            .await
            .unwrap()
    );
    assert!(
        !kc.verify_reader("ed", &message[999..], &signed.signature, alg)
            .await
            .unwrap()
    );
    let case = SignatureCase {
        public_key_pem: pk.to_pem(),
        algorithm: alg,
        data: message[1000..].to_vec(),
        prehashed: false,
        signature: signed.signature,
    };
    assert_eq!(python_verify_batch(&[case]), vec![true]);
}

/// A stream is held for pure Ed25519 up to the limit only; a file of more is read twice.
#[tokio::test]
async fn pure_ed25519_buffers_a_stream_up_to_the_limit_only() {
    let (_dir, kc) = keychain_with(&[("ed", KeySpec::EccNistEdwards25519)]).await;
    let over = vec![3u8; MAX_BUFFERED_MESSAGE + 1];
    let err = kc.sign_reader("ed", &over[..], None).await.unwrap_err();
    assert!(matches!(err, keychain::Error::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("16 MiB"), "{err}");
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&over).unwrap();
    file.rewind().unwrap();
    let signed = kc.sign_seekable("ed", &mut file, None).await.unwrap();
    let pk = kc.public_key("ed").await.unwrap();
    assert!(
        pk.verify(Message::Raw(&over), &signed.signature, signed.algorithm)
            .unwrap()
    );
    // Ed25519ph needs one pass: any stream.
    let ph = Some(SigningAlgorithm::Ed25519PhSha512);
    let signed = kc.sign_reader("ed", &over[..], ph).await.unwrap();
    let alg = SigningAlgorithm::Ed25519PhSha512;
    assert!(
        kc.verify_reader("ed", &over[..], &signed.signature, alg)
            .await
            .unwrap()
    );
}

/// ML-DSA streams in one pass (no limit); Python verifies over the whole message; a wrong
/// signature or message is `Ok(false)`.
#[tokio::test]
async fn ml_dsa_signs_and_verifies_a_stream() {
    let specs = [
        ("pq44", KeySpec::MlDsa44),
        ("pq65", KeySpec::MlDsa65),
        ("pq87", KeySpec::MlDsa87),
    ];
    let (_dir, kc) = keychain_with(&specs).await;
    let message: Vec<u8> = (0..200_001u32).map(|i| (i % 239) as u8).collect();
    let mut cases = Vec::new();
    for (name, _) in specs {
        let signed = kc.sign_reader(name, &message[..], None).await.unwrap();
        let alg = signed.algorithm;
        assert_eq!(alg, SigningAlgorithm::MlDsaShake256);
        assert!(
            kc.verify_reader(name, &message[..], &signed.signature, alg)
                .await
                .unwrap()
        );
        assert!(
            !kc.verify_reader(name, &message[1..], &signed.signature, alg)
                .await
                .unwrap()
        );
        let mut bad = signed.signature.clone();
        bad[7] ^= 1;
        assert!(
            !kc.verify_reader(name, &message[..], &bad, alg)
                .await
                .unwrap()
        );
        let pk = kc.public_key(name).await.unwrap();
        assert!(
            pk.verify(Message::Raw(&message), &signed.signature, alg)
                .unwrap()
        );
        cases.push(SignatureCase {
            public_key_pem: pk.to_pem(),
            algorithm: alg,
            data: message.clone(),
            prehashed: false,
            signature: signed.signature,
        });
    }
    assert_eq!(python_verify_batch(&cases), vec![true; 3]);
}

/// Streaming signs with the same checks as any signature: a disabled key signs nothing, by
/// either path.
#[tokio::test]
async fn a_disabled_key_signs_no_stream() {
    let specs = [
        ("ed", KeySpec::EccNistEdwards25519),
        ("pq", KeySpec::MlDsa44),
    ];
    let (_dir, kc) = keychain_with(&specs).await;
    for (name, _) in specs {
        let key = keychain::KeyRef::parse(name).unwrap();
        kc.backend().disable_key(&key).await.unwrap();
        let mut file = Cursor::new(vec![1u8; 100_000]);
        let err = kc.sign_seekable(name, &mut file, None).await.unwrap_err();
        assert!(
            matches!(err, keychain::Error::InvalidKeyState { .. }),
            "{err}"
        );
        let err = kc
            .sign_reader(name, &[1u8; 10][..], None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, keychain::Error::InvalidKeyState { .. }),
            "{err}"
        );
    }
}
