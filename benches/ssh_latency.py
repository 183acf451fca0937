#!/usr/bin/env python3
"""Benchmark (a): wall time of `ssh ... 'Get-AzsSupportStampVersion'` against pep versus the same
OpenSSH client against OpenSSH's sshd on another loopback port with a ForceCommand printing the same
text. Runs are interleaved (pep, sshd, pep, ...) so machine noise hits both alike; medians reported.
Target: pep's median at most 0.5x sshd's.

Usage: python3 benches/ssh_latency.py [RUNS]   (default 60; installs openssh-server if missing)
Bounded: RUNS ssh invocations per side, each with a 10 s timeout, all on 127.0.0.1.
"""
import os
import subprocess
import sys
import tempfile

from common import SSH_OPTS, Pep, build, free_port, keygen, median, need, now, percentile

SSHD = "/usr/sbin/sshd"


def start_sshd(text, key):
    need(SSHD, "openssh-server")
    os.makedirs("/run/sshd", exist_ok=True)
    d = tempfile.mkdtemp(prefix="sshd-bench-")
    host_key = keygen(os.path.join(d, "host_key"))
    auth = os.path.join(d, "authorized_keys")
    with open(key + ".pub") as src, open(auth, "w") as dst:
        dst.write(src.read())
    os.chmod(auth, 0o600)
    port = free_port()
    conf = os.path.join(d, "sshd_config")
    with open(conf, "w") as f:
        f.write(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {d}/sshd.pid
AuthorizedKeysFile {auth}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
StrictModes no
UsePAM no
PrintMotd no
PrintLastLog no
ForceCommand printf '%s\\n' '{text}'
""")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", conf], stderr=subprocess.DEVNULL)
    return proc, port


def timed(argv):
    t = now()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    return now() - t, out.stdout


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    build()
    pep = Pep()
    sshd = None
    try:
        version = pep.ssh(pep.sup, "Get-AzsSupportStampVersion").strip()
        sshd, sport = start_sshd(version, pep.sup)
        user = os.environ.get("USER", "root")
        pep_argv = pep.ssh_argv(pep.sup) + ["Get-AzsSupportStampVersion"]
        sshd_argv = ["ssh", *SSH_OPTS, "-p", str(sport), "-i", pep.sup, f"{user}@127.0.0.1", "anything"]
        for _ in range(5):  # warm-up
            timed(pep_argv)
            timed(sshd_argv)
        p, s = [], []
        for _ in range(runs):
            dt, out = timed(pep_argv)
            assert out.strip() == version, out
            p.append(dt)
            dt, out = timed(sshd_argv)
            assert out.strip() == version, out
            s.append(dt)
        mp, ms = median(p), median(s)
        print(f"runs per side: {runs}")
        print(f"pep  ssh exec: median {mp*1000:7.1f} ms  p90 {percentile(p, 90)*1000:7.1f} ms")
        print(f"sshd ssh exec: median {ms*1000:7.1f} ms  p90 {percentile(s, 90)*1000:7.1f} ms")
        print(f"ratio pep/sshd (median): {mp/ms:.2f}  (target <= 0.50)")
    finally:
        pep.stop()
        if sshd:
            sshd.terminate()


if __name__ == "__main__":
    main()
