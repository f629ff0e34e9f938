//! keychain's own AWS KMS backend as a client of `keychain serve`, beyond the conformance
//! suite: descriptions replaced through UpdateKeyDescription, and keys the server's keystore
//! holds seen through the backend by alias.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use keychain::{Backend, CreateKeyRequest, KeyRef, KeySpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptions_are_updated_through_the_aws_backend() {
    let served = support::serve().await;
    let aws = served.awskms().await;
    let info = aws
        .create_key(
            &CreateKeyRequest::new(KeySpec::EccNistP256)
                .name("described")
                .description("before"),
        )
        .await
        .unwrap();
    let key = KeyRef::alias("described").unwrap();
    aws.update_key_description(&key, "after").await.unwrap();
    assert_eq!(aws.describe_key(&key).await.unwrap().description, "after");
    // The keystore behind the server holds the same key, with the same description.
    let local = served
        .keychain
        .backend()
        .describe_key(&KeyRef::key_id(&info.key_id).unwrap())
        .await
        .unwrap();
    assert_eq!(local.description, "after");
    assert!(
        local.aliases.iter().any(|a| a == "alias/described"),
        "{:?}",
        local.aliases
    );
    assert!(matches!(
        aws.update_key_description(&key, &"d".repeat(8193)).await,
        Err(keychain::Error::InvalidInput { .. })
    ));
}
