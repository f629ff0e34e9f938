#!/usr/bin/env bash
# Runs every benchmark of issue 5 and regenerates docs/BENCHMARKS.md.
#
#   bench/run.sh                  the full run (about 10 minutes on 2 cores, after the build)
#   BENCH_QUICK=1 bench/run.sh    a smoke run: one round, small sizes
#   BENCH_ONLY=serve,cli,ssh ...  some items only (the report keeps the others' sections from
#                                 the docs/BENCHMARKS.md it replaces, marked as kept)
#   BENCH_BUILT=1                 use the release binaries already built (no cargo build)
#   BENCH_TMP=DIR                 where scratch files go (default: /dev/shm when it has room)
#   BENCH_VENV=DIR                the venv with moto and boto3 (default: .venv-bench)
#   KEYCHAIN_LOCALSTACK_VENV=DIR  the LocalStack venv (default: .venv-localstack)
#
# It builds the workspace's `keychain-bench` and `keychain` binaries in release mode, builds
# the small OpenSSL peer bench/peer/ec_speed.c, installs what is missing (openssl, GNU time,
# the OpenSSL headers; LocalStack with scripts/install-localstack.sh; moto in .venv-bench),
# runs each item (`keychain-bench ITEM` prints JSON) and writes the report with
# bench/report.py. Not part of the tests or CI: nothing here asserts a timing.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

started_epoch=$(date +%s)
quick="${BENCH_QUICK:-0}"
only="${BENCH_ONLY:-crypto,envelope,keystore,kms,serve,cli,ssh,pkcs11}"
target_dir="${CARGO_TARGET_DIR:-target}"
out="$target_dir/bench"
results="$out/results"
mkdir -p "$results"

# ---- tools ----------------------------------------------------------------------------------
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/bin/time ] || missing+=(time)
[ -f /usr/include/openssl/evp.h ] || missing+=(libssl-dev)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v ssh-agent >/dev/null 2>&1 || missing+=(openssh-client)
# The pkcs11 item: the SoftHSM2 token and OpenSC's pkcs11-tool.
[ -f /usr/lib/softhsm/libsofthsm2.so ] || missing+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || missing+=(opensc)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "cannot install ${missing[*]}"
fi

tmp="${BENCH_TMP:-}"
if [ -z "$tmp" ]; then
  # tmpfs when it has room for the 1 GiB RSS file and its ciphertext (and fsync is free
  # there, so the file rows measure the work, not the disk); else under target/.
  if [ -d /dev/shm ] && [ -w /dev/shm ] \
     && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt $((4 * 1024 * 1024)) ]; then
    tmp=/dev/shm
  else
    tmp="$out/tmp"
  fi
fi
mkdir -p "$tmp"

# ---- build ----------------------------------------------------------------------------------
if [ "${BENCH_BUILT:-0}" = 1 ]; then
  log "using the release binaries already in $target_dir/release (BENCH_BUILT=1)"
else
  log "building keychain-bench and keychain (release)"
  cargo build --release -p keychain-bench -p keychain-cli || die "the release build failed"
fi
bench_bin="$target_dir/release/keychain-bench"
cli_bin="$target_dir/release/keychain"
cc -O2 -o "$out/ec_speed" bench/peer/ec_speed.c -lcrypto || die "cannot build bench/peer/ec_speed.c"

if [ "$quick" = 1 ]; then
  mode=quick
  crypto_args=(--rounds 1 --seconds 1)
  envelope_args=(--rounds 1 --seconds 1 --mib 32 --rss-mib 1024)
  keystore_args=(--rounds 1 --sizes 10,100,1000)
  kms_args=(--rounds 1 --calls 50 --concurrent-calls 256 --delay-ms 20)
  serve_args=(--rounds 1 --calls 50 --concurrent-calls 256 --keys 1000)
  cli_args=(--rounds 1 --calls 20 --runs 3)
  ssh_args=(--rounds 1 --calls 10 --waves 1)
  pkcs11_args=(--rounds 1 --seconds 0.3 --calls 160 --cli-calls 5)
else
  mode=full
  crypto_args=(--rounds 5 --seconds 1)
  envelope_args=(--rounds 5 --seconds 1 --mib 256 --rss-mib 1024)
  keystore_args=(--rounds 5 --sizes 10,1000,10000)
  kms_args=(--rounds 3 --calls 200 --concurrent-calls 640 --delay-ms 20)
  serve_args=(--rounds 3 --calls 200 --concurrent-calls 640 --keys 10000)
  cli_args=(--rounds 2 --calls 100 --runs 10)
  ssh_args=(--rounds 5 --calls 50 --waves 4)
  pkcs11_args=(--rounds 4 --seconds 1 --calls 800 --cli-calls 20)
fi

wants() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

load1() { cut -d' ' -f1 /proc/loadavg; }
load_start=$(load1)
failed=()

# Runs `keychain-bench ITEM ARGS...` into $results/ITEM.json; a failure is recorded there (the
# report shows it) and the other items still run.
run_item() {
  local item=$1
  shift
  log "item: $item"
  local json="$results/$item.json" err="$results/$item.stderr"
  # stdout (the JSON) to the file, stderr (progress) to the terminal and to $err.
  { "$bench_bin" "$item" "$@" --tmp "$tmp" 2>&1 >&3 3>&- | tee "$err" >&2 3>&-; } 3>"$json.new"
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then
    mv "$json.new" "$json"
  else
    failed+=("$item")
    local why
    why=$(grep -v '^\[bench\]' "$err" | tail -5)
    python3 -c 'import json, sys; print(json.dumps({"item": sys.argv[1], "error": sys.argv[2]}))' \
      "$item" "${why:-exit status $?}" >"$json"
    rm -f "$json.new"
  fi
}

wants crypto && run_item crypto "${crypto_args[@]}" --peer "$out/ec_speed"
wants envelope && run_item envelope "${envelope_args[@]}" --cli "$cli_bin"
wants keystore && run_item keystore "${keystore_args[@]}"

# The emulators: LocalStack (scripts/install-localstack.sh) and moto in $BENCH_VENV, for the
# kms and serve items.
moto_args=()
if wants kms || wants serve; then
  if [ -x scripts/install-localstack.sh ]; then
    scripts/install-localstack.sh || log "LocalStack could not be installed; the kms item will say why"
    KEYCHAIN_LOCALSTACK_PYTHON="$(cd "${KEYCHAIN_LOCALSTACK_VENV:-.venv-localstack}/bin" 2>/dev/null && pwd)/python"
    export KEYCHAIN_LOCALSTACK_PYTHON
  fi
  venv="${BENCH_VENV:-.venv-bench}"
  if ! "$venv/bin/python" -c 'import moto, boto3, flask' >/dev/null 2>&1; then
    log "creating $venv with moto (the second KMS emulator) and boto3"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check \
      'moto[server]==5.2.5' || log "moto could not be installed"
  fi
  if "$venv/bin/python" -c 'import moto, boto3' >/dev/null 2>&1; then
    bench_python="$(cd "$venv/bin" && pwd)/python"
    moto_args=(--bench-python "$bench_python" --moto-python "$bench_python")
  fi
fi
wants kms && run_item kms "${kms_args[@]}" "${moto_args[@]}"
wants serve && run_item serve "${serve_args[@]}" --cli "$cli_bin" "${moto_args[@]}"
# Instructions per Sign in KmsService::handle (callgrind; a count the machine's load does not
# move), added to the serve item's figures.
if wants serve && [ -f "$results/serve.json" ] && command -v valgrind >/dev/null 2>&1; then
  log "serve: instructions per request (valgrind --tool=callgrind)"
  if counted=$(bench/callgrind_serve.py "$bench_bin" "$tmp" 200); then
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["instructions"] = json.loads(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"), indent=1)' "$results/serve.json" "$counted"
  else
    log "callgrind failed; the serve item goes without instruction counts"
  fi
fi
wants cli && run_item cli "${cli_args[@]}" --cli "$cli_bin"
wants ssh && run_item ssh "${ssh_args[@]}" --cli "$cli_bin"
wants pkcs11 && run_item pkcs11 "${pkcs11_args[@]}" --cli "$cli_bin"

# ---- the machine, then the report ----------------------------------------------------------
dirty=""
git diff --quiet HEAD -- crates bench Cargo.toml Cargo.lock 2>/dev/null || dirty=" (with uncommitted changes)"
lock_version() {
  awk -v n="$1" '$0 == "name = \"" n "\"" {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock
}
command_line="bench/run.sh"
[ "$quick" = 1 ] && command_line="BENCH_QUICK=1 bench/run.sh"
[ -n "${BENCH_ONLY:-}" ] && command_line="BENCH_ONLY=$only $command_line"
python3 - "$results/machine.json" <<EOF
import json, sys
json.dump({
    "nproc": "$(nproc)",
    "cpu_model": """$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')""",
    "kernel": "$(uname -sr)",
    "rustc": "$(rustc --version)",
    "openssl": "$(openssl version)",
    "aws_lc_rs": "$(lock_version aws-lc-rs) (aws-lc-sys $(lock_version aws-lc-sys))",
    "aws_sdk_kms": "$(lock_version aws-sdk-kms)",
    "python": "$(python3 --version 2>&1)",
    "load_start": "$load_start",
    "load_end": "$(load1)",
    "tmp_fs": "$(stat -f -c %T "$tmp") ($( [ "$tmp" = /dev/shm ] && echo /dev/shm || echo 'BENCH_TMP or target/bench/tmp'))",
    "tree": "$(git rev-parse --short HEAD)$dirty",
    "started": "$(date -u -d @"$started_epoch" '+%Y-%m-%d %H:%M UTC')",
    "elapsed_s": $(( $(date +%s) - started_epoch )),
    "mode": "$mode",
    "command": "$command_line",
}, open(sys.argv[1], "w"), indent=1)
EOF
python3 bench/report.py "$results" docs/BENCHMARKS.md || die "the report failed"
if [ "${#failed[@]}" -gt 0 ]; then
  die "items failed: ${failed[*]} (see docs/BENCHMARKS.md and $results/*.stderr)"
fi
log "docs/BENCHMARKS.md written"
