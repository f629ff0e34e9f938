//! Key agreement (ECDH) checks: the secret a backend derives from its KEY_AGREEMENT key and a
//! peer's public key is the one Python `cryptography` derives from the peer's private key and
//! the backend key's public key; the refusals of a peer key that is malformed, of another type
//! or on another curve, of a key of another usage or spec, and of a disabled key.

use keychain::{Curve, KeyAgreementAlgorithm};

use super::support::*;
use super::*;

const ECDH: KeyAgreementAlgorithm = KeyAgreementAlgorithm::Ecdh;

/// P-256: see [`agreement_spec`].
pub async fn agreement_ecdh_p256(kc: &Keychain, prefix: &str) {
    agreement_spec(kc, prefix, KeySpec::EccNistP256).await;
}

/// P-384: see [`agreement_spec`].
pub async fn agreement_ecdh_p384(kc: &Keychain, prefix: &str) {
    agreement_spec(kc, prefix, KeySpec::EccNistP384).await;
}

/// P-521: see [`agreement_spec`].
pub async fn agreement_ecdh_p521(kc: &Keychain, prefix: &str) {
    agreement_spec(kc, prefix, KeySpec::EccNistP521).await;
}

/// A KEY_AGREEMENT key of `spec` named `PREFIX-what`, or `None` when the backend has no key
/// agreement: a spec it does not list, or a backend that refuses KEY_AGREEMENT keys as
/// [`Error::Unsupported`] (which must then refuse DeriveSharedSecret the same way). A backend
/// that creates such keys must derive with them.
async fn agreement_key(
    kc: &Keychain,
    prefix: &str,
    what: &str,
    spec: KeySpec,
) -> Option<(String, KeyInfo)> {
    let backend = kc.backend();
    if !backend.capabilities().key_specs.contains(&spec) {
        return named(kc, prefix, what, spec, KeyUsage::KeyAgreement).await;
    }
    let name = key_name(prefix, what);
    let request = CreateKeyRequest::new(spec)
        .name(&name)
        .usage(KeyUsage::KeyAgreement);
    match backend.create_key(&request).await {
        Ok(info) => {
            assert_eq!(info.usage, KeyUsage::KeyAgreement, "created key's usage");
            Some((name, info))
        }
        Err(Error::Unsupported { .. }) => {
            let peer = judge_public_key("P-256");
            assert_err!(
                format!(
                    "DeriveSharedSecret on {}, which makes no KEY_AGREEMENT keys",
                    backend.name()
                ),
                backend
                    .derive_shared_secret(&key_ref(&name), ECDH, &peer)
                    .await,
                Error::Unsupported { .. }
            );
            None
        }
        Err(e) => panic!("creating a {spec} KEY_AGREEMENT key: unexpected error {e:?} ({e})"),
    }
}

/// A fresh public key of `kind` (`P-256`, `P-384`, `ed25519`…) made by Python `cryptography`,
/// as DER SPKI.
fn judge_public_key(kind: &str) -> Vec<u8> {
    let answer =
        &crate::python_ecdh_batch(&[serde_json::json!({"op": "public_key", "kind": kind})])[0];
    crate::b64_field(answer, "public_key")
}

/// One KEY_AGREEMENT key of `spec` (asserted unsupported where the backend does not list it):
/// its public key has the spec; two peers whose keys Python `cryptography` makes each get,
/// from the backend (by name and by id) and from `Keychain::derive_shared_secret`, the secret
/// `cryptography` computes with the peer's private key and the backend key's public key — the
/// curve's field size, and another secret for each peer. A peer key on another curve, of
/// another type, truncated, off its curve or no DER at all is [`Error::InvalidInput`]; the
/// key cannot sign.
pub async fn agreement_spec(kc: &Keychain, prefix: &str, spec: KeySpec) {
    let KeyFamily::Ec(curve) = spec.family() else {
        panic!("{spec} is not an EC spec");
    };
    let backend = kc.backend();
    let Some((name, info)) = agreement_key(kc, prefix, "ecdh", spec).await else {
        return;
    };
    let key = key_ref(&name);
    let public_key = backend.public_key(&key).await.must("public key");
    assert_eq!(public_key.key_spec().must("public key spec"), spec);

    let other_curve = if curve == Curve::P256 {
        "P-384"
    } else {
        "P-256"
    };
    let answers = crate::python_ecdh_batch(&[
        serde_json::json!({"op": "agree", "pem": public_key.to_pem()}),
        serde_json::json!({"op": "agree", "pem": public_key.to_pem()}),
        serde_json::json!({"op": "public_key", "kind": other_curve}),
        serde_json::json!({"op": "public_key", "kind": "ed25519"}),
    ]);
    let mut secrets = Vec::new();
    for (i, answer) in answers[..2].iter().enumerate() {
        let peer = crate::b64_field(answer, "public_key");
        let expected = crate::b64_field(answer, "secret");
        assert_eq!(
            expected.len(),
            curve.field_len(),
            "{spec}: cryptography's secret is the x-coordinate"
        );
        let what = format!("{spec}: DeriveSharedSecret with Python peer {i}");
        let got = backend
            .derive_shared_secret(&key, ECDH, &peer)
            .await
            .must(&what);
        assert_eq!(
            got.expose(),
            expected.as_slice(),
            "{what}: the backend's secret is not the one cryptography derives"
        );
        let by_id = backend
            .derive_shared_secret(&id_ref(&info), ECDH, &peer)
            .await
            .must(&format!("{what}, the key named by id"));
        assert_eq!(by_id.expose(), expected.as_slice(), "{what}: by id");
        let peer_key = PublicKey::from_der(&peer).must("cryptography's public key");
        let via_handle = kc
            .derive_shared_secret(&name, ECDH, &peer_key)
            .await
            .must(&format!("{what}, through Keychain::derive_shared_secret"));
        assert_eq!(via_handle.expose(), expected.as_slice(), "{what}: handle");
        secrets.push(expected);
    }
    assert_ne!(secrets[0], secrets[1], "{spec}: two peers got one secret");

    let peer = crate::b64_field(&answers[0], "public_key");
    let mut off_curve = peer.clone();
    if let Some(last) = off_curve.last_mut() {
        *last ^= 0x01;
    }
    let refused: [(&str, Vec<u8>); 5] = [
        (
            "a peer key on another curve",
            crate::b64_field(&answers[2], "public_key"),
        ),
        (
            "an Ed25519 peer key",
            crate::b64_field(&answers[3], "public_key"),
        ),
        ("a truncated peer key", peer[..peer.len() - 1].to_vec()),
        ("a peer point off its curve", off_curve),
        ("a peer key that is no DER", b"not a public key".to_vec()),
    ];
    for (what, bytes) in &refused {
        assert_err!(
            format!("{spec}: DeriveSharedSecret with {what}"),
            backend.derive_shared_secret(&key, ECDH, bytes).await,
            Error::InvalidInput { .. }
        );
    }
    let other = PublicKey::from_der(&refused[0].1).must("the other curve's key");
    assert_err!(
        format!("{spec}: Keychain::derive_shared_secret with a peer on another curve"),
        kc.derive_shared_secret(&name, ECDH, &other).await,
        Error::InvalidInput { .. }
    );
    let algorithm = spec
        .default_signing_algorithm()
        .unwrap_or_else(|| panic!("{spec} has no signing algorithm"));
    assert_err!(
        format!("{spec}: signing with a KEY_AGREEMENT key"),
        backend.sign(&key, Message::Raw(b"m"), algorithm).await,
        Error::InvalidKeyUsage { .. }
    );
}

/// On a backend with key agreement, keys that do not do it refuse it: a SIGN_VERIFY P-256 key
/// and a symmetric key ([`Error::InvalidKeyUsage`], on the backend and the handle), a key that
/// does not exist ([`Error::NotFound`]); and no key is created for KEY_AGREEMENT on secp256k1,
/// Ed25519 or RSA ([`Error::InvalidInput`]).
pub async fn agreement_refusals(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    if agreement_key(kc, prefix, "probe", KeySpec::EccNistP256)
        .await
        .is_none()
    {
        return;
    }
    let peer = judge_public_key("P-256");
    let peer_key = PublicKey::from_der(&peer).must("cryptography's P-256 key");
    if let Some((name, _)) = named(
        kc,
        prefix,
        "signer",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        assert_err!(
            "DeriveSharedSecret with a SIGN_VERIFY P-256 key",
            backend
                .derive_shared_secret(&key_ref(&name), ECDH, &peer)
                .await,
            Error::InvalidKeyUsage { .. }
        );
        assert_err!(
            "Keychain::derive_shared_secret with a SIGN_VERIFY P-256 key",
            kc.derive_shared_secret(&name, ECDH, &peer_key).await,
            Error::InvalidKeyUsage { .. }
        );
    }
    if let Some((name, _)) = named(
        kc,
        prefix,
        "aes",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        assert_err!(
            "DeriveSharedSecret with a symmetric key",
            backend
                .derive_shared_secret(&key_ref(&name), ECDH, &peer)
                .await,
            Error::InvalidKeyUsage { .. }
        );
    }
    assert_err!(
        "DeriveSharedSecret with a key that does not exist",
        backend
            .derive_shared_secret(&key_ref(&key_name(prefix, "ghost")), ECDH, &peer)
            .await,
        Error::NotFound { .. }
    );
    for spec in [
        KeySpec::EccSecgP256k1,
        KeySpec::EccNistEdwards25519,
        KeySpec::Rsa2048,
    ] {
        assert_err!(
            format!("a {spec} key for KEY_AGREEMENT"),
            backend
                .create_key(
                    &CreateKeyRequest::new(spec)
                        .name(key_name(prefix, &format!("ka-{spec}")))
                        .usage(KeyUsage::KeyAgreement)
                )
                .await,
            Error::InvalidInput { .. }
        );
    }
}

/// A disabled KEY_AGREEMENT key, and one pending deletion, refuse to derive
/// ([`Error::InvalidKeyState`]); enabled again, the key derives the secret `cryptography`
/// computes.
pub async fn agreement_disabled_key(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, _)) = agreement_key(kc, prefix, "ecdh", KeySpec::EccNistP256).await else {
        return;
    };
    let key = key_ref(&name);
    let public_key = backend.public_key(&key).await.must("public key");
    let answer = &crate::python_ecdh_batch(&[
        serde_json::json!({"op": "agree", "pem": public_key.to_pem()}),
    ])[0];
    let peer = crate::b64_field(answer, "public_key");
    let expected = crate::b64_field(answer, "secret");
    let peer_key = PublicKey::from_der(&peer).must("cryptography's key");

    backend.disable_key(&key).await.must("DisableKey");
    assert_err!(
        "DeriveSharedSecret with a disabled key",
        backend.derive_shared_secret(&key, ECDH, &peer).await,
        Error::InvalidKeyState { .. }
    );
    assert_err!(
        "Keychain::derive_shared_secret with a disabled key",
        kc.derive_shared_secret(&name, ECDH, &peer_key).await,
        Error::InvalidKeyState { .. }
    );
    backend.enable_key(&key).await.must("EnableKey");
    let got = backend
        .derive_shared_secret(&key, ECDH, &peer)
        .await
        .must("DeriveSharedSecret with the key enabled again");
    assert_eq!(got.expose(), expected.as_slice(), "enabled again");

    backend
        .schedule_key_deletion(&key, 7)
        .await
        .must("ScheduleKeyDeletion");
    assert_err!(
        "DeriveSharedSecret with a key pending deletion",
        backend.derive_shared_secret(&key, ECDH, &peer).await,
        Error::InvalidKeyState { .. }
    );
}
