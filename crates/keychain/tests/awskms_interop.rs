//! The AWS KMS backend and the rest of the world, on LocalStack: KMS is the only state, so a
//! fresh backend (a new process) and any other AWS client see the same keys, by alias, with
//! their exact key spec; `Keychain::open` with every backend URI form and the default
//! credential chain; a lost race for a name leaves no silent orphan.

#![cfg(feature = "aws")]

use std::process::Command;

use keychain::awskms::{AwsKmsBackend, NAME_TAG};
use keychain::{
    Backend, CreateKeyRequest, Error, Hash, KeyRef, KeySpec, KeyUsage, Keychain, Message,
    PageRequest, PublicKey, SigningAlgorithm,
};
use keychain_testkit::conformance::{Must, unique_prefix};
use keychain_testkit::localstack::{REGION, localstack};
use serde_json::json;

async fn backend() -> AwsKmsBackend {
    localstack().connect().await
}

/// A key made by one backend instance is found by name by a brand-new one (new client, empty
/// cache, as a new process would be), listed with its name, and signs there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_backend_sees_keys_by_name() {
    let name = unique_prefix("fresh");
    let first = backend().await;
    let created = first
        .create_key(
            &CreateKeyRequest::new(KeySpec::EccNistP384)
                .name(&name)
                .description("made by the first process")
                .tag("team", "crypto"),
        )
        .await
        .must("create");
    first.close().await.must("close");
    drop(first);

    let second = Keychain::new(backend().await);
    let info = second.describe(&name).await.must("describe by name");
    assert_eq!(info.key_id, created.key_id);
    assert_eq!(info.name.as_deref(), Some(name.as_str()));
    assert_eq!(info.spec, KeySpec::EccNistP384);
    assert_eq!(info.description, "made by the first process");
    assert_eq!(info.tags.get("team").map(String::as_str), Some("crypto"));
    let digest = Hash::Sha384.digest(b"second process");
    let sig = second
        .sign(&name, &digest, Hash::Sha384)
        .await
        .must("sign by name");
    assert!(
        second
            .verify(
                &name,
                Message::Digest(&digest),
                &sig,
                SigningAlgorithm::EcdsaSha384
            )
            .await
            .must("verify")
    );
    let mut page = PageRequest {
        limit: Some(50),
        marker: None,
    };
    let mut listed = None;
    loop {
        let p = second.backend().list_keys(&page).await.must("list");
        if let Some(k) = p.items.into_iter().find(|k| k.key_id == created.key_id) {
            listed = Some(k);
        }
        match p.next_marker {
            Some(m) => page.marker = Some(m),
            None => break,
        }
    }
    let listed = listed.unwrap_or_else(|| panic!("{name} is not listed"));
    assert_eq!(listed.name.as_deref(), Some(name.as_str()));
    assert_eq!(listed.aliases, vec![format!("alias/{name}")]);
}

/// Keys made by the raw SDK client and by boto3 (an independent AWS client) are usable by
/// alias through the backend, with their exact key spec; keys made by the backend are seen by
/// boto3 with their alias, spec, usage, description and name tag, and boto3 signs with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_aws_clients_and_the_backend_share_keys() {
    let b = backend().await;
    let prefix = unique_prefix("interop");
    let ls = localstack();

    // The raw SDK client makes an RSA-3072 signing key and its alias.
    let raw = b.client();
    let made = raw
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::Rsa3072)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .must_sdk("raw CreateKey");
    let raw_id = made
        .key_metadata()
        .map(|m| m.key_id().to_string())
        .unwrap_or_default();
    let raw_alias = format!("{prefix}-raw");
    raw.create_alias()
        .alias_name(format!("alias/{raw_alias}"))
        .target_key_id(&raw_id)
        .send()
        .await
        .must_sdk("raw CreateAlias");

    // boto3 makes a P-521 key and an HMAC key with aliases.
    let by_boto = ls.boto3(
        r#"
out = {}
for name, spec, usage in data:
    k = kms.create_key(KeySpec=spec, KeyUsage=usage)['KeyMetadata']['KeyId']
    kms.create_alias(AliasName='alias/' + name, TargetKeyId=k)
    out[name] = k
result = out
"#,
        &json!([
            [format!("{prefix}-boto-ec"), "ECC_NIST_P521", "SIGN_VERIFY"],
            [
                format!("{prefix}-boto-mac"),
                "HMAC_384",
                "GENERATE_VERIFY_MAC"
            ],
        ]),
    );

    let kc = Keychain::new(b.clone());
    for (alias, spec) in [
        (raw_alias.clone(), KeySpec::Rsa3072),
        (format!("{prefix}-boto-ec"), KeySpec::EccNistP521),
    ] {
        let info = kc.describe(&alias).await.must("describe a foreign key");
        assert_eq!(info.spec, spec, "{alias}");
        assert_eq!(
            info.name.as_deref(),
            Some(alias.as_str()),
            "{alias}: the only alias is its name"
        );
        let hash = if spec == KeySpec::EccNistP521 {
            Hash::Sha512
        } else {
            Hash::Sha256
        };
        let digest = hash.digest(b"foreign key");
        let sig = kc
            .sign(&alias, &digest, hash)
            .await
            .must("sign with a foreign key");
        let alg = info.spec.signing_algorithm_for_hash(hash).must("alg");
        assert!(
            kc.verify(&alias, Message::Digest(&digest), &sig, alg)
                .await
                .must("verify")
        );
    }
    let mac_alias = format!("{prefix}-boto-mac");
    let mac_key = KeyRef::parse(&mac_alias).must("ref");
    let mac = b
        .generate_mac(&mac_key, b"m", keychain::MacAlgorithm::HmacSha384)
        .await
        .must("MAC with boto3's key");
    assert_eq!(mac.len(), 48);
    assert!(by_boto[&mac_alias].is_string());

    // The other way round: every spec we make, boto3 sees exactly.
    let mut ours = Vec::new();
    for (spec, usage) in [
        (KeySpec::Rsa2048, KeyUsage::EncryptDecrypt),
        (KeySpec::Rsa4096, KeyUsage::SignVerify),
        (KeySpec::EccNistP256, KeyUsage::KeyAgreement),
        (KeySpec::EccSecgP256k1, KeyUsage::SignVerify),
        (KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt),
        (KeySpec::Hmac224, KeyUsage::GenerateVerifyMac),
        (KeySpec::Hmac512, KeyUsage::GenerateVerifyMac),
    ] {
        let name = format!("{prefix}-ours-{}", spec.as_str().to_ascii_lowercase());
        b.create_key(
            &CreateKeyRequest::new(spec)
                .name(&name)
                .usage(usage)
                .description("made by keychain"),
        )
        .await
        .must("create");
        ours.push(json!([name, spec.as_str(), usage.as_str()]));
    }
    let seen = ls.boto3(
        r#"
result = []
for name, spec, usage in data:
    m = kms.describe_key(KeyId='alias/' + name)['KeyMetadata']
    tags = {t['TagKey']: t['TagValue'] for t in kms.list_resource_tags(KeyId=m['KeyId'])['Tags']}
    aliases = [a['AliasName'] for a in kms.list_aliases(KeyId=m['KeyId'])['Aliases']]
    result.append([name, m['KeySpec'], m['KeyUsage'], m['Description'], tags.get('keychain:name'), aliases])
"#,
        &json!(ours),
    );
    for (want, got) in ours.iter().zip(seen.as_array().into_iter().flatten()) {
        let name = want[0].as_str().unwrap_or_default();
        assert_eq!(got[1], want[1], "{name}: KeySpec seen by boto3");
        assert_eq!(got[2], want[2], "{name}: KeyUsage seen by boto3");
        assert_eq!(got[3], "made by keychain");
        assert_eq!(got[4], name, "{name}: the {NAME_TAG} tag");
        assert_eq!(got[5], json!([format!("alias/{name}")]));
    }

    // boto3 signs with our key; our public key (and OpenSSL) verify it.
    let signer = format!("{prefix}-ours-rsa_4096");
    let message = b"signed by boto3 with a keychain key".to_vec();
    let signed = ls.boto3(
        r#"
r = kms.sign(KeyId='alias/' + data['name'], Message=data['message'].encode(),
             MessageType='RAW', SigningAlgorithm='RSASSA_PSS_SHA_384')
result = base64.b64encode(r['Signature']).decode()
"#,
        &json!({"name": signer, "message": String::from_utf8_lossy(&message)}),
    );
    let sig = base64_decode(signed.as_str().unwrap_or_default());
    let pk: PublicKey = kc.public_key(&signer).await.must("public key");
    assert!(
        pk.verify(
            Message::Raw(&message),
            &sig,
            SigningAlgorithm::RsassaPssSha384
        )
        .must("verify")
    );
    assert!(keychain_testkit::openssl_verify(
        &pk.to_pem(),
        SigningAlgorithm::RsassaPssSha384,
        &message,
        &sig
    ));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("bad base64 from boto3: {e}"))
}

trait MustSdk<T> {
    fn must_sdk(self, what: &str) -> T;
}

impl<T, E: std::fmt::Debug> MustSdk<T> for std::result::Result<T, E> {
    fn must_sdk(self, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{what}: {e:?}"))
    }
}

/// `Keychain::open` with every awskms URI form, and the default credential chain, run in a
/// child process whose environment is the AWS configuration (tests must not change their own
/// environment). The child is `helper_open_uris`, which does nothing unless started here.
#[test]
fn keychain_open_with_every_uri_form() {
    let ls = localstack();
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--exact",
            "helper_open_uris",
            "--nocapture",
            "--test-threads=1",
        ]);
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_KMS",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_CONFIG_FILE", "/nonexistent/keychain-test-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/keychain-test-credentials",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("KEYCHAIN_TEST_LOCALSTACK", ls.endpoint());
        cmd.envs(env.iter().copied());
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("running the child: {e}"));
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child with {env:?} failed:\n{text}");
        assert!(text.contains("1 passed"), "the child did not run:\n{text}");
    };
    // Credentials from the environment (the first link of the default chain).
    run(&[
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", ls.endpoint()),
        ("KEYCHAIN_TEST_CASE", "env"),
    ]);
    // Credentials and region from a shared profile named by AWS_PROFILE.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let creds = dir.path().join("credentials");
    let config = dir.path().join("config");
    std::fs::write(
        &creds,
        "[ci]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&config, format!("[profile ci]\nregion = {REGION}\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    run(&[
        ("AWS_PROFILE", "ci"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            creds.to_str().unwrap_or_default(),
        ),
        ("AWS_CONFIG_FILE", config.to_str().unwrap_or_default()),
        ("AWS_ENDPOINT_URL", ls.endpoint()),
        ("KEYCHAIN_TEST_CASE", "profile"),
    ]);
    // Credentials from a profile's `credential_process` (how aws-vault and granted hand them
    // out): the SDK runs the command, which leaves a mark to prove it did.
    let mark = dir.path().join("process-ran");
    let script = dir.path().join("credentials.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho ran >> '{}'\nprintf '%s' \
             '{{\"Version\": 1, \"AccessKeyId\": \"test\", \"SecretAccessKey\": \"test\"}}'\n",
            mark.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let process_config = dir.path().join("config-process");
    std::fs::write(
        &process_config,
        format!(
            "[profile proc]\nregion = {REGION}\ncredential_process = {}\n",
            script.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    run(&[
        ("AWS_PROFILE", "proc"),
        (
            "AWS_CONFIG_FILE",
            process_config.to_str().unwrap_or_default(),
        ),
        ("AWS_ENDPOINT_URL", ls.endpoint()),
        ("KEYCHAIN_TEST_CASE", "profile"),
    ]);
    assert!(
        mark.exists(),
        "the profile's credential_process was never run"
    );
    // No region anywhere, and no credentials anywhere.
    run(&[("KEYCHAIN_TEST_CASE", "nothing")]);
}

/// The child of `keychain_open_with_every_uri_form`; without the endpoint it is given there
/// it has nothing to do.
#[tokio::test]
async fn helper_open_uris() {
    let Ok(endpoint) = std::env::var("KEYCHAIN_TEST_LOCALSTACK") else {
        return;
    };
    let case = std::env::var("KEYCHAIN_TEST_CASE").unwrap_or_default();
    let host = endpoint.trim_start_matches("http://").to_string();
    match case.as_str() {
        "env" | "profile" => {
            let name = unique_prefix(&format!("open-{case}"));
            let first = Keychain::open("awskms").await.must("open awskms");
            first
                .generate_key(&name, &keychain::KeyParams::ecdsa(keychain::Curve::P256))
                .await
                .must("generate_key");
            for uri in [
                "awskms:".to_string(),
                format!("awskms://{host}/?region={REGION}"),
                format!("awskms://{host}?region={REGION}"),
                format!("awskms:?endpoint={endpoint}&region={REGION}"),
                format!("awskms:region={REGION};endpoint={endpoint}"),
            ] {
                let kc = Keychain::open(&uri).await.must(&uri);
                let info = kc.describe(&name).await.must(&format!("{uri}: describe"));
                assert_eq!(info.spec, KeySpec::EccNistP256, "{uri}");
                let digest = Hash::Sha256.digest(uri.as_bytes());
                kc.sign(&name, &digest, Hash::Sha256)
                    .await
                    .must(&format!("{uri}: sign"));
            }
        }
        "nothing" => {
            let err = match Keychain::open("awskms:").await {
                Err(e) => e,
                Ok(_) => panic!("opened without a region"),
            };
            assert!(
                matches!(&err, Error::InvalidInput { message } if message.contains("region")),
                "{err:?}"
            );
            // A region but no credentials at all: the first call says so.
            let kc = Keychain::open(&format!("awskms:?endpoint={endpoint}&region={REGION}"))
                .await
                .must("open with a region");
            let err = match kc.describe("anything").await {
                Err(e) => e,
                Ok(_) => panic!("a call without credentials succeeded"),
            };
            assert!(
                matches!(&err, Error::AccessDenied { message, .. } if message.contains("credentials")),
                "{err:?}"
            );
        }
        other => panic!("unknown helper case {other:?}"),
    }
}

/// Listings follow every page: a key with more aliases than one ListAliases page (100) has
/// them all in `describe_key` and `list_aliases`, and the name still comes from its tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_listings_follow_every_page() {
    let b = backend().await;
    let name = unique_prefix("many");
    let key = KeyRef::parse(&name).must("ref");
    let created = b
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(&name))
        .await
        .must("create");
    let by_id = KeyRef::key_id(&created.key_id).must("id");
    let extra = 105;
    for i in 0..extra {
        b.create_alias(&format!("{name}/extra-{i:03}"), &by_id)
            .await
            .must("CreateAlias");
    }
    let info = b.describe_key(&key).await.must("describe");
    assert_eq!(info.aliases.len(), extra + 1, "describe_key misses aliases");
    assert_eq!(info.name.as_deref(), Some(name.as_str()));
    let of_key = b.list_aliases(Some(&key)).await.must("ListAliases(key)");
    assert_eq!(of_key.len(), extra + 1);
    let all = b.list_aliases(None).await.must("ListAliases");
    let ours = all
        .iter()
        .filter(|a| a.alias.starts_with(&format!("alias/{name}")))
        .count();
    assert_eq!(ours, extra + 1, "ListAliases (all) misses aliases");
    let sorted = all.windows(2).all(|w| w[0].alias <= w[1].alias);
    assert!(sorted, "aliases are listed in order");
}
