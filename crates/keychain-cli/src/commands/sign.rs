//! `keychain sign` and `keychain verify`: files are read in constant memory (hashed as they
//! stream; pure Ed25519 reads a file twice and holds standard input up to a limit);
//! `--digest` signs or verifies a given digest.
//!
//! Signatures are binary as OpenSSL makes and expects them (DER for ECDSA), `raw` (`r‖s` for
//! ECDSA) or base64 text; `verify` detects base64 text and, for ECDSA, DER versus `r‖s`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::codesign::{SignatureBundle, sign_artifact, sign_artifact_seekable};
use keychain::signature::{ecdsa_any_to_der, ecdsa_der_to_raw, ecdsa_raw_to_der};
use keychain::{
    Curve, Error, KeyFamily, Message, Result, SignatureScheme, Signed, SigningAlgorithm,
};
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::{SigEncoding, SignArgs, SignFormat, VerifyArgs, VerifyBundleArgs};
use crate::files::{self, Mode};
use crate::output::Output;
use crate::parse;

/// The largest signature file `verify` reads (RSA-4096 signatures are 512 bytes).
const MAX_SIGNATURE_FILE: usize = 64 * 1024;

fn parse_algorithm(text: Option<&str>) -> Result<Option<SigningAlgorithm>> {
    text.map(str::parse::<SigningAlgorithm>).transpose()
}

/// The curve of an ECDSA key.
async fn curve(ctx: &Context, key: &str) -> Result<Curve> {
    let info = ctx.keychain.metadata(key).await?;
    match info.spec.family() {
        KeyFamily::Ec(c) => Ok(c),
        _ => Err(Error::key_usage(
            info.display_name(),
            format!("{} keys make no ECDSA signatures", info.spec),
        )),
    }
}

/// `keychain sign`.
pub async fn sign(ctx: &Context, args: SignArgs) -> Result<Outcome> {
    match (args.format, &args.namespace) {
        (SignFormat::Sshsig, _) => return super::ssh::sign_sshsig(ctx, args).await,
        (SignFormat::Plain, Some(_)) => {
            return Err(Error::invalid_input("--namespace is for --format sshsig"));
        }
        (SignFormat::Plain, None) => {}
    }
    let kc = &ctx.keychain;
    let algorithm = parse_algorithm(args.algorithm.as_deref())?;
    let signed = match (&args.digest, &args.input) {
        (Some(hex), _) => {
            let digest = parse::hex_digest(hex)?;
            kc.sign_digest(&args.name, &digest, algorithm).await?
        }
        (None, Some(path)) => match &args.bundle {
            Some(bundle_path) => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "-".to_string());
                // A file can be read twice (pure Ed25519 needs that); standard input cannot.
                let bundle = if path.as_path() == std::path::Path::new("-") {
                    sign_artifact(kc, &args.name, &name, files::open(path)?, algorithm).await?
                } else {
                    let file = files::open_file(path)?;
                    sign_artifact_seekable(kc, &args.name, &name, file, algorithm).await?
                };
                files::write(bundle_path, bundle.to_json().as_bytes(), Mode::Public)?;
                Signed {
                    signature: bundle.signature_bytes()?,
                    algorithm: bundle.algorithm,
                    note: None,
                    // Read while signing, so from the cache.
                    key_id: kc.metadata(&args.name).await?.key_id,
                }
            }
            // A file can be read twice (pure Ed25519 needs that); standard input cannot.
            None if path.as_path() == std::path::Path::new("-") => {
                kc.sign_reader(&args.name, files::open(path)?, algorithm)
                    .await?
            }
            None => {
                kc.sign_seekable(&args.name, files::open_file(path)?, algorithm)
                    .await?
            }
        },
        (None, None) => return Err(Error::invalid_input("give --in FILE or --digest HEX")),
    };
    if let Some(note) = &signed.note {
        eprintln!("keychain: note: {}", crate::output::field(note));
    }

    let encoding = args.encoding.unwrap_or(SigEncoding::Der);
    let binary =
        if encoding == SigEncoding::Raw && signed.algorithm.scheme() == SignatureScheme::Ecdsa {
            ecdsa_der_to_raw(&signed.signature, curve(ctx, &args.name).await?)?
        } else {
            signed.signature.clone()
        };
    let text = B64.encode(&binary);
    if let Some(out) = &args.out {
        let bytes = match encoding {
            SigEncoding::Base64 => format!("{text}\n").into_bytes(),
            SigEncoding::Der | SigEncoding::Raw => binary,
        };
        files::write(out, &bytes, Mode::Public)?;
    }
    if ctx.out.is_json() {
        ctx.out.json_value(&json!({
            "key_id": signed.key_id,
            "algorithm": signed.algorithm.as_str(),
            "encoding": if encoding == SigEncoding::Raw { "raw" } else { "der" },
            "signature": text,
            "out": args.out.as_ref().map(|p| p.display().to_string()),
            "note": signed.note,
        }))?;
    } else if args.out.is_none() {
        ctx.out.bytes(format!("{text}\n").as_bytes())?;
    }
    Ok(Outcome::Success)
}

/// Turns a signature file into the signature bytes the library verifies (DER for ECDSA).
async fn decode_signature(
    ctx: &Context,
    key: &str,
    file: &[u8],
    algorithm: SigningAlgorithm,
    encoding: Option<SigEncoding>,
) -> Result<Vec<u8>> {
    let bytes = match encoding {
        Some(SigEncoding::Base64) => parse::base64(file, "the signature file")?,
        Some(SigEncoding::Der) => file.to_vec(),
        Some(SigEncoding::Raw) | None => {
            parse::detect_base64(file).unwrap_or_else(|| file.to_vec())
        }
    };
    if algorithm.scheme() != SignatureScheme::Ecdsa {
        return Ok(bytes);
    }
    match encoding {
        Some(SigEncoding::Der) => Ok(bytes),
        Some(SigEncoding::Raw) => ecdsa_raw_to_der(&bytes, curve(ctx, key).await?),
        Some(SigEncoding::Base64) | None => ecdsa_any_to_der(&bytes, curve(ctx, key).await?),
    }
}

/// `keychain verify`: exit 0 and "valid", or exit 1 and "invalid".
pub async fn verify(ctx: &Context, args: VerifyArgs) -> Result<Outcome> {
    let kc = &ctx.keychain;
    let digest = args.digest.as_deref().map(parse::hex_digest).transpose()?;
    let algorithm = match (parse_algorithm(args.algorithm.as_deref())?, &digest) {
        (Some(a), _) => a,
        (None, Some(d)) => kc.digest_signing_algorithm(&args.name, d).await?,
        (None, None) => kc.default_signing_algorithm(&args.name).await?,
    };
    let file = files::read(&args.signature, Some(MAX_SIGNATURE_FILE))?;
    let signature = decode_signature(ctx, &args.name, &file, algorithm, args.encoding).await?;
    let valid = match (&digest, &args.input) {
        (Some(d), _) => {
            kc.verify(&args.name, Message::Digest(d), &signature, algorithm)
                .await?
        }
        (None, Some(path)) => {
            kc.verify_reader(&args.name, files::open(path)?, &signature, algorithm)
                .await?
        }
        (None, None) => return Err(Error::invalid_input("give --in FILE or --digest HEX")),
    };
    let verdict = if valid { "valid" } else { "invalid" };
    if ctx.out.is_json() {
        let info = kc.metadata(&args.name).await?;
        ctx.out.json_value(&json!({
            "valid": valid,
            "key_id": info.key_id,
            "algorithm": algorithm.as_str(),
        }))?;
    } else {
        ctx.out.bytes(format!("{verdict}\n").as_bytes())?;
    }
    Ok(if valid {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}

/// The largest bundle file read.
const MAX_BUNDLE_FILE: usize = keychain::codesign::MAX_BUNDLE_LEN;

/// `keychain verify-bundle`: offline, with no backend.
pub fn verify_bundle(out: &Output, args: VerifyBundleArgs) -> Result<Outcome> {
    let bundle = SignatureBundle::from_json(&files::read(&args.bundle, Some(MAX_BUNDLE_FILE))?)?;
    let mut trusted = Vec::new();
    for path in &args.public_keys {
        let pem = files::read(path, Some(64 * 1024))?;
        trusted.push(keychain::PublicKey::parse(&pem)?);
    }
    let verdict = bundle.verify(files::open(&args.input)?, &trusted)?;
    let human = match (verdict.valid, verdict.trusted_key, trusted.is_empty()) {
        (true, true, _) => format!("valid (signed by trusted key {})", verdict.key_thumbprint),
        (true, false, _) => format!(
            "valid (signed by key {}, which was not pinned with --public-key: the file is \
             intact, the signer is not established)",
            verdict.key_thumbprint
        ),
        (false, _, false) if !verdict.trusted_key => format!(
            "invalid (signed by key {}, not one of the trusted keys)",
            verdict.key_thumbprint
        ),
        (false, _, _) => "invalid".to_string(),
    };
    // Only what was checked: the bundle's artifact name, key reference and time are not
    // covered by the signature, so they are not reported (see `keychain::codesign`).
    out.emit(
        &human,
        &json!({
            "valid": verdict.valid,
            "trusted_key": verdict.trusted_key,
            "key_thumbprint": verdict.key_thumbprint,
            "algorithm": verdict.algorithm.as_str(),
            "digest_algorithm": verdict.algorithm.hash().to_string(),
            "digest": verdict.digest,
            "size": verdict.size,
        }),
    )?;
    Ok(if verdict.valid {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}
