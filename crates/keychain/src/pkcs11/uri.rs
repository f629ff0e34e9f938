//! `pkcs11:` backend URIs in the RFC 7512 shape:
//! `pkcs11:token=LABEL;serial=S;slot-id=N?module-path=/path/to/module.so&pin-value=PIN`.
//!
//! Path attributes (`;`-separated) choose the token: `token` (its label), `serial`,
//! `slot-id`; at least one of them. Query attributes (`&`-separated) say how to reach it:
//! `module-path` (the PKCS#11 library to load), and the user PIN as `pin-value` or
//! `pin-source=file:PATH` (the first line of that file). Without either, the PIN comes from
//! `KEYCHAIN_PKCS11_PIN`. Keys are not part of a backend URI (`object=`, `id=` are refused
//! here: keys are named per call).
//!
//! Every value is percent-decoded once; a `%` not followed by two hex digits, a slot id that
//! is not a number of at most 20 digits fitting 64 bits, an attribute given twice or unknown
//! are each one clear [`Error::InvalidInput`]. The PIN is never shown by `Debug` and never
//! repeated in an error.

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::backend_uri::{percent_decode, shown};
use crate::text::is_control_or_invisible;
use crate::{Error, Result};

/// Environment variable holding the token's user PIN when the URI names none.
pub const PIN_ENV: &str = "KEYCHAIN_PKCS11_PIN";

/// The longest PIN accepted, in bytes (PKCS#11 tokens allow far less; this bounds reads).
const MAX_PIN_LEN: usize = 256;

/// Where the user PIN comes from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinSource {
    /// `pin-value=…`: the PIN itself.
    Value(Zeroizing<String>),
    /// `pin-source=file:PATH`: the first line of a file.
    File(PathBuf),
    /// Neither: `KEYCHAIN_PKCS11_PIN`.
    Env,
}

impl std::fmt::Debug for PinSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinSource::Value(_) => f.write_str("Value(<redacted>)"),
            PinSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PinSource::Env => f.write_str("Env"),
        }
    }
}

impl PinSource {
    /// Reads the PIN (from the URI, the file or the environment). Surrounding line breaks of
    /// a file are dropped; an empty PIN is refused.
    pub fn read(&self) -> Result<Zeroizing<String>> {
        let pin = match self {
            PinSource::Value(v) => v.clone(),
            PinSource::File(path) => {
                let label = format!("the PKCS#11 PIN file {}", path.display());
                // Only a regular file: a FIFO without a writer would hang the open, and a
                // device such as /dev/zero never ends. The read itself is bounded.
                let metadata = std::fs::metadata(path)
                    .map_err(|e| Error::io(format!("reading {label}"), e))?;
                if !metadata.is_file() {
                    return Err(Error::invalid_input(format!(
                        "{label} is not a regular file"
                    )));
                }
                let line = crate::software::read_password_file(path, &label)?;
                let text = std::str::from_utf8(line.expose())
                    .map_err(|_| Error::invalid_input(format!("{label} is not UTF-8")))?;
                Zeroizing::new(text.to_string())
            }
            PinSource::Env => match std::env::var(PIN_ENV) {
                Ok(v) => Zeroizing::new(v),
                Err(_) => {
                    return Err(Error::invalid_input(format!(
                        "the PKCS#11 token needs its user PIN: set {PIN_ENV}, or give \
                         pin-value= or pin-source=file:PATH in the backend URI"
                    )));
                }
            },
        };
        if pin.is_empty() {
            return Err(Error::invalid_input("the PKCS#11 user PIN is empty"));
        }
        if pin.len() > MAX_PIN_LEN || pin.chars().any(is_control_or_invisible) {
            return Err(Error::invalid_input(format!(
                "the PKCS#11 user PIN must be at most {MAX_PIN_LEN} bytes of printable text"
            )));
        }
        Ok(pin)
    }
}

/// What a `pkcs11:` backend URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pkcs11Uri {
    /// `module-path`: the PKCS#11 library to load.
    pub module_path: Option<PathBuf>,
    /// `token`: the token's label.
    pub token: Option<String>,
    /// `serial`: the token's serial number.
    pub serial: Option<String>,
    /// `slot-id`: the slot number.
    pub slot_id: Option<u64>,
    /// Where the user PIN comes from.
    pub pin: PinSource,
}

fn bad(message: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("backend URI: pkcs11: {message}"))
}

/// The attribute spellings of a `pkcs11:` URI, for error messages.
const KNOWN: &str = "token, serial, slot-id (path); module-path, pin-value, pin-source (query)";

/// Parses the part of a `pkcs11:` URI after the scheme.
pub(crate) fn parse(rest: &str) -> Result<Pkcs11Uri> {
    if rest.contains('#') {
        return Err(bad("a pkcs11 backend URI has no #fragment"));
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut out = Pkcs11Uri {
        module_path: None,
        token: None,
        serial: None,
        slot_id: None,
        pin: PinSource::Env,
    };
    let mut seen: Vec<String> = Vec::new();
    let parts = split(path, ';', "path")?
        .into_iter()
        .map(|p| (p, true))
        .chain(
            query
                .map(|q| split(q, '&', "query"))
                .transpose()?
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p, false)),
        );
    for (part, in_path) in parts {
        let (name, raw) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("attribute {} is not NAME=VALUE", shown_name(part))))?;
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return Err(bad(format!("attribute {name} is given twice")));
        }
        seen.push(name.clone());
        let secret = name == "pin-value";
        let value =
            Zeroizing::new(percent_decode(raw).map_err(|e| bad(format!("attribute {name}: {e}")))?);
        if value.is_empty() {
            return Err(bad(format!("attribute {name} is empty")));
        }
        if value.chars().any(is_control_or_invisible) {
            return Err(bad(format!("attribute {name} holds a control character")));
        }
        let value_shown = || {
            if secret {
                "(not shown)".to_string()
            } else {
                shown(&value)
            }
        };
        match (name.as_str(), in_path) {
            ("token", true) => out.token = Some(value.to_string()),
            ("serial", true) => out.serial = Some(value.to_string()),
            ("slot-id", true) => {
                let n = (value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| value.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| {
                        bad(format!(
                            "slot-id must be a whole number from 0 to {}, not {}",
                            u64::MAX,
                            value_shown()
                        ))
                    })?;
                out.slot_id = Some(n);
            }
            ("module-path", false) => out.module_path = Some(PathBuf::from(value.as_str())),
            ("pin-value", false) => {
                out.pin = PinSource::Value(value);
            }
            ("pin-source", false) => {
                let path = value
                    .strip_prefix("file:")
                    .ok_or_else(|| bad("pin-source must be file:PATH (a file holding the PIN)"))?;
                let path = path.strip_prefix("//").unwrap_or(path);
                if path.is_empty() {
                    return Err(bad("pin-source=file: names no file"));
                }
                out.pin = PinSource::File(PathBuf::from(path));
            }
            ("object" | "id" | "type", _) => {
                return Err(bad(format!(
                    "{name}= names a key, not a token: give keys per call \
                     (as a name, an id or pkcs11:object=NAME)"
                )));
            }
            ("pin-value" | "pin-source" | "module-path" | "module-name", true) => {
                return Err(bad(format!(
                    "{name} belongs in the query (after '?'), not the path"
                )));
            }
            ("token" | "serial" | "slot-id", false) => {
                return Err(bad(format!(
                    "{name} belongs in the path (before '?'), not the query"
                )));
            }
            _ => {
                return Err(bad(format!(
                    "unknown attribute {} (known: {KNOWN})",
                    shown_name(&name)
                )));
            }
        }
    }
    if seen
        .iter()
        .filter(|n| *n == "pin-value" || *n == "pin-source")
        .count()
        > 1
    {
        return Err(bad("give the PIN once: pin-value or pin-source, not both"));
    }
    if out.token.is_none() && out.serial.is_none() && out.slot_id.is_none() {
        return Err(bad(
            "name the token: token=LABEL, serial=SERIAL or slot-id=N (for example \
             pkcs11:token=my-token?module-path=/usr/lib/softhsm/libsofthsm2.so)",
        ));
    }
    Ok(out)
}

/// The `sep`-separated attributes of one part of the URI; empty ones are refused.
fn split<'a>(part: &'a str, sep: char, which: &str) -> Result<Vec<&'a str>> {
    if part.is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<&str> = part.split(sep).collect();
    if items.iter().any(|s| s.is_empty()) {
        return Err(bad(format!(
            "empty attribute in the {which} (two '{sep}' in a row, or one at an end)"
        )));
    }
    Ok(items)
}

/// An attribute name or part for an error message, cut before any `=` so a value (a PIN)
/// is never repeated.
fn shown_name(part: &str) -> String {
    shown(part.split('=').next().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend_uri::BackendUri;

    fn p11(uri: &str) -> Pkcs11Uri {
        match BackendUri::parse(uri) {
            Ok(BackendUri::Pkcs11(p)) => p,
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
        let p = p11("pkcs11:token=My%20Token;slot-id=3?module-path=/usr/lib/x.so&pin-value=1234");
        assert_eq!(p.token.as_deref(), Some("My Token"));
        assert_eq!(p.slot_id, Some(3));
        assert_eq!(p.module_path, Some(PathBuf::from("/usr/lib/x.so")));
        assert_eq!(p.pin, PinSource::Value(Zeroizing::new("1234".into())));
        let p = p11("pkcs11:serial=abc?pin-source=file:/run/pin");
        assert_eq!(p.serial.as_deref(), Some("abc"));
        assert_eq!(p.pin, PinSource::File("/run/pin".into()));
        assert_eq!(p11("pkcs11:token=t").pin, PinSource::Env);
        assert_eq!(
            p11(&format!("pkcs11:slot-id={}", u64::MAX)).slot_id,
            Some(u64::MAX)
        );
    }

    #[test]
    fn every_component_is_checked() {
        for (uri, says) in [
            ("pkcs11:", "name the token"),
            ("pkcs11:?module-path=/x.so", "name the token"),
            ("pkcs11:slot-id=18446744073709551616", "slot-id"),
            ("pkcs11:slot-id=-1", "slot-id"),
            ("pkcs11:slot-id=1.5", "slot-id"),
            ("pkcs11:slot-id=999999999999999999999999", "slot-id"),
            ("pkcs11:token=%ZZ", "hex"),
            ("pkcs11:token=%4", "hex"),
            ("pkcs11:token=%FF", "UTF-8"),
            ("pkcs11:token=a;token=b", "twice"),
            ("pkcs11:token=a;;serial=b", "empty"),
            ("pkcs11:token=", "empty"),
            ("pkcs11:token=a%0a", "control"),
            ("pkcs11:token=a;colour=blue", "unknown attribute"),
            ("pkcs11:token=a;object=k", "names a key"),
            ("pkcs11:token=a;pin-value=1", "query"),
            ("pkcs11:token=a?slot-id=1", "path"),
            ("pkcs11:token=a?pin-source=http://x", "file:PATH"),
            ("pkcs11:token=a?pin-source=file:", "names no file"),
            ("pkcs11:token=a?pin-value=1&pin-source=file:/p", "not both"),
            ("pkcs11:token=a#f", "fragment"),
            ("pkcs11:token", "NAME=VALUE"),
        ] {
            let message = refused(uri);
            assert!(message.contains(says), "{uri:?}: {message}");
        }
    }

    #[test]
    fn the_pin_is_never_shown() {
        let uri = "pkcs11:token=t?module-path=/m.so&pin-value=s3cr3t-PIN";
        let parsed = BackendUri::parse(uri).unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{parsed:?}").contains("s3cr3t"));
        for uri in [
            "pkcs11:token=t?pin-value=s3cr3t-PIN&pin-value=s3cr3t-PIN",
            "pkcs11:token=t?pin-value=s3cr3t-PIN%0a",
            "pkcs11:token=t?pin-value=s3cr3t-PIN%G0",
            "pkcs11:token=t;pin-value=s3cr3t-PIN",
            "pkcs11:token=t?pin-valu=s3cr3t-PIN",
        ] {
            let message = refused(uri);
            assert!(!message.contains("s3cr3t"), "{uri}: {message}");
        }
    }
}
