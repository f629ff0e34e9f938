//! ML-KEM on AWS KMS: `Encapsulate` and `Decapsulate` (algorithm `ML_KEM`), with usage and
//! the ciphertext's length checked against cached metadata before any call, and KMS's
//! answers checked for the lengths FIPS 203 gives them.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::EncapsulationAlgorithmSpec;

use super::AwsKmsBackend;
use super::crypto::ignoring_state;
use crate::kem::{Encapsulation, SHARED_SECRET_LEN, check_ciphertext, ciphertext_len};
use crate::key_ref::KeyRef;
use crate::secret::Secret;
use crate::{Error, Result};

/// A 32-byte shared secret from KMS's answer to `operation`, or an error naming what came back.
fn shared_secret(blob: Option<Blob>, operation: &str) -> Result<Secret> {
    let secret = Secret::new(
        blob.ok_or_else(|| {
            Error::crypto(format!("AWS KMS {operation} returned no shared secret"))
        })?
        .into_inner(),
    );
    if secret.len() != SHARED_SECRET_LEN {
        return Err(Error::crypto(format!(
            "AWS KMS {operation} returned a {}-byte shared secret; ML-KEM's are \
             {SHARED_SECRET_LEN} bytes",
            secret.len()
        )));
    }
    Ok(secret)
}

pub(super) async fn encapsulate(kms: &AwsKmsBackend, key: &KeyRef) -> Result<Encapsulation> {
    let info = kms.metadata(key).await?;
    let level = ignoring_state(&info).check_kem()?;
    let out = kms
        .client_for(key)?
        .encapsulate()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .encapsulation_algorithm(EncapsulationAlgorithmSpec::MlKem)
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => return Err(kms.fail(e, "Encapsulate", key).await),
    };
    let ciphertext = out
        .shared_secret_ciphertext_blob
        .ok_or_else(|| Error::crypto("AWS KMS Encapsulate returned no ciphertext"))?
        .into_inner();
    if ciphertext.len() != ciphertext_len(level) {
        return Err(Error::crypto(format!(
            "AWS KMS Encapsulate returned a {}-byte ciphertext; ML-KEM-{level} ciphertexts are \
             {} bytes",
            ciphertext.len(),
            ciphertext_len(level)
        )));
    }
    let secret = shared_secret(out.shared_secret, "Encapsulate")?;
    Ok(Encapsulation::new(ciphertext, secret))
}

pub(super) async fn decapsulate(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    ciphertext: &[u8],
) -> Result<Secret> {
    let info = kms.metadata(key).await?;
    let level = ignoring_state(&info).check_kem()?;
    check_ciphertext(level, ciphertext)?;
    let out = kms
        .client_for(key)?
        .decapsulate()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .shared_secret_ciphertext_blob(Blob::new(ciphertext))
        .encapsulation_algorithm(EncapsulationAlgorithmSpec::MlKem)
        .send()
        .await;
    match out {
        Ok(o) => shared_secret(o.shared_secret, "Decapsulate"),
        Err(e) => Err(kms.fail(e, "Decapsulate", key).await),
    }
}
