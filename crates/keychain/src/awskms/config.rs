//! Configuration of the AWS KMS backend: region, credentials (static, a profile or the SDK's
//! default chain), endpoint, a ready-made SDK client, retries, timeouts and the cache.

use std::time::Duration;

use crate::secret::Secret;
use crate::{Error, Result};

/// Default number of attempts per call (the first try and two retries), as the SDK's standard
/// retry mode.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default first retry delay; later delays grow exponentially, with full jitter, up to 20 s.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Default deadline of a whole call, retries included.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Default deadline of one attempt.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// Default TCP/TLS connect deadline.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default lifetime of cached key metadata and public keys.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// Environment variable: attempts per call (see [`AwsKmsConfig::max_attempts`]).
pub const MAX_ATTEMPTS_ENV: &str = "KEYCHAIN_AWS_MAX_ATTEMPTS";
/// Environment variable: whole-call timeout in seconds.
pub const OPERATION_TIMEOUT_ENV: &str = "KEYCHAIN_AWS_OPERATION_TIMEOUT";
/// Environment variable: per-attempt timeout in seconds.
pub const ATTEMPT_TIMEOUT_ENV: &str = "KEYCHAIN_AWS_ATTEMPT_TIMEOUT";
/// Environment variable: metadata/public-key cache lifetime in seconds (0 disables it).
pub const CACHE_TTL_ENV: &str = "KEYCHAIN_AWS_CACHE_TTL";

/// How to reach AWS KMS.
///
/// Every field is optional except the region, which must come from here, `AWS_REGION` /
/// `AWS_DEFAULT_REGION`, or the profile; the backend refuses to start without one. Without
/// static credentials the SDK's default chain is used: environment variables, the shared
/// profile (`AWS_PROFILE`, including assume-role profiles), web identity tokens, and the
/// ECS/EC2 instance roles. `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_KMS` are honoured like the
/// `endpoint` field. An injected [`aws_sdk_kms::Client`] overrides all of it.
///
/// ```
/// use keychain::awskms::AwsKmsConfig;
/// let config = AwsKmsConfig::new()
///     .region("us-east-1")
///     .endpoint("http://localhost:4566") // LocalStack
///     .static_credentials("test", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None);
/// // Debug never shows the secret.
/// assert!(!format!("{config:?}").contains("EXAMPLEKEY"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct AwsKmsConfig {
    /// The region keys live in (`us-east-1`…).
    pub region: Option<String>,
    /// Static access key id; with `secret_access_key`, replaces the default chain.
    pub access_key_id: Option<String>,
    /// Static secret access key. Never shown by `Debug`.
    pub secret_access_key: Option<Secret>,
    /// STS session token for temporary credentials. Never shown by `Debug`.
    pub session_token: Option<Secret>,
    /// A named profile from the shared config files (else `AWS_PROFILE`, else `default`).
    pub profile: Option<String>,
    /// A custom endpoint (`http://localhost:4566` for LocalStack).
    pub endpoint: Option<String>,
    /// A ready client: overrides every other connection setting.
    pub client: Option<aws_sdk_kms::Client>,
    /// Attempts per call, the first try included (standard retry mode: exponential backoff
    /// with jitter on throttling, 5xx and transient network errors).
    pub max_attempts: u32,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Deadline of a whole call, retries included.
    pub operation_timeout: Duration,
    /// Deadline of one attempt.
    pub attempt_timeout: Duration,
    /// Connect deadline.
    pub connect_timeout: Duration,
    /// How old cached key metadata and public keys the backend uses (zero: it asks KMS
    /// every time). [`crate::Keychain::open`] gives the handle the same TTL.
    pub cache_ttl: Duration,
    /// Grant tokens sent with every operation that takes them (DescribeKey, GetPublicKey,
    /// Sign, Verify, Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateMac, VerifyMac,
    /// DeriveSharedSecret, CreateGrant): they let a new grant be used before it is
    /// eventually consistent. At most 10.
    pub grant_tokens: Vec<String>,
}

impl Default for AwsKmsConfig {
    fn default() -> Self {
        AwsKmsConfig {
            region: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            profile: None,
            endpoint: None,
            client: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            cache_ttl: DEFAULT_CACHE_TTL,
            grant_tokens: Vec::new(),
        }
    }
}

impl std::fmt::Debug for AwsKmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<Secret>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("AwsKmsConfig")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .field("profile", &self.profile)
            .field("endpoint", &self.endpoint)
            .field("client", &self.client.as_ref().map(|_| "<injected>"))
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("operation_timeout", &self.operation_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("cache_ttl", &self.cache_ttl)
            .field("grant_tokens", &self.grant_tokens.len())
            .finish()
    }
}

impl std::fmt::Display for AwsKmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "awskms (region {}",
            self.region.as_deref().unwrap_or("from the environment")
        )?;
        if let Some(e) = &self.endpoint {
            write!(f, ", endpoint {e}")?;
        }
        if self.client.is_some() {
            f.write_str(", injected client")?;
        } else if self.access_key_id.is_some() {
            f.write_str(", static credentials")?;
        }
        f.write_str(")")
    }
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn env_secs(name: &str) -> Result<Option<Duration>> {
    match std::env::var(name) {
        Ok(s) if !s.trim().is_empty() => {
            let secs: f64 = s.trim().parse().map_err(|_| {
                Error::invalid_input(format!("{name} must be a number of seconds, not {s:?}"))
            })?;
            if !secs.is_finite() || secs < 0.0 {
                return Err(Error::invalid_input(format!(
                    "{name} must be a non-negative number of seconds, not {s:?}"
                )));
            }
            Ok(Some(Duration::from_secs_f64(secs)))
        }
        _ => Ok(None),
    }
}

impl AwsKmsConfig {
    /// Defaults everywhere: region, credentials and endpoint from the SDK's default chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// The configuration the environment describes: region from `AWS_REGION` /
    /// `AWS_DEFAULT_REGION`, endpoint from `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`,
    /// profile from `AWS_PROFILE`, and the tuning variables `KEYCHAIN_AWS_MAX_ATTEMPTS`,
    /// `KEYCHAIN_AWS_OPERATION_TIMEOUT`, `KEYCHAIN_AWS_ATTEMPT_TIMEOUT` and
    /// `KEYCHAIN_AWS_CACHE_TTL` (seconds). Credentials are not copied: the SDK's default chain
    /// reads them when the backend starts. Malformed tuning values are errors.
    pub fn from_env() -> Result<Self> {
        let var = |n: &str| std::env::var(n).ok().and_then(non_empty);
        let mut config = AwsKmsConfig {
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            endpoint: var("AWS_ENDPOINT_URL_KMS").or_else(|| var("AWS_ENDPOINT_URL")),
            profile: var("AWS_PROFILE"),
            ..Self::default()
        };
        if let Some(n) = var(MAX_ATTEMPTS_ENV) {
            config.max_attempts = n.parse().map_err(|_| {
                Error::invalid_input(format!("{MAX_ATTEMPTS_ENV} must be a number, not {n:?}"))
            })?;
        }
        if let Some(d) = env_secs(OPERATION_TIMEOUT_ENV)? {
            config.operation_timeout = d;
        }
        if let Some(d) = env_secs(ATTEMPT_TIMEOUT_ENV)? {
            config.attempt_timeout = d;
        }
        if let Some(d) = env_secs(CACHE_TTL_ENV)? {
            config.cache_ttl = d;
        }
        Ok(config)
    }

    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets static credentials: an access key id, its secret and an optional session token.
    pub fn static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(Secret::new(secret_access_key.into().into_bytes()));
        self.session_token = session_token.map(|t| Secret::new(t.into_bytes()));
        self
    }

    /// Uses a named profile of the shared config files.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Sets a custom endpoint (LocalStack, a VPC endpoint…).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Uses a ready client; every connection setting above is then ignored (the cache TTL
    /// still applies).
    pub fn client(mut self, client: aws_sdk_kms::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Sets the attempts per call (at least 1; 1 disables retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets the first retry delay.
    pub fn initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// Sets the deadline of a whole call, retries included.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Sets the deadline of one attempt.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets the connect deadline.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long metadata and public keys are cached (zero disables the cache).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Adds a grant token sent with every operation that takes grant tokens (see
    /// [`AwsKmsConfig::grant_tokens`]); a token from [`super::AwsKmsBackend::create_grant`]
    /// lets the grantee use the grant at once.
    pub fn grant_token(mut self, token: impl Into<String>) -> Self {
        self.grant_tokens.push(token.into());
        self
    }

    /// Checks what can be checked without the network: attempts and timeouts in range,
    /// credentials complete, endpoint a URL.
    pub fn validate(&self) -> Result<()> {
        if self.max_attempts == 0 || self.max_attempts > 20 {
            return Err(Error::invalid_input(format!(
                "max_attempts must be 1 to 20, not {}",
                self.max_attempts
            )));
        }
        for (name, d) in [
            ("operation_timeout", self.operation_timeout),
            ("attempt_timeout", self.attempt_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::invalid_input(format!("{name} must not be zero")));
            }
        }
        // The API's bounds: at most 10 tokens of 1 to 8192 characters.
        if self.grant_tokens.len() > 10 {
            return Err(Error::invalid_input(format!(
                "at most 10 grant tokens, not {}",
                self.grant_tokens.len()
            )));
        }
        if self
            .grant_tokens
            .iter()
            .any(|t| t.is_empty() || t.len() > 8192 || t.chars().any(char::is_control))
        {
            return Err(Error::invalid_input(
                "a grant token is 1 to 8192 characters, without control characters",
            ));
        }
        if self.client.is_some() {
            return Ok(());
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) if !id.trim().is_empty() && !secret.is_empty() => {}
            (None, None) => {
                if self.session_token.is_some() {
                    return Err(Error::invalid_input(
                        "a session token needs an access key id and a secret access key",
                    ));
                }
            }
            _ => {
                return Err(Error::invalid_input(
                    "static AWS credentials need both an access key id and a secret access key",
                ));
            }
        }
        if let Some(region) = &self.region {
            check_region(region)?;
        }
        if let Some(endpoint) = &self.endpoint {
            check_endpoint(endpoint)?;
        }
        Ok(())
    }
}

pub(crate) use crate::backend_uri::{check_endpoint, check_region};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact_secrets() {
        let c = AwsKmsConfig::new().region("us-east-1").static_credentials(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            Some("FwoGZXIvYXdzEXAMPLETOKEN".into()),
        );
        for text in [format!("{c:?}"), format!("{c:#?}"), c.to_string()] {
            assert!(!text.contains("EXAMPLEKEY"), "{text}");
            assert!(!text.contains("EXAMPLETOKEN"), "{text}");
        }
        assert!(format!("{c:?}").contains("<redacted>"));
    }

    #[test]
    fn validation() {
        assert!(AwsKmsConfig::new().validate().is_ok());
        assert!(AwsKmsConfig::new().max_attempts(0).validate().is_err());
        assert!(
            AwsKmsConfig::new()
                .operation_timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
        let mut half = AwsKmsConfig::new();
        half.access_key_id = Some("AKIA".into());
        assert!(matches!(half.validate(), Err(Error::InvalidInput { .. })));
        assert!(
            AwsKmsConfig::new()
                .endpoint("localhost:4566")
                .validate()
                .is_err()
        );
        assert!(
            AwsKmsConfig::new()
                .endpoint("http://127.0.0.1:4566")
                .validate()
                .is_ok()
        );
        assert!(AwsKmsConfig::new().region("US East").validate().is_err());
    }
}
