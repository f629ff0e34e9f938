//! The command line, as clap definitions. This is the CLI contract: names may be added, never
//! renamed.
//!
//! Values in the keychain vocabulary (key specs, usages, algorithms, `K=V` pairs, key names) are
//! taken as strings here and parsed by the commands with the library's parsers, so a bad value
//! is an `invalid_input` error (exit 4) with the library's message listing what is accepted.
//! clap itself only rejects malformed command lines (exit 2).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit;

/// Cryptographic keys whose private material stays in a backend: a local encrypted keystore
/// (the default) or AWS KMS.
#[derive(Debug, Parser)]
#[command(
    name = "keychain",
    version,
    about = "Cryptographic keys whose private material stays in a backend",
    long_about = "Cryptographic keys whose private material stays in a backend: a local \
                  encrypted keystore (the default) or AWS KMS.\n\n\
                  Keys are named by NAME (meaning alias/NAME), alias/NAME, a key id, an ARN or \
                  an awskms:// URI. The software keystore's password comes from \
                  KEYCHAIN_PASSWORD.",
    after_long_help = exit::help_text(),
)]
pub struct Cli {
    /// The backend: `software:PATH` (a local keystore directory). Default: the software
    /// keystore at $KEYCHAIN_HOME, else the user data directory.
    #[arg(
        long,
        global = true,
        env = "KEYCHAIN_BACKEND",
        hide_env_values = true,
        value_name = "URI"
    )]
    pub backend: Option<String>,

    /// Print machine-readable JSON objects on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, inspect and manage keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Export a key's public key (PEM, DER or JWK).
    Pubkey(PubkeyArgs),
    /// Sign a file (hashed as it streams) or a digest.
    Sign(SignArgs),
    /// Verify a signature: exit 0 when valid, 1 when invalid.
    Verify(VerifyArgs),
    /// Encrypt a file of any size (envelope encryption under a symmetric key; RSA keys encrypt
    /// at most a few hundred bytes directly).
    Encrypt(EncryptArgs),
    /// Decrypt a file made by `keychain encrypt`.
    Decrypt(DecryptArgs),
    /// Compute a MAC with an HMAC key.
    Mac(MacArgs),
    /// Verify a MAC: exit 0 when valid, 1 when invalid.
    VerifyMac(VerifyMacArgs),
    /// Check a signature bundle (`sign --bundle`) against a file, offline: no backend, no
    /// password. Exit 0 when valid, 1 when invalid.
    VerifyBundle(VerifyBundleArgs),
}

/// `keychain key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key named NAME (alias/NAME).
    Create(CreateArgs),
    /// List keys (every page).
    List(ListArgs),
    /// Show a key's metadata.
    Show(KeyName),
    /// Schedule a key's deletion after a waiting period (7 to 30 days).
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
    /// friendly form (rsa-2048, p256, secp256k1, ed25519, aes-256, hmac-256…).
    #[arg(long, value_name = "SPEC")]
    pub spec: String,
    /// The usage: SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC or KEY_AGREEMENT
    /// (default: the spec's natural usage).
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
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub pending_days: u32,
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

/// Public key formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PubkeyFormat {
    /// PEM `PUBLIC KEY` (SubjectPublicKeyInfo), as `openssl pkey -pubout` prints it.
    Pem,
    /// DER SubjectPublicKeyInfo (binary).
    Der,
    /// JSON Web Key, with `kid` (the RFC 7638 thumbprint).
    Jwk,
}

/// `keychain pubkey`
#[derive(Debug, Args)]
pub struct PubkeyArgs {
    /// The key.
    pub name: String,
    /// The output format.
    #[arg(long, value_enum, default_value_t = PubkeyFormat::Pem)]
    pub format: PubkeyFormat,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Signature encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SigEncoding {
    /// Binary, as OpenSSL makes and expects it (DER for ECDSA).
    Der,
    /// Binary; for ECDSA fixed-width r‖s (JOSE, blockchains). The same as der otherwise.
    Raw,
    /// Base64 text of the DER form.
    Base64,
}

/// `keychain sign`
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The key.
    pub name: String,
    /// The file to sign (`-` for stdin); hashed as it streams.
    #[arg(
        long = "in",
        value_name = "FILE",
        required_unless_present = "digest",
        conflicts_with = "digest"
    )]
    pub input: Option<PathBuf>,
    /// Sign this digest (hex) instead of a file. Without --algorithm, the algorithm follows
    /// from the digest's length.
    #[arg(long, value_name = "HEX")]
    pub digest: Option<String>,
    /// The signing algorithm (KMS or JOSE name; default: the key's natural one).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// Write the signature to FILE (binary unless --encoding base64); without it, print base64.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The signature encoding.
    #[arg(long, value_enum, value_name = "ENCODING")]
    pub encoding: Option<SigEncoding>,
    /// Also write a JSON signature bundle (digest, algorithm, key, public key, signature,
    /// time) that `keychain verify-bundle` checks offline.
    #[arg(long, value_name = "FILE", conflicts_with = "digest")]
    pub bundle: Option<PathBuf>,
}

/// `keychain verify-bundle`
#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// The bundle written by `keychain sign --bundle`.
    pub bundle: PathBuf,
    /// The signed file (`-` for stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// A trusted signer's public key (PEM; repeatable). Without one, the bundle's own key is
    /// used: that proves the file is intact, not who signed it.
    #[arg(long = "public-key", value_name = "PEM")]
    pub public_keys: Vec<PathBuf>,
}

/// `keychain verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The key.
    pub name: String,
    /// The signed file (`-` for stdin).
    #[arg(
        long = "in",
        value_name = "FILE",
        required_unless_present = "digest",
        conflicts_with = "digest"
    )]
    pub input: Option<PathBuf>,
    /// The signed digest (hex), instead of a file.
    #[arg(long, value_name = "HEX")]
    pub digest: Option<String>,
    /// The signature file: binary, or base64 text (detected).
    #[arg(long, value_name = "FILE")]
    pub signature: PathBuf,
    /// The signing algorithm (default: the key's natural one).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// The signature's encoding (default: detected).
    #[arg(long, value_enum, value_name = "ENCODING")]
    pub encoding: Option<SigEncoding>,
}

/// `keychain encrypt`
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// The key (symmetric, or RSA with usage ENCRYPT_DECRYPT).
    pub name: String,
    /// The plaintext file (`-` for stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the ciphertext.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Encryption context, K=V (repeatable; decryption needs the same pairs).
    #[arg(long = "context", value_name = "K=V")]
    pub context: Vec<String>,
    /// Have the backend encrypt the input itself (KMS `Encrypt`, at most 4096 bytes) instead
    /// of envelope encryption.
    #[arg(long)]
    pub direct: bool,
}

/// `keychain decrypt`
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The ciphertext file (`-` for stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the plaintext (created with mode 0600).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Encryption context, K=V (repeatable; the same pairs as at encryption).
    #[arg(long = "context", value_name = "K=V")]
    pub context: Vec<String>,
    /// The key: required for RSA ciphertexts; symmetric ciphertexts name their key.
    #[arg(long = "key", value_name = "NAME")]
    pub key: Option<String>,
}

/// MAC encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MacEncoding {
    /// Binary.
    Raw,
    /// Base64 text.
    Base64,
}

/// `keychain mac`
#[derive(Debug, Args)]
pub struct MacArgs {
    /// The HMAC key.
    pub name: String,
    /// The message file (`-` for stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// The MAC algorithm (default: the key's).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// Write the MAC to FILE (binary unless --encoding base64); without it, print base64.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The MAC encoding in --out.
    #[arg(long, value_enum, value_name = "ENCODING")]
    pub encoding: Option<MacEncoding>,
}

/// `keychain verify-mac`
#[derive(Debug, Args)]
pub struct VerifyMacArgs {
    /// The HMAC key.
    pub name: String,
    /// The message file (`-` for stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// The MAC file: binary, or base64 text (detected).
    #[arg(long, value_name = "FILE")]
    pub mac: PathBuf,
    /// The MAC algorithm (default: the key's).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }
}
