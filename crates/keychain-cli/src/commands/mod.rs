//! The commands: each module takes its parsed arguments and a [`Context`], does its work
//! through the library, prints through [`Output`] and returns an [`Outcome`] or an error.

mod alias;
mod cert;
mod crypt;
mod jwt;
mod key;
mod keystore;
mod mac;
#[cfg(feature = "aws")]
mod migrate;
mod pubkey;
mod serve;
mod sign;

use keychain::software::OpenMode;
use keychain::{KeyRef, Keychain, Result};

use crate::cli::{Cli, Command, KeyCommand};
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

/// The backend URI `--backend` (or `KEYCHAIN_BACKEND`) gives, else the default keystore's.
fn backend_uri(backend: Option<&str>) -> &str {
    backend
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or("software:")
}

/// The directory of the software keystore the command would use, if it is one.
fn keystore_dir(backend: Option<&str>) -> Option<std::path::PathBuf> {
    match keychain::BackendUri::parse(backend_uri(backend)).ok()? {
        keychain::BackendUri::Software { path } => {
            keychain::software::SoftwareConfig::from_parsed(path)
                .ok()
                .map(|config| config.path)
        }
        _ => None,
    }
}

/// Opens the backend: only `key create` and `serve` may create a software keystore (`keystore init`
/// opens its own); every other command needs one that exists.
async fn open(backend: Option<&str>, command: &Command) -> Result<Keychain> {
    let mode = match command {
        // A server's clients create keys, so a server may make its keystore, as `key create`.
        Command::Key(KeyCommand::Create(_)) | Command::Serve(_) => OpenMode::OpenOrCreate,
        _ => OpenMode::Open,
    };
    Keychain::open_with(backend_uri(backend), mode).await
}

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<Outcome> {
    // No output may overwrite an input or a keystore file: refused before the backend opens
    // or a file is read.
    Io::of(&cli.command)
        .protect(keystore_dir(cli.backend.as_deref()))
        .check(cli.json)?;
    // Offline commands need no backend (and no password).
    let cli = match cli.command {
        Command::VerifyBundle(args) => return sign::verify_bundle(&Output::new(cli.json), args),
        // Two backends of its own (--from, --to), none from --backend.
        #[cfg(feature = "aws")]
        Command::Migrate(args) => return migrate::run(&Output::new(cli.json), args).await,
        Command::Keystore(cmd) => {
            let uri = backend_uri(cli.backend.as_deref());
            return keystore::run(&Output::new(cli.json), uri, cmd).await;
        }
        _ => cli,
    };
    let ctx = Context {
        keychain: open(cli.backend.as_deref(), &cli.command).await?,
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
        Command::Keystore(cmd) => {
            keystore::run(&ctx.out, backend_uri(cli.backend.as_deref()), cmd).await
        }
        Command::Jwt(cmd) => jwt::run(&ctx, cmd).await,
        Command::Jwks(args) => jwt::jwks(&ctx, args).await,
        Command::Cert(cmd) => cert::run(&ctx, cmd).await,
        #[cfg(feature = "aws")]
        Command::Migrate(args) => migrate::run(&ctx.out, args).await,
        Command::Serve(args) => serve::run(&ctx, args).await,
    };
    // Release the backend whatever happened; the command's own error is the one to report.
    let closed = ctx.keychain.close().await;
    let outcome = outcome?;
    closed?;
    Ok(outcome)
}
