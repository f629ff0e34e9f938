//! `keychain encrypt` and `keychain decrypt`.
//!
//! Symmetric keys use envelope encryption (docs/ENVELOPE.md): a data key from the backend,
//! AES-256-GCM in chunks, any input size in constant memory, the `--context` pairs bound to
//! every chunk. `--direct` asks the backend to encrypt the (at most 4096-byte) input itself,
//! as KMS `Encrypt` does. RSA keys encrypt directly with RSAES_OAEP_SHA_256 and take no
//! context. `decrypt` recognises which kind of file it is given.

use std::io::Read;

use keychain::envelope::{
    EnvelopeHeader, Format, MAGIC, MAX_DIRECT_CIPHERTEXT, MAX_DIRECT_PLAINTEXT, SealingKey,
    is_envelope,
};
use keychain::{EncryptionAlgorithm, Error, Result, Secret};
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::{DecryptArgs, EncryptArgs};
use crate::files::{self, Mode};
use crate::parse;
use crate::progress::Progress;

fn input_size(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// `keychain encrypt`.
pub async fn encrypt(ctx: &Context, args: EncryptArgs) -> Result<Outcome> {
    let context = parse::pairs(&args.context, "context")?;
    let algorithm = ctx
        .keychain
        .default_encryption_algorithm(&args.name)
        .await?;
    if Format::for_algorithm(algorithm, args.direct) == Format::Envelope {
        let key = ctx.key_ref(&args.name)?;
        let sealing = SealingKey::generate(ctx.keychain.backend().as_ref(), &key, &context).await?;
        let key_id = sealing.header().key_id.clone();
        let mut input = Progress::new(
            files::open(&args.input)?,
            "encrypting",
            input_size(&args.input),
        );
        let summary = files::write_with(&args.out, Mode::Public, |w| sealing.seal(&mut input, w))?;
        input.finish();
        if ctx.out.is_json() {
            ctx.out.json_value(&json!({
                "key_id": key_id,
                "format": "envelope",
                "algorithm": "AES_256_GCM",
                "out": args.out.display().to_string(),
                "bytes": summary.plaintext_bytes,
            }))?;
        }
        return Ok(Outcome::Success);
    }
    let plaintext = Secret::new(
        files::read(&args.input, Some(MAX_DIRECT_PLAINTEXT)).map_err(|e| match e {
            Error::InvalidInput { message } => Error::invalid_input(format!(
                "{message}: direct encryption takes at most {MAX_DIRECT_PLAINTEXT} bytes"
            )),
            other => other,
        })?,
    );
    let ciphertext = ctx
        .keychain
        .encrypt(&args.name, plaintext.expose(), &context)
        .await?;
    files::write(&args.out, &ciphertext, Mode::Public)?;
    if ctx.out.is_json() {
        let info = ctx.keychain.metadata(&args.name).await?;
        // `bytes` counts the plaintext, as for an envelope and as `decrypt` reports it.
        ctx.out.json_value(&json!({
            "key_id": info.key_id,
            "format": "direct",
            "algorithm": algorithm.as_str(),
            "out": args.out.display().to_string(),
            "bytes": plaintext.expose().len(),
        }))?;
    }
    Ok(Outcome::Success)
}

/// `keychain decrypt`: the plaintext is written with mode 0600, and only once it has been
/// authenticated completely.
pub async fn decrypt(ctx: &Context, args: DecryptArgs) -> Result<Outcome> {
    let context = parse::pairs(&args.context, "context")?;
    let mut input = files::open(&args.input)?;
    let mut magic = Vec::with_capacity(MAGIC.len());
    (&mut input)
        .take(MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .map_err(|e| Error::io("reading the ciphertext", e))?;
    if is_envelope(&magic) {
        let mut input = Progress::new(
            std::io::Cursor::new(magic).chain(input),
            "decrypting",
            input_size(&args.input),
        );
        let header = EnvelopeHeader::read(&mut input)?;
        let opening = header
            .unwrap_key(ctx.keychain.backend().as_ref(), &context)
            .await?;
        let summary = files::write_with(&args.out, Mode::Private, |w| opening.open(&mut input, w))?;
        input.finish();
        if ctx.out.is_json() {
            ctx.out.json_value(&json!({
                "key_id": header.key_id,
                "format": "envelope",
                "algorithm": "AES_256_GCM",
                "out": args.out.display().to_string(),
                "bytes": summary.plaintext_bytes,
            }))?;
        }
        return Ok(Outcome::Success);
    }
    let mut ciphertext = magic;
    input
        .take(MAX_DIRECT_CIPHERTEXT as u64)
        .read_to_end(&mut ciphertext)
        .map_err(|e| Error::io("reading the ciphertext", e))?;
    if ciphertext.len() > MAX_DIRECT_CIPHERTEXT {
        return Err(Error::invalid_input(format!(
            "not an envelope file, and larger than a direct ciphertext ({MAX_DIRECT_CIPHERTEXT} bytes)"
        )));
    }
    // The key's id where --key names it; a symmetric ciphertext names its key to the backend
    // alone, so then it is not known here.
    let (plaintext, algorithm, key_id) = match &args.key {
        Some(name) => {
            let algorithm = ctx.keychain.default_encryption_algorithm(name).await?;
            let key = ctx.key_ref(name)?;
            let plaintext = ctx
                .keychain
                .backend()
                .decrypt(Some(&key), &ciphertext, algorithm, &context)
                .await?;
            let key_id = if ctx.out.is_json() {
                Some(ctx.keychain.metadata(name).await?.key_id)
            } else {
                None
            };
            (plaintext, algorithm, key_id)
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
            (plaintext, EncryptionAlgorithm::SymmetricDefault, None)
        }
    };
    files::write(&args.out, plaintext.expose(), Mode::Private)?;
    if ctx.out.is_json() {
        ctx.out.json_value(&json!({
            "key_id": key_id,
            "format": "direct",
            "algorithm": algorithm.as_str(),
            "out": args.out.display().to_string(),
            "bytes": plaintext.len(),
        }))?;
    }
    Ok(Outcome::Success)
}
