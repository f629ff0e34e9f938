//! Data keys and randomness: GenerateDataKey(+WithoutPlaintext),
//! GenerateDataKeyPair(+WithoutPlaintext), GenerateRandom.

use keychain::{DataKeySpec, EncryptionAlgorithm, EncryptionContext, KeySpec};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::crypto::{check_context, encrypt_under};
use super::{Context, resolve};
use crate::errors::KmsError;
use crate::wire::{b64, check_range, dry_run, input, opt_enum};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyInput {
    key_id: Option<String>,
    encryption_context: Option<EncryptionContext>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    recipient: Option<Value>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// Random bytes from the OS generator.
fn random(n: usize) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| KmsError::internal("the random generator failed"))?;
    Ok(bytes)
}

/// GenerateDataKey, or GenerateDataKeyWithoutPlaintext when `with_plaintext` is false.
pub(super) async fn generate_data_key(
    cx: &Context,
    body: Value,
    with_plaintext: bool,
) -> Result<Value, KmsError> {
    let i: DataKeyInput = input(body)?;
    let context = i.encryption_context.unwrap_or_default();
    check_context("EncryptionContext", &context)?;
    let spec: Option<DataKeySpec> = opt_enum("KeySpec", i.key_spec.as_deref())?;
    if let Some(n) = i.number_of_bytes {
        check_range("NumberOfBytes", n, 1, 1024)?;
    }
    if i.recipient.is_some() {
        return Err(KmsError::unsupported(
            "Recipient (Nitro Enclaves attestation) is not supported by this server",
        ));
    }
    let (ciphertext, plaintext, key_id) = match (spec, i.number_of_bytes) {
        (Some(_), Some(_)) => {
            return Err(KmsError::validation(
                "KeySpec and NumberOfBytes cannot both be given",
            ));
        }
        (None, None) => {
            return Err(KmsError::validation(
                "Please specify either number of bytes or key spec.",
            ));
        }
        (Some(spec), None) => {
            let (key, info) = resolve(cx, i.key_id).await?;
            info.check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
            dry_run(i.dry_run)?;
            let data_key = cx.backend.generate_data_key(&key, spec, &context).await?;
            let plaintext = Zeroizing::new(data_key.plaintext.expose().to_vec());
            (data_key.ciphertext, plaintext, info.key_id)
        }
        (None, Some(n)) => {
            let plaintext = random(usize::try_from(n).unwrap_or(0))?;
            let (ciphertext, key_id) = encrypt_under(
                cx,
                i.key_id,
                &plaintext,
                EncryptionAlgorithm::SymmetricDefault,
                &context,
                i.dry_run,
            )
            .await?;
            (ciphertext, plaintext, key_id)
        }
    };
    let mut out = json!({
        "CiphertextBlob": b64(&ciphertext),
        "KeyId": cx.caller.key_arn(&key_id),
    });
    if with_plaintext {
        out["Plaintext"] = json!(b64(&plaintext));
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RandomInput {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
    recipient: Option<Value>,
}

pub(super) async fn generate_random(_cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: RandomInput = input(body)?;
    if i.custom_key_store_id.is_some() {
        return Err(KmsError::unsupported(
            "this server has no custom key stores",
        ));
    }
    if i.recipient.is_some() {
        return Err(KmsError::unsupported(
            "Recipient (Nitro Enclaves attestation) is not supported by this server",
        ));
    }
    let n = crate::wire::required(i.number_of_bytes, "NumberOfBytes")?;
    check_range("NumberOfBytes", n, 1, 1024)?;
    let bytes = random(usize::try_from(n).unwrap_or(0))?;
    Ok(json!({ "Plaintext": b64(&bytes) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyPairInput {
    key_id: Option<String>,
    encryption_context: Option<EncryptionContext>,
    key_pair_spec: Option<String>,
    recipient: Option<Value>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// The key pair specs KMS makes data key pairs of (SM2 is China Regions only and not here).
const PAIR_SPECS: &[KeySpec] = &[
    KeySpec::Rsa2048,
    KeySpec::Rsa3072,
    KeySpec::Rsa4096,
    KeySpec::EccNistP256,
    KeySpec::EccNistP384,
    KeySpec::EccNistP521,
    KeySpec::EccSecgP256k1,
];

/// GenerateDataKeyPair, or GenerateDataKeyPairWithoutPlaintext when `with_plaintext` is
/// false: a fresh key pair whose PKCS#8 private key is also returned encrypted under the
/// symmetric key, bound to the encryption context.
pub(super) async fn generate_data_key_pair(
    cx: &Context,
    body: Value,
    with_plaintext: bool,
) -> Result<Value, KmsError> {
    let i: DataKeyPairInput = input(body)?;
    let context = i.encryption_context.unwrap_or_default();
    check_context("EncryptionContext", &context)?;
    let spec_name = crate::wire::required(i.key_pair_spec, "KeyPairSpec")?;
    let spec: KeySpec = crate::wire::kms_enum("KeyPairSpec", &spec_name)?;
    if !PAIR_SPECS.contains(&spec) {
        return Err(KmsError::validation(format!(
            "KeyPairSpec {spec} is not a data key pair spec"
        )));
    }
    if i.recipient.is_some() {
        return Err(KmsError::unsupported(
            "Recipient (Nitro Enclaves attestation) is not supported by this server",
        ));
    }
    let (key, info) = resolve(cx, i.key_id).await?;
    info.check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
    dry_run(i.dry_run)?;
    let (private_key, public_key) = keychain::software::generate_key_pair(spec)?;
    let ciphertext = cx
        .backend
        .encrypt(
            &key,
            private_key.expose(),
            EncryptionAlgorithm::SymmetricDefault,
            &context,
        )
        .await?;
    let mut out = json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "KeyPairSpec": spec.as_str(),
        "PublicKey": b64(public_key.to_der()),
        "PrivateKeyCiphertextBlob": b64(&ciphertext),
    });
    if with_plaintext {
        out["PrivateKeyPlaintext"] = json!(b64(private_key.expose()));
    }
    Ok(out)
}
