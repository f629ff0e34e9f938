//! `keychain jwt sign`, `keychain jwt verify` and `keychain jwks`: compact JWTs signed by a
//! backend key (ECDSA as the raw `r‖s` JOSE requires), verified locally with its public key,
//! and the JWK Set that publishes the keys.
//!
//! `jwt verify` exits 0 and prints the claims when the token is valid; 1 when it is not (bad
//! signature, expired, not yet valid, wrong issuer/audience/subject, refused algorithm), with
//! the reason; a token that is not a compact JWS at all is `invalid_input` (4).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keychain::jwt::{self, Audience, Claims, JwtError, JwtSigner, Validation};
use keychain::{Error, Result, SigningAlgorithm};
use serde_json::{Value, json};

use super::{Context, Outcome};
use crate::cli::{JwksArgs, JwtCommand, JwtSignArgs, JwtVerifyArgs};
use crate::files::{self, Mode};
use crate::output::rfc3339;
use crate::parse;

/// The largest claims file (`--claims @FILE`) read.
const MAX_CLAIMS_FILE: usize = 64 * 1024;
/// `exp` is now plus this when neither --exp nor the claims set it.
const DEFAULT_LIFETIME: i64 = 3600;
/// The JOSE `alg` names, which name one curve where KMS names do not (`ES256` is P-256).
const JOSE_NAMES: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "ES256K",
    "EdDSA",
];

/// `keychain jwt …`.
pub async fn run(ctx: &Context, cmd: JwtCommand) -> Result<Outcome> {
    match cmd {
        JwtCommand::Sign(args) => sign(ctx, args).await,
        JwtCommand::Verify(args) => verify(ctx, args).await,
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A Unix time as RFC 3339, for messages.
fn unix_rfc3339(secs: i64) -> String {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    let t = if secs >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    t.map_or_else(|| format!("{secs} (Unix time)"), rfc3339)
}

/// Now plus a duration option's value, in Unix seconds: within ±(2^53 − 1), the range every
/// JWT reader holds exactly.
fn now_plus(text: &str, option: &str) -> Result<i64> {
    now_unix()
        .checked_add(parse::duration_secs(text, option)?)
        .filter(|t| t.unsigned_abs() <= jwt::MAX_EXACT_INTEGER.unsigned_abs())
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "{option} {text:?} is out of range (a date must stay within 2^53-1 seconds                  of 1970)"
            ))
        })
}

/// The claims of `--claims`: inline JSON, or `@FILE` (`@-` for stdin).
fn read_claims(text: &str) -> Result<Claims> {
    let bytes = match text.strip_prefix('@') {
        Some(path) => files::read(Path::new(path), Some(MAX_CLAIMS_FILE))?,
        None => text.as_bytes().to_vec(),
    };
    // Checked, not rounded: one value per member, dates in whole seconds, every number exact.
    Claims::from_json_text(&bytes).map_err(|e| match e {
        Error::InvalidInput { message } => Error::invalid_input(format!("--claims: {message}")),
        other => other,
    })
}

/// `keychain jwt sign`: prints the compact token.
async fn sign(ctx: &Context, args: JwtSignArgs) -> Result<Outcome> {
    let mut claims = read_claims(&args.claims)?;
    let now = now_unix();
    if claims.iat.is_none() {
        claims.iat = Some(now);
    }
    match &args.exp {
        Some(text) => claims.exp = Some(now_plus(text, "--exp")?),
        None if claims.exp.is_none() => claims.exp = Some(now.saturating_add(DEFAULT_LIFETIME)),
        None => {}
    }
    if let Some(text) = &args.nbf {
        claims.nbf = Some(now_plus(text, "--nbf")?);
    }
    if let Some(iss) = &args.iss {
        claims.iss = Some(iss.clone());
    }
    if let Some(sub) = &args.sub {
        claims.sub = Some(sub.clone());
    }
    match args.aud.as_slice() {
        [] => {}
        [one] => claims.aud = Some(Audience::One(one.clone())),
        many => claims.aud = Some(Audience::Many(many.to_vec())),
    }

    let algorithm = args
        .algorithm
        .as_deref()
        .map(parse::signing_algorithm)
        .transpose()?;
    let signer = JwtSigner::from_key(&ctx.keychain, &args.name, algorithm).await?;
    // A JOSE name names a curve too: ES256 is P-256, ES256K secp256k1.
    if let Some(asked) = args.algorithm.as_deref().map(str::trim)
        && let Some(jose) = JOSE_NAMES.iter().find(|n| n.eq_ignore_ascii_case(asked))
        && *jose != signer.alg()
    {
        return Err(Error::key_usage(
            &args.name,
            format!(
                "{jose} does not fit this key, whose JOSE algorithm is {}",
                signer.alg()
            ),
        ));
    }
    let token = signer.sign(&claims).await?;
    if ctx.out.is_json() {
        ctx.out.json_value(&json!({
            "token": token,
            "alg": signer.alg(),
            "kid": signer.kid(),
            "claims": claims,
        }))?;
    } else {
        ctx.out.bytes(format!("{token}\n").as_bytes())?;
    }
    Ok(Outcome::Success)
}

/// Why a well-formed token is invalid: a short code and the sentence printed.
fn rejection(error: &JwtError) -> (&'static str, String) {
    match error {
        JwtError::BadSignature => ("signature", "the signature does not verify".into()),
        JwtError::Expired(exp) => (
            "expired",
            format!("the token expired at {} (exp {exp})", unix_rfc3339(*exp)),
        ),
        JwtError::NotYetValid(nbf) => (
            "not_yet_valid",
            format!(
                "the token is not valid before {} (nbf {nbf})",
                unix_rfc3339(*nbf)
            ),
        ),
        JwtError::IssuedInFuture(iat) => (
            "issued_in_future",
            format!(
                "the token was issued in the future, at {} (iat {iat})",
                unix_rfc3339(*iat)
            ),
        ),
        JwtError::Issuer => ("issuer", "the issuer is not one of --iss".into()),
        JwtError::Audience => (
            "audience",
            "the audience does not match (a token with aud needs a matching --aud)".into(),
        ),
        JwtError::Subject => ("subject", "the subject is not --sub".into()),
        JwtError::MissingClaim(name) => ("missing_claim", format!("the token has no {name} claim")),
        JwtError::Algorithm(_) | JwtError::Critical(_) => ("algorithm", error.to_string()),
        other => ("invalid", other.to_string()),
    }
}

/// The token argument, or stdin for `-`.
fn read_token(arg: &str) -> Result<String> {
    let text = if arg == "-" {
        let bytes = files::read(Path::new("-"), Some(jwt::DEFAULT_MAX_TOKEN_LEN + 2))?;
        String::from_utf8(bytes).map_err(|_| Error::invalid_input("the token is not text"))?
    } else {
        arg.to_string()
    };
    Ok(text.trim().to_string())
}

/// `keychain jwt verify`.
async fn verify(ctx: &Context, args: JwtVerifyArgs) -> Result<Outcome> {
    let token = read_token(&args.token)?;
    let mut validation = Validation::new().leeway(Duration::from_secs(args.leeway));
    validation.issuers = args.iss;
    validation.audiences = args.aud;
    validation.subject = args.sub;
    validation.algorithms = args
        .algorithms
        .iter()
        .map(|a| parse::signing_algorithm(a))
        .collect::<Result<Vec<SigningAlgorithm>>>()?;
    if args.allow_no_exp {
        validation.required.retain(|c| c != "exp");
    }
    // A disabled key, or one pending deletion, verifies nothing, as `keychain verify` says.
    let key = ctx.keychain.verification_key(&args.name).await?;
    match jwt::verify(&token, &key, &validation) {
        Ok(verified) => {
            let claims = serde_json::to_value(&verified.claims)
                .map_err(|e| Error::invalid_input(format!("cannot render the claims: {e}")))?;
            if ctx.out.is_json() {
                let alg = jwt::jose_algorithm(&key, verified.algorithm)?;
                ctx.out.json_value(&json!({
                    "valid": true,
                    "alg": alg,
                    "header": verified.header,
                    "claims": claims,
                }))?;
            } else {
                let text = serde_json::to_string_pretty(&claims)
                    .map_err(|e| Error::invalid_input(format!("cannot render the claims: {e}")))?;
                // Claims come from the token: printed as text for people, escaped.
                ctx.out.text(&text)?;
            }
            Ok(Outcome::Success)
        }
        Err(e @ (JwtError::Malformed(_) | JwtError::TooLong { .. })) => Err(e.into()),
        Err(e) => {
            let (reason, message) = rejection(&e);
            ctx.out.emit(
                &format!("invalid: {message}"),
                &json!({ "valid": false, "reason": reason, "message": message }),
            )?;
            Ok(Outcome::Invalid)
        }
    }
}

/// `keychain jwks`: the JWK Set of the keys, each with `kid`, `alg` and `use`.
pub async fn jwks(ctx: &Context, args: JwksArgs) -> Result<Outcome> {
    let algorithm = args
        .algorithm
        .as_deref()
        .map(parse::signing_algorithm)
        .transpose()?;
    let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
    let set = jwt::jwks_for_keys(&ctx.keychain, &names, algorithm).await?;
    let mut pretty = serde_json::to_string_pretty(&set)
        .map_err(|e| Error::invalid_input(format!("cannot render the key set: {e}")))?;
    pretty.push('\n');
    if let Some(out) = &args.out {
        files::write(out, pretty.as_bytes(), Mode::Public)?;
    }
    if ctx.out.is_json() {
        // One shape with or without --out: the set itself (a JWK Set's readers ignore the
        // extra members), its kids in order, and the file written.
        let kids: Vec<Value> = set["keys"]
            .as_array()
            .map(|keys| keys.iter().map(|k| k["kid"].clone()).collect())
            .unwrap_or_default();
        ctx.out.json_value(&json!({
            "keys": set["keys"],
            "kids": kids,
            "out": args.out.as_ref().map(|p| p.display().to_string()),
        }))?;
    } else if args.out.is_none() {
        ctx.out.bytes(pretty.as_bytes())?;
    }
    Ok(Outcome::Success)
}
