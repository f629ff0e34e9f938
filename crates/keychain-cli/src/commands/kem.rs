//! `keychain kem encapsulate` and `keychain kem decapsulate`: ML-KEM shared secrets, made with
//! a key's public key and recovered with its private key in the backend.

use keychain::Result;
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::{DecapsulateArgs, EncapsulateArgs, KemCommand};
use crate::files::{self, Mode};

/// The largest ciphertext file read (ML-KEM-1024 ciphertexts are 1568 bytes; the length is
/// then checked against the key's parameter set).
const MAX_CIPHERTEXT_FILE: usize = 4096;

/// Runs a `kem` subcommand.
pub async fn run(ctx: &Context, cmd: KemCommand) -> Result<Outcome> {
    match cmd {
        KemCommand::Encapsulate(args) => encapsulate(ctx, args).await,
        KemCommand::Decapsulate(args) => decapsulate(ctx, args).await,
    }
}

async fn encapsulate(ctx: &Context, args: EncapsulateArgs) -> Result<Outcome> {
    let sent = if args.remote {
        let key = ctx.key_ref(&args.name)?;
        ctx.keychain.backend().encapsulate(&key).await?
    } else {
        ctx.keychain.encapsulate(&args.name).await?
    };
    // The secret first: if the ciphertext cannot be written, the secret (which nothing else
    // could reproduce) is removed again rather than left without its ciphertext.
    files::write(&args.secret_out, sent.shared_secret.expose(), Mode::Private)?;
    if let Err(e) = files::write(&args.ciphertext_out, &sent.ciphertext, Mode::Public) {
        if args.secret_out != std::path::Path::new("-") {
            let _ = std::fs::remove_file(&args.secret_out);
        }
        return Err(e);
    }
    if ctx.out.is_json() {
        let info = ctx.keychain.metadata(&args.name).await?;
        ctx.out.json_value(&json!({
            "key_id": info.key_id,
            "key_spec": info.spec.as_str(),
            "ciphertext_out": args.ciphertext_out.display().to_string(),
            "ciphertext_bytes": sent.ciphertext.len(),
            "secret_out": args.secret_out.display().to_string(),
            "secret_bytes": sent.shared_secret.len(),
        }))?;
    }
    Ok(Outcome::Success)
}

async fn decapsulate(ctx: &Context, args: DecapsulateArgs) -> Result<Outcome> {
    let ciphertext = files::read(&args.input, Some(MAX_CIPHERTEXT_FILE))?;
    let secret = ctx.keychain.decapsulate(&args.name, &ciphertext).await?;
    files::write(&args.out, secret.expose(), Mode::Private)?;
    if ctx.out.is_json() {
        let info = ctx.keychain.metadata(&args.name).await?;
        ctx.out.json_value(&json!({
            "key_id": info.key_id,
            "key_spec": info.spec.as_str(),
            "out": args.out.display().to_string(),
            "secret_bytes": secret.len(),
        }))?;
    }
    Ok(Outcome::Success)
}
