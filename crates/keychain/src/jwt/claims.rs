//! JWT claims (RFC 7519 §4.1): the registered ones with a builder, the `aud` claim as one
//! audience or several, and NumericDate parsing that rounds fractions toward the stricter side.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `aud` claim: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `name` is one of the audiences.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Audience::One(a) => a == name,
            Audience::Many(v) => v.iter().any(|a| a == name),
        }
    }
}

mod numeric_date {
    //! NumericDate: seconds since the epoch, an integer or a finite fraction (RFC 7519 allows
    //! fractions). A fraction is rounded toward the stricter side, never the laxer: `exp`
    //! down (the token expires no later than it says), `nbf` and `iat` up (it is not valid
    //! earlier than it says).
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => s.serialize_i64(*n),
            None => s.serialize_none(),
        }
    }

    fn read<'de, D: Deserializer<'de>>(
        d: D,
        round: fn(f64) -> f64,
    ) -> Result<Option<i64>, D::Error> {
        let v = Option::<serde_json::Number>::deserialize(d)?;
        let Some(n) = v else { return Ok(None) };
        if let Some(i) = n.as_i64() {
            return Ok(Some(i));
        }
        match n.as_f64() {
            Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(round(f) as i64)),
            _ => Err(serde::de::Error::custom(
                "a NumericDate must be a number of seconds",
            )),
        }
    }

    /// For `exp`: a fraction rounds down.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        read(d, f64::floor)
    }

    /// `nbf` and `iat`: a fraction rounds up.
    pub mod up {
        use serde::Deserializer;

        pub use super::serialize;

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            super::read(d, f64::ceil)
        }
    }
}

/// JWT claims: the registered ones (RFC 7519 §4.1) and any others in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub iss: Option<String>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sub: Option<String>,
    /// Audience(s).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aud: Option<Audience>,
    /// Expiry, Unix seconds.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "numeric_date"
    )]
    pub exp: Option<i64>,
    /// Not before, Unix seconds.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "numeric_date::up"
    )]
    pub nbf: Option<i64>,
    /// Issued at, Unix seconds.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "numeric_date::up"
    )]
    pub iat: Option<i64>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jti: Option<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub(super) fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

pub(super) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Claims {
    /// Empty claims.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `iss`.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// Sets `sub`.
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// Sets `aud` to one audience.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.aud = Some(Audience::One(aud.into()));
        self
    }

    /// Sets `aud` to several audiences.
    pub fn audiences(mut self, aud: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.aud = Some(Audience::Many(aud.into_iter().map(Into::into).collect()));
        self
    }

    /// Sets `iat` to now and `exp` to now + `ttl`. A `ttl` beyond what the clock can hold
    /// sets `exp` to `i64::MAX`, which [`super::JwtSigner::sign`] refuses (never a panic, never a
    /// silently shortened lifetime).
    pub fn expires_in(self, ttl: Duration) -> Self {
        let now = SystemTime::now();
        let claims = self.issued_at(now);
        match now.checked_add(ttl) {
            Some(exp) => claims.expires_at(exp),
            None => Claims {
                exp: Some(i64::MAX),
                ..claims
            },
        }
    }

    /// Sets `exp`.
    pub fn expires_at(mut self, t: SystemTime) -> Self {
        self.exp = Some(unix(t));
        self
    }

    /// Sets `nbf`.
    pub fn not_before(mut self, t: SystemTime) -> Self {
        self.nbf = Some(unix(t));
        self
    }

    /// Sets `iat`.
    pub fn issued_at(mut self, t: SystemTime) -> Self {
        self.iat = Some(unix(t));
        self
    }

    /// Sets `jti`.
    pub fn jwt_id(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// Sets `jti` to a random UUID.
    pub fn random_jwt_id(self) -> Self {
        self.jwt_id(uuid::Uuid::new_v4().to_string())
    }

    /// Sets any other claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}
