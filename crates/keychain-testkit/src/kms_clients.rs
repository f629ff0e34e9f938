//! Clients that are not ours, driving a KMS endpoint: the scripts of `kms_clients/` (boto3, the
//! AWS CLI, raw requests signed by botocore) run by the judge venv's Python, each printing a
//! JSON report. The endpoint is any KMS: LocalStack now, `keychain serve` too.
//!
//! - `session_boto3.py`: a scripted session over every spec given, every signature judged by
//!   Python `cryptography` or PyCryptodome, data keys by AES-GCM, imports by our own copy of the
//!   key material;
//! - `session_awscli.py`: a smaller session through the `aws` command, signatures judged by
//!   `openssl`;
//! - `differential.py`: good and bad requests against one or two endpoints, each compared with
//!   the KMS API reference and with the other endpoint;
//! - `sigv4_attacks.py`: damaged SigV4 signatures, compared with KMS's refusals.
//!
//! A known gap of an endpoint is passed to the script, which asserts it (the step must fail
//! exactly so); a gap that disappears fails the run.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The KeySpecs LocalStack 2026.3 creates (no Ed25519, ML-DSA or ML-KEM).
pub const LOCALSTACK_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
];

/// Every KeySpec AWS KMS has outside China (no SM2).
pub const ALL_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
];

/// A step of a session an endpoint is known to fail: the step's name, and text its error must
/// contain.
pub type Gap = (&'static str, &'static str);

const HOW_TO_INSTALL: &str = "the judge venv lacks boto3 or awscli: run scripts/test.sh (it \
     installs them), or `$KEYCHAIN_TEST_PYTHON -m pip install boto3 awscli`";

/// The directory of the client scripts.
pub fn scripts_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/kms_clients"))
}

/// The judge venv's interpreter, checked to have boto3, the AWS CLI (`aws` next to it),
/// `cryptography` with ML-DSA and PyCryptodome; panics with the install command otherwise.
pub fn clients_python() -> PathBuf {
    let python = crate::python();
    let ok = Command::new(&python)
        .args([
            "-c",
            "import os, sys, boto3, awscli, Crypto\n\
             from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem\n\
             assert os.path.exists(os.path.join(os.path.dirname(sys.executable), 'aws'))",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        panic!("{HOW_TO_INSTALL} (interpreter: {})", python.display());
    }
    python
}

/// What a client script reported.
#[derive(Debug)]
pub struct Report {
    /// Whether the script exited 0 (every step passed or failed exactly at its known gap).
    pub passed: bool,
    /// The JSON report it printed.
    pub json: serde_json::Value,
    /// What it printed on stderr (the failed steps).
    pub stderr: String,
}

impl Report {
    /// Panics, with the failed steps, unless the run passed.
    pub fn assert_passed(&self, what: &str) {
        assert!(
            self.passed,
            "{what} failed:\n{}\nreport: {}",
            self.stderr,
            serde_json::to_string_pretty(&self.json).unwrap_or_default()
        );
    }

    /// The number of records whose `outcome` is `outcome` in the list `field`.
    pub fn count(&self, field: &str, outcome: &str) -> usize {
        self.json[field]
            .as_array()
            .map(|a| a.iter().filter(|s| s["outcome"] == outcome).count())
            .unwrap_or(0)
    }
}

/// Runs `script` of [`scripts_dir`] with `args`; the report is its stdout (JSON).
pub fn run_script(script: &str, args: &[String]) -> Report {
    let python = clients_python();
    let path: PathBuf = scripts_dir().join(script);
    let out = Command::new(&python)
        .arg(&path)
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} {}: {e}", python.display(), path.display()));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON report ({e}); exit {:?}, stderr:\n{stderr}",
            out.status.code()
        )
    });
    Report {
        passed: out.status.success(),
        json,
        stderr,
    }
}

fn gap_args(gaps: &[Gap]) -> Vec<String> {
    gaps.iter()
        .flat_map(|(step, text)| ["--gap".to_string(), format!("{step}={text}")])
        .collect()
}

/// The boto3 session against `endpoint` over `specs`, with the endpoint's known gaps.
/// `keys_only` runs only the steps of each spec's keys.
pub fn boto3_session(endpoint: &str, specs: &[&str], gaps: &[Gap], keys_only: bool) -> Report {
    let mut args = vec![
        "--endpoint-url".to_string(),
        endpoint.to_string(),
        "--specs".to_string(),
        specs.join(","),
    ];
    if keys_only {
        args.push("--keys-only".to_string());
    }
    args.extend(gap_args(gaps));
    run_script("session_boto3.py", &args)
}

/// The AWS CLI session against `endpoint` (Ed25519 too when `specs` has it).
pub fn awscli_session(endpoint: &str, specs: &[&str], gaps: &[Gap]) -> Report {
    let mut args = vec![
        "--endpoint-url".to_string(),
        endpoint.to_string(),
        "--specs".to_string(),
        specs.join(","),
    ];
    args.extend(gap_args(gaps));
    run_script("session_awscli.py", &args)
}

/// The SigV4 attacks against `endpoint` with the `test`/`test` credentials; `gaps` are
/// `(attack, "STATUS/TYPE")` the endpoint answers instead of KMS's refusal.
pub fn sigv4_attacks(endpoint: &str, gaps: &[Gap]) -> Report {
    sigv4_attacks_with(endpoint, &[], gaps)
}

/// [`sigv4_attacks`] with more options of the script: `--access-key`, `--secret-key`,
/// `--account ID` (a created key's ARN must name it), `--refuse-test-credentials`.
pub fn sigv4_attacks_with(endpoint: &str, options: &[&str], gaps: &[Gap]) -> Report {
    let mut args = vec!["--endpoint-url".to_string(), endpoint.to_string()];
    args.extend(options.iter().map(|o| o.to_string()));
    args.extend(gap_args(gaps));
    run_script("sigv4_attacks.py", &args)
}

/// The differential run over `endpoints` (`(name, url)`, one or two); `deviations` are the
/// `NAME:CASE` known to differ from the API reference.
pub fn differential(endpoints: &[(&str, &str)], deviations: &[String]) -> Report {
    let mut args = Vec::new();
    for (name, url) in endpoints {
        args.push("--endpoint".to_string());
        args.push(format!("{name}={url}"));
    }
    for d in deviations {
        args.push("--deviation".to_string());
        args.push(d.clone());
    }
    run_script("differential.py", &args)
}

/// The cases of the differential where LocalStack 2026.3 answers otherwise than the KMS API
/// reference documents (measured; the reasons are in docs/SERVER.md).
pub const LOCALSTACK_DEVIATIONS: &[&str] = &[
    "bad/plaintext-empty",
    "bad/sign-algorithm-of-another-spec",
    "bad/enum-KeyUsage",
    "bad/enum-MessageType",
    "bad/missing-Plaintext",
    "bad/missing-KeyId",
    "bad/alias-reserved-aws",
    "bad/Plaintext-not-base64",
    "bad/field-of-wrong-type",
    "bad/malformed-json",
    "bad/json-array",
    "bad/unknown-target",
    "bad/derive-with-disabled-key",
    "bad/policy-not-json",
    "bad/policy-over-32-KiB",
    "bad/enum-grant-Operations",
    "bad/ListGrants-Limit-101",
    "bad/retire-garbage-token",
    "bad/enum-WrappingAlgorithm",
    "bad/import-token-unknown",
];

/// [`LOCALSTACK_DEVIATIONS`] as `--deviation` values for the endpoint named `name`.
pub fn localstack_deviations(name: &str) -> Vec<String> {
    LOCALSTACK_DEVIATIONS
        .iter()
        .map(|case| format!("{name}:{case}"))
        .collect()
}

/// The boto3 session's steps LocalStack 2026.3 fails, with the error each must show.
pub const LOCALSTACK_SESSION_GAPS: &[Gap] = &[
    // A standard RSAES_OAEP_SHA_1 ciphertext (made by `cryptography`) is refused.
    (
        "decrypt-outside-ciphertext/RSA_2048/RSAES_OAEP_SHA_1",
        "InternalError",
    ),
    (
        "decrypt-outside-ciphertext/RSA_3072/RSAES_OAEP_SHA_1",
        "InternalError",
    ),
    (
        "decrypt-outside-ciphertext/RSA_4096/RSAES_OAEP_SHA_1",
        "InternalError",
    ),
    // Encrypt under an RSA key gives a 132-byte blob whatever the key size: not RSA-OAEP.
    (
        "encrypt-decrypt/RSA_2048/RSAES_OAEP_SHA_1",
        "not RSA-OAEP: a 132-byte ciphertext",
    ),
    (
        "encrypt-decrypt/RSA_2048/RSAES_OAEP_SHA_256",
        "not RSA-OAEP: a 132-byte ciphertext",
    ),
    (
        "encrypt-decrypt/RSA_3072/RSAES_OAEP_SHA_1",
        "not RSA-OAEP: a 132-byte ciphertext",
    ),
    (
        "encrypt-decrypt/RSA_3072/RSAES_OAEP_SHA_256",
        "not RSA-OAEP: a 132-byte ciphertext",
    ),
    (
        "encrypt-decrypt/RSA_4096/RSAES_OAEP_SHA_1",
        "not RSA-OAEP: a 132-byte ciphertext",
    ),
    (
        "encrypt-decrypt/RSA_4096/RSAES_OAEP_SHA_256",
        "not RSA-OAEP: a 132-byte ciphertext",
    ),
    // Encrypt's answer lacks EncryptionAlgorithm.
    (
        "encrypt-decrypt/SYMMETRIC_DEFAULT/algorithm-in-answer",
        "Encrypt answered EncryptionAlgorithm None",
    ),
    // ReEncrypt without SourceKeyId: HTTP 500.
    ("re-encrypt", "InternalError"),
    // GenerateDataKey ignores KeySpec AES_128 and NumberOfBytes: always 32 bytes.
    ("generate-data-key/AES_128", "a 32-byte AES_128 data key"),
    ("generate-data-key/NumberOfBytes", "judge: 32 bytes"),
    // EnableKeyRotation accepts RotationPeriodInDays 2561 (KMS: 90-2560).
    (
        "rotation/period-out-of-range",
        "expected ValidationException, the request succeeded",
    ),
    // ListKeyRotations is not implemented (501).
    ("rotation/list", "InternalFailure"),
    // Material imported with KEY_MATERIAL_EXPIRES: DescribeKey has no ValidTo.
    ("import/expires", "KeyError: 'ValidTo'"),
    // ValidTo 400 days ahead is accepted (KMS: at most 365 days from the request).
    (
        "import/expires-over-365-days",
        "expected ValidationException, the request succeeded",
    ),
    // Decrypt under a key whose imported material was deleted: HTTP 500 (a Python TypeError)
    // where the key state table has KMSInvalidStateException.
    ("import/delete-and-reimport", "InternalError"),
    // Material of another key imported into a key that had some: refused as "pending
    // rotation" (KMSInvalidStateException), not IncorrectKeyMaterialException.
    ("import/other-material-refused", "KMSInvalidStateException"),
    // An import token is not bound to the key it was issued for.
    (
        "import/token-of-another-key",
        "expected InvalidImportTokenException, the request succeeded",
    ),
    // PutKeyPolicy checks neither the policy document nor the 32 KiB quota.
    (
        "policy/malformed",
        "expected MalformedPolicyDocumentException, the request succeeded",
    ),
    (
        "policy/over-32-KiB",
        "expected LimitExceededException, the request succeeded",
    ),
    // CreateGrant allows Sign on a symmetric encryption key.
    (
        "grants/operation-of-another-key-type",
        "expected ValidationException, the request succeeded",
    ),
];

/// The SigV4 attacks as LocalStack answers them: it checks no signature, so every damaged
/// request is served (a 500 for a scope naming another service, which it routes there).
pub const LOCALSTACK_SIGV4_GAPS: &[Gap] = &[
    ("wrong-secret", "200/None"),
    ("unknown-access-key", "200/None"),
    ("signature-bytes-changed", "200/None"),
    ("scope-region-altered", "200/None"),
    ("scope-other-region", "200/None"),
    ("scope-invalid-region", "200/None"),
    ("scope-other-service", "500/None"),
    ("stale-date-16-min", "200/None"),
    ("future-date-16-min", "200/None"),
    ("tampered-body", "200/None"),
    ("tampered-target", "200/None"),
    ("missing-authorization", "200/None"),
    ("missing-x-amz-date", "200/None"),
    ("authorization-without-signed-headers", "200/None"),
];
