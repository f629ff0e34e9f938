//! `keychain sign` / `keychain verify` for every signing spec and algorithm, judged by OpenSSL
//! and Python `cryptography` (PyCryptodome for Ed25519ph); signature encodings; signing a given
//! digest.

use std::fs;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::SigningAlgorithm::{self, *};
use keychain_testkit::{
    SignatureCase, libsodium_ed25519ph_verify_batch, openssl_verify, python_verify_batch,
};

use crate::support::{Cli, arg, openssl_digest};

const RSA: &[SigningAlgorithm] = &[
    // The default first: the test also signs without --algorithm.
    RsassaPkcs1V15Sha256,
    RsassaPkcs1V15Sha384,
    RsassaPkcs1V15Sha512,
    RsassaPssSha256,
    RsassaPssSha384,
    RsassaPssSha512,
];

/// More than one 64 KiB read, so streaming hashing is exercised.
fn message() -> Vec<u8> {
    (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect()
}

/// One key of `spec`; for each algorithm a file signature made by the binary, which OpenSSL,
/// Python and `keychain verify` accept, and which all of them reject over a tampered file.
fn sign_and_judge(spec: &str, algorithms: &[SigningAlgorithm]) {
    let cli = Cli::new();
    cli.create("signer", spec, &[]);
    let pem = cli.pubkey_pem("signer");
    let message = message();
    let mut tampered_bytes = message.clone();
    tampered_bytes[100_000] ^= 1;
    let msg = cli.file("message.bin", &message);
    let tampered = cli.file("tampered.bin", &tampered_bytes);

    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for &alg in algorithms {
        let sig_path = cli.path(&format!("{alg}.sig"));
        cli.ok([
            "sign",
            "signer",
            "--in",
            arg(&msg),
            "--algorithm",
            alg.as_str(),
            "--out",
            arg(&sig_path),
        ]);
        let sig = fs::read(&sig_path).unwrap();
        assert!(
            openssl_verify(&pem, alg, &message, &sig),
            "openssl rejects a {spec} {alg} signature"
        );
        assert!(
            !openssl_verify(&pem, alg, &tampered_bytes, &sig),
            "openssl accepts a {spec} {alg} signature over a tampered file"
        );

        let verify = |file: &std::path::Path| {
            cli.run([
                "verify",
                "signer",
                "--in",
                arg(file),
                "--signature",
                arg(&sig_path),
                "--algorithm",
                alg.as_str(),
            ])
        };
        let good = verify(&msg);
        assert_eq!(good.code, 0, "{spec} {alg}: {}", good.stderr);
        assert_eq!(good.text(), "valid\n");
        let bad = verify(&tampered);
        assert_eq!(bad.code, 1, "{spec} {alg} tampered: {}", bad.stderr);
        assert_eq!(bad.text(), "invalid\n");
        assert!(bad.stderr.is_empty(), "an invalid signature is no error");

        for (data, valid) in [(&message, true), (&tampered_bytes, false)] {
            cases.push(SignatureCase {
                public_key_pem: pem.clone(),
                algorithm: alg,
                data: data.clone(),
                prehashed: false,
                signature: sig.clone(),
            });
            expected.push(valid);
        }
    }

    // Without --algorithm: the spec's default (listed first), on both sides.
    let default_sig = cli.path("default.sig");
    cli.ok([
        "sign",
        "signer",
        "--in",
        arg(&msg),
        "--out",
        arg(&default_sig),
    ]);
    let sig = fs::read(&default_sig).unwrap();
    assert!(openssl_verify(&pem, algorithms[0], &message, &sig));
    cli.ok([
        "verify",
        "signer",
        "--in",
        arg(&msg),
        "--signature",
        arg(&default_sig),
    ]);

    assert_eq!(
        python_verify_batch(&cases),
        expected,
        "Python's verdicts on {spec} signatures (valid, tampered) per algorithm"
    );
}

#[test]
fn rsa_2048_every_algorithm() {
    sign_and_judge("RSA_2048", RSA);
}

#[test]
fn rsa_3072_every_algorithm() {
    sign_and_judge("RSA_3072", RSA);
}

#[test]
fn rsa_4096_every_algorithm() {
    sign_and_judge("RSA_4096", RSA);
}

#[test]
fn p256_ecdsa() {
    sign_and_judge("ECC_NIST_P256", &[EcdsaSha256]);
}

#[test]
fn p384_ecdsa() {
    sign_and_judge("ECC_NIST_P384", &[EcdsaSha384]);
}

#[test]
fn p521_ecdsa() {
    sign_and_judge("ECC_NIST_P521", &[EcdsaSha512]);
}

#[test]
fn secp256k1_ecdsa() {
    sign_and_judge("ECC_SECG_P256K1", &[EcdsaSha256]);
}

#[test]
fn ed25519_pure() {
    sign_and_judge("ECC_NIST_EDWARDS25519", &[Ed25519Sha512]);
}

/// ML-DSA-65 through the binary: `key create --spec ml-dsa-65`, `sign` (the file itself, as
/// ML-DSA signs the message), `verify`, `pubkey` (PEM and the draft AKP JWK), a digest
/// refused. Python `cryptography` judges (OpenSSL 3.0 has no ML-DSA).
#[test]
fn ml_dsa_65_sign_verify_pubkey() {
    let cli = Cli::new();
    let v = cli.json(["key", "create", "pq", "--spec", "ml-dsa-65"]);
    assert_eq!(v["spec"], "ML_DSA_65");
    assert_eq!(v["usage"], "SIGN_VERIFY");
    let pem = cli.pubkey_pem("pq");
    let message = message();
    let mut tampered_bytes = message.clone();
    tampered_bytes[100_000] ^= 1;
    let msg = cli.file("message.bin", &message);
    let tampered = cli.file("tampered.bin", &tampered_bytes);

    let sig_path = cli.path("pq.sig");
    cli.ok(["sign", "pq", "--in", arg(&msg), "--out", arg(&sig_path)]);
    let sig = fs::read(&sig_path).unwrap();
    assert_eq!(sig.len(), 3309, "an ML-DSA-65 signature is 3309 bytes");
    let verify = |file: &std::path::Path| {
        cli.run([
            "verify",
            "pq",
            "--in",
            arg(file),
            "--signature",
            arg(&sig_path),
            "--algorithm",
            "ML_DSA_SHAKE_256",
        ])
    };
    let good = verify(&msg);
    assert_eq!(good.code, 0, "{}", good.stderr);
    assert_eq!(good.text(), "valid\n");
    let bad = verify(&tampered);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert_eq!(bad.text(), "invalid\n");

    let cases: Vec<SignatureCase> = [&message, &tampered_bytes]
        .into_iter()
        .map(|data| SignatureCase {
            public_key_pem: pem.clone(),
            algorithm: MlDsaShake256,
            data: data.clone(),
            prehashed: false,
            signature: sig.clone(),
        })
        .collect();
    assert_eq!(
        python_verify_batch(&cases),
        vec![true, false],
        "Python's verdicts on the ML-DSA-65 signature (valid, tampered)"
    );

    let jwk = &cli.json(["pubkey", "pq", "--format", "jwk"])["jwk"];
    assert_eq!(jwk["kty"], "AKP");
    assert_eq!(jwk["alg"], "ML-DSA-65");
    assert!(jwk["pub"].as_str().is_some_and(|p| !p.is_empty()), "{jwk}");

    let digest = "ab".repeat(64);
    let err = cli.fails(
        [
            "sign",
            "pq",
            "--digest",
            &digest,
            "--algorithm",
            "ML_DSA_SHAKE_256",
        ],
        4,
    );
    assert!(err.contains("not a digest"), "{err}");
}

#[test]
fn friendly_spec_names_are_accepted() {
    let cli = Cli::new();
    let v = cli.json(["key", "create", "k", "--spec", "p384"]);
    assert_eq!(v["spec"], "ECC_NIST_P384");
    assert_eq!(v["usage"], "SIGN_VERIFY");
    assert_eq!(v["alias"], "alias/k");
}

#[test]
fn ecdsa_raw_base64_and_stdout_encodings() {
    let cli = Cli::new();
    cli.create("p384", "p384", &[]);
    let pem = cli.pubkey_pem("p384");
    let message = b"encodings".to_vec();
    let msg = cli.file("m.txt", &message);

    // raw: fixed-width r||s, which OpenSSL accepts once converted back to DER.
    let raw_path = cli.path("sig.raw");
    cli.ok([
        "sign",
        "p384",
        "--in",
        arg(&msg),
        "--encoding",
        "raw",
        "--out",
        arg(&raw_path),
    ]);
    let raw = fs::read(&raw_path).unwrap();
    assert_eq!(raw.len(), 96, "P-384 r||s is 2 x 48 bytes");
    let der = keychain::signature::ecdsa_raw_to_der(&raw, keychain::Curve::P384).unwrap();
    assert!(openssl_verify(&pem, EcdsaSha384, &message, &der));
    // verify detects r||s, and takes it when told.
    cli.ok([
        "verify",
        "p384",
        "--in",
        arg(&msg),
        "--signature",
        arg(&raw_path),
    ]);
    cli.ok([
        "verify",
        "p384",
        "--in",
        arg(&msg),
        "--signature",
        arg(&raw_path),
        "--encoding",
        "raw",
    ]);

    // base64 in a file: text of the DER signature.
    let b64_path = cli.path("sig.b64");
    cli.ok([
        "sign",
        "p384",
        "--in",
        arg(&msg),
        "--encoding",
        "base64",
        "--out",
        arg(&b64_path),
    ]);
    let text = fs::read_to_string(&b64_path).unwrap();
    let der = B64.decode(text.trim()).unwrap();
    assert!(openssl_verify(&pem, EcdsaSha384, &message, &der));
    cli.ok([
        "verify",
        "p384",
        "--in",
        arg(&msg),
        "--signature",
        arg(&b64_path),
    ]);

    // No --out: base64 on stdout.
    let printed = cli.ok(["sign", "p384", "--in", arg(&msg)]).text();
    let der = B64.decode(printed.trim()).unwrap();
    assert!(openssl_verify(&pem, EcdsaSha384, &message, &der));

    // --json: signature, algorithm and key id.
    let v = cli.json(["sign", "p384", "--in", arg(&msg)]);
    assert_eq!(v["algorithm"], "ECDSA_SHA_384");
    assert_eq!(v["key_id"].as_str().map(str::len), Some(36));
    let der = B64.decode(v["signature"].as_str().unwrap()).unwrap();
    assert!(openssl_verify(&pem, EcdsaSha384, &message, &der));
}

#[test]
fn stdin_input_is_signed() {
    use std::io::Write;
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let pem = cli.pubkey_pem("k");
    let mut child = cli
        .command()
        .args(["sign", "k", "--in", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let sig = B64
        .decode(String::from_utf8(out.stdout).unwrap().trim())
        .unwrap();
    assert!(openssl_verify(&pem, EcdsaSha256, b"from stdin", &sig));
}

/// Signing a digest OpenSSL computed: OpenSSL then verifies the signature over the file
/// itself, so the digest really was signed as that file's digest.
#[test]
fn digest_signing_is_verified_by_openssl() {
    let cli = Cli::new();
    cli.create("ec", "ECC_NIST_P256", &[]);
    cli.create("rsa", "RSA_2048", &[]);
    let message = b"a release artifact".to_vec();
    let msg = cli.file("artifact", &message);
    let mut cases = Vec::new();
    for (key, alg, hash) in [
        ("ec", EcdsaSha256, "sha256"),
        ("rsa", RsassaPssSha256, "sha256"),
        ("rsa", RsassaPkcs1V15Sha512, "sha512"),
    ] {
        let pem = cli.pubkey_pem(key);
        let digest = openssl_digest(hash, &msg);
        let hex = hex::encode(&digest);
        let sig_path = cli.path(&format!("{key}-{alg}.sig"));
        cli.ok([
            "sign",
            key,
            "--digest",
            &hex,
            "--algorithm",
            alg.as_str(),
            "--out",
            arg(&sig_path),
        ]);
        let sig = fs::read(&sig_path).unwrap();
        assert!(openssl_verify(&pem, alg, &message, &sig), "{key} {alg}");
        cli.ok([
            "verify",
            key,
            "--digest",
            &hex,
            "--algorithm",
            alg.as_str(),
            "--signature",
            arg(&sig_path),
        ]);
        cli.ok([
            "verify",
            key,
            "--in",
            arg(&msg),
            "--algorithm",
            alg.as_str(),
            "--signature",
            arg(&sig_path),
        ]);
        cases.push(SignatureCase {
            public_key_pem: pem,
            algorithm: alg,
            data: digest,
            prehashed: true,
            signature: sig,
        });
    }
    assert_eq!(python_verify_batch(&cases), vec![true; cases.len()]);
}

#[test]
fn digest_without_algorithm_follows_its_length() {
    let cli = Cli::new();
    cli.create("rsa", "rsa-2048", &[]);
    let msg = cli.file("m", b"m");
    let digest = openssl_digest("sha384", &msg);
    let v = cli.json(["sign", "rsa", "--digest", &hex::encode(&digest)]);
    assert_eq!(v["algorithm"], "RSASSA_PKCS1_V1_5_SHA_384");
    let sig = B64.decode(v["signature"].as_str().unwrap()).unwrap();
    let pem = cli.pubkey_pem("rsa");
    assert!(openssl_verify(&pem, RsassaPkcs1V15Sha384, b"m", &sig));
}

/// Ed25519ph through the binary, in AWS KMS's meaning: signing a file signs its SHA-512 `D`
/// (OpenSSL computes it here) as the Ed25519ph message, so `sign --digest D` makes the same
/// signature; PyCryptodome (`eddsa.new(key, 'rfc8032').verify(SHA512.new(D), sig)`) and
/// libsodium (`crypto_sign_ed25519ph_*` over D) accept it and refuse it for a tampered file's
/// digest; `keychain verify` and `verify-bundle` agree.
#[test]
fn ed25519ph_signs_a_file_as_its_sha512_digest() {
    let cli = Cli::new();
    cli.create("ed", "ECC_NIST_EDWARDS25519", &[]);
    let pem = cli.pubkey_pem("ed");
    let message = message();
    let mut tampered_bytes = message.clone();
    tampered_bytes[100_000] ^= 1;
    let msg = cli.file("message.bin", &message);
    let tampered = cli.file("tampered.bin", &tampered_bytes);
    let d = openssl_digest("sha512", &msg);
    let d_tampered = openssl_digest("sha512", &tampered);

    let file_sig = cli.path("file.sig");
    let bundle = cli.path("file.bundle");
    cli.ok([
        "sign",
        "ed",
        "--in",
        arg(&msg),
        "--algorithm",
        "ED25519_PH_SHA_512",
        "--out",
        arg(&file_sig),
        "--bundle",
        arg(&bundle),
    ]);
    let file_sig = fs::read(&file_sig).unwrap();
    // Without --algorithm a 64-byte digest on an Ed25519 key is Ed25519ph.
    let v = cli.json(["sign", "ed", "--digest", &hex::encode(&d)]);
    assert_eq!(v["algorithm"], "ED25519_PH_SHA_512");
    let digest_sig = B64.decode(v["signature"].as_str().unwrap()).unwrap();
    assert_eq!(digest_sig, file_sig, "the file and its digest sign alike");

    let sig_path = cli.file("ph.sig", &file_sig);
    for (input, valid) in [(&msg, true), (&tampered, false)] {
        let r = cli.run([
            "verify",
            "ed",
            "--in",
            arg(input),
            "--algorithm",
            "ED25519_PH_SHA_512",
            "--signature",
            arg(&sig_path),
        ]);
        assert_eq!(r.code, if valid { 0 } else { 1 }, "{}", r.stderr);
    }
    for (digest, valid) in [(&d, true), (&d_tampered, false)] {
        let r = cli.run([
            "verify",
            "ed",
            "--digest",
            &hex::encode(digest),
            "--signature",
            arg(&sig_path),
        ]);
        assert_eq!(r.code, if valid { 0 } else { 1 }, "{}", r.stderr);
    }
    let r = cli.run([
        "verify-bundle",
        arg(&bundle),
        "--in",
        arg(&msg),
        "--public-key",
        arg(&cli.file("ed.pem", pem.as_bytes())),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let case = |data: &[u8], signature: &[u8]| SignatureCase {
        public_key_pem: pem.clone(),
        algorithm: Ed25519PhSha512,
        data: data.to_vec(),
        prehashed: true,
        signature: signature.to_vec(),
    };
    let mut flipped = file_sig.clone();
    flipped[3] ^= 1;
    assert_eq!(
        python_verify_batch(&[
            case(&d, &file_sig),
            case(&d_tampered, &file_sig),
            case(&d, &flipped),
        ]),
        vec![true, false, false],
        "PyCryptodome over D (valid), a tampered file's D, a flipped signature"
    );
    // libsodium agrees, and the file itself is not the Ed25519ph message: D is.
    let der = keychain::PublicKey::from_pem(&pem)
        .unwrap()
        .to_der()
        .to_vec();
    let raw_key = der[der.len() - 32..].to_vec();
    assert_eq!(
        libsodium_ed25519ph_verify_batch(&[
            (raw_key.clone(), d.clone(), file_sig.clone()),
            (raw_key.clone(), d_tampered.clone(), file_sig.clone()),
            (raw_key, message.clone(), file_sig.clone()),
        ]),
        vec![true, false, false],
        "libsodium over D (valid), a tampered file's D, the file as the message"
    );
}
