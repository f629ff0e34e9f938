//! `keychain ssh pubkey`, `keychain ssh cert`, `keychain sign --format sshsig` and
//! `keychain ssh-agent`: SSH from backend keys, through the library's `ssh` module.

use keychain::ssh::{
    CertificateRequest, CertificateType, DEFAULT_USER_EXTENSIONS, issue_certificate,
    openssh_public_key, ssh_key,
};
use keychain::{Error, MessageSource, Result};
use serde_json::json;

use super::ssh_validity::{parse_serial, parse_validity};
use super::{Context, Outcome};
use crate::cli::{SignArgs, SshCertArgs, SshCommand, SshPubkeyArgs};
use crate::files::{self, Mode};

pub use super::ssh_agent::agent;

/// The largest OpenSSH public-key file `ssh cert` reads (an RSA-16384 line is under 3 KiB).
const MAX_PUBLIC_KEY_FILE: usize = 64 * 1024;

/// `keychain ssh …`.
pub async fn run(ctx: &Context, command: SshCommand) -> Result<Outcome> {
    match command {
        SshCommand::Pubkey(args) => pubkey(ctx, args).await,
        SshCommand::Cert(args) => cert(ctx, args).await,
    }
}

/// The OpenSSH SHA-256 fingerprint of a public-key line (`SHA256:…`, as `ssh-keygen -l`).
fn fingerprint(line: &str) -> Result<String> {
    ssh_key::PublicKey::from_openssh(line)
        .map(|k| k.fingerprint(ssh_key::HashAlg::Sha256).to_string())
        .map_err(|e| Error::invalid_input(format!("the OpenSSH public key: {e}")))
}

/// `keychain ssh pubkey`.
async fn pubkey(ctx: &Context, args: SshPubkeyArgs) -> Result<Outcome> {
    let public_key = ctx.keychain.public_key(&args.name).await?;
    let line = openssh_public_key(&public_key, &args.name)?;
    if let Some(out) = &args.out {
        files::write(out, format!("{line}\n").as_bytes(), Mode::Public)?;
    }
    if ctx.out.is_json() {
        let info = ctx.keychain.metadata(&args.name).await?;
        ctx.out.json_value(&json!({
            "key_id": info.key_id,
            "spec": info.spec.as_str(),
            "public_key": line,
            "fingerprint": fingerprint(&line)?,
            "out": args.out.as_ref().map(|p| p.display().to_string()),
        }))?;
    } else if args.out.is_none() {
        ctx.out.bytes(format!("{line}\n").as_bytes())?;
    }
    Ok(Outcome::Success)
}

/// `keychain sign --format sshsig`: the file is read once, through SHA-512.
pub async fn sign_sshsig(ctx: &Context, args: SignArgs) -> Result<Outcome> {
    let namespace = args
        .namespace
        .as_deref()
        .ok_or_else(|| Error::invalid_input("--format sshsig needs --namespace NS (e.g. file)"))?;
    let path = args
        .input
        .as_deref()
        .ok_or_else(|| Error::invalid_input("--format sshsig signs a file: give --in FILE"))?;
    let mut reader = files::open(path)?;
    let armored = keychain::ssh::sign_sshsig(
        &ctx.keychain,
        &args.name,
        namespace,
        &mut MessageSource::once(&mut reader),
    )
    .await?;
    if let Some(out) = &args.out {
        files::write(out, armored.as_bytes(), Mode::Public)?;
    }
    if ctx.out.is_json() {
        let info = ctx.keychain.metadata(&args.name).await?;
        ctx.out.json_value(&json!({
            "key_id": info.key_id,
            "format": "sshsig",
            "namespace": namespace,
            "hash": keychain::ssh::SSHSIG_HASH,
            "signature": armored,
            "out": args.out.as_ref().map(|p| p.display().to_string()),
        }))?;
    } else if args.out.is_none() {
        ctx.out.bytes(armored.as_bytes())?;
    }
    Ok(Outcome::Success)
}

/// A `K` or `K=V` option of `ssh cert`, as a name and a value.
fn option_pair(text: &str, flag: &str) -> Result<(String, String)> {
    let (name, value) = text.split_once('=').unwrap_or((text, ""));
    if name.is_empty() || text.chars().any(keychain::is_control_or_invisible) {
        return Err(Error::invalid_input(format!(
            "{flag} takes K or K=V, a non-empty name and no control characters"
        )));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Checks a text that goes into a certificate (identity, principal).
fn certificate_text<'a>(text: &'a str, what: &str) -> Result<&'a str> {
    if text.is_empty() || text.chars().any(keychain::is_control_or_invisible) {
        return Err(Error::invalid_input(format!(
            "the {what} is a non-empty text without control characters"
        )));
    }
    Ok(text)
}

/// `keychain ssh cert`.
async fn cert(ctx: &Context, args: SshCertArgs) -> Result<Outcome> {
    let text = files::read(&args.public_key, Some(MAX_PUBLIC_KEY_FILE))?;
    let text = std::str::from_utf8(&text)
        .map_err(|_| Error::invalid_input("the --public-key file is not an OpenSSH public key"))?;
    let subject = ssh_key::PublicKey::from_openssh(text.trim()).map_err(|e| {
        Error::invalid_input(format!(
            "the --public-key file is not an OpenSSH public key: {e}"
        ))
    })?;
    let (valid_after, valid_before) = parse_validity(&args.validity, std::time::SystemTime::now())?;
    let serial = parse_serial(&args.serial)?;
    let cert_type = if args.host {
        CertificateType::Host
    } else {
        CertificateType::User
    };
    let mut principals = Vec::new();
    for principal in &args.principals {
        principals.push(certificate_text(principal, "principal")?.to_string());
    }
    let critical_options = args
        .options
        .iter()
        .map(|o| option_pair(o, "--option"))
        .collect::<Result<Vec<_>>>()?;
    let mut extensions = args
        .extensions
        .iter()
        .map(|o| option_pair(o, "--extension"))
        .collect::<Result<Vec<_>>>()?;
    if extensions.is_empty() && cert_type == CertificateType::User {
        extensions = DEFAULT_USER_EXTENSIONS
            .iter()
            .map(|name| (name.to_string(), String::new()))
            .collect();
    }
    let request = CertificateRequest {
        public_key: subject.key_data().clone(),
        key_id: certificate_text(&args.identity, "identity")?.to_string(),
        principals,
        cert_type,
        valid_after,
        valid_before,
        serial,
        critical_options,
        extensions,
        comment: subject.comment().to_string(),
    };
    let certificate = issue_certificate(&ctx.keychain, &args.ca_name, &request).await?;
    let line = certificate
        .to_openssh()
        .map_err(|e| Error::crypto(format!("encoding the certificate: {e}")))?;
    files::write(&args.out, format!("{line}\n").as_bytes(), Mode::Public)?;
    if ctx.out.is_json() {
        let info = ctx.keychain.metadata(&args.ca_name).await?;
        ctx.out.json_value(&json!({
            "ca_key_id": info.key_id,
            "type": if args.host { "host" } else { "user" },
            "identity": request.key_id,
            "principals": request.principals,
            "serial": serial,
            "valid_after": valid_after,
            "valid_before": valid_before,
            "out": args.out.display().to_string(),
        }))?;
    } else if args.out.as_path() != std::path::Path::new("-") {
        ctx.out.text(&format!(
            "certificate {} (serial {serial}) written to {}",
            crate::output::field(&request.key_id),
            crate::output::field(&args.out.display().to_string())
        ))?;
    }
    Ok(Outcome::Success)
}
