//! The data path of the software keystore: sign and verify (with a fast path that takes no
//! lock when the key's material is already loaded), public keys, encrypt and decrypt, data
//! keys, MACs, ML-KEM and ECDH.

use std::sync::Arc;

use super::keystore::{Keystore, StoredKey, mrk_hex};
use super::material::Material;
use crate::agreement::KeyAgreementAlgorithm;
use crate::algorithm::{
    DataKeySpec, EncryptionAlgorithm, MacAlgorithm, Message, SignatureScheme, SigningAlgorithm,
};
use crate::data_key::{DataKey, EncryptionContext, encode_context};
use crate::kem::Encapsulation;
use crate::key::KeyInfo;
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::random::random_bytes;
use crate::secret::Secret;
use crate::{Error, Result};

/// The first bytes of a symmetric ciphertext of this keystore (then the key's UUID and the
/// material version, all bound into the AEAD's associated data).
const CIPHERTEXT_MAGIC: &[u8; 4] = b"KCS\x01";
/// The same for a multi-Region key: its 16 bytes are the 32 hex digits after `mrk-`.
const CIPHERTEXT_MAGIC_MRK: &[u8; 4] = b"KCM\x01";

/// The header of a symmetric ciphertext under `key_id`: magic and the id's 16 bytes.
fn id_header(key_id: &str) -> Result<Vec<u8>> {
    if let Some(hex) = mrk_hex(key_id) {
        let mut header = CIPHERTEXT_MAGIC_MRK.to_vec();
        for pair in hex.as_bytes().chunks(2) {
            let digits = std::str::from_utf8(pair).map_err(Error::crypto)?;
            header.push(u8::from_str_radix(digits, 16).map_err(Error::crypto)?);
        }
        return Ok(header);
    }
    let uuid = uuid::Uuid::parse_str(key_id).map_err(Error::crypto)?;
    let mut header = CIPHERTEXT_MAGIC.to_vec();
    header.extend_from_slice(uuid.as_bytes());
    Ok(header)
}

/// The key id a ciphertext's header names, if it is a header of ours.
fn header_key_id(ciphertext: &[u8]) -> Option<String> {
    if ciphertext.len() < 24 {
        return None;
    }
    let (magic, id) = (&ciphertext[..4], &ciphertext[4..20]);
    if magic == CIPHERTEXT_MAGIC {
        return uuid::Uuid::from_slice(id).ok().map(|u| u.to_string());
    }
    if magic == CIPHERTEXT_MAGIC_MRK {
        return Some(format!("mrk-{}", crate::text::hex_lower(id)));
    }
    None
}
/// The longest message a MAC is computed over (the AWS KMS limit).
const MAX_MAC_MESSAGE: usize = 4096;

/// MAC messages are 1 to [`MAX_MAC_MESSAGE`] bytes, as in AWS KMS: the software backend
/// mirrors KMS, so what works here works there.
pub(crate) fn check_mac_message(message: &[u8]) -> Result<()> {
    if message.is_empty() || message.len() > MAX_MAC_MESSAGE {
        return Err(Error::invalid_input(format!(
            "MACs are computed over 1 to {MAX_MAC_MESSAGE} bytes (as in AWS KMS), not {}",
            message.len()
        )));
    }
    Ok(())
}

impl Keystore {
    pub(crate) fn sign(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        let stored = self.current(key)?;
        stored.info.check_signing(algorithm)?;
        message.check(algorithm)?;
        self.material(&stored, stored.info.versions)?
            .sign(message, algorithm)
    }

    /// The current material of a key allowed to sign with `algorithm`, for signing a streamed
    /// message outside the blocking pool.
    pub(crate) fn signing_material(
        &self,
        key: &KeyRef,
        algorithm: SigningAlgorithm,
    ) -> Result<Arc<Material>> {
        let stored = self.current(key)?;
        stored.info.check_signing(algorithm)?;
        self.material(&stored, stored.info.versions)
    }

    /// Signs without touching the lock and without loading key material: `None` when the
    /// key's material is not loaded yet, maintenance (a due deletion or rotation) is pending,
    /// or the algorithm is slow (RSA), so the caller takes the blocking path. What this does
    /// is a few small reads of files that were just read and one EC or Ed25519 signature:
    /// tens of microseconds, cheap enough to run on an async task.
    pub(crate) fn sign_if_ready(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Option<Result<Vec<u8>>> {
        if !matches!(
            algorithm.scheme(),
            SignatureScheme::Ecdsa | SignatureScheme::Ed25519 | SignatureScheme::Ed25519Ph
        ) {
            return None;
        }
        let material = self.ready_material(key)?;
        Some(material.and_then(|(stored, material)| {
            stored.info.check_signing(algorithm)?;
            message.check(algorithm)?;
            material.sign(message, algorithm)
        }))
    }

    /// Verifies on the fast path (see [`Keystore::sign_if_ready`]); verification is cheap
    /// for every algorithm.
    pub(crate) fn verify_if_ready(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Option<Result<bool>> {
        let material = self.ready_material(key)?;
        Some(material.and_then(|(stored, material)| {
            stored.info.check_signing(algorithm)?;
            material.public_key()?.verify(message, signature, algorithm)
        }))
    }

    /// The key's id, spec, usage and state (what a data-path call checks) without a trip
    /// through the blocking pool: the same small reads as [`Keystore::sign_if_ready`] (a stat
    /// shows the parsed metadata is still the file's; the first time, the small file is
    /// read). `None` when a deletion or rotation has come due (which takes the keystore's
    /// lock).
    pub(crate) fn metadata_if_ready(&self, key: &KeyRef) -> Option<Result<KeyInfo>> {
        let stored = match self.resolve(key).and_then(|id| self.read_stored(&id)) {
            Ok(stored) => stored,
            Err(e) => return Some(Err(e)),
        };
        if self.needs_maintenance(&stored) {
            return None;
        }
        // Aliases are DescribeKey's, not the data path's; the name is kept only when the
        // reference was that alias, just read (another may have taken it since creation).
        let mut info = stored.info;
        info.aliases = Vec::new();
        if info.name.as_deref() != key.alias_name() {
            info.name = None;
        }
        Some(Ok(info))
    }

    /// The key and its already-loaded current material, if no lock or decryption is needed.
    fn ready_material(&self, key: &KeyRef) -> Option<Result<(StoredKey, Arc<Material>)>> {
        let id = match self.resolve(key) {
            Ok(id) => id,
            Err(e) => return Some(Err(e)),
        };
        let stored = match self.read_stored(&id) {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        if self.needs_maintenance(&stored) {
            return None;
        }
        let material = self
            .materials
            .lock()
            .ok()?
            .get(&(id, stored.info.versions))
            .cloned()?;
        Some(Ok((stored, material)))
    }

    pub(crate) fn public_key(&self, key: &KeyRef) -> Result<PublicKey> {
        let stored = self.current(key)?;
        if !stored.info.spec.is_asymmetric() {
            return Err(Error::key_usage(
                stored.info.display_name(),
                format!("{} keys have no public key", stored.info.spec),
            ));
        }
        self.material(&stored, stored.info.versions)?.public_key()
    }

    pub(crate) fn verify(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        let stored = self.current(key)?;
        stored.info.check_signing(algorithm)?;
        self.material(&stored, stored.info.versions)?
            .public_key()?
            .verify(message, signature, algorithm)
    }

    fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
        let mut aad = header.to_vec();
        aad.extend(encode_context(context));
        aad
    }

    fn seal_symmetric(
        &self,
        stored: &StoredKey,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let info = &stored.info;
        let mut header = id_header(&info.key_id)?;
        header.extend_from_slice(&info.versions.to_be_bytes());
        let sealed = self
            .material(stored, info.versions)?
            .seal(plaintext, &Self::aad(&header, context))?;
        header.extend(sealed);
        Ok(header)
    }

    pub(crate) fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let stored = self.current(key)?;
        stored.info.check_encryption(algorithm)?;
        match algorithm {
            EncryptionAlgorithm::SymmetricDefault => {
                if plaintext.len() > 4096 {
                    return Err(Error::invalid_input(format!(
                        "plaintext is {} bytes; direct encryption takes at most 4096 \
                         (use envelope encryption for more)",
                        plaintext.len()
                    )));
                }
                self.seal_symmetric(&stored, plaintext, context)
            }
            EncryptionAlgorithm::RsaesOaepSha1 | EncryptionAlgorithm::RsaesOaepSha256 => {
                if !context.is_empty() {
                    return Err(Error::invalid_input(
                        "RSA encryption takes no encryption context",
                    ));
                }
                self.material(&stored, stored.info.versions)?
                    .public_key()?
                    .encrypt(plaintext, algorithm)
            }
        }
    }

    /// The key id a symmetric ciphertext's header names, if it is one of ours.
    pub(crate) fn ciphertext_key_id(ciphertext: &[u8]) -> Option<String> {
        header_key_id(ciphertext)
    }

    pub(crate) fn decrypt(
        &self,
        key: Option<&KeyRef>,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Secret> {
        match algorithm {
            EncryptionAlgorithm::SymmetricDefault => {
                let bad = || Error::invalid_input("not a ciphertext of this keystore (bad header)");
                let id = header_key_id(ciphertext).ok_or_else(bad)?;
                let version = u32::from_be_bytes(ciphertext[20..24].try_into().map_err(|_| bad())?);
                let blob_key = KeyRef::key_id(&id)?;
                let stored = self.current(&blob_key)?;
                if let Some(k) = key {
                    let wanted = self.resolve(k)?;
                    if wanted != stored.info.key_id {
                        return Err(Error::invalid_input(format!(
                            "the ciphertext was encrypted under key {}, not {k}",
                            stored.info.key_id
                        )));
                    }
                }
                stored.info.check_encryption(algorithm)?;
                if version == 0 || version > stored.info.versions {
                    return Err(Error::crypto("ciphertext names an unknown key version"));
                }
                let aad = Self::aad(&ciphertext[..24], context);
                self.material(&stored, version)?
                    .open(&ciphertext[24..], &aad)
            }
            EncryptionAlgorithm::RsaesOaepSha1 | EncryptionAlgorithm::RsaesOaepSha256 => {
                let key = key.ok_or_else(|| {
                    Error::invalid_input("RSA ciphertexts need the key to be named")
                })?;
                let stored = self.current(key)?;
                stored.info.check_encryption(algorithm)?;
                self.material(&stored, stored.info.versions)?
                    .decrypt_oaep(ciphertext, algorithm)
            }
        }
    }

    /// Encapsulates to the ML-KEM key's public half (what anyone with the public key can do).
    pub(crate) fn encapsulate(&self, key: &KeyRef) -> Result<Encapsulation> {
        let stored = self.current(key)?;
        stored.info.check_kem()?;
        self.material(&stored, stored.info.versions)?
            .public_key()?
            .encapsulate()
    }

    /// Decapsulates with the ML-KEM key's private half; the ciphertext's length is checked
    /// before the key is loaded.
    pub(crate) fn decapsulate(&self, key: &KeyRef, ciphertext: &[u8]) -> Result<Secret> {
        let stored = self.current(key)?;
        let level = stored.info.check_kem()?;
        crate::kem::check_ciphertext(level, ciphertext)?;
        self.material(&stored, stored.info.versions)?
            .decapsulate(ciphertext)
    }

    /// ECDH with the KEY_AGREEMENT key's private half: the usage, the state and the peer's
    /// public key are checked before the key is loaded.
    pub(crate) fn derive_shared_secret(
        &self,
        key: &KeyRef,
        algorithm: KeyAgreementAlgorithm,
        peer_public_key: &[u8],
    ) -> Result<Secret> {
        let stored = self.current(key)?;
        let curve = stored.info.check_key_agreement()?;
        let peer = crate::agreement::peer_public_key(&stored.info, curve, peer_public_key)?;
        self.material(&stored, stored.info.versions)?
            .agree(algorithm, &peer)
    }

    pub(crate) fn generate_data_key(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let stored = self.current(key)?;
        stored
            .info
            .check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
        let plaintext = Secret::new(random_bytes(spec.len())?);
        let ciphertext = self.seal_symmetric(&stored, plaintext.expose(), context)?;
        Ok(DataKey {
            key_id: stored.info.key_id.clone(),
            plaintext,
            ciphertext,
        })
    }

    pub(crate) fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        let stored = self.current(key)?;
        stored.info.check_mac(algorithm)?;
        check_mac_message(message)?;
        self.material(&stored, stored.info.versions)?.mac(message)
    }

    pub(crate) fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<bool> {
        let stored = self.current(key)?;
        stored.info.check_mac(algorithm)?;
        check_mac_message(message)?;
        self.material(&stored, stored.info.versions)?
            .verify_mac(message, mac)
    }
}
