//! Verifying compact JWS and JWTs locally with the public key: the shape and length checks
//! made before any parsing, duplicate JSON members refused, the algorithm checked against the
//! key, then the claims as [`Validation`] says; and verification against a JWK Set by `kid`.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{Claims, secs, unix};
use super::jwk::{algorithm_from_jose, public_key_from_jwk};
use super::{DEFAULT_MAX_TOKEN_LEN, JwtError};
use crate::algorithm::{Message, SigningAlgorithm};
use crate::public_key::{PublicKey, PublicKeyKind};
use crate::signature::ecdsa_raw_to_der;

/// What [`verify`] checks besides the signature. [`Validation::new`] is strict: `exp`
/// required, 60 s leeway, any algorithm that fits the key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Validation {
    /// Allowed algorithms; empty allows whichever fits the key (never `none` or HMAC).
    pub algorithms: Vec<SigningAlgorithm>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Accepted issuers; empty means `iss` is not checked.
    pub issuers: Vec<String>,
    /// Audiences this verifier answers to; empty means a token with `aud` is refused
    /// (RFC 7519 §4.1.3), one without is accepted.
    pub audiences: Vec<String>,
    /// The expected subject, if any.
    pub subject: Option<String>,
    /// Claims that must be present (default `exp`).
    pub required: Vec<String>,
    /// Whether `exp` is checked (when present).
    pub validate_exp: bool,
    /// Whether `nbf` is checked (when present).
    pub validate_nbf: bool,
    /// Tokens longer than this are refused unread.
    pub max_token_len: usize,
    /// The time to validate at (default: now).
    pub now: Option<SystemTime>,
}

impl Default for Validation {
    fn default() -> Self {
        Self::new()
    }
}

impl Validation {
    /// The strict defaults.
    pub fn new() -> Self {
        Validation {
            algorithms: Vec::new(),
            leeway: Duration::from_secs(60),
            issuers: Vec::new(),
            audiences: Vec::new(),
            subject: None,
            required: vec!["exp".into()],
            validate_exp: true,
            validate_nbf: true,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            now: None,
        }
    }

    /// Only these algorithms are accepted.
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// Expects one of these issuers.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuers.push(iss.into());
        self
    }

    /// Answers to this audience.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Sets the leeway.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }
}

/// A verified token.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Claims,
    /// The algorithm it was signed with.
    pub algorithm: SigningAlgorithm,
}

/// A JSON object that refuses duplicate member names at the top level (an ambiguity parsers
/// disagree on, and so a classic way to smuggle a second `alg` or `exp` past one of them).
pub(super) struct StrictObject(pub(super) Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<StrictObject, A::Error> {
                let mut map = Map::new();
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!("duplicate member {k:?}")));
                    }
                    map.insert(k, v);
                }
                Ok(StrictObject(map))
            }
        }
        d.deserialize_map(V)
    }
}

fn parse_object(part: &str, what: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed(format!("the {what} is not base64url")))?;
    serde_json::from_slice::<StrictObject>(&bytes)
        .map(|o| o.0)
        .map_err(|e| JwtError::Malformed(format!("the {what} is not a JSON object: {e}")))
}

/// The three parts of a compact JWS, checked for shape and length only.
fn split(token: &str, max: usize) -> Result<(&str, &str, &str), JwtError> {
    if token.len() > max {
        return Err(JwtError::TooLong {
            len: token.len(),
            max,
        });
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !s.is_empty() => Ok((h, p, s)),
        (_, _, _, Some(_)) => Err(JwtError::Malformed(
            "more than three parts (a JWE is not a JWS)".into(),
        )),
        _ => Err(JwtError::Malformed(
            "a compact JWS has three non-empty parts separated by dots".into(),
        )),
    }
}

/// The protected header of a token, NOT verified: for choosing the key (`kid`) only.
pub fn decode_header_unverified(token: &str) -> Result<Map<String, Value>, JwtError> {
    let (h, _, _) = split(token, DEFAULT_MAX_TOKEN_LEN)?;
    parse_object(h, "header")
}

/// A compact JWS whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The algorithm it was signed with.
    pub algorithm: SigningAlgorithm,
}

/// Verifies a compact JWS signature and returns its header and payload bytes. `allowed`
/// empty allows any algorithm that fits the key.
pub fn verify_jws(
    token: &str,
    key: &PublicKey,
    allowed: &[SigningAlgorithm],
    max_token_len: usize,
) -> Result<VerifiedJws, JwtError> {
    let (h, p, s) = split(token, max_token_len)?;
    let header = parse_object(h, "header")?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| JwtError::Malformed("the header has no alg string".into()))?;
    let algorithm = algorithm_from_jose(alg, key)?;
    if !allowed.is_empty() && !allowed.contains(&algorithm) {
        return Err(JwtError::Algorithm(format!("{alg} is not allowed here")));
    }
    if let Some(crit) = header.get("crit") {
        return Err(JwtError::Critical(crit.to_string()));
    }
    let mut signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError::Malformed("the signature is not base64url".into()))?;
    if let PublicKeyKind::Ec(curve) = key.kind() {
        // JOSE ECDSA is exactly r‖s; DER or any other length is refused.
        if signature.len() != 2 * curve.field_len() {
            return Err(JwtError::BadSignature);
        }
        signature = ecdsa_raw_to_der(&signature, curve).map_err(|_| JwtError::BadSignature)?;
    }
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| JwtError::Malformed("the payload is not base64url".into()))?;
    let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
    match key.verify(Message::Raw(signing_input), &signature, algorithm) {
        Ok(true) => Ok(VerifiedJws {
            header,
            payload,
            algorithm,
        }),
        _ => Err(JwtError::BadSignature),
    }
}

/// Verifies a JWT: signature (with `key`), then the claims as `validation` says.
pub fn verify(
    token: &str,
    key: &PublicKey,
    validation: &Validation,
) -> Result<VerifiedToken, JwtError> {
    let VerifiedJws {
        header,
        payload,
        algorithm,
    } = verify_jws(token, key, &validation.algorithms, validation.max_token_len)?;
    let object: Map<String, Value> = serde_json::from_slice::<StrictObject>(&payload)
        .map(|o| o.0)
        .map_err(|e| JwtError::Malformed(format!("the payload is not a JSON object: {e}")))?;
    // A date claim is a number (RFC 7519 §2): `"exp": null` must not read as "never expires".
    for name in ["exp", "nbf", "iat"] {
        if object.get(name).is_some_and(Value::is_null) {
            return Err(JwtError::Malformed(format!(
                "the {name} claim is null: a NumericDate is a number of seconds"
            )));
        }
    }
    for name in &validation.required {
        if !object.contains_key(name) {
            return Err(JwtError::MissingClaim(name.clone()));
        }
    }
    let claims: Claims = serde_json::from_value(Value::Object(object))
        .map_err(|e| JwtError::Malformed(format!("bad registered claim: {e}")))?;
    check_claims(&claims, validation)?;
    Ok(VerifiedToken {
        header,
        claims,
        algorithm,
    })
}

fn check_claims(claims: &Claims, v: &Validation) -> Result<(), JwtError> {
    let now = unix(v.now.unwrap_or_else(SystemTime::now));
    let leeway = secs(v.leeway);
    if let (true, Some(exp)) = (v.validate_exp, claims.exp)
        && now.saturating_sub(leeway) >= exp
    {
        return Err(JwtError::Expired(exp));
    }
    if let (true, Some(nbf)) = (v.validate_nbf, claims.nbf)
        && now.saturating_add(leeway) < nbf
    {
        return Err(JwtError::NotYetValid(nbf));
    }
    if let Some(iat) = claims.iat
        && now.saturating_add(leeway) < iat
    {
        return Err(JwtError::IssuedInFuture(iat));
    }
    if !v.issuers.is_empty() {
        match &claims.iss {
            Some(iss) if v.issuers.iter().any(|i| i == iss) => {}
            _ => return Err(JwtError::Issuer),
        }
    }
    match (&claims.aud, v.audiences.is_empty()) {
        (None, true) => {}
        (Some(aud), false) if v.audiences.iter().any(|a| aud.contains(a)) => {}
        _ => return Err(JwtError::Audience),
    }
    if let Some(sub) = &v.subject
        && claims.sub.as_ref() != Some(sub)
    {
        return Err(JwtError::Subject);
    }
    Ok(())
}

/// Verifies a JWT against a JWK Set: the key is the one whose `kid` the header names (or the
/// only key, when the token has no `kid` and the set has one key); a JWK's `alg`, when
/// present, must be the token's.
pub fn verify_with_jwks(
    token: &str,
    jwks: &Value,
    validation: &Validation,
) -> Result<VerifiedToken, JwtError> {
    if token.len() > validation.max_token_len {
        return Err(JwtError::TooLong {
            len: token.len(),
            max: validation.max_token_len,
        });
    }
    let header = decode_header_unverified(token)?;
    let kid = header.get("kid").and_then(Value::as_str);
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| JwtError::Malformed("the key set has no keys array".into()))?;
    let jwk = match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
    .ok_or_else(|| JwtError::UnknownKey(kid.map(str::to_string)))?;
    let key = public_key_from_jwk(jwk).map_err(|e| JwtError::Malformed(e.to_string()))?;
    let mut validation = validation.clone();
    if let Some(alg) = jwk.get("alg").and_then(Value::as_str) {
        let pinned = algorithm_from_jose(alg, &key)?;
        if !validation.algorithms.is_empty() && !validation.algorithms.contains(&pinned) {
            return Err(JwtError::Algorithm(format!("{alg} is not allowed here")));
        }
        validation.algorithms = vec![pinned];
        let token_alg = header.get("alg").and_then(Value::as_str);
        if token_alg != Some(alg) {
            return Err(JwtError::Algorithm(
                "the token's alg is not the key's".into(),
            ));
        }
    }
    verify(token, &key, &validation)
}
