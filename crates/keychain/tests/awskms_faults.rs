//! What no emulator produces on demand: throttling storms, server faults, silent servers.
//! A tiny fake KMS endpoint (HTTP on a loopback port, the KMS JSON protocol) answers as each
//! test scripts it and counts the requests, so the retry policy is observed, not assumed.

#![cfg(feature = "aws")]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
use keychain::{Backend, CreateKeyRequest, Error, KeyRef, KeySpec};

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";

/// An RSA-4096 public key (SPKI DER, base64): the wrapping key the fake hands out.
const WRAPPING_KEY_DER_B64: &str = concat!(
    "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAwc921sV8PPmYlp9J34HaKJZnaLiUvSIUoyZHQoRGhRSr",
    "kbRMks7SEj74p6WeuMBDW4oN+yt0405uuQDpXqd38fCYk9fBUXnedj8Ejcux8Cq/fdKBkz5neFbWf22A7WxnpJvV",
    "mjy/WCjSagksBNgo9gKGO86w1UMLc17Yowe3mKw98iEBM8nOp4S5LnmNQW0yoJQ7BpnmwamHt+xa94nueqfapaoX",
    "CZlH05Sf8j7ZKB6xroxcP0GrJ0Gvbd6emr0evS605Cw8cp7ZHKNDzbX7r/k1AGd9cVKi0GZyg9kDaV2McLCDAVuQ",
    "LqrKXAtPwqzqZ4NaIgshlgBEr0bgynpYiRPDcNjL/n4nODOHl+mF5yJk2NhmjpCjAcsrbg6TDX2RHZ3fS+fl95OQ",
    "Xl30AU5ZnTPmeq/Je3EBEyJ8LtDq9/cFWrg20lLBnxLOZk89zqtCz2BGmXx46sCPt5oIW1/RV6ZlEGcbRPh3LCD5",
    "1zMY4DPysCno0hM/5VDIk2hEn6i5cCj1aFyGag809P9LtZcDcxt91bLEGZuA4bNpeH2SYKAjW6/Fr6Q4z8FpD8Lx",
    "EujzyZkETs6LngCMMPz/ILQKwqBkcsSZkTsDEc/rtoTy8sDIhlr/FLzKWV7UPjY+wIVqLno0sic1KgSiPstfpUkS",
    "yPXig4eBJTNoyCaNAtbnn70CAwEAAQ==",
);

/// What the fake answers.
enum Answer {
    /// HTTP status and a JSON body.
    Json(u16, String),
    /// Never answers (holds the connection).
    Hang,
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    Answer::Json(
        status,
        format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
    )
}

type Script = dyn Fn(&str, &str, usize) -> Answer + Send + Sync;

struct Fake {
    endpoint: String,
    requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    /// Starts the fake; `script(operation, body, n)` answers the n-th request (0-based).
    fn start(script: impl Fn(&str, &str, usize) -> Answer + Send + Sync + 'static) -> Fake {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"))
            .port();
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let (r, s) = (requests.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s, script) = (r.clone(), s.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &r, &s, &*script));
            }
        });
        Fake {
            endpoint: format!("http://127.0.0.1:{port}"),
            requests,
            seen,
        }
    }

    fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn config(&self) -> AwsKmsConfig {
        AwsKmsConfig::new()
            .region("us-east-1")
            .endpoint(&self.endpoint)
            .static_credentials(
                "AKIAFAKEFAKEFAKE",
                SECRET,
                Some("SESSIONTOKENSECRET".into()),
            )
            .max_attempts(3)
            .initial_backoff(Duration::from_millis(5))
            .cache_ttl(Duration::ZERO)
    }

    async fn backend(&self, config: AwsKmsConfig) -> AwsKmsBackend {
        AwsKmsBackend::new(config)
            .await
            .unwrap_or_else(|e| panic!("backend: {e}"))
    }
}

fn serve(mut stream: TcpStream, count: &AtomicUsize, seen: &Mutex<Vec<String>>, script: &Script) {
    loop {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => buf.push(byte[0]),
                _ => return,
            }
        }
        let head = String::from_utf8_lossy(&buf).to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        let len: usize = header("content-length").parse().unwrap_or(0);
        let mut body = vec![0u8; len];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        let operation = header("x-amz-target")
            .trim_start_matches("TrentService.")
            .to_string();
        let body = String::from_utf8_lossy(&body).to_string();
        if let Ok(mut s) = seen.lock() {
            s.push(head.clone() + &body);
        }
        let n = count.fetch_add(1, Ordering::SeqCst);
        match script(&operation, &body, n) {
            Answer::Hang => {
                std::thread::sleep(Duration::from_secs(30));
                return;
            }
            Answer::Json(status, body) => {
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if stream.write_all(response.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

fn ok_describe() -> Answer {
    Answer::Json(
        200,
        format!(
            r#"{{"KeyMetadata":{{"KeyId":"{KEY_ID}","Arn":"arn:aws:kms:us-east-1:111122223333:key/{KEY_ID}","KeySpec":"SYMMETRIC_DEFAULT","KeyUsage":"ENCRYPT_DECRYPT","KeyState":"Enabled","Enabled":true,"CreationDate":1.7E9,"Origin":"AWS_KMS","KeyManager":"CUSTOMER"}}}}"#
        ),
    )
}

fn empty_list(operation: &str) -> Answer {
    let field = match operation {
        "ListAliases" => "Aliases",
        "ListResourceTags" => "Tags",
        _ => "Rotations",
    };
    Answer::Json(200, format!(r#"{{"{field}":[],"Truncated":false}}"#))
}

fn key() -> KeyRef {
    KeyRef::key_id(KEY_ID).unwrap_or_else(|e| panic!("{e}"))
}

/// A throttling storm: the SDK retries (standard mode, backoff with jitter) up to the
/// configured attempts, then the caller gets `Throttled`, naming operation and key.
#[tokio::test]
async fn throttling_is_retried_then_reported() {
    let fake = Fake::start(|_, _, _| error(400, "ThrottlingException", "Rate exceeded"));
    let b = fake.backend(fake.config().max_attempts(4)).await;
    let err = b.describe_key(&key()).await.err();
    assert!(
        matches!(&err, Some(Error::Throttled { operation, .. })
            if operation.contains("DescribeKey") && operation.contains(KEY_ID)),
        "{err:?}"
    );
    assert!(err.as_ref().is_some_and(Error::is_retryable));
    assert_eq!(fake.count(), 4, "4 attempts, as configured");
}

/// Throttled twice, then answered: the caller sees only the answer.
#[tokio::test]
async fn throttling_that_passes_is_invisible() {
    let fake = Fake::start(|op, _, n| match (op, n) {
        ("DescribeKey", 0 | 1) => error(400, "ThrottlingException", "Rate exceeded"),
        ("DescribeKey", _) => ok_describe(),
        (other, _) => empty_list(other),
    });
    let b = fake.backend(fake.config()).await;
    let info = b
        .describe_key(&key())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info.key_id, KEY_ID);
    assert_eq!(info.spec, KeySpec::SymmetricDefault);
    // 3 DescribeKey + ListAliases + ListResourceTags + ListKeyRotations.
    assert_eq!(fake.count(), 6);
}

/// Server faults (HTTP 500) are retried, then reported as a retryable backend error.
#[tokio::test]
async fn server_faults_are_retried_then_reported_retryable() {
    let fake = Fake::start(|_, _, _| error(500, "KMSInternalException", "boom"));
    let b = fake.backend(fake.config()).await;
    let err = b.describe_key(&key()).await.err();
    assert!(
        matches!(&err, Some(Error::Backend { code, retryable: true, .. }) if code == "KMSInternalException"),
        "{err:?}"
    );
    assert_eq!(fake.count(), 3);
}

/// CreateKey is not idempotent: a 500 (the key may exist) is never retried, and the error
/// names the tag that identifies a key it may have made. Throttling (nothing was made) is
/// retried.
#[tokio::test]
async fn create_key_is_never_retried_blindly() {
    let fake = Fake::start(|_, _, _| error(500, "KMSInternalException", "lost"));
    let b = fake.backend(fake.config()).await;
    let err = b
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault))
        .await
        .err();
    assert!(
        matches!(&err, Some(Error::Backend { message, .. }) if message.contains("keychain:request=")),
        "{err:?}"
    );
    assert_eq!(
        fake.count(),
        1,
        "CreateKey was retried after an unknown outcome"
    );
    let tagged = fake
        .seen
        .lock()
        .map(|s| s.iter().any(|r| r.contains("keychain:request")))
        .unwrap_or(false);
    assert!(tagged, "the CreateKey request carries the request tag");

    let fake = Fake::start(|_, _, _| error(400, "ThrottlingException", "slow down"));
    let b = fake.backend(fake.config()).await;
    let err = b
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault))
        .await
        .err();
    assert!(matches!(err, Some(Error::Throttled { .. })), "{err:?}");
    assert_eq!(
        fake.count(),
        3,
        "a refused CreateKey is retried like any call"
    );
}

/// A server that never answers: every attempt times out, and so does the call, within the
/// operation deadline.
#[tokio::test]
async fn a_silent_server_times_out() {
    let fake = Fake::start(|_, _, _| Answer::Hang);
    let config = fake
        .config()
        .attempt_timeout(Duration::from_millis(300))
        .operation_timeout(Duration::from_secs(2));
    let b = fake.backend(config).await;
    let started = Instant::now();
    let err = b.describe_key(&key()).await.err();
    assert!(
        matches!(&err, Some(Error::Timeout { operation }) if operation.contains("DescribeKey")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(fake.count() >= 2, "attempts time out and are retried");
}

/// Access denied, and credentials: the secret key and session token never appear in errors,
/// in Debug output, or on the wire (requests are signed, not carrying the secret).
#[tokio::test]
async fn secrets_stay_secret() {
    let fake = Fake::start(|_, _, _| {
        error(
            400,
            "AccessDeniedException",
            "User is not authorized to perform: kms:Sign",
        )
    });
    let config = fake.config();
    let b = fake.backend(config.clone()).await;
    let err = b.describe_key(&key()).await.err();
    assert!(matches!(&err, Some(Error::AccessDenied { .. })), "{err:?}");
    let texts = [
        format!("{err:?}"),
        err.map(|e| e.to_string()).unwrap_or_default(),
        format!("{config:?}"),
        config.to_string(),
        format!("{b:?}"),
    ];
    for t in &texts {
        assert!(
            !t.contains(SECRET) && !t.contains("SESSIONTOKENSECRET"),
            "{t}"
        );
    }
    let wire = fake.seen.lock().map(|s| s.join("\n")).unwrap_or_default();
    assert!(!wire.is_empty());
    assert!(!wire.contains(SECRET), "the secret key went over the wire");
}

/// Malformed input is refused before any request: a digest of the wrong length, a pending
/// window outside 7–30 days, a rotation period outside 90–2560, a reserved tag.
#[tokio::test]
async fn bad_input_never_reaches_the_server() {
    let fake = Fake::start(|_, _, _| error(500, "KMSInternalException", "must not be called"));
    let b = fake.backend(fake.config()).await;
    let k = key();
    let short = [0u8; 31];
    assert!(matches!(
        b.sign(
            &k,
            keychain::Message::Digest(&short),
            keychain::SigningAlgorithm::EcdsaSha256
        )
        .await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        b.schedule_key_deletion(&k, 6).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        b.enable_key_rotation(&k, Some(30)).await,
        Err(Error::InvalidInput { .. })
    ));
    let reserved = [("keychain:name".to_string(), "x".to_string())].into();
    assert!(matches!(
        b.tag_key(&k, &reserved).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        b.create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("bad name"))
            .await,
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(fake.count(), 0, "a request reached the server");
}

/// KMS rejecting a step of an import as invalid is the typed `ImportRefused` (kind
/// `InvalidInput`, the same message as before), whichever step it refuses; the same rejection
/// of an ordinary CreateKey stays `InvalidInput`.
#[tokio::test]
async fn kms_rejecting_an_import_step_is_import_refused() {
    for refused_step in ["CreateKey", "GetParametersForImport", "ImportKeyMaterial"] {
        let fake = Fake::start(move |op, body, _| match op {
            "DescribeKey" if body.contains("alias/") => error(400, "NotFoundException", "no alias"),
            op if op == refused_step => error(
                400,
                "ValidationException",
                "this key spec cannot be imported",
            ),
            "DescribeKey" | "CreateKey" => Answer::Json(
                200,
                format!(
                    r#"{{"KeyMetadata":{{"KeyId":"{KEY_ID}","KeySpec":"SYMMETRIC_DEFAULT","KeyUsage":"ENCRYPT_DECRYPT","KeyState":"PendingImport","Enabled":false,"Origin":"EXTERNAL","KeyManager":"CUSTOMER"}}}}"#
                ),
            ),
            "GetParametersForImport" => Answer::Json(
                200,
                format!(
                    r#"{{"KeyId":"{KEY_ID}","ImportToken":"dG9rZW4=","PublicKey":"{}","ParametersValidTo":1.9E9}}"#,
                    WRAPPING_KEY_DER_B64
                ),
            ),
            "ScheduleKeyDeletion" => Answer::Json(
                200,
                format!(r#"{{"KeyId":"{KEY_ID}","DeletionDate":1.9E9}}"#),
            ),
            other => error(500, "KMSInternalException", other),
        });
        let b = fake.backend(fake.config()).await;
        let err = b
            .import_key(
                &CreateKeyRequest::new(KeySpec::SymmetricDefault).name("migrated"),
                &keychain::Secret::new(vec![1; 32]),
                None,
            )
            .await
            .err();
        assert!(
            matches!(&err, Some(Error::ImportRefused { operation, message })
                if operation == refused_step
                    && message.contains("rejected by AWS KMS (ValidationException)")),
            "{refused_step}: {err:?}"
        );
        let err = err.unwrap_or_else(|| Error::invalid_input("unreachable"));
        assert_eq!(err.kind(), keychain::ErrorKind::InvalidInput);
        assert!(err.to_string().starts_with("invalid input: "), "{err}");
    }
    let fake = Fake::start(|op, _, _| match op {
        "CreateKey" => error(400, "ValidationException", "bad description"),
        other => error(500, "KMSInternalException", other),
    });
    let b = fake.backend(fake.config()).await;
    assert!(matches!(
        b.create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault))
            .await,
        Err(Error::InvalidInput { .. })
    ));
}

/// A failure after CreateKey in `import_key` (here GetParametersForImport is refused) never
/// leaves the new key behind: it is scheduled for deletion and the error says so.
#[tokio::test]
async fn a_failed_import_schedules_the_new_key_for_deletion() {
    let fake = Fake::start(|op, body, _| match op {
        "DescribeKey" if body.contains("alias/") => error(400, "NotFoundException", "no alias"),
        "DescribeKey" | "CreateKey" => Answer::Json(
            200,
            format!(
                r#"{{"KeyMetadata":{{"KeyId":"{KEY_ID}","KeySpec":"SYMMETRIC_DEFAULT","KeyUsage":"ENCRYPT_DECRYPT","KeyState":"PendingImport","Enabled":false,"Origin":"EXTERNAL","KeyManager":"CUSTOMER"}}}}"#
            ),
        ),
        "GetParametersForImport" => error(400, "AccessDeniedException", "not allowed"),
        "ScheduleKeyDeletion" => Answer::Json(
            200,
            format!(r#"{{"KeyId":"{KEY_ID}","DeletionDate":1.9E9}}"#),
        ),
        other => error(500, "KMSInternalException", other),
    });
    let b = fake.backend(fake.config()).await;
    let err = b
        .import_key(
            &CreateKeyRequest::new(KeySpec::SymmetricDefault).name("migrated"),
            &keychain::Secret::new(vec![1; 32]),
            None,
        )
        .await
        .err();
    assert!(
        matches!(&err, Some(Error::AccessDenied { message, .. })
            if message.contains(KEY_ID) && message.contains("scheduled for deletion")),
        "{err:?}"
    );
    let scheduled = fake
        .seen
        .lock()
        .map(|s| {
            s.iter()
                .any(|r| r.contains("TrentService.ScheduleKeyDeletion") && r.contains(KEY_ID))
        })
        .unwrap_or(false);
    assert!(
        scheduled,
        "the half-imported key was not scheduled for deletion"
    );
    let aliased = fake
        .seen
        .lock()
        .map(|s| s.iter().any(|r| r.contains("TrentService.CreateAlias")))
        .unwrap_or(true);
    assert!(!aliased, "the name was given to a key without material");
}
