//! Parsing of command-line values the library has no parser for: `K=V` pairs, hex digests,
//! base64 detection in signature and MAC files, durations, certificate serial numbers, and
//! the JOSE `ES256K` name. Errors are `invalid_input` (exit 4).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keychain::{Error, Result, SigningAlgorithm};

/// Parses `K=V` pairs (`what` names them in errors: "tag", "context"). The value may contain
/// `=`; a repeated key is an error rather than a silent overwrite.
pub fn pairs(items: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for item in items {
        let (k, v) = item.split_once('=').ok_or_else(|| {
            Error::invalid_input(format!("{what} {item:?} is not of the form KEY=VALUE"))
        })?;
        if k.is_empty() {
            return Err(Error::invalid_input(format!(
                "{what} {item:?} has an empty key"
            )));
        }
        if map.insert(k.to_string(), v.to_string()).is_some() {
            return Err(Error::invalid_input(format!("{what} {k:?} is given twice")));
        }
    }
    Ok(map)
}

/// Decodes a hex digest (whitespace and a `0x` prefix are tolerated).
pub fn hex_digest(text: &str) -> Result<Vec<u8>> {
    let text = text.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&compact).map_err(|e| Error::invalid_input(format!("--digest is not hex: {e}")))
}

/// If `bytes` is base64 text (standard or URL-safe, surrounding whitespace and line breaks
/// allowed), its decoding; `None` for anything else (binary).
pub fn detect_base64(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    STANDARD
        .decode(&compact)
        .or_else(|_| URL_SAFE_NO_PAD.decode(compact.trim_end_matches('=')))
        .ok()
        .filter(|d| !d.is_empty())
}

/// Decodes base64 text that must be base64.
pub fn base64(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    detect_base64(bytes).ok_or_else(|| Error::invalid_input(format!("{what} is not base64 text")))
}

/// Parses a signing algorithm by its KMS or JOSE name; `ES256K` (ECDSA with SHA-256 on
/// secp256k1, RFC 8812) is accepted too.
pub fn signing_algorithm(text: &str) -> Result<SigningAlgorithm> {
    if text.trim().eq_ignore_ascii_case("ES256K") {
        return Ok(SigningAlgorithm::EcdsaSha256);
    }
    text.parse()
}

/// Parses a signed duration in seconds: `30s`, `15m`, `1h`, `7d`, `2w`, plain seconds (`90`),
/// or any of them negative (`-1h`). `what` names the option in errors.
pub fn duration_secs(text: &str, what: &str) -> Result<i64> {
    let bad = || {
        Error::invalid_input(format!(
            "{what} {text:?} is not a duration: give a whole number with s, m, h, d or w \
             (30s, 15m, 1h, 7d), or plain seconds"
        ))
    };
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() {
        return Err(bad());
    }
    let scale: i64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let n: i64 = number.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(scale).ok_or_else(bad)?;
    Ok(if negative { -secs } else { secs })
}

/// Decodes a hex serial number as `openssl x509 -serial` prints it (colons, whitespace and a
/// `0x` prefix tolerated), big-endian, leading zeros dropped.
pub fn hex_serial(text: &str) -> Result<Vec<u8>> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let mut compact: String = t
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    if compact.len() % 2 == 1 {
        compact.insert(0, '0');
    }
    let bytes = hex::decode(&compact)
        .map_err(|_| Error::invalid_input(format!("serial number {text:?} is not hex")))?;
    let bytes: Vec<u8> = bytes.into_iter().skip_while(|b| *b == 0).collect();
    if bytes.is_empty() {
        return Err(Error::invalid_input(format!(
            "serial number {text:?} must be positive"
        )));
    }
    if bytes.len() > 20 {
        return Err(Error::invalid_input(format!(
            "serial number {text:?} is longer than 20 bytes"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_reject() {
        let items = vec!["a=1".to_string(), "b=x=y".to_string()];
        let map = pairs(&items, "tag").ok();
        assert_eq!(
            map.as_ref().and_then(|m| m.get("b")).map(String::as_str),
            Some("x=y")
        );
        assert!(pairs(&["novalue".to_string()], "tag").is_err());
        assert!(pairs(&["=v".to_string()], "tag").is_err());
        assert!(pairs(&["a=1".to_string(), "a=2".to_string()], "tag").is_err());
    }

    #[test]
    fn hex_digests() {
        assert_eq!(hex_digest("0xA0 0b").ok(), Some(vec![0xA0, 0x0B]));
        assert!(hex_digest("zz").is_err());
    }

    #[test]
    fn base64_detection() {
        assert_eq!(detect_base64(b"aGVsbG8=\n").as_deref(), Some(&b"hello"[..]));
        assert_eq!(detect_base64(b"aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(detect_base64(&[0x30, 0x45, 0x02, 0x21, 0x00, 0xff]), None);
        assert_eq!(detect_base64(b"   "), None);
    }

    #[test]
    fn durations() {
        let d = |t: &str| duration_secs(t, "--exp").ok();
        assert_eq!(d("30s"), Some(30));
        assert_eq!(d("15m"), Some(900));
        assert_eq!(d("1h"), Some(3600));
        assert_eq!(d("7d"), Some(604_800));
        assert_eq!(d("2w"), Some(1_209_600));
        assert_eq!(d("90"), Some(90));
        assert_eq!(d("-1h"), Some(-3600));
        assert_eq!(d("0s"), Some(0));
        for bad in [
            "",
            "h",
            "1x",
            "1.5h",
            "--1h",
            "1h2m",
            "99999999999999999999d",
        ] {
            assert_eq!(d(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn serials() {
        assert_eq!(hex_serial("0A:ff").ok(), Some(vec![0x0A, 0xFF]));
        assert_eq!(hex_serial("0x00abc").ok(), Some(vec![0x0A, 0xBC]));
        assert!(hex_serial("00").is_err());
        assert!(hex_serial("zz").is_err());
        assert!(hex_serial(&"11".repeat(21)).is_err());
    }
}
