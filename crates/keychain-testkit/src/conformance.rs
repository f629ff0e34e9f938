//! The conformance suite: what every backend must do, checked the same way for each.
//!
//! Every check is an `async fn(&Keychain, prefix)` that panics with a precise message when the
//! backend misbehaves. Keys are named `PREFIX-…`, so checks can share one backend (a KMS
//! emulator) as long as each gets its own prefix ([`unique_prefix`]). Checks read
//! [`Capabilities`]: a key spec or feature the backend does not list must be refused with
//! [`Error::Unsupported`] — a gap is asserted, never silently passed.
//!
//! Signatures are judged four ways: our [`PublicKey::verify`], the backend's `verify`, Python
//! `cryptography` ([`python_verify_batch`]) and `openssl` ([`openssl_verify`]). A signature
//! with one flipped bit must be rejected by all four.
//!
//! To run the whole suite against a backend, one `#[tokio::test]` per check:
//!
//! ```ignore
//! async fn my_backend() -> (impl Sized, keychain::Keychain) { /* guard, handle */ }
//! keychain_testkit::conformance_tests!(my_backend);
//! ```
//!
//! The guard is kept alive for the test (a temporary directory, a container…).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keychain::signature::{ecdsa_der_to_raw, is_low_s};
use keychain::{
    Capabilities, CreateKeyRequest, DataKeySpec, EncryptionAlgorithm, EncryptionContext, Error,
    Hash, KeyFamily, KeyInfo, KeyRef, KeySpec, KeyState, KeyUsage, Keychain, MacAlgorithm, Message,
    PageRequest, PublicKey, SignatureScheme, SigningAlgorithm,
};

use crate::{SignatureCase, days, openssl_verify, python_oaep_encrypt_batch, python_verify_batch};

/// Asserts that `result` is an error matching `pattern` (an [`Error`] variant pattern) and
/// that it is not retryable; returns the error. `what` says what was attempted.
#[macro_export]
macro_rules! assert_err {
    ($what:expr, $result:expr, $pattern:pat) => {
        match $result {
            Err(e @ $pattern) => {
                assert!(
                    !e.is_retryable(),
                    "{}: {} must not be retryable: {e:?}",
                    $what,
                    stringify!($pattern)
                );
                e
            }
            Err(e) => panic!(
                "{}: expected {}, got {e:?} ({e})",
                $what,
                stringify!($pattern)
            ),
            Ok(v) => panic!(
                "{}: expected {}, got Ok({v:?})",
                $what,
                stringify!($pattern)
            ),
        }
    };
}

/// Unwraps a keychain result, panicking with what was attempted and the error.
pub trait Must<T> {
    /// The value, or a panic naming `what`.
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for keychain::Result<T> {
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: unexpected error {e:?} ({e})"),
        }
    }
}

/// A key-name prefix unique to this process and call: `kc-CHECK-HEX`.
pub fn unique_prefix(check: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let check: String = check
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!(
        "kc-{check}-{:x}",
        nanos ^ (u64::from(std::process::id()) << 40) ^ (n << 32)
    )
}

/// Runs every check of the suite as its own `#[tokio::test]`. `$setup` is an async fn
/// returning `(guard, Keychain)`; the guard lives until the test ends. The calling crate needs
/// `tokio` with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! conformance_tests {
    ($setup:path) => {
        $crate::conformance_tests!(@tests $setup;
            capabilities_consistent,
            sign_rsa_2048,
            sign_rsa_3072,
            sign_rsa_4096,
            sign_ecc_nist_p256,
            sign_ecc_nist_p384,
            sign_ecc_nist_p521,
            sign_ecc_secg_p256k1,
            sign_ed25519,
            sign_ml_dsa_44,
            sign_ml_dsa_65,
            sign_ml_dsa_87,
            errors_not_found,
            errors_wrong_usage,
            errors_algorithm_not_allowed,
            errors_invalid_input,
            errors_disabled_key,
            errors_pending_deletion,
            errors_already_exists,
            errors_ambiguous_names,
            errors_symmetric_tampering,
            lifecycle_create_describe,
            lifecycle_list_pagination,
            lifecycle_aliases,
            lifecycle_tags,
            lifecycle_enable_disable,
            lifecycle_scheduled_deletion,
            encrypt_symmetric,
            encrypt_data_keys,
            encrypt_rsa_oaep_2048,
            encrypt_rsa_oaep_3072,
            encrypt_rsa_oaep_4096,
            mac_hmac,
            rotation_automatic,
            rotation_on_demand,
            rotation_asymmetric_unsupported,
        );
    };
    (@tests $setup:path; $($check:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (_guard, keychain) = $setup().await;
                let prefix = $crate::conformance::unique_prefix(stringify!($check));
                $crate::conformance::$check(&keychain, &prefix).await;
            }
        )+

        /// The list above and [`CHECKS`] must not drift apart: a check missing from the macro
        /// would silently never run.
        #[test]
        fn conformance_runs_every_check() {
            let ran: &[&str] = &[$(stringify!($check)),+];
            assert_eq!(ran, $crate::conformance::CHECKS);
        }
    };
}

/// The names of every check, in the order [`conformance_tests!`] runs them.
pub const CHECKS: &[&str] = &[
    "capabilities_consistent",
    "sign_rsa_2048",
    "sign_rsa_3072",
    "sign_rsa_4096",
    "sign_ecc_nist_p256",
    "sign_ecc_nist_p384",
    "sign_ecc_nist_p521",
    "sign_ecc_secg_p256k1",
    "sign_ed25519",
    "sign_ml_dsa_44",
    "sign_ml_dsa_65",
    "sign_ml_dsa_87",
    "errors_not_found",
    "errors_wrong_usage",
    "errors_algorithm_not_allowed",
    "errors_invalid_input",
    "errors_disabled_key",
    "errors_pending_deletion",
    "errors_already_exists",
    "errors_ambiguous_names",
    "errors_symmetric_tampering",
    "lifecycle_create_describe",
    "lifecycle_list_pagination",
    "lifecycle_aliases",
    "lifecycle_tags",
    "lifecycle_enable_disable",
    "lifecycle_scheduled_deletion",
    "encrypt_symmetric",
    "encrypt_data_keys",
    "encrypt_rsa_oaep_2048",
    "encrypt_rsa_oaep_3072",
    "encrypt_rsa_oaep_4096",
    "mac_hmac",
    "rotation_automatic",
    "rotation_on_demand",
    "rotation_asymmetric_unsupported",
];

// ---- helpers --------------------------------------------------------------------------

/// `PREFIX-what`.
pub fn key_name(prefix: &str, what: &str) -> String {
    format!("{prefix}-{what}")
}

fn key_ref(reference: &str) -> KeyRef {
    KeyRef::parse(reference).must(&format!("parsing the key reference {reference:?}"))
}

fn id_ref(info: &KeyInfo) -> KeyRef {
    KeyRef::key_id(&info.key_id).must("a key id reference")
}

/// Creates a key through the backend if its spec is in `capabilities().key_specs`; otherwise
/// asserts that creating it is [`Error::Unsupported`] and returns `None`.
pub async fn create_or_unsupported(kc: &Keychain, request: &CreateKeyRequest) -> Option<KeyInfo> {
    let backend = kc.backend();
    if backend.capabilities().key_specs.contains(&request.spec) {
        let info = backend.create_key(request).await.must(&format!(
            "creating a {} {} key",
            request.spec, request.usage
        ));
        assert_eq!(info.spec, request.spec, "created key has the wrong spec");
        assert_eq!(info.usage, request.usage, "created key has the wrong usage");
        Some(info)
    } else {
        assert_err!(
            format!(
                "creating a {} key, which {} does not list in capabilities().key_specs",
                request.spec,
                backend.name()
            ),
            backend.create_key(request).await,
            Error::Unsupported { .. }
        );
        None
    }
}

/// A named key of `spec` and `usage`, or `None` (asserted unsupported).
async fn named(
    kc: &Keychain,
    prefix: &str,
    what: &str,
    spec: KeySpec,
    usage: KeyUsage,
) -> Option<(String, KeyInfo)> {
    let name = key_name(prefix, what);
    let info =
        create_or_unsupported(kc, &CreateKeyRequest::new(spec).name(&name).usage(usage)).await?;
    Some((name, info))
}

/// The signature with one bit flipped where every encoding still parses (the last byte of
/// RSA and DER ECDSA signatures, the first byte — inside R — of Ed25519 signatures, the
/// first byte — inside the commitment hash c̃ — of ML-DSA signatures).
fn flipped(signature: &[u8], algorithm: SigningAlgorithm) -> Vec<u8> {
    let mut bad = signature.to_vec();
    let i = match algorithm.scheme() {
        SignatureScheme::Ed25519 | SignatureScheme::Ed25519Ph | SignatureScheme::MlDsa => 0,
        _ => bad.len().saturating_sub(1),
    };
    if let Some(b) = bad.get_mut(i) {
        *b ^= 0x01;
    }
    bad
}

fn flip_byte(bytes: &[u8], i: usize) -> Vec<u8> {
    let mut bad = bytes.to_vec();
    if let Some(b) = bad.get_mut(i) {
        *b ^= 0x01;
    }
    bad
}

fn context(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn assert_near(
    what: &str,
    actual: SystemTime,
    expected: SystemTime,
    early: Duration,
    late: Duration,
) {
    assert!(
        actual + early >= expected && actual <= expected + late,
        "{what}: {actual:?} is not within -{early:?}/+{late:?} of {expected:?}"
    );
}

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
            if algorithm == SigningAlgorithm::Ed25519PhSha512 {
                // OpenSSL 3.0 and Python cryptography do not know Ed25519ph: our local
                // verifier (checked against RFC 8032's vector) and PyCryptodome judge, the
                // latter over the message itself (it hashes with SHA-512 as Ed25519ph does).
                assert_eq!(
                    self.public_key
                        .verify(signed, sig, algorithm)
                        .must(&format!("{what}: local verify")),
                    valid,
                    "{what}: PublicKey::verify"
                );
                python.push(
                    what.clone(),
                    SignatureCase {
                        public_key_pem: self.pem.clone(),
                        algorithm,
                        data: message.to_vec(),
                        prehashed: false,
                        signature: sig.to_vec(),
                    },
                    valid,
                );
            } else {
                assert_eq!(
                    self.public_key
                        .verify(signed, sig, algorithm)
                        .must(&format!("{what}: local verify")),
                    valid,
                    "{what}: PublicKey::verify"
                );
                // OpenSSL 3.0 has no ML-DSA (3.5 added it): for ML-DSA our verifier and
                // Python cryptography judge.
                if algorithm.scheme() != SignatureScheme::MlDsa {
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
            }
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

/// The algorithm the seed-shaped `Keychain::sign(name, digest, hash)` must pick, if any.
fn seed_algorithm(spec: KeySpec, hash: Hash) -> Option<SigningAlgorithm> {
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

// ---- capabilities -----------------------------------------------------------------------

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
/// `Keychain::verify`, OpenSSL and Python `cryptography`. Then the seed-shaped
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
        if algorithm != SigningAlgorithm::Ed25519PhSha512 {
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
        }
    }

    // The seed's call: Keychain::sign(name, digest, hash) picks the natural algorithm.
    for &hash in Hash::ALL {
        let digest = hash.digest(&message);
        let result = kc.sign(&name, &digest, hash).await;
        let what = format!("{spec}: Keychain::sign with a {hash} digest");
        match seed_algorithm(spec, hash) {
            Some(SigningAlgorithm::Ed25519PhSha512) if !caps.ed25519ph => {
                assert_err!(what, result, Error::Unsupported { .. });
            }
            Some(algorithm) => {
                let signature = result.must(&what);
                signer
                    .judge(
                        "seed",
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

// ---- errors -----------------------------------------------------------------------------

/// Every operation on a key or alias that does not exist is [`Error::NotFound`].
pub async fn errors_not_found(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let ghost_name = key_name(prefix, "ghost");
    let ghost = key_ref(&ghost_name);
    // A well-formed id that no backend has made (the random part is fixed, the prefix not).
    let ghost_id = KeyRef::parse("0badc0de-0000-4000-8000-00000000dead").must("ghost id");
    let digest = Hash::Sha256.digest(b"x");
    let ctx = EncryptionContext::new();
    for key in [&ghost, &ghost_id] {
        let w = |op: &str| format!("{op} on the missing key {key}");
        assert_err!(
            w("DescribeKey"),
            backend.describe_key(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("Sign"),
            backend
                .sign(key, Message::Digest(&digest), SigningAlgorithm::EcdsaSha256)
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("Verify"),
            backend
                .verify(
                    key,
                    Message::Digest(&digest),
                    &[0x30, 0x00],
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("GetPublicKey"),
            backend.public_key(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("Encrypt"),
            backend
                .encrypt(key, b"x", EncryptionAlgorithm::SymmetricDefault, &ctx)
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("GenerateDataKey"),
            backend
                .generate_data_key(key, DataKeySpec::Aes256, &ctx)
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("GenerateMac"),
            backend
                .generate_mac(key, b"x", MacAlgorithm::HmacSha256)
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("EnableKey"),
            backend.enable_key(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("DisableKey"),
            backend.disable_key(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("ScheduleKeyDeletion"),
            backend.schedule_key_deletion(key, 7).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("CancelKeyDeletion"),
            backend.cancel_key_deletion(key).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("TagResource"),
            backend
                .tag_key(key, &BTreeMap::from([("a".to_string(), "b".to_string())]))
                .await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("UntagResource"),
            backend.untag_key(key, &["a".to_string()]).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("ListAliases"),
            backend.list_aliases(Some(key)).await,
            Error::NotFound { .. }
        );
        assert_err!(
            w("CreateAlias"),
            backend
                .create_alias(&key_name(prefix, "ghost-alias"), key)
                .await,
            Error::NotFound { .. }
        );
        if caps.on_demand_rotation {
            assert_err!(
                w("RotateKeyOnDemand"),
                backend.rotate_key(key).await,
                Error::NotFound { .. }
            );
        }
        if caps.automatic_rotation {
            assert_err!(
                w("EnableKeyRotation"),
                backend.enable_key_rotation(key, None).await,
                Error::NotFound { .. }
            );
            assert_err!(
                w("GetKeyRotationStatus"),
                backend.key_rotation_status(key).await,
                Error::NotFound { .. }
            );
        }
    }
    assert_err!(
        "DeleteAlias of a missing alias",
        backend.delete_alias(&ghost_name).await,
        Error::NotFound { .. }
    );
    // Through the handle.
    assert_err!(
        "Keychain::describe",
        kc.describe(&ghost_name).await,
        Error::NotFound { .. }
    );
    assert_err!(
        "Keychain::sign",
        kc.sign(&ghost_name, &digest, Hash::Sha256).await,
        Error::NotFound { .. }
    );
    assert_err!(
        "Keychain::public_key",
        kc.public_key(&ghost_name).await,
        Error::NotFound { .. }
    );
    // UpdateAlias of a missing alias, to a key that exists.
    if let Some((_, info)) = named(
        kc,
        prefix,
        "real",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        assert_err!(
            "UpdateAlias of a missing alias",
            backend.update_alias(&ghost_name, &id_ref(&info)).await,
            Error::NotFound { .. }
        );
    }
}

/// A key used for what its usage does not allow is [`Error::InvalidKeyUsage`].
pub async fn errors_wrong_usage(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let ctx = EncryptionContext::new();
    let digest = Hash::Sha256.digest(b"wrong usage");
    let pkcs1 = SigningAlgorithm::RsassaPkcs1V15Sha256;
    let oaep = EncryptionAlgorithm::RsaesOaepSha256;

    if let Some((name, _)) = named(
        kc,
        prefix,
        "rsa-enc",
        KeySpec::Rsa2048,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "signing with an ENCRYPT_DECRYPT RSA key",
            backend.sign(&key, Message::Digest(&digest), pkcs1).await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "verifying with an ENCRYPT_DECRYPT RSA key",
            backend
                .verify(&key, Message::Digest(&digest), &[0u8; 256], pkcs1)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "Keychain::sign with an ENCRYPT_DECRYPT RSA key",
            kc.sign(&name, &digest, Hash::Sha256).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "rsa-sign",
        KeySpec::Rsa2048,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "encrypting with a SIGN_VERIFY RSA key",
            backend.encrypt(&key, b"secret", oaep, &ctx).await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "decrypting with a SIGN_VERIFY RSA key",
            backend.decrypt(Some(&key), &[0u8; 256], oaep, &ctx).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "ec-sign",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "a MAC with a signing key",
            backend
                .generate_mac(&key, b"m", MacAlgorithm::HmacSha256)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "verifying a MAC with a signing key",
            backend
                .verify_mac(&key, b"m", &[0u8; 32], MacAlgorithm::HmacSha256)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "symmetric encryption with a signing key",
            backend
                .encrypt(&key, b"m", EncryptionAlgorithm::SymmetricDefault, &ctx)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "a data key under a signing key",
            backend
                .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "Keychain::encrypt with a signing key",
            kc.encrypt(&name, b"m", &ctx).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "signing with a symmetric key",
            backend
                .sign(
                    &key,
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "a MAC with a symmetric key",
            backend
                .generate_mac(&key, b"m", MacAlgorithm::HmacSha256)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "the public key of a symmetric key",
            backend.public_key(&key).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "hmac",
        KeySpec::Hmac256,
        KeyUsage::GenerateVerifyMac,
    )
    .await
    {
        let key = key_ref(&name);
        assert_err!(
            "signing with an HMAC key",
            backend.sign(&key, Message::Digest(&digest), pkcs1).await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "encrypting with an HMAC key",
            backend
                .encrypt(&key, b"m", EncryptionAlgorithm::SymmetricDefault, &ctx)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "a data key under an HMAC key",
            backend
                .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
                .await,
            Error::InvalidKeyUsage { .. }
        );
    }
    // A usage the spec cannot have is refused at creation.
    for (spec, usage) in [
        (KeySpec::SymmetricDefault, KeyUsage::SignVerify),
        (KeySpec::EccSecgP256k1, KeyUsage::EncryptDecrypt),
        (KeySpec::Hmac256, KeyUsage::EncryptDecrypt),
        (KeySpec::EccNistEdwards25519, KeyUsage::EncryptDecrypt),
    ] {
        let request = CreateKeyRequest::new(spec)
            .name(key_name(prefix, "bad-usage"))
            .usage(usage);
        assert_err!(
            format!("creating a {spec} key for {usage}"),
            backend.create_key(&request).await,
            Error::InvalidInput { .. } | Error::Unsupported { .. }
        );
    }
    assert_err!(
        "the refused creations left no key behind",
        backend
            .describe_key(&key_ref(&key_name(prefix, "bad-usage")))
            .await,
        Error::NotFound { .. }
    );
}

/// An algorithm outside the key spec's table is [`Error::InvalidKeyUsage`].
pub async fn errors_algorithm_not_allowed(kc: &Keychain, prefix: &str) {
    use SigningAlgorithm::*;
    let backend = kc.backend();
    let ctx = EncryptionContext::new();
    let m = b"algorithm not in the table";
    if let Some((name, _)) = named(
        kc,
        prefix,
        "p256",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        for algorithm in [
            EcdsaSha384,
            EcdsaSha512,
            RsassaPssSha256,
            RsassaPkcs1V15Sha256,
            Ed25519PhSha512,
        ] {
            let digest = algorithm.hash().digest(m);
            assert_err!(
                format!("P-256 signing a digest with {algorithm}"),
                backend
                    .sign(&key, Message::Digest(&digest), algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
            assert_err!(
                format!("P-256 verifying with {algorithm}"),
                backend
                    .verify(&key, Message::Digest(&digest), &[0x30, 0x00], algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
            assert_err!(
                format!("Keychain::verify on P-256 with {algorithm}"),
                kc.verify(&name, Message::Digest(&digest), &[0x30, 0x00], algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
        }
        assert_err!(
            "P-256 signing with pure Ed25519",
            backend.sign(&key, Message::Raw(m), Ed25519Sha512).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "p384",
        KeySpec::EccNistP384,
        KeyUsage::SignVerify,
    )
    .await
    {
        let digest = Hash::Sha256.digest(m);
        assert_err!(
            "P-384 signing with ECDSA_SHA_256",
            backend
                .sign(&key_ref(&name), Message::Digest(&digest), EcdsaSha256)
                .await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(kc, prefix, "rsa", KeySpec::Rsa2048, KeyUsage::SignVerify).await
    {
        for algorithm in [EcdsaSha256, EcdsaSha384, Ed25519PhSha512] {
            let digest = algorithm.hash().digest(m);
            assert_err!(
                format!("RSA signing with {algorithm}"),
                backend
                    .sign(&key_ref(&name), Message::Digest(&digest), algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
        }
        assert_err!(
            "RSA signing with pure Ed25519",
            backend
                .sign(&key_ref(&name), Message::Raw(m), Ed25519Sha512)
                .await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "ed25519",
        KeySpec::EccNistEdwards25519,
        KeyUsage::SignVerify,
    )
    .await
    {
        for algorithm in [EcdsaSha256, RsassaPssSha512] {
            let digest = algorithm.hash().digest(m);
            assert_err!(
                format!("Ed25519 signing with {algorithm}"),
                backend
                    .sign(&key_ref(&name), Message::Digest(&digest), algorithm)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
        }
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        for algorithm in [
            EncryptionAlgorithm::RsaesOaepSha1,
            EncryptionAlgorithm::RsaesOaepSha256,
        ] {
            assert_err!(
                format!("symmetric key encrypting with {algorithm}"),
                backend
                    .encrypt(&key_ref(&name), b"x", algorithm, &ctx)
                    .await,
                Error::InvalidKeyUsage { .. }
            );
        }
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "rsa-enc",
        KeySpec::Rsa2048,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        assert_err!(
            "RSA key encrypting with SYMMETRIC_DEFAULT",
            backend
                .encrypt(
                    &key_ref(&name),
                    b"x",
                    EncryptionAlgorithm::SymmetricDefault,
                    &ctx
                )
                .await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "hmac",
        KeySpec::Hmac384,
        KeyUsage::GenerateVerifyMac,
    )
    .await
    {
        for algorithm in [
            MacAlgorithm::HmacSha224,
            MacAlgorithm::HmacSha256,
            MacAlgorithm::HmacSha512,
        ] {
            assert_err!(
                format!("HMAC_384 key with {algorithm}"),
                backend.generate_mac(&key_ref(&name), b"x", algorithm).await,
                Error::InvalidKeyUsage { .. }
            );
        }
    }
}

/// Malformed input is [`Error::InvalidInput`]: digests of the wrong length, malformed key
/// references and names, pending windows outside 7–30 days, page limits, reserved tags.
pub async fn errors_invalid_input(kc: &Keychain, prefix: &str) {
    use SigningAlgorithm::*;
    let backend = kc.backend();
    // Malformed references, through the parser and the handle.
    for bad in [
        "",
        "has space",
        "alias/",
        "alias/aws/reserved",
        "a//b",
        "arn:aws:kms:us-east-1:123:key/x",
        "arn:aws:s3:us-east-1:111122223333:key/x",
        "awskms://host",
        "gcpkms://projects/x",
    ] {
        assert_err!(
            format!("KeyRef::parse({bad:?})"),
            KeyRef::parse(bad),
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("Keychain::describe({bad:?})"),
            kc.describe(bad).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("Keychain::sign({bad:?})"),
            kc.sign(bad, &[0u8; 32], Hash::Sha256).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("Keychain::public_key({bad:?})"),
            kc.public_key(bad).await,
            Error::InvalidInput { .. }
        );
    }
    // Bad names at creation and for aliases.
    for bad in ["has space", "aws/reserved", "a//b", "ümlaut"] {
        let request = CreateKeyRequest::new(KeySpec::EccNistP256).name(bad);
        assert_err!(
            format!("creating a key named {bad:?}"),
            backend.create_key(&request).await,
            Error::InvalidInput { .. }
        );
    }
    if let Some((name, info)) = named(
        kc,
        prefix,
        "p256",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        for bad in ["has space", "alias/aws/reserved", "alias/", "a//b"] {
            assert_err!(
                format!("CreateAlias {bad:?}"),
                backend.create_alias(bad, &key).await,
                Error::InvalidInput { .. }
            );
        }
        // Digests of the wrong length.
        for len in [0usize, 31, 33, 48, 64] {
            let digest = vec![7u8; len];
            assert_err!(
                format!("signing a {len}-byte digest with ECDSA_SHA_256"),
                backend
                    .sign(&key, Message::Digest(&digest), EcdsaSha256)
                    .await,
                Error::InvalidInput { .. }
            );
            assert_err!(
                format!("verifying a {len}-byte digest with ECDSA_SHA_256"),
                backend
                    .verify(&key, Message::Digest(&digest), &[0x30, 0x00], EcdsaSha256)
                    .await,
                Error::InvalidInput { .. }
            );
            assert_err!(
                format!("Keychain::sign with a {len}-byte SHA-256 digest"),
                kc.sign(&name, &digest, Hash::Sha256).await,
                Error::InvalidInput { .. }
            );
        }
        // Pending windows outside 7–30 days.
        for days in [0u32, 6, 31, 365] {
            assert_err!(
                format!("scheduling deletion in {days} days"),
                backend.schedule_key_deletion(&key, days).await,
                Error::InvalidInput { .. }
            );
        }
        let after = backend.describe_key(&key).await.must("describe");
        assert_eq!(
            after.state,
            KeyState::Enabled,
            "a refused deletion changed the key's state"
        );
        assert_eq!(after.deletion_date, None);
        // Reserved tag keys.
        let tags = BTreeMap::from([("aws:reserved".to_string(), "x".to_string())]);
        assert_err!(
            "tagging with the reserved prefix aws:",
            backend.tag_key(&id_ref(&info), &tags).await,
            Error::InvalidInput { .. }
        );
    }
    if let Some((name, _)) = named(kc, prefix, "rsa", KeySpec::Rsa2048, KeyUsage::SignVerify).await
    {
        let digest = Hash::Sha256.digest(b"x");
        for algorithm in [RsassaPkcs1V15Sha384, RsassaPssSha512] {
            assert_err!(
                format!("signing a SHA-256 digest with {algorithm}"),
                backend
                    .sign(&key_ref(&name), Message::Digest(&digest), algorithm)
                    .await,
                Error::InvalidInput { .. }
            );
        }
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "ed",
        KeySpec::EccNistEdwards25519,
        KeyUsage::SignVerify,
    )
    .await
    {
        let digest = Hash::Sha512.digest(b"x");
        assert_err!(
            "pure Ed25519 over a digest",
            backend
                .sign(&key_ref(&name), Message::Digest(&digest), Ed25519Sha512)
                .await,
            Error::InvalidInput { .. }
        );
    }
    for limit in [0u32, 1001] {
        assert_err!(
            format!("listing keys with limit {limit}"),
            backend
                .list_keys(&PageRequest {
                    limit: Some(limit),
                    marker: None
                })
                .await,
            Error::InvalidInput { .. }
        );
    }
}

/// A disabled key refuses every cryptographic operation with [`Error::InvalidKeyState`];
/// enabling it again restores them.
pub async fn errors_disabled_key(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let ctx = context(&[("purpose", "disabled")]);
    let digest = Hash::Sha256.digest(b"disabled");
    if let Some((name, _)) = named(
        kc,
        prefix,
        "p256",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        let signature = backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .must("signing while enabled");
        backend.disable_key(&key).await.must("DisableKey");
        assert_eq!(
            backend.describe_key(&key).await.must("describe").state,
            KeyState::Disabled
        );
        assert_err!(
            "signing with a disabled key",
            backend
                .sign(
                    &key,
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "verifying with a disabled key (in the backend)",
            backend
                .verify(
                    &key,
                    Message::Digest(&digest),
                    &signature,
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "Keychain::sign with a disabled key",
            kc.sign(&name, &digest, Hash::Sha256).await,
            Error::InvalidKeyState { .. }
        );
        // The handle verifies locally when it can, but checks the state first, as the
        // backend does: the same answer on every backend.
        let fresh = kc.clone().with_cache_ttl(Duration::ZERO);
        assert_err!(
            "Keychain::verify with a disabled key",
            fresh
                .verify(
                    &name,
                    Message::Digest(&digest),
                    &signature,
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        backend.enable_key(&key).await.must("EnableKey");
        backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .must("signing after enabling again");
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        let key = key_ref(&name);
        let alg = EncryptionAlgorithm::SymmetricDefault;
        let ciphertext = backend
            .encrypt(&key, b"plain", alg, &ctx)
            .await
            .must("encrypt");
        backend.disable_key(&key).await.must("DisableKey");
        assert_err!(
            "encrypting with a disabled key",
            backend.encrypt(&key, b"plain", alg, &ctx).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "decrypting with a disabled key",
            backend.decrypt(None, &ciphertext, alg, &ctx).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "a data key under a disabled key",
            backend
                .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
                .await,
            Error::InvalidKeyState { .. }
        );
        backend.enable_key(&key).await.must("EnableKey");
        let plain = backend
            .decrypt(None, &ciphertext, alg, &ctx)
            .await
            .must("decrypting after enabling again");
        assert_eq!(plain.expose(), b"plain");
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "hmac",
        KeySpec::Hmac256,
        KeyUsage::GenerateVerifyMac,
    )
    .await
    {
        let key = key_ref(&name);
        let alg = MacAlgorithm::HmacSha256;
        let mac = backend
            .generate_mac(&key, b"m", alg)
            .await
            .must("GenerateMac");
        backend.disable_key(&key).await.must("DisableKey");
        assert_err!(
            "a MAC with a disabled key",
            backend.generate_mac(&key, b"m", alg).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "verifying a MAC with a disabled key",
            backend.verify_mac(&key, b"m", &mac, alg).await,
            Error::InvalidKeyState { .. }
        );
    }
}

/// A key pending deletion refuses cryptographic operations (verifying included, in the backend
/// and through [`Keychain::verify`]) and state changes other than cancelling with
/// [`Error::InvalidKeyState`]; it is still described and listed.
pub async fn errors_pending_deletion(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let ctx = EncryptionContext::new();
    let digest = Hash::Sha256.digest(b"pending");
    if let Some((name, info)) = named(
        kc,
        prefix,
        "p256",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        let signature = backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .must("signing before the deletion is scheduled");
        backend
            .schedule_key_deletion(&key, 7)
            .await
            .must("ScheduleKeyDeletion");
        let described = backend
            .describe_key(&key)
            .await
            .must("describing a key pending deletion");
        assert_eq!(described.state, KeyState::PendingDeletion);
        assert!(described.deletion_date.is_some(), "no deletion date");
        let what = |op: &str| format!("{op} on a key pending deletion");
        assert_err!(
            what("Sign"),
            backend
                .sign(
                    &key,
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("Keychain::sign"),
            kc.sign(&name, &digest, Hash::Sha256).await,
            Error::InvalidKeyState { .. }
        );
        // Verifying through the key is refused as AWS KMS refuses it, in the backend and in
        // the handle (which checks the state before verifying locally).
        assert_err!(
            what("Verify"),
            backend
                .verify(
                    &key,
                    Message::Digest(&digest),
                    &signature,
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        let fresh = kc.clone().with_cache_ttl(Duration::ZERO);
        assert_err!(
            what("Keychain::verify"),
            fresh
                .verify(
                    &name,
                    Message::Digest(&digest),
                    &signature,
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("EnableKey"),
            backend.enable_key(&key).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("DisableKey"),
            backend.disable_key(&key).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("ScheduleKeyDeletion"),
            backend.schedule_key_deletion(&key, 10).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            what("TagResource"),
            backend
                .tag_key(&key, &BTreeMap::from([("k".to_string(), "v".to_string())]))
                .await,
            Error::InvalidKeyState { .. }
        );
        let mut listed = false;
        let mut page = PageRequest::default();
        loop {
            let p = backend.list_keys(&page).await.must("ListKeys");
            listed |= p.items.iter().any(|k| k.key_id == info.key_id);
            match p.next_marker {
                Some(m) => page.marker = Some(m),
                None => break,
            }
        }
        assert!(listed, "a key pending deletion is still listed");
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        let key = key_ref(&name);
        let alg = EncryptionAlgorithm::SymmetricDefault;
        let ciphertext = backend.encrypt(&key, b"p", alg, &ctx).await.must("encrypt");
        backend
            .schedule_key_deletion(&key, 30)
            .await
            .must("ScheduleKeyDeletion");
        assert_err!(
            "encrypting with a key pending deletion",
            backend.encrypt(&key, b"p", alg, &ctx).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "decrypting with a key pending deletion",
            backend.decrypt(None, &ciphertext, alg, &ctx).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "a data key under a key pending deletion",
            backend
                .generate_data_key(&key, DataKeySpec::Aes128, &ctx)
                .await,
            Error::InvalidKeyState { .. }
        );
        if caps.on_demand_rotation {
            assert_err!(
                "rotating a key pending deletion",
                backend.rotate_key(&key).await,
                Error::InvalidKeyState { .. }
            );
        }
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "hmac",
        KeySpec::Hmac512,
        KeyUsage::GenerateVerifyMac,
    )
    .await
    {
        let key = key_ref(&name);
        backend
            .schedule_key_deletion(&key, 7)
            .await
            .must("ScheduleKeyDeletion");
        assert_err!(
            "a MAC with a key pending deletion",
            backend
                .generate_mac(&key, b"m", MacAlgorithm::HmacSha512)
                .await,
            Error::InvalidKeyState { .. }
        );
    }
}

/// A name or alias in use is [`Error::AlreadyExists`], whatever the spec; the first key is
/// untouched. A name whose alias was deleted is free again.
pub async fn errors_already_exists(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, first)) = named(
        kc,
        prefix,
        "taken",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    let caps = backend.capabilities();
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::SymmetricDefault,
        KeySpec::Hmac256,
    ] {
        if !caps.key_specs.contains(&spec) {
            continue;
        }
        assert_err!(
            format!("creating a second key named {name} ({spec})"),
            backend
                .create_key(&CreateKeyRequest::new(spec).name(&name))
                .await,
            Error::AlreadyExists { .. }
        );
    }
    assert_err!(
        "Keychain::generate_key with a taken name",
        kc.generate_key(&name, &keychain::KeyParams::ecdsa(keychain::Curve::P256))
            .await,
        Error::AlreadyExists { .. }
    );
    let still = backend.describe_key(&key_ref(&name)).await.must("describe");
    assert_eq!(still.key_id, first.key_id, "the name moved to another key");

    let Some((_, second)) = named(
        kc,
        prefix,
        "other",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    assert_err!(
        "CreateAlias with the other key's name",
        backend.create_alias(&name, &id_ref(&second)).await,
        Error::AlreadyExists { .. }
    );
    assert_err!(
        "CreateAlias (alias/ form) with the key's own name",
        backend
            .create_alias(&format!("alias/{name}"), &id_ref(&first))
            .await,
        Error::AlreadyExists { .. }
    );
    let extra = key_name(prefix, "extra");
    backend
        .create_alias(&extra, &id_ref(&first))
        .await
        .must("CreateAlias");
    assert_err!(
        "CreateAlias twice",
        backend.create_alias(&extra, &id_ref(&second)).await,
        Error::AlreadyExists { .. }
    );
    // Once the alias is gone the name is free.
    backend.delete_alias(&name).await.must("DeleteAlias");
    let reborn = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(&name))
        .await
        .must("creating a key with a freed name");
    assert_ne!(reborn.key_id, first.key_id);
    assert_eq!(
        backend
            .describe_key(&key_ref(&name))
            .await
            .must("describe")
            .key_id,
        reborn.key_id
    );
}

/// A name that would read as another kind of reference — a key id (even another key's), an
/// `mrk-` id, `alias/…` — is refused with [`Error::InvalidInput`] for a new key and a new
/// alias, and nothing is created; references keep meaning exactly one thing.
pub async fn errors_ambiguous_names(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, target)) = named(
        kc,
        prefix,
        "target",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let upper = target.key_id.to_ascii_uppercase();
    let mrk = format!("mrk-{}", "0123456789abcdef".repeat(2));
    let nested = format!("alias/{prefix}-nested");
    let id_shaped = [
        target.key_id.as_str(),
        upper.as_str(),
        "11111111-2222-3333-4444-555555555555",
        mrk.as_str(),
    ];
    for bad in id_shaped.iter().copied().chain([nested.as_str()]) {
        let request = CreateKeyRequest::new(KeySpec::EccNistP256).name(bad);
        let err = assert_err!(
            format!("creating a key named {bad:?}"),
            backend.create_key(&request).await,
            Error::InvalidInput { .. }
        );
        assert!(
            err.to_string().contains("reference"),
            "the error for the name {bad:?} does not say why: {err}"
        );
    }
    // `create_alias` takes NAME or alias/NAME: alias/ID and alias/alias/NAME are refused too.
    let alias_of_id = format!("alias/{}", target.key_id);
    let nested_alias = format!("alias/{nested}");
    for bad in id_shaped
        .iter()
        .copied()
        .chain([alias_of_id.as_str(), nested_alias.as_str()])
    {
        assert_err!(
            format!("CreateAlias {bad:?}"),
            backend.create_alias(bad, &key).await,
            Error::InvalidInput { .. }
        );
    }
    // Nothing was created under any of those names, and the id still means the target key.
    for reference in [alias_of_id.as_str(), nested_alias.as_str()] {
        assert_err!(
            format!("describing {reference:?} after the refusals"),
            backend.describe_key(&key_ref(reference)).await,
            Error::NotFound { .. }
        );
    }
    let by_id = backend
        .describe_key(&key_ref(&target.key_id))
        .await
        .must("describing the target by its id");
    assert_eq!(by_id.key_id, target.key_id);
    let aliases = backend
        .list_aliases(Some(&key))
        .await
        .must("ListAliases of the target");
    assert_eq!(
        aliases.iter().map(|a| a.alias.as_str()).collect::<Vec<_>>(),
        [format!("alias/{name}")],
        "a refused name became an alias of the target"
    );
}

/// A symmetric ciphertext decrypts only with exactly its encryption context and only
/// undamaged; anything else is [`Error::Crypto`].
pub async fn errors_symmetric_tampering(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, _)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ctx = context(&[("purpose", "conformance"), ("tenant", "a")]);
    let plaintext = b"attack at dawn, 0123456789abcdef";
    let ciphertext = backend
        .encrypt(&key, plaintext, alg, &ctx)
        .await
        .must("encrypt");
    assert!(
        !ciphertext.windows(plaintext.len()).any(|w| w == plaintext),
        "the ciphertext contains the plaintext"
    );
    let back = backend
        .decrypt(None, &ciphertext, alg, &ctx)
        .await
        .must("decrypt");
    assert_eq!(back.expose(), plaintext);

    for (what, other) in [
        (
            "another tenant",
            context(&[("purpose", "conformance"), ("tenant", "b")]),
        ),
        ("no context", EncryptionContext::new()),
        (
            "an extra pair",
            context(&[("purpose", "conformance"), ("tenant", "a"), ("x", "y")]),
        ),
        ("a missing pair", context(&[("purpose", "conformance")])),
        (
            "keys and values swapped",
            context(&[("conformance", "purpose"), ("a", "tenant")]),
        ),
    ] {
        assert_err!(
            format!("decrypting with {what} as context"),
            backend.decrypt(None, &ciphertext, alg, &other).await,
            Error::Crypto { .. }
        );
        assert_err!(
            format!("decrypting (key named) with {what} as context"),
            backend.decrypt(Some(&key), &ciphertext, alg, &other).await,
            Error::Crypto { .. }
        );
    }
    let n = ciphertext.len();
    for (what, damaged) in [
        ("the last byte flipped", flip_byte(&ciphertext, n - 1)),
        (
            "the last ciphertext byte before a 16-byte tag flipped",
            flip_byte(&ciphertext, n - 17),
        ),
        (
            "a bit flipped 10 bytes before the end",
            flip_byte(&ciphertext, n - 10),
        ),
        ("the last byte cut off", ciphertext[..n - 1].to_vec()),
    ] {
        assert_err!(
            format!("decrypting with {what}"),
            backend.decrypt(None, &damaged, alg, &ctx).await,
            Error::Crypto { .. }
        );
    }
    let data_key = backend
        .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
        .await
        .must("GenerateDataKey");
    assert_err!(
        "decrypting a data key with another context",
        backend
            .decrypt(None, &data_key.ciphertext, alg, &EncryptionContext::new())
            .await,
        Error::Crypto { .. }
    );
    let n = data_key.ciphertext.len();
    assert_err!(
        "decrypting a damaged data key",
        backend
            .decrypt(None, &flip_byte(&data_key.ciphertext, n - 1), alg, &ctx)
            .await,
        Error::Crypto { .. }
    );
}

// ---- lifecycle --------------------------------------------------------------------------

/// A key created with a name, description and tags is described with exactly those, by every
/// form of reference; an unnamed key has no name and no aliases.
pub async fn lifecycle_create_describe(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let spec = [
        KeySpec::EccNistP256,
        KeySpec::SymmetricDefault,
        KeySpec::Hmac256,
    ]
    .into_iter()
    .find(|s| backend.capabilities().key_specs.contains(s))
    .unwrap_or(KeySpec::EccNistP256);
    let name = key_name(prefix, "described");
    let request = CreateKeyRequest::new(spec)
        .name(&name)
        .description("conformance: described key")
        .tag("team", "crypto")
        .tag("env", "test");
    let before = SystemTime::now();
    let Some(created) = create_or_unsupported(kc, &request).await else {
        return;
    };
    let alias = format!("alias/{name}");
    assert!(!created.key_id.is_empty(), "empty key id");
    assert_eq!(
        created.name.as_deref(),
        Some(name.as_str()),
        "CreateKey result name"
    );
    assert_eq!(created.state, KeyState::Enabled, "CreateKey result state");
    let mut references = vec![
        name.clone(),
        alias.clone(),
        created.key_id.clone(),
        format!("awskms:///{alias}"),
    ];
    if let Some(arn) = &created.arn {
        references.push(arn.clone());
    }
    for reference in &references {
        let info = kc
            .describe(reference)
            .await
            .must(&format!("describing {reference}"));
        let w = |field: &str| format!("describe({reference}).{field}");
        assert_eq!(info.key_id, created.key_id, "{}", w("key_id"));
        assert_eq!(info.name.as_deref(), Some(name.as_str()), "{}", w("name"));
        assert_eq!(info.aliases, vec![alias.clone()], "{}", w("aliases"));
        assert_eq!(info.spec, spec, "{}", w("spec"));
        assert_eq!(info.usage, spec.default_usage(), "{}", w("usage"));
        assert_eq!(info.state, KeyState::Enabled, "{}", w("state"));
        assert_eq!(
            info.description,
            "conformance: described key",
            "{}",
            w("description")
        );
        assert_eq!(
            info.tags,
            BTreeMap::from([
                ("env".to_string(), "test".to_string()),
                ("team".to_string(), "crypto".to_string())
            ]),
            "{}",
            w("tags")
        );
        assert_eq!(info.deletion_date, None, "{}", w("deletion_date"));
        assert!(info.versions >= 1, "{}", w("versions"));
        assert!(!info.multi_region, "{}", w("multi_region"));
        assert_near(
            &w("created"),
            info.created,
            before,
            Duration::from_secs(600),
            Duration::from_secs(600),
        );
    }
    let aliases = backend
        .list_aliases(Some(&id_ref(&created)))
        .await
        .must("ListAliases(key)");
    assert_eq!(aliases.len(), 1, "aliases of the key: {aliases:?}");
    assert_eq!(aliases[0].alias, alias);
    assert_eq!(aliases[0].key_id.as_deref(), Some(created.key_id.as_str()));

    let unnamed = backend
        .create_key(&CreateKeyRequest::new(spec))
        .await
        .must("creating an unnamed key");
    let info = backend
        .describe_key(&id_ref(&unnamed))
        .await
        .must("describing an unnamed key");
    assert_eq!(info.name, None, "an unnamed key has a name");
    assert!(
        info.aliases.is_empty(),
        "an unnamed key has aliases: {:?}",
        info.aliases
    );
    assert_eq!(info.state, KeyState::Enabled);
    assert_ne!(info.key_id, created.key_id);
}

/// Listing in pages of two walks every key exactly once until `next_marker` is `None`.
pub async fn lifecycle_list_pagination(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let spec = [
        KeySpec::Hmac256,
        KeySpec::SymmetricDefault,
        KeySpec::EccNistP256,
    ]
    .into_iter()
    .find(|s| caps.key_specs.contains(s))
    .unwrap_or(KeySpec::EccNistP256);
    let mut ours = BTreeSet::new();
    for i in 0..7 {
        let Some(info) = create_or_unsupported(
            kc,
            &CreateKeyRequest::new(spec).name(key_name(prefix, &format!("page-{i}"))),
        )
        .await
        else {
            return;
        };
        ours.insert(info.key_id);
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut request = PageRequest {
        limit: Some(2),
        marker: None,
    };
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 100_000, "the listing never ends");
        let page = backend.list_keys(&request).await.must("ListKeys page");
        assert!(
            page.items.len() <= 2,
            "a page of limit 2 has {} items",
            page.items.len()
        );
        for item in page.items {
            *seen.entry(item.key_id).or_default() += 1;
        }
        match page.next_marker {
            Some(marker) => {
                assert_ne!(
                    request.marker.as_deref(),
                    Some(marker.as_str()),
                    "next_marker did not move"
                );
                request.marker = Some(marker);
            }
            None => break,
        }
    }
    assert!(pages >= 4, "7 keys in pages of 2 took only {pages} pages");
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "keys listed more than once: {repeated:?}"
    );
    let missing: Vec<_> = ours.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(missing.is_empty(), "keys never listed: {missing:?}");
    // One big page has them too.
    let all = backend
        .list_keys(&PageRequest {
            limit: Some(1000),
            marker: None,
        })
        .await
        .must("ListKeys");
    if all.next_marker.is_none() {
        let ids: BTreeSet<_> = all.items.iter().map(|k| k.key_id.clone()).collect();
        assert!(ours.is_subset(&ids), "a single page of 1000 misses keys");
    }
}

/// Aliases: create, resolve, list (all and per key), update to another key of the same spec
/// (another spec is refused), delete (the key stays).
pub async fn lifecycle_aliases(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((a_name, a)) =
        named(kc, prefix, "a", KeySpec::EccNistP256, KeyUsage::SignVerify).await
    else {
        return;
    };
    let Some((_, b)) = named(kc, prefix, "b", KeySpec::EccNistP256, KeyUsage::SignVerify).await
    else {
        return;
    };
    let extra = key_name(prefix, "team/extra");
    let extra_alias = format!("alias/{extra}");
    backend
        .create_alias(&extra, &key_ref(&a_name))
        .await
        .must("CreateAlias");
    let resolved = backend
        .describe_key(&key_ref(&extra))
        .await
        .must("describe by the new alias");
    assert_eq!(
        resolved.key_id, a.key_id,
        "the alias points at the wrong key"
    );
    let mut aliases = resolved.aliases.clone();
    aliases.sort();
    let mut expected = vec![format!("alias/{a_name}"), extra_alias.clone()];
    expected.sort();
    assert_eq!(aliases, expected, "describe lists the key's aliases");
    let of_a: BTreeSet<_> = backend
        .list_aliases(Some(&id_ref(&a)))
        .await
        .must("ListAliases(a)")
        .into_iter()
        .map(|x| x.alias)
        .collect();
    assert_eq!(of_a, expected.iter().cloned().collect(), "ListAliases(key)");
    let all = backend.list_aliases(None).await.must("ListAliases");
    let entry = all
        .iter()
        .find(|x| x.alias == extra_alias)
        .unwrap_or_else(|| panic!("ListAliases misses {extra_alias}"));
    assert_eq!(entry.key_id.as_deref(), Some(a.key_id.as_str()));
    // Sign through the alias, verify through the key id.
    let digest = Hash::Sha256.digest(b"alias");
    let sig = kc
        .sign(&extra, &digest, Hash::Sha256)
        .await
        .must("sign via the alias");
    assert!(
        kc.verify(
            &a.key_id,
            Message::Digest(&digest),
            &sig,
            SigningAlgorithm::EcdsaSha256
        )
        .await
        .must("verify"),
        "a signature made through an alias does not verify under the key"
    );

    // Update to key b.
    backend
        .update_alias(&extra_alias, &id_ref(&b))
        .await
        .must("UpdateAlias");
    assert_eq!(
        backend
            .describe_key(&key_ref(&extra))
            .await
            .must("describe")
            .key_id,
        b.key_id,
        "UpdateAlias did not move the alias"
    );
    let a_now = backend.describe_key(&id_ref(&a)).await.must("describe a");
    assert!(
        !a_now.aliases.contains(&extra_alias),
        "the old key still lists the moved alias"
    );
    let b_now = backend.describe_key(&id_ref(&b)).await.must("describe b");
    assert!(
        b_now.aliases.contains(&extra_alias),
        "the new key does not list the alias"
    );

    // Another spec (or usage) is refused and changes nothing.
    if let Some((_, other)) = named(
        kc,
        prefix,
        "other-spec",
        KeySpec::EccNistP384,
        KeyUsage::SignVerify,
    )
    .await
    {
        assert_err!(
            "UpdateAlias to a key of another spec",
            backend.update_alias(&extra_alias, &id_ref(&other)).await,
            Error::InvalidInput { .. }
        );
        assert_eq!(
            backend
                .describe_key(&key_ref(&extra))
                .await
                .must("describe")
                .key_id,
            b.key_id,
            "a refused UpdateAlias moved the alias"
        );
    }
    if let Some((_, other)) = named(
        kc,
        prefix,
        "other-kind",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        assert_err!(
            "UpdateAlias to a symmetric key",
            backend.update_alias(&extra_alias, &id_ref(&other)).await,
            Error::InvalidInput { .. }
        );
    }

    // Delete: the alias stops resolving, the key stays.
    backend.delete_alias(&extra_alias).await.must("DeleteAlias");
    assert_err!(
        "describe through a deleted alias",
        backend.describe_key(&key_ref(&extra)).await,
        Error::NotFound { .. }
    );
    assert_err!(
        "deleting an alias twice",
        backend.delete_alias(&extra).await,
        Error::NotFound { .. }
    );
    let b_after = backend
        .describe_key(&id_ref(&b))
        .await
        .must("the key outlives its alias");
    assert!(!b_after.aliases.contains(&extra_alias));
    assert!(
        !backend
            .list_aliases(None)
            .await
            .must("ListAliases")
            .iter()
            .any(|x| x.alias == extra_alias),
        "ListAliases still shows a deleted alias"
    );
    // Deleting the key's own name alias leaves an unnamed key.
    backend
        .delete_alias(&a_name)
        .await
        .must("DeleteAlias of the name");
    let a_after = backend.describe_key(&id_ref(&a)).await.must("describe a");
    assert!(
        a_after.aliases.is_empty(),
        "aliases left: {:?}",
        a_after.aliases
    );
    assert_eq!(
        a_after.name, None,
        "a key whose name alias was deleted still has the name"
    );
}

/// Tags are added, replaced and removed; removing a missing tag is not an error.
pub async fn lifecycle_tags(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, _)) = named(
        kc,
        prefix,
        "tagged",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    backend
        .tag_key(&key, &tags(&[("a", "1"), ("b", "2")]))
        .await
        .must("TagResource");
    assert_eq!(
        backend.describe_key(&key).await.must("describe").tags,
        tags(&[("a", "1"), ("b", "2")])
    );
    backend
        .tag_key(&key, &tags(&[("a", "3"), ("c", "")]))
        .await
        .must("TagResource again");
    assert_eq!(
        backend.describe_key(&key).await.must("describe").tags,
        tags(&[("a", "3"), ("b", "2"), ("c", "")]),
        "tagging replaces values and keeps other tags"
    );
    backend
        .untag_key(&key, &["b".to_string(), "never-there".to_string()])
        .await
        .must("UntagResource");
    assert_eq!(
        backend.describe_key(&key).await.must("describe").tags,
        tags(&[("a", "3"), ("c", "")])
    );
    backend
        .untag_key(&key, &["a".to_string(), "c".to_string()])
        .await
        .must("UntagResource");
    assert!(
        backend
            .describe_key(&key)
            .await
            .must("describe")
            .tags
            .is_empty()
    );
}

/// Disable and enable: state follows, both are idempotent, usability follows the state.
pub async fn lifecycle_enable_disable(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, _)) = named(
        kc,
        prefix,
        "toggled",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let digest = Hash::Sha256.digest(b"toggle");
    let state = || async { backend.describe_key(&key).await.must("describe").state };
    backend
        .enable_key(&key)
        .await
        .must("enabling an enabled key");
    assert_eq!(state().await, KeyState::Enabled);
    for _ in 0..2 {
        backend.disable_key(&key).await.must("DisableKey");
        assert_eq!(state().await, KeyState::Disabled);
    }
    assert_err!(
        "signing while disabled",
        backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256
            )
            .await,
        Error::InvalidKeyState { .. }
    );
    for _ in 0..2 {
        backend.enable_key(&key).await.must("EnableKey");
        assert_eq!(state().await, KeyState::Enabled);
    }
    backend
        .sign(
            &key,
            Message::Digest(&digest),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .must("signing after enabling");
}

/// Scheduling deletion returns a date 7–30 days ahead and makes the key PendingDeletion;
/// cancelling leaves it Disabled (as KMS does); enabling makes it usable again.
pub async fn lifecycle_scheduled_deletion(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let digest = Hash::Sha256.digest(b"deletion");
    for days_ahead in [7u32, 30] {
        let Some((name, _)) = named(
            kc,
            prefix,
            &format!("doomed-{days_ahead}"),
            KeySpec::EccNistP256,
            KeyUsage::SignVerify,
        )
        .await
        else {
            return;
        };
        let key = key_ref(&name);
        let now = SystemTime::now();
        let when = backend
            .schedule_key_deletion(&key, days_ahead)
            .await
            .must("ScheduleKeyDeletion");
        assert_near(
            &format!("the deletion date of a {days_ahead}-day window"),
            when,
            now + days(u64::from(days_ahead)),
            Duration::from_secs(300),
            days(1),
        );
        let info = backend.describe_key(&key).await.must("describe");
        assert_eq!(info.state, KeyState::PendingDeletion);
        let described = info
            .deletion_date
            .unwrap_or_else(|| panic!("no deletion date"));
        assert_near(
            "describe's deletion date",
            described,
            when,
            Duration::from_secs(1),
            Duration::from_secs(1),
        );

        backend
            .cancel_key_deletion(&key)
            .await
            .must("CancelKeyDeletion");
        let info = backend.describe_key(&key).await.must("describe");
        assert_eq!(
            info.state,
            KeyState::Disabled,
            "a cancelled deletion leaves the key Disabled"
        );
        assert_eq!(
            info.deletion_date, None,
            "a cancelled deletion keeps its date"
        );
        assert_err!(
            "cancelling twice",
            backend.cancel_key_deletion(&key).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "signing after cancelling (still disabled)",
            backend
                .sign(
                    &key,
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        backend.enable_key(&key).await.must("EnableKey");
        backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .must("signing after cancelling and enabling");
    }
    // A disabled key can be scheduled too.
    if let Some((name, _)) = named(
        kc,
        prefix,
        "disabled-doomed",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        backend.disable_key(&key).await.must("DisableKey");
        backend
            .schedule_key_deletion(&key, 7)
            .await
            .must("scheduling a disabled key");
        assert_eq!(
            backend.describe_key(&key).await.must("describe").state,
            KeyState::PendingDeletion
        );
    }
}

// ---- encryption -------------------------------------------------------------------------

/// Symmetric encryption with a context: round trip, decrypt without naming the key, the
/// handle's helpers, size limits, another key named → [`Error::InvalidInput`].
pub async fn encrypt_symmetric(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, info)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ctx = context(&[("purpose", "conformance"), ("order", "42")]);
    let plaintext: Vec<u8> = (0..=255u8).collect();
    let c1 = backend
        .encrypt(&key, &plaintext, alg, &ctx)
        .await
        .must("Encrypt");
    let c2 = backend
        .encrypt(&key, &plaintext, alg, &ctx)
        .await
        .must("Encrypt again");
    assert_ne!(
        c1, c2,
        "two encryptions of the same plaintext are identical (no fresh nonce)"
    );
    for c in [&c1, &c2] {
        let by_none = backend
            .decrypt(None, c, alg, &ctx)
            .await
            .must("Decrypt without a key");
        assert_eq!(by_none.expose(), &plaintext[..]);
        let by_alias = backend
            .decrypt(Some(&key), c, alg, &ctx)
            .await
            .must("Decrypt by alias");
        assert_eq!(by_alias.expose(), &plaintext[..]);
        let by_id = backend
            .decrypt(Some(&id_ref(&info)), c, alg, &ctx)
            .await
            .must("Decrypt by key id");
        assert_eq!(by_id.expose(), &plaintext[..]);
    }
    let empty_ctx = EncryptionContext::new();
    let c = backend
        .encrypt(&key, b"no context", alg, &empty_ctx)
        .await
        .must("Encrypt");
    assert_eq!(
        backend
            .decrypt(None, &c, alg, &empty_ctx)
            .await
            .must("Decrypt")
            .expose(),
        b"no context"
    );
    // The handle.
    let c = kc
        .encrypt(&name, b"via the handle", &ctx)
        .await
        .must("Keychain::encrypt");
    assert_eq!(
        kc.decrypt(&c, &ctx)
            .await
            .must("Keychain::decrypt")
            .expose(),
        b"via the handle"
    );
    // The KMS size limit: 4096 bytes.
    let max = vec![0xa5u8; 4096];
    let c = backend
        .encrypt(&key, &max, alg, &ctx)
        .await
        .must("encrypting 4096 bytes");
    assert_eq!(
        backend
            .decrypt(None, &c, alg, &ctx)
            .await
            .must("Decrypt")
            .expose(),
        &max[..]
    );
    assert_err!(
        "encrypting 4097 bytes",
        backend.encrypt(&key, &[0u8; 4097], alg, &ctx).await,
        Error::InvalidInput { .. }
    );
    // Naming another key.
    if let Some((other, _)) = named(
        kc,
        prefix,
        "aes-other",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        assert_err!(
            "decrypting while naming another key",
            backend
                .decrypt(Some(&key_ref(&other)), &c1, alg, &ctx)
                .await,
            Error::InvalidInput { .. }
        );
    }
}

/// Data keys: the plaintext has the spec's length, the ciphertext decrypts back to it with
/// the same context, each call makes a new key.
pub async fn encrypt_data_keys(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, info)) = named(
        kc,
        prefix,
        "kek",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ctx = context(&[("bucket", "conformance"), ("object", "a/b/c")]);
    for spec in [DataKeySpec::Aes256, DataKeySpec::Aes128] {
        let first = backend
            .generate_data_key(&key, spec, &ctx)
            .await
            .must("GenerateDataKey");
        let second = backend
            .generate_data_key(&key, spec, &ctx)
            .await
            .must("GenerateDataKey");
        assert_eq!(
            first.plaintext.len(),
            spec.len(),
            "{spec}: plaintext length"
        );
        assert!(
            first.key_id == info.key_id || Some(&first.key_id) == info.arn.as_ref(),
            "{spec}: the data key names key {}, not {}",
            first.key_id,
            info.key_id
        );
        assert_ne!(
            first.plaintext.expose(),
            second.plaintext.expose(),
            "{spec}: repeated data key"
        );
        assert_ne!(
            first.plaintext.expose(),
            &vec![0u8; spec.len()][..],
            "{spec}: all-zero data key"
        );
        for dk in [&first, &second] {
            let back = backend
                .decrypt(None, &dk.ciphertext, alg, &ctx)
                .await
                .must("decrypting a data key");
            assert_eq!(
                back.expose(),
                dk.plaintext.expose(),
                "{spec}: the data key does not decrypt back"
            );
            let back = backend
                .decrypt(Some(&key), &dk.ciphertext, alg, &ctx)
                .await
                .must("decrypting a data key, key named");
            assert_eq!(back.expose(), dk.plaintext.expose());
        }
        assert_err!(
            format!("{spec}: decrypting a data key with another context"),
            backend
                .decrypt(
                    None,
                    &first.ciphertext,
                    alg,
                    &context(&[("bucket", "other")])
                )
                .await,
            Error::Crypto { .. }
        );
    }
}

/// RSA-2048 OAEP: see [`encrypt_rsa_oaep`].
pub async fn encrypt_rsa_oaep_2048(kc: &Keychain, prefix: &str) {
    encrypt_rsa_oaep(kc, prefix, KeySpec::Rsa2048).await;
}

/// RSA-3072 OAEP: see [`encrypt_rsa_oaep`].
pub async fn encrypt_rsa_oaep_3072(kc: &Keychain, prefix: &str) {
    encrypt_rsa_oaep(kc, prefix, KeySpec::Rsa3072).await;
}

/// RSA-4096 OAEP: see [`encrypt_rsa_oaep`].
pub async fn encrypt_rsa_oaep_4096(kc: &Keychain, prefix: &str) {
    encrypt_rsa_oaep(kc, prefix, KeySpec::Rsa4096).await;
}

/// An ENCRYPT_DECRYPT RSA key, for OAEP SHA-1 and SHA-256: ciphertexts made locally with
/// `PublicKey::encrypt`, by the backend, and by Python `cryptography` all decrypt in the
/// backend; the other OAEP hash, a flipped bit → [`Error::Crypto`]; too long a plaintext, an
/// encryption context, no key named → [`Error::InvalidInput`].
pub async fn encrypt_rsa_oaep(kc: &Keychain, prefix: &str, spec: KeySpec) {
    use EncryptionAlgorithm::{RsaesOaepSha1, RsaesOaepSha256};
    let backend = kc.backend();
    let Some((name, _)) = named(kc, prefix, "rsa-enc", spec, KeyUsage::EncryptDecrypt).await else {
        return;
    };
    let key = key_ref(&name);
    let public_key = backend.public_key(&key).await.must("GetPublicKey");
    assert_eq!(public_key.key_spec().must("spec"), spec);
    let pem = public_key.to_pem();
    let none = EncryptionContext::new();
    let KeyFamily::Rsa(bits) = spec.family() else {
        panic!("{spec} is not RSA");
    };
    let modulus = bits as usize / 8;
    let mut python_cases = Vec::new();
    for alg in [RsaesOaepSha1, RsaesOaepSha256] {
        let h = if alg == RsaesOaepSha1 { 20 } else { 32 };
        let max = modulus - 2 * h - 2;
        for plaintext in [b"oaep".to_vec(), vec![0x42; max]] {
            python_cases.push((pem.clone(), alg, plaintext));
        }
    }
    let from_python = python_oaep_encrypt_batch(&python_cases);
    for ((_, alg, plaintext), python_ct) in python_cases.iter().zip(&from_python) {
        let alg = *alg;
        let other = if alg == RsaesOaepSha1 {
            RsaesOaepSha256
        } else {
            RsaesOaepSha1
        };
        let local = public_key
            .encrypt(plaintext, alg)
            .must("PublicKey::encrypt");
        let remote = backend
            .encrypt(&key, plaintext, alg, &none)
            .await
            .must("backend Encrypt");
        for (who, ct) in [
            ("local", &local),
            ("backend", &remote),
            ("Python", python_ct),
        ] {
            let what = format!(
                "{spec} {alg}: {}-byte plaintext encrypted by {who}",
                plaintext.len()
            );
            assert_eq!(ct.len(), modulus, "{what}: ciphertext length");
            let back = backend
                .decrypt(Some(&key), ct, alg, &none)
                .await
                .must(&what);
            assert_eq!(back.expose(), &plaintext[..], "{what}: wrong plaintext");
            assert_err!(
                format!("{what}, decrypted as {other}"),
                backend.decrypt(Some(&key), ct, other, &none).await,
                Error::Crypto { .. }
            );
            assert_err!(
                format!("{what}, one bit flipped"),
                backend
                    .decrypt(Some(&key), &flip_byte(ct, modulus / 2), alg, &none)
                    .await,
                Error::Crypto { .. }
            );
        }
        assert_err!(
            format!("{spec} {alg}: decrypting without naming the key"),
            backend.decrypt(None, &local, alg, &none).await,
            Error::InvalidInput { .. }
        );
    }
    for alg in [RsaesOaepSha1, RsaesOaepSha256] {
        let h = if alg == RsaesOaepSha1 { 20 } else { 32 };
        let too_long = vec![1u8; modulus - 2 * h - 1];
        assert_err!(
            format!("{spec} {alg}: local encryption of {} bytes", too_long.len()),
            public_key.encrypt(&too_long, alg),
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!(
                "{spec} {alg}: backend encryption of {} bytes",
                too_long.len()
            ),
            backend.encrypt(&key, &too_long, alg, &none).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("{spec} {alg}: an encryption context with RSA"),
            backend
                .encrypt(&key, b"x", alg, &context(&[("a", "b")]))
                .await,
            Error::InvalidInput { .. }
        );
    }
    // The handle picks OAEP SHA-256 for RSA keys.
    let ct = kc
        .encrypt(&name, b"handle", &none)
        .await
        .must("Keychain::encrypt with RSA");
    let back = backend
        .decrypt(Some(&key), &ct, RsaesOaepSha256, &none)
        .await
        .must("decrypting the handle's RSA ciphertext with OAEP SHA-256");
    assert_eq!(back.expose(), b"handle");
}

// ---- MAC --------------------------------------------------------------------------------

/// Every HMAC spec: MACs have the hash's length, are deterministic, verify; a flipped bit,
/// a truncation, another message or another key's MAC do not; another algorithm is
/// [`Error::InvalidKeyUsage`]; a message of 0 or more than 4096 bytes is
/// [`Error::InvalidInput`] (the AWS KMS limit, kept by every backend), 4096 bytes work.
pub async fn mac_hmac(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let mut macs = Vec::new();
    for (spec, algorithm, len) in [
        (KeySpec::Hmac224, MacAlgorithm::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlgorithm::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlgorithm::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlgorithm::HmacSha512, 64),
    ] {
        let Some((name, _)) = named(
            kc,
            prefix,
            &format!("mac-{len}"),
            spec,
            KeyUsage::GenerateVerifyMac,
        )
        .await
        else {
            continue;
        };
        let key = key_ref(&name);
        let message = format!("conformance MAC message {prefix}").into_bytes();
        let mac = backend
            .generate_mac(&key, &message, algorithm)
            .await
            .must("GenerateMac");
        assert_eq!(mac.len(), len, "{spec}: MAC length");
        let again = backend
            .generate_mac(&key, &message, algorithm)
            .await
            .must("GenerateMac");
        assert_eq!(mac, again, "{spec}: HMAC must be deterministic");
        let verify = |m: Vec<u8>, msg: Vec<u8>| {
            let key = key.clone();
            async move {
                backend
                    .verify_mac(&key, &msg, &m, algorithm)
                    .await
                    .must("VerifyMac")
            }
        };
        assert!(
            verify(mac.clone(), message.clone()).await,
            "{spec}: its own MAC does not verify"
        );
        assert!(
            !verify(flip_byte(&mac, 0), message.clone()).await,
            "{spec}: a flipped MAC verifies"
        );
        assert!(
            !verify(flip_byte(&mac, len - 1), message.clone()).await,
            "{spec}: a flipped MAC verifies"
        );
        assert!(
            !verify(mac[..len - 1].to_vec(), message.clone()).await,
            "{spec}: a truncated MAC verifies"
        );
        assert!(
            !verify(mac.clone(), flip_byte(&message, 3)).await,
            "{spec}: the MAC verifies another message"
        );
        // AWS KMS MACs 1 to 4096 bytes, and every backend keeps that limit.
        assert_err!(
            format!("{spec}: MAC of an empty message"),
            backend.generate_mac(&key, b"", algorithm).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("{spec}: verifying a MAC of an empty message"),
            backend.verify_mac(&key, b"", &mac, algorithm).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("{spec}: MAC of 4097 bytes"),
            backend.generate_mac(&key, &[7u8; 4097], algorithm).await,
            Error::InvalidInput { .. }
        );
        let longest = backend
            .generate_mac(&key, &[7u8; 4096], algorithm)
            .await
            .must("MAC of 4096 bytes");
        assert_ne!(longest, mac);
        for &other in MacAlgorithm::ALL {
            if other != algorithm {
                assert_err!(
                    format!("{spec} with {other}"),
                    backend.generate_mac(&key, &message, other).await,
                    Error::InvalidKeyUsage { .. }
                );
                assert_err!(
                    format!("{spec} verifying with {other}"),
                    backend.verify_mac(&key, &message, &mac, other).await,
                    Error::InvalidKeyUsage { .. }
                );
            }
        }
        macs.push((spec, key, algorithm, message, mac));
    }
    // Two keys of the same spec give different MACs; one key's MAC fails under the other.
    if let Some((spec, key, algorithm, message, mac)) = macs.first() {
        let Some((other, _)) =
            named(kc, prefix, "mac-twin", *spec, KeyUsage::GenerateVerifyMac).await
        else {
            return;
        };
        let other = key_ref(&other);
        let twin = backend
            .generate_mac(&other, message, *algorithm)
            .await
            .must("GenerateMac");
        assert_ne!(&twin, mac, "{spec}: two keys give the same MAC");
        assert!(
            !backend
                .verify_mac(&other, message, mac, *algorithm)
                .await
                .must("VerifyMac"),
            "{spec}: one key's MAC verifies under another"
        );
        assert!(
            backend
                .verify_mac(key, message, mac, *algorithm)
                .await
                .must("VerifyMac")
        );
    }
}

// ---- rotation ---------------------------------------------------------------------------

/// Automatic rotation (if the capabilities say so): status, enable with a validated period
/// (90–2560 days, default 365), disable; refused for disabled keys and for HMAC keys.
pub async fn rotation_automatic(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let Some((name, _)) = named(
        kc,
        prefix,
        "rotating",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    if !caps.automatic_rotation {
        assert_err!(
            "EnableKeyRotation without the capability",
            backend.enable_key_rotation(&key, Some(90)).await,
            Error::Unsupported { .. }
        );
        return;
    }
    let status = backend
        .key_rotation_status(&key)
        .await
        .must("GetKeyRotationStatus");
    assert!(!status.enabled, "a new key rotates automatically");
    for bad in [0u32, 89, 2561] {
        assert_err!(
            format!("a rotation period of {bad} days"),
            backend.enable_key_rotation(&key, Some(bad)).await,
            Error::InvalidInput { .. }
        );
    }
    assert!(
        !backend
            .key_rotation_status(&key)
            .await
            .must("status")
            .enabled
    );
    for (period, expected) in [(Some(90u32), 90u32), (Some(2560), 2560), (None, 365)] {
        let now = SystemTime::now();
        backend
            .enable_key_rotation(&key, period)
            .await
            .must("EnableKeyRotation");
        let status = backend.key_rotation_status(&key).await.must("status");
        assert!(status.enabled, "rotation is off after enabling it");
        assert_eq!(status.period_days, Some(expected), "rotation period");
        let next = status
            .next_rotation
            .unwrap_or_else(|| panic!("enabled rotation has no next rotation date"));
        assert_near(
            &format!("the next rotation of a {expected}-day period"),
            next,
            now + days(u64::from(expected)),
            Duration::from_secs(300),
            days(1),
        );
    }
    backend
        .disable_key_rotation(&key)
        .await
        .must("DisableKeyRotation");
    let status = backend.key_rotation_status(&key).await.must("status");
    assert!(!status.enabled, "rotation is on after disabling it");
    // A disabled key cannot have its rotation changed.
    backend.disable_key(&key).await.must("DisableKey");
    assert_err!(
        "EnableKeyRotation on a disabled key",
        backend.enable_key_rotation(&key, Some(90)).await,
        Error::InvalidKeyState { .. }
    );
    backend.enable_key(&key).await.must("EnableKey");
    if let Some((hmac, _)) = named(
        kc,
        prefix,
        "hmac",
        KeySpec::Hmac256,
        KeyUsage::GenerateVerifyMac,
    )
    .await
    {
        assert_err!(
            "EnableKeyRotation on an HMAC key",
            backend.enable_key_rotation(&key_ref(&hmac), None).await,
            Error::Unsupported { .. }
        );
    }
}

/// On-demand rotation (if the capabilities say so): the version count grows, ciphertexts and
/// data keys made before still decrypt, new ones decrypt; a disabled key is refused.
pub async fn rotation_on_demand(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let Some((name, info)) = named(
        kc,
        prefix,
        "rotated",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    if !caps.on_demand_rotation {
        assert_err!(
            "RotateKeyOnDemand without the capability",
            backend.rotate_key(&key).await,
            Error::Unsupported { .. }
        );
        return;
    }
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ctx = context(&[("rotation", "yes")]);
    let mut made = Vec::new();
    let mut versions = info.versions;
    for round in 0..3u32 {
        let plaintext = format!("before rotation {round}").into_bytes();
        let ct = backend
            .encrypt(&key, &plaintext, alg, &ctx)
            .await
            .must("Encrypt");
        made.push((ct, plaintext));
        let dk = backend
            .generate_data_key(&key, DataKeySpec::Aes256, &ctx)
            .await
            .must("GenerateDataKey");
        made.push((dk.ciphertext.clone(), dk.plaintext.expose().to_vec()));
        backend.rotate_key(&key).await.must("RotateKeyOnDemand");
        let now = backend.describe_key(&key).await.must("describe").versions;
        assert_eq!(
            now,
            versions + 1,
            "rotation {round}: the version count did not grow by one"
        );
        versions = now;
        for (ct, plaintext) in &made {
            let back = backend.decrypt(None, ct, alg, &ctx).await.must(&format!(
                "decrypting an older ciphertext after rotation {round}"
            ));
            assert_eq!(back.expose(), &plaintext[..]);
        }
    }
    let fresh = backend
        .encrypt(&key, b"after", alg, &ctx)
        .await
        .must("Encrypt after rotation");
    assert_eq!(
        backend
            .decrypt(None, &fresh, alg, &ctx)
            .await
            .must("Decrypt")
            .expose(),
        b"after"
    );
    backend.disable_key(&key).await.must("DisableKey");
    assert_err!(
        "rotating a disabled key",
        backend.rotate_key(&key).await,
        Error::InvalidKeyState { .. }
    );
}

/// Rotation of asymmetric and HMAC keys is [`Error::Unsupported`] (as in KMS).
pub async fn rotation_asymmetric_unsupported(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    for (what, spec, usage) in [
        ("p256", KeySpec::EccNistP256, KeyUsage::SignVerify),
        (
            "ed25519",
            KeySpec::EccNistEdwards25519,
            KeyUsage::SignVerify,
        ),
        ("rsa-enc", KeySpec::Rsa2048, KeyUsage::EncryptDecrypt),
        ("hmac", KeySpec::Hmac256, KeyUsage::GenerateVerifyMac),
    ] {
        let Some((name, _)) = named(kc, prefix, what, spec, usage).await else {
            continue;
        };
        let key = key_ref(&name);
        assert_err!(
            format!("RotateKeyOnDemand on a {spec} key"),
            backend.rotate_key(&key).await,
            Error::Unsupported { .. }
        );
        assert_err!(
            format!("EnableKeyRotation on a {spec} key"),
            backend.enable_key_rotation(&key, Some(90)).await,
            Error::Unsupported { .. }
        );
        assert_eq!(
            backend.describe_key(&key).await.must("describe").versions,
            1,
            "{spec}: a refused rotation added a version"
        );
    }
}
