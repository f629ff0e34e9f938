//! Code signing: detached signatures of large artifacts in constant memory, checked by
//! OpenSSL, and offline bundle verification.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::Write;

use keychain::codesign::{SignatureBundle, sign_artifact};
use keychain::{KeyParams, Keychain, SigningAlgorithm};

const GIB: u64 = 1 << 30;
const CHILD_ENV: &str = "KEYCHAIN_CODESIGN_CHILD_DIR";

async fn keychain_in(dir: &std::path::Path) -> Keychain {
    let config = keychain::software::SoftwareConfig::new(dir.join("ks"))
        .password(keychain_testkit::PASSWORD)
        .kdf_iterations(keychain_testkit::ITERATIONS);
    Keychain::new(
        keychain::software::SoftwareBackend::open(config)
            .await
            .unwrap(),
    )
}

/// Runs in a child process (so its peak memory is its own): signs a 1 GiB sparse file and
/// writes the bundle, then prints its peak RSS. Started by
/// `signing_one_gib_runs_in_constant_memory`; on its own it has nothing to do.
#[tokio::test]
async fn child_signs_one_gib() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let kc = keychain_in(&dir).await;
    let artifact = File::open(dir.join("artifact.bin")).unwrap();
    let bundle = sign_artifact(&kc, "release-signer", "artifact.bin", artifact, None)
        .await
        .unwrap();
    std::fs::write(dir.join("bundle.json"), bundle.to_json()).unwrap();
    std::fs::write(dir.join("artifact.sig"), bundle.signature_bytes().unwrap()).unwrap();
    println!("PEAK_RSS_KIB={}", keychain_testkit::memory::peak_rss_kib());
}

#[tokio::test]
async fn signing_one_gib_runs_in_constant_memory() {
    let dir = tempfile::tempdir().unwrap();
    let kc = keychain_in(dir.path()).await;
    kc.generate_key("release-signer", &KeyParams::ecdsa(keychain::Curve::P256))
        .await
        .unwrap();
    let pem = kc.public_key("release-signer").await.unwrap().to_pem();
    kc.close().await.unwrap();
    let path = dir.path().join("artifact.bin");
    let f = File::create(&path).unwrap();
    f.set_len(GIB).unwrap(); // sparse: 1 GiB of zeros without the disk space
    drop(f);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"the end of a large release").unwrap();
    drop(f);

    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_signs_one_gib",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak: u64 = stdout
        .split("PEAK_RSS_KIB=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in child output: {stdout}"));
    // Reading the input whole would push the peak past 1 GiB; streaming stays far below.
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB while signing 1 GiB");

    // OpenSSL, an independent verifier, accepts the raw signature over the whole file.
    let sig = std::fs::read(dir.path().join("artifact.sig")).unwrap();
    assert!(keychain_testkit::openssl_verify_file(
        &pem,
        SigningAlgorithm::EcdsaSha256,
        &path,
        &sig
    ));

    // The bundle verifies offline against the artifact, with the key pinned.
    let bundle =
        SignatureBundle::from_json(&std::fs::read(dir.path().join("bundle.json")).unwrap())
            .unwrap();
    assert_eq!(bundle.size, GIB + 26);
    let trusted = keychain::PublicKey::from_pem(&pem).unwrap();
    let verdict = bundle
        .verify(File::open(&path).unwrap(), &[trusted])
        .unwrap();
    assert!(verdict.valid && verdict.trusted_key, "{verdict:?}");
}

#[tokio::test]
async fn bundles_detect_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let kc = keychain_in(dir.path()).await;
    let (_other_dir, other) = keychain_testkit::temp_software_backend().await;
    let other_kc = Keychain::new(other);
    other_kc
        .generate_key("x", &KeyParams::ecdsa(keychain::Curve::P256))
        .await
        .unwrap();
    for (name, params, alg) in [
        (
            "rsa",
            KeyParams::rsa(2048),
            Some(SigningAlgorithm::RsassaPssSha384),
        ),
        ("p384", KeyParams::ecdsa(keychain::Curve::P384), None),
        ("ed", KeyParams::ed25519(), None),
    ] {
        kc.generate_key(name, &params).await.unwrap();
        let artifact = b"binary content of release 1.2.3".to_vec();
        let bundle = sign_artifact(&kc, name, "release.bin", &artifact[..], alg)
            .await
            .unwrap();
        let own = kc.public_key(name).await.unwrap();

        // Valid with the bundle's own key (integrity only) and with the key pinned.
        let v = bundle.verify(&artifact[..], &[]).unwrap();
        assert!(v.valid && !v.trusted_key, "{name}: {v:?}");
        let v = bundle
            .verify(&artifact[..], std::slice::from_ref(&own))
            .unwrap();
        assert!(v.valid && v.trusted_key, "{name}: {v:?}");

        // OpenSSL agrees on the raw signature.
        let sig = bundle.signature_bytes().unwrap();
        assert!(
            keychain_testkit::openssl_verify(&own.to_pem(), bundle.algorithm, &artifact, &sig),
            "{name}"
        );

        // The verdict reports what was checked, computed from the artifact...
        let v = bundle.verify(&artifact[..], &[]).unwrap();
        assert_eq!(v.size, artifact.len() as u64);
        assert_eq!(v.algorithm, bundle.algorithm);
        assert_eq!(v.digest, bundle.digest, "{name}");
        // ...and the unsigned fields are not part of it: editing them changes nothing.
        let mut unsigned = bundle.clone();
        unsigned.artifact = "evil.bin".into();
        unsigned.key = "someone-else".into();
        unsigned.signed_at = 0;
        assert_eq!(unsigned.verify(&artifact[..], &[]).unwrap(), v, "{name}");

        // A changed artifact, a changed digest, a forged signature: invalid.
        let mut changed = artifact.clone();
        changed[0] ^= 1;
        assert!(!bundle.verify(&changed[..], &[]).unwrap().valid, "{name}");
        let mut b2 = bundle.clone();
        b2.digest = "00".repeat(b2.digest.len() / 2);
        assert!(!b2.verify(&artifact[..], &[]).unwrap().valid, "{name}");
        let mut sig2 = sig.clone();
        let last = sig2.len() - 1;
        sig2[last] ^= 1;
        let mut b3 = bundle.clone();
        b3.signature = base64_encode(&sig2);
        assert!(!b3.verify(&artifact[..], &[]).unwrap().valid, "{name}");

        // A bundle made with another key is not trusted when the real key is pinned.
        let forged = sign_artifact(&other_kc, "x", "release.bin", &artifact[..], None)
            .await
            .unwrap();
        assert!(forged.verify(&artifact[..], &[]).unwrap().valid);
        let v = forged
            .verify(&artifact[..], std::slice::from_ref(&own))
            .unwrap();
        assert!(!v.valid && !v.trusted_key, "{name}: {v:?}");

        // A public key swapped in without its thumbprint is refused as malformed.
        let mut b4 = bundle.clone();
        b4.public_key = forged.public_key.clone();
        assert!(b4.verify(&artifact[..], &[]).is_err());
    }
    // Garbage is an error, not a panic.
    assert!(SignatureBundle::from_json(b"{}").is_err());
    assert!(SignatureBundle::from_json(b"not json").is_err());
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}
