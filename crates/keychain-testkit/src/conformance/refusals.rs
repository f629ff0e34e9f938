//! What a backend must refuse because of a key's state or what exists: disabled keys, keys
//! pending deletion (verifying included), a name already taken or one that reads as another
//! reference, and tampered symmetric ciphertexts.

use super::support::*;
use super::*;

/// A disabled key refuses every cryptographic operation with [`Error::InvalidKeyState`];
/// enabling it again restores them.
pub async fn errors_disabled_key(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let ctx = context(&[("purpose", "disabled")]);
    let digest = Hash::Sha256.digest(b"disabled");
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
        let signature = backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .must("signing while enabled");
        backend.disable_key(&key).await.must("DisableKey");
        assert_eq!(
            backend.describe_key(&key).await.must("describe").state,
            KeyState::Disabled
        );
        assert_err!(
            "signing with a disabled key",
            backend
                .sign(
                    &key,
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "verifying with a disabled key (in the backend)",
            backend
                .verify(
                    &key,
                    Message::Digest(&digest),
                    &signature,
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "Keychain::sign with a disabled key",
            kc.sign(&name, &digest, Hash::Sha256).await,
            Error::InvalidKeyState { .. }
        );
        // The handle verifies locally when it can, but checks the state first, as the
        // backend does: the same answer on every backend.
        let fresh = kc.clone().with_cache_ttl(Duration::ZERO);
        assert_err!(
            "Keychain::verify with a disabled key",
            fresh
                .verify(
                    &name,
                    Message::Digest(&digest),
                    &signature,
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        backend.enable_key(&key).await.must("EnableKey");
        backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .must("signing after enabling again");
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
        let alg = EncryptionAlgorithm::SymmetricDefault;
        let ciphertext = backend
            .encrypt(&key, b"plain", alg, &ctx)
            .await
            .must("encrypt");
        backend.disable_key(&key).await.must("DisableKey");
        assert_err!(
            "encrypting with a disabled key",
            backend.encrypt(&key, b"plain", alg, &ctx).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "decrypting with a disabled key",
            backend.decrypt(None, &ciphertext, alg, &ctx).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "a data key under a disabled key",
            backend
                .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
                .await,
            Error::InvalidKeyState { .. }
        );
        backend.enable_key(&key).await.must("EnableKey");
        let plain = backend
            .decrypt(None, &ciphertext, alg, &ctx)
            .await
            .must("decrypting after enabling again");
        assert_eq!(plain.expose(), b"plain");
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
        let alg = MacAlgorithm::HmacSha256;
        let mac = backend
            .generate_mac(&key, b"m", alg)
            .await
            .must("GenerateMac");
        backend.disable_key(&key).await.must("DisableKey");
        assert_err!(
            "a MAC with a disabled key",
            backend.generate_mac(&key, b"m", alg).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "verifying a MAC with a disabled key",
            backend.verify_mac(&key, b"m", &mac, alg).await,
            Error::InvalidKeyState { .. }
        );
    }
}

/// A key pending deletion refuses cryptographic operations (verifying included, in the backend
/// and through [`Keychain::verify`]) and state changes other than cancelling with
/// [`Error::InvalidKeyState`]; it is still described and listed.
pub async fn errors_pending_deletion(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let ctx = EncryptionContext::new();
    let digest = Hash::Sha256.digest(b"pending");
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
        let signature = backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .must("signing before the deletion is scheduled");
        backend
            .schedule_key_deletion(&key, 7)
            .await
            .must("ScheduleKeyDeletion");
        let described = backend
            .describe_key(&key)
            .await
            .must("describing a key pending deletion");
        assert_eq!(described.state, KeyState::PendingDeletion);
        assert!(described.deletion_date.is_some(), "no deletion date");
        let what = |op: &str| format!("{op} on a key pending deletion");
        assert_err!(
            what("Sign"),
            backend
                .sign(
                    &key,
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("Keychain::sign"),
            kc.sign(&name, &digest, Hash::Sha256).await,
            Error::InvalidKeyState { .. }
        );
        // Verifying through the key is refused as AWS KMS refuses it, in the backend and in
        // the handle (which checks the state before verifying locally).
        assert_err!(
            what("Verify"),
            backend
                .verify(
                    &key,
                    Message::Digest(&digest),
                    &signature,
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        let fresh = kc.clone().with_cache_ttl(Duration::ZERO);
        assert_err!(
            what("Keychain::verify"),
            fresh
                .verify(
                    &name,
                    Message::Digest(&digest),
                    &signature,
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("EnableKey"),
            backend.enable_key(&key).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("DisableKey"),
            backend.disable_key(&key).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("ScheduleKeyDeletion"),
            backend.schedule_key_deletion(&key, 10).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("TagResource"),
            backend
                .tag_key(&key, &BTreeMap::from([("k".to_string(), "v".to_string())]))
                .await,
            Error::InvalidKeyState { .. }
        );
        let mut listed = false;
        let mut page = PageRequest::default();
        loop {
            let p = backend.list_keys(&page).await.must("ListKeys");
            listed |= p.items.iter().any(|k| k.key_id == info.key_id);
            match p.next_marker {
                Some(m) => page.marker = Some(m),
                None => break,
            }
        }
        assert!(listed, "a key pending deletion is still listed");
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
        let alg = EncryptionAlgorithm::SymmetricDefault;
        let ciphertext = backend.encrypt(&key, b"p", alg, &ctx).await.must("encrypt");
        backend
            .schedule_key_deletion(&key, 30)
            .await
            .must("ScheduleKeyDeletion");
        assert_err!(
            "encrypting with a key pending deletion",
            backend.encrypt(&key, b"p", alg, &ctx).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "decrypting with a key pending deletion",
            backend.decrypt(None, &ciphertext, alg, &ctx).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "a data key under a key pending deletion",
            backend
                .generate_data_key(&key, DataKeySpec::Aes128, &ctx)
                .await,
            Error::InvalidKeyState { .. }
        );
        if caps.on_demand_rotation {
            assert_err!(
                "rotating a key pending deletion",
                backend.rotate_key(&key).await,
                Error::InvalidKeyState { .. }
            );
        }
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "hmac",
        KeySpec::Hmac512,
        KeyUsage::GenerateVerifyMac,
    )
    .await
    {
        let key = key_ref(&name);
        backend
            .schedule_key_deletion(&key, 7)
            .await
            .must("ScheduleKeyDeletion");
        assert_err!(
            "a MAC with a key pending deletion",
            backend
                .generate_mac(&key, b"m", MacAlgorithm::HmacSha512)
                .await,
            Error::InvalidKeyState { .. }
        );
    }
}

/// A name or alias in use is [`Error::AlreadyExists`], whatever the spec; the first key is
/// untouched. A name whose alias was deleted is free again.
pub async fn errors_already_exists(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, first)) = named(
        kc,
        prefix,
        "taken",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    let caps = backend.capabilities();
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::SymmetricDefault,
        KeySpec::Hmac256,
    ] {
        if !caps.key_specs.contains(&spec) {
            continue;
        }
        assert_err!(
            format!("creating a second key named {name} ({spec})"),
            backend
                .create_key(&CreateKeyRequest::new(spec).name(&name))
                .await,
            Error::AlreadyExists { .. }
        );
    }
    assert_err!(
        "Keychain::generate_key with a taken name",
        kc.generate_key(&name, &keychain::KeyParams::ecdsa(keychain::Curve::P256))
            .await,
        Error::AlreadyExists { .. }
    );
    let still = backend.describe_key(&key_ref(&name)).await.must("describe");
    assert_eq!(still.key_id, first.key_id, "the name moved to another key");

    let Some((_, second)) = named(
        kc,
        prefix,
        "other",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    assert_err!(
        "CreateAlias with the other key's name",
        backend.create_alias(&name, &id_ref(&second)).await,
        Error::AlreadyExists { .. }
    );
    assert_err!(
        "CreateAlias (alias/ form) with the key's own name",
        backend
            .create_alias(&format!("alias/{name}"), &id_ref(&first))
            .await,
        Error::AlreadyExists { .. }
    );
    let extra = key_name(prefix, "extra");
    backend
        .create_alias(&extra, &id_ref(&first))
        .await
        .must("CreateAlias");
    assert_err!(
        "CreateAlias twice",
        backend.create_alias(&extra, &id_ref(&second)).await,
        Error::AlreadyExists { .. }
    );
    // Once the alias is gone the name is free.
    backend.delete_alias(&name).await.must("DeleteAlias");
    let reborn = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(&name))
        .await
        .must("creating a key with a freed name");
    assert_ne!(reborn.key_id, first.key_id);
    assert_eq!(
        backend
            .describe_key(&key_ref(&name))
            .await
            .must("describe")
            .key_id,
        reborn.key_id
    );
}

/// A name that would read as another kind of reference — a key id (even another key's), an
/// `mrk-` id, `alias/…` — is refused with [`Error::InvalidInput`] for a new key and a new
/// alias, and nothing is created; references keep meaning exactly one thing.
pub async fn errors_ambiguous_names(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, target)) = named(
        kc,
        prefix,
        "target",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let upper = target.key_id.to_ascii_uppercase();
    let mrk = format!("mrk-{}", "0123456789abcdef".repeat(2));
    let nested = format!("alias/{prefix}-nested");
    let id_shaped = [
        target.key_id.as_str(),
        upper.as_str(),
        "11111111-2222-3333-4444-555555555555",
        mrk.as_str(),
    ];
    for bad in id_shaped.iter().copied().chain([nested.as_str()]) {
        let request = CreateKeyRequest::new(KeySpec::EccNistP256).name(bad);
        let err = assert_err!(
            format!("creating a key named {bad:?}"),
            backend.create_key(&request).await,
            Error::InvalidInput { .. }
        );
        assert!(
            err.to_string().contains("reference"),
            "the error for the name {bad:?} does not say why: {err}"
        );
    }
    // `create_alias` takes NAME or alias/NAME: alias/ID and alias/alias/NAME are refused too.
    let alias_of_id = format!("alias/{}", target.key_id);
    let nested_alias = format!("alias/{nested}");
    for bad in id_shaped
        .iter()
        .copied()
        .chain([alias_of_id.as_str(), nested_alias.as_str()])
    {
        assert_err!(
            format!("CreateAlias {bad:?}"),
            backend.create_alias(bad, &key).await,
            Error::InvalidInput { .. }
        );
    }
    // Nothing was created under any of those names, and the id still means the target key.
    for reference in [alias_of_id.as_str(), nested_alias.as_str()] {
        assert_err!(
            format!("describing {reference:?} after the refusals"),
            backend.describe_key(&key_ref(reference)).await,
            Error::NotFound { .. }
        );
    }
    let by_id = backend
        .describe_key(&key_ref(&target.key_id))
        .await
        .must("describing the target by its id");
    assert_eq!(by_id.key_id, target.key_id);
    let aliases = backend
        .list_aliases(Some(&key))
        .await
        .must("ListAliases of the target");
    assert_eq!(
        aliases.iter().map(|a| a.alias.as_str()).collect::<Vec<_>>(),
        [format!("alias/{name}")],
        "a refused name became an alias of the target"
    );
}

/// A symmetric ciphertext decrypts only with exactly its encryption context and only
/// undamaged; anything else is [`Error::Crypto`].
pub async fn errors_symmetric_tampering(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, _)) = named(
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
    let ctx = context(&[("purpose", "conformance"), ("tenant", "a")]);
    let plaintext = b"attack at dawn, 0123456789abcdef";
    let ciphertext = backend
        .encrypt(&key, plaintext, alg, &ctx)
        .await
        .must("encrypt");
    assert!(
        !ciphertext.windows(plaintext.len()).any(|w| w == plaintext),
        "the ciphertext contains the plaintext"
    );
    let back = backend
        .decrypt(None, &ciphertext, alg, &ctx)
        .await
        .must("decrypt");
    assert_eq!(back.expose(), plaintext);

    for (what, other) in [
        (
            "another tenant",
            context(&[("purpose", "conformance"), ("tenant", "b")]),
        ),
        ("no context", EncryptionContext::new()),
        (
            "an extra pair",
            context(&[("purpose", "conformance"), ("tenant", "a"), ("x", "y")]),
        ),
        ("a missing pair", context(&[("purpose", "conformance")])),
        (
            "keys and values swapped",
            context(&[("conformance", "purpose"), ("a", "tenant")]),
        ),
    ] {
        assert_err!(
            format!("decrypting with {what} as context"),
            backend.decrypt(None, &ciphertext, alg, &other).await,
            Error::Crypto { .. }
        );
        assert_err!(
            format!("decrypting (key named) with {what} as context"),
            backend.decrypt(Some(&key), &ciphertext, alg, &other).await,
            Error::Crypto { .. }
        );
    }
    let n = ciphertext.len();
    for (what, damaged) in [
        ("the last byte flipped", flip_byte(&ciphertext, n - 1)),
        (
            "the last ciphertext byte before a 16-byte tag flipped",
            flip_byte(&ciphertext, n - 17),
        ),
        (
            "a bit flipped 10 bytes before the end",
            flip_byte(&ciphertext, n - 10),
        ),
        ("the last byte cut off", ciphertext[..n - 1].to_vec()),
    ] {
        assert_err!(
            format!("decrypting with {what}"),
            backend.decrypt(None, &damaged, alg, &ctx).await,
            Error::Crypto { .. }
        );
    }
    let data_key = backend
        .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
        .await
        .must("GenerateDataKey");
    assert_err!(
        "decrypting a data key with another context",
        backend
            .decrypt(None, &data_key.ciphertext, alg, &EncryptionContext::new())
            .await,
        Error::Crypto { .. }
    );
    let n = data_key.ciphertext.len();
    assert_err!(
        "decrypting a damaged data key",
        backend
            .decrypt(None, &flip_byte(&data_key.ciphertext, n - 1), alg, &ctx)
            .await,
        Error::Crypto { .. }
    );
}
