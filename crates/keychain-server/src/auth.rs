//! SigV4: every request is authenticated by recomputing its signature with AWS's own signer
//! (`aws-sigv4`) from the request's method, path, query, signed headers and body, with the
//! secret of the access key it names, and comparing in constant time. The region comes from
//! the credential scope; a request signed more than 15 minutes away from the server's clock
//! is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::arn::Caller;
use crate::credentials::Credentials;
use crate::errors::KmsError;

/// The only algorithm KMS accepts.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The service name in the credential scope.
const SERVICE: &str = "kms";
/// How far the request's time may be from the server's.
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// What a request must carry to be checked.
pub(crate) struct SignedRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) path_and_query: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
/// Signature=…` header.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn incomplete(message: impl Into<String>) -> KmsError {
    KmsError::bad("IncompleteSignatureException", message)
}

fn invalid(message: impl Into<String>) -> KmsError {
    KmsError::bad("InvalidSignatureException", message)
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, KmsError> {
    let (algorithm, rest) = value.trim().split_once(' ').ok_or_else(|| {
        incomplete("Authorization header requires Credential, SignedHeaders and Signature")
    })?;
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': '{}'",
            crate::wire::clip(algorithm)
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' \
             parameters",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = scope[..] else {
        return Err(incomplete(
            "Credential must have the form ACCESS_KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    if terminator != "aws4_request" {
        return Err(invalid(
            "Credential should be scoped with a valid terminator: 'aws4_request'",
        ));
    }
    let signed_headers: Vec<&str> = signed.split(';').collect();
    if signed_headers.iter().any(|h| h.is_empty()) {
        return Err(incomplete("SignedHeaders is malformed"));
    }
    Ok(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers,
        signature,
    })
}

/// `YYYYMMDD'T'HHMMSS'Z'` as a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days since the epoch of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Whether `region` has the shape of an AWS region: a two-letter area, words, and a number
/// (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `us-isob-east-1`). AWS refuses a scope
/// whose region is none (`nowhere-1`).
pub(crate) fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [area, words @ .., number] = &parts[..] else {
        return false;
    };
    region.len() <= 32
        && area.len() == 2
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && !words.is_empty()
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Authenticates a request; the caller's account and region, or KMS's refusal.
pub(crate) fn authenticate(
    request: &SignedRequest<'_>,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<Caller, KmsError> {
    let Some(header) = request.headers.get(http::header::AUTHORIZATION) else {
        return Err(KmsError::bad(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let header = header
        .to_str()
        .map_err(|_| incomplete("the Authorization header is not ASCII"))?;
    let auth = parse_authorization(header)?;
    let amz_date = request
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            incomplete("Authorization header requires existence of a 'X-Amz-Date' header")
        })?;
    let time = parse_amz_date(amz_date).ok_or_else(|| {
        incomplete(format!(
            "X-Amz-Date '{}' is not of the form YYYYMMDD'T'HHMMSS'Z'",
            crate::wire::clip(amz_date)
        ))
    })?;
    let Some(accepted) = credentials.get(auth.access_key) else {
        return Err(KmsError::bad(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    };
    if auth.service != SERVICE {
        return Err(invalid(format!(
            "Credential should be scoped to correct service: '{SERVICE}'."
        )));
    }
    if !valid_region(auth.region) {
        return Err(invalid("Credential should be scoped to a valid region."));
    }
    if amz_date.get(..8) != Some(auth.date) {
        return Err(invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{}' != '{}'",
            crate::wire::clip(auth.date),
            &amz_date[..8]
        )));
    }
    if time + MAX_SKEW < now {
        return Err(invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz_date(now - MAX_SKEW),
            format_amz_date(now)
        )));
    }
    if time > now + MAX_SKEW {
        return Err(invalid(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now + MAX_SKEW),
            format_amz_date(now)
        )));
    }
    if !auth.signed_headers.contains(&"host") {
        return Err(invalid("'Host' must be a signed header"));
    }
    // The body is covered by the signature, the operation must be too: otherwise a request
    // captured within the time window could be replayed as another operation with the same
    // body (Verify as Sign, GenerateDataKeyWithoutPlaintext as GenerateDataKey).
    if !auth.signed_headers.contains(&"x-amz-target") {
        return Err(invalid("'X-Amz-Target' must be a signed header"));
    }
    let expected = expected_signature(request, &auth, &accepted.identity, time)?;
    let matches: bool = expected.as_bytes().ct_eq(auth.signature.as_bytes()).into();
    if !matches {
        return Err(invalid(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details.",
        ));
    }
    Ok(Caller {
        account: accepted.credential.account_id.clone(),
        region: auth.region.to_string(),
    })
}

/// The signature AWS's signer makes for this request with `credential`'s secret: the
/// request's own signed headers (and no others), its path and query, and its body.
fn expected_signature(
    request: &SignedRequest<'_>,
    auth: &Authorization<'_>,
    identity: &aws_smithy_runtime_api::client::identity::Identity,
    time: SystemTime,
) -> Result<String, KmsError> {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for name in &auth.signed_headers {
        let values = request.headers.get_all(*name);
        let mut any = false;
        for value in values {
            let value = value
                .to_str()
                .map_err(|_| invalid(format!("signed header '{name}' is not ASCII")))?;
            headers.push((name, value));
            any = true;
        }
        if !any && *name != "x-amz-date" {
            return Err(invalid(format!(
                "signed header '{}' is missing from the request",
                crate::wire::clip(name)
            )));
        }
    }
    let mut settings = SigningSettings::default();
    // Sign exactly the headers the client signed, whatever they are.
    settings.excluded_headers = None;
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(auth.region)
        .name(SERVICE)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| internal_signer(&e))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.path_and_query,
        headers.into_iter(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|_| invalid("the request cannot be put in canonical form"))?;
    let output = sign(signable, &params)
        .map_err(|_| invalid("the request's signed headers cannot be put in canonical form"))?;
    Ok(output.signature().to_string())
}

fn internal_signer(e: &dyn std::fmt::Display) -> KmsError {
    tracing::error!(error = %e, "SigV4 signer parameters");
    KmsError::internal("the signature could not be checked")
}

/// A time as `YYYYMMDD'T'HHMMSS'Z'`.
pub(crate) fn format_amz_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip() {
        for s in ["20261130T230408Z", "20000229T000000Z", "19700101T000000Z"] {
            let t = parse_amz_date(s);
            assert_eq!(t.map(format_amz_date).as_deref(), Some(s));
        }
        for bad in [
            "2026-11-30",
            "20261330T000000Z",
            "2026113OT000000Z",
            "20261130T000000",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn authorization_headers_parse() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=test/20261130/us-east-1/kms/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        );
        assert!(a.is_ok_and(|a| a.region == "us-east-1"
            && a.signed_headers == ["host", "x-amz-date"]
            && a.signature == "abc"));
        for bad in [
            "AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=x",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=x",
            "AWS4-HMAC-SHA256",
        ] {
            assert!(parse_authorization(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_are_recognised_by_shape() {
        for good in [
            "us-east-1",
            "eu-west-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "us-isob-east-1",
            "il-central-1",
        ] {
            assert!(valid_region(good), "{good}");
        }
        for bad in [
            "nowhere-1",
            "US_EAST_1",
            "us-east",
            "us-east-",
            "usa-east-1",
            "us--east-1",
            "",
            "1",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }
}
