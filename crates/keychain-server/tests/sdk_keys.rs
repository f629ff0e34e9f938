//! aws-sdk-kms against `keychain serve`: key metadata, descriptions, listing pages, aliases,
//! tags, enabling, scheduled deletion, rotation settings, MACs, and ARNs in the caller's
//! region.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "sdk_keys/access.rs"]
mod access;
#[path = "sdk_keys/regions.rs"]
mod regions;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec, Tag};

fn code<E: ProvideErrorMetadata, T>(r: Result<T, E>) -> Option<String> {
    r.err().and_then(|e| e.code().map(str::to_string))
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().tag_key(k).tag_value(v).build().expect("tag")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_described_listed_and_paged() {
    let served = support::serve().await;
    let kms = served.sdk();
    let created = kms
        .create_key()
        .key_spec(KeySpec::EccNistP384)
        .key_usage(KeyUsageType::SignVerify)
        .description("first")
        .tags(tag("team", "crypto"))
        .send()
        .await
        .expect("CreateKey");
    let meta = created.key_metadata().expect("meta");
    assert_eq!(meta.description(), Some("first"));
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert!(meta.enabled());
    assert_eq!(meta.aws_account_id(), Some("000000000000"));
    let id = meta.key_id().to_string();
    // KMS's defaults: a symmetric ENCRYPT_DECRYPT key; and a usage the spec cannot have.
    let default = kms.create_key().send().await.expect("CreateKey default");
    let d = default.key_metadata().expect("meta");
    assert_eq!(
        (d.key_spec(), d.key_usage()),
        (
            Some(&KeySpec::SymmetricDefault),
            Some(&KeyUsageType::EncryptDecrypt)
        )
    );
    assert_eq!(
        code(kms.create_key().key_spec(KeySpec::EccNistP256).send().await).as_deref(),
        Some("ValidationException"),
        "ECC keys cannot be ENCRYPT_DECRYPT (KMS's default usage)"
    );
    assert_eq!(
        code(
            kms.create_key()
                .key_spec(KeySpec::from("RSA_1024"))
                .key_usage(KeyUsageType::SignVerify)
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );

    kms.update_key_description()
        .key_id(&id)
        .description("second")
        .send()
        .await
        .expect("UpdateKeyDescription");
    let described = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey");
    assert_eq!(
        described.key_metadata().and_then(|m| m.description()),
        Some("second")
    );

    for _ in 0..3 {
        kms.create_key().send().await.expect("CreateKey");
    }
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = kms
            .list_keys()
            .limit(2)
            .set_marker(marker)
            .send()
            .await
            .expect("ListKeys");
        assert!(page.keys().len() <= 2);
        for k in page.keys() {
            assert!(
                k.key_arn()
                    .is_some_and(|a| a.ends_with(k.key_id().unwrap_or("?")))
            );
            seen.push(k.key_id().unwrap_or_default().to_string());
        }
        if !page.truncated() {
            break;
        }
        marker = page.next_marker().map(str::to_string);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every key once: {seen:?}");
    assert_eq!(
        code(kms.list_keys().limit(0).send().await).as_deref(),
        Some("ValidationException")
    );
    assert_eq!(
        code(kms.list_keys().limit(1001).send().await).as_deref(),
        Some("ValidationException")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_and_tags() {
    let served = support::serve().await;
    let kms = served.sdk();
    let a = kms.create_key().send().await.expect("CreateKey");
    let a = a.key_metadata().expect("meta").key_id().to_string();
    let b = kms.create_key().send().await.expect("CreateKey");
    let b = b.key_metadata().expect("meta").key_id().to_string();
    kms.create_alias()
        .alias_name("alias/app")
        .target_key_id(&a)
        .send()
        .await
        .expect("CreateAlias");
    assert_eq!(
        code(
            kms.create_alias()
                .alias_name("alias/app")
                .target_key_id(&b)
                .send()
                .await
        )
        .as_deref(),
        Some("AlreadyExistsException")
    );
    assert_eq!(
        code(
            kms.create_alias()
                .alias_name("app")
                .target_key_id(&b)
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );
    assert_eq!(
        code(
            kms.create_alias()
                .alias_name("alias/aws/x")
                .target_key_id(&b)
                .send()
                .await
        )
        .as_deref(),
        Some("NotAuthorizedException")
    );
    let described = kms
        .describe_key()
        .key_id("alias/app")
        .send()
        .await
        .expect("DescribeKey by alias");
    assert_eq!(
        described.key_metadata().map(|m| m.key_id()),
        Some(a.as_str())
    );
    let arn = "arn:aws:kms:us-east-1:000000000000:alias/app";
    let by_arn = kms
        .describe_key()
        .key_id(arn)
        .send()
        .await
        .expect("DescribeKey by alias ARN");
    assert_eq!(by_arn.key_metadata().map(|m| m.key_id()), Some(a.as_str()));
    kms.update_alias()
        .alias_name("alias/app")
        .target_key_id(&b)
        .send()
        .await
        .expect("UpdateAlias");
    let listed = kms
        .list_aliases()
        .key_id(&b)
        .send()
        .await
        .expect("ListAliases");
    assert_eq!(listed.aliases().len(), 1);
    assert_eq!(listed.aliases()[0].alias_name(), Some("alias/app"));
    assert_eq!(listed.aliases()[0].alias_arn(), Some(arn));
    assert_eq!(listed.aliases()[0].target_key_id(), Some(b.as_str()));
    kms.delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .expect("DeleteAlias");
    assert_eq!(
        code(kms.describe_key().key_id("alias/app").send().await).as_deref(),
        Some("NotFoundException")
    );

    kms.tag_resource()
        .key_id(&a)
        .tags(tag("env", "test"))
        .tags(tag("owner", "me"))
        .send()
        .await
        .expect("TagResource");
    kms.untag_resource()
        .key_id(&a)
        .tag_keys("owner")
        .send()
        .await
        .expect("UntagResource");
    let tags = kms
        .list_resource_tags()
        .key_id(&a)
        .send()
        .await
        .expect("ListResourceTags");
    let pairs: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key(), t.tag_value()))
        .collect();
    assert_eq!(pairs, vec![("env", "test")]);
    assert_eq!(
        code(
            kms.tag_resource()
                .key_id(&a)
                .tags(tag("aws:reserved", "x"))
                .send()
                .await
        )
        .as_deref(),
        Some("TagException")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_rotation_and_macs() {
    let served = support::serve().await;
    let kms = served.sdk();
    let key = kms.create_key().send().await.expect("CreateKey");
    let id = key.key_metadata().expect("meta").key_id().to_string();
    kms.disable_key()
        .key_id(&id)
        .send()
        .await
        .expect("DisableKey");
    assert_eq!(
        code(
            kms.encrypt()
                .key_id(&id)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        )
        .as_deref(),
        Some("DisabledException")
    );
    kms.enable_key()
        .key_id(&id)
        .send()
        .await
        .expect("EnableKey");
    for bad in [6, 31] {
        assert_eq!(
            code(
                kms.schedule_key_deletion()
                    .key_id(&id)
                    .pending_window_in_days(bad)
                    .send()
                    .await
            )
            .as_deref(),
            Some("ValidationException"),
            "{bad} days"
        );
    }
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(scheduled.pending_window_in_days(), Some(7));
    let deletion = scheduled.deletion_date().expect("DeletionDate").secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    assert!(
        (deletion - now - 7 * 86_400).abs() < 300,
        "deletion in 7 days: {deletion} vs {now}"
    );
    assert_eq!(
        code(
            kms.encrypt()
                .key_id(&id)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        )
        .as_deref(),
        Some("KMSInvalidStateException")
    );
    kms.cancel_key_deletion()
        .key_id(&id)
        .send()
        .await
        .expect("CancelKeyDeletion");
    let state = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey");
    assert_eq!(
        state.key_metadata().and_then(|m| m.key_state()),
        Some(&KeyState::Disabled)
    );
    kms.enable_key()
        .key_id(&id)
        .send()
        .await
        .expect("EnableKey");

    assert_eq!(
        code(
            kms.enable_key_rotation()
                .key_id(&id)
                .rotation_period_in_days(89)
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );
    kms.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let status = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(90));
    kms.disable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .expect("DisableKeyRotation");
    let status = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(!status.key_rotation_enabled());

    let signing = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("CreateKey");
    let signing = signing.key_metadata().expect("meta").key_id().to_string();
    assert_eq!(
        code(kms.enable_key_rotation().key_id(&signing).send().await).as_deref(),
        Some("UnsupportedOperationException")
    );

    let hmac = kms
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .expect("CreateKey HMAC");
    let hmac = hmac.key_metadata().expect("meta").key_id().to_string();
    let mac = kms
        .generate_mac()
        .key_id(&hmac)
        .message(Blob::new(b"m".to_vec()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .expect("GenerateMac");
    let mac = mac.mac().expect("mac").as_ref().to_vec();
    assert_eq!(mac.len(), 32);
    let ok = kms
        .verify_mac()
        .key_id(&hmac)
        .message(Blob::new(b"m".to_vec()))
        .mac(Blob::new(mac.clone()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .expect("VerifyMac");
    assert!(ok.mac_valid());
    assert_eq!(
        code(
            kms.verify_mac()
                .key_id(&hmac)
                .message(Blob::new(b"n".to_vec()))
                .mac(Blob::new(mac))
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .send()
                .await
        )
        .as_deref(),
        Some("KMSInvalidMacException")
    );
    assert_eq!(
        code(
            kms.generate_mac()
                .key_id(&hmac)
                .message(Blob::new(b"m".to_vec()))
                .mac_algorithm(MacAlgorithmSpec::HmacSha512)
                .send()
                .await
        )
        .as_deref(),
        Some("InvalidKeyUsageException")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arns_carry_the_callers_region_and_other_regions_see_no_key() {
    let served = support::serve().await;
    let paris = served.sdk_as("test", "test", "eu-west-3");
    let key = paris.create_key().send().await.expect("CreateKey");
    let meta = key.key_metadata().expect("meta");
    let arn = meta.arn().expect("arn").to_string();
    assert_eq!(
        arn,
        format!("arn:aws:kms:eu-west-3:000000000000:key/{}", meta.key_id())
    );
    // The same ARN from another region's scope names no key there.
    let virginia = served.sdk();
    assert_eq!(
        code(virginia.describe_key().key_id(&arn).send().await).as_deref(),
        Some("NotFoundException")
    );
    assert!(paris.describe_key().key_id(&arn).send().await.is_ok());
    // Operations not implemented yet say so.
    assert_eq!(
        code(
            paris
                .replicate_key()
                .key_id(meta.key_id())
                .replica_region("us-west-2")
                .send()
                .await
        )
        .as_deref(),
        Some("UnsupportedOperationException")
    );
    assert_eq!(
        code(paris.describe_custom_key_stores().send().await).as_deref(),
        Some("UnsupportedOperationException")
    );
}
