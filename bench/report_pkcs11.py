"""Item 9 of docs/BENCHMARKS.md: the PKCS#11 backend on SoftHSM2 (issue 15), from the JSON
`keychain-bench pkcs11` prints. Imported by bench/report.py."""

from report import Table, duration, median, not_run, ops, ratio_median, times

TITLE = "10. PKCS#11"
# Our overhead over the raw call (and over pkcs11-tool per process): at most 10 %.
OVERHEAD = 1.1
NAMES = {"bench-p256": "P-256", "bench-rsa2048": "RSA-2048"}


def pkcs11_item(rep, d):
    rep.add("## 10. PKCS#11 backend on SoftHSM2: raw `cryptoki` and `pkcs11-tool` (issue 15)\n")
    if not_run(rep, d, TITLE):
        return
    rep.add(
        f"One SoftHSM2 token ({d['module']}, Debian softhsm2 {d['softhsm2']}), initialised by "
        f"the run in its own directory, holds a P-256 and an RSA-2048 key made through our "
        f"backend. **In-process**: `Keychain::sign` on a SHA-256 digest (a `Keychain` on the "
        f"`pkcs11:` URI) against the raw `cryptoki` `C_Sign` in the same process on its own "
        f"session of the same token, the key's handle found once (`CKM_ECDSA` on the digest, "
        f"`CKM_RSA_PKCS` on DigestInfo ‖ digest): the call our backend makes, without what it "
        f"adds around it (the key's remembered lookup and the checks of its attributes, the "
        f"key looked up again on the token when the lookup is a second old, `block_in_place` "
        f"on the tokio worker, r ‖ s turned into DER). One caller: "
        f"operations per second over a {d['window_s']:g} s window per side; {d['tasks']} "
        f"callers: ours as {d['tasks']} tokio tasks on one `Keychain` (2 worker threads; the "
        f"backend's session pool), raw as {d['tasks']} threads each with its own session. "
        f"**Process per call**: {d['cli_calls']} consecutive `keychain --backend pkcs11:… sign "
        f"NAME --in FILE` (a {d['file_bytes']}-byte file) against as many `pkcs11-tool --login "
        f"--sign --id ID` (OpenSC {d['opensc']}; `ECDSA` on the file's SHA-256 digest, as "
        f"SoftHSM has no `ECDSA-SHA256`; `SHA256-RSA-PKCS` on the file), both with the PIN on "
        f"the command line; both signatures were first checked with `openssl dgst -verify`. "
        f"{d['rounds']} rounds per measurement, rotating which side goes first. Overhead is "
        f"peer ÷ ours in throughput (time per call ours ÷ peer): 1.00× is none. A third "
        f"in-process side, **raw lookup + `C_Sign`**, asks the token before each `C_Sign` "
        f"what our backend asks it to find a key (`C_FindObjects` by label among private and "
        f"secret keys, then `C_GetAttributeValue` of the 12 attributes it checks), through "
        f"`cryptoki` alone: what the backend paid on every call before it remembered lookups "
        f"(docs/PKCS11.md, \"Finding a key once\"), and now pays once per key and second.\n"
    )
    t = Table()
    summary = []
    for key, name in NAMES.items():
        k = d["keys"].get(key)
        if k is None:
            continue
        seq = k["sequential"]
        ours = [r["ours"] for r in seq]
        raw = [r["raw"] for r in seq]
        over = ratio_median(raw, ours)
        ok = over is not None and over <= OVERHEAD
        t.row(f"{name} sign, one caller, overhead over raw `C_Sign`", ops(median(ours)),
              ops(median(raw)), times(over), f"≤ {OVERHEAD}×", ok)
        summary.append((f"{name} sign, one caller, overhead over raw C_Sign", ok))
        lookup = [r["raw_lookup"] for r in seq]
        t.row(f"{name} sign, one caller: raw lookup + `C_Sign` (a key lookup on the token "
              f"before every call) ÷ raw `C_Sign`", ops(median(lookup)), ops(median(raw)),
              times(ratio_median(raw, lookup)), "reference")
        t.row(f"{name} sign, one caller: ours ÷ raw lookup + `C_Sign` (what remembering the "
              f"lookup saves)", ops(median(ours)), ops(median(lookup)),
              times(ratio_median(lookup, ours)), "reference")

        con = k["concurrent"]
        o1, o16 = [r["ours_1"] for r in con], [r["ours_16"] for r in con]
        r1, r16 = [r["raw_1"] for r in con], [r["raw_16"] for r in con]
        over16 = ratio_median(r16, o16)
        ok16 = over16 is not None and over16 <= OVERHEAD
        t.row(f"{name} sign, {d['tasks']} callers, overhead over raw `C_Sign` "
              f"({k['calls']} calls)", ops(median(o16)), ops(median(r16)), times(over16),
              f"≤ {OVERHEAD}×", ok16)
        summary.append((f"{name} sign, {d['tasks']} callers, overhead over raw C_Sign", ok16))
        t.row(f"{name} sign, {d['tasks']} callers ÷ one, ours", ops(median(o16)),
              ops(median(o1)), times(ratio_median(o16, o1)), "reference")
        t.row(f"{name} sign, {d['tasks']} callers ÷ one, raw", ops(median(r16)),
              ops(median(r1)), times(ratio_median(r16, r1)), "reference")

        proc = k["processes"]
        po = [r["ours"]["total"] for r in proc]
        pt = [r["tool"]["total"] for r in proc]
        overp = ratio_median(po, pt)
        okp = overp is not None and overp <= OVERHEAD
        t.row(f"{name}, {d['cli_calls']} processes, `keychain sign` ÷ `pkcs11-tool --sign`",
              duration(median(po)), duration(median(pt)), times(overp), f"≤ {OVERHEAD}×", okp)
        summary.append((f"{name}, a process per call, keychain ÷ pkcs11-tool", okp))
        t.row(f"{name}, one process, p50: keychain / pkcs11-tool",
              duration(median([r["ours"]["p50"] for r in proc])),
              duration(median([r["tool"]["p50"] for r in proc])), "", "")
    rep.add(t.render() + "\n")
    for what, ok in summary:
        rep.target(TITLE, what, f"≤ {OVERHEAD}×", ok)
