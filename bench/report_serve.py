"""Items 7 and 8 of docs/BENCHMARKS.md: `keychain serve` against the KMS emulators (issue 12)
and the cost of one CLI call, cold or through a session (issue 16). Imported by report.py."""

from report import Table, duration, median, not_run, ops, ratio_median, times

MIB = 1024 * 1024


def serve_item(rep, d):
    title = "7. keychain serve"
    rep.add("## 7. `keychain serve` against LocalStack and moto (issue 12)\n")
    if not_run(rep, d, title):
        return
    seq, conc = d["sequential"], d["concurrent"]
    peers = [p for p in ("localstack", "moto") if p in conc[0]]
    names = {"localstack": f"LocalStack {d['localstack']}", "moto": f"moto {d.get('moto', '')}"}
    rep.add(
        f"Every side is called with `aws-sdk-kms` (one client per server, its pool warmed): "
        f"`Sign` of a SHA-256 digest (`MessageType=DIGEST`, ECDSA_SHA_256) with a P-256 key "
        f"created through the same server. `keychain serve` is the release binary serving a "
        f"software keystore of {d['keys']} P-256 keys (2048 PBKDF2 iterations, so that it builds "
        f"in seconds; the iteration count costs nothing per request). Per round: {d['calls']} "
        f"sequential calls per server (p50 and p99 of their latencies), then "
        f"{d['concurrent_calls']} calls from {d['tasks']} concurrent tasks; {d['rounds']} rounds "
        f"rotating the order of the servers. Ratios are `keychain serve` ÷ peer "
        f"(throughput: above 1 is faster; latency: peer ÷ ours, above 1 is lower).\n"
    )
    t = Table()
    ours_tp = [r["serve"] for r in conc]
    ours_p50 = [r["serve"]["p50"] for r in seq]
    for p in peers:
        peer_tp = [r[p] for r in conc]
        ratio = ratio_median(ours_tp, peer_tp)
        ok = ratio is not None and ratio >= 20
        t.row(f"Sign throughput, {d['tasks']} tasks, vs {names[p]}", ops(median(ours_tp)),
              ops(median(peer_tp)), times(ratio), "≥ 20×", ok)
        rep.target(title, f"Sign throughput ({d['tasks']} tasks) ÷ {p}", "≥ 20×", ok)
    for p in peers:
        peer_p50 = [r[p]["p50"] for r in seq]
        ratio = ratio_median(peer_p50, ours_p50)
        ok = ratio is not None and ratio >= 10
        t.row(f"sequential Sign p50 latency, {names[p]} ÷ ours", duration(median(ours_p50)),
              duration(median(peer_p50)), times(ratio), "≥ 10× lower", ok)
        rep.target(title, f"sequential Sign p50, {p} ÷ ours", "≥ 10×", ok)
    for p in ["serve"] + peers:
        t.row(f"sequential Sign p99 latency, {names.get(p, '`keychain serve`')}",
              duration(median([r[p]["p99"] for r in seq])), "", "", "")
    rss = d["peak_rss_kib"] * 1024
    ok = rss <= 64 * MIB
    t.row(f"peak RSS of the server, {d['keys_listed']} keys listed and each signed with once",
          f"{rss / MIB:.1f} MiB", "", "", "≤ 64 MiB", ok)
    rep.target(title, f"peak RSS with {d['keys']} keys", "≤ 64 MiB", ok)
    ready = d["ready"]
    for key, label in (("default_kdf_1_key", "keystore with the default KDF (600 000 "
                                            "iterations), 1 key"),
                       ("many_keys", f"keystore of {d['keys']} keys (2048 iterations)")):
        listening = median([r[key]["listening"] for r in ready])
        first = median([r[key]["first_sign"] for r in ready])
        ok = first <= 0.2
        t.row(f"spawn → `listening on` line, {label}", duration(listening), "", "", "")
        t.row(f"spawn → first successful Sign, {label}", duration(first), "", "", "≤ 200 ms", ok)
        rep.target(title, f"ready to serve (first Sign), {label}", "≤ 200 ms", ok)
    rep.add(t.render() + "\n")
    rep.add(
        f"Peak RSS is the server's VmHWM at the end, after the timed rounds, a `ListKeys` "
        f"through every key ({d['keys_listed']} keys, pages of 1000) and one `Sign` with each "
        f"of the {d['keys']} keys from 64 tasks ({duration(d['sign_every_key_s'])} for all of "
        f"them, so each key file was decrypted once). Ready to serve is measured from the "
        f"spawn of the process to its `listening on` line on stdout and to the answer of a "
        f"first `Sign` sent on a new connection as soon as that line is read (the keystore "
        f"opened, the key decrypted).\n"
    )

    b = d["breakdown"]
    m = {k: median([r[k] for r in b]) for k in b[0]}
    p50 = median(ours_p50)
    rows = [
        ("raw aws-lc-rs P-256 signature (`EcdsaKeyPair::sign`)", m["raw_aws_lc"]),
        ("library: `Backend::sign` on the software keystore (key cached)", m["library_sign"]),
        ("SigV4 signature of the request (`aws-sigv4`; the server recomputes one per request)",
         m["sigv4_sign"]),
        ("JSON: parse the Sign request, base64, build and serialise the answer", m["json"]),
        ("`KmsService::handle`, a whole Sign without a socket (SigV4 + JSON + backend)",
         m["handle_sign"]),
        ("`KmsService::handle`, a Sign with a wrong secret (SigV4 check and error answer only)",
         m["handle_bad_signature"]),
        ("**client-measured p50 over loopback** (aws-sdk-kms, same round's figures)", p50),
        ("… of which outside `handle`: HTTP (hyper), loopback, tokio, the SDK client "
         "(its own SigV4 signing included)", p50 - m["handle_sign"] if p50 else None),
        ("… of which in `handle` beyond the backend: SigV4 check, JSON, routing, request id",
         m["handle_sign"] - m["library_sign"]),
        ("… of which the backend beyond the raw signature (key lookup, locking, DER)",
         m["library_sign"] - m["raw_aws_lc"]),
    ]
    lines = [
        "Where one request's time goes (in-process figures, median over rounds of the time "
        "per operation over a 1 s window; the server's own answer is `KmsService::handle`, "
        "the code `keychain serve` runs per request, here on the same keystore opened in the "
        "harness's process):\n",
        "| per Sign request | time | share of the p50 |",
        "|---|---|---|",
    ]
    for what, v in rows:
        share = f"{100 * v / p50:.0f} %" if (v is not None and p50) else "—"
        lines.append(f"| {what} | {duration(v)} | {share} |")
    if "localstack" in seq[0] and p50:
        ls_p50 = median([r["localstack"]["p50"] for r in seq])
        lines.append("")
        lines.append(
            f"With LocalStack's p50 at {duration(ls_p50)}, a 10× lower p50 leaves "
            f"{duration(ls_p50 / 10)} per request, while the part outside `handle` alone — "
            f"HTTP, the loopback and the aws-sdk-kms client, the same client that measures "
            f"LocalStack — takes {duration(p50 - m['handle_sign'])}: on this machine the client "
            f"bounds the ratio before the server does; the server's own share is "
            f"`KmsService::handle`, {duration(m['handle_sign'])} per Sign.")
    rep.add("\n".join(lines) + "\n")

    ins = d.get("instructions")
    if ins and "error" not in d:
        total = ins["total"]
        rest = total - ins["sigv4"] - ins["backend_sign"]
        rows = [
            ("raw aws-lc-rs P-256 signature", ins["raw_signature"]),
            ("the backend's Sign beyond it (key lookup, checks, DER)",
             ins["backend_sign"] - ins["raw_signature"]),
            ("SigV4 check (`aws-sigv4`: canonical request, SHA-256, HMAC key derivation)",
             ins["sigv4"]),
            ("the rest: JSON in and out, routing, key metadata, request id, runtime", rest),
            ("**whole request** (`KmsService::handle`, every thread)", total),
        ]
        lines = [
            f"Instructions per Sign, counted by valgrind's callgrind "
            f"(`bench/callgrind_serve.py`: `keychain-bench serve-handle` with 0 and "
            f"{ins['calls']} requests, differenced; a count does not move with the machine's "
            f"load as a time does, but leaves out the kernel — syscalls, thread wake-ups):\n",
            "| per Sign request | instructions | share |",
            "|---|---|---|",
        ]
        for what, v in rows:
            lines.append(f"| {what} | {v:,.0f} | {100 * v / total:.0f} % |")
        lines.append("")
        lines.append(
            f"Per Sign the server checks one SigV4 signature (`aws-sigv4`, with the signing "
            f"identity built once per access key), parses the JSON body once, reads the key's "
            f"metadata on the request's own task (a stat of its metadata file, no trip through "
            f"the blocking pool), signs on that task and serialises the answer; the request id "
            f"is a counter on a random base, not a draw from the OS. In time, "
            f"`KmsService::handle` is {m['handle_sign'] / m['raw_aws_lc']:.2f}× the raw "
            f"signature of the same rounds. Valgrind runs SHA-256 in software (it does not "
            f"emulate the CPU's SHA extensions, which the `sha2` crate uses natively), so the "
            f"SigV4 share of the instructions overstates its share of the time: the timed table "
            f"puts the SigV4 signature at {duration(m['sigv4_sign'])} against "
            f"{duration(m['raw_aws_lc'])} for the raw signature. What is left beyond the "
            f"signature and SigV4 is {100 * (rest + ins['backend_sign'] - ins['raw_signature']) / total:.0f} % "
            f"of the instructions; the rest of the client's p50 is HTTP, the loopback and the "
            f"aws-sdk-kms client, which measures LocalStack and moto the same way.")
        rep.add("\n".join(lines) + "\n")


def cli_item(rep, d):
    title = "8. CLI per call"
    rep.add("## 8. One `keychain` call: cold, through a session, and OpenSSL (issue 16)\n")
    if not_run(rep, d, title):
        return
    s = d["signs"]
    rep.add(
        f"{d['calls']} consecutive `keychain sign NAME --in FILE --out SIG` (P-256, a "
        f"{d['file_bytes']}-byte file), each a new process, per round: **cold** — each process "
        f"opens the software keystore (PBKDF2-HMAC-SHA256, the default 600 000 iterations); "
        f"**session** — one `keychain serve` on loopback, started once with the password, and "
        f"the CLI on `--backend awskms://127.0.0.1:PORT/?region=us-east-1` with the test "
        f"credentials; **OpenSSL** — `openssl dgst -sha256 -sign key.pem` with an unencrypted "
        f"PEM key ({d['openssl']}). {d['rounds']} rounds rotating the order. Both of our "
        f"signatures were first checked with `openssl dgst -verify`.\n"
    )
    t = Table()
    cold = [r["cold"]["total"] for r in s]
    sess = [r["session"]["total"] for r in s]
    ossl = [r["openssl"]["total"] for r in s]
    t.row(f"{d['calls']} signs, cold ÷ session (session is faster by)", duration(median(sess)),
          duration(median(cold)), times(ratio_median(cold, sess)), "reference")
    rep.target(title, f"{d['calls']} signs, cold ÷ session: "
                      f"{times(ratio_median(cold, sess))}", "reference", None)
    t.row(f"{d['calls']} signs, session ÷ OpenSSL", duration(median(sess)),
          duration(median(ossl)), times(ratio_median(sess, ossl)), "reference")
    t.row(f"{d['calls']} signs, cold ÷ OpenSSL", duration(median(cold)),
          duration(median(ossl)), times(ratio_median(cold, ossl)), "reference")
    for k, label in (("cold", "cold"), ("session", "session"), ("openssl", "OpenSSL")):
        t.row(f"one sign, p50, {label}", duration(median([r[k]["p50"] for r in s])), "", "", "")
    rep.add(t.render() + "\n")

    c = d["commands"]
    lines = [
        f"Single commands, median of {d['runs']} runs each: cold on a keystore with the "
        f"default KDF and on one made with `KEYCHAIN_KDF_ITERATIONS=2048`, and through the "
        f"session. The difference between the two keystores is what the KDF costs the "
        f"command; `--version` is the process alone (no backend opened).\n",
        "| command | cold, default KDF | cold, 2048 iterations | KDF's part | session |",
        "|---|---|---|---|---|",
    ]
    for name, v in c.items():
        kdf = v["default_kdf"] - v["kdf_2048"]
        lines.append(f"| `keychain {name}` | {duration(v['default_kdf'])} | "
                     f"{duration(v['kdf_2048'])} | {duration(kdf)} | {duration(v['session'])} |")
    rng = d["rng"]
    lines.append("")
    lines.append(
        f"aws-lc's random generator in a fresh process (`keychain-bench rng`, median of "
        f"{d['runs']}): the first 32-byte draw takes {duration(rng['first'])} (seeding), the "
        f"second {duration(rng['second'])}. A command that draws randomness (ECDSA signing "
        f"does; a verify, a pubkey or a listing has no need to) starts the seeding on a thread "
        f"of its own before it opens the backend, so it runs beside the keystore's KDF: with the "
        f"default KDF, `keychain sign` and `keychain key list` cost about the same above; with "
        f"2048 iterations the KDF is too short to hide it.\n"
    )
    rep.add("\n".join(lines))
