//! Certificate signing requests (PKCS#10): made for backend keys, and parsed — with their
//! self-signature verified — when a CA receives them.

use der::{Decode, DecodePem, Encode, EncodePem};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::SubjectAltName as SanExt;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, ExtensionReq, RequestBuilder};

use super::{MAX_INPUT_LEN, SubjectAltName, x509_err};
use crate::algorithm::{Message, SigningAlgorithm};
use crate::public_key::PublicKey;
use crate::signer::{KeySignature, KeySigner, algorithm_from_identifier};
use crate::{Error, Result};

/// Makes a CSR for the signer's key, signed by it (proof of possession), with `subject` and
/// the requested subject alternative names.
pub async fn create_csr(
    signer: &KeySigner,
    subject: &Name,
    subject_alt_names: &[SubjectAltName],
) -> Result<CertificateRequest> {
    use x509_cert::builder::AsyncBuilder;
    super::limits::check_name(subject)?;
    let mut builder = RequestBuilder::new(subject.clone()).map_err(x509_err("building the CSR"))?;
    if !subject_alt_names.is_empty() {
        let names = subject_alt_names
            .iter()
            .map(|s| s.to_general_name())
            .collect::<Result<Vec<_>>>()?;
        builder
            .add_extension(&SanExt(names))
            .map_err(|e| Error::invalid_input(format!("CSR extension: {e}")))?;
    }
    let request = builder
        .build_async::<KeySigner, KeySignature>(signer)
        .await
        .map_err(x509_err("signing the CSR"))?;
    Ok(CertificateRequest {
        request,
        public_key: signer.public_key().clone(),
        algorithm: signer.algorithm(),
    })
}

/// A PKCS#10 CSR whose self-signature verified.
#[derive(Debug, Clone)]
pub struct CertificateRequest {
    request: CertReq,
    public_key: PublicKey,
    algorithm: SigningAlgorithm,
}

impl CertificateRequest {
    /// Parses a DER CSR and verifies its self-signature (RSA PKCS#1 v1.5 and PSS, ECDSA
    /// P-256/P-384/P-521/secp256k1, Ed25519). Anything else, or a bad signature, is refused.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        if der.len() > MAX_INPUT_LEN {
            return Err(Error::invalid_input("CSR too large"));
        }
        let request = CertReq::from_der(der)
            .map_err(|e| Error::invalid_input(format!("malformed CSR: {e}")))?;
        Self::verified(request)
    }

    /// Parses a PEM CSR (`CERTIFICATE REQUEST`) and verifies its self-signature.
    pub fn from_pem(pem: &str) -> Result<Self> {
        if pem.len() > MAX_INPUT_LEN {
            return Err(Error::invalid_input("CSR too large"));
        }
        let request = CertReq::from_pem(pem.trim())
            .map_err(|e| Error::invalid_input(format!("malformed PEM CSR: {e}")))?;
        Self::verified(request)
    }

    /// Parses PEM or DER, whichever `bytes` holds.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        match std::str::from_utf8(bytes) {
            Ok(s) if s.trim_start().starts_with("-----BEGIN") => Self::from_pem(s),
            _ => Self::from_der(bytes),
        }
    }

    fn verified(request: CertReq) -> Result<Self> {
        let spki = request
            .info
            .public_key
            .to_der()
            .map_err(|e| Error::invalid_input(format!("CSR public key: {e}")))?;
        let public_key = PublicKey::from_der(&spki)?;
        let algorithm: AlgorithmIdentifierOwned = request.algorithm.clone();
        let algorithm = algorithm_from_identifier(&algorithm, public_key.kind())?;
        let info = request
            .info
            .to_der()
            .map_err(|e| Error::invalid_input(format!("CSR: {e}")))?;
        let signature = request
            .signature
            .as_bytes()
            .ok_or_else(|| Error::invalid_input("CSR signature has unused bits"))?;
        let ok = match algorithm {
            a if !a.accepts_digest() => {
                public_key.verify(Message::Raw(&info), signature, algorithm)?
            }
            a => {
                let digest = a.hash().digest(&info);
                public_key.verify(Message::Digest(&digest), signature, a)?
            }
        };
        if !ok {
            return Err(Error::invalid_input(
                "the CSR's signature does not verify (tampered, or not signed by its key)",
            ));
        }
        Ok(CertificateRequest {
            request,
            public_key,
            algorithm,
        })
    }

    /// The requested subject.
    pub fn subject(&self) -> &Name {
        &self.request.info.subject
    }

    /// The key to certify.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The algorithm the CSR was signed with.
    pub fn signature_algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The subject alternative names the CSR asks for (in its extensionRequest attribute).
    /// Names of other kinds (directory names, other names) are ignored.
    pub fn requested_subject_alt_names(&self) -> Result<Vec<SubjectAltName>> {
        let mut out = Vec::new();
        for attr in self.request.info.attributes.iter() {
            if attr.oid != der::oid::db::rfc5912::ID_EXTENSION_REQ {
                continue;
            }
            for value in attr.values.iter() {
                let req: ExtensionReq = value
                    .decode_as()
                    .map_err(|e| Error::invalid_input(format!("CSR extensionRequest: {e}")))?;
                for ext in req.0 {
                    if ext.extn_id != der::oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME {
                        continue;
                    }
                    let san = SanExt::from_der(ext.extn_value.as_bytes())
                        .map_err(|e| Error::invalid_input(format!("CSR SAN: {e}")))?;
                    out.extend(san.0.iter().filter_map(SubjectAltName::from_general_name));
                }
            }
        }
        Ok(out)
    }

    /// The parsed request.
    pub fn request(&self) -> &CertReq {
        &self.request
    }

    /// DER encoding.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        self.request
            .to_der()
            .map_err(|e| Error::crypto(format!("encoding the CSR: {e}")))
    }

    /// PEM encoding (`CERTIFICATE REQUEST`).
    pub fn to_pem(&self) -> Result<String> {
        self.request
            .to_pem(der::pem::LineEnding::LF)
            .map_err(|e| Error::crypto(format!("encoding the CSR: {e}")))
    }
}
