//! Rotation in the software keystore: automatic rotation applied when it comes due, on-demand
//! rotation, and the record of each rotation (when and how) kept with the key.

use std::time::{SystemTime, UNIX_EPOCH};

use keychain::software::SoftwareConfig;
use keychain::{
    Backend, CreateKeyRequest, EncryptionAlgorithm, KeyMaterial, KeySpec, RotationType,
};
use keychain_testkit::{FakeClock, PASSWORD, days, temp_keystore};

use super::{ctx, key, mode, open};

fn ciphertext_version(ct: &[u8]) -> u32 {
    u32::from_be_bytes(ct[20..24].try_into().unwrap())
}

#[tokio::test]
async fn automatic_rotation_happens_when_due() {
    let clock = FakeClock::new();
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let backend = open(config.clock(clock.clock())).await;
    let info = backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("rotating"))
        .await
        .unwrap();
    let k = key("rotating");
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let start = clock.now();
    let c1 = backend.encrypt(&k, b"one", alg, &ctx()).await.unwrap();
    assert_eq!(ciphertext_version(&c1), 1);
    backend.enable_key_rotation(&k, Some(90)).await.unwrap();
    let status = backend.key_rotation_status(&k).await.unwrap();
    assert_eq!(status.next_rotation, Some(start + days(90)));

    clock.advance(days(89));
    assert_eq!(backend.describe_key(&k).await.unwrap().versions, 1);

    clock.advance(days(2));
    assert_eq!(
        backend.describe_key(&k).await.unwrap().versions,
        2,
        "91 days after enabling a 90-day rotation there are two versions"
    );
    let status = backend.key_rotation_status(&k).await.unwrap();
    assert_eq!(status.next_rotation, Some(start + days(180)));
    let v2 = root.join("keys").join(&info.key_id).join("v2.pem");
    assert!(v2.is_file());
    assert_eq!(mode(&v2), 0o600);
    let c2 = backend.encrypt(&k, b"two", alg, &ctx()).await.unwrap();
    assert_eq!(
        ciphertext_version(&c2),
        2,
        "new ciphertexts use the new version"
    );
    assert_eq!(
        backend
            .decrypt(None, &c1, alg, &ctx())
            .await
            .unwrap()
            .expose(),
        b"one"
    );
    assert_eq!(
        backend
            .decrypt(None, &c2, alg, &ctx())
            .await
            .unwrap()
            .expose(),
        b"two"
    );

    // A year after the start: rotations on days 180, 270 and 360 happened as well.
    clock.advance(days(365 - 91));
    assert_eq!(backend.describe_key(&k).await.unwrap().versions, 5);
    let c5 = backend.encrypt(&k, b"five", alg, &ctx()).await.unwrap();
    assert_eq!(ciphertext_version(&c5), 5);
    for (ct, plain) in [(&c1, &b"one"[..]), (&c2, b"two"), (&c5, b"five")] {
        assert_eq!(
            backend
                .decrypt(None, ct, alg, &ctx())
                .await
                .unwrap()
                .expose(),
            plain
        );
    }

    // Turned off, nothing more happens.
    backend.disable_key_rotation(&k).await.unwrap();
    clock.advance(days(1000));
    assert_eq!(backend.describe_key(&k).await.unwrap().versions, 5);

    // On demand: the next version, used at once.
    backend.rotate_key(&k).await.unwrap();
    let c6 = backend.encrypt(&k, b"six", alg, &ctx()).await.unwrap();
    assert_eq!(ciphertext_version(&c6), 6);
    assert_eq!(
        backend
            .decrypt(None, &c1, alg, &ctx())
            .await
            .unwrap()
            .expose(),
        b"one"
    );

    // The materials: each automatic rotation dated when it was due (applied late, when the
    // key was next read), the on-demand one when it happened; kept across a reopening.
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let expected: Vec<(u32, Option<u64>, Option<RotationType>)> = vec![
        (1, None, None),
        (
            2,
            Some(secs(start + days(90))),
            Some(RotationType::Automatic),
        ),
        (
            3,
            Some(secs(start + days(180))),
            Some(RotationType::Automatic),
        ),
        (
            4,
            Some(secs(start + days(270))),
            Some(RotationType::Automatic),
        ),
        (
            5,
            Some(secs(start + days(360))),
            Some(RotationType::Automatic),
        ),
        (6, Some(secs(clock.now())), Some(RotationType::OnDemand)),
    ];
    let seen = |materials: &[KeyMaterial]| -> Vec<(u32, Option<u64>, Option<RotationType>)> {
        materials
            .iter()
            .map(|m| (m.version, m.rotation_date.map(secs), m.rotation_type))
            .collect()
    };
    let materials = backend.list_key_materials(&k).await.unwrap();
    assert_eq!(seen(&materials), expected);
    let current: Vec<bool> = materials.iter().map(|m| m.current).collect();
    assert_eq!(current, [false, false, false, false, false, true]);
    drop(backend);
    let reopened = open(
        SoftwareConfig::new(&root)
            .password(PASSWORD)
            .clock(clock.clock()),
    )
    .await;
    let again = reopened.list_key_materials(&k).await.unwrap();
    assert_eq!(again, materials, "the materials changed on reopening");
}

#[tokio::test]
async fn rotations_recorded_before_dates_were_kept_have_none() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let backend = open(config).await;
    let info = backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("old"))
        .await
        .unwrap();
    let k = key("old");
    backend.rotate_key(&k).await.unwrap();
    drop(backend);
    // A keystore written before rotations were recorded: meta.json without `rotations`.
    let meta = root.join("keys").join(&info.key_id).join("meta.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert!(
        json.get("rotations").is_some(),
        "no rotations recorded: {json}"
    );
    json.as_object_mut().unwrap().remove("rotations");
    std::fs::write(&meta, serde_json::to_vec(&json).unwrap()).unwrap();
    let backend = open(SoftwareConfig::new(&root).password(PASSWORD)).await;
    let materials = backend.list_key_materials(&k).await.unwrap();
    let rotations: Vec<_> = materials
        .iter()
        .map(|m| (m.version, m.current, m.rotation_date, m.rotation_type))
        .collect();
    assert_eq!(rotations, [(1, false, None, None), (2, true, None, None)]);
    assert_ne!(materials[0].material_id, materials[1].material_id);
    let ct = backend
        .encrypt(&k, b"still", EncryptionAlgorithm::SymmetricDefault, &ctx())
        .await
        .unwrap();
    assert_eq!(ciphertext_version(&ct), 2);
}
