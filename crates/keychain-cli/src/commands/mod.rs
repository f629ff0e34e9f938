//! The commands: each module takes its parsed arguments and a [`Context`], does its work
//! through the library, prints through [`Output`] and returns an [`Outcome`] or an error.

mod age;
mod agreement;
mod alias;
mod cert;
mod crypt;
mod jwt;
mod kem;
mod key;
mod keystore;
mod mac;
mod manual;
#[cfg(feature = "aws")]
mod migrate;
mod pubkey;
mod serve;
mod sign;
mod ssh;
mod ssh_agent;
mod ssh_validity;

use keychain::software::{OpenMode, SoftwareBackend, SoftwareConfig};
use keychain::{Error, KeyRef, Keychain, Result};

use crate::cli::{Cli, Command, KeyCommand};
use crate::output::Output;
use crate::password;
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
    /// The backend URI the keychain was opened from (with `--region` and the like applied).
    pub backend: keychain::BackendUri,
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

/// The configuration of the software keystore `uri` names (or `None` for another backend),
/// with the password from the command line's sources (see [`password`]).
pub fn software_config(
    uri: &str,
    passwords: &password::Source,
    mode: OpenMode,
) -> Result<Option<SoftwareConfig>> {
    let keychain::BackendUri::Software { path } = keychain::BackendUri::parse(uri)? else {
        return Ok(None);
    };
    let mut config = SoftwareConfig::from_parsed(path)?.mode(mode);
    // A keystore is made only where none is: then a prompt asks twice.
    let purpose = match mode {
        OpenMode::Open => password::Purpose::Open,
        OpenMode::Create => password::Purpose::Create,
        OpenMode::OpenOrCreate if config.path.join("keystore.json").exists() => {
            password::Purpose::Open
        }
        OpenMode::OpenOrCreate => password::Purpose::Create,
    };
    match passwords.password(&config.path, purpose)? {
        Some(secret) => config.password = Some(secret),
        None if std::env::var_os(keychain::software::PASSWORD_ENV).is_none() => {
            return Err(Error::invalid_input(format!(
                "the software keystore {} needs a password: set {}, pass --password-file FILE \
                 or --password-fd N, or run on a terminal to be asked",
                config.path.display(),
                keychain::software::PASSWORD_ENV
            )));
        }
        None => {}
    }
    Ok(Some(config))
}

/// The aws-CLI-style options (`--region`, `--profile`, `--endpoint-url`).
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    region: Option<String>,
    profile: Option<String>,
    endpoint: Option<String>,
}

impl AwsOptions {
    fn of(cli: &Cli) -> Self {
        AwsOptions {
            region: cli.region.clone(),
            profile: cli.profile.clone(),
            endpoint: cli.endpoint_url.clone(),
        }
    }

    fn given(&self) -> bool {
        self.region.is_some() || self.profile.is_some() || self.endpoint.is_some()
    }

    /// The parsed `uri` with these options applied; they need an AWS KMS backend.
    pub fn apply(&self, uri: &str) -> Result<keychain::BackendUri> {
        match keychain::BackendUri::parse(uri)? {
            keychain::BackendUri::AwsKms(parsed) => {
                Ok(keychain::BackendUri::AwsKms(parsed.with_overrides(
                    self.region.as_deref(),
                    self.profile.as_deref(),
                    self.endpoint.as_deref(),
                )?))
            }
            _ if self.given() => Err(Error::invalid_input(
                "--region, --profile and --endpoint-url are for AWS KMS (--backend awskms)",
            )),
            other => Ok(other),
        }
    }
}

/// Opens the backend (and says which, for the commands that record it): only `key create` and
/// `serve` may create a software keystore (`keystore init`
/// opens its own); every other command needs one that exists.
async fn open(
    backend: Option<&str>,
    passwords: &password::Source,
    aws: &AwsOptions,
    command: &Command,
) -> Result<(Keychain, keychain::BackendUri)> {
    let mode = match command {
        // A server's clients create keys, so a server may make its keystore, as `key create`.
        Command::Key(KeyCommand::Create(_)) | Command::Serve(_) => OpenMode::OpenOrCreate,
        _ => OpenMode::Open,
    };
    let uri = backend_uri(backend);
    let parsed = aws.apply(uri)?;
    let keychain = match software_config(uri, passwords, mode)? {
        Some(config) => Keychain::new(SoftwareBackend::open(config).await?),
        None => Keychain::open_parsed(parsed.clone(), mode).await?,
    };
    Ok((keychain, parsed))
}

/// Runs the command line.
/// Whether `command` may draw randomness: signatures (ECDSA nonces, RSA blinding), new keys,
/// encryption, certificates, tokens, the server and the agent.
fn draws_randomness(command: &Command) -> bool {
    !matches!(
        command,
        Command::Verify(_)
            | Command::Pubkey(_)
            | Command::Mac(_)
            | Command::VerifyMac(_)
            | Command::VerifyBundle(_)
            | Command::Completion(_)
            | Command::Man
    )
}

pub async fn run(cli: Cli) -> Result<Outcome> {
    // No output may overwrite an input or a keystore file: refused before the backend opens
    // or a file is read.
    Io::of(&cli.command)
        .password_file(cli.password_file.as_deref())
        .protect(keystore_dir(cli.backend.as_deref()))
        .check(cli.json)?;
    let passwords = password::Source {
        file: cli.password_file.clone(),
        fd: cli.password_fd,
    };
    let aws = AwsOptions::of(&cli);
    // Offline commands need no backend (and no password).
    let cli = match cli.command {
        Command::VerifyBundle(args) => return sign::verify_bundle(&Output::new(cli.json), args),
        Command::Completion(args) => return manual::completion(args),
        Command::Man => return manual::man(),
        // Two backends of its own (--from, --to), none from --backend.
        #[cfg(feature = "aws")]
        Command::Migrate(args) => {
            return migrate::run(&Output::new(cli.json), &passwords, &aws, args).await;
        }
        Command::Keystore(cmd) => {
            let uri = backend_uri(cli.backend.as_deref());
            return keystore::run(&Output::new(cli.json), uri, &passwords, cmd).await;
        }
        _ => cli,
    };
    // On a software keystore, commands that draw randomness seed the generator while the
    // keystore opens (its key derivation takes as long), not after. Other backends draw none
    // locally for most commands (a token signs on the token), and have no such wait to hide
    // the seeding behind: a thread would only cost them.
    if draws_randomness(&cli.command) && keystore_dir(cli.backend.as_deref()).is_some() {
        keychain::warm_up_random();
    }
    let (keychain, backend) = open(cli.backend.as_deref(), &passwords, &aws, &cli.command).await?;
    let ctx = Context {
        keychain,
        out: Output::new(cli.json),
        backend,
    };
    let outcome = match cli.command {
        Command::Key(cmd) => key::run(&ctx, cmd).await,
        Command::Pubkey(args) => pubkey::run(&ctx, args).await,
        Command::Sign(args) => sign::sign(&ctx, args).await,
        Command::Verify(args) => sign::verify(&ctx, args).await,
        Command::Encrypt(args) => crypt::encrypt(&ctx, args).await,
        Command::Decrypt(args) => crypt::decrypt(&ctx, args).await,
        Command::Kem(cmd) => kem::run(&ctx, cmd).await,
        Command::DeriveSharedSecret(args) => agreement::derive_shared_secret(&ctx, args).await,
        Command::Mac(args) => mac::mac(&ctx, args).await,
        Command::VerifyMac(args) => mac::verify(&ctx, args).await,
        Command::VerifyBundle(args) => sign::verify_bundle(&ctx.out, args),
        Command::Keystore(cmd) => {
            keystore::run(
                &ctx.out,
                backend_uri(cli.backend.as_deref()),
                &passwords,
                cmd,
            )
            .await
        }
        Command::Jwt(cmd) => jwt::run(&ctx, cmd).await,
        Command::Jwks(args) => jwt::jwks(&ctx, args).await,
        Command::Age(cmd) => age::run(&ctx, cmd).await,
        Command::Cert(cmd) => cert::run(&ctx, cmd).await,
        #[cfg(feature = "aws")]
        Command::Migrate(args) => migrate::run(&ctx.out, &passwords, &aws, args).await,
        Command::Serve(args) => serve::run(&ctx, args).await,
        Command::Ssh(cmd) => ssh::run(&ctx, cmd).await,
        Command::SshAgent(args) => ssh::agent(&ctx, args).await,
        Command::Completion(args) => manual::completion(args),
        Command::Man => manual::man(),
    };
    // Release the backend whatever happened; the command's own error is the one to report.
    let closed = ctx.keychain.close().await;
    let outcome = outcome?;
    closed?;
    Ok(outcome)
}
