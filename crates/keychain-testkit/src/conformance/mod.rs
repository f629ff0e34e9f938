//! The conformance suite: what every backend must do, checked the same way for each.
//!
//! Every check is an `async fn(&Keychain, prefix)` that panics with a precise message when the
//! backend misbehaves. Keys are named `PREFIX-…`, so checks can share one backend (a KMS
//! emulator) as long as each gets its own prefix ([`unique_prefix`]). Checks read
//! [`Capabilities`]: a key spec or feature the backend does not list must be refused with
//! [`Error::Unsupported`] — a gap is asserted, never silently passed.
//!
//! Signatures are judged four ways: our [`PublicKey::verify`], the backend's `verify`, Python
//! `cryptography` ([`python_verify_batch`]) and `openssl` ([`openssl_verify`]). A signature
//! with one flipped bit must be rejected by all four. ECDH secrets are judged by Python
//! `cryptography` ([`crate::python_ecdh_batch`]), which derives them from its own private key.
//!
//! To run the whole suite against a backend, one `#[tokio::test]` per check:
//!
//! ```no_run
//! async fn my_backend() -> (tempfile::TempDir, keychain::Keychain) {
//!     todo!("start the backend; the guard (here a directory) lives as long as the test")
//! }
//! keychain_testkit::conformance_tests!(my_backend);
//! # fn main() {}
//! ```
//!
//! The guard is kept alive for the test (a temporary directory, a container…). A backend
//! behind an emulator with documented defects passes its [`KnownGap`]s:
//! `conformance_tests!(my_backend, gaps = GAPS)`; those checks must then fail exactly there.
//!
//! The checks live a file per area (`signing`, `errors`, `refusals`, `lifecycle`,
//! `encryption`, `mac`, `kem`, `agreement`, `rotation`, with shared helpers in `support`).
//! The one list of them is `__conformance_checks!` below: it generates both the tests of
//! [`conformance_tests!`] and [`CHECKS`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keychain::signature::{ecdsa_der_to_raw, is_low_s};
use keychain::{
    Capabilities, CreateKeyRequest, DataKeySpec, EncryptionAlgorithm, EncryptionContext, Error,
    Hash, KeyFamily, KeyInfo, KeyRef, KeySpec, KeyState, KeyUsage, Keychain, MacAlgorithm, Message,
    PageRequest, PublicKey, RotationType, Secret, SignatureScheme, SigningAlgorithm,
};

use crate::{SignatureCase, days, openssl_verify, python_oaep_encrypt_batch, python_verify_batch};

/// Asserts that `result` is an error matching `pattern` (an [`Error`] variant pattern) and
/// that it is not retryable; returns the error. `what` says what was attempted.
#[macro_export]
macro_rules! assert_err {
    ($what:expr, $result:expr, $pattern:pat) => {
        match $result {
            Err(e @ $pattern) => {
                assert!(
                    !e.is_retryable(),
                    "{}: {} must not be retryable: {e:?}",
                    $what,
                    stringify!($pattern)
                );
                e
            }
            Err(e) => panic!(
                "{}: expected {}, got {e:?} ({e})",
                $what,
                stringify!($pattern)
            ),
            Ok(v) => panic!(
                "{}: expected {}, got Ok({v:?})",
                $what,
                stringify!($pattern)
            ),
        }
    };
}

/// Unwraps a keychain result, panicking with what was attempted and the error.
pub trait Must<T> {
    /// The value, or a panic naming `what`.
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for keychain::Result<T> {
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: unexpected error {e:?} ({e})"),
        }
    }
}

/// A key-name prefix unique to this process and call: `kc-CHECK-HEX`.
pub fn unique_prefix(check: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let check: String = check
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!(
        "kc-{check}-{:x}",
        nanos ^ (u64::from(std::process::id()) << 40) ^ (n << 32)
    )
}

mod agreement;
mod encryption;
mod errors;
mod kem;
mod lifecycle;
mod mac;
mod refusals;
mod rotation;
mod signing;
mod support;

pub use self::agreement::*;
pub use self::encryption::*;
pub use self::errors::*;
pub use self::kem::*;
pub use self::lifecycle::*;
pub use self::mac::*;
pub use self::refusals::*;
pub use self::rotation::*;
pub use self::signing::*;
pub use self::support::{create_or_unsupported, key_name};

/// The one list of checks, in the order they run: hands it to `$callback` (a macro of this
/// crate) after `$args`. Add a check here and every backend's suite runs it.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_checks {
    ($callback:ident!($($args:tt)*)) => {
        $crate::$callback!($($args)*
            capabilities_consistent,
            sign_rsa_2048,
            sign_rsa_3072,
            sign_rsa_4096,
            sign_ecc_nist_p256,
            sign_ecc_nist_p384,
            sign_ecc_nist_p521,
            sign_ecc_secg_p256k1,
            sign_ed25519,
            sign_ml_dsa_44,
            sign_ml_dsa_65,
            sign_ml_dsa_87,
            errors_not_found,
            errors_wrong_usage,
            errors_algorithm_not_allowed,
            errors_invalid_input,
            errors_disabled_key,
            errors_pending_deletion,
            errors_already_exists,
            errors_ambiguous_names,
            errors_symmetric_tampering,
            lifecycle_create_describe,
            lifecycle_list_pagination,
            lifecycle_aliases,
            lifecycle_tags,
            lifecycle_enable_disable,
            lifecycle_scheduled_deletion,
            lifecycle_multi_region,
            encrypt_symmetric,
            encrypt_data_keys,
            encrypt_rsa_oaep_2048,
            encrypt_rsa_oaep_3072,
            encrypt_rsa_oaep_4096,
            mac_hmac,
            kem_ml_kem_512,
            kem_ml_kem_768,
            kem_ml_kem_1024,
            kem_wrong_key_type,
            agreement_ecdh_p256,
            agreement_ecdh_p384,
            agreement_ecdh_p521,
            agreement_refusals,
            agreement_disabled_key,
            rotation_automatic,
            rotation_on_demand,
            rotation_history,
            rotation_asymmetric_unsupported,
        );
    };
}

/// Turns the list of checks into [`CHECKS`].
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_check_names {
    ($($check:ident),+ $(,)?) => {
        /// The names of every check, in the order [`conformance_tests!`] runs them.
        pub const CHECKS: &[&str] = &[$(stringify!($check)),+];
    };
}

crate::__conformance_checks!(__conformance_check_names!());

/// Runs every check of the suite as its own `#[tokio::test]`. `$setup` is an async fn
/// returning `(guard, Keychain)`; the guard lives until the test ends. With `gaps = GAPS` (a
/// `&[KnownGap]`), the checks named there must fail at their documented defect and nowhere
/// else. The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! conformance_tests {
    ($setup:path) => {
        $crate::conformance_tests!($setup, gaps = &[]);
    };
    ($setup:path, gaps = $gaps:expr) => {
        $crate::conformance_tests!($setup, gaps = $gaps, isolate = |_: &str| false);
    };
    ($setup:path, gaps = $gaps:expr, isolate = $isolate:expr) => {
        $crate::__conformance_checks!(conformance_tests!(@tests $setup, $gaps, $isolate;));
    };
    (@tests $setup:path, $gaps:expr, $isolate:expr; $($check:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let ran_elsewhere: bool = ($isolate)(stringify!($check));
                if ran_elsewhere {
                    return;
                }
                let (_guard, keychain) = $setup().await;
                let prefix = $crate::conformance::unique_prefix(stringify!($check));
                let outcome = ::tokio::spawn(async move {
                    $crate::conformance::$check(&keychain, &prefix).await;
                })
                .await;
                $crate::conformance::judge(stringify!($check), $gaps, outcome);
            }
        )+

        /// Every known gap names a check of the suite (a renamed check would otherwise turn
        /// its gap into a silent pass).
        #[test]
        fn known_gaps_name_checks() {
            let gaps: &[$crate::conformance::KnownGap] = $gaps;
            for gap in gaps {
                assert!(
                    $crate::conformance::CHECKS.contains(&gap.check),
                    "the known gap {:?} names no conformance check",
                    gap.check
                );
            }
        }
    };
}

/// A check a backend is known to fail because of a documented defect of what it runs against
/// (an emulator): the check runs, and must fail with a panic message containing `panic`.
#[derive(Debug, Clone, Copy)]
pub struct KnownGap {
    /// The check's name, as in [`CHECKS`].
    pub check: &'static str,
    /// Text the check's panic message must contain.
    pub panic: &'static str,
    /// The defect, in a sentence.
    pub why: &'static str,
}

/// The verdict on one check run by [`conformance_tests!`]: a check without a known gap must
/// have passed (its panic is re-raised as is); a check with one must have failed exactly there.
pub fn judge(check: &str, gaps: &[KnownGap], outcome: Result<(), tokio::task::JoinError>) {
    let gap = gaps.iter().find(|g| g.check == check);
    let panic = match outcome {
        Ok(()) => match gap {
            None => return,
            Some(gap) => panic!(
                "{check} now passes: the known gap ({}) is gone, remove it from the gaps",
                gap.why
            ),
        },
        Err(e) if e.is_panic() => e.into_panic(),
        Err(e) => panic!("{check} did not finish: {e}"),
    };
    let Some(gap) = gap else {
        std::panic::resume_unwind(panic);
    };
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        message.contains(gap.panic),
        "{check} failed somewhere other than its known gap ({}):\n{message}",
        gap.why
    );
}
