//! The algorithm matrix of the spec against AWS KMS (LocalStack): RSA 2048/3072/4096 ×
//! {PSS, PKCS#1 v1.5} × {SHA-256, SHA-384, SHA-512} and ECDSA P-256/P-384/P-521/secp256k1.
//!
//! Every signature KMS makes is judged by our local verify, by OpenSSL and by Python
//! `cryptography`, and by KMS `Verify`. Signatures of digests (`MessageType=DIGEST`) are
//! judged against the original MESSAGE, which proves KMS signed the digest as given and did
//! not hash it again. RSA-OAEP ciphertexts made locally (by us and by Python) decrypt in KMS.

#![cfg(feature = "aws")]

use keychain::awskms::AwsKmsBackend;
use keychain::{
    Backend, CreateKeyRequest, EncryptionAlgorithm, EncryptionContext, Error, Hash, KeyRef,
    KeySpec, KeyUsage, Keychain, Message, PublicKey, SigningAlgorithm,
};
use keychain_testkit::conformance::{Must, unique_prefix};
use keychain_testkit::localstack::localstack;
use keychain_testkit::{
    SignatureCase, openssl_verify, python_oaep_encrypt_batch, python_verify_batch,
};

async fn backend() -> AwsKmsBackend {
    localstack().connect().await
}

async fn signing_key(b: &AwsKmsBackend, prefix: &str, spec: KeySpec) -> (String, PublicKey) {
    let name = format!("{prefix}-{spec}");
    let info = b
        .create_key(&CreateKeyRequest::new(spec).name(&name))
        .await
        .must(&format!("creating a {spec} signing key"));
    assert_eq!(info.spec, spec);
    assert_eq!(info.usage, KeyUsage::SignVerify);
    let pk = b
        .public_key(&KeyRef::parse(&name).must("ref"))
        .await
        .must("GetPublicKey");
    assert_eq!(pk.key_spec().must("spec of the public key"), spec);
    (name, pk)
}

/// Signs a digest and a raw message with each algorithm through KMS and has every judge
/// rule on each signature and on a corrupted twin.
async fn matrix(specs: &[KeySpec], algorithms: &[SigningAlgorithm]) {
    let b = backend().await;
    let kc = Keychain::new(b.clone());
    let prefix = unique_prefix("matrix");
    let message = b"The quick brown fox jumps over the lazy dog (keychain matrix)".to_vec();
    let mut cases = Vec::new();
    let mut labels = Vec::new();
    let mut expected = Vec::new();
    for &spec in specs {
        let (name, pk) = signing_key(&b, &prefix, spec).await;
        let key = KeyRef::parse(&name).must("ref");
        let pem = pk.to_pem();
        for &alg in algorithms {
            if !spec.signing_algorithms().contains(&alg) {
                continue;
            }
            let digest = alg.hash().digest(&message);
            for (kind, signed) in [
                ("digest", Message::Digest(&digest)),
                ("raw", Message::Raw(&message)),
            ] {
                let label = format!("{spec} {alg} {kind}");
                let sig = b
                    .sign(&key, signed, alg)
                    .await
                    .must(&format!("{label}: Sign"));
                let mut bad = sig.clone();
                if let Some(last) = bad.last_mut() {
                    *last ^= 0x01;
                }
                for (s, valid) in [(&sig, true), (&bad, false)] {
                    let what = format!("{label} ({})", if valid { "valid" } else { "corrupted" });
                    assert_eq!(
                        pk.verify(signed, s, alg).must(&what),
                        valid,
                        "{what}: local verify"
                    );
                    // OpenSSL hashes the message itself: a digest signature must verify
                    // against the message, i.e. KMS must not have hashed the digest again.
                    assert_eq!(
                        openssl_verify(&pem, alg, &message, s),
                        valid,
                        "{what}: openssl"
                    );
                    assert_eq!(
                        b.verify(&key, signed, s, alg).await.must(&what),
                        valid,
                        "{what}: KMS Verify"
                    );
                    assert_eq!(
                        kc.verify(&name, signed, s, alg).await.must(&what),
                        valid,
                        "{what}: Keychain::verify"
                    );
                    cases.push(SignatureCase {
                        public_key_pem: pem.clone(),
                        algorithm: alg,
                        data: message.clone(),
                        prehashed: false,
                        signature: s.clone(),
                    });
                    labels.push(what);
                    expected.push(valid);
                }
            }
        }
    }
    let verdicts = python_verify_batch(&cases);
    assert_eq!(verdicts.len(), cases.len());
    let wrong: Vec<String> = labels
        .iter()
        .zip(verdicts.iter().zip(&expected))
        .filter(|(_, (got, want))| got != want)
        .map(|(l, (got, want))| format!("{l}: Python says {got}, expected {want}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "Python cryptography disagrees:\n{}",
        wrong.join("\n")
    );
}

const RSA_ALGORITHMS: &[SigningAlgorithm] = &[
    SigningAlgorithm::RsassaPssSha256,
    SigningAlgorithm::RsassaPssSha384,
    SigningAlgorithm::RsassaPssSha512,
    SigningAlgorithm::RsassaPkcs1V15Sha256,
    SigningAlgorithm::RsassaPkcs1V15Sha384,
    SigningAlgorithm::RsassaPkcs1V15Sha512,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_2048_pss_and_pkcs1_with_every_hash() {
    matrix(&[KeySpec::Rsa2048], RSA_ALGORITHMS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_3072_pss_and_pkcs1_with_every_hash() {
    matrix(&[KeySpec::Rsa3072], RSA_ALGORITHMS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_4096_pss_and_pkcs1_with_every_hash() {
    matrix(&[KeySpec::Rsa4096], RSA_ALGORITHMS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdsa_on_every_curve() {
    matrix(
        &[
            KeySpec::EccNistP256,
            KeySpec::EccNistP384,
            KeySpec::EccNistP521,
            KeySpec::EccSecgP256k1,
        ],
        &[
            SigningAlgorithm::EcdsaSha256,
            SigningAlgorithm::EcdsaSha384,
            SigningAlgorithm::EcdsaSha512,
        ],
    )
    .await;
}

/// `Keychain::sign(name, digest, hash)`, which names no algorithm, on every signing spec: the
/// natural algorithm for the key and hash is picked and the signature verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_by_hash_picks_the_natural_algorithm() {
    let b = backend().await;
    let kc = Keychain::new(b.clone());
    let prefix = unique_prefix("by-hash");
    for (spec, hash, natural) in [
        (
            KeySpec::Rsa2048,
            Hash::Sha256,
            SigningAlgorithm::RsassaPkcs1V15Sha256,
        ),
        (
            KeySpec::Rsa3072,
            Hash::Sha384,
            SigningAlgorithm::RsassaPkcs1V15Sha384,
        ),
        (
            KeySpec::EccNistP256,
            Hash::Sha256,
            SigningAlgorithm::EcdsaSha256,
        ),
        (
            KeySpec::EccNistP384,
            Hash::Sha384,
            SigningAlgorithm::EcdsaSha384,
        ),
        (
            KeySpec::EccNistP521,
            Hash::Sha512,
            SigningAlgorithm::EcdsaSha512,
        ),
        (
            KeySpec::EccSecgP256k1,
            Hash::Sha256,
            SigningAlgorithm::EcdsaSha256,
        ),
    ] {
        let (name, pk) = signing_key(&b, &prefix, spec).await;
        let digest = hash.digest(b"Hello, AWS KMS!");
        let sig = kc.sign(&name, &digest, hash).await.must("Keychain::sign");
        assert!(
            pk.verify(Message::Digest(&digest), &sig, natural)
                .must("verify"),
            "{spec}: the signature by hash does not verify with {natural}"
        );
        assert!(
            openssl_verify(&pk.to_pem(), natural, b"Hello, AWS KMS!", &sig),
            "{spec}: openssl rejects the signature by hash"
        );
    }
}

/// RSA-OAEP SHA-256: plaintexts encrypted locally (our `PublicKey::encrypt` and Python
/// `cryptography`) decrypt in KMS, for every RSA size, up to the largest plaintext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oaep_sha256_ciphertexts_made_locally_decrypt_in_kms() {
    let b = backend().await;
    let prefix = unique_prefix("oaep");
    let none = EncryptionContext::new();
    let alg = EncryptionAlgorithm::RsaesOaepSha256;
    for spec in [KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096] {
        let name = format!("{prefix}-{spec}");
        b.create_key(
            &CreateKeyRequest::new(spec)
                .name(&name)
                .usage(KeyUsage::EncryptDecrypt),
        )
        .await
        .must("creating an RSA encryption key");
        let key = KeyRef::parse(&name).must("ref");
        let pk = b.public_key(&key).await.must("GetPublicKey");
        let max = modulus_len(spec) - 2 * 32 - 2;
        let plaintexts = [b"short".to_vec(), vec![0xa7; max]];
        let python = python_oaep_encrypt_batch(
            &plaintexts
                .iter()
                .map(|p| (pk.to_pem(), alg, p.clone()))
                .collect::<Vec<_>>(),
        );
        for (plaintext, from_python) in plaintexts.iter().zip(&python) {
            let local = pk.encrypt(plaintext, alg).must("local OAEP");
            for (who, ct) in [("keychain", &local), ("Python", from_python)] {
                let back = b
                    .decrypt(Some(&key), ct, alg, &none)
                    .await
                    .must(&format!("{spec}: KMS decrypting {who}'s ciphertext"));
                assert_eq!(back.expose(), &plaintext[..], "{spec}: {who}");
            }
        }
        // KMS's own ciphertext decrypts too; one more byte than OAEP allows is refused
        // before the call.
        let ct = b
            .encrypt(&key, b"round trip", alg, &none)
            .await
            .must("Encrypt");
        assert_eq!(
            b.decrypt(Some(&key), &ct, alg, &none)
                .await
                .must("Decrypt")
                .expose(),
            b"round trip"
        );
        let too_long = vec![1u8; max + 1];
        assert!(matches!(
            b.encrypt(&key, &too_long, alg, &none).await,
            Err(Error::InvalidInput { .. })
        ));
    }
}

fn modulus_len(spec: KeySpec) -> usize {
    match spec {
        KeySpec::Rsa2048 => 256,
        KeySpec::Rsa3072 => 384,
        _ => 512,
    }
}

/// secp256k1: KMS (the real one) returns high-S signatures half of the time; the backend
/// hands out the low-S twin, which Bitcoin and Ethereum require and every judge accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secp256k1_signatures_are_low_s() {
    let b = backend().await;
    let prefix = unique_prefix("k256");
    let (name, pk) = signing_key(&b, &prefix, KeySpec::EccSecgP256k1).await;
    let key = KeyRef::parse(&name).must("ref");
    let mut cases = Vec::new();
    for i in 0..24u32 {
        let digest = Hash::Sha256.digest(&i.to_be_bytes());
        let sig = b
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .must("Sign");
        assert!(
            keychain::signature::is_low_s(&sig).must("S"),
            "signature {i} is high-S"
        );
        assert!(
            pk.verify(
                Message::Digest(&digest),
                &sig,
                SigningAlgorithm::EcdsaSha256
            )
            .must("verify")
        );
        cases.push(SignatureCase {
            public_key_pem: pk.to_pem(),
            algorithm: SigningAlgorithm::EcdsaSha256,
            data: digest,
            prehashed: true,
            signature: sig,
        });
    }
    assert!(python_verify_batch(&cases).iter().all(|ok| *ok));
}
