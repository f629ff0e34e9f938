//! The shared conformance suite against the AWS KMS backend, on LocalStack (started by the
//! test kit on a free port).
//!
//! Every check of `keychain_testkit::conformance::CHECKS` runs here and must pass, except the
//! KNOWN GAPS: they run, and must fail exactly at a documented LocalStack defect (the panic
//! message is matched). If LocalStack fixes one, or the backend fails differently, the test
//! fails and the gap must be removed. What those checks could not reach is tested in
//! `awskms_gaps.rs`.
//!
//! LocalStack cannot create ECC_NIST_EDWARDS25519 keys (ValidationException). The backend
//! lists Ed25519 (AWS KMS has it), so checks that would create one run through
//! [`LocalStackProfile`]: it forwards everything to the real backend, except that an Ed25519
//! creation must fail with exactly LocalStack's ValidationException and is then reported as
//! `Unsupported`, the answer the suite expects for an unlisted spec.
//!
//! LocalStack cannot create ML_DSA_44/65/87 keys either (UnsupportedOperationException "KeySpec
//! ML_DSA_65 is not supported", which the backend reports as `Unsupported`). The profile drops
//! the ML-DSA specs from the capabilities too and requires exactly that refusal, so the
//! `sign_ml_dsa_*` checks run and stop at creation; ML-DSA signing is judged on the software
//! backend (`software_conformance`). ML_KEM_512/768/1024 are refused the same way, so the
//! `kem_ml_kem_*` checks stop at creation too; ML-KEM is judged on the software backend and,
//! for the KMS wire format, against canned answers (`awskms_post_quantum.rs`).

#![cfg(feature = "aws")]

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use keychain::awskms::AwsKmsBackend;
use keychain::{
    AliasInfo, Backend, Capabilities, CreateKeyRequest, DataKey, DataKeySpec, Encapsulation,
    EncryptionAlgorithm, EncryptionContext, Error, KeyAgreementAlgorithm, KeyCache, KeyInfo,
    KeyRef, KeySpec, Keychain, MacAlgorithm, Message, Page, PageRequest, PublicKey, Result,
    RotationStatus, Secret, SigningAlgorithm,
};
use keychain_testkit::conformance::KnownGap;
use keychain_testkit::localstack::localstack;

/// The post-quantum key specs, ML-DSA and ML-KEM, which LocalStack does not have.
const ML_DSA: [KeySpec; 6] = [
    KeySpec::MlDsa44,
    KeySpec::MlDsa65,
    KeySpec::MlDsa87,
    KeySpec::MlKem512,
    KeySpec::MlKem768,
    KeySpec::MlKem1024,
];

/// The AWS KMS backend with LocalStack's missing Ed25519 and ML-DSA support made explicit.
#[derive(Debug)]
struct LocalStackProfile {
    inner: AwsKmsBackend,
}

#[async_trait]
impl Backend for LocalStackProfile {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn key_cache(&self) -> Option<Arc<KeyCache>> {
        self.inner.key_cache()
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.inner.capabilities();
        assert!(
            caps.key_specs.contains(&KeySpec::EccNistEdwards25519),
            "the AWS backend no longer lists Ed25519: drop this profile"
        );
        for spec in ML_DSA {
            assert!(
                caps.key_specs.contains(&spec),
                "the AWS backend no longer lists {spec}: drop it from this profile"
            );
        }
        caps.key_specs
            .retain(|s| *s != KeySpec::EccNistEdwards25519 && !ML_DSA.contains(s));
        caps
    }

    async fn create_key(&self, request: &CreateKeyRequest) -> Result<KeyInfo> {
        let result = self.inner.create_key(request).await;
        if ML_DSA.contains(&request.spec) {
            let refusal = format!("KeySpec {} is not supported", request.spec);
            return match result {
                // A malformed request (a usage ML-DSA cannot have, a bad name): refused by
                // the backend before calling KMS, as it would be on AWS.
                Err(e @ Error::InvalidInput { .. }) => Err(e),
                Err(Error::Unsupported { operation, .. }) if operation.contains(&refusal) => {
                    Err(Error::unsupported(
                        "awskms on LocalStack",
                        format!("{} keys (LocalStack rejects the key spec)", request.spec),
                    ))
                }
                other => panic!(
                    "KNOWN GAP changed: LocalStack used to refuse {} keys with \
                     UnsupportedOperationException, now: {other:?}",
                    request.spec
                ),
            };
        }
        if request.spec != KeySpec::EccNistEdwards25519 {
            return result;
        }
        match result {
            // The request itself is malformed (a usage Ed25519 cannot have, a bad name): the
            // backend refuses it before calling KMS, as it would on AWS.
            Err(e @ Error::InvalidInput { .. })
                if !e.to_string().contains("ValidationException") =>
            {
                Err(e)
            }
            Err(Error::InvalidInput { message })
                if message.contains("ECC_NIST_EDWARDS25519")
                    && message.contains("failed to satisfy constraint") =>
            {
                Err(Error::unsupported(
                    "awskms on LocalStack",
                    "ECC_NIST_EDWARDS25519 keys (LocalStack rejects the key spec)",
                ))
            }
            other => panic!(
                "KNOWN GAP changed: LocalStack used to refuse Ed25519 keys with a \
                 ValidationException, now: {other:?}"
            ),
        }
    }

    async fn describe_key(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.inner.describe_key(key).await
    }

    async fn key_metadata(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.inner.key_metadata(key).await
    }

    async fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
        self.inner.list_keys(page).await
    }

    async fn sign(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        self.inner.sign(key, message, algorithm).await
    }

    async fn verify(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        self.inner.verify(key, message, signature, algorithm).await
    }

    async fn public_key(&self, key: &KeyRef) -> Result<PublicKey> {
        self.inner.public_key(key).await
    }

    async fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        self.inner.encrypt(key, plaintext, algorithm, context).await
    }

    async fn decrypt(
        &self,
        key: Option<&KeyRef>,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Secret> {
        self.inner
            .decrypt(key, ciphertext, algorithm, context)
            .await
    }

    async fn encapsulate(&self, key: &KeyRef) -> Result<Encapsulation> {
        self.inner.encapsulate(key).await
    }

    async fn decapsulate(&self, key: &KeyRef, ciphertext: &[u8]) -> Result<Secret> {
        self.inner.decapsulate(key, ciphertext).await
    }

    async fn derive_shared_secret(
        &self,
        key: &KeyRef,
        algorithm: KeyAgreementAlgorithm,
        peer_public_key: &[u8],
    ) -> Result<Secret> {
        self.inner
            .derive_shared_secret(key, algorithm, peer_public_key)
            .await
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        self.inner.generate_data_key(key, spec, context).await
    }

    async fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        self.inner.generate_mac(key, message, algorithm).await
    }

    async fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<bool> {
        self.inner.verify_mac(key, message, mac, algorithm).await
    }

    async fn create_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        self.inner.create_alias(alias, key).await
    }

    async fn update_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        self.inner.update_alias(alias, key).await
    }

    async fn delete_alias(&self, alias: &str) -> Result<()> {
        self.inner.delete_alias(alias).await
    }

    async fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
        self.inner.list_aliases(key).await
    }

    async fn enable_key(&self, key: &KeyRef) -> Result<()> {
        self.inner.enable_key(key).await
    }

    async fn disable_key(&self, key: &KeyRef) -> Result<()> {
        self.inner.disable_key(key).await
    }

    async fn schedule_key_deletion(
        &self,
        key: &KeyRef,
        pending_days: u32,
    ) -> Result<keychain::DeletionSchedule> {
        self.inner.schedule_key_deletion(key, pending_days).await
    }

    async fn cancel_key_deletion(&self, key: &KeyRef) -> Result<()> {
        self.inner.cancel_key_deletion(key).await
    }

    async fn enable_key_rotation(&self, key: &KeyRef, period_days: Option<u32>) -> Result<()> {
        self.inner.enable_key_rotation(key, period_days).await
    }

    async fn disable_key_rotation(&self, key: &KeyRef) -> Result<()> {
        self.inner.disable_key_rotation(key).await
    }

    async fn key_rotation_status(&self, key: &KeyRef) -> Result<RotationStatus> {
        self.inner.key_rotation_status(key).await
    }

    async fn rotate_key(&self, key: &KeyRef) -> Result<()> {
        self.inner.rotate_key(key).await
    }

    async fn list_key_materials(&self, key: &KeyRef) -> Result<Vec<keychain::KeyMaterial>> {
        self.inner.list_key_materials(key).await
    }

    async fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<()> {
        self.inner.tag_key(key, tags).await
    }

    async fn untag_key(&self, key: &KeyRef, tag_keys: &[String]) -> Result<()> {
        self.inner.untag_key(key, tag_keys).await
    }
}

async fn keychain() -> Keychain {
    let backend = localstack()
        .backend()
        .await
        .unwrap_or_else(|e| panic!("connecting to LocalStack: {e}"));
    Keychain::from_arc(Arc::new(LocalStackProfile { inner: backend }))
}

/// The suite against LocalStack: every check runs and must pass, except the known gaps,
/// which must fail exactly at a documented LocalStack defect.
async fn setup() -> ((), Keychain) {
    ((), keychain().await)
}

const KNOWN_GAPS: &[KnownGap] = &[
    KnownGap {
        check: "encrypt_data_keys",
        panic: "asked for a AES_128 data key (16 bytes), got 32 bytes",
        why: "LocalStack's GenerateDataKey returns 32 bytes for KeySpec AES_128 (the backend \
              refuses the wrong-sized key)",
    },
    KnownGap {
        check: "encrypt_rsa_oaep_2048",
        panic: "RSAES_OAEP_SHA_1: 4-byte plaintext encrypted by local",
        why: "LocalStack cannot decrypt a standard RSAES_OAEP_SHA_1 ciphertext (InternalError)",
    },
    KnownGap {
        check: "encrypt_rsa_oaep_3072",
        panic: "RSAES_OAEP_SHA_1: 4-byte plaintext encrypted by local",
        why: "LocalStack cannot decrypt a standard RSAES_OAEP_SHA_1 ciphertext (InternalError)",
    },
    KnownGap {
        check: "encrypt_rsa_oaep_4096",
        panic: "RSAES_OAEP_SHA_1: 4-byte plaintext encrypted by local",
        why: "LocalStack cannot decrypt a standard RSAES_OAEP_SHA_1 ciphertext (InternalError)",
    },
    KnownGap {
        check: "agreement_disabled_key",
        panic: "DeriveSharedSecret with a disabled key: expected Error::InvalidKeyState",
        why: "LocalStack's DeriveSharedSecret derives with a disabled key (AWS KMS answers \
              DisabledException)",
    },
    KnownGap {
        check: "rotation_automatic",
        panic: "the next rotation of a 2560-day period",
        why: "LocalStack keeps the old NextRotationDate when the rotation period changes",
    },
    KnownGap {
        check: "rotation_on_demand",
        panic: "the version count did not grow by one",
        why: "LocalStack does not implement ListKeyRotations (501), so versions stay 1",
    },
    KnownGap {
        check: "rotation_history",
        panic: "listing the materials of a new key",
        why: "LocalStack does not implement ListKeyRotations (501)",
    },
];

keychain_testkit::conformance_tests!(setup, gaps = KNOWN_GAPS);
