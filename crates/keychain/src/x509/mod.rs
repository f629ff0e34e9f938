//! An X.509 certificate authority over backend keys: self-signed roots, intermediates and
//! leaf certificates (from a CSR or a bare public key), CSRs for backend keys, and CRLs.
//!
//! Certificates are built with the RustCrypto `x509-cert` builder, signing through
//! [`KeySigner`](crate::signer::KeySigner) (its `AsyncSigner`), so the CA key never leaves the backend and signing never
//! blocks an executor. rcgen 0.14 (whose `SigningKey` [`KeySigner`](crate::signer::KeySigner) also implements) cannot
//! express RSA-PSS at all (no `rsassaPss` AlgorithmIdentifier, so no PSS parameters) and has
//! no secp256k1; `x509-cert` takes any AlgorithmIdentifier, so every algorithm keychain signs
//! with — RSA PKCS#1 v1.5 and PSS (with RFC 4055 parameters), ECDSA P-256/P-384/P-521 and
//! secp256k1, Ed25519 — gets the right one here.
//!
//! ```
//! # async fn demo() -> keychain::Result<()> {
//! use keychain::signer::KeySigner;
//! use keychain::x509::{CertificateAuthority, CertificateParams, ExtendedKeyUsage};
//! # unsafe { std::env::set_var("KEYCHAIN_KDF_ITERATIONS", "2048"); }
//! # unsafe { std::env::set_var("KEYCHAIN_PASSWORD", "correct horse battery staple"); }
//! # let dir = tempfile::tempdir().map_err(|e| keychain::Error::io("tempdir", e))?;
//! # let kc = keychain::Keychain::open(&format!("software:{}", dir.path().display())).await?;
//! kc.generate_key("root-ca", &keychain::KeyParams::ecdsa(keychain::Curve::P384)).await?;
//! kc.generate_key("web", &keychain::KeyParams::ecdsa(keychain::Curve::P256)).await?;
//! let root_key = KeySigner::new(&kc, "root-ca", None).await?;
//! let ca = CertificateAuthority::create_root(root_key, &CertificateParams::ca("CN=Example Root CA,O=Example")?).await?;
//! let leaf = ca.issue(
//!     &kc.public_key("web").await?,
//!     &CertificateParams::new("CN=www.example.test")?
//!         .san("www.example.test".parse()?)
//!         .extended_key_usage(ExtendedKeyUsage::ServerAuth),
//! ).await?;
//! println!("{}", keychain::x509::to_pem(&leaf)?);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod ca;
mod csr;
mod limits;

use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use der::asn1::{Ia5String, ObjectIdentifier};
use der::{DecodePem, EncodePem};
use x509_cert::Certificate;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

pub use self::ca::{CertificateAuthority, CrlParams, RevokedCertificate};
pub use self::csr::{CertificateRequest, create_csr};
pub use x509_cert;

use crate::{Error, Result};

/// CSRs and certificates longer than this are refused unread (they are hostile input).
pub const MAX_INPUT_LEN: usize = 64 * 1024;

fn x509_err(what: &str) -> impl Fn(x509_cert::builder::Error) -> Error + '_ {
    move |e| Error::crypto(format!("{what}: {e}"))
}

fn der_err(what: &str) -> impl Fn(der::Error) -> Error + '_ {
    move |e| Error::invalid_input(format!("{what}: {e}"))
}

/// Parses a distinguished name in RFC 4514 form, most specific first:
/// `CN=Example Root CA,O=Example,C=US`. Spaces after the commas are tolerated. Values are
/// checked against RFC 5280: CN, O and OU at most 64 characters, L and ST 128, C two letters,
/// emailAddress 255; no empty values and no control characters.
pub fn parse_name(s: &str) -> Result<Name> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Name::default());
    }
    // The parser below drops a final lone backslash (`CN=a\` would silently be `CN=a`).
    if s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1 {
        return Err(Error::invalid_input(format!(
            "invalid distinguished name {s:?}: it ends with an unfinished escape (\\)"
        )));
    }
    let name = Name::from_str(s)
        .or_else(|_| Name::from_str(&s.replace(", ", ",")))
        .map_err(|e| Error::invalid_input(format!("invalid distinguished name {s:?}: {e}")))?;
    limits::check_name(&name)?;
    Ok(name)
}

/// A certificate as PEM.
pub fn to_pem(certificate: &Certificate) -> Result<String> {
    certificate
        .to_pem(der::pem::LineEnding::LF)
        .map_err(der_err("encoding the certificate"))
}

/// Parses a PEM certificate.
pub fn certificate_from_pem(pem: &str) -> Result<Certificate> {
    if pem.len() > MAX_INPUT_LEN {
        return Err(Error::invalid_input("certificate too large"));
    }
    Certificate::from_pem(pem.trim()).map_err(der_err("invalid PEM certificate"))
}

/// A subject alternative name. Parsed from text as the CLI takes it: a DNS name unless
/// prefixed `ip:`, `email:` or `uri:` (or `dns:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectAltName {
    /// A DNS name (`www.example.com`, `*.example.com`).
    Dns(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// An email address (rfc822Name).
    Email(String),
    /// A URI.
    Uri(String),
}

impl FromStr for SubjectAltName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let bad = |what: &str| Error::invalid_input(format!("invalid {what} SAN {s:?}"));
        let lower = s.to_ascii_lowercase();
        let san = if let Some(v) = lower.strip_prefix("ip:").map(|_| &s[3..]) {
            SubjectAltName::Ip(v.parse().map_err(|_| bad("IP"))?)
        } else if let Some(v) = lower.strip_prefix("email:").map(|_| &s[6..]) {
            SubjectAltName::Email(v.to_string())
        } else if let Some(v) = lower.strip_prefix("uri:").map(|_| &s[4..]) {
            SubjectAltName::Uri(v.to_string())
        } else {
            SubjectAltName::Dns(
                lower
                    .strip_prefix("dns:")
                    .map(|_| &s[4..])
                    .unwrap_or(s)
                    .to_string(),
            )
        };
        san.check()?;
        Ok(san)
    }
}

impl SubjectAltName {
    /// Checks the name's shape: a DNS name of 1-63-byte labels and 253 bytes in all (a `*`
    /// first label allowed), an email `local@domain` of at most 255 bytes, a URI with a scheme;
    /// ASCII without spaces or control characters.
    pub fn check(&self) -> Result<()> {
        let (ok, what, text) = match self {
            SubjectAltName::Ip(_) => return Ok(()),
            SubjectAltName::Dns(d) => (limits::is_dns_name(d), "DNS", d),
            SubjectAltName::Email(e) => (limits::is_email(e), "email", e),
            SubjectAltName::Uri(u) => (
                limits::is_printable_ascii(u) && u.contains(':') && u.len() <= 2048,
                "URI",
                u,
            ),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::invalid_input(format!("invalid {what} SAN {text:?}")))
        }
    }

    fn to_general_name(&self) -> Result<GeneralName> {
        self.check()?;
        let ia5 = |s: &str| {
            Ia5String::new(s).map_err(|e| Error::invalid_input(format!("SAN {s:?}: {e}")))
        };
        Ok(match self {
            SubjectAltName::Dns(d) => GeneralName::DnsName(ia5(d)?),
            SubjectAltName::Email(e) => GeneralName::Rfc822Name(ia5(e)?),
            SubjectAltName::Uri(u) => GeneralName::UniformResourceIdentifier(ia5(u)?),
            SubjectAltName::Ip(ip) => GeneralName::from(*ip),
        })
    }

    fn from_general_name(name: &GeneralName) -> Option<Self> {
        Some(match name {
            GeneralName::DnsName(d) => SubjectAltName::Dns(d.to_string()),
            GeneralName::Rfc822Name(e) => SubjectAltName::Email(e.to_string()),
            GeneralName::UniformResourceIdentifier(u) => SubjectAltName::Uri(u.to_string()),
            GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
                4 => {
                    let b: [u8; 4] = ip.as_bytes().try_into().ok()?;
                    SubjectAltName::Ip(IpAddr::from(b))
                }
                16 => {
                    let b: [u8; 16] = ip.as_bytes().try_into().ok()?;
                    SubjectAltName::Ip(IpAddr::from(b))
                }
                _ => return None,
            },
            _ => return None,
        })
    }
}

/// An extended key usage (RFC 5280 §4.2.1.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendedKeyUsage {
    /// TLS server authentication.
    ServerAuth,
    /// TLS client authentication.
    ClientAuth,
    /// Code signing.
    CodeSigning,
    /// Email protection (S/MIME).
    EmailProtection,
    /// Time stamping.
    TimeStamping,
    /// OCSP response signing.
    OcspSigning,
    /// Any other purpose, by OID.
    Other(ObjectIdentifier),
}

impl ExtendedKeyUsage {
    /// The OID.
    pub fn oid(self) -> ObjectIdentifier {
        use der::oid::db::rfc5280::*;
        match self {
            ExtendedKeyUsage::ServerAuth => ID_KP_SERVER_AUTH,
            ExtendedKeyUsage::ClientAuth => ID_KP_CLIENT_AUTH,
            ExtendedKeyUsage::CodeSigning => ID_KP_CODE_SIGNING,
            ExtendedKeyUsage::EmailProtection => ID_KP_EMAIL_PROTECTION,
            ExtendedKeyUsage::TimeStamping => ID_KP_TIME_STAMPING,
            ExtendedKeyUsage::OcspSigning => ID_KP_OCSP_SIGNING,
            ExtendedKeyUsage::Other(oid) => oid,
        }
    }
}

/// Whether a certificate is a CA, and how deep a chain below it may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasicConstraints {
    /// An end-entity certificate (`CA:FALSE`).
    EndEntity,
    /// A CA certificate; `path_len` limits how many intermediate CAs may follow it
    /// (`Some(0)`: it issues only end-entity certificates).
    Ca {
        /// The pathLenConstraint.
        path_len: Option<u8>,
    },
}

/// What goes into a certificate besides the keys: subject, validity, extensions, serial.
#[derive(Debug, Clone)]
pub struct CertificateParams {
    /// The subject name.
    pub subject: Name,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// CA or end entity.
    pub basic_constraints: BasicConstraints,
    /// Key usage; `None` picks the usual set: certificate and CRL signing (and digital
    /// signature) for CAs, digital signature (plus key encipherment for RSA) for end entities.
    pub key_usage: Option<Vec<KeyUsages>>,
    /// Extended key usages (none: the extension is left out).
    pub extended_key_usage: Vec<ExtendedKeyUsage>,
    /// Subject alternative names.
    pub subject_alt_names: Vec<SubjectAltName>,
    /// The serial number (big-endian, positive); `None` draws 159 bits from the CSPRNG.
    pub serial_number: Option<Vec<u8>>,
}

/// How far back `not_before` is set by default, for clocks that run slightly behind.
const BACKDATE: Duration = Duration::from_secs(5 * 60);
const DAY: u64 = 24 * 60 * 60;

impl CertificateParams {
    /// End-entity parameters for `subject` (RFC 4514, e.g. `CN=www.example.com`), valid
    /// for 90 days.
    pub fn new(subject: &str) -> Result<Self> {
        let now = SystemTime::now();
        Ok(CertificateParams {
            subject: parse_name(subject)?,
            not_before: now - BACKDATE,
            not_after: now + Duration::from_secs(90 * DAY),
            basic_constraints: BasicConstraints::EndEntity,
            key_usage: None,
            extended_key_usage: Vec::new(),
            subject_alt_names: Vec::new(),
            serial_number: None,
        })
    }

    /// CA parameters for `subject`, valid for ten years, with no path length limit.
    pub fn ca(subject: &str) -> Result<Self> {
        Ok(CertificateParams {
            basic_constraints: BasicConstraints::Ca { path_len: None },
            ..Self::new(subject)?
        }
        .valid_for_days(3650))
    }

    /// Makes the certificate a CA with this path length limit.
    pub fn path_len(mut self, path_len: Option<u8>) -> Self {
        self.basic_constraints = BasicConstraints::Ca { path_len };
        self
    }

    /// Valid from now (backdated five minutes) for `days` days.
    pub fn valid_for_days(mut self, days: u32) -> Self {
        let now = SystemTime::now();
        self.not_before = now - BACKDATE;
        self.not_after = now + Duration::from_secs(u64::from(days) * DAY);
        self
    }

    /// Sets the validity period.
    pub fn validity(mut self, not_before: SystemTime, not_after: SystemTime) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// Adds a subject alternative name.
    pub fn san(mut self, san: SubjectAltName) -> Self {
        self.subject_alt_names.push(san);
        self
    }

    /// Adds an extended key usage.
    pub fn extended_key_usage(mut self, eku: ExtendedKeyUsage) -> Self {
        self.extended_key_usage.push(eku);
        self
    }

    /// Sets the key usage.
    pub fn key_usage(mut self, usages: impl IntoIterator<Item = KeyUsages>) -> Self {
        self.key_usage = Some(usages.into_iter().collect());
        self
    }

    /// Sets the serial number (big-endian, at most 20 bytes, positive).
    pub fn serial_number(mut self, serial: impl Into<Vec<u8>>) -> Self {
        self.serial_number = Some(serial.into());
        self
    }

    /// Whether the parameters are for a CA.
    pub fn is_ca(&self) -> bool {
        matches!(self.basic_constraints, BasicConstraints::Ca { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_never_loses_a_trailing_escape() {
        assert!(matches!(
            parse_name("CN=a\\"),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            parse_name("CN=a\\\\\\"),
            Err(Error::InvalidInput { .. })
        ));
        // An escaped backslash is a backslash in the value.
        let name = parse_name("CN=a\\\\").unwrap_or_else(|e| panic!("{e}"));
        assert!(name.to_string().contains("a\\\\"), "{name}");
    }
}
