//! Bad input, each one clear error: a wrong PIN, a missing or wrong module, a token that is
//! not there, a key that is not sensitive, bad names, oversized input. And the login and the
//! sessions survive what happens to them underneath (a logout, the module finalized).

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::UserType;
use keychain::pkcs11::Pkcs11Backend;
use keychain::{
    CreateKeyRequest, EncryptionAlgorithm, EncryptionContext, Error, ErrorKind, KeyRef, KeySpec,
    MacAlgorithm, Message, SigningAlgorithm,
};
use keychain_testkit::softhsm::{LABEL, MODULE, PIN, child_uri, run_isolated, uri_for};

use super::interop::{open, pkcs11_tool};

async fn refused(uri: &str) -> Error {
    match Pkcs11Backend::open_uri(uri).await {
        Ok(b) => panic!("{uri}: opened {b:?}"),
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "{uri}: not one line: {line}");
            e
        }
    }
}

/// libc: a shared library that is not a PKCS#11 module.
fn libc_path() -> String {
    for dir in ["/lib", "/usr/lib", "/lib64", "/usr/lib64"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let candidate = entry.path().join("libc.so.6");
            if candidate.exists() {
                return candidate.to_string_lossy().into_owned();
            }
        }
        let direct = std::path::Path::new(dir).join("libc.so.6");
        if direct.exists() {
            return direct.to_string_lossy().into_owned();
        }
    }
    panic!("no libc.so.6 found to play a module that is not PKCS#11")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_refuses_each_bad_setting_with_one_clear_error() {
    if run_isolated("pkcs11::bad_input::opening_refuses_each_bad_setting_with_one_clear_error") {
        return;
    }
    let wrong_pin = format!("pkcs11:token={LABEL}?module-path={MODULE}&pin-value=0000-wrong");
    let e = refused(&wrong_pin).await;
    assert_eq!(e.kind(), ErrorKind::WrongPassword, "{e}");
    assert!(
        !e.to_string().contains("0000-wrong"),
        "the PIN is repeated: {e}"
    );

    let e = refused(&format!("pkcs11:token={LABEL}?pin-value={PIN}")).await;
    assert!(
        matches!(e, Error::InvalidInput { .. }) && e.to_string().contains("module-path"),
        "{e}"
    );

    let libc = libc_path();
    let e = refused(&format!(
        "pkcs11:token={LABEL}?module-path={libc}&pin-value={PIN}"
    ))
    .await;
    assert!(e.to_string().contains("is not a PKCS#11 module"), "{e}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    let e = refused(&format!(
        "pkcs11:token={LABEL}?module-path=/nonexistent/p11.so&pin-value={PIN}"
    ))
    .await;
    assert!(e.to_string().contains("cannot be read"), "{e}");

    let e = refused(&uri_for("no-such-token")).await;
    assert!(
        e.to_string()
            .contains("no initialised PKCS#11 token with label \"no-such-token\""),
        "{e}"
    );
    assert!(
        e.to_string().contains(LABEL),
        "the message lists the tokens there are: {e}"
    );

    let e = refused(&format!(
        "pkcs11:slot-id=987654?module-path={MODULE}&pin-value={PIN}"
    ))
    .await;
    assert!(e.to_string().contains("slot-id 987654"), "{e}");

    let e = refused(&format!(
        "pkcs11:token={LABEL}?module-path={MODULE}&pin-value=%ZZ"
    ))
    .await;
    assert!(e.to_string().contains("hex digits"), "{e}");

    // The PIN from a file, and from the environment of a child.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap_or_else(|e| panic!("{e}"));
    Pkcs11Backend::open_uri(&format!(
        "pkcs11:token={LABEL}?module-path={MODULE}&pin-source=file:{}",
        pin_file.display()
    ))
    .await
    .unwrap_or_else(|e| panic!("the PIN from a file: {e}"));
    std::fs::write(&pin_file, "not-the-pin\n").unwrap_or_else(|e| panic!("{e}"));
    let e = refused(&format!(
        "pkcs11:token={LABEL}?module-path={MODULE}&pin-source=file:{}",
        pin_file.display()
    ))
    .await;
    assert_eq!(e.kind(), ErrorKind::WrongPassword, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_never_rides_on_another_backends_login() {
    if run_isolated("pkcs11::bad_input::a_wrong_pin_never_rides_on_another_backends_login") {
        return;
    }
    let good = open().await;
    good.backend()
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("k"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The token is logged in for the whole process; the wrong PIN is still checked.
    let wrong = format!("pkcs11:token={LABEL}?module-path={MODULE}&pin-value=9999");
    assert_eq!(refused(&wrong).await.kind(), ErrorKind::WrongPassword);
    // And the first backend logs in again with its own PIN.
    let digest = keychain::Hash::Sha256.digest(b"still here");
    good.sign("k", &digest, keychain::Hash::Sha256)
        .await
        .unwrap_or_else(|e| panic!("signing after another backend's failed login: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_login_and_lost_sessions_are_reopened() {
    if run_isolated("pkcs11::bad_input::a_lost_login_and_lost_sessions_are_reopened") {
        return;
    }
    let kc = open().await;
    kc.backend()
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("k"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let key = KeyRef::parse("k").unwrap_or_else(|e| panic!("{e}"));
    let digest = keychain::Hash::Sha256.digest(b"again");
    let sign = || async {
        kc.backend()
            .sign(
                &key,
                Message::Digest(&digest),
                SigningAlgorithm::EcdsaSha256,
            )
            .await
    };
    sign().await.unwrap_or_else(|e| panic!("{e}"));

    // Someone else in the process logs the token out: every session loses the login.
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
    session.logout().unwrap_or_else(|e| panic!("logout: {e}"));
    drop(session);
    sign()
        .await
        .unwrap_or_else(|e| panic!("signing after a logout: {e}"));

    // The module is finalized and initialized again under the backend: every session handle
    // it held is gone (CKR_SESSION_HANDLE_INVALID / CKR_CRYPTOKI_NOT_INITIALIZED).
    module
        .finalize()
        .unwrap_or_else(|e| panic!("finalize: {e}"));
    let module = Pkcs11::new(MODULE).unwrap_or_else(|e| panic!("{e}"));
    module
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap_or_else(|e| panic!("initialize: {e}"));
    sign()
        .await
        .unwrap_or_else(|e| panic!("signing after the sessions were lost: {e}"));
    let _ = UserType::User;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_inputs_are_checked() {
    if run_isolated("pkcs11::bad_input::keys_and_inputs_are_checked") {
        return;
    }
    let kc = open().await;
    let backend = kc.backend();
    // A key the token lets anyone read is refused for use (pkcs11-tool makes AES keys
    // without CKA_SENSITIVE).
    pkcs11_tool(&[
        "--keygen",
        "--key-type",
        "AES:32",
        "--label",
        "readable",
        "--id",
        "0c",
    ]);
    let readable = KeyRef::parse("readable").unwrap_or_else(|e| panic!("{e}"));
    let e = backend
        .encrypt(
            &readable,
            b"x",
            EncryptionAlgorithm::SymmetricDefault,
            &EncryptionContext::new(),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a non-sensitive key encrypted"));
    assert_eq!(e.kind(), ErrorKind::InvalidKeyState, "{e}");
    assert!(e.to_string().contains("not sensitive"), "{e}");

    // Names: empty, control characters, too long, taken.
    for bad in [
        "",
        "a\u{7}b",
        "line\nbreak",
        "tab\tname",
        &"n".repeat(300),
        "sp ace",
    ] {
        let e = backend
            .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(bad))
            .await
            .err()
            .unwrap_or_else(|| panic!("created a key named {bad:?}"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
    }
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::Hmac256).name("mac"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let e = backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("mac"))
        .await
        .err()
        .unwrap_or_else(|| panic!("a taken name was reused"));
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
    for bad in [
        "pkcs11:object=",
        "pkcs11:id=%G1",
        "pkcs11:object=a;id=%01",
        "pkcs11:label=x",
    ] {
        assert!(KeyRef::parse(bad).is_err(), "{bad} parsed");
    }

    // Huge inputs: a 16 MiB message is hashed and signed; oversized direct encryption and
    // MAC input are refused before the token sees them.
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("signer"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let big = vec![0x5au8; 16 << 20];
    let signer = KeyRef::parse("signer").unwrap_or_else(|e| panic!("{e}"));
    let signature = backend
        .sign(&signer, Message::Raw(&big), SigningAlgorithm::EcdsaSha256)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let public = backend
        .public_key(&signer)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(keychain_testkit::openssl_verify(
        &public.to_pem(),
        SigningAlgorithm::EcdsaSha256,
        &big,
        &signature
    ));
    let mac = KeyRef::parse("mac").unwrap_or_else(|e| panic!("{e}"));
    let e = backend
        .generate_mac(&mac, &big[..4097], MacAlgorithm::HmacSha256)
        .await
        .err()
        .unwrap_or_else(|| panic!("a 4097-byte MAC input"));
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("aes"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let aes = KeyRef::parse("pkcs11:object=aes").unwrap_or_else(|e| panic!("{e}"));
    let e = backend
        .encrypt(
            &aes,
            &big[..4097],
            EncryptionAlgorithm::SymmetricDefault,
            &EncryptionContext::new(),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("4097 bytes encrypted directly"));
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    // A signature over a digest of the wrong length, and a key used against its usage.
    let e = backend
        .sign(
            &signer,
            Message::Digest(&[0; 31]),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a 31-byte digest was signed"));
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = backend
        .encrypt(
            &signer,
            b"x",
            EncryptionAlgorithm::SymmetricDefault,
            &EncryptionContext::new(),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a signing key encrypted"));
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage, "{e}");
    // Destroyed keys are gone, for us and for pkcs11-tool.
    Pkcs11Backend::open_uri(&child_uri())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .destroy_key(&signer)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let e = backend
        .describe_key(&signer)
        .await
        .err()
        .unwrap_or_else(|| panic!("still there"));
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(!pkcs11_tool(&["--list-objects"]).contains("label:      signer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_tasks_sign_at_once_through_one_backend() {
    if run_isolated("pkcs11::bad_input::sixteen_tasks_sign_at_once_through_one_backend") {
        return;
    }
    let kc = open().await;
    kc.backend()
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("shared"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let key = KeyRef::parse("shared").unwrap_or_else(|e| panic!("{e}"));
    let public = kc
        .backend()
        .public_key(&key)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tasks = Vec::new();
    for task in 0..16u8 {
        let backend = kc.backend().clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..8u8 {
                let digest = keychain::Hash::Sha256.digest(&[task, i]);
                let signature = backend
                    .sign(
                        &key,
                        Message::Digest(&digest),
                        SigningAlgorithm::EcdsaSha256,
                    )
                    .await
                    .unwrap_or_else(|e| panic!("task {task}, signature {i}: {e}"));
                out.push((digest, signature));
            }
            out
        }));
    }
    let mut count = 0;
    for task in tasks {
        for (digest, signature) in task.await.unwrap_or_else(|e| panic!("{e}")) {
            assert!(
                public
                    .verify(
                        Message::Digest(&digest),
                        &signature,
                        SigningAlgorithm::EcdsaSha256
                    )
                    .unwrap_or_else(|e| panic!("{e}")),
                "a concurrent signature does not verify"
            );
            count += 1;
        }
    }
    assert_eq!(count, 128);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aes_key_without_an_id_is_refused_for_encryption_up_front() {
    if run_isolated(
        "pkcs11::bad_input::an_aes_key_without_an_id_is_refused_for_encryption_up_front",
    ) {
        return;
    }
    // pkcs11-tool makes a secret key without a CKA_ID unless given one.
    pkcs11_tool(&[
        "--keygen",
        "--key-type",
        "AES:32",
        "--label",
        "no-id",
        "--sensitive",
    ]);
    let kc = open().await;
    let backend = kc.backend();
    let key = KeyRef::parse("no-id").unwrap_or_else(|e| panic!("{e}"));
    let info = backend
        .describe_key(&key)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info.key_id, "", "the test needs a key with an empty CKA_ID");
    let e = backend
        .encrypt(
            &key,
            b"never decryptable",
            EncryptionAlgorithm::SymmetricDefault,
            &EncryptionContext::new(),
        )
        .await
        .map(|c| format!("{} bytes of ciphertext", c.len()))
        .expect_err("a key without an id encrypted");
    assert!(
        e.to_string().contains("give the key an id") && !e.to_string().contains('\n'),
        "{e}"
    );
    let e = backend
        .generate_data_key(
            &key,
            keychain::DataKeySpec::Aes256,
            &EncryptionContext::new(),
        )
        .await
        .map(|d| d.key_id)
        .expect_err("a key without an id made a data key");
    assert!(e.to_string().contains("give the key an id"), "{e}");
}

/// Reads a PIN file in a thread; `None` when it has not returned within five seconds.
fn read_pin_within_a_while(path: &std::path::Path) -> Option<Result<(), Error>> {
    let source = keychain::pkcs11::PinSource::File(path.to_path_buf());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(source.read().map(|_| ()));
    });
    rx.recv_timeout(std::time::Duration::from_secs(5)).ok()
}

#[test]
fn a_pin_file_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // A FIFO no one writes to: opening it would wait for a writer for ever.
    let fifo = dir.path().join("pin-fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo (coreutils) cannot run: {e}"));
    assert!(made.success(), "mkfifo failed");
    // /dev/zero: a file without end (read whole, it would eat the memory).
    for path in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let e = read_pin_within_a_while(path)
            .unwrap_or_else(|| panic!("reading the PIN file {} hangs", path.display()))
            .expect_err("a PIN was read");
        assert!(
            e.to_string().contains("not a regular file") && !e.to_string().contains('\n'),
            "{}: {e}",
            path.display()
        );
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    // A regular file over the bound is refused without reading it whole.
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'7'; 1 << 20]).unwrap_or_else(|e| panic!("{e}"));
    let e = read_pin_within_a_while(&big)
        .unwrap_or_else(|| panic!("reading a large PIN file hangs"))
        .expect_err("a PIN was read");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_uri_naming_another_token_is_refused_not_used_on_this_one() {
    if run_isolated(
        "pkcs11::bad_input::a_key_uri_naming_another_token_is_refused_not_used_on_this_one",
    ) {
        return;
    }
    let kc = open().await;
    kc.backend()
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("k1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (uri, says) in [
        ("pkcs11:token=OTHER;object=k1", "chosen by the backend URI"),
        ("pkcs11:serial=0123;object=k1", "chosen by the backend URI"),
        ("pkcs11:slot-id=7;object=k1", "chosen by the backend URI"),
        ("pkcs11:object=k1?module-path=/x.so", "no query"),
        ("pkcs11:object=k1;type=private;type=public", "given twice"),
    ] {
        // Refused as a reference, so no backend ever uses it on its own token.
        let e = KeyRef::parse(uri)
            .map(|k| k.to_string())
            .expect_err(&format!("{uri} was taken"));
        assert!(matches!(e, Error::InvalidInput { .. }), "{uri}: {e}");
        assert!(
            e.to_string().contains(says) && !e.to_string().contains('\n'),
            "{uri}: {e}"
        );
    }
    // The plain key URI still names k1 on the backend's token.
    let key = KeyRef::parse("pkcs11:object=k1;type=private").unwrap_or_else(|e| panic!("{e}"));
    kc.backend()
        .describe_key(&key)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tokens_with_one_label_are_refused_naming_both() {
    if run_isolated("pkcs11::bad_input::two_tokens_with_one_label_are_refused_naming_both") {
        return;
    }
    // A second token with the test token's label, in this child's SoftHSM configuration.
    let out = std::process::Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", LABEL, "--pin", PIN])
        .args(["--so-pin", keychain_testkit::softhsm::SO_PIN])
        .output()
        .unwrap_or_else(|e| panic!("softhsm2-util: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = refused(&child_uri()).await;
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let message = e.to_string();
    assert!(
        message.contains("2 PKCS#11 tokens")
            && message.contains("slot-id=")
            && message.contains("serial="),
        "{message}"
    );
    // Each slot the message names opens on its own.
    let slots: Vec<&str> = message
        .split("(slot ")
        .skip(1)
        .filter_map(|rest| rest.split(',').next())
        .collect();
    assert_eq!(slots.len(), 2, "{message}");
    for slot in slots {
        Pkcs11Backend::open_uri(&format!(
            "pkcs11:token={LABEL};slot-id={slot}?module-path={MODULE}&pin-value={PIN}"
        ))
        .await
        .unwrap_or_else(|e| panic!("slot {slot}: {e}"));
    }
}
