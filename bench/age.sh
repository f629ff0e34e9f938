#!/usr/bin/env bash
# age with the keychain plugin against age's native X25519 recipients: `age -e` and `age -d`
# of a 1 KiB and a 100 MiB file, whole processes, and the section "age plugin" of
# docs/BENCHMARKS.md rewritten with the results (bench/report.py carries that section over).
#
#   bench/age.sh                      builds keychain and age-plugin-keychain in release mode
#   BENCH_PROFILE=debug bench/age.sh  uses the debug build instead (no release build)
#   BENCH_BUILT=1                     uses the binaries already built (no cargo build)
#   BENCH_RUNS=N                      runs per cell, median taken (default 3; 1 = one run)
#   BENCH_TMP=DIR                     scratch directory (default: a fresh one under /tmp)
#
# Three ways to reach the key: a software keystore with the default PBKDF2 count (each plugin
# process opens it), the same keystore behind one `keychain serve` on loopback (the plugin is
# given an `awskms://127.0.0.1:PORT` recipient and opens nothing), and RSA encryption (the
# public key is in the recipient). The plugin process itself is timed with /usr/bin/time, so
# its own share is measured, not inferred. Not part of the tests: nothing here asserts a
# timing.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${BENCH_PROFILE:-release}"
runs="${BENCH_RUNS:-3}"
target_dir="${CARGO_TARGET_DIR:-target}"
for tool in age age-keygen; do
  command -v "$tool" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq age >/dev/null; }
done
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
if [ "${BENCH_BUILT:-0}" = 1 ]; then
  :  # the binaries of $profile are already built
elif [ "$profile" = release ]; then
  cargo build --release -q -p keychain-cli -p age-plugin-keychain
else
  cargo build -q -p keychain-cli -p age-plugin-keychain
fi
bin="$(cd "$target_dir/$profile" && pwd)"

tmp="${BENCH_TMP:-$(mktemp -d)}"
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The plugin, wrapped so that each of its runs appends "elapsed user system" to $plugin_log.
plugin_log="$tmp/plugin.log"
mkdir -p "$tmp/wrapped"
cat >"$tmp/wrapped/age-plugin-keychain" <<EOF
#!/bin/sh
exec /usr/bin/time -a -f '%e %U %S' -o '$plugin_log' '$bin/age-plugin-keychain' "\$@"
EOF
chmod 755 "$tmp/wrapped/age-plugin-keychain"
export PATH="$tmp/wrapped:$bin:$PATH"

export KEYCHAIN_PASSWORD="bench password"
export KEYCHAIN_BACKEND="software:$tmp/keystore"
unset KEYCHAIN_PASSWORD_FILE KEYCHAIN_KDF_ITERATIONS
keychain key create age-bench --spec SYMMETRIC_DEFAULT >/dev/null
keychain key create age-bench-rsa --spec RSA_3072 --usage ENCRYPT_DECRYPT >/dev/null
keychain age identity age-bench --out "$tmp/aes.identity"
keychain age identity age-bench-rsa --out "$tmp/rsa.identity"
age-keygen -o "$tmp/native.key" 2>/dev/null
native="$(age-keygen -y "$tmp/native.key")"

# The same keystore behind one `keychain serve` (opened once, with the test credentials
# it accepts on loopback): the plugin's session.
keychain serve --listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
serve_pid=$!
for _ in $(seq 300); do grep -q '^listening on ' "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
addr="$(sed -n 's|^listening on http://||p' "$tmp/serve.out")"
[ -n "$addr" ] || { echo "bench/age.sh: keychain serve did not start: $(cat "$tmp/serve.err")" >&2; exit 1; }
session_backend="awskms://$addr/?region=us-east-1"
session() {
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test KEYCHAIN_BACKEND="$session_backend" "$@"
}
session keychain age identity age-bench --out "$tmp/session.identity"

head -c 1024 /dev/urandom >"$tmp/1KiB"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$tmp/100MiB"

# Seconds, wall clock, of one run of the command.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}

median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# The plugin's elapsed seconds in its last run (the wrapper's log line).
plugin_elapsed() { tail -1 "$plugin_log" | cut -d' ' -f1; }

rows=""
ratio_100=()
for kind in aes session rsa; do
  case "$kind" in
    aes) ours="$(keychain age recipient age-bench)"; label="AES key, keystore opened per file"
         identity="$tmp/aes.identity"; wrap=() ;;
    session) ours="$(session keychain age recipient age-bench)"
             label="AES key, through \`keychain serve\`"; identity="$tmp/session.identity"
             wrap=(env AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test) ;;
    rsa) ours="$(keychain age recipient age-bench-rsa)"; label="RSA-3072 key"
         identity="$tmp/rsa.identity"; wrap=() ;;
  esac
  for size in 1KiB 100MiB; do
    for op in encrypt decrypt; do
      t_ours=(); t_native=(); t_plugin=()
      for run in $(seq "$runs"); do
        # Alternate which side goes first, so the machine's noise falls on both.
        for side in $( [ $((run % 2)) = 1 ] && echo "ours native" || echo "native ours"); do
          if [ "$op" = encrypt ]; then
            if [ "$side" = ours ]; then
              t_ours+=("$(seconds "${wrap[@]}" age -r "$ours" -o "$tmp/$size.ours.age" "$tmp/$size")")
              t_plugin+=("$(plugin_elapsed)")
            else
              t_native+=("$(seconds age -r "$native" -o "$tmp/$size.native.age" "$tmp/$size")")
            fi
          else
            if [ "$side" = ours ]; then
              rm -f "$tmp/$size.ours.out"
              t_ours+=("$(seconds "${wrap[@]}" age -d -i "$identity" -o "$tmp/$size.ours.out" "$tmp/$size.ours.age")")
              t_plugin+=("$(plugin_elapsed)")
              cmp -s "$tmp/$size" "$tmp/$size.ours.out" || { echo "bench/age.sh: $size did not round trip" >&2; exit 1; }
            else
              rm -f "$tmp/$size.native.out"
              t_native+=("$(seconds age -d -i "$tmp/native.key" -o "$tmp/$size.native.out" "$tmp/$size.native.age")")
            fi
          fi
        done
      done
      rm -f "$tmp/$size.ours.out" "$tmp/$size.native.out"
      m_ours=$(median "${t_ours[@]}"); m_native=$(median "${t_native[@]}"); m_plugin=$(median "${t_plugin[@]}")
      added=$(python3 -c "print(f'{$m_ours - $m_native:.3f}')")
      ratio=$(python3 -c "print(f'{$m_native / $m_ours:.2f}')")
      [ "$size" = 100MiB ] && ratio_100+=("$kind $op $ratio $m_native $m_plugin")
      rows+="| $label | $size | age -${op:0:1} | $(printf '%.3f' "$m_native") | $(printf '%.3f' "$m_ours") | $added | $(printf '%.3f' "$m_plugin") | ${ratio}× |"$'\n'
    done
  done
done
load="$(cut -d' ' -f1 /proc/loadavg)"

# The keystore's PBKDF2 alone: `keychain key list` on this keystore (opened, nothing signed)
# against the same on a keystore made with 2048 iterations.
KEYCHAIN_BACKEND="software:$tmp/fast" KEYCHAIN_KDF_ITERATIONS=2048 keychain keystore init >/dev/null
t_slow=(); t_fast=()
for _ in $(seq 5); do
  t_slow+=("$(seconds keychain key list)")
  t_fast+=("$(KEYCHAIN_BACKEND="software:$tmp/fast" seconds keychain key list)")
done
kdf=$(python3 -c "print(f'{$(median "${t_slow[@]}") - $(median "${t_fast[@]}"):.3f}')")

verdict=$(python3 - "$kdf" "${ratio_100[@]}" <<'PY'
import statistics, sys
kdf = float(sys.argv[1])
cells = [c.split() for c in sys.argv[2:]]
names = {"aes": "the keystore opened per file", "session": "through `keychain serve`",
         "rsa": "RSA-3072"}
lines = []
for kind in ("aes", "session", "rsa"):
    got = {op: (float(r), float(n), float(p)) for k, op, r, n, p in cells if k == kind}
    if not got:
        continue
    ok = all(r >= 0.9 for r, _, _ in got.values())
    parts = {op: n / (n + p) for op, (_, n, p) in got.items()}
    lines.append(
        f"- 100 MiB, {names[kind]}: measured encrypt {got['encrypt'][0]:.2f}×, decrypt "
        f"{got['decrypt'][0]:.2f}× — the 0.9× target is {'**met**' if ok else '**not met**'} "
        f"in this run. From its parts (age's own X25519 time ÷ that time plus the plugin "
        f"process's): encrypt {parts['encrypt']:.2f}×, decrypt {parts['decrypt']:.2f}×.")
native = statistics.median(float(n) for _, _, _, n, _ in cells)
share = kdf / native if native else float("nan")
lines.append("")
lines.append(
    f"Why: the plugin's cost is per file, whatever the file's size — a process start and, "
    f"where it opens the software keystore, the keystore's PBKDF2 (600 000 iterations of "
    f"PBKDF2-HMAC-SHA256, the keystore's defence against password guessing), then one backend "
    f"call. Here the PBKDF2 alone took {kdf:.3f} s (`keychain key list` on this keystore "
    f"minus the same on one made with 2048 iterations), {100 * share:.0f} % of age's own "
    f"{native:.3f} s on 100 MiB (median of the X25519 rows); 0.9× leaves the plugin 11 %. "
    f"Where each plugin process opens the keystore, the target holds only when age's own "
    f"work is nine times the PBKDF2, which it {'is' if native >= 9 * kdf else 'is not'} on "
    f"this machine; lowering the iteration "
    f"count to reach it would weaken the keystore. Through `keychain serve` the keystore is "
    f"opened once and the plugin pays a process start and one loopback call; encrypting to "
    f"an RSA recipient pays only the process start.")
print("\n".join(lines))
PY
)

section="## age plugin

\`bench/age.sh\` ($profile build, $(nproc) cores, load average $load at the end, age
$(age --version | head -1) from Debian; median of $runs runs of each whole process, alternating
which side goes first): age with \`age1keychain1\` recipients against a native X25519
recipient. ratio = X25519 time ÷ plugin time (1.00× is no cost); \"plugin process\" is the
plugin's own wall time measured by /usr/bin/time around it, the part of the difference that is
ours. Three ways to the key: an AES key of a software keystore with the default PBKDF2 count,
which every plugin process opens; the same key through one \`keychain serve\` on loopback (the
recipient names \`awskms://127.0.0.1:PORT\`; the server opened the keystore once); an RSA-3072
key, whose recipient carries the public key (encrypting opens nothing, decrypting opens the
keystore).

| key | file | operation | X25519 (s) | keychain plugin (s) | added (s) | plugin process (s) | ratio |
|---|---|---|---|---|---|---|---|
${rows}
${verdict}

The machine is shared (load average $load on $(nproc) cores at the end): waiting for a core
adds noise of the same order as the plugin's own time, so single wall-clock figures move
between runs, up to a ratio above 1 (the plugin side faster than age alone, which only
noise can do); the medians, the plugin-process column and the ratio from the parts are the
ones to read. A quiet machine would measure the wall-clock ratio as the parts predict it."

doc=docs/BENCHMARKS.md
python3 - "$doc" "$section" <<'PY'
import sys
path, section = sys.argv[1], sys.argv[2].rstrip("\n") + "\n"
text = open(path).read()
start = text.find("## age plugin")
if start == -1:
    text = text.rstrip("\n") + "\n\n" + section
else:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + ("" if end == -1 else text[end:])
open(path, "w").write(text)
PY
echo "$section"
