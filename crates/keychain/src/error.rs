//! The one error type of keychain.
//!
//! Every failure a caller can act on has its own variant; messages name the key and the
//! operation and never contain key material, plaintext or credentials.

use std::fmt;

/// Result alias used throughout keychain.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a keychain operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key (or alias) does not exist in the backend.
    #[error("key not found: {key}")]
    NotFound {
        /// The key reference as the caller gave it.
        key: String,
    },

    /// There is no keystore at the path given (a software backend opened without
    /// [`crate::software::OpenMode::OpenOrCreate`] or `Create`); its kind is
    /// [`ErrorKind::NotFound`].
    #[error(
        "no keystore at {path} (create one with `keychain keystore init` or `keychain key create`)"
    )]
    NoKeystore {
        /// The keystore directory.
        path: String,
    },

    /// A key, alias or name that must be new already exists.
    #[error("already exists: {what}")]
    AlreadyExists {
        /// What exists (for example `alias/api-signing-key`).
        what: String,
    },

    /// The backend refused the caller's credentials or permissions.
    #[error("access denied for {operation}: {message}")]
    AccessDenied {
        /// The operation that was refused.
        operation: String,
        /// The backend's explanation (never a credential).
        message: String,
    },

    /// The keystore password is wrong (or the keystore was written with another password).
    #[error("wrong password for keystore {keystore}")]
    WrongPassword {
        /// The keystore location.
        keystore: String,
    },

    /// The backend throttled the request and the retry budget is exhausted.
    #[error("throttled during {operation}: {message}")]
    Throttled {
        /// The operation that was throttled.
        operation: String,
        /// The backend's explanation.
        message: String,
    },

    /// The operation did not finish within its deadline.
    #[error("timed out during {operation}")]
    Timeout {
        /// The operation that timed out.
        operation: String,
    },

    /// The key's usage (or spec) does not allow this operation or algorithm.
    #[error("invalid key usage for {key}: {message}")]
    InvalidKeyUsage {
        /// The key.
        key: String,
        /// What was asked and what the key allows.
        message: String,
    },

    /// The key exists but is in a state that forbids the operation (disabled, pending deletion…).
    #[error("key {key} is {state}: {message}")]
    InvalidKeyState {
        /// The key.
        key: String,
        /// The key's current state.
        state: String,
        /// What the state forbids.
        message: String,
    },

    /// The backend cannot do this at all.
    #[error("{backend} backend does not support {operation}")]
    Unsupported {
        /// The backend's name.
        backend: String,
        /// The operation or feature.
        operation: String,
    },

    /// The caller's input is malformed (bad reference, wrong digest length, bad parameter…).
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What is wrong.
        message: String,
    },

    /// The backend refused to import a key: it rejected a step of the import as invalid
    /// (creating a key for imported material of this spec, the wrapping parameters, or the
    /// material). Generating a fresh key in that backend may still work. Its kind is
    /// [`ErrorKind::InvalidInput`], as for any request the backend rejects.
    #[error("invalid input: {message}")]
    ImportRefused {
        /// The refused step (for AWS KMS: `CreateKey`, `GetParametersForImport` or
        /// `ImportKeyMaterial`).
        operation: String,
        /// The backend's refusal, naming the key and the step.
        message: String,
    },

    /// A cryptographic operation failed: decryption of tampered data, a malformed key…
    #[error("cryptographic failure: {message}")]
    Crypto {
        /// What failed (never key material or plaintext).
        message: String,
    },

    /// Stored data is damaged: a truncated or tampered keystore file.
    #[error("corrupted {what}: {message}")]
    Corrupted {
        /// The damaged item (a path or key id).
        what: String,
        /// What is wrong with it.
        message: String,
    },

    /// An I/O error with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What keychain was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Any other error reported by a backend.
    #[error("{backend} error during {operation}: {code}: {message}")]
    Backend {
        /// The backend's name.
        backend: String,
        /// The operation.
        operation: String,
        /// The backend's error code (for AWS, the exception name).
        code: String,
        /// The backend's message.
        message: String,
        /// Whether repeating the call may succeed.
        retryable: bool,
    },
}

impl Error {
    /// Whether retrying the same call later may succeed (throttling, timeouts, transient
    /// backend faults).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Throttled { .. } | Error::Timeout { .. } => true,
            Error::Backend { retryable, .. } => *retryable,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// A short stable name for the variant, used for CLI exit codes and JSON output.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } | Error::NoKeystore { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::AccessDenied { .. } => ErrorKind::AccessDenied,
            Error::WrongPassword { .. } => ErrorKind::WrongPassword,
            Error::Throttled { .. } => ErrorKind::Throttled,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::InvalidKeyUsage { .. } => ErrorKind::InvalidKeyUsage,
            Error::InvalidKeyState { .. } => ErrorKind::InvalidKeyState,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::InvalidInput { .. } | Error::ImportRefused { .. } => ErrorKind::InvalidInput,
            Error::Crypto { .. } => ErrorKind::Crypto,
            Error::Corrupted { .. } => ErrorKind::Corrupted,
            Error::Io { .. } => ErrorKind::Io,
            Error::Backend { .. } => ErrorKind::Backend,
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid_input(message: impl fmt::Display) -> Self {
        Error::InvalidInput {
            message: message.to_string(),
        }
    }

    /// Shorthand for [`Error::Crypto`].
    pub fn crypto(message: impl fmt::Display) -> Self {
        Error::Crypto {
            message: message.to_string(),
        }
    }

    /// Shorthand for [`Error::Unsupported`].
    pub fn unsupported(backend: impl fmt::Display, operation: impl fmt::Display) -> Self {
        Error::Unsupported {
            backend: backend.to_string(),
            operation: operation.to_string(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(context: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            context: context.to_string(),
            source,
        }
    }

    /// Appends `(note)` to the error's message, keeping its kind: for what happened after
    /// the failure (an orphan cleaned up, a migration undone).
    #[must_use]
    pub fn with_note(self, note: &str) -> Error {
        let add = |m: String| format!("{m} ({note})");
        match self {
            Error::NotFound { key } => Error::NotFound { key: add(key) },
            Error::NoKeystore { path } => Error::NoKeystore { path: add(path) },
            Error::AlreadyExists { what } => Error::AlreadyExists { what: add(what) },
            Error::AccessDenied { operation, message } => Error::AccessDenied {
                operation,
                message: add(message),
            },
            Error::WrongPassword { keystore } => Error::WrongPassword {
                keystore: add(keystore),
            },
            Error::Throttled { operation, message } => Error::Throttled {
                operation,
                message: add(message),
            },
            Error::Timeout { operation } => Error::Timeout {
                operation: add(operation),
            },
            Error::InvalidKeyUsage { key, message } => Error::InvalidKeyUsage {
                key,
                message: add(message),
            },
            Error::InvalidKeyState {
                key,
                state,
                message,
            } => Error::InvalidKeyState {
                key,
                state,
                message: add(message),
            },
            Error::Unsupported { backend, operation } => Error::Unsupported {
                backend,
                operation: add(operation),
            },
            Error::InvalidInput { message } => Error::InvalidInput {
                message: add(message),
            },
            Error::ImportRefused { operation, message } => Error::ImportRefused {
                operation,
                message: add(message),
            },
            Error::Crypto { message } => Error::Crypto {
                message: add(message),
            },
            Error::Corrupted { what, message } => Error::Corrupted {
                what,
                message: add(message),
            },
            Error::Io { context, source } => Error::Io {
                context: add(context),
                source,
            },
            Error::Backend {
                backend,
                operation,
                code,
                message,
                retryable,
            } => Error::Backend {
                backend,
                operation,
                code,
                message: add(message),
                retryable,
            },
        }
    }

    /// Shorthand for [`Error::InvalidKeyUsage`].
    pub fn key_usage(key: impl fmt::Display, message: impl fmt::Display) -> Self {
        Error::InvalidKeyUsage {
            key: key.to_string(),
            message: message.to_string(),
        }
    }
}

/// The kind of an [`Error`], without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::AlreadyExists`].
    AlreadyExists,
    /// See [`Error::AccessDenied`].
    AccessDenied,
    /// See [`Error::WrongPassword`].
    WrongPassword,
    /// See [`Error::Throttled`].
    Throttled,
    /// See [`Error::Timeout`].
    Timeout,
    /// See [`Error::InvalidKeyUsage`].
    InvalidKeyUsage,
    /// See [`Error::InvalidKeyState`].
    InvalidKeyState,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::InvalidInput`].
    InvalidInput,
    /// See [`Error::Crypto`].
    Crypto,
    /// See [`Error::Corrupted`].
    Corrupted,
    /// See [`Error::Io`].
    Io,
    /// See [`Error::Backend`].
    Backend,
}

impl ErrorKind {
    /// The stable snake-case name of the kind (`not_found`, `invalid_key_state`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::WrongPassword => "wrong_password",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Timeout => "timeout",
            ErrorKind::InvalidKeyUsage => "invalid_key_usage",
            ErrorKind::InvalidKeyState => "invalid_key_state",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Crypto => "crypto",
            ErrorKind::Corrupted => "corrupted",
            ErrorKind::Io => "io",
            ErrorKind::Backend => "backend",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_only_for_transient_failures() {
        assert!(
            Error::Throttled {
                operation: "Sign".into(),
                message: "Rate exceeded".into()
            }
            .is_retryable()
        );
        assert!(
            Error::Timeout {
                operation: "Sign".into()
            }
            .is_retryable()
        );
        assert!(
            !Error::NotFound {
                key: "alias/x".into()
            }
            .is_retryable()
        );
        assert!(!Error::invalid_input("bad").is_retryable());
    }

    #[test]
    fn messages_name_the_key() {
        let e = Error::InvalidKeyState {
            key: "alias/api".into(),
            state: "Disabled".into(),
            message: "cannot sign".into(),
        };
        assert_eq!(e.to_string(), "key alias/api is Disabled: cannot sign");
        assert_eq!(e.kind().as_str(), "invalid_key_state");
    }
}
