#!/usr/bin/env bash
# Bounded fuzzing smoke run of every cargo-fuzz target under fuzz/: key references, backend URIs,
# SPKI/PEM public keys, ECDSA DER/raw conversion, JWS/JWT tokens and JWKs, envelope files,
# keystore files, signature bundles, requests to `keychain serve`, the age plugin's strings
# and stanzas, and SSH agent messages. Each target runs FUZZ_SECONDS (default 30); any crash, panic, leak or allocation
# over the RSS limit fails the script and leaves the input under fuzz/artifacts/.
#
# libFuzzer needs the sanitizer flags of a nightly compiler; RUSTC_BOOTSTRAP=1 lets the
# machine's stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-30}"
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz
fi

echo "==> building the fuzz targets" >&2
cargo fuzz build -O
for target in $(cargo fuzz list); do
  echo "==> fuzzing $target for ${seconds}s" >&2
  log="$(mktemp)"
  if ! cargo fuzz run -O "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
      -malloc_limit_mb=512 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz target $target failed; the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^Done' "$log" || true
  rm -f "$log"
done
echo "fuzz smoke: every target ran ${seconds}s without a crash"
