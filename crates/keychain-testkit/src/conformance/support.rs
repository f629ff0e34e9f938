//! What the checks share: key names, creating a key or learning that the backend lacks its
//! spec, bit flips, encryption contexts, and the four-way signature judge.

use super::*;

/// `PREFIX-what`.
pub fn key_name(prefix: &str, what: &str) -> String {
    format!("{prefix}-{what}")
}

pub(crate) fn key_ref(reference: &str) -> KeyRef {
    KeyRef::parse(reference).must(&format!("parsing the key reference {reference:?}"))
}

pub(crate) fn id_ref(info: &KeyInfo) -> KeyRef {
    KeyRef::key_id(&info.key_id).must("a key id reference")
}

/// Creates a key through the backend if its spec is in `capabilities().key_specs`; otherwise
/// asserts that creating it is [`Error::Unsupported`] and returns `None`.
pub async fn create_or_unsupported(kc: &Keychain, request: &CreateKeyRequest) -> Option<KeyInfo> {
    let backend = kc.backend();
    if backend.capabilities().key_specs.contains(&request.spec) {
        let info = backend.create_key(request).await.must(&format!(
            "creating a {} {} key",
            request.spec, request.usage
        ));
        assert_eq!(info.spec, request.spec, "created key has the wrong spec");
        assert_eq!(info.usage, request.usage, "created key has the wrong usage");
        Some(info)
    } else {
        assert_err!(
            format!(
                "creating a {} key, which {} does not list in capabilities().key_specs",
                request.spec,
                backend.name()
            ),
            backend.create_key(request).await,
            Error::Unsupported { .. }
        );
        None
    }
}

/// A named key of `spec` and `usage`, or `None` (asserted unsupported).
pub(crate) async fn named(
    kc: &Keychain,
    prefix: &str,
    what: &str,
    spec: KeySpec,
    usage: KeyUsage,
) -> Option<(String, KeyInfo)> {
    let name = key_name(prefix, what);
    let info =
        create_or_unsupported(kc, &CreateKeyRequest::new(spec).name(&name).usage(usage)).await?;
    Some((name, info))
}

/// The signature with one bit flipped where every encoding still parses (the last byte of
/// RSA and DER ECDSA signatures, the first byte — inside R — of Ed25519 signatures, the
/// first byte — inside the commitment hash c̃ — of ML-DSA signatures).
pub(crate) fn flipped(signature: &[u8], algorithm: SigningAlgorithm) -> Vec<u8> {
    let mut bad = signature.to_vec();
    let i = match algorithm.scheme() {
        SignatureScheme::Ed25519 | SignatureScheme::Ed25519Ph | SignatureScheme::MlDsa => 0,
        _ => bad.len().saturating_sub(1),
    };
    if let Some(b) = bad.get_mut(i) {
        *b ^= 0x01;
    }
    bad
}

pub(crate) fn flip_byte(bytes: &[u8], i: usize) -> Vec<u8> {
    let mut bad = bytes.to_vec();
    if let Some(b) = bad.get_mut(i) {
        *b ^= 0x01;
    }
    bad
}

pub(crate) fn context(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn assert_near(
    what: &str,
    actual: SystemTime,
    expected: SystemTime,
    early: Duration,
    late: Duration,
) {
    assert!(
        actual + early >= expected && actual <= expected + late,
        "{what}: {actual:?} is not within -{early:?}/+{late:?} of {expected:?}"
    );
}
