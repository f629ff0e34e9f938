//! Signing JWTs and compact JWS with a backend key: the header (`alg`, `typ`, `kid`), the
//! DER-to-raw conversion of ECDSA signatures JOSE requires, and claims checked for numbers
//! JSON readers would round.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

use super::jwk::{jose_algorithm, jwk};
use super::numbers::check_exact_numbers;
use crate::algorithm::SigningAlgorithm;
use crate::handle::Keychain;
use crate::public_key::PublicKey;
use crate::signature::ecdsa_der_to_raw;
use crate::signer::KeySigner;

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

    /// Signs claims (any serializable JSON object, usually [`super::Claims`]) as a JWT. A number
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
