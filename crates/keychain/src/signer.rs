//! [`KeySigner`]: a backend key bound to one signing algorithm, plugged into the RustCrypto
//! [`signature`] traits (and rcgen's `SigningKey`, with the `rcgen` feature), so a KMS or
//! keystore key works wherever a crate takes a signer.
//!
//! ```
//! # async fn demo() -> keychain::Result<()> {
//! use keychain::signer::KeySigner;
//! use signature::{AsyncSigner, Keypair, Verifier};
//! # unsafe { std::env::set_var("KEYCHAIN_KDF_ITERATIONS", "2048"); }
//! # unsafe { std::env::set_var("KEYCHAIN_PASSWORD", "correct horse battery staple"); }
//! # let dir = tempfile::tempdir().map_err(|e| keychain::Error::io("tempdir", e))?;
//! # let kc = keychain::Keychain::open(&format!("software:{}", dir.path().display())).await?;
//! kc.generate_key("release-key", &keychain::KeyParams::ecdsa(keychain::Curve::P256)).await?;
//! let signer = KeySigner::new(&kc, "release-key", None).await?;
//! let signature = signer.sign_async(b"artifact bytes").await.map_err(keychain::Error::crypto)?;
//! assert!(signer.verifying_key().verify(b"artifact bytes", &signature).is_ok());
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! # Sync and async
//!
//! A backend is remote (or at least async), so [`KeySigner`] implements
//! [`signature::AsyncSigner`] natively. It does *not* implement [`signature::Signer`]:
//! `signature` 3 derives `AsyncSigner` from `Signer` with a blanket impl, so a type cannot have
//! both, and a blocking `Signer` would then also be the async one, stalling the executor in
//! async code. Sync callers use [`KeySigner::blocking`], a [`BlockingKeySigner`] that implements
//! [`signature::Signer`] (and so, through the blanket impl, `AsyncSigner` too, blocking).
//!
//! Synchronous signing never blocks a tokio executor thread without telling tokio:
//! - inside a multi-thread runtime it runs under [`tokio::task::block_in_place`], so the
//!   worker's other tasks move elsewhere while it waits for the backend;
//! - inside a current-thread runtime, where there is no other thread to move work to, the
//!   signing future runs to completion on a helper thread with its own small runtime. The
//!   calling thread (the runtime's only one) waits for it: that is what a synchronous API in
//!   such a runtime means. A backend whose network connections belong to the caller's runtime
//!   (the AWS SDK's connection pool) may have to open a fresh connection there; prefer the
//!   async API in a current-thread runtime;
//! - with no runtime at all, a small current-thread runtime is built for the call.

use std::future::Future;

use der::asn1::{Any, BitString, Null, ObjectIdentifier};
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, SignatureBitStringEncoding};

use crate::algorithm::{Hash, Message, SigningAlgorithm};
use crate::handle::Keychain;
use crate::key::Curve;
use crate::public_key::{PublicKey, PublicKeyKind};
use crate::{Error, Result};

/// The longest message AWS KMS signs as a raw message (pure Ed25519 needs the message).
pub const KMS_MAX_RAW_MESSAGE: usize = 4096;

const OID_SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// A signature made by a [`KeySigner`], in the encoding its algorithm has in X.509 and
/// OpenSSL: DER `ECDSA-Sig-Value` for ECDSA, the plain bytes for RSA and Ed25519. (JOSE wants
/// raw `r‖s` for ECDSA; [`crate::jwt`] converts.)
#[derive(Clone, PartialEq, Eq)]
pub struct KeySignature(Vec<u8>);

impl KeySignature {
    /// Wraps signature bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        KeySignature(bytes)
    }

    /// The signature bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The signature bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl std::fmt::Debug for KeySignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySignature({} bytes)", self.0.len())
    }
}

impl AsRef<[u8]> for KeySignature {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<&[u8]> for KeySignature {
    type Error = signature::Error;

    fn try_from(bytes: &[u8]) -> std::result::Result<Self, signature::Error> {
        if bytes.is_empty() {
            return Err(signature::Error::new());
        }
        Ok(KeySignature(bytes.to_vec()))
    }
}

impl From<KeySignature> for Vec<u8> {
    fn from(s: KeySignature) -> Vec<u8> {
        s.0
    }
}

impl signature::SignatureEncoding for KeySignature {
    type Repr = Vec<u8>;
}

impl SignatureBitStringEncoding for KeySignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::new(0, self.0.clone())
    }
}

/// The verifying half of a [`KeySigner`]: its public key and algorithm. Verifies locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVerifier {
    public_key: PublicKey,
    algorithm: SigningAlgorithm,
}

impl KeyVerifier {
    /// A verifier for `algorithm` signatures under `public_key`.
    pub fn new(public_key: PublicKey, algorithm: SigningAlgorithm) -> Result<Self> {
        if !public_key.supports(algorithm) && algorithm != SigningAlgorithm::Ed25519PhSha512 {
            return Err(Error::invalid_input(format!(
                "{algorithm} does not fit a {:?} public key",
                public_key.kind()
            )));
        }
        Ok(KeyVerifier {
            public_key,
            algorithm,
        })
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }
}

impl signature::Verifier<KeySignature> for KeyVerifier {
    fn verify(&self, msg: &[u8], signature: &KeySignature) -> signature::Result<()> {
        let message = match self.algorithm {
            a if !a.accepts_digest() => {
                return match self
                    .public_key
                    .verify(Message::Raw(msg), &signature.0, self.algorithm)
                {
                    Ok(true) => Ok(()),
                    _ => Err(signature::Error::new()),
                };
            }
            a => a.hash().digest(msg),
        };
        match self
            .public_key
            .verify(Message::Digest(&message), &signature.0, self.algorithm)
        {
            Ok(true) => Ok(()),
            _ => Err(signature::Error::new()),
        }
    }
}

impl spki::EncodePublicKey for KeyVerifier {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        self.public_key.to_public_key_der()
    }
}

impl spki::EncodePublicKey for PublicKey {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::try_from(self.to_der())?)
    }
}

/// A backend key bound to one signing algorithm, with its public key: the adapter between
/// keychain and crates that take a signer. Cheap to clone (the [`Keychain`] is shared).
#[derive(Clone)]
pub struct KeySigner {
    keychain: Keychain,
    key: String,
    algorithm: SigningAlgorithm,
    public_key: PublicKey,
    max_raw_message: Option<usize>,
    backend: String,
}

impl std::fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySigner")
            .field("key", &self.key)
            .field("algorithm", &self.algorithm)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl KeySigner {
    /// Binds `key` (any reference [`Keychain`] accepts) to `algorithm`, or to the key's
    /// default algorithm (PKCS#1 v1.5 SHA-256 for RSA, the curve's ECDSA, pure Ed25519).
    /// Checks that the key signs and that its spec allows the algorithm, and fetches the
    /// public key (cached by the keychain).
    pub async fn new(
        keychain: &Keychain,
        key: &str,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Self> {
        let info = keychain.describe(key).await?;
        let algorithm = match algorithm {
            Some(a) => a,
            None => info.spec.default_signing_algorithm().ok_or_else(|| {
                Error::key_usage(
                    info.display_name(),
                    format!("{} keys do not sign", info.spec),
                )
            })?,
        };
        info.check_signing(algorithm)?;
        let capabilities = keychain.backend().capabilities();
        if algorithm == SigningAlgorithm::Ed25519PhSha512 && !capabilities.ed25519ph {
            return Err(Error::unsupported(
                keychain.backend().name(),
                "ED25519_PH_SHA_512 signatures",
            ));
        }
        let public_key = keychain.public_key(key).await?;
        Ok(KeySigner {
            keychain: keychain.clone(),
            key: key.to_string(),
            algorithm,
            public_key,
            max_raw_message: capabilities.max_raw_message,
            backend: keychain.backend().name().to_string(),
        })
    }

    /// The key reference the signer was made with.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The key's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The keychain the key lives in.
    pub fn keychain(&self) -> &Keychain {
        &self.keychain
    }

    /// The curve of an EC key, if it is one.
    pub fn curve(&self) -> Option<Curve> {
        match self.public_key.kind() {
            PublicKeyKind::Ec(c) => Some(c),
            _ => None,
        }
    }

    /// The verifying half: public key and algorithm.
    pub fn verifier(&self) -> KeyVerifier {
        KeyVerifier {
            public_key: self.public_key.clone(),
            algorithm: self.algorithm,
        }
    }

    /// Signs `message`: hashes it locally and has the backend sign the digest, so only the
    /// digest travels. Pure Ed25519 and ML-DSA have no digest form and send the message
    /// itself, which a backend may cap ([`crate::Capabilities::max_raw_message`]; AWS KMS takes
    /// at most [`KMS_MAX_RAW_MESSAGE`] bytes): a longer message is an error saying so.
    pub async fn sign(&self, message: &[u8]) -> Result<KeySignature> {
        let bytes = match self.algorithm {
            SigningAlgorithm::MlDsaShake256 => {
                if let Some(max) = self.max_raw_message.filter(|&m| message.len() > m) {
                    return Err(Error::invalid_input(format!(
                        "ML-DSA signs the message itself, not a digest, and the {} backend \
                         signs messages of at most {max} bytes (AWS KMS caps raw messages at \
                         {KMS_MAX_RAW_MESSAGE} bytes); this message is {} bytes",
                        self.backend,
                        message.len()
                    )));
                }
                self.keychain
                    .sign_with(&self.key, Message::Raw(message), self.algorithm)
                    .await?
            }
            SigningAlgorithm::Ed25519Sha512 => {
                if let Some(max) = self.max_raw_message.filter(|&m| message.len() > m) {
                    return Err(Error::invalid_input(format!(
                        "pure Ed25519 (EdDSA) signs the message itself, not a digest, and the \
                         {} backend signs messages of at most {max} bytes (AWS KMS caps raw \
                         messages at {KMS_MAX_RAW_MESSAGE} bytes); this message is {} bytes: \
                         sign a shorter message, or use ED25519_PH_SHA_512 where the backend \
                         has it",
                        self.backend,
                        message.len()
                    )));
                }
                self.keychain
                    .sign_with(&self.key, Message::Raw(message), self.algorithm)
                    .await?
            }
            // Ed25519ph too: the backend signs the SHA-512 digest as the Ed25519ph message.
            a => {
                let digest = a.hash().digest(message);
                self.keychain
                    .sign_with(&self.key, Message::Digest(&digest), a)
                    .await?
            }
        };
        Ok(KeySignature(bytes))
    }

    /// Signs a digest made with the algorithm's hash (not for pure Ed25519 or ML-DSA).
    pub async fn sign_digest(&self, digest: &[u8]) -> Result<KeySignature> {
        let bytes = self
            .keychain
            .sign_with(&self.key, Message::Digest(digest), self.algorithm)
            .await?;
        Ok(KeySignature(bytes))
    }

    /// Signs synchronously, without stalling a tokio executor (see the module docs for what
    /// happens in each kind of runtime).
    pub fn sign_blocking(&self, message: &[u8]) -> Result<KeySignature> {
        block_on(self.sign(message))?
    }

    /// A synchronous view of this signer, implementing [`signature::Signer`].
    pub fn blocking(&self) -> BlockingKeySigner {
        BlockingKeySigner(self.clone())
    }

    /// The X.509 `AlgorithmIdentifier` of the signer's algorithm: `sha256WithRSAEncryption`
    /// (with NULL parameters) and friends, `rsassaPss` with its RFC 4055 parameters (hash,
    /// MGF1 with the same hash, salt length = hash length), `ecdsa-with-SHA256/384/512`,
    /// `id-Ed25519`. Ed25519ph has none.
    pub fn algorithm_identifier(&self) -> Result<AlgorithmIdentifierOwned> {
        algorithm_identifier(self.algorithm)
    }
}

/// The X.509 `AlgorithmIdentifier` of `algorithm` (see [`KeySigner::algorithm_identifier`]).
pub fn algorithm_identifier(algorithm: SigningAlgorithm) -> Result<AlgorithmIdentifierOwned> {
    use SigningAlgorithm::*;
    let null = || Any::encode_from(&Null).map_err(|e| Error::crypto(e.to_string()));
    let (oid, parameters) = match algorithm {
        RsassaPkcs1V15Sha256 => (OID_SHA256_RSA, Some(null()?)),
        RsassaPkcs1V15Sha384 => (OID_SHA384_RSA, Some(null()?)),
        RsassaPkcs1V15Sha512 => (OID_SHA512_RSA, Some(null()?)),
        RsassaPssSha256 | RsassaPssSha384 | RsassaPssSha512 => {
            (OID_RSASSA_PSS, Some(pss_parameters(algorithm.hash())?))
        }
        EcdsaSha256 => (OID_ECDSA_SHA256, None),
        EcdsaSha384 => (OID_ECDSA_SHA384, None),
        EcdsaSha512 => (OID_ECDSA_SHA512, None),
        Ed25519Sha512 => (OID_ED25519, None),
        Ed25519PhSha512 => {
            return Err(Error::invalid_input(
                "ED25519_PH_SHA_512 has no X.509 AlgorithmIdentifier; use pure Ed25519",
            ));
        }
        MlDsaShake256 => {
            return Err(Error::invalid_input(
                "ML-DSA certificates and CSRs are not supported by keychain yet",
            ));
        }
    };
    Ok(AlgorithmIdentifierOwned { oid, parameters })
}

/// The signing algorithm an X.509 `AlgorithmIdentifier` names, for a key of `kind`. RSA-PSS
/// parameters must be the ones keychain (and AWS KMS) use: MGF1 with the same hash, salt
/// length equal to the hash length.
pub fn algorithm_from_identifier(
    id: &AlgorithmIdentifierOwned,
    kind: PublicKeyKind,
) -> Result<SigningAlgorithm> {
    use SigningAlgorithm::*;
    let alg = match id.oid {
        o if o == OID_SHA256_RSA => RsassaPkcs1V15Sha256,
        o if o == OID_SHA384_RSA => RsassaPkcs1V15Sha384,
        o if o == OID_SHA512_RSA => RsassaPkcs1V15Sha512,
        o if o == OID_ECDSA_SHA256 => EcdsaSha256,
        o if o == OID_ECDSA_SHA384 => EcdsaSha384,
        o if o == OID_ECDSA_SHA512 => EcdsaSha512,
        o if o == OID_ED25519 => Ed25519Sha512,
        o if o == OID_RSASSA_PSS => {
            let params = id
                .parameters
                .as_ref()
                .ok_or_else(|| Error::invalid_input("RSASSA-PSS without parameters"))?;
            let got = params
                .to_der()
                .map_err(|e| Error::invalid_input(format!("bad RSASSA-PSS parameters: {e}")))?;
            [RsassaPssSha256, RsassaPssSha384, RsassaPssSha512]
                .into_iter()
                .find(|a| {
                    pss_parameters(a.hash())
                        .and_then(|p| p.to_der().map_err(|e| Error::crypto(e.to_string())))
                        .is_ok_and(|want| want == got)
                })
                .ok_or_else(|| {
                    Error::invalid_input(
                        "unsupported RSASSA-PSS parameters (keychain verifies MGF1 with the \
                         message hash and a salt as long as the hash)",
                    )
                })?
        }
        o => {
            return Err(Error::invalid_input(format!(
                "unsupported signature algorithm {o}"
            )));
        }
    };
    let fits = match (kind, alg.scheme()) {
        (PublicKeyKind::Rsa { .. }, crate::SignatureScheme::RsaPkcs1v15)
        | (PublicKeyKind::Rsa { .. }, crate::SignatureScheme::RsaPss)
        | (PublicKeyKind::Ed25519, crate::SignatureScheme::Ed25519) => true,
        (PublicKeyKind::Ec(c), crate::SignatureScheme::Ecdsa) => matches!(
            (c, alg),
            (Curve::P256 | Curve::Secp256k1, EcdsaSha256)
                | (Curve::P384, EcdsaSha384)
                | (Curve::P521, EcdsaSha512)
        ),
        _ => false,
    };
    if !fits {
        return Err(Error::invalid_input(format!(
            "signature algorithm {alg} does not fit a {kind:?} key"
        )));
    }
    Ok(alg)
}

/// RSASSA-PSS-params (RFC 4055) for `hash`: hash and MGF1 hash the same, salt length equal to
/// the hash length, trailer field default. Hash AlgorithmIdentifiers carry NULL parameters,
/// byte for byte what OpenSSL writes and webpki expects.
fn pss_parameters(hash: Hash) -> Result<Any> {
    #[derive(der::Sequence)]
    struct HashAlg {
        oid: ObjectIdentifier,
        params: Null,
    }
    #[derive(der::Sequence)]
    struct Mgf {
        oid: ObjectIdentifier,
        hash: HashAlg,
    }
    #[derive(der::Sequence)]
    struct PssParams {
        #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
        hash: HashAlg,
        #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
        mgf: Mgf,
        #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
        salt_len: u8,
    }
    let (oid, salt) = match hash {
        Hash::Sha256 => (OID_SHA256, 32),
        Hash::Sha384 => (OID_SHA384, 48),
        Hash::Sha512 => (OID_SHA512, 64),
    };
    let h = || HashAlg { oid, params: Null };
    let params = PssParams {
        hash: h(),
        mgf: Mgf {
            oid: OID_MGF1,
            hash: h(),
        },
        salt_len: salt,
    };
    let der = params.to_der().map_err(|e| Error::crypto(e.to_string()))?;
    Any::from_der(&der).map_err(|e| Error::crypto(e.to_string()))
}

impl signature::AsyncSigner<KeySignature> for KeySigner {
    async fn sign_async(&self, msg: &[u8]) -> signature::Result<KeySignature> {
        self.sign(msg).await.map_err(signature::Error::from_source)
    }
}

impl signature::Keypair for KeySigner {
    type VerifyingKey = KeyVerifier;

    fn verifying_key(&self) -> KeyVerifier {
        self.verifier()
    }
}

impl DynSignatureAlgorithmIdentifier for KeySigner {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        self.algorithm_identifier()
            .map_err(|_| spki::Error::AlgorithmParametersMissing)
    }
}

/// A [`KeySigner`] for synchronous code: implements [`signature::Signer`], signing through
/// [`KeySigner::sign_blocking`]. Made by [`KeySigner::blocking`].
#[derive(Debug, Clone)]
pub struct BlockingKeySigner(KeySigner);

impl BlockingKeySigner {
    /// The async signer inside.
    pub fn inner(&self) -> &KeySigner {
        &self.0
    }
}

impl signature::Signer<KeySignature> for BlockingKeySigner {
    fn try_sign(&self, msg: &[u8]) -> signature::Result<KeySignature> {
        self.0
            .sign_blocking(msg)
            .map_err(signature::Error::from_source)
    }
}

impl signature::Keypair for BlockingKeySigner {
    type VerifyingKey = KeyVerifier;

    fn verifying_key(&self) -> KeyVerifier {
        self.0.verifier()
    }
}

impl DynSignatureAlgorithmIdentifier for BlockingKeySigner {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        self.0.signature_algorithm_identifier()
    }
}

/// Runs `fut` to completion from synchronous code without stalling a tokio executor: see the
/// module documentation.
pub fn block_on<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    use tokio::runtime::{Builder, Handle, RuntimeFlavor};
    let small_runtime = || {
        Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting a runtime for synchronous signing", e))
    };
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(|| handle.block_on(fut)))
        }
        Ok(_) => std::thread::scope(|s| {
            s.spawn(|| small_runtime().map(|rt| rt.block_on(fut)))
                .join()
                .map_err(|_| Error::crypto("the synchronous signing thread panicked"))?
        }),
        Err(_) => Ok(small_runtime()?.block_on(fut)),
    }
}

#[cfg(feature = "rcgen")]
mod rcgen_impl {
    //! rcgen's `SigningKey` for [`KeySigner`].
    use super::*;
    use rcgen::SignatureAlgorithm as RcgenAlg;

    impl KeySigner {
        /// The rcgen algorithm of this signer, or `None` where rcgen 0.14 has no way to say
        /// it: RSA-PSS (rcgen has no PSS AlgorithmIdentifier) and Ed25519ph. For those,
        /// rcgen's `SigningKey::sign` fails with `UnsupportedSignatureAlgorithm`; issue
        /// certificates with [`crate::x509`] instead, which handles every algorithm.
        pub fn rcgen_algorithm(&self) -> Option<&'static RcgenAlg> {
            use SigningAlgorithm::*;
            Some(match (self.algorithm, self.public_key.kind()) {
                (RsassaPkcs1V15Sha256, _) => &rcgen::PKCS_RSA_SHA256,
                (RsassaPkcs1V15Sha384, _) => &rcgen::PKCS_RSA_SHA384,
                (RsassaPkcs1V15Sha512, _) => &rcgen::PKCS_RSA_SHA512,
                // ecdsa-with-SHA256 is the right AlgorithmIdentifier for secp256k1 too; the
                // SPKI comes from the key itself (`subject_public_key_info`), not from rcgen.
                (EcdsaSha256, PublicKeyKind::Ec(Curve::P256 | Curve::Secp256k1)) => {
                    &rcgen::PKCS_ECDSA_P256_SHA256
                }
                (EcdsaSha384, PublicKeyKind::Ec(Curve::P384)) => &rcgen::PKCS_ECDSA_P384_SHA384,
                (EcdsaSha512, PublicKeyKind::Ec(Curve::P521)) => &rcgen::PKCS_ECDSA_P521_SHA512,
                (Ed25519Sha512, PublicKeyKind::Ed25519) => &rcgen::PKCS_ED25519,
                _ => return None,
            })
        }
    }

    impl rcgen::PublicKeyData for KeySigner {
        fn subject_public_key_info(&self) -> Vec<u8> {
            self.public_key.to_der().to_vec()
        }

        fn der_bytes(&self) -> &[u8] {
            self.public_key.raw_key()
        }

        fn algorithm(&self) -> &'static RcgenAlg {
            // A placeholder when rcgen cannot name the algorithm: `sign` then refuses, so no
            // certificate carries it.
            self.rcgen_algorithm().unwrap_or(&rcgen::PKCS_RSA_SHA256)
        }
    }

    impl rcgen::SigningKey for KeySigner {
        fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
            if self.rcgen_algorithm().is_none() {
                return Err(rcgen::Error::UnsupportedSignatureAlgorithm);
            }
            match self.sign_blocking(msg) {
                Ok(sig) => Ok(sig.into_bytes()),
                Err(e) => {
                    tracing::warn!(key = %self.key, error = %e, "rcgen signing failed");
                    Err(rcgen::Error::RemoteKeyError)
                }
            }
        }
    }
}
