//! # keychain
//!
//! Cryptographic keys whose private material lives in a backend — a local encrypted keystore
//! (the embedded default) or AWS KMS — behind one async API. Create a key, sign, verify,
//! encrypt; switch backends by changing one URI.
//!
//! ```
//! # async fn demo() -> keychain::Result<()> {
//! use keychain::{Hash, KeyParams, Keychain, Message, SigningAlgorithm};
//! # unsafe { std::env::set_var("KEYCHAIN_KDF_ITERATIONS", "2048"); }
//! # unsafe { std::env::set_var("KEYCHAIN_PASSWORD", "correct horse battery staple"); }
//! # let dir = tempfile::tempdir().map_err(|e| keychain::Error::io("tempdir", e))?;
//! # let uri = format!("software:{}", dir.path().display());
//! // `uri` is "software:/path/to/keystore" (or, with AWS KMS, "awskms:…").
//! let kc = Keychain::open(&uri).await?;
//!
//! // Generate a key, sign a SHA-256 digest, get the public key.
//! kc.generate_key("api-signing-key", &KeyParams::ecdsa(keychain::Curve::P256)).await?;
//! let digest = Hash::Sha256.digest(b"Hello, keychain!");
//! let signature = kc.sign("api-signing-key", &digest, Hash::Sha256).await?;
//! let public_key = kc.public_key("alias/api-signing-key").await?;
//! assert!(public_key.verify(Message::Digest(&digest), &signature, SigningAlgorithm::EcdsaSha256)?);
//! println!("{}", public_key.to_pem());
//! kc.close().await?;
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! The pieces:
//! - [`Keychain`]: what applications hold; takes keys by any reference string
//!   ([`KeyRef`]), picks natural algorithms, caches public keys, verifies locally.
//! - [`Backend`]: the trait every backend implements (the AWS KMS operation set).
//! - [`software`]: the embedded keystore backend; `awskms` (feature `aws`): AWS KMS;
//!   `pkcs11` (feature `pkcs11`): HSMs, smart cards and SoftHSM.
//! - `migrate` (features `aws`, `pkcs11`): a software key moved to AWS KMS or a PKCS#11 token
//!   under its name, with proof.
//! - [`PublicKey`], [`signature`]: local verification and signature encodings.
//! - [`signer`]: keys as RustCrypto (and rcgen) signers; [`jwt`], [`x509`], [`codesign`],
//!   [`envelope`]: the integrations; `ssh` (feature `ssh`): OpenSSH keys, SSHSIG,
//!   certificates and an SSH agent.
//!
//! Every public item has one path: the core types are at the root, and a module is public
//! only where its namespace helps (the ones above); each backend's type, configuration and
//! extras live in its module.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod macros;

// Modules are private: the public API is the list of re-exports below plus the facades, so
// every public item has one path.
mod agreement;
mod algorithm;
#[cfg(feature = "aws")]
pub mod awskms;
mod backend;
mod backend_uri;
pub mod codesign;
mod data_key;
mod ed25519_stream;
mod ed25519ph;
pub mod envelope;
mod error;
mod handle;
pub mod jwt;
mod kem;
mod key;
mod key_cache;
mod key_ref;
#[cfg(any(feature = "aws", feature = "pkcs11"))]
pub mod migrate;
mod ml_dsa_stream;
mod observe;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
#[cfg(not(feature = "pkcs11"))]
mod pkcs11;
mod public_key;
mod random;
mod secret;
pub mod signature;
pub mod signer;
pub mod software;
#[cfg(feature = "ssh")]
pub mod ssh;
mod stream;
mod text;
pub mod x509;

pub use crate::agreement::KeyAgreementAlgorithm;
pub use crate::algorithm::{
    DataKeySpec, EncryptionAlgorithm, Hash, Hasher, MacAlgorithm, Message, SignatureScheme,
    SigningAlgorithm,
};
pub use crate::backend::{AnnexUpdate, Backend, Capabilities};
pub use crate::backend_uri::{AwsKmsUri, BackendUri, Pkcs11Uri};
pub use crate::data_key::{DataKey, EncryptionContext};
pub use crate::error::{Error, ErrorKind, Result};
pub use crate::handle::{Keychain, Signed, hash_reader};
pub use crate::kem::Encapsulation;
pub use crate::key::{
    AliasInfo, CreateKeyRequest, Curve, DeletionSchedule, KeyFamily, KeyInfo, KeyMaterial,
    KeyOrigin, KeyParams, KeySpec, KeyState, KeyType, KeyUsage, Page, PageRequest, RotationStatus,
    RotationType,
};
pub use crate::key_cache::KeyCache;
pub use crate::key_ref::{Arn, KeyRef, KeyTarget, validate_alias_name, validate_key_name};
pub use crate::public_key::{PublicKey, PublicKeyKind};
pub use crate::random::warm_up_random;
pub use crate::secret::Secret;
pub use crate::software::default_keystore_path;
pub use crate::stream::{MAX_BUFFERED_MESSAGE, MessageSource, ReadSeek};
pub use crate::text::is_control_or_invisible;

/// Every public item has one path: the root or its facade. The modules behind them are
/// private, and so are their helpers.
///
/// ```compile_fail,E0603
/// use keychain::key::KeySpec; // keychain::KeySpec
/// ```
///
/// ```compile_fail,E0603
/// use keychain::handle::Keychain; // keychain::Keychain
/// ```
///
/// ```compile_fail,E0603
/// let _ = keychain::key::check_pending_window(7);
/// ```
///
/// ```compile_fail,E0603
/// let _ = keychain::data_key::encode_context(&Default::default());
/// ```
///
/// ```compile_fail,E0603
/// use keychain::software::pbes2::DEFAULT_ITERATIONS; // keychain::software::DEFAULT_ITERATIONS
/// ```
///
/// ```compile_fail,E0432
/// use keychain::Algorithm; // keychain::KeyType
/// ```
///
/// ```
/// use keychain::software::{DEFAULT_ITERATIONS, SoftwareBackend, SoftwareConfig};
/// use keychain::{KeySpec, KeyType, Keychain, validate_key_name};
/// ```
#[cfg(doctest)]
pub struct OnePathPerItem;

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
