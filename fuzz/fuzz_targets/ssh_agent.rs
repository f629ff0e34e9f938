//! SSH agent messages: whatever bytes a client sends as one message, the agent answers with a
//! well-formed response (SSH_AGENT_FAILURE for anything it cannot parse or carry out) and
//! never panics.
#![no_main]
use std::sync::OnceLock;

use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::ssh::{Agent, ServedKey, ssh_key_data};
use keychain::{Curve, KeyParams, Keychain};
use libfuzzer_sys::fuzz_target;
use ssh_agent_lib::proto::Response;
use ssh_encoding::Decode;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    agent: Agent,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let agent = runtime.block_on(async {
            let config = SoftwareConfig::new(dir.path().join("ks"))
                .password("fuzz")
                .kdf_iterations(2048);
            let kc = Keychain::new(SoftwareBackend::open(config).await.expect("keystore"));
            let mut keys = Vec::new();
            for (name, params) in [
                ("ed", KeyParams::ed25519()),
                ("p256", KeyParams::ecdsa(Curve::P256)),
            ] {
                kc.generate_key(name, &params).await.expect("key");
                let public_key = kc.public_key(name).await.expect("public key");
                keys.push(ServedKey {
                    name: name.to_string(),
                    key_data: ssh_key_data(&public_key).expect("an SSH key"),
                });
            }
            Agent::new(kc, keys)
        });
        Fixture { runtime, _dir: dir, agent }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut agent = f.agent.clone();
    let answer = f.runtime.block_on(agent.answer(data));
    Response::decode(&mut &answer[..]).expect("the answer is a response");
});
