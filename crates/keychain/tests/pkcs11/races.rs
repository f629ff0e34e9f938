//! Races for one name: concurrent `create_key` calls with the same name leave one key under
//! that name, and every other call gets `AlreadyExists`.

use keychain::pkcs11::Pkcs11Backend;
use keychain::{Backend, CreateKeyRequest, ErrorKind, KeySpec, PageRequest};
use keychain_testkit::softhsm::{child_uri, run_isolated};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_name_leave_one_key() {
    if run_isolated("pkcs11::races::concurrent_creates_of_one_name_leave_one_key") {
        return;
    }
    // Two backends on the token, as two parts of one program would open it.
    let mut backends = Vec::new();
    for _ in 0..2 {
        backends.push(
            Pkcs11Backend::open_uri(&child_uri())
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    for round in 0..4 {
        let name = format!("dup-{round}");
        let mut tasks = Vec::new();
        for task in 0..12 {
            let backend = backends[task % 2].clone();
            let name = name.clone();
            tasks.push(tokio::spawn(async move {
                backend
                    .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(&name))
                    .await
            }));
        }
        let mut created = 0;
        for t in tasks {
            match t.await.unwrap_or_else(|e| panic!("{e}")) {
                Ok(_) => created += 1,
                Err(e) => assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{name}: {e}"),
            }
        }
        let listed = backends[0]
            .list_keys(&PageRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .items
            .into_iter()
            .filter(|k| k.name.as_deref() == Some(name.as_str()))
            .count();
        assert_eq!(
            (created, listed),
            (1, 1),
            "{name}: 12 concurrent creates made {created} keys, the token lists {listed}"
        );
    }
}

/// The variable that makes [`a_child_process_creates_the_name_it_is_given`] create a key:
/// `NAME:GO_FILE` (it starts once the file exists).
const CREATE_ENV: &str = "KEYCHAIN_TEST_PKCS11_CREATE";

/// A helper of [`concurrent_creates_in_several_processes_leave_one_key`]: in a process it
/// starts with [`CREATE_ENV`] set, creates that key and prints how it went; elsewhere it has
/// nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_process_creates_the_name_it_is_given() {
    let Ok(what) = std::env::var(CREATE_ENV) else {
        return;
    };
    let (name, go) = what
        .split_once(':')
        .unwrap_or_else(|| panic!("{CREATE_ENV}={what}"));
    let backend = Pkcs11Backend::open_uri(&child_uri())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    while !std::path::Path::new(go).exists() {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let outcome = backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(name))
        .await;
    match outcome {
        Ok(_) => println!("OUTCOME created"),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => println!("OUTCOME exists"),
        Err(e) if e.is_retryable() => println!("OUTCOME retry"),
        Err(e) => panic!("{name}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_in_several_processes_leave_one_key() {
    if run_isolated("pkcs11::races::concurrent_creates_in_several_processes_leave_one_key") {
        return;
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let backend = Pkcs11Backend::open_uri(&child_uri())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for round in 0..6 {
        let name = format!("proc-dup-{round}");
        let go = dir.path().join(format!("go-{round}"));
        // The children inherit the token's SOFTHSM2_CONF and backend URI.
        let mut children = Vec::new();
        for _ in 0..4 {
            // One at a time: SoftHSM skips a token whose lock file another process holds
            // while it loads the token.
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            children.push(
                std::process::Command::new(&exe)
                    .args([
                        "pkcs11::races::a_child_process_creates_the_name_it_is_given",
                        "--exact",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(CREATE_ENV, format!("{name}:{}", go.display()))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        }
        // Give each child time to open the token, then start them together.
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        std::fs::write(&go, b"go").unwrap_or_else(|e| panic!("{e}"));
        let mut created = 0;
        for child in children {
            let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("OUTCOME"),
                "{name}: a child failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            created += usize::from(stdout.contains("OUTCOME created"));
        }
        let listed = backend
            .list_keys(&PageRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .items
            .into_iter()
            .filter(|k| k.name.as_deref() == Some(name.as_str()))
            .count();
        assert!(
            listed <= 1 && created == listed,
            "{name}: 4 processes made {created} keys, the token lists {listed}"
        );
    }
}

/// Another part of the process logs the token out again and again while the backend signs:
/// each signature either works or fails with an error the caller may retry; never one that
/// says the key is gone or access is denied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_lost_again_and_again_gives_only_retryable_errors() {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use keychain::{KeyRef, Message, SigningAlgorithm};
    use keychain_testkit::softhsm::{LABEL, MODULE};
    if run_isolated("pkcs11::races::a_login_lost_again_and_again_gives_only_retryable_errors") {
        return;
    }
    let backend = Pkcs11Backend::open_uri(&child_uri())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("k"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let logouts = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let module = Pkcs11::new(MODULE).unwrap_or_else(|e| panic!("{e}"));
            let _ = module.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
            let slot = module
                .get_slots_with_token()
                .unwrap_or_else(|e| panic!("{e}"))
                .into_iter()
                .find(|s| {
                    module
                        .get_token_info(*s)
                        .is_ok_and(|i| i.label().trim_end() == LABEL)
                })
                .unwrap_or_else(|| panic!("no test token"));
            let session = module
                .open_ro_session(slot)
                .unwrap_or_else(|e| panic!("{e}"));
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if session.logout().is_ok() {
                    n += 1;
                }
                std::thread::yield_now();
            }
            // The module stays initialised for the backend: never finalised here.
            std::mem::forget(module);
            n
        })
    };
    let key = KeyRef::parse("k").unwrap_or_else(|e| panic!("{e}"));
    let digest = keychain::Hash::Sha256.digest(b"under fire");
    let (mut ok, mut retryable) = (0, 0);
    for _ in 0..400 {
        match backend
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
        {
            Ok(_) => ok += 1,
            Err(e) if e.is_retryable() => retryable += 1,
            Err(e) => {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                panic!(
                    "a lost login gave a non-retryable error: {e} ({:?})",
                    e.kind()
                );
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let logged_out = logouts
        .join()
        .unwrap_or_else(|_| panic!("the logout thread"));
    assert!(logged_out > 0, "the token was never logged out");
    println!("{ok} signatures, {retryable} retryable errors, {logged_out} logouts");
}
