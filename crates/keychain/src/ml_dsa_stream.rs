//! ML-DSA (FIPS 204, empty context) over a streamed message or a given external μ, which
//! aws-lc cannot do: the message is hashed as it streams into μ = SHAKE256(tr ‖ 0 ‖ 0 ‖ M),
//! and RustCrypto's `ml-dsa` signs (hedged, with fresh randomness) or verifies that μ. The
//! same μ is what AWS KMS signs as `MessageType=EXTERNAL_MU`. Keys are the seed of the
//! seed-form PKCS#8 the software backend stores, so the signature is one any ML-DSA
//! implementation verifies over the whole message.

use ml_dsa::signature::Keypair;
use ml_dsa::{EncodedSignature, EncodedVerifyingKey, MlDsa44, MlDsa65, MlDsa87, MlDsaParams};
use ml_dsa::{Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::stream::MessageSource;
use crate::{Error, Result};

/// The ML-DSA seed in a seed-form PKCS#8 (what aws-lc writes); `None` for a key stored in
/// another form (expanded only), which then cannot sign a stream.
pub(crate) fn seed_from_pkcs8(level: u16, der: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    fn seed<P>(der: &[u8]) -> Option<Zeroizing<[u8; 32]>>
    where
        P: MlDsaParams + spki::AssociatedAlgorithmIdentifier<Params = der::AnyRef<'static>>,
    {
        let info = pkcs8::PrivateKeyInfoRef::try_from(der).ok()?;
        let key = SigningKey::<P>::try_from(info).ok()?;
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(key.as_seed().as_slice());
        Some(out)
    }
    match level {
        44 => seed::<MlDsa44>(der),
        65 => seed::<MlDsa65>(der),
        87 => seed::<MlDsa87>(der),
        _ => None,
    }
}

/// Streams the message into μ with the public-key hash `tr` of `key`.
fn mu<P: MlDsaParams>(
    key: &VerifyingKey<P>,
    source: &mut MessageSource<'_>,
) -> Result<impl AsRef<[u8]> + use<P>> {
    let mut failure = None;
    let mu = key.compute_mu(
        |h| {
            source
                .pass(&mut |chunk| keychain_shake::absorb(h, chunk))
                .map(|_| ())
                .map_err(|e| {
                    failure = Some(e);
                    ml_dsa::Error::new()
                })
        },
        &[],
    );
    if let Some(e) = failure {
        return Err(e);
    }
    mu.map_err(|_| Error::crypto("computing ML-DSA's μ failed"))
}

fn sign_level<P: MlDsaParams>(seed: &[u8; 32], source: &mut MessageSource<'_>) -> Result<Vec<u8>> {
    let key = signing_key::<P>(seed);
    let mu = mu(&key.verifying_key(), source)?;
    sign_mu_level(&key, mu.as_ref())
}

fn signing_key<P: MlDsaParams>(seed: &[u8; 32]) -> SigningKey<P> {
    let mut xi = Zeroizing::new(ml_dsa::Seed::default());
    xi.copy_from_slice(seed);
    SigningKey::<P>::from_seed(&xi)
}

/// Signs a 64-byte μ (hedged, with fresh randomness); any other length is refused.
fn sign_mu_level<P: MlDsaParams>(key: &SigningKey<P>, mu: &[u8]) -> Result<Vec<u8>> {
    let mu = mu
        .try_into()
        .map_err(|_| Error::invalid_input(format!("μ is {} bytes, not 64", mu.len())))?;
    let signature = key
        .expanded_key()
        .sign_mu_randomized(mu, &mut getrandom::SysRng)
        .map_err(|_| Error::crypto("ML-DSA signing failed"))?;
    Ok(signature.encode().to_vec())
}

fn sign_external_mu_level<P: MlDsaParams>(seed: &[u8; 32], mu: &[u8]) -> Result<Vec<u8>> {
    sign_mu_level(&signing_key::<P>(seed), mu)
}

fn external_mu_level<P: MlDsaParams>(
    public_key: &[u8],
    source: &mut MessageSource<'_>,
) -> Result<[u8; 64]> {
    let mu = mu(&verifying_key::<P>(public_key)?, source)?;
    mu.as_ref()
        .try_into()
        .map_err(|_| Error::crypto("μ is 64 bytes"))
}

fn verifying_key<P: MlDsaParams>(public_key: &[u8]) -> Result<VerifyingKey<P>> {
    let encoded = EncodedVerifyingKey::<P>::try_from(public_key)
        .map_err(|_| Error::invalid_input("the ML-DSA public key has the wrong length"))?;
    Ok(VerifyingKey::<P>::decode(&encoded))
}

/// Whether `signature` is a valid signature of `key` over the 64-byte μ.
fn verify_mu_level<P: MlDsaParams>(key: &VerifyingKey<P>, mu: &[u8], signature: &[u8]) -> bool {
    let Ok(encoded) = EncodedSignature::<P>::try_from(signature) else {
        return false;
    };
    let Some(signature) = Signature::<P>::decode(&encoded) else {
        return false;
    };
    let Ok(mu) = mu.try_into() else {
        return false;
    };
    key.verify_mu(mu, &signature)
}

fn verify_external_mu_level<P: MlDsaParams>(
    public_key: &[u8],
    mu: &[u8],
    signature: &[u8],
) -> Result<bool> {
    Ok(verify_mu_level(
        &verifying_key::<P>(public_key)?,
        mu,
        signature,
    ))
}

fn verify_level<P: MlDsaParams>(
    public_key: &[u8],
    source: &mut MessageSource<'_>,
    signature: &[u8],
) -> Result<bool> {
    let key = verifying_key::<P>(public_key)?;
    // The message is read whatever the signature, so that a read error is reported as one.
    let mu = mu(&key, source)?;
    Ok(verify_mu_level(&key, mu.as_ref(), signature))
}

/// Runs `$f::<MlDsaXX>($args)` for the parameter set `$level` (44, 65, 87); another level is
/// an error.
macro_rules! per_level {
    ($level:expr, $f:ident($($arg:expr),*)) => {
        match $level {
            44 => $f::<MlDsa44>($($arg),*),
            65 => $f::<MlDsa65>($($arg),*),
            87 => $f::<MlDsa87>($($arg),*),
            level => Err(Error::invalid_input(format!("ML-DSA-{level} does not exist"))),
        }
    };
}

/// ML-DSA's external μ of the message `source` yields (read once) for the ML-DSA key of
/// `level` whose encoded public key is given: SHAKE256(SHAKE256(pk, 64) ‖ 0 ‖ 0 ‖ M, 64), the
/// empty context.
pub(crate) fn external_mu(
    level: u16,
    public_key: &[u8],
    source: &mut MessageSource<'_>,
) -> Result<[u8; 64]> {
    per_level!(level, external_mu_level(public_key, source))
}

/// Signs a 64-byte external μ with the ML-DSA key of `level` whose seed is given: the
/// signature is an ordinary ML-DSA signature of the message μ was computed from.
pub(crate) fn sign_external_mu(level: u16, seed: &[u8; 32], mu: &[u8]) -> Result<Vec<u8>> {
    per_level!(level, sign_external_mu_level(seed, mu))
}

/// Verifies an ML-DSA signature against a 64-byte external μ. `Ok(false)` for a wrong or
/// malformed signature; `Err` for a malformed public key.
pub(crate) fn verify_external_mu(
    level: u16,
    public_key: &[u8],
    mu: &[u8],
    signature: &[u8],
) -> Result<bool> {
    per_level!(level, verify_external_mu_level(public_key, mu, signature))
}

/// Signs the message `source` yields (read once) with the ML-DSA key of `level` (44, 65, 87)
/// whose seed is given.
pub(crate) fn sign(level: u16, seed: &[u8; 32], source: &mut MessageSource<'_>) -> Result<Vec<u8>> {
    per_level!(level, sign_level(seed, source))
}

/// Verifies an ML-DSA signature over the message `source` yields (read once). `Ok(false)` for
/// a wrong or malformed signature; `Err` for a malformed public key or a read error.
pub(crate) fn verify(
    level: u16,
    public_key: &[u8],
    source: &mut MessageSource<'_>,
    signature: &[u8],
) -> Result<bool> {
    per_level!(level, verify_level(public_key, source, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{
        KeyPair, ML_DSA_44, ML_DSA_44_SIGNING, ML_DSA_65, ML_DSA_65_SIGNING, ML_DSA_87,
        ML_DSA_87_SIGNING, PqdsaKeyPair, UnparsedPublicKey,
    };

    /// A key aws-lc made signs a stream with ml-dsa; aws-lc verifies that signature over the
    /// whole message, and the streaming verifier accepts aws-lc's own signatures.
    #[test]
    fn streamed_signatures_verify_with_aws_lc_and_back() {
        let cases = [
            (44u16, &ML_DSA_44_SIGNING, &ML_DSA_44),
            (65, &ML_DSA_65_SIGNING, &ML_DSA_65),
            (87, &ML_DSA_87_SIGNING, &ML_DSA_87),
        ];
        for (level, signing, verifying) in cases {
            let key = PqdsaKeyPair::generate(signing).unwrap();
            let pkcs8 = key.to_pkcs8v1().unwrap();
            let seed = seed_from_pkcs8(level, pkcs8.as_ref()).expect("aws-lc writes the seed");
            let raw_public = key.public_key().as_ref().to_vec();
            let message: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
            let streamed = sign(level, &seed, &mut MessageSource::memory(&message)).unwrap();
            let public = UnparsedPublicKey::new(verifying, &raw_public);
            assert!(public.verify(&message, &streamed).is_ok(), "ML-DSA-{level}");
            let mut once = &message[..];
            let mut source = MessageSource::once(&mut once);
            assert!(verify(level, &raw_public, &mut source, &streamed).unwrap());
            let mut theirs = vec![0u8; signing.signature_len()];
            let n = key.sign(&message, &mut theirs).unwrap();
            let source = &mut MessageSource::memory(&message);
            assert!(verify(level, &raw_public, source, &theirs[..n]).unwrap());
            let source = &mut MessageSource::memory(&message[1..]);
            assert!(!verify(level, &raw_public, source, &streamed).unwrap());
            let source = &mut MessageSource::memory(&message);
            assert!(!verify(level, &raw_public, source, &streamed[1..]).unwrap());
        }
        assert!(seed_from_pkcs8(65, b"not DER").is_none());
    }
}
