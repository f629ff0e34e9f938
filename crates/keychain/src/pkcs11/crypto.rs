//! The cryptographic operations, each one PKCS#11 mechanism on the token:
//!
//! | operation | mechanism | input |
//! |---|---|---|
//! | RSASSA-PKCS1-v1_5 | `CKM_RSA_PKCS` | DigestInfo ‖ digest |
//! | RSASSA-PSS | `CKM_RSA_PKCS_PSS` (MGF1 of the same hash, salt = hash length) | digest |
//! | ECDSA | `CKM_ECDSA` (r ‖ s, converted to DER) | digest |
//! | Ed25519 | `CKM_EDDSA` (pure) | message |
//! | RSA-OAEP decrypt | `CKM_RSA_PKCS_OAEP` (MGF1 of the same hash, no label) | ciphertext |
//! | AES-256-GCM | `CKM_AES_GCM` (96-bit IV from `C_GenerateRandom`, 128-bit tag) | below |
//! | HMAC | `CKM_SHA{224,256,384,512}_HMAC` | message |
//!
//! A raw message for a digest algorithm is hashed here first (so any length is signed), then
//! signed as its digest. RSA-OAEP encryption uses only the public key and runs locally.
//!
//! An AES-GCM ciphertext names its key and carries its IV:
//! `"kc" 0x11 0x01 ‖ len(CKA_ID) (1 byte) ‖ CKA_ID ‖ IV (12) ‖ ciphertext ‖ tag (16)`; the
//! authenticated data is everything before the ciphertext followed by the encryption
//! context's canonical encoding, so neither the key id, the IV nor the context can be
//! changed without the token refusing to decrypt.

use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::session::Session;

use super::keys::Found;
use super::session::CallResult;
use crate::algorithm::{EncryptionAlgorithm, Hash, MacAlgorithm, Message, SignatureScheme};
use crate::data_key::{EncryptionContext, encode_context};
use crate::signature::{ecdsa_raw_to_der, normalize_low_s};
use crate::{Error, KeyFamily, SigningAlgorithm};

/// The first bytes of every AES-GCM ciphertext of this backend.
pub(crate) const CIPHERTEXT_MAGIC: [u8; 4] = [b'k', b'c', 0x11, 0x01];
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The most plaintext one symmetric encryption takes (as AWS KMS's Encrypt).
const MAX_PLAINTEXT: usize = 4096;

fn hash_mechanism(hash: Hash) -> (MechanismType, PkcsMgfType) {
    match hash {
        Hash::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        Hash::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        Hash::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
    }
}

/// The DER DigestInfo prefix of a hash (RFC 8017 §9.2 note 1).
fn digest_info_prefix(hash: Hash) -> &'static [u8] {
    match hash {
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// Signs on the token (the key's usage and the algorithm already checked).
pub(crate) fn sign(
    session: &Session,
    found: &Found,
    message: Message<'_>,
    algorithm: SigningAlgorithm,
) -> CallResult<Vec<u8>> {
    let name = found.info.display_name();
    match algorithm.scheme() {
        SignatureScheme::Ed25519 => {
            message.check(algorithm)?;
            let params = EddsaParams::new(EddsaSignatureScheme::Pure);
            Ok(session.sign(&Mechanism::Eddsa(params), found.handle, message.bytes())?)
        }
        SignatureScheme::RsaPkcs1v15 => {
            let digest = message.to_digest(algorithm)?;
            let mut input = digest_info_prefix(algorithm.hash()).to_vec();
            input.extend_from_slice(&digest);
            Ok(session.sign(&Mechanism::RsaPkcs, found.handle, &input)?)
        }
        SignatureScheme::RsaPss => {
            let digest = message.to_digest(algorithm)?;
            let (hash_alg, mgf) = hash_mechanism(algorithm.hash());
            let params = PkcsPssParams {
                hash_alg,
                mgf,
                s_len: (digest.len() as u64).into(),
            };
            Ok(session.sign(&Mechanism::RsaPkcsPss(params), found.handle, &digest)?)
        }
        SignatureScheme::Ecdsa => {
            let digest = message.to_digest(algorithm)?;
            let KeyFamily::Ec(curve) = found.info.spec.family() else {
                return Err(Error::key_usage(&name, "ECDSA needs an EC key").into());
            };
            let raw = session.sign(&Mechanism::Ecdsa, found.handle, &digest)?;
            let der = ecdsa_raw_to_der(&raw, curve)?;
            // secp256k1 signatures are low-S (as AWS KMS and every blockchain want them);
            // the token does not promise it.
            if curve == crate::Curve::Secp256k1 {
                return Ok(normalize_low_s(&der, curve)?);
            }
            Ok(der)
        }
        SignatureScheme::Ed25519Ph | SignatureScheme::MlDsa => Err(Error::unsupported(
            super::errors::BACKEND,
            format!("{algorithm} signatures"),
        )
        .into()),
    }
}

/// Decrypts an RSA-OAEP ciphertext on the token.
pub(crate) fn rsa_decrypt(
    session: &Session,
    found: &Found,
    ciphertext: &[u8],
    algorithm: EncryptionAlgorithm,
) -> CallResult<Vec<u8>> {
    let (hash_alg, mgf) = match algorithm {
        EncryptionAlgorithm::RsaesOaepSha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        EncryptionAlgorithm::RsaesOaepSha256 => hash_mechanism(Hash::Sha256),
        EncryptionAlgorithm::SymmetricDefault => {
            return Err(Error::invalid_input("SYMMETRIC_DEFAULT is not RSA-OAEP").into());
        }
    };
    let params = PkcsOaepParams::new(hash_alg, mgf, PkcsOaepSource::empty());
    match session.decrypt(&Mechanism::RsaPkcsOaep(params), found.handle, ciphertext) {
        Ok(plaintext) => Ok(plaintext),
        // SoftHSM decrypts OAEP with SHA-1 only and says so with CKR_ARGUMENTS_BAD.
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::ArgumentsBad, _))
            if algorithm != EncryptionAlgorithm::RsaesOaepSha1 =>
        {
            Err(Error::unsupported(
                super::errors::BACKEND,
                format!("{algorithm} decryption on this token (CKR_ARGUMENTS_BAD)"),
            )
            .into())
        }
        Err(e) if refused_ciphertext(&e) => Err(Error::crypto(format!(
            "the ciphertext does not decrypt with {} as {algorithm} (altered, or made for \
             another key or algorithm)",
            found.info.display_name()
        ))
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// Whether a decryption error means the ciphertext is wrong. Modules differ: SoftHSM answers
/// a failed OAEP decoding with `CKR_ARGUMENTS_BAD` and a failed GCM tag with
/// `CKR_GENERAL_ERROR`, others with `CKR_ENCRYPTED_DATA_INVALID`.
fn refused_ciphertext(error: &cryptoki::error::Error) -> bool {
    use cryptoki::error::RvError;
    matches!(
        error,
        cryptoki::error::Error::Pkcs11(
            RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::DataInvalid
                | RvError::DataLenRange
                | RvError::ArgumentsBad
                | RvError::GeneralError
                | RvError::FunctionFailed,
            _
        )
    )
}

/// The header of a ciphertext: magic, the key's id and the IV.
fn header(id: &[u8], iv: &[u8]) -> CallResult<Vec<u8>> {
    let id_len = u8::try_from(id.len())
        .map_err(|_| Error::invalid_input("the key's CKA_ID is longer than 255 bytes"))?;
    let mut h = CIPHERTEXT_MAGIC.to_vec();
    h.push(id_len);
    h.extend_from_slice(id);
    h.extend_from_slice(iv);
    Ok(h)
}

fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend(encode_context(context));
    aad
}

/// Refuses an AES key with an empty `CKA_ID`: a ciphertext names its key by id, and one
/// naming none could never be decrypted.
pub(crate) fn check_sealable(found: &Found) -> crate::Result<()> {
    if !found.id.is_empty() {
        return Ok(());
    }
    Err(Error::InvalidKeyState {
        key: found.info.display_name(),
        state: "no CKA_ID".to_string(),
        message: "a ciphertext names its key by CKA_ID, so a key without one cannot encrypt; \
                  give the key an id (e.g. pkcs11-tool --set-id)"
            .to_string(),
    })
}

/// Encrypts with an AES key on the token (AES-256-GCM, fresh random IV).
pub(crate) fn seal(
    session: &Session,
    found: &Found,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> CallResult<Vec<u8>> {
    if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
        return Err(Error::invalid_input(format!(
            "plaintext is {} bytes; direct encryption takes 1 to {MAX_PLAINTEXT} bytes (use \
             envelope encryption for more)",
            plaintext.len()
        ))
        .into());
    }
    check_sealable(found)?;
    let mut iv = session.generate_random_vec(IV_LEN as u32)?;
    let header = header(&found.id, &iv)?;
    let aad = aad(&header, context);
    let params = GcmParams::new(&mut iv, &aad, ((TAG_LEN * 8) as u64).into())?;
    let sealed = session.encrypt(&Mechanism::AesGcm(params), found.handle, plaintext)?;
    let mut out = header;
    out.extend(sealed);
    Ok(out)
}

/// A parsed AES-GCM ciphertext of this backend.
pub(crate) struct Sealed<'a> {
    pub(crate) id: &'a [u8],
    header: &'a [u8],
    iv: &'a [u8],
    body: &'a [u8],
}

/// Splits a ciphertext into its parts; `None` when it is not one of ours.
pub(crate) fn parse_sealed(ciphertext: &[u8]) -> Option<Sealed<'_>> {
    let rest = ciphertext.strip_prefix(&CIPHERTEXT_MAGIC[..])?;
    let (&id_len, rest) = rest.split_first()?;
    let id_len = usize::from(id_len);
    if id_len == 0 || rest.len() < id_len + IV_LEN + TAG_LEN {
        return None;
    }
    let (id, rest) = rest.split_at(id_len);
    let (iv, body) = rest.split_at(IV_LEN);
    let header_len = CIPHERTEXT_MAGIC.len() + 1 + id_len + IV_LEN;
    Some(Sealed {
        id,
        header: &ciphertext[..header_len],
        iv,
        body,
    })
}

/// Decrypts an AES-GCM ciphertext on the token; a wrong key, context or any altered byte is
/// [`Error::Crypto`].
pub(crate) fn open(
    session: &Session,
    found: &Found,
    sealed: &Sealed<'_>,
    context: &EncryptionContext,
) -> CallResult<Vec<u8>> {
    let mut iv = sealed.iv.to_vec();
    let aad = aad(sealed.header, context);
    let params = GcmParams::new(&mut iv, &aad, ((TAG_LEN * 8) as u64).into())?;
    match session.decrypt(&Mechanism::AesGcm(params), found.handle, sealed.body) {
        Ok(plaintext) => Ok(plaintext),
        Err(e) if refused_ciphertext(&e) => Err(Error::crypto(format!(
            "the ciphertext does not decrypt with {} (altered, or another encryption \
                 context)",
            found.info.display_name()
        ))
        .into()),
        Err(e) => Err(e.into()),
    }
}

fn mac_mechanism(algorithm: MacAlgorithm) -> Mechanism<'static> {
    match algorithm {
        MacAlgorithm::HmacSha224 => Mechanism::Sha224Hmac,
        MacAlgorithm::HmacSha256 => Mechanism::Sha256Hmac,
        MacAlgorithm::HmacSha384 => Mechanism::Sha384Hmac,
        MacAlgorithm::HmacSha512 => Mechanism::Sha512Hmac,
    }
}

/// An HMAC on the token.
pub(crate) fn mac(
    session: &Session,
    found: &Found,
    message: &[u8],
    algorithm: MacAlgorithm,
) -> CallResult<Vec<u8>> {
    crate::software::check_mac_message(message)?;
    Ok(session.sign(&mac_mechanism(algorithm), found.handle, message)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphertexts_parse_back_and_refuse_garbage() {
        let id = [7u8; 16];
        let mut c = header(&id, &[1; IV_LEN]).unwrap_or_else(|_| panic!("header"));
        c.extend([9; TAG_LEN + 3]);
        let s = parse_sealed(&c).unwrap_or_else(|| panic!("parse"));
        assert_eq!(s.id, &id);
        assert_eq!(s.iv, &[1; IV_LEN]);
        assert_eq!(s.body.len(), TAG_LEN + 3);
        assert!(parse_sealed(&c[..c.len() - 4]).is_none());
        assert!(parse_sealed(b"kc\x11\x01").is_none());
        assert!(parse_sealed(b"kc\x11\x01\x00").is_none());
        assert!(parse_sealed(&[0xff; 64]).is_none());
    }
}
