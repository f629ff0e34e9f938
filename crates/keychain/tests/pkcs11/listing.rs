//! Listing a token that other tools wrote to: keys sharing a `CKA_ID` or having none are
//! each listed once across pages.

use keychain::{CreateKeyRequest, ErrorKind, KeyOrigin, KeyRef, KeySpec, KeyState, PageRequest};
use keychain_testkit::softhsm::run_isolated;

use super::interop::{open, pkcs11_tool, two_pairs_sharing_an_id};

/// `(key id, name)` of every key, walking pages of `limit`.
async fn walk(backend: &dyn keychain::Backend, limit: u32) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut request = PageRequest {
        limit: Some(limit),
        marker: None,
    };
    for _ in 0..1000 {
        let page = backend
            .list_keys(&request)
            .await
            .unwrap_or_else(|e| panic!("pages of {limit}: {e}"));
        assert!(page.items.len() <= limit as usize);
        out.extend(page.items.into_iter().map(|k| (k.key_id, k.name)));
        match page.next_marker {
            Some(m) => request.marker = Some(m),
            None => {
                out.sort();
                return out;
            }
        }
    }
    panic!("pages of {limit}: the listing never ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_sharing_or_lacking_an_id_are_each_listed_once_across_pages() {
    if run_isolated(
        "pkcs11::listing::keys_sharing_or_lacking_an_id_are_each_listed_once_across_pages",
    ) {
        return;
    }
    // Two pairs under one id, and one more under that id with a label already used.
    two_pairs_sharing_an_id("twin-a", "twin-b");
    two_pairs_sharing_an_id("twin-a", "twin-c");
    // Secret keys pkcs11-tool makes without an id (empty CKA_ID), two under one label.
    for label in ["no-id-1", "no-id-2", "no-id-2"] {
        pkcs11_tool(&[
            "--keygen",
            "--key-type",
            "AES:32",
            "--label",
            label,
            "--sensitive",
        ]);
    }
    let kc = open().await;
    for name in ["ours-1", "ours-2"] {
        kc.backend()
            .create_key(&CreateKeyRequest::new(KeySpec::Hmac256).name(name))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let everything = walk(kc.backend().as_ref(), 1000).await;
    assert_eq!(everything.len(), 9, "one page: {everything:#?}");
    let empty_ids = everything.iter().filter(|(id, _)| id.is_empty()).count();
    let shared = everything.iter().filter(|(id, _)| id == "0c0c").count();
    assert_eq!((empty_ids, shared), (3, 4), "{everything:#?}");
    for limit in 1..=4 {
        assert_eq!(
            walk(kc.backend().as_ref(), limit).await,
            everything,
            "pages of {limit} do not list every key exactly once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hex_reference_finds_the_key_id_and_never_silently_another_key() {
    if run_isolated(
        "pkcs11::listing::a_hex_reference_finds_the_key_id_and_never_silently_another_key",
    ) {
        return;
    }
    let kc = open().await;
    let backend = kc.backend();
    let describe = |reference: &str| {
        let key = KeyRef::parse(reference).unwrap_or_else(|e| panic!("{reference}: {e}"));
        async move { backend.describe_key(&key).await }
    };
    // A key pkcs11-tool made is listed with its id in hex; that id names it back.
    pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "tool-key",
        "--id",
        "0102ab",
    ]);
    let listed = backend
        .list_keys(&PageRequest::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = listed
        .items
        .iter()
        .find(|k| k.name.as_deref() == Some("tool-key"))
        .map(|k| k.key_id.clone())
        .unwrap_or_else(|| panic!("tool-key is not listed"));
    assert_eq!(shown, "0102ab");
    for reference in [shown.as_str(), "0102AB", "pkcs11:id=%01%02%ab", "tool-key"] {
        let info = describe(reference)
            .await
            .unwrap_or_else(|e| panic!("{reference}: {e}"));
        assert_eq!(info.name.as_deref(), Some("tool-key"), "{reference}");
    }

    // A key named like another key's id: the bare reference is refused, each key is still
    // reachable one way that cannot mean the other.
    let named = backend
        .create_key(&CreateKeyRequest::new(KeySpec::Hmac256).name("0a0b0c"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "other",
        "--id",
        "0a0b0c",
    ]);
    let e = describe("0a0b0c")
        .await
        .map(|k| format!("{:?} ({})", k.name, k.spec))
        .expect_err("a name that is also another key's id picked one of them");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("pkcs11:id=%0A%0B%0C"), "{e}");
    let by_id = describe("pkcs11:id=%0a%0b%0c")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_id.name.as_deref(), Some("other"));
    let by_own_id = describe(&named.key_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_own_id.name.as_deref(), Some("0a0b0c"));
    // And a new key may not take a name that is already a key's id.
    let e = backend
        .create_key(&CreateKeyRequest::new(KeySpec::Hmac256).name("0102ab"))
        .await
        .map(|k| k.key_id)
        .expect_err("a key was named after another key's id");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_keychain_will_not_use_are_not_listed_as_usable() {
    if run_isolated("pkcs11::listing::keys_keychain_will_not_use_are_not_listed_as_usable") {
        return;
    }
    // pkcs11-tool makes AES keys the token lets anyone read (not CKA_SENSITIVE).
    pkcs11_tool(&[
        "--keygen",
        "--key-type",
        "AES:32",
        "--label",
        "readable",
        "--id",
        "0d",
    ]);
    let kc = open().await;
    kc.backend()
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("ours"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = kc
        .backend()
        .list_keys(&PageRequest::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .items;
    let state = |name: &str| {
        listed
            .iter()
            .find(|k| k.name.as_deref() == Some(name))
            .map(|k| (k.state, k.origin))
            .unwrap_or_else(|| panic!("{name} is not listed: {listed:#?}"))
    };
    assert_eq!(
        state("readable").0,
        KeyState::Unavailable,
        "a key keychain refuses to use is listed as usable"
    );
    assert_eq!(state("ours"), (KeyState::Enabled, KeyOrigin::Generated));
    // And using it still says why.
    let e = kc
        .backend()
        .encrypt(
            &KeyRef::parse("readable").unwrap_or_else(|e| panic!("{e}")),
            b"x",
            keychain::EncryptionAlgorithm::SymmetricDefault,
            &keychain::EncryptionContext::new(),
        )
        .await
        .map(|c| c.len())
        .expect_err("a readable key encrypted");
    assert!(e.to_string().contains("not sensitive"), "{e}");
}
