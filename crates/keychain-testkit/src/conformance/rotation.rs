//! Rotation checks: automatic rotation and its period, on-demand rotation and versions, and
//! the refusal to rotate asymmetric keys.

use super::support::*;
use super::*;

/// Automatic rotation (if the capabilities say so): status, enable with a validated period
/// (90–2560 days, default 365), disable; refused for disabled keys and for HMAC keys.
pub async fn rotation_automatic(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let Some((name, _)) = named(
        kc,
        prefix,
        "rotating",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    if !caps.automatic_rotation {
        assert_err!(
            "EnableKeyRotation without the capability",
            backend.enable_key_rotation(&key, Some(90)).await,
            Error::Unsupported { .. }
        );
        return;
    }
    let status = backend
        .key_rotation_status(&key)
        .await
        .must("GetKeyRotationStatus");
    assert!(!status.enabled, "a new key rotates automatically");
    for bad in [0u32, 89, 2561] {
        assert_err!(
            format!("a rotation period of {bad} days"),
            backend.enable_key_rotation(&key, Some(bad)).await,
            Error::InvalidInput { .. }
        );
    }
    assert!(
        !backend
            .key_rotation_status(&key)
            .await
            .must("status")
            .enabled
    );
    for (period, expected) in [(Some(90u32), 90u32), (Some(2560), 2560), (None, 365)] {
        let now = SystemTime::now();
        backend
            .enable_key_rotation(&key, period)
            .await
            .must("EnableKeyRotation");
        let status = backend.key_rotation_status(&key).await.must("status");
        assert!(status.enabled, "rotation is off after enabling it");
        assert_eq!(status.period_days, Some(expected), "rotation period");
        let next = status
            .next_rotation
            .unwrap_or_else(|| panic!("enabled rotation has no next rotation date"));
        assert_near(
            &format!("the next rotation of a {expected}-day period"),
            next,
            now + days(u64::from(expected)),
            Duration::from_secs(300),
            days(1),
        );
    }
    backend
        .disable_key_rotation(&key)
        .await
        .must("DisableKeyRotation");
    let status = backend.key_rotation_status(&key).await.must("status");
    assert!(!status.enabled, "rotation is on after disabling it");
    // A disabled key cannot have its rotation changed.
    backend.disable_key(&key).await.must("DisableKey");
    assert_err!(
        "EnableKeyRotation on a disabled key",
        backend.enable_key_rotation(&key, Some(90)).await,
        Error::InvalidKeyState { .. }
    );
    backend.enable_key(&key).await.must("EnableKey");
    if let Some((hmac, _)) = named(
        kc,
        prefix,
        "hmac",
        KeySpec::Hmac256,
        KeyUsage::GenerateVerifyMac,
    )
    .await
    {
        assert_err!(
            "EnableKeyRotation on an HMAC key",
            backend.enable_key_rotation(&key_ref(&hmac), None).await,
            Error::Unsupported { .. }
        );
    }
}

/// On-demand rotation (if the capabilities say so): the version count grows, ciphertexts and
/// data keys made before still decrypt, new ones decrypt; a disabled key is refused.
pub async fn rotation_on_demand(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((key, info)) = rotatable(
        kc,
        prefix,
        "rotated",
        "RotateKeyOnDemand",
        |key| async move { backend.rotate_key(&key).await },
    )
    .await
    else {
        return;
    };
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ctx = context(&[("rotation", "yes")]);
    let mut made = Vec::new();
    let mut versions = info.versions;
    for round in 0..3u32 {
        let plaintext = format!("before rotation {round}").into_bytes();
        let ct = backend
            .encrypt(&key, &plaintext, alg, &ctx)
            .await
            .must("Encrypt");
        made.push((ct, plaintext));
        let dk = backend
            .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
            .await
            .must("GenerateDataKey");
        made.push((dk.ciphertext.clone(), dk.plaintext.expose().to_vec()));
        backend.rotate_key(&key).await.must("RotateKeyOnDemand");
        let now = backend.describe_key(&key).await.must("describe").versions;
        assert_eq!(
            now,
            versions + 1,
            "rotation {round}: the version count did not grow by one"
        );
        versions = now;
        for (ct, plaintext) in &made {
            let back = backend.decrypt(None, ct, alg, &ctx).await.must(&format!(
                "decrypting an older ciphertext after rotation {round}"
            ));
            assert_eq!(back.expose(), &plaintext[..]);
        }
    }
    let fresh = backend
        .encrypt(&key, b"after", alg, &ctx)
        .await
        .must("Encrypt after rotation");
    assert_eq!(
        backend
            .decrypt(None, &fresh, alg, &ctx)
            .await
            .must("Decrypt")
            .expose(),
        b"after"
    );
    backend.disable_key(&key).await.must("DisableKey");
    assert_err!(
        "rotating a disabled key",
        backend.rotate_key(&key).await,
        Error::InvalidKeyState { .. }
    );
}

/// Rotation of asymmetric and HMAC keys is [`Error::Unsupported`] (as in KMS).
pub async fn rotation_asymmetric_unsupported(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    for (what, spec, usage) in [
        ("p256", KeySpec::EccNistP256, KeyUsage::SignVerify),
        (
            "ed25519",
            KeySpec::EccNistEdwards25519,
            KeyUsage::SignVerify,
        ),
        ("rsa-enc", KeySpec::Rsa2048, KeyUsage::EncryptDecrypt),
        ("hmac", KeySpec::Hmac256, KeyUsage::GenerateVerifyMac),
    ] {
        let Some((name, _)) = named(kc, prefix, what, spec, usage).await else {
            continue;
        };
        let key = key_ref(&name);
        assert_err!(
            format!("RotateKeyOnDemand on a {spec} key"),
            backend.rotate_key(&key).await,
            Error::Unsupported { .. }
        );
        assert_err!(
            format!("EnableKeyRotation on a {spec} key"),
            backend.enable_key_rotation(&key, Some(90)).await,
            Error::Unsupported { .. }
        );
        assert_eq!(
            backend.describe_key(&key).await.must("describe").versions,
            1,
            "{spec}: a refused rotation added a version"
        );
    }
}

/// The key's materials (if on-demand rotation is offered): a new symmetric key has one, the
/// first (current, no rotation date); each on-demand rotation adds one that is current, made
/// `ON_DEMAND` about now, with an id distinct from every earlier one and stable between calls.
/// Asymmetric keys have no list.
pub async fn rotation_history(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((key, _)) = rotatable(
        kc,
        prefix,
        "history",
        "ListKeyRotations",
        |key| async move { backend.list_key_materials(&key).await.map(|_| ()) },
    )
    .await
    else {
        return;
    };
    let first = backend
        .list_key_materials(&key)
        .await
        .must("listing the materials of a new key");
    assert_eq!(first.len(), 1, "a new key's materials: {first:?}");
    assert_eq!(first[0].version, 1, "the first material's version");
    assert!(first[0].current, "the only material is not current");
    assert_eq!(
        (first[0].rotation_date, first[0].rotation_type),
        (None, None),
        "the first material has a rotation"
    );
    let hex_id = |id: &str| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(
        hex_id(&first[0].material_id),
        "a material id is not 64 hex digits: {:?}",
        first[0].material_id
    );
    let mut seen = vec![first[0].material_id.clone()];
    for round in 2..=3u32 {
        let before = SystemTime::now();
        backend.rotate_key(&key).await.must("RotateKeyOnDemand");
        let materials = backend
            .list_key_materials(&key)
            .await
            .must("listing the materials after a rotation");
        let versions: Vec<u32> = materials.iter().map(|m| m.version).collect();
        assert_eq!(
            versions,
            (1..=round).collect::<Vec<u32>>(),
            "versions after {round} materials"
        );
        let ids: Vec<String> = materials.iter().map(|m| m.material_id.clone()).collect();
        assert_eq!(
            &ids[..seen.len()],
            &seen[..],
            "an earlier material's id changed"
        );
        let newest = &materials[materials.len() - 1];
        assert!(hex_id(&newest.material_id), "{:?}", newest.material_id);
        assert!(
            !seen.contains(&newest.material_id),
            "a rotation reused a material id"
        );
        seen.push(newest.material_id.clone());
        let current: Vec<u32> = materials
            .iter()
            .filter(|m| m.current)
            .map(|m| m.version)
            .collect();
        assert_eq!(current, vec![round], "which material is current");
        assert_eq!(
            newest.rotation_type,
            Some(RotationType::OnDemand),
            "how the rotation happened"
        );
        let date = newest
            .rotation_date
            .unwrap_or_else(|| panic!("an on-demand rotation has no date"));
        assert_near(
            "an on-demand rotation's date",
            date,
            before,
            Duration::from_secs(300),
            Duration::from_secs(300),
        );
        assert_eq!(
            backend.describe_key(&key).await.must("describe").versions,
            round,
            "the version count disagrees with the materials"
        );
    }
    if let Some((p256, _)) = named(
        kc,
        prefix,
        "history-p256",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        assert_err!(
            "ListKeyRotations of a P-256 key",
            backend.list_key_materials(&key_ref(&p256)).await,
            Error::Unsupported { .. }
        );
    }
}

/// A new symmetric key named for `what`, when the backend rotates on demand; otherwise (or
/// when it has no symmetric keys) `None`, after asserting that `operation`, run by `refused`
/// on the key, is [`Error::Unsupported`].
async fn rotatable<F>(
    kc: &Keychain,
    prefix: &str,
    what: &str,
    operation: &str,
    refused: impl FnOnce(KeyRef) -> F,
) -> Option<(KeyRef, KeyInfo)>
where
    F: std::future::Future<Output = keychain::Result<()>>,
{
    let (name, info) = named(
        kc,
        prefix,
        what,
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await?;
    let key = key_ref(&name);
    if !kc.backend().capabilities().on_demand_rotation {
        assert_err!(
            format!("{operation} without on-demand rotation"),
            refused(key).await,
            Error::Unsupported { .. }
        );
        return None;
    }
    Some((key, info))
}
