//! The keychain benchmark harness: measures keychain and its peers side by side, alternating
//! them in one process, and prints the raw figures of every round as JSON on stdout.
//! `bench/run.sh` runs every item and `bench/report.py` turns the JSON into
//! `docs/BENCHMARKS.md` (medians, ratios, targets).
//!
//! ```text
//! keychain-bench crypto   [--rounds N] [--seconds S] [--peer PATH] [--only P-256,...]  item 3
//! keychain-bench envelope [--rounds N] [--seconds S] [--mib M] [--cli PATH] [--rss-mib M]
//!                                                                              item 4
//! keychain-bench keystore [--rounds N] [--sizes 10,1000,10000]                  item 5
//! keychain-bench kms      [--rounds N] [--calls N] [--concurrent-calls N] [--delay-ms D]
//!                         [--seconds S] [--bench-python PATH] [--moto-python PATH]
//!                                                                              items 1, 2, 6
//! keychain-bench serve    --cli PATH [--rounds N] [--calls N] [--concurrent-calls N] [--keys N]
//!                         [--seconds S] [--moto-python PATH]            issue 12 (keychain serve)
//! keychain-bench serve-handle [--calls N] [--keys N]   Sign through KmsService::handle
//!                         only, no socket: the loop to profile (valgrind --tool=callgrind)
//! keychain-bench cli      --cli PATH [--rounds N] [--calls N] [--runs N]  issue 16 (per call)
//! keychain-bench ssh      --cli PATH [--rounds N] [--calls N] [--waves N]
//!                                                issue 13 (ssh-keygen -Y sign via the agents)
//! keychain-bench pkcs11   --cli PATH [--rounds N] [--seconds S] [--calls N] [--cli-calls N]
//!                                                         item 10, issue 15 (SoftHSM2)
//! keychain-bench rng      the first and second draw from aws-lc's generator in a fresh process
//! keychain-bench proxy    --upstream HOST:PORT [--delay-ms D] [--listen PORT]   the proxy alone
//! ```
//!
//! Every item takes `--tmp DIR` for its scratch files (default `/tmp`). Progress goes to
//! stderr. Timings are wall-clock; every figure is measured in rounds that alternate ours and
//! the peer, so the machine's noise falls on both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod crypto;
mod envelope;
mod keystore;
mod kms;
mod measure;
mod moto;
mod openssl;
mod pkcs11;
mod proxy;
mod serve;
mod served;
mod ssh;

use std::collections::HashMap;
use std::str::FromStr;

/// Errors of the harness: reported with their message, the run fails.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The harness's result.
pub type Res<T> = Result<T, BoxError>;

/// `--key value` options.
#[derive(Debug, Default)]
pub struct Opts {
    values: HashMap<String, String>,
}

impl Opts {
    fn parse(args: &[String]) -> Res<Self> {
        let mut values = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let key = a
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --option, got {a:?}"))?;
            let value = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            values.insert(key.to_string(), value.clone());
        }
        Ok(Opts { values })
    }

    /// The option's value parsed, or `default`.
    pub fn get<T: FromStr>(&self, key: &str, default: T) -> Res<T> {
        match self.values.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key}: cannot parse {v:?}").into()),
        }
    }

    /// The option's string value.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

/// Progress on stderr.
#[macro_export]
macro_rules! note {
    ($($t:tt)*) => {{ eprintln!("[bench] {}", format!($($t)*)); }};
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((item, rest)) = args.split_first() else {
        eprintln!(
            "usage: keychain-bench crypto|envelope|keystore|kms|serve|cli|ssh|pkcs11|rng|proxy [--option value]..."
        );
        std::process::exit(2);
    };
    let result = Opts::parse(rest).and_then(|opts| match item.as_str() {
        "crypto" => crypto::run(&opts),
        "envelope" => envelope::run(&opts),
        "keystore" => keystore::run(&opts),
        "kms" => kms::run(&opts),
        "serve" => serve::run(&opts),
        "serve-handle" => serve::handle_only(&opts),
        "cli" => cli::run(&opts),
        "ssh" => ssh::run_item(&opts),
        "pkcs11" => pkcs11::run(&opts),
        "rng" => cli::rng_first_use(),
        "proxy" => proxy::run_standalone(&opts).map(|()| serde_json::Value::Null),
        other => Err(format!("unknown item {other:?}").into()),
    });
    match result {
        Ok(serde_json::Value::Null) => {}
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap()),
        Err(e) => {
            eprintln!("keychain-bench {item}: {e}");
            std::process::exit(1);
        }
    }
}
