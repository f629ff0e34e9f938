//! Arguments of the key-management commands: `key`, `keystore`, `rotation`, `alias`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `keychain key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key named NAME (alias/NAME). With the software backend, a keystore is
    /// created first if the path does not exist or is an empty directory.
    Create(CreateArgs),
    /// List keys (every page).
    List(ListArgs),
    /// Show a key's metadata.
    Show(KeyName),
    /// Schedule a key's deletion after a waiting period (7 to 30 days); on a PKCS#11 token,
    /// which has no waiting period, destroy it with --now.
    Delete(DeleteArgs),
    /// Cancel a scheduled deletion; the key comes back disabled.
    CancelDeletion(KeyName),
    /// Enable a disabled key.
    Enable(KeyName),
    /// Disable a key: it refuses cryptographic operations until enabled.
    Disable(KeyName),
    /// Rotate a key's material now (symmetric keys); old ciphertexts still decrypt.
    Rotate(KeyName),
    /// Automatic rotation: enable, disable or show its status.
    #[command(subcommand)]
    Rotation(RotationCommand),
    /// Add or replace tags (K=V).
    Tag(TagArgs),
    /// Remove tags by key.
    Untag(UntagArgs),
    /// Create, repoint, delete and list aliases.
    #[command(subcommand)]
    Alias(AliasCommand),
}

/// `keychain keystore …`
#[derive(Debug, Subcommand)]
pub enum KeystoreCommand {
    /// Create a new, empty keystore at the --backend software:PATH (default: $KEYCHAIN_HOME,
    /// else the user data directory), protected by KEYCHAIN_PASSWORD. PATH must not exist or
    /// be an empty directory; an existing keystore is already_exists (9).
    Init,
    /// Change the keystore password: every key file is re-encrypted, all or nothing (a crash
    /// at any point leaves the old or the new password working). The current password comes
    /// as for every command; the new one from --new-password-file or a prompt (twice).
    Passwd(PasswdArgs),
}

/// `keychain keystore passwd`
#[derive(Debug, Args)]
pub struct PasswdArgs {
    /// Read the new password from the first line of FILE instead of asking.
    #[arg(long, value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,
}

/// A key reference.
#[derive(Debug, Args)]
pub struct KeyName {
    /// The key: NAME, alias/NAME, a key id, an ARN or a URI.
    pub name: String,
}

/// `keychain key create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The key's name; the key gets the alias alias/NAME.
    pub name: String,
    /// The key spec: a KMS spec (RSA_2048, ECC_NIST_P256, SYMMETRIC_DEFAULT, HMAC_256…) or a
    /// friendly form (rsa-2048, p256, secp256k1, ed25519, ml-dsa-65, ml-kem-768, aes-256,
    /// hmac-256…).
    #[arg(long, value_name = "SPEC")]
    pub spec: String,
    /// The usage: SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT or
    /// ENCAPSULATE_DECAPSULATE (default: the spec's natural usage).
    #[arg(long, value_name = "USAGE")]
    pub usage: Option<String>,
    /// A tag, K=V (repeatable).
    #[arg(long = "tag", value_name = "K=V")]
    pub tags: Vec<String>,
    /// A description.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
}

/// `keychain key list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Stop after this many keys.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Ask the backend for pages of this many keys (1 to 1000; default: the backend's).
    #[arg(long, value_name = "N")]
    pub page_size: Option<u32>,
}

/// `keychain key delete`
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The key.
    pub name: String,
    /// Days to wait before the key is deleted (7 to 30).
    #[arg(long, value_name = "N", default_value_t = 30, conflicts_with = "now")]
    pub pending_days: u32,
    /// Destroy the key now, with no waiting period and no undo: for PKCS#11 tokens, which
    /// have no scheduled deletion (other backends refuse it).
    #[arg(long)]
    pub now: bool,
}

/// `keychain key rotation …`
#[derive(Debug, Subcommand)]
pub enum RotationCommand {
    /// Turn on automatic rotation.
    Enable(RotationEnableArgs),
    /// Turn off automatic rotation.
    Disable(KeyName),
    /// Show whether automatic rotation is on.
    Status(KeyName),
    /// List the key's materials: the first and one per rotation, with when and how each
    /// rotation happened.
    List(KeyName),
}

/// `keychain key rotation enable`
#[derive(Debug, Args)]
pub struct RotationEnableArgs {
    /// The key.
    pub name: String,
    /// Rotate every N days (90 to 2560; default 365).
    #[arg(long, value_name = "N")]
    pub period_days: Option<u32>,
}

/// `keychain key tag`
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The key.
    pub name: String,
    /// Tags to add or replace, K=V.
    #[arg(required = true, value_name = "K=V")]
    pub tags: Vec<String>,
}

/// `keychain key untag`
#[derive(Debug, Args)]
pub struct UntagArgs {
    /// The key.
    pub name: String,
    /// Tag keys to remove.
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
}

/// `keychain key alias …`
#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Create ALIAS (alias/ALIAS) pointing at a key.
    Create(AliasTarget),
    /// Point an existing alias at another key.
    Update(AliasTarget),
    /// Delete an alias (the key stays).
    Delete(AliasName),
    /// List aliases, all or those of one key.
    List(AliasListArgs),
}

/// An alias and the key it should point at.
#[derive(Debug, Args)]
pub struct AliasTarget {
    /// The alias, with or without `alias/`.
    pub alias: String,
    /// The key.
    pub name: String,
}

/// An alias.
#[derive(Debug, Args)]
pub struct AliasName {
    /// The alias, with or without `alias/`.
    pub alias: String,
}

/// `keychain key alias list`
#[derive(Debug, Args)]
pub struct AliasListArgs {
    /// Only the aliases of this key.
    pub name: Option<String>,
}
