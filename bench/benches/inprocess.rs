//! In-process figures with criterion: the software backend's sign and local verify (P-256,
//! Ed25519, RSA-2048) beside the raw aws-lc-rs primitive, and envelope sealing and opening of
//! 1 MiB. `cargo bench -p keychain-bench`; the ratio tables against OpenSSL come from
//! `bench/run.sh`, which alternates ours and the peer in one run.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as lc, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keychain::envelope::{EnvelopeHeader, SealingKey};
use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{
    Backend, CreateKeyRequest, EncryptionContext, KeyRef, KeySpec, KeyUsage, Message,
    SigningAlgorithm,
};

fn backend(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> SoftwareBackend {
    rt.block_on(SoftwareBackend::open(
        SoftwareConfig::new(dir.join("ks"))
            .password("bench")
            .kdf_iterations(2048),
    ))
    .unwrap()
}

fn key(
    rt: &tokio::runtime::Runtime,
    b: &SoftwareBackend,
    spec: KeySpec,
    usage: KeyUsage,
) -> KeyRef {
    let info = rt
        .block_on(b.create_key(&CreateKeyRequest::new(spec).usage(usage)))
        .unwrap();
    KeyRef::key_id(&info.key_id).unwrap()
}

fn signing(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&rt, dir.path());
    let d256 = digest::digest(&digest::SHA256, b"criterion");
    let message = [0x5au8; 32];
    let cases = [
        (
            "P-256",
            KeySpec::EccNistP256,
            SigningAlgorithm::EcdsaSha256,
            Message::Digest(d256.as_ref()),
        ),
        (
            "Ed25519",
            KeySpec::EccNistEdwards25519,
            SigningAlgorithm::Ed25519Sha512,
            Message::Raw(&message),
        ),
        (
            "RSA-2048",
            KeySpec::Rsa2048,
            SigningAlgorithm::RsassaPkcs1V15Sha256,
            Message::Digest(d256.as_ref()),
        ),
    ];
    let mut group = c.benchmark_group("software-backend");
    for (label, spec, alg, msg) in cases {
        let k = key(&rt, &b, spec, KeyUsage::SignVerify);
        let pk = rt.block_on(b.public_key(&k)).unwrap();
        let sig = rt.block_on(b.sign(&k, msg, alg)).unwrap();
        group.bench_function(format!("{label}/sign"), |bench| {
            bench.iter(|| black_box(rt.block_on(b.sign(&k, msg, alg)).unwrap()))
        });
        group.bench_function(format!("{label}/verify"), |bench| {
            bench.iter(|| black_box(pk.verify(msg, &sig, alg).unwrap()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("aws-lc-rs");
    let kp = EcdsaKeyPair::generate(&lc::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let pk = ParsedPublicKey::new(&lc::ECDSA_P256_SHA256_ASN1, kp.public_key().as_ref()).unwrap();
    let sig = kp.sign_digest(&d256).unwrap();
    group.bench_function("P-256/sign", |bench| {
        bench.iter(|| black_box(kp.sign_digest(&d256).unwrap()))
    });
    group.bench_function("P-256/verify", |bench| {
        bench.iter(|| black_box(pk.verify_digest_sig(&d256, sig.as_ref()).is_ok()))
    });
    let ed = Ed25519KeyPair::generate().unwrap();
    let edpk = ParsedPublicKey::new(&lc::ED25519, ed.public_key().as_ref()).unwrap();
    let edsig = ed.sign(&message);
    group.bench_function("Ed25519/sign", |bench| {
        bench.iter(|| black_box(ed.sign(&message)))
    });
    group.bench_function("Ed25519/verify", |bench| {
        bench.iter(|| black_box(edpk.verify_sig(&message, edsig.as_ref()).is_ok()))
    });
    group.finish();
}

fn envelope(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&rt, dir.path());
    let k = key(&rt, &b, KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt);
    let context = EncryptionContext::new();
    let data = vec![0x42u8; 1 << 20];
    let mut sealed = Vec::new();
    rt.block_on(SealingKey::generate(&b, &k, &context))
        .unwrap()
        .seal(&data[..], &mut sealed)
        .unwrap();
    let mut group = c.benchmark_group("envelope");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("seal-1MiB", |bench| {
        bench.iter(|| {
            let s = rt.block_on(SealingKey::generate(&b, &k, &context)).unwrap();
            black_box(s.seal(&data[..], std::io::sink()).unwrap())
        })
    });
    group.bench_function("open-1MiB", |bench| {
        bench.iter(|| {
            let mut input = &sealed[..];
            let header = EnvelopeHeader::read(&mut input).unwrap();
            let o = rt.block_on(header.unwrap_key(&b, &context)).unwrap();
            black_box(o.open(input, std::io::sink()).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, signing, envelope);
criterion_main!(benches);
