//! The wire, request by request: SigV4 refusals (wrong secret, unknown key, stale or future
//! date, tampered body, scope of another service, missing parts), and what a malformed request
//! gets (bad JSON, unknown target, wrong content type, an oversized body, the wrong method):
//! KMS's exception, HTTP status, JSON error shape and headers — never a 500.
//! Requests are signed here with AWS's own signer (`aws-sigv4`) and sent over a plain socket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// A request to send.
struct Call<'a> {
    target: &'a str,
    body: Vec<u8>,
    content_type: &'a str,
    access_key: &'a str,
    secret: &'a str,
    region: &'a str,
    service: &'a str,
    time: SystemTime,
    method: &'a str,
    signed: bool,
    /// Whether `X-Amz-Target` is among the signed headers (it is sent either way).
    target_signed: bool,
}

impl Default for Call<'_> {
    fn default() -> Self {
        Call {
            target: "TrentService.ListKeys",
            body: b"{}".to_vec(),
            content_type: "application/x-amz-json-1.1",
            access_key: "test",
            secret: "test",
            region: "us-east-1",
            service: "kms",
            time: SystemTime::now(),
            method: "POST",
            signed: true,
            target_signed: true,
        }
    }
}

/// The answer: status, lower-cased headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Checks a KMS error answer: status, `__type`, `X-Amzn-ErrorType`, a request id and a
    /// message.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{code}: {:?}", self.body);
        assert_eq!(self.body["__type"], code, "{:?}", self.body);
        assert!(
            self.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{:?}",
            self.body
        );
        assert_eq!(self.header("x-amzn-errortype"), Some(code));
        assert!(
            self.header("x-amzn-requestid")
                .is_some_and(|id| id.len() >= 32)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/x-amz-json-1.1")
        );
    }
}

fn send(served: &support::Served, call: &Call<'_>, tamper: impl FnOnce(&mut Vec<u8>)) -> Answer {
    let host = served.addr.to_string();
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host.clone()),
        ("content-type".into(), call.content_type.into()),
    ];
    if call.target_signed {
        headers.push(("x-amz-target".into(), call.target.into()));
    }
    if call.signed {
        let identity: Identity =
            Credentials::new(call.access_key, call.secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(call.region)
            .name(call.service)
            .time(call.time)
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            call.method,
            format!("http://{host}/"),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&call.body),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        let (extra, _) = instructions.into_parts();
        for h in extra {
            headers.push((h.name().to_string(), h.value().to_string()));
        }
    }
    if !call.target_signed {
        headers.push(("x-amz-target".into(), call.target.into()));
    }
    let mut body = call.body.clone();
    tamper(&mut body);
    let mut request = format!("{} / HTTP/1.1\r\n", call.method);
    for (k, v) in &headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut stream = TcpStream::connect(served.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write head");
    // The server may answer (and close) before reading an oversized body.
    let _ = stream.write_all(&body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("answer body is not JSON ({e}): {body:?}"));
    Answer {
        status,
        headers,
        body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_request_is_served() {
    let served = support::serve().await;
    let answer = tokio::task::block_in_place(|| send(&served, &Call::default(), |_| {}));
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(answer.body["Keys"].is_array());
    assert!(answer.header("x-amzn-requestid").is_some());
}

/// A signature that leaves the operation out could be replayed as another operation with the
/// same body: the target must be signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_target_is_refused() {
    let served = support::serve().await;
    let answer = tokio::task::block_in_place(|| {
        send(
            &served,
            &Call {
                target_signed: false,
                ..Call::default()
            },
            |_| {},
        )
    });
    answer.assert_error(400, "InvalidSignatureException");
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("X-Amz-Target")),
        "{:?}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv4_refusals() {
    let served = support::serve().await;
    tokio::task::block_in_place(|| {
        let wrong_secret = send(
            &served,
            &Call {
                secret: "nope",
                ..Call::default()
            },
            |_| {},
        );
        wrong_secret.assert_error(400, "InvalidSignatureException");
        let unknown = send(
            &served,
            &Call {
                access_key: "AKIDUNKNOWN",
                ..Call::default()
            },
            |_| {},
        );
        unknown.assert_error(400, "UnrecognizedClientException");
        let stale = send(
            &served,
            &Call {
                time: SystemTime::now() - Duration::from_secs(16 * 60),
                ..Call::default()
            },
            |_| {},
        );
        stale.assert_error(400, "InvalidSignatureException");
        assert!(
            stale.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("Signature expired"))
        );
        // 14 minutes old is still accepted.
        let recent = send(
            &served,
            &Call {
                time: SystemTime::now() - Duration::from_secs(14 * 60),
                ..Call::default()
            },
            |_| {},
        );
        assert_eq!(recent.status, 200, "{:?}", recent.body);
        let future = send(
            &served,
            &Call {
                time: SystemTime::now() + Duration::from_secs(16 * 60),
                ..Call::default()
            },
            |_| {},
        );
        future.assert_error(400, "InvalidSignatureException");
        let tampered = send(
            &served,
            &Call {
                body: br#"{"Limit": 10}"#.to_vec(),
                ..Call::default()
            },
            |b| {
                let at = b.len() - 2;
                b[at] = b'9';
            },
        );
        tampered.assert_error(400, "InvalidSignatureException");
        let other_service = send(
            &served,
            &Call {
                service: "s3",
                ..Call::default()
            },
            |_| {},
        );
        other_service.assert_error(400, "InvalidSignatureException");
        let bad_region = send(
            &served,
            &Call {
                region: "US_EAST_1",
                ..Call::default()
            },
            |_| {},
        );
        bad_region.assert_error(400, "InvalidSignatureException");
        let unsigned = send(
            &served,
            &Call {
                signed: false,
                ..Call::default()
            },
            |_| {},
        );
        unsigned.assert_error(400, "MissingAuthenticationTokenException");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_kms_errors_never_a_500() {
    let served = support::serve().await;
    tokio::task::block_in_place(|| {
        let bad_json = send(
            &served,
            &Call {
                body: b"{\"Limit\": ".to_vec(),
                ..Call::default()
            },
            |_| {},
        );
        bad_json.assert_error(400, "SerializationException");
        let not_object = send(
            &served,
            &Call {
                body: b"[1,2]".to_vec(),
                ..Call::default()
            },
            |_| {},
        );
        not_object.assert_error(400, "SerializationException");
        let wrong_type = send(
            &served,
            &Call {
                body: br#"{"Limit": "ten"}"#.to_vec(),
                ..Call::default()
            },
            |_| {},
        );
        wrong_type.assert_error(400, "SerializationException");
        let unknown = send(
            &served,
            &Call {
                target: "TrentService.MakeCoffee",
                ..Call::default()
            },
            |_| {},
        );
        unknown.assert_error(400, "UnknownOperationException");
        let other_service = send(
            &served,
            &Call {
                target: "DynamoDB_20120810.ListTables",
                ..Call::default()
            },
            |_| {},
        );
        other_service.assert_error(400, "UnknownOperationException");
        let content_type = send(
            &served,
            &Call {
                content_type: "application/json",
                ..Call::default()
            },
            |_| {},
        );
        content_type.assert_error(415, "UnsupportedMediaTypeException");
        let huge = send(
            &served,
            &Call {
                body: vec![b' '; 300 * 1024],
                ..Call::default()
            },
            |_| {},
        );
        huge.assert_error(413, "RequestEntityTooLargeException");
        let get = send(
            &served,
            &Call {
                method: "GET",
                body: Vec::new(),
                ..Call::default()
            },
            |_| {},
        );
        get.assert_error(405, "UnknownOperationException");
        let bad_blob = send(
            &served,
            &Call {
                target: "TrentService.Encrypt",
                body: br#"{"KeyId": "alias/x", "Plaintext": "not base64!"}"#.to_vec(),
                ..Call::default()
            },
            |_| {},
        );
        bad_blob.assert_error(400, "SerializationException");
        let missing = send(
            &served,
            &Call {
                target: "TrentService.DescribeKey",
                body: b"{}".to_vec(),
                ..Call::default()
            },
            |_| {},
        );
        missing.assert_error(400, "ValidationException");
        // Every operation, fed nothing or members of the wrong shape, answers (some succeed
        // with no members at all) or refuses with a 4xx KMS error; none fails with a 5xx.
        for op in [
            "CreateKey",
            "DescribeKey",
            "ListKeys",
            "UpdateKeyDescription",
            "GetPublicKey",
            "CreateAlias",
            "UpdateAlias",
            "DeleteAlias",
            "ListAliases",
            "TagResource",
            "UntagResource",
            "ListResourceTags",
            "EnableKey",
            "DisableKey",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            "EnableKeyRotation",
            "DisableKeyRotation",
            "GetKeyRotationStatus",
            "RotateKeyOnDemand",
            "ListKeyRotations",
            "Sign",
            "Verify",
            "GenerateMac",
            "VerifyMac",
            "Encrypt",
            "Decrypt",
            "ReEncrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateRandom",
        ] {
            let target = format!("TrentService.{op}");
            for body in [
                &b"{}"[..],
                br#"{"KeyId": 7, "Limit": -1, "Tags": "x", "Plaintext": [], "NumberOfBytes": 1e99}"#,
                br#"{"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Plaintext": "AA==", "Message": "AA==", "SigningAlgorithm": "ECDSA_SHA_256", "MacAlgorithm": "HMAC_SHA_256", "Mac": "AA==", "Signature": "AA==", "CiphertextBlob": "AA==", "DestinationKeyId": "alias/x", "AliasName": "alias/x", "TargetKeyId": "alias/x", "TagKeys": ["a"], "Tags": [{"TagKey": "a", "TagValue": "b"}], "Description": "d", "KeySpec": "NOPE", "NumberOfBytes": 0}"#,
            ] {
                let answer = send(&served, &Call { target: &target, body: body.to_vec(), ..Call::default() }, |_| {});
                assert!(
                    answer.status == 200 || (400..500).contains(&answer.status),
                    "{op} {}: {} {:?}",
                    String::from_utf8_lossy(body),
                    answer.status,
                    answer.body
                );
                assert!(answer.status == 200 || answer.body["__type"].is_string());
            }
        }
    });
}

/// A request whose body is `body`, for `operation`, otherwise the default.
fn call_of(operation: &str, body: serde_json::Value) -> (String, Vec<u8>) {
    (
        format!("TrentService.{operation}"),
        serde_json::to_vec(&body).expect("JSON"),
    )
}

/// Sends `operation` with `body` as the test credentials.
fn op(served: &support::Served, operation: &str, body: serde_json::Value) -> Answer {
    let (target, body) = call_of(operation, body);
    send(
        served,
        &Call {
            target: &target,
            body,
            ..Call::default()
        },
        |_| {},
    )
}

/// A cryptographic failure outside Decrypt and the Verify operations (here a signer that
/// fails) is the server's fault, not a bad ciphertext of the caller's: HTTP 500
/// KMSInternalException, without the cause in the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_signer_is_an_internal_error_not_a_bad_ciphertext() {
    use base64::Engine as _;
    let (served, probe) = support::serve_probed().await;
    tokio::task::block_in_place(|| {
        let created = op(
            &served,
            "CreateKey",
            serde_json::json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        );
        assert_eq!(created.status, 200, "{:?}", created.body);
        let key_id = created.body["KeyMetadata"]["KeyId"]
            .as_str()
            .expect("KeyId")
            .to_string();
        let sign = serde_json::json!({
            "KeyId": key_id,
            "Message": base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            "MessageType": "DIGEST",
            "SigningAlgorithm": "ECDSA_SHA_256",
        });
        probe
            .fail_signing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let failed = op(&served, "Sign", sign.clone());
        failed.assert_error(500, "KMSInternalException");
        assert!(
            !failed.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("probe")),
            "the cause belongs in the log, not the answer: {:?}",
            failed.body
        );
        probe
            .fail_signing
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let signed = op(&served, "Sign", sign);
        assert_eq!(signed.status, 200, "{:?}", signed.body);
    });
}

/// A `KeyId` is read by keychain's own key reference parser: an ARN whose partition is not
/// an AWS one names no key (a laxer reading ignored the partition), and a key id is matched
/// without regard to case, as the library matches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_ids_are_read_by_the_library_parser() {
    let served = support::serve().await;
    tokio::task::block_in_place(|| {
        let created = op(&served, "CreateKey", serde_json::json!({}));
        assert_eq!(created.status, 200, "{:?}", created.body);
        let key_id = created.body["KeyMetadata"]["KeyId"]
            .as_str()
            .expect("KeyId")
            .to_string();
        let arn = created.body["KeyMetadata"]["Arn"]
            .as_str()
            .expect("Arn")
            .to_string();
        let by_arn = op(&served, "DescribeKey", serde_json::json!({"KeyId": arn}));
        assert_eq!(by_arn.status, 200, "{:?}", by_arn.body);
        let foreign = arn.replacen("arn:aws:", "arn:nope:", 1);
        op(
            &served,
            "DescribeKey",
            serde_json::json!({"KeyId": foreign}),
        )
        .assert_error(400, "InvalidArnException");
        let upper = op(
            &served,
            "DescribeKey",
            serde_json::json!({"KeyId": key_id.to_ascii_uppercase()}),
        );
        assert_eq!(upper.status, 200, "{:?}", upper.body);
        assert_eq!(upper.body["KeyMetadata"]["KeyId"], key_id.as_str());
        // A bare name is no KMS reference (the library's general parser would read it as an
        // alias).
        op(&served, "DescribeKey", serde_json::json!({"KeyId": "app"}))
            .assert_error(400, "NotFoundException");
    });
}
