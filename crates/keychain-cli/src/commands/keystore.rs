//! `keychain keystore …`: creating a software keystore explicitly.

use keychain::software::OpenMode;
use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{Error, Result};
use serde_json::json;

use super::Outcome;
use crate::cli::KeystoreCommand;
use crate::output::Output;

/// Runs a `keystore` subcommand on the backend `uri`.
pub async fn run(out: &Output, uri: &str, cmd: KeystoreCommand) -> Result<Outcome> {
    match cmd {
        KeystoreCommand::Init => init(out, uri).await,
    }
}

/// Creates a keystore in a new or empty directory; refuses anything else.
async fn init(out: &Output, uri: &str) -> Result<Outcome> {
    if !uri.starts_with("software:") {
        return Err(Error::unsupported(
            uri.split(':').next().unwrap_or(uri),
            "keystore init (only a software:PATH backend has a keystore to create)",
        ));
    }
    let config = SoftwareConfig::from_uri(uri)?.mode(OpenMode::Create);
    let backend = SoftwareBackend::open(config).await?;
    let path = backend.path().display().to_string();
    out.emit(
        &format!("created keystore {path}"),
        &json!({ "keystore": path, "created": true }),
    )?;
    Ok(Outcome::Success)
}
