//! The RFC 5280 limits on what goes into a certificate or a CSR, checked before anything is
//! signed: attribute values of a distinguished name (Appendix A upper bounds: CN, O, OU 64
//! characters, L and ST 128, C exactly two letters, emailAddress 255, DC one DNS label), no
//! empty values, no control characters, string types only; subject alternative names (DNS
//! names of 1-63-byte labels and 253 bytes in all, emails of at most 255 bytes, no control
//! characters).

use der::asn1::ObjectIdentifier;
use der::{Tag, Tagged};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;

use crate::text::is_control_or_invisible;
use crate::{Error, Result};

const fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

/// (OID, short name, most characters) for the attributes RFC 5280 bounds.
const BOUNDS: &[(ObjectIdentifier, &str, usize)] = &[
    (oid("2.5.4.3"), "CN", 64),
    (oid("2.5.4.4"), "SN", 40),
    (oid("2.5.4.5"), "serialNumber", 64),
    (oid("2.5.4.7"), "L", 128),
    (oid("2.5.4.8"), "ST", 128),
    (oid("2.5.4.10"), "O", 64),
    (oid("2.5.4.11"), "OU", 64),
    (oid("2.5.4.12"), "title", 64),
    (oid("2.5.4.42"), "GN", 16),
    (oid("2.5.4.43"), "initials", 5),
    (oid("2.5.4.44"), "generationQualifier", 3),
    (oid("2.5.4.46"), "dnQualifier", 64),
    (oid("2.5.4.65"), "pseudonym", 128),
    (oid("1.2.840.113549.1.9.1"), "emailAddress", 255),
    (oid("0.9.2342.19200300.100.1.25"), "DC", 63),
];
const COUNTRY: ObjectIdentifier = oid("2.5.4.6");
/// The bound of any other attribute (`ub-name`).
const UB_NAME: usize = 32768;
/// The longest email address (`ub-emailaddress-length`).
pub(crate) const MAX_EMAIL_LEN: usize = 255;

/// The text of an attribute value of a string type; other types are refused.
fn value_text(atv: &AttributeTypeAndValue) -> Option<&str> {
    let tag = atv.value.tag();
    if !matches!(tag, Tag::Utf8String | Tag::PrintableString | Tag::Ia5String) {
        return None;
    }
    std::str::from_utf8(atv.value.value()).ok()
}

/// Checks every attribute of a distinguished name against RFC 5280.
pub(crate) fn check_name(name: &Name) -> Result<()> {
    for atv in name.iter() {
        let bound = BOUNDS.iter().find(|(o, _, _)| *o == atv.oid);
        let label = bound.map_or_else(|| atv.oid.to_string(), |(_, n, _)| (*n).to_string());
        let bad = |why: String| Error::invalid_input(format!("subject attribute {label}: {why}"));
        let text = value_text(atv)
            .ok_or_else(|| bad("the value must be a UTF-8, printable or IA5 string".into()))?;
        if text.is_empty() {
            return Err(bad("the value is empty".into()));
        }
        if let Some(c) = text.chars().find(|&c| is_control_or_invisible(c)) {
            return Err(bad(format!("control character {c:?} in the value")));
        }
        let chars = text.chars().count();
        if atv.oid == COUNTRY {
            if chars != 2 || !text.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(bad(format!(
                    "{text:?} is not a two-letter country code (ISO 3166, like US)"
                )));
            }
            continue;
        }
        let max = bound.map_or(UB_NAME, |(_, _, max)| *max);
        if chars > max {
            return Err(bad(format!(
                "{chars} characters, more than the {max} RFC 5280 allows"
            )));
        }
    }
    Ok(())
}

/// A DNS name for a SAN: labels of letters, digits, `-` and `_`, 1-63 bytes, not starting or
/// ending with `-`; a `*` first label (a wildcard); 253 bytes in all.
pub(crate) fn is_dns_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 253
        && v.split('.').enumerate().all(|(i, label)| {
            (i == 0 && label == "*")
                || (!label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        })
}

/// An email address for a SAN: `local@domain`, ASCII without spaces or control characters,
/// at most 255 bytes, the domain a DNS name.
pub(crate) fn is_email(v: &str) -> bool {
    match v.rsplit_once('@') {
        Some((local, domain)) => {
            v.len() <= MAX_EMAIL_LEN
                && !local.is_empty()
                && is_printable_ascii(local)
                && is_dns_name(domain)
                && !domain.starts_with('*')
        }
        None => false,
    }
}

/// Printable ASCII without spaces (what an IA5String SAN may hold here).
pub(crate) fn is_printable_ascii(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn check(s: &str) -> Result<()> {
        check_name(&Name::from_str(s).map_err(|e| Error::invalid_input(e.to_string()))?)
    }

    #[test]
    fn rfc5280_bounds() {
        let ok = format!(
            "CN={},O={},OU={},C=US",
            "a".repeat(64),
            "o".repeat(64),
            "u".repeat(64)
        );
        assert!(check(&ok).is_ok(), "{ok}");
        for bad in [
            format!("CN={}", "a".repeat(65)),
            format!("CN={}", "é".repeat(65)),
            format!("O={}", "o".repeat(65)),
            format!("OU={}", "u".repeat(65)),
            format!("emailAddress={}@example.com", "e".repeat(250)),
            "C=USA".to_string(),
            "C=U".to_string(),
            "C=1A".to_string(),
            "CN=".to_string(),
            "CN=a,O=".to_string(),
            "CN=a\u{1b}[2Jb".to_string(),
            "CN=a\rb".to_string(),
            "CN=a\u{202e}b".to_string(),
            "CN=a\u{200b}b".to_string(),
            "CN=a\u{85}b".to_string(),
            "CN=#0401ff".to_string(),
        ] {
            assert!(
                matches!(check(&bad), Err(Error::InvalidInput { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn san_shapes() {
        assert!(is_dns_name("*.example.com"));
        assert!(is_dns_name(&format!("{}.com", "a".repeat(63))));
        assert!(!is_dns_name(&format!("{}.com", "a".repeat(64))));
        assert!(!is_dns_name(&vec!["a".repeat(63); 4].join(".")));
        assert!(!is_dns_name("-a.example.com"));
        assert!(!is_dns_name("a..b"));
        assert!(is_email("ops@example.com"));
        assert!(!is_email(&format!("{}@example.com", "e".repeat(250))));
        assert!(!is_email("ops\u{1b}@example.com"));
        assert!(!is_email("@example.com"));
    }
}
