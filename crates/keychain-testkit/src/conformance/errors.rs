//! Error checks: unknown keys, the wrong key usage, algorithms a spec does not allow, and
//! malformed input, each refused with the right [`Error`] variant before any damage.

use super::support::*;
use super::*;

/// Every operation on a key or alias that does not exist is [`Error::NotFound`].
pub async fn errors_not_found(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let ghost_name = key_name(prefix, "ghost");
    let ghost = key_ref(&ghost_name);
    // A well-formed id that no backend has made (the random part is fixed, the prefix not).
    let ghost_id = KeyRef::parse("0badc0de-0000-4000-8000-00000000dead").must("ghost id");
    let digest = Hash::Sha256.digest(b"x");
    let ctx = EncryptionContext::new();
    for key in [&ghost, &ghost_id] {
        let w = |op: &str| format!("{op} on the missing key {key}");
        assert_err!(
            w("DescribeKey"),
            backend.describe_key(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("Sign"),
            backend
                .sign(key, Message::Digest(&digest), SigningAlgorithm::EcdsaSha256)
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("Verify"),
            backend
                .verify(
                    key,
                    Message::Digest(&digest),
                    &[0x30, 0x00],
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("GetPublicKey"),
            backend.public_key(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("Encrypt"),
            backend
                .encrypt(key, b"x", EncryptionAlgorithm::SymmetricDefault, &ctx)
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("GenerateDataKey"),
            backend
                .generate_data_key(key, DataKeySpec::Aes256, &ctx)
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("GenerateMac"),
            backend
                .generate_mac(key, b"x", MacAlgorithm::HmacSha256)
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("EnableKey"),
            backend.enable_key(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("DisableKey"),
            backend.disable_key(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("ScheduleKeyDeletion"),
            backend.schedule_key_deletion(key, 7).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("CancelKeyDeletion"),
            backend.cancel_key_deletion(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("TagResource"),
            backend
                .tag_key(key, &BTreeMap::from([("a".to_string(), "b".to_string())]))
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("UntagResource"),
            backend.untag_key(key, &["a".to_string()]).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("ListAliases"),
            backend.list_aliases(Some(key)).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("CreateAlias"),
            backend
                .create_alias(&key_name(prefix, "ghost-alias"), key)
                .await,
            Error::NotFound { .. }
        );
        if caps.on_demand_rotation {
            assert_err!(
                w("RotateKeyOnDemand"),
                backend.rotate_key(key).await,
                Error::NotFound { .. }
            );
        }
        if caps.automatic_rotation {
            assert_err!(
                w("EnableKeyRotation"),
                backend.enable_key_rotation(key, None).await,
                Error::NotFound { .. }
            );
            assert_err!(
                w("GetKeyRotationStatus"),
                backend.key_rotation_status(key).await,
                Error::NotFound { .. }
            );
        }
    }
    assert_err!(
        "DeleteAlias of a missing alias",
        backend.delete_alias(&ghost_name).await,
        Error::NotFound { .. }
    );
    // Through the handle.
    assert_err!(
        "Keychain::describe",
        kc.describe(&ghost_name).await,
        Error::NotFound { .. }
    );
    assert_err!(
        "Keychain::sign",
        kc.sign(&ghost_name, &digest, Hash::Sha256).await,
        Error::NotFound { .. }
    );
    assert_err!(
        "Keychain::public_key",
        kc.public_key(&ghost_name).await,
        Error::NotFound { .. }
    );
    // UpdateAlias of a missing alias, to a key that exists.
    if let Some((_, info)) = named(
        kc,
        prefix,
        "real",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        assert_err!(
            "UpdateAlias of a missing alias",
            backend.update_alias(&ghost_name, &id_ref(&info)).await,
            Error::NotFound { .. }
        );
    }
}

/// A key used for what its usage does not allow is [`Error::InvalidKeyUsage`].
pub async fn errors_wrong_usage(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let ctx = EncryptionContext::new();
    let digest = Hash::Sha256.digest(b"wrong usage");
    let pkcs1 = SigningAlgorithm::RsassaPkcs1V15Sha256;
    let oaep = EncryptionAlgorithm::RsaesOaepSha256;

    if let Some((name, _)) = named(
        kc,
        prefix,
        "rsa-enc",
        KeySpec::Rsa2048,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "signing with an ENCRYPT_DECRYPT RSA key",
            backend.sign(&key, Message::Digest(&digest), pkcs1).await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "verifying with an ENCRYPT_DECRYPT RSA key",
            backend
                .verify(&key, Message::Digest(&digest), &[0u8; 256], pkcs1)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "Keychain::sign with an ENCRYPT_DECRYPT RSA key",
            kc.sign(&name, &digest, Hash::Sha256).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "rsa-sign",
        KeySpec::Rsa2048,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "encrypting with a SIGN_VERIFY RSA key",
            backend.encrypt(&key, b"secret", oaep, &ctx).await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "decrypting with a SIGN_VERIFY RSA key",
            backend.decrypt(Some(&key), &[0u8; 256], oaep, &ctx).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "ec-sign",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "a MAC with a signing key",
            backend
                .generate_mac(&key, b"m", MacAlgorithm::HmacSha256)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "verifying a MAC with a signing key",
            backend
                .verify_mac(&key, b"m", &[0u8; 32], MacAlgorithm::HmacSha256)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "symmetric encryption with a signing key",
            backend
                .encrypt(&key, b"m", EncryptionAlgorithm::SymmetricDefault, &ctx)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "a data key under a signing key",
            backend
                .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "Keychain::encrypt with a signing key",
            kc.encrypt(&name, b"m", &ctx).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "signing with a symmetric key",
            backend
                .sign(
                    &key,
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "a MAC with a symmetric key",
            backend
                .generate_mac(&key, b"m", MacAlgorithm::HmacSha256)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "the public key of a symmetric key",
            backend.public_key(&key).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "hmac",
        KeySpec::Hmac256,
        KeyUsage::GenerateVerifyMac,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "signing with an HMAC key",
            backend.sign(&key, Message::Digest(&digest), pkcs1).await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "encrypting with an HMAC key",
            backend
                .encrypt(&key, b"m", EncryptionAlgorithm::SymmetricDefault, &ctx)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "a data key under an HMAC key",
            backend
                .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
                .await,
            Error::InvalidKeyUsage { .. }
        );
    }
    // A usage the spec cannot have is refused at creation.
    for (spec, usage) in [
        (KeySpec::SymmetricDefault, KeyUsage::SignVerify),
        (KeySpec::EccSecgP256k1, KeyUsage::EncryptDecrypt),
        (KeySpec::Hmac256, KeyUsage::EncryptDecrypt),
        (KeySpec::EccNistEdwards25519, KeyUsage::EncryptDecrypt),
    ] {
        let request = CreateKeyRequest::new(spec)
            .name(key_name(prefix, "bad-usage"))
            .usage(usage);
        assert_err!(
            format!("creating a {spec} key for {usage}"),
            backend.create_key(&request).await,
            Error::InvalidInput { .. } | Error::Unsupported { .. }
        );
    }
    assert_err!(
        "the refused creations left no key behind",
        backend
            .describe_key(&key_ref(&key_name(prefix, "bad-usage")))
            .await,
        Error::NotFound { .. }
    );
}

/// An algorithm outside the key spec's table is [`Error::InvalidKeyUsage`].
pub async fn errors_algorithm_not_allowed(kc: &Keychain, prefix: &str) {
    use SigningAlgorithm::*;
    let backend = kc.backend();
    let ctx = EncryptionContext::new();
    let m = b"algorithm not in the table";
    if let Some((name, _)) = named(
        kc,
        prefix,
        "p256",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        for algorithm in [
            EcdsaSha384,
            EcdsaSha512,
            RsassaPssSha256,
            RsassaPkcs1V15Sha256,
            Ed25519PhSha512,
        ] {
            let digest = algorithm.hash().digest(m);
            assert_err!(
                format!("P-256 signing a digest with {algorithm}"),
                backend
                    .sign(&key, Message::Digest(&digest), algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
            assert_err!(
                format!("P-256 verifying with {algorithm}"),
                backend
                    .verify(&key, Message::Digest(&digest), &[0x30, 0x00], algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
            assert_err!(
                format!("Keychain::verify on P-256 with {algorithm}"),
                kc.verify(&name, Message::Digest(&digest), &[0x30, 0x00], algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
        }
        assert_err!(
            "P-256 signing with pure Ed25519",
            backend.sign(&key, Message::Raw(m), Ed25519Sha512).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "p384",
        KeySpec::EccNistP384,
        KeyUsage::SignVerify,
    )
    .await
    {
        let digest = Hash::Sha256.digest(m);
        assert_err!(
            "P-384 signing with ECDSA_SHA_256",
            backend
                .sign(&key_ref(&name), Message::Digest(&digest), EcdsaSha256)
                .await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(kc, prefix, "rsa", KeySpec::Rsa2048, KeyUsage::SignVerify).await
    {
        for algorithm in [EcdsaSha256, EcdsaSha384, Ed25519PhSha512] {
            let digest = algorithm.hash().digest(m);
            assert_err!(
                format!("RSA signing with {algorithm}"),
                backend
                    .sign(&key_ref(&name), Message::Digest(&digest), algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
        }
        assert_err!(
            "RSA signing with pure Ed25519",
            backend
                .sign(&key_ref(&name), Message::Raw(m), Ed25519Sha512)
                .await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "ed25519",
        KeySpec::EccNistEdwards25519,
        KeyUsage::SignVerify,
    )
    .await
    {
        for algorithm in [EcdsaSha256, RsassaPssSha512] {
            let digest = algorithm.hash().digest(m);
            assert_err!(
                format!("Ed25519 signing with {algorithm}"),
                backend
                    .sign(&key_ref(&name), Message::Digest(&digest), algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
        }
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        for algorithm in [
            EncryptionAlgorithm::RsaesOaepSha1,
            EncryptionAlgorithm::RsaesOaepSha256,
        ] {
            assert_err!(
                format!("symmetric key encrypting with {algorithm}"),
                backend
                    .encrypt(&key_ref(&name), b"x", algorithm, &ctx)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
        }
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "rsa-enc",
        KeySpec::Rsa2048,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        assert_err!(
            "RSA key encrypting with SYMMETRIC_DEFAULT",
            backend
                .encrypt(
                    &key_ref(&name),
                    b"x",
                    EncryptionAlgorithm::SymmetricDefault,
                    &ctx
                )
                .await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "hmac",
        KeySpec::Hmac384,
        KeyUsage::GenerateVerifyMac,
    )
    .await
    {
        for algorithm in [
            MacAlgorithm::HmacSha224,
            MacAlgorithm::HmacSha256,
            MacAlgorithm::HmacSha512,
        ] {
            assert_err!(
                format!("HMAC_384 key with {algorithm}"),
                backend.generate_mac(&key_ref(&name), b"x", algorithm).await,
                Error::InvalidKeyUsage { .. }
            );
        }
    }
}

/// Malformed input is [`Error::InvalidInput`]: digests of the wrong length, malformed key
/// references and names, pending windows outside 7–30 days, page limits, reserved tags.
pub async fn errors_invalid_input(kc: &Keychain, prefix: &str) {
    use SigningAlgorithm::*;
    let backend = kc.backend();
    // Malformed references, through the parser and the handle.
    for bad in [
        "",
        "has space",
        "alias/",
        "alias/aws/reserved",
        "a//b",
        "arn:aws:kms:us-east-1:123:key/x",
        "arn:aws:s3:us-east-1:111122223333:key/x",
        "awskms://host",
        "gcpkms://projects/x",
    ] {
        assert_err!(
            format!("KeyRef::parse({bad:?})"),
            KeyRef::parse(bad),
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("Keychain::describe({bad:?})"),
            kc.describe(bad).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("Keychain::sign({bad:?})"),
            kc.sign(bad, &[0u8; 32], Hash::Sha256).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("Keychain::public_key({bad:?})"),
            kc.public_key(bad).await,
            Error::InvalidInput { .. }
        );
    }
    // Bad names at creation and for aliases.
    for bad in ["has space", "aws/reserved", "a//b", "ümlaut"] {
        let request = CreateKeyRequest::new(KeySpec::EccNistP256).name(bad);
        assert_err!(
            format!("creating a key named {bad:?}"),
            backend.create_key(&request).await,
            Error::InvalidInput { .. }
        );
    }
    if let Some((name, info)) = named(
        kc,
        prefix,
        "p256",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        for bad in ["has space", "alias/aws/reserved", "alias/", "a//b"] {
            assert_err!(
                format!("CreateAlias {bad:?}"),
                backend.create_alias(bad, &key).await,
                Error::InvalidInput { .. }
            );
        }
        // Digests of the wrong length.
        for len in [0usize, 31, 33, 48, 64] {
            let digest = vec![7u8; len];
            assert_err!(
                format!("signing a {len}-byte digest with ECDSA_SHA_256"),
                backend
                    .sign(&key, Message::Digest(&digest), EcdsaSha256)
                    .await,
                Error::InvalidInput { .. }
            );
            assert_err!(
                format!("verifying a {len}-byte digest with ECDSA_SHA_256"),
                backend
                    .verify(&key, Message::Digest(&digest), &[0x30, 0x00], EcdsaSha256)
                    .await,
                Error::InvalidInput { .. }
            );
            assert_err!(
                format!("Keychain::sign with a {len}-byte SHA-256 digest"),
                kc.sign(&name, &digest, Hash::Sha256).await,
                Error::InvalidInput { .. }
            );
        }
        // Pending windows outside 7–30 days.
        for days in [0u32, 6, 31, 365] {
            assert_err!(
                format!("scheduling deletion in {days} days"),
                backend.schedule_key_deletion(&key, days).await,
                Error::InvalidInput { .. }
            );
        }
        let after = backend.describe_key(&key).await.must("describe");
        assert_eq!(
            after.state,
            KeyState::Enabled,
            "a refused deletion changed the key's state"
        );
        assert_eq!(after.deletion_date, None);
        // Reserved tag keys.
        let tags = BTreeMap::from([("aws:reserved".to_string(), "x".to_string())]);
        assert_err!(
            "tagging with the reserved prefix aws:",
            backend.tag_key(&id_ref(&info), &tags).await,
            Error::InvalidInput { .. }
        );
    }
    if let Some((name, _)) = named(kc, prefix, "rsa", KeySpec::Rsa2048, KeyUsage::SignVerify).await
    {
        let digest = Hash::Sha256.digest(b"x");
        for algorithm in [RsassaPkcs1V15Sha384, RsassaPssSha512] {
            assert_err!(
                format!("signing a SHA-256 digest with {algorithm}"),
                backend
                    .sign(&key_ref(&name), Message::Digest(&digest), algorithm)
                    .await,
                Error::InvalidInput { .. }
            );
        }
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "ed",
        KeySpec::EccNistEdwards25519,
        KeyUsage::SignVerify,
    )
    .await
    {
        let digest = Hash::Sha512.digest(b"x");
        assert_err!(
            "pure Ed25519 over a digest",
            backend
                .sign(&key_ref(&name), Message::Digest(&digest), Ed25519Sha512)
                .await,
            Error::InvalidInput { .. }
        );
    }
    for limit in [0u32, 1001] {
        assert_err!(
            format!("listing keys with limit {limit}"),
            backend
                .list_keys(&PageRequest {
                    limit: Some(limit),
                    marker: None
                })
                .await,
            Error::InvalidInput { .. }
        );
    }
}
