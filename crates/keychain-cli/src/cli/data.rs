//! Arguments of the commands that use a key: public keys, sign and verify, migrate, serve,
//! encrypt and decrypt, KEM, key agreement and MACs.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

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
