//! ML-KEM checks: encapsulation to the public key and by the backend, decapsulation by the
//! backend, judged by Python `cryptography` where it has the parameter set (768, 1024), and
//! the refusals of a wrong-length ciphertext, another key type and another usage.

use super::support::*;
use super::*;

/// ML-KEM-512: see [`kem_spec`].
pub async fn kem_ml_kem_512(kc: &Keychain, prefix: &str) {
    kem_spec(kc, prefix, KeySpec::MlKem512).await;
}

/// ML-KEM-768: see [`kem_spec`].
pub async fn kem_ml_kem_768(kc: &Keychain, prefix: &str) {
    kem_spec(kc, prefix, KeySpec::MlKem768).await;
}

/// ML-KEM-1024: see [`kem_spec`].
pub async fn kem_ml_kem_1024(kc: &Keychain, prefix: &str) {
    kem_spec(kc, prefix, KeySpec::MlKem1024).await;
}

/// One ENCAPSULATE_DECAPSULATE key of `spec` (asserted unsupported where the backend does not
/// list it): its public key has the spec; a secret encapsulated locally
/// (`Keychain::encapsulate`), by the backend (`Backend::encapsulate`) and, for ML-KEM-768 and
/// -1024, by Python `cryptography` decapsulates in the backend to the same 32 bytes; a
/// ciphertext with a flipped bit decapsulates to another secret (implicit rejection), one of
/// the wrong length is [`Error::InvalidInput`]; the key cannot sign, and the spec cannot be
/// created for signing.
pub async fn kem_spec(kc: &Keychain, prefix: &str, spec: KeySpec) {
    let KeyFamily::MlKem(level) = spec.family() else {
        panic!("{spec} is not an ML-KEM spec");
    };
    let backend = kc.backend();
    let Some((name, info)) = named(kc, prefix, "kem", spec, KeyUsage::EncapsulateDecapsulate).await
    else {
        return;
    };
    let key = key_ref(&name);
    let public_key = backend.public_key(&key).await.must("public key");
    assert_eq!(public_key.key_spec().must("public key spec"), spec);
    assert_eq!(
        backend.public_key(&id_ref(&info)).await.must("by id"),
        public_key,
        "the key's id and its alias give different public keys"
    );

    let local = kc.encapsulate(&name).await.must("Keychain::encapsulate");
    let remote = backend.encapsulate(&key).await.must("Backend::encapsulate");
    let mut sent = vec![("local", local), ("backend", remote)];
    if level != 512 {
        let answer = &crate::python_kem_batch(&[
            serde_json::json!({"op": "encapsulate", "pem": public_key.to_pem()}),
        ])[0];
        sent.push((
            "Python cryptography",
            keychain::Encapsulation::new(
                crate::b64_field(answer, "ciphertext"),
                Secret::new(crate::b64_field(answer, "secret")),
            ),
        ));
    }
    for (who, encapsulation) in &sent {
        assert_eq!(
            encapsulation.shared_secret.len(),
            32,
            "{who}: secret length"
        );
        let got = backend
            .decapsulate(&key, &encapsulation.ciphertext)
            .await
            .must(&format!("decapsulating a {who} ciphertext"));
        assert_eq!(
            got.expose(),
            encapsulation.shared_secret.expose(),
            "{spec}: a ciphertext encapsulated by {who} decapsulates to another secret"
        );
        let via_handle = kc
            .decapsulate(&name, &encapsulation.ciphertext)
            .await
            .must("Keychain::decapsulate");
        assert_eq!(via_handle.expose(), got.expose());
    }
    let (_, first) = &sent[0];
    let altered = flip_byte(&first.ciphertext, first.ciphertext.len() / 2);
    let other = backend
        .decapsulate(&key, &altered)
        .await
        .must("decapsulating an altered ciphertext");
    assert_eq!(other.len(), 32, "implicit rejection yields 32 bytes");
    assert_ne!(
        other.expose(),
        first.shared_secret.expose(),
        "{spec}: an altered ciphertext decapsulated to the original secret"
    );
    let short = &first.ciphertext[..first.ciphertext.len() - 1];
    assert_err!(
        format!("{spec}: decapsulating a short ciphertext"),
        backend.decapsulate(&key, short).await,
        Error::InvalidInput { .. }
    );
    assert_err!(
        format!("{spec}: signing with an ML-KEM key"),
        backend
            .sign(&key, Message::Raw(b"m"), SigningAlgorithm::MlDsaShake256)
            .await,
        Error::InvalidKeyUsage { .. }
    );
    assert_err!(
        format!("{spec}: an ML-KEM key for SIGN_VERIFY"),
        backend
            .create_key(
                &CreateKeyRequest::new(spec)
                    .name(key_name(prefix, "kem-sign"))
                    .usage(KeyUsage::SignVerify)
            )
            .await,
        Error::InvalidInput { .. }
    );
}

/// A key that is not ML-KEM neither encapsulates nor decapsulates
/// ([`Error::InvalidKeyUsage`]), on the handle and the backend alike.
pub async fn kem_wrong_key_type(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, _)) = named(kc, prefix, "ec", KeySpec::EccNistP256, KeyUsage::SignVerify).await
    else {
        return;
    };
    let key = key_ref(&name);
    assert_err!(
        "Keychain::encapsulate with a P-256 key",
        kc.encapsulate(&name).await,
        Error::InvalidKeyUsage { .. }
    );
    assert_err!(
        "Backend::encapsulate with a P-256 key",
        backend.encapsulate(&key).await,
        Error::InvalidKeyUsage { .. }
    );
    assert_err!(
        "Backend::decapsulate with a P-256 key",
        backend.decapsulate(&key, &[0u8; 1088]).await,
        Error::InvalidKeyUsage { .. }
    );
}
