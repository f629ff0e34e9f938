//! The SDK client: built once per backend (one connection pool), with the retry and timeout
//! policy set explicitly rather than left to SDK defaults, and per-region siblings for keys
//! named by an ARN of another region.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_kms::Client;
use aws_sdk_kms::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    InterceptorContext,
};
use aws_sdk_kms::config::retry::{
    ClassifyRetry, RetryAction, RetryConfig, RetryPartition, TokenBucket,
};
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_kms::config::{Credentials, Region};
use aws_sdk_kms::error::BoxError;

use super::config::{AwsKmsConfig, check_endpoint, check_region};
use crate::key_ref::{KeyRef, KeyTarget};
use crate::{Error, Result};

/// The retry policy: the SDK's standard mode (exponential backoff with full jitter; retries
/// throttling, 5xx, transient network errors and timeouts), with our attempt count and first
/// delay.
pub(crate) fn retry_config(config: &AwsKmsConfig) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(config.max_attempts)
        .with_initial_backoff(config.initial_backoff)
}

/// The retry partition of a client: its own, with no retry quota.
///
/// By default every KMS client of the process shares one token bucket per region (the SDK's
/// "retry quota", 500 tokens, 5 per throttled retry, 10 per timeout or 5xx, given back only
/// by successes). Under sustained throttling it empties, and calls then fail after fewer
/// attempts than configured, however many were allowed — and one busy backend would drain
/// it for every other in the process. The budget of a call is `max_attempts` within
/// `operation_timeout`, with exponential backoff and jitter; nothing else cuts it short
/// (`crates/keychain/tests/awskms_fault_proxy.rs`: 1 000 operations under 30 % throttling
/// all succeed).
pub(crate) fn retry_partition() -> RetryPartition {
    RetryPartition::custom("keychain-awskms")
        .token_bucket(TokenBucket::unlimited())
        .build()
}

/// The KMS client configuration of an SDK configuration, with our retry partition and
/// retry classifier.
pub(crate) fn kms_config(sdk_config: &SdkConfig) -> aws_sdk_kms::config::Builder {
    aws_sdk_kms::config::Builder::from(sdk_config)
        .retry_partition(retry_partition())
        .retry_classifier(KmsRetryClassifier)
        .interceptor(CallObserver)
}

/// Tells the span of the operation in progress (see [`crate::observe`]) how many HTTP
/// attempts it took and the request id of the last answer.
#[derive(Debug)]
struct CallObserver;

impl Intercept for CallObserver {
    fn name(&self) -> &'static str {
        "keychain call observer"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        crate::observe::note_attempt();
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        if let Some(id) = context.response().headers().get("x-amzn-requestid") {
            crate::observe::note_request_id(id);
        }
        Ok(())
    }
}

/// The KMS exception name of an answer: the `x-amzn-ErrorType` header or the JSON body's
/// `__type` (either may carry a namespace or a URI suffix, as the SDK's own parser allows).
fn error_code_of(ctx: &InterceptorContext) -> Option<String> {
    let response = ctx.response()?;
    let raw = match response.headers().get("x-amzn-errortype") {
        Some(h) => h.to_string(),
        None => {
            let body: serde_json::Value = serde_json::from_slice(response.body().bytes()?).ok()?;
            body.get("__type")
                .or_else(|| body.get("code"))?
                .as_str()?
                .to_string()
        }
    };
    let code = raw.split(':').next().unwrap_or(&raw);
    let code = code.rsplit('#').next().unwrap_or(code);
    Some(code.trim().to_string())
}

/// What the SDK's standard classifiers get wrong for KMS:
///
/// - `LimitExceededException` is in the SDK's list of throttling codes, but KMS uses it for
///   quotas and length limits (too many keys, aliases or grants; a policy too long), which no
///   retry lifts: retrying is forbidden, so the call fails at its first answer.
/// - `ConflictException` (RotateKeyOnDemand while an automatic rotation is running or due) is
///   not modelled as retryable; it is transient, so it is retried with backoff.
///
/// It runs before the SDK's error-code classifier, and `RetryForbidden` ends classification.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KmsRetryClassifier;

impl ClassifyRetry for KmsRetryClassifier {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if !matches!(ctx.output_or_error(), Some(Err(_))) {
            return RetryAction::NoActionIndicated;
        }
        match error_code_of(ctx).as_deref() {
            Some("LimitExceededException") => RetryAction::RetryForbidden,
            Some("ConflictException") => RetryAction::transient_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "keychain AWS KMS quotas and rotation conflicts"
    }
}

/// The timeout policy: whole call, each attempt, and connect.
pub(crate) fn timeout_config(config: &AwsKmsConfig) -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(config.operation_timeout)
        .operation_attempt_timeout(config.attempt_timeout)
        .connect_timeout(config.connect_timeout)
        .build()
}

/// Builds the client a configuration describes and returns it with its region and (unless
/// the client was injected) the SDK configuration it came from.
pub(crate) async fn build_client(
    config: &AwsKmsConfig,
) -> Result<(Client, String, Option<SdkConfig>)> {
    config.validate()?;
    if let Some(client) = &config.client {
        let region = client
            .config()
            .region()
            .map(|r| r.as_ref().to_string())
            .ok_or_else(|| {
                Error::invalid_input("the injected AWS KMS client has no region configured")
            })?;
        return Ok((client.clone(), region, None));
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config(config))
        .timeout_config(timeout_config(config));
    if let Some(profile) = &config.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &config.region {
        check_region(region)?;
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &config.endpoint {
        check_endpoint(endpoint)?;
        loader = loader.endpoint_url(endpoint);
    }
    if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
        let secret = std::str::from_utf8(secret.expose())
            .map_err(|_| Error::invalid_input("the secret access key is not UTF-8"))?;
        let token = match &config.session_token {
            Some(t) => Some(
                std::str::from_utf8(t.expose())
                    .map_err(|_| Error::invalid_input("the session token is not UTF-8"))?
                    .to_string(),
            ),
            None => None,
        };
        loader = loader.credentials_provider(Credentials::new(
            id.clone(),
            secret.to_string(),
            token,
            None,
            "keychain-static",
        ));
    }
    let sdk_config = loader.load().await;
    let region = sdk_config
        .region()
        .map(|r| r.as_ref().to_string())
        .ok_or_else(|| {
            Error::invalid_input(
                "no AWS region: set AwsKmsConfig::region, AWS_REGION, the profile's region, \
                 or ?region= in the backend URI",
            )
        })?;
    check_region(&region)?;
    let client = Client::from_conf(kms_config(&sdk_config).build());
    Ok((client, region, Some(sdk_config)))
}

/// The base client and, lazily, one client per other region a key reference names.
#[derive(Debug)]
pub(crate) struct Clients {
    base: Client,
    sdk_config: Option<SdkConfig>,
    region: String,
    endpoint: Option<String>,
    others: Mutex<HashMap<String, Client>>,
}

/// `HOST:PORT` of an endpoint URL, for comparing with the endpoint of a key URI.
fn authority(endpoint: &str) -> &str {
    let rest = endpoint
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(endpoint);
    rest.split('/').next().unwrap_or(rest)
}

impl Clients {
    pub(crate) fn new(
        base: Client,
        sdk_config: Option<SdkConfig>,
        region: String,
        endpoint: Option<String>,
    ) -> Self {
        Clients {
            base,
            sdk_config,
            region,
            endpoint,
            others: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn base(&self) -> &Client {
        &self.base
    }

    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// The client for a region (the base client for ours).
    pub(crate) fn for_region(&self, region: &str) -> Result<Client> {
        if region == self.region {
            return Ok(self.base.clone());
        }
        check_region(region)?;
        let mut others = self
            .others
            .lock()
            .map_err(|_| Error::crypto("the AWS KMS client table is poisoned"))?;
        let client = others.entry(region.to_string()).or_insert_with(|| {
            // From the SDK configuration when we have it: a client rebuilt from another
            // client's config keeps signing for the original region.
            let builder = match &self.sdk_config {
                Some(sdk) => kms_config(sdk),
                None => self.base.config().to_builder(),
            };
            Client::from_conf(builder.region(Region::new(region.to_string())).build())
        });
        Ok(client.clone())
    }

    /// The client for a key reference: the ARN's or URI's region, and the URI's endpoint,
    /// which must be the one the backend is connected to.
    pub(crate) fn for_key(&self, key: &KeyRef) -> Result<Client> {
        if let Some(ep) = key.endpoint() {
            let ours = self.endpoint.as_deref().map(authority);
            if ours != Some(authority(ep)) {
                return Err(Error::invalid_input(format!(
                    "key {key} names the endpoint {ep}, but this backend is connected to {}",
                    self.endpoint
                        .as_deref()
                        .unwrap_or("the AWS endpoint of its region")
                )));
            }
        }
        let arn_region = match key.target() {
            KeyTarget::KeyArn(arn) | KeyTarget::AliasArn(arn) => Some(arn.region.as_str()),
            _ => None,
        };
        match key.region().or(arn_region) {
            Some(r) => self.for_region(r),
            None => Ok(self.base.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_of_urls() {
        assert_eq!(authority("http://localhost:4566"), "localhost:4566");
        assert_eq!(authority("https://kms.example:443/x"), "kms.example:443");
        assert_eq!(authority("localhost:4566"), "localhost:4566");
    }

    #[tokio::test]
    async fn every_client_has_a_retry_partition_without_quota() {
        let config = AwsKmsConfig::new()
            .region("us-east-1")
            .endpoint("http://127.0.0.1:9")
            .static_credentials("AKIDEXAMPLE", "secret", None);
        let (client, region, sdk) = build_client(&config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let partition = |c: &Client| c.config().retry_partition().map(|p| p.to_string());
        assert_eq!(partition(&client).as_deref(), Some("keychain-awskms"));
        let clients = Clients::new(client, sdk, region, None);
        let other = clients
            .for_region("eu-west-1")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(partition(&other).as_deref(), Some("keychain-awskms"));
    }

    #[test]
    fn retry_and_timeouts_are_explicit() {
        let c = AwsKmsConfig::new().max_attempts(5);
        let r = retry_config(&c);
        assert_eq!(r.max_attempts(), 5);
        assert_eq!(r.mode(), aws_sdk_kms::config::retry::RetryMode::Standard);
        let t = timeout_config(&c);
        assert_eq!(t.operation_timeout(), Some(c.operation_timeout));
        assert_eq!(t.operation_attempt_timeout(), Some(c.attempt_timeout));
    }
}
