//! Item 5: the software keystore with 10, 1 000 and 10 000 keys. Per operation: create,
//! open, list (per key listed), describe, sign on a freshly opened keystore (the key file is
//! decrypted on first use) and sign again (key material cached). Each store is measured in
//! every round, the order rotating, and the report divides each figure by the smallest
//! store's from the same round: ~1.0 is flat.
//!
//! Keys are P-256 (SIGN_VERIFY) with names (so each has an alias file too), in keystores made
//! with 2048 PBKDF2 iterations (OpenSSL's default, the keystore's minimum) instead of the
//! default 600 000, so that building 10 000 keys takes seconds.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{
    Backend, CreateKeyRequest, Error, Hash, KeyRef, KeySpec, Message, PageRequest, SigningAlgorithm,
};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::{Opts, Res, note};

const ITERATIONS: u32 = 2048;
pub(crate) const PASSWORD: &str = "bench password";
/// Keys created (and then purged) per store per round.
const CREATES: usize = 20;
/// Opens per store per round.
const OPENS: usize = 5;
/// Describes per store per round.
const DESCRIBES: usize = 200;
/// Distinct keys signed with after a fresh open.
const COLD_SIGNS: usize = 50;
/// How long warm signing and listing run per store per round (at least one listing).
const WINDOW: Duration = Duration::from_millis(500);

/// xorshift64*: reproducible picks of keys, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

pub(crate) fn config(path: &Path) -> SoftwareConfig {
    SoftwareConfig::new(path)
        .password(PASSWORD)
        .kdf_iterations(ITERATIONS)
}

pub(crate) fn key_name(i: usize) -> String {
    format!("k{i:06}")
}

/// Creates `count` P-256 keys named from `first` on, eight at a time (key generation runs
/// outside the keystore lock).
pub(crate) fn fill(rt: &Runtime, backend: &SoftwareBackend, first: usize, count: usize) -> Res<()> {
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in first..first + count {
            if set.len() >= 8
                && let Some(r) = set.join_next().await
            {
                r??;
            }
            let b = backend.clone();
            set.spawn(async move {
                b.create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(key_name(i)))
                    .await
                    .map(|_| ())
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        Ok::<(), crate::BoxError>(())
    })
}

struct Store {
    size: usize,
    path: PathBuf,
    backend: SoftwareBackend,
    /// A second handle whose clock runs eight days ahead: reading a key scheduled for deletion
    /// through it purges the key, so the store goes back to `size` keys after each round.
    reaper: SoftwareBackend,
}

fn per_op(start: Instant, ops: usize) -> f64 {
    start.elapsed().as_secs_f64() / ops as f64
}

fn measure(rt: &Runtime, store: &Store, round: usize, rng: &mut Rng) -> Res<Value> {
    let n = store.size;
    let digest = Hash::Sha256.digest(b"keystore scale");
    let alg = SigningAlgorithm::EcdsaSha256;

    let start = Instant::now();
    for _ in 0..OPENS {
        black_box(rt.block_on(SoftwareBackend::open(config(&store.path)))?);
    }
    let open = per_op(start, OPENS);

    let start = Instant::now();
    let mut listed = 0usize;
    let mut listings = 0usize;
    while listings == 0 || start.elapsed() < WINDOW {
        let mut page = PageRequest {
            limit: Some(1000),
            ..PageRequest::default()
        };
        loop {
            let p = rt.block_on(store.backend.list_keys(&page))?;
            listed += p.items.len();
            match p.next_marker {
                Some(m) => page.marker = Some(m),
                None => break,
            }
        }
        listings += 1;
    }
    if listed != listings * n {
        return Err(format!("listing {n} keys gave {} per listing", listed / listings).into());
    }
    let list_per_key = per_op(start, listed);

    let picks: Vec<KeyRef> = (0..DESCRIBES.max(COLD_SIGNS))
        .map(|_| KeyRef::alias(&key_name(rng.below(n))))
        .collect::<Result<_, Error>>()?;
    let start = Instant::now();
    for key in picks.iter().take(DESCRIBES) {
        black_box(rt.block_on(store.backend.describe_key(key))?);
    }
    let describe = per_op(start, DESCRIBES);

    // A fresh handle has no key material cached: the first signature with each key reads,
    // checks and decrypts its key file.
    let fresh = rt.block_on(SoftwareBackend::open(config(&store.path)))?;
    let cold: Vec<KeyRef> = (0..COLD_SIGNS.min(n))
        .map(|i| KeyRef::alias(&key_name((i * n) / COLD_SIGNS.min(n))))
        .collect::<Result<_, Error>>()?;
    let start = Instant::now();
    for key in &cold {
        black_box(rt.block_on(fresh.sign(key, Message::Digest(&digest), alg))?);
    }
    let sign_cold = per_op(start, cold.len());

    let start = Instant::now();
    let mut signs = 0usize;
    while start.elapsed() < WINDOW {
        let key = &cold[signs % cold.len()];
        black_box(rt.block_on(fresh.sign(key, Message::Digest(&digest), alg))?);
        signs += 1;
    }
    let sign_warm = per_op(start, signs);

    let names: Vec<String> = (0..CREATES)
        .map(|i| format!("scratch-{round}-{i}"))
        .collect();
    let start = Instant::now();
    let mut created = Vec::new();
    for name in &names {
        let info = rt.block_on(
            store
                .backend
                .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(name.as_str())),
        )?;
        created.push(info.key_id);
    }
    let create = per_op(start, CREATES);
    // Back to `size` keys: schedule the deletion, then let the clock of the reaper pass it.
    for id in &created {
        let key = KeyRef::key_id(id)?;
        rt.block_on(store.backend.schedule_key_deletion(&key, 7))?;
        match rt.block_on(store.reaper.describe_key(&key)) {
            Err(Error::NotFound { .. }) => {}
            other => return Err(format!("scratch key {id} was not purged: {other:?}").into()),
        }
    }

    Ok(json!({
        "create": create,
        "open": open,
        "list_per_key": list_per_key,
        "describe": describe,
        "sign_cold": sign_cold,
        "sign_warm": sign_warm,
    }))
}

/// Runs item 5.
pub fn run(opts: &Opts) -> Res<Value> {
    let rounds: usize = opts.get("rounds", 3)?;
    let sizes: Vec<usize> = opts
        .str("sizes")
        .unwrap_or("10,1000,10000")
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::Builder::new()
        .prefix("keychain-bench-keystore-")
        .tempdir_in(opts.str("tmp").unwrap_or("/tmp"))?;
    let ahead: keychain::software::Clock =
        Arc::new(|| SystemTime::now() + Duration::from_secs(8 * 86_400));

    let mut stores = Vec::new();
    let mut build = HashMap::new();
    for &size in &sizes {
        let path = dir.path().join(format!("ks-{size}"));
        let backend = rt.block_on(SoftwareBackend::open(config(&path)))?;
        note!("keystore: creating {size} keys");
        let start = Instant::now();
        fill(&rt, &backend, 0, size)?;
        build.insert(size.to_string(), per_op(start, size));
        let reaper = rt.block_on(SoftwareBackend::open(config(&path).clock(ahead.clone())))?;
        stores.push(Store {
            size,
            path,
            backend,
            reaper,
        });
    }

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut results = Vec::new();
    for round in 0..rounds {
        let mut row = serde_json::Map::new();
        // Rotate the order so no store is always measured first.
        for k in 0..stores.len() {
            let store = &stores[(round + k) % stores.len()];
            note!(
                "keystore: round {}/{rounds}, {} keys",
                round + 1,
                store.size
            );
            row.insert(
                store.size.to_string(),
                measure(&rt, store, round, &mut rng)?,
            );
        }
        results.push(Value::Object(row));
    }
    Ok(json!({
        "item": "keystore",
        "rounds": rounds,
        "sizes": sizes,
        "kdf_iterations": ITERATIONS,
        "key_spec": "ECC_NIST_P256",
        "build_seconds_per_key": build,
        "results": results,
    }))
}
