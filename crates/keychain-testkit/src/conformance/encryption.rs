//! Encryption checks: symmetric encryption with contexts, data keys, and RSA-OAEP judged by
//! Python `cryptography` in both directions.

use super::support::*;
use super::*;

/// Symmetric encryption with a context: round trip, decrypt without naming the key, the
/// handle's helpers, size limits, another key named → [`Error::InvalidInput`].
pub async fn encrypt_symmetric(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, info)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ctx = context(&[("purpose", "conformance"), ("order", "42")]);
    let plaintext: Vec<u8> = (0..=255u8).collect();
    let c1 = backend
        .encrypt(&key, &plaintext, alg, &ctx)
        .await
        .must("Encrypt");
    let c2 = backend
        .encrypt(&key, &plaintext, alg, &ctx)
        .await
        .must("Encrypt again");
    assert_ne!(
        c1, c2,
        "two encryptions of the same plaintext are identical (no fresh nonce)"
    );
    for c in [&c1, &c2] {
        let by_none = backend
            .decrypt(None, c, alg, &ctx)
            .await
            .must("Decrypt without a key");
        assert_eq!(by_none.expose(), &plaintext[..]);
        let by_alias = backend
            .decrypt(Some(&key), c, alg, &ctx)
            .await
            .must("Decrypt by alias");
        assert_eq!(by_alias.expose(), &plaintext[..]);
        let by_id = backend
            .decrypt(Some(&id_ref(&info)), c, alg, &ctx)
            .await
            .must("Decrypt by key id");
        assert_eq!(by_id.expose(), &plaintext[..]);
    }
    let empty_ctx = EncryptionContext::new();
    let c = backend
        .encrypt(&key, b"no context", alg, &empty_ctx)
        .await
        .must("Encrypt");
    assert_eq!(
        backend
            .decrypt(None, &c, alg, &empty_ctx)
            .await
            .must("Decrypt")
            .expose(),
        b"no context"
    );
    // The handle.
    let c = kc
        .encrypt(&name, b"via the handle", &ctx)
        .await
        .must("Keychain::encrypt");
    assert_eq!(
        kc.decrypt(&c, &ctx)
            .await
            .must("Keychain::decrypt")
            .expose(),
        b"via the handle"
    );
    // The KMS size limit: 4096 bytes.
    let max = vec![0xa5u8; 4096];
    let c = backend
        .encrypt(&key, &max, alg, &ctx)
        .await
        .must("encrypting 4096 bytes");
    assert_eq!(
        backend
            .decrypt(None, &c, alg, &ctx)
            .await
            .must("Decrypt")
            .expose(),
        &max[..]
    );
    assert_err!(
        "encrypting 4097 bytes",
        backend.encrypt(&key, &[0u8; 4097], alg, &ctx).await,
        Error::InvalidInput { .. }
    );
    // Naming another key.
    if let Some((other, _)) = named(
        kc,
        prefix,
        "aes-other",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        assert_err!(
            "decrypting while naming another key",
            backend
                .decrypt(Some(&key_ref(&other)), &c1, alg, &ctx)
                .await,
            Error::InvalidInput { .. }
        );
    }
}

/// Data keys: the plaintext has the spec's length, the ciphertext decrypts back to it with
/// the same context, each call makes a new key.
pub async fn encrypt_data_keys(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, info)) = named(
        kc,
        prefix,
        "kek",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ctx = context(&[("bucket", "conformance"), ("object", "a/b/c")]);
    for spec in [DataKeySpec::Aes256, DataKeySpec::Aes128] {
        let first = backend
            .generate_data_key(&key, spec, &ctx)
            .await
            .must("GenerateDataKey");
        let second = backend
            .generate_data_key(&key, spec, &ctx)
            .await
            .must("GenerateDataKey");
        assert_eq!(
            first.plaintext.len(),
            spec.len(),
            "{spec}: plaintext length"
        );
        assert!(
            first.key_id == info.key_id || Some(&first.key_id) == info.arn.as_ref(),
            "{spec}: the data key names key {}, not {}",
            first.key_id,
            info.key_id
        );
        assert_ne!(
            first.plaintext.expose(),
            second.plaintext.expose(),
            "{spec}: repeated data key"
        );
        assert_ne!(
            first.plaintext.expose(),
            &vec![0u8; spec.len()][..],
            "{spec}: all-zero data key"
        );
        for dk in [&first, &second] {
            let back = backend
                .decrypt(None, &dk.ciphertext, alg, &ctx)
                .await
                .must("decrypting a data key");
            assert_eq!(
                back.expose(),
                dk.plaintext.expose(),
                "{spec}: the data key does not decrypt back"
            );
            let back = backend
                .decrypt(Some(&key), &dk.ciphertext, alg, &ctx)
                .await
                .must("decrypting a data key, key named");
            assert_eq!(back.expose(), dk.plaintext.expose());
        }
        assert_err!(
            format!("{spec}: decrypting a data key with another context"),
            backend
                .decrypt(
                    None,
                    &first.ciphertext,
                    alg,
                    &context(&[("bucket", "other")])
                )
                .await,
            Error::Crypto { .. }
        );
    }
}

/// RSA-2048 OAEP: see [`encrypt_rsa_oaep`].
pub async fn encrypt_rsa_oaep_2048(kc: &Keychain, prefix: &str) {
    encrypt_rsa_oaep(kc, prefix, KeySpec::Rsa2048).await;
}

/// RSA-3072 OAEP: see [`encrypt_rsa_oaep`].
pub async fn encrypt_rsa_oaep_3072(kc: &Keychain, prefix: &str) {
    encrypt_rsa_oaep(kc, prefix, KeySpec::Rsa3072).await;
}

/// RSA-4096 OAEP: see [`encrypt_rsa_oaep`].
pub async fn encrypt_rsa_oaep_4096(kc: &Keychain, prefix: &str) {
    encrypt_rsa_oaep(kc, prefix, KeySpec::Rsa4096).await;
}

/// An ENCRYPT_DECRYPT RSA key, for OAEP SHA-1 and SHA-256: ciphertexts made locally with
/// `PublicKey::encrypt`, by the backend, and by Python `cryptography` all decrypt in the
/// backend; the other OAEP hash, a flipped bit → [`Error::Crypto`]; too long a plaintext, an
/// encryption context, no key named → [`Error::InvalidInput`].
pub async fn encrypt_rsa_oaep(kc: &Keychain, prefix: &str, spec: KeySpec) {
    use EncryptionAlgorithm::{RsaesOaepSha1, RsaesOaepSha256};
    let backend = kc.backend();
    let Some((name, _)) = named(kc, prefix, "rsa-enc", spec, KeyUsage::EncryptDecrypt).await else {
        return;
    };
    let key = key_ref(&name);
    let public_key = backend.public_key(&key).await.must("GetPublicKey");
    assert_eq!(public_key.key_spec().must("spec"), spec);
    let pem = public_key.to_pem();
    let none = EncryptionContext::new();
    let KeyFamily::Rsa(bits) = spec.family() else {
        panic!("{spec} is not RSA");
    };
    let modulus = bits as usize / 8;
    let mut python_cases = Vec::new();
    for alg in [RsaesOaepSha1, RsaesOaepSha256] {
        let h = if alg == RsaesOaepSha1 { 20 } else { 32 };
        let max = modulus - 2 * h - 2;
        for plaintext in [b"oaep".to_vec(), vec![0x42; max]] {
            python_cases.push((pem.clone(), alg, plaintext));
        }
    }
    let from_python = python_oaep_encrypt_batch(&python_cases);
    for ((_, alg, plaintext), python_ct) in python_cases.iter().zip(&from_python) {
        let alg = *alg;
        let other = if alg == RsaesOaepSha1 {
            RsaesOaepSha256
        } else {
            RsaesOaepSha1
        };
        let local = public_key
            .encrypt(plaintext, alg)
            .must("PublicKey::encrypt");
        let remote = backend
            .encrypt(&key, plaintext, alg, &none)
            .await
            .must("backend Encrypt");
        for (who, ct) in [
            ("local", &local),
            ("backend", &remote),
            ("Python", python_ct),
        ] {
            let what = format!(
                "{spec} {alg}: {}-byte plaintext encrypted by {who}",
                plaintext.len()
            );
            assert_eq!(ct.len(), modulus, "{what}: ciphertext length");
            let back = backend
                .decrypt(Some(&key), ct, alg, &none)
                .await
                .must(&what);
            assert_eq!(back.expose(), &plaintext[..], "{what}: wrong plaintext");
            assert_err!(
                format!("{what}, decrypted as {other}"),
                backend.decrypt(Some(&key), ct, other, &none).await,
                Error::Crypto { .. }
            );
            assert_err!(
                format!("{what}, one bit flipped"),
                backend
                    .decrypt(Some(&key), &flip_byte(ct, modulus / 2), alg, &none)
                    .await,
                Error::Crypto { .. }
            );
        }
        assert_err!(
            format!("{spec} {alg}: decrypting without naming the key"),
            backend.decrypt(None, &local, alg, &none).await,
            Error::InvalidInput { .. }
        );
    }
    for alg in [RsaesOaepSha1, RsaesOaepSha256] {
        let h = if alg == RsaesOaepSha1 { 20 } else { 32 };
        let too_long = vec![1u8; modulus - 2 * h - 1];
        assert_err!(
            format!("{spec} {alg}: local encryption of {} bytes", too_long.len()),
            public_key.encrypt(&too_long, alg),
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!(
                "{spec} {alg}: backend encryption of {} bytes",
                too_long.len()
            ),
            backend.encrypt(&key, &too_long, alg, &none).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("{spec} {alg}: an encryption context with RSA"),
            backend
                .encrypt(&key, b"x", alg, &context(&[("a", "b")]))
                .await,
            Error::InvalidInput { .. }
        );
    }
    // The handle picks OAEP SHA-256 for RSA keys.
    let ct = kc
        .encrypt(&name, b"handle", &none)
        .await
        .must("Keychain::encrypt with RSA");
    let back = backend
        .decrypt(Some(&key), &ct, RsaesOaepSha256, &none)
        .await
        .must("decrypting the handle's RSA ciphertext with OAEP SHA-256");
    assert_eq!(back.expose(), b"handle");
}
