//! JWK and JWK Sets (RFC 7517): the JOSE `alg` names of keychain's signing algorithms, a
//! public key as a JWK (with its RFC 7638 thumbprint as `kid`) and back, and the key set a
//! service publishes for its current and previous keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use der::Encode;
use der::asn1::{BitString, ObjectIdentifier, UintRef};
use serde_json::{Map, Value};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::JwtError;
use crate::algorithm::SigningAlgorithm;
use crate::handle::Keychain;
use crate::key::{Curve, KeyFamily, KeyInfo, KeyUsage};
use crate::public_key::{PublicKey, PublicKeyKind};

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

/// The JWK of a backend key as `keychain pubkey --format jwk` prints it: the key members,
/// `kid` (the RFC 7638 thumbprint), `use` from the key's usage (`sig`, or `enc` for
/// encryption and key agreement; none for MAC keys, which have no public key anyway) and,
/// only where a signing key has exactly one JOSE algorithm, `alg` (ECDSA keys have one hash
/// per curve, Ed25519 is EdDSA; RSA keys have several, RS* and PS*, so none is claimed).
pub fn jwk_for_key(info: &KeyInfo, key: &PublicKey) -> Value {
    let mut jwk = key.to_jwk();
    if let Value::Object(m) = &mut jwk {
        m.insert("kid".into(), Value::String(key.jwk_thumbprint()));
        let use_ = match info.usage {
            KeyUsage::SignVerify => Some("sig"),
            KeyUsage::EncryptDecrypt
            | KeyUsage::KeyAgreement
            | KeyUsage::EncapsulateDecapsulate => Some("enc"),
            KeyUsage::GenerateVerifyMac => None,
        };
        if let Some(u) = use_ {
            m.insert("use".into(), Value::String(u.into()));
        }
        let alg = match (info.usage, info.spec.family()) {
            (KeyUsage::SignVerify, KeyFamily::Ec(Curve::P256)) => Some("ES256"),
            (KeyUsage::SignVerify, KeyFamily::Ec(Curve::P384)) => Some("ES384"),
            (KeyUsage::SignVerify, KeyFamily::Ec(Curve::P521)) => Some("ES512"),
            (KeyUsage::SignVerify, KeyFamily::Ec(Curve::Secp256k1)) => Some("ES256K"),
            (KeyUsage::SignVerify, KeyFamily::Ed25519) => Some("EdDSA"),
            _ => None,
        };
        if let Some(alg) = alg {
            m.insert("alg".into(), Value::String(alg.into()));
        }
    }
    jwk
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
