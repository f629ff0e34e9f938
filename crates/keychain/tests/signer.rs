//! `KeySigner`: the RustCrypto `signature` traits and rcgen's `SigningKey` over backend keys.
//! Signatures are judged by Python `cryptography` and OpenSSL, not by our own code alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keychain::signer::{BlockingKeySigner, KeySignature, KeySigner};
use keychain::{Curve, KeyParams, Keychain, SigningAlgorithm};
use keychain_testkit::{SignatureCase, python_verify_batch, temp_software_backend};
use signature::{AsyncSigner, Keypair, Signer, Verifier};

/// Delegates to a backend but caps raw messages, as AWS KMS does (4096 bytes).
mod capped {
    use std::collections::BTreeMap;

    use keychain::{AliasInfo, CreateKeyRequest, KeyInfo, Page, PageRequest};
    use keychain::{
        Backend, Capabilities, DataKey, DataKeySpec, EncryptionAlgorithm, EncryptionContext,
        KeyRef, Message, PublicKey, Result, Secret, SigningAlgorithm,
    };

    #[derive(Debug)]
    pub struct CappedBackend<B> {
        inner: B,
        max: usize,
    }

    impl<B> CappedBackend<B> {
        pub fn new(inner: B, max: usize) -> Self {
            CappedBackend { inner, max }
        }
    }

    #[async_trait::async_trait]
    impl<B: Backend> Backend for CappedBackend<B> {
        fn name(&self) -> &str {
            "capped"
        }
        fn capabilities(&self) -> Capabilities {
            let mut c = self.inner.capabilities();
            c.max_raw_message = Some(self.max);
            c
        }
        async fn create_key(&self, r: &CreateKeyRequest) -> Result<KeyInfo> {
            self.inner.create_key(r).await
        }
        async fn describe_key(&self, k: &KeyRef) -> Result<KeyInfo> {
            self.inner.describe_key(k).await
        }
        async fn list_keys(&self, p: &PageRequest) -> Result<Page<KeyInfo>> {
            self.inner.list_keys(p).await
        }
        async fn sign(&self, k: &KeyRef, m: Message<'_>, a: SigningAlgorithm) -> Result<Vec<u8>> {
            if let Message::Raw(raw) = m {
                assert!(
                    raw.len() <= self.max,
                    "a raw message over the cap reached the backend"
                );
            }
            self.inner.sign(k, m, a).await
        }
        async fn verify(
            &self,
            k: &KeyRef,
            m: Message<'_>,
            s: &[u8],
            a: SigningAlgorithm,
        ) -> Result<bool> {
            self.inner.verify(k, m, s, a).await
        }
        async fn public_key(&self, k: &KeyRef) -> Result<PublicKey> {
            self.inner.public_key(k).await
        }
        async fn encrypt(
            &self,
            k: &KeyRef,
            p: &[u8],
            a: EncryptionAlgorithm,
            c: &EncryptionContext,
        ) -> Result<Vec<u8>> {
            self.inner.encrypt(k, p, a, c).await
        }
        async fn decrypt(
            &self,
            k: Option<&KeyRef>,
            ct: &[u8],
            a: EncryptionAlgorithm,
            c: &EncryptionContext,
        ) -> Result<Secret> {
            self.inner.decrypt(k, ct, a, c).await
        }
        async fn generate_data_key(
            &self,
            k: &KeyRef,
            s: DataKeySpec,
            c: &EncryptionContext,
        ) -> Result<DataKey> {
            self.inner.generate_data_key(k, s, c).await
        }
        async fn create_alias(&self, a: &str, k: &KeyRef) -> Result<()> {
            self.inner.create_alias(a, k).await
        }
        async fn update_alias(&self, a: &str, k: &KeyRef) -> Result<()> {
            self.inner.update_alias(a, k).await
        }
        async fn delete_alias(&self, a: &str) -> Result<()> {
            self.inner.delete_alias(a).await
        }
        async fn list_aliases(&self, k: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
            self.inner.list_aliases(k).await
        }
        async fn enable_key(&self, k: &KeyRef) -> Result<()> {
            self.inner.enable_key(k).await
        }
        async fn disable_key(&self, k: &KeyRef) -> Result<()> {
            self.inner.disable_key(k).await
        }
        async fn schedule_key_deletion(
            &self,
            k: &KeyRef,
            d: u32,
        ) -> Result<keychain::DeletionSchedule> {
            self.inner.schedule_key_deletion(k, d).await
        }
        async fn cancel_key_deletion(&self, k: &KeyRef) -> Result<()> {
            self.inner.cancel_key_deletion(k).await
        }
        async fn tag_key(&self, k: &KeyRef, t: &BTreeMap<String, String>) -> Result<()> {
            self.inner.tag_key(k, t).await
        }
        async fn untag_key(&self, k: &KeyRef, t: &[String]) -> Result<()> {
            self.inner.untag_key(k, t).await
        }
    }
}

async fn keychain() -> (tempfile::TempDir, Keychain) {
    let (dir, backend) = temp_software_backend().await;
    (dir, Keychain::new(backend))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_signs_through_the_async_trait_and_python_agrees() {
    let (_dir, kc) = keychain().await;
    use SigningAlgorithm::*;
    let cases = [
        ("rsa", KeyParams::rsa(2048), RsassaPkcs1V15Sha256),
        ("rsa", KeyParams::rsa(2048), RsassaPkcs1V15Sha512),
        ("rsa", KeyParams::rsa(2048), RsassaPssSha256),
        ("rsa", KeyParams::rsa(2048), RsassaPssSha384),
        ("p256", KeyParams::ecdsa(Curve::P256), EcdsaSha256),
        ("p384", KeyParams::ecdsa(Curve::P384), EcdsaSha384),
        ("p521", KeyParams::ecdsa(Curve::P521), EcdsaSha512),
        ("k256", KeyParams::ecdsa(Curve::Secp256k1), EcdsaSha256),
        ("ed25519", KeyParams::ed25519(), Ed25519Sha512),
    ];
    let mut judged = Vec::new();
    for (name, params, alg) in cases {
        if kc.describe(name).await.is_err() {
            kc.generate_key(name, &params).await.unwrap();
        }
        let signer = KeySigner::new(&kc, name, Some(alg)).await.unwrap();
        assert_eq!(signer.algorithm(), alg);
        let message = format!("message for {name} {alg}").into_bytes();
        let sig: KeySignature = signer.sign_async(&message).await.unwrap();
        // Our own verifier agrees, and rejects another message.
        let verifier = signer.verifying_key();
        verifier.verify(&message, &sig).unwrap();
        assert!(verifier.verify(b"another message", &sig).is_err());
        judged.push(SignatureCase {
            public_key_pem: signer.public_key().to_pem(),
            algorithm: alg,
            data: message,
            prehashed: false,
            signature: sig.into_bytes(),
        });
    }
    let verdicts = python_verify_batch(&judged);
    for (case, ok) in judged.iter().zip(&verdicts) {
        assert!(ok, "Python rejected a {} signature", case.algorithm);
    }
    assert_eq!(verdicts.len(), judged.len());
}

#[tokio::test]
async fn the_default_algorithm_is_the_keys_and_wrong_ones_are_refused() {
    let (_dir, kc) = keychain().await;
    kc.generate_key("p384", &KeyParams::ecdsa(Curve::P384))
        .await
        .unwrap();
    kc.generate_key("ed", &KeyParams::ed25519()).await.unwrap();
    kc.generate_key("aes", &KeyParams::symmetric())
        .await
        .unwrap();
    let s = KeySigner::new(&kc, "p384", None).await.unwrap();
    assert_eq!(s.algorithm(), SigningAlgorithm::EcdsaSha384);
    assert_eq!(s.curve(), Some(Curve::P384));
    let s = KeySigner::new(&kc, "alias/ed", None).await.unwrap();
    assert_eq!(s.algorithm(), SigningAlgorithm::Ed25519Sha512);

    let err = KeySigner::new(&kc, "p384", Some(SigningAlgorithm::EcdsaSha256))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ECDSA_SHA_256"), "{err}");
    let err = KeySigner::new(&kc, "aes", None).await.unwrap_err();
    assert!(err.to_string().contains("alias/aes"), "{err}");
    let err = KeySigner::new(&kc, "missing", None).await.unwrap_err();
    assert_eq!(err.kind(), keychain::ErrorKind::NotFound);
    // Ed25519ph: the signer hashes with SHA-512 and the backend signs the digest D as the
    // Ed25519ph message (AWS KMS's meaning), which PyCryptodome checks over D.
    let s = KeySigner::new(&kc, "ed", Some(SigningAlgorithm::Ed25519PhSha512))
        .await
        .unwrap();
    let sig = s.sign(b"prehashed message").await.unwrap();
    let pk = kc.public_key("ed").await.unwrap();
    assert!(
        pk.verify(
            keychain::Message::Raw(b"prehashed message"),
            sig.as_ref(),
            SigningAlgorithm::Ed25519PhSha512
        )
        .unwrap()
    );
    let case = SignatureCase {
        public_key_pem: pk.to_pem(),
        algorithm: SigningAlgorithm::Ed25519PhSha512,
        data: keychain::Hash::Sha512.digest(b"prehashed message"),
        prehashed: true,
        signature: sig.as_ref().to_vec(),
    };
    assert_eq!(python_verify_batch(&[case]), vec![true]);
}

/// Sync signing in a multi-thread runtime uses `block_in_place`: with ONE worker thread, a task
/// that signs synchronously in a loop must not starve another task on the same runtime.
#[test]
fn sync_signing_does_not_starve_a_one_worker_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (_dir, kc) = keychain().await;
        kc.generate_key("k", &KeyParams::ecdsa(Curve::P256))
            .await
            .unwrap();
        let signer = KeySigner::new(&kc, "k", None).await.unwrap().blocking();
        let other_ran = Arc::new(AtomicBool::new(false));
        let flag = other_ran.clone();
        // Spawned first, but it only gets to run if the signing task gives up its worker.
        let signing = tokio::spawn(async move {
            let start = Instant::now();
            let mut n = 0;
            while !flag.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(20) {
                let sig = signer.try_sign(b"hello").unwrap();
                signer.verifying_key().verify(b"hello", &sig).unwrap();
                n += 1;
            }
            (n, flag.load(Ordering::SeqCst))
        });
        let other = other_ran.clone();
        tokio::spawn(async move { other.store(true, Ordering::SeqCst) });
        let (n, saw_other) = signing.await.unwrap();
        assert!(
            saw_other,
            "the other task never ran during {n} sync signatures"
        );
    });
}

#[tokio::test(flavor = "current_thread")]
async fn sync_signing_works_inside_a_current_thread_runtime() {
    let (_dir, kc) = keychain().await;
    kc.generate_key("k", &KeyParams::ed25519()).await.unwrap();
    let signer = KeySigner::new(&kc, "k", None).await.unwrap();
    let sig = signer.blocking().try_sign(b"current thread").unwrap();
    signer
        .verifying_key()
        .verify(b"current thread", &sig)
        .unwrap();
}

#[test]
fn sync_signing_works_with_no_runtime() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (dir, kc) = rt.block_on(keychain());
    let signer: BlockingKeySigner = rt.block_on(async {
        kc.generate_key("k", &KeyParams::rsa(2048)).await.unwrap();
        KeySigner::new(&kc, "k", Some(SigningAlgorithm::RsassaPssSha512))
            .await
            .unwrap()
            .blocking()
    });
    // This thread is not inside the runtime.
    let sig = signer.try_sign(b"no runtime here").unwrap();
    signer
        .verifying_key()
        .verify(b"no runtime here", &sig)
        .unwrap();
    let verdict = python_verify_batch(&[SignatureCase {
        public_key_pem: signer.inner().public_key().to_pem(),
        algorithm: SigningAlgorithm::RsassaPssSha512,
        data: b"no runtime here".to_vec(),
        prehashed: false,
        signature: sig.into_bytes(),
    }]);
    assert_eq!(verdict, vec![true]);
    drop(dir);
}

#[tokio::test]
async fn pure_ed25519_over_the_backend_limit_is_a_clear_error() {
    let (_dir, backend) = temp_software_backend().await;
    // A backend that, like AWS KMS, signs raw messages of at most 4096 bytes.
    let kc = Keychain::new(capped::CappedBackend::new(backend, 4096));
    kc.generate_key("ed", &KeyParams::ed25519()).await.unwrap();
    let signer = KeySigner::new(&kc, "ed", None).await.unwrap();
    let ok = signer.sign(&[7u8; 4096]).await.unwrap();
    signer.verifying_key().verify(&[7u8; 4096], &ok).unwrap();
    let err = signer.sign(&[7u8; 4097]).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("4096") && text.contains("4097"), "{text}");
    assert!(text.contains("Ed25519"), "{text}");
    // Digest-based algorithms do not care about the message length.
    kc.generate_key("ec", &KeyParams::ecdsa(Curve::P256))
        .await
        .unwrap();
    let ec = KeySigner::new(&kc, "ec", None).await.unwrap();
    let big = vec![1u8; 1 << 20];
    let sig = ec.sign(&big).await.unwrap();
    ec.verifying_key().verify(&big, &sig).unwrap();
}

/// ML-DSA signs the message itself, like pure Ed25519: `KeySigner` sends the bytes, within
/// the backend's raw-message limit; `sign_reader` sends a longer message's external μ
/// instead (the signature is still ML-DSA's over the whole message).
#[tokio::test]
async fn ml_dsa_signs_the_message_within_the_backend_limit() {
    let (_dir, backend) = temp_software_backend().await;
    let kc = Keychain::new(capped::CappedBackend::new(backend, 4096));
    kc.create_key(&keychain::CreateKeyRequest::new(keychain::KeySpec::MlDsa44).name("pq"))
        .await
        .unwrap();
    let signer = KeySigner::new(&kc, "pq", None).await.unwrap();
    assert_eq!(signer.algorithm(), SigningAlgorithm::MlDsaShake256);
    let ok = signer.sign(&[7u8; 4096]).await.unwrap();
    signer.verifying_key().verify(&[7u8; 4096], &ok).unwrap();
    assert!(signer.verifying_key().verify(&[7u8; 4095], &ok).is_err());
    let err = signer.sign(&[7u8; 4097]).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("4096") && text.contains("4097"), "{text}");
    assert!(text.contains("ML-DSA"), "{text}");

    let signed = kc.sign_reader("pq", &[9u8; 100][..], None).await.unwrap();
    assert_eq!(signed.algorithm, SigningAlgorithm::MlDsaShake256);
    assert!(
        kc.verify_reader("pq", &[9u8; 100][..], &signed.signature, signed.algorithm)
            .await
            .unwrap()
    );
    // Past the limit, `sign_reader` sends the message's external μ (64 bytes, streamed
    // locally): an ordinary ML-DSA signature of the whole message, and a note says so.
    let long = kc.sign_reader("pq", &[9u8; 5000][..], None).await.unwrap();
    assert_eq!(long.algorithm, SigningAlgorithm::MlDsaShake256);
    assert!(
        long.note
            .as_deref()
            .is_some_and(|n| n.contains("external μ")),
        "{:?}",
        long.note
    );
    assert!(
        kc.verify_reader("pq", &[9u8; 5000][..], &long.signature, long.algorithm)
            .await
            .unwrap()
    );
    assert!(
        !kc.verify_reader("pq", &[9u8; 5001][..], &long.signature, long.algorithm)
            .await
            .unwrap()
    );
    // JWTs: ML-DSA has no registered JOSE name.
    let err = keychain::jwt::JwtSigner::new(signer).unwrap_err();
    assert!(err.to_string().contains("JOSE"), "{err}");
}

/// On a backend that signs short messages only, pure Ed25519 over a longer stream signs its
/// SHA-512 with Ed25519ph instead (hashed as it streams), and says so.
#[tokio::test]
async fn ed25519_past_the_backend_limit_falls_back_to_ed25519ph() {
    let (_dir, backend) = temp_software_backend().await;
    let kc = Keychain::new(capped::CappedBackend::new(backend, 4096));
    kc.generate_key("ed", &KeyParams::ed25519()).await.unwrap();
    let short = kc.sign_reader("ed", &[5u8; 4096][..], None).await.unwrap();
    assert_eq!(short.algorithm, SigningAlgorithm::Ed25519Sha512);
    assert_eq!(short.note, None);
    let message = vec![5u8; 1 << 20];
    let long = kc.sign_reader("ed", &message[..], None).await.unwrap();
    assert_eq!(long.algorithm, SigningAlgorithm::Ed25519PhSha512);
    assert!(
        long.note.as_deref().unwrap().contains("at most 4096"),
        "{long:?}"
    );
    let case = SignatureCase {
        public_key_pem: kc.public_key("ed").await.unwrap().to_pem(),
        algorithm: long.algorithm,
        data: message,
        prehashed: false,
        signature: long.signature,
    };
    assert_eq!(python_verify_batch(&[case]), vec![true]);
}

#[cfg(feature = "rcgen")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rcgen_signs_with_a_backend_key_and_openssl_accepts_the_certificate() {
    let (_dir, kc) = keychain().await;
    let work = tempfile::tempdir().unwrap();
    use SigningAlgorithm::*;
    for (name, params, alg) in [
        ("rsa", KeyParams::rsa(2048), RsassaPkcs1V15Sha384),
        ("p256", KeyParams::ecdsa(Curve::P256), EcdsaSha256),
        ("p384", KeyParams::ecdsa(Curve::P384), EcdsaSha384),
        ("p521", KeyParams::ecdsa(Curve::P521), EcdsaSha512),
        ("ed", KeyParams::ed25519(), Ed25519Sha512),
    ] {
        kc.generate_key(name, &params).await.unwrap();
        let signer = KeySigner::new(&kc, name, Some(alg)).await.unwrap();
        assert!(signer.rcgen_algorithm().is_some(), "{alg}");
        let mut params = rcgen::CertificateParams::new(vec!["example.test".to_string()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("rcgen {name}"));
        params.serial_number = Some(rcgen::SerialNumber::from(vec![1, 2, 3]));
        // rcgen is synchronous: it calls KeySigner's rcgen::SigningKey from async code.
        let cert = params.self_signed(&signer).unwrap();
        let pem = work.path().join(format!("{name}.pem"));
        let text =
            der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, cert.der()).unwrap();
        std::fs::write(&pem, text).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["verify", "-check_ss_sig", "-CAfile"])
            .arg(&pem)
            .arg(&pem)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl rejected the rcgen {name} certificate: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // rcgen cannot name RSA-PSS: the adapter refuses instead of mislabelling the signature.
    let pss = KeySigner::new(&kc, "rsa", Some(RsassaPssSha256))
        .await
        .unwrap();
    assert!(pss.rcgen_algorithm().is_none());
    let params = rcgen::CertificateParams::new(vec!["pss.test".to_string()]).unwrap();
    assert!(matches!(
        params.self_signed(&pss),
        Err(rcgen::Error::UnsupportedSignatureAlgorithm)
    ));
}
