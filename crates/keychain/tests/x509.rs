//! The X.509 CA over backend keys. Chains are judged by `openssl verify` (strict mode) and by
//! rustls/webpki in a real loopback TLS handshake; CSRs by `openssl req -verify`, CRLs by
//! `openssl crl` and `openssl verify -crl_check`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use der::{Decode, Encode, EncodePem};
use keychain::signer::KeySigner;
use keychain::x509::{
    CertificateAuthority, CertificateParams, CertificateRequest, CrlParams, ExtendedKeyUsage,
    RevokedCertificate, SubjectAltName, create_csr, parse_name, to_pem,
};
use keychain::{Curve, KeyParams, Keychain, PublicKey, SigningAlgorithm};
use keychain_testkit::temp_software_backend;

async fn keychain() -> (tempfile::TempDir, Keychain) {
    let (dir, backend) = temp_software_backend().await;
    (dir, Keychain::new(backend))
}

/// Runs openssl; returns (success, stdout + stderr).
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}); install it (scripts/test.sh does)"));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn key(kc: &Keychain, name: &str, params: KeyParams, alg: SigningAlgorithm) -> KeySigner {
    kc.generate_key(name, &params).await.unwrap();
    KeySigner::new(kc, name, Some(alg)).await.unwrap()
}

fn tls_leaf_params() -> CertificateParams {
    CertificateParams::new("CN=localhost,O=Keychain Test")
        .unwrap()
        .san("localhost".parse().unwrap())
        .san("ip:127.0.0.1".parse().unwrap())
        .san("email:ops@example.test".parse().unwrap())
        .san("uri:https://example.test/service".parse().unwrap())
        .extended_key_usage(ExtendedKeyUsage::ServerAuth)
        .extended_key_usage(ExtendedKeyUsage::ClientAuth)
}

/// root → intermediate (pathLen 0) → leaf, for every key type; `openssl verify` in strict mode
/// with the TLS server purpose must accept each chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_verifies_chains_for_every_algorithm() {
    use SigningAlgorithm::*;
    let (_dir, kc) = keychain().await;
    let work = tempfile::tempdir().unwrap();
    let chains = [
        (
            "rsa-pkcs1",
            KeyParams::rsa(2048),
            RsassaPkcs1V15Sha256,
            KeyParams::rsa(2048),
            RsassaPkcs1V15Sha384,
            true,
        ),
        (
            "rsa-pss",
            KeyParams::rsa(2048),
            RsassaPssSha256,
            KeyParams::rsa(3072),
            RsassaPssSha384,
            false,
        ),
        (
            "p256",
            KeyParams::ecdsa(Curve::P256),
            EcdsaSha256,
            KeyParams::ecdsa(Curve::P256),
            EcdsaSha256,
            true,
        ),
        (
            "p384",
            KeyParams::ecdsa(Curve::P384),
            EcdsaSha384,
            KeyParams::ecdsa(Curve::P384),
            EcdsaSha384,
            false,
        ),
        (
            "p521",
            KeyParams::ecdsa(Curve::P521),
            EcdsaSha512,
            KeyParams::ecdsa(Curve::P384),
            EcdsaSha384,
            true,
        ),
        (
            "k256",
            KeyParams::ecdsa(Curve::Secp256k1),
            EcdsaSha256,
            KeyParams::ecdsa(Curve::Secp256k1),
            EcdsaSha256,
            false,
        ),
        (
            "ed25519",
            KeyParams::ed25519(),
            Ed25519Sha512,
            KeyParams::ed25519(),
            Ed25519Sha512,
            true,
        ),
    ];
    for (label, root_kp, root_alg, inter_kp, inter_alg, via_csr) in chains {
        let root_key = key(&kc, &format!("{label}-root"), root_kp.clone(), root_alg).await;
        let inter_key = key(&kc, &format!("{label}-inter"), inter_kp, inter_alg).await;
        let leaf_key = key(&kc, &format!("{label}-leaf"), root_kp, root_alg).await;

        let root = CertificateAuthority::create_root(
            root_key,
            &CertificateParams::ca(&format!("CN={label} Root CA,O=Keychain Test,C=US"))
                .unwrap()
                .path_len(Some(1)),
        )
        .await
        .unwrap();
        let inter_cert = root
            .issue(
                inter_key.public_key(),
                &CertificateParams::ca(&format!("CN={label} Issuing CA,O=Keychain Test"))
                    .unwrap()
                    .path_len(Some(0))
                    .valid_for_days(1825),
            )
            .await
            .unwrap();
        let inter = CertificateAuthority::new(inter_key, inter_cert).unwrap();
        // The leaf from a CSR (PEM, verified) or straight from the public key.
        let leaf = if via_csr {
            let csr = create_csr(
                &KeySigner::new(&kc, &format!("{label}-leaf"), Some(root_alg))
                    .await
                    .unwrap(),
                &parse_name("CN=localhost").unwrap(),
                &["localhost".parse().unwrap()],
            )
            .await
            .unwrap();
            let csr_pem = csr.to_pem().unwrap();
            let csr_path = write(work.path(), &format!("{label}-csr.pem"), &csr_pem);
            let (ok, text) = openssl(&["req", "-verify", "-noout", "-in", s(&csr_path)]);
            assert!(ok && text.contains("verify OK"), "{label} CSR: {text}");
            let parsed = CertificateRequest::from_pem(&csr_pem).unwrap();
            assert_eq!(parsed.signature_algorithm(), root_alg);
            inter
                .issue_for_request(&parsed, &tls_leaf_params())
                .await
                .unwrap()
        } else {
            inter
                .issue(leaf_key.public_key(), &tls_leaf_params())
                .await
                .unwrap()
        };
        let root_pem = write(
            work.path(),
            &format!("{label}-root.pem"),
            &root.certificate_pem().unwrap(),
        );
        let inter_pem = write(
            work.path(),
            &format!("{label}-inter.pem"),
            &inter.certificate_pem().unwrap(),
        );
        let leaf_pem = write(
            work.path(),
            &format!("{label}-leaf.pem"),
            &to_pem(&leaf).unwrap(),
        );
        let (ok, text) = openssl(&[
            "verify",
            "-x509_strict",
            "-purpose",
            "sslserver",
            "-CAfile",
            s(&root_pem),
            "-untrusted",
            s(&inter_pem),
            s(&leaf_pem),
        ]);
        assert!(
            ok && text.contains(": OK"),
            "{label}: openssl verify said {text}"
        );
        // Without the intermediate the chain must not verify.
        let (ok, _) = openssl(&["verify", "-CAfile", s(&root_pem), s(&leaf_pem)]);
        assert!(!ok, "{label}: leaf verified without its intermediate");

        let (_, inter_text) = openssl(&["x509", "-text", "-noout", "-in", s(&inter_pem)]);
        for want in [
            "CA:TRUE, pathlen:0",
            "Certificate Sign, CRL Sign",
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
        ] {
            assert!(
                inter_text.contains(want),
                "{label} intermediate lacks {want}:\n{inter_text}"
            );
        }
        let (_, leaf_text) = openssl(&["x509", "-text", "-noout", "-in", s(&leaf_pem)]);
        for want in [
            "X509v3 Basic Constraints: critical",
            "CA:FALSE",
            "X509v3 Key Usage: critical",
            "Digital Signature",
            "TLS Web Server Authentication, TLS Web Client Authentication",
            "DNS:localhost",
            "IP Address:127.0.0.1",
            "email:ops@example.test",
            "URI:https://example.test/service",
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
            "Subject: O = Keychain Test, CN = localhost",
        ] {
            assert!(
                leaf_text.contains(want),
                "{label} leaf lacks {want:?}:\n{leaf_text}"
            );
        }
        // The leaf's AKI is the intermediate's SKI.
        let ski = section(&inter_text, "X509v3 Subject Key Identifier");
        let aki = section(&leaf_text, "X509v3 Authority Key Identifier");
        assert!(
            aki.contains(&ski),
            "{label}: AKI {aki} does not name SKI {ski}"
        );
        if label == "rsa-pss" {
            for want in [
                "Signature Algorithm: rsassaPss",
                "Hash Algorithm: sha384",
                "Mask Algorithm: mgf1 with sha384",
                "Salt Length: 0x30",
            ] {
                assert!(
                    leaf_text.contains(want),
                    "PSS leaf lacks {want}:\n{leaf_text}"
                );
            }
        }
        if label == "rsa-pkcs1" {
            assert!(leaf_text.contains("Signature Algorithm: sha384WithRSAEncryption"));
            assert!(leaf_text.contains("Key Encipherment"));
        }
    }
}

/// The first line after `title` in `openssl x509 -text` output, trimmed.
fn section(text: &str, title: &str) -> String {
    let mut lines = text.lines().skip_while(|l| !l.contains(title));
    lines.next();
    lines
        .next()
        .unwrap_or_default()
        .trim()
        .trim_start_matches("keyid:")
        .to_string()
}

/// A real TLS handshake: rustls (webpki) trusts only our root; the server presents a leaf
/// the backend-held intermediate issued for a locally generated key.
fn tls_handshake(
    root: &[u8],
    chain: Vec<Vec<u8>>,
    key_pkcs8: Vec<u8>,
    server_name: &str,
) -> Result<(), String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain: Vec<CertificateDer<'static>> = chain.into_iter().map(CertificateDer::from).collect();
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8)),
        )
        .map_err(|e| format!("server config: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(root.to_vec()))
        .map_err(|e| format!("root store: {e}"))?;
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || -> Result<(), String> {
        let (sock, _) = listener.accept().map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf)
            .map_err(|e| format!("server read: {e}"))?;
        tls.write_all(b"pong!")
            .map_err(|e| format!("server write: {e}"))?;
        tls.conn.send_close_notify();
        tls.flush().map_err(|e| e.to_string())
    });
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let result = (|| {
        tls.write_all(b"ping!")
            .map_err(|e| format!("client write: {e}"))?;
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf)
            .map_err(|e| format!("client read: {e}"))?;
        if &buf != b"pong!" {
            return Err("wrong reply".to_string());
        }
        Ok(())
    })();
    drop(tls);
    let server_result = server.join().unwrap();
    result?;
    server_result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustls_accepts_a_server_certificate_from_the_backend_ca() {
    use SigningAlgorithm::*;
    let (_dir, kc) = keychain().await;
    // Two chains: Ed25519 root → RSA intermediate signing with PSS; P-384 root → P-256.
    let chains = [
        (
            "ed-rsa",
            KeyParams::ed25519(),
            Ed25519Sha512,
            KeyParams::rsa(2048),
            RsassaPssSha256,
        ),
        (
            "ec",
            KeyParams::ecdsa(Curve::P384),
            EcdsaSha384,
            KeyParams::ecdsa(Curve::P256),
            EcdsaSha256,
        ),
    ];
    for (label, root_kp, root_alg, inter_kp, inter_alg) in chains {
        let root = CertificateAuthority::create_root(
            key(&kc, &format!("{label}-root"), root_kp, root_alg).await,
            &CertificateParams::ca(&format!("CN={label} TLS Root")).unwrap(),
        )
        .await
        .unwrap();
        let inter_key = key(&kc, &format!("{label}-inter"), inter_kp, inter_alg).await;
        let inter_cert = root
            .issue(
                inter_key.public_key(),
                &CertificateParams::ca(&format!("CN={label} TLS Issuing"))
                    .unwrap()
                    .path_len(Some(0))
                    .valid_for_days(365),
            )
            .await
            .unwrap();
        let inter = CertificateAuthority::new(inter_key, inter_cert.clone()).unwrap();

        // The TLS server's own key: generated locally (the server needs the private key);
        // only its public half goes to the CA.
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
        let server_key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let spki = server_key.public_key().as_der().unwrap();
        let server_public = PublicKey::from_der(spki.as_ref()).unwrap();
        let leaf = inter
            .issue(&server_public, &tls_leaf_params())
            .await
            .unwrap();
        let pkcs8 = server_key.to_pkcs8v1().unwrap().as_ref().to_vec();

        let root_der = root.certificate().to_der().unwrap();
        let chain = vec![leaf.to_der().unwrap(), inter_cert.to_der().unwrap()];
        let (r, c, k) = (root_der.clone(), chain.clone(), pkcs8.clone());
        tokio::task::spawn_blocking(move || tls_handshake(&r, c, k, "localhost"))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{label}: TLS handshake failed: {e}"));
        // The same by IP address.
        let (r, c, k) = (root_der.clone(), chain.clone(), pkcs8.clone());
        tokio::task::spawn_blocking(move || tls_handshake(&r, c, k, "127.0.0.1"))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{label}: TLS handshake by IP failed: {e}"));
        // Negative controls: a name not in the SANs, and a client trusting another root.
        let (r, c, k) = (root_der.clone(), chain.clone(), pkcs8.clone());
        let err = tokio::task::spawn_blocking(move || tls_handshake(&r, c, k, "other.test"))
            .await
            .unwrap();
        assert!(err.is_err(), "{label}: wrong server name accepted");
        let other_root = CertificateAuthority::self_signed(
            &key(
                &kc,
                &format!("{label}-other"),
                KeyParams::ecdsa(Curve::P256),
                EcdsaSha256,
            )
            .await,
            &CertificateParams::ca(&format!("CN={label} TLS Root")).unwrap(),
        )
        .await
        .unwrap()
        .to_der()
        .unwrap();
        let err = tokio::task::spawn_blocking(move || {
            tls_handshake(&other_root, chain, pkcs8, "localhost")
        })
        .await
        .unwrap();
        assert!(
            err.is_err(),
            "{label}: chain accepted under an unrelated root"
        );
    }
}

#[tokio::test]
async fn csrs_from_openssl_are_verified_and_tampered_ones_refused() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "rsa-pss",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            &[
                "-sha384",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ],
        ),
        (
            "rsa",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            &["-sha256"],
        ),
        (
            "p384",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
            ],
            &["-sha384"],
        ),
        ("ed25519", &["genpkey", "-algorithm", "ED25519"], &[]),
    ];
    for (label, genkey, sign_opts) in cases {
        let key = w.join(format!("{label}.key"));
        let csr = w.join(format!("{label}.csr"));
        let mut args = genkey.to_vec();
        args.extend(["-out", s(&key)]);
        assert!(openssl(&args).0, "{label} keygen");
        let mut args = vec![
            "req",
            "-new",
            "-key",
            s(&key),
            "-subj",
            "/CN=from-openssl/O=Elsewhere",
            "-addext",
            "subjectAltName=DNS:a.test,IP:10.1.2.3,email:x@a.test",
            "-out",
            s(&csr),
        ];
        args.extend(sign_opts);
        let (ok, text) = openssl(&args);
        assert!(ok, "{label} req: {text}");
        let pem = std::fs::read_to_string(&csr).unwrap();
        let req = CertificateRequest::from_pem(&pem).unwrap_or_else(|e| panic!("{label}: {e}"));
        // RFC 4514 order: the last RDN first.
        assert_eq!(req.subject().to_string(), "O=Elsewhere,CN=from-openssl");
        assert_eq!(
            req.requested_subject_alt_names().unwrap(),
            vec![
                SubjectAltName::Dns("a.test".into()),
                SubjectAltName::Ip("10.1.2.3".parse().unwrap()),
                SubjectAltName::Email("x@a.test".into()),
            ]
        );
        if label == "rsa-pss" {
            assert_eq!(req.signature_algorithm(), SigningAlgorithm::RsassaPssSha384);
        }
        // Any single changed byte (subject, key, signature…) is refused, and so is every
        // truncation; nothing panics.
        let der = req.to_der().unwrap();
        assert!(CertificateRequest::from_der(&der).is_ok());
        for i in (0..der.len()).step_by(3) {
            let mut bad = der.clone();
            bad[i] ^= 0x20;
            assert!(
                CertificateRequest::from_der(&bad).is_err(),
                "{label}: byte {i} changed and accepted"
            );
            assert!(
                CertificateRequest::from_der(&der[..i]).is_err(),
                "{label}: prefix {i} accepted"
            );
        }
    }
    for garbage in [
        &b""[..],
        b"\x30\x00",
        b"-----BEGIN CERTIFICATE REQUEST-----\n!!\n-----END CERTIFICATE REQUEST-----\n",
        &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF],
    ] {
        assert!(CertificateRequest::parse(garbage).is_err());
    }
    let huge = vec![0x30u8; keychain::x509::MAX_INPUT_LEN + 1];
    assert!(CertificateRequest::parse(&huge).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crls_signed_by_the_ca_revoke_in_openssl() {
    let (_dir, kc) = keychain().await;
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let root = CertificateAuthority::create_root(
        key(
            &kc,
            "root",
            KeyParams::ecdsa(Curve::P384),
            SigningAlgorithm::EcdsaSha384,
        )
        .await,
        &CertificateParams::ca("CN=CRL Root").unwrap(),
    )
    .await
    .unwrap();
    let inter_key = key(
        &kc,
        "inter",
        KeyParams::rsa(2048),
        SigningAlgorithm::RsassaPssSha256,
    )
    .await;
    let inter_cert = root
        .issue(
            inter_key.public_key(),
            &CertificateParams::ca("CN=CRL Issuing")
                .unwrap()
                .path_len(Some(0))
                .valid_for_days(365),
        )
        .await
        .unwrap();
    let inter = CertificateAuthority::new(inter_key, inter_cert).unwrap();
    let leaf_key = key(
        &kc,
        "leaf",
        KeyParams::ed25519(),
        SigningAlgorithm::Ed25519Sha512,
    )
    .await;
    let revoked = inter
        .issue(leaf_key.public_key(), &tls_leaf_params())
        .await
        .unwrap();
    let kept = inter
        .issue(leaf_key.public_key(), &tls_leaf_params())
        .await
        .unwrap();
    let serial = revoked
        .tbs_certificate()
        .serial_number()
        .as_bytes()
        .to_vec();
    assert_ne!(serial, kept.tbs_certificate().serial_number().as_bytes());
    let now = SystemTime::now();
    let crl = inter
        .revocation_list(
            &[RevokedCertificate {
                serial_number: serial,
                revoked_at: now - Duration::from_secs(60),
            }],
            &CrlParams {
                number: 7,
                this_update: now - Duration::from_secs(30),
                next_update: Some(now + Duration::from_secs(86400)),
            },
        )
        .await
        .unwrap();
    let crl_pem = write(w, "crl.pem", &crl.to_pem(der::pem::LineEnding::LF).unwrap());
    let root_pem = write(w, "root.pem", &root.certificate_pem().unwrap());
    let inter_pem = write(w, "inter.pem", &inter.certificate_pem().unwrap());
    let chain_pem = write(
        w,
        "chain.pem",
        &(root.certificate_pem().unwrap() + &inter.certificate_pem().unwrap()),
    );
    let revoked_pem = write(w, "revoked.pem", &to_pem(&revoked).unwrap());
    let kept_pem = write(w, "kept.pem", &to_pem(&kept).unwrap());

    let (ok, text) = openssl(&[
        "crl",
        "-in",
        s(&crl_pem),
        "-CAfile",
        s(&chain_pem),
        "-noout",
    ]);
    assert!(ok && text.contains("verify OK"), "openssl crl: {text}");
    let (_, text) = openssl(&["crl", "-in", s(&crl_pem), "-text", "-noout"]);
    assert!(
        text.contains("X509v3 CRL Number") && text.contains("7"),
        "{text}"
    );
    assert!(text.contains("rsassaPss"), "{text}");
    let verify = |leaf: &Path| {
        openssl(&[
            "verify",
            "-crl_check",
            "-CAfile",
            s(&root_pem),
            "-untrusted",
            s(&inter_pem),
            "-CRLfile",
            s(&crl_pem),
            s(leaf),
        ])
    };
    let (ok, text) = verify(&revoked_pem);
    assert!(
        !ok && text.contains("certificate revoked"),
        "revoked leaf: {text}"
    );
    let (ok, text) = verify(&kept_pem);
    assert!(ok && text.contains(": OK"), "kept leaf: {text}");
    // An empty CRL is valid too (revokedCertificates absent).
    let empty = inter
        .revocation_list(
            &[],
            &CrlParams {
                number: 8,
                this_update: now - Duration::from_secs(30),
                next_update: None,
            },
        )
        .await
        .unwrap();
    let empty_pem = write(
        w,
        "empty.pem",
        &empty.to_pem(der::pem::LineEnding::LF).unwrap(),
    );
    let (ok, text) = openssl(&[
        "crl",
        "-in",
        s(&empty_pem),
        "-CAfile",
        s(&chain_pem),
        "-noout",
    ]);
    assert!(ok && text.contains("verify OK"), "empty CRL: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_refuses_what_it_may_not_do() {
    let (_dir, kc) = keychain().await;
    let root_key = key(
        &kc,
        "root",
        KeyParams::ecdsa(Curve::P256),
        SigningAlgorithm::EcdsaSha256,
    )
    .await;
    let other = key(
        &kc,
        "other",
        KeyParams::ecdsa(Curve::P256),
        SigningAlgorithm::EcdsaSha256,
    )
    .await;
    // A leaf is not a root.
    assert!(
        CertificateAuthority::create_root(
            root_key.clone(),
            &CertificateParams::new("CN=x").unwrap()
        )
        .await
        .is_err()
    );
    let root = CertificateAuthority::create_root(
        root_key.clone(),
        &CertificateParams::ca("CN=Strict Root")
            .unwrap()
            .path_len(Some(0)),
    )
    .await
    .unwrap();
    // pathLen 0: no CA below it.
    let err = root
        .issue(
            other.public_key(),
            &CertificateParams::ca("CN=Sub").unwrap().valid_for_days(10),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pathLen 0"), "{err}");
    // Not past the CA's own validity.
    let err = root
        .issue(
            other.public_key(),
            &CertificateParams::new("CN=long")
                .unwrap()
                .valid_for_days(365 * 20),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("outlive"), "{err}");
    // Backwards validity, oversized or zero serials, empty subject without SANs.
    let now = SystemTime::now();
    assert!(
        root.issue(
            other.public_key(),
            &CertificateParams::new("CN=x")
                .unwrap()
                .validity(now, now - Duration::from_secs(1))
        )
        .await
        .is_err()
    );
    assert!(
        root.issue(
            other.public_key(),
            &CertificateParams::new("CN=x")
                .unwrap()
                .serial_number(vec![0x7F; 21])
        )
        .await
        .is_err()
    );
    assert!(
        root.issue(
            other.public_key(),
            &CertificateParams::new("CN=x")
                .unwrap()
                .serial_number(vec![0])
        )
        .await
        .is_err()
    );
    assert!(
        root.issue(other.public_key(), &CertificateParams::new("").unwrap())
            .await
            .is_err()
    );
    // An empty subject with a SAN is fine (the SAN is then critical).
    let cert = root
        .issue(
            other.public_key(),
            &CertificateParams::new("")
                .unwrap()
                .san("only-san.test".parse().unwrap()),
        )
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let p = write(work.path(), "c.pem", &to_pem(&cert).unwrap());
    let (_, text) = openssl(&["x509", "-text", "-noout", "-in", s(&p)]);
    assert!(
        text.contains("X509v3 Subject Alternative Name: critical"),
        "{text}"
    );
    // A CA needs its own key's certificate, and a CA certificate.
    assert!(CertificateAuthority::new(other.clone(), root.certificate().clone()).is_err());
    assert!(CertificateAuthority::new(other.clone(), cert).is_err());
    // Serial numbers: random, positive, 20 bytes, distinct.
    let a = root
        .issue(other.public_key(), &CertificateParams::new("CN=a").unwrap())
        .await
        .unwrap();
    let b = root
        .issue(other.public_key(), &CertificateParams::new("CN=a").unwrap())
        .await
        .unwrap();
    let (sa, sb) = (
        a.tbs_certificate().serial_number().as_bytes(),
        b.tbs_certificate().serial_number().as_bytes(),
    );
    assert_ne!(sa, sb);
    assert_eq!(sa.len(), 20);
    assert!(sa[0] < 0x80 && sa[0] != 0);
    // SAN syntax.
    for bad in [
        "ip:300.1.1.1",
        "email:nobody",
        "uri:no-scheme",
        "bad name.test",
        "",
        "a..b",
    ] {
        assert!(bad.parse::<SubjectAltName>().is_err(), "{bad:?}");
    }
    assert_eq!(
        "IP:::1".parse::<SubjectAltName>().unwrap(),
        SubjectAltName::Ip("::1".parse().unwrap())
    );
    assert_eq!(
        "*.example.test".parse::<SubjectAltName>().unwrap(),
        SubjectAltName::Dns("*.example.test".into())
    );
    // The issuing future is Send: usable from tokio::spawn.
    let ca = root.clone();
    let pk = other.public_key().clone();
    tokio::spawn(async move {
        ca.issue(&pk, &CertificateParams::new("CN=spawned").unwrap())
            .await
    })
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_reloads_from_its_pem_and_keeps_issuing() {
    let (_dir, kc) = keychain().await;
    let signer = key(
        &kc,
        "root",
        KeyParams::ed25519(),
        SigningAlgorithm::Ed25519Sha512,
    )
    .await;
    let root = CertificateAuthority::create_root(
        signer.clone(),
        &CertificateParams::ca("CN=Reloaded").unwrap(),
    )
    .await
    .unwrap();
    let pem = root.certificate_pem().unwrap();
    let again =
        CertificateAuthority::from_pem(KeySigner::new(&kc, "root", None).await.unwrap(), &pem)
            .unwrap();
    let leaf = again
        .issue(
            signer.public_key(),
            &CertificateParams::new("CN=after reload").unwrap(),
        )
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let root_pem = write(work.path(), "root.pem", &pem);
    let leaf_pem = write(
        work.path(),
        "leaf.pem",
        &leaf.to_pem(der::pem::LineEnding::LF).unwrap(),
    );
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        s(&root_pem),
        s(&leaf_pem),
    ]);
    assert!(ok, "{text}");
    assert!(
        keychain::x509::certificate_from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
        )
        .is_err()
    );
    let _ = x509_cert::Certificate::from_der(&leaf.to_der().unwrap()).unwrap();
}

/// The AlgorithmIdentifiers we write are byte for byte the ones webpki (rustls) accepts, and
/// they parse back to the same algorithm.
#[test]
fn algorithm_identifiers_match_webpki_byte_for_byte() {
    use SigningAlgorithm::*;
    use keychain::PublicKeyKind;
    use keychain::signer::{algorithm_from_identifier, algorithm_identifier};
    use rustls::pki_types::alg_id;
    let rsa = PublicKeyKind::Rsa { bits: 2048 };
    for (alg, want, kind) in [
        (RsassaPssSha256, alg_id::RSA_PSS_SHA256, rsa),
        (RsassaPssSha384, alg_id::RSA_PSS_SHA384, rsa),
        (RsassaPssSha512, alg_id::RSA_PSS_SHA512, rsa),
        (RsassaPkcs1V15Sha256, alg_id::RSA_PKCS1_SHA256, rsa),
        (RsassaPkcs1V15Sha384, alg_id::RSA_PKCS1_SHA384, rsa),
        (RsassaPkcs1V15Sha512, alg_id::RSA_PKCS1_SHA512, rsa),
        (
            EcdsaSha256,
            alg_id::ECDSA_SHA256,
            PublicKeyKind::Ec(Curve::P256),
        ),
        (
            EcdsaSha384,
            alg_id::ECDSA_SHA384,
            PublicKeyKind::Ec(Curve::P384),
        ),
        (
            EcdsaSha512,
            alg_id::ECDSA_SHA512,
            PublicKeyKind::Ec(Curve::P521),
        ),
        (Ed25519Sha512, alg_id::ED25519, PublicKeyKind::Ed25519),
    ] {
        let id = algorithm_identifier(alg).unwrap();
        let der = id.to_der().unwrap();
        // pki-types holds the SEQUENCE's contents; ours is short enough for a 2-byte header.
        assert_eq!(&der[2..], want.as_ref(), "{alg}");
        assert_eq!(algorithm_from_identifier(&id, kind).unwrap(), alg);
    }
    assert!(algorithm_identifier(Ed25519PhSha512).is_err());
    // An algorithm that does not fit the key is refused.
    let id = algorithm_identifier(EcdsaSha384).unwrap();
    assert!(algorithm_from_identifier(&id, PublicKeyKind::Ec(Curve::P256)).is_err());
}
