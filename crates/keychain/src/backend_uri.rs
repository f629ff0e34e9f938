//! Backend URIs, parsed and checked in one place: `software:PATH`,
//! `awskms[:[//HOST[:PORT][/]][?NAME=VALUE&…]]` and RFC 7512 `pkcs11:token=…?module-path=…`
//! (that one's attributes are checked in `pkcs11/uri.rs`). [`crate::Keychain::open`], the software
//! configuration and the AWS KMS configuration all read a URI through [`BackendUri::parse`],
//! so every component is checked once, where it enters: ports in 1–65535, region names shaped
//! like AWS regions, each attribute at most once, no unknown attributes, no credentials
//! (`user:secret@host` or `secret_access_key=`), no control characters, no empty components.
//!
//! Error messages name the offending component but never repeat a whole URI, so a secret
//! pasted into one is never echoed.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::pkcs11::uri::Pkcs11Uri;
use crate::text::is_control_or_invisible;
use crate::{Error, Result};

/// The longest backend URI accepted, in bytes.
pub(crate) const MAX_URI_LEN: usize = 4096;
/// The longest AWS profile name accepted, in bytes.
const MAX_PROFILE_LEN: usize = 128;
/// The query attributes of an `awskms` URI (`-` spellings are accepted for the `_` ones).
pub(crate) const AWSKMS_ATTRIBUTES: &[&str] =
    &["region", "endpoint", "profile", "max_attempts", "cache_ttl"];

/// A parsed backend URI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendUri {
    /// `software:PATH` (also `software://PATH`); `software:` alone is the default keystore
    /// (`path` is `None`, see [`crate::default_keystore_path`]).
    Software {
        /// The keystore directory, when the URI names one.
        path: Option<PathBuf>,
    },
    /// `awskms`, `awskms:`, `awskms://HOST[:PORT]/?…` or `awskms:?…`.
    AwsKms(AwsKmsUri),
    /// `pkcs11:token=LABEL;serial=S;slot-id=N?module-path=PATH&pin-value=PIN` (RFC 7512; see
    /// [`Pkcs11Uri`]). The PIN is never shown by `Debug`.
    Pkcs11(Pkcs11Uri),
}

/// The settings an `awskms` URI names; what it leaves out comes from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AwsKmsUri {
    /// `http://HOST:PORT` from the authority, or the `endpoint` attribute.
    pub endpoint: Option<String>,
    /// The `region` attribute.
    pub region: Option<String>,
    /// The `profile` attribute.
    pub profile: Option<String>,
    /// The `max_attempts` attribute.
    pub max_attempts: Option<u32>,
    /// The `cache_ttl` attribute (whole seconds).
    pub cache_ttl: Option<Duration>,
}

impl AwsKmsUri {
    /// Overrides the region, profile and endpoint (the CLI's `--region`, `--profile` and
    /// `--endpoint-url`, which win over the URI and the environment as the aws CLI's do),
    /// each checked as the URI's own attributes are. `None` keeps what the URI says.
    pub fn with_overrides(
        mut self,
        region: Option<&str>,
        profile: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<Self> {
        let named = |option: &str, e: Error| match e {
            Error::InvalidInput { message } => {
                let message = message.strip_prefix("backend URI: ").unwrap_or(&message);
                Error::invalid_input(format!("{option}: {message}"))
            }
            other => other,
        };
        if let Some(region) = region {
            check_region(region).map_err(|e| named("--region", e))?;
            self.region = Some(region.to_string());
        }
        if let Some(profile) = profile {
            check_profile(profile).map_err(|e| named("--profile", e))?;
            self.profile = Some(profile.to_string());
        }
        if let Some(endpoint) = endpoint {
            check_endpoint(endpoint).map_err(|e| named("--endpoint-url", e))?;
            self.endpoint = Some(endpoint.to_string());
        }
        Ok(self)
    }
}

impl AwsKmsUri {
    /// The `awskms:` URI of these settings, which [`BackendUri::parse`] reads back to the
    /// same settings: `awskms:` alone when none is set, else `awskms:?NAME=VALUE&…` with
    /// the set attributes (endpoint, region, profile, max_attempts, cache_ttl, in this order,
    /// so equal settings give equal strings), each value percent-encoded where it holds a
    /// character that separates or introduces attributes.
    pub fn to_uri(&self) -> String {
        let attributes: Vec<String> = [
            ("endpoint", self.endpoint.clone()),
            ("region", self.region.clone()),
            ("profile", self.profile.clone()),
            ("max_attempts", self.max_attempts.map(|n| n.to_string())),
            ("cache_ttl", self.cache_ttl.map(|t| t.as_secs().to_string())),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| format!("{name}={}", percent_encode(&v))))
        .collect();
        if attributes.is_empty() {
            "awskms:".to_string()
        } else {
            format!("awskms:?{}", attributes.join("&"))
        }
    }
}

impl BackendUri {
    /// The URI written back out, so that [`BackendUri::parse`] reads the same backend:
    /// `software:PATH` (`software:` for the default keystore), [`AwsKmsUri::to_uri`], or a
    /// `pkcs11:` URI without a `pin-value` (refused: a PIN is a secret). A
    /// keystore path that no URI can carry — not UTF-8, holding a control character, or
    /// starting or ending with whitespace (which parsing trims) — is
    /// [`Error::InvalidInput`], as is a URI longer once written (percent-encoding makes it
    /// grow) than the 4096 bytes a backend URI may hold.
    pub fn to_uri(&self) -> Result<String> {
        let written = self.write_uri()?;
        if written.len() > MAX_URI_LEN {
            return Err(bad(format!(
                "written out, the backend URI would be {} bytes, over the {MAX_URI_LEN} it may \
                 hold",
                written.len()
            )));
        }
        Ok(written)
    }

    fn write_uri(&self) -> Result<String> {
        match self {
            BackendUri::Software { path: None } => Ok("software:".to_string()),
            BackendUri::Software { path: Some(path) } => {
                let text = path
                    .to_str()
                    .ok_or_else(|| bad("the keystore path is not UTF-8"))?;
                if text.chars().any(is_control_or_invisible) {
                    return Err(bad("the keystore path holds a control character"));
                }
                if text.trim() != text {
                    return Err(bad(
                        "the keystore path starts or ends with whitespace, which a URI loses",
                    ));
                }
                // `software://` is read as `software:`: a path that itself starts with `//`
                // keeps it behind an explicit `//`.
                if text.starts_with("//") {
                    Ok(format!("software://{text}"))
                } else {
                    Ok(format!("software:{text}"))
                }
            }
            BackendUri::AwsKms(kms) => Ok(kms.to_uri()),
            BackendUri::Pkcs11(p11) => pkcs11_to_uri(p11),
        }
    }
}

/// A `pkcs11:` backend URI written back out: token, serial and slot-id in the path,
/// module-path and pin-source in the query. A PIN given as `pin-value` is a secret, and a
/// written URI travels (an age recipient carries one), so that form is refused.
fn pkcs11_to_uri(p11: &Pkcs11Uri) -> Result<String> {
    use crate::pkcs11::uri::PinSource;
    let text = |path: &std::path::Path, what: &str| {
        path.to_str()
            .filter(|t| !t.chars().any(is_control_or_invisible))
            .map(pkcs11_encode)
            .ok_or_else(|| bad(format!("the {what} cannot be written in a URI")))
    };
    let mut path = Vec::new();
    if let Some(token) = &p11.token {
        path.push(format!("token={}", pkcs11_encode(token)));
    }
    if let Some(serial) = &p11.serial {
        path.push(format!("serial={}", pkcs11_encode(serial)));
    }
    if let Some(slot) = p11.slot_id {
        path.push(format!("slot-id={slot}"));
    }
    let mut query = Vec::new();
    if let Some(module) = &p11.module_path {
        query.push(format!("module-path={}", text(module, "module path")?));
    }
    match &p11.pin {
        PinSource::Value(_) => {
            return Err(bad(
                "a pkcs11 URI with pin-value is not written out (the PIN is a secret); use \
                 pin-source=file:PATH or KEYCHAIN_PKCS11_PIN",
            ));
        }
        PinSource::File(file) => query.push(format!("pin-source=file:{}", text(file, "PIN file")?)),
        PinSource::Env => {}
    }
    let mut uri = format!("pkcs11:{}", path.join(";"));
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query.join("&"));
    }
    Ok(uri)
}

fn bad(message: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("backend URI: {message}"))
}

impl BackendUri {
    /// Parses and checks a backend URI (surrounding whitespace is ignored).
    pub fn parse(uri: &str) -> Result<Self> {
        let uri = uri.trim();
        if uri.len() > MAX_URI_LEN {
            return Err(bad(format!(
                "{} bytes is too long (at most {MAX_URI_LEN})",
                uri.len()
            )));
        }
        if let Some(c) = uri.chars().find(|&c| is_control_or_invisible(c)) {
            return Err(bad(format!(
                "control character {c:?} is not allowed; nothing in a backend URI may contain one"
            )));
        }
        if let Some(rest) = uri.strip_prefix("software:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            return Ok(BackendUri::Software {
                path: (!path.is_empty()).then(|| PathBuf::from(path)),
            });
        }
        if let Some(rest) = uri.strip_prefix("pkcs11:") {
            return crate::pkcs11::uri::parse(rest).map(BackendUri::Pkcs11);
        }
        if uri == "awskms" {
            return Ok(BackendUri::AwsKms(AwsKmsUri::default()));
        }
        if let Some(rest) = uri.strip_prefix("awskms:") {
            return parse_awskms(rest).map(BackendUri::AwsKms);
        }
        // Only the scheme is echoed: the rest may hold anything, a secret included.
        let scheme = match uri.split_once(':') {
            Some((s, _)) if s.len() <= 32 => format!("scheme {}", shown(s)),
            Some(_) | None => "no known scheme".to_string(),
        };
        Err(Error::invalid_input(format!(
            "unknown backend URI ({scheme}): expected software:PATH, awskms:… or pkcs11:…"
        )))
    }
}

/// The part of an `awskms:` URI after the scheme.
fn parse_awskms(rest: &str) -> Result<AwsKmsUri> {
    let mut out = AwsKmsUri::default();
    if rest.contains('#') {
        return Err(bad("awskms URIs have no #fragment"));
    }
    let query = if let Some(hier) = rest.strip_prefix("//") {
        let (authority, after) = match hier.find(['/', '?']) {
            Some(i) => hier.split_at(i),
            None => (hier, ""),
        };
        if authority.is_empty() {
            return Err(bad(
                "awskms:// needs HOST[:PORT] (write awskms:?region=R to take the endpoint \
                 from the environment)",
            ));
        }
        let (host, port) = check_authority(authority)?;
        out.endpoint = Some(match port {
            Some(p) => format!("http://{host}:{p}"),
            None => format!("http://{host}"),
        });
        let after = after.strip_prefix('/').unwrap_or(after);
        match after.strip_prefix('?') {
            Some(q) => q,
            None if after.is_empty() => "",
            None => {
                return Err(bad("an awskms URI has no path; keys are named separately \
                     (expected awskms://HOST:PORT/?region=REGION)"));
            }
        }
    } else {
        rest.strip_prefix('?').unwrap_or(rest)
    };
    let mut seen: Vec<Attribute> = Vec::new();
    if query.is_empty() {
        return Ok(out);
    }
    for part in query.split(['&', ';']) {
        if part.is_empty() {
            return Err(bad(
                "empty attribute (two separators in a row, or one at an end)",
            ));
        }
        let (raw_name, raw_value) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("attribute {} is not NAME=VALUE", shown(part))))?;
        let attribute = attribute(raw_name)?;
        let name = AWSKMS_ATTRIBUTES[attribute as usize];
        if seen.contains(&attribute) {
            return Err(bad(format!("attribute {name} is given twice")));
        }
        seen.push(attribute);
        let value = percent_decode(raw_value).map_err(|e| bad(format!("attribute {name}: {e}")))?;
        if value.is_empty() {
            return Err(bad(format!("attribute {name} is empty")));
        }
        if let Some(c) = value.chars().find(|&c| is_control_or_invisible(c)) {
            return Err(bad(format!(
                "attribute {name} holds the control character {c:?}"
            )));
        }
        match attribute {
            Attribute::Region => {
                check_region(&value)?;
                out.region = Some(value);
            }
            Attribute::Endpoint => {
                check_endpoint(&value)?;
                out.endpoint = Some(value);
            }
            Attribute::Profile => {
                check_profile(&value)?;
                out.profile = Some(value);
            }
            Attribute::MaxAttempts => {
                let n = parse_decimal(&value)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=20).contains(n))
                    .ok_or_else(|| {
                        bad(format!(
                            "max_attempts must be a whole number from 1 to 20, not {}",
                            shown(&value)
                        ))
                    })?;
                out.max_attempts = Some(n);
            }
            Attribute::CacheTtl => {
                let secs = parse_decimal(&value).ok_or_else(|| {
                    bad(format!(
                        "cache_ttl must be a whole number of seconds, not {}",
                        shown(&value)
                    ))
                })?;
                out.cache_ttl = Some(Duration::from_secs(secs));
            }
        }
    }
    Ok(out)
}

/// The attributes of an `awskms` URI, in the order of [`AWSKMS_ATTRIBUTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attribute {
    Region,
    Endpoint,
    Profile,
    MaxAttempts,
    CacheTtl,
}

/// The attribute a name spells; credentials and unknown names are refused.
fn attribute(name: &str) -> Result<Attribute> {
    let n = name.replace('-', "_");
    let known = [
        Attribute::Region,
        Attribute::Endpoint,
        Attribute::Profile,
        Attribute::MaxAttempts,
        Attribute::CacheTtl,
    ];
    if let Some(a) = known
        .into_iter()
        .find(|a| AWSKMS_ATTRIBUTES[*a as usize] == n)
    {
        return Ok(a);
    }
    let lower = n.to_ascii_lowercase();
    if [
        "access_key_id",
        "secret_access_key",
        "session_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "password",
        "secret",
        "token",
    ]
    .contains(&lower.as_str())
    {
        return Err(bad(
            "credentials do not belong in a backend URI; use the environment, a profile or \
             an instance role",
        ));
    }
    Err(bad(format!(
        "unknown attribute {} (known: {})",
        shown(name),
        AWSKMS_ATTRIBUTES.join(", ")
    )))
}

/// A component for an error message: quoted and escaped, and cut when long. A component with
/// an `@` is not shown: it may hold `user:secret@`.
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 64;
    if s.contains('@') {
        return "(not shown: it contains '@', which may hold credentials)".to_string();
    }
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}…", &s[..i]),
        None => format!("{s:?}"),
    }
}

/// A decimal number of ASCII digits only (no sign, no spaces, no `+`), that fits a `u64`.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Checks `HOST[:PORT]` (a DNS name, an IPv4 address or a bracketed IPv6 address; a port of
/// 1–65535) and returns the host and port. User information (`user:secret@`) is refused
/// without being repeated.
pub(crate) fn check_authority(authority: &str) -> Result<(&str, Option<u16>)> {
    if authority.contains('@') {
        return Err(bad(
            "credentials (user:secret@) do not belong in a backend URI and are refused \
             (the part before '@' is not shown); use the environment, a profile or an \
             instance role",
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inner, after) = v6
            .split_once(']')
            .ok_or_else(|| bad(format!("host {} lacks its closing ']'", shown(authority))))?;
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad(format!("{} is not an IPv6 address", shown(inner))));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| {
                bad(format!(
                    "{} after an IPv6 address is not :PORT",
                    shown(after)
                ))
            })?),
        };
        (&authority[..inner.len() + 2], port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if !host.starts_with('[') {
        check_host(host)?;
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            parse_decimal(p)
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n != 0)
                .ok_or_else(|| bad(format!("port {} is not a number from 1 to 65535", shown(p))))?,
        ),
    };
    Ok((host, port))
}

/// A DNS name or an IPv4 address: labels of letters, digits and hyphens, 1–63 bytes each, not
/// starting or ending with a hyphen, 253 bytes in all.
fn check_host(host: &str) -> Result<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || host.len() > 253 || !name.split('.').all(label_ok) {
        return Err(bad(format!(
            "host {} is not a DNS name or an IP address",
            shown(host)
        )));
    }
    Ok(())
}

/// Checks the shape of an AWS region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`):
/// 2–32 bytes of lowercase letters, digits and single hyphens, starting with a letter and not
/// ending with a hyphen.
pub(crate) fn check_region(region: &str) -> Result<()> {
    let ok = (2..=32).contains(&region.len())
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && !region.ends_with('-')
        && !region.contains("--")
        && region
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "{} is not an AWS region name (lowercase letters, digits and hyphens, like \
             us-east-1)",
            shown(region)
        )))
    }
}

/// Checks that an endpoint is an `http://` or `https://` URL with a valid host, an optional
/// port of 1–65535 and an optional path, without credentials or control characters.
pub(crate) fn check_endpoint(endpoint: &str) -> Result<()> {
    let refuse = |why: &str| {
        Error::invalid_input(format!(
            "endpoint {}: {why} (expected http://HOST[:PORT] or https://HOST[:PORT])",
            shown(endpoint)
        ))
    };
    if endpoint
        .chars()
        .any(|c| is_control_or_invisible(c) || c.is_whitespace())
    {
        return Err(refuse("control characters and spaces are not allowed"));
    }
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .ok_or_else(|| refuse("not an http:// or https:// URL"))?;
    let (authority, after) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(refuse("no host"));
    }
    // KMS answers at the root: a path, query or fragment would only carry something else
    // (a credential) where nobody checks it.
    if !after.is_empty() && after != "/" {
        // Not echoed: what follows the host may be the very credential this keeps out.
        let scheme = if endpoint.starts_with("https://") {
            "https"
        } else {
            "http"
        };
        return Err(Error::invalid_input(format!(
            "endpoint {}: a path, query or fragment is not allowed (expected \
             http://HOST[:PORT] or https://HOST[:PORT])",
            shown(&format!("{scheme}://{authority}/…"))
        )));
    }
    check_authority(authority).map_err(|e| match e {
        Error::InvalidInput { message } => Error::invalid_input(format!("endpoint: {message}")),
        other => other,
    })?;
    Ok(())
}

/// A named profile of the shared AWS config files: printable, no spaces, at most 128 bytes.
fn check_profile(profile: &str) -> Result<()> {
    if profile.len() > MAX_PROFILE_LEN || profile.chars().any(char::is_whitespace) {
        return Err(bad(format!(
            "profile {} is not a profile name (no spaces, at most {MAX_PROFILE_LEN} bytes)",
            shown(profile)
        )));
    }
    Ok(())
}

/// Escapes every byte of a pkcs11 URI value but RFC 3986's unreserved characters and the
/// `/` and `:` of paths, as `%XX` (RFC 7512 values are percent-encoded UTF-8).
fn pkcs11_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes `%` and the characters that separate or introduce attributes (`&`, `;`, `#`,
/// `=`, `?`) or that a URI may not hold (a space), as `%XX`; [`percent_decode`] undoes it.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '%' | '&' | ';' | '#' | '=' | '?' | ' ' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Decodes `%XX` escapes; the result must be UTF-8.
pub(crate) fn percent_decode(s: &str) -> std::result::Result<String, String> {
    String::from_utf8(percent_decode_bytes(s)?)
        .map_err(|_| "%-escapes that are not UTF-8".to_string())
}

/// Decodes `%XX` escapes into bytes.
pub(crate) fn percent_decode_bytes(s: &str) -> std::result::Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "a '%' not followed by two hex digits".to_string())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(uri: &str) -> AwsKmsUri {
        match BackendUri::parse(uri) {
            Ok(BackendUri::AwsKms(a)) => a,
            other => panic!("{uri}: {other:?}"),
        }
    }

    fn refused(uri: &str) -> String {
        match BackendUri::parse(uri) {
            Err(Error::InvalidInput { message }) => message,
            other => panic!("{uri:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn good_uris_parse() {
        let a = aws("awskms://localhost:4566/?region=eu-west-1");
        assert_eq!(a.endpoint.as_deref(), Some("http://localhost:4566"));
        assert_eq!(a.region.as_deref(), Some("eu-west-1"));
        let a = aws("awskms://127.0.0.1:4566?region=us-gov-west-1&max-attempts=5&cache_ttl=0");
        assert_eq!(a.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(a.max_attempts, Some(5));
        assert_eq!(a.cache_ttl, Some(Duration::ZERO));
        let a = aws("awskms://[::1]:4566/");
        assert_eq!(a.endpoint.as_deref(), Some("http://[::1]:4566"));
        let a = aws("awskms:?endpoint=http%3A%2F%2F127.0.0.1%3A4566&region=us-east-2");
        assert_eq!(a.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        let a = aws("awskms:region=ap-southeast-1;profile=prod");
        assert_eq!(a.profile.as_deref(), Some("prod"));
        assert_eq!(aws("awskms"), AwsKmsUri::default());
        assert_eq!(aws("awskms:"), AwsKmsUri::default());
        assert_eq!(aws(" awskms:? "), AwsKmsUri::default());
        assert_eq!(
            BackendUri::parse("software:/tmp/ks").ok(),
            Some(BackendUri::Software {
                path: Some("/tmp/ks".into())
            })
        );
        assert_eq!(
            BackendUri::parse("software:").ok(),
            Some(BackendUri::Software { path: None })
        );
    }

    #[test]
    fn written_uris_parse_back_to_the_same_settings() {
        for uri in [
            "awskms",
            "awskms://127.0.0.1:4566/?region=eu-west-1&profile=a%26b",
            "awskms:?endpoint=https://kms.example.com&region=us-east-1&max_attempts=3&cache_ttl=0",
            "awskms:?profile=p%3Bq%3Dr%23s%3Ft%25u&region=ap-south-1",
            "software:",
            "software:/tmp/key store/ks",
            "software:relative/ks",
            "software:////server/share/ks",
            "software:/tmp/a%26b?c#d",
        ] {
            let parsed = BackendUri::parse(uri).unwrap();
            let written = parsed.to_uri().unwrap();
            assert_eq!(
                BackendUri::parse(&written).unwrap(),
                parsed,
                "{uri} → {written}"
            );
        }
        assert_eq!(
            BackendUri::parse("awskms://127.0.0.1:4566/?profile=a%26b&region=eu-west-1")
                .unwrap()
                .to_uri()
                .unwrap(),
            "awskms:?endpoint=http://127.0.0.1:4566&region=eu-west-1&profile=a%26b"
        );
        assert_eq!(
            BackendUri::Software {
                path: Some("//srv/ks".into())
            }
            .to_uri()
            .unwrap(),
            "software:////srv/ks"
        );
        for path in ["/tmp/a\nb", " /tmp/ks", "/tmp/ks "] {
            let uri = BackendUri::Software {
                path: Some(path.into()),
            };
            assert!(uri.to_uri().is_err(), "{path:?}");
        }
    }

    #[test]
    fn a_uri_that_grows_past_the_limit_when_written_is_refused_not_written() {
        // Under the limit as given, over it once its characters are percent-encoded.
        let serial = "\u{f003}".repeat(1300);
        let given = format!("pkcs11:serial={serial}");
        assert!(given.len() <= MAX_URI_LEN);
        let parsed = BackendUri::parse(&given).unwrap_or_else(|e| panic!("{e}"));
        match parsed.to_uri() {
            Err(Error::InvalidInput { message }) => assert!(message.contains("4096"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pkcs11_uris_are_written_back_without_a_pin_value() {
        let uri = "pkcs11:token=my%20token;slot-id=3?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin";
        let parsed = BackendUri::parse(uri).unwrap();
        let written = parsed.to_uri().unwrap();
        assert_eq!(BackendUri::parse(&written).unwrap(), parsed, "{written}");
        let odd = "pkcs11:token=a%22b%C3%A9%2F%3B;serial=01%20ab?module-path=/m%20x.so";
        let odd = BackendUri::parse(odd).unwrap();
        assert_eq!(BackendUri::parse(&odd.to_uri().unwrap()).unwrap(), odd);
        let with_pin =
            BackendUri::parse("pkcs11:token=t?module-path=/m.so&pin-value=1234").unwrap();
        let e = with_pin.to_uri().unwrap_err().to_string();
        assert!(!e.contains("1234"), "{e}");
    }

    #[test]
    fn every_component_is_checked() {
        for (uri, says) in [
            ("awskms://localhost:0/?region=us-east-1", "port"),
            ("awskms://localhost:65536/", "port"),
            ("awskms://localhost:99999999/", "port"),
            ("awskms://localhost:/", "port"),
            ("awskms://localhost:+80/", "port"),
            ("awskms://localhost:4566:1/", "port"),
            ("awskms://-bad-/", "host"),
            ("awskms://a..b/", "host"),
            ("awskms://[::zz]:1/", "IPv6"),
            ("awskms:///?region=us-east-1", "HOST"),
            ("awskms://h/?region=US-EAST-1", "region"),
            ("awskms://h/?region=us_east_1", "region"),
            ("awskms://h/?region=us-east-1-", "region"),
            ("awskms://h/?region=x", "region"),
            (&format!("awskms://h/?region=a{}", "b".repeat(40)), "region"),
            ("awskms:?region=us-east-1&region=us-west-2", "twice"),
            ("awskms:?max_attempts=2&max-attempts=3", "twice"),
            ("awskms:?colour=blue", "known: region, endpoint"),
            ("awskms:?region=", "empty"),
            ("awskms:?region=us-east-1&&profile=p", "empty"),
            ("awskms:?region=us-east-1&", "empty"),
            ("awskms:?region", "NAME=VALUE"),
            ("awskms:?region=us-east-1%0a", "control"),
            ("awskms:?profile=a%20b", "profile"),
            ("awskms:?max_attempts=0", "max_attempts"),
            ("awskms:?max_attempts=99999999999999999999", "max_attempts"),
            ("awskms:?cache_ttl=-1", "cache_ttl"),
            ("awskms:?cache_ttl=1.5", "cache_ttl"),
            ("awskms:?endpoint=ftp://x", "endpoint"),
            ("awskms:?endpoint=http://h:0", "port"),
            ("awskms:?endpoint=http://h:1/pfx", "path"),
            ("awskms:?endpoint=http://h:1/?x=1", "query"),
            ("awskms:?endpoint=%ZZ", "hex"),
            ("awskms://h/alias/x", "path"),
            ("awskms://h/#frag", "fragment"),
            ("awskms://h/\u{1b}[2J", "control"),
            ("software:/tmp/a\rb", "control"),
            ("gcpkms://projects/x", "unknown backend"),
        ] {
            let message = refused(uri);
            assert!(message.contains(says), "{uri:?}: {message}");
            assert!(
                !message.chars().any(char::is_control),
                "{uri:?}: the message holds a control character: {message:?}"
            );
        }
    }

    #[test]
    fn credentials_are_refused_and_never_echoed() {
        for uri in [
            "awskms://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY@localhost:4566/",
            "awskms://wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY@localhost/?region=us-east-1",
            "awskms:?endpoint=http://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY@h",
            "awskms:?secret_access_key=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
            "awskms:?AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
            "awskm://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY@h/",
        ] {
            let message = refused(uri);
            assert!(!message.contains("EXAMPLEKEY"), "{uri}: {message}");
            assert!(
                !message.contains("AKIAIOSFODNN7EXAMPLE"),
                "{uri}: {message}"
            );
        }
        assert!(refused("awskms://u:p@h/").contains("credentials"));
    }
}
