//! The limits AWS KMS sets on tags, deletion waiting periods and rotation periods, checked
//! the same way by every backend.

use crate::{Error, Result};

/// The most tags a key may have (the AWS KMS quota).
pub(crate) const MAX_TAGS: usize = 50;
/// The longest key description, in characters (the AWS KMS limit).
pub(crate) const MAX_DESCRIPTION: usize = 8192;

/// Checks that a key would have at most [`MAX_TAGS`] tags.
pub(crate) fn check_tag_count(count: usize) -> Result<()> {
    if count > MAX_TAGS {
        return Err(Error::invalid_input(format!(
            "a key has at most {MAX_TAGS} tags; this would give it {count}"
        )));
    }
    Ok(())
}

/// Checks a key description against the KMS limit of [`MAX_DESCRIPTION`] characters.
pub(crate) fn validate_description(description: &str) -> Result<()> {
    let n = description.chars().count();
    if n > MAX_DESCRIPTION {
        return Err(Error::invalid_input(format!(
            "a key description has at most {MAX_DESCRIPTION} characters, not {n}"
        )));
    }
    Ok(())
}

/// Checks a tag against the KMS limits (key 1–128 characters, value up to 256).
pub(crate) fn validate_tag(key: &str, value: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(Error::invalid_input(format!(
            "tag key {key:?} must be 1 to 128 characters"
        )));
    }
    if value.chars().count() > 256 {
        return Err(Error::invalid_input(format!(
            "tag value for {key:?} must be at most 256 characters"
        )));
    }
    if key.starts_with("aws:") {
        return Err(Error::invalid_input(format!(
            "tag key {key:?} uses the reserved prefix aws:"
        )));
    }
    Ok(())
}

/// Validates a KMS-style pending window for scheduled deletion (7 to 30 days).
pub(crate) fn check_pending_window(days: u32) -> Result<()> {
    if (7..=30).contains(&days) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "the deletion waiting period must be 7 to 30 days, not {days}"
        )))
    }
}

/// Validates a rotation period (90 to 2560 days, as KMS requires).
pub(crate) fn check_rotation_period(days: u32) -> Result<()> {
    if (90..=2560).contains(&days) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "the rotation period must be 90 to 2560 days, not {days}"
        )))
    }
}
