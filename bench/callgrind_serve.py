#!/usr/bin/env python3
"""Instructions per Sign request in `KmsService::handle`, counted by valgrind's callgrind.

Usage: callgrind_serve.py KEYCHAIN_BENCH TMPDIR [CALLS]

Runs `keychain-bench serve-handle` twice under callgrind, with no timed requests and with
CALLS of them (default 200), and prints as JSON the difference per request: the whole
program, and the inclusive counts of the SigV4 check, the backend's Sign and the raw aws-lc-rs
signature. An instruction count does not move with the load of a shared machine the way a
time does, so it shows what a change to the server saves. Counts are of every thread (the
blocking pool included); time in the kernel (syscalls, thread wake-ups) is not counted.
"""

import json
import re
import subprocess
import sys

# Inclusive counts read from callgrind_annotate, by the symbol's full name.
PARTS = {
    "sigv4": "keychain_server::auth::authenticate",
    "backend_sign": "<keychain::observe::Traced as keychain::backend::Backend>::sign::{{closure}}",
    "raw_signature": "aws_lc_rs::ec::key_pair::EcdsaKeyPair::sign_digest",
    "respond": "keychain_server::protocol::respond",
}


def counts(bench, tmp, calls):
    out = f"{tmp}/callgrind.{calls}.out"
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", bench,
         "serve-handle", "--calls", str(calls), "--tmp", tmp],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                          check=True, capture_output=True, text=True).stdout
    found = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) .*PROGRAM TOTALS", line)
        if m:
            found["total"] = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*?:(.*) \[", line)
        if m:
            for part, symbol in PARTS.items():
                if m.group(2) == symbol:
                    found[part] = found.get(part, 0) + int(m.group(1).replace(",", ""))
    return found


def main():
    bench, tmp = sys.argv[1], sys.argv[2]
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    none, some = counts(bench, tmp, 0), counts(bench, tmp, calls)
    per = {k: (some.get(k, 0) - none.get(k, 0)) / calls for k in set(none) | set(some)}
    per["calls"] = calls
    print(json.dumps(per))


if __name__ == "__main__":
    main()
