//! Item 3: the software backend's sign and verify against `openssl speed`, with the raw
//! aws-lc-rs primitive beside them so the backend's own overhead shows.
//!
//! Ours: `Backend::sign` with a digest (the message itself for pure Ed25519) on a key in a
//! software keystore, and `PublicKey::verify` with the key the backend returns. Raw: the
//! aws-lc-rs key pair signing the same digest, and a `ParsedPublicKey` (parsed once)
//! verifying. Peer: `openssl speed -elapsed` for the same algorithm; for secp256k1, which
//! `openssl speed` 3.0 does not offer, the C peer `bench/peer/ec_speed.c` (the same libcrypto
//! and EVP calls, calibrated against `openssl speed` on P-256 in the same run).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self as lc, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, ParsedPublicKey,
    RsaKeyPair,
};
use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{
    Backend, CreateKeyRequest, KeyRef, KeySpec, KeyUsage, Message, PublicKey, SigningAlgorithm,
};
use serde_json::{Value, json};

use crate::measure::{peer_first, rate, rate_async};
use crate::openssl::{self, SignVerify};
use crate::{Opts, Res, note};

/// One algorithm of the table.
struct Case {
    label: &'static str,
    spec: KeySpec,
    algorithm: SigningAlgorithm,
    /// The digest signed; `None` for pure Ed25519, which signs a 32-byte message.
    digest: Option<&'static digest::Algorithm>,
    /// The `openssl speed` algorithm; `None` when it has none.
    speed: Option<&'static str>,
    /// The curve name for the C peer, when `openssl speed` has none.
    c_curve: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        label: "P-256",
        spec: KeySpec::EccNistP256,
        algorithm: SigningAlgorithm::EcdsaSha256,
        digest: Some(&digest::SHA256),
        speed: Some("ecdsap256"),
        c_curve: None,
    },
    Case {
        label: "P-384",
        spec: KeySpec::EccNistP384,
        algorithm: SigningAlgorithm::EcdsaSha384,
        digest: Some(&digest::SHA384),
        speed: Some("ecdsap384"),
        c_curve: None,
    },
    Case {
        label: "secp256k1",
        spec: KeySpec::EccSecgP256k1,
        algorithm: SigningAlgorithm::EcdsaSha256,
        digest: Some(&digest::SHA256),
        speed: None,
        c_curve: Some("secp256k1"),
    },
    Case {
        label: "Ed25519",
        spec: KeySpec::EccNistEdwards25519,
        algorithm: SigningAlgorithm::Ed25519Sha512,
        digest: None,
        speed: Some("ed25519"),
        c_curve: None,
    },
    Case {
        label: "RSA-2048",
        spec: KeySpec::Rsa2048,
        algorithm: SigningAlgorithm::RsassaPkcs1V15Sha256,
        digest: Some(&digest::SHA256),
        speed: Some("rsa2048"),
        c_curve: None,
    },
    Case {
        label: "RSA-4096",
        spec: KeySpec::Rsa4096,
        algorithm: SigningAlgorithm::RsassaPkcs1V15Sha256,
        digest: Some(&digest::SHA256),
        speed: Some("rsa4096"),
        c_curve: None,
    },
];

/// The raw aws-lc-rs key pair and its parsed public key.
enum Raw {
    Ecdsa(EcdsaKeyPair, ParsedPublicKey),
    Ed25519(Ed25519KeyPair, ParsedPublicKey),
    Rsa(RsaKeyPair, ParsedPublicKey),
}

fn ecdsa(
    signing: &'static EcdsaSigningAlgorithm,
    verifying: &'static dyn lc::VerificationAlgorithm,
) -> Res<Raw> {
    let kp = EcdsaKeyPair::generate(signing)?;
    let pk = ParsedPublicKey::new(verifying, kp.public_key().as_ref())?;
    Ok(Raw::Ecdsa(kp, pk))
}

fn rsa(size: KeySize) -> Res<Raw> {
    let kp = RsaKeyPair::generate(size)?;
    let pk = ParsedPublicKey::new(&lc::RSA_PKCS1_2048_8192_SHA256, kp.public_key().as_ref())?;
    Ok(Raw::Rsa(kp, pk))
}

impl Raw {
    fn new(spec: KeySpec) -> Res<Raw> {
        match spec {
            KeySpec::EccNistP256 => ecdsa(
                &lc::ECDSA_P256_SHA256_ASN1_SIGNING,
                &lc::ECDSA_P256_SHA256_ASN1,
            ),
            KeySpec::EccNistP384 => ecdsa(
                &lc::ECDSA_P384_SHA384_ASN1_SIGNING,
                &lc::ECDSA_P384_SHA384_ASN1,
            ),
            KeySpec::EccSecgP256k1 => ecdsa(
                &lc::ECDSA_P256K1_SHA256_ASN1_SIGNING,
                &lc::ECDSA_P256K1_SHA256_ASN1,
            ),
            KeySpec::EccNistEdwards25519 => {
                let kp = Ed25519KeyPair::generate()?;
                let pk = ParsedPublicKey::new(&lc::ED25519, kp.public_key().as_ref())?;
                Ok(Raw::Ed25519(kp, pk))
            }
            KeySpec::Rsa2048 => rsa(KeySize::Rsa2048),
            KeySpec::Rsa4096 => rsa(KeySize::Rsa4096),
            other => Err(format!("no raw signer for {other}").into()),
        }
    }

    fn sign(&self, digest: Option<&Digest>, message: &[u8]) -> Vec<u8> {
        match (self, digest) {
            (Raw::Ecdsa(kp, _), Some(d)) => kp.sign_digest(d).unwrap().as_ref().to_vec(),
            (Raw::Ed25519(kp, _), _) => kp.sign(message).as_ref().to_vec(),
            (Raw::Rsa(kp, _), Some(d)) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign_digest(&lc::RSA_PKCS1_SHA256, d, &mut sig).unwrap();
                sig
            }
            _ => unreachable!("every digest case has a digest"),
        }
    }

    fn verify(&self, digest: Option<&Digest>, message: &[u8], sig: &[u8]) -> bool {
        match (self, digest) {
            (Raw::Ecdsa(_, pk) | Raw::Rsa(_, pk), Some(d)) => pk.verify_digest_sig(d, sig).is_ok(),
            (Raw::Ed25519(_, pk), _) => pk.verify_sig(message, sig).is_ok(),
            _ => unreachable!("every digest case has a digest"),
        }
    }
}

/// Our side of one case: the backend key, its public key and the raw key pair.
struct Ours {
    backend: SoftwareBackend,
    key: KeyRef,
    public_key: PublicKey,
    raw: Raw,
    /// What is signed: the digest bytes, or the 32-byte message for pure Ed25519.
    input: Vec<u8>,
    digest: Option<Digest>,
}

impl Ours {
    fn message(&self) -> Message<'_> {
        match self.digest {
            Some(_) => Message::Digest(&self.input),
            None => Message::Raw(&self.input),
        }
    }
}

fn measure_ours(
    rt: &tokio::runtime::Runtime,
    case: &Case,
    ours: &Ours,
    window: Duration,
) -> Res<Value> {
    let alg = case.algorithm;
    let signature = rt.block_on(ours.backend.sign(&ours.key, ours.message(), alg))?;
    if !ours.public_key.verify(ours.message(), &signature, alg)? {
        return Err(format!("{}: our own signature does not verify", case.label).into());
    }
    let backend_sign = rt.block_on(rate_async(window, || async {
        black_box(
            ours.backend
                .sign(&ours.key, ours.message(), alg)
                .await
                .unwrap(),
        );
    }));
    let backend_verify = rate(window, || {
        black_box(
            ours.public_key
                .verify(ours.message(), &signature, alg)
                .unwrap(),
        );
    });
    let digest = ours.digest.as_ref();
    let raw_sig = ours.raw.sign(digest, &ours.input);
    if !ours.raw.verify(digest, &ours.input, &raw_sig) {
        return Err(format!(
            "{}: the raw aws-lc-rs signature does not verify",
            case.label
        )
        .into());
    }
    let raw_sign = rate(window, || {
        black_box(ours.raw.sign(digest, &ours.input));
    });
    let raw_verify = rate(window, || {
        black_box(ours.raw.verify(digest, &ours.input, &raw_sig));
    });
    Ok(json!({
        "backend_sign": backend_sign,
        "backend_verify": backend_verify,
        "raw_sign": raw_sign,
        "raw_verify": raw_verify,
    }))
}

fn measure_peer(case: &Case, seconds: u32, c_peer: Option<&PathBuf>, ours: &Ours) -> Res<Value> {
    let sv = |s: SignVerify| json!({"sign": s.sign, "verify": s.verify});
    let mut out = serde_json::Map::new();
    if let Some(alg) = case.speed {
        out.insert("peer".into(), sv(openssl::speed_pk(alg, seconds)?));
        // The C peer on P-256, right after `openssl speed ecdsap256`: shows it measures what
        // `openssl speed` measures, so its secp256k1 figure can stand in for one.
        if case.spec == KeySpec::EccNistP256
            && let Some(peer) = c_peer
        {
            out.insert(
                "c_peer".into(),
                sv(openssl::c_peer(peer, "prime256v1", f64::from(seconds))?),
            );
        }
    } else if let (Some(curve), Some(peer)) = (case.c_curve, c_peer) {
        out.insert(
            "peer".into(),
            sv(openssl::c_peer(peer, curve, f64::from(seconds))?),
        );
    } else {
        // No OpenSSL figure at all: the raw aws-lc-rs primitive stands in, and the report
        // says so.
        let window = Duration::from_secs(u64::from(seconds));
        let digest = ours.digest.as_ref();
        let sig = ours.raw.sign(digest, &ours.input);
        let sign = rate(window, || {
            black_box(ours.raw.sign(digest, &ours.input));
        });
        let verify = rate(window, || {
            black_box(ours.raw.verify(digest, &ours.input, &sig));
        });
        out.insert("peer".into(), json!({"sign": sign, "verify": verify}));
    }
    Ok(Value::Object(out))
}

fn peer_name(case: &Case, c_peer: Option<&PathBuf>) -> String {
    match (case.speed, case.c_curve, c_peer) {
        (Some(alg), _, _) => format!("openssl speed -elapsed {alg}"),
        (None, Some(curve), Some(_)) => {
            format!("bench/peer/ec_speed {curve} (OpenSSL EVP_PKEY_sign/verify)")
        }
        _ => "raw aws-lc-rs (no OpenSSL figure: the C peer was not built)".into(),
    }
}

/// Runs item 3.
pub fn run(opts: &Opts) -> Res<Value> {
    let rounds: usize = opts.get("rounds", 3)?;
    let seconds: u32 = opts.get("seconds", 1)?;
    let c_peer = opts.str("peer").map(PathBuf::from);
    let window = Duration::from_secs(u64::from(seconds));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::Builder::new()
        .prefix("keychain-bench-crypto-")
        .tempdir_in(opts.str("tmp").unwrap_or("/tmp"))?;
    let backend = rt.block_on(SoftwareBackend::open(
        SoftwareConfig::new(dir.path().join("keystore"))
            .password("bench password")
            .kdf_iterations(2048),
    ))?;

    // `--only P-256,Ed25519` measures some algorithms only (for profiling by hand).
    let only: Option<Vec<String>> = opts
        .str("only")
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    let cases: Vec<&Case> = CASES
        .iter()
        .filter(|c| only.as_ref().is_none_or(|o| o.iter().any(|x| x == c.label)))
        .collect();

    let mut prepared = Vec::new();
    for &case in &cases {
        note!("crypto: creating a {} key", case.label);
        let info = rt.block_on(
            backend.create_key(
                &CreateKeyRequest::new(case.spec)
                    .name(format!("bench-{}", case.label.to_lowercase()))
                    .usage(KeyUsage::SignVerify),
            ),
        )?;
        let key = KeyRef::key_id(&info.key_id)?;
        let public_key = rt.block_on(backend.public_key(&key))?;
        let (input, digest) = match case.digest {
            Some(alg) => {
                let d = digest::digest(alg, b"keychain benchmark message");
                (d.as_ref().to_vec(), Some(d))
            }
            None => (vec![0x5a; 32], None),
        };
        prepared.push(Ours {
            backend: backend.clone(),
            key,
            public_key,
            raw: Raw::new(case.spec)?,
            input,
            digest,
        });
    }

    let mut results: Vec<Vec<Value>> = vec![Vec::new(); cases.len()];
    let mut handoffs = Vec::new();
    for round in 0..rounds {
        // What the backend's hop to tokio's blocking pool costs by itself (RSA signatures and
        // calls that load a key make it): an empty spawn_blocking awaited on this runtime.
        handoffs.push(rt.block_on(rate_async(window, || async {
            tokio::task::spawn_blocking(|| black_box(0u8))
                .await
                .unwrap();
        })));
        for (i, (&case, ours)) in cases.iter().zip(&prepared).enumerate() {
            note!("crypto: round {}/{rounds}, {}", round + 1, case.label);
            let (o, p) = if peer_first(round) {
                let p = measure_peer(case, seconds, c_peer.as_ref(), ours)?;
                (measure_ours(&rt, case, ours, window)?, p)
            } else {
                let o = measure_ours(&rt, case, ours, window)?;
                (o, measure_peer(case, seconds, c_peer.as_ref(), ours)?)
            };
            let mut row = o;
            if let (Some(r), Value::Object(p)) = (row.as_object_mut(), p) {
                r.extend(p);
            }
            results[i].push(row);
        }
    }

    let cases: Vec<Value> = cases
        .iter()
        .zip(results)
        .map(|(case, rounds)| {
            json!({
                "label": case.label,
                "algorithm": case.algorithm.as_str(),
                "input": if case.digest.is_some() { "digest" } else { "32-byte message" },
                "peer": peer_name(case, c_peer.as_ref()),
                "rounds": rounds,
            })
        })
        .collect();
    rt.block_on(backend.close())?;
    Ok(json!({
        "item": "crypto",
        "rounds": rounds,
        "seconds": seconds,
        "openssl": openssl::version(),
        "c_peer": c_peer.is_some(),
        "spawn_blocking_per_second": handoffs,
        "cases": cases,
    }))
}
