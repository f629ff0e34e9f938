//! Keystore files: whatever bytes replace a key's metadata or key file, opening and using the
//! key fails cleanly (Corrupted, NotFound…) or works — never a panic.
#![no_main]
use std::sync::OnceLock;

use keychain::{Backend, CreateKeyRequest, KeyRef, KeySpec, Message, SigningAlgorithm};
use keychain::software::{SoftwareBackend, SoftwareConfig};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    key_dir: std::path::PathBuf,
    meta: Vec<u8>,
    pem: Vec<u8>,
}

fn config(dir: &std::path::Path) -> SoftwareConfig {
    SoftwareConfig::new(dir.join("ks")).password("fuzz").kdf_iterations(2048)
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let id = runtime.block_on(async {
            let b = SoftwareBackend::open(config(dir.path())).await.expect("keystore");
            b.create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("k"))
                .await
                .expect("key")
                .key_id
        });
        let key_dir = dir.path().join("ks").join("keys").join(id);
        let meta = std::fs::read(key_dir.join("meta.json")).expect("meta");
        let pem = std::fs::read(key_dir.join("v1.pem")).expect("pem");
        Fixture { runtime, dir, key_dir, meta, pem }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let (file, original) = if which % 2 == 0 {
        ("meta.json", &f.meta)
    } else {
        ("v1.pem", &f.pem)
    };
    std::fs::write(f.key_dir.join(file), body).expect("write");
    f.runtime.block_on(async {
        // A fresh open each time: no cached material hides the damaged file.
        let b = SoftwareBackend::open(config(f.dir.path())).await.expect("keystore opens");
        let key = KeyRef::parse("k").expect("ref");
        let _ = b.describe_key(&key).await;
        let _ = b.sign(&key, Message::Raw(b"x"), SigningAlgorithm::EcdsaSha256).await;
        let _ = b.public_key(&key).await;
    });
    std::fs::write(f.key_dir.join(file), original).expect("restore");
});
