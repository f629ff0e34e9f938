//! `keychain derive-shared-secret`: ECDH between a KEY_AGREEMENT key, whose private half stays
//! in the backend, and a peer's public key; the secret goes to a file (or, when asked with
//! `--out -`, to standard output), never to the terminal by default.

use keychain::{KeyAgreementAlgorithm, PublicKey, Result};
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::DeriveSharedSecretArgs;
use crate::files::{self, Mode};

/// The largest peer public key file read (a PEM P-521 key is under 300 bytes).
const MAX_PUBLIC_KEY_FILE: usize = 64 * 1024;

/// Runs `derive-shared-secret`.
pub async fn derive_shared_secret(ctx: &Context, args: DeriveSharedSecretArgs) -> Result<Outcome> {
    let bytes = files::read(&args.peer_public_key, Some(MAX_PUBLIC_KEY_FILE))?;
    let peer = PublicKey::parse(&bytes).map_err(|e| match e {
        keychain::Error::InvalidInput { message } => keychain::Error::invalid_input(format!(
            "--peer-public-key {}: {message}",
            args.peer_public_key.display()
        )),
        other => other,
    })?;
    let algorithm = KeyAgreementAlgorithm::Ecdh;
    let secret = ctx
        .keychain
        .derive_shared_secret(&args.name, algorithm, &peer)
        .await?;
    files::write(&args.out, secret.expose(), Mode::Private)?;
    if ctx.out.is_json() {
        let info = ctx.keychain.metadata(&args.name).await?;
        ctx.out.json_value(&json!({
            "key_id": info.key_id,
            "key_spec": info.spec.as_str(),
            "algorithm": algorithm.as_str(),
            "out": args.out.display().to_string(),
            "secret_bytes": secret.len(),
        }))?;
    }
    Ok(Outcome::Success)
}
