//! The conformance suite (`keychain_testkit::conformance`) against the software backend: one
//! test per check, each on a fresh keystore.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use keychain::Keychain;

async fn software() -> (tempfile::TempDir, Keychain) {
    let (dir, backend) = keychain_testkit::temp_software_backend().await;
    (dir, Keychain::new(backend))
}

keychain_testkit::conformance_tests!(software);
