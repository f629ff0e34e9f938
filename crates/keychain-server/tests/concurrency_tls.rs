//! Many clients at once (16 aws-sdk-kms tasks creating keys and encrypting: every acknowledged
//! key exists and every acknowledged ciphertext decrypts), and HTTPS with `--tls-cert/--tls-key`
//! (a certificate made by OpenSSL, the handshake and answer judged by curl).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use aws_sdk_kms::primitives::Blob;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_at_once_lose_nothing() {
    let served = support::serve().await;
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let kms = served.sdk();
        tasks.push(tokio::spawn(async move {
            let key = kms.create_key().send().await.expect("CreateKey");
            let id = key.key_metadata().expect("meta").key_id().to_string();
            let mut blobs = Vec::new();
            for i in 0..4u8 {
                let plaintext = vec![n, i];
                let ct = kms
                    .encrypt()
                    .key_id(&id)
                    .plaintext(Blob::new(plaintext.clone()))
                    .send()
                    .await
                    .expect("Encrypt");
                blobs.push((plaintext, ct.ciphertext_blob().expect("blob").clone()));
            }
            (id, blobs)
        }));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.push(t.await.expect("task"));
    }
    let kms = served.sdk();
    let listed = kms.list_keys().limit(1000).send().await.expect("ListKeys");
    for (id, blobs) in acknowledged {
        assert!(
            listed
                .keys()
                .iter()
                .any(|k| k.key_id() == Some(id.as_str())),
            "{id} lost"
        );
        for (plaintext, blob) in blobs {
            let out = kms
                .decrypt()
                .ciphertext_blob(blob)
                .send()
                .await
                .expect("Decrypt");
            assert_eq!(
                out.plaintext().map(|p| p.as_ref().to_vec()),
                Some(plaintext)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl req");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (c, k) = (cert.clone(), key.clone());
    let served = support::serve_with(move |config| config.tls(c, k)).await;
    let url = format!("https://{}/", served.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&cert)
            .args([
                "-X",
                "POST",
                "-H",
                "Content-Type: application/x-amz-json-1.1",
                "-H",
                "X-Amz-Target: TrentService.ListKeys",
                "-d",
                "{}",
                "-w",
                "\n%{http_code}",
                &url,
            ])
            .output()
            .expect("curl")
    })
    .await
    .expect("curl task");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // Unsigned: the server answered over TLS, and refused.
    assert!(
        text.contains("MissingAuthenticationTokenException"),
        "{text}"
    );
    assert!(text.ends_with("400"), "{text}");
    // A bad key file is refused at bind time.
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a key").expect("write");
    let (c2, b2) = (dir.path().join("cert.pem"), bad.clone());
    let listen: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let refused = keychain_server::Server::bind(
        keychain_server::ServerConfig::new(listen, served.keychain.clone()).tls(c2, b2),
    )
    .await;
    assert!(
        matches!(refused, Err(keychain::Error::InvalidInput { .. })),
        "{refused:?}"
    );
}
