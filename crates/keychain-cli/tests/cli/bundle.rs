//! `keychain sign --bundle` and `keychain verify-bundle`: offline checking, with and without a
//! pinned signer key, judged against OpenSSL for the raw signature.

use std::fs;

use crate::support::{Cli, arg};

#[test]
fn bundles_verify_offline_and_pin_the_signer() {
    let cli = Cli::new();
    cli.create("release", "p384", &[]);
    cli.create("other", "p384", &[]);
    let artifact = cli.file("app.tar.gz", &vec![42u8; 200_000]);
    let bundle = cli.path("app.bundle.json");
    let sig = cli.path("app.sig");
    cli.ok([
        "sign",
        "release",
        "--in",
        arg(&artifact),
        "--out",
        arg(&sig),
        "--bundle",
        arg(&bundle),
    ]);
    let pem = cli.file("release.pem", cli.pubkey_pem("release").as_bytes());
    let other_pem = cli.file("other.pem", cli.pubkey_pem("other").as_bytes());

    // The raw signature beside the bundle is what OpenSSL checks.
    assert!(keychain_testkit::openssl_verify_file(
        &cli.pubkey_pem("release"),
        keychain::SigningAlgorithm::EcdsaSha384,
        &artifact,
        &fs::read(&sig).unwrap()
    ));
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(json["algorithm"], "ECDSA_SHA_384");
    assert_eq!(json["artifact"], "app.tar.gz");
    assert_eq!(json["size"], 200_000);

    // Offline: no backend and no password in the environment.
    let offline = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keychain"));
        cmd.env_remove("KEYCHAIN_BACKEND")
            .env_remove("KEYCHAIN_PASSWORD")
            .env("KEYCHAIN_HOME", cli.path("no-such-keystore"));
        cli.run_with(cmd, args)
    };
    let r = offline(&["verify-bundle", arg(&bundle), "--in", arg(&artifact)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.text().contains("not pinned"), "{}", r.text());
    let r = offline(&[
        "verify-bundle",
        arg(&bundle),
        "--in",
        arg(&artifact),
        "--public-key",
        arg(&pem),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.text().contains("trusted"), "{}", r.text());
    assert!(
        !cli.path("no-such-keystore").exists(),
        "verify-bundle opened no keystore"
    );

    // Another trusted key, a changed file, a changed bundle: invalid (exit 1).
    let r = offline(&[
        "verify-bundle",
        arg(&bundle),
        "--in",
        arg(&artifact),
        "--public-key",
        arg(&other_pem),
    ]);
    assert_eq!(r.code, 1, "{}", r.text());
    let mut changed = fs::read(&artifact).unwrap();
    changed[1000] ^= 1;
    let changed = cli.file("changed.tar.gz", &changed);
    let r = offline(&["verify-bundle", arg(&bundle), "--in", arg(&changed)]);
    assert_eq!(r.code, 1, "{}", r.text());
    let forged = String::from_utf8(fs::read(&bundle).unwrap())
        .unwrap()
        .replace("\"size\": 200000", "\"size\": 200001");
    let forged = cli.file("forged.json", forged.as_bytes());
    let r = offline(&["verify-bundle", arg(&forged), "--in", arg(&artifact)]);
    assert_eq!(r.code, 1, "{}", r.text());

    // A file that is not a bundle: invalid input (4), one error line.
    let r = offline(&["verify-bundle", arg(&artifact), "--in", arg(&artifact)]);
    crate::support::assert_one_error_line(&r, 4, "not a bundle");
}

/// `verify-bundle --json` reports only what the signature covers. Each field of a bundle is
/// edited in turn: the bundle is then invalid or malformed, or the edited value is not
/// reported (the artifact name, key reference and time are not signed). The signature itself
/// is judged by OpenSSL over the artifact, and the reported digest by `openssl dgst`.
#[test]
fn verify_bundle_reports_only_what_is_signed() {
    let cli = Cli::new();
    cli.create("release", "p384", &[]);
    cli.create("other", "p384", &[]);
    let artifact = cli.file("app.tar.gz", &[9u8; 5000]);
    let other_file = cli.file("other.bin", b"another file");
    let bundle_path = cli.path("app.bundle.json");
    cli.ok([
        "sign",
        "release",
        "--in",
        arg(&artifact),
        "--bundle",
        arg(&bundle_path),
    ]);
    let other_bundle = cli.path("other.bundle.json");
    cli.ok([
        "sign",
        "other",
        "--in",
        arg(&other_file),
        "--bundle",
        arg(&other_bundle),
    ]);
    let original: serde_json::Value =
        serde_json::from_slice(&fs::read(&bundle_path).unwrap()).unwrap();
    let other: serde_json::Value =
        serde_json::from_slice(&fs::read(&other_bundle).unwrap()).unwrap();

    // The judges: OpenSSL checks the signature over the artifact, and the digest.
    let signature = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        original["signature"].as_str().unwrap(),
    )
    .unwrap();
    assert!(keychain_testkit::openssl_verify_file(
        original["public_key"].as_str().unwrap(),
        keychain::SigningAlgorithm::EcdsaSha384,
        &artifact,
        &signature
    ));
    let digest: String = crate::support::openssl_digest("sha384", &artifact)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let report = cli.json(["verify-bundle", arg(&bundle_path), "--in", arg(&artifact)]);
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["digest"], digest.as_str(), "{report}");
    assert_eq!(report["size"], 5000, "{report}");
    assert_eq!(report["algorithm"], "ECDSA_SHA_384", "{report}");
    for unsigned in ["artifact", "key", "signed_at"] {
        assert!(
            report.get(unsigned).is_none(),
            "{unsigned} reported: {report}"
        );
    }

    let fields = original.as_object().unwrap().clone();
    assert_eq!(
        fields.len(),
        11,
        "a new bundle field needs a case here: {original}"
    );
    for (field, value) in &fields {
        let edited = match field.as_str() {
            "format" => serde_json::json!("keychain-signature-bundle/v9"),
            "artifact" => serde_json::json!("evil.tar.gz"),
            "key" => serde_json::json!("someone-else"),
            "signed_at" => serde_json::json!(value.as_u64().unwrap() + 86_400 * 365),
            "size" => serde_json::json!(value.as_u64().unwrap() + 1),
            "digest_algorithm" => serde_json::json!("SHA_512"),
            "algorithm" => serde_json::json!("ECDSA_SHA_256"),
            "digest" => serde_json::json!("00".repeat(48)),
            // Another key's material, or another file's signature.
            "public_key" | "key_thumbprint" | "signature" => other[field].clone(),
            f => panic!("no edit for the bundle field {f}"),
        };
        assert_ne!(&edited, value, "{field}");
        let mut bundle = original.clone();
        bundle[field] = edited.clone();
        let path = cli.file("edited.json", bundle.to_string().as_bytes());
        let run = cli.run([
            "--json",
            "verify-bundle",
            arg(&path),
            "--in",
            arg(&artifact),
        ]);
        if run.code == 0 {
            let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
            assert!(
                report.get(field).is_none(),
                "an edited {field} verified and was reported: {report}"
            );
            let text = report.to_string();
            let shown = edited.as_str().map_or(edited.to_string(), str::to_string);
            assert!(!text.contains(&shown), "edited {field} shows: {text}");
            assert!(
                ["artifact", "key", "signed_at"].contains(&field.as_str()),
                "an edit of the signed field {field} still verified: {report}"
            );
        } else {
            assert!(
                run.code == 1 || run.code == 4,
                "{field}: exit {} ({})",
                run.code,
                run.stderr
            );
        }
    }
}
