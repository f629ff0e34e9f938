//! KMS errors as the server sends them: an exception name, an HTTP status and a message, and
//! the one mapping from keychain's [`Error`] to them.

use http::StatusCode;
use keychain::Error;

/// A KMS error answer: `{"__type": code, "message": message}` with `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KmsError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl KmsError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        KmsError {
            status,
            code,
            message: message.into(),
        }
    }

    /// A 400 with `code`.
    pub(crate) fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::bad("ValidationException", message)
    }

    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::bad("SerializationException", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::bad("NotFoundException", message)
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Self::bad("UnsupportedOperationException", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "KMSInternalException",
            message,
        )
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Vec<u8> {
        serde_json::json!({ "__type": self.code, "message": self.message })
            .to_string()
            .into_bytes()
    }
}

/// A keychain error as KMS reports it. Errors of the keystore itself (a wrong password, damage,
/// I/O, a failed cryptographic operation) are the server's fault, never the caller's:
/// KMSInternalException, with the cause in the server's log and not in the answer.
impl From<Error> for KmsError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::NotFound { .. } | Error::NoKeystore { .. } => KmsError::not_found(message),
            Error::AlreadyExists { .. } => KmsError::bad("AlreadyExistsException", message),
            Error::AccessDenied { .. } => KmsError::bad("AccessDeniedException", message),
            Error::Throttled { .. } => KmsError::bad("ThrottlingException", message),
            Error::Timeout { .. } => KmsError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "DependencyTimeoutException",
                message,
            ),
            Error::InvalidKeyUsage { .. } => KmsError::bad("InvalidKeyUsageException", message),
            Error::InvalidKeyState { ref state, .. } if state.eq_ignore_ascii_case("disabled") => {
                KmsError::bad("DisabledException", message)
            }
            Error::InvalidKeyState { .. } => KmsError::bad("KMSInvalidStateException", message),
            Error::Unsupported { .. } => KmsError::unsupported(message),
            Error::InvalidInput { .. } | Error::ImportRefused { .. } => {
                KmsError::validation(message)
            }
            // A ciphertext or signature that fails to check is the caller's, and Decrypt,
            // ReEncrypt, Decapsulate and the Verify operations say so themselves before an
            // error gets here. Anywhere else a cryptographic failure (a key that cannot
            // sign, a random generator that fails) is the server's.
            other => {
                tracing::error!(error = %other, "backend failure");
                KmsError::internal("the key store failed; see the server log")
            }
        }
    }
}
