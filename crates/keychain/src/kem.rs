//! ML-KEM (FIPS 203) key encapsulation: the shared secret and ciphertext an encapsulation
//! yields, encapsulating to a public key (aws-lc), and the private half the software backend
//! holds (RustCrypto `ml-kem`, because aws-lc can neither rebuild a decapsulation key from its
//! 64-byte seed nor give back the public half of a reloaded one).
//!
//! A private key is stored as the seed-only PKCS#8 of the IETF LAMPS ML-KEM key format: the
//! 64-byte seed d ‖ z in `[0] IMPLICIT OCTET STRING`, which OpenSSL 3.5 and Python
//! `cryptography` read and write.

use aws_lc_rs::kem::{self as lc, EncapsulationKey};
use ml_kem::kem::Decapsulate;
use ml_kem::{MlKem512, MlKem768, MlKem1024, Seed};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::secret::Secret;
use crate::{Error, Result};

/// What encapsulating to an ML-KEM public key yields: the ciphertext to send to the holder of
/// the private key, and the 32-byte shared secret both sides end up with.
#[derive(Debug)]
#[non_exhaustive]
pub struct Encapsulation {
    /// The ciphertext (KMS `SharedSecretCiphertextBlob`): 768, 1088 or 1568 bytes for
    /// ML-KEM-512, -768 and -1024.
    pub ciphertext: Vec<u8>,
    /// The 32-byte shared secret, zeroized on drop.
    pub shared_secret: Secret,
}

impl Encapsulation {
    /// Bundles a ciphertext and its shared secret.
    pub fn new(ciphertext: Vec<u8>, shared_secret: Secret) -> Self {
        Encapsulation {
            ciphertext,
            shared_secret,
        }
    }
}

/// The length of an ML-KEM ciphertext (FIPS 203, table 3).
pub(crate) fn ciphertext_len(level: u16) -> usize {
    match level {
        512 => 768,
        768 => 1088,
        _ => 1568,
    }
}

/// The length of an encoded ML-KEM public (encapsulation) key (FIPS 203, table 3).
pub(crate) fn public_key_len(level: u16) -> usize {
    match level {
        512 => 800,
        768 => 1184,
        _ => 1568,
    }
}

/// The shared secret's length, whatever the parameter set.
pub(crate) const SHARED_SECRET_LEN: usize = 32;

fn aws_lc_algorithm(level: u16) -> &'static lc::Algorithm<lc::AlgorithmId> {
    match level {
        512 => &lc::ML_KEM_512,
        768 => &lc::ML_KEM_768,
        _ => &lc::ML_KEM_1024,
    }
}

/// Encapsulates a fresh shared secret to the ML-KEM-`level` public key `public_key` (the raw
/// FIPS 203 encoding inside the SPKI).
pub(crate) fn encapsulate(level: u16, public_key: &[u8]) -> Result<Encapsulation> {
    let key = EncapsulationKey::new(aws_lc_algorithm(level), public_key)
        .map_err(|_| Error::invalid_input(format!("the ML-KEM-{level} public key is invalid")))?;
    let (ciphertext, secret) = key
        .encapsulate()
        .map_err(|_| Error::crypto(format!("ML-KEM-{level} encapsulation failed")))?;
    if secret.as_ref().len() != SHARED_SECRET_LEN
        || ciphertext.as_ref().len() != ciphertext_len(level)
    {
        return Err(Error::crypto(format!(
            "ML-KEM-{level} encapsulation gave a result of the wrong size"
        )));
    }
    Ok(Encapsulation::new(
        ciphertext.as_ref().to_vec(),
        Secret::new(secret.as_ref().to_vec()),
    ))
}

/// Checks that `ciphertext` has the length ML-KEM-`level` ciphertexts have; any other length
/// is refused (KMS answers `InvalidCiphertextException`).
pub(crate) fn check_ciphertext(level: u16, ciphertext: &[u8]) -> Result<()> {
    let want = ciphertext_len(level);
    if ciphertext.len() == want {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "ciphertext is {} bytes; ML-KEM-{level} ciphertexts are {want} bytes",
            ciphertext.len()
        )))
    }
}

/// An ML-KEM private (decapsulation) key of any parameter set.
pub(crate) enum DecapsulationKey {
    L512(Box<ml_kem::DecapsulationKey<MlKem512>>),
    L768(Box<ml_kem::DecapsulationKey<MlKem768>>),
    L1024(Box<ml_kem::DecapsulationKey<MlKem1024>>),
}

impl std::fmt::Debug for DecapsulationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DecapsulationKey(ML-KEM-{}, redacted)", self.level())
    }
}

impl DecapsulationKey {
    /// Builds the key of `level` (512, 768, 1024) from its 64-byte seed d ‖ z.
    fn from_seed(level: u16, seed: &[u8; 64]) -> Result<Self> {
        let seed = Zeroizing::new(Seed::from(*seed));
        Ok(match level {
            512 => DecapsulationKey::L512(Box::new(ml_kem::DecapsulationKey::from_seed(*seed))),
            768 => DecapsulationKey::L768(Box::new(ml_kem::DecapsulationKey::from_seed(*seed))),
            1024 => DecapsulationKey::L1024(Box::new(ml_kem::DecapsulationKey::from_seed(*seed))),
            _ => {
                return Err(Error::invalid_input(format!(
                    "ML-KEM-{level} does not exist"
                )));
            }
        })
    }

    /// A new key of `level` from the OS random source, as seed-only PKCS#8 DER.
    pub(crate) fn generate_pkcs8(level: u16) -> Result<Secret> {
        let random = Zeroizing::new(crate::random::random_bytes(64)?);
        let mut seed = Zeroizing::new([0u8; 64]);
        seed.copy_from_slice(&random);
        Self::from_seed(level, &seed)?.to_pkcs8()
    }

    /// Reads a seed-only PKCS#8 of ML-KEM-`level`; another parameter set, another form (the
    /// expanded key) or malformed DER is an error naming what was expected.
    pub(crate) fn from_pkcs8(level: u16, der: &[u8]) -> Result<Self> {
        let rejected = |e: pkcs8::Error| {
            Error::crypto(format!(
                "stored ML-KEM-{level} key rejected (a seed-only PKCS#8 is expected): {e}"
            ))
        };
        Ok(match level {
            512 => DecapsulationKey::L512(Box::new(
                ml_kem::DecapsulationKey::from_pkcs8_der(der).map_err(rejected)?,
            )),
            768 => DecapsulationKey::L768(Box::new(
                ml_kem::DecapsulationKey::from_pkcs8_der(der).map_err(rejected)?,
            )),
            1024 => DecapsulationKey::L1024(Box::new(
                ml_kem::DecapsulationKey::from_pkcs8_der(der).map_err(rejected)?,
            )),
            _ => {
                return Err(Error::invalid_input(format!(
                    "ML-KEM-{level} does not exist"
                )));
            }
        })
    }

    /// The parameter set: 512, 768 or 1024.
    pub(crate) fn level(&self) -> u16 {
        match self {
            DecapsulationKey::L512(_) => 512,
            DecapsulationKey::L768(_) => 768,
            DecapsulationKey::L1024(_) => 1024,
        }
    }

    /// The seed-only PKCS#8 DER of the key.
    pub(crate) fn to_pkcs8(&self) -> Result<Secret> {
        let der = match self {
            DecapsulationKey::L512(k) => k.to_pkcs8_der(),
            DecapsulationKey::L768(k) => k.to_pkcs8_der(),
            DecapsulationKey::L1024(k) => k.to_pkcs8_der(),
        }
        .map_err(|_| Error::crypto("encoding the ML-KEM key as PKCS#8 failed"))?;
        Ok(Secret::new(der.as_bytes().to_vec()))
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub(crate) fn public_key_der(&self) -> Result<Vec<u8>> {
        let der = match self {
            DecapsulationKey::L512(k) => k.encapsulation_key().to_public_key_der(),
            DecapsulationKey::L768(k) => k.encapsulation_key().to_public_key_der(),
            DecapsulationKey::L1024(k) => k.encapsulation_key().to_public_key_der(),
        }
        .map_err(|_| Error::crypto("encoding the ML-KEM public key failed"))?;
        Ok(der.into_vec())
    }

    /// Recovers the shared secret from `ciphertext`. A ciphertext of the right length always
    /// yields 32 bytes: one made for another key, or altered, yields a pseudo-random secret
    /// (FIPS 203 implicit rejection), so the two sides must confirm they agree before use.
    pub(crate) fn decapsulate(&self, ciphertext: &[u8]) -> Result<Secret> {
        let level = self.level();
        check_ciphertext(level, ciphertext)?;
        let bad = || Error::invalid_input(format!("not an ML-KEM-{level} ciphertext"));
        let secret = match self {
            DecapsulationKey::L512(k) => k.decapsulate(&ciphertext.try_into().map_err(|_| bad())?),
            DecapsulationKey::L768(k) => k.decapsulate(&ciphertext.try_into().map_err(|_| bad())?),
            DecapsulationKey::L1024(k) => k.decapsulate(&ciphertext.try_into().map_err(|_| bad())?),
        };
        let secret = Zeroizing::new(secret);
        Ok(Secret::new(secret.to_vec()))
    }
}

// The two engines check each other: aws-lc encapsulates, `ml-kem` decapsulates.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_lc_encapsulates_ml_kem_decapsulates_every_level() {
        for level in [512u16, 768, 1024] {
            let pkcs8 = DecapsulationKey::generate_pkcs8(level).unwrap();
            // Seed-only PKCS#8: version, AlgorithmIdentifier, [0] 64-byte seed.
            assert!(pkcs8.len() < 100, "{level}: {} bytes", pkcs8.len());
            let key = DecapsulationKey::from_pkcs8(level, pkcs8.expose()).unwrap();
            assert_eq!(key.to_pkcs8().unwrap().expose(), pkcs8.expose());
            let spki = key.public_key_der().unwrap();
            let public = crate::PublicKey::from_der(&spki).unwrap();
            assert_eq!(public.raw_key().len(), public_key_len(level));
            let sent = encapsulate(level, public.raw_key()).unwrap();
            assert_eq!(sent.ciphertext.len(), ciphertext_len(level));
            assert_eq!(sent.shared_secret.len(), SHARED_SECRET_LEN);
            let got = key.decapsulate(&sent.ciphertext).unwrap();
            assert_eq!(got.expose(), sent.shared_secret.expose());
            // Implicit rejection: a flipped bit gives another secret, not an error.
            let mut altered = sent.ciphertext.clone();
            altered[0] ^= 1;
            let other = key.decapsulate(&altered).unwrap();
            assert_ne!(other.expose(), sent.shared_secret.expose());
            assert!(key.decapsulate(&sent.ciphertext[1..]).is_err());
        }
    }

    #[test]
    fn a_key_of_another_level_is_refused() {
        let pkcs8 = DecapsulationKey::generate_pkcs8(768).unwrap();
        assert!(DecapsulationKey::from_pkcs8(1024, pkcs8.expose()).is_err());
        assert!(DecapsulationKey::from_pkcs8(768, b"not der").is_err());
    }
}
