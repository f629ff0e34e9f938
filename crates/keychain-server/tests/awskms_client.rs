//! keychain's own AWS KMS backend as a client of `keychain serve`, beyond the conformance
//! suite: descriptions replaced through UpdateKeyDescription, keys the server's keystore
//! holds seen through the backend by alias, key policies and grants, and a migration of
//! software keys into the server by import (BYOK), with the migration's own proofs.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_grants_and_migrations_through_the_aws_backend() {
    let served = support::serve().await;
    let aws = served.awskms().await;
    aws.create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("granted"))
        .await
        .unwrap();
    let key = KeyRef::alias("granted").unwrap();
    let default: serde_json::Value =
        serde_json::from_str(&aws.key_policy(&key).await.unwrap()).unwrap();
    assert_eq!(default["Statement"][0]["Action"], "kms:*");
    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
    aws.put_key_policy(&key, policy).await.unwrap();
    assert_eq!(aws.key_policy(&key).await.unwrap(), policy);
    let grant = aws
        .create_grant(
            &key,
            "arn:aws:iam::000000000000:role/app",
            &["Encrypt", "Decrypt"],
            Some("app"),
        )
        .await
        .unwrap();
    let grants = aws.list_grants(&key).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].grant_id, grant.grant_id);
    assert_eq!(grants[0].operations, vec!["Decrypt", "Encrypt"]);
    aws.revoke_grant(&key, &grant.grant_id).await.unwrap();
    assert!(aws.list_grants(&key).await.unwrap().is_empty());

    // Software keys moved into the server by import, each proven by the migration.
    let (_dir, source) = keychain_testkit::temp_software_backend().await;
    for (name, spec) in [
        ("moved-p256", KeySpec::EccNistP256),
        ("moved-aes", KeySpec::SymmetricDefault),
        ("moved-rsa", KeySpec::Rsa2048),
    ] {
        let usage = if spec == KeySpec::SymmetricDefault {
            keychain::KeyUsage::EncryptDecrypt
        } else {
            keychain::KeyUsage::SignVerify
        };
        source
            .create_key(&CreateKeyRequest::new(spec).name(name).usage(usage))
            .await
            .unwrap();
        let report = keychain::migrate::migrate(
            &source,
            &aws,
            name,
            &keychain::migrate::MigrateOptions::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("migrating {name} into keychain serve: {e}"));
        assert_eq!(report.destination.origin, keychain::KeyOrigin::External);
        assert_eq!(report.destination.state, keychain::KeyState::Enabled);
        assert!(!report.proofs.is_empty(), "{name}: no proof");
    }
}

/// Many clients racing for one name through keychain's AWS backend: exactly one key gets it;
/// every other key made in the race (its client passed the name check before the winner's
/// alias existed) is scheduled for deletion, never left behind silently, and its error says
/// so. The server's CreateAlias is atomic, as KMS's is (LocalStack's is not: two racers can
/// both create one alias there, so this race is judged here).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_race_for_a_name_leaves_no_live_orphan() {
    use keychain::{Error, KeyState, PageRequest};
    use std::sync::Arc;
    let served = support::serve().await;
    let name = "race";
    let racers = 6;
    let barrier = Arc::new(tokio::sync::Barrier::new(racers));
    let mut tasks = Vec::new();
    for _ in 0..racers {
        let aws = served.awskms().await;
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            aws.create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(name))
                .await
        }));
    }
    let mut winners = Vec::new();
    let mut orphan_notes = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(info) => winners.push(info),
            Err(Error::AlreadyExists { what }) => {
                if what.contains("scheduled for deletion") {
                    orphan_notes += 1;
                }
            }
            Err(e) => panic!("a racer failed otherwise: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one racer gets the name");
    // The racers start together, so the losers pass the name check before the winner's
    // alias exists: the CreateAlias race and its clean-up are really exercised.
    assert!(
        orphan_notes >= 1,
        "no racer lost at CreateAlias; the race was not exercised"
    );
    let aws = served.awskms().await;
    let owner = aws
        .describe_key(&KeyRef::alias(name).unwrap())
        .await
        .unwrap();
    assert_eq!(owner.key_id, winners[0].key_id);
    // Every key the keystore holds other than the winner is an orphan of the race: each was
    // reported and is pending deletion.
    let mut keys = Vec::new();
    let mut page = PageRequest::default();
    loop {
        let listed = served.keychain.backend().list_keys(&page).await.unwrap();
        keys.extend(listed.items);
        match listed.next_marker {
            Some(m) => page.marker = Some(m),
            None => break,
        }
    }
    let orphans: Vec<_> = keys.iter().filter(|k| k.key_id != owner.key_id).collect();
    assert_eq!(orphans.len(), orphan_notes, "every orphan was reported");
    for o in &orphans {
        assert_eq!(
            o.state,
            KeyState::PendingDeletion,
            "orphan left alive: {o:?}"
        );
    }
}

/// keychain's AWS backend replicates a multi-Region key through the server: the replica has
/// the primary's id and key material (it verifies the primary's signature, judged also by
/// `openssl` under the replica's public key) and its own description; a single-Region key is
/// refused before the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_region_keys_replicate_through_the_aws_backend() {
    use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
    use keychain::{Hash, Message, SigningAlgorithm};

    let served = support::serve().await;
    let aws = served.awskms().await;
    let mut request = CreateKeyRequest::new(KeySpec::EccNistP256)
        .name("mrk")
        .description("primary");
    request.multi_region = true;
    let primary = aws.create_key(&request).await.unwrap();
    assert!(primary.key_id.starts_with("mrk-") && primary.multi_region);
    let key = KeyRef::alias("mrk").unwrap();
    let replica = aws
        .replicate_key(&key, "eu-west-1", Some("EU replica"))
        .await
        .unwrap();
    assert_eq!(replica.key_id, primary.key_id);
    assert!(
        replica
            .arn
            .as_deref()
            .is_some_and(|a| a.contains(":eu-west-1:"))
    );

    let eu = AwsKmsBackend::new(
        AwsKmsConfig::new()
            .region("eu-west-1")
            .endpoint(served.endpoint())
            .static_credentials("test", "test", None),
    )
    .await
    .unwrap();
    let by_id = KeyRef::key_id(&primary.key_id).unwrap();
    let described = eu.describe_key(&by_id).await.unwrap();
    assert!(described.multi_region);
    assert_eq!(described.description, "EU replica");
    assert_eq!(aws.describe_key(&key).await.unwrap().description, "primary");

    let digest = Hash::Sha256.digest(b"signed in us-east-1");
    let sig = aws
        .sign(
            &key,
            Message::Digest(&digest),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .unwrap();
    assert!(
        eu.verify(
            &by_id,
            Message::Digest(&digest),
            &sig,
            SigningAlgorithm::EcdsaSha256
        )
        .await
        .unwrap()
    );
    let replica_key = eu.public_key(&by_id).await.unwrap();
    assert_eq!(replica_key, aws.public_key(&key).await.unwrap());
    let pem = replica_key.to_pem();
    assert!(
        keychain_testkit::openssl_verify(
            &pem,
            SigningAlgorithm::EcdsaSha256,
            b"signed in us-east-1",
            &sig
        ),
        "openssl refuses the primary's signature under the replica's public key"
    );

    let single = aws
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("single"))
        .await
        .unwrap();
    assert!(matches!(
        aws.replicate_key(&KeyRef::key_id(&single.key_id).unwrap(), "eu-west-1", None)
            .await,
        Err(keychain::Error::InvalidInput { .. })
    ));
}
