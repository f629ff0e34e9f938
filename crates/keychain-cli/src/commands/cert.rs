//! `keychain cert ca|issue|csr|crl`: an X.509 certificate authority whose keys stay in the
//! backend. A root is self-signed by its key; `issue` signs end-entity certificates and (with
//! `--ca`) intermediates for the key of a CSR or of a keychain key; `csr` makes a request for
//! a keychain key; `crl` lists revoked serial numbers. Everything is PEM, as OpenSSL reads it.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keychain::signer::KeySigner;
use keychain::x509::x509_cert::Certificate;
use keychain::x509::x509_cert::der::EncodePem;
use keychain::x509::x509_cert::der::asn1::ObjectIdentifier;
use keychain::x509::x509_cert::der::pem::LineEnding;
use keychain::x509::{
    self, CertificateAuthority, CertificateParams, CertificateRequest, CrlParams, ExtendedKeyUsage,
    RevokedCertificate, SubjectAltName,
};
use keychain::{Error, Result};
use serde_json::json;

use super::{Context, Outcome};
use crate::cli::{CertCaArgs, CertCommand, CertCrlArgs, CertCsrArgs, CertIssueArgs};
use crate::files::{self, Mode};
use crate::output::rfc3339;
use crate::parse;

/// Validity of an end-entity certificate when --days is not given.
const LEAF_DAYS: u32 = 90;
/// Validity of an intermediate CA certificate when --days is not given.
const INTERMEDIATE_DAYS: u32 = 1825;
const DAY: u64 = 24 * 60 * 60;

/// `keychain cert …`.
pub async fn run(ctx: &Context, cmd: CertCommand) -> Result<Outcome> {
    match cmd {
        CertCommand::Ca(args) => ca(ctx, args).await,
        CertCommand::Issue(args) => issue(ctx, args).await,
        CertCommand::Csr(args) => csr(ctx, args).await,
        CertCommand::Crl(args) => crl(ctx, args).await,
    }
}

/// A signer for `key` with the `--algorithm` given, or the key's natural one.
async fn signer(ctx: &Context, key: &str, algorithm: Option<&str>) -> Result<KeySigner> {
    let algorithm = algorithm.map(parse::signing_algorithm).transpose()?;
    KeySigner::new(&ctx.keychain, key, algorithm).await
}

fn positive_days(days: u32) -> Result<u32> {
    if days == 0 {
        return Err(Error::invalid_input("--days must be at least 1"));
    }
    Ok(days)
}

/// Parses `--san` values: DNS names, or `ip:`, `email:`, `uri:` prefixed.
fn subject_alt_names(values: &[String]) -> Result<Vec<SubjectAltName>> {
    values.iter().map(|v| v.parse()).collect()
}

/// Parses an `--eku` value: a usage name (any case, `-`/`_` ignored) or a dotted OID.
fn extended_key_usage(text: &str) -> Result<ExtendedKeyUsage> {
    let normal: String = text
        .trim()
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    Ok(match normal.as_str() {
        "serverauth" => ExtendedKeyUsage::ServerAuth,
        "clientauth" => ExtendedKeyUsage::ClientAuth,
        "codesigning" => ExtendedKeyUsage::CodeSigning,
        "emailprotection" => ExtendedKeyUsage::EmailProtection,
        "timestamping" => ExtendedKeyUsage::TimeStamping,
        "ocspsigning" => ExtendedKeyUsage::OcspSigning,
        oid if !oid.is_empty() && oid.chars().all(|c| c.is_ascii_digit() || c == '.') => {
            ExtendedKeyUsage::Other(ObjectIdentifier::new(oid).map_err(|e| {
                Error::invalid_input(format!("--eku {text:?} is not a valid OID: {e}"))
            })?)
        }
        _ => {
            return Err(Error::invalid_input(format!(
                "unknown --eku {text:?}: use serverAuth, clientAuth, codeSigning, \
                 emailProtection, timeStamping, ocspSigning or a dotted OID"
            )));
        }
    })
}

/// The CA: its key and the certificate in `--ca-cert`, which must be that key's CA
/// certificate.
async fn load_ca(
    ctx: &Context,
    key: &str,
    certificate: &Path,
    algorithm: Option<&str>,
) -> Result<CertificateAuthority> {
    let pem = files::read(certificate, Some(x509::MAX_INPUT_LEN))?;
    let pem = String::from_utf8(pem).map_err(|_| {
        Error::invalid_input(format!(
            "--ca-cert {} is not a PEM certificate",
            certificate.display()
        ))
    })?;
    CertificateAuthority::from_pem(signer(ctx, key, algorithm).await?, &pem)
}

/// Hex of a serial number as `openssl x509 -serial` prints it (uppercase, no leading zeros).
fn serial_hex(bytes: &[u8]) -> String {
    let significant: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    hex::encode_upper(significant)
}

/// Writes (or prints) a certificate; with `--json`, its main fields.
fn emit_certificate(ctx: &Context, certificate: &Certificate, out: Option<&Path>) -> Result<()> {
    let pem = x509::to_pem(certificate)?;
    if let Some(out) = out {
        files::write(out, pem.as_bytes(), Mode::Public)?;
    }
    if ctx.out.is_json() {
        let tbs = certificate.tbs_certificate();
        let validity = tbs.validity();
        ctx.out.json_value(&json!({
            "subject": tbs.subject().to_string(),
            "issuer": tbs.issuer().to_string(),
            "serial": serial_hex(tbs.serial_number().as_bytes()),
            "not_before": rfc3339(validity.not_before.to_system_time()),
            "not_after": rfc3339(validity.not_after.to_system_time()),
            "out": out.map(|p| p.display().to_string()),
            "pem": pem,
        }))
    } else if out.is_none() {
        ctx.out.bytes(pem.as_bytes())
    } else {
        Ok(())
    }
}

/// `keychain cert ca`: a self-signed root.
async fn ca(ctx: &Context, args: CertCaArgs) -> Result<Outcome> {
    let mut params =
        CertificateParams::ca(&args.subject)?.valid_for_days(positive_days(args.days)?);
    if args.path_len.is_some() {
        params = params.path_len(args.path_len);
    }
    let signer = signer(ctx, &args.name, args.algorithm.as_deref()).await?;
    let authority = CertificateAuthority::create_root(signer, &params).await?;
    emit_certificate(ctx, authority.certificate(), args.out.as_deref())?;
    Ok(Outcome::Success)
}

/// `keychain cert issue`: an end-entity or intermediate certificate.
async fn issue(ctx: &Context, args: CertIssueArgs) -> Result<Outcome> {
    let mut params = CertificateParams::new(args.subject.as_deref().unwrap_or(""))?;
    if args.ca {
        params = params.path_len(args.path_len);
    }
    for san in subject_alt_names(&args.sans)? {
        params = params.san(san);
    }
    for eku in &args.ekus {
        params = params.extended_key_usage(extended_key_usage(eku)?);
    }
    let authority = load_ca(ctx, &args.ca_name, &args.ca_cert, args.algorithm.as_deref()).await?;
    let ca_end = authority
        .certificate()
        .tbs_certificate()
        .validity()
        .not_after
        .to_system_time();
    if ca_end <= SystemTime::now() {
        return Err(Error::invalid_input(format!(
            "the CA certificate {} expired at {}",
            args.ca_cert.display(),
            rfc3339(ca_end)
        )));
    }
    match args.days {
        Some(days) => params = params.valid_for_days(positive_days(days)?),
        None => {
            let days = if args.ca {
                INTERMEDIATE_DAYS
            } else {
                LEAF_DAYS
            };
            params = params.valid_for_days(days);
            // By default a certificate ends with its CA's, not after it.
            if params.not_after > ca_end {
                params.not_after = ca_end;
            }
        }
    }
    let certificate = match (&args.csr, &args.key) {
        (Some(path), _) => {
            let request = CertificateRequest::parse(&files::read(path, Some(x509::MAX_INPUT_LEN))?)
                .map_err(|e| Error::invalid_input(format!("--csr {}: {e}", path.display())))?;
            authority.issue_for_request(&request, &params).await?
        }
        (None, Some(key)) => {
            let public_key = ctx.keychain.public_key(key).await?;
            authority.issue(&public_key, &params).await?
        }
        (None, None) => return Err(Error::invalid_input("give --csr FILE or --key NAME")),
    };
    emit_certificate(ctx, &certificate, args.out.as_deref())?;
    Ok(Outcome::Success)
}

/// `keychain cert csr`: a PKCS#10 request signed by the key.
async fn csr(ctx: &Context, args: CertCsrArgs) -> Result<Outcome> {
    let subject = x509::parse_name(&args.subject)?;
    let sans = subject_alt_names(&args.sans)?;
    let signer = signer(ctx, &args.name, args.algorithm.as_deref()).await?;
    let request = x509::create_csr(&signer, &subject, &sans).await?;
    let pem = request.to_pem()?;
    if let Some(out) = &args.out {
        files::write(out, pem.as_bytes(), Mode::Public)?;
    }
    if ctx.out.is_json() {
        ctx.out.json_value(&json!({
            "subject": subject.to_string(),
            "algorithm": signer.algorithm().as_str(),
            "out": args.out.as_ref().map(|p| p.display().to_string()),
            "pem": pem,
        }))?;
    } else if args.out.is_none() {
        ctx.out.bytes(pem.as_bytes())?;
    }
    Ok(Outcome::Success)
}

/// `keychain cert crl`: a CRL revoking the serial numbers given, as of now.
async fn crl(ctx: &Context, args: CertCrlArgs) -> Result<Outcome> {
    let now = SystemTime::now();
    let revoked = args
        .revoke
        .iter()
        .map(|s| {
            Ok(RevokedCertificate {
                serial_number: parse::hex_serial(s)?,
                revoked_at: now,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let number = match args.number {
        Some(n) => n,
        None => now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    };
    let next_update = now
        .checked_add(Duration::from_secs(
            u64::from(positive_days(args.days)?) * DAY,
        ))
        .ok_or_else(|| Error::invalid_input("--days is out of range"))?;
    let authority = load_ca(ctx, &args.ca_name, &args.ca_cert, args.algorithm.as_deref()).await?;
    let list = authority
        .revocation_list(
            &revoked,
            &CrlParams {
                number,
                this_update: now,
                next_update: Some(next_update),
            },
        )
        .await?;
    let pem = list
        .to_pem(LineEnding::LF)
        .map_err(|e| Error::crypto(format!("encoding the CRL: {e}")))?;
    if let Some(out) = &args.out {
        files::write(out, pem.as_bytes(), Mode::Public)?;
    }
    if ctx.out.is_json() {
        let serials: Vec<String> = revoked
            .iter()
            .map(|r| serial_hex(&r.serial_number))
            .collect();
        ctx.out.json_value(&json!({
            "number": number,
            "revoked": serials,
            "this_update": rfc3339(now),
            "next_update": rfc3339(next_update),
            "out": args.out.as_ref().map(|p| p.display().to_string()),
            "pem": pem,
        }))?;
    } else if args.out.is_none() {
        ctx.out.bytes(pem.as_bytes())?;
    }
    Ok(Outcome::Success)
}
