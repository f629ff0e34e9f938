//! ML-KEM keys of the software keystore as age recipients: round trips for every parameter
//! set, wrapping without the keystore, tampered stanzas, stanzas of other recipients, and
//! files Python `cryptography` writes from the documented stanza format.

use std::path::{Path, PathBuf};

use keychain::{CreateKeyRequest, KeySpec};

use crate::support::{Setup, assert_ok, assert_refused, decrypt, encrypt, pattern, run, stanzas};

/// Sizes: empty, and one byte past age's 64 KiB chunk.
const SIZES: [usize; 2] = [0, 65537];
/// The ChaCha20-Poly1305-sealed file key after the KEM ciphertext: 16 bytes and a tag.
const SEALED_LEN: usize = 32;

/// Makes the ML-KEM key `name` of `spec` and returns its recipient and identity file.
async fn mlkem_key(setup: &Setup, name: &str, spec: KeySpec) -> (String, PathBuf) {
    setup
        .create(name, &CreateKeyRequest::new(spec).name(name))
        .await
}

/// A file sealed to `recipient` by age: its plaintext and path.
fn seal(setup: &Setup, recipients: &[&str], label: &str) -> (Vec<u8>, PathBuf) {
    let input = setup.path(label);
    let data = pattern(100);
    std::fs::write(&input, &data).unwrap_or_else(|e| panic!("{e}"));
    let sealed = setup.path(&format!("{label}.age"));
    assert_ok(&encrypt(setup, recipients, &input, &sealed), "age -e");
    (data, sealed)
}

#[tokio::test]
async fn mlkem_keys_round_trip_through_age() {
    let setup = Setup::new();
    for (spec, ciphertext_len) in [
        (KeySpec::MlKem512, 768),
        (KeySpec::MlKem768, 1088),
        (KeySpec::MlKem1024, 1568),
    ] {
        let name = spec.as_str().to_lowercase().replace('_', "-");
        let (recipient, identity) = mlkem_key(&setup, &name, spec).await;
        for size in SIZES {
            let input = setup.path(&format!("{name}-{size}"));
            let sealed = setup.path(&format!("{name}-{size}.age"));
            let data = pattern(size);
            std::fs::write(&input, &data).unwrap_or_else(|e| panic!("{e}"));
            assert_ok(&encrypt(&setup, &[&recipient], &input, &sealed), "age -e");
            // To standard output: age creates no `-o` file for an empty plaintext.
            let opened = run(setup.age().args(["-d", "-i"]).arg(&identity).arg(&sealed));
            assert_ok(&opened, "age -d");
            assert!(
                opened.stdout == data,
                "{name}: {size} bytes did not round trip"
            );
            // One stanza of ours: the KEM ciphertext and the sealed file key.
            let found = stanzas(&sealed);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(
                found[0].0[..2],
                [
                    "keychain".to_string(),
                    "mlkem-hkdf-sha256-chacha20poly1305".to_string()
                ]
            );
            assert_eq!(found[0].1.len(), ciphertext_len + SEALED_LEN, "{name}");
        }
    }
}

#[tokio::test]
async fn mlkem_recipient_encrypts_without_the_keystore() {
    let setup = Setup::new();
    let (recipient, identity) = mlkem_key(&setup, "offline", KeySpec::MlKem768).await;
    // No password, and the keystore moved away: wrapping uses only the recipient.
    std::fs::rename(setup.path("keystore"), setup.path("elsewhere"))
        .unwrap_or_else(|e| panic!("{e}"));
    let input = setup.path("in");
    std::fs::write(&input, b"no keystore to encrypt").unwrap_or_else(|e| panic!("{e}"));
    let sealed = setup.path("in.age");
    assert_ok(
        &run(setup
            .age()
            .env_remove("KEYCHAIN_PASSWORD")
            .args(["-r", &recipient, "-o"])
            .arg(&sealed)
            .arg(&input)),
        "age -e without the keystore",
    );
    std::fs::rename(setup.path("elsewhere"), setup.path("keystore"))
        .unwrap_or_else(|e| panic!("{e}"));
    let opened = setup.path("in.out");
    assert_ok(&decrypt(&setup, &identity, &sealed, &opened), "age -d");
    assert_eq!(
        std::fs::read(&opened).unwrap_or_default(),
        b"no keystore to encrypt"
    );
}

/// The byte offsets, in an age file, of the first character of our stanza's body and of the
/// first character of its last body line (inside the sealed file key for every parameter
/// set: the last line holds at most 64 characters, 48 bytes, of which the sealed key is 32).
fn body_offsets(bytes: &[u8]) -> (usize, usize) {
    let header_end = bytes
        .windows(4)
        .position(|w| w == b"\n---")
        .unwrap_or_else(|| panic!("no header end"));
    let text = String::from_utf8_lossy(&bytes[..header_end]).to_string();
    let stanza = text
        .find("\n-> keychain")
        .unwrap_or_else(|| panic!("no keychain stanza in {text}"));
    let first = stanza + 1 + text[stanza + 1..].find('\n').unwrap_or(0) + 1;
    let mut line_start = first;
    loop {
        let line_len = text[line_start..]
            .find('\n')
            .unwrap_or(text.len() - line_start);
        if line_len < 64 {
            return (first, line_start);
        }
        line_start += line_len + 1;
    }
}

/// age refused `out`'s file with exactly one line from the plugin, saying `expected` (in
/// any case).
fn assert_one_plugin_line(result: &std::process::Output, out: &Path, expected: &str) {
    assert_refused(result, out, &["keychain plugin", expected]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("keychain plugin"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].to_lowercase().contains(&expected.to_lowercase()),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_tampered_mlkem_stanza_is_refused() {
    let setup = Setup::new();
    let (recipient, identity) = mlkem_key(&setup, "kem", KeySpec::MlKem768).await;
    let (_, sealed) = seal(&setup, &[&recipient], "in");
    let bytes = std::fs::read(&sealed).unwrap_or_else(|e| panic!("{e}"));
    let (in_ciphertext, in_sealed_key) = body_offsets(&bytes);
    for (label, at) in [("ciphertext", in_ciphertext), ("sealed", in_sealed_key)] {
        let mut tampered = bytes.clone();
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let path = setup.path(&format!("{label}.tampered.age"));
        std::fs::write(&path, &tampered).unwrap_or_else(|e| panic!("{e}"));
        let out = setup.path(&format!("{label}.tampered"));
        // A changed ciphertext decapsulates to another secret (implicit rejection) and a
        // changed sealed key fails its tag: either way the tag check refuses it.
        assert_one_plugin_line(
            &decrypt(&setup, &identity, &path, &out),
            &out,
            "does not open with this key",
        );
    }
    // A body cut to a length no ML-KEM ciphertext has is refused before the backend.
    let text = String::from_utf8_lossy(&bytes).to_string();
    let (first, _) = body_offsets(&bytes);
    let mut cut = bytes[..first].to_vec();
    cut.extend_from_slice(b"AAAA\n");
    let rest = text[first..]
        .find("\n---")
        .unwrap_or_else(|| panic!("no header end"));
    cut.extend_from_slice(&bytes[first + rest + 1..]);
    let path = setup.path("cut.age");
    std::fs::write(&path, &cut).unwrap_or_else(|e| panic!("{e}"));
    let out = setup.path("cut");
    assert_one_plugin_line(&decrypt(&setup, &identity, &path, &out), &out, "ML-KEM");
}

#[tokio::test]
async fn other_recipients_stanzas_are_skipped() {
    let setup = Setup::new();
    let (recipient, identity) = mlkem_key(&setup, "mine", KeySpec::MlKem512).await;
    let (other_recipient, other_identity) = mlkem_key(&setup, "theirs", KeySpec::MlKem1024).await;
    let native = setup.path("native.key");
    assert_ok(
        &run(std::process::Command::new("age-keygen")
            .arg("-o")
            .arg(&native)),
        "age-keygen",
    );
    let native_recipient = run(std::process::Command::new("age-keygen")
        .arg("-y")
        .arg(&native));
    assert_ok(&native_recipient, "age-keygen -y");
    let native_recipient = String::from_utf8_lossy(&native_recipient.stdout)
        .trim()
        .to_string();
    // An X25519 stanza and another ML-KEM key's stanza come before ours.
    let (data, sealed) = seal(
        &setup,
        &[&native_recipient, &other_recipient, &recipient],
        "shared",
    );
    let found = stanzas(&sealed);
    assert_eq!(found[0].0[0], "X25519", "{found:?}");
    for (label, id) in [
        ("mine", &identity),
        ("theirs", &other_identity),
        ("x25519", &native),
    ] {
        let opened = setup.path(&format!("shared.{label}"));
        assert_ok(&decrypt(&setup, id, &sealed, &opened), label);
        assert_eq!(std::fs::read(&opened).unwrap_or_default(), data, "{label}");
    }
    // A file only for the other key: our identity matches none of its stanzas.
    let (_, theirs) = seal(&setup, &[&other_recipient], "theirs-only");
    let out = setup.path("theirs-only.out");
    assert_refused(
        &decrypt(&setup, &identity, &theirs, &out),
        &out,
        &["no identity matched"],
    );
}

#[tokio::test]
async fn a_file_python_writes_from_the_documented_format_opens() {
    // The stanza and the whole age file are written by Python `cryptography` from
    // docs/AGE.md (tests/age/mlkem_age_file.py); age and the plugin must open them.
    let setup = Setup::new();
    for (name, spec) in [
        ("kem768", KeySpec::MlKem768),
        ("kem1024", KeySpec::MlKem1024),
    ] {
        let (recipient, identity) = mlkem_key(&setup, name, spec).await;
        let recipient =
            age_plugin_keychain::Recipient::decode(&recipient).unwrap_or_else(|e| panic!("{e}"));
        let age_plugin_keychain::Wrapping::MlKem { public_key } = &recipient.wrapping else {
            panic!("{name}: not an ML-KEM recipient: {recipient:?}");
        };
        let spki = setup.path(&format!("{name}.spki"));
        std::fs::write(&spki, public_key).unwrap_or_else(|e| panic!("{e}"));
        for size in [0usize, 65537] {
            let input = setup.path(&format!("{name}-py-{size}"));
            let data = pattern(size);
            std::fs::write(&input, &data).unwrap_or_else(|e| panic!("{e}"));
            let sealed = setup.path(&format!("{name}-py-{size}.age"));
            let script = std::process::Command::new(keychain_testkit::python())
                .arg("-c")
                .arg(include_str!("mlkem_age_file.py"))
                .arg(&spki)
                .arg(&recipient.key)
                .arg(&input)
                .arg(&sealed)
                .output()
                .unwrap_or_else(|e| panic!("python: {e}"));
            assert_ok(&script, "python writing the age file");
            let opened = run(setup.age().args(["-d", "-i"]).arg(&identity).arg(&sealed));
            assert_ok(&opened, "age -d of Python's file");
            assert!(opened.stdout == data, "{name}: {size} bytes from Python");
        }
    }
}

#[tokio::test]
async fn a_disabled_mlkem_key_is_refused_by_the_backend() {
    let setup = Setup::new();
    let (recipient, identity) = mlkem_key(&setup, "kem", KeySpec::MlKem512).await;
    let (_, sealed) = seal(&setup, &[&recipient], "in");
    let kc = setup.keychain().await;
    let key = keychain::KeyRef::parse("kem").unwrap_or_else(|e| panic!("{e}"));
    kc.backend()
        .disable_key(&key)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    kc.close().await.unwrap_or_else(|e| panic!("{e}"));
    let out = setup.path("in.out");
    assert_one_plugin_line(&decrypt(&setup, &identity, &sealed, &out), &out, "disabled");
}
