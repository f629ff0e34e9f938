//! Lifecycle checks: create and describe, list pages, aliases, tags, enable and disable,
//! scheduled deletion, multi-Region keys.

use super::support::*;
use super::*;

/// A key created with a name, description and tags is described with exactly those, by every
/// form of reference; an unnamed key has no name and no aliases.
pub async fn lifecycle_create_describe(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let spec = [
        KeySpec::EccNistP256,
        KeySpec::SymmetricDefault,
        KeySpec::Hmac256,
    ]
    .into_iter()
    .find(|s| backend.capabilities().key_specs.contains(s))
    .unwrap_or(KeySpec::EccNistP256);
    let name = key_name(prefix, "described");
    let request = CreateKeyRequest::new(spec)
        .name(&name)
        .description("conformance: described key")
        .tag("team", "crypto")
        .tag("env", "test");
    let before = SystemTime::now();
    let Some(created) = create_or_unsupported(kc, &request).await else {
        return;
    };
    let alias = format!("alias/{name}");
    assert!(!created.key_id.is_empty(), "empty key id");
    assert_eq!(
        created.name.as_deref(),
        Some(name.as_str()),
        "CreateKey result name"
    );
    assert_eq!(created.state, KeyState::Enabled, "CreateKey result state");
    let mut references = vec![
        name.clone(),
        alias.clone(),
        created.key_id.clone(),
        format!("awskms:///{alias}"),
    ];
    if let Some(arn) = &created.arn {
        references.push(arn.clone());
    }
    for reference in &references {
        let info = kc
            .describe(reference)
            .await
            .must(&format!("describing {reference}"));
        let w = |field: &str| format!("describe({reference}).{field}");
        assert_eq!(info.key_id, created.key_id, "{}", w("key_id"));
        assert_eq!(info.name.as_deref(), Some(name.as_str()), "{}", w("name"));
        assert_eq!(info.aliases, vec![alias.clone()], "{}", w("aliases"));
        assert_eq!(info.spec, spec, "{}", w("spec"));
        assert_eq!(info.usage, spec.default_usage(), "{}", w("usage"));
        assert_eq!(info.state, KeyState::Enabled, "{}", w("state"));
        assert_eq!(
            info.description,
            "conformance: described key",
            "{}",
            w("description")
        );
        assert_eq!(
            info.tags,
            BTreeMap::from([
                ("env".to_string(), "test".to_string()),
                ("team".to_string(), "crypto".to_string())
            ]),
            "{}",
            w("tags")
        );
        assert_eq!(info.deletion_date, None, "{}", w("deletion_date"));
        assert!(info.versions >= 1, "{}", w("versions"));
        assert!(!info.multi_region, "{}", w("multi_region"));
        assert_near(
            &w("created"),
            info.created,
            before,
            Duration::from_secs(600),
            Duration::from_secs(600),
        );
    }
    let aliases = backend
        .list_aliases(Some(&id_ref(&created)))
        .await
        .must("ListAliases(key)");
    assert_eq!(aliases.len(), 1, "aliases of the key: {aliases:?}");
    assert_eq!(aliases[0].alias, alias);
    assert_eq!(aliases[0].key_id.as_deref(), Some(created.key_id.as_str()));

    let unnamed = backend
        .create_key(&CreateKeyRequest::new(spec))
        .await
        .must("creating an unnamed key");
    let info = backend
        .describe_key(&id_ref(&unnamed))
        .await
        .must("describing an unnamed key");
    assert_eq!(info.name, None, "an unnamed key has a name");
    assert!(
        info.aliases.is_empty(),
        "an unnamed key has aliases: {:?}",
        info.aliases
    );
    assert_eq!(info.state, KeyState::Enabled);
    assert_ne!(info.key_id, created.key_id);
}

/// Listing in pages of two walks every key exactly once until `next_marker` is `None`.
pub async fn lifecycle_list_pagination(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let caps = backend.capabilities();
    let spec = [
        KeySpec::Hmac256,
        KeySpec::SymmetricDefault,
        KeySpec::EccNistP256,
    ]
    .into_iter()
    .find(|s| caps.key_specs.contains(s))
    .unwrap_or(KeySpec::EccNistP256);
    let mut ours = BTreeSet::new();
    for i in 0..7 {
        let Some(info) = create_or_unsupported(
            kc,
            &CreateKeyRequest::new(spec).name(key_name(prefix, &format!("page-{i}"))),
        )
        .await
        else {
            return;
        };
        ours.insert(info.key_id);
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut request = PageRequest {
        limit: Some(2),
        marker: None,
    };
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 100_000, "the listing never ends");
        let page = backend.list_keys(&request).await.must("ListKeys page");
        assert!(
            page.items.len() <= 2,
            "a page of limit 2 has {} items",
            page.items.len()
        );
        for item in page.items {
            *seen.entry(item.key_id).or_default() += 1;
        }
        match page.next_marker {
            Some(marker) => {
                assert_ne!(
                    request.marker.as_deref(),
                    Some(marker.as_str()),
                    "next_marker did not move"
                );
                request.marker = Some(marker);
            }
            None => break,
        }
    }
    assert!(pages >= 4, "7 keys in pages of 2 took only {pages} pages");
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "keys listed more than once: {repeated:?}"
    );
    let missing: Vec<_> = ours.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(missing.is_empty(), "keys never listed: {missing:?}");
    // One big page has them too.
    let all = backend
        .list_keys(&PageRequest {
            limit: Some(1000),
            marker: None,
        })
        .await
        .must("ListKeys");
    if all.next_marker.is_none() {
        let ids: BTreeSet<_> = all.items.iter().map(|k| k.key_id.clone()).collect();
        assert!(ours.is_subset(&ids), "a single page of 1000 misses keys");
    }
}

/// Aliases: create, resolve, list (all and per key), update to another key of the same spec
/// (another spec is refused), delete (the key stays).
pub async fn lifecycle_aliases(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((a_name, a)) =
        named(kc, prefix, "a", KeySpec::EccNistP256, KeyUsage::SignVerify).await
    else {
        return;
    };
    let Some((_, b)) = named(kc, prefix, "b", KeySpec::EccNistP256, KeyUsage::SignVerify).await
    else {
        return;
    };
    let extra = key_name(prefix, "team/extra");
    let extra_alias = format!("alias/{extra}");
    backend
        .create_alias(&extra, &key_ref(&a_name))
        .await
        .must("CreateAlias");
    let resolved = backend
        .describe_key(&key_ref(&extra))
        .await
        .must("describe by the new alias");
    assert_eq!(
        resolved.key_id, a.key_id,
        "the alias points at the wrong key"
    );
    let mut aliases = resolved.aliases.clone();
    aliases.sort();
    let mut expected = vec![format!("alias/{a_name}"), extra_alias.clone()];
    expected.sort();
    assert_eq!(aliases, expected, "describe lists the key's aliases");
    let of_a: BTreeSet<_> = backend
        .list_aliases(Some(&id_ref(&a)))
        .await
        .must("ListAliases(a)")
        .into_iter()
        .map(|x| x.alias)
        .collect();
    assert_eq!(of_a, expected.iter().cloned().collect(), "ListAliases(key)");
    let all = backend.list_aliases(None).await.must("ListAliases");
    let entry = all
        .iter()
        .find(|x| x.alias == extra_alias)
        .unwrap_or_else(|| panic!("ListAliases misses {extra_alias}"));
    assert_eq!(entry.key_id.as_deref(), Some(a.key_id.as_str()));
    // Sign through the alias, verify through the key id.
    let digest = Hash::Sha256.digest(b"alias");
    let sig = kc
        .sign(&extra, &digest, Hash::Sha256)
        .await
        .must("sign via the alias");
    assert!(
        kc.verify(
            &a.key_id,
            Message::Digest(&digest),
            &sig,
            SigningAlgorithm::EcdsaSha256
        )
        .await
        .must("verify"),
        "a signature made through an alias does not verify under the key"
    );

    // Update to key b.
    backend
        .update_alias(&extra_alias, &id_ref(&b))
        .await
        .must("UpdateAlias");
    assert_eq!(
        backend
            .describe_key(&key_ref(&extra))
            .await
            .must("describe")
            .key_id,
        b.key_id,
        "UpdateAlias did not move the alias"
    );
    let a_now = backend.describe_key(&id_ref(&a)).await.must("describe a");
    assert!(
        !a_now.aliases.contains(&extra_alias),
        "the old key still lists the moved alias"
    );
    let b_now = backend.describe_key(&id_ref(&b)).await.must("describe b");
    assert!(
        b_now.aliases.contains(&extra_alias),
        "the new key does not list the alias"
    );

    // Another spec (or usage) is refused and changes nothing.
    if let Some((_, other)) = named(
        kc,
        prefix,
        "other-spec",
        KeySpec::EccNistP384,
        KeyUsage::SignVerify,
    )
    .await
    {
        assert_err!(
            "UpdateAlias to a key of another spec",
            backend.update_alias(&extra_alias, &id_ref(&other)).await,
            Error::InvalidInput { .. }
        );
        assert_eq!(
            backend
                .describe_key(&key_ref(&extra))
                .await
                .must("describe")
                .key_id,
            b.key_id,
            "a refused UpdateAlias moved the alias"
        );
    }
    if let Some((_, other)) = named(
        kc,
        prefix,
        "other-kind",
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await
    {
        assert_err!(
            "UpdateAlias to a symmetric key",
            backend.update_alias(&extra_alias, &id_ref(&other)).await,
            Error::InvalidInput { .. }
        );
    }

    // Delete: the alias stops resolving, the key stays.
    backend.delete_alias(&extra_alias).await.must("DeleteAlias");
    assert_err!(
        "describe through a deleted alias",
        backend.describe_key(&key_ref(&extra)).await,
        Error::NotFound { .. }
    );
    assert_err!(
        "deleting an alias twice",
        backend.delete_alias(&extra).await,
        Error::NotFound { .. }
    );
    let b_after = backend
        .describe_key(&id_ref(&b))
        .await
        .must("the key outlives its alias");
    assert!(!b_after.aliases.contains(&extra_alias));
    assert!(
        !backend
            .list_aliases(None)
            .await
            .must("ListAliases")
            .iter()
            .any(|x| x.alias == extra_alias),
        "ListAliases still shows a deleted alias"
    );
    // Deleting the key's own name alias leaves an unnamed key.
    backend
        .delete_alias(&a_name)
        .await
        .must("DeleteAlias of the name");
    let a_after = backend.describe_key(&id_ref(&a)).await.must("describe a");
    assert!(
        a_after.aliases.is_empty(),
        "aliases left: {:?}",
        a_after.aliases
    );
    assert_eq!(
        a_after.name, None,
        "a key whose name alias was deleted still has the name"
    );
}

/// Tags are added, replaced and removed; removing a missing tag is not an error.
pub async fn lifecycle_tags(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, _)) = named(
        kc,
        prefix,
        "tagged",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    backend
        .tag_key(&key, &tags(&[("a", "1"), ("b", "2")]))
        .await
        .must("TagResource");
    assert_eq!(
        backend.describe_key(&key).await.must("describe").tags,
        tags(&[("a", "1"), ("b", "2")])
    );
    backend
        .tag_key(&key, &tags(&[("a", "3"), ("c", "")]))
        .await
        .must("TagResource again");
    assert_eq!(
        backend.describe_key(&key).await.must("describe").tags,
        tags(&[("a", "3"), ("b", "2"), ("c", "")]),
        "tagging replaces values and keeps other tags"
    );
    backend
        .untag_key(&key, &["b".to_string(), "never-there".to_string()])
        .await
        .must("UntagResource");
    assert_eq!(
        backend.describe_key(&key).await.must("describe").tags,
        tags(&[("a", "3"), ("c", "")])
    );
    backend
        .untag_key(&key, &["a".to_string(), "c".to_string()])
        .await
        .must("UntagResource");
    assert!(
        backend
            .describe_key(&key)
            .await
            .must("describe")
            .tags
            .is_empty()
    );
}

/// Disable and enable: state follows, both are idempotent, usability follows the state.
pub async fn lifecycle_enable_disable(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let Some((name, _)) = named(
        kc,
        prefix,
        "toggled",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    else {
        return;
    };
    let key = key_ref(&name);
    let digest = Hash::Sha256.digest(b"toggle");
    let state = || async { backend.describe_key(&key).await.must("describe").state };
    backend
        .enable_key(&key)
        .await
        .must("enabling an enabled key");
    assert_eq!(state().await, KeyState::Enabled);
    for _ in 0..2 {
        backend.disable_key(&key).await.must("DisableKey");
        assert_eq!(state().await, KeyState::Disabled);
    }
    assert_err!(
        "signing while disabled",
        backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256
            )
            .await,
        Error::InvalidKeyState { .. }
    );
    for _ in 0..2 {
        backend.enable_key(&key).await.must("EnableKey");
        assert_eq!(state().await, KeyState::Enabled);
    }
    backend
        .sign(
            &key,
            Message::Digest(&digest),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .must("signing after enabling");
}

/// Scheduling deletion returns a date 7–30 days ahead and makes the key PendingDeletion;
/// cancelling leaves it Disabled (as KMS does); enabling makes it usable again.
pub async fn lifecycle_scheduled_deletion(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let digest = Hash::Sha256.digest(b"deletion");
    for days_ahead in [7u32, 30] {
        let Some((name, _)) = named(
            kc,
            prefix,
            &format!("doomed-{days_ahead}"),
            KeySpec::EccNistP256,
            KeyUsage::SignVerify,
        )
        .await
        else {
            return;
        };
        let key = key_ref(&name);
        let now = SystemTime::now();
        let schedule = backend
            .schedule_key_deletion(&key, days_ahead)
            .await
            .must("ScheduleKeyDeletion");
        assert_eq!(schedule.state, KeyState::PendingDeletion, "{schedule:?}");
        assert_eq!(schedule.pending_days, days_ahead, "{schedule:?}");
        let when = schedule
            .deletion_date
            .unwrap_or_else(|| panic!("a single-region key has a deletion date: {schedule:?}"));
        assert_near(
            &format!("the deletion date of a {days_ahead}-day window"),
            when,
            now + days(u64::from(days_ahead)),
            Duration::from_secs(300),
            days(1),
        );
        let info = backend.describe_key(&key).await.must("describe");
        assert_eq!(info.state, KeyState::PendingDeletion);
        let described = info
            .deletion_date
            .unwrap_or_else(|| panic!("no deletion date"));
        assert_near(
            "describe's deletion date",
            described,
            when,
            Duration::from_secs(1),
            Duration::from_secs(1),
        );

        backend
            .cancel_key_deletion(&key)
            .await
            .must("CancelKeyDeletion");
        let info = backend.describe_key(&key).await.must("describe");
        assert_eq!(
            info.state,
            KeyState::Disabled,
            "a cancelled deletion leaves the key Disabled"
        );
        assert_eq!(
            info.deletion_date, None,
            "a cancelled deletion keeps its date"
        );
        assert_err!(
            "cancelling twice",
            backend.cancel_key_deletion(&key).await,
            Error::InvalidKeyState { .. }
        );
        assert_err!(
            "signing after cancelling (still disabled)",
            backend
                .sign(
                    &key,
                    Message::Digest(&digest),
                    SigningAlgorithm::EcdsaSha256
                )
                .await,
            Error::InvalidKeyState { .. }
        );
        backend.enable_key(&key).await.must("EnableKey");
        backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
            .must("signing after cancelling and enabling");
    }
    // A disabled key can be scheduled too.
    if let Some((name, _)) = named(
        kc,
        prefix,
        "disabled-doomed",
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
    )
    .await
    {
        let key = key_ref(&name);
        backend.disable_key(&key).await.must("DisableKey");
        backend
            .schedule_key_deletion(&key, 7)
            .await
            .must("scheduling a disabled key");
        assert_eq!(
            backend.describe_key(&key).await.must("describe").state,
            KeyState::PendingDeletion
        );
    }
}

/// A multi-Region key (if the capabilities say so): its id is KMS's `mrk-` and 32 hex digits,
/// it is described as multi-Region, found by id and name, listed, and encrypts and decrypts
/// (the ciphertext naming it, so Decrypt needs no key); a backend without them refuses to
/// create one.
pub async fn lifecycle_multi_region(kc: &Keychain, prefix: &str) {
    let backend = kc.backend();
    let name = key_name(prefix, "mrk");
    let mut request = CreateKeyRequest::new(KeySpec::SymmetricDefault).name(&name);
    request.multi_region = true;
    if !backend.capabilities().multi_region {
        assert_err!(
            "creating a multi-Region key without the capability",
            backend.create_key(&request).await,
            Error::Unsupported { .. }
        );
        return;
    }
    let info = backend
        .create_key(&request)
        .await
        .must("creating a multi-Region key");
    let hex = info.key_id.strip_prefix("mrk-").unwrap_or_default();
    assert!(
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "a multi-Region key id is not mrk- and 32 hex digits: {}",
        info.key_id
    );
    assert!(info.multi_region, "the created key is not multi-Region");
    for key in [key_ref(&name), KeyRef::key_id(&info.key_id).must("key id")] {
        let described = backend.describe_key(&key).await.must("describing it");
        assert_eq!(described.key_id, info.key_id);
        assert!(described.multi_region, "described as single-Region");
    }
    let mut found = false;
    let mut page = PageRequest {
        limit: Some(1000),
        marker: None,
    };
    loop {
        let listed = backend.list_keys(&page).await.must("ListKeys");
        found |= listed.items.iter().any(|k| k.key_id == info.key_id);
        match listed.next_marker {
            Some(m) => page.marker = Some(m),
            None => break,
        }
    }
    assert!(found, "the multi-Region key is not listed");
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let ctx = context(&[("mrk", "yes")]);
    let ct = backend
        .encrypt(&key_ref(&name), b"everywhere", alg, &ctx)
        .await
        .must("Encrypt");
    let back = backend
        .decrypt(None, &ct, alg, &ctx)
        .await
        .must("Decrypt without naming the key");
    assert_eq!(back.expose(), b"everywhere");
    if let Some(named) = backend.ciphertext_key_id(&ct) {
        assert!(
            named == info.key_id || named.ends_with(&format!("key/{}", info.key_id)),
            "the ciphertext names {named}, not its multi-Region key {}",
            info.key_id
        );
    }
}
