//! The command line, as clap definitions. This is the CLI contract: names may be added, never
//! renamed.
//!
//! Values in the keychain vocabulary (key specs, usages, algorithms, `K=V` pairs, key names) are
//! taken as strings here and parsed by the commands with the library's parsers, so a bad value
//! is an `invalid_input` error (exit 4) with the library's message listing what is accepted.
//! clap itself only rejects malformed command lines (exit 2).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::exit;

mod data;
mod formats;
mod keys;
mod ssh;
pub use data::*;
pub use formats::*;
pub use keys::*;
pub use ssh::{SshAgentArgs, SshCertArgs, SshCommand, SshPubkeyArgs};

/// Cryptographic keys whose private material stays in a backend: a local encrypted keystore
/// (the default) or AWS KMS.
#[derive(Debug, Parser)]
#[command(
    name = "keychain",
    version,
    about = "Cryptographic keys whose private material stays in a backend",
    long_about = "Cryptographic keys whose private material stays in a backend: a local \
                  encrypted keystore (the default), AWS KMS or a PKCS#11 token.\n\n\
                  Keys are named by NAME (meaning alias/NAME), alias/NAME, a key id, an ARN or \
                  an awskms:// URI. The software keystore's password comes from \
                  --password-fd, --password-file (KEYCHAIN_PASSWORD_FILE), KEYCHAIN_PASSWORD, \
                  else a prompt on the terminal.",
    after_long_help = exit::help_text(),
)]
pub struct Cli {
    /// The backend: `software:PATH` (a local keystore directory), AWS KMS (`awskms`,
    /// `awskms://HOST:PORT/?region=R`, `awskms:?endpoint=URL&region=R`) or a PKCS#11 token
    /// (`pkcs11:token=LABEL?module-path=LIB`, PIN from `pin-source=file:PATH` or
    /// KEYCHAIN_PKCS11_PIN). Default: the software keystore at $KEYCHAIN_HOME, else the user
    /// data directory.
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

    /// Read the software keystore's password from the first line of FILE (as OpenSSL's
    /// `-passin file:` does). Without it, or --password-fd: KEYCHAIN_PASSWORD, else a prompt
    /// on the terminal.
    #[arg(
        long,
        global = true,
        env = "KEYCHAIN_PASSWORD_FILE",
        value_name = "FILE",
        conflicts_with = "password_fd"
    )]
    pub password_file: Option<PathBuf>,

    /// Read the software keystore's password from the first line of the open file
    /// descriptor N (as OpenSSL's `-passin fd:` does), e.g. `--password-fd 3 3<secret`.
    #[arg(long, global = true, value_name = "N")]
    pub password_fd: Option<u32>,

    /// AWS KMS: the region, over the backend URI's, AWS_REGION and the profile's (as the aws
    /// CLI's --region).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS KMS: the named profile of ~/.aws/config to use, over AWS_PROFILE.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS KMS: the endpoint (http[s]://HOST[:PORT]), over the backend URI's and
    /// AWS_ENDPOINT_URL(_KMS), e.g. `keychain serve` or an emulator.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Log more on stderr: -v what the backend does, -vv debugging detail. KEYCHAIN_LOG (or
    /// RUST_LOG) takes a full filter instead, e.g. `KEYCHAIN_LOG=keychain=debug`.
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Log only errors on stderr (no warnings).
    #[arg(short, long, global = true)]
    pub quiet: bool,

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
    /// Create a software keystore (`key create` also makes one in a new or empty directory;
    /// every other command needs an existing keystore).
    #[command(subcommand)]
    Keystore(KeystoreCommand),
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
    /// ML-KEM key encapsulation: make a shared secret and its ciphertext with a key's public
    /// key, or recover the secret from a ciphertext with the private key.
    #[command(subcommand)]
    Kem(KemCommand),
    /// ECDH: derive the shared secret of the KEY_AGREEMENT key NAME and a peer's public key
    /// (KMS DeriveSharedSecret), the raw x-coordinate the peer computes too from its private
    /// key and NAME's public key (`keychain pubkey NAME`). Feed it to a key derivation
    /// function before use.
    DeriveSharedSecret(DeriveSharedSecretArgs),
    /// Compute a MAC with an HMAC key.
    Mac(MacArgs),
    /// Verify a MAC: exit 0 when valid, 1 when invalid.
    VerifyMac(VerifyMacArgs),
    /// Check a signature bundle (`sign --bundle`) against a file, offline: no backend, no
    /// password. Exit 0 when valid, 1 when invalid. Reports only what the signature covers
    /// (digest, size, algorithm, signer key), not the bundle's artifact name, key or time.
    VerifyBundle(VerifyBundleArgs),
    /// Sign and verify JSON Web Tokens (compact JWS) with a signing key.
    #[command(subcommand)]
    Jwt(JwtCommand),
    /// Print the JSON Web Key Set of one or more keys (several for rotation).
    Jwks(JwksArgs),
    /// age recipients and identities for a key (the `age-plugin-keychain` plugin wraps age's
    /// file key with it): `age -r "$(keychain age recipient NAME)"`.
    #[command(subcommand)]
    Age(AgeCommand),
    /// X.509: a root CA from a key, certificates from a CSR or a key, CSRs, and CRLs.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Move a software key to AWS KMS under the same name, with proof: its material is
    /// imported and the KMS key shown to be the same key (same public key, signatures and
    /// MACs that verify across). Where KMS cannot import it, --generate makes a fresh KMS key
    /// of the same spec instead. The source key is never modified.
    #[cfg(feature = "aws")]
    Migrate(MigrateArgs),
    /// Serve the backend's keys over the AWS KMS API (JSON 1.1, SigV4-authenticated), for the
    /// AWS CLI, boto3, the AWS SDKs and `awskms://HOST:PORT/?region=R`. Prints `listening on
    /// http://ADDR` when ready; stops cleanly (exit 0) on SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// SSH: a key's OpenSSH public-key line, and OpenSSH certificates signed by a CA key.
    #[command(subcommand)]
    Ssh(SshCommand),
    /// Run an SSH agent in the foreground serving backend keys (the private keys never leave
    /// the backend): `ssh`, `ssh-keygen -Y sign` and git use it through SSH_AUTH_SOCK. Stops
    /// on SIGINT or SIGTERM and removes its socket.
    SshAgent(SshAgentArgs),
    /// Print a shell completion script: `source <(keychain completion bash)`, or save it where
    /// the shell loads completions from.
    Completion(CompletionArgs),
    /// Print the manual page (roff): `keychain man | man -l -`.
    Man,
}

/// `keychain completion`
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
