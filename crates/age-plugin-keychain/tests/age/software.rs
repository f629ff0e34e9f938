//! Software keystore keys: round trips of every size, a large file in small plugin memory,
//! several recipients, and every failure age must report cleanly.

use std::io::{Read, Write};
use std::path::Path;

use keychain::{KeyParams, KeyRef, KeyUsage};
use keychain_testkit::PASSWORD;

use crate::support::{
    Measured, Setup, assert_ok, assert_refused, decrypt, encrypt, pattern, run, stanzas,
};

/// Sizes around age's 64 KiB chunk.
const SIZES: [usize; 5] = [0, 1, 65535, 65536, 65537];

/// Encrypts each of [`SIZES`] to `recipient` and decrypts it with `identity`.
fn round_trips(setup: &Setup, recipient: &str, identity: &Path, label: &str) {
    for size in SIZES {
        let input = setup.path(&format!("{label}-{size}"));
        let sealed = setup.path(&format!("{label}-{size}.age"));
        let data = pattern(size);
        std::fs::write(&input, &data).unwrap_or_else(|e| panic!("{e}"));
        assert_ok(&encrypt(setup, &[recipient], &input, &sealed), "age -e");
        // To standard output: age creates an `-o` file only once there is plaintext to
        // write, so an empty file would leave none.
        let opened = run(setup.age().args(["-d", "-i"]).arg(identity).arg(&sealed));
        assert_ok(&opened, "age -d");
        let back = opened.stdout;
        assert!(back == data, "{label}: {size} bytes did not round trip");
    }
}

#[tokio::test]
async fn symmetric_key_round_trips_every_size() {
    let setup = Setup::new();
    let (recipient, identity) = setup.key("files", &KeyParams::symmetric()).await;
    round_trips(&setup, &recipient, &identity, "sym");
    // The stanza: our tag, kind and key tag; the body is the backend's ciphertext.
    let sealed = setup.path("sym-1.age");
    let found = stanzas(&sealed);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0[..2], ["keychain".to_string(), "aes".to_string()]);
}

#[tokio::test]
async fn rsa_keys_round_trip_every_size() {
    let setup = Setup::new();
    for bits in [2048u32, 3072, 4096] {
        let name = format!("rsa{bits}");
        let (recipient, identity) = setup
            .key(
                &name,
                &KeyParams::rsa(bits).with_usage(KeyUsage::EncryptDecrypt),
            )
            .await;
        round_trips(&setup, &recipient, &identity, &name);
        let found = stanzas(&setup.path(&format!("{name}-1.age")));
        assert_eq!(found[0].0[1], "rsa-oaep-sha256");
        assert_eq!(found[0].1.len(), bits as usize / 8, "one RSA block");
    }
}

#[tokio::test]
async fn rsa_recipient_encrypts_without_the_keystore() {
    let setup = Setup::new();
    let (recipient, identity) = setup
        .key(
            "offline",
            &KeyParams::rsa(2048).with_usage(KeyUsage::EncryptDecrypt),
        )
        .await;
    let input = setup.path("in");
    std::fs::write(&input, b"no password needed to encrypt").unwrap_or_else(|e| panic!("{e}"));
    // No password, and the keystore moved away: wrapping uses only the recipient.
    std::fs::rename(setup.path("keystore"), setup.path("elsewhere"))
        .unwrap_or_else(|e| panic!("{e}"));
    let sealed = setup.path("in.age");
    let out = run(setup
        .age()
        .env_remove("KEYCHAIN_PASSWORD")
        .args(["-r", &recipient, "-o"])
        .arg(&sealed)
        .arg(&input));
    assert_ok(&out, "age -e without the keystore");
    std::fs::rename(setup.path("elsewhere"), setup.path("keystore"))
        .unwrap_or_else(|e| panic!("{e}"));
    let opened = setup.path("in.out");
    assert_ok(&decrypt(&setup, &identity, &sealed, &opened), "age -d");
    assert_eq!(
        std::fs::read(&opened).unwrap_or_default(),
        b"no password needed to encrypt"
    );
}

#[tokio::test]
async fn a_100_mib_file_round_trips_and_the_plugin_stays_small() {
    const SIZE: usize = 100 * 1024 * 1024;
    let setup = Setup::new();
    let (recipient, identity) = setup.key("big", &KeyParams::symmetric()).await;
    let input = setup.path("big");
    {
        let mut file = std::fs::File::create(&input).unwrap_or_else(|e| panic!("{e}"));
        let block = pattern(1 << 20);
        for _ in 0..SIZE / block.len() {
            file.write_all(&block).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let measured = Measured::new(&setup);
    let sealed = setup.path("big.age");
    let opened = setup.path("big.out");
    let out = run(setup
        .age()
        .env("PATH", measured.path())
        .args(["-r", &recipient, "-o"])
        .arg(&sealed)
        .arg(&input));
    assert_ok(&out, "age -e 100 MiB");
    let out = run(setup
        .age()
        .env("PATH", measured.path())
        .args(["-d", "-i"])
        .arg(&identity)
        .arg("-o")
        .arg(&opened)
        .arg(&sealed));
    assert_ok(&out, "age -d 100 MiB");
    // Same bytes, compared a block at a time.
    let (mut a, mut b) = (
        std::fs::File::open(&input).unwrap_or_else(|e| panic!("{e}")),
        std::fs::File::open(&opened).unwrap_or_else(|e| panic!("{e}")),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x).unwrap_or_else(|e| panic!("{e}"));
        let mut m = 0;
        while m < n {
            let k = b.read(&mut y[m..n]).unwrap_or_else(|e| panic!("{e}"));
            assert!(k > 0, "the decrypted file is shorter");
            m += k;
        }
        assert!(x[..n] == y[..n], "the decrypted file differs");
        if n == 0 {
            assert_eq!(
                b.read(&mut y).unwrap_or(1),
                0,
                "the decrypted file is longer"
            );
            break;
        }
    }
    // Two plugin runs (wrap, unwrap), each measured: the plugin never sees the file, so
    // its peak stays far below the file's size.
    let runs = measured.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for (status, peak) in runs {
        assert_eq!(status, 0, "the plugin's exit status");
        assert!(
            peak < 48 * 1024,
            "the plugin peaked at {peak} KiB for a 100 MiB file"
        );
    }
}

#[tokio::test]
async fn a_file_for_two_recipients_opens_with_each_identity_alone() {
    let setup = Setup::new();
    let (recipient, identity) = setup.key("shared", &KeyParams::symmetric()).await;
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
    let input = setup.path("in");
    std::fs::write(&input, pattern(1000)).unwrap_or_else(|e| panic!("{e}"));
    let sealed = setup.path("in.age");
    assert_ok(
        &encrypt(&setup, &[&recipient, &native_recipient], &input, &sealed),
        "age -e",
    );
    for (label, id) in [("keychain", &identity), ("x25519", &native)] {
        let opened = setup.path(&format!("in.{label}"));
        assert_ok(&decrypt(&setup, id, &sealed, &opened), label);
        assert_eq!(
            std::fs::read(&opened).unwrap_or_default(),
            pattern(1000),
            "{label}"
        );
    }
    // With the native recipient's stanza first, the keychain identity still finds its own
    // stanza further down (the plugin skips other recipients' stanzas).
    let foreign_first = setup.path("in.foreign-first.age");
    assert_ok(
        &encrypt(
            &setup,
            &[&native_recipient, &recipient],
            &input,
            &foreign_first,
        ),
        "age -e, native recipient first",
    );
    let header = std::fs::read(&foreign_first).unwrap_or_default();
    let header = String::from_utf8_lossy(&header);
    let first = header.lines().find(|l| l.starts_with("-> ")).unwrap_or("");
    assert!(
        first.starts_with("-> X25519 "),
        "the first stanza is not ours: {first}"
    );
    let opened = setup.path("in.foreign-first");
    assert_ok(
        &decrypt(&setup, &identity, &foreign_first, &opened),
        "keychain identity, foreign stanza first",
    );
    assert_eq!(std::fs::read(&opened).unwrap_or_default(), pattern(1000));
    // The X25519 identity opens it without the plugin or the keystore password.
    let opened = setup.path("in.x25519-only");
    let out = run(setup
        .age()
        .env("PATH", "/usr/bin:/bin")
        .env_remove("KEYCHAIN_PASSWORD")
        .args(["-d", "-i"])
        .arg(&native)
        .arg("-o")
        .arg(&opened)
        .arg(&sealed));
    assert_ok(&out, "X25519 alone");
}

/// A keystore with a symmetric and an RSA key and a file sealed to each.
struct Sealed {
    setup: Setup,
    files: Vec<(String, std::path::PathBuf, std::path::PathBuf)>,
}

async fn sealed_files() -> Sealed {
    let setup = Setup::new();
    let mut files = Vec::new();
    for (name, params) in [
        ("sym", KeyParams::symmetric()),
        (
            "rsa",
            KeyParams::rsa(2048).with_usage(KeyUsage::EncryptDecrypt),
        ),
    ] {
        let (recipient, identity) = setup.key(name, &params).await;
        let input = setup.path(&format!("{name}.txt"));
        std::fs::write(&input, b"secret").unwrap_or_else(|e| panic!("{e}"));
        let sealed = setup.path(&format!("{name}.age"));
        assert_ok(&encrypt(&setup, &[&recipient], &input, &sealed), "age -e");
        files.push((name.to_string(), identity, sealed));
    }
    Sealed { setup, files }
}

#[tokio::test]
async fn another_keys_identity_matches_nothing() {
    let s = sealed_files().await;
    let (_, other_identity) = s.setup.key("other", &KeyParams::symmetric()).await;
    for (name, _, sealed) in &s.files {
        let out = s.setup.path(&format!("{name}.wrong"));
        assert_refused(
            &decrypt(&s.setup, &other_identity, sealed, &out),
            &out,
            &["no identity matched"],
        );
    }
}

#[tokio::test]
async fn disabled_and_deleted_keys_are_refused_by_the_backend() {
    let s = sealed_files().await;
    let kc = s.setup.keychain().await;
    let sym = KeyRef::parse("sym").unwrap_or_else(|e| panic!("{e}"));
    let rsa = KeyRef::parse("rsa").unwrap_or_else(|e| panic!("{e}"));
    kc.backend()
        .disable_key(&sym)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    kc.backend()
        .schedule_key_deletion(&rsa, 7)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    kc.close().await.unwrap_or_else(|e| panic!("{e}"));
    let measured = Measured::new(&s.setup);
    for (name, identity, sealed) in &s.files {
        let out = s.setup.path(&format!("{name}.refused"));
        let expected = if name == "sym" { "disabled" } else { "pending" };
        let result = run(s
            .setup
            .age()
            .env("PATH", measured.path())
            .args(["-d", "-i"])
            .arg(identity)
            .arg("-o")
            .arg(&out)
            .arg(sealed));
        assert_refused(&result, &out, &["keychain plugin", expected]);
    }
    // The plugin reported each refusal through the protocol and exited 0: it never crashed.
    let runs = measured.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|(status, _)| *status == 0), "{runs:?}");
}

#[tokio::test]
async fn a_wrong_or_missing_password_is_a_clear_error() {
    let s = sealed_files().await;
    let measured = Measured::new(&s.setup);
    for (name, identity, sealed) in &s.files {
        let out = s.setup.path(&format!("{name}.nopw"));
        let result = run(s
            .setup
            .age()
            .env("PATH", measured.path())
            .env("KEYCHAIN_PASSWORD", format!("not {PASSWORD}"))
            .args(["-d", "-i"])
            .arg(identity)
            .arg("-o")
            .arg(&out)
            .arg(sealed));
        assert_refused(&result, &out, &["password"]);
        // No password and no terminal: age cannot ask, the plugin says what to set.
        let result = run(s
            .setup
            .age()
            .env("PATH", measured.path())
            .env_remove("KEYCHAIN_PASSWORD")
            .stdin(std::process::Stdio::null())
            .args(["-d", "-i"])
            .arg(identity)
            .arg("-o")
            .arg(&out)
            .arg(sealed));
        assert_refused(&result, &out, &["KEYCHAIN_PASSWORD"]);
    }
    // Each refusal went through the protocol; the plugin exited 0 every time.
    let runs = measured.runs();
    assert_eq!(runs.len(), 4, "{runs:?}");
    assert!(runs.iter().all(|(status, _)| *status == 0), "{runs:?}");
}

#[tokio::test]
async fn a_tampered_stanza_is_refused() {
    let s = sealed_files().await;
    for (name, identity, sealed) in &s.files {
        let bytes = std::fs::read(sealed).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(
            &bytes[..bytes.windows(4).position(|w| w == b"\n---").unwrap_or(0)],
        )
        .to_string();
        // The first character of the stanza body (the line after "-> keychain …").
        let body_at = text
            .find("\n-> keychain")
            .and_then(|i| text[i + 1..].find('\n').map(|j| i + 1 + j + 1));
        let body_at = body_at.unwrap_or_else(|| panic!("no keychain stanza in {text}"));
        let mut tampered = bytes.clone();
        tampered[body_at] = if tampered[body_at] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let path = s.setup.path(&format!("{name}.tampered.age"));
        std::fs::write(&path, &tampered).unwrap_or_else(|e| panic!("{e}"));
        let out = s.setup.path(&format!("{name}.tampered"));
        assert_refused(
            &decrypt(&s.setup, identity, &path, &out),
            &out,
            &["keychain plugin"],
        );
    }
}

#[tokio::test]
async fn the_password_file_comes_first_with_the_clis_first_line_rule() {
    let s = sealed_files().await;
    let (name, identity, sealed) = &s.files[0];
    let with_file = |contents: &[u8], env_password: Option<&str>| {
        let file = s.setup.path("password.txt");
        std::fs::write(&file, contents).unwrap_or_else(|e| panic!("{e}"));
        let out = s.setup.path(&format!("{name}.pwfile"));
        let _ = std::fs::remove_file(&out);
        let mut age = s.setup.age();
        match env_password {
            Some(p) => age.env("KEYCHAIN_PASSWORD", p),
            None => age.env_remove("KEYCHAIN_PASSWORD"),
        };
        let result = run(age
            .env("KEYCHAIN_PASSWORD_FILE", &file)
            .stdin(std::process::Stdio::null())
            .args(["-d", "-i"])
            .arg(identity)
            .arg("-o")
            .arg(&out)
            .arg(sealed));
        (result, out)
    };
    // The first line, without its line break (LF or CRLF); what follows is not read. No
    // terminal and no KEYCHAIN_PASSWORD: only the file can open the keystore.
    for contents in [
        format!("{PASSWORD}\nsecond line\n"),
        format!("{PASSWORD}\r\n"),
        PASSWORD.to_string(),
    ] {
        let (result, out) = with_file(contents.as_bytes(), None);
        assert_ok(
            &result,
            &format!("age -d with the password file {contents:?}"),
        );
        assert_eq!(std::fs::read(&out).unwrap_or_default(), b"secret");
    }
    // The file wins over KEYCHAIN_PASSWORD, as in the CLI.
    let (result, _) = with_file(format!("{PASSWORD}\n").as_bytes(), Some("not it"));
    assert_ok(&result, "age -d: the file before KEYCHAIN_PASSWORD");
    // The same file is what OpenSSL reads with `-passin file:`: it opens the RSA key's
    // encrypted PKCS#8 file (one password file serves both tools).
    let kc = s.setup.keychain().await;
    let rsa_id = kc
        .describe("rsa")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .key_id;
    kc.close().await.unwrap_or_else(|e| panic!("{e}"));
    let pem = s
        .setup
        .path("keystore")
        .join("keys")
        .join(&rsa_id)
        .join("v1.pem");
    let password_file = s.setup.path("password.txt");
    for (contents, opens) in [
        (format!("{PASSWORD}\nsecond line\n"), true),
        ("not the password\n".to_string(), false),
    ] {
        std::fs::write(&password_file, contents).unwrap_or_else(|e| panic!("{e}"));
        let openssl = run(std::process::Command::new("openssl")
            .args(["pkey", "-noout", "-in"])
            .arg(&pem)
            .arg("-passin")
            .arg(format!("file:{}", password_file.display())));
        assert_eq!(
            openssl.status.success(),
            opens,
            "openssl pkey -passin file:"
        );
    }
    // Refused, each with one clear message and nothing written: a wrong password, an empty
    // first line, a missing file.
    for (contents, expected) in [
        (&b"not the password\n"[..], "password"),
        (&b"\nlater lines\n"[..], "empty"),
    ] {
        let (result, out) = with_file(contents, Some(PASSWORD));
        assert_refused(&result, &out, &[expected]);
    }
    let out = s.setup.path("missing.out");
    let result = run(s
        .setup
        .age()
        .env("KEYCHAIN_PASSWORD_FILE", s.setup.path("no-such-file"))
        .args(["-d", "-i"])
        .arg(identity)
        .arg("-o")
        .arg(&out)
        .arg(sealed));
    assert_refused(&result, &out, &["no-such-file"]);
}
