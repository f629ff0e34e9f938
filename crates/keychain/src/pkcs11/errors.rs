//! PKCS#11 return values (`CKR_*`) as our [`Error`]: what the caller can act on gets its own
//! kind, the rest is a [`Error::Backend`] carrying the `CKR_` name, retryable only where
//! repeating the call can help (a removed device, a lost session, memory pressure).

use cryptoki::error::{Error as CkError, RvError};

use crate::Error;

/// The backend's name in errors.
pub(crate) const BACKEND: &str = "pkcs11";

/// Maps a cryptoki error from `operation` on `key` (a name or id; `None` for token-wide
/// operations) into our error.
pub(crate) fn map(operation: &str, key: Option<&str>, error: CkError) -> Error {
    let key_name = || key.unwrap_or("(token)").to_string();
    let rv = match error {
        CkError::Pkcs11(rv, _) => rv,
        CkError::LibraryLoading(e) => {
            return Error::invalid_input(format!("the PKCS#11 module could not be loaded: {e}"));
        }
        CkError::MissingSymbol(symbol) => {
            return Error::invalid_input(format!(
                "the library is not a PKCS#11 module (it has no {symbol})"
            ));
        }
        CkError::NullFunctionPointer | CkError::NotSupported => {
            return Error::unsupported(BACKEND, format!("{operation} (not offered by the module)"));
        }
        other => {
            return backend(operation, "CRYPTOKI", &other.to_string(), false);
        }
    };
    let code = ckr_name(rv);
    match rv {
        RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange => {
            Error::WrongPassword {
                keystore: format!("PKCS#11 token ({code}: wrong user PIN)"),
            }
        }
        RvError::PinLocked | RvError::PinExpired => Error::AccessDenied {
            operation: operation.to_string(),
            message: format!("{code}: the token's user PIN is locked or expired"),
        },
        // Our login was dropped under us (a logout elsewhere in the process, raced with our
        // one re-login): the next call logs in again, so the caller may retry.
        RvError::UserNotLoggedIn => login_lost(operation, &code),
        RvError::UserPinNotInitialized => Error::AccessDenied {
            operation: operation.to_string(),
            message: format!("{code}: the token's user PIN is not initialised"),
        },
        RvError::KeyTypeInconsistent | RvError::KeyFunctionNotPermitted => Error::key_usage(
            key_name(),
            format!("{code}: the key does not allow {operation}"),
        ),
        RvError::MechanismInvalid | RvError::CurveNotSupported | RvError::KeySizeRange => {
            Error::unsupported(BACKEND, format!("{operation} on this token ({code})"))
        }
        RvError::MechanismParamInvalid
        | RvError::DataLenRange
        | RvError::DataInvalid
        | RvError::ArgumentsBad
        | RvError::AttributeValueInvalid
        | RvError::TemplateInconsistent
        | RvError::TemplateIncomplete => Error::invalid_input(format!(
            "{operation} on {}: the token refused the input ({code})",
            key_name()
        )),
        RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange => Error::crypto(format!(
            "{operation} with {}: the ciphertext is invalid ({code})",
            key_name()
        )),
        RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid => Error::NotFound {
            key: format!("{} ({code}: the object is gone)", key_name()),
        },
        RvError::TokenWriteProtected | RvError::SessionReadOnly => Error::AccessDenied {
            operation: operation.to_string(),
            message: format!("{code}: the token is read-only"),
        },
        RvError::DeviceRemoved
        | RvError::TokenNotPresent
        | RvError::SessionHandleInvalid
        | RvError::SessionClosed
        | RvError::DeviceMemory
        | RvError::HostMemory
        | RvError::SessionCount
        | RvError::FunctionCanceled => backend(
            operation,
            &code,
            "the token or its session went away; retry",
            true,
        ),
        RvError::SlotIdInvalid | RvError::TokenNotRecognized => Error::invalid_input(format!(
            "{operation}: the slot holds no usable token ({code})"
        )),
        _ => backend(operation, &code, "the token refused the call", false),
    }
}

/// Whether an error from the module means the session (or the device behind it) is gone, so
/// the call should be repeated once on a freshly opened, logged-in session.
pub(crate) fn session_lost(error: &CkError) -> bool {
    matches!(
        error,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::UserNotLoggedIn,
            _
        )
    )
}

/// The error for a call that failed because the token's login was lost while it ran (and
/// again on the one repeat): retryable, since the next call logs in again. `code` is what
/// the module answered (SoftHSM says `CKR_GENERAL_ERROR` when a logout lands between
/// finding a key and signing with it).
pub(crate) fn login_lost(operation: &str, code: &str) -> Error {
    backend(
        operation,
        code,
        "the token's login was lost while the call ran (a logout elsewhere in the process); \
         retry",
        true,
    )
}

fn backend(operation: &str, code: &str, message: &str, retryable: bool) -> Error {
    Error::Backend {
        backend: BACKEND.to_string(),
        operation: operation.to_string(),
        code: code.to_string(),
        message: message.to_string(),
        retryable,
    }
}

/// `CKR_PIN_INCORRECT` for `RvError::PinIncorrect`: the name the PKCS#11 documents use.
pub(crate) fn ckr_name(rv: RvError) -> String {
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use cryptoki::context::Function;

    fn err(rv: RvError) -> Error {
        map("Sign", Some("alias/k"), CkError::Pkcs11(rv, Function::Sign))
    }

    #[test]
    fn the_documented_mappings_hold() {
        assert_eq!(ckr_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(err(RvError::PinIncorrect).kind(), ErrorKind::WrongPassword);
        assert_eq!(
            err(RvError::KeyTypeInconsistent).kind(),
            ErrorKind::InvalidKeyUsage
        );
        assert_eq!(
            err(RvError::MechanismInvalid).kind(),
            ErrorKind::Unsupported
        );
        let removed = err(RvError::DeviceRemoved);
        assert_eq!(removed.kind(), ErrorKind::Backend);
        assert!(removed.is_retryable());
        assert!(removed.to_string().contains("CKR_DEVICE_REMOVED"));
        assert!(!err(RvError::GeneralError).is_retryable());
        assert!(err(RvError::UserNotLoggedIn).is_retryable());
    }
}
