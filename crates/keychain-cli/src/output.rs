//! What the CLI prints: short plain text for people, or with `--json` one stable JSON object
//! on stdout. Key metadata has one rendering of each kind, here.
//!
//! Text for people never carries a control character from a keystore, a backend or a file:
//! [`Output::emit`] escapes every control character but the newlines that separate its lines,
//! and each value placed in a line ([`field`]) has its newlines escaped as well, so a key's
//! description, tags or name cannot clear the screen, move the cursor, or forge a line.
//! (JSON output is escaped by `serde_json`.)

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use keychain::{Error, KeyInfo, KeyState, Result};
use serde_json::{Value, json};

/// Where results go: stdout, as text or JSON.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// Output in JSON (`true`) or text.
    pub fn new(json: bool) -> Self {
        Output { json }
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `human` (a newline is added when missing) or, with `--json`, `value`. Control
    /// characters in `human` other than newlines are escaped ([`escape_controls`]).
    pub fn emit(&self, human: &str, value: &Value) -> Result<()> {
        if self.json {
            self.json_value(value)
        } else {
            self.text(human)
        }
    }

    /// Prints text for people (a newline is added when missing), control characters other
    /// than newlines escaped.
    pub fn text(&self, human: &str) -> Result<()> {
        let human = escape_controls(human, true);
        if human.is_empty() {
            Ok(())
        } else if human.ends_with('\n') {
            self.bytes(human.as_bytes())
        } else {
            self.bytes(format!("{human}\n").as_bytes())
        }
    }

    /// Prints a JSON object on one line, whatever the mode.
    pub fn json_value(&self, value: &Value) -> Result<()> {
        let text = serde_json::to_string(value)
            .map_err(|e| Error::invalid_input(format!("cannot render JSON: {e}")))?;
        self.bytes(format!("{text}\n").as_bytes())
    }

    /// Writes bytes to stdout as they are. A closed pipe (`keychain … | head`) is not an error.
    pub fn bytes(&self, bytes: &[u8]) -> Result<()> {
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(Error::io("writing to stdout", e))
            }
            _ => Ok(()),
        }
    }
}

/// Whether `c` must not reach a terminal raw ([`keychain::is_control_or_invisible`]); a
/// newline is kept only when `keep_newlines`.
fn must_escape(c: char, keep_newlines: bool) -> bool {
    if c == '\n' {
        return !keep_newlines;
    }
    keychain::is_control_or_invisible(c)
}

/// `text` with its control characters written as escapes (`\n`, `\r`, `\t`, `\x1b`,
/// `\u{202e}`), newlines kept when `keep_newlines`. Text without any is returned as it is.
pub fn escape_controls(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| must_escape(c, keep_newlines)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            c if !must_escape(c, keep_newlines) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// A value for one line of text for people: every control character escaped, newlines too.
pub fn field(value: &str) -> Cow<'_, str> {
    escape_controls(value, false)
}

/// A key state as AWS KMS spells it in its API (`Enabled`, `PendingDeletion`…).
pub fn state_name(state: KeyState) -> &'static str {
    match state {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled => "Disabled",
        KeyState::PendingDeletion => "PendingDeletion",
        KeyState::PendingImport => "PendingImport",
        KeyState::Creating => "Creating",
        KeyState::Updating => "Updating",
        KeyState::Unavailable => "Unavailable",
        KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
    }
}

/// The key's primary alias (`alias/NAME`), if it has a name.
pub fn primary_alias(info: &KeyInfo) -> Option<String> {
    info.name.as_ref().map(|n| format!("alias/{n}"))
}

/// Key metadata as the stable JSON object every key command prints.
pub fn key_json(info: &KeyInfo) -> Value {
    json!({
        "key_id": info.key_id,
        "arn": info.arn,
        "name": info.name,
        "alias": primary_alias(info),
        "aliases": info.aliases,
        "spec": info.spec.as_str(),
        "usage": info.usage.as_str(),
        "state": state_name(info.state),
        "description": info.description,
        "origin": info.origin.as_str(),
        "created": rfc3339(info.created),
        "deletion_date": info.deletion_date.map(rfc3339),
        "tags": info.tags,
        "multi_region": info.multi_region,
        "versions": info.versions,
    })
}

/// Key metadata as `field: value` lines, for `key show`.
pub fn key_details(info: &KeyInfo) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("key id", info.key_id.clone()),
        ("alias", primary_alias(info).unwrap_or_else(|| "-".into())),
    ];
    if let Some(arn) = &info.arn {
        rows.push(("arn", arn.clone()));
    }
    let others: Vec<&str> = info
        .aliases
        .iter()
        .map(String::as_str)
        .filter(|a| Some(a.to_string()) != primary_alias(info))
        .collect();
    if !others.is_empty() {
        rows.push(("other aliases", others.join(", ")));
    }
    rows.push(("spec", info.spec.to_string()));
    rows.push(("usage", info.usage.to_string()));
    rows.push(("state", state_name(info.state).to_string()));
    if let Some(when) = info.deletion_date {
        rows.push(("deletion date", rfc3339(when)));
    }
    rows.push(("created", rfc3339(info.created)));
    rows.push(("versions", info.versions.to_string()));
    if !info.description.is_empty() {
        rows.push(("description", info.description.clone()));
    }
    if !info.tags.is_empty() {
        let tags: Vec<String> = info.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        rows.push(("tags", tags.join(", ")));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(k, v)| format!("{:<width$} {}\n", format!("{k}:"), field(v)))
        .collect()
}

/// One line per key, for `key list`.
pub fn key_row(info: &KeyInfo) -> String {
    format!(
        "{}  {}  {}  {}  {}",
        field(&info.key_id),
        field(&primary_alias(info).unwrap_or_else(|| "-".into())),
        info.spec,
        info.usage,
        state_name(info.state)
    )
}

/// A time as RFC 3339 in UTC, to the second (`2026-03-01T12:00:00Z`).
pub fn rfc3339(t: SystemTime) -> String {
    let secs: i64 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_dates() {
        let at = |s: u64| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_709_164_799), "2024-02-28T23:59:59Z");
        assert_eq!(at(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1969-12-31T23:59:59Z"
        );
    }

    #[test]
    fn key_json_is_stable() {
        let mut info = KeyInfo::new(
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            keychain::KeySpec::EccNistP256,
            keychain::KeyUsage::SignVerify,
        );
        info.name = Some("api".into());
        info.state = KeyState::PendingDeletion;
        let v = key_json(&info);
        assert_eq!(v["alias"], "alias/api");
        assert_eq!(v["spec"], "ECC_NIST_P256");
        assert_eq!(v["state"], "PendingDeletion");
        assert!(key_details(&info).contains("state:"));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(field("plain text é"), "plain text é");
        assert_eq!(
            field("a\u{1b}[2J\rb\nc\td\u{7}\u{85}\u{202e}e"),
            "a\\x1b[2J\\rb\\nc\\td\\x07\\u{0085}\\u{202e}e"
        );
        assert_eq!(escape_controls("one\ntwo\u{1b}", true), "one\ntwo\\x1b");
        let mut info = KeyInfo::new(
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            keychain::KeySpec::EccNistP256,
            keychain::KeyUsage::SignVerify,
        );
        info.description = "x\ndescription: forged".into();
        info.tags.insert("t\n".into(), "v\u{1b}".into());
        let text = key_details(&info);
        let starting = |p: &str| text.lines().filter(|l| l.starts_with(p)).count();
        assert_eq!(starting("description:"), 1, "{text}");
        assert!(text.contains("tags:        t\\n=v\\x1b"), "{text}");
    }
}
