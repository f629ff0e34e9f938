//! Multi-Region keys in the software keystore: KMS's `mrk-` ids, ciphertexts that name them
//! (so Decrypt needs no key), and everything a keystore does to every key — listing, a
//! password change, a reopening — done to them too.

use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{Backend, CreateKeyRequest, EncryptionAlgorithm, KeyRef, KeySpec, Secret};
use keychain_testkit::{PASSWORD, temp_keystore};

use super::{all_key_ids, ctx, open};

#[tokio::test]
async fn multi_region_keys_live_through_listing_password_change_and_reopening() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let b = open(config).await;
    let mut request = CreateKeyRequest::new(KeySpec::SymmetricDefault).name("everywhere");
    request.multi_region = true;
    let info = b.create_key(&request).await.unwrap();
    let hex = info.key_id.strip_prefix("mrk-").unwrap();
    assert!(
        hex.len() == 32 && hex.bytes().all(|c| c.is_ascii_hexdigit()),
        "{}",
        info.key_id
    );
    assert!(info.multi_region);
    assert!(root.join("keys").join(&info.key_id).is_dir());
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ct = b
        .encrypt(&KeyRef::alias("everywhere").unwrap(), b"mrk", alg, &ctx())
        .await
        .unwrap();
    assert_eq!(
        b.ciphertext_key_id(&ct).as_deref(),
        Some(info.key_id.as_str())
    );
    // A ciphertext whose id bytes were changed names another (absent) key, never this one.
    let mut other = ct.clone();
    other[10] ^= 1;
    assert!(b.decrypt(None, &other, alg, &ctx()).await.is_err());
    assert!(all_key_ids(&b).await.contains(&info.key_id));

    b.change_password(Secret::new(b"another password".to_vec()))
        .await
        .unwrap();
    drop(b);
    let b = open(SoftwareConfig::new(&root).password("another password")).await;
    assert!(all_key_ids(&b).await.contains(&info.key_id));
    assert_eq!(
        b.decrypt(None, &ct, alg, &ctx()).await.unwrap().expose(),
        b"mrk",
        "the multi-Region key did not survive the password change"
    );
    assert!(
        SoftwareBackend::open(SoftwareConfig::new(&root).password(PASSWORD))
            .await
            .is_err(),
        "the old password still opens the keystore"
    );
}
