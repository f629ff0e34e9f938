//! `keychain::ssh` over the software backend, judged by OpenSSH: many SSHSIG signatures per
//! ECDSA curve, so that r and s with leading zero bytes (about one signature in a hundred)
//! are encoded as SSH mpints that `ssh-keygen -Y verify` accepts.
#![cfg(feature = "ssh")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use keychain::ssh::{openssh_public_key, sign_sshsig};
use keychain::{Curve, KeyParams, Keychain, MessageSource};
use keychain_testkit::temp_software_backend;

#[tokio::test]
async fn every_ecdsa_signature_verifies_with_ssh_keygen() {
    let (_dir, backend) = temp_software_backend().await;
    let kc = Keychain::new(backend);
    let work = tempfile::tempdir().unwrap();
    for (name, curve) in [
        ("p256", Curve::P256),
        ("p384", Curve::P384),
        ("p521", Curve::P521),
    ] {
        kc.generate_key(name, &KeyParams::ecdsa(curve))
            .await
            .unwrap();
        let line = openssh_public_key(&kc.public_key(name).await.unwrap(), name).unwrap();
        let signers = work.path().join(format!("{name}.allowed"));
        std::fs::write(&signers, format!("signer {line}\n")).unwrap();
        for i in 0..100u32 {
            let message = format!("message {i}");
            let armored = sign_sshsig(
                &kc,
                name,
                "file",
                &mut MessageSource::memory(message.as_bytes()),
            )
            .await
            .unwrap();
            let sig = work.path().join("m.sig");
            std::fs::write(&sig, &armored).unwrap();
            let msg = work.path().join("m");
            std::fs::write(&msg, &message).unwrap();
            let ok = Command::new("ssh-keygen")
                .args(["-Y", "verify", "-f"])
                .arg(&signers)
                .args(["-I", "signer", "-n", "file", "-s"])
                .arg(&sig)
                .stdin(std::fs::File::open(&msg).unwrap())
                .output()
                .unwrap()
                .status
                .success();
            assert!(
                ok,
                "{name}: signature {i} refused by ssh-keygen:\n{armored}"
            );
        }
    }
}
