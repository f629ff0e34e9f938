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

mod claims;
mod jwk;
mod numbers;
mod signer;
mod verify;

pub use self::claims::{Audience, Claims};
pub use self::jwk::{
    algorithm_from_jose, jose_algorithm, jwk, jwk_for_key, jwks, jwks_for_keys, public_key_from_jwk,
};
pub use self::numbers::{MAX_EXACT_INTEGER, check_exact_numbers};
pub use self::signer::JwtSigner;
pub use self::verify::{
    Validation, VerifiedJws, VerifiedToken, decode_header_unverified, verify, verify_jws,
    verify_with_jwks,
};

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
