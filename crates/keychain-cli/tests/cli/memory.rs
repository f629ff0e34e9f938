//! `sign` (also with `--bundle`) and `verify` of a 200 MB file run in constant memory (peak
//! RSS of the binary at most 64 MiB) with every kind of key: digest algorithms hash as they
//! stream, ML-DSA streams into its μ, pure Ed25519 reads the file twice. A pipe is read once:
//! pure Ed25519 holds at most 16 MiB of it and refuses more. Every signature is judged by
//! OpenSSL or Python.

use std::fs;
use std::io::Write;
use std::path::Path;

use keychain::SigningAlgorithm::{self, *};
use keychain_testkit::memory::output_with_peak_rss;
use keychain_testkit::{openssl_verify_file, python_verify_files};

use crate::support::{Cli, Run, arg, assert_one_error_line};

/// The bound the issue sets for any `sign`.
const MAX_PEAK_KIB: u64 = 64 * 1024;

/// 200 MB (not a multiple of any read size) of bytes that are not all alike.
fn big_file(cli: &Cli) -> std::path::PathBuf {
    let path = cli.path("big.bin");
    let mut f = std::io::BufWriter::new(fs::File::create(&path).unwrap());
    let mut block: Vec<u8> = (0..1_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
    for i in 0..200u32 {
        block[..4].copy_from_slice(&i.to_be_bytes());
        f.write_all(&block).unwrap();
    }
    f.write_all(&[0x5a; 12_345]).unwrap();
    f.flush().unwrap();
    path
}

/// Runs the binary (standard input from `stdin`, if given) and returns what it did and its
/// peak RSS in KiB.
fn run_measured(cli: &Cli, args: &[&str], stdin: Option<&Path>) -> (Run, u64) {
    let input = stdin.map(|p| Box::new(fs::File::open(p).unwrap()) as Box<_>);
    let (out, peak) = output_with_peak_rss(cli.command().args(args), input);
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, peak)
}

/// Signs `file` with `key` (and `algorithm`), asserting success and the memory bound; returns
/// the signature.
fn sign_measured(cli: &Cli, key: &str, algorithm: SigningAlgorithm, file: &Path) -> Vec<u8> {
    let sig = cli.path(&format!("{key}-{algorithm}.sig"));
    let args = [
        "sign",
        key,
        "--in",
        arg(file),
        "--algorithm",
        algorithm.as_str(),
        "--out",
        arg(&sig),
    ];
    let (run, peak) = run_measured(cli, &args, None);
    assert_eq!(run.code, 0, "sign {key} {algorithm}: {}", run.stderr);
    assert!(
        peak <= MAX_PEAK_KIB,
        "sign {key} {algorithm} of 200 MB peaked at {peak} KiB"
    );
    fs::read(&sig).unwrap()
}

/// Verifies with the binary, asserting the verdict and the memory bound.
fn verify_measured(cli: &Cli, key: &str, algorithm: SigningAlgorithm, file: &Path, valid: bool) {
    let sig = cli.path(&format!("{key}-{algorithm}.sig"));
    let args = [
        "verify",
        key,
        "--in",
        arg(file),
        "--algorithm",
        algorithm.as_str(),
        "--signature",
        arg(&sig),
    ];
    let (run, peak) = run_measured(cli, &args, None);
    let (code, verdict) = if valid { (0, "valid") } else { (1, "invalid") };
    assert_eq!(run.code, code, "verify {key} {algorithm}: {}", run.stderr);
    assert_eq!(run.text().trim(), verdict);
    assert!(
        peak <= MAX_PEAK_KIB,
        "verify {key} {algorithm} of 200 MB peaked at {peak} KiB"
    );
}

#[test]
fn sign_and_verify_200_mb_in_constant_memory_for_every_key_spec() {
    let cli = Cli::new();
    let big = big_file(&cli);
    let cases: &[(&str, &[SigningAlgorithm])] = &[
        ("ED25519", &[Ed25519Sha512, Ed25519PhSha512]),
        ("ML_DSA_44", &[MlDsaShake256]),
        ("ML_DSA_65", &[MlDsaShake256]),
        ("ML_DSA_87", &[MlDsaShake256]),
        ("ECC_NIST_P256", &[EcdsaSha256]),
        ("ECC_NIST_P521", &[EcdsaSha512]),
        ("ECC_SECG_P256K1", &[EcdsaSha256]),
        ("RSA_2048", &[RsassaPkcs1V15Sha256, RsassaPssSha512]),
    ];
    let mut python = Vec::new();
    for (spec, algorithms) in cases {
        let key = spec.to_ascii_lowercase().replace('_', "-");
        cli.create(&key, spec, &[]);
        let pem = cli.pubkey_pem(&key);
        for &algorithm in *algorithms {
            let signature = sign_measured(&cli, &key, algorithm, &big);
            verify_measured(&cli, &key, algorithm, &big, true);
            match algorithm {
                MlDsaShake256 | Ed25519PhSha512 => {
                    python.push((pem.clone(), algorithm, big.as_path(), signature))
                }
                _ => assert!(
                    openssl_verify_file(&pem, algorithm, &big, &signature),
                    "openssl rejects {spec} {algorithm} over 200 MB"
                ),
            }
        }
    }
    // `sign --bundle` too: the artifact streams to the signer while it is hashed for the bundle.
    for (key, algorithm) in [("ed25519", Ed25519Sha512), ("ml-dsa-44", MlDsaShake256)] {
        let (bundle, sig) = (
            cli.path(&format!("{key}.bundle")),
            cli.path(&format!("{key}.bsig")),
        );
        let args = [
            "sign",
            key,
            "--in",
            arg(&big),
            "--bundle",
            arg(&bundle),
            "--out",
            arg(&sig),
        ];
        let (run, peak) = run_measured(&cli, &args, None);
        assert_eq!(run.code, 0, "sign --bundle {key}: {}", run.stderr);
        assert!(
            peak <= MAX_PEAK_KIB,
            "sign --bundle {key} of 200 MB peaked at {peak} KiB"
        );
        cli.ok(["verify-bundle", arg(&bundle), "--in", arg(&big)]);
        let signature = fs::read(&sig).unwrap();
        match algorithm {
            Ed25519Sha512 => assert!(openssl_verify_file(
                &cli.pubkey_pem(key),
                algorithm,
                &big,
                &signature
            )),
            _ => python.push((cli.pubkey_pem(key), algorithm, big.as_path(), signature)),
        }
    }
    assert_eq!(
        python_verify_files(&python),
        vec![true; python.len()],
        "Python rejects a signature over 200 MB"
    );
    // A wrong signature is found wrong in constant memory too.
    let sig = cli.path("ml-dsa-65-ML_DSA_SHAKE_256.sig");
    let mut bytes = fs::read(&sig).unwrap();
    bytes[100] ^= 1;
    fs::write(&sig, bytes).unwrap();
    verify_measured(&cli, "ml-dsa-65", MlDsaShake256, &big, false);
}

/// Standard input is read once: ML-DSA streams 200 MB of it in constant memory; pure Ed25519
/// (which reads its message twice) holds up to 16 MiB and refuses more with one line, also
/// when the pipe is given by a path (`/dev/stdin`, which cannot seek).
#[test]
fn a_pipe_is_read_once_and_pure_ed25519_refuses_more_than_16_mib_of_it() {
    let cli = Cli::new();
    cli.create("pq", "ML_DSA_44", &[]);
    cli.create("ed", "ED25519", &[]);
    let big = big_file(&cli);
    let (run, peak) = run_measured(&cli, &["sign", "pq", "--in", "-"], Some(&big));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        peak <= MAX_PEAK_KIB,
        "ML-DSA from a pipe peaked at {peak} KiB"
    );
    let signature = base64_decode(&run.text());
    let pem = cli.pubkey_pem("pq");
    assert_eq!(
        python_verify_files(&[(pem, MlDsaShake256, big.as_path(), signature)]),
        vec![true]
    );

    let limit = keychain::MAX_BUFFERED_MESSAGE;
    let at_limit = cli.file("limit.bin", &vec![0x42; limit]);
    let over = cli.file("over.bin", &vec![0x42; limit + 1]);
    let pem = cli.pubkey_pem("ed");
    for input in ["-", "/dev/stdin"] {
        let (run, _) = run_measured(&cli, &["sign", "ed", "--in", input], Some(&at_limit));
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        let signature = base64_decode(&run.text());
        assert!(openssl_verify_file(
            &pem,
            Ed25519Sha512,
            &at_limit,
            &signature
        ));

        let (run, _) = run_measured(&cli, &["sign", "ed", "--in", input], Some(&over));
        assert_one_error_line(&run, 4, &format!("sign ed --in {input} (16 MiB + 1)"));
        assert!(run.stderr.contains("give it as a file"), "{}", run.stderr);
    }
    // The same bytes as a file are signed (read twice).
    let sig = cli.path("over.sig");
    cli.ok(["sign", "ed", "--in", arg(&over), "--out", arg(&sig)]);
    assert!(openssl_verify_file(
        &pem,
        Ed25519Sha512,
        &over,
        &fs::read(&sig).unwrap()
    ));
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap()
}
