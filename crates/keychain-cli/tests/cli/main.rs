//! End-to-end tests of the `keychain` binary: each test runs the built binary against its own
//! temporary software keystore (the `awskms` tests against LocalStack as well), and
//! signatures, tokens and certificates are judged by OpenSSL, Python `cryptography`, PyJWT
//! and boto3, not by keychain itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod age;
mod age_serve;
mod agreement;
mod awskms;
mod boundaries;
mod bundle;
mod cert;
mod crypt;
mod documented;
mod errors;
mod interrupt;
mod json_schema;
mod jwt;
mod kem;
mod keystore;
mod lifecycle;
mod mac;
mod manual;
mod memory;
mod outputs;
mod passwd;
mod passwords;
mod pkcs11;
mod pubkey;
mod serve;
mod signing;
mod ssh;
mod support;
