//! Keys are found on the token once and then used by their handle (see `pkcs11/handles.rs`):
//! what is destroyed or replaced through a backend of the process is seen at once by every
//! backend, what another process does is seen at the next call (a destroyed key) or once
//! the remembered lookup is `LOOKUP_MAX_AGE` old (another change), and a stale handle is
//! never used for another key.

use keychain::pkcs11::Pkcs11Backend;
use keychain::{
    Backend, CreateKeyRequest, ErrorKind, KeyRef, KeySpec, Message, PublicKey, SigningAlgorithm,
};
use keychain_testkit::softhsm::{child_uri, run_isolated};

use super::interop::pkcs11_tool;

const ALG: SigningAlgorithm = SigningAlgorithm::EcdsaSha256;
const MESSAGE: &[u8] = b"signed by whichever key the name leads to";

async fn backend() -> Pkcs11Backend {
    Pkcs11Backend::open_uri(&child_uri())
        .await
        .unwrap_or_else(|e| panic!("opening the SoftHSM token: {e}"))
}

fn named(name: &str) -> KeyRef {
    KeyRef::alias(name).unwrap_or_else(|e| panic!("{e}"))
}

async fn sign(backend: &Pkcs11Backend, name: &str) -> keychain::Result<Vec<u8>> {
    backend.sign(&named(name), Message::Raw(MESSAGE), ALG).await
}

async fn public(backend: &Pkcs11Backend, name: &str) -> PublicKey {
    backend
        .public_key(&named(name))
        .await
        .unwrap_or_else(|e| panic!("public key of {name}: {e}"))
}

fn verifies(public: &PublicKey, signature: &[u8]) -> bool {
    public
        .verify(Message::Raw(MESSAGE), signature, ALG)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_destroyed_or_remade_through_one_backend_is_seen_at_once_by_every_backend() {
    if run_isolated(
        "pkcs11::handles::a_key_destroyed_or_remade_through_one_backend_is_seen_at_once_by_every_backend",
    ) {
        return;
    }
    // Two backends on the token, as two parts of one program would open it.
    let (a, b) = (backend().await, backend().await);
    let request = CreateKeyRequest::new(KeySpec::EccNistP256).name("app");
    let first = a
        .create_key(&request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let old = public(&a, "app").await;
    // Both find the key once and keep its handle.
    for backend in [&a, &b] {
        let signature = sign(backend, "app").await.unwrap_or_else(|e| panic!("{e}"));
        assert!(verifies(&old, &signature));
        backend
            .describe_key(&named("app"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    b.destroy_key(&named("app"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for backend in [&a, &b] {
        let described = backend.describe_key(&named("app")).await;
        assert_eq!(
            described.map_err(|e| e.kind()).err(),
            Some(ErrorKind::NotFound),
            "describe after the key was destroyed through a backend of the process"
        );
        let signed = sign(backend, "app").await;
        assert_eq!(
            signed.map_err(|e| e.kind()).err(),
            Some(ErrorKind::NotFound)
        );
    }

    // A new key under the name: every backend signs with it, never with the old one.
    let second = b
        .create_key(&request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(first.key_id, second.key_id);
    let new = public(&b, "app").await;
    assert_ne!(new.to_pem(), old.to_pem());
    for backend in [&a, &b] {
        let info = backend
            .describe_key(&named("app"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.key_id, second.key_id);
        let signature = sign(backend, "app").await.unwrap_or_else(|e| panic!("{e}"));
        assert!(verifies(&new, &signature), "signed with the new key");
        assert_eq!(public(backend, "app").await.to_pem(), new.to_pem());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_another_process_destroys_or_remakes_is_seen_at_the_next_call() {
    if run_isolated(
        "pkcs11::handles::a_key_another_process_destroys_or_remakes_is_seen_at_the_next_call",
    ) {
        return;
    }
    let backend = backend().await;
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("shared"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let old = public(&backend, "shared").await;
    let signature = sign(&backend, "shared")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(verifies(&old, &signature));

    // pkcs11-tool, another process, destroys both objects of the key.
    for kind in ["privkey", "pubkey"] {
        pkcs11_tool(&["--delete-object", "--type", kind, "--label", "shared"]);
    }
    let signed = sign(&backend, "shared").await;
    assert_eq!(
        signed.map_err(|e| e.kind()).err(),
        Some(ErrorKind::NotFound),
        "a key destroyed by another process must not sign"
    );

    // And makes a new key under the name: the next sign uses it, not a stale handle.
    pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "shared",
        "--id",
        "5151",
    ]);
    let signature = sign(&backend, "shared")
        .await
        .unwrap_or_else(|e| panic!("signing with the key pkcs11-tool made: {e}"));
    let new = public(&backend, "shared").await;
    assert_ne!(new.to_pem(), old.to_pem());
    assert!(verifies(&new, &signature), "signed with the new key");
    assert!(!verifies(&old, &signature));
    let info = backend
        .describe_key(&named("shared"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info.key_id, "5151");

    // Remaking the key between two calls, with no call in between that fails, is seen too.
    for kind in ["privkey", "pubkey"] {
        pkcs11_tool(&["--delete-object", "--type", kind, "--label", "shared"]);
    }
    pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "shared",
        "--id",
        "5252",
    ]);
    let signature = sign(&backend, "shared")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let newest = public(&backend, "shared").await;
    assert!(verifies(&newest, &signature), "signed with the newest key");
    assert!(!verifies(&new, &signature));

    // The public key, asked first after the key is destroyed, is not found; asked first
    // after it is remade, it is the new key's (it is read from the public object paired
    // with the key, which a stale lookup would look for under the old id).
    for kind in ["privkey", "pubkey"] {
        pkcs11_tool(&["--delete-object", "--type", kind, "--label", "shared"]);
    }
    let gone = backend.public_key(&named("shared")).await;
    assert_eq!(gone.map_err(|e| e.kind()).err(), Some(ErrorKind::NotFound));
    sign(&backend, "shared")
        .await
        .expect_err("signing with a destroyed key");
    pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "shared",
        "--id",
        "5353",
    ]);
    let remade = public(&backend, "shared").await;
    assert_ne!(remade.to_pem(), newest.to_pem());
    let signature = sign(&backend, "shared")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(verifies(&remade, &signature));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_key_another_process_gives_the_name_is_seen_within_the_lookup_age() {
    if run_isolated(
        "pkcs11::handles::a_second_key_another_process_gives_the_name_is_seen_within_the_lookup_age",
    ) {
        return;
    }
    let backend = backend().await;
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("twice"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sign(&backend, "twice")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // pkcs11-tool does not check names: now two keys have this label. The remembered
    // lookup is not destroyed, so it may be used until it is LOOKUP_MAX_AGE old; after
    // that the name must be refused as ambiguous.
    pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "twice",
        "--id",
        "7171",
    ]);
    tokio::time::sleep(Pkcs11Backend::LOOKUP_MAX_AGE + std::time::Duration::from_millis(100)).await;
    let signed = sign(&backend, "twice").await;
    assert_eq!(
        signed.map_err(|e| e.kind()).err(),
        Some(ErrorKind::InvalidInput),
        "two keys named twice"
    );
}
