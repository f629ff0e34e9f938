//! `keychain mac` and `keychain verify-mac`: HMACs computed and checked by the backend.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::{Error, MacAlgorithm, Result};
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::{MacArgs, MacEncoding, VerifyMacArgs};
use crate::files::{self, Mode};
use crate::parse;

/// The largest MAC file read (HMAC-SHA-512 tags are 64 bytes).
const MAX_MAC_FILE: usize = 4096;

/// The algorithm to use: the one given, else the key's.
async fn algorithm(ctx: &Context, key: &str, given: Option<&str>) -> Result<MacAlgorithm> {
    if let Some(text) = given {
        return text.parse();
    }
    let info = ctx.keychain.metadata(key).await?;
    info.spec.mac_algorithms().first().copied().ok_or_else(|| {
        Error::key_usage(
            info.display_name(),
            format!("{} keys make no MACs", info.spec),
        )
    })
}

/// `keychain mac`.
pub async fn mac(ctx: &Context, args: MacArgs) -> Result<Outcome> {
    let algorithm = algorithm(ctx, &args.name, args.algorithm.as_deref()).await?;
    let key = ctx.key_ref(&args.name)?;
    let message = files::read(&args.input, None)?;
    let mac = ctx
        .keychain
        .backend()
        .generate_mac(&key, &message, algorithm)
        .await?;
    let text = B64.encode(&mac);
    if let Some(out) = &args.out {
        let bytes = match args.encoding.unwrap_or(MacEncoding::Raw) {
            MacEncoding::Raw => mac,
            MacEncoding::Base64 => format!("{text}\n").into_bytes(),
        };
        files::write(out, &bytes, Mode::Public)?;
    }
    if ctx.out.is_json() {
        let info = ctx.keychain.metadata(&args.name).await?;
        ctx.out.json_value(&json!({
            "key_id": info.key_id,
            "algorithm": algorithm.as_str(),
            "mac": text,
            "out": args.out.as_ref().map(|p| p.display().to_string()),
        }))?;
    } else if args.out.is_none() {
        ctx.out.bytes(format!("{text}\n").as_bytes())?;
    }
    Ok(Outcome::Success)
}

/// `keychain verify-mac`: exit 0 and "valid", or exit 1 and "invalid".
pub async fn verify(ctx: &Context, args: VerifyMacArgs) -> Result<Outcome> {
    let algorithm = algorithm(ctx, &args.name, args.algorithm.as_deref()).await?;
    let key = ctx.key_ref(&args.name)?;
    let file = files::read(&args.mac, Some(MAX_MAC_FILE))?;
    let mac = parse::detect_base64(&file).unwrap_or(file);
    let message = files::read(&args.input, None)?;
    let valid = ctx
        .keychain
        .backend()
        .verify_mac(&key, &message, &mac, algorithm)
        .await?;
    if ctx.out.is_json() {
        let info = ctx.keychain.metadata(&args.name).await?;
        ctx.out.json_value(&json!({
            "valid": valid,
            "key_id": info.key_id,
            "algorithm": algorithm.as_str(),
        }))?;
    } else {
        ctx.out
            .bytes(if valid { b"valid\n" } else { b"invalid\n" })?;
    }
    Ok(if valid {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}
