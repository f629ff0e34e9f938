#!/usr/bin/env python3
"""Writes docs/BENCHMARKS.md from the JSON that bench/run.sh collected (python3 stdlib only).

    bench/report.py RESULTS_DIR OUTPUT.md

RESULTS_DIR holds machine.json and one JSON per item (crypto, envelope, keystore, kms, serve,
cli, ssh, pkcs11), as printed by `keychain-bench ITEM`, or {"item": ..., "error": ...} when an item failed.
An item with no JSON (not run by this `BENCH_ONLY=...` invocation) keeps its sections and
summary rows from the OUTPUT.md being replaced, marked as kept from that earlier run. Every
ratio is the median over rounds of the per-round ratio ours / peer: both sides of a round were
measured back to back, in alternating order, so the machine's noise falls on both.
"""

import json
import os
import re
import statistics
import sys


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio_median(ours, peer):
    """Median of the per-round ratios ours[i] / peer[i]."""
    return median([o / p for o, p in zip(ours, peer) if o is not None and p])


def group(n):
    """12 345 678 with thin spaces, for ops/s."""
    return f"{n:,.0f}".replace(",", "\u202f")


def ops(v):
    return f"{group(v)} ops/s" if v is not None else "—"


def rate_bytes(v):
    if v is None:
        return "—"
    return f"{v / 1e9:.2f} GB/s" if v >= 1e9 else f"{v / 1e6:.0f} MB/s"


def duration(s):
    if s is None:
        return "—"
    if s < 0:
        return "−" + duration(-s)
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.1f} µs"
    return f"{s * 1e9:.0f} ns"


def times(r):
    if r is None:
        return "—"
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"


def met(ok):
    if ok is None:
        return "—"
    return "**met**" if ok else "**not met**"


class Table:
    HEAD = "| what | ours | peer | ratio | target | met |\n|---|---|---|---|---|---|"

    def __init__(self):
        self.rows = []

    def row(self, what, ours, peer, ratio, target="reference", ok=None):
        self.rows.append(f"| {what} | {ours} | {peer} | {ratio} | {target} | {met(ok)} |")

    def render(self):
        return "\n".join([self.HEAD] + self.rows)


class Report:
    def __init__(self):
        self.parts = []
        self.summary = []  # (item, what, target, ok), or a row kept verbatim

    def add(self, text):
        self.parts.append(text)

    def target(self, item, what, target, ok):
        self.summary.append((item, what, target, ok))


def load(results, name):
    path = os.path.join(results, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def not_run(rep, data, title):
    if data is None:
        rep.add(f"Not run in this invocation of `bench/run.sh`.\n")
        rep.target(title, "—", "—", None)
        return True
    if "error" in data:
        rep.add(f"**The run failed:** `{data['error'].strip()}`\n")
        rep.target(title, "the run failed", "—", False)
        return True
    return False


# ---- item 1, 2, 6 -------------------------------------------------------------------------


def kms_items(rep, d):
    rep.add("## 1. Client overhead: our AWS KMS backend, aws-sdk-kms and boto3 on LocalStack\n")
    if not_run(rep, d, "1. client overhead"):
        rep.add("## 2. Local verify against KMS Verify\n")
        not_run(rep, d, "2. local verify")
        rep.add("## 6. Emulators as peers: LocalStack and moto\n")
        not_run(rep, d, "6. emulators")
        return
    seq = d["sequential"]
    rounds = len(seq)
    rep.add(
        f"ECDSA P-256 key, `Sign` with `MessageType=DIGEST` (ECDSA_SHA_256) and `GetPublicKey`, "
        f"{d['calls']} sequential calls per client per round, median latency per round, "
        f"{rounds} rounds rotating the order of the clients; all against one LocalStack "
        f"{d['localstack']} started by the harness on a free loopback port. Ours is "
        f"`AwsKmsBackend::sign` / `Backend::public_key` (default configuration: metadata and "
        f"public keys cached for 5 minutes); raw is the same `aws-sdk-kms` call built by hand; "
        f"boto3 {d['boto3']} times its own loop in Python (process start excluded). "
        f"Ratios are ours ÷ peer of latencies: below 1 is faster.\n"
    )
    t = Table()
    s_ours = [r["sign"]["ours"] for r in seq]
    s_raw = [r["sign"]["raw"] for r in seq]
    s_boto = [r["sign"]["boto3"] for r in seq]
    r = ratio_median(s_ours, s_raw)
    t.row("Sign, median latency: ours vs aws-sdk-kms", duration(median(s_ours)),
          duration(median(s_raw)), times(r), "≤ 1.05×", r is not None and r <= 1.05)
    rep.target("1. client overhead", "Sign latency, ours ÷ aws-sdk-kms", "≤ 1.05×",
               r is not None and r <= 1.05)
    t.row("Sign, median latency: ours vs boto3", duration(median(s_ours)),
          duration(median(s_boto)), times(ratio_median(s_ours, s_boto)))
    g = [r["get_public_key"] for r in seq]
    g_ours = [x["ours_cached"] for x in g]
    g_unc = [x["ours_uncached"] for x in g]
    g_raw = [x["raw"] for x in g]
    g_boto = [x["boto3"] for x in g]
    r = ratio_median(g_ours, g_raw)
    t.row("GetPublicKey as the backend serves it (cached after the first call) vs aws-sdk-kms",
          duration(median(g_ours)), duration(median(g_raw)), times(r), "≤ 1.05×",
          r is not None and r <= 1.05)
    rep.target("1. client overhead", "GetPublicKey latency, ours ÷ aws-sdk-kms", "≤ 1.05×",
               r is not None and r <= 1.05)
    t.row("GetPublicKey with the cache off (`cache_ttl(0)`: DescribeKey + GetPublicKey, two "
          "round trips) vs aws-sdk-kms", duration(median(g_unc)), duration(median(g_raw)),
          times(ratio_median(g_unc, g_raw)))
    t.row("GetPublicKey as served vs boto3", duration(median(g_ours)), duration(median(g_boto)),
          times(ratio_median(g_ours, g_boto)))
    rep.add(t.render() + "\n")

    conc = d["concurrency"]
    rep.add(
        f"Throughput of `Sign` with 1, 16 and 64 tasks sharing one backend (one SDK client, one "
        f"connection pool), {d['concurrent_calls']} calls per concurrent run, pools warmed "
        f"first. *Through the proxy*: a loopback TCP forwarder in the harness "
        f"(`bench/src/proxy.rs`) delays every request by {d['delay_ms']} ms, as a network "
        f"would; *direct*: LocalStack itself, which then is the bottleneck (its Python handles "
        f"the requests on the same 2 cores). Ratios are throughputs, N tasks ÷ 1 task, or "
        f"ours ÷ aws-sdk-kms.\n"
    )
    t = Table()
    for path, label in (("proxy", f"through the +{d['delay_ms']} ms proxy"),
                        ("direct", "direct to LocalStack")):
        seq1 = [c[path]["1"]["ours"] for c in conc]
        for n in ("16", "64"):
            par = [c[path][n]["ours"] for c in conc]
            r = ratio_median(par, seq1)
            if path == "proxy" and n == "64":
                t.row(f"Sign throughput, {n} tasks vs sequential, {label}",
                      f"{group(median(par))} calls/s", f"{group(median(seq1))} calls/s",
                      times(r), "≥ 8×", r is not None and r >= 8)
                rep.target("1. client overhead", "64 tasks ÷ sequential, with latency", "≥ 8×",
                           r is not None and r >= 8)
            else:
                t.row(f"Sign throughput, {n} tasks vs sequential, {label}",
                      f"{group(median(par))} calls/s", f"{group(median(seq1))} calls/s",
                      times(r))
        for n in ("1", "64"):
            o = [c[path][n]["ours"] for c in conc]
            w = [c[path][n]["raw"] for c in conc]
            t.row(f"Sign throughput, {n} task{'s' if n != '1' else ''}, ours vs aws-sdk-kms, "
                  f"{label}", f"{group(median(o))} calls/s", f"{group(median(w))} calls/s",
                  times(ratio_median(o, w)))
    rep.add(t.render() + "\n")

    rep.add("## 2. Local verify against KMS Verify\n")
    v = d["verify"]
    local = [x["local"] for x in v]
    remote = [x["remote"] for x in v]
    proxied = [x["remote_proxy"] for x in v]
    speedup = median([r / l for l, r in zip(local, remote)])
    speedup_p = median([r / l for l, r in zip(local, proxied)])
    rep.add(
        "The same P-256 signature verified by `Keychain::verify` (public key cached, verified "
        "locally by aws-lc-rs) and by `Keychain::verify_remote` (KMS `Verify`). Ours is the "
        "time per local verification over a 1 s window, the peer the median `Verify` latency; "
        "the ratio is how many times faster local verification is (peer ÷ ours).\n"
    )
    t = Table()
    ok = speedup is not None and speedup >= 100
    t.row("Verify ECDSA P-256: local vs KMS Verify on LocalStack (loopback)",
          duration(median(local)), duration(median(remote)), f"{speedup:.0f}× faster",
          "≥ 100× faster", ok)
    rep.target("2. local verify", "local ÷ KMS Verify on loopback LocalStack", "≥ 100× faster", ok)
    t.row(f"Verify ECDSA P-256: local vs KMS Verify through the +{d['delay_ms']} ms proxy",
          duration(median(local)), duration(median(proxied)), f"{speedup_p:.0f}× faster")
    rep.add(t.render() + "\n")
    rep.add(
        f"The local figure is one P-256 signature verification (compare the raw aws-lc-rs "
        f"verify of item 3) plus the handle's cache lookup, so the speed-up is bounded by the "
        f"round trip it saves: {duration(median(remote))} to an emulator on loopback, "
        f"{duration(median(proxied))} with {d['delay_ms']} ms of network latency added.\n"
    )

    rep.add("## 6. Emulators as peers: LocalStack and moto\n")
    if "emulators" not in d:
        rep.add(f"Not run: {d.get('moto_skipped', 'moto unavailable')}.\n")
        rep.target("6. emulators", "—", "reference", None)
        return
    e = d["emulators"]
    rep.add(
        f"The same sequential `Sign` workload ({d['calls']} calls per client per round, median "
        f"latency) against LocalStack {d['localstack']} and moto {d['moto']} "
        f"(`moto_server`, in its own venv), alternating. For reference only: moto ignores "
        f"`MessageType=DIGEST` (it signs a hash of the digest), so only its timing means "
        f"anything. Ratio: LocalStack ÷ moto latency.\n"
    )
    t = Table()
    for client, label in (("ours", "our backend"), ("raw", "aws-sdk-kms"), ("boto3", "boto3")):
        ls = [x["localstack"][client] for x in e]
        mo = [x["moto"][client] for x in e]
        t.row(f"Sign latency, {label}: LocalStack vs moto", duration(median(ls)),
              duration(median(mo)), times(ratio_median(ls, mo)))
    rep.add(t.render() + "\n")
    rep.target("6. emulators", "LocalStack and moto side by side", "reference", None)


# ---- item 3 -------------------------------------------------------------------------------


def crypto_item(rep, d):
    rep.add("## 3. Software backend against OpenSSL\n")
    if not_run(rep, d, "3. software vs OpenSSL"):
        return
    rep.add(
        f"Operations per second over {d['seconds']} s windows, {d['rounds']} rounds; in each "
        f"round and for each algorithm ours and the peer run back to back, the peer first in "
        f"odd rounds. **Backend**: `Backend::sign` on a key in a software keystore, with a "
        f"digest (pure Ed25519: a 32-byte message), awaited one call at a time; verify is "
        f"`PublicKey::verify` with the key the backend returned. **Raw**: the aws-lc-rs key "
        f"pair signing the same digest, and a `ParsedPublicKey` (parsed once) verifying: the "
        f"gap between the two is the backend's own overhead. **Peer**: `openssl speed "
        f"-elapsed -seconds {d['seconds']} ALG` ({d['openssl']}), wall-clock divisor like ours. "
        f"`openssl speed` 3.0 has no secp256k1 (`-evp` is for ciphers and digests only), so its "
        f"peer is `bench/peer/ec_speed.c`: the same libcrypto's `EVP_PKEY_sign`/`verify` on "
        f"contexts made once, as `openssl speed` calls them; the calibration row shows it "
        f"against `openssl speed` on P-256 in the same run. RSA is PKCS#1 v1.5 with SHA-256. "
        f"Ratios: ours ÷ peer, higher is faster.\n"
    )
    t = Table()
    for case in d["cases"]:
        rounds = case["rounds"]
        label = case["label"]
        peer_name = case["peer"]
        for op in ("sign", "verify"):
            peer = [r["peer"][op] for r in rounds]
            backend = [r[f"backend_{op}"] for r in rounds]
            raw = [r[f"raw_{op}"] for r in rounds]
            r = ratio_median(backend, peer)
            ok = r is not None and r >= 0.9
            t.row(f"{label} {op}, backend", ops(median(backend)),
                  f"{ops(median(peer))} ({peer_name})", times(r), "≥ 0.9×", ok)
            rep.target("3. software vs OpenSSL", f"{label} {op} (backend)", "≥ 0.9×", ok)
            t.row(f"{label} {op}, raw aws-lc-rs", ops(median(raw)), ops(median(peer)),
                  times(ratio_median(raw, peer)))
        if "c_peer" in rounds[0]:
            for op in ("sign", "verify"):
                c = [r["c_peer"][op] for r in rounds]
                p = [r["peer"][op] for r in rounds]
                t.row(f"calibration: C peer (`ec_speed prime256v1`) vs `openssl speed "
                      f"ecdsap256`, {op}", ops(median(c)), ops(median(p)),
                      times(ratio_median(c, p)), "≈ 1×")
    rep.add(t.render() + "\n")

    # Where a backend signature's time goes: the same operation through the backend and
    # raw, and the hop to tokio's blocking pool that slow software backend calls make.
    hop = median([1 / x for x in d.get("spawn_blocking_per_second", []) if x]) \
        if d.get("spawn_blocking_per_second") else None
    lines = [
        "The backend's own cost per signature: time per call through `Backend::sign` minus "
        "the raw aws-lc-rs signature (medians of the per-round differences), beside the cost "
        "of one empty `spawn_blocking` awaited on the same runtime (the hop the software "
        "backend makes for RSA signatures and for anything that must load a key or take the "
        "keystore lock; EC and Ed25519 signatures with a loaded key are made on the calling "
        "task, as their overhead column shows):\n",
        "| algorithm | backend, per signature | raw aws-lc-rs | backend overhead | "
        "`spawn_blocking` hop alone |",
        "|---|---|---|---|---|",
    ]
    for case in d["cases"]:
        rounds = case["rounds"]
        b = median([1 / r["backend_sign"] for r in rounds])
        w = median([1 / r["raw_sign"] for r in rounds])
        over = median([1 / r["backend_sign"] - 1 / r["raw_sign"] for r in rounds])
        lines.append(f"| {case['label']} | {duration(b)} | {duration(w)} | {duration(over)} | "
                     f"{duration(hop)} |")
    rep.add("\n".join(lines) + "\n")


# ---- item 4 -------------------------------------------------------------------------------


def envelope_item(rep, d):
    rep.add("## 4. Envelope encryption\n")
    if not_run(rep, d, "4. envelope"):
        return
    m = d["memory"]
    mib = d["mib"]
    chunk = d["chunk_size"] // 1024
    rep.add(
        f"**In memory**: `SealingKey::seal` / `OpeningKey::open` ({chunk} KiB chunks, "
        f"AES-256-GCM, a data key from a software keystore per stream) streaming a {mib} MiB "
        f"buffer into `io::sink()`, repeated over {d['seconds']} s windows, against `openssl "
        f"speed -elapsed -seconds {d['seconds']} -bytes 16384 [-decrypt] -evp aes-256-gcm` "
        f"(the 16 KiB column), {d['rounds']} rounds alternating. Throughput in bytes of "
        f"plaintext per second (1 GB = 10⁹ bytes); ratios ours ÷ peer.\n"
    )
    t = Table()
    seal = [x["seal"] for x in m]
    opn = [x["open"] for x in m]
    raw = [x["raw_gcm_16k"] for x in m]
    penc = [x["openssl_gcm_16k_encrypt"] for x in m]
    pdec = [x["openssl_gcm_16k_decrypt"] for x in m]
    r = ratio_median(seal, penc)
    ok = r is not None and r >= 0.8
    t.row(f"encrypt: envelope stream, {mib} MiB in memory", rate_bytes(median(seal)),
          f"{rate_bytes(median(penc))} (openssl speed aes-256-gcm, 16 KiB)", times(r),
          "≥ 0.8×", ok)
    rep.target("4. envelope", "encrypt throughput ÷ OpenSSL AES-256-GCM", "≥ 0.8×", ok)
    r = ratio_median(opn, pdec)
    ok = r is not None and r >= 0.8
    t.row(f"decrypt: envelope stream, {mib} MiB in memory", rate_bytes(median(opn)),
          f"{rate_bytes(median(pdec))} (openssl speed -decrypt aes-256-gcm, 16 KiB)", times(r),
          "≥ 0.8×", ok)
    rep.target("4. envelope", "decrypt throughput ÷ OpenSSL AES-256-GCM", "≥ 0.8×", ok)
    t.row("raw aws-lc-rs AES-256-GCM seal, 16 KiB blocks in place", rate_bytes(median(raw)),
          rate_bytes(median(penc)), times(ratio_median(raw, penc)))
    if "files" in d:
        f = d["files"]
        for ours_k, peer_k, label, peer_label in (
            ("cli_encrypt", "openssl_enc", "`keychain encrypt`", "`openssl enc -aes-256-ctr`"),
            ("cli_decrypt", "openssl_dec", "`keychain decrypt`", "`openssl enc -d -aes-256-ctr`"),
        ):
            o = [x[ours_k] for x in f]
            p = [x[peer_k] for x in f]
            t.row(f"{label}, {mib} MiB file to file (whole process)", rate_bytes(median(o)),
                  f"{rate_bytes(median(p))} ({peer_label})", times(ratio_median(o, p)))
    if "rss" in d:
        rss = d["rss"]
        lim = 64 * 1024
        ok_e = rss["cli_encrypt_kib"] <= lim
        ok_d = rss["cli_decrypt_kib"] <= lim
        mib_of = lambda k: f"{k / 1024:.1f} MiB"  # noqa: E731
        t.row(f"peak RSS, `keychain encrypt` of a {rss['file_mib']} MiB sparse file",
              mib_of(rss["cli_encrypt_kib"]),
              f"{mib_of(rss['openssl_enc_kib'])} (`openssl enc`)",
              times(rss["cli_encrypt_kib"] / rss["openssl_enc_kib"]), "≤ 64 MiB", ok_e)
        t.row(f"peak RSS, `keychain decrypt` of that file", mib_of(rss["cli_decrypt_kib"]),
              f"{mib_of(rss['openssl_enc_kib'])} (`openssl enc`)",
              times(rss["cli_decrypt_kib"] / rss["openssl_enc_kib"]), "≤ 64 MiB", ok_d)
        rep.target("4. envelope", f"peak RSS on {rss['file_mib']} MiB (encrypt, decrypt)",
                   "≤ 64 MiB", ok_e and ok_d)
    rep.add(t.render() + "\n")
    if "files" in d:
        rep.add(
            f"The file rows time whole `keychain` processes (start, keystore open, data key, "
            f"stream, fsync and rename of the output) against `openssl enc` (no fsync; it has "
            f"no GCM, hence CTR); they have no target. Peak RSS is measured with "
            f"{d.get('rss', {}).get('how', '—')}.\n"
        )


# ---- item 5 -------------------------------------------------------------------------------

KS_OPS = (
    ("create", "create a named P-256 key"),
    ("open", "open the keystore (KDF, verifier)"),
    ("list_per_key", "list all keys, per key listed"),
    ("describe", "describe a key by alias"),
    ("sign_cold", "sign, first use of the key after opening"),
    ("sign_warm", "sign, key material cached"),
)


def keystore_item(rep, d):
    rep.add("## 5. Keystore scale\n")
    if not_run(rep, d, "5. keystore scale"):
        return
    sizes = [str(s) for s in d["sizes"]]
    base = sizes[0]
    res = d["results"]
    rep.add(
        f"Software keystores holding {', '.join(sizes)} keys ({d['key_spec']}, each with a "
        f"name and so an alias file; PBKDF2 with {d['kdf_iterations']} iterations instead of "
        f"the default 600 000, so that building them takes seconds; it does not enter any "
        f"per-key figure but `open`). Every store is measured in every round "
        f"({d['rounds']} rounds, the order rotating); created keys are purged again after each "
        f"round so the counts stay put. Ours is the time per operation at N keys, the peer the "
        f"same operation on the {base}-key store in the same round; the ratio (median of "
        f"per-round ratios) is ~1.0 when the cost per operation does not grow with the number "
        f"of keys. Listing is per key listed: a flat figure means the listing is linear.\n"
    )
    t = Table()
    for op, label in KS_OPS:
        b = [r[base][op] for r in res]
        for n in sizes[1:]:
            o = [r[n][op] for r in res]
            r = ratio_median(o, b)
            ok = r is not None and r <= 1.5
            t.row(f"{label}: {n} vs {base} keys", duration(median(o)), duration(median(b)),
                  times(r), "flat (≤ 1.5×)", ok)
            rep.target("5. keystore scale", f"{op} at {n} keys ÷ at {base}", "≤ 1.5×", ok)
    rep.add(t.render() + "\n")
    rep.add("The curve (median time per operation):\n")
    lines = ["| operation | " + " | ".join(f"{n} keys" for n in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for op, label in KS_OPS:
        lines.append(f"| {label} | "
                     + " | ".join(duration(median([r[n][op] for r in res])) for n in sizes)
                     + " |")
    build = d.get("build_seconds_per_key", {})
    lines.append("| (building the store, per key, 8 creates at a time) | "
                 + " | ".join(duration(build.get(n)) for n in sizes) + " |")
    rep.add("\n".join(lines) + "\n")


# ---- sections kept from the previous document -----------------------------------------------

# The numbered sections ("## N. ...") and summary rows ("| N. ...") each item writes.
ITEM_NUMBERS = {"kms": ["1", "2", "6"], "crypto": ["3"], "envelope": ["4"], "keystore": ["5"],
                "serve": ["7"], "cli": ["8"], "ssh": ["9"],
                "pkcs11": ["10"]}


# Sections that other scripts write into the same document (bench/age.sh's "## age plugin"):
# never written here, always carried over as they are, after the numbered items.
OWN_SECTIONS = ("Machine", "Summary")


def previous_document(path):
    """The sections, summary rows and run line of the document at `path`, and the sections
    other scripts wrote there (empty if none)."""
    sections, summary, run, others = {}, {}, "an earlier run", []
    if not os.path.exists(path):
        return sections, summary, run, others
    with open(path) as f:
        text = f.read()
    m = re.search(r"^\| run \| (.*) \|$", text, re.M)
    if m:
        run = m.group(1).split(",")[0]
    for line in text.splitlines():
        m = re.match(r"^\| (\d+)\. ", line)
        if m:
            summary.setdefault(m.group(1), []).append(line)
    for chunk in re.split(r"^(?=## )", text, flags=re.M):
        m = re.match(r"^## (\d+)\. ", chunk)
        if m:
            sections[m.group(1)] = chunk.rstrip() + "\n"
        elif chunk.startswith("## ") and chunk[3:].split("\n")[0].strip() not in OWN_SECTIONS:
            others.append(chunk.rstrip() + "\n")
    return sections, summary, run, others


def keep_previous(rep, item, previous):
    """Adds `item`'s sections and summary rows from the previous document; False if it had
    none."""
    sections, summary, run, _ = previous
    numbers = ITEM_NUMBERS[item]
    if not all(n in sections for n in numbers):
        return False
    for n in numbers:
        head, _, rest = sections[n].partition("\n")
        if "_Not rerun by this invocation" not in rest:
            rest = (f"\n_Not rerun by this invocation: kept from the previous document "
                    f"(whose last run was {run})._\n{rest}")
        rep.add(f"{head}\n{rest}")
        for row in summary.get(n, []):
            rep.summary.append(row)
    return True


# ---- the document --------------------------------------------------------------------------


def previous_versions(path):
    """The emulators' versions in the machine table of the document at `path`, for a run
    that measured neither the kms nor the serve item."""
    found = {}
    if os.path.exists(path):
        with open(path) as f:
            for name in ("LocalStack", "moto", "boto3"):
                m = re.search(rf"^\| {name} \| (.*) \|$", f.read(), re.M)
                f.seek(0)
                if m:
                    found[name.lower()] = m.group(1)
    return found


def machine_section(m, kms, serve, previous=None):
    # LocalStack's and moto's versions: from the kms item, else from the serve item, else
    # from the document being replaced (its sections for them are kept too).
    if not kms or "error" in kms:
        kms = serve
    if (not kms or "error" in kms) and previous:
        kms = previous
    rows = [
        ("CPU", f"{m.get('cpu_model', '?')}, nproc {m.get('nproc', '?')}"),
        ("kernel", m.get("kernel", "?")),
        ("rustc", m.get("rustc", "?")),
        ("OpenSSL", m.get("openssl", "?")),
        ("aws-lc-rs", m.get("aws_lc_rs", "?")),
        ("aws-sdk-kms", m.get("aws_sdk_kms", "?")),
        ("LocalStack", kms.get("localstack", "—") if kms and "error" not in kms else "—"),
        ("moto", kms.get("moto", "—") if kms and "error" not in kms else "—"),
        ("boto3", kms.get("boto3", "—") if kms and "error" not in kms else "—"),
        ("Python", m.get("python", "?")),
        ("load average (1 min) at start / end", f"{m.get('load_start', '?')} / "
                                                 f"{m.get('load_end', '?')}"),
        ("scratch files on", m.get("tmp_fs", "?")),
        ("tree measured", m.get("tree", "?")),
        ("run", f"{m.get('started', '?')}, {m.get('mode', '?')} mode, "
                f"{m.get('elapsed_s', '?')} s"),
    ]
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py RESULTS_DIR OUTPUT.md")
    results, output = sys.argv[1], sys.argv[2]
    m = load(results, "machine") or {}
    crypto = load(results, "crypto")
    env = load(results, "envelope")
    ks = load(results, "keystore")
    kms = load(results, "kms")
    serve = load(results, "serve")
    cli = load(results, "cli")
    ssh = load(results, "ssh")
    p11 = load(results, "pkcs11")
    from report_pkcs11 import pkcs11_item
    from report_serve import cli_item, serve_item
    from report_ssh import ssh_item

    previous = previous_document(output)
    body = Report()
    for item, data, write in (("kms", kms, kms_items), ("crypto", crypto, crypto_item),
                              ("envelope", env, envelope_item), ("keystore", ks, keystore_item),
                              ("serve", serve, serve_item), ("cli", cli, cli_item),
                              ("ssh", ssh, ssh_item), ("pkcs11", p11, pkcs11_item)):
        if data is not None or not keep_previous(body, item, previous):
            write(body, data)

    out = [
        "# Benchmarks",
        "",
        "<!-- Generated by bench/run.sh (bench/report.py): do not edit by hand, rerun it. -->",
        "",
        "What keychain costs next to its peers (issue 5). Every result is a **ratio of ours to "
        "a peer measured in the same run**: each round runs both back to back, alternating "
        "which goes first, and the ratio is the median of the per-round ratios. Absolute "
        "figures are there for scale only: this machine has 2 shared cores on which other "
        "work (compilers, test suites) runs at the same time, so they move from run to run "
        "while the ratios hold. The load average at the start and end of the run is in the "
        "machine table below: other engineers' builds were running during these runs, which "
        "slows both sides of every ratio alike but widens the absolute figures. Nothing here "
        "is a test: no test asserts a timing.",
        "",
        "Reproduce (from the repository root; it builds in release mode, installs what it "
        "lacks — `openssl`, `time`, the OpenSSL headers, LocalStack, moto in `.venv-bench` — "
        "and rewrites this file):",
        "",
        "```",
        m.get("command", "bench/run.sh"),
        "```",
        "",
        "`BENCH_QUICK=1 bench/run.sh` is a smoke run (one round, small sizes; its numbers are "
        "not for quoting); `BENCH_ONLY=crypto,envelope,keystore,kms,serve,cli,ssh,pkcs11` runs some items "
        "only (the sections of the others are kept from the previous document, marked so).",
        "",
        "## Machine",
        "",
        machine_section(m, kms, serve, previous_versions(output)),
        "",
        "## Summary",
        "",
        "| item | what | target | met |",
        "|---|---|---|---|",
    ]
    for entry in body.summary:
        if isinstance(entry, str):
            out.append(entry)
            continue
        item, what, target, ok = entry
        out.append(f"| {item} | {what} | {target} | {met(ok)} |")
    out.append("")
    for part in body.parts:
        out.append(part)
    for part in previous[3]:
        out.append(part)
    text = "\n".join(out).rstrip() + "\n"
    with open(output, "w") as f:
        f.write(text)
    print(f"wrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
