//! Numbers in JWT claims that every reader sees the same: I-JSON (RFC 7493 §2.2) integers of
//! magnitude at most 2^53 − 1, and the registered dates (`exp`, `nbf`, `iat`) in whole seconds.
//!
//! A JSON number beyond 2^53 is rounded by JavaScript and by any reader that parses numbers as
//! IEEE doubles (and `serde_json` itself rounds integers beyond 2^64), so a token carrying one
//! may mean different things to different verifiers. Such numbers are refused when signing,
//! never silently rounded.

use serde_json::{Map, Value};

use super::Claims;
use crate::{Error, Result};

/// The largest integer every JSON reader represents exactly (2^53 − 1).
pub const MAX_EXACT_INTEGER: i64 = (1 << 53) - 1;

/// The registered claims whose value is a NumericDate.
const DATE_CLAIMS: [&str; 3] = ["exp", "nbf", "iat"];

/// Checks that every number in `value` is read exactly by every JSON reader: an integer of
/// magnitude at most 2^53 − 1, or a fraction of smaller magnitude. `path` names the value in
/// messages.
pub fn check_exact_numbers(value: &Value, path: &str) -> Result<()> {
    match value {
        Value::Number(n) => {
            let exact = if let Some(i) = n.as_i64() {
                i.unsigned_abs() <= MAX_EXACT_INTEGER.unsigned_abs()
            } else if n.as_u64().is_some() {
                false
            } else {
                // A float: exact when it is below 2^53 in magnitude (above, every double is an
                // integer that was most likely rounded from what was written).
                n.as_f64()
                    .is_some_and(|f| f.is_finite() && f.abs() <= MAX_EXACT_INTEGER as f64)
            };
            if exact {
                Ok(())
            } else {
                Err(Error::invalid_input(format!(
                    "JWT claim {path}: the number {n} does not fit exactly (numbers must be \
                     integers of magnitude at most 2^53-1, or smaller fractions: JSON readers \
                     round larger ones)"
                )))
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_exact_numbers(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_exact_numbers(v, &format!("{path}.{k}"))),
        _ => Ok(()),
    }
}

/// Checks the registered dates of a claims object: whole seconds (no fraction, no exponent
/// form that would be rounded) within ±(2^53 − 1); `null` means absent.
fn check_dates(map: &Map<String, Value>) -> Result<()> {
    for name in DATE_CLAIMS {
        let Some(v) = map.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let whole = v
            .as_i64()
            .is_some_and(|i| i.unsigned_abs() <= MAX_EXACT_INTEGER.unsigned_abs());
        if !whole {
            return Err(Error::invalid_input(format!(
                "JWT claim {name} must be a whole number of seconds since 1970 of magnitude at \
                 most 2^53-1, not {v}"
            )));
        }
    }
    Ok(())
}

impl Claims {
    /// Claims to sign from the text of a JSON object, checked so that nothing is lost or
    /// rounded: a member named twice is refused (parsers disagree on which one wins), `exp`,
    /// `nbf` and `iat` are whole seconds within ±(2^53 − 1), every other number is exact
    /// ([`check_exact_numbers`]). (Verification accepts the fractional dates RFC 7519 allows;
    /// this is for tokens keychain signs.)
    pub fn from_json_text(text: &[u8]) -> Result<Self> {
        let object = serde_json::from_slice::<super::verify::StrictObject>(text)
            .map_err(|e| Error::invalid_input(format!("JWT claims are not a JSON object: {e}")))?;
        Self::from_json(Value::Object(object.0))
    }

    /// Claims from a parsed JSON object, checked as [`Claims::from_json_text`] checks them
    /// (except for repeated members, which parsing into a [`Value`] has already merged).
    pub fn from_json(value: Value) -> Result<Self> {
        let Value::Object(map) = &value else {
            return Err(Error::invalid_input("JWT claims must be a JSON object"));
        };
        check_dates(map)?;
        check_exact_numbers(&value, "claims")?;
        serde_json::from_value(value)
            .map_err(|e| Error::invalid_input(format!("JWT claims: a bad registered claim: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(text: &str) -> String {
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        match Claims::from_json(value) {
            Err(Error::InvalidInput { message }) => message,
            other => panic!("{text} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_member_named_twice_is_refused() {
        let err = Claims::from_json_text(br#"{"exp": 1, "exp": 4102444800}"#);
        assert!(matches!(err, Err(Error::InvalidInput { .. })), "{err:?}");
        assert!(Claims::from_json_text(br#"{"exp": 4102444800}"#).is_ok());
        assert!(Claims::from_json_text(b"[1]").is_err());
    }

    #[test]
    fn numbers_that_would_be_rounded_are_refused() {
        for (text, says) in [
            (r#"{"exp": 1e300}"#, "exp"),
            (r#"{"exp": 18446744073709551616}"#, "exp"),
            (r#"{"exp": 18446744073709551615}"#, "exp"),
            (r#"{"exp": 1700000000.5}"#, "exp"),
            (r#"{"nbf": 9007199254740993}"#, "nbf"),
            (r#"{"iat": -9007199254740992}"#, "iat"),
            (r#"{"exp": "1700000000"}"#, "exp"),
            (r#"{"n": 9007199254740993}"#, "claims.n"),
            (r#"{"n": 18446744073709551617}"#, "claims.n"),
            (r#"{"deep": {"list": [1, 1e300]}}"#, "claims.deep.list[1]"),
        ] {
            let message = refused(text);
            assert!(message.contains(says), "{text}: {message}");
        }
    }

    #[test]
    fn a_lifetime_past_the_clock_is_refused_not_a_panic() {
        let claims = Claims::new().expires_in(std::time::Duration::MAX);
        assert_eq!(claims.exp, Some(i64::MAX));
        let value = serde_json::to_value(&claims).unwrap_or_default();
        assert!(matches!(
            check_exact_numbers(&value, "claims"),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn fractional_dates_in_tokens_round_toward_the_stricter_side() {
        let claims: Claims = serde_json::from_value(json!({"exp": 10.9, "nbf": 10.1, "iat": -0.5}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (claims.exp, claims.nbf, claims.iat),
            (Some(10), Some(11), Some(0))
        );
        let claims: Claims =
            serde_json::from_value(json!({"exp": -1.5})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims.exp, Some(-2));
    }

    #[test]
    fn exact_numbers_pass_unchanged() {
        let value = json!({
            "exp": 9_007_199_254_740_991_i64,
            "nbf": -9_007_199_254_740_991_i64,
            "iat": 0,
            "nbf_note": null,
            "score": 0.5,
            "big": 9_007_199_254_740_991_i64,
            "list": [1, -2, 3.25],
        });
        let claims = Claims::from_json(value.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims.exp, Some(9_007_199_254_740_991));
        assert_eq!(serde_json::to_value(&claims).ok(), Some(value));
    }
}
