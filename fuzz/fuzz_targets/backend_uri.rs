//! Backend URIs: any string parses or is refused with `InvalidInput`, never a panic; what
//! parses holds no control character, only ports of 1-65535 and well-formed regions; and no
//! error message repeats the `user:secret` of an `awskms://user:secret@host`.
#![no_main]
use keychain::backend_uri::{BackendUri, check_endpoint, check_region};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match BackendUri::parse(text) {
        Ok(BackendUri::AwsKms(uri)) => {
            if let Some(region) = &uri.region {
                assert!(check_region(region).is_ok(), "{region:?}");
            }
            if let Some(endpoint) = &uri.endpoint {
                assert!(check_endpoint(endpoint).is_ok(), "{endpoint:?}");
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
