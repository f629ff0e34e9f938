//! The commands: each module takes its parsed arguments and a [`Context`], does its work
//! through the library, prints through [`Output`] and returns an [`Outcome`] or an error.

mod alias;
mod cert;
mod crypt;
mod jwt;
mod key;
mod mac;
#[cfg(feature = "aws")]
mod migrate;
mod pubkey;
mod sign;

use keychain::{KeyRef, Keychain, Result};

use crate::cli::{Cli, Command};
use crate::output::Output;
use crate::plan::Io;

/// How a command that ran to the end turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (for verify commands: valid).
    Success,
    /// A verify command found the signature, MAC or token invalid (exit 1).
    Invalid,
}

/// What every command works with.
#[derive(Debug)]
pub struct Context {
    /// The opened backend.
    pub keychain: Keychain,
    /// Where results go.
    pub out: Output,
}

impl Context {
    /// Parses a key reference (a malformed one is `invalid_input`).
    pub fn key_ref(&self, name: &str) -> Result<KeyRef> {
        KeyRef::parse(name)
    }
}

/// Opens the backend `--backend` (or `KEYCHAIN_BACKEND`) names, else the default keystore.
async fn open(backend: Option<&str>) -> Result<Keychain> {
    match backend.map(str::trim).filter(|b| !b.is_empty()) {
        Some(uri) => Keychain::open(uri).await,
        None => Keychain::from_env().await,
    }
}

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<Outcome> {
    // No output may overwrite an input: refused before the backend opens or a file is read.
    Io::of(&cli.command).check(cli.json)?;
    // Offline commands need no backend (and no password).
    let cli = match cli.command {
        Command::VerifyBundle(args) => return sign::verify_bundle(&Output::new(cli.json), args),
        // Two backends of its own (--from, --to), none from --backend.
        #[cfg(feature = "aws")]
        Command::Migrate(args) => return migrate::run(&Output::new(cli.json), args).await,
        _ => cli,
    };
    let ctx = Context {
        keychain: open(cli.backend.as_deref()).await?,
        out: Output::new(cli.json),
    };
    let outcome = match cli.command {
        Command::Key(cmd) => key::run(&ctx, cmd).await,
        Command::Pubkey(args) => pubkey::run(&ctx, args).await,
        Command::Sign(args) => sign::sign(&ctx, args).await,
        Command::Verify(args) => sign::verify(&ctx, args).await,
        Command::Encrypt(args) => crypt::encrypt(&ctx, args).await,
        Command::Decrypt(args) => crypt::decrypt(&ctx, args).await,
        Command::Mac(args) => mac::mac(&ctx, args).await,
        Command::VerifyMac(args) => mac::verify(&ctx, args).await,
        Command::VerifyBundle(args) => sign::verify_bundle(&ctx.out, args),
        Command::Jwt(cmd) => jwt::run(&ctx, cmd).await,
        Command::Jwks(args) => jwt::jwks(&ctx, args).await,
        Command::Cert(cmd) => cert::run(&ctx, cmd).await,
        #[cfg(feature = "aws")]
        Command::Migrate(args) => migrate::run(&ctx.out, args).await,
    };
    // Release the backend whatever happened; the command's own error is the one to report.
    let closed = ctx.keychain.close().await;
    let outcome = outcome?;
    closed?;
    Ok(outcome)
}
