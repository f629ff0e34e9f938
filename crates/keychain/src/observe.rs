//! A `tracing` span for every backend operation, whatever the backend: [`Traced`] wraps the
//! backend a [`crate::Keychain`] holds and runs each call inside a span named
//! `keychain.backend` with these fields:
//!
//! - `backend` (`software`, `awskms`…) and `operation` (the KMS operation's name: `Sign`,
//!   `Decrypt`, `CreateKey`…);
//! - `key` (the reference as given) and `key_id` (the backend's id, when the answer names it);
//! - `algorithm` (signing, encryption or MAC algorithm, when the call has one);
//! - `result` (`ok`, or the error's kind: `not_found`, `throttled`…) and `latency_ms`;
//! - for AWS KMS, `attempts` (the HTTP attempts the operation made: retries included, and
//!   every request an operation needs, such as CreateKey then CreateAlias) and `request_id`
//!   (the last answer's `x-amzn-RequestId`, for AWS Support and CloudTrail).
//!
//! Nothing secret is ever a field: no plaintext, message, signature, key material or
//! password. At the end of each call a `debug` event repeats the outcome, so a plain log
//! (the CLI's `-vv`) shows it too.
//!
//! The AWS client records attempts and request ids through [`note_attempt`] and
//! [`note_request_id`] (from an SDK interceptor); they land in a task-local slot that the
//! span of the call in progress reads when the call ends.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tracing::Instrument;
use tracing::field::Empty;

use crate::Result;
use crate::agreement::KeyAgreementAlgorithm;
use crate::algorithm::{DataKeySpec, EncryptionAlgorithm, MacAlgorithm, Message, SigningAlgorithm};
use crate::backend::{Backend, Capabilities};
use crate::data_key::{DataKey, EncryptionContext};
use crate::kem::Encapsulation;
use crate::key::{
    AliasInfo, CreateKeyRequest, DeletionSchedule, KeyInfo, KeyMaterial, Page, PageRequest,
    RotationStatus,
};
use crate::key_cache::KeyCache;
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::stream::MessageSource;

/// What the transport reports about the call in progress.
#[derive(Default)]
struct CallStats {
    attempts: Cell<u32>,
    request_id: RefCell<Option<String>>,
}

tokio::task_local! {
    static CALL: CallStats;
}

/// Counts one HTTP attempt of the call in progress (a no-op outside a traced call).
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) fn note_attempt() {
    let _ = CALL.try_with(|c| c.attempts.set(c.attempts.get().saturating_add(1)));
}

/// Records the request id of an answer to the call in progress (a no-op outside a traced
/// call). Only a plausible id is kept: printable ASCII, at most 128 bytes.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) fn note_request_id(id: &str) {
    let id = id.trim();
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return;
    }
    let _ = CALL.try_with(|c| *c.request_id.borrow_mut() = Some(id.to_string()));
}

/// The key id an answer names, for the span.
trait NamesKey {
    fn key_id(&self) -> Option<&str> {
        None
    }
}

impl NamesKey for KeyInfo {
    fn key_id(&self) -> Option<&str> {
        Some(&self.key_id)
    }
}

impl NamesKey for DeletionSchedule {}
impl NamesKey for () {}
impl NamesKey for bool {}
impl NamesKey for Vec<u8> {}
impl NamesKey for Option<Vec<u8>> {}
impl NamesKey for Secret {}
impl NamesKey for DataKey {}
impl NamesKey for Encapsulation {}
impl NamesKey for PublicKey {}
impl NamesKey for Page<KeyInfo> {}
impl NamesKey for Vec<AliasInfo> {}
impl NamesKey for RotationStatus {}
impl NamesKey for Vec<KeyMaterial> {}

/// A backend whose every operation runs in a `keychain.backend` span (see the module's text).
#[derive(Debug)]
pub(crate) struct Traced {
    inner: Arc<dyn Backend>,
}

impl Traced {
    /// Wraps `inner`; a backend already traced is not wrapped twice.
    pub(crate) fn wrap(inner: Arc<dyn Backend>) -> Arc<dyn Backend> {
        if inner.is_traced() {
            return inner;
        }
        Arc::new(Traced { inner })
    }

    async fn run<T: NamesKey>(
        &self,
        operation: &'static str,
        key: Option<&KeyRef>,
        algorithm: Option<&str>,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let span = tracing::info_span!(
            "keychain.backend",
            backend = self.inner.name(),
            operation,
            key = Empty,
            key_id = Empty,
            algorithm = Empty,
            result = Empty,
            attempts = Empty,
            request_id = Empty,
            latency_ms = Empty,
        );
        if let Some(key) = key {
            span.record("key", tracing::field::display(key));
        }
        if let Some(algorithm) = algorithm {
            span.record("algorithm", algorithm);
        }
        let started = Instant::now();
        let stats = CallStats::default();
        let (result, stats) = CALL
            .scope(stats, async {
                let result = call.await;
                let stats = CALL.with(|c| (c.attempts.get(), c.request_id.borrow().clone()));
                (result, stats)
            })
            .instrument(span.clone())
            .await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.kind().as_str(),
        };
        span.record("result", outcome);
        span.record("latency_ms", latency_ms);
        if let Ok(value) = &result
            && let Some(id) = value.key_id()
        {
            span.record("key_id", id);
        }
        let (attempts, request_id) = stats;
        if attempts > 0 {
            span.record("attempts", attempts);
        }
        if let Some(id) = &request_id {
            span.record("request_id", id.as_str());
        }
        span.in_scope(|| {
            tracing::debug!(
                result = outcome,
                latency_ms,
                attempts,
                "backend operation done"
            );
        });
        result
    }
}

#[async_trait]
impl Backend for Traced {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn is_traced(&self) -> bool {
        true
    }

    fn key_cache(&self) -> Option<Arc<KeyCache>> {
        self.inner.key_cache()
    }

    async fn create_key(&self, request: &CreateKeyRequest) -> Result<KeyInfo> {
        let spec = request.spec.as_str();
        self.run(
            "CreateKey",
            None,
            Some(spec),
            self.inner.create_key(request),
        )
        .await
    }

    async fn describe_key(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.run("DescribeKey", Some(key), None, self.inner.describe_key(key))
            .await
    }

    async fn key_metadata(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.run("DescribeKey", Some(key), None, self.inner.key_metadata(key))
            .await
    }

    async fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
        self.run("ListKeys", None, None, self.inner.list_keys(page))
            .await
    }

    async fn sign(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        let alg = algorithm.as_str();
        let call = self.inner.sign(key, message, algorithm);
        self.run("Sign", Some(key), Some(alg), call).await
    }

    async fn sign_source(
        &self,
        key: &KeyRef,
        source: &mut MessageSource<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        let alg = algorithm.as_str();
        let call = self.inner.sign_source(key, source, algorithm);
        self.run("Sign", Some(key), Some(alg), call).await
    }

    async fn verify(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        let alg = algorithm.as_str();
        let call = self.inner.verify(key, message, signature, algorithm);
        self.run("Verify", Some(key), Some(alg), call).await
    }

    async fn public_key(&self, key: &KeyRef) -> Result<PublicKey> {
        self.run("GetPublicKey", Some(key), None, self.inner.public_key(key))
            .await
    }

    async fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let alg = algorithm.as_str();
        let call = self.inner.encrypt(key, plaintext, algorithm, context);
        self.run("Encrypt", Some(key), Some(alg), call).await
    }

    async fn decrypt(
        &self,
        key: Option<&KeyRef>,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Secret> {
        let alg = algorithm.as_str();
        let call = self.inner.decrypt(key, ciphertext, algorithm, context);
        self.run("Decrypt", key, Some(alg), call).await
    }

    fn ciphertext_key_id(&self, ciphertext: &[u8]) -> Option<String> {
        self.inner.ciphertext_key_id(ciphertext)
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let call = self.inner.generate_data_key(key, spec, context);
        self.run("GenerateDataKey", Some(key), None, call).await
    }

    async fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        let alg = algorithm.as_str();
        let call = self.inner.generate_mac(key, message, algorithm);
        self.run("GenerateMac", Some(key), Some(alg), call).await
    }

    async fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<bool> {
        let alg = algorithm.as_str();
        let call = self.inner.verify_mac(key, message, mac, algorithm);
        self.run("VerifyMac", Some(key), Some(alg), call).await
    }

    async fn encapsulate(&self, key: &KeyRef) -> Result<Encapsulation> {
        self.run("Encapsulate", Some(key), None, self.inner.encapsulate(key))
            .await
    }

    async fn decapsulate(&self, key: &KeyRef, ciphertext: &[u8]) -> Result<Secret> {
        let call = self.inner.decapsulate(key, ciphertext);
        self.run("Decapsulate", Some(key), None, call).await
    }

    async fn derive_shared_secret(
        &self,
        key: &KeyRef,
        algorithm: KeyAgreementAlgorithm,
        peer_public_key: &[u8],
    ) -> Result<Secret> {
        let alg = algorithm.as_str();
        let call = self
            .inner
            .derive_shared_secret(key, algorithm, peer_public_key);
        self.run("DeriveSharedSecret", Some(key), Some(alg), call)
            .await
    }

    async fn create_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        let call = self.inner.create_alias(alias, key);
        self.run("CreateAlias", Some(key), None, call).await
    }

    async fn update_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        let call = self.inner.update_alias(alias, key);
        self.run("UpdateAlias", Some(key), None, call).await
    }

    async fn delete_alias(&self, alias: &str) -> Result<()> {
        self.run("DeleteAlias", None, None, self.inner.delete_alias(alias))
            .await
    }

    async fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
        self.run("ListAliases", key, None, self.inner.list_aliases(key))
            .await
    }

    async fn enable_key(&self, key: &KeyRef) -> Result<()> {
        self.run("EnableKey", Some(key), None, self.inner.enable_key(key))
            .await
    }

    async fn disable_key(&self, key: &KeyRef) -> Result<()> {
        self.run("DisableKey", Some(key), None, self.inner.disable_key(key))
            .await
    }

    async fn schedule_key_deletion(
        &self,
        key: &KeyRef,
        pending_days: u32,
    ) -> Result<DeletionSchedule> {
        let call = self.inner.schedule_key_deletion(key, pending_days);
        self.run("ScheduleKeyDeletion", Some(key), None, call).await
    }

    async fn cancel_key_deletion(&self, key: &KeyRef) -> Result<()> {
        let call = self.inner.cancel_key_deletion(key);
        self.run("CancelKeyDeletion", Some(key), None, call).await
    }

    async fn enable_key_rotation(&self, key: &KeyRef, period_days: Option<u32>) -> Result<()> {
        let call = self.inner.enable_key_rotation(key, period_days);
        self.run("EnableKeyRotation", Some(key), None, call).await
    }

    async fn disable_key_rotation(&self, key: &KeyRef) -> Result<()> {
        let call = self.inner.disable_key_rotation(key);
        self.run("DisableKeyRotation", Some(key), None, call).await
    }

    async fn key_rotation_status(&self, key: &KeyRef) -> Result<RotationStatus> {
        let call = self.inner.key_rotation_status(key);
        self.run("GetKeyRotationStatus", Some(key), None, call)
            .await
    }

    async fn rotate_key(&self, key: &KeyRef) -> Result<()> {
        let call = self.inner.rotate_key(key);
        self.run("RotateKeyOnDemand", Some(key), None, call).await
    }

    async fn list_key_materials(&self, key: &KeyRef) -> Result<Vec<KeyMaterial>> {
        let call = self.inner.list_key_materials(key);
        self.run("ListKeyRotations", Some(key), None, call).await
    }

    async fn update_key_description(&self, key: &KeyRef, description: &str) -> Result<()> {
        let call = self.inner.update_key_description(key, description);
        self.run("UpdateKeyDescription", Some(key), None, call)
            .await
    }

    async fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<()> {
        self.run(
            "TagResource",
            Some(key),
            None,
            self.inner.tag_key(key, tags),
        )
        .await
    }

    async fn untag_key(&self, key: &KeyRef, tag_keys: &[String]) -> Result<()> {
        let call = self.inner.untag_key(key, tag_keys);
        self.run("UntagResource", Some(key), None, call).await
    }

    async fn import_key_material(
        &self,
        key: &KeyRef,
        material: &Secret,
        expires: Option<std::time::SystemTime>,
    ) -> Result<()> {
        let call = self.inner.import_key_material(key, material, expires);
        self.run("ImportKeyMaterial", Some(key), None, call).await
    }

    async fn delete_imported_key_material(&self, key: &KeyRef) -> Result<()> {
        let call = self.inner.delete_imported_key_material(key);
        self.run("DeleteImportedKeyMaterial", Some(key), None, call)
            .await
    }

    async fn read_key_annex(&self, key: &KeyRef, name: &str) -> Result<Option<Vec<u8>>> {
        let call = self.inner.read_key_annex(key, name);
        self.run("ReadKeyAnnex", Some(key), None, call).await
    }

    async fn update_key_annex(
        &self,
        key: &KeyRef,
        name: &str,
        update: crate::backend::AnnexUpdate,
    ) -> Result<()> {
        let call = self.inner.update_key_annex(key, name, update);
        self.run("UpdateKeyAnnex", Some(key), None, call).await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}
