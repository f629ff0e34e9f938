//! `keychain keystore …`: creating a software keystore explicitly.

use keychain::software::OpenMode;
use keychain::software::SoftwareBackend;
use keychain::{Error, Result};
use serde_json::json;

use super::Outcome;
use crate::cli::{KeystoreCommand, PasswdArgs};
use crate::output::Output;
use crate::password;

/// Runs a `keystore` subcommand on the backend `uri`.
pub async fn run(
    out: &Output,
    uri: &str,
    passwords: &password::Source,
    cmd: KeystoreCommand,
) -> Result<Outcome> {
    match cmd {
        KeystoreCommand::Init => init(out, uri, passwords).await,
        KeystoreCommand::Passwd(args) => passwd(out, uri, passwords, args).await,
    }
}

/// Creates a keystore in a new or empty directory; refuses anything else.
async fn init(out: &Output, uri: &str, passwords: &password::Source) -> Result<Outcome> {
    let Some(config) = super::software_config(uri, passwords, OpenMode::Create)? else {
        return Err(Error::unsupported(
            uri.split(':').next().unwrap_or(uri),
            "keystore init (only a software:PATH backend has a keystore to create)",
        ));
    };
    let backend = SoftwareBackend::open(config).await?;
    let path = backend.path().display().to_string();
    out.emit(
        &format!("created keystore {path}"),
        &json!({ "keystore": path, "created": true }),
    )?;
    Ok(Outcome::Success)
}

/// Changes the password of an existing keystore (see `SoftwareBackend::change_password`).
async fn passwd(
    out: &Output,
    uri: &str,
    passwords: &password::Source,
    args: PasswdArgs,
) -> Result<Outcome> {
    let Some(config) = super::software_config(uri, passwords, OpenMode::Open)? else {
        return Err(Error::unsupported(
            uri.split(':').next().unwrap_or(uri),
            "keystore passwd (only a software:PATH backend has a password)",
        ));
    };
    let backend = SoftwareBackend::open(config).await?;
    let path = backend.path().to_path_buf();
    let new = password::new_password(args.new_password_file.as_deref(), &path)?;
    backend.change_password(new).await?;
    let shown = path.display().to_string();
    out.emit(
        &format!("changed the password of keystore {shown}"),
        &json!({ "keystore": shown, "password_changed": true }),
    )?;
    Ok(Outcome::Success)
}
