//! KMS requests to `keychain serve`'s request handler: any target, content type, headers and
//! body, signed with the test credentials for one of two regions (so the JSON and every
//! operation's input checks are reached, multi-Region keys in and out of their regions) or
//! carrying a fuzzed `Authorization`. Every answer is a well-formed KMS answer: 200, or a 4xx
//! with a JSON `__type`; never a panic, never a 5xx.
#![no_main]
use std::sync::OnceLock;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use keychain_server::{Credentials as Callers, KmsService};
use libfuzzer_sys::fuzz_target;

const OPERATIONS: &[&str] = &[
    "CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "GetPublicKey", "CreateAlias",
    "UpdateAlias", "DeleteAlias", "ListAliases", "TagResource", "UntagResource",
    "ListResourceTags", "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion",
    "EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand",
    "ListKeyRotations", "Sign", "Verify", "GenerateMac", "VerifyMac", "Encrypt", "Decrypt",
    "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom",
    "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies", "CreateGrant", "ListGrants",
    "RevokeGrant", "RetireGrant", "ListRetirableGrants", "GetParametersForImport",
    "ImportKeyMaterial", "DeleteImportedKeyMaterial", "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext", "Encapsulate", "Decapsulate", "DeriveSharedSecret",
    "ReplicateKey", "UpdatePrimaryRegion", "Nonsense",
];

/// The regions a request is signed for: multi-Region keys made in one are absent from the
/// other until replicated there, so both the found and the not-found paths are reached.
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

struct World {
    runtime: tokio::runtime::Runtime,
    service: KmsService,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let config = keychain::software::SoftwareConfig::new(dir.path().join("ks"))
            .password("fuzz")
            .kdf_iterations(2048);
        let keychain = runtime.block_on(async {
            let backend = keychain::software::SoftwareBackend::open(config)
                .await
                .expect("keystore");
            keychain::Keychain::new(backend)
        });
        let service = KmsService::new(&keychain, Callers::loopback_test());
        World {
            runtime,
            service,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // The first line picks or spells the target and the content type; the rest is the body.
    let (head, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&[][..], rest),
    };
    let head = String::from_utf8_lossy(head);
    let target = match mode % 4 {
        0 => format!("TrentService.{head}"),
        _ => format!(
            "TrentService.{}",
            OPERATIONS[usize::from(mode) % OPERATIONS.len()]
        ),
    };
    let content_type = if mode & 0x40 == 0 {
        "application/x-amz-json-1.1".to_string()
    } else {
        head.to_string()
    };
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), "127.0.0.1:1".into()),
        ("content-type".into(), content_type),
        ("x-amz-target".into(), target),
    ];
    if mode & 0x80 == 0 {
        let identity: Identity = Credentials::new("test", "test", None, None, "fuzz").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGIONS[usize::from(mode & 0x20 != 0)])
            .name("kms")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let Ok(signable) = SignableRequest::new(
            "POST",
            "http://127.0.0.1:1/",
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        ) else {
            return;
        };
        let Ok(signed) = sign(signable, &params) else {
            return;
        };
        let (instructions, _) = signed.into_parts();
        let (extra, _) = instructions.into_parts();
        for h in extra {
            headers.push((h.name().to_string(), h.value().to_string()));
        }
    } else {
        headers.push(("authorization".into(), head.to_string()));
        headers.push(("x-amz-date".into(), "20261130T230408Z".into()));
    }
    let mut request = http::Request::builder().method("POST").uri("/");
    for (k, v) in &headers {
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) else {
            return;
        };
        request = request.header(name, value);
    }
    let Ok(request) = request.body(Full::new(Bytes::copy_from_slice(body))) else {
        return;
    };
    let w = world();
    let response = w.runtime.block_on(w.service.handle(request));
    let status = response.status().as_u16();
    assert!(status == 200 || (400..500).contains(&status), "status {status}");
    let bytes = w
        .runtime
        .block_on(response.into_body().collect())
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_slice(&bytes).expect("a JSON answer");
    assert!(status == 200 || answer["__type"].is_string(), "{answer}");
});
