//! The binary against AWS KMS (LocalStack, started by the test kit on a free port), end to
//! end: keys made with the CLI as another AWS client (boto3) sees them, keys made by boto3
//! used by alias from the CLI, and `keychain migrate` from a software keystore with its
//! proof. Signatures are judged by OpenSSL, MACs and ciphertexts by boto3.

#![cfg(feature = "aws")]

use std::fs;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::SigningAlgorithm;
use keychain_testkit::conformance::unique_prefix;
use keychain_testkit::fault_proxy::{FaultPlan, FaultProxy};
use keychain_testkit::localstack::{REGION, localstack};
use keychain_testkit::openssl_verify;
use serde_json::{Value, json};

use crate::support::{Cli, Run, arg, assert_one_error_line};

/// A test directory (with a software keystore, for migrations) and the binary pointed at
/// LocalStack with static test credentials.
pub(crate) struct Aws {
    pub(crate) cli: Cli,
    uri: String,
}

impl Aws {
    pub(crate) fn new() -> Self {
        Aws::at_port(localstack().port())
    }

    /// The binary pointed at a KMS endpoint on this loopback port (a fault proxy).
    fn at_port(port: u16) -> Self {
        Aws {
            cli: Cli::new(),
            uri: format!("awskms://127.0.0.1:{port}/?region={REGION}"),
        }
    }

    /// The binary with AWS test credentials and none of the caller's AWS settings.
    fn command(&self) -> Command {
        let mut c = self.cli.command();
        c.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.cli.path("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.cli.path("no-aws-credentials"),
            );
        for var in [
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_KMS",
        ] {
            c.env_remove(var);
        }
        c
    }

    /// Runs against KMS (`--backend URI`).
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--backend", self.uri.as_str()];
        all.extend_from_slice(args);
        self.cli.run_with(self.command(), &all)
    }

    /// Runs with any arguments (no `--backend`), AWS environment set.
    fn run_raw(&self, args: &[&str]) -> Run {
        self.cli.run_with(self.command(), args)
    }

    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code,
            0,
            "keychain {args:?} on KMS failed: {}\n{}",
            run.stderr,
            run.text()
        );
        run
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.ok(&all);
        serde_json::from_slice(&run.stdout)
            .unwrap_or_else(|e| panic!("keychain {all:?} printed no JSON ({e}): {}", run.text()))
    }

    /// `keychain migrate --from software:KS --to URI NAME [extra…]`, as a raw run.
    pub(crate) fn migrate(&self, name: &str, extra: &[&str]) -> Run {
        let from = format!("software:{}", self.cli.keystore().display());
        let mut args = vec![
            "migrate",
            "--from",
            from.as_str(),
            "--to",
            self.uri.as_str(),
        ];
        args.extend_from_slice(extra);
        args.push(name);
        self.run_raw(&args)
    }

    fn migrate_json(&self, name: &str, extra: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(extra);
        let run = self.migrate(name, &all);
        assert_eq!(
            run.code,
            0,
            "migrate {name}: {}\n{}",
            run.stderr,
            run.text()
        );
        serde_json::from_slice(&run.stdout).unwrap()
    }
}

/// boto3 (another AWS client) against the same LocalStack.
fn boto3(code: &str, input: Value) -> Value {
    localstack().boto3(code, &input)
}

/// DescribeKey by alias, as boto3 sees it.
fn boto3_describe(alias: &str) -> Value {
    boto3(
        "m = kms.describe_key(KeyId=data['alias'])['KeyMetadata']\n\
         aliases = [a['AliasName'] for a in kms.list_aliases(KeyId=m['KeyId'])['Aliases']]\n\
         result = {'KeyId': m['KeyId'], 'KeySpec': m['KeySpec'], 'KeyUsage': m['KeyUsage'], \
         'KeyState': m['KeyState'], 'Origin': m['Origin'], 'aliases': aliases}",
        json!({ "alias": alias }),
    )
}

/// The public key (DER, base64) boto3's GetPublicKey returns.
fn boto3_public_key_pem(alias: &str) -> String {
    let v = boto3(
        "result = base64.b64encode(kms.get_public_key(KeyId=data['alias'])['PublicKey']).decode()",
        json!({ "alias": alias }),
    );
    let der = B64.decode(v.as_str().unwrap()).unwrap();
    der_to_pem(&der)
}

fn der_to_pem(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// Keys made with the CLI are seen by boto3 under their alias with the exact key spec and
/// usage, enabled; boto3's public key is the one `keychain pubkey` prints; `key list` (a
/// fresh process) lists them.
#[test]
fn keys_made_with_the_cli_are_seen_by_boto3_with_alias_and_exact_spec() {
    let aws = Aws::new();
    let prefix = unique_prefix("cli-made");
    let cases = [
        ("RSA_2048", "SIGN_VERIFY"),
        ("RSA_3072", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_P256", "SIGN_VERIFY"),
        ("ECC_NIST_P384", "KEY_AGREEMENT"),
        ("ECC_NIST_P521", "SIGN_VERIFY"),
        ("ECC_SECG_P256K1", "SIGN_VERIFY"),
        ("HMAC_256", "GENERATE_VERIFY_MAC"),
        ("HMAC_512", "GENERATE_VERIFY_MAC"),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
    ];
    let mut ids = Vec::new();
    for (spec, usage) in cases {
        let name = format!("{prefix}-{}", spec.to_ascii_lowercase().replace('_', "-"));
        let made = aws.json(&["key", "create", &name, "--spec", spec, "--usage", usage]);
        assert_eq!(made["spec"], spec);
        let seen = boto3_describe(&format!("alias/{name}"));
        assert_eq!(seen["KeyId"], made["key_id"], "{spec}");
        assert_eq!(seen["KeySpec"], spec, "{spec}");
        assert_eq!(seen["KeyUsage"], usage, "{spec}");
        assert_eq!(seen["KeyState"], "Enabled", "{spec}");
        assert_eq!(seen["Origin"], "AWS_KMS", "{spec}");
        assert_eq!(seen["aliases"], json!([format!("alias/{name}")]), "{spec}");
        if !spec.starts_with("HMAC") && spec != "SYMMETRIC_DEFAULT" {
            let ours = aws.ok(&["pubkey", &name]).text();
            assert_eq!(
                ours,
                boto3_public_key_pem(&format!("alias/{name}")),
                "{spec}"
            );
        }
        ids.push(made["key_id"].as_str().unwrap().to_string());
    }
    let listed = aws.json(&["key", "list"]);
    let listed: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["key_id"].as_str())
        .collect();
    for id in &ids {
        assert!(listed.contains(&id.as_str()), "key list misses {id}");
    }
}

/// Keys made by boto3 (no keychain tags) are used by alias from the CLI: signatures OpenSSL
/// verifies with boto3's public key (ECDSA, RSA PKCS#1 and PSS), envelope and direct
/// encryption round trips (boto3 decrypts the direct ciphertext, the CLI decrypts boto3's),
/// and MACs equal to boto3's. The `awskms:?endpoint=…` URI form and KEYCHAIN_BACKEND work
/// too.
#[test]
fn keys_made_by_boto3_are_usable_by_alias_from_the_cli() {
    let aws = Aws::new();
    let prefix = unique_prefix("boto3-made");
    let made = boto3(
        "out = {}\n\
         for spec, usage in data['keys']:\n\
         \x20   k = kms.create_key(KeySpec=spec, KeyUsage=usage)['KeyMetadata']['KeyId']\n\
         \x20   kms.create_alias(AliasName='alias/' + data['prefix'] + '-' + spec.lower().replace('_', '-'), TargetKeyId=k)\n\
         \x20   out[spec] = k\n\
         result = out",
        json!({
            "prefix": prefix,
            "keys": [
                ["ECC_NIST_P256", "SIGN_VERIFY"],
                ["RSA_2048", "SIGN_VERIFY"],
                ["SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"],
                ["HMAC_256", "GENERATE_VERIFY_MAC"],
            ],
        }),
    );
    let name = |spec: &str| format!("{prefix}-{}", spec.to_ascii_lowercase().replace('_', "-"));
    let message: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let msg = aws.cli.file("message.bin", &message);

    for (spec, alg) in [
        ("ECC_NIST_P256", SigningAlgorithm::EcdsaSha256),
        ("RSA_2048", SigningAlgorithm::RsassaPkcs1V15Sha256),
        ("RSA_2048", SigningAlgorithm::RsassaPssSha256),
    ] {
        let sig = aws.cli.path(&format!("{spec}-{alg}.sig"));
        aws.ok(&[
            "sign",
            &name(spec),
            "--in",
            arg(&msg),
            "--algorithm",
            alg.as_str(),
            "--out",
            arg(&sig),
        ]);
        let pem = boto3_public_key_pem(&format!("alias/{}", name(spec)));
        assert!(
            openssl_verify(&pem, alg, &message, &fs::read(&sig).unwrap()),
            "{spec} {alg}: OpenSSL refuses the CLI's signature under boto3's public key"
        );
        aws.ok(&[
            "verify",
            &name(spec),
            "--in",
            arg(&msg),
            "--signature",
            arg(&sig),
            "--algorithm",
            alg.as_str(),
        ]);
    }
    let show = aws.json(&["key", "show", &name("ECC_NIST_P256")]);
    assert_eq!(show["key_id"], made["ECC_NIST_P256"]);

    // Envelope encryption of 100 KB under the boto3 key, through the other URI form.
    let aes = name("SYMMETRIC_DEFAULT");
    let endpoint_uri = format!(
        "awskms:?endpoint={}&region={REGION}",
        localstack().endpoint()
    );
    let sealed = aws.cli.path("sealed.kc");
    let opened = aws.cli.path("opened.bin");
    let run = aws.run_raw(&[
        "--backend",
        &endpoint_uri,
        "encrypt",
        &aes,
        "--in",
        arg(&msg),
        "--out",
        arg(&sealed),
        "--context",
        "app=test",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut env_backend = aws.command();
    env_backend.env("KEYCHAIN_BACKEND", &endpoint_uri);
    let run = aws.cli.run_with(
        env_backend,
        [
            "decrypt",
            "--in",
            arg(&sealed),
            "--out",
            arg(&opened),
            "--context",
            "app=test",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read(&opened).unwrap(), message);

    // Direct: the CLI's ciphertext is a KMS blob boto3 decrypts, and the reverse.
    let small = aws.cli.file("small.bin", b"a small secret");
    let direct = aws.cli.path("direct.bin");
    aws.ok(&[
        "encrypt",
        &aes,
        "--direct",
        "--in",
        arg(&small),
        "--out",
        arg(&direct),
        "--context",
        "app=test",
    ]);
    let by_boto3 = boto3(
        "r = kms.decrypt(CiphertextBlob=base64.b64decode(data['ct']), EncryptionContext={'app': 'test'})\n\
         result = {'pt': base64.b64encode(r['Plaintext']).decode(), 'key': r['KeyId']}",
        json!({ "ct": B64.encode(fs::read(&direct).unwrap()) }),
    );
    assert_eq!(
        B64.decode(by_boto3["pt"].as_str().unwrap()).unwrap(),
        b"a small secret"
    );
    assert!(
        by_boto3["key"]
            .as_str()
            .unwrap()
            .ends_with(made["SYMMETRIC_DEFAULT"].as_str().unwrap())
    );
    let theirs = boto3(
        "result = base64.b64encode(kms.encrypt(KeyId=data['alias'], Plaintext=b'from boto3', \
         EncryptionContext={'app': 'test'})['CiphertextBlob']).decode()",
        json!({ "alias": format!("alias/{aes}") }),
    );
    let theirs_path = aws
        .cli
        .file("theirs.bin", &B64.decode(theirs.as_str().unwrap()).unwrap());
    let out = aws.cli.path("theirs.out");
    aws.ok(&[
        "decrypt",
        "--in",
        arg(&theirs_path),
        "--out",
        arg(&out),
        "--context",
        "app=test",
    ]);
    assert_eq!(fs::read(&out).unwrap(), b"from boto3");

    // MAC: the CLI's equals boto3's GenerateMac.
    let hmac = name("HMAC_256");
    let ours = aws.json(&["mac", &hmac, "--in", arg(&small)]);
    let theirs = boto3(
        "result = base64.b64encode(kms.generate_mac(KeyId=data['alias'], Message=b'a small secret', \
         MacAlgorithm='HMAC_SHA_256')['Mac']).decode()",
        json!({ "alias": format!("alias/{hmac}") }),
    );
    assert_eq!(ours["mac"], theirs);
}

/// `keychain migrate` moves P-256, RSA-2048 and HMAC_256 software keys to KMS with the proof:
/// boto3 sees each under its alias with the exact spec and origin EXTERNAL; OpenSSL verifies a
/// signature made by the migrated KMS key with the public key exported from the software
/// keystore; KMS, boto3 and the keystore compute the same MAC; the software keys are
/// unchanged. The text report lists what was proven and what is left to do.
#[test]
fn migrate_p256_rsa2048_hmac256_with_proof() {
    let aws = Aws::new();
    let prefix = unique_prefix("cli-migrate");
    let message = b"signed by KMS after the migration".to_vec();
    let msg = aws.cli.file("msg.bin", &message);

    for (spec, algorithms, proofs) in [
        (
            "ECC_NIST_P256",
            vec![SigningAlgorithm::EcdsaSha256],
            vec!["alias", "public-key", "signature"],
        ),
        (
            "RSA_2048",
            vec![
                SigningAlgorithm::RsassaPkcs1V15Sha256,
                SigningAlgorithm::RsassaPssSha256,
            ],
            vec!["alias", "public-key", "signature", "signature"],
        ),
    ] {
        let name = format!("{prefix}-{}", spec.to_ascii_lowercase().replace('_', "-"));
        let source_id = aws.cli.create(&name, spec, &[]);
        let software_pem = aws.cli.pubkey_pem(&name);
        let report = aws.migrate_json(&name, &[]);
        assert_eq!(report["method"], "imported", "{report}");
        assert_eq!(report["alias"], format!("alias/{name}"));
        assert_eq!(report["source"]["key_id"], source_id.as_str());
        let checks: Vec<&str> = report["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["check"].as_str().unwrap())
            .collect();
        assert_eq!(checks, proofs, "{spec}");
        let seen = boto3_describe(&format!("alias/{name}"));
        assert_eq!(seen["KeyId"], report["destination"]["key_id"]);
        assert_eq!(seen["KeySpec"], spec);
        assert_eq!(seen["KeyUsage"], "SIGN_VERIFY");
        assert_eq!(seen["Origin"], "EXTERNAL");
        assert_eq!(seen["KeyState"], "Enabled");
        assert_eq!(aws.ok(&["pubkey", &name]).text(), software_pem);

        for alg in algorithms {
            let sig = aws.cli.path(&format!("{name}-{alg}.sig"));
            aws.ok(&[
                "sign",
                &name,
                "--in",
                arg(&msg),
                "--algorithm",
                alg.as_str(),
                "--out",
                arg(&sig),
            ]);
            assert!(
                openssl_verify(&software_pem, alg, &message, &fs::read(&sig).unwrap()),
                "{spec} {alg}: OpenSSL refuses the migrated key's signature under the \
                 software public key"
            );
        }
        let source = aws.cli.json(["key", "show", name.as_str()]);
        assert_eq!(source["state"], "Enabled");
        assert_eq!(source["key_id"], source_id.as_str());
    }

    // HMAC_256, with the text report.
    let hmac = format!("{prefix}-hmac-256");
    aws.cli.create(&hmac, "HMAC_256", &[]);
    let run = aws.migrate(&hmac, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = run.text();
    assert!(
        text.starts_with(&format!("migrated alias/{hmac} to AWS KMS: key ")),
        "{text}"
    );
    assert!(text.contains("proven:\n  ok  alias/"), "{text}");
    assert!(text.contains("compute the same MAC"), "{text}");
    assert!(text.contains("to do:\n  - "), "{text}");
    let seen = boto3_describe(&format!("alias/{hmac}"));
    assert_eq!(
        (&seen["KeySpec"], &seen["Origin"]),
        (&json!("HMAC_256"), &json!("EXTERNAL"))
    );
    let kms_mac = aws.json(&["mac", &hmac, "--in", arg(&msg)]);
    let software_mac = aws.cli.json(["mac", hmac.as_str(), "--in", arg(&msg)]);
    let boto3_mac = boto3(
        "result = base64.b64encode(kms.generate_mac(KeyId=data['alias'], \
         Message=base64.b64decode(data['m']), MacAlgorithm='HMAC_SHA_256')['Mac']).decode()",
        json!({ "alias": format!("alias/{hmac}"), "m": B64.encode(&message) }),
    );
    assert_eq!(kms_mac["mac"], software_mac["mac"]);
    assert_eq!(kms_mac["mac"], boto3_mac);
}

/// What `migrate` refuses, each with its exit code and nothing left in KMS: a name taken
/// (9), a disabled source (6), an unknown one (3), backends the wrong way round (4), and an
/// import KMS will not do (LocalStack has no Ed25519: 4, offering --generate). Then
/// `--generate` switches a P-384 key to a fresh KMS key and says what to re-sign, and a
/// symmetric key is imported with the honest note about opaque ciphertexts.
#[test]
fn migrate_refusals_generate_and_symmetric() {
    let aws = Aws::new();
    let prefix = unique_prefix("cli-migrate-edge");
    let no_alias = |name: &str| {
        boto3(
            "result = any(a['AliasName'] == data['alias'] for p in \
             kms.get_paginator('list_aliases').paginate() for a in p['Aliases'])",
            json!({ "alias": format!("alias/{name}") }),
        ) == json!(false)
    };

    let twice = format!("{prefix}-twice");
    aws.cli.create(&twice, "p256", &[]);
    aws.migrate_json(&twice, &[]);
    let run = aws.migrate(&twice, &[]);
    assert_one_error_line(&run, 9, "migrate twice");
    assert!(
        run.stderr.contains("never replaces a key"),
        "{}",
        run.stderr
    );

    let disabled = format!("{prefix}-disabled");
    aws.cli.create(&disabled, "p256", &[]);
    aws.cli.ok(["key", "disable", disabled.as_str()]);
    assert_one_error_line(&aws.migrate(&disabled, &[]), 6, "migrate a disabled key");
    assert!(no_alias(&disabled));

    assert_one_error_line(&aws.migrate(&format!("{prefix}-none"), &[]), 3, "unknown");
    let ks = format!("software:{}", aws.cli.keystore().display());
    let wrong_way = aws.run_raw(&["migrate", "--from", &aws.uri, "--to", &ks, &twice]);
    assert_one_error_line(&wrong_way, 4, "migrate from KMS");
    let wrong_to = aws.run_raw(&["migrate", "--from", &ks, "--to", &ks, &twice]);
    assert_one_error_line(&wrong_to, 4, "migrate to software");

    // KNOWN GAP (LocalStack): no ECC_NIST_EDWARDS25519 keys, so the import is refused; AWS
    // KMS imports Ed25519. The refusal offers generate-and-switch and leaves no alias.
    let ed = format!("{prefix}-ed25519");
    aws.cli.create(&ed, "ed25519", &[]);
    // -q: the audit warning (the material left the keystore before KMS refused it) is
    // tested elsewhere; here only the error line.
    let run = aws.migrate(&ed, &["-q"]);
    assert_one_error_line(&run, 4, "migrate Ed25519 to LocalStack");
    assert!(
        run.stderr.contains("ECC_NIST_EDWARDS25519"),
        "KNOWN GAP changed: {}",
        run.stderr
    );
    assert!(run.stderr.contains("--generate"), "{}", run.stderr);
    assert!(no_alias(&ed));

    let generated = format!("{prefix}-gen");
    aws.cli.create(&generated, "p384", &[]);
    let software_pem = aws.cli.pubkey_pem(&generated);
    let report = aws.migrate_json(&generated, &["--generate", "--description", "switched"]);
    assert_eq!(report["method"], "generated");
    assert_eq!(report["destination"]["spec"], "ECC_NIST_P384");
    assert_eq!(report["destination"]["description"], "switched");
    let todo = report["follow_up"].to_string();
    assert!(todo.contains("re-sign"), "{todo}");
    let seen = boto3_describe(&format!("alias/{generated}"));
    assert_eq!(seen["Origin"], "AWS_KMS");
    assert_ne!(aws.ok(&["pubkey", &generated]).text(), software_pem);

    let aes = format!("{prefix}-aes");
    aws.cli.create(&aes, "SYMMETRIC_DEFAULT", &[]);
    let report = aws.migrate_json(&aes, &[]);
    assert_eq!(report["method"], "imported");
    assert_eq!(report["proofs"][1]["check"], "round-trip");
    assert!(
        report["notes"].to_string().contains("cannot be observed"),
        "{report}"
    );
    assert!(
        report["follow_up"]
            .to_string()
            .contains("encrypt them again"),
        "{report}"
    );
    assert_eq!(
        boto3_describe(&format!("alias/{aes}"))["Origin"],
        "EXTERNAL"
    );
}

/// `sign --digest HEX --encoding raw --json` costs one DescribeKey and one Sign, counted by
/// the fault proxy between the binary and LocalStack: the algorithm for the digest, the curve
/// for the raw encoding and the key id for the JSON all come from the one DescribeKey (the
/// key id travels with the signature, `Signed::key_id`). KMS's Verify judges the signature.
#[test]
fn signing_a_digest_as_raw_json_costs_one_describe_key_and_one_sign() {
    let aws = Aws::new();
    let name = format!("{}-p256", unique_prefix("cli-trips"));
    let made = aws.json(&["key", "create", &name, "--spec", "ECC_NIST_P256"]);
    let proxy = FaultProxy::start(localstack().endpoint(), 0x51, FaultPlan::none());
    let uri = format!("awskms:?endpoint={}&region={REGION}", proxy.endpoint());
    let digest = "a".repeat(64);
    let run = aws.run_raw(&[
        "--backend",
        &uri,
        "--json",
        "sign",
        &name,
        "--digest",
        &digest,
        "--encoding",
        "raw",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stderr, run.text());
    let out: Value = serde_json::from_slice(&run.stdout).unwrap();
    let stats = proxy.stats();
    assert_eq!(stats.requests_of("DescribeKey"), 1, "{stats}");
    assert_eq!(stats.requests_of("Sign"), 1, "{stats}");
    assert_eq!(stats.requests(), 2, "nothing else is asked: {stats}");
    assert_eq!(out["key_id"], made["key_id"], "{out}");
    assert_eq!(out["algorithm"], "ECDSA_SHA_256", "{out}");
    assert_eq!(out["encoding"], "raw", "{out}");
    let raw = B64.decode(out["signature"].as_str().unwrap()).unwrap();
    assert_eq!(raw.len(), 64, "r‖s of P-256");
    let valid = boto3(
        r#"
raw = base64.b64decode(data['signature'])
half = len(raw) // 2
def der_int(b):
    b = b.lstrip(b'\x00') or b'\x00'
    if b[0] & 0x80:
        b = b'\x00' + b
    return b'\x02' + bytes([len(b)]) + b
body = der_int(raw[:half]) + der_int(raw[half:])
der = b'\x30' + bytes([len(body)]) + body
result = kms.verify(KeyId=data['alias'], Message=bytes.fromhex(data['digest']),
                    MessageType='DIGEST', Signature=der,
                    SigningAlgorithm='ECDSA_SHA_256')['SignatureValid']
"#,
        json!({
            "alias": format!("alias/{name}"),
            "digest": digest,
            "signature": out["signature"],
        }),
    );
    assert_eq!(valid, json!(true), "KMS refuses the raw signature");
}

/// Logs go to stderr only, at the level asked, and never with a secret: `-vvv` shows the AWS
/// SDK's request trace on stderr while stdout stays one JSON object; neither stream holds the
/// AWS secret key or the keystore password. By default a migration's audit warning (plaintext
/// key material left the keystore) is shown; `-q` hides it.
#[test]
fn logs_go_to_stderr_at_the_level_asked_and_never_hold_a_secret() {
    let aws = Aws::new();
    let secret = "kcSECRETkeyNEVERlogged0123456789abcdefgh";
    let mut cmd = aws.command();
    cmd.env("AWS_SECRET_ACCESS_KEY", secret);
    let run = aws.cli.run_with(
        cmd,
        [
            "--backend",
            aws.uri.as_str(),
            "-vvv",
            "--json",
            "key",
            "list",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", run.text()));
    assert!(v.is_object());
    assert!(
        run.stderr.contains("TrentService.ListKeys"),
        "-vvv shows the SDK's requests: {}",
        run.stderr
    );
    for (what, text) in [("stderr", run.stderr.as_str()), ("stdout", &run.text())] {
        assert!(!text.contains(secret), "the AWS secret key is in {what}");
        assert!(
            !text.contains(crate::support::PASSWORD),
            "the password is in {what}"
        );
    }
    // Without -v, nothing but results.
    let quiet = aws.run(&["--json", "key", "list"]);
    assert_eq!(quiet.stderr, "", "no log lines by default");

    // A migration's audit warning shows by default and not with -q.
    let prefix = unique_prefix("cli-log");
    let name = format!("{prefix}-audit");
    aws.cli.create(&name, "p256", &[]);
    let run = aws.migrate(&name, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("plaintext key material exported"),
        "the audit warning: {}",
        run.stderr
    );
    assert!(!run.stderr.contains(crate::support::PASSWORD));
    let name = format!("{prefix}-quiet");
    aws.cli.create(&name, "p256", &[]);
    let run = aws.migrate(&name, &["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "", "-q: no warnings");
}

/// `--region`, `--profile` and `--endpoint-url` win as the aws CLI's do: over the backend
/// URI's values, `AWS_REGION`, `AWS_PROFILE` and the profile's region. LocalStack keeps keys
/// per region, so a key's ARN says which region a command really used.
#[test]
fn aws_cli_style_options_take_precedence() {
    let aws = Aws::new();
    let ls = localstack();
    let live = format!("http://127.0.0.1:{}", ls.port());
    let prefix = unique_prefix("cli-awsopts");
    let region_of = |run: &Run| -> String {
        assert_eq!(run.code, 0, "{}", run.stderr);
        let v: Value = serde_json::from_slice(&run.stdout).unwrap();
        let arn = v["arn"].as_str().unwrap_or_else(|| panic!("no arn: {v}"));
        arn.split(':').nth(3).unwrap().to_string()
    };

    // --endpoint-url over the URI's dead endpoint; --region over the URI's and AWS_REGION.
    let mut cmd = aws.command();
    cmd.env("AWS_REGION", "ap-south-1");
    let name = format!("{prefix}-region");
    let run = aws.cli.run_with(
        cmd,
        [
            "--backend",
            "awskms://127.0.0.1:1/?region=us-east-1",
            "--endpoint-url",
            &live,
            "--region",
            "eu-west-2",
            "--json",
            "key",
            "create",
            &name,
            "--spec",
            "p256",
        ],
    );
    assert_eq!(region_of(&run), "eu-west-2");

    // --profile over AWS_PROFILE: the profile's region is used (no region anywhere else).
    let config = aws.cli.file(
        "aws-config",
        b"[profile other]\nregion = us-west-1\n[profile kc]\nregion = sa-east-1\n",
    );
    let mut cmd = aws.command();
    cmd.env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "other");
    let name = format!("{prefix}-profile");
    let run = aws.cli.run_with(
        cmd,
        [
            "--backend",
            "awskms",
            "--endpoint-url",
            &live,
            "--profile",
            "kc",
            "--json",
            "key",
            "create",
            &name,
            "--spec",
            "p256",
        ],
    );
    assert_eq!(region_of(&run), "sa-east-1");

    // Bad values and the options on a software keystore: one line, exit 4.
    for args in [
        vec![
            "--backend",
            "awskms",
            "--region",
            "us east 1",
            "key",
            "list",
        ],
        vec![
            "--backend",
            "awskms",
            "--endpoint-url",
            "ftp://x",
            "key",
            "list",
        ],
        vec![
            "--backend",
            "awskms",
            "--endpoint-url",
            "http://h/path?token=1",
            "key",
            "list",
        ],
        vec!["--backend", "awskms", "--profile", "a\nb", "key", "list"],
    ] {
        let run = aws.run_raw(&args);
        assert_one_error_line(&run, 4, &format!("{args:?}"));
        assert!(!run.stderr.contains("token=1"), "{}", run.stderr);
    }
    let run = aws.cli.run(["--region", "eu-west-1", "key", "list"]);
    assert_one_error_line(&run, 4, "--region on a software keystore");
    assert!(run.stderr.contains("AWS KMS"), "{}", run.stderr);
}

/// `keychain sign` of an ML-DSA file over KMS's 4096-byte limit sends the file's 64-byte
/// external μ (`EXTERNAL_MU`), computed locally in one pass, and says so in a note. KMS here
/// is the fault proxy answering DescribeKey, GetPublicKey and Sign for an ML-DSA-65 key
/// (LocalStack has none) whose private half is a software key: Python computes the μ the
/// request must carry, and Python `cryptography` verifies the signature over the file.
#[test]
fn sign_sends_the_external_mu_of_a_large_ml_dsa_file() {
    use keychain_testkit::fault_proxy::{Canned, FaultPlan, FaultProxy};
    let proxy = FaultProxy::start(localstack().endpoint(), 9, FaultPlan::none());
    let aws = Aws::at_port(proxy.port());
    let cli = &aws.cli;
    cli.create("holder", "ML_DSA_65", &[]);
    let pem = cli.pubkey_pem("holder");
    let der = cli.ok(["pubkey", "holder", "--format", "der"]).stdout;
    let message: Vec<u8> = (0..50_000u32).map(|i| (i % 249) as u8).collect();
    let file = cli.file("big.bin", &message);
    let by_holder = cli.path("holder.sig");
    cli.ok([
        "sign",
        "holder",
        "--in",
        arg(&file),
        "--out",
        arg(&by_holder),
    ]);
    let by_holder = fs::read(&by_holder).unwrap();

    let key_id = "0b6c3f0e-5d2a-4c1b-9e8f-7a6b5c4d3e2f";
    let arn = format!("arn:aws:kms:{REGION}:000000000000:key/{key_id}");
    proxy.script(
        "DescribeKey",
        [Canned::ok(json!({"KeyMetadata": {
            "KeyId": key_id, "Arn": arn, "Enabled": true, "KeyState": "Enabled",
            "KeyUsage": "SIGN_VERIFY", "KeySpec": "ML_DSA_65", "Origin": "AWS_KMS",
            "CreationDate": 1_800_000_000.0, "SigningAlgorithms": ["ML_DSA_SHAKE_256"]
        }}))],
    );
    proxy.script(
        "GetPublicKey",
        [Canned::ok(json!({
            "KeyId": arn, "PublicKey": B64.encode(&der), "KeySpec": "ML_DSA_65",
            "KeyUsage": "SIGN_VERIFY", "SigningAlgorithms": ["ML_DSA_SHAKE_256"]
        }))],
    );
    proxy.script(
        "Sign",
        [Canned::ok(json!({
            "KeyId": arn, "Signature": B64.encode(&by_holder),
            "SigningAlgorithm": "ML_DSA_SHAKE_256"
        }))],
    );
    let out = cli.path("kms.sig");
    let run = aws.ok(&[
        "sign",
        "alias/pq-signer",
        "--in",
        arg(&file),
        "--out",
        arg(&out),
    ]);
    assert!(
        run.stderr.contains("external μ"),
        "the note: {}",
        run.stderr
    );
    let request: Value = serde_json::from_str(&proxy.last_body("Sign").unwrap()).unwrap();
    assert_eq!(request["MessageType"], "EXTERNAL_MU", "{request}");
    assert_eq!(
        request["Message"],
        B64.encode(keychain_testkit::python_ml_dsa_external_mu(&pem, &message)),
        "the μ sent is the file's, as Python computes it"
    );
    let verdicts = keychain_testkit::python_verify_batch(&[keychain_testkit::SignatureCase {
        public_key_pem: pem,
        algorithm: SigningAlgorithm::MlDsaShake256,
        data: message,
        prehashed: false,
        signature: fs::read(&out).unwrap(),
    }]);
    assert_eq!(
        verdicts,
        [true],
        "Python cryptography verifies the file's signature"
    );
}

/// An AWS KMS endpoint that cannot be reached is one readable line (exit 16): what failed and
/// why, without the SDK's Debug dump of its error structure.
#[test]
fn an_unreachable_endpoint_is_one_readable_line() {
    let cli = Cli::new();
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let mut cmd = cli.command();
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    let uri = format!("awskms://127.0.0.1:{port}/?region=us-east-1");
    let run = cli.run_with(cmd, ["--backend", &uri, "key", "list"]);
    assert_one_error_line(&run, 16, "key list against a closed port");
    assert!(
        run.stderr.contains("could not reach AWS KMS: ")
            && run.stderr.contains("onnection refused"),
        "{}",
        run.stderr
    );
    for dump in ["DispatchFailure {", "ConnectorError", "Os {"] {
        assert!(!run.stderr.contains(dump), "{}", run.stderr);
    }
}
