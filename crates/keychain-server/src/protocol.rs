//! The KMS JSON 1.1 protocol: one `POST /` per call, the operation in `X-Amz-Target`, JSON in
//! and out, errors as `{"__type", "message"}` with their HTTP status, `X-Amzn-ErrorType` and
//! `x-amzn-RequestId`. Everything a client sends is checked in the order KMS checks it:
//! size, signature, content type, operation, JSON.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use crate::auth::{SignedRequest, authenticate};
use crate::credentials::Credentials;
use crate::errors::KmsError;
use crate::ops::{self, Context};

/// The largest request body accepted (the largest KMS request, an ImportKeyMaterial with a
/// wrapped RSA-4096 key or a 32 KiB key policy, is far smaller once base64-encoded).
pub(crate) const MAX_BODY: usize = 256 * 1024;
/// How long a request's body may take to arrive.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The content type of every request and answer.
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The prefix of every operation in `X-Amz-Target`.
const TARGET_PREFIX: &str = "TrentService.";

/// The KMS API over a backend, one HTTP request at a time, without a socket: what
/// [`crate::Server`] runs for every connection, and what a fuzzer or a benchmark can call
/// directly.
#[derive(Debug, Clone)]
pub struct KmsService {
    shared: Arc<Shared>,
}

/// What every request handler shares.
#[derive(Debug)]
struct Shared {
    backend: Arc<dyn keychain::Backend>,
    credentials: Credentials,
    request_ids: RequestIds,
}

/// `x-amzn-RequestId` values: UUID-shaped and unique within the process — a random base drawn
/// once and a counter added to it — so no request waits on the OS random generator for an
/// id that protects nothing.
#[derive(Debug)]
struct RequestIds {
    base: u128,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        RequestIds {
            base: uuid::Uuid::new_v4().as_u128(),
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        uuid::Uuid::from_u128(self.base.wrapping_add(u128::from(n)))
            .hyphenated()
            .to_string()
    }
}

impl KmsService {
    /// The KMS API over `keychain`'s backend, for callers holding `credentials`.
    pub fn new(keychain: &keychain::Keychain, credentials: Credentials) -> Self {
        KmsService {
            shared: Arc::new(Shared {
                backend: keychain.backend().clone(),
                credentials,
                request_ids: RequestIds::new(),
            }),
        }
    }

    /// Answers one request. Never fails: every problem is a KMS error answer.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        handle(&self.shared, request).await
    }
}

async fn handle<B>(shared: &Shared, request: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let request_id = shared.request_ids.next();
    // The operation is kept for the log line only when that line is written.
    let target = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| {
            request
                .headers()
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .flatten();
    let result = answer(shared, request).await;
    match &result {
        Ok(_) => tracing::debug!(%request_id, target = target.as_deref(), "ok"),
        Err(e) => {
            tracing::debug!(%request_id, target = target.as_deref(), code = e.code, "refused")
        }
    }
    respond(result, &request_id)
}

async fn answer<B>(shared: &Shared, request: Request<B>) -> Result<Value, KmsError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return Err(KmsError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UnknownOperationException",
            "KMS takes POST requests only",
        ));
    }
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    // Read before the signature can be checked: an anonymous client may not hold the
    // connection by trickling its body.
    let collected = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect())
        .await
        .map_err(|_| {
            KmsError::bad(
                "RequestTimeoutException",
                "the request body did not arrive in time",
            )
        })?;
    let body = collected
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                KmsError::serialization("the request body could not be read")
            }
        })?
        .to_bytes();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let caller = authenticate(
        &SignedRequest {
            method: parts.method.as_str(),
            path_and_query,
            headers: &parts.headers,
            body: &body,
        },
        &shared.credentials,
        SystemTime::now(),
    )?;
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(CONTENT_TYPE) {
        return Err(KmsError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaTypeException",
            format!("Content-Type must be {CONTENT_TYPE}"),
        ));
    }
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        return Err(KmsError::bad(
            "UnknownOperationException",
            "X-Amz-Target must name a TrentService operation",
        ));
    };
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| KmsError::serialization("the request body is not valid JSON"))?
    };
    if !input.is_object() {
        return Err(KmsError::serialization(
            "the request body must be a JSON object",
        ));
    }
    let context = Context {
        caller,
        backend: shared.backend.clone(),
    };
    ops::dispatch(&context, operation, input).await
}

fn too_large() -> KmsError {
    KmsError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLargeException",
        format!("the request body is larger than {MAX_BODY} bytes"),
    )
}

fn respond(result: Result<Value, KmsError>, request_id: &str) -> Response<Full<Bytes>> {
    let (status, body, error) = match result {
        Ok(v) => (StatusCode::OK, v.to_string().into_bytes(), None),
        Err(e) => (e.status, e.body(), Some(e.code)),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(code) = error {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(code));
    }
    response
}
