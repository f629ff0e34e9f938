//! ML-DSA's external μ (KMS `MessageType=EXTERNAL_MU`) on the software backend: μ computed
//! by Python (`hashlib.shake_256` over the key `cryptography` reads) equals the μ
//! `PublicKey::ml_dsa_external_mu` streams; a μ signed as `Message::ExternalMu` is an
//! ordinary ML-DSA signature of the message, which Python `cryptography` verifies over the
//! message; wrong lengths and other algorithms are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keychain::{
    CreateKeyRequest, ErrorKind, KeySpec, Keychain, Message, MessageSource, SigningAlgorithm,
};
use keychain_testkit::{
    SignatureCase, python_ml_dsa_external_mu, python_verify_batch, temp_software_backend,
};

const ML_DSA: SigningAlgorithm = SigningAlgorithm::MlDsaShake256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_mu_signature_is_a_signature_of_the_message() {
    let (_dir, backend) = temp_software_backend().await;
    let kc = Keychain::new(backend);
    let message: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut cases = Vec::new();
    for spec in [KeySpec::MlDsa44, KeySpec::MlDsa65, KeySpec::MlDsa87] {
        let name = spec.as_str().to_ascii_lowercase().replace('_', "-");
        kc.create_key(&CreateKeyRequest::new(spec).name(&name))
            .await
            .unwrap();
        let public = kc.public_key(&name).await.unwrap();
        let pem = public.to_pem();
        let mu = python_ml_dsa_external_mu(&pem, &message);
        assert_eq!(
            public
                .ml_dsa_external_mu(&mut MessageSource::memory(&message))
                .unwrap()
                .as_slice(),
            mu.as_slice(),
            "{spec}: our streamed μ is Python's"
        );
        let signature = kc
            .sign_with(&name, Message::ExternalMu(&mu), ML_DSA)
            .await
            .unwrap();
        assert!(
            public
                .verify(Message::Raw(&message), &signature, ML_DSA)
                .unwrap()
        );
        assert!(
            public
                .verify(Message::ExternalMu(&mu), &signature, ML_DSA)
                .unwrap()
        );
        assert!(
            kc.verify(&name, Message::ExternalMu(&mu), &signature, ML_DSA)
                .await
                .unwrap()
        );
        let mut flipped = signature.clone();
        flipped[0] ^= 1;
        assert!(
            !public
                .verify(Message::ExternalMu(&mu), &flipped, ML_DSA)
                .unwrap()
        );
        for signature in [signature, flipped] {
            cases.push(SignatureCase {
                public_key_pem: pem.clone(),
                algorithm: ML_DSA,
                data: message.clone(),
                prehashed: false,
                signature,
            });
        }
    }
    let verdicts = python_verify_batch(&cases);
    assert_eq!(
        verdicts,
        [true, false, true, false, true, false],
        "Python cryptography's verdicts over the message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mu_of_the_wrong_length_or_for_another_algorithm_is_refused() {
    let (_dir, backend) = temp_software_backend().await;
    let kc = Keychain::new(backend);
    for (name, spec) in [("dsa", KeySpec::MlDsa65), ("ec", KeySpec::EccNistP256)] {
        kc.create_key(&CreateKeyRequest::new(spec).name(name))
            .await
            .unwrap();
    }
    let err = kc
        .sign_with("dsa", Message::ExternalMu(&[0u8; 63]), ML_DSA)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("64 bytes"), "{err}");
    let err = kc
        .sign_with(
            "ec",
            Message::ExternalMu(&[0u8; 64]),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let ec = kc.public_key("ec").await.unwrap();
    assert!(
        ec.ml_dsa_external_mu(&mut MessageSource::memory(b"m"))
            .is_err()
    );
    // A 64-byte μ given as a digest is refused, not taken as μ.
    let err = kc
        .sign_with("dsa", Message::Digest(&[0u8; 64]), ML_DSA)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}
