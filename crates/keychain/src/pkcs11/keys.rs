//! Keys as PKCS#11 objects: creating them, finding them by name (`CKA_LABEL`) or id
//! (`CKA_ID`), describing them from their attributes, listing, destroying, and reading the
//! public half.
//!
//! A key is one object (an AES or HMAC secret key) or a pair (private and public key) sharing
//! `CKA_ID` and `CKA_LABEL`. Keys we create get a random 16-byte `CKA_ID`, shown as a UUID,
//! and their name as `CKA_LABEL`; a key made by another tool keeps its id, shown in hex. The
//! token is the only record: spec and usage are read back from the attributes
//! (`CKA_KEY_TYPE`, `CKA_MODULUS`, `CKA_EC_PARAMS`, `CKA_VALUE_LEN`, `CKA_SIGN`,
//! `CKA_DECRYPT`…), so another process or tool sees the same keys.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::Decode;
use der::Encode;
use der::asn1::{ObjectIdentifier, OctetStringRef};

use super::session::CallResult;
use crate::key::{
    CreateKeyRequest, Curve, KeyFamily, KeyInfo, KeyOrigin, KeySpec, KeyState, KeyUsage,
};
use crate::key_ref::{KeyRef, KeyTarget};
use crate::public_key::PublicKey;
use crate::{Error, MacAlgorithm, Result};

const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_SECP256K1: &str = "1.3.132.0.10";
const OID_ED25519: &str = "1.3.101.112";

/// A key found on the token: its main object (the private or secret key), what it is, and
/// the attributes that matter for using it.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) handle: ObjectHandle,
    pub(crate) id: Vec<u8>,
    /// The raw `CKA_LABEL` (empty when the key has none): with the id, it pairs a private
    /// object with its public one.
    pub(crate) label: Vec<u8>,
    pub(crate) info: KeyInfo,
    pub(crate) sensitive: bool,
    pub(crate) extractable: bool,
}

impl Found {
    /// Refuses a key whose secret can be read off the token: a private or secret key that is
    /// not `CKA_SENSITIVE`, or is `CKA_EXTRACTABLE`, is not what an HSM key promises.
    pub(crate) fn check_protected(&self) -> Result<()> {
        if self.sensitive && !self.extractable {
            return Ok(());
        }
        Err(Error::InvalidKeyState {
            key: self.info.display_name(),
            state: if self.sensitive {
                "extractable".to_string()
            } else {
                "not sensitive".to_string()
            },
            message: "its secret can be read off the token (CKA_SENSITIVE false or \
                      CKA_EXTRACTABLE true); keychain uses only keys the token keeps secret"
                .to_string(),
        })
    }
}

/// The id string of a `CKA_ID`: a UUID for 16 bytes, else lowercase hex.
pub(crate) fn id_string(id: &[u8]) -> String {
    match uuid::Uuid::from_slice(id) {
        Ok(u) => u.hyphenated().to_string(),
        Err(_) => crate::text::hex_lower(id),
    }
}

/// The `CKA_ID` a key id string names (a UUID, or hex digits).
pub(crate) fn id_bytes(id: &str) -> Result<Vec<u8>> {
    if let Ok(u) = uuid::Uuid::parse_str(id) {
        return Ok(u.as_bytes().to_vec());
    }
    let bad = || {
        Error::invalid_input(format!(
            "PKCS#11 key id {:?} is neither a UUID nor hex digits (CKA_ID)",
            id.chars().take(80).collect::<String>()
        ))
    };
    if id.is_empty() || !id.len().is_multiple_of(2) || id.len() > 512 {
        return Err(bad());
    }
    (0..id.len())
        .step_by(2)
        .map(|i| {
            id.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

fn oid(s: &str) -> Result<ObjectIdentifier> {
    ObjectIdentifier::new(s).map_err(Error::crypto)
}

/// The DER `CKA_EC_PARAMS` of a curve (its named-curve OID).
pub(crate) fn ec_params(curve: Curve) -> Result<Vec<u8>> {
    let s = match curve {
        Curve::P256 => OID_P256,
        Curve::P384 => OID_P384,
        Curve::P521 => OID_P521,
        Curve::Secp256k1 => OID_SECP256K1,
        Curve::Ed25519 => OID_ED25519,
    };
    oid(s)?.to_der().map_err(Error::crypto)
}

/// The curve of DER `CKA_EC_PARAMS` (a named-curve OID, or the printable string
/// `edwards25519` some modules use).
fn curve_of(params: &[u8]) -> Option<Curve> {
    if let Ok(o) = <ObjectIdentifier>::from_der(params) {
        let s = o.to_string();
        return match s.as_str() {
            OID_P256 => Some(Curve::P256),
            OID_P384 => Some(Curve::P384),
            OID_P521 => Some(Curve::P521),
            OID_SECP256K1 => Some(Curve::Secp256k1),
            OID_ED25519 => Some(Curve::Ed25519),
            _ => None,
        };
    }
    if let Ok(p) = der::asn1::PrintableStringRef::from_der(params)
        && p.as_str() == "edwards25519"
    {
        return Some(Curve::Ed25519);
    }
    None
}

/// The objects that are keys we can use: private keys and secret keys.
const KEY_CLASSES: [ObjectClass; 2] = [ObjectClass::PRIVATE_KEY, ObjectClass::SECRET_KEY];

/// Whether a name is also a `CKA_ID` written in hex (an even number of hex digits): such a
/// name may mean either, see [`find`].
fn hex_like(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && name.len().is_multiple_of(2)
        && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The key objects (private and secret) matching one attribute.
fn keys_with(session: &Session, attr: &Attribute) -> CallResult<Vec<ObjectHandle>> {
    let mut handles = Vec::new();
    for class in KEY_CLASSES {
        handles.extend(session.find_objects(&[Attribute::Class(class), attr.clone()])?);
    }
    Ok(handles)
}

/// Finds the key a reference names. Names are `CKA_LABEL`s; ids (a UUID, or
/// `pkcs11:id=%01%02`) are `CKA_ID`s. A name made of hex digits (`0102ab`, as a key id of
/// another tool's key is shown) is the key labelled so, else the key with that `CKA_ID`;
/// when one key has it as label and another as id it is refused as ambiguous rather than one
/// picked. Two keys under one label (or id) are refused as ambiguous too.
pub(crate) fn find(session: &Session, key: &KeyRef) -> CallResult<Found> {
    let (handles, shown) = match key.target() {
        KeyTarget::Alias(name) => {
            let by_label = keys_with(session, &Attribute::Label(name.as_bytes().to_vec()))?;
            let by_id = if hex_like(name) {
                keys_with(session, &Attribute::Id(id_bytes(name)?))?
            } else {
                Vec::new()
            };
            let others: Vec<_> = by_id.iter().filter(|h| !by_label.contains(h)).collect();
            if !by_label.is_empty() && !others.is_empty() {
                return Err(Error::invalid_input(format!(
                    "{name:?} is the name of one key and the CKA_ID of another; say which: \
                     pkcs11:id={} is the key with that id (the named key by its own id)",
                    id_uri_value(&id_bytes(name)?)
                ))
                .into());
            }
            let handles = if by_label.is_empty() { by_id } else { by_label };
            (handles, key.to_string())
        }
        KeyTarget::KeyId(id) => (
            keys_with(session, &Attribute::Id(id_bytes(id)?))?,
            id.clone(),
        ),
        KeyTarget::KeyArn(_) | KeyTarget::AliasArn(_) => {
            return Err(Error::invalid_input(format!(
                "{key} is an AWS KMS ARN; PKCS#11 keys are named by label or id"
            ))
            .into());
        }
    };
    match handles.as_slice() {
        [] => Err(Error::NotFound { key: shown }.into()),
        [one] => describe(session, *one)?.ok_or_else(|| {
            Error::unsupported(
                super::errors::BACKEND,
                format!("the key {shown} (a key type or size keychain does not use)"),
            )
            .into()
        }),
        more => Err(Error::invalid_input(format!(
            "{} keys on the token answer to {shown}; name one by id",
            more.len()
        ))
        .into()),
    }
}

/// A `CKA_ID` as the value of `pkcs11:id=` (every byte percent-encoded).
fn id_uri_value(id: &[u8]) -> String {
    id.iter().map(|b| format!("%{b:02X}")).collect()
}

/// Reads a key object's attributes into what we know about it; `None` for a key of a type
/// or size keychain has no spec for.
pub(crate) fn describe(session: &Session, handle: ObjectHandle) -> CallResult<Option<Found>> {
    let attrs = session.get_attributes(
        handle,
        &[
            AttributeType::Class,
            AttributeType::KeyType,
            AttributeType::Id,
            AttributeType::Label,
            AttributeType::Modulus,
            AttributeType::EcParams,
            AttributeType::ValueLen,
            AttributeType::Sign,
            AttributeType::Decrypt,
            AttributeType::Derive,
            AttributeType::Sensitive,
            AttributeType::Extractable,
            AttributeType::Local,
        ],
    )?;
    let mut class = None;
    let mut key_type = None;
    let mut id = Vec::new();
    let mut label = None;
    let mut raw_label = Vec::new();
    let mut modulus_bits = 0u32;
    let mut curve = None;
    let mut value_len = 0u64;
    let (mut sign, mut decrypt, mut derive) = (false, false, false);
    let (mut sensitive, mut extractable, mut local) = (false, true, false);
    for a in attrs {
        match a {
            Attribute::Class(c) => class = Some(c),
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::Id(i) => id = i,
            Attribute::Label(l) => {
                label = String::from_utf8(l.clone()).ok().filter(|l| !l.is_empty());
                raw_label = l;
            }
            Attribute::Modulus(n) => {
                let n = n.iter().skip_while(|b| **b == 0).count();
                modulus_bits = u32::try_from(n * 8).unwrap_or(0);
            }
            Attribute::EcParams(p) => curve = curve_of(&p),
            Attribute::ValueLen(l) => value_len = u64::from(l),
            Attribute::Sign(b) => sign = b,
            Attribute::Decrypt(b) => decrypt = b,
            Attribute::Derive(b) => derive = b,
            Attribute::Sensitive(b) => sensitive = b,
            Attribute::Extractable(b) => extractable = b,
            Attribute::Local(b) => local = b,
            _ => {}
        }
    }
    let (Some(class), Some(key_type)) = (class, key_type) else {
        return Ok(None);
    };
    let spec = match (class, key_type) {
        (ObjectClass::PRIVATE_KEY, KeyType::RSA) => match modulus_bits {
            2048 => KeySpec::Rsa2048,
            3072 => KeySpec::Rsa3072,
            4096 => KeySpec::Rsa4096,
            _ => return Ok(None),
        },
        (ObjectClass::PRIVATE_KEY, KeyType::EC) => match curve {
            Some(c) if c != Curve::Ed25519 => c.key_spec(),
            _ => return Ok(None),
        },
        (ObjectClass::PRIVATE_KEY, KeyType::EC_EDWARDS) => match curve {
            Some(Curve::Ed25519) => KeySpec::EccNistEdwards25519,
            _ => return Ok(None),
        },
        (ObjectClass::SECRET_KEY, KeyType::AES) if value_len == 32 => KeySpec::SymmetricDefault,
        (ObjectClass::SECRET_KEY, KeyType::GENERIC_SECRET) => match value_len {
            28 => KeySpec::Hmac224,
            32 => KeySpec::Hmac256,
            48 => KeySpec::Hmac384,
            64 => KeySpec::Hmac512,
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    let usage = match spec.family() {
        KeyFamily::Rsa(_) if !sign && decrypt => KeyUsage::EncryptDecrypt,
        KeyFamily::Ec(_) if !sign && derive => KeyUsage::KeyAgreement,
        _ => spec.default_usage(),
    };
    let mut info = KeyInfo::new(id_string(&id), spec, usage);
    // A key whose secret can be read off the token is listed, but not as usable: keychain
    // refuses it (see `Found::check_protected`).
    if !sensitive || extractable {
        info.state = KeyState::Unavailable;
    }
    // CKA_LOCAL: generated on the token. A key created from outside material
    // (C_CreateObject, as a migration or `pkcs11-tool --write-object` does) is not.
    if !local {
        info.origin = KeyOrigin::External;
    }
    info.name = label;
    info.aliases = info.name.iter().map(|n| format!("alias/{n}")).collect();
    // PKCS#11 records no creation time: the epoch says "unknown" rather than inventing one.
    info.created = std::time::UNIX_EPOCH;
    Ok(Some(Found {
        handle,
        id,
        label: raw_label,
        info,
        sensitive,
        extractable,
    }))
}

/// Every key on the token keychain can use, ordered by id (a stable order for paging).
pub(crate) fn list(session: &Session) -> CallResult<Vec<KeyInfo>> {
    let mut out = Vec::new();
    for class in KEY_CLASSES {
        for handle in session.find_objects(&[Attribute::Class(class)])? {
            match describe(session, handle)? {
                Some(found) => out.push(found.info),
                None => tracing::debug!("skipping a PKCS#11 key of a type keychain does not use"),
            }
        }
    }
    out.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    Ok(out)
}

/// Creates a key under `request.name` (a `CKA_LABEL` no key has yet) with a fresh random
/// `CKA_ID`. Private and secret keys are token objects, private (login needed), sensitive
/// and never extractable; each key may do only what its usage says.
pub(crate) fn create(session: &Session, request: &CreateKeyRequest) -> CallResult<Found> {
    if let Some(name) = &request.name {
        check_name_free(session, name)?;
    }
    let id = uuid::Uuid::new_v4().as_bytes().to_vec();
    let label = request.name.clone().unwrap_or_default().into_bytes();
    let usage = request.usage;
    let common = |private: bool| {
        let mut t = vec![
            Attribute::Token(true),
            Attribute::Id(id.clone()),
            Attribute::Private(private),
        ];
        if !label.is_empty() {
            t.push(Attribute::Label(label.clone()));
        }
        t
    };
    // Every usage flag is set, false included: tokens default the ones left out (SoftHSM
    // lets a signing key decrypt and unwrap). A decrypting key may unwrap (the same
    // operation on a key).
    let secret_flags = |sign: bool, decrypt: bool| {
        vec![
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Modifiable(false),
            Attribute::Sign(sign),
            Attribute::Decrypt(decrypt),
            Attribute::Unwrap(decrypt),
            Attribute::Derive(false),
        ]
    };
    let public_flags = |verify: bool, encrypt: bool| {
        vec![
            Attribute::Verify(verify),
            Attribute::Encrypt(encrypt),
            Attribute::Wrap(encrypt),
            Attribute::Derive(false),
        ]
    };
    let signs = usage == KeyUsage::SignVerify;
    let decrypts = usage == KeyUsage::EncryptDecrypt;
    let handle = match request.spec.family() {
        KeyFamily::Rsa(bits) => {
            let mut public = common(false);
            public.extend([
                Attribute::ModulusBits(u64::from(bits).into()),
                Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            ]);
            public.extend(public_flags(signs, decrypts));
            let mut private = common(true);
            private.extend(secret_flags(signs, decrypts));
            session
                .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)?
                .1
        }
        KeyFamily::Ec(_) | KeyFamily::Ed25519 if usage != KeyUsage::KeyAgreement => {
            let (mechanism, curve) = match request.spec.family() {
                KeyFamily::Ec(c) => (Mechanism::EccKeyPairGen, c),
                _ => (Mechanism::EccEdwardsKeyPairGen, Curve::Ed25519),
            };
            let mut public = common(false);
            public.push(Attribute::EcParams(ec_params(curve)?));
            public.extend(public_flags(true, false));
            let mut private = common(true);
            private.extend(secret_flags(true, false));
            session.generate_key_pair(&mechanism, &public, &private)?.1
        }
        KeyFamily::Symmetric => {
            let mut t = common(true);
            t.extend(secret_flags(false, true));
            t.extend([
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32u64.into()),
                Attribute::Encrypt(true),
                Attribute::Verify(false),
                Attribute::Wrap(false),
            ]);
            session.generate_key(&Mechanism::AesKeyGen, &t)?
        }
        KeyFamily::Hmac(algorithm) => {
            let mut t = common(true);
            t.extend(secret_flags(true, false));
            t.extend([
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::ValueLen((hmac_key_len(algorithm) as u64).into()),
                Attribute::Verify(true),
                Attribute::Encrypt(false),
                Attribute::Wrap(false),
            ]);
            session.generate_key(&Mechanism::GenericSecretKeyGen, &t)?
        }
        _ => {
            return Err(Error::unsupported(
                super::errors::BACKEND,
                format!("{} keys with usage {usage}", request.spec),
            )
            .into());
        }
    };
    let found = describe(session, handle)?.ok_or_else(|| {
        Error::crypto(format!(
            "the token created a {} key keychain cannot read back",
            request.spec
        ))
    })?;
    if let Some(name) = &request.name {
        keep_if_alone(session, name, &found)?;
    }
    Ok(found)
}

/// Refuses a name (`CKA_LABEL`) a key already has. Within a process, the check and the
/// creation after it run under one lock (`Token::run_creating`). Two processes creating the
/// same name at once can both pass it (PKCS#11 has no unique constraint), which
/// [`keep_if_alone`] catches after the creation.
pub(crate) fn check_name_free(session: &Session, name: &str) -> CallResult<()> {
    if !labelled(session, name)?.is_empty() {
        return Err(Error::AlreadyExists {
            what: format!("alias/{name}"),
        }
        .into());
    }
    // A name that is another key's id in hex would make the name ambiguous (see `find`).
    if hex_like(name) && !keys_with(session, &Attribute::Id(id_bytes(name)?))?.is_empty() {
        return Err(Error::invalid_input(format!(
            "key name {name:?} is the CKA_ID of a key on the token (in hex); choose a name \
             that is not"
        ))
        .into());
    }
    Ok(())
}

/// The key objects (private and secret) labelled `name`.
fn labelled(session: &Session, name: &str) -> CallResult<Vec<ObjectHandle>> {
    keys_with(session, &Attribute::Label(name.as_bytes().to_vec()))
}

/// Keeps a key just created under `name` only if no other key has that name: another
/// process (or tool) may have created one between our check and our creation. Then ours
/// is destroyed again and the call is [`Error::AlreadyExists`]; the first creator, which
/// saw its key alone, keeps it. When two creators back off at once and no key is left, the
/// error is a retryable [`Error::Backend`] rather than a claim that the name is taken.
pub(crate) fn keep_if_alone(session: &Session, name: &str, ours: &Found) -> CallResult<()> {
    let others = labelled(session, name)?
        .into_iter()
        .filter(|h| *h != ours.handle)
        .count();
    if others == 0 {
        return Ok(());
    }
    tracing::warn!(
        name,
        "another key was created under this name at the same time; destroying ours"
    );
    destroy(session, ours)?;
    if labelled(session, name)?.is_empty() {
        return Err(Error::Backend {
            backend: super::errors::BACKEND.to_string(),
            operation: "C_GenerateKey".to_string(),
            code: "NAME_RACE".to_string(),
            message: format!(
                "another process created a key named {name:?} at the same time and both \
                 backed off; retry"
            ),
            retryable: true,
        }
        .into());
    }
    Err(Error::AlreadyExists {
        what: format!("alias/{name}"),
    }
    .into())
}

/// The length of an HMAC key in bytes: the hash's output length, as AWS KMS's HMAC specs.
pub(crate) fn hmac_key_len(algorithm: MacAlgorithm) -> usize {
    match algorithm {
        MacAlgorithm::HmacSha224 => 28,
        MacAlgorithm::HmacSha256 => 32,
        MacAlgorithm::HmacSha384 => 48,
        MacAlgorithm::HmacSha512 => 64,
    }
}

/// The public key objects paired with a private key: those with both its `CKA_ID` and its
/// `CKA_LABEL`. The id alone is not enough: keys made by other tools may have no id, or share
/// one, and a public object of another key must never stand in for this key's.
fn paired_publics(session: &Session, found: &Found) -> CallResult<Vec<ObjectHandle>> {
    Ok(session.find_objects(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Id(found.id.clone()),
        Attribute::Label(found.label.clone()),
    ])?)
}

/// The one public key object paired with a private key; `None` when there is none, an
/// error when several answer (keychain cannot tell which is this key's).
fn public_object(session: &Session, found: &Found) -> CallResult<Option<ObjectHandle>> {
    match paired_publics(session, found)?.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        more => Err(Error::InvalidKeyState {
            key: found.info.display_name(),
            state: "ambiguous public key".to_string(),
            message: format!(
                "{} public key objects share this key's CKA_ID and CKA_LABEL; give each key \
                 pair its own id",
                more.len()
            ),
        }
        .into()),
    }
}

/// Destroys a key: its private or secret object and its public object, when exactly one
/// public object has its id and label. Public objects of other keys sharing the id (or an
/// empty id) are left alone, and so are several that cannot be told apart.
pub(crate) fn destroy(session: &Session, found: &Found) -> CallResult<()> {
    if found.info.spec.is_asymmetric() {
        match paired_publics(session, found)?.as_slice() {
            [] => {}
            [one] => session.destroy_object(*one)?,
            more => tracing::warn!(
                count = more.len(),
                "several public key objects share the destroyed key's id and label; left them"
            ),
        }
    }
    session.destroy_object(found.handle)?;
    Ok(())
}

/// The public key of a key pair, as a SubjectPublicKeyInfo: from the one public object with
/// the key's id and label, or (RSA, when there is none) the modulus and exponent the private
/// object also carries.
pub(crate) fn public_key(session: &Session, found: &Found) -> CallResult<PublicKey> {
    let name = found.info.display_name();
    let family = found.info.spec.family();
    if !found.info.spec.is_asymmetric() {
        return Err(Error::key_usage(
            &name,
            format!("{} keys have no public key", found.info.spec),
        )
        .into());
    }
    let source = match public_object(session, found)? {
        Some(public) => public,
        // An RSA private object carries its modulus and exponent too.
        None if matches!(family, KeyFamily::Rsa(_)) => found.handle,
        None => {
            return Err(Error::Corrupted {
                what: name,
                message: "the token holds no public key object with this key's CKA_ID and \
                          CKA_LABEL"
                    .to_string(),
            }
            .into());
        }
    };
    let attrs = session.get_attributes(
        source,
        &[
            AttributeType::Modulus,
            AttributeType::PublicExponent,
            AttributeType::EcPoint,
        ],
    )?;
    let (mut n, mut e, mut point) = (None, None, None);
    for a in attrs {
        match a {
            Attribute::Modulus(v) => n = Some(v),
            Attribute::PublicExponent(v) => e = Some(v),
            Attribute::EcPoint(v) => point = Some(v),
            _ => {}
        }
    }
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let missing = || Error::Corrupted {
        what: name.clone(),
        message: "the token holds no public key for this key pair".to_string(),
    };
    let jwk = match family {
        KeyFamily::Rsa(_) => {
            let (n, e) = n.zip(e).ok_or_else(missing)?;
            serde_json::json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)})
        }
        KeyFamily::Ec(curve) => {
            let point = raw_point(&point.ok_or_else(missing)?, 1 + 2 * curve.field_len());
            let field = curve.field_len();
            if point.len() != 1 + 2 * field || point[0] != 4 {
                return Err(missing().into());
            }
            serde_json::json!({"kty": "EC", "crv": curve.jose_name(),
                "x": b64(&point[1..1 + field]), "y": b64(&point[1 + field..])})
        }
        KeyFamily::Ed25519 => {
            let point = raw_point(&point.ok_or_else(missing)?, 32);
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&point)})
        }
        _ => return Err(missing().into()),
    };
    Ok(crate::jwt::public_key_from_jwk(&jwk)?)
}

/// A `CKA_EC_POINT` without its DER OCTET STRING wrapper (modules differ in whether they
/// wrap it); `raw_len` is the length of the bare point.
fn raw_point(value: &[u8], raw_len: usize) -> Vec<u8> {
    if value.len() != raw_len
        && let Ok(inner) = <&OctetStringRef>::from_der(value)
    {
        return inner.as_bytes().to_vec();
    }
    value.to_vec()
}
