//! Backend URIs: any string parses or is refused with `InvalidInput`, never a panic; what
//! parses holds no control character, only ports of 1-65535 and well-formed regions; and no
//! error message repeats the `user:secret` of an `awskms://user:secret@host`.
#![no_main]
use keychain::BackendUri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match BackendUri::parse(text) {
        Ok(BackendUri::AwsKms(uri)) => {
            // What parsed is what was checked: given back as the only attribute of a URI, each
            // value parses again to itself.
            if let Some(region) = &uri.region {
                assert_eq!(reparsed("region", region).region.as_ref(), Some(region));
            }
            if let Some(endpoint) = &uri.endpoint {
                assert_eq!(reparsed("endpoint", endpoint).endpoint.as_ref(), Some(endpoint));
                assert!(!endpoint.contains('@'), "{endpoint:?}");
            }
            for s in [&uri.region, &uri.endpoint, &uri.profile].into_iter().flatten() {
                assert!(!s.is_empty() && !s.chars().any(char::is_control), "{s:?}");
            }
            if let Some(n) = uri.max_attempts {
                assert!((1..=20).contains(&n));
            }
        }
        Ok(BackendUri::Software { path }) => {
            if let Some(p) = path {
                assert!(!p.as_os_str().is_empty());
            }
        }
        Ok(BackendUri::Pkcs11(uri)) => {
            for s in [&uri.token, &uri.serial].into_iter().flatten() {
                assert!(!s.chars().any(char::is_control), "{s:?}");
            }
            // Written back out (never with an inline PIN), it parses to the same settings.
            let parsed = BackendUri::Pkcs11(uri);
            if let Ok(written) = parsed.to_uri() {
                let again = BackendUri::parse(&written)
                    .unwrap_or_else(|e| panic!("{written:?} does not parse again: {e}"));
                assert_eq!(again, parsed, "{written:?}");
            }
        }
        Ok(other) => panic!("unexpected variant {other:?}"),
        Err(keychain::Error::InvalidInput { message }) => {
            assert!(!message.chars().any(char::is_control), "{message:?}");
            // `awskms://USER:SECRET@HOST`: the user information is never repeated (one with a
            // digit, so that it cannot be a word of the message itself).
            let authority = text
                .trim()
                .strip_prefix("awskms://")
                .map(|h| h.split(['/', '?']).next().unwrap_or(h));
            if let Some((userinfo, _)) = authority.and_then(|a| a.rsplit_once('@'))
                && userinfo.len() >= 8
                && userinfo.contains(|c: char| c.is_ascii_digit())
            {
                assert!(!message.contains(userinfo), "{message}");
            }
        }
        Err(other) => panic!("{text:?}: not InvalidInput: {other}"),
    }
});

/// The `awskms` URI holding only `name=value` (the value percent-encoded), parsed.
fn reparsed(name: &str, value: &str) -> keychain::AwsKmsUri {
    let encoded: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    match BackendUri::parse(&format!("awskms:?{name}={encoded}")) {
        Ok(BackendUri::AwsKms(uri)) => uri,
        other => panic!("{name}={value:?} parsed once but not again: {other:?}"),
    }
}
