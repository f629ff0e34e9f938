//! `SoftwareBackend::export_key_material`, the narrow export a migration uses: the exported
//! bytes are judged by OpenSSL (the public key of the PKCS#8, the HMAC of a file) and by
//! opening the keystore's own ciphertexts, never by the keystore itself; keys that may not be
//! used are not exported, and exporting changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use keychain::{
    Backend, CreateKeyRequest, EncryptionAlgorithm, EncryptionContext, Error, KeyRef, KeySpec,
    KeyUsage, MacAlgorithm,
};
use keychain_testkit::conformance::Must;
use keychain_testkit::temp_software_backend;

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    keychain_testkit::run_with_stdin(Command::new("openssl").args(args), input)
}

async fn named(
    b: &keychain::software::SoftwareBackend,
    name: &str,
    spec: KeySpec,
    usage: KeyUsage,
) -> KeyRef {
    b.create_key(&CreateKeyRequest::new(spec).name(name).usage(usage))
        .await
        .must(&format!("creating {name}"));
    KeyRef::parse(name).must("ref")
}

/// RSA, EC and Ed25519 keys export as unencrypted PKCS#8 DER whose public key, as OpenSSL
/// derives it, is the key's public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asymmetric_keys_export_their_pkcs8() {
    let (_dir, b) = temp_software_backend().await;
    for spec in [
        KeySpec::Rsa2048,
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
        KeySpec::EccNistEdwards25519,
    ] {
        let key = named(&b, &format!("k-{spec}"), spec, KeyUsage::SignVerify).await;
        let material = b.export_key_material(&key).await.must("export");
        assert!(
            !format!("{material:?}").contains(&format!("{:?}", &material.expose()[..4])),
            "Debug shows no bytes"
        );
        let pem = openssl(
            &["pkey", "-inform", "DER", "-pubout", "-outform", "PEM"],
            material.expose(),
        );
        let expected = b.public_key(&key).await.must("public key").to_pem();
        assert_eq!(
            String::from_utf8(pem).unwrap().trim(),
            expected.trim(),
            "{spec}: OpenSSL's public key of the exported PKCS#8"
        );
    }
}

/// HMAC keys export their raw bytes (28, 32, 48, 64): OpenSSL's HMAC with them equals the
/// keystore's MAC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_keys_export_their_raw_bytes() {
    let (dir, b) = temp_software_backend().await;
    let message = b"the message OpenSSL MACs too";
    let file = dir.path().join("message");
    std::fs::write(&file, message).unwrap();
    for (spec, alg, len, digest) in [
        (KeySpec::Hmac224, MacAlgorithm::HmacSha224, 28, "SHA224"),
        (KeySpec::Hmac256, MacAlgorithm::HmacSha256, 32, "SHA256"),
        (KeySpec::Hmac384, MacAlgorithm::HmacSha384, 48, "SHA384"),
        (KeySpec::Hmac512, MacAlgorithm::HmacSha512, 64, "SHA512"),
    ] {
        let key = named(&b, &format!("h-{len}"), spec, KeyUsage::GenerateVerifyMac).await;
        let material = b.export_key_material(&key).await.must("export");
        assert_eq!(material.len(), len, "{spec}");
        let hexkey: String = material
            .expose()
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        let out = keychain_testkit::run_with_stdin(
            Command::new("openssl")
                .args(["mac", "-digest", digest, "-macopt"])
                .arg(format!("hexkey:{hexkey}"))
                .args(["-in"])
                .arg(&file)
                .arg("HMAC"),
            b"",
        );
        let by_openssl = String::from_utf8(out).unwrap().trim().to_ascii_lowercase();
        let mac = b.generate_mac(&key, message, alg).await.must("GenerateMac");
        let ours: String = mac.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(by_openssl, ours, "{spec}");
    }
}

/// Opens a ciphertext of the keystore (`KCS\x01`, key id, version, nonce, AES-256-GCM) with
/// raw key bytes and an empty encryption context.
fn open_with(key: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
    let (header, rest) = ciphertext.split_at(24);
    let (nonce, sealed) = rest.split_at(12);
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let mut buf = sealed.to_vec();
    let plain = key
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).ok()?,
            Aad::from(header),
            &mut buf,
        )
        .ok()?;
    Some(plain.to_vec())
}

/// A symmetric key exports the 32 bytes of its current version: they open the keystore's
/// ciphertexts of that version. After a rotation the export is the new version's, which does
/// not open the old ciphertexts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symmetric_keys_export_the_current_version() {
    let (_dir, b) = temp_software_backend().await;
    let key = named(
        &b,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let none = EncryptionContext::new();
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let v1 = b.export_key_material(&key).await.must("export v1");
    assert_eq!(v1.len(), 32);
    let c1 = b
        .encrypt(&key, b"version one", alg, &none)
        .await
        .must("encrypt");
    assert_eq!(
        open_with(v1.expose(), &c1).as_deref(),
        Some(&b"version one"[..])
    );

    b.rotate_key(&key).await.must("rotate");
    let v2 = b.export_key_material(&key).await.must("export v2");
    assert_ne!(v1, v2, "the export follows the rotation");
    let c2 = b
        .encrypt(&key, b"version two", alg, &none)
        .await
        .must("encrypt");
    assert_eq!(
        open_with(v2.expose(), &c2).as_deref(),
        Some(&b"version two"[..])
    );
    assert_eq!(
        open_with(v2.expose(), &c1),
        None,
        "v2 does not open v1's ciphertext"
    );
}

/// Disabled keys and keys pending deletion are not exported (InvalidKeyState), unknown keys
/// are NotFound; exporting leaves the key as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_keys_are_not_exported_and_export_changes_nothing() {
    let (_dir, b) = temp_software_backend().await;
    let key = named(&b, "ec", KeySpec::EccNistP256, KeyUsage::SignVerify).await;
    let before = b.describe_key(&key).await.must("describe");
    b.export_key_material(&key).await.must("export");
    assert_eq!(b.describe_key(&key).await.must("describe"), before);

    b.disable_key(&key).await.must("disable");
    assert!(matches!(
        b.export_key_material(&key).await,
        Err(Error::InvalidKeyState { .. })
    ));
    b.enable_key(&key).await.must("enable");
    b.export_key_material(&key)
        .await
        .must("export after enabling");

    b.schedule_key_deletion(&key, 7)
        .await
        .must("schedule deletion");
    let err = b.export_key_material(&key).await.unwrap_err();
    assert!(matches!(err, Error::InvalidKeyState { .. }), "{err}");
    assert!(err.to_string().contains("alias/ec"), "{err}");

    assert!(matches!(
        b.export_key_material(&KeyRef::parse("missing").must("ref"))
            .await,
        Err(Error::NotFound { .. })
    ));
}
