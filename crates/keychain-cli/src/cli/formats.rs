//! Arguments of the commands built on the data path: age, JWT/JWKS and the X.509 CA.

use std::path::PathBuf;

use clap::{Args, Subcommand};

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
