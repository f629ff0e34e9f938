//! The certificate authority: roots, intermediates, leaves and CRLs signed by a backend key.

use std::time::SystemTime;

use der::asn1::OctetString;
use der::referenced::OwnedToRef;
use der::{Decode, Encode};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{AsyncBuilder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints as BasicConstraintsExt, CrlNumber,
    ExtendedKeyUsage as EkuExt, KeyUsage, KeyUsages, SubjectAltName as SanExt,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::{BasicConstraints, CertificateParams, CertificateRequest, x509_err};
use crate::public_key::{PublicKey, PublicKeyKind};
use crate::signer::{KeySignature, KeySigner};
use crate::{Error, Result};

/// A CA: a backend key (through its [`KeySigner`]) and the certificate of that key.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    signer: KeySigner,
    certificate: Certificate,
    key_id: Vec<u8>,
    path_len: Option<u8>,
}

/// A certificate to list in a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCertificate {
    /// Its serial number (big-endian).
    pub serial_number: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: SystemTime,
}

/// The CRL's number and validity.
#[derive(Debug, Clone)]
pub struct CrlParams {
    /// The CRL number (monotonic).
    pub number: u64,
    /// This update.
    pub this_update: SystemTime,
    /// Next update.
    pub next_update: Option<SystemTime>,
}

/// The builder profile: our precomputed extensions, plus SKI and AKI from the keys.
struct Profile {
    subject: Name,
    issuer: Option<Name>,
    authority_key_id: Option<Vec<u8>>,
    params: CertificateParams,
}

fn random_serial() -> Result<Vec<u8>> {
    let mut serial = [0u8; 20];
    aws_lc_rs::rand::fill(&mut serial)
        .map_err(|_| Error::crypto("the random number generator failed"))?;
    // Positive (top bit clear) and exactly 20 bytes long (next bit set): 158 random bits.
    serial[0] = (serial[0] & 0x7F) | 0x40;
    Ok(serial.to_vec())
}

fn serial_number(params: &CertificateParams) -> Result<SerialNumber> {
    let bytes = match &params.serial_number {
        Some(s) => s.clone(),
        None => random_serial()?,
    };
    let significant = bytes.iter().skip_while(|b| **b == 0).count();
    if significant == 0 {
        return Err(Error::invalid_input("the serial number must be positive"));
    }
    SerialNumber::new(&bytes)
        .map_err(|e| Error::invalid_input(format!("invalid serial number (at most 20 bytes): {e}")))
}

/// SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2, method 1), what OpenSSL uses.
fn key_identifier(spki: SubjectPublicKeyInfoRef<'_>) -> Result<Vec<u8>> {
    let ski = SubjectKeyIdentifier::try_from(spki)
        .map_err(|e| Error::crypto(format!("subject key identifier: {e}")))?;
    Ok(ski.0.as_bytes().to_vec())
}

impl Profile {
    fn extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
    ) -> Result<Vec<Extension>> {
        let p = &self.params;
        let subject = &self.subject;
        let mut exts: Vec<Extension> = Vec::new();
        let der = |e: der::Error| Error::crypto(format!("encoding an extension: {e}"));
        let (ca, path_len) = match p.basic_constraints {
            BasicConstraints::EndEntity => (false, None),
            BasicConstraints::Ca { path_len } => (true, path_len),
        };
        let bc = BasicConstraintsExt {
            ca,
            path_len_constraint: path_len,
        };
        exts.push((true, &bc).to_extension(subject, &exts).map_err(der)?);
        let usages: Vec<KeyUsages> = match &p.key_usage {
            Some(u) => u.clone(),
            None if ca => vec![
                KeyUsages::KeyCertSign,
                KeyUsages::CRLSign,
                KeyUsages::DigitalSignature,
            ],
            None => {
                let rsa = PublicKey::from_der(&spk.to_der().map_err(der)?)
                    .is_ok_and(|k| matches!(k.kind(), PublicKeyKind::Rsa { .. }));
                if rsa {
                    vec![KeyUsages::DigitalSignature, KeyUsages::KeyEncipherment]
                } else {
                    vec![KeyUsages::DigitalSignature]
                }
            }
        };
        if !usages.is_empty() {
            let flags = usages
                .iter()
                .fold(der::flagset::FlagSet::<KeyUsages>::default(), |f, u| f | *u);
            exts.push(
                (true, &KeyUsage(flags))
                    .to_extension(subject, &exts)
                    .map_err(der)?,
            );
        }
        if !p.extended_key_usage.is_empty() {
            let eku = EkuExt(p.extended_key_usage.iter().map(|e| e.oid()).collect());
            exts.push((false, &eku).to_extension(subject, &exts).map_err(der)?);
        }
        let ski = key_identifier(spk)?;
        let aki = match &self.authority_key_id {
            Some(id) => id.clone(),
            None => key_identifier(issuer_spk)?,
        };
        exts.push(
            (
                false,
                &SubjectKeyIdentifier(OctetString::new(ski).map_err(der)?),
            )
                .to_extension(subject, &exts)
                .map_err(der)?,
        );
        exts.push(
            (
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(aki).map_err(der)?),
                    ..Default::default()
                },
            )
                .to_extension(subject, &exts)
                .map_err(der)?,
        );
        if !p.subject_alt_names.is_empty() {
            let names = p
                .subject_alt_names
                .iter()
                .map(|s| s.to_general_name())
                .collect::<Result<Vec<_>>>()?;
            // Critical when the subject is empty (RFC 5280 §4.2.1.6).
            let critical = subject.is_empty();
            exts.push(
                (critical, &SanExt(names))
                    .to_extension(subject, &exts)
                    .map_err(der)?,
            );
        } else if subject.is_empty() {
            return Err(Error::invalid_input(
                "a certificate with an empty subject needs subject alternative names",
            ));
        }
        Ok(exts)
    }
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        // The builder's error type cannot carry ours; `sign_certificate` checks the same
        // things first, so this only fails on encoding errors.
        self.extensions(spk, issuer_spk)
            .map_err(|_| x509_cert::builder::Error::MissingAttributes)
    }
}

fn validity(params: &CertificateParams) -> Result<Validity> {
    if params.not_after <= params.not_before {
        return Err(Error::invalid_input(
            "the certificate's not_after must come after its not_before",
        ));
    }
    let time = |t: SystemTime| {
        Time::try_from(t).map_err(|e| Error::invalid_input(format!("certificate validity: {e}")))
    };
    Ok(Validity::new(
        time(params.not_before)?,
        time(params.not_after)?,
    ))
}

/// Builds and signs one certificate for `subject_key` with `signer`.
async fn sign_certificate(
    signer: &KeySigner,
    subject_key: &PublicKey,
    params: &CertificateParams,
    issuer: Option<Name>,
    authority_key_id: Option<Vec<u8>>,
) -> Result<Certificate> {
    // Whatever the subject came from (parameters or a CSR), RFC 5280's limits hold.
    super::limits::check_name(&params.subject)?;
    let spki = SubjectPublicKeyInfoOwned::from_der(subject_key.to_der())
        .map_err(|e| Error::invalid_input(format!("subject public key: {e}")))?;
    let profile = Profile {
        subject: params.subject.clone(),
        issuer,
        authority_key_id,
        params: params.clone(),
    };
    // Check (and report with our own errors) what the builder's profile would reject.
    let issuer_spki = SubjectPublicKeyInfoOwned::from_der(signer.public_key().to_der())
        .map_err(|e| Error::crypto(format!("issuer public key: {e}")))?;
    profile.extensions(spki.owned_to_ref(), issuer_spki.owned_to_ref())?;
    let builder = CertificateBuilder::new(profile, serial_number(params)?, validity(params)?, spki)
        .map_err(x509_err("building the certificate"))?;
    builder
        .build_async::<KeySigner, KeySignature>(signer)
        .await
        .map_err(|e| match e {
            x509_cert::builder::Error::Signature(_) => {
                Error::crypto("the backend could not sign the certificate")
            }
            e => Error::crypto(format!("building the certificate: {e}")),
        })
}

fn extension<'a, T: Decode<'a> + der::oid::AssociatedOid>(
    cert: &'a Certificate,
) -> Result<Option<T>> {
    cert.tbs_certificate()
        .get_extension::<T>()
        .map(|o| o.map(|(_, e)| e))
        .map_err(|e| Error::invalid_input(format!("CA certificate extension: {e}")))
}

impl CertificateAuthority {
    /// Creates a self-signed root CA certificate for the signer's key. `params` must be CA
    /// parameters ([`CertificateParams::ca`]).
    pub async fn create_root(signer: KeySigner, params: &CertificateParams) -> Result<Self> {
        if !params.is_ca() {
            return Err(Error::invalid_input(
                "a root CA needs CA parameters (CertificateParams::ca)",
            ));
        }
        let certificate =
            sign_certificate(&signer, &signer.public_key().clone(), params, None, None).await?;
        Self::new(signer, certificate)
    }

    /// A self-signed certificate (CA or not) for the signer's key.
    pub async fn self_signed(
        signer: &KeySigner,
        params: &CertificateParams,
    ) -> Result<Certificate> {
        sign_certificate(signer, &signer.public_key().clone(), params, None, None).await
    }

    /// A CA from an existing certificate of the signer's key (a root, or an intermediate an
    /// upper CA issued). The certificate must hold the signer's public key and be a CA.
    pub fn new(signer: KeySigner, certificate: Certificate) -> Result<Self> {
        let spki = certificate
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| Error::invalid_input(format!("CA certificate: {e}")))?;
        if spki != signer.public_key().to_der() {
            return Err(Error::invalid_input(format!(
                "the CA certificate is not for key {}",
                signer.key()
            )));
        }
        let bc = extension::<BasicConstraintsExt>(&certificate)?;
        let Some(bc) = bc.filter(|b| b.ca) else {
            return Err(Error::invalid_input(
                "the certificate is not a CA certificate (basicConstraints CA:TRUE)",
            ));
        };
        let key_id = match extension::<SubjectKeyIdentifier>(&certificate)? {
            Some(ski) => ski.0.as_bytes().to_vec(),
            None => key_identifier(
                certificate
                    .tbs_certificate()
                    .subject_public_key_info()
                    .owned_to_ref(),
            )?,
        };
        Ok(CertificateAuthority {
            signer,
            certificate,
            key_id,
            path_len: bc.path_len_constraint,
        })
    }

    /// A CA from the signer and its certificate in PEM.
    pub fn from_pem(signer: KeySigner, certificate_pem: &str) -> Result<Self> {
        Self::new(signer, super::certificate_from_pem(certificate_pem)?)
    }

    /// The CA's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The CA's certificate as PEM.
    pub fn certificate_pem(&self) -> Result<String> {
        super::to_pem(&self.certificate)
    }

    /// The CA's signer.
    pub fn signer(&self) -> &KeySigner {
        &self.signer
    }

    /// Issues a certificate for `subject_key`: an end-entity certificate, or an intermediate
    /// CA when `params` are CA parameters. Refuses what the CA itself may not do: issuing a
    /// CA below a CA with pathLen 0 (or a longer path than its pathLen allows), or a
    /// certificate that outlives the CA's own.
    pub async fn issue(
        &self,
        subject_key: &PublicKey,
        params: &CertificateParams,
    ) -> Result<Certificate> {
        if let (BasicConstraints::Ca { path_len }, Some(limit)) =
            (params.basic_constraints, self.path_len)
        {
            if limit == 0 {
                return Err(Error::invalid_input(
                    "this CA has pathLen 0: it may issue end-entity certificates only",
                ));
            }
            if path_len.is_none_or(|p| p >= limit) {
                return Err(Error::invalid_input(format!(
                    "this CA has pathLen {limit}: an intermediate below it needs pathLen < {limit}"
                )));
            }
        }
        let ca_not_after = self
            .certificate
            .tbs_certificate()
            .validity()
            .not_after
            .to_system_time();
        if params.not_after > ca_not_after {
            return Err(Error::invalid_input(
                "the certificate would outlive the CA certificate; shorten its validity",
            ));
        }
        sign_certificate(
            &self.signer,
            subject_key,
            params,
            Some(self.certificate.tbs_certificate().subject().clone()),
            Some(self.key_id.clone()),
        )
        .await
    }

    /// Issues a certificate for the key of a CSR (whose self-signature was verified when it
    /// was parsed). The subject comes from `params`, or from the CSR when `params.subject` is
    /// empty; the SANs from `params`, or the CSR's requested ones when `params` has none.
    pub async fn issue_for_request(
        &self,
        request: &CertificateRequest,
        params: &CertificateParams,
    ) -> Result<Certificate> {
        let mut params = params.clone();
        if params.subject.is_empty() {
            params.subject = request.subject().clone();
        }
        if params.subject_alt_names.is_empty() {
            params.subject_alt_names = request.requested_subject_alt_names()?;
        }
        self.issue(request.public_key(), &params).await
    }

    /// A CRL signed by the CA listing `revoked`.
    pub async fn revocation_list(
        &self,
        revoked: &[RevokedCertificate],
        params: &CrlParams,
    ) -> Result<CertificateList> {
        let time = |t: SystemTime| {
            Time::try_from(t).map_err(|e| Error::invalid_input(format!("CRL time: {e}")))
        };
        let mut entries = Vec::with_capacity(revoked.len());
        for r in revoked {
            entries.push(RevokedCert {
                serial_number: SerialNumber::new(&r.serial_number)
                    .map_err(|e| Error::invalid_input(format!("revoked serial number: {e}")))?,
                revocation_date: time(r.revoked_at)?,
                crl_entry_extensions: None,
            });
        }
        if let Some(next) = params.next_update
            && next <= params.this_update
        {
            return Err(Error::invalid_input(
                "the CRL's next update must come after this update",
            ));
        }
        let number = der::asn1::Uint::new(&params.number.to_be_bytes())
            .map_err(|e| Error::invalid_input(format!("CRL number: {e}")))?;
        let issuer = self.certificate.tbs_certificate().subject().clone();
        let der = |e: der::Error| Error::crypto(format!("encoding the CRL: {e}"));
        // Built by hand rather than with x509-cert's CrlBuilder, which copies the issuer
        // certificate's *authority* key identifier into the CRL: right for a root, wrong for
        // an intermediate (the CRL's AKI must name the CA's own key).
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(self.key_id.clone()).map_err(der)?),
            ..Default::default()
        };
        // Criticality is explicit, so no other extensions need to be seen.
        let extensions: Vec<Extension> = vec![
            (false, &CrlNumber(number))
                .to_extension(&issuer, &[])
                .map_err(der)?,
            (false, &aki).to_extension(&issuer, &[]).map_err(der)?,
        ];
        let algorithm = self.signer.algorithm_identifier()?;
        let tbs = TbsCertList {
            version: x509_cert::certificate::Version::V2,
            signature: algorithm.clone(),
            issuer,
            this_update: time(params.this_update)?,
            next_update: params.next_update.map(time).transpose()?,
            // RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked.
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: Some(extensions),
        };
        let signature = self.signer.sign(&tbs.to_der().map_err(der)?).await?;
        Ok(CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: algorithm,
            signature: der::asn1::BitString::from_bytes(signature.as_bytes()).map_err(der)?,
        })
    }
}
