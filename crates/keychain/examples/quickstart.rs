//! The main job on the embedded default: a keystore in a temporary directory, a key of every
//! kind, a signature of each verified, a round trip of encryption, a MAC. Prints what it did.
//!
//! Run: `cargo run -p keychain --example quickstart`

use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{EncryptionContext, Hash, KeyParams, Keychain, MacAlgorithm, Message, Result};

#[tokio::main]
async fn main() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| keychain::Error::io("creating a temp dir", e))?;
    let config = SoftwareConfig::new(dir.path().join("keystore"))
        .password("quickstart password (use KEYCHAIN_PASSWORD in real life)");
    let kc = Keychain::new(SoftwareBackend::open(config).await?);
    println!("keystore: {}", dir.path().join("keystore").display());

    let signing = [
        ("rsa-2048", KeyParams::rsa(2048)),
        ("rsa-3072", KeyParams::rsa(3072)),
        ("ecdsa-p256", KeyParams::ecdsa(keychain::Curve::P256)),
        ("ecdsa-p384", KeyParams::ecdsa(keychain::Curve::P384)),
        ("ecdsa-p521", KeyParams::ecdsa(keychain::Curve::P521)),
        ("secp256k1", KeyParams::ecdsa(keychain::Curve::Secp256k1)),
        ("ed25519", KeyParams::ed25519()),
    ];
    let message = b"Hello, keychain!";
    for (name, params) in &signing {
        let info = kc.generate_key(name, params).await?;
        let algorithm = kc.default_signing_algorithm(name).await?;
        let signed = kc.sign_reader(name, &message[..], Some(algorithm)).await?;
        let ok = kc
            .verify_reader(name, &message[..], &signed.signature, signed.algorithm)
            .await?;
        println!(
            "created alias/{name:<12} {:<22} signed with {:<26} {:>4} bytes  verified: {ok}",
            info.spec.to_string(),
            signed.algorithm.to_string(),
            signed.signature.len()
        );
        if !ok {
            return Err(keychain::Error::crypto(format!(
                "{name}: signature did not verify"
            )));
        }
    }

    // Sign a SHA-256 digest; the algorithm follows from the key.
    let digest = Hash::Sha256.digest(message);
    let sig = kc.sign("rsa-2048", &digest, Hash::Sha256).await?;
    let pk = kc.public_key("alias/rsa-2048").await?;
    let ok = pk.verify(
        Message::Digest(&digest),
        &sig,
        keychain::SigningAlgorithm::RsassaPkcs1V15Sha256,
    )?;
    println!("sign(digest, SHA-256) on rsa-2048 -> PKCS#1 v1.5, verified locally: {ok}");

    kc.generate_key("data-key", &KeyParams::symmetric()).await?;
    let mut context = EncryptionContext::new();
    context.insert("purpose".into(), "quickstart".into());
    let ciphertext = kc.encrypt("data-key", b"attack at dawn", &context).await?;
    let plaintext = kc.decrypt(&ciphertext, &context).await?;
    println!(
        "encrypted 14 bytes under alias/data-key -> {} byte ciphertext; decrypted equal: {}",
        ciphertext.len(),
        plaintext.expose() == b"attack at dawn"
    );

    kc.generate_key("mac-key", &KeyParams::hmac(256)).await?;
    let key = keychain::KeyRef::parse("mac-key")?;
    let mac = kc
        .backend()
        .generate_mac(&key, message, MacAlgorithm::HmacSha256)
        .await?;
    let ok = kc
        .backend()
        .verify_mac(&key, message, &mac, MacAlgorithm::HmacSha256)
        .await?;
    println!(
        "HMAC_SHA_256 over the message: {} bytes, verified: {ok}",
        mac.len()
    );

    let listed = kc
        .backend()
        .list_keys(&keychain::PageRequest::default())
        .await?;
    println!("keys in the keystore: {}", listed.items.len());
    kc.close().await?;
    Ok(())
}
