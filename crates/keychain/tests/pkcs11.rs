//! The PKCS#11 backend against SoftHSM2: the shared conformance suite, OpenSC's
//! `pkcs11-tool` as an outside reader and writer of the token, and bad input.
//!
//! Every test gets its own token in its own directory: SoftHSM reads `SOFTHSM2_CONF` once
//! per process, so each test runs again in a child process with that variable set
//! (`keychain_testkit::softhsm::run_isolated`).
//!
//! Every check of the suite runs. What PKCS#11 (or SoftHSM) cannot do is a KNOWN GAP: the
//! check runs and must fail exactly there (see `GAPS`).

#![cfg(feature = "pkcs11")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pkcs11 {
    pub mod bad_input;
    pub mod conformance;
    pub mod handles;
    pub mod interop;
    pub mod listing;
    pub mod oaep;
    pub mod races;
}
