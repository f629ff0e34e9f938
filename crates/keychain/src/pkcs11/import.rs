//! Key material brought onto the token with `C_CreateObject` (a migration from the software
//! keystore): PKCS#8 private keys taken apart into their PKCS#11 attributes, raw AES and HMAC
//! keys as `CKA_VALUE`. The new objects are private, sensitive and never extractable from
//! then on, labelled with the key's name, with a fresh random `CKA_ID`; the public half (for
//! key pairs) is a public object beside it.

use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::Session;
use der::asn1::{OctetStringRef, UintRef};
use der::{Decode, Encode};

use super::keys::{self, Found};
use super::session::CallResult;
use crate::key::{CreateKeyRequest, Curve, KeyFamily, KeyUsage};
use crate::public_key::{PublicKey, RsaPublicKeyDer};
use crate::secret::Secret;
use crate::{Error, Result};

/// A PKCS#1 RSAPrivateKey (two primes).
#[derive(der::Sequence)]
struct RsaPrivateKeyDer<'a> {
    version: u8,
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
    private_exponent: UintRef<'a>,
    prime1: UintRef<'a>,
    prime2: UintRef<'a>,
    exponent1: UintRef<'a>,
    exponent2: UintRef<'a>,
    coefficient: UintRef<'a>,
}

/// An RFC 5915 ECPrivateKey (only the scalar is used).
#[derive(der::Sequence)]
struct EcPrivateKeyDer<'a> {
    version: u8,
    private_key: &'a OctetStringRef,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    parameters: Option<der::asn1::AnyRef<'a>>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    public_key: Option<der::asn1::BitStringRef<'a>>,
}

fn malformed(what: &str) -> Error {
    Error::invalid_input(format!("the key material is not a valid {what}"))
}

/// The private key bytes inside a PKCS#8 PrivateKeyInfo.
fn pkcs8_inner(material: &[u8]) -> Result<Vec<u8>> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(material)
        .map_err(|_| malformed("PKCS#8 private key"))?;
    Ok(info.private_key.as_bytes().to_vec())
}

/// The attributes of the objects to create: (private or secret key, public key). The
/// private template holds copies of the key material (cryptoki attributes own plain
/// `Vec<u8>`s); they are wiped when the templates are dropped, once `C_CreateObject` has
/// copied them onto the token or failed.
struct Templates {
    private: Vec<Attribute>,
    public: Option<Vec<Attribute>>,
}

impl Drop for Templates {
    fn drop(&mut self) {
        wipe(&mut self.private);
    }
}

/// Overwrites with zeros every attribute value that is secret key material.
fn wipe(attributes: &mut [Attribute]) {
    use zeroize::Zeroize;
    for a in attributes {
        match a {
            Attribute::Value(v)
            | Attribute::PrivateExponent(v)
            | Attribute::Prime1(v)
            | Attribute::Prime2(v)
            | Attribute::Exponent1(v)
            | Attribute::Exponent2(v)
            | Attribute::Coefficient(v) => v.as_mut_slice().zeroize(),
            _ => {}
        }
    }
}

/// Takes the material apart for `request.spec` (the public half computed from it and
/// checked against the spec by the software keystore's loader).
fn templates(request: &CreateKeyRequest, material: &Secret) -> Result<Templates> {
    let spec = request.spec;
    let signs = request.usage == KeyUsage::SignVerify;
    let decrypts = request.usage == KeyUsage::EncryptDecrypt;
    let ec_point = |public: &PublicKey| -> Result<Vec<u8>> {
        OctetStringRef::new(public.raw_key())
            .and_then(|o| o.to_der())
            .map_err(|_| malformed("public point"))
    };
    match spec.family() {
        KeyFamily::Rsa(_) => {
            let public = crate::software::public_key_of_material(spec, material.expose())?;
            let rsa_pub = RsaPublicKeyDer::from_der(public.raw_key())
                .map_err(|_| malformed("RSA public key"))?;
            let inner = zeroize::Zeroizing::new(pkcs8_inner(material.expose())?);
            let k = RsaPrivateKeyDer::from_der(&inner)
                .map_err(|_| malformed("PKCS#1 RSA private key"))?;
            let v = |u: UintRef<'_>| u.as_bytes().to_vec();
            Ok(Templates {
                private: vec![
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Modulus(v(k.modulus)),
                    Attribute::PublicExponent(v(k.public_exponent)),
                    Attribute::PrivateExponent(v(k.private_exponent)),
                    Attribute::Prime1(v(k.prime1)),
                    Attribute::Prime2(v(k.prime2)),
                    Attribute::Exponent1(v(k.exponent1)),
                    Attribute::Exponent2(v(k.exponent2)),
                    Attribute::Coefficient(v(k.coefficient)),
                    Attribute::Sign(signs),
                    Attribute::Decrypt(decrypts),
                    Attribute::Unwrap(decrypts),
                ],
                public: Some(vec![
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Modulus(rsa_pub.modulus.as_bytes().to_vec()),
                    Attribute::PublicExponent(rsa_pub.public_exponent.as_bytes().to_vec()),
                    Attribute::Verify(signs),
                    Attribute::Encrypt(decrypts),
                    Attribute::Wrap(decrypts),
                ]),
            })
        }
        KeyFamily::Ec(curve) if signs => {
            let public = crate::software::public_key_of_material(spec, material.expose())?;
            let inner = zeroize::Zeroizing::new(pkcs8_inner(material.expose())?);
            let k = EcPrivateKeyDer::from_der(&inner).map_err(|_| malformed("EC private key"))?;
            let params = keys::ec_params(curve)?;
            Ok(Templates {
                private: vec![
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::EC),
                    Attribute::EcParams(params.clone()),
                    Attribute::Value(k.private_key.as_bytes().to_vec()),
                    Attribute::Sign(true),
                    Attribute::Decrypt(false),
                    Attribute::Unwrap(false),
                ],
                public: Some(vec![
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::KeyType(KeyType::EC),
                    Attribute::EcParams(params),
                    Attribute::EcPoint(ec_point(&public)?),
                    Attribute::Verify(true),
                    Attribute::Encrypt(false),
                    Attribute::Wrap(false),
                ]),
            })
        }
        KeyFamily::Ed25519 => {
            let public = crate::software::public_key_of_material(spec, material.expose())?;
            let inner = zeroize::Zeroizing::new(pkcs8_inner(material.expose())?);
            let seed = <&OctetStringRef>::from_der(&inner)
                .map_err(|_| malformed("Ed25519 private key"))?;
            let params = keys::ec_params(Curve::Ed25519)?;
            Ok(Templates {
                private: vec![
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::EC_EDWARDS),
                    Attribute::EcParams(params.clone()),
                    Attribute::Value(seed.as_bytes().to_vec()),
                    Attribute::Sign(true),
                    Attribute::Decrypt(false),
                    Attribute::Unwrap(false),
                ],
                public: Some(vec![
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::KeyType(KeyType::EC_EDWARDS),
                    Attribute::EcParams(params),
                    Attribute::EcPoint(ec_point(&public)?),
                    Attribute::Verify(true),
                    Attribute::Encrypt(false),
                    Attribute::Wrap(false),
                ]),
            })
        }
        KeyFamily::Symmetric if material.len() == 32 => Ok(Templates {
            private: vec![
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Value(material.expose().to_vec()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Sign(false),
                Attribute::Verify(false),
                Attribute::Wrap(false),
                Attribute::Unwrap(true),
            ],
            public: None,
        }),
        KeyFamily::Hmac(algorithm) if material.len() == keys::hmac_key_len(algorithm) => {
            Ok(Templates {
                private: vec![
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::GENERIC_SECRET),
                    Attribute::Value(material.expose().to_vec()),
                    Attribute::Sign(true),
                    Attribute::Verify(true),
                    Attribute::Encrypt(false),
                    Attribute::Decrypt(false),
                    Attribute::Wrap(false),
                    Attribute::Unwrap(false),
                ],
                public: None,
            })
        }
        KeyFamily::Symmetric | KeyFamily::Hmac(_) => Err(Error::invalid_input(format!(
            "{} bytes of key material do not make a {spec} key",
            material.len()
        ))),
        _ => Err(Error::unsupported(
            super::errors::BACKEND,
            format!("importing {spec} keys with usage {}", request.usage),
        )),
    }
}

/// Creates the key's objects on the token (a name in use is [`Error::AlreadyExists`]).
pub(crate) fn import(
    session: &Session,
    request: &CreateKeyRequest,
    material: &Secret,
) -> CallResult<Found> {
    let mut t = templates(request, material)?;
    let name = request
        .name
        .clone()
        .ok_or_else(|| Error::invalid_input("an imported key needs a name"))?;
    keys::check_name_free(session, &name)?;
    let id = uuid::Uuid::new_v4().as_bytes().to_vec();
    let common = |private: bool| {
        vec![
            Attribute::Token(true),
            Attribute::Private(private),
            Attribute::Id(id.clone()),
            Attribute::Label(name.as_bytes().to_vec()),
        ]
    };
    t.private.extend(common(true));
    t.private.extend([
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Modifiable(false),
        Attribute::Derive(false),
    ]);
    let handle = session.create_object(&t.private)?;
    if let Some(mut public) = t.public.take() {
        public.extend(common(false));
        if let Err(e) = session.create_object(&public) {
            let _ = session.destroy_object(handle);
            return Err(e.into());
        }
    }
    let found = keys::describe(session, handle)?.ok_or_else(|| {
        Error::crypto("the token holds an imported key keychain cannot read back")
    })?;
    keys::keep_if_alone(session, &name, &found)?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeySpec;

    /// Every attribute of the private template that carries key material is zeros once
    /// wiped; the public attributes (modulus, exponent) are left as they were.
    #[test]
    fn the_private_template_is_wiped() {
        let material = crate::software::generate_key_pair(KeySpec::Rsa2048)
            .map(|(secret, _)| secret)
            .unwrap_or_else(|e| panic!("{e}"));
        let request = CreateKeyRequest::new(KeySpec::Rsa2048).name("k");
        let mut t = templates(&request, &material).unwrap_or_else(|e| panic!("{e}"));
        wipe(&mut t.private);
        let mut secret = 0;
        for a in &t.private {
            match a {
                Attribute::PrivateExponent(v)
                | Attribute::Prime1(v)
                | Attribute::Prime2(v)
                | Attribute::Exponent1(v)
                | Attribute::Exponent2(v)
                | Attribute::Coefficient(v) => {
                    assert!(!v.is_empty() && v.iter().all(|b| *b == 0), "{a:?}");
                    secret += 1;
                }
                Attribute::Modulus(v) => assert!(v.iter().any(|b| *b != 0)),
                _ => {}
            }
        }
        assert_eq!(secret, 6);
    }
}
