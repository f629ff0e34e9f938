"""Item 9 of docs/BENCHMARKS.md: `ssh-keygen -Y sign` through `keychain ssh-agent` and through
OpenSSH's own `ssh-agent` (issue 13). Imported by report.py."""

from report import Table, duration, median, not_run, ratio_median, times


def ssh_item(rep, d):
    title = "9. SSH agent"
    rep.add("## 9. SSH agent: `ssh-keygen -Y sign` through keychain's and OpenSSH's (issue 13)\n")
    if not_run(rep, d, title):
        return
    rep.add(
        f"Whole processes: `ssh-keygen -Y sign -U -f KEY.pub -n file` of a "
        f"{d['message_bytes']}-byte message (stdin to stdout) with `SSH_AUTH_SOCK` on "
        f"`keychain ssh-agent` (release build; an Ed25519 and a P-256 key of a software keystore "
        f"with the default PBKDF2 count, opened once when the agent starts) or on OpenSSH's "
        f"`ssh-agent -D` holding an equivalent key made by `ssh-keygen` and loaded with "
        f"`ssh-add` ({d['openssh']}). Per round and key type: {d['calls']} consecutive "
        f"processes through each agent, then {d['waves']} waves of "
        f"{d['concurrent_clients']} processes started at once; {d['rounds']} rounds "
        f"alternating which agent goes first. Every agent's signature was first accepted by "
        f"`ssh-keygen -Y verify`. Speed ratio = OpenSSH's time ÷ ours (above 1: ours is "
        f"faster; the target is ≥ 0.8×).\n"
    )
    t = Table()
    for label, k in d["keys"].items():
        seq, conc = k["sequential"], k["concurrent"]
        ours = [r["ours"] for r in seq]
        peer = [r["openssh"] for r in seq]
        ratio = ratio_median(peer, ours)
        ok = ratio is not None and ratio >= 0.8
        t.row(f"{label}: {d['calls']} consecutive `ssh-keygen -Y sign`, speed ours ÷ OpenSSH's "
              f"agent", duration(median(ours)), duration(median(peer)), times(ratio), "≥ 0.8×",
              ok)
        rep.target(title, f"{label}: `ssh-keygen -Y sign` through our agent ÷ OpenSSH's agent",
                   "≥ 0.8×", ok)
        t.row(f"{label}: one sign, whole process (median per call)",
              duration(k["per_call"]["ours"]), duration(k["per_call"]["openssh"]), "", "")
        ours = [r["ours"] for r in conc]
        peer = [r["openssh"] for r in conc]
        t.row(f"{label}: {d['waves']} × {d['concurrent_clients']} processes at once, speed ours "
              f"÷ OpenSSH's agent", duration(median(ours)), duration(median(peer)),
              times(ratio_median(peer, ours)), "reference")
    rep.add(t.render() + "\n")
    lines = []
    for label, k in d["keys"].items():
        wave = median([r["ours"] for r in k["concurrent"]]) / d["waves"]
        one_by_one = d["concurrent_clients"] * k["per_call"]["ours"]
        lines.append(f"{label}: a wave of {d['concurrent_clients']} processes through our agent "
                     f"took {duration(wave)}, against {duration(one_by_one)} for "
                     f"{d['concurrent_clients']} one after another ({times(one_by_one / wave)} "
                     f"as fast)")
    rep.add(
        "A whole `ssh-keygen` process — its start, reading the key file, the agent round trip, "
        "writing the armored signature — is what a user or git pays per signature; the agent's "
        "own share is the round trip. Each connection to our agent has its own task, so "
        "concurrent clients are not served one after another: " + "; ".join(lines) + ". On two "
        "shared cores the processes themselves compete for the CPU, which bounds that figure.\n"
    )
