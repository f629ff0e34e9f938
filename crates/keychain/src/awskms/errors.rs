//! AWS KMS failures as [`Error`]s: every KMS exception has its variant, and every message names
//! the operation and the key. Request and response bodies never reach a message, so neither do
//! plaintexts, data keys or credentials. Every error of an answered call carries the AWS
//! request id (`(AWS request id …)` at the end of its message), for AWS Support and CloudTrail.

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::RequestId;

use crate::Error;

/// The backend name used in errors.
pub(crate) const BACKEND: &str = "awskms";

/// Longest service message kept in an error (the rest is cut).
const MAX_MESSAGE: usize = 512;

/// The KMS exception name of a failed call, if the service answered with one.
pub(crate) fn error_code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    match err {
        SdkError::ServiceError(_) => err.code(),
        _ => None,
    }
}

fn clip(s: &str) -> String {
    let s = s.trim();
    if s.len() <= MAX_MESSAGE {
        return s.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The request id of an answer, when it is a plausible one (printable ASCII, not too long):
/// it comes from the server and ends up on a terminal.
fn request_id_of<E>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    err.request_id()
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .filter(|id| id.bytes().all(|b| b.is_ascii_graphic()))
}

/// Maps a failed SDK call of `operation` on `key` (a key reference, alias or "-" when the call
/// names no key) to an [`Error`], with the AWS request id of the answer when there was one.
pub(crate) fn map_sdk_error<E>(err: SdkError<E, HttpResponse>, operation: &str, key: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let request_id = request_id_of(&err).map(str::to_string);
    let mapped = map_sdk_error_only(err, operation, key);
    match request_id {
        Some(id) => mapped.with_note(&format!("AWS request id {id}")),
        None => mapped,
    }
}

fn map_sdk_error_only<E>(err: SdkError<E, HttpResponse>, operation: &str, key: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let chain = || clip(&causes(&err));
    match &err {
        SdkError::TimeoutError(_) => Error::Timeout {
            operation: format!("{operation} on {key}"),
        },
        SdkError::DispatchFailure(d) => {
            if d.is_timeout() {
                return Error::Timeout {
                    operation: format!("{operation} on {key}"),
                };
            }
            let text = chain();
            if mentions_credentials(&text) {
                return no_credentials(operation, &text);
            }
            Error::Backend {
                backend: BACKEND.into(),
                operation: operation.into(),
                code: "DispatchFailure".into(),
                message: if key == "-" {
                    format!("could not reach AWS KMS: {text}")
                } else {
                    format!("could not reach AWS KMS for {key}: {text}")
                },
                retryable: true,
            }
        }
        SdkError::ConstructionFailure(_) => {
            let text = chain();
            if mentions_credentials(&text) {
                return no_credentials(operation, &text);
            }
            Error::Backend {
                backend: BACKEND.into(),
                operation: operation.into(),
                code: "ConstructionFailure".into(),
                message: format!("request for {key} not sent: {text}"),
                retryable: false,
            }
        }
        SdkError::ResponseError(r) => Error::Backend {
            backend: BACKEND.into(),
            operation: operation.into(),
            code: "ResponseError".into(),
            message: format!(
                "unreadable response (HTTP {}) for {key}: {}",
                r.raw().status().as_u16(),
                chain()
            ),
            retryable: r.raw().status().is_server_error(),
        },
        SdkError::ServiceError(s) => {
            let status = s.raw().status();
            let code = err.code().unwrap_or("").to_string();
            let message = clip(err.message().unwrap_or(""));
            map_code(&code, &message, status.as_u16(), operation, key)
        }
        // SdkError is non-exhaustive.
        _ => Error::Backend {
            backend: BACKEND.into(),
            operation: operation.into(),
            code: "Unknown".into(),
            message: format!("{key}: {}", chain()),
            retryable: false,
        },
    }
}

/// An error and its causes, joined by ": ", each said once (the SDK's wrappers often repeat
/// their cause's words), without the SDK's Debug dump of the whole structure, which says the
/// same again in Rust syntax.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn mentions_credentials(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("credential") || t.contains("no identity") || t.contains("identity resolver")
}

fn no_credentials(operation: &str, text: &str) -> Error {
    Error::AccessDenied {
        operation: operation.into(),
        message: format!(
            "no usable AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
             AWS_PROFILE, or run with an instance/task role): {text}"
        ),
    }
}

/// Maps a KMS exception name (and HTTP status) to an [`Error`].
pub(crate) fn map_code(
    code: &str,
    message: &str,
    status: u16,
    operation: &str,
    key: &str,
) -> Error {
    let with_message = |prefix: &str| {
        if message.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}: {message}")
        }
    };
    match code {
        "NotFoundException" => Error::NotFound { key: key.into() },
        "AlreadyExistsException" => Error::AlreadyExists { what: key.into() },
        "DisabledException" => Error::InvalidKeyState {
            key: key.into(),
            state: "Disabled".into(),
            message: with_message(&format!("{operation} refused; enable the key to use it")),
        },
        "KMSInvalidStateException" => Error::InvalidKeyState {
            key: key.into(),
            state: state_from_message(message).into(),
            message: with_message(&format!("{operation} refused in this state")),
        },
        "InvalidKeyUsageException" => {
            Error::key_usage(key, with_message(&format!("{operation} not allowed")))
        }
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "IncompleteSignatureException"
        | "ExpiredTokenException"
        | "MissingAuthenticationToken"
        | "InvalidClientTokenId" => Error::AccessDenied {
            operation: format!("{operation} on {key}"),
            message: with_message(code),
        },
        // A quota (keys, aliases, grants per key…) or a length limit: waiting does not lift
        // it, so it is neither throttling nor retried (see `client::KmsRetryClassifier`).
        "LimitExceededException" => Error::Backend {
            backend: BACKEND.into(),
            operation: format!("{operation} on {key}"),
            code: code.to_string(),
            message: with_message(
                "an AWS KMS quota or length limit was exceeded (not throttling: retrying \
                 does not help; see the KMS quotas of the account)",
            ),
            retryable: false,
        },
        // RotateKeyOnDemand while an automatic rotation runs or is due within 20 minutes.
        "ConflictException" => Error::Backend {
            backend: BACKEND.into(),
            operation: format!("{operation} on {key}"),
            code: code.to_string(),
            message: with_message("a rotation of the key is in progress or about to start"),
            retryable: true,
        },
        "ThrottlingException"
        | "Throttling"
        | "RequestLimitExceeded"
        | "TooManyRequestsException" => Error::Throttled {
            operation: format!("{operation} on {key}"),
            message: with_message(&format!("{code} after all retries")),
        },
        "KMSInvalidSignatureException" | "KMSInvalidMacException" => Error::Crypto {
            message: with_message(&format!("{operation} with {key}: {code}")),
        },
        // The ciphertext is sound but the caller named the wrong key: a question of input.
        "IncorrectKeyException" => Error::invalid_input(with_message(&format!(
            "{operation}: the ciphertext was not made with {key} ({code})"
        ))),
        "InvalidCiphertextException" | "IncorrectKeyMaterialException" => Error::Crypto {
            message: with_message(&format!("{operation} with {key}: {code}")),
        },
        "UnsupportedOperationException" => {
            Error::unsupported(BACKEND, with_message(&format!("{operation} on {key}")))
        }
        "ValidationException"
        | "InvalidAliasNameException"
        | "InvalidArnException"
        | "InvalidMarkerException"
        | "InvalidGrantTokenException"
        | "InvalidImportTokenException"
        | "ExpiredImportTokenException"
        | "MalformedPolicyDocumentException"
        | "TagException"
        | "InvalidParameterValue"
        | "InvalidParameterCombination"
        | "MissingParameter"
        | "SerializationException"
        | "DryRunOperationException" => Error::invalid_input(with_message(&format!(
            "{operation} on {key} rejected by AWS KMS ({code})"
        ))),
        "InvalidGrantIdException" => Error::NotFound {
            key: format!("grant of {key}"),
        },
        "DependencyTimeoutException" => Error::Timeout {
            operation: format!("{operation} on {key} (AWS KMS dependency timed out)"),
        },
        _ => Error::Backend {
            backend: BACKEND.into(),
            operation: format!("{operation} on {key}"),
            code: if code.is_empty() {
                format!("HTTP {status}")
            } else {
                code.to_string()
            },
            message: message.to_string(),
            retryable: status >= 500
                || matches!(
                    code,
                    "KMSInternalException" | "KeyUnavailableException" | "ServiceUnavailable"
                ),
        },
    }
}

/// Best guess of the key state from a KMSInvalidStateException message
/// (`… is pending deletion.`, `… is disabled`); the backend asks DescribeKey when it can.
fn state_from_message(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("pending deletion") || m.contains("pendingdeletion") {
        "PendingDeletion"
    } else if m.contains("pending import") || m.contains("pendingimport") {
        "PendingImport"
    } else if m.contains("disabled") {
        "Disabled"
    } else if m.contains("unavailable") {
        "Unavailable"
    } else {
        "in an invalid state"
    }
}

/// A failure of the import step `operation`, mapped from KMS's answer: KMS rejecting the
/// step as invalid (a `ValidationException`, say, for a key spec it does not import) is
/// [`Error::ImportRefused`]; any other error is returned as it is.
pub(super) fn import_step_failed(err: Error, operation: &str) -> Error {
    match err {
        Error::InvalidInput { message } => Error::ImportRefused {
            operation: operation.into(),
            message,
        },
        other => other,
    }
}

/// The error for an answer that lacks a field it must carry.
pub(super) fn no_field(operation: &str, field: &str, key: &str) -> Error {
    Error::Backend {
        backend: BACKEND.into(),
        operation: operation.into(),
        code: "EmptyResponse".into(),
        message: format!("no {field} in the answer for {key}"),
        retryable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn kind(code: &str, status: u16) -> ErrorKind {
        map_code(code, "msg", status, "Sign", "alias/k").kind()
    }

    #[test]
    fn every_kms_exception_has_its_variant() {
        assert_eq!(kind("NotFoundException", 400), ErrorKind::NotFound);
        assert_eq!(
            kind("AlreadyExistsException", 400),
            ErrorKind::AlreadyExists
        );
        assert_eq!(kind("DisabledException", 400), ErrorKind::InvalidKeyState);
        assert_eq!(
            kind("KMSInvalidStateException", 400),
            ErrorKind::InvalidKeyState
        );
        assert_eq!(
            kind("InvalidKeyUsageException", 400),
            ErrorKind::InvalidKeyUsage
        );
        assert_eq!(kind("AccessDeniedException", 400), ErrorKind::AccessDenied);
        assert_eq!(kind("ThrottlingException", 400), ErrorKind::Throttled);
        let e = map_code(
            "LimitExceededException",
            "quota",
            400,
            "CreateKey",
            "alias/k",
        );
        assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
        assert!(!e.is_retryable(), "a quota is not lifted by waiting: {e}");
        let e = map_code("ConflictException", "", 400, "RotateKeyOnDemand", "alias/k");
        assert!(e.is_retryable(), "{e}");
        assert_eq!(kind("IncorrectKeyException", 400), ErrorKind::InvalidInput);
        assert_eq!(kind("InvalidCiphertextException", 400), ErrorKind::Crypto);
        assert_eq!(kind("ValidationException", 400), ErrorKind::InvalidInput);
        assert_eq!(
            kind("UnsupportedOperationException", 400),
            ErrorKind::Unsupported
        );
        assert_eq!(kind("DependencyTimeoutException", 503), ErrorKind::Timeout);
        let e = map_code("KMSInternalException", "boom", 500, "Sign", "alias/k");
        assert!(e.is_retryable(), "{e}");
        let e = map_code("", "", 502, "Sign", "alias/k");
        assert!(e.is_retryable(), "{e}");
        assert!(e.to_string().contains("HTTP 502"), "{e}");
        let e = map_code("SomethingNew", "", 400, "Sign", "alias/k");
        assert!(!e.is_retryable(), "{e}");
    }

    #[test]
    fn messages_name_key_and_operation() {
        let e = map_code(
            "DisabledException",
            "k is disabled",
            400,
            "Sign",
            "alias/app",
        );
        let text = e.to_string();
        assert!(
            text.contains("alias/app") && text.contains("Sign"),
            "{text}"
        );
        let e = map_code(
            "KMSInvalidStateException",
            "arn:aws:kms:us-east-1:000000000000:key/x is pending deletion.",
            400,
            "Sign",
            "alias/app",
        );
        assert!(
            matches!(&e, Error::InvalidKeyState { state, .. } if state == "PendingDeletion"),
            "{e}"
        );
        let e = map_code(
            "ThrottlingException",
            "Rate exceeded",
            400,
            "Sign",
            "alias/app",
        );
        assert!(e.to_string().contains("alias/app"), "{e}");
    }

    #[test]
    fn long_messages_are_clipped_on_a_char_boundary() {
        let long = "é".repeat(400);
        let c = clip(&long);
        assert!(c.len() <= MAX_MESSAGE + '…'.len_utf8());
    }
}
