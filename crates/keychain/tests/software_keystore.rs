//! What only the software backend has: a password, a directory of files with modes, a clock
//! that can be replaced, several processes on one keystore, files that can be damaged.
//! Everything every backend must do is in the conformance suite (`software_conformance.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use keychain::software::DEFAULT_ITERATIONS;
use keychain::software::ITERATIONS_ENV;
use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{
    Backend, CreateKeyRequest, DataKeySpec, EncryptionAlgorithm, EncryptionContext, Error, Hash,
    KeyFamily, KeyRef, KeySpec, KeyState, Keychain, MacAlgorithm, Message, PageRequest, Secret,
    SigningAlgorithm,
};
use keychain_testkit::{FakeClock, PASSWORD, assert_err, days, temp_keystore};

#[path = "software_keystore/imported.rs"]
mod imported;
#[path = "software_keystore/multi_region.rs"]
mod multi_region;
#[path = "software_keystore/rotation.rs"]
mod rotation;

fn key(reference: &str) -> KeyRef {
    KeyRef::parse(reference).unwrap()
}

fn id(key_id: &str) -> KeyRef {
    KeyRef::key_id(key_id).unwrap()
}

async fn open(config: SoftwareConfig) -> SoftwareBackend {
    SoftwareBackend::open(config).await.unwrap()
}

/// Every key id in the keystore, through pages of 1000.
async fn all_key_ids(backend: &dyn Backend) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut page = PageRequest {
        limit: Some(1000),
        marker: None,
    };
    loop {
        let p = backend.list_keys(&page).await.unwrap();
        for k in p.items {
            assert!(ids.insert(k.key_id.clone()), "{} listed twice", k.key_id);
        }
        match p.next_marker {
            Some(m) => page.marker = Some(m),
            None => return ids,
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every file and directory under `root` (recursively), `root` included.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        i += 1;
    }
    out
}

/// Nothing half-written is left: no `.tmp-*` files anywhere, `tmp/` empty, every
/// `meta.json` is JSON.
fn assert_no_debris(root: &Path) {
    for p in walk(root) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !name.starts_with(".tmp-"),
            "temporary file left: {}",
            p.display()
        );
        if name == "meta.json" {
            let bytes = std::fs::read(&p).unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
        }
    }
    let staged: Vec<_> = std::fs::read_dir(root.join("tmp")).unwrap().collect();
    assert!(staged.is_empty(), "tmp/ is not empty: {staged:?}");
}

fn ctx() -> EncryptionContext {
    [("app".to_string(), "keystore-tests".to_string())].into()
}

// ---- the password -----------------------------------------------------------------------

#[tokio::test]
async fn wrong_password_is_refused_and_the_right_one_reopens() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let backend = open(config.clone()).await;
    let info = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("kept"))
        .await
        .unwrap();
    drop(backend);

    let wrong = config.clone().password("not the password");
    let err = assert_err!(
        "opening with the wrong password",
        SoftwareBackend::open(wrong).await,
        Error::WrongPassword { .. }
    );
    let Error::WrongPassword { keystore } = &err else {
        unreachable!()
    };
    assert_eq!(Path::new(keystore), root, "the error names the keystore");
    assert!(!err.to_string().contains("not the password"), "{err}");

    assert_err!(
        "opening with an empty password",
        SoftwareBackend::open(config.clone().password("")).await,
        Error::InvalidInput { .. }
    );

    let again = open(config).await;
    let described = again.describe_key(&key("kept")).await.unwrap();
    assert_eq!(described.key_id, info.key_id);
    let digest = Hash::Sha256.digest(b"reopened");
    again
        .sign(
            &key("kept"),
            Message::Digest(&digest),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .unwrap();
}

/// The default PBKDF2 iteration count (600 000), taken when neither the config nor
/// `KEYCHAIN_KDF_ITERATIONS` gives one. The environment is process-wide and cannot be changed
/// here (no `unsafe`), so when the variable is set the test reruns itself without it.
#[test]
fn default_iteration_count_is_used_when_none_is_given() {
    if std::env::var_os(ITERATIONS_ENV).is_some() {
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "default_iteration_count_is_used_when_none_is_given",
                "--exact",
                "--test-threads=1",
            ])
            .env_remove(ITERATIONS_ENV)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "the rerun without {ITERATIONS_ENV} failed"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("keystore");
    let config = SoftwareConfig::new(&root).password(PASSWORD);
    assert_eq!(config.kdf_iterations, None);
    let backend = SoftwareBackend::open_blocking(config.clone()).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("keystore.json")).unwrap()).unwrap();
    assert_eq!(meta["iterations"], DEFAULT_ITERATIONS);
    assert_eq!(DEFAULT_ITERATIONS, 600_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let info = rt
        .block_on(backend.create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("slow")))
        .unwrap();
    // OpenSSL reads the file with the keystore's iteration count.
    let pem = root.join("keys").join(&info.key_id).join("v1.pem");
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-passin"])
        .arg(format!("pass:{PASSWORD}"))
        .arg("-in")
        .arg(&pem)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An existing keystore keeps its count whatever a later open asks for.
    drop(backend);
    let reopened = SoftwareBackend::open_blocking(config.kdf_iterations(4096)).unwrap();
    rt.block_on(reopened.describe_key(&key("slow"))).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("keystore.json")).unwrap()).unwrap();
    assert_eq!(meta["iterations"], DEFAULT_ITERATIONS);
}

// ---- the clock ----------------------------------------------------------------------------

#[tokio::test]
async fn scheduled_deletion_happens_on_the_date() {
    let clock = FakeClock::new();
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let backend = open(config.clock(clock.clock())).await;
    let doomed = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("doomed"))
        .await
        .unwrap();
    backend
        .create_alias("doomed-too", &id(&doomed.key_id))
        .await
        .unwrap();
    let survivor = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("survivor"))
        .await
        .unwrap();
    let key_dir = root.join("keys").join(&doomed.key_id);
    let digest = Hash::Sha256.digest(b"doomed");
    let sign = |k: KeyRef| {
        let backend = backend.clone();
        let digest = digest.clone();
        async move {
            backend
                .sign(&k, Message::Digest(&digest), SigningAlgorithm::EcdsaSha256)
                .await
        }
    };

    let start = clock.now();
    let schedule = backend
        .schedule_key_deletion(&key("doomed"), 7)
        .await
        .unwrap();
    assert_eq!(schedule.state, KeyState::PendingDeletion);
    let when = schedule.deletion_date.unwrap();
    assert_eq!(
        when,
        start + days(7),
        "the deletion date is exactly 7 days ahead"
    );

    // Six days later, and one second before the date: pending, unusable, still on disk.
    for step in [days(6), days(1) - Duration::from_secs(1)] {
        clock.advance(step);
        let info = backend.describe_key(&key("doomed")).await.unwrap();
        assert_eq!(info.state, KeyState::PendingDeletion);
        assert_eq!(info.deletion_date, Some(when));
        assert_err!(
            "signing with a key pending deletion",
            sign(key("doomed")).await,
            Error::InvalidKeyState { .. }
        );
        assert!(key_dir.is_dir());
        let aliases: Vec<_> = backend
            .list_aliases(None)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.alias)
            .collect();
        assert!(aliases.contains(&"alias/doomed-too".to_string()));
    }

    // The date itself: the key is gone for every kind of look, first of all the alias list.
    clock.advance(Duration::from_secs(1));
    let aliases: Vec<_> = backend
        .list_aliases(None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.alias)
        .collect();
    assert_eq!(
        aliases,
        vec!["alias/survivor".to_string()],
        "ListAliases shows the aliases of a deleted key"
    );
    let ids = all_key_ids(&backend).await;
    assert!(
        !ids.contains(&doomed.key_id),
        "ListKeys shows a deleted key"
    );
    assert!(ids.contains(&survivor.key_id));
    for reference in ["doomed", "alias/doomed-too", doomed.key_id.as_str()] {
        assert_err!(
            format!("describing {reference} after its deletion date"),
            backend.describe_key(&key(reference)).await,
            Error::NotFound { .. }
        );
        assert_err!(
            format!("signing with {reference} after its deletion date"),
            sign(key(reference)).await,
            Error::NotFound { .. }
        );
    }
    assert!(!key_dir.exists(), "the key's directory is still there");
    assert!(!root.join("aliases").join("doomed").exists());
    assert!(!root.join("aliases").join("doomed-too").exists());
    assert_no_debris(&root);
    sign(key("survivor")).await.unwrap();

    // Another process opening the keystore later agrees, and the name is free again.
    let other = open(
        SoftwareConfig::new(&root)
            .password(PASSWORD)
            .clock(clock.clock()),
    )
    .await;
    assert_err!(
        "another open describing the deleted key",
        other.describe_key(&id(&doomed.key_id)).await,
        Error::NotFound { .. }
    );
    other
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("doomed"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cancelled_deletion_outlives_its_date() {
    let clock = FakeClock::new();
    let (_dir, config) = temp_keystore();
    let backend = open(config.clock(clock.clock())).await;
    let info = backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("spared"))
        .await
        .unwrap();
    let ct = backend
        .encrypt(
            &key("spared"),
            b"kept",
            EncryptionAlgorithm::SymmetricDefault,
            &ctx(),
        )
        .await
        .unwrap();
    backend
        .schedule_key_deletion(&key("spared"), 7)
        .await
        .unwrap();
    clock.advance(days(3));
    backend.cancel_key_deletion(&key("spared")).await.unwrap();
    clock.advance(days(30));
    let described = backend.describe_key(&id(&info.key_id)).await.unwrap();
    assert_eq!(described.state, KeyState::Disabled);
    backend.enable_key(&key("spared")).await.unwrap();
    let back = backend
        .decrypt(None, &ct, EncryptionAlgorithm::SymmetricDefault, &ctx())
        .await
        .unwrap();
    assert_eq!(back.expose(), b"kept");
}

/// The key version a software ciphertext names (bytes 20..24 of the header).
// ---- files --------------------------------------------------------------------------------

#[tokio::test]
async fn files_are_0600_and_directories_0700() {
    let (dir, _) = temp_keystore();
    // A keystore two levels below a missing directory: the missing ones are created.
    let root = dir.path().join("missing").join("parent").join("keystore");
    let config = SoftwareConfig::new(&root)
        .password(PASSWORD)
        .kdf_iterations(keychain_testkit::ITERATIONS);
    let backend = open(config).await;
    assert!(root.is_dir(), "the keystore directory was not created");
    let signing = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("files/signing"))
        .await
        .unwrap();
    let secret = backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("files-secret"))
        .await
        .unwrap();
    backend.rotate_key(&id(&secret.key_id)).await.unwrap();
    backend
        .create_alias("files-extra", &id(&signing.key_id))
        .await
        .unwrap();
    backend
        .tag_key(
            &id(&signing.key_id),
            &BTreeMap::from([("k".to_string(), "v".to_string())]),
        )
        .await
        .unwrap();

    let keys = root.join("keys");
    for path in [
        root.join("keystore.json"),
        keys.join(&signing.key_id).join("v1.pem"),
        keys.join(&signing.key_id).join("meta.json"),
        keys.join(&secret.key_id).join("v2.pem"),
        root.join("aliases").join("files%2Fsigning"),
    ] {
        assert!(path.is_file(), "{} is missing", path.display());
    }
    let mut checked = 0;
    for path in walk(&root) {
        let m = mode(&path);
        if path.is_dir() {
            assert_eq!(m, 0o700, "{} is {m:o}", path.display());
        } else {
            assert_eq!(m, 0o600, "{} is {m:o}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} paths under the keystore");
    assert_no_debris(&root);
}

#[tokio::test]
async fn openssl_reads_every_asymmetric_key_file() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let backend = open(config).await;
    let specs: Vec<KeySpec> = KeySpec::ALL
        .iter()
        .copied()
        .filter(|s| s.is_asymmetric())
        .collect();
    assert_eq!(specs.len(), 14);
    for spec in specs {
        let info = backend
            .create_key(&CreateKeyRequest::new(spec))
            .await
            .unwrap();
        let pem = root.join("keys").join(&info.key_id).join("v1.pem");
        let head = std::fs::read_to_string(&pem).unwrap();
        assert!(
            head.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
            "{spec}: {head}"
        );
        if matches!(spec.family(), KeyFamily::MlDsa(_) | KeyFamily::MlKem(_)) {
            // OpenSSL 3.0 has no ML-DSA or ML-KEM (3.5 added them): it cannot read these key
            // files, as SECURITY.md says. The software backend's own load is tested by the
            // conformance suite (sign_ml_dsa_*, kem_ml_kem_*), and Python cryptography opens
            // the ML-KEM files with the password (tests/kem.rs).
            continue;
        }
        let out = Command::new("openssl")
            .args(["pkey", "-pubout", "-passin"])
            .arg(format!("pass:{PASSWORD}"))
            .arg("-in")
            .arg(&pem)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{spec}: openssl pkey failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = backend
            .public_key(&id(&info.key_id))
            .await
            .unwrap()
            .to_pem();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            ours.trim(),
            "{spec}: OpenSSL's public key differs from ours"
        );
        // And the wrong password does not open it.
        let out = Command::new("openssl")
            .args(["pkey", "-pubout", "-passin", "pass:wrong", "-in"])
            .arg(&pem)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{spec}: openssl opened it with a wrong password"
        );
    }
}

/// Replaces the base64 character at `i` of a PEM body with another valid one.
fn change_base64_char(pem: &[u8], i: usize) -> Vec<u8> {
    let mut out = pem.to_vec();
    out[i] = if out[i] == b'A' { b'B' } else { b'A' };
    out
}

/// Positions of base64 characters in the body of a PEM file.
fn base64_positions(pem: &[u8]) -> Vec<usize> {
    let text = std::str::from_utf8(pem).unwrap();
    let mut positions = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !line.starts_with("-----") {
            for (j, c) in line.bytes().enumerate() {
                if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' {
                    positions.push(offset + j);
                }
            }
        }
        offset += line.len();
    }
    positions
}

/// What using the key gives, for a fresh open of the keystore (no cached material).
async fn use_key(
    config: &SoftwareConfig,
    spec: KeySpec,
    baseline: &[u8],
) -> keychain::Result<Vec<u8>> {
    let backend = open(config.clone()).await;
    let k = key("victim");
    match spec {
        KeySpec::SymmetricDefault => backend
            .decrypt(
                None,
                baseline,
                EncryptionAlgorithm::SymmetricDefault,
                &ctx(),
            )
            .await
            .map(|s| s.expose().to_vec()),
        KeySpec::Hmac256 => {
            backend
                .generate_mac(&k, b"tamper", MacAlgorithm::HmacSha256)
                .await
        }
        _ => {
            let pk = backend.public_key(&k).await?;
            let alg = spec.default_signing_algorithm().unwrap();
            let sig = backend.sign(&k, Message::Raw(b"tamper"), alg).await?;
            assert!(pk.verify(Message::Raw(b"tamper"), &sig, alg).unwrap());
            Ok(pk.to_der().to_vec())
        }
    }
}

/// A damaged key file is `Error::Corrupted` naming the file — for every position of the
/// base64 body — never a panic, a different key, or another kind of error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_key_file_is_corrupted_naming_the_file() {
    let mut failures = Vec::new();
    for (spec, step) in [
        (KeySpec::EccNistP256, 1),
        (KeySpec::EccNistEdwards25519, 1),
        (KeySpec::EccSecgP256k1, 1),
        (KeySpec::Rsa2048, 5),
        (KeySpec::SymmetricDefault, 1),
        (KeySpec::Hmac256, 1),
    ] {
        let (_dir, config) = temp_keystore();
        let backend = open(config.clone()).await;
        let info = backend
            .create_key(&CreateKeyRequest::new(spec).name("victim"))
            .await
            .unwrap();
        let baseline = match spec {
            KeySpec::SymmetricDefault => backend
                .encrypt(
                    &key("victim"),
                    b"pristine",
                    EncryptionAlgorithm::SymmetricDefault,
                    &ctx(),
                )
                .await
                .unwrap(),
            _ => Vec::new(),
        };
        drop(backend);
        let good = use_key(&config, spec, &baseline).await.unwrap();
        let file = config.path.join("keys").join(&info.key_id).join("v1.pem");
        let pristine = std::fs::read(&file).unwrap();
        let mut damaged_versions = vec![
            ("empty".to_string(), Vec::new()),
            (
                "truncated".to_string(),
                pristine[..pristine.len() / 2].to_vec(),
            ),
            ("a non-base64 byte".to_string(), {
                let mut d = pristine.clone();
                d[40] = b'!';
                d
            }),
        ];
        for i in base64_positions(&pristine).into_iter().step_by(step) {
            damaged_versions.push((format!("base64 char {i}"), change_base64_char(&pristine, i)));
        }
        for (what, damaged) in damaged_versions {
            std::fs::write(&file, &damaged).unwrap();
            let outcome = use_key(&config, spec, &baseline).await;
            match outcome {
                Err(Error::Corrupted { what: named, .. }) if named.ends_with("v1.pem") => {}
                Ok(v) if v == good && damaged == pristine => {}
                other => failures.push(format!("{spec}, {what}: {other:?}")),
            }
        }
        std::fs::write(&file, &pristine).unwrap();
        assert_eq!(use_key(&config, spec, &baseline).await.unwrap(), good);

        // Another key's intact file of the same spec in this key's place.
        let backend = open(config.clone()).await;
        let other = backend
            .create_key(&CreateKeyRequest::new(spec))
            .await
            .unwrap();
        drop(backend);
        let other_file = config.path.join("keys").join(&other.key_id).join("v1.pem");
        std::fs::copy(&other_file, &file).unwrap();
        match use_key(&config, spec, &baseline).await {
            Err(Error::Corrupted { what, .. }) if what.ends_with("v1.pem") => {}
            other => failures.push(format!("{spec}, another key's file: {other:?}")),
        }
        std::fs::write(&file, &pristine).unwrap();

        // Metadata without the MAC is refused too: removing it does not skip the check.
        let meta_path = config
            .path
            .join("keys")
            .join(&info.key_id)
            .join("meta.json");
        let meta = std::fs::read(&meta_path).unwrap();
        let mut value: serde_json::Value = serde_json::from_slice(&meta).unwrap();
        assert!(
            value.as_object_mut().unwrap().remove("file_macs").is_some(),
            "meta.json records no MAC of the key file"
        );
        std::fs::write(&meta_path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
        match use_key(&config, spec, &baseline).await {
            Err(Error::Corrupted { what, .. }) if what.ends_with("meta.json") => {}
            other => failures.push(format!("{spec}, metadata without MAC: {other:?}")),
        }
        std::fs::write(&meta_path, &meta).unwrap();
        assert_eq!(use_key(&config, spec, &baseline).await.unwrap(), good);
    }
    assert!(
        failures.is_empty(),
        "{} damaged key files were not reported as corrupted:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn damaged_metadata_is_corrupted_naming_the_file() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let backend = open(config.clone()).await;
    let info = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("meta"))
        .await
        .unwrap();
    let meta = root.join("keys").join(&info.key_id).join("meta.json");
    let pristine = std::fs::read(&meta).unwrap();
    for damaged in [
        pristine[..pristine.len() / 2].to_vec(),
        Vec::new(),
        b"{}".to_vec(),
        pristine
            .iter()
            .map(|b| if *b == b'"' { b'\'' } else { *b })
            .collect(),
        // Another key's metadata in this key's directory.
        String::from_utf8(pristine.clone())
            .unwrap()
            .replace(&info.key_id, "00000000-0000-4000-8000-000000000000")
            .into_bytes(),
    ] {
        std::fs::write(&meta, &damaged).unwrap();
        let e = assert_err!(
            "describing a key with damaged meta.json",
            backend.describe_key(&key("meta")).await,
            Error::Corrupted { .. }
        );
        let Error::Corrupted { what, .. } = &e else {
            unreachable!()
        };
        assert!(what.ends_with("meta.json"), "{e}");
        let digest = Hash::Sha256.digest(b"m");
        assert_err!(
            "signing with a key with damaged meta.json",
            backend
                .sign(
                    &key("meta"),
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::Corrupted { .. }
        );
    }
    std::fs::write(&meta, &pristine).unwrap();
    backend.describe_key(&key("meta")).await.unwrap();

    // A damaged keystore.json stops the open, naming it.
    drop(backend);
    let ks = root.join("keystore.json");
    let pristine = std::fs::read(&ks).unwrap();
    std::fs::write(&ks, &pristine[..pristine.len() / 3]).unwrap();
    let e = assert_err!(
        "opening with a truncated keystore.json",
        SoftwareBackend::open(config.clone()).await,
        Error::Corrupted { .. }
    );
    assert!(e.to_string().contains("keystore.json"), "{e}");
    std::fs::write(&ks, &pristine).unwrap();
    open(config).await;
}

/// Every single-bit change of a symmetric ciphertext is an error, never a plaintext.
#[tokio::test]
async fn every_damaged_ciphertext_byte_is_an_error() {
    let (_dir, config) = temp_keystore();
    let backend = open(config).await;
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("aes"))
        .await
        .unwrap();
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ct = backend
        .encrypt(&key("aes"), b"payload", alg, &ctx())
        .await
        .unwrap();
    for i in 0..ct.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = ct.clone();
            bad[i] ^= bit;
            let result = backend.decrypt(None, &bad, alg, &ctx()).await;
            let what = format!("byte {i} bit {bit:#x}");
            match i {
                // The magic: not a ciphertext of this keystore.
                0..4 => {
                    assert_err!(what, result, Error::InvalidInput { .. });
                }
                // The key id: names a key that does not exist.
                4..20 => {
                    assert_err!(what, result, Error::NotFound { .. });
                }
                // The version, the nonce, the body, the tag.
                _ => {
                    assert_err!(what, result, Error::Crypto { .. });
                }
            }
        }
    }
    for len in 0..ct.len() {
        assert!(
            backend
                .decrypt(None, &ct[..len], alg, &ctx())
                .await
                .is_err(),
            "a ciphertext cut to {len} bytes decrypts"
        );
    }
}

#[tokio::test]
async fn a_stale_alias_left_by_a_crash_is_reclaimed() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let backend = open(config).await;
    // A crash between writing the alias and renaming the key into keys/ leaves this.
    std::fs::write(
        root.join("aliases").join("phantom"),
        "0badc0de-0000-4000-8000-00000000dead",
    )
    .unwrap();
    assert!(backend.list_aliases(None).await.unwrap().is_empty());
    assert_err!(
        "describing through a stale alias",
        backend.describe_key(&key("phantom")).await,
        Error::NotFound { .. }
    );
    let info = backend
        .create_key(&CreateKeyRequest::new(KeySpec::Hmac256).name("phantom"))
        .await
        .unwrap();
    assert_eq!(
        backend.describe_key(&key("phantom")).await.unwrap().key_id,
        info.key_id
    );
}

// ---- concurrency --------------------------------------------------------------------------

const SPECS: [KeySpec; 4] = [
    KeySpec::EccNistP256,
    KeySpec::Hmac256,
    KeySpec::SymmetricDefault,
    KeySpec::EccNistEdwards25519,
];

/// Uses a key once, whatever its spec.
async fn exercise(backend: &dyn Backend, k: &KeyRef, spec: KeySpec) {
    match spec {
        KeySpec::Hmac256 => {
            let mac = backend
                .generate_mac(k, b"m", MacAlgorithm::HmacSha256)
                .await
                .unwrap();
            assert!(
                backend
                    .verify_mac(k, b"m", &mac, MacAlgorithm::HmacSha256)
                    .await
                    .unwrap()
            );
        }
        KeySpec::SymmetricDefault => {
            let dk = backend
                .generate_data_key(k, DataKeySpec::Aes128, &ctx())
                .await
                .unwrap();
            let back = backend
                .decrypt(
                    None,
                    &dk.ciphertext,
                    EncryptionAlgorithm::SymmetricDefault,
                    &ctx(),
                )
                .await
                .unwrap();
            assert_eq!(back.expose(), dk.plaintext.expose());
        }
        _ => {
            let alg = spec.default_signing_algorithm().unwrap();
            let sig = backend.sign(k, Message::Raw(b"m"), alg).await.unwrap();
            assert!(
                backend
                    .verify(k, Message::Raw(b"m"), &sig, alg)
                    .await
                    .unwrap()
            );
        }
    }
}

/// After a race: every created key lists and works through a fresh open, every alias
/// resolves to its key, the contested name belongs to its one winner, nothing is left over.
async fn check_after_race(
    config: &SoftwareConfig,
    created: &[(String, String, KeySpec)],
    contested_winner: &str,
) {
    let fresh = open(config.clone()).await;
    let ids = all_key_ids(&fresh).await;
    assert_eq!(ids.len(), created.len() + 1, "keys listed: {}", ids.len());
    for (name, key_id, spec) in created {
        assert!(ids.contains(key_id), "{name} is not listed");
        for reference in [name.clone(), format!("{name}-alias"), key_id.clone()] {
            let info = fresh.describe_key(&key(&reference)).await.unwrap();
            assert_eq!(
                &info.key_id, key_id,
                "{reference} resolves to the wrong key"
            );
        }
        let info = fresh.describe_key(&id(key_id)).await.unwrap();
        let aliases: BTreeSet<_> = info.aliases.into_iter().collect();
        assert_eq!(
            aliases,
            BTreeSet::from([format!("alias/{name}"), format!("alias/{name}-alias")]),
            "{name}'s aliases"
        );
        exercise(&fresh, &id(key_id), *spec).await;
    }
    let winner = fresh.describe_key(&key("contested")).await.unwrap();
    assert_eq!(winner.key_id, contested_winner);
    assert_eq!(
        fresh.list_aliases(None).await.unwrap().len(),
        2 * created.len() + 1
    );
    assert_no_debris(&config.path);
}

/// Counts one winner among racers for the same name; the losers got `AlreadyExists`.
fn one_winner(results: Vec<keychain::Result<keychain::KeyInfo>>) -> String {
    let mut winners = Vec::new();
    for r in results {
        match r {
            Ok(info) => winners.push(info.key_id),
            Err(Error::AlreadyExists { what }) => assert_eq!(what, "alias/contested"),
            Err(e) => panic!("a racer for the same name got {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners of the same name: {winners:?}");
    winners.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tasks_on_one_backend() {
    let (_dir, config) = temp_keystore();
    let backend = Arc::new(open(config.clone()).await);
    let mut makers = Vec::new();
    for i in 0..24 {
        let backend = backend.clone();
        makers.push(tokio::spawn(async move {
            let spec = SPECS[i % SPECS.len()];
            let name = format!("task-{i}");
            let info = backend
                .create_key(&CreateKeyRequest::new(spec).name(&name))
                .await
                .unwrap();
            backend
                .create_alias(&format!("{name}-alias"), &id(&info.key_id))
                .await
                .unwrap();
            backend
                .tag_key(
                    &id(&info.key_id),
                    &BTreeMap::from([("i".to_string(), i.to_string())]),
                )
                .await
                .unwrap();
            (name, info.key_id, spec)
        }));
    }
    let mut racers = Vec::new();
    for _ in 0..8 {
        let backend = backend.clone();
        racers.push(tokio::spawn(async move {
            backend
                .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("contested"))
                .await
        }));
    }
    let mut created = Vec::new();
    for m in makers {
        created.push(m.await.unwrap());
    }
    let mut results = Vec::new();
    for r in racers {
        results.push(r.await.unwrap());
    }
    let winner = one_winner(results);
    check_after_race(&config, &created, &winner).await;
}

/// Several opens of one keystore directory — each its own `SoftwareBackend`, as separate
/// processes would have — on their own threads, starting together on a keystore that does
/// not exist yet.
#[test]
fn concurrent_opens_of_one_directory() {
    const OPENS: usize = 4;
    const KEYS: usize = 6;
    let (_dir, config) = temp_keystore();
    assert!(!config.path.exists());
    let start = Arc::new(Barrier::new(OPENS));
    let threads: Vec<_> = (0..OPENS)
        .map(|t| {
            let config = config.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                start.wait();
                rt.block_on(async {
                    let backend = open(config).await;
                    let mut created = Vec::new();
                    let mut contested = None;
                    for i in 0..KEYS {
                        if i == KEYS / 2 {
                            contested = Some(
                                backend
                                    .create_key(
                                        &CreateKeyRequest::new(KeySpec::EccNistP256)
                                            .name("contested"),
                                    )
                                    .await,
                            );
                        }
                        let spec = SPECS[(t + i) % SPECS.len()];
                        let name = format!("open{t}-key{i}");
                        let info = backend
                            .create_key(&CreateKeyRequest::new(spec).name(&name))
                            .await
                            .unwrap();
                        backend
                            .create_alias(&format!("{name}-alias"), &id(&info.key_id))
                            .await
                            .unwrap();
                        created.push((name, info.key_id, spec));
                    }
                    (created, contested.unwrap())
                })
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut results = Vec::new();
    for t in threads {
        let (c, r) = t.join().unwrap();
        created.extend(c);
        results.push(r);
    }
    let winner = one_winner(results);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(check_after_race(&config, &created, &winner));
}

// ---- secrets in Debug output ----------------------------------------------------------------

#[tokio::test]
async fn debug_output_never_shows_the_password_or_key_bytes() {
    let canary = "canary-password-31337";
    let (_dir, config) = temp_keystore();
    let config = config.password(canary);
    let shown = format!("{config:?}");
    assert!(!shown.contains(canary), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
    let backend = open(config.clone()).await;
    let kc = Keychain::new(backend.clone());
    for shown in [
        format!("{backend:?}"),
        format!("{kc:?}"),
        format!("{kc:#?}"),
    ] {
        assert!(!shown.contains(canary), "{shown}");
    }
    let err = SoftwareBackend::open(config.password("canary-wrong-31337"))
        .await
        .unwrap_err();
    for shown in [format!("{err:?}"), err.to_string()] {
        assert!(!shown.contains("canary"), "{shown}");
    }

    let secret = Secret::new(b"canary-secret-bytes".to_vec());
    for shown in [format!("{secret:?}"), format!("{secret:#?}")] {
        assert!(!shown.contains("canary"), "{shown}");
        assert!(!shown.contains("99, 97, 110"), "{shown}"); // b"can" as a list
    }

    backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("kek"))
        .await
        .unwrap();
    let dk = backend
        .generate_data_key(&key("kek"), DataKeySpec::Aes256, &ctx())
        .await
        .unwrap();
    let bytes = dk.plaintext.expose();
    let as_list = format!("{bytes:?}");
    let inner = &as_list[1..as_list.len() - 1];
    let as_hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let as_hex_upper = as_hex.to_uppercase();
    for shown in [format!("{dk:?}"), format!("{dk:#?}")] {
        assert!(
            !shown.contains(inner),
            "the data key's bytes are in {shown}"
        );
        assert!(!shown.contains(&as_hex), "the data key's hex is in {shown}");
        assert!(
            !shown.contains(&as_hex_upper),
            "the data key's hex is in {shown}"
        );
        // The pretty form puts one byte per line: look for the first eight in a row.
        let column: String = bytes[..8].iter().map(|b| format!("{b},\n")).collect();
        assert!(!compact(&shown).contains(&compact(&column)), "{shown}");
    }
}

fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A key has at most 50 tags, as in AWS KMS: a tag call that would pass the quota is refused
/// and the key keeps the tags it had.
#[tokio::test]
async fn tags_keep_the_kms_quota() {
    let (_dir, config) = temp_keystore();
    let backend = open(config).await;
    let tags = |from: usize, to: usize| -> BTreeMap<String, String> {
        (from..to)
            .map(|i| (format!("t{i}"), "v".to_string()))
            .collect()
    };
    let info = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("tagged"))
        .await
        .unwrap();
    let k = id(&info.key_id);
    backend.tag_key(&k, &tags(0, 50)).await.unwrap();
    // Replacing a value does not add a tag.
    backend.tag_key(&k, &tags(49, 50)).await.unwrap();
    assert_err!(
        "a 51st tag",
        backend.tag_key(&k, &tags(50, 51)).await,
        Error::InvalidInput { .. }
    );
    assert_eq!(backend.describe_key(&k).await.unwrap().tags, tags(0, 50));
}

/// After `change_password`, a handle still holding the old password's key (this one, or
/// another process's) may read but not write: a key created or rotated with it would open
/// only with the old password. It is refused as a wrong password until reopened; nothing of
/// it is written, and the keystore reopened with the new password has every key.
#[tokio::test]
async fn a_handle_opened_before_a_password_change_writes_nothing() {
    let (_dir, config) = temp_keystore();
    let backend = open(config.clone()).await;
    let other = open(config.clone()).await;
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("before"))
        .await
        .unwrap();
    backend
        .change_password(Secret::new(b"the new password".to_vec()))
        .await
        .unwrap();
    for b in [&backend, &other] {
        let refused = b
            .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("stale"))
            .await;
        assert!(
            matches!(refused, Err(Error::WrongPassword { .. })),
            "{refused:?}"
        );
        let rotated = b.rotate_key(&key("alias/before")).await;
        assert!(
            matches!(rotated, Err(Error::WrongPassword { .. })),
            "{rotated:?}"
        );
    }
    let reopened = open(config.password("the new password")).await;
    let ids = all_key_ids(&reopened).await;
    assert_eq!(ids.len(), 1, "only the key made before the change: {ids:?}");
    reopened
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("after"))
        .await
        .unwrap();
    reopened.rotate_key(&key("alias/before")).await.unwrap();
}
