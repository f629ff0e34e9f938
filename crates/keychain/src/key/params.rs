//! Asking for a key: [`KeyParams`] (an algorithm family and a size or curve) and the exact
//! [`CreateKeyRequest`] a backend takes, validated before anything is created.

use std::collections::BTreeMap;

use super::info::KeyOrigin;
use super::spec::{Curve, KeySpec, KeyUsage};
use super::validation::{check_tag_count, validate_description, validate_tag};
use crate::{Error, Result};

/// The type of key [`KeyParams`] asks for — RSA, ECDSA, Ed25519, AES or HMAC — before its
/// size or curve picks the exact [`KeySpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    /// RSA; `key_size` picks 2048, 3072 or 4096 bits.
    #[default]
    Rsa,
    /// ECDSA; `curve` picks the curve.
    Ecdsa,
    /// Ed25519.
    Ed25519,
    /// A symmetric AES-256 key.
    Symmetric,
    /// An HMAC key; `key_size` picks 224, 256, 384 or 512 bits.
    Hmac,
}

/// Parameters for [`crate::Keychain::generate_key`]: a key type with a size or curve
/// (`KeyParams { algorithm, key_size, curve }`), plus what KMS lets one set at creation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyParams {
    /// The type of key.
    pub algorithm: KeyType,
    /// RSA modulus bits (default 2048) or HMAC bits (default 256).
    pub key_size: Option<u32>,
    /// The EC curve (default P-256).
    pub curve: Option<Curve>,
    /// The usage (default: the spec's first usage, usually SIGN_VERIFY).
    pub usage: Option<KeyUsage>,
    /// A description.
    pub description: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Create a multi-region key (AWS KMS).
    pub multi_region: bool,
}

impl KeyParams {
    /// RSA with the given modulus size.
    pub fn rsa(bits: u32) -> Self {
        KeyParams {
            algorithm: KeyType::Rsa,
            key_size: Some(bits),
            ..Default::default()
        }
    }

    /// ECDSA on the given curve.
    pub fn ecdsa(curve: Curve) -> Self {
        KeyParams {
            algorithm: KeyType::Ecdsa,
            curve: Some(curve),
            ..Default::default()
        }
    }

    /// Ed25519.
    pub fn ed25519() -> Self {
        KeyParams {
            algorithm: KeyType::Ed25519,
            ..Default::default()
        }
    }

    /// A symmetric AES-256 key.
    pub fn symmetric() -> Self {
        KeyParams {
            algorithm: KeyType::Symmetric,
            ..Default::default()
        }
    }

    /// An HMAC key of the given size in bits.
    pub fn hmac(bits: u32) -> Self {
        KeyParams {
            algorithm: KeyType::Hmac,
            key_size: Some(bits),
            ..Default::default()
        }
    }

    /// Sets the usage.
    pub fn with_usage(mut self, usage: KeyUsage) -> Self {
        self.usage = Some(usage);
        self
    }

    /// The key spec these parameters ask for; a size or curve the algorithm does not have is
    /// an error, never silently replaced.
    pub fn key_spec(&self) -> Result<KeySpec> {
        match self.algorithm {
            KeyType::Rsa => match self.key_size.unwrap_or(2048) {
                2048 => Ok(KeySpec::Rsa2048),
                3072 => Ok(KeySpec::Rsa3072),
                4096 => Ok(KeySpec::Rsa4096),
                n => Err(Error::invalid_input(format!(
                    "RSA key size {n} is not supported; use 2048, 3072 or 4096"
                ))),
            },
            KeyType::Ecdsa => {
                if let Some(n) = self.key_size {
                    return Err(Error::invalid_input(format!(
                        "ECDSA keys take a curve, not a key size ({n})"
                    )));
                }
                match self.curve.unwrap_or(Curve::P256) {
                    Curve::Ed25519 => Err(Error::invalid_input(
                        "Ed25519 is not an ECDSA curve; use KeyType::Ed25519",
                    )),
                    c => Ok(c.key_spec()),
                }
            }
            KeyType::Ed25519 => Ok(KeySpec::EccNistEdwards25519),
            KeyType::Symmetric => match self.key_size {
                None | Some(256) => Ok(KeySpec::SymmetricDefault),
                Some(n) => Err(Error::invalid_input(format!(
                    "symmetric keys are AES-256; key size {n} is not supported"
                ))),
            },
            KeyType::Hmac => match self.key_size.unwrap_or(256) {
                224 => Ok(KeySpec::Hmac224),
                256 => Ok(KeySpec::Hmac256),
                384 => Ok(KeySpec::Hmac384),
                512 => Ok(KeySpec::Hmac512),
                n => Err(Error::invalid_input(format!(
                    "HMAC key size {n} is not supported; use 224, 256, 384 or 512"
                ))),
            },
        }
    }
}

/// A request to create a key: what [`crate::Backend::create_key`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateKeyRequest {
    /// The name; the key gets the alias `alias/NAME`. `None` creates an unnamed key.
    pub name: Option<String>,
    /// The key spec.
    pub spec: KeySpec,
    /// The usage.
    pub usage: KeyUsage,
    /// A description.
    pub description: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Multi-region key (AWS KMS).
    pub multi_region: bool,
    /// Where the material will come from (`External` creates a key awaiting import).
    pub origin: KeyOrigin,
}

impl CreateKeyRequest {
    /// A request for a key of `spec` with its default usage.
    pub fn new(spec: KeySpec) -> Self {
        CreateKeyRequest {
            name: None,
            spec,
            usage: spec.default_usage(),
            description: String::new(),
            tags: BTreeMap::new(),
            multi_region: false,
            origin: KeyOrigin::Generated,
        }
    }

    /// Names the key (`alias/NAME`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the usage.
    pub fn usage(mut self, usage: KeyUsage) -> Self {
        self.usage = usage;
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Builds a request from [`KeyParams`].
    pub fn from_params(name: &str, params: &KeyParams) -> Result<Self> {
        let spec = params.key_spec()?;
        let usage = params.usage.unwrap_or_else(|| spec.default_usage());
        Ok(CreateKeyRequest {
            name: Some(name.to_string()),
            spec,
            usage,
            description: params.description.clone().unwrap_or_default(),
            tags: params.tags.clone(),
            multi_region: params.multi_region,
            origin: KeyOrigin::Generated,
        })
    }

    /// Validates the request: the usage must suit the spec and the name must be a valid new
    /// key name ([`crate::validate_key_name`]).
    pub fn validate(&self) -> Result<()> {
        self.spec.check_usage(self.usage)?;
        if let Some(name) = &self.name {
            crate::key_ref::validate_key_name(name)?;
        }
        for (k, v) in &self.tags {
            validate_tag(k, v)?;
        }
        check_tag_count(self.tags.len())?;
        validate_description(&self.description)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_keep_the_kms_limits_on_tags_and_descriptions() {
        let tags = |n: usize| (0..n).map(|i| (format!("t{i}"), String::new())).collect();
        let mut request = CreateKeyRequest::new(KeySpec::EccNistP256);
        request.tags = tags(50);
        request.description = "d".repeat(8192);
        assert!(request.validate().is_ok());
        request.tags = tags(51);
        assert!(matches!(
            request.validate(),
            Err(Error::InvalidInput { .. })
        ));
        request.tags = tags(1);
        request.description = "d".repeat(8193);
        assert!(matches!(
            request.validate(),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn params_map_to_exact_specs() {
        assert_eq!(KeyParams::rsa(3072).key_spec().ok(), Some(KeySpec::Rsa3072));
        assert!(KeyParams::rsa(1024).key_spec().is_err());
        assert_eq!(
            KeyParams::ecdsa(Curve::P521).key_spec().ok(),
            Some(KeySpec::EccNistP521)
        );
        assert_eq!(KeyParams::hmac(384).key_spec().ok(), Some(KeySpec::Hmac384));
    }
}
