//! Debian's `age` (the Go reference implementation) with this plugin on `PATH`, end to end:
//! files encrypted to `age1keychain1…` recipients and decrypted with
//! `AGE-PLUGIN-KEYCHAIN-1…` identities. age is the judge: it parses our strings and stanzas,
//! runs the plugin protocol and checks the payload. The plugin binary is this crate's
//! (`CARGO_BIN_EXE_age-plugin-keychain`, always freshly built for these tests); keys are
//! made through the keychain library and the strings by the functions `keychain age
//! recipient` and `keychain age identity` print through.

mod attacks;
#[cfg(feature = "aws")]
mod awskms;
mod mlkem;
mod mlkem_hostile;
mod prompt;
mod rage;
mod software;
mod support;
