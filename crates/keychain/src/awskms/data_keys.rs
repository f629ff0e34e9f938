//! Data keys and KMS-side cryptography beyond the [`crate::Backend`] trait: data keys
//! without plaintext, data key pairs, re-encryption under another key and random bytes.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types as sdk;

use super::AwsKmsBackend;
use super::crypto::context_map;
use super::errors::{map_sdk_error, no_field};
use super::mapping::{data_key_spec_to_sdk, encryption_to_sdk, key_id_of};
use crate::algorithm::{DataKeySpec, EncryptionAlgorithm};
use crate::data_key::EncryptionContext;
use crate::key::KeySpec;
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::{Error, Result};

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

fn data_key_pair_spec_to_sdk(spec: KeySpec) -> Result<sdk::DataKeyPairSpec> {
    Ok(match spec {
        KeySpec::Rsa2048 => sdk::DataKeyPairSpec::Rsa2048,
        KeySpec::Rsa3072 => sdk::DataKeyPairSpec::Rsa3072,
        KeySpec::Rsa4096 => sdk::DataKeyPairSpec::Rsa4096,
        KeySpec::EccNistP256 => sdk::DataKeyPairSpec::EccNistP256,
        KeySpec::EccNistP384 => sdk::DataKeyPairSpec::EccNistP384,
        KeySpec::EccNistP521 => sdk::DataKeyPairSpec::EccNistP521,
        KeySpec::EccSecgP256k1 => sdk::DataKeyPairSpec::EccSecgP256K1,
        // In the API's DataKeyPairSpec (aws-sdk-kms 1.129): Ed25519 data key pairs.
        KeySpec::EccNistEdwards25519 => sdk::DataKeyPairSpec::EccNistEdwards25519,
        other => {
            return Err(Error::invalid_input(format!(
                "GenerateDataKeyPair makes RSA, ECC and Ed25519 key pairs, not {other}"
            )));
        }
    })
}

impl AwsKmsBackend {
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
        super::crypto::ignoring_state(&info)
            .check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
        match self
            .client_for(key)?
            .generate_data_key_without_plaintext()
            .set_grant_tokens(self.grant_tokens())
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
        super::crypto::ignoring_state(&info)
            .check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
        let o = match self
            .client_for(key)?
            .generate_data_key_pair()
            .set_grant_tokens(self.grant_tokens())
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
        super::crypto::ignoring_state(&info).check_encryption(destination_algorithm)?;
        let res = self
            .client_for(destination)?
            .re_encrypt()
            .set_grant_tokens(self.grant_tokens())
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_key_pairs_are_rsa_or_ecc() {
        assert!(data_key_pair_spec_to_sdk(KeySpec::SymmetricDefault).is_err());
        assert!(data_key_pair_spec_to_sdk(KeySpec::EccNistP256).is_ok());
    }
}
