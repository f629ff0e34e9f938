//! A `keychain.backend` span for every operation through a `Keychain`, on the software backend
//! and on AWS KMS (LocalStack, behind the fault proxy): its fields say the backend, the
//! operation, the key, the algorithm, the result and the latency, and for AWS the attempts
//! (a throttled first attempt makes two) and the request id. No field holds a secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{
    CreateKeyRequest, DataKeySpec, EncryptionContext, KeySpec, Keychain, Message, SigningAlgorithm,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The fields of one closed span.
type Fields = BTreeMap<String, String>;

/// A layer keeping the fields of every `keychain.backend` span, in order of closing.
#[derive(Clone, Default)]
struct Spans {
    open: Arc<Mutex<BTreeMap<u64, Fields>>>,
    closed: Arc<Mutex<Vec<Fields>>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() != "keychain.backend" {
            return;
        }
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        self.open.lock().unwrap().insert(id.into_u64(), fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(fields) = self.open.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Collect(fields));
        }
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        if let Some(fields) = self.open.lock().unwrap().remove(&id.into_u64()) {
            self.closed.lock().unwrap().push(fields);
        }
    }
}

impl Spans {
    fn take(&self) -> Vec<Fields> {
        std::mem::take(&mut *self.closed.lock().unwrap())
    }
}

const PASSWORD: &str = "observe-password 7c1e horse";
const PLAINTEXT: &[u8] = b"OBSERVE-PLAINTEXT-MARKER-2f9a";

fn context() -> EncryptionContext {
    [("app".to_string(), "observe".to_string())]
        .into_iter()
        .collect()
}

/// Runs `work` with the span collector as the thread's subscriber (a current-thread runtime
/// keeps every task on this thread).
fn collect<F, Fut>(work: F) -> Vec<Fields>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(work());
    spans.take()
}

fn find<'a>(spans: &'a [Fields], operation: &str) -> Vec<&'a Fields> {
    spans
        .iter()
        .filter(|f| f.get("operation").map(String::as_str) == Some(operation))
        .collect()
}

fn assert_no_secret(spans: &[Fields], secrets: &[&str]) {
    for fields in spans {
        for (name, value) in fields {
            for secret in secrets {
                assert!(
                    !value.contains(secret),
                    "span field {name} holds a secret: {value}"
                );
            }
        }
    }
}

#[test]
fn every_operation_of_the_software_backend_has_a_span() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ks");
    let spans = collect(|| async move {
        let backend = SoftwareBackend::open(
            SoftwareConfig::new(&path)
                .password(PASSWORD)
                .kdf_iterations(keychain_testkit::ITERATIONS),
        )
        .await
        .unwrap();
        let kc = Keychain::new(backend);
        let made = kc
            .backend()
            .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("obs-sign"))
            .await
            .unwrap();
        kc.backend()
            .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("obs-enc"))
            .await
            .unwrap();
        kc.sign_with(
            "obs-sign",
            Message::Raw(PLAINTEXT),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .unwrap();
        let ct = kc.encrypt("obs-enc", PLAINTEXT, &context()).await.unwrap();
        kc.decrypt(&ct, &context()).await.unwrap();
        let key = keychain::KeyRef::parse("obs-enc").unwrap();
        kc.backend()
            .generate_data_key(&key, DataKeySpec::Aes256, &context())
            .await
            .unwrap();
        assert!(kc.public_key("obs-missing").await.is_err());
        kc.backend()
            .create_key(
                &CreateKeyRequest::new(KeySpec::EccNistP256)
                    .name("obs-ecdh")
                    .usage(keychain::KeyUsage::KeyAgreement),
            )
            .await
            .unwrap();
        let peer = kc.public_key("obs-ecdh").await.unwrap();
        kc.derive_shared_secret("obs-ecdh", keychain::KeyAgreementAlgorithm::Ecdh, &peer)
            .await
            .unwrap();
        let _ = made;
    });
    let create = find(&spans, "CreateKey");
    assert_eq!(create.len(), 3, "{spans:#?}");
    assert_eq!(create[0]["backend"], "software");
    assert_eq!(create[0]["algorithm"], "ECC_NIST_P256");
    assert_eq!(create[0]["result"], "ok");
    assert!(create[0].contains_key("key_id"), "{:?}", create[0]);
    assert!(create[0].contains_key("latency_ms"));
    let sign = find(&spans, "Sign");
    assert_eq!(sign.len(), 1, "{spans:#?}");
    assert_eq!(sign[0]["algorithm"], "ECDSA_SHA_256");
    assert_eq!(sign[0]["key"], "alias/obs-sign");
    assert_eq!(find(&spans, "Encrypt")[0]["result"], "ok");
    assert_eq!(find(&spans, "Decrypt")[0]["result"], "ok");
    assert_eq!(find(&spans, "GenerateDataKey")[0]["result"], "ok");
    let derive = find(&spans, "DeriveSharedSecret");
    assert_eq!(derive.len(), 1, "{spans:#?}");
    assert_eq!(derive[0]["algorithm"], "ECDH");
    assert_eq!(derive[0]["key"], "alias/obs-ecdh");
    assert_eq!(derive[0]["result"], "ok");
    let missing: Vec<_> = spans
        .iter()
        .filter(|f| f.get("result").map(String::as_str) == Some("not_found"))
        .collect();
    assert!(
        !missing.is_empty(),
        "a failed call's span says not_found: {spans:#?}"
    );
    // The software backend makes no HTTP calls.
    assert!(spans.iter().all(|f| !f.contains_key("attempts")));
    let plaintext = std::str::from_utf8(PLAINTEXT).unwrap();
    assert_no_secret(&spans, &[PASSWORD, plaintext]);
}

#[cfg(feature = "aws")]
#[test]
fn aws_spans_carry_attempts_and_the_request_id() {
    use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
    use keychain_testkit::conformance::unique_prefix;
    use keychain_testkit::fault_proxy::{Canned, FaultPlan, FaultProxy};
    use keychain_testkit::localstack::{REGION, localstack};

    const SECRET: &str = "obsSECRETkeyNEVERinAspan000000000000000";
    let proxy = FaultProxy::start(localstack().endpoint(), 0x0b5, FaultPlan::none());
    let endpoint = proxy.endpoint();
    let name = format!("{}-p256", unique_prefix("observe"));
    let key_name = name.clone();
    let spans = collect(|| async move {
        let config = AwsKmsConfig::new()
            .region(REGION)
            .endpoint(endpoint)
            .static_credentials("AKIAOBSERVE000000001", SECRET, None);
        let kc = Keychain::new(AwsKmsBackend::new(config).await.unwrap());
        kc.backend()
            .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(key_name.clone()))
            .await
            .unwrap();
        kc.metadata(&key_name).await.unwrap();
        // The first Sign attempt is throttled; the SDK retries.
        proxy.script(
            "Sign",
            [Canned::error(400, "ThrottlingException", "Rate exceeded")
                .request_id("obs-throttled")],
        );
        kc.sign_with(
            &key_name,
            Message::Raw(PLAINTEXT),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .unwrap();
        assert!(kc.metadata("observe-no-such-key").await.is_err());
    });
    let sign = find(&spans, "Sign");
    assert_eq!(sign.len(), 1, "{spans:#?}");
    assert_eq!(sign[0]["backend"], "awskms");
    assert_eq!(sign[0]["result"], "ok");
    assert_eq!(
        sign[0]["attempts"], "2",
        "a throttled attempt and a retry: {:?}",
        sign[0]
    );
    let id = &sign[0]["request_id"];
    assert!(
        !id.is_empty() && id != "obs-throttled",
        "the answered attempt's id: {id}"
    );
    let create = find(&spans, "CreateKey");
    // CreateKey with a name is several requests (the key, its alias): each attempt counts.
    assert!(
        create[0]["attempts"].parse::<u32>().unwrap() >= 1,
        "{:?}",
        create[0]
    );
    assert!(create[0].contains_key("request_id"), "{:?}", create[0]);
    let failed: Vec<_> = spans
        .iter()
        .filter(|f| f.get("result").map(String::as_str) == Some("not_found"))
        .collect();
    assert!(!failed.is_empty(), "{spans:#?}");
    assert!(failed[0].contains_key("request_id"), "{:?}", failed[0]);
    let plaintext = std::str::from_utf8(PLAINTEXT).unwrap();
    assert_no_secret(&spans, &[SECRET, plaintext]);
    let _ = name;
}
