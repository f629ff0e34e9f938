//! Key references: the many ways users name a key.
//!
//! A reference is a bare name (`api-signing-key`, meaning `alias/api-signing-key`), an alias
//! (`alias/NAME`), a key id (a UUID or a multi-region `mrk-…` id), a key ARN, an alias ARN, or
//! a URI in the forms other tools already use: cosign's `awskms://[ENDPOINT]/{ID|alias/NAME|ARN}`
//! and smallstep's `awskms:key-id=…;region=…`.
//!
//! The forms never overlap: a bare reference that looks like a key id is a key id, and
//! everything after the first `alias/` is the alias name, so `alias/alias/x` is the alias named
//! `alias/x` (which only another tool, or keychain before names were checked, can have
//! created). New names pass [`validate_key_name`], which refuses every name that would read as
//! another kind of reference.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// A parsed reference to a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyRef {
    target: KeyTarget,
    region: Option<String>,
    endpoint: Option<String>,
}

/// What a [`KeyRef`] points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyTarget {
    /// An alias, stored without the `alias/` prefix.
    Alias(String),
    /// A key id: a UUID, or `mrk-` and 32 hex digits.
    KeyId(String),
    /// A key ARN.
    KeyArn(Arn),
    /// An alias ARN.
    AliasArn(Arn),
}

/// The parts of a KMS ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID` or `…:alias/NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    /// The whole ARN.
    pub arn: String,
    /// `aws`, `aws-cn`, `aws-us-gov`…
    pub partition: String,
    /// The region.
    pub region: String,
    /// The account id.
    pub account: String,
    /// The key id or alias name (without `alias/`).
    pub resource: String,
}

impl KeyRef {
    /// Parses any supported form. Errors are [`Error::InvalidInput`] naming the problem.
    pub fn parse(input: &str) -> Result<Self> {
        let s = input.trim();
        if s.is_empty() {
            return Err(Error::invalid_input("empty key reference"));
        }
        if let Some(rest) = s.strip_prefix("awskms://") {
            return parse_cosign(rest, input);
        }
        if let Some(rest) = s.strip_prefix("awskms:") {
            return parse_smallstep(rest, input);
        }
        if let Some(rest) = s.strip_prefix("pkcs11:") {
            return Ok(KeyRef {
                target: parse_pkcs11(rest)?,
                region: None,
                endpoint: None,
            });
        }
        if s.contains("://") {
            return Err(Error::invalid_input(format!(
                "unsupported key URI {input:?}: expected awskms://[ENDPOINT]/KEY or awskms:key-id=KEY"
            )));
        }
        Ok(KeyRef {
            target: parse_target(s)?,
            region: None,
            endpoint: None,
        })
    }

    /// Parses a `KeyId` exactly as the AWS KMS API takes one: a key id, a key ARN,
    /// `alias/NAME` or an alias ARN. Unlike [`KeyRef::parse`] it takes no bare name (KMS
    /// reads `app` as no key, not as `alias/app`), no URI and no surrounding spaces; the
    /// forms it takes are checked by the same rules.
    pub fn parse_kms_key_id(input: &str) -> Result<Self> {
        if !(input.starts_with("arn:") || input.starts_with("alias/") || looks_like_key_id(input)) {
            return Err(Error::invalid_input(format!(
                "{input:?} is not a key id, key ARN, alias/NAME or alias ARN"
            )));
        }
        Ok(KeyRef {
            target: parse_target(input)?,
            region: None,
            endpoint: None,
        })
    }

    /// A reference to the alias `alias/NAME` (validated).
    pub fn alias(name: &str) -> Result<Self> {
        let name = name.strip_prefix("alias/").unwrap_or(name);
        validate_alias_name(name)?;
        Ok(KeyRef {
            target: KeyTarget::Alias(name.to_string()),
            region: None,
            endpoint: None,
        })
    }

    /// A reference to a key id (not validated beyond being non-empty: backends have their own
    /// id formats).
    pub fn key_id(id: &str) -> Result<Self> {
        if id.trim().is_empty() {
            return Err(Error::invalid_input("empty key id"));
        }
        Ok(KeyRef {
            target: KeyTarget::KeyId(id.to_string()),
            region: None,
            endpoint: None,
        })
    }

    /// What the reference points at.
    pub fn target(&self) -> &KeyTarget {
        &self.target
    }

    /// The region named by an ARN or URI, if any.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The endpoint named by a cosign URI (`awskms://HOST:PORT/…`), if any.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The alias name (without `alias/`) if the reference is an alias or alias ARN.
    pub fn alias_name(&self) -> Option<&str> {
        match &self.target {
            KeyTarget::Alias(a) => Some(a),
            KeyTarget::AliasArn(arn) => Some(&arn.resource),
            _ => None,
        }
    }

    /// The key id if the reference is a key id or key ARN.
    pub fn key_id_str(&self) -> Option<&str> {
        match &self.target {
            KeyTarget::KeyId(id) => Some(id),
            KeyTarget::KeyArn(arn) => Some(&arn.resource),
            _ => None,
        }
    }

    /// The string AWS KMS accepts as a `KeyId`: `alias/NAME`, the id, or the ARN.
    pub fn kms_key_id(&self) -> String {
        match &self.target {
            KeyTarget::Alias(a) => format!("alias/{a}"),
            KeyTarget::KeyId(id) => id.clone(),
            KeyTarget::KeyArn(arn) | KeyTarget::AliasArn(arn) => arn.arn.clone(),
        }
    }
}

impl fmt::Display for KeyRef {
    /// The KMS KeyId form; a PKCS#11 CKA_ID (hex that is no KMS key id) as the
    /// `pkcs11:id=%XX…` URI, so that what is shown parses back to the same key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let KeyTarget::KeyId(id) = &self.target {
            let hex = !id.is_empty()
                && id.len() % 2 == 0
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if hex && !looks_like_key_id(id) && self.region.is_none() && self.endpoint.is_none() {
                f.write_str("pkcs11:id=")?;
                for pair in id.as_bytes().chunks(2) {
                    f.write_str("%")?;
                    f.write_str(&String::from_utf8_lossy(pair).to_ascii_uppercase())?;
                }
                return Ok(());
            }
        }
        f.write_str(&self.kms_key_id())
    }
}

impl FromStr for KeyRef {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        KeyRef::parse(s)
    }
}

impl TryFrom<&str> for KeyRef {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self> {
        KeyRef::parse(s)
    }
}

impl TryFrom<&String> for KeyRef {
    type Error = Error;

    fn try_from(s: &String) -> Result<Self> {
        KeyRef::parse(s)
    }
}

impl TryFrom<String> for KeyRef {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        KeyRef::parse(&s)
    }
}

impl TryFrom<&KeyRef> for KeyRef {
    type Error = Error;

    fn try_from(k: &KeyRef) -> Result<Self> {
        Ok(k.clone())
    }
}

/// Checks an alias name (without `alias/`) against the KMS rules: 1–250 characters of
/// `A-Z a-z 0-9 / _ -`, not starting with the reserved `aws/`. This is the rule for
/// *referring* to an alias that may already exist; a new name must also pass
/// [`validate_key_name`].
pub fn validate_alias_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_input("empty key name"));
    }
    if name.len() > 250 {
        return Err(Error::invalid_input(format!(
            "key name is {} characters; at most 250 are allowed",
            name.len()
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-')))
    {
        return Err(Error::invalid_input(format!(
            "key name {name:?} contains {bad:?}; names use letters, digits, '/', '_' and '-'"
        )));
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Err(Error::invalid_input(format!(
            "key name {name:?} has an empty path segment"
        )));
    }
    if name.starts_with("aws/") {
        return Err(Error::invalid_input(format!(
            "key name {name:?} uses the prefix aws/, which AWS reserves"
        )));
    }
    Ok(())
}

/// Checks a name for a new key or alias (without `alias/`): the alias rules of
/// [`validate_alias_name`], and the name must not read as another kind of reference. A bare
/// reference that looks like a key id (a UUID or `mrk-` id) is a key id, one that starts with
/// `arn:` is an ARN, and `alias/NAME` is the alias `NAME`; a key named like that could never be
/// named unambiguously (a name equal to another key's id would sign with that key; a name
/// `alias/x` would be the alias `alias/alias/x`). The rule is the same for every backend, so a
/// name that works on one works on all.
pub fn validate_key_name(name: &str) -> Result<()> {
    let clash = if looks_like_key_id(name) {
        Some("has the form of a key id (a UUID or mrk- id)")
    } else if name.starts_with("alias/") {
        Some("starts with alias/ (the reference alias/NAME already means the key named NAME)")
    } else if name.starts_with("arn:") {
        Some("has the form of an ARN")
    } else {
        None
    };
    if let Some(why) = clash {
        return Err(Error::invalid_input(format!(
            "key name {name:?} {why}: a name must not read as another kind of key reference"
        )));
    }
    validate_alias_name(name)
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_mrk_id(s: &str) -> bool {
    s.strip_prefix("mrk-")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// Whether `s` has the shape of a key id (UUID or `mrk-` id).
pub(crate) fn looks_like_key_id(s: &str) -> bool {
    is_uuid(s) || is_mrk_id(s)
}

/// A PKCS#11 object URI (RFC 7512): `pkcs11:object=NAME` (the key's `CKA_LABEL`) or
/// `pkcs11:id=%01%02…` (its `CKA_ID`, percent-encoded bytes); `type=` may come along. The
/// token is the backend URI's: a key URI naming a token, a slot or a library is refused
/// rather than silently used on another token, and so are a query and an attribute given
/// twice.
fn parse_pkcs11(rest: &str) -> Result<KeyTarget> {
    let bad = |why: String| Error::invalid_input(format!("PKCS#11 key URI: {why}"));
    if rest.contains('?') {
        return Err(bad(
            "a key URI takes no query (module, PIN and token belong in the backend URI)".into(),
        ));
    }
    let mut target = None;
    let mut seen: Vec<&str> = Vec::new();
    for part in rest.split(';') {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| bad("expected pkcs11:object=NAME or pkcs11:id=%XX…".into()))?;
        if seen.contains(&name) {
            return Err(bad(format!("{name}= is given twice")));
        }
        seen.push(name);
        let decoded = crate::backend_uri::percent_decode_bytes(value)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        let found = match name {
            "object" => {
                let label = String::from_utf8(decoded)
                    .map_err(|_| bad("object is not UTF-8".to_string()))?;
                validate_alias_name(&label)?;
                KeyTarget::Alias(label)
            }
            "id" if !decoded.is_empty() => {
                KeyTarget::KeyId(decoded.iter().map(|b| format!("{b:02x}")).collect())
            }
            "type" => continue,
            "token"
            | "manufacturer"
            | "model"
            | "serial"
            | "slot-id"
            | "slot-description"
            | "slot-manufacturer"
            | "library-description"
            | "library-manufacturer"
            | "library-version" => {
                return Err(bad(format!(
                    "{name}= is not taken in a key URI: the token is chosen by the backend URI"
                )));
            }
            _ => {
                return Err(bad(format!(
                    "{name:?} does not name a key (use object= or id=)"
                )));
            }
        };
        if target.replace(found).is_some() {
            return Err(bad("name the key once: object= or id=".into()));
        }
    }
    target.ok_or_else(|| bad("no object= or id= names the key".into()))
}

fn parse_target(s: &str) -> Result<KeyTarget> {
    if s.starts_with("arn:") {
        return parse_arn(s);
    }
    if let Some(name) = s.strip_prefix("alias/") {
        validate_alias_name(name)?;
        return Ok(KeyTarget::Alias(name.to_string()));
    }
    if looks_like_key_id(s) {
        return Ok(KeyTarget::KeyId(s.to_ascii_lowercase()));
    }
    validate_alias_name(s)?;
    Ok(KeyTarget::Alias(s.to_string()))
}

fn parse_arn(s: &str) -> Result<KeyTarget> {
    let bad = |why: &str| Error::invalid_input(format!("malformed KMS ARN {s:?}: {why}"));
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    if parts.len() != 6 {
        return Err(bad(
            "expected arn:PARTITION:kms:REGION:ACCOUNT:key/ID or …:alias/NAME",
        ));
    }
    let (partition, service, region, account, resource) =
        (parts[1], parts[2], parts[3], parts[4], parts[5]);
    if !partition.starts_with("aws") {
        return Err(bad("partition must be aws, aws-cn, aws-us-gov…"));
    }
    if service != "kms" {
        return Err(bad("service must be kms"));
    }
    if region.is_empty() {
        return Err(bad("missing region"));
    }
    if account.len() != 12 || !account.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad("account must be 12 digits"));
    }
    let arn = |resource: &str| Arn {
        arn: s.to_string(),
        partition: partition.to_string(),
        region: region.to_string(),
        account: account.to_string(),
        resource: resource.to_string(),
    };
    if let Some(id) = resource.strip_prefix("key/") {
        if !looks_like_key_id(id) {
            return Err(bad("key id must be a UUID or mrk- id"));
        }
        Ok(KeyTarget::KeyArn(arn(id)))
    } else if let Some(name) = resource.strip_prefix("alias/") {
        validate_alias_name(name)?;
        Ok(KeyTarget::AliasArn(arn(name)))
    } else {
        Err(bad("resource must be key/ID or alias/NAME"))
    }
}

fn with_arn_region(target: KeyTarget) -> (KeyTarget, Option<String>) {
    let region = match &target {
        KeyTarget::KeyArn(a) | KeyTarget::AliasArn(a) => Some(a.region.clone()),
        _ => None,
    };
    (target, region)
}

/// `awskms://[ENDPOINT]/{ID|alias/NAME|ARN}` (cosign).
fn parse_cosign(rest: &str, input: &str) -> Result<KeyRef> {
    let (host, path) = rest.split_once('/').ok_or_else(|| {
        Error::invalid_input(format!(
            "key URI {input:?} has no key: expected awskms://[ENDPOINT]/{{ID|alias/NAME|ARN}}"
        ))
    })?;
    if path.is_empty() {
        return Err(Error::invalid_input(format!(
            "key URI {input:?} has no key after the endpoint"
        )));
    }
    let (target, region) = with_arn_region(parse_target(path)?);
    Ok(KeyRef {
        target,
        region,
        endpoint: (!host.is_empty()).then(|| host.to_string()),
    })
}

/// `awskms:key-id=KEY;region=REGION` (smallstep; `key-id` may be an id, alias or ARN).
fn parse_smallstep(rest: &str, input: &str) -> Result<KeyRef> {
    let mut key = None;
    let mut region = None;
    let mut endpoint = None;
    for part in rest.split(';').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            Error::invalid_input(format!(
                "key URI {input:?}: {part:?} is not NAME=VALUE (expected awskms:key-id=KEY;region=REGION)"
            ))
        })?;
        match k {
            "key-id" | "key" | "keyid" => key = Some(v),
            "region" => region = Some(v.to_string()),
            "endpoint" => endpoint = Some(v.to_string()),
            // smallstep also allows profile and credentials-file: they select credentials,
            // which belong to the backend configuration, not to the key.
            "profile" | "credentials-file" => {}
            other => {
                return Err(Error::invalid_input(format!(
                    "key URI {input:?}: unknown attribute {other:?}"
                )));
            }
        }
    }
    let key = key.ok_or_else(|| {
        Error::invalid_input(format!("key URI {input:?} has no key-id attribute"))
    })?;
    let (target, arn_region) = with_arn_region(parse_target(key)?);
    Ok(KeyRef {
        target,
        region: region.or(arn_region),
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn pkcs11_object_uris_name_a_label_or_an_id() {
        let parse = |s: &str| KeyRef::parse(s).map(|k| k.target().clone());
        assert_eq!(
            parse("pkcs11:object=signer").ok(),
            Some(KeyTarget::Alias("signer".into()))
        );
        assert_eq!(
            parse("pkcs11:object=a%2Fb;type=private").ok(),
            Some(KeyTarget::Alias("a/b".into()))
        );
        assert_eq!(
            parse("pkcs11:id=%01%AB").ok(),
            Some(KeyTarget::KeyId("01ab".into()))
        );
        // What is shown parses back to the same key (found by the key_ref fuzz target: a
        // bare hex id re-parsed as an alias name).
        for uri in ["pkcs11:id=%01%AB", "pkcs11:id=wA%7C%00x", "pkcs11:id=05"] {
            let key = KeyRef::parse(uri).unwrap();
            let again = KeyRef::parse(&key.to_string()).unwrap();
            assert_eq!(again.target(), key.target(), "{uri} shown as {key}");
        }
        let found = "pkcs11:id=wA|||||||\0\0|h\u{1}j-pkc\0\0\0\n11:arn:=a|||||||||\u{1}////////////////////+/////////////////\0------------////////////--";
        let key = KeyRef::parse(found).unwrap();
        let again = KeyRef::parse(&key.to_string()).unwrap();
        assert_eq!(again.kms_key_id(), key.kms_key_id());
        for bad in [
            "pkcs11:",
            "pkcs11:token=t",
            "pkcs11:token=t;object=a",
            "pkcs11:serial=1;object=a",
            "pkcs11:slot-id=0;object=a",
            "pkcs11:object=a?pin-value=1234",
            "pkcs11:object=a;type=private;type=public",
            "pkcs11:object=",
            "pkcs11:object=a%20b",
            "pkcs11:object=a;object=b",
            "pkcs11:object=a;id=%01",
            "pkcs11:id=",
            "pkcs11:id=%G1",
            "pkcs11:label=x",
            "pkcs11:object",
        ] {
            assert!(
                matches!(KeyRef::parse(bad), Err(Error::InvalidInput { .. })),
                "{bad} was not refused"
            );
        }
    }

    #[test]
    fn kms_key_ids_take_only_kms_forms() {
        let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{ID}");
        for good in [
            ID,
            arn.as_str(),
            "alias/app",
            "arn:aws:kms:us-east-1:111122223333:alias/app",
        ] {
            assert!(KeyRef::parse_kms_key_id(good).is_ok(), "{good}");
        }
        let upper = KeyRef::parse_kms_key_id(&ID.to_ascii_uppercase()).ok();
        assert_eq!(upper.as_ref().and_then(|k| k.key_id_str()), Some(ID));
        // A bare name, a URI, spaces and an ARN of another service or partition are no KMS
        // KeyId (the general parser reads the first three as the user means them).
        for bad in [
            "app",
            "awskms:///alias/app",
            " alias/app",
            "",
            "arn:aws:s3:::bucket",
            "arn:nope:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(KeyRef::parse_kms_key_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bare_names_are_aliases() {
        let k = KeyRef::parse("api-signing-key").unwrap();
        assert_eq!(k.kms_key_id(), "alias/api-signing-key");
        assert_eq!(k.alias_name(), Some("api-signing-key"));
        let k = KeyRef::parse("alias/prod/jwt-v2").unwrap();
        assert_eq!(k.alias_name(), Some("prod/jwt-v2"));
    }

    #[test]
    fn ids_and_arns() {
        assert_eq!(
            KeyRef::parse(ID).unwrap().target(),
            &KeyTarget::KeyId(ID.into())
        );
        let mrk = "mrk-1234abcd12ab34cd56ef1234567890ab";
        assert_eq!(KeyRef::parse(mrk).unwrap().key_id_str(), Some(mrk));
        let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{ID}");
        let k = KeyRef::parse(&arn).unwrap();
        assert_eq!(k.key_id_str(), Some(ID));
        assert_eq!(k.kms_key_id(), arn);
        let k = KeyRef::parse("arn:aws:kms:eu-west-1:111122223333:alias/app").unwrap();
        assert_eq!(k.alias_name(), Some("app"));
    }

    #[test]
    fn cosign_and_smallstep_uris() {
        let k = KeyRef::parse("awskms:///alias/app").unwrap();
        assert_eq!(k.kms_key_id(), "alias/app");
        assert_eq!(k.endpoint(), None);
        let k = KeyRef::parse(&format!("awskms://localhost:4566/{ID}")).unwrap();
        assert_eq!(k.endpoint(), Some("localhost:4566"));
        assert_eq!(k.key_id_str(), Some(ID));
        let k = KeyRef::parse(&format!(
            "awskms:///arn:aws:kms:us-west-2:111122223333:key/{ID}"
        ))
        .unwrap();
        assert_eq!(k.region(), Some("us-west-2"));
        let k = KeyRef::parse(&format!("awskms:key-id={ID};region=eu-west-1")).unwrap();
        assert_eq!(k.key_id_str(), Some(ID));
        assert_eq!(k.region(), Some("eu-west-1"));
    }

    #[test]
    fn names_never_read_as_other_references() {
        for bad in [
            ID,
            "11111111-2222-3333-4444-555555555555",
            "1234ABCD-12AB-34CD-56EF-1234567890AB",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/x",
            "alias/alias/x",
            "arn:aws:kms:us-east-1:111122223333:key/x",
        ] {
            let err = validate_key_name(bad).expect_err(bad);
            assert!(matches!(err, Error::InvalidInput { .. }), "{bad}: {err}");
        }
        // Close to an id, but not one: a fine name.
        for good in ["mrk-1", "11111111-2222", "my-alias/x", "aliases", "arn"] {
            validate_key_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        // An explicit alias reference is exact: `alias/alias/x` names the alias `alias/x`.
        let k = KeyRef::parse("alias/alias/x").unwrap();
        assert_eq!(k.alias_name(), Some("alias/x"));
        assert_eq!(k.kms_key_id(), "alias/alias/x");
        let k = KeyRef::parse(&format!("alias/{ID}")).unwrap();
        assert_eq!(k.alias_name(), Some(ID));
    }

    #[test]
    fn malformed_references_are_named() {
        for bad in [
            "",
            "alias/",
            "has space",
            "alias/aws/ebs",
            "arn:aws:kms:us-east-1:123:key/x",
            "arn:aws:s3:us-east-1:111122223333:key/x",
            "awskms://host",
            "awskms:region=us-east-1",
            "awskms:key-id",
            "gcpkms://projects/x",
            "a//b",
        ] {
            let err = KeyRef::parse(bad).expect_err(bad);
            assert!(matches!(err, Error::InvalidInput { .. }), "{bad}: {err}");
        }
    }
}
