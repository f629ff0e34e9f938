//! Multi-Region keys attacked: an alias naming a key that is not in the caller's region, a
//! region where every multi-Region key is hidden from ListKeys, a replica changed while its
//! key is pending deletion or after it is deleted, the primary moved from a replica's region
//! or by two calls at once, a tag racing a move, a replica's region changing the rotation,
//! and a regions annex edited by hand.

use aws_sdk_kms::types::KeyState;

use super::{code, support, tag};

const OTHER: &str = "eu-west-1";
const THIRD: &str = "ap-southeast-2";
const EU_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

/// An alias is seen from every region (the keystore keeps one per name), but the key it names
/// is not: through the alias, as through the key's id, a multi-Region key absent from the
/// caller's region is no key there, whichever operation is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_does_not_reach_a_key_absent_from_the_region() {
    let served = support::serve().await;
    let home = served.sdk();
    let away = served.sdk_as("test", "test", OTHER);
    let created = home
        .create_key()
        .multi_region(true)
        .send()
        .await
        .expect("CreateKey");
    let id = created.key_metadata().expect("meta").key_id().to_string();
    home.create_alias()
        .alias_name("alias/mrk-home")
        .target_key_id(&id)
        .send()
        .await
        .expect("CreateAlias");
    let alias_arn = format!("arn:aws:kms:{OTHER}:000000000000:alias/mrk-home");
    for name in ["alias/mrk-home", alias_arn.as_str()] {
        assert_eq!(
            code(away.describe_key().key_id(name).send().await).as_deref(),
            Some("NotFoundException"),
            "DescribeKey {name}"
        );
        assert_eq!(
            code(away.disable_key().key_id(name).send().await).as_deref(),
            Some("NotFoundException"),
            "DisableKey {name}"
        );
        assert_eq!(
            code(away.enable_key().key_id(name).send().await).as_deref(),
            Some("NotFoundException"),
            "EnableKey {name}"
        );
        assert_eq!(
            code(away.get_key_rotation_status().key_id(name).send().await).as_deref(),
            Some("NotFoundException"),
            "GetKeyRotationStatus {name}"
        );
        assert_eq!(
            code(away.list_resource_tags().key_id(name).send().await).as_deref(),
            Some("NotFoundException"),
            "ListResourceTags {name}"
        );
        assert_eq!(
            code(away.list_aliases().key_id(name).send().await).as_deref(),
            Some("NotFoundException"),
            "ListAliases {name}"
        );
    }
    // An alias is never a TargetKeyId, whether it exists or not: refused before any lookup.
    for target in ["alias/mrk-home", "alias/never-made"] {
        assert_eq!(
            code(
                away.create_alias()
                    .alias_name("alias/second")
                    .target_key_id(target)
                    .send()
                    .await
            )
            .as_deref(),
            Some("ValidationException"),
            "CreateAlias to {target}"
        );
    }
    // Nothing asked from the other region changed the key.
    let here = home
        .describe_key()
        .key_id("alias/mrk-home")
        .send()
        .await
        .expect("DescribeKey at home");
    assert_eq!(
        here.key_metadata().and_then(|m| m.key_state()),
        Some(&KeyState::Enabled)
    );
    // Once replicated there, the alias reaches it.
    home.replicate_key()
        .key_id(&id)
        .replica_region(OTHER)
        .send()
        .await
        .expect("ReplicateKey");
    let there = away
        .describe_key()
        .key_id("alias/mrk-home")
        .send()
        .await
        .expect("DescribeKey through the alias in the replica's region");
    assert_eq!(there.key_metadata().map(|m| m.key_id()), Some(id.as_str()));
}

/// Keys hidden from a region do not make ListKeys answer empty pages that say more follow:
/// each truncated page has keys, and paging ends having listed every key of the region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_keys_pages_are_not_emptied_by_hidden_keys() {
    let served = support::serve().await;
    let home = served.sdk();
    let away = served.sdk_as("test", "test", OTHER);
    for _ in 0..6 {
        home.create_key()
            .multi_region(true)
            .send()
            .await
            .expect("CreateKey");
    }
    let mut visible = Vec::new();
    for _ in 0..2 {
        let k = away.create_key().send().await.expect("CreateKey away");
        visible.push(k.key_metadata().expect("meta").key_id().to_string());
    }
    let mut listed = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..20 {
        let page = away
            .list_keys()
            .limit(2)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("ListKeys");
        let ids: Vec<String> = page
            .keys()
            .iter()
            .filter_map(|k| k.key_id().map(str::to_string))
            .collect();
        assert!(ids.len() <= 2, "more than Limit: {ids:?}");
        if page.truncated() {
            assert!(!ids.is_empty(), "an empty page with Truncated=true");
        }
        listed.extend(ids);
        marker = page.next_marker().map(str::to_string);
        if !page.truncated() {
            break;
        }
    }
    assert!(marker.is_none(), "paging did not end");
    listed.sort();
    visible.sort();
    assert_eq!(listed, visible);
}

/// A replica's own description, tags and policy are refused while its key is pending
/// deletion, as the primary's are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_of_a_key_pending_deletion_does_not_change() {
    let served = support::serve().await;
    let home = served.sdk();
    let away = served.sdk_as("test", "test", OTHER);
    let created = home
        .create_key()
        .multi_region(true)
        .send()
        .await
        .expect("CreateKey");
    let id = created.key_metadata().expect("meta").key_id().to_string();
    home.replicate_key()
        .key_id(&id)
        .replica_region(OTHER)
        .send()
        .await
        .expect("ReplicateKey");
    home.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    assert_eq!(
        code(
            away.tag_resource()
                .key_id(&id)
                .tags(tag("a", "b"))
                .send()
                .await
        )
        .as_deref(),
        Some("KMSInvalidStateException")
    );
    assert_eq!(
        code(away.untag_resource().key_id(&id).tag_keys("a").send().await).as_deref(),
        Some("KMSInvalidStateException")
    );
    assert_eq!(
        code(
            away.update_key_description()
                .key_id(&id)
                .description("late")
                .send()
                .await
        )
        .as_deref(),
        Some("KMSInvalidStateException")
    );
    let tags = away
        .list_resource_tags()
        .key_id(&id)
        .send()
        .await
        .expect("ListResourceTags");
    assert!(tags.tags().is_empty());
}

/// UpdatePrimaryRegion names the current primary key: in a replica's region the key is a
/// replica, and the primary does not move from there (as ReplicateKey does not replicate it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_moves_only_from_its_own_region() {
    let served = support::serve().await;
    let home = served.sdk();
    let away = served.sdk_as("test", "test", OTHER);
    let created = home
        .create_key()
        .multi_region(true)
        .send()
        .await
        .expect("CreateKey");
    let id = created.key_metadata().expect("meta").key_id().to_string();
    home.replicate_key()
        .key_id(&id)
        .replica_region(OTHER)
        .send()
        .await
        .expect("ReplicateKey");
    for region in [OTHER, support::REGION] {
        assert_eq!(
            code(
                away.update_primary_region()
                    .key_id(&id)
                    .primary_region(region)
                    .send()
                    .await
            )
            .as_deref(),
            Some("UnsupportedOperationException"),
            "UpdatePrimaryRegion to {region} called in the replica's region"
        );
    }
    let config = home
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata()
        .and_then(|m| m.multi_region_configuration().cloned())
        .expect("configuration");
    assert_eq!(
        config.primary_key().and_then(|p| p.region()),
        Some(support::REGION)
    );
}

/// Two UpdatePrimaryRegion calls racing from the primary's region, to two replicas: the
/// primary moves once (the second call finds its region no longer the primary's), and every
/// region keeps its own description.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_primary_moves_move_once_and_lose_nothing() {
    let served = support::serve().await;
    let home = served.sdk();
    let clients = [
        (support::REGION, home.clone()),
        (OTHER, served.sdk_as("test", "test", OTHER)),
        (THIRD, served.sdk_as("test", "test", THIRD)),
    ];
    for round in 0..8 {
        let created = home
            .create_key()
            .multi_region(true)
            .description(support::REGION)
            .send()
            .await
            .expect("CreateKey");
        let id = created.key_metadata().expect("meta").key_id().to_string();
        for region in [OTHER, THIRD] {
            home.replicate_key()
                .key_id(&id)
                .replica_region(region)
                .description(region)
                .send()
                .await
                .expect("ReplicateKey");
        }
        let (a, b) = tokio::join!(
            home.update_primary_region()
                .key_id(&id)
                .primary_region(OTHER)
                .send(),
            home.update_primary_region()
                .key_id(&id)
                .primary_region(THIRD)
                .send(),
        );
        assert_eq!(
            usize::from(a.is_ok()) + usize::from(b.is_ok()),
            1,
            "round {round}: both moves or neither went through: {a:?} {b:?}"
        );
        let mut primaries = 0;
        for (region, kms) in &clients {
            let meta = kms
                .describe_key()
                .key_id(&id)
                .send()
                .await
                .expect("DescribeKey")
                .key_metadata()
                .cloned()
                .expect("meta");
            assert_eq!(
                meta.description(),
                Some(*region),
                "round {round}: the description seen in {region}"
            );
            let kind = meta
                .multi_region_configuration()
                .and_then(|c| c.multi_region_key_type().cloned());
            if kind == Some(aws_sdk_kms::types::MultiRegionKeyType::Primary) {
                primaries += 1;
            }
        }
        assert_eq!(primaries, 1, "round {round}: one primary");
    }
}

/// TagResource in a replica's region racing with UpdatePrimaryRegion to that region: a tag
/// that was answered as added is the region's tag afterwards, whichever went first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tag_racing_a_primary_move_is_not_lost() {
    let served = support::serve().await;
    let home = served.sdk();
    let away = served.sdk_as("test", "test", OTHER);
    for round in 0..8 {
        let created = home
            .create_key()
            .multi_region(true)
            .send()
            .await
            .expect("CreateKey");
        let id = created.key_metadata().expect("meta").key_id().to_string();
        home.replicate_key()
            .key_id(&id)
            .replica_region(OTHER)
            .send()
            .await
            .expect("ReplicateKey");
        let (moved, tagged) = tokio::join!(
            home.update_primary_region()
                .key_id(&id)
                .primary_region(OTHER)
                .send(),
            away.tag_resource()
                .key_id(&id)
                .tags(tag("raced", "yes"))
                .send(),
        );
        moved.expect("UpdatePrimaryRegion");
        let tags = away
            .list_resource_tags()
            .key_id(&id)
            .send()
            .await
            .expect("ListResourceTags");
        if tagged.is_ok() {
            assert_eq!(tags.tags(), [tag("raced", "yes")], "round {round}");
        } else {
            assert!(tags.tags().is_empty(), "round {round}");
        }
    }
}

/// A replica rotates with its primary: rotation is enabled, disabled and started on demand on
/// the primary key, in its region, and a replica's region is refused (as KMS refuses it),
/// while the status is read anywhere the key is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_is_the_primarys_to_change() {
    let served = support::serve().await;
    let home = served.sdk();
    let away = served.sdk_as("test", "test", OTHER);
    let created = home
        .create_key()
        .multi_region(true)
        .send()
        .await
        .expect("CreateKey");
    let id = created.key_metadata().expect("meta").key_id().to_string();
    home.replicate_key()
        .key_id(&id)
        .replica_region(OTHER)
        .send()
        .await
        .expect("ReplicateKey");
    assert_eq!(
        code(away.enable_key_rotation().key_id(&id).send().await).as_deref(),
        Some("UnsupportedOperationException")
    );
    assert_eq!(
        code(away.rotate_key_on_demand().key_id(&id).send().await).as_deref(),
        Some("UnsupportedOperationException")
    );
    home.enable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .expect("EnableKeyRotation on the primary");
    assert_eq!(
        code(away.disable_key_rotation().key_id(&id).send().await).as_deref(),
        Some("UnsupportedOperationException")
    );
    let status = away
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .expect("GetKeyRotationStatus in the replica's region");
    assert!(status.key_rotation_enabled());
    let rotations = away
        .list_key_rotations()
        .key_id(&id)
        .send()
        .await
        .expect("ListKeyRotations in the replica's region");
    assert!(rotations.rotations().is_empty());
}

/// The regions annex edited by hand: one that lists the primary among its replicas, a replica
/// twice, and things of its own for the primary is read as this server would have written it;
/// one that is not JSON is the server's failure (KMSInternalException, without the parser's
/// words), and ListKeys still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_edited_regions_annex_is_read_sanely() {
    let served = support::serve().await;
    let home = served.sdk();
    let created = home
        .create_key()
        .multi_region(true)
        .description("the record's")
        .send()
        .await
        .expect("CreateKey");
    let id = created.key_metadata().expect("meta").key_id().to_string();
    let annex = served
        .keystore
        .join("keys")
        .join(&id)
        .join("kms-regions.annex");
    assert!(annex.is_file(), "no annex at {}", annex.display());
    let own = r#"{"description":"forged","tags":{},"policy":null}"#;
    let edited = format!(
        r#"{{"primary":"{home}","replicas":["{home}","{OTHER}","{OTHER}"],"own":{{"{home}":{own}}}}}"#,
        home = support::REGION
    );
    std::fs::write(&annex, edited).expect("edit the annex");
    let meta = home
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata()
        .cloned()
        .expect("meta");
    assert_eq!(meta.description(), Some("the record's"));
    let config = meta.multi_region_configuration().expect("configuration");
    let replicas: Vec<Option<&str>> = config.replica_keys().iter().map(|r| r.region()).collect();
    assert_eq!(replicas, [Some(OTHER)]);

    std::fs::write(&annex, b"{not json").expect("break the annex");
    let err = home.describe_key().key_id(&id).send().await.err();
    let err = err.as_ref().and_then(|e| e.as_service_error());
    assert_eq!(
        err.and_then(|e| aws_sdk_kms::error::ProvideErrorMetadata::code(e)),
        Some("KMSInternalException")
    );
    let message = err
        .and_then(|e| aws_sdk_kms::error::ProvideErrorMetadata::message(e))
        .unwrap_or_default();
    assert!(!message.contains("line 1"), "{message}");
    home.list_keys().send().await.expect("ListKeys");
}

/// After its replica is deleted a region has nothing of the key: its policy, tags and
/// description are NotFoundException there, and a new replica starts from KMS's defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_replica_leaves_nothing_behind() {
    let served = support::serve().await;
    let home = served.sdk();
    let away = served.sdk_as("test", "test", OTHER);
    let created = home
        .create_key()
        .multi_region(true)
        .send()
        .await
        .expect("CreateKey");
    let id = created.key_metadata().expect("meta").key_id().to_string();
    home.replicate_key()
        .key_id(&id)
        .replica_region(OTHER)
        .tags(tag("old", "1"))
        .description("old replica")
        .send()
        .await
        .expect("ReplicateKey");
    away.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion of the replica");
    let not_found = Some("NotFoundException");
    assert_eq!(
        code(away.get_key_policy().key_id(&id).send().await).as_deref(),
        not_found
    );
    assert_eq!(
        code(
            away.put_key_policy()
                .key_id(&id)
                .policy(EU_POLICY)
                .send()
                .await
        )
        .as_deref(),
        not_found
    );
    assert_eq!(
        code(
            away.tag_resource()
                .key_id(&id)
                .tags(tag("a", "b"))
                .send()
                .await
        )
        .as_deref(),
        not_found
    );
    assert_eq!(
        code(away.list_resource_tags().key_id(&id).send().await).as_deref(),
        not_found
    );
    assert_eq!(
        code(
            away.update_key_description()
                .key_id(&id)
                .description("x")
                .send()
                .await
        )
        .as_deref(),
        not_found
    );
    let again = home
        .replicate_key()
        .key_id(&id)
        .replica_region(OTHER)
        .send()
        .await
        .expect("ReplicateKey again");
    assert!(again.replica_tags().is_empty());
    assert_eq!(
        again.replica_key_metadata().and_then(|m| m.description()),
        Some("")
    );
}

/// A multi-Region key made without this server (no regions annex) is found in every region as
/// its primary; replicated through the server from one region, that region becomes its
/// primary on record and the key is then where the record says, as the server's own are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_made_outside_the_server_is_replicated_from_where_it_is_asked() {
    let served = support::serve().await;
    let home = served.sdk();
    let away = served.sdk_as("test", "test", OTHER);
    let third = served.sdk_as("test", "test", THIRD);
    let mut request = keychain::CreateKeyRequest::new(keychain::KeySpec::SymmetricDefault);
    request.multi_region = true;
    let info = served
        .keychain
        .backend()
        .create_key(&request)
        .await
        .expect("create through the library");
    let id = info.key_id;
    for kms in [&home, &away, &third] {
        let meta = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .expect("DescribeKey of a key without regions");
        assert_eq!(
            meta.key_metadata()
                .and_then(|m| m.multi_region_configuration())
                .and_then(|c| c.multi_region_key_type()),
            Some(&aws_sdk_kms::types::MultiRegionKeyType::Primary)
        );
    }
    away.replicate_key()
        .key_id(&id)
        .replica_region(THIRD)
        .send()
        .await
        .expect("ReplicateKey from the region asked");
    let config = third
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey in the replica's region")
        .key_metadata()
        .and_then(|m| m.multi_region_configuration().cloned())
        .expect("configuration");
    assert_eq!(config.primary_key().and_then(|p| p.region()), Some(OTHER));
    assert_eq!(
        code(home.describe_key().key_id(&id).send().await).as_deref(),
        Some("NotFoundException")
    );
}
