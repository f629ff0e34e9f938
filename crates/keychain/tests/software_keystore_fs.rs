//! The software keystore and the file system: what opening may create (nothing but a new
//! keystore, and only where nothing is), what it refuses to trust (what others can write or
//! read, as OpenSSH refuses such key files), a keystore without its header (damaged, never
//! re-initialised), a read-only file system (every read still works), and a full disk (a
//! failed write leaves nothing behind). Mounts are real (tmpfs, read-only bind mounts).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use keychain::software::OpenMode;
use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{
    Backend, CreateKeyRequest, EncryptionAlgorithm, Error, ErrorKind, KeyRef, KeySpec, KeyState,
    MacAlgorithm, Message, SigningAlgorithm,
};
use keychain_testkit::mount::Mount;
use keychain_testkit::{FakeClock, ITERATIONS, PASSWORD, days, temp_keystore};

fn key(reference: &str) -> KeyRef {
    KeyRef::parse(reference).unwrap()
}

fn config(path: &Path) -> SoftwareConfig {
    SoftwareConfig::new(path)
        .password(PASSWORD)
        .kdf_iterations(ITERATIONS)
}

async fn open(config: SoftwareConfig) -> keychain::Result<SoftwareBackend> {
    SoftwareBackend::open(config).await
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every path under `root` with its mode and size (the state a refusal must leave as it was).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, u64)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        out.insert(p.clone(), (m.mode(), if m.is_dir() { 0 } else { m.len() }));
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
        }
    }
    out
}

/// No temporary file anywhere and nothing staged in `tmp/`.
fn assert_no_debris(root: &Path) {
    for p in snapshot(root).keys() {
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(
            !name.starts_with(".tmp-"),
            "temporary file left: {}",
            p.display()
        );
    }
    let staged: Vec<_> = std::fs::read_dir(root.join("tmp")).unwrap().collect();
    assert!(staged.is_empty(), "tmp/ is not empty: {staged:?}");
}

/// A keystore at `root` holding an EC key `ec`, a symmetric key `aes` and an HMAC key `hmac`.
async fn keystore_with_keys(root: &Path) -> SoftwareBackend {
    let backend = open(config(root)).await.unwrap();
    for (name, spec) in [
        ("ec", KeySpec::EccNistP256),
        ("aes", KeySpec::SymmetricDefault),
        ("hmac", KeySpec::Hmac256),
    ] {
        backend
            .create_key(&CreateKeyRequest::new(spec).name(name))
            .await
            .unwrap();
    }
    backend
}

fn digest() -> [u8; 32] {
    [7u8; 32]
}

// ---- item 4: a keystore without its header -----------------------------------------------

#[tokio::test]
async fn a_keystore_without_its_header_is_damaged_and_never_reinitialised() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let info = keystore_with_keys(&root)
        .await
        .describe_key(&key("ec"))
        .await
        .unwrap();
    std::fs::remove_file(root.join("keystore.json")).unwrap();
    let before = snapshot(&root);
    for (mode, password) in [
        (OpenMode::Open, PASSWORD),
        (OpenMode::OpenOrCreate, PASSWORD),
        (OpenMode::OpenOrCreate, "another password"),
        (OpenMode::Create, PASSWORD),
    ] {
        let err = open(self::config(&root).password(password).mode(mode))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, Error::Corrupted { what, .. } if what.ends_with("keystore.json")),
            "{mode:?}: {err:?}"
        );
        assert!(
            text.contains("missing") && text.contains("3 key(s)"),
            "{text}"
        );
        assert!(text.contains("openssl pkey"), "says how to recover: {text}");
        assert_eq!(snapshot(&root), before, "{mode:?} changed the keystore");
    }
    // The recovery the message promises: the key file is PKCS#8 that OpenSSL opens with the
    // keystore's password.
    let pem = root.join("keys").join(&info.key_id).join("v1.pem");
    keychain_testkit::openssl_opens_key_file(&pem, PASSWORD);
}

#[tokio::test]
async fn an_unfinished_creation_is_finished_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ks");
    // What a creation killed before writing its header leaves.
    for sub in ["", "keys", "aliases", "tmp"] {
        std::fs::create_dir(root.join(sub)).unwrap();
        chmod(&root.join(sub), 0o700);
    }
    std::fs::write(root.join(".lock"), b"").unwrap();
    assert_eq!(
        open(config(&root).mode(OpenMode::Open))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let backend = open(config(&root).mode(OpenMode::Create)).await.unwrap();
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("k"))
        .await
        .unwrap();
    assert!(root.join("keystore.json").is_file());
}

// ---- item 5: only an explicit create creates, only where nothing is ----------------------

#[tokio::test]
async fn opening_a_missing_keystore_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("typo").join("ks");
    let err = open(config(&root).mode(OpenMode::Open)).await.unwrap_err();
    assert!(matches!(&err, Error::NoKeystore { path } if *path == root.display().to_string()));
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("keychain keystore init"), "{err}");
    assert!(!dir.path().join("typo").exists(), "a parent was created");

    // An empty directory is not a keystore either, and stays as it was.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    chmod(&empty, 0o755);
    let err = open(config(&empty).mode(OpenMode::Open)).await.unwrap_err();
    assert!(matches!(err, Error::NoKeystore { .. }), "{err:?}");
    assert_eq!(mode(&empty), 0o755);
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[tokio::test]
async fn creating_makes_a_new_directory_and_parents_or_uses_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("a").join("b").join("ks");
    open(config(&deep).mode(OpenMode::Create)).await.unwrap();
    assert_eq!(mode(&deep), 0o700);
    assert_eq!(mode(&deep.join("keystore.json")), 0o600);

    // An existing empty directory is used as it is: its mode is the owner's choice.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    chmod(&empty, 0o750);
    open(config(&empty).mode(OpenMode::Create)).await.unwrap();
    assert_eq!(
        mode(&empty),
        0o750,
        "the mode of an existing directory changed"
    );

    // Create refuses an existing keystore; the default mode opens it.
    let err = open(config(&deep).mode(OpenMode::Create))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    open(config(&deep)).await.unwrap();
}

#[tokio::test]
async fn an_unrelated_directory_or_file_is_never_taken_over_or_chmod_ed() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("notes.txt"), b"mine").unwrap();
    chmod(&docs, 0o751);
    let file = dir.path().join("file");
    std::fs::write(&file, b"not a keystore").unwrap();
    chmod(&file, 0o644);
    let before = snapshot(dir.path());
    for mode in [OpenMode::Open, OpenMode::OpenOrCreate, OpenMode::Create] {
        let err = open(config(&docs).mode(mode)).await.unwrap_err();
        match mode {
            OpenMode::Open => assert!(matches!(err, Error::NoKeystore { .. }), "{err:?}"),
            _ => {
                assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
                assert!(err.to_string().contains("notes.txt"), "{err}");
            }
        }
        let err = open(config(&file).mode(mode)).await.unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        assert_eq!(snapshot(dir.path()), before, "{mode:?} changed something");
    }
}

// ---- item 7: nothing others can write (or read, for secrets) is trusted -------------------

/// Opens the keystore and uses the EC key; the error if either fails.
async fn try_use(root: &Path) -> keychain::Result<()> {
    let backend = open(config(root).mode(OpenMode::Open)).await?;
    backend
        .sign(
            &key("ec"),
            Message::Digest(&digest()),
            SigningAlgorithm::EcdsaSha256,
        )
        .await?;
    backend.describe_key(&key("aes")).await?;
    Ok(())
}

#[tokio::test]
async fn a_keystore_others_can_write_or_read_is_refused_and_left_as_it_is() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let id = keystore_with_keys(&root)
        .await
        .describe_key(&key("ec"))
        .await
        .unwrap()
        .key_id;
    let key_dir = root.join("keys").join(&id);
    let cases: Vec<(PathBuf, u32)> = vec![
        (root.clone(), 0o777),
        (root.clone(), 0o770),
        (root.clone(), 0o702),
        (root.join("keys"), 0o757),
        (root.join("aliases"), 0o720),
        (key_dir.clone(), 0o770),
        (root.join("keystore.json"), 0o644),
        (root.join("keystore.json"), 0o640),
        (root.join("keystore.json"), 0o604),
        (key_dir.join("v1.pem"), 0o640),
        (key_dir.join("meta.json"), 0o666),
        (root.join("aliases").join("aes"), 0o620),
    ];
    try_use(&root).await.unwrap();
    for (path, bad) in cases {
        let good = mode(&path);
        chmod(&path, bad);
        let err = try_use(&root).await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, Error::AccessDenied { .. }),
            "{} at {bad:o}: {err:?}",
            path.display()
        );
        assert!(
            text.contains(&path.display().to_string()) && text.contains(&format!("{bad:04o}")),
            "the message names the path and mode: {text}"
        );
        assert_eq!(mode(&path), bad, "{} was chmod-ed", path.display());
        chmod(&path, good);
        try_use(&root).await.unwrap();
    }
    // What others may do: read and enter the directories, read what is not secret.
    chmod(&root, 0o755);
    chmod(&root.join("keys"), 0o711);
    chmod(&key_dir.join("meta.json"), 0o644);
    try_use(&root).await.unwrap();
}

#[tokio::test]
async fn a_keystore_owned_by_someone_else_is_refused() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    keystore_with_keys(&root).await;
    let stranger = 4242;
    for path in [root.clone(), root.join("keystore.json")] {
        let out = Command::new("chown")
            .arg(stranger.to_string())
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "chown: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = try_use(&root).await.unwrap_err();
        assert!(
            matches!(&err, Error::AccessDenied { message, .. } if message.contains("uid 4242")),
            "{err:?}"
        );
        std::os::unix::fs::chown(&path, Some(0), None).unwrap();
        try_use(&root).await.unwrap();
    }
}

// ---- item 6: a read-only keystore -------------------------------------------------------

#[tokio::test]
async fn a_read_only_keystore_signs_verifies_decrypts_and_refuses_writes_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ks");
    let clock = FakeClock::new();
    let backend = open(config(&root).clock(clock.clock())).await.unwrap();
    keystore_with_keys(&root).await;
    backend
        .enable_key_rotation(&key("aes"), Some(90))
        .await
        .unwrap();
    let doomed = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("doomed"))
        .await
        .unwrap();
    backend
        .schedule_key_deletion(&KeyRef::key_id(&doomed.key_id).unwrap(), 7)
        .await
        .unwrap();
    let context = keychain_testkit::context(&[("app", "ro")]);
    let ciphertext = backend
        .encrypt(
            &key("aes"),
            b"secret",
            EncryptionAlgorithm::SymmetricDefault,
            &context,
        )
        .await
        .unwrap();
    drop(backend);

    let at = dir.path().join("ro");
    std::fs::create_dir(&at).unwrap();
    let Some(_mount) = Mount::read_only(&root, &at) else {
        return;
    };
    // A rotation and a deletion fall due while the keystore cannot be written.
    clock.advance(days(100));
    let before = snapshot(&root);
    for mode in [OpenMode::Open, OpenMode::OpenOrCreate] {
        let ro = open(config(&at).mode(mode).clock(clock.clock()))
            .await
            .unwrap();
        let sig = ro
            .sign(
                &key("ec"),
                Message::Digest(&digest()),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .unwrap();
        assert!(
            ro.verify(
                &key("ec"),
                Message::Digest(&digest()),
                &sig,
                SigningAlgorithm::EcdsaSha256
            )
            .await
            .unwrap()
        );
        let plain = ro
            .decrypt(
                None,
                &ciphertext,
                EncryptionAlgorithm::SymmetricDefault,
                &context,
            )
            .await
            .unwrap();
        assert_eq!(plain.expose(), b"secret");
        ro.encrypt(
            &key("aes"),
            b"x",
            EncryptionAlgorithm::SymmetricDefault,
            &context,
        )
        .await
        .unwrap();
        let mac = ro
            .generate_mac(&key("hmac"), b"m", MacAlgorithm::HmacSha256)
            .await
            .unwrap();
        assert!(
            ro.verify_mac(&key("hmac"), b"m", &mac, MacAlgorithm::HmacSha256)
                .await
                .unwrap()
        );
        ro.public_key(&key("ec")).await.unwrap();
        // The deletion that came due is seen; the key is gone for readers.
        assert!(matches!(
            ro.describe_key(&key("doomed")).await,
            Err(Error::NotFound { .. })
        ));
        let listed = ro.list_keys(&Default::default()).await.unwrap().items;
        assert_eq!(listed.len(), 3, "{listed:?}");
        assert!(listed.iter().all(|k| k.state == KeyState::Enabled));

        for err in [
            ro.create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("new"))
                .await
                .unwrap_err(),
            ro.disable_key(&key("ec")).await.unwrap_err(),
            ro.rotate_key(&key("aes")).await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
            let text = err.to_string();
            assert!(
                text.contains("is read-only") && !text.contains('\n'),
                "{text}"
            );
        }
    }
    assert_eq!(snapshot(&root), before, "the read-only keystore changed");
    // Creating where a read-only file system has nothing: one line, nothing made.
    let err = open(config(&at.join("new")).mode(OpenMode::Create))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
}

// ---- item 3: a full disk leaves nothing behind -------------------------------------------

/// Fills the file system holding `dir` (a tmpfs) to the last byte.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in [65536, 4096, 1] {
        let block = vec![0u8; chunk];
        while f.write_all(&block).is_ok() {}
    }
    path
}

#[tokio::test]
async fn a_full_disk_during_create_tag_or_rotate_leaves_no_debris() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Mount::tmpfs(dir.path(), "512k") else {
        return;
    };
    let root = disk.path().join("ks");
    let backend = open(config(&root)).await.unwrap();
    for (name, spec) in [
        ("aes", KeySpec::SymmetricDefault),
        ("ec", KeySpec::EccNistP256),
    ] {
        backend
            .create_key(&CreateKeyRequest::new(spec).name(name))
            .await
            .unwrap();
    }
    let filler = fill(disk.path());
    let before = snapshot(&root);

    let errors = [
        backend
            .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("new"))
            .await
            .unwrap_err(),
        backend
            .tag_key(&key("ec"), &BTreeMap::from([("k".into(), "v".repeat(200))]))
            .await
            .unwrap_err(),
        backend.rotate_key(&key("aes")).await.unwrap_err(),
        backend.create_alias("more", &key("ec")).await.unwrap_err(),
    ];
    for err in &errors {
        assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
        assert!(err.to_string().contains("No space left"), "{err}");
    }
    assert_no_debris(&root);
    assert_eq!(
        snapshot(&root),
        before,
        "a failed write changed the keystore"
    );

    // With room again, everything works and nothing of the failures is seen.
    std::fs::remove_file(filler).unwrap();
    backend.rotate_key(&key("aes")).await.unwrap();
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("new"))
        .await
        .unwrap();
    assert_no_debris(&root);
}

#[tokio::test]
async fn staging_left_by_a_killed_writer_is_swept_by_the_next_write() {
    let (_dir, config) = temp_keystore();
    let root = config.path.clone();
    let backend = open(config).await.unwrap();
    // What a writer killed (SIGKILL) while staging a key leaves: it held the lock, so
    // nothing in tmp/ can belong to a live writer when the next one has it.
    let stale = root
        .join("tmp")
        .join("0badc0de-0000-4000-8000-00000000dead");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("meta.json"), b"").unwrap();
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::Hmac256).name("k"))
        .await
        .unwrap();
    assert_no_debris(&root);
}
