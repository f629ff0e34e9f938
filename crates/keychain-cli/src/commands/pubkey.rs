//! `keychain pubkey`: the public key as PEM (what `openssl pkey -pubout` prints), DER, or a
//! JWK whose `kid` is the RFC 7638 thumbprint.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::{Curve, KeyFamily, KeyInfo, KeyUsage, PublicKey, Result};
use serde_json::{Value, json};

use super::{Context, Outcome};
use crate::cli::{PubkeyArgs, PubkeyFormat};
use crate::files::{self, Mode};

/// The JOSE `alg` a key is naturally used with, when there is exactly one: ECDSA keys have one
/// hash per curve, Ed25519 is EdDSA. RSA keys have several (RS*, PS*), so none is claimed.
fn natural_alg(info: &KeyInfo) -> Option<&'static str> {
    if info.usage != KeyUsage::SignVerify {
        return None;
    }
    match info.spec.family() {
        KeyFamily::Ec(Curve::P256) => Some("ES256"),
        KeyFamily::Ec(Curve::P384) => Some("ES384"),
        KeyFamily::Ec(Curve::P521) => Some("ES512"),
        KeyFamily::Ec(Curve::Secp256k1) => Some("ES256K"),
        KeyFamily::Ed25519 => Some("EdDSA"),
        _ => None,
    }
}

/// The JWK `use` for the key's usage.
fn jwk_use(info: &KeyInfo) -> Option<&'static str> {
    match info.usage {
        KeyUsage::SignVerify => Some("sig"),
        KeyUsage::EncryptDecrypt | KeyUsage::KeyAgreement => Some("enc"),
        KeyUsage::GenerateVerifyMac => None,
    }
}

/// The JWK of a key: the library's members plus `kid`, `use` and, where natural, `alg`.
fn jwk(info: &KeyInfo, pk: &PublicKey) -> Value {
    let mut jwk = pk.to_jwk();
    if let Some(obj) = jwk.as_object_mut() {
        obj.insert("kid".into(), json!(pk.jwk_thumbprint()));
        if let Some(u) = jwk_use(info) {
            obj.insert("use".into(), json!(u));
        }
        if let Some(alg) = natural_alg(info) {
            obj.insert("alg".into(), json!(alg));
        }
    }
    jwk
}

/// `keychain pubkey`.
pub async fn run(ctx: &Context, args: PubkeyArgs) -> Result<Outcome> {
    let pk = ctx.keychain.public_key(&args.name).await?;
    let info = ctx.keychain.metadata(&args.name).await?;
    let mut pem = pk.to_pem();
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
    let jwk = jwk(&info, &pk);
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
