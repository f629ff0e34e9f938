//! KMS operations beyond the [`crate::Backend`] trait, as inherent methods of
//! [`AwsKmsBackend`]: multi-region replicas, key policies, grants, data keys without
//! plaintext and data key pairs, re-encryption, random bytes, ECDH shared secrets, and key
//! import (BYOK) with the wrapping done locally.

use std::time::SystemTime;

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types as sdk;

use super::AwsKmsBackend;
use super::errors::{BACKEND, map_sdk_error};
use super::mapping::{
    data_key_spec_to_sdk, encryption_to_sdk, key_id_of, key_info_from_metadata, time_from_sdk,
};
use crate::algorithm::{DataKeySpec, EncryptionAlgorithm};
use crate::data_key::EncryptionContext;
use crate::key::{CreateKeyRequest, KeyFamily, KeyInfo, KeySpec, KeyState};
use crate::key_ref::KeyRef;
use crate::macros::kms_enum;
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::{Error, Result};

kms_enum! {
    /// How key material is wrapped for import (KMS `WrappingAlgorithm`).
    pub enum WrappingAlgorithm {
        /// RSA-OAEP with SHA-256: for symmetric and HMAC material (it fits in one RSA block).
        RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        /// RSA-OAEP with SHA-1 (legacy).
        RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
        /// An ephemeral AES-256 key wraps the material (AES-KWP, RFC 5649) and RSA-OAEP
        /// SHA-256 wraps that key: for asymmetric (PKCS#8) material.
        RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
        /// As above with OAEP SHA-1.
        RsaAesKeyWrapSha1 => "RSA_AES_KEY_WRAP_SHA_1",
    }
}

kms_enum! {
    /// The RSA wrapping key KMS hands out for an import.
    pub enum WrappingKeySpec {
        /// RSA-2048.
        Rsa2048 => "RSA_2048",
        /// RSA-3072.
        Rsa3072 => "RSA_3072",
        /// RSA-4096.
        Rsa4096 => "RSA_4096",
    }
}

/// What [`AwsKmsBackend::get_parameters_for_import`] returns: the wrapping public key and the
/// import token, valid until `valid_to` (24 hours in KMS).
#[derive(Clone)]
pub struct ImportParameters {
    /// The key the material is for.
    pub key_id: String,
    /// The RSA public key that wraps the material.
    pub wrapping_key: PublicKey,
    /// How the material must be wrapped.
    pub algorithm: WrappingAlgorithm,
    /// The opaque token to pass back with the material.
    pub import_token: Vec<u8>,
    /// When the token and wrapping key expire.
    pub valid_to: Option<SystemTime>,
}

impl std::fmt::Debug for ImportParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportParameters")
            .field("key_id", &self.key_id)
            .field("wrapping_key", &self.wrapping_key)
            .field("algorithm", &self.algorithm)
            .field(
                "import_token",
                &format_args!("{} bytes", self.import_token.len()),
            )
            .field("valid_to", &self.valid_to)
            .finish()
    }
}

/// A data key pair (KMS `GenerateDataKeyPair`): the public key, the private key in the clear
/// (PKCS#8 DER, zeroized on drop) and encrypted under the KMS key.
#[derive(Debug, Clone)]
pub struct DataKeyPair {
    /// The KMS key that encrypted the private key.
    pub key_id: String,
    /// The public key.
    pub public_key: PublicKey,
    /// The private key, PKCS#8 DER.
    pub private_key: Secret,
    /// The private key encrypted under the KMS key; `Decrypt` gives it back.
    pub private_key_ciphertext: Vec<u8>,
}

/// A grant on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantInfo {
    /// The grant id.
    pub grant_id: String,
    /// The grant's name, if it has one.
    pub name: Option<String>,
    /// The key id.
    pub key_id: String,
    /// Who may use the key.
    pub grantee_principal: Option<String>,
    /// Who may retire the grant.
    pub retiring_principal: Option<String>,
    /// The operations allowed (`Sign`, `Decrypt`…).
    pub operations: Vec<String>,
    /// When the grant was made.
    pub created: Option<SystemTime>,
}

/// A new grant: its id and the token that makes it usable at once.
#[derive(Clone, PartialEq, Eq)]
pub struct GrantToken {
    /// The grant id (to revoke it).
    pub grant_id: String,
    /// The grant token (pass it with requests until the grant has propagated).
    pub token: String,
}

impl std::fmt::Debug for GrantToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantToken")
            .field("grant_id", &self.grant_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

fn no_field(operation: &str, field: &str, key: &str) -> Error {
    Error::Backend {
        backend: BACKEND.into(),
        operation: operation.into(),
        code: "EmptyResponse".into(),
        message: format!("no {field} in the answer for {key}"),
        retryable: false,
    }
}

fn context_map(context: &EncryptionContext) -> Option<std::collections::HashMap<String, String>> {
    super::context_map(context)
}

fn wrapping_algorithm_to_sdk(alg: WrappingAlgorithm) -> sdk::AlgorithmSpec {
    match alg {
        WrappingAlgorithm::RsaesOaepSha256 => sdk::AlgorithmSpec::RsaesOaepSha256,
        WrappingAlgorithm::RsaesOaepSha1 => sdk::AlgorithmSpec::RsaesOaepSha1,
        WrappingAlgorithm::RsaAesKeyWrapSha256 => sdk::AlgorithmSpec::RsaAesKeyWrapSha256,
        WrappingAlgorithm::RsaAesKeyWrapSha1 => sdk::AlgorithmSpec::RsaAesKeyWrapSha1,
    }
}

fn wrapping_key_spec_to_sdk(spec: WrappingKeySpec) -> sdk::WrappingKeySpec {
    match spec {
        WrappingKeySpec::Rsa2048 => sdk::WrappingKeySpec::Rsa2048,
        WrappingKeySpec::Rsa3072 => sdk::WrappingKeySpec::Rsa3072,
        WrappingKeySpec::Rsa4096 => sdk::WrappingKeySpec::Rsa4096,
    }
}

fn data_key_pair_spec_to_sdk(spec: KeySpec) -> Result<sdk::DataKeyPairSpec> {
    Ok(match spec {
        KeySpec::Rsa2048 => sdk::DataKeyPairSpec::Rsa2048,
        KeySpec::Rsa3072 => sdk::DataKeyPairSpec::Rsa3072,
        KeySpec::Rsa4096 => sdk::DataKeyPairSpec::Rsa4096,
        KeySpec::EccNistP256 => sdk::DataKeyPairSpec::EccNistP256,
        KeySpec::EccNistP384 => sdk::DataKeyPairSpec::EccNistP384,
        KeySpec::EccNistP521 => sdk::DataKeyPairSpec::EccNistP521,
        KeySpec::EccSecgP256k1 => sdk::DataKeyPairSpec::EccSecgP256K1,
        other => {
            return Err(Error::invalid_input(format!(
                "GenerateDataKeyPair makes RSA and ECC key pairs, not {other}"
            )));
        }
    })
}

/// Wraps key material for import under `params`, locally: the plaintext material never
/// leaves this process unwrapped.
///
/// `RSAES_OAEP_*` encrypts the material with the wrapping key (symmetric and HMAC material);
/// `RSA_AES_KEY_WRAP_*` wraps it with a fresh AES-256 key (AES-KWP, RFC 5649) and encrypts
/// that key with RSA-OAEP (asymmetric material, as PKCS#8 DER), as KMS specifies.
pub fn wrap_key_material(params: &ImportParameters, material: &[u8]) -> Result<Vec<u8>> {
    if material.is_empty() {
        return Err(Error::invalid_input("empty key material"));
    }
    let oaep = |alg| params.wrapping_key.encrypt(material, alg);
    match params.algorithm {
        WrappingAlgorithm::RsaesOaepSha256 => oaep(EncryptionAlgorithm::RsaesOaepSha256),
        WrappingAlgorithm::RsaesOaepSha1 => oaep(EncryptionAlgorithm::RsaesOaepSha1),
        WrappingAlgorithm::RsaAesKeyWrapSha256 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
            let mut raw = vec![0u8; 32];
            aws_lc_rs::rand::fill(&mut raw)
                .map_err(|_| Error::crypto("no randomness for the AES wrapping key"))?;
            let aes_key = Secret::new(raw);
            let kek = AesKek::new(&AES_256, aes_key.expose())
                .map_err(|_| Error::crypto("AES-256 key wrap setup failed"))?;
            let mut wrapped = vec![0u8; material.len() + 16];
            let n = kek
                .wrap_with_padding(material, &mut wrapped)
                .map_err(|_| Error::crypto("AES key wrap with padding failed"))?
                .len();
            wrapped.truncate(n);
            let alg = if params.algorithm == WrappingAlgorithm::RsaAesKeyWrapSha256 {
                EncryptionAlgorithm::RsaesOaepSha256
            } else {
                EncryptionAlgorithm::RsaesOaepSha1
            };
            let mut out = params.wrapping_key.encrypt(aes_key.expose(), alg)?;
            out.extend_from_slice(&wrapped);
            Ok(out)
        }
    }
}

/// The public key of a PKCS#8 private key of `spec` (RSA, ECDSA curves, Ed25519, ML-DSA), to prove an
/// import: KMS's public key must equal it.
pub fn public_key_of_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<PublicKey> {
    use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
    use aws_lc_rs::signature::{self as lc, KeyPair};
    let bad = |e: &dyn std::fmt::Display| {
        Error::invalid_input(format!(
            "the key material is not a {spec} PKCS#8 private key: {e}"
        ))
    };
    let ec = |alg: &'static lc::EcdsaSigningAlgorithm| -> Result<Vec<u8>> {
        let pair = lc::EcdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(|e| bad(&e))?;
        let der: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(|e| bad(&e))?;
        Ok(der.as_ref().to_vec())
    };
    let der = match spec.family() {
        KeyFamily::Rsa(bits) => {
            let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8).map_err(|e| bad(&e))?;
            if pair.public_modulus_len() * 8 != bits as usize {
                return Err(Error::invalid_input(format!(
                    "the key material is RSA-{}, not {spec}",
                    pair.public_modulus_len() * 8
                )));
            }
            let der: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(|e| bad(&e))?;
            der.as_ref().to_vec()
        }
        KeyFamily::Ec(crate::key::Curve::P256) => ec(&lc::ECDSA_P256_SHA256_ASN1_SIGNING)?,
        KeyFamily::Ec(crate::key::Curve::P384) => ec(&lc::ECDSA_P384_SHA384_ASN1_SIGNING)?,
        KeyFamily::Ec(crate::key::Curve::P521) => ec(&lc::ECDSA_P521_SHA512_ASN1_SIGNING)?,
        KeyFamily::Ec(crate::key::Curve::Secp256k1) => ec(&lc::ECDSA_P256K1_SHA256_ASN1_SIGNING)?,
        KeyFamily::Ec(crate::key::Curve::Ed25519) | KeyFamily::Ed25519 => {
            let pair =
                lc::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|e| bad(&e))?;
            let der: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(|e| bad(&e))?;
            der.as_ref().to_vec()
        }
        KeyFamily::MlDsa(level) => {
            let alg = match level {
                44 => &lc::ML_DSA_44_SIGNING,
                65 => &lc::ML_DSA_65_SIGNING,
                _ => &lc::ML_DSA_87_SIGNING,
            };
            let pair = lc::PqdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(|e| bad(&e))?;
            let der: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(|e| bad(&e))?;
            der.as_ref().to_vec()
        }
        KeyFamily::Symmetric | KeyFamily::Hmac(_) => {
            return Err(Error::invalid_input(format!(
                "{spec} keys have no public key"
            )));
        }
    };
    PublicKey::from_der(&der)
}

impl AwsKmsBackend {
    /// The key's KMS key id (for calls that accept no alias).
    async fn id_for(&self, key: &KeyRef) -> Result<String> {
        self.resolve_id(key).await
    }

    /// Replicates a multi-region primary key into `replica_region` (KMS `ReplicateKey`); the
    /// replica has the same key id there. Aliases are per region: name the replica with
    /// [`crate::Backend::create_alias`] on a backend of that region.
    pub async fn replicate_key(
        &self,
        key: &KeyRef,
        replica_region: &str,
        description: Option<&str>,
    ) -> Result<KeyInfo> {
        super::config::check_region(replica_region)?;
        let info = self.describe_fresh(key).await?.0;
        if !info.multi_region {
            return Err(Error::invalid_input(format!(
                "{} is not a multi-region key; create it with multi_region to replicate it",
                info.display_name()
            )));
        }
        let mut req = self
            .client_for(key)?
            .replicate_key()
            .key_id(&info.key_id)
            .replica_region(replica_region);
        if let Some(d) = description {
            req = req.description(d);
        }
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) => return Err(self.fail(e, "ReplicateKey", key).await),
        };
        let meta = out
            .replica_key_metadata()
            .ok_or_else(|| no_field("ReplicateKey", "replica metadata", &info.key_id))?;
        key_info_from_metadata(meta)
    }

    /// The key policy (KMS `GetKeyPolicy`, policy `default`), a JSON document.
    pub async fn key_policy(&self, key: &KeyRef) -> Result<String> {
        let id = self.id_for(key).await?;
        match self
            .client_for(key)?
            .get_key_policy()
            .key_id(&id)
            .policy_name("default")
            .send()
            .await
        {
            Ok(o) => o
                .policy
                .ok_or_else(|| no_field("GetKeyPolicy", "policy", &id)),
            Err(e) => Err(self.fail(e, "GetKeyPolicy", key).await),
        }
    }

    /// Replaces the key policy (KMS `PutKeyPolicy`). The document must be JSON; KMS checks
    /// the rest (and refuses a policy that would lock the caller out).
    pub async fn put_key_policy(&self, key: &KeyRef, policy: &str) -> Result<()> {
        serde_json::from_str::<serde_json::Value>(policy)
            .map_err(|e| Error::invalid_input(format!("the key policy is not JSON: {e}")))?;
        let id = self.id_for(key).await?;
        match self
            .client_for(key)?
            .put_key_policy()
            .key_id(&id)
            .policy_name("default")
            .policy(policy)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "PutKeyPolicy", key).await),
        }
    }

    /// Grants `grantee_principal` (an IAM ARN) the `operations` (`Sign`, `Decrypt`,
    /// `GenerateDataKey`…) on the key (KMS `CreateGrant`).
    pub async fn create_grant(
        &self,
        key: &KeyRef,
        grantee_principal: &str,
        operations: &[&str],
        name: Option<&str>,
    ) -> Result<GrantToken> {
        if operations.is_empty() {
            return Err(Error::invalid_input("a grant needs at least one operation"));
        }
        let mut ops = Vec::new();
        for op in operations {
            let g = sdk::GrantOperation::from(*op);
            if !sdk::GrantOperation::values().contains(op) {
                return Err(Error::invalid_input(format!(
                    "{op:?} is not a grant operation; use one of: {}",
                    sdk::GrantOperation::values().join(", ")
                )));
            }
            ops.push(g);
        }
        let id = self.id_for(key).await?;
        let res = self
            .client_for(key)?
            .create_grant()
            .key_id(&id)
            .grantee_principal(grantee_principal)
            .set_operations(Some(ops))
            .set_name(name.map(str::to_string))
            .send()
            .await;
        match res {
            Ok(o) => Ok(GrantToken {
                grant_id: o
                    .grant_id
                    .ok_or_else(|| no_field("CreateGrant", "grant id", &id))?,
                token: o.grant_token.unwrap_or_default(),
            }),
            Err(e) => Err(self.fail(e, "CreateGrant", key).await),
        }
    }

    /// The grants on a key (KMS `ListGrants`, every page).
    pub async fn list_grants(&self, key: &KeyRef) -> Result<Vec<GrantInfo>> {
        let id = self.id_for(key).await?;
        let client = self.client_for(key)?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let res = match client
                .list_grants()
                .key_id(&id)
                .limit(100)
                .set_marker(marker.take())
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => return Err(self.fail(e, "ListGrants", key).await),
            };
            for g in res.grants() {
                out.push(GrantInfo {
                    grant_id: g.grant_id().unwrap_or_default().to_string(),
                    name: g.name().filter(|n| !n.is_empty()).map(str::to_string),
                    key_id: key_id_of(g.key_id().unwrap_or(&id)),
                    grantee_principal: g.grantee_principal().map(str::to_string),
                    retiring_principal: g.retiring_principal().map(str::to_string),
                    operations: g
                        .operations()
                        .iter()
                        .map(|o| o.as_str().to_string())
                        .collect(),
                    created: g.creation_date().map(time_from_sdk),
                });
            }
            match res.next_marker() {
                Some(m) if res.truncated() && !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Revokes a grant (KMS `RevokeGrant`).
    pub async fn revoke_grant(&self, key: &KeyRef, grant_id: &str) -> Result<()> {
        if grant_id.trim().is_empty() {
            return Err(Error::invalid_input("empty grant id"));
        }
        let id = self.id_for(key).await?;
        match self
            .client_for(key)?
            .revoke_grant()
            .key_id(&id)
            .grant_id(grant_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "RevokeGrant", key).await),
        }
    }

    /// A data key encrypted under the key, without its plaintext (KMS
    /// `GenerateDataKeyWithoutPlaintext`): for a component that stores it now and has
    /// another decrypt it later.
    pub async fn generate_data_key_without_plaintext(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let info = self.metadata(key).await?;
        super::ignoring_state(&info).check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
        match self
            .client_for(key)?
            .generate_data_key_without_plaintext()
            .key_id(key.kms_key_id())
            .key_spec(data_key_spec_to_sdk(spec))
            .set_encryption_context(context_map(context))
            .send()
            .await
        {
            Ok(o) => o.ciphertext_blob.map(Blob::into_inner).ok_or_else(|| {
                no_field(
                    "GenerateDataKeyWithoutPlaintext",
                    "ciphertext",
                    &info.key_id,
                )
            }),
            Err(e) => Err(self.fail(e, "GenerateDataKeyWithoutPlaintext", key).await),
        }
    }

    /// An asymmetric data key pair of `pair_spec` (RSA or ECC) whose private key is also
    /// returned encrypted under the symmetric `key` (KMS `GenerateDataKeyPair`).
    pub async fn generate_data_key_pair(
        &self,
        key: &KeyRef,
        pair_spec: KeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKeyPair> {
        let spec = data_key_pair_spec_to_sdk(pair_spec)?;
        let info = self.metadata(key).await?;
        super::ignoring_state(&info).check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
        let o = match self
            .client_for(key)?
            .generate_data_key_pair()
            .key_id(key.kms_key_id())
            .key_pair_spec(spec)
            .set_encryption_context(context_map(context))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => return Err(self.fail(e, "GenerateDataKeyPair", key).await),
        };
        let public_key = PublicKey::from_der(
            o.public_key()
                .ok_or_else(|| no_field("GenerateDataKeyPair", "public key", &info.key_id))?
                .as_ref(),
        )?;
        Ok(DataKeyPair {
            key_id: key_id_of(o.key_id().unwrap_or(&info.key_id)),
            public_key,
            private_key_ciphertext: o
                .private_key_ciphertext_blob
                .map(Blob::into_inner)
                .ok_or_else(|| {
                    no_field("GenerateDataKeyPair", "encrypted private key", &info.key_id)
                })?,
            private_key: Secret::new(
                o.private_key_plaintext
                    .map(Blob::into_inner)
                    .ok_or_else(|| no_field("GenerateDataKeyPair", "private key", &info.key_id))?,
            ),
        })
    }

    /// Decrypts `ciphertext` and encrypts it again under `destination`, inside KMS (the
    /// plaintext never leaves it). `source` names the key that made the ciphertext (needed
    /// for RSA ciphertexts; optional for symmetric ones).
    #[allow(clippy::too_many_arguments)]
    pub async fn re_encrypt(
        &self,
        ciphertext: &[u8],
        source: Option<&KeyRef>,
        source_algorithm: EncryptionAlgorithm,
        source_context: &EncryptionContext,
        destination: &KeyRef,
        destination_algorithm: EncryptionAlgorithm,
        destination_context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        if ciphertext.is_empty() {
            return Err(Error::invalid_input("empty ciphertext"));
        }
        if source.is_none() && source_algorithm != EncryptionAlgorithm::SymmetricDefault {
            return Err(Error::invalid_input(
                "RSA ciphertexts need the source key to be named",
            ));
        }
        let info = self.metadata(destination).await?;
        super::ignoring_state(&info).check_encryption(destination_algorithm)?;
        let res = self
            .client_for(destination)?
            .re_encrypt()
            .ciphertext_blob(Blob::new(ciphertext))
            .set_source_key_id(source.map(KeyRef::kms_key_id))
            .source_encryption_algorithm(encryption_to_sdk(source_algorithm))
            .set_source_encryption_context(context_map(source_context))
            .destination_key_id(destination.kms_key_id())
            .destination_encryption_algorithm(encryption_to_sdk(destination_algorithm))
            .set_destination_encryption_context(context_map(destination_context))
            .send()
            .await;
        match res {
            Ok(o) => o
                .ciphertext_blob
                .map(Blob::into_inner)
                .ok_or_else(|| no_field("ReEncrypt", "ciphertext", &info.key_id)),
            Err(e) => Err(self.fail(e, "ReEncrypt", destination).await),
        }
    }

    /// Random bytes from KMS (KMS `GenerateRandom`, 1 to 1024 bytes).
    pub async fn generate_random(&self, len: usize) -> Result<Secret> {
        if !(1..=1024).contains(&len) {
            return Err(Error::invalid_input(format!(
                "GenerateRandom makes 1 to 1024 bytes, not {len}"
            )));
        }
        match self
            .inner
            .clients
            .base()
            .generate_random()
            .number_of_bytes(len as i32)
            .send()
            .await
        {
            Ok(o) => Ok(Secret::new(
                o.plaintext
                    .map(Blob::into_inner)
                    .ok_or_else(|| no_field("GenerateRandom", "bytes", "-"))?,
            )),
            Err(e) => Err(map_sdk_error(e, "GenerateRandom", "-")),
        }
    }

    /// The ECDH shared secret (the raw x-coordinate) of the KEY_AGREEMENT key and a peer's
    /// public key on the same curve (KMS `DeriveSharedSecret`). Feed it to a KDF.
    pub async fn derive_shared_secret(&self, key: &KeyRef, peer: &PublicKey) -> Result<Secret> {
        let info = self.metadata(key).await?;
        if info.usage != crate::key::KeyUsage::KeyAgreement {
            return Err(Error::key_usage(
                info.display_name(),
                format!("usage is {}, ECDH needs KEY_AGREEMENT", info.usage),
            ));
        }
        if let (KeyFamily::Ec(curve), crate::public_key::PublicKeyKind::Ec(peer_curve)) =
            (info.spec.family(), peer.kind())
        {
            if curve != peer_curve {
                return Err(Error::invalid_input(format!(
                    "the peer key is on {}, the KMS key on {}",
                    peer_curve.jose_name(),
                    curve.jose_name()
                )));
            }
        } else {
            return Err(Error::invalid_input(
                "ECDH needs an EC KMS key and an EC peer public key",
            ));
        }
        match self
            .client_for(key)?
            .derive_shared_secret()
            .key_id(key.kms_key_id())
            .key_agreement_algorithm(sdk::KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer.to_der()))
            .send()
            .await
        {
            Ok(o) => Ok(Secret::new(
                o.shared_secret
                    .map(Blob::into_inner)
                    .ok_or_else(|| no_field("DeriveSharedSecret", "secret", &info.key_id))?,
            )),
            Err(e) => Err(self.fail(e, "DeriveSharedSecret", key).await),
        }
    }

    /// The wrapping key and import token for importing material into an EXTERNAL key (KMS
    /// `GetParametersForImport`).
    pub async fn get_parameters_for_import(
        &self,
        key: &KeyRef,
        algorithm: WrappingAlgorithm,
        wrapping_key_spec: WrappingKeySpec,
    ) -> Result<ImportParameters> {
        let id = self.id_for(key).await?;
        let o = match self
            .client_for(key)?
            .get_parameters_for_import()
            .key_id(&id)
            .wrapping_algorithm(wrapping_algorithm_to_sdk(algorithm))
            .wrapping_key_spec(wrapping_key_spec_to_sdk(wrapping_key_spec))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => return Err(self.fail(e, "GetParametersForImport", key).await),
        };
        Ok(ImportParameters {
            key_id: key_id_of(o.key_id().unwrap_or(&id)),
            wrapping_key: PublicKey::from_der(
                o.public_key()
                    .ok_or_else(|| no_field("GetParametersForImport", "public key", &id))?
                    .as_ref(),
            )?,
            algorithm,
            import_token: o
                .import_token
                .map(Blob::into_inner)
                .ok_or_else(|| no_field("GetParametersForImport", "import token", &id))?,
            valid_to: o.parameters_valid_to.as_ref().map(time_from_sdk),
        })
    }

    /// Imports wrapped key material (KMS `ImportKeyMaterial`); with `expires`, KMS deletes
    /// the material then and the key waits for a new import.
    pub async fn import_wrapped_key_material(
        &self,
        key: &KeyRef,
        params: &ImportParameters,
        wrapped: &[u8],
        expires: Option<SystemTime>,
    ) -> Result<()> {
        let id = self.id_for(key).await?;
        let mut req = self
            .client_for(key)?
            .import_key_material()
            .key_id(&id)
            .import_token(Blob::new(params.import_token.clone()))
            .encrypted_key_material(Blob::new(wrapped));
        req = match expires {
            Some(t) => req
                .valid_to(DateTime::from(t))
                .expiration_model(sdk::ExpirationModelType::KeyMaterialExpires),
            None => req.expiration_model(sdk::ExpirationModelType::KeyMaterialDoesNotExpire),
        };
        match req.send().await {
            Ok(_) => {
                self.forget_key(&key_id_of(&id));
                Ok(())
            }
            Err(e) => Err(self.fail(e, "ImportKeyMaterial", key).await),
        }
    }

    /// Imports plaintext key material into an EXTERNAL key in one go: gets import parameters
    /// (RSA-4096 wrapping key; OAEP SHA-256 for symmetric and HMAC material,
    /// RSA_AES_KEY_WRAP_SHA_256 for asymmetric PKCS#8 material), wraps the material locally
    /// and imports it.
    pub async fn import_key_material(
        &self,
        key: &KeyRef,
        material: &Secret,
        expires: Option<SystemTime>,
    ) -> Result<()> {
        let info = self.describe_fresh(key).await?.0;
        if info.origin != crate::key::KeyOrigin::External {
            return Err(Error::invalid_input(format!(
                "{} was not created for import (origin {}, not EXTERNAL)",
                info.display_name(),
                info.origin
            )));
        }
        if !matches!(
            info.state,
            KeyState::PendingImport | KeyState::Enabled | KeyState::Disabled
        ) {
            return Err(Error::InvalidKeyState {
                key: info.display_name(),
                state: info.state.to_string(),
                message: "key material can only be imported into a key pending import, or \
                          re-imported into an enabled or disabled one"
                    .into(),
            });
        }
        let algorithm = if info.spec.is_asymmetric() {
            WrappingAlgorithm::RsaAesKeyWrapSha256
        } else {
            WrappingAlgorithm::RsaesOaepSha256
        };
        let key_ref = KeyRef::key_id(&info.key_id)?;
        let key_ref = match key.region() {
            Some(_) => key.clone(),
            None => key_ref,
        };
        let params = self
            .get_parameters_for_import(&key_ref, algorithm, WrappingKeySpec::Rsa4096)
            .await?;
        let wrapped = wrap_key_material(&params, material.expose())?;
        self.import_wrapped_key_material(&key_ref, &params, &wrapped, expires)
            .await
    }

    /// Creates a key from existing material under a name (`alias/NAME`), as a migration does:
    /// an EXTERNAL key of `request.spec`, the material imported (raw bytes for symmetric and
    /// HMAC keys, PKCS#8 DER for asymmetric ones), its public key proven equal to the
    /// material's, and only then the alias. Any failure after CreateKey schedules the new key
    /// for deletion and says so: no half-imported key is left behind silently.
    pub async fn import_key(
        &self,
        request: &CreateKeyRequest,
        material: &Secret,
        expires: Option<SystemTime>,
    ) -> Result<KeyInfo> {
        let name = request
            .name
            .clone()
            .ok_or_else(|| Error::invalid_input("an imported key needs a name"))?;
        let mut unnamed = request.clone();
        unnamed.name = None;
        unnamed.origin = crate::key::KeyOrigin::External;
        unnamed.validate()?;
        super::check_user_tags(&unnamed.tags)?;
        crate::key_ref::validate_key_name(&name)?;
        let expected = if request.spec.is_asymmetric() {
            Some(public_key_of_pkcs8(request.spec, material.expose())?)
        } else {
            let want = match request.spec.family() {
                KeyFamily::Symmetric => 32,
                _ => 0,
            };
            if want != 0 && material.len() != want {
                return Err(Error::invalid_input(format!(
                    "{} key material is {want} bytes, not {}",
                    request.spec,
                    material.len()
                )));
            }
            None
        };
        let alias = KeyRef::alias(&name)?;
        match self.describe_fresh(&alias).await {
            Ok(_) => {
                return Err(Error::AlreadyExists {
                    what: format!("alias/{name}"),
                });
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut tagged = unnamed.clone();
        tagged.name = Some(name.clone());
        let meta = self.create_key_once(&tagged, &request_id).await?;
        let key_id = meta.key_id().to_string();
        let by_id = KeyRef::key_id(&key_id)?;
        let step = async {
            self.import_key_material(&by_id, material, expires).await?;
            if let Some(expected) = &expected {
                self.forget_key(&key_id);
                let actual = crate::backend::Backend::public_key(self, &by_id).await?;
                if &actual != expected {
                    return Err(Error::crypto(format!(
                        "after the import, KMS key {key_id} has another public key than the \
                         imported material"
                    )));
                }
            }
            self.inner
                .clients
                .base()
                .create_alias()
                .alias_name(alias.kms_key_id())
                .target_key_id(&key_id)
                .send()
                .await
                .map_err(|e| map_sdk_error(e, "CreateAlias", &alias.kms_key_id()))?;
            Ok(())
        };
        if let Err(e) = step.await {
            return Err(self.discard_orphan(&key_id, e).await);
        }
        self.describe_full(&alias).await
    }

    /// Deletes imported key material (KMS `DeleteImportedKeyMaterial`); the key waits for
    /// a new import.
    pub async fn delete_imported_key_material(&self, key: &KeyRef) -> Result<()> {
        let id = self.id_for(key).await?;
        match self
            .client_for(key)?
            .delete_imported_key_material()
            .key_id(&id)
            .send()
            .await
        {
            Ok(_) => {
                self.forget_key(&key_id_of(&id));
                Ok(())
            }
            Err(e) => Err(self.fail(e, "DeleteImportedKeyMaterial", key).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_enums_keep_kms_names() {
        for &a in WrappingAlgorithm::ALL {
            assert_eq!(wrapping_algorithm_to_sdk(a).as_str(), a.as_str());
        }
        for &s in WrappingKeySpec::ALL {
            assert_eq!(wrapping_key_spec_to_sdk(s).as_str(), s.as_str());
        }
        assert!(data_key_pair_spec_to_sdk(KeySpec::SymmetricDefault).is_err());
    }
}
