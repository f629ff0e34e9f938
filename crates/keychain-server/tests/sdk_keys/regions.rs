//! Multi-Region keys through aws-sdk-kms: a key made in one region is found only there until
//! it is replicated; a replica decrypts what the primary encrypted; the primary moves with
//! UpdatePrimaryRegion; deleting a replica removes only its region; and what KMS refuses is
//! refused with its errors.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyState, MultiRegionKeyType};

use super::{code, support, tag};

const OTHER: &str = "eu-west-1";
const THIRD: &str = "ap-southeast-2";
const EU_POLICY: &str = r#"{"Version":"2012-10-17","Id":"eu","Statement":[{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_region_keys_replicate_move_and_delete_by_region() {
    let served = support::serve().await;
    let home = served.sdk();
    let away = served.sdk_as("test", "test", OTHER);
    let third = served.sdk_as("test", "test", THIRD);
    let created = home
        .create_key()
        .multi_region(true)
        .description("mrk")
        .tags(tag("team", "a"))
        .send()
        .await
        .expect("CreateKey");
    let meta = created.key_metadata().expect("meta");
    let id = meta.key_id().to_string();
    assert!(id.starts_with("mrk-"), "{id}");
    let config = meta.multi_region_configuration().expect("configuration");
    assert_eq!(
        config.multi_region_key_type(),
        Some(&MultiRegionKeyType::Primary)
    );
    assert_eq!(
        config.primary_key().and_then(|p| p.region()),
        Some(support::REGION)
    );
    assert!(config.replica_keys().is_empty());

    // Not in another region until replicated: not described, not listed, does not decrypt.
    let blob = home
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"across regions".to_vec()))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob()
        .expect("blob")
        .clone();
    assert_eq!(
        code(away.describe_key().key_id(&id).send().await).as_deref(),
        Some("NotFoundException")
    );
    assert_eq!(
        code(away.decrypt().ciphertext_blob(blob.clone()).send().await).as_deref(),
        Some("NotFoundException")
    );
    let listed = away.list_keys().send().await.expect("ListKeys");
    assert!(
        listed
            .keys()
            .iter()
            .all(|k| k.key_id() != Some(id.as_str())),
        "an unreplicated key is listed in another region"
    );

    // What ReplicateKey refuses.
    assert_eq!(
        code(
            home.replicate_key()
                .key_id(&id)
                .replica_region(support::REGION)
                .send()
                .await
        )
        .as_deref(),
        Some("AlreadyExistsException")
    );
    assert_eq!(
        code(
            home.replicate_key()
                .key_id(&id)
                .replica_region("nowhere-1")
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );
    assert_eq!(
        code(
            home.replicate_key()
                .key_id(&id)
                .replica_region(OTHER)
                .tags(tag("aws:reserved", "x"))
                .send()
                .await
        )
        .as_deref(),
        Some("TagException")
    );
    let single = home.create_key().send().await.expect("CreateKey");
    let single = single.key_metadata().expect("meta").key_id().to_string();
    assert_eq!(
        code(
            home.replicate_key()
                .key_id(&single)
                .replica_region(OTHER)
                .send()
                .await
        )
        .as_deref(),
        Some("UnsupportedOperationException")
    );

    let replicated = home
        .replicate_key()
        .key_id(&id)
        .replica_region(OTHER)
        .description("EU replica")
        .tags(tag("team", "eu"))
        .send()
        .await
        .expect("ReplicateKey");
    let replica = replicated.replica_key_metadata().expect("replica metadata");
    assert_eq!(replica.key_id(), id);
    assert_eq!(
        replica.arn(),
        Some(format!("arn:aws:kms:{OTHER}:000000000000:key/{id}").as_str())
    );
    assert_eq!(
        replica
            .multi_region_configuration()
            .and_then(|c| c.multi_region_key_type()),
        Some(&MultiRegionKeyType::Replica)
    );
    assert!(
        replicated
            .replica_policy()
            .is_some_and(|p| p.contains("kms:*"))
    );
    assert_eq!(replicated.replica_tags(), [tag("team", "eu")]);
    assert_eq!(replica.description(), Some("EU replica"));
    assert_eq!(
        code(
            home.replicate_key()
                .key_id(&id)
                .replica_region(OTHER)
                .send()
                .await
        )
        .as_deref(),
        Some("AlreadyExistsException")
    );
    // Only the primary replicates.
    assert_eq!(
        code(
            away.replicate_key()
                .key_id(&id)
                .replica_region(THIRD)
                .send()
                .await
        )
        .as_deref(),
        Some("UnsupportedOperationException")
    );

    // The replica decrypts what the primary encrypted, and is described as a replica.
    let plain = away
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .expect("Decrypt in the replica's region");
    assert_eq!(
        plain.plaintext().map(|p| p.as_ref()),
        Some(&b"across regions"[..])
    );
    let described = away
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey");
    let config = described
        .key_metadata()
        .and_then(|m| m.multi_region_configuration())
        .expect("configuration");
    assert_eq!(
        config.multi_region_key_type(),
        Some(&MultiRegionKeyType::Replica)
    );
    let replicas: Vec<Option<&str>> = config.replica_keys().iter().map(|r| r.region()).collect();
    assert_eq!(replicas, [Some(OTHER)]);

    // Description, tags and policy are each region's own.
    assert_eq!(
        described.key_metadata().and_then(|m| m.description()),
        Some("EU replica")
    );
    away.tag_resource()
        .key_id(&id)
        .tags(tag("cost", "7"))
        .send()
        .await
        .expect("TagResource on the replica");
    away.update_key_description()
        .key_id(&id)
        .description("EU, edited")
        .send()
        .await
        .expect("UpdateKeyDescription on the replica");
    away.put_key_policy()
        .key_id(&id)
        .policy(EU_POLICY)
        .send()
        .await
        .expect("PutKeyPolicy on the replica");
    let own = |kms: aws_sdk_kms::Client| {
        let id = id.clone();
        async move {
            let tags = kms
                .list_resource_tags()
                .key_id(&id)
                .send()
                .await
                .expect("tags");
            let policy = kms
                .get_key_policy()
                .key_id(&id)
                .send()
                .await
                .expect("policy");
            let described = kms
                .describe_key()
                .key_id(&id)
                .send()
                .await
                .expect("describe");
            (
                described
                    .key_metadata()
                    .and_then(|m| m.description().map(str::to_string)),
                tags.tags().to_vec(),
                policy.policy().map(str::to_string),
            )
        }
    };
    let (description, tags, policy) = own(away.clone()).await;
    assert_eq!(description.as_deref(), Some("EU, edited"));
    assert_eq!(tags, [tag("cost", "7"), tag("team", "eu")]);
    assert_eq!(policy.as_deref(), Some(EU_POLICY));
    let home_own = own(home.clone()).await;
    assert_eq!(home_own.0.as_deref(), Some("mrk"));
    assert_eq!(home_own.1, [tag("team", "a")]);
    assert!(home_own.2.as_deref().is_some_and(|p| p != EU_POLICY));

    // The primary moves to the replica's region; the old primary is a replica.
    assert_eq!(
        code(
            home.update_primary_region()
                .key_id(&id)
                .primary_region(THIRD)
                .send()
                .await
        )
        .as_deref(),
        Some("NotFoundException")
    );
    home.update_primary_region()
        .key_id(&id)
        .primary_region(OTHER)
        .send()
        .await
        .expect("UpdatePrimaryRegion");
    let at_home = home
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey");
    let config = at_home
        .key_metadata()
        .and_then(|m| m.multi_region_configuration())
        .expect("configuration");
    assert_eq!(
        config.multi_region_key_type(),
        Some(&MultiRegionKeyType::Replica)
    );
    assert_eq!(config.primary_key().and_then(|p| p.region()), Some(OTHER));
    // Each region kept its own description, tags and policy through the move.
    let (description, tags, policy) = own(away.clone()).await;
    assert_eq!(description.as_deref(), Some("EU, edited"));
    assert_eq!(tags, [tag("cost", "7"), tag("team", "eu")]);
    assert_eq!(policy.as_deref(), Some(EU_POLICY));
    let moved = own(home.clone()).await;
    assert_eq!((moved.0.as_deref(), &moved.1), (Some("mrk"), &home_own.1));
    assert_eq!(moved.2, home_own.2);

    // Deleting the replica (now in the first region) removes that region only.
    let deleting = home
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion of a replica");
    assert_eq!(deleting.key_state(), Some(&KeyState::PendingDeletion));
    assert!(deleting.deletion_date().is_some());
    assert_eq!(
        code(home.describe_key().key_id(&id).send().await).as_deref(),
        Some("NotFoundException")
    );
    let plain = away
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .expect("Decrypt with the primary after its replica went");
    assert_eq!(
        plain.plaintext().map(|p| p.as_ref()),
        Some(&b"across regions"[..])
    );
    assert_eq!(
        code(third.describe_key().key_id(&id).send().await).as_deref(),
        Some("NotFoundException")
    );

    // A primary with a replica waits for it, without a date.
    away.replicate_key()
        .key_id(&id)
        .replica_region(THIRD)
        .send()
        .await
        .expect("ReplicateKey from the new primary");
    let deleting = away
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion of a primary");
    assert_eq!(
        deleting.key_state(),
        Some(&KeyState::PendingReplicaDeletion)
    );
    assert!(deleting.deletion_date().is_none());
    let described = away
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey");
    let meta = described.key_metadata().expect("meta");
    assert_eq!(meta.key_state(), Some(&KeyState::PendingReplicaDeletion));
    assert!(meta.deletion_date().is_none());
}
