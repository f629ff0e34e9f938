//! Key specs, usages, states and metadata, and the one table of which algorithm each spec
//! allows.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::algorithm::{EncryptionAlgorithm, Hash, MacAlgorithm, SigningAlgorithm};
use crate::macros::kms_enum;
use crate::{Error, Result};

kms_enum! {
    /// The type of key, in the AWS KMS vocabulary. Friendly spellings (`rsa-2048`, `p256`,
    /// `ed25519`, `aes-256`, `hmac-256`…) are accepted when parsing.
    pub enum KeySpec {
        /// RSA, 2048-bit modulus.
        Rsa2048 => "RSA_2048" | "RSA2048",
        /// RSA, 3072-bit modulus.
        Rsa3072 => "RSA_3072" | "RSA3072",
        /// RSA, 4096-bit modulus.
        Rsa4096 => "RSA_4096" | "RSA4096",
        /// NIST P-256 (secp256r1).
        EccNistP256 => "ECC_NIST_P256" | "P256" | "P_256" | "SECP256R1" | "PRIME256V1" | "EC_P256",
        /// NIST P-384 (secp384r1).
        EccNistP384 => "ECC_NIST_P384" | "P384" | "P_384" | "SECP384R1" | "EC_P384",
        /// NIST P-521 (secp521r1).
        EccNistP521 => "ECC_NIST_P521" | "P521" | "P_521" | "SECP521R1" | "EC_P521",
        /// secp256k1 (the Bitcoin / Ethereum curve).
        EccSecgP256k1 => "ECC_SECG_P256K1" | "SECP256K1" | "P256K1" | "K256",
        /// Ed25519.
        EccNistEdwards25519 => "ECC_NIST_EDWARDS25519" | "ED25519",
        /// ML-DSA-44 (FIPS 204, NIST security category 2).
        MlDsa44 => "ML_DSA_44" | "MLDSA44",
        /// ML-DSA-65 (FIPS 204, NIST security category 3).
        MlDsa65 => "ML_DSA_65" | "MLDSA65",
        /// ML-DSA-87 (FIPS 204, NIST security category 5).
        MlDsa87 => "ML_DSA_87" | "MLDSA87",
        /// A 256-bit AES key for authenticated encryption.
        SymmetricDefault => "SYMMETRIC_DEFAULT" | "AES_256" | "AES256" | "AES" | "SYMMETRIC",
        /// A 224-bit HMAC key.
        Hmac224 => "HMAC_224" | "HMAC224",
        /// A 256-bit HMAC key.
        Hmac256 => "HMAC_256" | "HMAC256" | "HMAC",
        /// A 384-bit HMAC key.
        Hmac384 => "HMAC_384" | "HMAC384",
        /// A 512-bit HMAC key.
        Hmac512 => "HMAC_512" | "HMAC512",
    }
}

/// The broad family of a [`KeySpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// RSA of the given modulus size in bits.
    Rsa(u32),
    /// An elliptic curve for ECDSA / ECDH.
    Ec(Curve),
    /// Ed25519.
    Ed25519,
    /// ML-DSA (FIPS 204) with the given parameter set: 44, 65 or 87.
    MlDsa(u16),
    /// AES-256.
    Symmetric,
    /// HMAC with the given hash.
    Hmac(MacAlgorithm),
}

kms_enum! {
    /// An elliptic curve (the seed's `Curve`).
    pub enum Curve {
        /// NIST P-256.
        P256 => "P256" | "P-256" | "SECP256R1" | "PRIME256V1",
        /// NIST P-384.
        P384 => "P384" | "P-384" | "SECP384R1",
        /// NIST P-521.
        P521 => "P521" | "P-521" | "SECP521R1",
        /// secp256k1.
        Secp256k1 => "SECP256K1" | "P256K1" | "K256",
        /// Edwards 25519.
        Ed25519 => "ED25519",
    }
}

impl Curve {
    /// Size of a field element (and of `r` and `s` in a raw ECDSA signature), in bytes.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 | Curve::Ed25519 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The JOSE `crv` name.
    pub fn jose_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "secp256k1",
            Curve::Ed25519 => "Ed25519",
        }
    }

    /// The key spec for this curve.
    pub fn key_spec(self) -> KeySpec {
        match self {
            Curve::P256 => KeySpec::EccNistP256,
            Curve::P384 => KeySpec::EccNistP384,
            Curve::P521 => KeySpec::EccNistP521,
            Curve::Secp256k1 => KeySpec::EccSecgP256k1,
            Curve::Ed25519 => KeySpec::EccNistEdwards25519,
        }
    }
}

impl KeySpec {
    /// The family and size of the key.
    pub fn family(self) -> KeyFamily {
        match self {
            KeySpec::Rsa2048 => KeyFamily::Rsa(2048),
            KeySpec::Rsa3072 => KeyFamily::Rsa(3072),
            KeySpec::Rsa4096 => KeyFamily::Rsa(4096),
            KeySpec::EccNistP256 => KeyFamily::Ec(Curve::P256),
            KeySpec::EccNistP384 => KeyFamily::Ec(Curve::P384),
            KeySpec::EccNistP521 => KeyFamily::Ec(Curve::P521),
            KeySpec::EccSecgP256k1 => KeyFamily::Ec(Curve::Secp256k1),
            KeySpec::EccNistEdwards25519 => KeyFamily::Ed25519,
            KeySpec::MlDsa44 => KeyFamily::MlDsa(44),
            KeySpec::MlDsa65 => KeyFamily::MlDsa(65),
            KeySpec::MlDsa87 => KeyFamily::MlDsa(87),
            KeySpec::SymmetricDefault => KeyFamily::Symmetric,
            KeySpec::Hmac224 => KeyFamily::Hmac(MacAlgorithm::HmacSha224),
            KeySpec::Hmac256 => KeyFamily::Hmac(MacAlgorithm::HmacSha256),
            KeySpec::Hmac384 => KeyFamily::Hmac(MacAlgorithm::HmacSha384),
            KeySpec::Hmac512 => KeyFamily::Hmac(MacAlgorithm::HmacSha512),
        }
    }

    /// Whether the key has a public half.
    pub fn is_asymmetric(self) -> bool {
        matches!(
            self.family(),
            KeyFamily::Rsa(_) | KeyFamily::Ec(_) | KeyFamily::Ed25519 | KeyFamily::MlDsa(_)
        )
    }

    /// The usages this spec can be created with (the first is the default).
    pub fn usages(self) -> &'static [KeyUsage] {
        match self.family() {
            KeyFamily::Rsa(_) => &[KeyUsage::SignVerify, KeyUsage::EncryptDecrypt],
            KeyFamily::Ec(Curve::Secp256k1) => &[KeyUsage::SignVerify],
            KeyFamily::Ec(_) => &[KeyUsage::SignVerify, KeyUsage::KeyAgreement],
            KeyFamily::Ed25519 | KeyFamily::MlDsa(_) => &[KeyUsage::SignVerify],
            KeyFamily::Symmetric => &[KeyUsage::EncryptDecrypt],
            KeyFamily::Hmac(_) => &[KeyUsage::GenerateVerifyMac],
        }
    }

    /// The usage a key of this spec gets when none is asked for.
    pub fn default_usage(self) -> KeyUsage {
        self.usages()[0]
    }

    /// Checks that `usage` is allowed for this spec.
    pub fn check_usage(self, usage: KeyUsage) -> Result<()> {
        if self.usages().contains(&usage) {
            Ok(())
        } else {
            Err(Error::invalid_input(format!(
                "key spec {self} cannot have usage {usage}; allowed: {}",
                join(self.usages())
            )))
        }
    }

    /// The signing algorithms a SIGN_VERIFY key of this spec allows (the first is the default).
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        use SigningAlgorithm::*;
        match self.family() {
            KeyFamily::Rsa(_) => &[
                RsassaPkcs1V15Sha256,
                RsassaPkcs1V15Sha384,
                RsassaPkcs1V15Sha512,
                RsassaPssSha256,
                RsassaPssSha384,
                RsassaPssSha512,
            ],
            KeyFamily::Ec(Curve::P256 | Curve::Secp256k1) => &[EcdsaSha256],
            KeyFamily::Ec(Curve::P384) => &[EcdsaSha384],
            KeyFamily::Ec(Curve::P521) => &[EcdsaSha512],
            KeyFamily::Ec(Curve::Ed25519) | KeyFamily::Ed25519 => &[Ed25519Sha512, Ed25519PhSha512],
            KeyFamily::MlDsa(_) => &[MlDsaShake256],
            KeyFamily::Symmetric | KeyFamily::Hmac(_) => &[],
        }
    }

    /// The encryption algorithms an ENCRYPT_DECRYPT key of this spec allows.
    pub fn encryption_algorithms(self) -> &'static [EncryptionAlgorithm] {
        match self.family() {
            KeyFamily::Rsa(_) => &[
                EncryptionAlgorithm::RsaesOaepSha256,
                EncryptionAlgorithm::RsaesOaepSha1,
            ],
            KeyFamily::Symmetric => &[EncryptionAlgorithm::SymmetricDefault],
            _ => &[],
        }
    }

    /// The MAC algorithms a GENERATE_VERIFY_MAC key of this spec allows.
    pub fn mac_algorithms(self) -> &'static [MacAlgorithm] {
        match self.family() {
            KeyFamily::Hmac(MacAlgorithm::HmacSha224) => &[MacAlgorithm::HmacSha224],
            KeyFamily::Hmac(MacAlgorithm::HmacSha256) => &[MacAlgorithm::HmacSha256],
            KeyFamily::Hmac(MacAlgorithm::HmacSha384) => &[MacAlgorithm::HmacSha384],
            KeyFamily::Hmac(MacAlgorithm::HmacSha512) => &[MacAlgorithm::HmacSha512],
            _ => &[],
        }
    }

    /// The algorithm `keychain sign` uses when none is given: PKCS#1 v1.5 SHA-256 for RSA,
    /// the curve's ECDSA hash for EC, pure Ed25519 for Ed25519, ML_DSA_SHAKE_256 for ML-DSA.
    pub fn default_signing_algorithm(self) -> Option<SigningAlgorithm> {
        self.signing_algorithms().first().copied()
    }

    /// The natural algorithm for signing a digest made with `hash` (the seed's
    /// `Sign(ctx, key, digest, crypto.SHA256)`): PKCS#1 v1.5 for RSA, ECDSA for EC keys,
    /// Ed25519ph for Ed25519 with SHA-512.
    pub fn signing_algorithm_for_hash(self, hash: Hash) -> Result<SigningAlgorithm> {
        use SigningAlgorithm::*;
        let alg = match (self.family(), hash) {
            (KeyFamily::Rsa(_), Hash::Sha256) => RsassaPkcs1V15Sha256,
            (KeyFamily::Rsa(_), Hash::Sha384) => RsassaPkcs1V15Sha384,
            (KeyFamily::Rsa(_), Hash::Sha512) => RsassaPkcs1V15Sha512,
            (KeyFamily::Ed25519, Hash::Sha512) => Ed25519PhSha512,
            (KeyFamily::Ec(_), Hash::Sha256) => EcdsaSha256,
            (KeyFamily::Ec(_), Hash::Sha384) => EcdsaSha384,
            (KeyFamily::Ec(_), Hash::Sha512) => EcdsaSha512,
            _ => {
                return Err(Error::invalid_input(format!(
                    "a {self} key cannot sign a {hash} digest; its algorithms are: {}",
                    join(self.signing_algorithms())
                )));
            }
        };
        if self.signing_algorithms().contains(&alg) {
            Ok(alg)
        } else {
            Err(Error::invalid_input(format!(
                "a {self} key cannot sign a {hash} digest; its algorithms are: {}",
                join(self.signing_algorithms())
            )))
        }
    }
}

kms_enum! {
    /// What a key may be used for.
    pub enum KeyUsage {
        /// Sign and verify.
        SignVerify => "SIGN_VERIFY" | "SIGN",
        /// Encrypt and decrypt.
        EncryptDecrypt => "ENCRYPT_DECRYPT" | "ENCRYPT",
        /// Generate and verify MACs.
        GenerateVerifyMac => "GENERATE_VERIFY_MAC" | "MAC",
        /// Derive shared secrets (ECDH).
        KeyAgreement => "KEY_AGREEMENT" | "ECDH",
    }
}

kms_enum! {
    /// The lifecycle state of a key.
    pub enum KeyState {
        /// Usable.
        Enabled => "ENABLED",
        /// Exists but refuses cryptographic operations until enabled.
        Disabled => "DISABLED",
        /// Scheduled for deletion; unusable, can be cancelled until the deletion date.
        PendingDeletion => "PENDINGDELETION" | "PENDING_DELETION",
        /// Waiting for imported key material.
        PendingImport => "PENDINGIMPORT" | "PENDING_IMPORT",
        /// A multi-region replica being created.
        Creating => "CREATING",
        /// Being updated (multi-region).
        Updating => "UPDATING",
        /// Unavailable (custom key store disconnected).
        Unavailable => "UNAVAILABLE",
        /// A replica whose primary is pending deletion.
        PendingReplicaDeletion => "PENDINGREPLICADELETION" | "PENDING_REPLICA_DELETION",
    }
}

kms_enum! {
    /// Where the key material came from.
    pub enum KeyOrigin {
        /// Generated by the backend.
        Generated => "AWS_KMS" | "GENERATED",
        /// Imported (BYOK).
        External => "EXTERNAL",
        /// A custom key store (CloudHSM).
        CloudHsm => "AWS_CLOUDHSM",
        /// An external key store.
        ExternalKeyStore => "EXTERNAL_KEY_STORE",
    }
}

/// Everything known about a key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct KeyInfo {
    /// The backend's key id (a UUID, or `mrk-…` for multi-region keys).
    pub key_id: String,
    /// The key's ARN, where the backend has them.
    pub arn: Option<String>,
    /// The key's name: the alias it was created under, without `alias/`.
    pub name: Option<String>,
    /// Every alias that points at the key (`alias/…`).
    pub aliases: Vec<String>,
    /// The key spec.
    pub spec: KeySpec,
    /// The key usage.
    pub usage: KeyUsage,
    /// The lifecycle state.
    pub state: KeyState,
    /// Free-form description.
    pub description: String,
    /// Where the material came from.
    pub origin: KeyOrigin,
    /// When the key was created.
    #[serde(with = "unix_seconds")]
    pub created: SystemTime,
    /// When a key pending deletion will be deleted.
    #[serde(with = "unix_seconds_opt", default)]
    pub deletion_date: Option<SystemTime>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Whether this is a multi-region key.
    pub multi_region: bool,
    /// The number of key material versions (grows with each rotation of a symmetric key).
    pub versions: u32,
}

impl KeyInfo {
    /// A new record with defaults for everything but the id, spec and usage.
    pub fn new(key_id: impl Into<String>, spec: KeySpec, usage: KeyUsage) -> Self {
        KeyInfo {
            key_id: key_id.into(),
            arn: None,
            name: None,
            aliases: Vec::new(),
            spec,
            usage,
            state: KeyState::Enabled,
            description: String::new(),
            origin: KeyOrigin::Generated,
            created: SystemTime::now(),
            deletion_date: None,
            tags: BTreeMap::new(),
            multi_region: false,
            versions: 1,
        }
    }

    /// How to name the key in messages: its alias if it has one, else its id.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => format!("alias/{n}"),
            None => self.key_id.clone(),
        }
    }

    /// Checks that the key is enabled, naming its state otherwise.
    pub fn check_enabled(&self) -> Result<()> {
        if self.state == KeyState::Enabled {
            return Ok(());
        }
        Err(Error::InvalidKeyState {
            key: self.display_name(),
            state: self.state.to_string(),
            message: match self.state {
                KeyState::Disabled => "enable the key to use it".to_string(),
                KeyState::PendingDeletion => {
                    "cancel the scheduled deletion and enable the key to use it".to_string()
                }
                _ => "the key cannot be used in this state".to_string(),
            },
        })
    }

    /// The algorithm this key signs a `hash` digest with (its spec's natural one, see
    /// [`KeySpec::signing_algorithm_for_hash`]). A key that does not sign such digests — not a
    /// signing key, or a hash its spec has no algorithm for (a SHA-384 digest for a P-256
    /// key) — is [`Error::InvalidKeyUsage`] naming the key, as an algorithm outside the spec's
    /// table is.
    pub fn signing_algorithm_for_hash(&self, hash: Hash) -> Result<SigningAlgorithm> {
        if self.usage != KeyUsage::SignVerify {
            return Err(Error::key_usage(
                self.display_name(),
                format!("usage is {}, signing needs SIGN_VERIFY", self.usage),
            ));
        }
        self.spec
            .signing_algorithm_for_hash(hash)
            .map_err(|e| match e {
                Error::InvalidInput { message } => Error::key_usage(self.display_name(), message),
                other => other,
            })
    }

    /// Checks that the key can sign with `algorithm` (usage, spec table, state).
    pub fn check_signing(&self, algorithm: SigningAlgorithm) -> Result<()> {
        if self.usage != KeyUsage::SignVerify {
            return Err(Error::key_usage(
                self.display_name(),
                format!("usage is {}, signing needs SIGN_VERIFY", self.usage),
            ));
        }
        if !self.spec.signing_algorithms().contains(&algorithm) {
            return Err(Error::key_usage(
                self.display_name(),
                format!(
                    "{} keys cannot use {algorithm}; allowed: {}",
                    self.spec,
                    join(self.spec.signing_algorithms())
                ),
            ));
        }
        self.check_enabled()
    }

    /// Checks that the key can encrypt or decrypt with `algorithm`.
    pub fn check_encryption(&self, algorithm: EncryptionAlgorithm) -> Result<()> {
        if self.usage != KeyUsage::EncryptDecrypt {
            return Err(Error::key_usage(
                self.display_name(),
                format!("usage is {}, encryption needs ENCRYPT_DECRYPT", self.usage),
            ));
        }
        if !self.spec.encryption_algorithms().contains(&algorithm) {
            return Err(Error::key_usage(
                self.display_name(),
                format!(
                    "{} keys cannot use {algorithm}; allowed: {}",
                    self.spec,
                    join(self.spec.encryption_algorithms())
                ),
            ));
        }
        self.check_enabled()
    }

    /// Checks that the key can make or verify MACs with `algorithm`.
    pub fn check_mac(&self, algorithm: MacAlgorithm) -> Result<()> {
        if self.usage != KeyUsage::GenerateVerifyMac {
            return Err(Error::key_usage(
                self.display_name(),
                format!("usage is {}, MACs need GENERATE_VERIFY_MAC", self.usage),
            ));
        }
        if !self.spec.mac_algorithms().contains(&algorithm) {
            return Err(Error::key_usage(
                self.display_name(),
                format!(
                    "{} keys cannot use {algorithm}; allowed: {}",
                    self.spec,
                    join(self.spec.mac_algorithms())
                ),
            ));
        }
        self.check_enabled()
    }
}

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

/// Parameters for [`crate::Keychain::generate_key`], in the seed's shape
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

    /// Builds a request from the seed-shaped [`KeyParams`].
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
        Ok(())
    }
}

/// Checks a tag against the KMS limits (key 1–128 characters, value up to 256).
pub(crate) fn validate_tag(key: &str, value: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(Error::invalid_input(format!(
            "tag key {key:?} must be 1 to 128 characters"
        )));
    }
    if value.chars().count() > 256 {
        return Err(Error::invalid_input(format!(
            "tag value for {key:?} must be at most 256 characters"
        )));
    }
    if key.starts_with("aws:") {
        return Err(Error::invalid_input(format!(
            "tag key {key:?} uses the reserved prefix aws:"
        )));
    }
    Ok(())
}

/// The state of automatic rotation for a key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RotationStatus {
    /// Whether automatic rotation is on.
    pub enabled: bool,
    /// The rotation period in days, when on.
    pub period_days: Option<u32>,
    /// When the next automatic rotation is due, when on.
    #[serde(with = "unix_seconds_opt", default)]
    pub next_rotation: Option<SystemTime>,
}

/// An alias and the key it points at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AliasInfo {
    /// The alias, `alias/NAME`.
    pub alias: String,
    /// The key id it points at (`None` for AWS-managed aliases without a key).
    pub key_id: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass this as [`PageRequest::marker`] to get the next page; `None` on the last page.
    pub next_marker: Option<String>,
}

/// Which page of a listing to return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (the backend's default when `None`; KMS allows 1–1000).
    pub limit: Option<u32>,
    /// The `next_marker` of the previous page.
    pub marker: Option<String>,
}

/// Validates a KMS-style pending window for scheduled deletion (7 to 30 days).
pub(crate) fn check_pending_window(days: u32) -> Result<()> {
    if (7..=30).contains(&days) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "the deletion waiting period must be 7 to 30 days, not {days}"
        )))
    }
}

/// Validates a rotation period (90 to 2560 days, as KMS requires).
pub(crate) fn check_rotation_period(days: u32) -> Result<()> {
    if (90..=2560).contains(&days) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "the rotation period must be 90 to 2560 days, not {days}"
        )))
    }
}

pub(crate) fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) mod unix_seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    pub(crate) fn to_secs(t: &SystemTime) -> i64 {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        }
    }

    pub(crate) fn from_secs(s: i64) -> SystemTime {
        if s >= 0 {
            UNIX_EPOCH + Duration::from_secs(s.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(s.unsigned_abs())
        }
    }

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(to_secs(t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(from_secs(i64::deserialize(d)?))
    }
}

pub(crate) mod unix_seconds_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&super::unix_seconds::to_secs(t)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(super::unix_seconds::from_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_spellings_parse() {
        for (s, spec) in [
            ("rsa-2048", KeySpec::Rsa2048),
            ("RSA_4096", KeySpec::Rsa4096),
            ("p256", KeySpec::EccNistP256),
            ("ecc_nist_p384", KeySpec::EccNistP384),
            ("secp256k1", KeySpec::EccSecgP256k1),
            ("ed25519", KeySpec::EccNistEdwards25519),
            ("aes-256", KeySpec::SymmetricDefault),
            ("hmac-512", KeySpec::Hmac512),
            ("ml-dsa-44", KeySpec::MlDsa44),
            ("mldsa65", KeySpec::MlDsa65),
            ("ML_DSA_87", KeySpec::MlDsa87),
        ] {
            assert_eq!(s.parse::<KeySpec>().ok(), Some(spec), "{s}");
        }
        assert!("rsa-1024".parse::<KeySpec>().is_err());
    }

    #[test]
    fn seed_params_map_to_exact_specs() {
        assert_eq!(KeyParams::rsa(3072).key_spec().ok(), Some(KeySpec::Rsa3072));
        assert!(KeyParams::rsa(1024).key_spec().is_err());
        assert_eq!(
            KeyParams::ecdsa(Curve::P521).key_spec().ok(),
            Some(KeySpec::EccNistP521)
        );
        assert_eq!(KeyParams::hmac(384).key_spec().ok(), Some(KeySpec::Hmac384));
    }

    #[test]
    fn natural_algorithm_for_hash() {
        assert_eq!(
            KeySpec::Rsa2048
                .signing_algorithm_for_hash(Hash::Sha256)
                .ok(),
            Some(SigningAlgorithm::RsassaPkcs1V15Sha256)
        );
        assert_eq!(
            KeySpec::EccNistP384
                .signing_algorithm_for_hash(Hash::Sha384)
                .ok(),
            Some(SigningAlgorithm::EcdsaSha384)
        );
        assert!(
            KeySpec::EccNistP256
                .signing_algorithm_for_hash(Hash::Sha384)
                .is_err()
        );
        assert!(
            KeySpec::SymmetricDefault
                .signing_algorithm_for_hash(Hash::Sha256)
                .is_err()
        );
        // ML-DSA has no hash-then-sign form.
        assert!(
            KeySpec::MlDsa65
                .signing_algorithm_for_hash(Hash::Sha512)
                .is_err()
        );
        assert_eq!(
            KeySpec::MlDsa44.default_signing_algorithm(),
            Some(SigningAlgorithm::MlDsaShake256)
        );
    }

    #[test]
    fn usage_table() {
        assert!(
            KeySpec::Rsa2048
                .check_usage(KeyUsage::EncryptDecrypt)
                .is_ok()
        );
        assert!(
            KeySpec::EccSecgP256k1
                .check_usage(KeyUsage::KeyAgreement)
                .is_err()
        );
        assert!(KeySpec::Hmac256.check_usage(KeyUsage::SignVerify).is_err());
    }
}
