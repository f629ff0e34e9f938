//! `keychain pubkey`: the public key as PEM (what `openssl pkey -pubout` prints), DER, or a
//! JWK whose `kid` is the RFC 7638 thumbprint.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::{Result, jwt};
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::{PubkeyArgs, PubkeyFormat};
use crate::files::{self, Mode};

/// `keychain pubkey`.
pub async fn run(ctx: &Context, args: PubkeyArgs) -> Result<Outcome> {
    let pk = ctx.keychain.public_key(&args.name).await?;
    let info = ctx.keychain.metadata(&args.name).await?;
    let mut pem = pk.to_pem();
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
    let jwk = jwt::jwk_for_key(&info, &pk);
    let bytes: Vec<u8> = match args.format {
        PubkeyFormat::Pem => pem.clone().into_bytes(),
        PubkeyFormat::Der => pk.to_der().to_vec(),
        PubkeyFormat::Jwk => {
            let mut text = serde_json::to_string_pretty(&jwk).unwrap_or_default();
            text.push('\n');
            text.into_bytes()
        }
    };
    let format = match args.format {
        PubkeyFormat::Pem => "pem",
        PubkeyFormat::Der => "der",
        PubkeyFormat::Jwk => "jwk",
    };
    if let Some(out) = &args.out {
        files::write(out, &bytes, Mode::Public)?;
    }
    if ctx.out.is_json() {
        ctx.out.json_value(&json!({
            "key_id": info.key_id,
            "spec": info.spec.as_str(),
            "format": format,
            "pem": pem,
            "der": B64.encode(pk.to_der()),
            "jwk": jwk,
            "out": args.out.as_ref().map(|p| p.display().to_string()),
        }))?;
    } else if args.out.is_none() {
        ctx.out.bytes(&bytes)?;
    }
    Ok(Outcome::Success)
}
