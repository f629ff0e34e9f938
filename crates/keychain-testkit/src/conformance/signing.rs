//! Signing checks: every key spec the backend lists signs every algorithm its spec allows,
//! over digests and messages, and every signature is judged by our verifier, the backend,
//! Python `cryptography` and OpenSSL.

use super::support::*;
use super::*;

/// Signatures collected for one call of the Python judge.
#[derive(Default)]
struct Verdicts {
    cases: Vec<SignatureCase>,
    labels: Vec<String>,
    expected: Vec<bool>,
}

impl Verdicts {
    fn push(&mut self, label: String, case: SignatureCase, expected: bool) {
        self.cases.push(case);
        self.labels.push(label);
        self.expected.push(expected);
    }

    fn judge(self) {
        if self.cases.is_empty() {
            return;
        }
        let got = python_verify_batch(&self.cases);
        assert_eq!(
            got.len(),
            self.cases.len(),
            "the Python judge answered {} of {} cases",
            got.len(),
            self.cases.len()
        );
        let wrong: Vec<String> = self
            .labels
            .iter()
            .zip(got.iter().zip(&self.expected))
            .filter(|(_, (g, e))| g != e)
            .map(|(l, (g, e))| format!("{l}: Python says {g}, expected {e}"))
            .collect();
        assert!(
            wrong.is_empty(),
            "Python cryptography disagrees:\n{}",
            wrong.join("\n")
        );
    }
}

/// One signing key under test.
struct Signer<'a> {
    kc: &'a Keychain,
    name: String,
    key: KeyRef,
    spec: KeySpec,
    public_key: PublicKey,
    pem: String,
}

impl Signer<'_> {
    /// Checks the shape of `signature` and judges it and its one-bit-flipped twin with every
    /// judge. `message` is the original message (a digest signature is over its hash).
    async fn judge(
        &self,
        label: &str,
        signed: Message<'_>,
        message: &[u8],
        signature: &[u8],
        algorithm: SigningAlgorithm,
        python: &mut Verdicts,
    ) {
        let label = format!("{} {label} {algorithm}", self.spec);
        match self.spec.family() {
            KeyFamily::Rsa(bits) => assert_eq!(
                signature.len() * 8,
                bits as usize,
                "{label}: an RSA signature is as long as the modulus"
            ),
            KeyFamily::Ec(curve) => {
                ecdsa_der_to_raw(signature, curve)
                    .must(&format!("{label}: the signature must be DER ECDSA"));
            }
            KeyFamily::Ed25519 => {
                assert_eq!(
                    signature.len(),
                    64,
                    "{label}: Ed25519 signatures are 64 bytes"
                )
            }
            KeyFamily::MlDsa(level) => {
                // FIPS 204, table 2.
                let expected = match level {
                    44 => 2420,
                    65 => 3309,
                    _ => 4627,
                };
                assert_eq!(
                    signature.len(),
                    expected,
                    "{label}: ML-DSA-{level} signatures are {expected} bytes"
                )
            }
            _ => {}
        }
        if self.spec == KeySpec::EccSecgP256k1 {
            assert!(
                is_low_s(signature).must("reading S"),
                "{label}: secp256k1 signatures must be low-S"
            );
        }
        let bad = flipped(signature, algorithm);
        let backend = self.kc.backend();
        for (sig, valid, which) in [(signature, true, "valid"), (&bad[..], false, "flipped")] {
            let what = format!("{label} ({which} signature)");
            assert_eq!(
                self.public_key
                    .verify(signed, sig, algorithm)
                    .must(&format!("{what}: local verify")),
                valid,
                "{what}: PublicKey::verify"
            );
            // OpenSSL 3.0 has neither ML-DSA (3.5 added it) nor Ed25519ph (3.2 added it):
            // for those our verifier and Python judge (PyCryptodome for Ed25519ph, in AWS
            // KMS's meaning: the digest D is the Ed25519ph message).
            if !matches!(
                algorithm.scheme(),
                SignatureScheme::MlDsa | SignatureScheme::Ed25519Ph
            ) {
                assert_eq!(
                    openssl_verify(&self.pem, algorithm, message, sig),
                    valid,
                    "{what}: openssl"
                );
            }
            python.push(
                what.clone(),
                SignatureCase {
                    public_key_pem: self.pem.clone(),
                    algorithm,
                    data: signed.bytes().to_vec(),
                    prehashed: matches!(signed, Message::Digest(_)),
                    signature: sig.to_vec(),
                },
                valid,
            );
            assert_eq!(
                backend
                    .verify(&self.key, signed, sig, algorithm)
                    .await
                    .must(&format!("{what}: backend verify")),
                valid,
                "{what}: backend verify"
            );
            assert_eq!(
                self.kc
                    .verify(&self.name, signed, sig, algorithm)
                    .await
                    .must(&format!("{what}: Keychain::verify")),
                valid,
                "{what}: Keychain::verify"
            );
        }
    }
}

/// The algorithm `Keychain::sign(name, digest, hash)` must pick, if any.
fn natural_algorithm(spec: KeySpec, hash: Hash) -> Option<SigningAlgorithm> {
    use SigningAlgorithm::*;
    match (spec.family(), hash) {
        (KeyFamily::Rsa(_), Hash::Sha256) => Some(RsassaPkcs1V15Sha256),
        (KeyFamily::Rsa(_), Hash::Sha384) => Some(RsassaPkcs1V15Sha384),
        (KeyFamily::Rsa(_), Hash::Sha512) => Some(RsassaPkcs1V15Sha512),
        (KeyFamily::Ec(keychain::Curve::P256 | keychain::Curve::Secp256k1), Hash::Sha256) => {
            Some(EcdsaSha256)
        }
        (KeyFamily::Ec(keychain::Curve::P384), Hash::Sha384) => Some(EcdsaSha384),
        (KeyFamily::Ec(keychain::Curve::P521), Hash::Sha512) => Some(EcdsaSha512),
        (KeyFamily::Ed25519, Hash::Sha512) => Some(Ed25519PhSha512),
        _ => None,
    }
}

/// The backend describes itself consistently, and refuses every spec it does not list.
pub async fn capabilities_consistent(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps: Capabilities = backend.capabilities();
    assert!(!backend.name().is_empty(), "the backend has no name");
    assert!(!caps.key_specs.is_empty(), "the backend lists no key specs");
    let unique: BTreeSet<KeySpec> = caps.key_specs.iter().copied().collect();
    assert_eq!(
        unique.len(),
        caps.key_specs.len(),
        "key_specs lists a spec twice"
    );
    assert_eq!(
        caps,
        backend.capabilities(),
        "capabilities() must be stable"
    );
    for &spec in KeySpec::ALL {
        if !caps.key_specs.contains(&spec) {
            let request = CreateKeyRequest::new(spec).name(key_name(prefix, "unlisted"));
            create_or_unsupported(kc, &request).await;
        }
    }
    if !caps.automatic_rotation && !caps.on_demand_rotation {
        return;
    }
    assert!(
        caps.key_specs.contains(&KeySpec::SymmetricDefault),
        "rotation is advertised but symmetric keys are not"
    );
}

// ---- signing ----------------------------------------------------------------------------

/// RSA-2048: see [`sign_spec`].
pub async fn sign_rsa_2048(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::Rsa2048).await;
}

/// RSA-3072: see [`sign_spec`].
pub async fn sign_rsa_3072(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::Rsa3072).await;
}

/// RSA-4096: see [`sign_spec`].
pub async fn sign_rsa_4096(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::Rsa4096).await;
}

/// P-256: see [`sign_spec`].
pub async fn sign_ecc_nist_p256(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::EccNistP256).await;
}

/// P-384: see [`sign_spec`].
pub async fn sign_ecc_nist_p384(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::EccNistP384).await;
}

/// P-521: see [`sign_spec`].
pub async fn sign_ecc_nist_p521(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::EccNistP521).await;
}

/// secp256k1: see [`sign_spec`]; every signature is also low-S.
pub async fn sign_ecc_secg_p256k1(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::EccSecgP256k1).await;
}

/// Ed25519: see [`sign_spec`].
pub async fn sign_ed25519(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::EccNistEdwards25519).await;
}

/// ML-DSA-44: see [`sign_spec`] (judged by our verifier and Python cryptography; OpenSSL
/// 3.0 has no ML-DSA).
pub async fn sign_ml_dsa_44(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::MlDsa44).await;
}

/// ML-DSA-65: see [`sign_ml_dsa_44`].
pub async fn sign_ml_dsa_65(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::MlDsa65).await;
}

/// ML-DSA-87: see [`sign_ml_dsa_44`].
pub async fn sign_ml_dsa_87(kc: &Keychain, prefix: &str) {
    sign_spec(kc, prefix, KeySpec::MlDsa87).await;
}

/// One SIGN_VERIFY key of `spec` (created once), then for every algorithm of the spec's
/// table: a digest and a raw message are signed by the backend and each signature (and its
/// one-bit-flipped twin) is judged by our `PublicKey::verify`, the backend's `verify`,
/// `Keychain::verify`, OpenSSL and Python `cryptography`. Then the by-hash
/// `Keychain::sign(name, digest, hash)` for every hash (the natural algorithm, or an error),
/// `sign_reader`, and the raw-message limit.
pub async fn sign_spec(kc: &Keychain, prefix: &str, spec: KeySpec) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let Some((name, info)) = named(kc, prefix, "signer", spec, KeyUsage::SignVerify).await else {
        return;
    };
    let key = key_ref(&name);
    let public_key = backend.public_key(&key).await.must("public key by alias");
    assert_eq!(
        public_key.key_spec().must("public key spec"),
        spec,
        "the public key does not match the key spec"
    );
    assert_eq!(
        backend
            .public_key(&id_ref(&info))
            .await
            .must("public key by id"),
        public_key,
        "the key's id and its alias give different public keys"
    );
    assert_eq!(
        kc.public_key(&name).await.must("Keychain::public_key"),
        public_key
    );
    let pem = public_key.to_pem();
    assert_eq!(
        PublicKey::from_pem(&pem).must("re-reading the PEM"),
        public_key,
        "PEM round trip"
    );
    let signer = Signer {
        kc,
        name: name.clone(),
        key: key.clone(),
        spec,
        public_key,
        pem,
    };
    let message = format!("conformance message for {spec} ({prefix}) \u{2713}").into_bytes();
    let mut python = Verdicts::default();

    for &algorithm in spec.signing_algorithms() {
        if algorithm == SigningAlgorithm::Ed25519PhSha512 && !caps.ed25519ph {
            let digest = Hash::Sha512.digest(&message);
            assert_err!(
                format!("{spec}: ED25519_PH_SHA_512 over a digest (capabilities say no)"),
                backend
                    .sign(&key, Message::Digest(&digest), algorithm)
                    .await,
                Error::Unsupported { .. }
            );
            assert_err!(
                format!("{spec}: ED25519_PH_SHA_512 over a message (capabilities say no)"),
                backend.sign(&key, Message::Raw(&message), algorithm).await,
                Error::Unsupported { .. }
            );
            continue;
        }
        if algorithm.accepts_digest() {
            let digest = algorithm.hash().digest(&message);
            let signature = backend
                .sign(&key, Message::Digest(&digest), algorithm)
                .await
                .must(&format!("{spec}: signing a digest with {algorithm}"));
            signer
                .judge(
                    "digest",
                    Message::Digest(&digest),
                    &message,
                    &signature,
                    algorithm,
                    &mut python,
                )
                .await;
        }
        let signature = backend
            .sign(&key, Message::Raw(&message), algorithm)
            .await
            .must(&format!("{spec}: signing a message with {algorithm}"));
        signer
            .judge(
                "raw",
                Message::Raw(&message),
                &message,
                &signature,
                algorithm,
                &mut python,
            )
            .await;
        if algorithm == SigningAlgorithm::Ed25519PhSha512 {
            // One relation on every backend: a message m signs as its digest SHA-512(m).
            let digest = Hash::Sha512.digest(&message);
            assert!(
                signer
                    .public_key
                    .verify(Message::Digest(&digest), &signature, algorithm)
                    .must(&format!("{spec}: Ed25519ph raw as digest")),
                "{spec}: an Ed25519ph signature of a message must verify as one of its SHA-512"
            );
        }
    }

    // Keychain::sign(name, digest, hash), naming no algorithm, picks the natural one.
    for &hash in Hash::ALL {
        let digest = hash.digest(&message);
        let result = kc.sign(&name, &digest, hash).await;
        let what = format!("{spec}: Keychain::sign with a {hash} digest");
        match natural_algorithm(spec, hash) {
            Some(SigningAlgorithm::Ed25519PhSha512) if !caps.ed25519ph => {
                assert_err!(what, result, Error::Unsupported { .. });
            }
            Some(algorithm) => {
                let signature = result.must(&what);
                signer
                    .judge(
                        "by-hash",
                        Message::Digest(&digest),
                        &message,
                        &signature,
                        algorithm,
                        &mut python,
                    )
                    .await;
            }
            // A hash the key has no algorithm for: a usage error of that key, as for an
            // algorithm outside the spec's table.
            None => {
                assert_err!(what, result, Error::InvalidKeyUsage { .. });
            }
        }
    }

    // Streaming: sign_reader with the key's default algorithm, verify_reader.
    let default = spec
        .default_signing_algorithm()
        .unwrap_or_else(|| panic!("{spec} has no default signing algorithm"));
    let signed = kc
        .sign_reader(&name, &message[..], None)
        .await
        .must(&format!("{spec}: sign_reader"));
    assert_eq!(
        signed.algorithm, default,
        "{spec}: sign_reader picked {}",
        signed.algorithm
    );
    assert_eq!(
        signed.note, None,
        "{spec}: sign_reader left a note for a short message"
    );
    assert!(
        kc.verify_reader(&name, &message[..], &signed.signature, default)
            .await
            .must("verify_reader"),
        "{spec}: verify_reader rejects what sign_reader made"
    );
    signer
        .judge(
            "reader",
            Message::Raw(&message),
            &message,
            &signed.signature,
            default,
            &mut python,
        )
        .await;

    // Raw messages beyond the backend's limit are refused; without a limit a large one signs.
    match caps.max_raw_message {
        Some(max) => {
            let long = vec![0x5a; max + 1];
            assert_err!(
                format!("{spec}: a {}-byte raw message (limit {max})", max + 1),
                backend.sign(&key, Message::Raw(&long), default).await,
                Error::InvalidInput { .. }
            );
        }
        None => {
            let long: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
            let signature = backend
                .sign(&key, Message::Raw(&long), default)
                .await
                .must(&format!("{spec}: signing a 1 MB message"));
            signer
                .judge(
                    "1MB raw",
                    Message::Raw(&long),
                    &long,
                    &signature,
                    default,
                    &mut python,
                )
                .await;
        }
    }

    // secp256k1: low-S every time (an implementation that does not normalise fails this
    // with probability 1 - 2^-32).
    if spec == KeySpec::EccSecgP256k1 {
        for i in 0..32u32 {
            let digest = Hash::Sha256.digest(&i.to_be_bytes());
            let signature = backend
                .sign(
                    &key,
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256,
                )
                .await
                .must("secp256k1 signing");
            assert!(
                is_low_s(&signature).must("reading S"),
                "secp256k1 signature {i} is high-S"
            );
            assert!(
                signer
                    .public_key
                    .verify(
                        Message::Digest(&digest),
                        &signature,
                        SigningAlgorithm::EcdsaSha256
                    )
                    .must("local verify"),
                "secp256k1 signature {i} does not verify"
            );
        }
    }

    python.judge();
}
