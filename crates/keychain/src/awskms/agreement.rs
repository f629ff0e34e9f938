//! ECDH on AWS KMS: `DeriveSharedSecret` (algorithm `ECDH`), with the key's usage and the
//! peer's public key checked against cached metadata before any call (KMS checks the key's
//! live state), and KMS's answer checked for the length the curve gives a shared secret.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::KeyAgreementAlgorithmSpec;

use super::AwsKmsBackend;
use super::crypto::ignoring_state;
use crate::agreement::{KeyAgreementAlgorithm, peer_public_key};
use crate::key_ref::KeyRef;
use crate::secret::Secret;
use crate::{Error, Result};

fn algorithm_to_sdk(algorithm: KeyAgreementAlgorithm) -> KeyAgreementAlgorithmSpec {
    match algorithm {
        KeyAgreementAlgorithm::Ecdh => KeyAgreementAlgorithmSpec::Ecdh,
    }
}

pub(super) async fn derive_shared_secret(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    algorithm: KeyAgreementAlgorithm,
    peer: &[u8],
) -> Result<Secret> {
    let info = kms.metadata(key).await?;
    let curve = ignoring_state(&info).check_key_agreement()?;
    let peer = peer_public_key(&info, curve, peer)?;
    let out = kms
        .client_for(key)?
        .derive_shared_secret()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .key_agreement_algorithm(algorithm_to_sdk(algorithm))
        .public_key(Blob::new(peer.to_der()))
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => return Err(kms.fail(e, "DeriveSharedSecret", key).await),
    };
    let secret = Secret::new(
        out.shared_secret
            .ok_or_else(|| Error::crypto("AWS KMS DeriveSharedSecret returned no shared secret"))?
            .into_inner(),
    );
    if secret.len() != curve.field_len() {
        return Err(Error::crypto(format!(
            "AWS KMS DeriveSharedSecret returned a {}-byte shared secret; {} secrets are {} \
             bytes",
            secret.len(),
            curve.jose_name(),
            curve.field_len()
        )));
    }
    Ok(secret)
}
