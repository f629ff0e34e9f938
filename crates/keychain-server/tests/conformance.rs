//! The AWS KMS backend's whole conformance suite, run against `keychain serve` over a software
//! keystore: our `awskms://` client on one side, the server on the other, every check of
//! `keychain_testkit::conformance::CHECKS` (every key spec, Ed25519 and ML-DSA included, which
//! LocalStack cannot judge), with the same outside judges (OpenSSL, Python `cryptography`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use keychain::Keychain;

/// A server of its own for each check, and our AWS KMS backend on it.
async fn setup() -> (support::Served, Keychain) {
    let served = support::serve().await;
    let backend = served.awskms().await;
    (served, Keychain::new(backend))
}

keychain_testkit::conformance_tests!(setup);
