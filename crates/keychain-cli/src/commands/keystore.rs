//! `keychain keystore …`: creating a software keystore explicitly.

use keychain::software::OpenMode;
use keychain::software::SoftwareBackend;
use keychain::{Error, Result};
use serde_json::json;

use super::Outcome;
use crate::cli::KeystoreCommand;
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
