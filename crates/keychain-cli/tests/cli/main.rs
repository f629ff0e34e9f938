//! End-to-end tests of the `keychain` binary: each test runs the built binary against its own
//! temporary software keystore, and signatures are judged by OpenSSL and Python
//! `cryptography`, not by keychain itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bundle;
mod crypt;
mod errors;
mod lifecycle;
mod mac;
mod pubkey;
mod signing;
mod support;
