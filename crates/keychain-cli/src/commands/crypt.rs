//! `keychain encrypt` and `keychain decrypt`: direct encryption by the backend, for small
//! inputs (at most 4096 bytes). Symmetric keys bind the `--context` pairs to the ciphertext;
//! RSA keys use RSAES_OAEP_SHA_256 and take no context.
//!
//! Kept thin on purpose: envelope encryption will replace the internals, not the interface.

use keychain::{Error, Result, Secret};
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::{DecryptArgs, EncryptArgs};
use crate::files::{self, Mode};
use crate::parse;

/// The most plaintext the backend encrypts directly (the AWS KMS limit).
pub const MAX_PLAINTEXT: usize = 4096;
/// The largest ciphertext file read (KMS ciphertexts are at most 6144 bytes).
const MAX_CIPHERTEXT: usize = 64 * 1024;

/// `keychain encrypt`.
pub async fn encrypt(ctx: &Context, args: EncryptArgs) -> Result<Outcome> {
    let context = parse::pairs(&args.context, "context")?;
    let plaintext = Secret::new(files::read(&args.input, Some(MAX_PLAINTEXT)).map_err(
        |e| match e {
            Error::InvalidInput { message } => Error::invalid_input(format!(
                "{message}: direct encryption takes at most {MAX_PLAINTEXT} bytes"
            )),
            other => other,
        },
    )?);
    let algorithm = ctx
        .keychain
        .default_encryption_algorithm(&args.name)
        .await?;
    let ciphertext = ctx
        .keychain
        .encrypt(&args.name, plaintext.expose(), &context)
        .await?;
    files::write(&args.out, &ciphertext, Mode::Public)?;
    if ctx.out.is_json() {
        let info = ctx.keychain.describe(&args.name).await?;
        ctx.out.json_value(&json!({
            "key_id": info.key_id,
            "algorithm": algorithm.as_str(),
            "out": args.out.display().to_string(),
            "bytes": ciphertext.len(),
        }))?;
    }
    Ok(Outcome::Success)
}

/// `keychain decrypt`: the plaintext is written with mode 0600.
pub async fn decrypt(ctx: &Context, args: DecryptArgs) -> Result<Outcome> {
    let context = parse::pairs(&args.context, "context")?;
    let ciphertext = files::read(&args.input, Some(MAX_CIPHERTEXT))?;
    let (plaintext, algorithm) = match &args.key {
        Some(name) => {
            let algorithm = ctx.keychain.default_encryption_algorithm(name).await?;
            let key = ctx.key_ref(name)?;
            let plaintext = ctx
                .keychain
                .backend()
                .decrypt(Some(&key), &ciphertext, algorithm, &context)
                .await?;
            (plaintext, algorithm)
        }
        None => {
            let plaintext =
                ctx.keychain
                    .decrypt(&ciphertext, &context)
                    .await
                    .map_err(|e| match e {
                        Error::InvalidInput { message } => Error::invalid_input(format!(
                            "{message} (an RSA ciphertext needs --key NAME)"
                        )),
                        other => other,
                    })?;
            (plaintext, keychain::EncryptionAlgorithm::SymmetricDefault)
        }
    };
    files::write(&args.out, plaintext.expose(), Mode::Private)?;
    if ctx.out.is_json() {
        ctx.out.json_value(&json!({
            "algorithm": algorithm.as_str(),
            "out": args.out.display().to_string(),
            "bytes": plaintext.len(),
        }))?;
    }
    Ok(Outcome::Success)
}
