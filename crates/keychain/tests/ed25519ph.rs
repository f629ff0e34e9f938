//! ED25519_PH_SHA_512 in AWS KMS's meaning, on the software backend and in `PublicKey::verify`,
//! judged by PyCryptodome: a 64-byte SHA-512 digest `D` is the RFC 8032 Ed25519ph *message*
//! (the signature's own prehash is SHA-512(D), as KMS hashes a `DIGEST` input again), and a
//! message `m` signs as its digest `D = SHA-512(m)`. The judge is
//! `eddsa.new(key, 'rfc8032').verify(SHA512.new(D), sig)`, in both directions, and libsodium's
//! `crypto_sign_ed25519ph_*` with `D` as the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Seek, Write};

use keychain::signer::KeySigner;
use keychain::{Hash, KeySpec, Keychain, Message, MessageSource, PublicKey, SigningAlgorithm};
use keychain_testkit::{
    SignatureCase, libsodium_ed25519ph_verify_batch, python_ed25519ph_sign_batch,
    python_verify_batch, temp_software_backend,
};

const PH: SigningAlgorithm = SigningAlgorithm::Ed25519PhSha512;

/// Longer than KMS's raw limit and than one 64 KiB read.
fn message() -> Vec<u8> {
    (0..200_000u32).map(|i| (i * 7 % 253) as u8).collect()
}

fn flipped(signature: &[u8]) -> Vec<u8> {
    let mut bad = signature.to_vec();
    bad[17] ^= 1;
    bad
}

/// The PyCryptodome case for a signature over the digest `d`.
fn over_digest(pem: &str, d: &[u8], signature: &[u8]) -> SignatureCase {
    SignatureCase {
        public_key_pem: pem.to_string(),
        algorithm: PH,
        data: d.to_vec(),
        prehashed: true,
        signature: signature.to_vec(),
    }
}

/// Every way keychain signs with Ed25519ph — a digest, a message, a stream, a file, the
/// by-hash call, `KeySigner` — makes the one signature PyCryptodome accepts over `D`; a
/// flipped bit or another `D` is refused by PyCryptodome and by `PublicKey::verify`.
#[tokio::test]
async fn every_ed25519ph_signature_we_make_is_rfc8032_over_the_digest() {
    let (_dir, backend) = temp_software_backend().await;
    let kc = Keychain::new(backend);
    kc.create_key(&keychain::CreateKeyRequest::new(KeySpec::EccNistEdwards25519).name("ed"))
        .await
        .unwrap();
    let pk = kc.public_key("ed").await.unwrap();
    let pem = pk.to_pem();
    let message = message();
    let d = Hash::Sha512.digest(&message);
    let mut other = message.clone();
    other[150_000] ^= 1;
    let d_other = Hash::Sha512.digest(&other);

    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&message).unwrap();
    file.rewind().unwrap();
    let signatures = [
        (
            "digest",
            kc.sign_with("ed", Message::Digest(&d), PH).await.unwrap(),
        ),
        (
            "message",
            kc.sign_with("ed", Message::Raw(&message), PH)
                .await
                .unwrap(),
        ),
        ("by hash", kc.sign("ed", &d, Hash::Sha512).await.unwrap()),
        (
            "stream",
            kc.sign_reader("ed", &message[..], Some(PH))
                .await
                .unwrap()
                .signature,
        ),
        (
            "file",
            kc.sign_seekable("ed", &mut file, Some(PH))
                .await
                .unwrap()
                .signature,
        ),
        (
            "KeySigner",
            KeySigner::new(&kc, "ed", Some(PH))
                .await
                .unwrap()
                .sign(&message)
                .await
                .unwrap()
                .as_ref()
                .to_vec(),
        ),
    ];

    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (how, sig) in &signatures {
        // Ed25519ph is deterministic: one relation, one signature.
        assert_eq!(sig, &signatures[0].1, "{how}: not the digest's signature");
        for (m, valid) in [(Message::Digest(&d), true), (Message::Raw(&message), true)] {
            assert_eq!(pk.verify(m, sig, PH).unwrap(), valid, "{how}: {m:?}");
        }
        assert!(!pk.verify(Message::Digest(&d_other), sig, PH).unwrap());
        assert!(!pk.verify(Message::Raw(&other), sig, PH).unwrap());
        assert!(!pk.verify(Message::Digest(&d), &flipped(sig), PH).unwrap());
        assert!(kc.verify_reader("ed", &message[..], sig, PH).await.unwrap());
        assert!(!kc.verify_reader("ed", &other[..], sig, PH).await.unwrap());
        for (case, valid) in [
            (over_digest(&pem, &d, sig), true),
            (over_digest(&pem, &d_other, sig), false),
            (over_digest(&pem, &d, &flipped(sig)), false),
        ] {
            cases.push(case);
            expected.push(valid);
        }
    }
    assert_eq!(
        python_verify_batch(&cases),
        expected,
        "PyCryptodome's verdicts (valid, other digest, flipped) per way of signing"
    );
    let der = pk.to_der();
    let raw_key = der[der.len() - 32..].to_vec();
    let sig = signatures[0].1.clone();
    assert_eq!(
        libsodium_ed25519ph_verify_batch(&[
            (raw_key.clone(), d.clone(), sig.clone()),
            (raw_key.clone(), d_other, sig.clone()),
            (raw_key, message, sig),
        ]),
        vec![true, false, false],
        "libsodium over D (valid), another D, the message itself as the Ed25519ph message"
    );
}

/// PyCryptodome signs `D` in KMS's meaning (`sign(SHA512.new(D))`): `PublicKey::verify` accepts
/// it as the digest `D`, as the message whose SHA-512 is `D`, and streamed. A standard
/// Ed25519ph signature of the message itself (prehash SHA-512(m), what keychain used to make)
/// is not a signature of `D`.
#[test]
fn ed25519ph_signatures_pycryptodome_makes_over_the_digest_verify() {
    let message = message();
    let d = Hash::Sha512.digest(&message);
    let signed = python_ed25519ph_sign_batch(&[d.clone(), message.clone()]);
    let (pem, sig) = &signed[0];
    let pk = PublicKey::from_pem(pem).unwrap();
    assert!(pk.verify(Message::Digest(&d), sig, PH).unwrap());
    assert!(pk.verify(Message::Raw(&message), sig, PH).unwrap());
    assert!(
        pk.verify_source(&mut MessageSource::memory(&message), sig, PH)
            .unwrap()
    );
    assert!(!pk.verify(Message::Digest(&d), &flipped(sig), PH).unwrap());
    assert!(
        !pk.verify(Message::Raw(&message[1..]), sig, PH).unwrap(),
        "another message"
    );

    let (pem, prehash_is_d) = &signed[1];
    let pk = PublicKey::from_pem(pem).unwrap();
    assert!(!pk.verify(Message::Digest(&d), prehash_is_d, PH).unwrap());
    assert!(!pk.verify(Message::Raw(&message), prehash_is_d, PH).unwrap());
}
