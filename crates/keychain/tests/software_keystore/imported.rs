//! Keys of imported material in the software keystore (origin EXTERNAL), and key annexes:
//! both through the `Backend` trait, both kept across a reopening of the keystore.

use keychain::software::{SoftwareBackend, generate_key_pair};
use keychain::{Backend, CreateKeyRequest, KeyOrigin, KeySpec, KeyState, Message, Secret};
use keychain::{SigningAlgorithm, software::SoftwareConfig};
use keychain_testkit::temp_keystore;

async fn open(config: SoftwareConfig) -> SoftwareBackend {
    SoftwareBackend::open(config).await.unwrap()
}

fn external(spec: KeySpec) -> CreateKeyRequest {
    let mut request = CreateKeyRequest::new(spec);
    request.origin = KeyOrigin::External;
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_material_is_stored_deleted_and_only_the_same_comes_back() {
    let (_dir, config) = temp_keystore();
    let b = open(config.clone()).await;
    let info = b.create_key(&external(KeySpec::EccNistP256)).await.unwrap();
    assert_eq!(
        (info.state, info.origin, info.versions),
        (KeyState::PendingImport, KeyOrigin::External, 0)
    );
    let key = keychain::KeyRef::key_id(&info.key_id).unwrap();
    let msg = Message::Raw(b"imported");
    let alg = SigningAlgorithm::EcdsaSha256;
    // No material yet: every use is a state error, never a damaged keystore.
    assert!(matches!(
        b.sign(&key, msg, alg).await,
        Err(keychain::Error::InvalidKeyState { .. })
    ));
    assert!(matches!(
        b.public_key(&key).await,
        Err(keychain::Error::InvalidKeyState { .. })
    ));
    // Material of another spec is refused.
    let (rsa, _) = generate_key_pair(KeySpec::Rsa2048).unwrap();
    assert!(matches!(
        b.import_key_material(&key, &rsa, None).await,
        Err(keychain::Error::ImportRefused { .. })
    ));
    let (material, public) = generate_key_pair(KeySpec::EccNistP256).unwrap();
    b.import_key_material(&key, &material, None).await.unwrap();
    assert_eq!(b.describe_key(&key).await.unwrap().state, KeyState::Enabled);
    assert_eq!(b.public_key(&key).await.unwrap(), public);
    let sig = b.sign(&key, msg, alg).await.unwrap();
    assert!(public.verify(msg, &sig, alg).unwrap());
    // Rotation would generate material that was not imported.
    assert!(b.rotate_key(&key).await.is_err());

    // Deleted: PendingImport again, and the key file is gone.
    b.delete_imported_key_material(&key).await.unwrap();
    assert_eq!(
        b.describe_key(&key).await.unwrap().state,
        KeyState::PendingImport
    );
    let key_dir = config.path.join("keys").join(&info.key_id);
    assert!(!key_dir.join("v1.pem").exists());
    assert!(matches!(
        b.sign(&key, msg, alg).await,
        Err(keychain::Error::InvalidKeyState { .. })
    ));
    // A cancelled deletion leaves it waiting for its material, not disabled.
    b.schedule_key_deletion(&key, 7).await.unwrap();
    b.cancel_key_deletion(&key).await.unwrap();
    assert_eq!(
        b.describe_key(&key).await.unwrap().state,
        KeyState::PendingImport
    );
    // Only the same material is taken back, also by a new handle on the keystore.
    drop(b);
    let b = open(config).await;
    let (other, _) = generate_key_pair(KeySpec::EccNistP256).unwrap();
    assert!(matches!(
        b.import_key_material(&key, &other, None).await,
        Err(keychain::Error::ImportRefused { .. })
    ));
    b.import_key_material(&key, &material, None).await.unwrap();
    assert_eq!(b.public_key(&key).await.unwrap(), public);
    // A key of generated material takes no import; expiring material is not kept.
    let generated = b
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault))
        .await
        .unwrap();
    let generated = keychain::KeyRef::key_id(&generated.key_id).unwrap();
    assert!(matches!(
        b.import_key_material(&generated, &Secret::new(vec![1; 32]), None)
            .await,
        Err(keychain::Error::ImportRefused { .. })
    ));
    assert!(
        b.import_key_material(&key, &material, Some(std::time::SystemTime::now()))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annexes_are_replaced_whole_and_kept() {
    let (_dir, config) = temp_keystore();
    let b = open(config.clone()).await;
    let info = b
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault))
        .await
        .unwrap();
    let key = keychain::KeyRef::key_id(&info.key_id).unwrap();
    assert_eq!(b.read_key_annex(&key, "notes").await.unwrap(), None);
    b.update_key_annex(
        &key,
        "notes",
        Box::new(|old| {
            assert!(old.is_none());
            Ok(b"one".to_vec())
        }),
    )
    .await
    .unwrap();
    // A refused update leaves the annex as it was.
    let refused = b
        .update_key_annex(
            &key,
            "notes",
            Box::new(|_| Err(keychain::Error::invalid_input("no"))),
        )
        .await;
    assert!(refused.is_err());
    b.update_key_annex(
        &key,
        "notes",
        Box::new(|old| {
            let mut v = old.unwrap_or_default().to_vec();
            v.extend_from_slice(b"+two");
            Ok(v)
        }),
    )
    .await
    .unwrap();
    drop(b);
    let b = open(config).await;
    assert_eq!(
        b.read_key_annex(&key, "notes").await.unwrap().as_deref(),
        Some(&b"one+two"[..])
    );
    for bad in ["../meta", "Notes", "", "v1.pem"] {
        assert!(b.read_key_annex(&key, bad).await.is_err(), "{bad}");
    }
    let unknown = keychain::KeyRef::key_id("00000000-0000-4000-8000-000000000000").unwrap();
    assert!(matches!(
        b.read_key_annex(&unknown, "notes").await,
        Err(keychain::Error::NotFound { .. })
    ));
}

/// Material imported with an expiry is used until then; once the time comes, the key's next
/// use finds it deleted (PendingImport, the file gone) until the same material comes back,
/// and what it encrypted before decrypts again. An expiry that is not in the future or is more
/// than 365 days ahead is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_material_that_expires_is_deleted_when_due() {
    use keychain::{EncryptionAlgorithm, Error};
    use keychain_testkit::{FakeClock, days};

    let clock = FakeClock::new();
    let (_dir, config) = temp_keystore();
    let key_dirs = config.path.join("keys");
    let b = open(config.clock(clock.clock())).await;
    let info = b
        .create_key(&external(KeySpec::SymmetricDefault))
        .await
        .unwrap();
    let key = keychain::KeyRef::key_id(&info.key_id).unwrap();
    let material = Secret::new((0u8..32).collect());
    for (what, at) in [
        ("now", clock.now()),
        ("a day ago", clock.now() - days(1)),
        ("366 days ahead", clock.now() + days(366)),
    ] {
        assert!(
            matches!(
                b.import_key_material(&key, &material, Some(at)).await,
                Err(Error::InvalidInput { .. })
            ),
            "an expiry {what} was accepted"
        );
    }
    assert_eq!(
        b.describe_key(&key).await.unwrap().state,
        KeyState::PendingImport,
        "a refused import changed the key"
    );
    let valid_to = clock.now() + days(10);
    b.import_key_material(&key, &material, Some(valid_to))
        .await
        .unwrap();
    let described = b.describe_key(&key).await.unwrap();
    assert_eq!(
        (described.state, described.valid_to),
        (KeyState::Enabled, Some(valid_to))
    );
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ctx = keychain::EncryptionContext::new();
    let ct = b.encrypt(&key, b"before", alg, &ctx).await.unwrap();

    clock.advance(days(9));
    assert_eq!(
        b.decrypt(None, &ct, alg, &ctx).await.unwrap().expose(),
        b"before"
    );

    clock.advance(days(1));
    assert!(matches!(
        b.decrypt(None, &ct, alg, &ctx).await,
        Err(Error::InvalidKeyState { .. })
    ));
    let described = b.describe_key(&key).await.unwrap();
    assert_eq!(
        (described.state, described.valid_to, described.versions),
        (KeyState::PendingImport, None, 0)
    );
    assert!(
        !key_dirs.join(&info.key_id).join("v1.pem").exists(),
        "the expired material is still on disk"
    );

    // The same material again, this time for good.
    b.import_key_material(&key, &material, None).await.unwrap();
    clock.advance(days(400));
    assert_eq!(
        b.decrypt(None, &ct, alg, &ctx).await.unwrap().expose(),
        b"before"
    );
    assert_eq!(b.describe_key(&key).await.unwrap().valid_to, None);
}
