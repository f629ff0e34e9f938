//! Key import (BYOK) into AWS KMS: the wrapping parameters, the wrapping itself done
//! locally (the plaintext material never leaves this process unwrapped), importing into an
//! EXTERNAL key, creating a named key from existing material with proof, and deleting
//! imported material.

use std::time::SystemTime;

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types as sdk;

use super::AwsKmsBackend;
use super::errors::{import_step_failed, map_sdk_error, no_field};
use super::mapping::{key_id_of, time_from_sdk};
use crate::algorithm::EncryptionAlgorithm;
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
        KeyFamily::MlKem(level) => {
            let key =
                crate::kem::DecapsulationKey::from_pkcs8(level, pkcs8).map_err(|e| bad(&e))?;
            key.public_key_der()?
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
    /// The wrapping key and import token for importing material into an EXTERNAL key (KMS
    /// `GetParametersForImport`).
    pub async fn get_parameters_for_import(
        &self,
        key: &KeyRef,
        algorithm: WrappingAlgorithm,
        wrapping_key_spec: WrappingKeySpec,
    ) -> Result<ImportParameters> {
        let id = self.resolve_id(key).await?;
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
            Err(e) => {
                let err = self.fail(e, "GetParametersForImport", key).await;
                return Err(import_step_failed(err, "GetParametersForImport"));
            }
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
        let id = self.resolve_id(key).await?;
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
            Err(e) => {
                let err = self.fail(e, "ImportKeyMaterial", key).await;
                Err(import_step_failed(err, "ImportKeyMaterial"))
            }
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
        super::keys::check_user_tags(&unnamed.tags)?;
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
        let id = self.resolve_id(key).await?;
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
    }
}
