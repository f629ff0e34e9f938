//! The OpenSSL peers: `openssl speed` (machine-readable output, wall-clock divisor), the
//! small C program `bench/peer/ec_speed.c` for the curves `openssl speed` lacks, and
//! `openssl enc` on files.

use std::path::Path;
use std::process::Command;

use crate::Res;

/// Sign and verify operations per second.
#[derive(Debug, Clone, Copy)]
pub struct SignVerify {
    /// Signatures per second.
    pub sign: f64,
    /// Verifications per second.
    pub verify: f64,
}

fn run(cmd: &mut Command) -> Res<String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `openssl version`.
pub fn version() -> String {
    run(Command::new("openssl").arg("version"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("unavailable: {e}"))
}

/// The last two `:`-separated numbers of the first `-mr` result line starting with `prefix`.
fn last_two(output: &str, prefix: &str) -> Res<(f64, f64)> {
    let line = output
        .lines()
        .find(|l| l.starts_with(prefix))
        .ok_or_else(|| format!("no {prefix} line in openssl speed output:\n{output}"))?;
    let fields: Vec<&str> = line.split(':').collect();
    let n = fields.len();
    if n < 3 {
        return Err(format!("short openssl speed line {line:?}").into());
    }
    Ok((fields[n - 2].parse()?, fields[n - 1].parse()?))
}

/// `openssl speed -elapsed -mr -seconds S ALG` for a public-key algorithm (`ecdsap256`,
/// `ed25519`, `rsa2048`…). `-elapsed` divides by wall-clock time, as our figures do (the
/// default divides by user CPU time, which hides the time a busy machine takes away).
pub fn speed_pk(alg: &str, seconds: u32) -> Res<SignVerify> {
    let out = run(Command::new("openssl").args([
        "speed",
        "-elapsed",
        "-mr",
        "-seconds",
        &seconds.to_string(),
        alg,
    ]))?;
    // +F2 (RSA), +F4 (ECDSA), +F6 (EdDSA): the last two fields are sign/s and verify/s.
    let prefix = if alg.starts_with("rsa") {
        "+F2:"
    } else if alg.starts_with("ecdsa") {
        "+F4:"
    } else {
        "+F6:"
    };
    let (sign, verify) = last_two(&out, prefix)?;
    Ok(SignVerify { sign, verify })
}

/// `openssl speed -elapsed -mr -seconds S -bytes B [-decrypt] -evp CIPHER`: bytes per
/// second.
pub fn speed_cipher(cipher: &str, bytes: usize, seconds: u32, decrypt: bool) -> Res<f64> {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "speed",
        "-elapsed",
        "-mr",
        "-seconds",
        &seconds.to_string(),
        "-bytes",
        &bytes.to_string(),
    ]);
    if decrypt {
        cmd.arg("-decrypt");
    }
    cmd.args(["-evp", cipher]);
    let out = run(&mut cmd)?;
    // +F:INDEX:NAME:BYTES_PER_SECOND (one size, the -bytes one).
    let line = out
        .lines()
        .find(|l| l.starts_with("+F:"))
        .ok_or_else(|| format!("no +F: line in openssl speed output:\n{out}"))?;
    let last = line.rsplit(':').next().unwrap_or_default();
    Ok(last.parse()?)
}

/// The C peer (`bench/peer/ec_speed.c`, OpenSSL's EVP_PKEY_sign/verify on a curve by name,
/// as `openssl speed` calls them): sign and verify per second over `seconds`.
pub fn c_peer(peer: &Path, curve: &str, seconds: f64) -> Res<SignVerify> {
    let out = run(Command::new(peer).args([curve, &seconds.to_string()]))?;
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("the C peer printed {out:?}: {e}"))?;
    let get = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| format!("the C peer printed no {k}: {out}"))
    };
    Ok(SignVerify {
        sign: get("sign")?,
        verify: get("verify")?,
    })
}
