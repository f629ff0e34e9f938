//! Log output on stderr, never stdout (stdout carries results, which scripts parse). The
//! library logs through `tracing`; this installs the subscriber that prints it.
//!
//! The level: keychain's warnings by default (the library's audit events, such as plaintext
//! key material leaving the keystore for a migration, are warnings), `-q` errors only, `-v`
//! info, `-vv` debug, `-vvv` everything, the SDKs' traces included. `KEYCHAIN_LOG`, else `RUST_LOG`, replaces that with a full filter
//! (`keychain=debug,aws_smithy_runtime=info`). The library never logs a secret, so no level
//! shows one.

use tracing_subscriber::EnvFilter;

/// The filter for `-v` counted `verbose` times, or `-q`. By default only keychain's own
/// warnings show (the SDKs' warnings about, say, a missing `~/.aws/config` would bury them);
/// each `-v` opens our events one level further and the dependencies' one level behind.
fn level(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "error,keychain=warn",
        (false, 1) => "warn,keychain=info",
        (false, 2) => "info,keychain=debug",
        (false, _) => "trace",
    }
}

/// Installs the stderr logger. A filter in `KEYCHAIN_LOG`/`RUST_LOG` that does not parse is
/// reported on stderr and the flags' level is used instead.
pub fn init(verbose: u8, quiet: bool) {
    let from_env = ["KEYCHAIN_LOG", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().map(|value| (*name, value)))
        .filter(|(_, value)| !value.trim().is_empty());
    let mut bad_filter = None;
    let filter = match from_env {
        Some((name, value)) => EnvFilter::try_new(&value).unwrap_or_else(|e| {
            bad_filter = Some(format!(
                "{name} is not a log filter ({e}); using the default"
            ));
            EnvFilter::new(level(verbose, quiet))
        }),
        None => EnvFilter::new(level(verbose, quiet)),
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .try_init();
    if let (Ok(()), Some(message)) = (installed, bad_filter) {
        tracing::warn!("{message}");
    }
}
