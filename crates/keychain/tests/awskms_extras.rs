//! The KMS operations beyond the `Backend` trait, on LocalStack: multi-region replicas, key
//! policies, grants, data keys without plaintext, data key pairs, random bytes, ECDH shared
//! secrets and key import (BYOK), each checked against an independent computation where one
//! exists (local ECDH, local HMAC, local public keys).

#![cfg(feature = "aws")]

use std::time::{Duration, SystemTime};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
use keychain::{
    Backend, CreateKeyRequest, DataKeySpec, EncryptionAlgorithm, EncryptionContext, Error, Hash,
    KeyAgreementAlgorithm, KeyOrigin, KeyRef, KeySpec, KeyState, KeyUsage, MacAlgorithm, Message,
    PublicKey, Secret, SigningAlgorithm,
};
use keychain_testkit::conformance::{Must, unique_prefix};
use keychain_testkit::context as ctx;
use keychain_testkit::localstack::{localstack, named};

async fn backend() -> AwsKmsBackend {
    localstack().connect().await
}

/// A multi-region primary replicated to another region: the replica has the same key id and
/// key material (its public key equals the primary's, and it verifies the primary's
/// signatures); it is reached by its ARN from the primary's backend and by id from a backend
/// of its own region. A single-region key cannot be replicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_region_keys_replicate() {
    let b = backend().await;
    let name = unique_prefix("mrk");
    let mut request = CreateKeyRequest::new(KeySpec::EccNistP256).name(&name);
    request.multi_region = true;
    let primary = b.create_key(&request).await.must("CreateKey multi-region");
    assert!(primary.multi_region);
    assert!(primary.key_id.starts_with("mrk-"), "{}", primary.key_id);
    let key = KeyRef::parse(&name).must("ref");

    let replica = b
        .replicate_key(&key, "eu-west-1", Some("EU replica"))
        .await
        .must("ReplicateKey");
    assert_eq!(replica.key_id, primary.key_id);
    let replica_arn = replica.arn.clone().unwrap_or_default();
    assert!(replica_arn.contains(":eu-west-1:"), "{replica_arn}");

    // From the primary's backend, by the replica's ARN (routed to eu-west-1).
    let by_arn = KeyRef::parse(&replica_arn).must("replica ARN");
    let pk_primary = b.public_key(&key).await.must("primary public key");
    let pk_replica = b
        .public_key(&by_arn)
        .await
        .must("replica public key by ARN");
    assert_eq!(pk_primary, pk_replica, "a replica shares the key material");
    // From a backend of the replica's region, by id.
    let eu = AwsKmsBackend::new(localstack().config().region("eu-west-1"))
        .await
        .must("eu-west-1 backend");
    let info = eu
        .describe_key(&KeyRef::key_id(&primary.key_id).must("id"))
        .await
        .must("describe the replica in its region");
    assert!(info.multi_region);
    assert_eq!(info.description, "EU replica");
    let digest = Hash::Sha256.digest(b"signed in us-east-1");
    let sig = b
        .sign(
            &key,
            Message::Digest(&digest),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .must("sign with the primary");
    assert!(
        eu.verify(
            &KeyRef::key_id(&primary.key_id).must("id"),
            Message::Digest(&digest),
            &sig,
            SigningAlgorithm::EcdsaSha256
        )
        .await
        .must("verify with the replica")
    );

    let single = named(
        &b,
        &format!("{name}-single"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    assert!(matches!(
        b.replicate_key(&single, "eu-west-1", None).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        b.replicate_key(&key, "Not A Region", None).await,
        Err(Error::InvalidInput { .. })
    ));
}

/// Key policies: the default policy is JSON with statements; a new policy replaces it; text
/// that is not JSON is refused before the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_policies_get_and_put() {
    let b = backend().await;
    let key = named(
        &b,
        &unique_prefix("policy"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let policy: serde_json::Value =
        serde_json::from_str(&b.key_policy(&key).await.must("GetKeyPolicy")).must_json();
    assert!(policy["Statement"].is_array(), "{policy}");
    let new = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Allow use of the key for signing",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    b.put_key_policy(&key, &new.to_string())
        .await
        .must("PutKeyPolicy");
    let back: serde_json::Value =
        serde_json::from_str(&b.key_policy(&key).await.must("GetKeyPolicy")).must_json();
    assert_eq!(back, new);
    assert!(matches!(
        b.put_key_policy(&key, "{not json").await,
        Err(Error::InvalidInput { .. })
    ));
}

trait MustJson {
    fn must_json(self) -> serde_json::Value;
}

impl MustJson for serde_json::Result<serde_json::Value> {
    fn must_json(self) -> serde_json::Value {
        self.unwrap_or_else(|e| panic!("not JSON: {e}"))
    }
}

/// Grants: created with operations and a name, listed, revoked; an unknown operation is
/// refused before the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_create_list_revoke() {
    let b = backend().await;
    let key = named(
        &b,
        &unique_prefix("grants"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let grantee = "arn:aws:iam::000000000000:role/reader";
    let grant = b
        .create_grant(
            &key,
            grantee,
            &["Decrypt", "GenerateDataKey"],
            Some("reader"),
        )
        .await
        .must("CreateGrant");
    assert!(!grant.grant_id.is_empty());
    assert!(!format!("{grant:?}").contains(&grant.token) || grant.token.is_empty());
    let grants = b.list_grants(&key).await.must("ListGrants");
    let g = grants
        .iter()
        .find(|g| g.grant_id == grant.grant_id)
        .unwrap_or_else(|| panic!("the grant is not listed: {grants:?}"));
    assert_eq!(g.grantee_principal.as_deref(), Some(grantee));
    assert_eq!(g.name.as_deref(), Some("reader"));
    let mut ops = g.operations.clone();
    ops.sort();
    assert_eq!(ops, ["Decrypt", "GenerateDataKey"]);
    b.revoke_grant(&key, &grant.grant_id)
        .await
        .must("RevokeGrant");
    assert!(
        !b.list_grants(&key)
            .await
            .must("ListGrants")
            .iter()
            .any(|g| g.grant_id == grant.grant_id)
    );
    assert!(matches!(
        b.create_grant(&key, grantee, &["Teleport"], None).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        b.create_grant(&key, grantee, &[], None).await,
        Err(Error::InvalidInput { .. })
    ));
}

/// Data keys without plaintext decrypt (with the same context) to a key of the asked size;
/// data key pairs come with a private key that matches the public key and signs, and whose
/// encrypted copy decrypts to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keys_without_plaintext_and_data_key_pairs() {
    let b = backend().await;
    let prefix = unique_prefix("dkp");
    let kek = named(
        &b,
        &prefix,
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let c = ctx(&[("tenant", "t1")]);
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let blob = b
        .generate_data_key_without_plaintext(&kek, DataKeySpec::Aes256, &c)
        .await
        .must("GenerateDataKeyWithoutPlaintext");
    assert_eq!(
        b.decrypt(None, &blob, alg, &c).await.must("Decrypt").len(),
        32
    );
    assert!(matches!(
        b.decrypt(None, &blob, alg, &EncryptionContext::new()).await,
        Err(Error::Crypto { .. })
    ));

    let pair = b
        .generate_data_key_pair(&kek, KeySpec::EccNistP256, &c)
        .await
        .must("GenerateDataKeyPair P-256");
    assert_eq!(
        pair.public_key.key_spec().must("spec"),
        KeySpec::EccNistP256
    );
    let local =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pair.private_key.expose())
            .unwrap_or_else(|e| panic!("the private key is not P-256 PKCS#8: {e}"));
    assert_eq!(local.public_key().as_ref(), pair.public_key.raw_key());
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = local
        .sign(&rng, b"made with a data key pair")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        pair.public_key
            .verify(
                Message::Raw(b"made with a data key pair"),
                sig.as_ref(),
                SigningAlgorithm::EcdsaSha256
            )
            .must("verify")
    );
    let private_again = b
        .decrypt(None, &pair.private_key_ciphertext, alg, &c)
        .await
        .must("decrypting the private key");
    assert_eq!(private_again.expose(), pair.private_key.expose());
    assert!(!format!("{pair:?}").contains(&format!("{:?}", &pair.private_key.expose()[..8])));

    let rsa = b
        .generate_data_key_pair(&kek, KeySpec::Rsa2048, &c)
        .await
        .must("GenerateDataKeyPair RSA-2048");
    let rsa_local = aws_lc_rs::rsa::KeyPair::from_pkcs8(rsa.private_key.expose())
        .unwrap_or_else(|e| panic!("the private key is not RSA PKCS#8: {e}"));
    let public_der: PublicKeyX509Der<'static> = rsa_local
        .public_key()
        .as_der()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        PublicKey::from_der(public_der.as_ref()).must("local public key"),
        rsa.public_key
    );

    assert!(matches!(
        b.generate_data_key_pair(&kek, KeySpec::Hmac256, &c).await,
        Err(Error::InvalidInput { .. })
    ));
    let signer = named(
        &b,
        &format!("{prefix}-signer"),
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await;
    assert!(matches!(
        b.generate_data_key_pair(&signer, KeySpec::EccNistP256, &c)
            .await,
        Err(Error::InvalidKeyUsage { .. })
    ));
}

/// GenerateRandom: the asked length, never twice the same, 1 to 1024 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes() {
    let b = backend().await;
    let a = b.generate_random(32).await.must("GenerateRandom");
    let c = b.generate_random(32).await.must("GenerateRandom");
    assert_eq!(a.len(), 32);
    assert_ne!(a.expose(), c.expose());
    assert_eq!(b.generate_random(1024).await.must("1024").len(), 1024);
    for bad in [0, 1025] {
        assert!(matches!(
            b.generate_random(bad).await,
            Err(Error::InvalidInput { .. })
        ));
    }
}

/// ECDH: the shared secret KMS derives from its KEY_AGREEMENT key and our ephemeral public
/// key equals the one we derive locally from our private key and KMS's public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derive_shared_secret_matches_local_ecdh() {
    use aws_lc_rs::agreement::{ECDH_P256, PrivateKey, UnparsedPublicKey, agree};
    let b = backend().await;
    let prefix = unique_prefix("ecdh");
    let kms_key = named(&b, &prefix, KeySpec::EccNistP256, KeyUsage::KeyAgreement).await;
    let kms_public = b.public_key(&kms_key).await.must("GetPublicKey");

    let ours = PrivateKey::generate(&ECDH_P256).unwrap_or_else(|e| panic!("{e}"));
    let our_public_der: PublicKeyX509Der<'static> = ours
        .compute_public_key()
        .unwrap_or_else(|e| panic!("{e}"))
        .as_der()
        .unwrap_or_else(|e| panic!("{e}"));
    let our_public = PublicKey::from_der(our_public_der.as_ref()).must("our public key");

    let from_kms = b
        .derive_shared_secret(&kms_key, KeyAgreementAlgorithm::Ecdh, our_public.to_der())
        .await
        .must("DeriveSharedSecret");
    let local: Secret = agree(
        &ours,
        UnparsedPublicKey::new(&ECDH_P256, kms_public.raw_key()),
        aws_lc_rs::error::Unspecified,
        |s| Ok(Secret::new(s.to_vec())),
    )
    .unwrap_or_else(|e| panic!("local ECDH: {e}"));
    assert_eq!(
        from_kms.expose(),
        local.expose(),
        "KMS and local ECDH disagree"
    );

    // A key of another usage, a peer on another curve: refused before the call.
    let signer = named(
        &b,
        &format!("{prefix}-signer"),
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await;
    assert!(matches!(
        b.derive_shared_secret(&signer, KeyAgreementAlgorithm::Ecdh, our_public.to_der())
            .await,
        Err(Error::InvalidKeyUsage { .. })
    ));
    let p384 = named(
        &b,
        &format!("{prefix}-p384"),
        KeySpec::EccNistP384,
        KeyUsage::KeyAgreement,
    )
    .await;
    assert!(matches!(
        b.derive_shared_secret(&p384, KeyAgreementAlgorithm::Ecdh, our_public.to_der())
            .await,
        Err(Error::InvalidInput { .. })
    ));
}

async fn external(b: &AwsKmsBackend, name: &str, spec: KeySpec, usage: KeyUsage) -> KeyRef {
    let mut request = CreateKeyRequest::new(spec).name(name).usage(usage);
    request.origin = KeyOrigin::External;
    let info = b.create_key(&request).await.must("CreateKey EXTERNAL");
    assert_eq!(info.origin, KeyOrigin::External);
    assert_eq!(info.state, KeyState::PendingImport);
    KeyRef::parse(name).must("ref")
}

/// BYOK, symmetric: an EXTERNAL key waits for material, the material is wrapped locally with
/// RSAES_OAEP_SHA_256 and imported (without and with an expiry), then the key encrypts and
/// decrypts. A key that was not created for import refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_symmetric_key_material() {
    let b = backend().await;
    let prefix = unique_prefix("byok-aes");
    let key = external(
        &b,
        &prefix,
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let c = ctx(&[("byok", "yes")]);
    assert!(matches!(
        b.encrypt(&key, b"too early", alg, &c).await,
        Err(Error::InvalidKeyState { .. })
    ));
    let material = Secret::new(vec![0x42; 32]);
    b.import_key_material(&key, &material, None)
        .await
        .must("ImportKeyMaterial");
    assert_eq!(
        b.describe_key(&key).await.must("describe").state,
        KeyState::Enabled
    );
    let ct = b.encrypt(&key, b"imported", alg, &c).await.must("Encrypt");
    assert_eq!(
        b.decrypt(None, &ct, alg, &c).await.must("Decrypt").expose(),
        b"imported"
    );

    let expiring = external(
        &b,
        &format!("{prefix}-exp"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    b.import_key_material(
        &expiring,
        &Secret::new(vec![7; 32]),
        Some(SystemTime::now() + Duration::from_secs(86_400)),
    )
    .await
    .must("ImportKeyMaterial with an expiry");
    assert_eq!(
        b.describe_key(&expiring).await.must("describe").state,
        KeyState::Enabled
    );

    // Material deleted: the key waits for an import again and refuses to work meanwhile.
    // (Bringing the same material back is a LocalStack gap: see awskms_gaps.rs.)
    b.delete_imported_key_material(&key)
        .await
        .must("DeleteImportedKeyMaterial");
    assert_eq!(
        b.describe_key(&key).await.must("describe").state,
        KeyState::PendingImport
    );
    assert!(matches!(
        b.decrypt(None, &ct, alg, &c).await,
        Err(Error::InvalidKeyState { .. })
    ));

    let generated = named(
        &b,
        &format!("{prefix}-gen"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    assert!(matches!(
        b.import_key_material(&generated, &material, None).await,
        Err(Error::InvalidInput { .. })
    ));
}

/// BYOK, HMAC: imported HMAC material is really what KMS uses: its MACs equal the ones we
/// compute locally with the same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_hmac_key_material_macs_like_the_local_key() {
    let b = backend().await;
    let key = external(
        &b,
        &unique_prefix("byok-hmac"),
        KeySpec::Hmac256,
        KeyUsage::GenerateVerifyMac,
    )
    .await;
    let material: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37)).collect();
    b.import_key_material(&key, &Secret::new(material.clone()), None)
        .await
        .must("ImportKeyMaterial");
    let message = b"authenticated by an imported key";
    let from_kms = b
        .generate_mac(&key, message, MacAlgorithm::HmacSha256)
        .await
        .must("GenerateMac");
    let local = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &material),
        message,
    );
    assert_eq!(
        from_kms,
        local.as_ref(),
        "KMS does not MAC with the imported key"
    );
}

/// BYOK, asymmetric: a P-256 private key made locally, as PKCS#8, wrapped with
/// RSA_AES_KEY_WRAP_SHA_256 and imported; KMS's public key is ours, and its signatures verify
/// under our public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_an_ec_private_key() {
    let b = backend().await;
    let key = external(
        &b,
        &unique_prefix("byok-ec"),
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .unwrap_or_else(|e| panic!("{e}"));
    let local = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
        .unwrap_or_else(|e| panic!("{e}"));
    b.import_key_material(&key, &Secret::new(pkcs8.as_ref().to_vec()), None)
        .await
        .must("ImportKeyMaterial (RSA_AES_KEY_WRAP_SHA_256)");
    let kms_public = b.public_key(&key).await.must("GetPublicKey");
    assert_eq!(kms_public.raw_key(), local.public_key().as_ref());
    let digest = Hash::Sha256.digest(b"signed with an imported key");
    let sig = b
        .sign(
            &key,
            Message::Digest(&digest),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .must("Sign");
    assert!(
        kms_public
            .verify(
                Message::Digest(&digest),
                &sig,
                SigningAlgorithm::EcdsaSha256
            )
            .must("verify")
    );
}

/// An injected SDK client is used as it is (its region too), and shares KMS with the rest.
#[tokio::test]
async fn an_injected_client_is_used_as_is() {
    let b = backend().await;
    let injected = AwsKmsBackend::new(AwsKmsConfig::new().client(b.client().clone()))
        .await
        .must("backend on an injected client");
    assert_eq!(injected.region(), b.region());
    let key = named(
        &injected,
        &unique_prefix("injected"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    b.describe_key(&key).await.must("the other backend sees it");
}

/// BYOK, RSA: an RSA-2048 private key made locally (PKCS#8, RSA_AES_KEY_WRAP_SHA_256); KMS
/// has our public key and its PSS signatures verify under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_an_rsa_private_key() {
    let b = backend().await;
    let key = external(
        &b,
        &unique_prefix("byok-rsa"),
        KeySpec::Rsa2048,
        KeyUsage::SignVerify,
    )
    .await;
    let local = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .unwrap_or_else(|e| panic!("{e}"));
    let pkcs8: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
        local.as_der().unwrap_or_else(|e| panic!("{e}"));
    let public_der: PublicKeyX509Der<'static> = local
        .public_key()
        .as_der()
        .unwrap_or_else(|e| panic!("{e}"));
    let ours = PublicKey::from_der(public_der.as_ref()).must("our public key");
    b.import_key_material(&key, &Secret::new(pkcs8.as_ref().to_vec()), None)
        .await
        .must("ImportKeyMaterial RSA");
    assert_eq!(b.public_key(&key).await.must("GetPublicKey"), ours);
    let digest = Hash::Sha256.digest(b"signed with an imported RSA key");
    let sig = b
        .sign(
            &key,
            Message::Digest(&digest),
            SigningAlgorithm::RsassaPssSha256,
        )
        .await
        .must("Sign");
    assert!(
        ours.verify(
            Message::Digest(&digest),
            &sig,
            SigningAlgorithm::RsassaPssSha256
        )
        .must("verify")
    );
}

/// A named import, as a migration does it: the key appears under its name only once the
/// material is in and KMS's public key is proven to be the material's; signatures verify
/// both ways. Material of another type, or a taken name, leaves no live key behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_key_under_a_name_with_proof() {
    use aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING;
    let b = backend().await;
    let name = unique_prefix("migrated");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng)
        .unwrap_or_else(|e| panic!("{e}"));
    let local = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8.as_ref())
        .unwrap_or_else(|e| panic!("{e}"));
    let material = Secret::new(pkcs8.as_ref().to_vec());
    let expected = keychain::awskms::public_key_of_pkcs8(KeySpec::EccNistP384, material.expose())
        .must("public key of the material");
    let info = b
        .import_key(
            &CreateKeyRequest::new(KeySpec::EccNistP384)
                .name(&name)
                .description("migrated from the software keystore"),
            &material,
            None,
        )
        .await
        .must("import_key");
    assert_eq!(info.name.as_deref(), Some(name.as_str()));
    assert_eq!(info.origin, KeyOrigin::External);
    assert_eq!(info.state, KeyState::Enabled);
    let key = KeyRef::parse(&name).must("ref");
    assert_eq!(b.public_key(&key).await.must("public key"), expected);
    // KMS signs, the local key verifies; the local key signs, KMS verifies.
    let message = b"same key on both sides";
    let digest = Hash::Sha384.digest(message);
    let by_kms = b
        .sign(
            &key,
            Message::Digest(&digest),
            SigningAlgorithm::EcdsaSha384,
        )
        .await
        .must("Sign");
    assert!(
        expected
            .verify(
                Message::Digest(&digest),
                &by_kms,
                SigningAlgorithm::EcdsaSha384
            )
            .must("local verify")
    );
    let by_local = local.sign(&rng, message).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        b.verify(
            &key,
            Message::Digest(&digest),
            by_local.as_ref(),
            SigningAlgorithm::EcdsaSha384
        )
        .await
        .must("KMS Verify")
    );

    // The name is taken now.
    assert!(matches!(
        b.import_key(
            &CreateKeyRequest::new(KeySpec::EccNistP384).name(&name),
            &material,
            None
        )
        .await,
        Err(Error::AlreadyExists { .. })
    ));
    // P-384 material for a P-256 key: refused before anything is created.
    let other = unique_prefix("mismatch");
    assert!(matches!(
        b.import_key(
            &CreateKeyRequest::new(KeySpec::EccNistP256).name(&other),
            &material,
            None
        )
        .await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        b.describe_key(&KeyRef::parse(&other).must("ref")).await,
        Err(Error::NotFound { .. })
    ));
}
