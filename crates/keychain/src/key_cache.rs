//! [`KeyCache`], the one cache of key metadata and public keys between a caller and a backend.
//!
//! A backend owns it ([`crate::Backend::key_cache`]) because the backend is where a key's
//! state changes: disabling, deleting, rotating a key or re-pointing an alias through the
//! backend drops what the cache holds about it, whoever reads the cache next. The
//! [`crate::Keychain`] handle reads and fills the same cache, so metadata read for choosing an
//! algorithm is the metadata the backend checks its call against (one DescribeKey for both on
//! AWS KMS). A backend without one (an implementation outside this crate) gets a cache of the
//! handle's own.
//!
//! The cache stores; each reader says how old an entry it accepts (the handle's TTL, the
//! backend's configured TTL), so a handle made with a zero TTL asks the backend every time
//! while others sharing the cache still use it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::key::KeyInfo;
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;

#[derive(Default)]
struct Entry {
    info: Option<(KeyInfo, Instant)>,
    public_key: Option<(PublicKey, Instant)>,
}

/// Key metadata and public keys by the reference they were looked up with, each with the
/// time it was read. Shared (`Arc`) between a backend and every [`crate::Keychain`] on it.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<KeyRef, Entry>>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("KeyCache").field("entries", &len).finish()
    }
}

impl KeyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The metadata `key` resolved to, if read less than `max_age` ago (a zero `max_age`
    /// never answers).
    pub fn info(&self, key: &KeyRef, max_age: Duration) -> Option<KeyInfo> {
        let entries = self.entries.lock().ok()?;
        let (info, at) = entries.get(key)?.info.as_ref()?;
        (at.elapsed() < max_age).then(|| info.clone())
    }

    /// The public key of `key`, if read less than `max_age` ago.
    pub fn public_key(&self, key: &KeyRef, max_age: Duration) -> Option<PublicKey> {
        let entries = self.entries.lock().ok()?;
        let (public_key, at) = entries.get(key)?.public_key.as_ref()?;
        (at.elapsed() < max_age).then(|| public_key.clone())
    }

    /// Records the metadata `key` resolved to just now.
    pub fn remember_info(&self, key: &KeyRef, info: &KeyInfo) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.entry(key.clone()).or_default().info = Some((info.clone(), Instant::now()));
        }
    }

    /// Records the public key of `key` read just now.
    pub fn remember_public_key(&self, key: &KeyRef, public_key: &PublicKey) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.entry(key.clone()).or_default().public_key =
                Some((public_key.clone(), Instant::now()));
        }
    }

    /// Drops everything about the key `key_id`, under every reference that resolved to it
    /// (its id, its ARN, its aliases): its state or material changed. An alias whose entry
    /// holds only a public key cannot say which key it resolved to, so it goes too.
    pub fn forget_key(&self, key_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|reference, entry| match reference.key_id_str() {
                Some(id) => id != key_id,
                None => entry.info.as_ref().is_some_and(|(i, _)| i.key_id != key_id),
            });
        }
    }

    /// Drops everything (an alias changed, so any reference may now resolve elsewhere).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{KeySpec, KeyUsage};

    fn info(id: &str) -> KeyInfo {
        KeyInfo::new(id, KeySpec::EccNistP256, KeyUsage::SignVerify)
    }

    #[test]
    fn readers_choose_the_age_they_accept_and_forgetting_a_key_drops_its_aliases() {
        let cache = KeyCache::new();
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let by_alias = KeyRef::alias("app").unwrap_or_else(|e| panic!("{e}"));
        let other = KeyRef::alias("other").unwrap_or_else(|e| panic!("{e}"));
        cache.remember_info(&by_alias, &info(id));
        cache.remember_info(&other, &info("ffffffff-12ab-34cd-56ef-1234567890ab"));
        assert!(cache.info(&by_alias, Duration::from_secs(60)).is_some());
        assert!(cache.info(&by_alias, Duration::ZERO).is_none());
        cache.forget_key(id);
        assert!(cache.info(&by_alias, Duration::from_secs(60)).is_none());
        assert!(cache.info(&other, Duration::from_secs(60)).is_some());
        cache.clear();
        assert!(cache.info(&other, Duration::from_secs(60)).is_none());
    }

    #[test]
    fn forgetting_a_key_drops_an_alias_that_holds_only_its_public_key() {
        let cache = KeyCache::new();
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let other_id = "ffffffff-12ab-34cd-56ef-1234567890ab";
        let by_alias = KeyRef::alias("app").unwrap_or_else(|e| panic!("{e}"));
        let by_other_id = KeyRef::key_id(other_id).unwrap_or_else(|e| panic!("{e}"));
        // The P-256 generator as an SubjectPublicKeyInfo: any valid point does.
        let hex = "3059301306072a8648ce3d020106082a8648ce3d030107034200046b17d1f2e12c4247f8bce6e563a4\
                   40f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315e\
                   cecbb6406837bf51f5";
        let der: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let pk = PublicKey::from_der(&der).unwrap_or_else(|e| panic!("{e}"));
        cache.remember_public_key(&by_alias, &pk);
        cache.remember_public_key(&by_other_id, &pk);
        cache.forget_key(id);
        assert!(
            cache
                .public_key(&by_alias, Duration::from_secs(60))
                .is_none()
        );
        assert!(
            cache
                .public_key(&by_other_id, Duration::from_secs(60))
                .is_some()
        );
    }
}
