//! OpenSC's `pkcs11-tool` as an outside reader and writer of the token: it sees our keys with
//! the right types and protections, and keys it makes are usable by name through keychain.
//! Signatures are judged by OpenSSL and Python `cryptography`.

use std::process::Command;

use keychain::pkcs11::Pkcs11Backend;
use keychain::{
    CreateKeyRequest, EncryptionAlgorithm, EncryptionContext, Hash, KeyRef, KeySpec, KeyUsage,
    Keychain, Message, SigningAlgorithm,
};
use keychain_testkit::softhsm::{LABEL, MODULE, PIN, child_uri, run_isolated};
use keychain_testkit::{SignatureCase, openssl_verify, python_verify_batch};

pub(crate) async fn open() -> Keychain {
    let backend = Pkcs11Backend::open_uri(&child_uri())
        .await
        .unwrap_or_else(|e| panic!("opening the SoftHSM token: {e}"));
    Keychain::new(backend)
}

/// Runs `pkcs11-tool` logged in to the test token; its stdout.
pub(crate) fn pkcs11_tool(args: &[&str]) -> String {
    let out = Command::new("pkcs11-tool")
        .args([
            "--module",
            MODULE,
            "--token-label",
            LABEL,
            "--login",
            "--pin",
            PIN,
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("pkcs11-tool (Debian opensc) cannot run: {e}"));
    assert!(
        out.status.success(),
        "pkcs11-tool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The object blocks of `pkcs11-tool --list-objects`: a header line and its indented lines.
fn objects(listing: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in listing.lines() {
        if line.starts_with(char::is_whitespace) {
            if let Some(b) = blocks.last_mut() {
                b.push('\n');
                b.push_str(line);
            }
        } else if !line.is_empty() {
            blocks.push(line.to_string());
        }
    }
    blocks
}

fn block<'a>(blocks: &'a [String], class: &str, label: &str) -> &'a str {
    blocks
        .iter()
        .find(|b| {
            b.starts_with(class)
                && b.lines()
                    .any(|l| l.trim() == format!("label:      {label}"))
        })
        .unwrap_or_else(|| panic!("pkcs11-tool lists no {class} labelled {label}:\n{blocks:#?}"))
}

/// The CKA_ID (hex) of the private key labelled `label`, as pkcs11-tool lists it. Operations
/// name keys to pkcs11-tool by id: given only `--label`, its `--sign`/`--decrypt` may take
/// another private key of the token.
fn private_key_id(label: &str) -> String {
    let blocks = objects(&pkcs11_tool(&["--list-objects"]));
    block(&blocks, "Private Key Object", label)
        .lines()
        .find_map(|l| l.trim().strip_prefix("ID:").map(|id| id.trim().to_string()))
        .unwrap_or_else(|| panic!("pkcs11-tool lists no ID for {label}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_tool_sees_our_keys_sensitive_and_never_extractable() {
    if run_isolated("pkcs11::interop::pkcs11_tool_sees_our_keys_sensitive_and_never_extractable") {
        return;
    }
    let kc = open().await;
    let cases = [
        (
            "rsa-sign",
            KeySpec::Rsa2048,
            KeyUsage::SignVerify,
            "Private Key Object; RSA",
            "sign",
        ),
        (
            "rsa-enc",
            KeySpec::Rsa2048,
            KeyUsage::EncryptDecrypt,
            "Private Key Object; RSA",
            "decrypt",
        ),
        (
            "p384",
            KeySpec::EccNistP384,
            KeyUsage::SignVerify,
            "Private Key Object; EC",
            "sign",
        ),
        (
            "ed",
            KeySpec::EccNistEdwards25519,
            KeyUsage::SignVerify,
            "Private Key Object; EC_EDWARDS",
            "sign",
        ),
        (
            "aes",
            KeySpec::SymmetricDefault,
            KeyUsage::EncryptDecrypt,
            "Secret Key Object; AES length 32",
            "encrypt, decrypt",
        ),
        (
            "hmac",
            KeySpec::Hmac384,
            KeyUsage::GenerateVerifyMac,
            "Secret Key Object; Generic secret length 48",
            "verify",
        ),
    ];
    let mut ids = Vec::new();
    for (name, spec, usage, _, _) in cases {
        let info = kc
            .backend()
            .create_key(&CreateKeyRequest::new(spec).name(name).usage(usage))
            .await
            .unwrap_or_else(|e| panic!("creating {name}: {e}"));
        ids.push(info.key_id);
    }
    let listing = pkcs11_tool(&["--list-objects"]);
    let blocks = objects(&listing);
    for ((name, _, usage, class, uses), id) in cases.iter().zip(&ids) {
        let b = block(&blocks, class, name);
        let access = b
            .lines()
            .find_map(|l| l.trim().strip_prefix("Access:"))
            .unwrap_or_else(|| panic!("{name}: no Access line:\n{b}"));
        assert!(
            access.contains("sensitive, always sensitive, never extractable"),
            "{name}: {access}"
        );
        let usage_line = b
            .lines()
            .find_map(|l| l.trim().strip_prefix("Usage:"))
            .unwrap_or_else(|| panic!("{name}: no Usage line:\n{b}"));
        assert!(usage_line.contains(uses), "{name} ({usage}): {usage_line}");
        // Each key does only what its usage says.
        if *usage == KeyUsage::SignVerify || *usage == KeyUsage::GenerateVerifyMac {
            assert!(!usage_line.contains("decrypt"), "{name}: {usage_line}");
        }
        if *usage != KeyUsage::EncryptDecrypt {
            assert!(!usage_line.contains("unwrap"), "{name}: {usage_line}");
        }
        assert!(!usage_line.contains("derive"), "{name}: {usage_line}");
        if *usage == KeyUsage::EncryptDecrypt && class.contains("RSA") {
            assert!(!usage_line.contains("sign"), "{name}: {usage_line}");
        }
        let hex_id = id.replace('-', "");
        assert!(
            b.lines()
                .any(|l| l.trim() == format!("ID:         {hex_id}")),
            "{name}: the CKA_ID is not the key id {id}:\n{b}"
        );
        // The private half is never shown: pkcs11-tool cannot read a value.
        assert!(!b.contains("VALUE:"), "{name}: {b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_pkcs11_tool_makes_are_usable_by_name() {
    if run_isolated("pkcs11::interop::keys_pkcs11_tool_makes_are_usable_by_name") {
        return;
    }
    pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "tool-p256",
        "--id",
        "0102",
    ]);
    pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "rsa:2048",
        "--label",
        "tool-rsa",
        "--id",
        "0a0b",
    ]);
    let kc = open().await;
    let message = b"signed by a key pkcs11-tool made".to_vec();
    let mut cases = Vec::new();
    for (name, algorithm) in [
        ("tool-p256", SigningAlgorithm::EcdsaSha256),
        ("tool-rsa", SigningAlgorithm::RsassaPssSha256),
        ("tool-rsa", SigningAlgorithm::RsassaPkcs1V15Sha256),
    ] {
        let key = KeyRef::parse(&format!("pkcs11:object={name}")).unwrap_or_else(|e| panic!("{e}"));
        let signature = kc
            .backend()
            .sign(&key, Message::Raw(&message), algorithm)
            .await
            .unwrap_or_else(|e| panic!("{name} {algorithm}: {e}"));
        let pem = kc
            .backend()
            .public_key(&key)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .to_pem();
        assert!(
            openssl_verify(&pem, algorithm, &message, &signature),
            "openssl: {name} {algorithm}"
        );
        cases.push(SignatureCase {
            public_key_pem: pem,
            algorithm,
            data: message.clone(),
            prehashed: false,
            signature,
        });
    }
    assert!(
        python_verify_batch(&cases).iter().all(|ok| *ok),
        "cryptography refused one"
    );
    // By CKA_ID too, in hex.
    let by_id = kc
        .backend()
        .describe_key(&KeyRef::key_id("0102").unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("describing by id: {e}"));
    assert_eq!(by_id.spec, KeySpec::EccNistP256);
    assert_eq!(by_id.name.as_deref(), Some("tool-p256"));
    let listed = kc
        .backend()
        .list_keys(&keychain::PageRequest::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        listed
            .items
            .iter()
            .any(|k| k.key_id == "0a0b" && k.spec == KeySpec::Rsa2048)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_tool_signs_with_our_key_and_decrypts_what_we_encrypt() {
    if run_isolated("pkcs11::interop::pkcs11_tool_signs_with_our_key_and_decrypts_what_we_encrypt")
    {
        return;
    }
    let kc = open().await;
    kc.backend()
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("ours"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let digest = Hash::Sha256.digest(b"pkcs11-tool signs this");
    let input = dir.path().join("digest");
    let output = dir.path().join("sig");
    std::fs::write(&input, &digest).unwrap_or_else(|e| panic!("{e}"));
    pkcs11_tool(&[
        "--sign",
        "--mechanism",
        "ECDSA",
        "--id",
        &private_key_id("ours"),
        "--signature-format",
        "openssl",
        "--input-file",
        &input.to_string_lossy(),
        "--output-file",
        &output.to_string_lossy(),
    ]);
    let signature = std::fs::read(&output).unwrap_or_else(|e| panic!("{e}"));
    let public = kc
        .public_key("ours")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        public
            .verify(
                Message::Digest(&digest),
                &signature,
                SigningAlgorithm::EcdsaSha256
            )
            .unwrap_or_else(|e| panic!("{e}")),
        "pkcs11-tool's signature with our key does not verify under our public key"
    );

    // RSA-OAEP (SHA-1: what SoftHSM decrypts) encrypted here, decrypted by pkcs11-tool.
    kc.backend()
        .create_key(
            &CreateKeyRequest::new(KeySpec::Rsa2048)
                .name("ours-rsa")
                .usage(KeyUsage::EncryptDecrypt),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let key = KeyRef::parse("ours-rsa").unwrap_or_else(|e| panic!("{e}"));
    let ciphertext = kc
        .backend()
        .encrypt(
            &key,
            b"for pkcs11-tool",
            EncryptionAlgorithm::RsaesOaepSha1,
            &EncryptionContext::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&input, &ciphertext).unwrap_or_else(|e| panic!("{e}"));
    pkcs11_tool(&[
        "--decrypt",
        "--mechanism",
        "RSA-PKCS-OAEP",
        "--hash-algorithm",
        "SHA-1",
        "--mgf",
        "MGF1-SHA1",
        "--id",
        &private_key_id("ours-rsa"),
        "--input-file",
        &input.to_string_lossy(),
        "--output-file",
        &output.to_string_lossy(),
    ]);
    assert_eq!(
        std::fs::read(&output).unwrap_or_default(),
        b"for pkcs11-tool"
    );
    let back = kc
        .backend()
        .decrypt(
            Some(&key),
            &ciphertext,
            EncryptionAlgorithm::RsaesOaepSha1,
            &EncryptionContext::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.expose(), b"for pkcs11-tool");
}

/// Makes two P-256 key pairs with pkcs11-tool under one CKA_ID, labelled `a` and `b`.
pub(crate) fn two_pairs_sharing_an_id(a: &str, b: &str) {
    for label in [a, b] {
        pkcs11_tool(&[
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
            "--label",
            label,
            "--id",
            "0c0c",
        ]);
    }
}

/// Signs with `name` through keychain and judges the signature with OpenSSL under the public
/// key keychain gives for `name`.
async fn signs_and_verifies_under_its_own_public_key(kc: &Keychain, name: &str) -> bool {
    let key = KeyRef::parse(&format!("pkcs11:object={name}")).unwrap_or_else(|e| panic!("{e}"));
    let message = b"whose public key is this".to_vec();
    let algorithm = SigningAlgorithm::EcdsaSha256;
    let signature = kc
        .backend()
        .sign(&key, Message::Raw(&message), algorithm)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let pem = kc
        .backend()
        .public_key(&key)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_pem();
    openssl_verify(&pem, algorithm, &message, &signature)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_pairs_sharing_an_id_each_get_their_own_public_key() {
    if run_isolated("pkcs11::interop::key_pairs_sharing_an_id_each_get_their_own_public_key") {
        return;
    }
    two_pairs_sharing_an_id("twin-a", "twin-b");
    let kc = open().await;
    for name in ["twin-a", "twin-b"] {
        assert!(
            signs_and_verifies_under_its_own_public_key(&kc, name).await,
            "openssl: {name}'s signature does not verify under the public key keychain gives \
             for it (another key's public key?)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroying_a_key_leaves_the_public_key_of_another_sharing_its_id() {
    if run_isolated(
        "pkcs11::interop::destroying_a_key_leaves_the_public_key_of_another_sharing_its_id",
    ) {
        return;
    }
    two_pairs_sharing_an_id("twin-a", "twin-b");
    let backend = Pkcs11Backend::open_uri(&child_uri())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    backend
        .destroy_key(&KeyRef::parse("pkcs11:object=twin-a").unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("destroying twin-a: {e}"));
    let blocks = objects(&pkcs11_tool(&["--list-objects"]));
    let left = |class: &str, label: &str| {
        blocks.iter().any(|b| {
            b.starts_with(class)
                && b.lines()
                    .any(|l| l.trim() == format!("label:      {label}"))
        })
    };
    assert!(!left("Private Key Object", "twin-a"), "{blocks:#?}");
    assert!(!left("Public Key Object", "twin-a"), "{blocks:#?}");
    assert!(
        left("Public Key Object", "twin-b"),
        "destroying twin-a destroyed twin-b's public key too:\n{blocks:#?}"
    );
    let kc = Keychain::new(backend);
    assert!(signs_and_verifies_under_its_own_public_key(&kc, "twin-b").await);
}
