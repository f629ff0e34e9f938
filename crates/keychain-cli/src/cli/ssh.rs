//! The SSH commands' arguments: `keychain ssh pubkey`, `keychain ssh cert` and
//! `keychain ssh-agent`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `keychain ssh …`
#[derive(Debug, Subcommand)]
pub enum SshCommand {
    /// Print a key's OpenSSH public-key line (`ssh-ed25519 AAAA… NAME`), for
    /// `authorized_keys`, allowed signers, `TrustedUserCAKeys` or `@cert-authority`.
    Pubkey(SshPubkeyArgs),
    /// Sign an OpenSSH certificate for a public key with the CA key CA_NAME.
    Cert(SshCertArgs),
}

/// `keychain ssh pubkey`
#[derive(Debug, Args)]
pub struct SshPubkeyArgs {
    /// The key (Ed25519, ECDSA P-256/384/521 or RSA).
    pub name: String,
    /// Write the line to FILE instead of stdout (`-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `keychain ssh cert`
#[derive(Debug, Args)]
pub struct SshCertArgs {
    /// The CA key in the backend.
    pub ca_name: String,
    /// The OpenSSH public key to certify (an `id_ed25519.pub`-style line).
    #[arg(long, value_name = "FILE")]
    pub public_key: PathBuf,
    /// The key identity, logged by sshd and shown by `ssh-keygen -L`.
    #[arg(long, value_name = "ID")]
    pub identity: String,
    /// A user (or, with --host, host) name the certificate is valid for; repeat for more.
    #[arg(long = "principal", value_name = "P", required = true)]
    pub principals: Vec<String>,
    /// A host certificate (default: a user certificate).
    #[arg(long)]
    pub host: bool,
    /// The validity: `+1h`, `+30m`, `+7d`, `+2w` from now (the start is a minute ago, for
    /// clock skew), or `FROM:TO` as Unix seconds, `YYYYMMDD` or `YYYYMMDDHHMMSS` (UTC), `TO`
    /// also `forever`. Default: +1h.
    #[arg(long, value_name = "SPAN", default_value = "+1h")]
    pub validity: String,
    /// The serial number (0 to 18446744073709551615).
    #[arg(long, value_name = "N", default_value = "0")]
    pub serial: String,
    /// A critical option, `K` or `K=V` (`force-command=…`, `source-address=…`); repeat.
    #[arg(long = "option", value_name = "K[=V]")]
    pub options: Vec<String>,
    /// An extension, `K` or `K=V`; repeat. Given any, the certificate has exactly those;
    /// otherwise a user certificate has OpenSSH's defaults (permit-pty, permit-agent-,
    /// port- and X11-forwarding, permit-user-rc).
    #[arg(long = "extension", value_name = "K[=V]")]
    pub extensions: Vec<String>,
    /// Where to write the certificate (`-` is stdout), e.g. `id_ed25519-cert.pub`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `keychain ssh-agent`
#[derive(Debug, Args)]
pub struct SshAgentArgs {
    /// The socket to listen on. Its directory is created 0700 if missing; the socket is
    /// made 0600. A stale socket there is replaced; any other file is refused.
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// A key to serve; repeat for more. Default: every enabled signing key OpenSSH can
    /// use (Ed25519, ECDSA P-256/384/521, RSA).
    #[arg(long = "key", value_name = "NAME")]
    pub keys: Vec<String>,
}
