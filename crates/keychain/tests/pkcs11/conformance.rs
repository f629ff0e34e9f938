//! The shared conformance suite on a SoftHSM2 token.

use keychain::Keychain;
use keychain::pkcs11::Pkcs11Backend;
use keychain_testkit::conformance::KnownGap;
use keychain_testkit::softhsm::{child_uri, run_isolated};

async fn softhsm() -> ((), Keychain) {
    let backend = Pkcs11Backend::open_uri(&child_uri())
        .await
        .unwrap_or_else(|e| panic!("opening the SoftHSM token: {e}"));
    ((), Keychain::new(backend))
}

fn isolate(check: &str) -> bool {
    run_isolated(&format!("pkcs11::conformance::{check}"))
}

const OAEP_SHA256: &str = "SoftHSM 2.6 decrypts RSA-OAEP with SHA-1 only: CKR_ARGUMENTS_BAD for \
                           SHA-256, which the backend reports as Unsupported";

/// What PKCS#11 has no place for (the backend refuses it with `Unsupported`, after the
/// checks every backend makes: the key exists, the input is valid), and what SoftHSM lacks.
const GAPS: &[KnownGap] = &[
    KnownGap {
        check: "encrypt_rsa_oaep_2048",
        panic: "decrypted as RSAES_OAEP_SHA_256: expected Error::Crypto { .. }, got Unsupported",
        why: OAEP_SHA256,
    },
    KnownGap {
        check: "encrypt_rsa_oaep_3072",
        panic: "decrypted as RSAES_OAEP_SHA_256: expected Error::Crypto { .. }, got Unsupported",
        why: OAEP_SHA256,
    },
    KnownGap {
        check: "encrypt_rsa_oaep_4096",
        panic: "decrypted as RSAES_OAEP_SHA_256: expected Error::Crypto { .. }, got Unsupported",
        why: OAEP_SHA256,
    },
    KnownGap {
        check: "errors_already_exists",
        panic: "CreateAlias: unexpected error Unsupported",
        why: "a PKCS#11 object has one label: no second alias (a name in use is still \
              AlreadyExists)",
    },
    KnownGap {
        check: "lifecycle_aliases",
        panic: "CreateAlias: unexpected error Unsupported",
        why: "a PKCS#11 object has one label: no second alias",
    },
    KnownGap {
        check: "errors_disabled_key",
        panic: "DisableKey: unexpected error Unsupported",
        why: "PKCS#11 keys have no disabled state",
    },
    KnownGap {
        check: "lifecycle_enable_disable",
        panic: "enabling an enabled key: unexpected error Unsupported",
        why: "PKCS#11 keys have no disabled state",
    },
    KnownGap {
        check: "errors_pending_deletion",
        panic: "ScheduleKeyDeletion: unexpected error Unsupported",
        why: "PKCS#11 has no deletion window (a bad window and a missing key are still refused \
              first); keys are destroyed at once with Pkcs11Backend::destroy_key",
    },
    KnownGap {
        check: "lifecycle_scheduled_deletion",
        panic: "ScheduleKeyDeletion: unexpected error Unsupported",
        why: "PKCS#11 has no deletion window",
    },
    KnownGap {
        check: "lifecycle_create_describe",
        panic: "unexpected error Unsupported { backend: \"pkcs11\", operation: \"descriptions and tags",
        why: "a PKCS#11 object has no place for a description or tags",
    },
    KnownGap {
        check: "lifecycle_tags",
        panic: "TagResource: unexpected error Unsupported",
        why: "a PKCS#11 object has no place for tags",
    },
];

keychain_testkit::conformance_tests!(softhsm, gaps = GAPS, isolate = isolate);
