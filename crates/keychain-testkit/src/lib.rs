//! Test support for keychain: independent judges of what keychain produces (OpenSSL and
//! Python `cryptography`, never our own code) and throwaway keystores.
//!
//! The judges must be present: a test that cannot reach its judge fails, it is never skipped.
//! `scripts/test.sh` installs them (a venv with `cryptography` and `PyJWT`, exported as
//! `KEYCHAIN_TEST_PYTHON`).

pub mod conformance;
pub mod fault_proxy;
pub mod kms_clients;
pub mod localstack;
pub mod memory;
pub mod mount;
pub mod softhsm;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{EncryptionAlgorithm, SigningAlgorithm};

/// The password of test keystores.
pub const PASSWORD: &str = "test password, not a secret";
/// PBKDF2 iterations of test keystores: the minimum, so tests stay fast. The default
/// (600 000) is exercised by its own test.
pub const ITERATIONS: u32 = 2048;

/// The Python interpreter that has `cryptography` and `jwt`: `KEYCHAIN_TEST_PYTHON`, else
/// `python3`.
pub fn python() -> PathBuf {
    std::env::var_os("KEYCHAIN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// A signature for [`python_verify_batch`].
#[derive(Debug, Clone)]
pub struct SignatureCase {
    /// The SPKI PEM of the public key.
    pub public_key_pem: String,
    /// The algorithm.
    pub algorithm: SigningAlgorithm,
    /// The signed bytes: a raw message, or a digest when `prehashed`.
    pub data: Vec<u8>,
    /// Whether `data` is a digest.
    pub prehashed: bool,
    /// The signature (DER for ECDSA).
    pub signature: Vec<u8>,
}

/// Asks Python `cryptography` whether each signature is valid (one interpreter for the
/// batch). Panics with a clear message when the judge cannot run.
pub fn python_verify_batch(cases: &[SignatureCase]) -> Vec<bool> {
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            let mut v = serde_json::json!({
                "pem": c.public_key_pem,
                "alg": c.algorithm.as_str(),
                "sig": B64.encode(&c.signature),
            });
            let field = if c.prehashed { "digest" } else { "message" };
            v[field] = serde_json::Value::String(B64.encode(&c.data));
            v
        })
        .collect();
    python_judge(&input)
}

/// [`python_verify_batch`] for messages in files, too large to pass around: each case is
/// `(public key PEM, algorithm, the message's path, signature)`.
pub fn python_verify_files(
    cases: &[(String, SigningAlgorithm, &std::path::Path, Vec<u8>)],
) -> Vec<bool> {
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(pem, algorithm, path, signature)| {
            serde_json::json!({
                "pem": pem,
                "alg": algorithm.as_str(),
                "sig": B64.encode(signature),
                "path": path.to_string_lossy(),
            })
        })
        .collect();
    python_judge(&input)
}

fn python_judge(input: &[serde_json::Value]) -> Vec<bool> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/judge.py");
    let out = run_with_stdin(
        Command::new(python()).arg(script),
        serde_json::to_vec(input).unwrap_or_default().as_slice(),
    );
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "the Python judge printed no verdicts ({e}); run scripts/test.sh or set KEYCHAIN_TEST_PYTHON"
        )
    })
}

/// Has PyCryptodome sign each input `X` as the RFC 8032 Ed25519ph message (prehash
/// SHA-512(X)), each with a fresh key: `(public key SPKI PEM, signature)` per input. For a
/// 64-byte digest `D` that is AWS KMS's ED25519_PH_SHA_512 over `D`. Panics when the helper
/// cannot run.
pub fn python_ed25519ph_sign_batch(inputs: &[Vec<u8>]) -> Vec<(String, Vec<u8>)> {
    let input: Vec<String> = inputs.iter().map(|x| B64.encode(x)).collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ed25519ph_sign.py");
    let out = run_with_stdin(
        Command::new(python()).arg(script),
        serde_json::to_vec(&input).unwrap_or_default().as_slice(),
    );
    let signed: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "the PyCryptodome Ed25519ph signer printed nothing readable ({e}); run scripts/test.sh or set KEYCHAIN_TEST_PYTHON"
        )
    });
    assert_eq!(signed.len(), inputs.len(), "one signature per input");
    signed
        .iter()
        .map(|v| {
            let pem = v["pem"].as_str().unwrap_or_default().to_string();
            let sig = B64
                .decode(v["sig"].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("the Ed25519ph signer printed bad base64: {e}"));
            (pem, sig)
        })
        .collect()
}

/// Asks libsodium (a second Ed25519ph implementation, through Python's ctypes) whether each
/// `(raw 32-byte public key, message, signature)` is an RFC 8032 Ed25519ph signature of that
/// message; for AWS KMS's ED25519_PH_SHA_512 the message is the 64-byte digest `D`. Panics when
/// libsodium or Python cannot run (`scripts/test.sh` installs libsodium).
pub fn libsodium_ed25519ph_verify_batch(cases: &[(Vec<u8>, Vec<u8>, Vec<u8>)]) -> Vec<bool> {
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(pk, message, sig)| {
            serde_json::json!({
                "pk": B64.encode(pk),
                "message": B64.encode(message),
                "sig": B64.encode(sig),
            })
        })
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/sodium_ed25519ph.py");
    let out = run_with_stdin(
        Command::new(python()).arg(script),
        serde_json::to_vec(&input).unwrap_or_default().as_slice(),
    );
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!("the libsodium Ed25519ph judge printed no verdicts ({e}); run scripts/test.sh")
    })
}

/// Encrypts each `(public key PEM, algorithm, plaintext)` with RSA-OAEP in Python
/// `cryptography` (MGF1 with the same hash, empty label, as KMS), one interpreter for the
/// batch. The backend must decrypt what this makes. Panics when the helper cannot run.
pub fn python_oaep_encrypt_batch(cases: &[(String, EncryptionAlgorithm, Vec<u8>)]) -> Vec<Vec<u8>> {
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(pem, alg, plaintext)| {
            serde_json::json!({"pem": pem, "alg": alg.as_str(), "plaintext": B64.encode(plaintext)})
        })
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/oaep.py");
    let out = run_with_stdin(
        Command::new(python()).arg(script),
        serde_json::to_vec(&input).unwrap_or_default().as_slice(),
    );
    let encoded: Vec<String> = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "the Python OAEP helper printed no ciphertexts ({e}); run scripts/test.sh or set KEYCHAIN_TEST_PYTHON"
        )
    });
    assert_eq!(
        encoded.len(),
        cases.len(),
        "the Python OAEP helper answered {} of {} cases",
        encoded.len(),
        cases.len()
    );
    encoded
        .iter()
        .map(|c| {
            B64.decode(c)
                .unwrap_or_else(|e| panic!("the Python OAEP helper printed bad base64: {e}"))
        })
        .collect()
}

/// ML-DSA's external μ of `message` for the public key `public_key_pem`, computed in Python:
/// `cryptography` reads the key's raw bytes, `hashlib.shake_256` (not our SHAKE) hashes
/// SHAKE256(SHAKE256(pk, 64) ‖ 0x00 ‖ 0x00 ‖ M, 64) as FIPS 204 defines it for the empty
/// context. Panics when Python cannot run.
pub fn python_ml_dsa_external_mu(public_key_pem: &str, message: &[u8]) -> Vec<u8> {
    const SCRIPT: &str = "import base64, hashlib, json, sys\n\
from cryptography.hazmat.primitives import serialization\n\
case = json.load(sys.stdin)\n\
pk = serialization.load_pem_public_key(case['pem'].encode()).public_bytes_raw()\n\
tr = hashlib.shake_256(pk).digest(64)\n\
m = base64.b64decode(case['message'])\n\
print(base64.b64encode(hashlib.shake_256(tr + b'\\x00\\x00' + m).digest(64)).decode())\n";
    let input = serde_json::json!({"pem": public_key_pem, "message": B64.encode(message)});
    let out = run_with_stdin(
        Command::new(python()).args(["-c", SCRIPT]),
        input.to_string().as_bytes(),
    );
    B64.decode(String::from_utf8_lossy(&out).trim())
        .unwrap_or_else(|e| {
            panic!("Python printed no μ ({e}); run scripts/test.sh or set KEYCHAIN_TEST_PYTHON")
        })
}

/// Asks Python `cryptography` about ML-KEM (`src/kem.py`): each case is a JSON object with
/// an `op` (`encapsulate` to a public key PEM, or `decapsulate` with a keystore's encrypted
/// key file and its password), answered in the same order, one interpreter for the batch.
/// Panics when the judge cannot run.
pub fn python_kem_batch(cases: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/kem.py");
    let out = run_with_stdin(
        Command::new(python()).arg(script),
        serde_json::to_vec(cases).unwrap_or_default().as_slice(),
    );
    let answers: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "the Python ML-KEM judge printed no answers ({e}); run scripts/test.sh or set KEYCHAIN_TEST_PYTHON"
        )
    });
    assert_eq!(
        answers.len(),
        cases.len(),
        "the ML-KEM judge answered every case"
    );
    answers
}

/// Asks Python `cryptography` about ECDH (`src/ecdh.py`): each case is a JSON object with an
/// `op` (`agree` with a public key PEM, `agree_with_key_file` with a keystore's encrypted key
/// file, its password and a peer's SPKI, or `public_key` of a fresh key of a `kind`), answered
/// in the same order, one interpreter for the batch. Panics when the judge cannot run.
pub fn python_ecdh_batch(cases: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ecdh.py");
    let out = run_with_stdin(
        Command::new(python()).arg(script),
        serde_json::to_vec(cases).unwrap_or_default().as_slice(),
    );
    let answers: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "the Python ECDH judge printed no answers ({e}); run scripts/test.sh or set KEYCHAIN_TEST_PYTHON"
        )
    });
    assert_eq!(
        answers.len(),
        cases.len(),
        "the ECDH judge answered every case"
    );
    answers
}

/// A base64 field of a judge's answer, decoded; panics naming the field when it is missing.
pub fn b64_field(answer: &serde_json::Value, field: &str) -> Vec<u8> {
    let text = answer[field]
        .as_str()
        .unwrap_or_else(|| panic!("the judge's answer has no {field}: {answer}"));
    B64.decode(text)
        .unwrap_or_else(|e| panic!("the judge's {field} is not base64: {e}"))
}

/// Runs a command with `stdin`, returns stdout; panics with stderr when it fails to run or
/// exits non-zero.
pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let Some(mut s) = child.stdin.take() {
        s.write_all(stdin)
            .unwrap_or_else(|e| panic!("writing to {cmd:?}: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Asks `openssl` whether `signature` over `message` is valid under `public_key_pem`
/// (`openssl dgst -verify` with the PSS options for PSS, `openssl pkeyutl -verify -rawin`
/// for Ed25519). Panics when openssl cannot run.
pub fn openssl_verify(
    public_key_pem: &str,
    algorithm: SigningAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let msg = dir.path().join("msg.bin");
    std::fs::write(&msg, message).unwrap_or_else(|e| panic!("writing {}: {e}", msg.display()));
    openssl_verify_file(public_key_pem, algorithm, &msg, signature)
}

/// Asks `openssl pkey` to open an encrypted PKCS#8 key file with `password` (what a keystore's
/// key files must allow, for recovery without keychain). Panics, with OpenSSL's message, when
/// it cannot.
pub fn openssl_opens_key_file(pem: &std::path::Path, password: &str) {
    let out = Command::new("openssl")
        .args([
            "pkey",
            "-noout",
            "-passin",
            &format!("pass:{password}"),
            "-in",
        ])
        .arg(pem)
        .output()
        .unwrap_or_else(|e| panic!("running openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl cannot open {}: {}",
        pem.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// [`openssl_verify`] over a file already on disk (for artifacts too large for memory).
pub fn openssl_verify_file(
    public_key_pem: &str,
    algorithm: SigningAlgorithm,
    message: &std::path::Path,
    signature: &[u8],
) -> bool {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let pem = dir.path().join("pub.pem");
    let sig = dir.path().join("sig.bin");
    for (p, b) in [(&pem, public_key_pem.as_bytes()), (&sig, signature)] {
        std::fs::write(p, b).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
    }
    let mut cmd = Command::new("openssl");
    if algorithm == SigningAlgorithm::Ed25519Sha512 {
        cmd.args(["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey"])
            .arg(&pem)
            .arg("-in")
            .arg(message)
            .arg("-sigfile")
            .arg(&sig);
    } else {
        let hash = match algorithm.hash() {
            keychain::Hash::Sha256 => "-sha256",
            keychain::Hash::Sha384 => "-sha384",
            keychain::Hash::Sha512 => "-sha512",
        };
        cmd.args(["dgst", hash, "-verify"]).arg(&pem);
        if algorithm.scheme() == keychain::SignatureScheme::RsaPss {
            cmd.args([
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ]);
        }
        cmd.arg("-signature").arg(&sig).arg(message);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}); install it (scripts/test.sh does)"));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    match out.status.success() {
        true if text.contains("Verified OK")
            || text.contains("Signature Verified Successfully") =>
        {
            true
        }
        true => panic!("openssl succeeded without saying Verified: {text}"),
        false
            if text.contains("Verification failure")
                || text.contains("Signature Verification Failure") =>
        {
            false
        }
        false => panic!("openssl could not judge the signature: {text}"),
    }
}

/// A fresh software keystore in a temporary directory (dropped with the `TempDir`).
pub fn temp_keystore() -> (tempfile::TempDir, SoftwareConfig) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config = SoftwareConfig::new(dir.path().join("keystore"))
        .password(PASSWORD)
        .kdf_iterations(ITERATIONS);
    (dir, config)
}

/// Opens [`temp_keystore`] as a backend.
pub async fn temp_software_backend() -> (tempfile::TempDir, SoftwareBackend) {
    let (dir, config) = temp_keystore();
    let backend = SoftwareBackend::open(config)
        .await
        .unwrap_or_else(|e| panic!("opening a test keystore: {e}"));
    (dir, backend)
}

/// A clock for the software backend that moves only when told to: seconds since the Unix
/// epoch in an `Arc<AtomicU64>`, shared by every clone.
#[derive(Debug, Clone)]
pub struct FakeClock {
    seconds: Arc<AtomicU64>,
}

impl FakeClock {
    /// A clock standing at the current time (whole seconds).
    pub fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1_700_000_000);
        Self::at(now)
    }

    /// A clock standing at `seconds` after the Unix epoch.
    pub fn at(seconds: u64) -> Self {
        FakeClock {
            seconds: Arc::new(AtomicU64::new(seconds)),
        }
    }

    /// The time it shows.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.seconds.load(Ordering::SeqCst))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.seconds.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    /// The [`keychain::software::Clock`] to put in a [`SoftwareConfig`].
    pub fn clock(&self) -> keychain::software::Clock {
        let seconds = self.seconds.clone();
        Arc::new(move || UNIX_EPOCH + Duration::from_secs(seconds.load(Ordering::SeqCst)))
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

/// `n` days.
pub fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// An encryption context from `(key, value)` pairs.
pub fn context(pairs: &[(&str, &str)]) -> keychain::EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
