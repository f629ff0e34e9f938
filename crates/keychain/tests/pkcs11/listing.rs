//! Listing a token that other tools wrote to: keys sharing a `CKA_ID` or having none are
//! each listed once across pages.

use keychain::{CreateKeyRequest, KeySpec, PageRequest};
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
