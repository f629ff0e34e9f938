//! AWS KMS keys (LocalStack, started by the test kit): symmetric and RSA recipients round
//! trip through age, the symmetric wrap is bound to its encryption context as boto3 (another
//! AWS client) sees it, RSA encrypts without credentials, and a disabled key is refused.

use std::process::Command;

use base64::Engine;
use keychain::{KeySpec, KeyUsage};
use keychain_testkit::localstack::{REGION, localstack, named};
use serde_json::json;

use crate::support::{Setup, assert_ok, assert_refused, pattern, run, stanzas, strings_for};

/// `age` pointed at LocalStack through the recipient's URI, with test credentials and none
/// of the caller's AWS settings.
fn aws_age(setup: &Setup, credentials: bool) -> Command {
    let mut c = setup.age();
    for var in [
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        c.env_remove(var);
    }
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", setup.path("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            setup.path("no-aws-credentials"),
        );
    if credentials {
        c.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
    }
    c
}

fn unique(name: &str) -> String {
    format!(
        "{}{name}",
        keychain_testkit::conformance::unique_prefix("age")
    )
}

#[tokio::test]
async fn kms_symmetric_and_rsa_keys_round_trip() {
    let ls = localstack();
    let setup = Setup::new();
    let uri = format!("awskms://127.0.0.1:{}/?region={REGION}", ls.port());
    let backend = ls.connect().await;
    let kc = keychain::Keychain::new(backend.clone());
    let sym = unique("age-sym");
    let rsa = unique("age-rsa");
    named(
        &backend,
        &sym,
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    named(&backend, &rsa, KeySpec::Rsa2048, KeyUsage::EncryptDecrypt).await;
    for (name, credentials_to_encrypt) in [(&sym, true), (&rsa, false)] {
        let (recipient, identity) =
            strings_for(&kc, &uri, name, &setup.path(&format!("{name}.identity"))).await;
        for size in [0usize, 1, 65536] {
            let input = setup.path(&format!("{name}-{size}"));
            std::fs::write(&input, pattern(size)).unwrap_or_else(|e| panic!("{e}"));
            let sealed = setup.path(&format!("{name}-{size}.age"));
            let out = run(aws_age(&setup, credentials_to_encrypt)
                .args(["-r", &recipient, "-o"])
                .arg(&sealed)
                .arg(&input));
            assert_ok(&out, "age -e (KMS)");
            let opened = setup.path(&format!("{name}-{size}.out"));
            let out = run(aws_age(&setup, true)
                .args(["-d", "-i"])
                .arg(&identity)
                .arg("-o")
                .arg(&opened)
                .arg(&sealed));
            assert_ok(&out, "age -d (KMS)");
            assert_eq!(std::fs::read(&opened).unwrap_or_default(), pattern(size));
        }
        // Without credentials the backend cannot unwrap: a clear error, nothing written.
        let opened = setup.path(&format!("{name}.nocreds"));
        let out = run(aws_age(&setup, false)
            .args(["-d", "-i"])
            .arg(&identity)
            .arg("-o")
            .arg(&opened)
            .arg(setup.path(&format!("{name}-1.age"))));
        assert_refused(&out, &opened, &["keychain plugin"]);
    }
    // boto3 sees the symmetric wrap as a KMS ciphertext of a 16-byte file key, bound to the
    // context {"age": "keychain/v1"}: without it KMS refuses.
    let body = &stanzas(&setup.path(&format!("{sym}-1.age")))[0].1;
    let blob = base64::engine::general_purpose::STANDARD.encode(body);
    let result = ls.boto3(
        "blob = base64.b64decode(data['blob'])\n\
         ok = kms.decrypt(CiphertextBlob=blob, EncryptionContext={'age': 'keychain/v1'})\n\
         try:\n    kms.decrypt(CiphertextBlob=blob)\n    bare = 'decrypted'\n\
         except Exception as e:\n    bare = type(e).__name__\n\
         result = {'len': len(ok['Plaintext']), 'bare': bare}",
        &json!({ "blob": blob }),
    );
    assert_eq!(result["len"], 16, "{result}");
    assert_eq!(result["bare"], "InvalidCiphertextException", "{result}");
    // A disabled KMS key: the plugin reports KMS's refusal.
    ls.boto3(
        "kms.disable_key(KeyId='alias/' + data['name'])\nresult = True",
        &json!({ "name": sym }),
    );
    let identity = setup.path(&format!("{sym}.identity"));
    let opened = setup.path("disabled.out");
    let out = run(aws_age(&setup, true)
        .args(["-d", "-i"])
        .arg(&identity)
        .arg("-o")
        .arg(&opened)
        .arg(setup.path(&format!("{sym}-1.age"))));
    assert_refused(&out, &opened, &["disabled"]);
    // An RSA key pending deletion: the same, from KMS's own state.
    ls.boto3(
        "kms.schedule_key_deletion(KeyId=kms.describe_key(KeyId='alias/' + data['name'])\
         ['KeyMetadata']['KeyId'], PendingWindowInDays=7)\nresult = True",
        &json!({ "name": rsa }),
    );
    let opened = setup.path("pending.out");
    let out = run(aws_age(&setup, true)
        .args(["-d", "-i"])
        .arg(setup.path(&format!("{rsa}.identity")))
        .arg("-o")
        .arg(&opened)
        .arg(setup.path(&format!("{rsa}-1.age"))));
    assert_refused(&out, &opened, &["pending"]);
}
