//! MAC checks: every HMAC spec, its verification, and the message limits.

use super::support::*;
use super::*;

/// Every HMAC spec: MACs have the hash's length, are deterministic, verify; a flipped bit,
/// a truncation, another message or another key's MAC do not; another algorithm is
/// [`Error::InvalidKeyUsage`]; a message of 0 or more than 4096 bytes is
/// [`Error::InvalidInput`] (the AWS KMS limit, kept by every backend), 4096 bytes work.
pub async fn mac_hmac(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let mut macs = Vec::new();
    for (spec, algorithm, len) in [
        (KeySpec::Hmac224, MacAlgorithm::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlgorithm::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlgorithm::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlgorithm::HmacSha512, 64),
    ] {
        let Some((name, _)) = named(
            kc,
            prefix,
            &format!("mac-{len}"),
            spec,
            KeyUsage::GenerateVerifyMac,
        )
        .await
        else {
            continue;
        };
        let key = key_ref(&name);
        let message = format!("conformance MAC message {prefix}").into_bytes();
        let mac = backend
            .generate_mac(&key, &message, algorithm)
            .await
            .must("GenerateMac");
        assert_eq!(mac.len(), len, "{spec}: MAC length");
        let again = backend
            .generate_mac(&key, &message, algorithm)
            .await
            .must("GenerateMac");
        assert_eq!(mac, again, "{spec}: HMAC must be deterministic");
        let verify = |m: Vec<u8>, msg: Vec<u8>| {
            let key = key.clone();
            async move {
                backend
                    .verify_mac(&key, &msg, &m, algorithm)
                    .await
                    .must("VerifyMac")
            }
        };
        assert!(
            verify(mac.clone(), message.clone()).await,
            "{spec}: its own MAC does not verify"
        );
        assert!(
            !verify(flip_byte(&mac, 0), message.clone()).await,
            "{spec}: a flipped MAC verifies"
        );
        assert!(
            !verify(flip_byte(&mac, len - 1), message.clone()).await,
            "{spec}: a flipped MAC verifies"
        );
        assert!(
            !verify(mac[..len - 1].to_vec(), message.clone()).await,
            "{spec}: a truncated MAC verifies"
        );
        assert!(
            !verify(mac.clone(), flip_byte(&message, 3)).await,
            "{spec}: the MAC verifies another message"
        );
        // AWS KMS MACs 1 to 4096 bytes, and every backend keeps that limit.
        assert_err!(
            format!("{spec}: MAC of an empty message"),
            backend.generate_mac(&key, b"", algorithm).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("{spec}: verifying a MAC of an empty message"),
            backend.verify_mac(&key, b"", &mac, algorithm).await,
            Error::InvalidInput { .. }
        );
        assert_err!(
            format!("{spec}: MAC of 4097 bytes"),
            backend.generate_mac(&key, &[7u8; 4097], algorithm).await,
            Error::InvalidInput { .. }
        );
        let longest = backend
            .generate_mac(&key, &[7u8; 4096], algorithm)
            .await
            .must("MAC of 4096 bytes");
        assert_ne!(longest, mac);
        for &other in MacAlgorithm::ALL {
            if other != algorithm {
                assert_err!(
                    format!("{spec} with {other}"),
                    backend.generate_mac(&key, &message, other).await,
                    Error::InvalidKeyUsage { .. }
                );
                assert_err!(
                    format!("{spec} verifying with {other}"),
                    backend.verify_mac(&key, &message, &mac, other).await,
                    Error::InvalidKeyUsage { .. }
                );
            }
        }
        macs.push((spec, key, algorithm, message, mac));
    }
    // Two keys of the same spec give different MACs; one key's MAC fails under the other.
    if let Some((spec, key, algorithm, message, mac)) = macs.first() {
        let Some((other, _)) =
            named(kc, prefix, "mac-twin", *spec, KeyUsage::GenerateVerifyMac).await
        else {
            return;
        };
        let other = key_ref(&other);
        let twin = backend
            .generate_mac(&other, message, *algorithm)
            .await
            .must("GenerateMac");
        assert_ne!(&twin, mac, "{spec}: two keys give the same MAC");
        assert!(
            !backend
                .verify_mac(&other, message, mac, *algorithm)
                .await
                .must("VerifyMac"),
            "{spec}: one key's MAC verifies under another"
        );
        assert!(
            backend
                .verify_mac(key, message, mac, *algorithm)
                .await
                .must("VerifyMac")
        );
    }
}
