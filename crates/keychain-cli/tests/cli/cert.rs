//! `keychain cert ca|issue|csr|crl`, judged by OpenSSL: root → intermediate → leaf chains
//! pass `openssl verify` for RSA (PKCS#1 v1.5 and PSS), P-256, P-384 and Ed25519, with the
//! extensions `openssl x509 -text` shows; a CSR made by `openssl req -new` is signed by
//! `cert issue --csr`; a CSR from `cert csr` passes `openssl req -verify`; a CRL from
//! `cert crl` makes `openssl verify -crl_check` refuse the revoked certificate.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{Cli, arg, assert_one_error_line, run_tool};

/// Runs openssl; returns whether it succeeded and its stdout and stderr together.
fn openssl<I, S>(args: I) -> (bool, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `openssl x509 -text -noout`.
fn x509_text(pem: &Path) -> String {
    let (ok, text) = openssl(["x509", "-text", "-noout", "-in", arg(pem)]);
    assert!(ok, "openssl x509 cannot read {}: {text}", pem.display());
    text
}

/// The subject public key of a certificate (or CSR with `req`) as OpenSSL extracts it.
fn openssl_pubkey(kind: &str, pem: &Path) -> String {
    let out = run_tool(
        Command::new("openssl")
            .args([kind, "-noout", "-pubkey", "-in"])
            .arg(pem),
    );
    String::from_utf8(out).unwrap()
}

const SANS: &[&str] = &[
    "www.example.test",
    "ip:127.0.0.1",
    "email:ops@example.test",
    "uri:https://example.test/app",
];

/// A root (pathLen 1), an intermediate (pathLen 0) and a leaf with SANs and EKUs, all on
/// `spec` keys signed with `algorithm` (or the keys' default); OpenSSL verifies the chain
/// and shows the extensions; `signature_text` is how OpenSSL names the signature algorithm.
fn chain_verifies_in_openssl(spec: &str, algorithm: Option<&str>, signature_text: &str) {
    let cli = Cli::new();
    for name in ["root", "inter", "leaf"] {
        cli.create(name, spec, &[]);
    }
    let alg: Vec<&str> = algorithm
        .map(|a| vec!["--algorithm", a])
        .unwrap_or_default();
    let (root, inter, leaf) = (
        cli.path("root.pem"),
        cli.path("inter.pem"),
        cli.path("leaf.pem"),
    );

    let mut args = vec![
        "cert",
        "ca",
        "root",
        "--subject",
        "CN=Keychain Test Root,O=Keychain Tests",
        "--days",
        "30",
        "--path-len",
        "1",
        "--out",
        arg(&root),
    ];
    args.extend_from_slice(&alg);
    let run = cli.ok(&args);
    assert!(run.stdout.is_empty(), "with --out, nothing on stdout");

    let mut args = vec![
        "cert",
        "issue",
        "root",
        "--key",
        "inter",
        "--subject",
        "CN=Keychain Test Intermediate,O=Keychain Tests",
        "--ca",
        "--path-len",
        "0",
        "--days",
        "20",
        "--ca-cert",
        arg(&root),
        "--out",
        arg(&inter),
    ];
    args.extend_from_slice(&alg);
    let inter_json = cli.json(&args);

    let mut args = vec![
        "cert",
        "issue",
        "inter",
        "--key",
        "leaf",
        "--subject",
        "CN=www.example.test,O=Example",
        "--eku",
        "serverAuth",
        "--eku",
        "client-auth",
        "--ca-cert",
        arg(&inter),
        "--out",
        arg(&leaf),
    ];
    for san in SANS {
        args.extend_from_slice(&["--san", san]);
    }
    args.extend_from_slice(&alg);
    let leaf_json = cli.json(&args);
    assert_eq!(
        leaf_json["issuer"],
        "CN=Keychain Test Intermediate,O=Keychain Tests"
    );
    assert_eq!(
        leaf_json["not_after"], inter_json["not_after"],
        "without --days a leaf ends with its CA, not after it"
    );
    assert_eq!(
        leaf_json["pem"].as_str(),
        fs::read_to_string(&leaf).ok().as_deref()
    );

    let (ok, text) = openssl([
        "verify",
        "-CAfile",
        arg(&root),
        "-untrusted",
        arg(&inter),
        "-purpose",
        "sslserver",
        arg(&leaf),
    ]);
    assert!(
        ok && text.contains(": OK"),
        "{spec}: openssl verify: {text}"
    );
    let (ok, text) = openssl([
        "verify",
        "-CAfile",
        arg(&root),
        "-untrusted",
        arg(&inter),
        "-purpose",
        "sslclient",
        arg(&leaf),
    ]);
    assert!(ok, "{spec}: clientAuth too: {text}");
    // Without the intermediate there is no chain: the judge can say no.
    let (ok, text) = openssl(["verify", "-CAfile", arg(&root), arg(&leaf)]);
    assert!(!ok, "{spec}: verified without the intermediate: {text}");
    // The intermediate may not issue CAs (pathLen 0).
    let (ok, _) = openssl([
        "verify",
        "-CAfile",
        arg(&root),
        "-untrusted",
        arg(&inter),
        "-purpose",
        "codesign",
        arg(&leaf),
    ]);
    assert!(
        !ok,
        "{spec}: a serverAuth/clientAuth leaf is not for code signing"
    );

    let text = x509_text(&leaf);
    for want in [
        "DNS:www.example.test",
        "IP Address:127.0.0.1",
        "email:ops@example.test",
        "URI:https://example.test/app",
        "CA:FALSE",
        "TLS Web Server Authentication",
        "TLS Web Client Authentication",
        "Digital Signature",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        // RFC 4514 is most specific first; OpenSSL prints in DER order.
        "Subject: O = Example, CN = www.example.test",
        signature_text,
    ] {
        assert!(text.contains(want), "{spec} leaf lacks {want:?}:\n{text}");
    }
    let text = x509_text(&inter);
    assert!(
        text.contains("CA:TRUE, pathlen:0"),
        "{spec} intermediate:\n{text}"
    );
    assert!(
        text.contains("Certificate Sign, CRL Sign"),
        "{spec}:\n{text}"
    );
    let text = x509_text(&root);
    assert!(text.contains("CA:TRUE, pathlen:1"), "{spec} root:\n{text}");
    assert!(
        text.contains("Issuer: O = Keychain Tests, CN = Keychain Test Root"),
        "{spec}:\n{text}"
    );
    assert!(text.contains(signature_text), "{spec} root:\n{text}");

    // The leaf certifies the leaf key.
    assert_eq!(openssl_pubkey("x509", &leaf), cli.pubkey_pem("leaf"));
}

#[test]
fn rsa_pkcs1_chain_verifies_in_openssl() {
    chain_verifies_in_openssl("rsa-2048", None, "sha256WithRSAEncryption");
}

#[test]
fn rsa_pss_chain_verifies_in_openssl() {
    chain_verifies_in_openssl("rsa-2048", Some("PS256"), "rsassaPss");
}

#[test]
fn p256_chain_verifies_in_openssl() {
    chain_verifies_in_openssl("p256", None, "ecdsa-with-SHA256");
}

#[test]
fn p384_chain_verifies_in_openssl() {
    chain_verifies_in_openssl("p384", None, "ecdsa-with-SHA384");
}

#[test]
fn ed25519_chain_verifies_in_openssl() {
    chain_verifies_in_openssl("ed25519", None, "ED25519");
}

/// A root CA of `spec` named `root`, written to root.pem.
fn root_ca(cli: &Cli, spec: &str) -> std::path::PathBuf {
    cli.create("root", spec, &[]);
    let root = cli.path("root.pem");
    cli.ok([
        "cert",
        "ca",
        "root",
        "--subject",
        "CN=Keychain Test Root",
        "--out",
        arg(&root),
    ]);
    root
}

/// A CSR made by `openssl req -new` (its own RSA key) is certified by `cert issue --csr`: the
/// subject and SANs come from the CSR unless overridden; the key is the CSR's; a tampered CSR
/// is refused.
#[test]
fn openssl_csr_is_certified_by_cert_issue() {
    let cli = Cli::new();
    let root = root_ca(&cli, "p256");
    let (key, csr) = (cli.path("client.key"), cli.path("client.csr"));
    run_tool(
        Command::new("openssl")
            .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout"])
            .arg(&key)
            .args(["-subj", "/CN=client.example.test/O=Clients", "-addext"])
            .arg("subjectAltName=DNS:client.example.test,IP:10.0.0.7")
            .arg("-out")
            .arg(&csr),
    );
    let cert = cli.path("client.pem");
    cli.ok([
        "cert",
        "issue",
        "root",
        "--csr",
        arg(&csr),
        "--ca-cert",
        arg(&root),
        "--eku",
        "clientAuth",
        "--out",
        arg(&cert),
    ]);
    let (ok, text) = openssl([
        "verify",
        "-CAfile",
        arg(&root),
        "-purpose",
        "sslclient",
        arg(&cert),
    ]);
    assert!(ok && text.contains(": OK"), "openssl verify: {text}");
    let text = x509_text(&cert);
    for want in [
        "Subject: CN = client.example.test, O = Clients",
        "DNS:client.example.test",
        "IP Address:10.0.0.7",
        "TLS Web Client Authentication",
        "Key Encipherment",
    ] {
        assert!(text.contains(want), "lacks {want:?}:\n{text}");
    }
    let key_pub = run_tool(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key),
    );
    assert_eq!(
        openssl_pubkey("x509", &cert),
        String::from_utf8(key_pub).unwrap(),
        "the certificate is for the CSR's key"
    );

    // --subject and --san replace the CSR's; DER CSRs are read too.
    let der = cli.path("client.der");
    run_tool(
        Command::new("openssl")
            .args(["req", "-in"])
            .arg(&csr)
            .args(["-outform", "DER", "-out"])
            .arg(&der),
    );
    let other = cli.path("other.pem");
    cli.ok([
        "cert",
        "issue",
        "root",
        "--csr",
        arg(&der),
        "--subject",
        "CN=override",
        "--san",
        "other.example.test",
        "--ca-cert",
        arg(&root),
        "--out",
        arg(&other),
    ]);
    let text = x509_text(&other);
    assert!(text.contains("Subject: CN = override"), "{text}");
    assert!(text.contains("DNS:other.example.test"), "{text}");
    assert!(!text.contains("client.example.test"), "{text}");

    // A CSR whose signature no longer matches (one byte of the signature changed).
    let mut bytes = fs::read(&der).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let tampered = cli.file("tampered.der", &bytes);
    let line = cli.fails(
        [
            "cert",
            "issue",
            "root",
            "--csr",
            arg(&tampered),
            "--ca-cert",
            arg(&root),
        ],
        4,
    );
    assert!(line.contains("signature"), "{line}");
}

/// `cert csr` requests pass `openssl req -verify` for several key types (and a changed byte
/// makes it fail), carry the subject and SANs, and are certified by `cert issue --csr`.
#[test]
fn cert_csr_passes_openssl_req_verify() {
    for (spec, algorithm) in [
        ("p256", None),
        ("p384", None),
        ("rsa-2048", Some("PS256")),
        ("rsa-2048", None),
        ("ed25519", None),
    ] {
        let cli = Cli::new();
        let root = root_ca(&cli, "p384");
        cli.create("svc", spec, &[]);
        let req = cli.path("svc.csr");
        let mut args = vec![
            "cert",
            "csr",
            "svc",
            "--subject",
            "CN=svc.example.test,O=Example",
            "--san",
            "svc.example.test",
            "--san",
            "ip:192.0.2.1",
            "--out",
            arg(&req),
        ];
        if let Some(a) = algorithm {
            args.extend_from_slice(&["--algorithm", a]);
        }
        cli.ok(&args);
        // OpenSSL 3.0 `req -verify` exits 0 even when the signature fails: read its verdict.
        let (ok, text) = openssl(["req", "-verify", "-noout", "-in", arg(&req)]);
        assert!(
            ok && text.contains("verify OK") && !text.contains("failure"),
            "{spec}: openssl req -verify: {text}"
        );
        let (ok, text) = openssl(["req", "-text", "-noout", "-in", arg(&req)]);
        assert!(ok, "{text}");
        for want in [
            "Subject: O = Example, CN = svc.example.test",
            "DNS:svc.example.test",
            "IP Address:192.0.2.1",
        ] {
            assert!(text.contains(want), "{spec}: CSR lacks {want:?}:\n{text}");
        }
        if algorithm == Some("PS256") {
            assert!(text.contains("rsassaPss"), "{spec}: {text}");
        }
        assert_eq!(openssl_pubkey("req", &req), cli.pubkey_pem("svc"), "{spec}");

        // Change one byte of the subject: the self-signature no longer verifies.
        let pem = fs::read_to_string(&req).unwrap();
        let forged = cli.file(
            "forged.csr",
            {
                let der_path = cli.path("svc.der");
                run_tool(
                    Command::new("openssl")
                        .args(["req", "-in"])
                        .arg(&req)
                        .args(["-outform", "DER", "-out"])
                        .arg(&der_path),
                );
                let mut der = fs::read(&der_path).unwrap();
                let at = der
                    .windows(3)
                    .position(|w| w == b"svc")
                    .expect("the subject in the DER");
                der[at] = b't';
                der
            }
            .as_slice(),
        );
        let (ok, text) = openssl([
            "req",
            "-verify",
            "-noout",
            "-inform",
            "DER",
            "-in",
            arg(&forged),
        ]);
        assert!(
            !ok || (text.contains("verify failure") && !text.contains("verify OK")),
            "{spec}: openssl accepts a forged CSR: {text}"
        );
        assert!(
            pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
            "{pem}"
        );

        let cert = cli.path("svc.pem");
        cli.ok([
            "cert",
            "issue",
            "root",
            "--csr",
            arg(&req),
            "--ca-cert",
            arg(&root),
            "--out",
            arg(&cert),
        ]);
        let (ok, text) = openssl(["verify", "-CAfile", arg(&root), arg(&cert)]);
        assert!(ok, "{spec}: {text}");
        assert!(x509_text(&cert).contains("IP Address:192.0.2.1"));
    }
}

/// `cert crl` lists the serial `openssl x509 -serial` prints; OpenSSL verifies the CRL's
/// signature and then refuses the revoked certificate, not the other one.
#[test]
fn crl_revokes_in_openssl() {
    let cli = Cli::new();
    let root = root_ca(&cli, "p256");
    let mut serials = Vec::new();
    for name in ["revoked", "kept"] {
        cli.create(name, "p256", &[]);
        let out = cli.path(&format!("{name}.pem"));
        let v = cli.json([
            "cert",
            "issue",
            "root",
            "--key",
            name,
            "--subject",
            &format!("CN={name}"),
            "--ca-cert",
            arg(&root),
            "--out",
            arg(&out),
        ]);
        let (_, text) = openssl(["x509", "-noout", "-serial", "-in", arg(&out)]);
        let serial = text.trim().trim_start_matches("serial=").to_string();
        assert_eq!(
            v["serial"],
            serial.as_str(),
            "the serial as OpenSSL prints it"
        );
        serials.push(serial);
    }
    let crl = cli.path("crl.pem");
    let v = cli.json([
        "cert",
        "crl",
        "root",
        "--ca-cert",
        arg(&root),
        "--revoke",
        &serials[0],
        "--number",
        "7",
        "--out",
        arg(&crl),
    ]);
    assert_eq!(v["revoked"][0], serials[0].as_str());
    let (ok, text) = openssl(["crl", "-in", arg(&crl), "-CAfile", arg(&root), "-noout"]);
    assert!(ok && text.contains("verify OK"), "openssl crl: {text}");
    let (_, text) = openssl(["crl", "-in", arg(&crl), "-text", "-noout"]);
    assert!(
        text.contains(&format!("Serial Number: {}", serials[0])),
        "{text}"
    );
    assert!(text.contains("X509v3 CRL Number:"), "{text}");

    let check = |name: &str| {
        openssl([
            "verify",
            "-crl_check",
            "-CAfile",
            arg(&root),
            "-CRLfile",
            arg(&crl),
            arg(&cli.path(&format!("{name}.pem"))),
        ])
    };
    let (ok, text) = check("revoked");
    assert!(
        !ok && text.contains("revoked"),
        "openssl accepts a revoked cert: {text}"
    );
    let (ok, text) = check("kept");
    assert!(ok, "openssl refuses a certificate not in the CRL: {text}");
}

/// `cert issue` followed by `extra`.
fn issue<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["cert", "issue"];
    args.extend_from_slice(extra);
    args
}

/// Bad values are one error line with their code; clap rejects malformed command lines (2).
#[test]
fn cert_errors_have_their_codes() {
    let cli = Cli::new();
    let root = root_ca(&cli, "p256");
    cli.create("other", "p256", &[]);
    cli.create("leaf", "p256", &[]);
    cli.create("sym", "SYMMETRIC_DEFAULT", &[]);
    let r = arg(&root);
    // The certificate is not the CA key's.
    let line = cli.fails(
        issue(&[
            "other",
            "--key",
            "leaf",
            "--subject",
            "CN=x",
            "--ca-cert",
            r,
        ]),
        4,
    );
    assert!(line.contains("not for key"), "{line}");
    for bad_san in ["not a name!", "ip:300.1.1.1", "email:nobody", "uri:nope"] {
        let line = cli.fails(
            issue(&["root", "--key", "leaf", "--san", bad_san, "--ca-cert", r]),
            4,
        );
        assert!(line.contains("SAN"), "{line}");
    }
    let line = cli.fails(
        issue(&[
            "root",
            "--key",
            "leaf",
            "--subject",
            "CN=x",
            "--eku",
            "flying",
            "--ca-cert",
            r,
        ]),
        4,
    );
    assert!(line.contains("serverAuth"), "{line}");
    cli.fails(
        issue(&[
            "root",
            "--key",
            "leaf",
            "--subject",
            "garbage",
            "--ca-cert",
            r,
        ]),
        4,
    );
    // Longer than the CA certificate (ten years by default).
    let line = cli.fails(
        issue(&[
            "root",
            "--key",
            "leaf",
            "--subject",
            "CN=x",
            "--days",
            "5000",
            "--ca-cert",
            r,
        ]),
        4,
    );
    assert!(line.contains("outlive"), "{line}");
    cli.fails(
        issue(&[
            "root",
            "--key",
            "leaf",
            "--subject",
            "CN=x",
            "--days",
            "0",
            "--ca-cert",
            r,
        ]),
        4,
    );
    let garbage = cli.file("garbage.csr", b"not a CSR at all");
    cli.fails(issue(&["root", "--csr", arg(&garbage), "--ca-cert", r]), 4);
    cli.fails(issue(&["root", "--csr", arg(&root), "--ca-cert", r]), 4);
    let missing = cli.path("missing.pem");
    cli.fails(
        issue(&[
            "root",
            "--key",
            "leaf",
            "--subject",
            "CN=x",
            "--ca-cert",
            arg(&missing),
        ]),
        15,
    );
    cli.fails(
        issue(&["root", "--key", "nope", "--subject", "CN=x", "--ca-cert", r]),
        3,
    );
    cli.fails(["cert", "ca", "sym", "--subject", "CN=x"], 5);

    // pathLen 0 below: the intermediate may not issue another CA.
    let inter = cli.path("inter.pem");
    cli.ok(issue(&[
        "root",
        "--key",
        "other",
        "--subject",
        "CN=inter",
        "--ca",
        "--path-len",
        "0",
        "--ca-cert",
        r,
        "--out",
        arg(&inter),
    ]));
    let line = cli.fails(
        issue(&[
            "other",
            "--key",
            "leaf",
            "--subject",
            "CN=sub",
            "--ca",
            "--ca-cert",
            arg(&inter),
        ]),
        4,
    );
    assert!(line.contains("pathLen 0"), "{line}");
    // A leaf certificate is not a CA certificate.
    let leaf = cli.path("leaf.pem");
    cli.ok(issue(&[
        "root",
        "--key",
        "leaf",
        "--subject",
        "CN=leaf",
        "--ca-cert",
        r,
        "--out",
        arg(&leaf),
    ]));
    cli.fails(
        issue(&[
            "leaf",
            "--key",
            "other",
            "--subject",
            "CN=y",
            "--ca-cert",
            arg(&leaf),
        ]),
        4,
    );

    cli.fails(
        ["cert", "crl", "root", "--ca-cert", r, "--revoke", "xyz"],
        4,
    );

    for malformed in [
        issue(&["root", "--subject", "CN=x", "--ca-cert", r]),
        issue(&["root", "--key", "leaf", "--csr", r, "--ca-cert", r]),
        issue(&["root", "--key", "leaf", "--path-len", "1", "--ca-cert", r]),
        issue(&["root", "--key", "leaf", "--subject", "CN=x"]),
    ] {
        let run = cli.run(&malformed);
        assert_one_error_line(&run, 2, &format!("{malformed:?}"));
    }

    // Without --out the PEM goes to stdout.
    let out = cli
        .ok(["cert", "ca", "other", "--subject", "CN=stdout"])
        .text();
    assert!(out.starts_with("-----BEGIN CERTIFICATE-----"), "{out}");
    let csr = cli
        .ok(["cert", "csr", "leaf", "--subject", "CN=leaf"])
        .text();
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    let v: Value = cli.json(["cert", "crl", "root", "--ca-cert", r]);
    assert!(
        v["pem"]
            .as_str()
            .unwrap_or_default()
            .starts_with("-----BEGIN X509 CRL-----"),
        "{v}"
    );
}
