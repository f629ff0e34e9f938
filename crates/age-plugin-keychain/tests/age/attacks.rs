//! Hostile strings: tampered recipients, identities with control characters or huge
//! payloads, recipients for keys that cannot wrap a file key. age or the plugin refuses
//! each with a clear message, and the plugin never panics.

use age_core::primitives::bech32_encode;
use keychain::{BackendUri, ErrorKind, KeyParams, KeyUsage};

use crate::support::{Setup, assert_refused, decrypt, encrypt, pattern, run};

/// A Bech32 identity line around raw `data` (bypassing our encoder's checks).
fn raw_identity(data: &[u8]) -> String {
    let hrp = bech32::Hrp::parse("AGE-PLUGIN-KEYCHAIN-").unwrap_or_else(|e| panic!("{e}"));
    bech32_encode(hrp, data).to_uppercase()
}

/// Version 1, kind 0, then length-prefixed fields.
fn identity_data(fields: &[&[u8]]) -> Vec<u8> {
    let mut data = vec![1u8, 0];
    for f in fields {
        data.extend_from_slice(&(f.len() as u16).to_be_bytes());
        data.extend_from_slice(f);
    }
    data
}

#[tokio::test]
async fn a_recipient_with_a_changed_character_is_refused() {
    let setup = Setup::new();
    let (recipient, _) = setup.key("files", &KeyParams::symmetric()).await;
    let input = setup.path("in");
    std::fs::write(&input, b"x").unwrap_or_else(|e| panic!("{e}"));
    // One character changed in the data part, then one in the checksum.
    for at in [recipient.len() / 2, recipient.len() - 1] {
        let mut bytes = recipient.clone().into_bytes();
        bytes[at] = if bytes[at] == b'q' { b'p' } else { b'q' };
        let tampered = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{e}"));
        let out = setup.path(&format!("in.{at}.age"));
        assert_refused(
            &encrypt(&setup, &[&tampered], &input, &out),
            &out,
            &["recipient"],
        );
    }
}

#[tokio::test]
async fn identities_with_control_characters_or_huge_payloads_are_refused() {
    let setup = Setup::new();
    let (recipient, _) = setup.key("files", &KeyParams::symmetric()).await;
    let input = setup.path("in");
    std::fs::write(&input, pattern(100)).unwrap_or_else(|e| panic!("{e}"));
    let sealed = setup.path("in.age");
    crate::support::assert_ok(&encrypt(&setup, &[&recipient], &input, &sealed), "age -e");
    let key = b"0b7c5a7e-1d2f-4c3b-9a8e-123456789abc";
    let huge = vec![b'a'; 60_000];
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a bell in the backend URI",
            raw_identity(&identity_data(&[b"software:/tmp/ks\x07", key])),
            "control character",
        ),
        (
            "an escape sequence in the key",
            raw_identity(&identity_data(&[setup.uri.as_bytes(), b"\x1b[31mkey"])),
            "identity",
        ),
        (
            "a 60 kB backend URI",
            raw_identity(&identity_data(&[&huge, key])),
            "too long",
        ),
        (
            "bytes after the last field",
            raw_identity(&[identity_data(&[setup.uri.as_bytes(), key]), vec![0; 100]].concat()),
            "trailing",
        ),
        ("version 2", raw_identity(&[2, 0, 0, 0]), "version 2"),
        (
            "a control character in the line itself",
            format!("AGE-PLUGIN-KEYCHAIN-1\u{1b}[2J{}", "Q".repeat(40)),
            "",
        ),
    ];
    for (what, line, expected) in cases {
        let identity = setup.path("hostile.identity");
        std::fs::write(&identity, format!("{line}\n")).unwrap_or_else(|e| panic!("{e}"));
        let out = setup.path("hostile.out");
        let result = decrypt(&setup, &identity, &sealed, &out);
        let mut expect = vec![];
        if !expected.is_empty() {
            expect.push(expected);
        }
        assert_refused(&result, &out, &expect);
        assert!(!result.stderr.is_empty(), "{what}: age said nothing");
        // Every message stays one printable line per error: nothing hostile is echoed raw.
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(
            !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
            "{what}: {stderr:?}"
        );
    }
}

#[tokio::test]
async fn keys_that_cannot_wrap_have_no_recipient() {
    let setup = Setup::new();
    let kc = setup.keychain().await;
    let backend = BackendUri::parse(&setup.uri).unwrap_or_else(|e| panic!("{e}"));
    for (name, params) in [
        ("mac", KeyParams::hmac(256)),
        (
            "signing-rsa",
            KeyParams::rsa(2048).with_usage(KeyUsage::SignVerify),
        ),
        ("ed", KeyParams::ed25519()),
        ("p256", KeyParams::ecdsa(keychain::Curve::P256)),
    ] {
        kc.generate_key(name, &params)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let err = age_plugin_keychain::recipient_for(&kc, &backend, name)
            .await
            .err()
            .unwrap_or_else(|| panic!("{name} got a recipient"));
        assert_eq!(err.kind(), ErrorKind::InvalidKeyUsage, "{name}: {err}");
        assert!(err.to_string().contains("ENCRYPT_DECRYPT"), "{name}: {err}");
        let err = age_plugin_keychain::identity_for(&kc, &backend, name)
            .await
            .err();
        assert!(err.is_some(), "{name} got an identity");
    }
    kc.close().await.unwrap_or_else(|e| panic!("{e}"));
    // A recipient string age cannot even parse never reaches the plugin.
    let out = setup.path("x.age");
    let input = setup.path("x");
    std::fs::write(&input, b"x").unwrap_or_else(|e| panic!("{e}"));
    assert_refused(
        &run(setup
            .age()
            .args(["-r", "age1keychain1"])
            .arg("-o")
            .arg(&out)
            .arg(&input)),
        &out,
        &["recipient"],
    );
}
