//! Reading request fields as KMS does: required members, base64 blobs, lengths, ranges and
//! enum values, each refused with KMS's error type.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::errors::KmsError;

/// Parses an operation's input. A member of the wrong JSON type is a SerializationException,
/// as KMS answers it.
pub(crate) fn input<T: DeserializeOwned>(body: Value) -> Result<T, KmsError> {
    serde_json::from_value(body).map_err(|e| KmsError::serialization(e.to_string()))
}

/// A required member.
pub(crate) fn required<T>(value: Option<T>, member: &str) -> Result<T, KmsError> {
    value.ok_or_else(|| {
        KmsError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
             Member must not be null",
            camel(member)
        ))
    })
}

/// KMS names members in validation messages in camel case (`keyId`).
pub(crate) fn camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Checks a length against KMS's `min..=max`.
pub(crate) fn check_len(member: &str, len: usize, min: usize, max: usize) -> Result<(), KmsError> {
    if len < min || len > max {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member \
             must have length between {min} and {max} (it has {len})",
            camel(member)
        )));
    }
    Ok(())
}

/// Checks a number against KMS's `min..=max`.
pub(crate) fn check_range(member: &str, value: i64, min: i64, max: i64) -> Result<(), KmsError> {
    if value < min || value > max {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy \
             constraint: Member must have value between {min} and {max}",
            camel(member)
        )));
    }
    Ok(())
}

/// A base64 blob member, decoded, of `min..=max` bytes.
pub(crate) fn blob(
    member: &str,
    value: Option<String>,
    min: usize,
    max: usize,
) -> Result<zeroize::Zeroizing<Vec<u8>>, KmsError> {
    let text = zeroize::Zeroizing::new(required(value, member)?);
    let bytes = zeroize::Zeroizing::new(STANDARD.decode(text.as_bytes()).map_err(|_| {
        KmsError::serialization(format!("'{}' is not valid base64", camel(member)))
    })?);
    check_len(member, bytes.len(), min, max)?;
    Ok(bytes)
}

/// Bytes as a base64 member of an answer.
pub(crate) fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// An enum member in KMS's exact spelling (keychain's enums also take friendly spellings,
/// which KMS does not).
pub(crate) fn kms_enum<T>(member: &str, value: &str) -> Result<T, KmsError>
where
    T: std::str::FromStr + Copy + std::fmt::Display,
{
    match value.parse::<T>() {
        Ok(v) if v.to_string() == value => Ok(v),
        _ => Err(KmsError::validation(format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: \
             Member must satisfy enum value set",
            clip(value),
            camel(member)
        ))),
    }
}

/// At most 64 characters of a caller's value, for messages.
pub(crate) fn clip(value: &str) -> String {
    value.chars().take(64).collect()
}

/// `DryRun: true`: KMS checks the request, then answers DryRunOperationException instead of
/// doing it.
pub(crate) fn dry_run(flag: Option<bool>) -> Result<(), KmsError> {
    if flag == Some(true) {
        return Err(dry_run_succeeded());
    }
    Ok(())
}

/// The answer to a dry run whose checks passed.
pub(crate) fn dry_run_succeeded() -> KmsError {
    KmsError::bad(
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
}

/// An optional enum member.
pub(crate) fn opt_enum<T>(member: &str, value: Option<&str>) -> Result<Option<T>, KmsError>
where
    T: std::str::FromStr + Copy + std::fmt::Display,
{
    value.map(|v| kms_enum(member, v)).transpose()
}

/// Pages of a list the backend returns whole: `Marker` is the index to start at.
pub(crate) fn page<T: Clone>(
    items: &[T],
    limit: Option<i64>,
    marker: Option<&str>,
    default_limit: i64,
    max_limit: i64,
) -> Result<(Vec<T>, Option<String>), KmsError> {
    let limit = limit.unwrap_or(default_limit);
    check_range("Limit", limit, 1, max_limit)?;
    let start = match marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= items.len())
            .ok_or_else(|| KmsError::bad("InvalidMarkerException", "the marker is not valid"))?,
    };
    let end = start
        .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
        .min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_take_only_kms_spellings() {
        assert!(kms_enum::<keychain::KeySpec>("KeySpec", "ECC_NIST_P256").is_ok());
        assert!(kms_enum::<keychain::KeySpec>("KeySpec", "p256").is_err());
    }

    #[test]
    fn pages_cover_the_list_once() {
        let items: Vec<u32> = (0..5).collect();
        let (a, m) = page(&items, Some(2), None, 100, 1000).unwrap_or_default();
        assert_eq!(a, vec![0, 1]);
        let (b, m) = page(&items, Some(2), m.as_deref(), 100, 1000).unwrap_or_default();
        assert_eq!(b, vec![2, 3]);
        let (c, m) = page(&items, Some(2), m.as_deref(), 100, 1000).unwrap_or_default();
        assert_eq!((c, m), (vec![4], None));
        assert!(page(&items, Some(0), None, 100, 1000).is_err());
        assert!(page(&items, None, Some("x"), 100, 1000).is_err());
    }
}
