//! Compact JWS and JWT (RFC 7515 / RFC 7519) signed by backend keys, verified locally with the
//! public key; JWK / JWKS export and import (RFC 7517) for publishing keys and rotating them.
//!
//! Algorithms: `ES256`, `ES384`, `ES512`, `ES256K` (secp256k1, RFC 8812), `RS256/384/512`,
//! `PS256/384/512`, `EdDSA` (Ed25519, RFC 8037). ECDSA signatures are the fixed-width raw
//! `r‖s` JOSE requires, not the DER the backends (and KMS) return: signing converts, and
//! verification refuses anything but exactly `2 × field size` bytes.
//!
//! ```
//! # async fn demo() -> keychain::Result<()> {
//! use std::time::Duration;
//! use keychain::jwt::{Claims, JwtSigner, Validation};
//! # unsafe { std::env::set_var("KEYCHAIN_KDF_ITERATIONS", "2048"); }
//! # unsafe { std::env::set_var("KEYCHAIN_PASSWORD", "correct horse battery staple"); }
//! # let dir = tempfile::tempdir().map_err(|e| keychain::Error::io("tempdir", e))?;
//! # let kc = keychain::Keychain::open(&format!("software:{}", dir.path().display())).await?;
//! kc.generate_key("jwt-key", &keychain::KeyParams::ecdsa(keychain::Curve::P256)).await?;
//! let signer = JwtSigner::from_key(&kc, "jwt-key", None).await?;
//! let claims = Claims::new().issuer("https://issuer.example").subject("user-42")
//!     .audience("api").expires_in(Duration::from_secs(3600));
//! let token = signer.sign(&claims).await?;
//!
//! let mut validation = Validation::new();
//! validation.issuers = vec!["https://issuer.example".into()];
//! validation.audiences = vec!["api".into()];
//! let verified = keychain::jwt::verify(&token, signer.public_key(), &validation)?;
//! assert_eq!(verified.claims.sub.as_deref(), Some("user-42"));
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use der::Encode;
use der::asn1::{BitString, ObjectIdentifier, UintRef};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::algorithm::{Message, SigningAlgorithm};
use crate::handle::Keychain;
use crate::key::Curve;
use crate::public_key::{PublicKey, PublicKeyKind};
use crate::signature::{ecdsa_der_to_raw, ecdsa_raw_to_der};
use crate::signer::KeySigner;

mod numbers;
pub use self::numbers::{MAX_EXACT_INTEGER, check_exact_numbers};

/// Tokens longer than this are refused before any parsing (see [`Validation::max_token_len`]).
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token was refused. Messages never contain the token or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not a well-formed compact JWS/JWT (parts, base64url, JSON).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Longer than [`Validation::max_token_len`].
    #[error("token is {len} bytes, more than the {max} allowed")]
    TooLong {
        /// The token's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `alg` is `none`, HMAC, unknown, not allowed by the validation, or does not fit the key.
    #[error("algorithm refused: {0}")]
    Algorithm(String),
    /// The header names critical extensions (`crit`); none are supported.
    #[error("unsupported critical header parameters: {0}")]
    Critical(String),
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("token expired at {0} (Unix time)")]
    Expired(i64),
    /// `nbf` is still in the future (beyond the leeway).
    #[error("token not valid before {0} (Unix time)")]
    NotYetValid(i64),
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued in the future, at {0} (Unix time)")]
    IssuedInFuture(i64),
    /// `iss` is missing or not one of the expected issuers.
    #[error("unexpected issuer")]
    Issuer,
    /// `aud` is missing, not one of the expected audiences, or present when none is expected.
    #[error("unexpected audience")]
    Audience,
    /// `sub` is missing or not the expected subject.
    #[error("unexpected subject")]
    Subject,
    /// A required claim is absent.
    #[error("missing required claim {0}")]
    MissingClaim(String),
    /// A JWKS has no key with the token's `kid` (or the token has no `kid` and the set has
    /// several keys).
    #[error("no key for kid {0:?} in the key set")]
    UnknownKey(Option<String>),
}

impl From<JwtError> for crate::Error {
    fn from(e: JwtError) -> Self {
        match e {
            JwtError::BadSignature => crate::Error::crypto("JWT signature does not verify"),
            other => crate::Error::invalid_input(format!("JWT refused: {other}")),
        }
    }
}

/// The JOSE `alg` for `algorithm` with `key`: `ES256K` rather than `ES256` for secp256k1.
pub fn jose_algorithm(key: &PublicKey, algorithm: SigningAlgorithm) -> crate::Result<&'static str> {
    if !key.supports(algorithm) {
        return Err(crate::Error::invalid_input(format!(
            "{algorithm} does not fit a {:?} key",
            key.kind()
        )));
    }
    match (key.kind(), algorithm) {
        (PublicKeyKind::Ec(Curve::Secp256k1), SigningAlgorithm::EcdsaSha256) => Ok("ES256K"),
        (_, SigningAlgorithm::MlDsaShake256) => Err(crate::Error::invalid_input(
            "ML-DSA has no registered JOSE algorithm name (its JOSE use is still an IETF \
             draft); keychain does not make ML-DSA JWTs",
        )),
        (_, a) => a
            .jose_name()
            .ok_or_else(|| crate::Error::invalid_input(format!("{a} has no JOSE algorithm name"))),
    }
}

/// The signing algorithm a JOSE `alg` names, if it fits `key` (`ES256` needs a P-256 key,
/// `ES256K` a secp256k1 key, `RS*`/`PS*` an RSA key, `EdDSA` an Ed25519 key).
pub fn algorithm_from_jose(alg: &str, key: &PublicKey) -> Result<SigningAlgorithm, JwtError> {
    use SigningAlgorithm::*;
    let algorithm = match alg {
        "RS256" => RsassaPkcs1V15Sha256,
        "RS384" => RsassaPkcs1V15Sha384,
        "RS512" => RsassaPkcs1V15Sha512,
        "PS256" => RsassaPssSha256,
        "PS384" => RsassaPssSha384,
        "PS512" => RsassaPssSha512,
        "ES256" | "ES256K" => EcdsaSha256,
        "ES384" => EcdsaSha384,
        "ES512" => EcdsaSha512,
        "EdDSA" => Ed25519Sha512,
        a if a.eq_ignore_ascii_case("none") => {
            return Err(JwtError::Algorithm("unsecured tokens (alg none)".into()));
        }
        a if a.starts_with("HS") => {
            return Err(JwtError::Algorithm(
                "HMAC tokens cannot be verified with a public key".into(),
            ));
        }
        _ => return Err(JwtError::Algorithm("unknown alg".into())),
    };
    match jose_algorithm(key, algorithm) {
        Ok(name) if name == alg => Ok(algorithm),
        _ => Err(JwtError::Algorithm(format!(
            "{alg} does not fit the verification key"
        ))),
    }
}

/// The JWK of a public key for `algorithm`: the key members plus `kid` (the RFC 7638
/// thumbprint), `alg` and `use: sig`.
pub fn jwk(key: &PublicKey, algorithm: SigningAlgorithm) -> crate::Result<Value> {
    let alg = jose_algorithm(key, algorithm)?;
    let mut jwk = key.to_jwk();
    if let Value::Object(m) = &mut jwk {
        m.insert("kid".into(), Value::String(key.jwk_thumbprint()));
        m.insert("alg".into(), Value::String(alg.into()));
        m.insert("use".into(), Value::String("sig".into()));
    }
    Ok(jwk)
}

/// A JWK Set `{"keys": [...]}` of several keys (current and previous ones, for rotation).
pub fn jwks(keys: &[(PublicKey, SigningAlgorithm)]) -> crate::Result<Value> {
    let keys = keys
        .iter()
        .map(|(k, a)| jwk(k, *a))
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(serde_json::json!({ "keys": keys }))
}

/// The JWK Set of backend keys, each with its default signing algorithm (or the one given).
/// Only public keys are read, so a key that no longer signs (disabled after a rotation) is
/// still published for the tokens it signed — where the backend hands out public keys of
/// disabled keys: the software backend does; AWS KMS refuses `GetPublicKey` on a disabled
/// key, so there build the set before disabling (or from the keychain's cached keys).
pub async fn jwks_for_keys(
    keychain: &Keychain,
    keys: &[&str],
    algorithm: Option<SigningAlgorithm>,
) -> crate::Result<Value> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let algorithm = match algorithm {
            Some(a) => a,
            None => keychain.default_signing_algorithm(key).await?,
        };
        out.push((keychain.public_key(key).await?, algorithm));
    }
    jwks(&out)
}

fn b64_field(jwk: &Map<String, Value>, name: &str) -> crate::Result<Vec<u8>> {
    let s = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| crate::Error::invalid_input(format!("JWK has no {name:?} string")))?;
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| crate::Error::invalid_input(format!("JWK member {name:?} is not base64url")))
}

/// Parses a public JWK (RSA, EC P-256/P-384/P-521/secp256k1, OKP Ed25519) into a
/// [`PublicKey`]. Private members (`d`, `p`, …) are refused: a public key set never has them.
pub fn public_key_from_jwk(jwk: &Value) -> crate::Result<PublicKey> {
    let bad = |m: &str| crate::Error::invalid_input(format!("invalid JWK: {m}"));
    let jwk = jwk.as_object().ok_or_else(|| bad("not a JSON object"))?;
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|m| jwk.contains_key(*m))
    {
        return Err(bad("it holds private key material"));
    }
    let oid = |s: &str| ObjectIdentifier::new(s).map_err(|e| bad(&e.to_string()));
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or_default();
    let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or_default();
    let (algorithm, key_bits) = match kty {
        "RSA" => {
            #[derive(der::Sequence)]
            struct RsaPub<'a> {
                n: UintRef<'a>,
                e: UintRef<'a>,
            }
            let n = b64_field(jwk, "n")?;
            let e = b64_field(jwk, "e")?;
            let key = RsaPub {
                n: UintRef::new(&n).map_err(|e| bad(&e.to_string()))?,
                e: UintRef::new(&e).map_err(|e| bad(&e.to_string()))?,
            };
            let null =
                der::asn1::Any::encode_from(&der::asn1::Null).map_err(|e| bad(&e.to_string()))?;
            (
                AlgorithmIdentifierOwned {
                    oid: oid("1.2.840.113549.1.1.1")?,
                    parameters: Some(null),
                },
                key.to_der().map_err(|e| bad(&e.to_string()))?,
            )
        }
        "EC" => {
            let (curve, curve_oid) = match crv {
                "P-256" => (Curve::P256, "1.2.840.10045.3.1.7"),
                "P-384" => (Curve::P384, "1.3.132.0.34"),
                "P-521" => (Curve::P521, "1.3.132.0.35"),
                "secp256k1" => (Curve::Secp256k1, "1.3.132.0.10"),
                _ => return Err(bad("unsupported EC curve")),
            };
            let x = b64_field(jwk, "x")?;
            let y = b64_field(jwk, "y")?;
            if x.len() != curve.field_len() || y.len() != curve.field_len() {
                return Err(bad("EC coordinates have the wrong length for the curve"));
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let params =
                der::asn1::Any::encode_from(&oid(curve_oid)?).map_err(|e| bad(&e.to_string()))?;
            (
                AlgorithmIdentifierOwned {
                    oid: oid("1.2.840.10045.2.1")?,
                    parameters: Some(params),
                },
                point,
            )
        }
        "OKP" if crv == "Ed25519" => (
            AlgorithmIdentifierOwned {
                oid: oid("1.3.101.112")?,
                parameters: None,
            },
            b64_field(jwk, "x")?,
        ),
        _ => return Err(bad("unsupported key type")),
    };
    let spki = SubjectPublicKeyInfoOwned {
        algorithm,
        subject_public_key: BitString::from_bytes(&key_bits).map_err(|e| bad(&e.to_string()))?,
    };
    PublicKey::from_der(&spki.to_der().map_err(|e| bad(&e.to_string()))?)
}

/// The `aud` claim: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `name` is one of the audiences.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Audience::One(a) => a == name,
            Audience::Many(v) => v.iter().any(|a| a == name),
        }
    }
}

mod numeric_date {
    //! NumericDate: seconds since the epoch, an integer or a finite fraction (RFC 7519 allows
    //! fractions). A fraction is rounded toward the stricter side, never the laxer: `exp`
    //! down (the token expires no later than it says), `nbf` and `iat` up (it is not valid
    //! earlier than it says).
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => s.serialize_i64(*n),
            None => s.serialize_none(),
        }
    }

    fn read<'de, D: Deserializer<'de>>(
        d: D,
        round: fn(f64) -> f64,
    ) -> Result<Option<i64>, D::Error> {
        let v = Option::<serde_json::Number>::deserialize(d)?;
        let Some(n) = v else { return Ok(None) };
        if let Some(i) = n.as_i64() {
            return Ok(Some(i));
        }
        match n.as_f64() {
            Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(round(f) as i64)),
            _ => Err(serde::de::Error::custom(
                "a NumericDate must be a number of seconds",
            )),
        }
    }

    /// For `exp`: a fraction rounds down.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        read(d, f64::floor)
    }

    /// `nbf` and `iat`: a fraction rounds up.
    pub mod up {
        use serde::Deserializer;

        pub use super::serialize;

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            super::read(d, f64::ceil)
        }
    }
}

/// JWT claims: the registered ones (RFC 7519 §4.1) and any others in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub iss: Option<String>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sub: Option<String>,
    /// Audience(s).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aud: Option<Audience>,
    /// Expiry, Unix seconds.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "numeric_date"
    )]
    pub exp: Option<i64>,
    /// Not before, Unix seconds.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "numeric_date::up"
    )]
    pub nbf: Option<i64>,
    /// Issued at, Unix seconds.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "numeric_date::up"
    )]
    pub iat: Option<i64>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jti: Option<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Claims {
    /// Empty claims.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `iss`.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// Sets `sub`.
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// Sets `aud` to one audience.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.aud = Some(Audience::One(aud.into()));
        self
    }

    /// Sets `aud` to several audiences.
    pub fn audiences(mut self, aud: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.aud = Some(Audience::Many(aud.into_iter().map(Into::into).collect()));
        self
    }

    /// Sets `iat` to now and `exp` to now + `ttl`. A `ttl` beyond what the clock can hold
    /// sets `exp` to `i64::MAX`, which [`JwtSigner::sign`] refuses (never a panic, never a
    /// silently shortened lifetime).
    pub fn expires_in(self, ttl: Duration) -> Self {
        let now = SystemTime::now();
        let claims = self.issued_at(now);
        match now.checked_add(ttl) {
            Some(exp) => claims.expires_at(exp),
            None => Claims {
                exp: Some(i64::MAX),
                ..claims
            },
        }
    }

    /// Sets `exp`.
    pub fn expires_at(mut self, t: SystemTime) -> Self {
        self.exp = Some(unix(t));
        self
    }

    /// Sets `nbf`.
    pub fn not_before(mut self, t: SystemTime) -> Self {
        self.nbf = Some(unix(t));
        self
    }

    /// Sets `iat`.
    pub fn issued_at(mut self, t: SystemTime) -> Self {
        self.iat = Some(unix(t));
        self
    }

    /// Sets `jti`.
    pub fn jwt_id(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// Sets `jti` to a random UUID.
    pub fn random_jwt_id(self) -> Self {
        self.jwt_id(uuid::Uuid::new_v4().to_string())
    }

    /// Sets any other claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}

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
struct StrictObject(Map<String, Value>);

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

/// Signs JWTs (and other compact JWS) with a backend key. The header carries `alg`,
/// `typ: JWT` and `kid` (the key's RFC 7638 JWK thumbprint, unless set otherwise).
#[derive(Debug, Clone)]
pub struct JwtSigner {
    signer: KeySigner,
    alg: &'static str,
    kid: String,
}

impl JwtSigner {
    /// Wraps a [`KeySigner`]; its algorithm must have a JOSE name (not Ed25519ph).
    pub fn new(signer: KeySigner) -> crate::Result<Self> {
        let alg = jose_algorithm(signer.public_key(), signer.algorithm())?;
        let kid = signer.public_key().jwk_thumbprint();
        Ok(JwtSigner { signer, alg, kid })
    }

    /// A signer for a backend key with `algorithm` or the key's default.
    pub async fn from_key(
        keychain: &Keychain,
        key: &str,
        algorithm: Option<SigningAlgorithm>,
    ) -> crate::Result<Self> {
        Self::new(KeySigner::new(keychain, key, algorithm).await?)
    }

    /// Uses another `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// The `kid` in the headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JOSE `alg`.
    pub fn alg(&self) -> &'static str {
        self.alg
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        self.signer.public_key()
    }

    /// The key signer inside.
    pub fn key_signer(&self) -> &KeySigner {
        &self.signer
    }

    /// The JWK to publish (with this signer's `kid`, `alg`, `use: sig`).
    pub fn jwk(&self) -> crate::Result<Value> {
        let mut jwk = jwk(self.signer.public_key(), self.signer.algorithm())?;
        jwk["kid"] = Value::String(self.kid.clone());
        Ok(jwk)
    }

    /// Signs `payload` as a compact JWS. `header` members are added to `alg`, `typ` and
    /// `kid` (and may override `typ` and `kid`, not `alg`).
    pub async fn sign_jws(
        &self,
        header: Option<&Map<String, Value>>,
        payload: &[u8],
    ) -> crate::Result<String> {
        let mut h = Map::new();
        h.insert("typ".into(), Value::String("JWT".into()));
        h.insert("kid".into(), Value::String(self.kid.clone()));
        if let Some(extra) = header {
            for (k, v) in extra {
                h.insert(k.clone(), v.clone());
            }
        }
        h.insert("alg".into(), Value::String(self.alg.into()));
        let header_json = serde_json::to_vec(&h)
            .map_err(|e| crate::Error::invalid_input(format!("JWS header: {e}")))?;
        let mut token = URL_SAFE_NO_PAD.encode(header_json);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let signature = self.signer.sign(token.as_bytes()).await?.into_bytes();
        let signature = match self.signer.curve() {
            Some(curve) => ecdsa_der_to_raw(&signature, curve)?,
            None => signature,
        };
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }

    /// Signs claims (any serializable JSON object, usually [`Claims`]) as a JWT. A number
    /// that JSON readers would round (beyond 2^53 − 1, see [`check_exact_numbers`]) is
    /// refused with [`crate::Error::InvalidInput`].
    pub async fn sign<C: Serialize + ?Sized>(&self, claims: &C) -> crate::Result<String> {
        let value = serde_json::to_value(claims)
            .map_err(|e| crate::Error::invalid_input(format!("JWT claims: {e}")))?;
        if !value.is_object() {
            return Err(crate::Error::invalid_input(
                "JWT claims must be a JSON object",
            ));
        }
        check_exact_numbers(&value, "claims")?;
        let payload = serde_json::to_vec(&value)
            .map_err(|e| crate::Error::invalid_input(format!("JWT claims: {e}")))?;
        self.sign_jws(None, &payload).await
    }
}
