//! The command line, as clap definitions. This is the CLI contract: names may be added, never
//! renamed.
//!
//! Values in the keychain vocabulary (key specs, usages, algorithms, `K=V` pairs, key names) are
//! taken as strings here and parsed by the commands with the library's parsers, so a bad value
//! is an `invalid_input` error (exit 4) with the library's message listing what is accepted.
//! clap itself only rejects malformed command lines (exit 2).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::exit;

mod ssh;
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
    /// Write to FILE instead of stdout (`-` is stdout).
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
    /// The file to sign (`-` for stdin), read in constant memory: hashed as it streams, or
    /// for ML-DSA streamed into its μ (on AWS KMS, which signs at most 4096 bytes of message,
    /// that 64-byte μ is what is sent, as EXTERNAL_MU). Pure Ed25519 reads its message twice: a file is read
    /// twice; standard input or a pipe is held in memory up to 16 MiB and refused past that
    /// (give a file, or --algorithm ED25519_PH_SHA_512).
    #[arg(
        long = "in",
        value_name = "FILE",
        required_unless_present = "digest",
        conflicts_with = "digest"
    )]
    pub input: Option<PathBuf>,
    /// Sign this digest (hex) instead of a file. Without --algorithm, the algorithm follows
    /// from the digest's length. With ED25519_PH_SHA_512 the 64-byte SHA-512 digest is the
    /// Ed25519ph message and is hashed again, as AWS KMS does (so a file and its SHA-512
    /// digest sign alike).
    #[arg(long, value_name = "HEX")]
    pub digest: Option<String>,
    /// The signing algorithm (KMS or JOSE name; default: the key's natural one).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// Write the signature to FILE (`-` is stdout; binary unless --encoding base64); without
    /// it, print base64.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The signature encoding.
    #[arg(long, value_enum, value_name = "ENCODING")]
    pub encoding: Option<SigEncoding>,
    /// Also write a JSON signature bundle (digest, algorithm, key, public key, signature,
    /// time) that `keychain verify-bundle` checks offline (`-` is stdout).
    #[arg(long, value_name = "FILE", conflicts_with = "digest")]
    pub bundle: Option<PathBuf>,
    /// The signature format: `plain` (the backend's signature, see --encoding) or `sshsig`
    /// (an armored OpenSSH signature that `ssh-keygen -Y verify` and git check; needs
    /// --namespace).
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value_t = SignFormat::Plain,
        conflicts_with_all = ["digest", "bundle", "encoding", "algorithm"]
    )]
    pub format: SignFormat,
    /// The SSHSIG namespace (`git` for git, `file` for files…), for --format sshsig.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
}

/// Signature formats of `keychain sign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignFormat {
    /// The backend's signature (see --encoding).
    Plain,
    /// An armored SSHSIG (`-----BEGIN SSH SIGNATURE-----`), as `ssh-keygen -Y sign` writes.
    Sshsig,
}

/// `keychain migrate`
#[cfg(feature = "aws")]
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The key's name: alias/NAME in the software keystore, and in AWS KMS (or the token's
    /// CKA_LABEL) afterwards.
    pub name: String,
    /// The source keystore: software:PATH (software: for the default one). Its password
    /// comes from KEYCHAIN_PASSWORD.
    #[arg(long, value_name = "URI")]
    pub from: String,
    /// The destination: an AWS KMS backend URI (awskms, awskms://HOST:PORT/?region=R,
    /// awskms:?endpoint=URL&region=R; credentials from the environment, a profile or a role),
    /// or a PKCS#11 token (pkcs11:token=LABEL?module-path=PATH&pin-source=file:PIN_FILE).
    #[arg(long, value_name = "URI")]
    pub to: String,
    /// Generate-and-switch: create a fresh KMS key of the same spec and usage under the name
    /// instead of importing (for when KMS cannot import the key). It is a different key: the
    /// output says what must be re-signed or re-encrypted.
    #[arg(long)]
    pub generate: bool,
    /// The KMS key's description (default: the software key's).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
}

/// `keychain serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on, IP:PORT (port 0 picks a free port).
    #[arg(long, value_name = "IP:PORT")]
    pub listen: String,
    /// Who may call: a JSON list of {"access_key_id", "secret_access_key", "account_id"}.
    /// Without it only access key `test` (secret `test`, account 000000000000) is accepted,
    /// and only on a loopback address.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// `keychain verify-bundle`
#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// The bundle written by `keychain sign --bundle`.
    pub bundle: PathBuf,
    /// The signed file (`-` for stdin), read once in constant memory.
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
    /// Where to write the ciphertext (`-` is stdout). A regular file is replaced atomically,
    /// a FIFO or a device is written in place; an input is never overwritten.
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
    /// Where to write the plaintext (`-` is stdout, e.g. `--out - | less`). A regular file is
    /// created with mode 0600 and replaced atomically, only once the whole input has been
    /// authenticated; to a pipe, each chunk is released once authenticated, and a damaged or
    /// truncated file still ends with exit 11.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Encryption context, K=V (repeatable; the same pairs as at encryption).
    #[arg(long = "context", value_name = "K=V")]
    pub context: Vec<String>,
    /// The key: required for RSA ciphertexts; symmetric ciphertexts name their key.
    #[arg(long = "key", value_name = "NAME")]
    pub key: Option<String>,
}

/// `keychain kem …`
#[derive(Debug, Subcommand)]
pub enum KemCommand {
    /// Make a fresh 32-byte shared secret for the ML-KEM key NAME: its ciphertext (to send to
    /// the key's holder) and the secret itself. Done locally with the key's public key unless
    /// --remote.
    Encapsulate(EncapsulateArgs),
    /// Recover the shared secret of a ciphertext with the ML-KEM key NAME. A ciphertext made
    /// for another key, or altered, still yields 32 bytes (a different secret): confirm that
    /// both sides agree before relying on it.
    Decapsulate(DecapsulateArgs),
}

/// `keychain kem encapsulate`
#[derive(Debug, Args)]
pub struct EncapsulateArgs {
    /// The ML-KEM key.
    pub name: String,
    /// Where to write the ciphertext (binary; `-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub ciphertext_out: PathBuf,
    /// Where to write the 32-byte shared secret (binary, mode 0600; `-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub secret_out: PathBuf,
    /// Have the backend encapsulate (KMS `Encapsulate`) instead of doing it locally.
    #[arg(long)]
    pub remote: bool,
}

/// `keychain kem decapsulate`
#[derive(Debug, Args)]
pub struct DecapsulateArgs {
    /// The ML-KEM key.
    pub name: String,
    /// The ciphertext file (`-` for stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the 32-byte shared secret (binary, mode 0600; `-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `keychain derive-shared-secret`
#[derive(Debug, Args)]
pub struct DeriveSharedSecretArgs {
    /// The KEY_AGREEMENT key (P-256, P-384 or P-521).
    pub name: String,
    /// The peer's public key on the same curve, PEM or DER SubjectPublicKeyInfo (`-` for
    /// stdin).
    #[arg(long, value_name = "FILE")]
    pub peer_public_key: PathBuf,
    /// Where to write the shared secret (binary, 32, 48 or 66 bytes, mode 0600; `-` is
    /// stdout).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
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
    /// Write the MAC to FILE (`-` is stdout; binary unless --encoding base64); without it,
    /// print base64.
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

/// `keychain age …`
#[derive(Debug, Subcommand)]
pub enum AgeCommand {
    /// Print the age recipient (age1keychain1…) of a symmetric, RSA encryption or ML-KEM
    /// key. It holds no secret: the backend URI (without credentials), the key reference and,
    /// for RSA and ML-KEM, the public key, so encrypting to those keys needs no credentials.
    Recipient(AgeArgs),
    /// Print the age identity (AGE-PLUGIN-KEYCHAIN-1…) of a key, for `age -d -i FILE`. It
    /// holds no secret: decrypting needs the backend's credentials or keystore password.
    Identity(AgeArgs),
}

/// `keychain age recipient` and `keychain age identity`
#[derive(Debug, Args)]
pub struct AgeArgs {
    /// The key (SYMMETRIC_DEFAULT, RSA with ENCRYPT_DECRYPT usage, or ML_KEM_512/768/1024).
    pub name: String,
    /// Write the line to FILE (created with mode 0600) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `keychain jwt …`
#[derive(Debug, Subcommand)]
pub enum JwtCommand {
    /// Sign claims as a JWT and print the compact token. `iat` is now; `exp` is now plus
    /// --exp (default 1h, unless the claims carry their own `exp`).
    Sign(JwtSignArgs),
    /// Verify a JWT with the key's public key: exit 0 and print the claims when valid, exit 1
    /// (saying why) when the signature is bad, the token expired or is not yet valid, or a
    /// claim does not match; a malformed token is invalid_input (4).
    Verify(JwtVerifyArgs),
}

/// `keychain jwt sign`
#[derive(Debug, Args)]
pub struct JwtSignArgs {
    /// The signing key.
    pub name: String,
    /// The claims: a JSON object, or @FILE to read it from a file (`@-` for stdin).
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub claims: String,
    /// Lifetime: `exp` is now plus this (30s, 15m, 1h, 7d; plain seconds; negative or zero
    /// for an already expired token, e.g. --exp=-1h). Default 1h unless the claims set `exp`.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub exp: Option<String>,
    /// Sets `nbf` to now plus this duration (it may be negative).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub nbf: Option<String>,
    /// The JOSE algorithm (ES256, ES384, ES512, ES256K, RS256…, PS256…, EdDSA) or its KMS
    /// name (default: the key's natural one; RS256 for RSA keys).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// Sets `iss`.
    #[arg(long, value_name = "ISSUER")]
    pub iss: Option<String>,
    /// Sets `aud` (repeatable: several make an array).
    #[arg(long = "aud", value_name = "AUDIENCE")]
    pub aud: Vec<String>,
    /// Sets `sub`.
    #[arg(long, value_name = "SUBJECT")]
    pub sub: Option<String>,
}

/// `keychain jwt verify`
#[derive(Debug, Args)]
pub struct JwtVerifyArgs {
    /// The key whose public key verifies the token.
    pub name: String,
    /// The compact token (`-` reads it from stdin).
    pub token: String,
    /// An accepted issuer (repeatable); without one `iss` is not checked.
    #[arg(long = "iss", value_name = "ISSUER")]
    pub iss: Vec<String>,
    /// An audience this verifier answers to (repeatable). Without one, a token that has
    /// `aud` is refused (RFC 7519).
    #[arg(long = "aud", value_name = "AUDIENCE")]
    pub aud: Vec<String>,
    /// The expected subject.
    #[arg(long, value_name = "SUBJECT")]
    pub sub: Option<String>,
    /// Clock skew tolerated on exp, nbf and iat, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub leeway: u64,
    /// Accept only this algorithm (JOSE or KMS name; repeatable). Default: whichever fits the
    /// key (never `none` or HMAC).
    #[arg(long = "algorithm", value_name = "ALG")]
    pub algorithms: Vec<String>,
    /// Accept a token without `exp` (by default `exp` is required).
    #[arg(long)]
    pub allow_no_exp: bool,
}

/// `keychain jwks`
#[derive(Debug, Args)]
pub struct JwksArgs {
    /// The keys, current first (each JWK has `kid`, `alg` and `use`).
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// The `alg` to publish for every key (default: each key's natural one; RS256 for RSA).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// Write the set to FILE instead of stdout (`-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `keychain cert …`
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Make a self-signed root CA certificate for a key.
    Ca(CertCaArgs),
    /// Issue a certificate (end entity, or an intermediate CA with --ca) signed by a CA key,
    /// for the key of a CSR or of a keychain key.
    Issue(CertIssueArgs),
    /// Make a certificate signing request (PKCS#10) for a key, signed by it.
    Csr(CertCsrArgs),
    /// Make a certificate revocation list signed by a CA key.
    Crl(CertCrlArgs),
}

/// `keychain cert ca`
#[derive(Debug, Args)]
pub struct CertCaArgs {
    /// The CA key.
    pub name: String,
    /// The subject, RFC 4514: "CN=Example Root CA,O=Example".
    #[arg(long, value_name = "DN")]
    pub subject: String,
    /// Days of validity.
    #[arg(long, value_name = "N", default_value_t = 3650)]
    pub days: u32,
    /// The pathLenConstraint: how many intermediate CAs may follow (default: no limit).
    #[arg(long, value_name = "N")]
    pub path_len: Option<u8>,
    /// The signature algorithm (e.g. PS256 for RSA-PSS; default: the key's natural one).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// Write the PEM certificate to FILE instead of stdout (`-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `keychain cert issue`
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("subject_key").required(true).args(["csr", "key"])))]
pub struct CertIssueArgs {
    /// The issuing CA's key.
    pub ca_name: String,
    /// Certify the key of this CSR (PEM or DER; its signature is checked). Its subject and
    /// requested SANs are used unless --subject / --san are given.
    #[arg(long, value_name = "FILE")]
    pub csr: Option<PathBuf>,
    /// Certify the public key of this keychain key.
    #[arg(long, value_name = "NAME")]
    pub key: Option<String>,
    /// The subject, RFC 4514: "CN=www.example.com,O=Example" (required with --key).
    #[arg(long, value_name = "DN")]
    pub subject: Option<String>,
    /// A subject alternative name (repeatable): a DNS name, or ip:ADDR, email:ADDR, uri:URI.
    #[arg(long = "san", value_name = "VALUE")]
    pub sans: Vec<String>,
    /// The CA's certificate (PEM), made by `cert ca` or issued with --ca.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: PathBuf,
    /// Days of validity (default 90, or 1825 with --ca; never past the CA certificate's end
    /// unless given).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Issue an intermediate CA certificate.
    #[arg(long)]
    pub ca: bool,
    /// The intermediate's pathLenConstraint.
    #[arg(long, value_name = "N", requires = "ca")]
    pub path_len: Option<u8>,
    /// An extended key usage (repeatable): serverAuth, clientAuth, codeSigning,
    /// emailProtection, timeStamping, ocspSigning, or a dotted OID.
    #[arg(long = "eku", value_name = "USAGE")]
    pub ekus: Vec<String>,
    /// The CA's signature algorithm (e.g. PS256; default: the CA key's natural one).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// Write the PEM certificate to FILE instead of stdout (`-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `keychain cert csr`
#[derive(Debug, Args)]
pub struct CertCsrArgs {
    /// The key to request a certificate for.
    pub name: String,
    /// The subject, RFC 4514: "CN=www.example.com,O=Example".
    #[arg(long, value_name = "DN")]
    pub subject: String,
    /// A requested subject alternative name (repeatable): a DNS name, or ip:ADDR,
    /// email:ADDR, uri:URI.
    #[arg(long = "san", value_name = "VALUE")]
    pub sans: Vec<String>,
    /// The signature algorithm (default: the key's natural one).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// Write the PEM request to FILE instead of stdout (`-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `keychain cert crl`
#[derive(Debug, Args)]
pub struct CertCrlArgs {
    /// The CA's key.
    pub ca_name: String,
    /// The CA's certificate (PEM).
    #[arg(long, value_name = "PEM")]
    pub ca_cert: PathBuf,
    /// The serial number of a revoked certificate, hex as `openssl x509 -serial` prints it
    /// (repeatable; colons allowed).
    #[arg(long = "revoke", value_name = "SERIAL")]
    pub revoke: Vec<String>,
    /// The CRL number (default: the current Unix time, so later CRLs have larger numbers).
    #[arg(long, value_name = "N")]
    pub number: Option<u64>,
    /// Days until the next update.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub days: u32,
    /// The signature algorithm (default: the CA key's natural one).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<String>,
    /// Write the PEM CRL to FILE instead of stdout (`-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
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
