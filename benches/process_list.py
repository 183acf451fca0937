#!/usr/bin/env python3
"""Benchmark: listing this machine's processes over SSH, end to end: pep's
`ssh ... 'Get-AzsSupportProcess -ComputerName <host>'` (pep serve --profile linux) against
`ssh ... 'ps -eo pid,user,rss,time,lstart,args'` served by a real OpenSSH sshd on another loopback
port.

The sshd anchor is the one of benches/ssh_latency.py (`start_sshd`): its own host key and config
in a temp dir, `UsePAM no`, `-D -e -f CONFIG`, logging in as the dedicated user `pep-bench`
(created if missing, with an empty home and /bin/sh, the key in its ~/.ssh/authorized_keys), with
the `ps` command as its ForceCommand — what `ssh host 'ps ...'` runs, `/bin/sh -c 'ps ...'`, with
no startup files read. Both sides use the same OpenSSH client and options (common.SSH_OPTS, a fresh
connection each time, no ControlMaster) and the same ed25519 key.

Runs are interleaved (pep, sshd, pep, ...), default 40 per side after 3 warm-ups each; every run
has a 10 s timeout and must print a listing (pep's with a line holding this script's PID). The
process counts are printed too (pep lists processes; ps lists them with their kernel threads
alike). Medians, p90 and the ratio with PASS/MISS against the target: pep <= 0.5x sshd.
To see what dominates, it also times, against pep: `Get-Command Get-AzsSupportProcess` (the SSH
session and a trivial command that reads nothing of the machine) — the difference is the listing
and its formatting.

Usage: python3 benches/process_list.py [RUNS]
Run as root (sshd, useradd). Installs openssh-server if missing. All on 127.0.0.1; pep and sshd are
started by this script and stopped by pid on exit.
"""
import os
import shutil
import subprocess
import sys

from common import SSH_OPTS, build, median, now, percentile
from linux_common import LinuxPep, load_average, need_root, verdict
from ssh_latency import start_sshd

PS = "ps -eo pid,user,rss,time,lstart,args"


def timed(argv):
    t = now()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    dt = now() - t
    if out.returncode != 0:
        raise RuntimeError(f"{argv[-1]!r} failed (rc {out.returncode}): {out.stderr.strip()[:300]}")
    return dt, out.stdout


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    need_root("process_list.py")
    build()
    pep = LinuxPep()
    sshd = sshd_dir = None
    try:
        sshd, sport, user, sshd_dir = start_sshd("", pep.sup, force=PS)
        me = str(os.getpid())
        pep_argv = pep.ssh_argv(pep.sup) + [f"Get-AzsSupportProcess -ComputerName {pep.node}"]
        ver_argv = pep.ssh_argv(pep.sup) + ["Get-Command Get-AzsSupportProcess"]
        sshd_argv = ["ssh", *SSH_OPTS, "-p", str(sport), "-i", pep.sup, f"{user}@127.0.0.1", PS]
        for _ in range(30):  # sshd needs a moment to listen
            try:
                timed(sshd_argv)
                break
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        for _ in range(3):  # warm-up
            timed(pep_argv)
            timed(sshd_argv)
            timed(ver_argv)
        print(f"load average before: {load_average()}")
        p, s, v = [], [], []
        pep_lines = ps_lines = 0
        for _ in range(runs):
            dt, out = timed(pep_argv)
            assert any(me in line.split() for line in out.splitlines()), "pep's listing lacks this script"
            pep_lines = sum(1 for line in out.splitlines() if line.strip()) - 2  # header, rule
            p.append(dt)
            dt, out = timed(sshd_argv)
            assert out.startswith("    PID") or "PID" in out.splitlines()[0], out[:200]
            ps_lines = len(out.splitlines()) - 1
            s.append(dt)
            dt, _ = timed(ver_argv)
            v.append(dt)
        mp, ms, mv = median(p), median(s), median(v)
        print(f"runs per side: {runs}; processes listed: pep {pep_lines}, ps {ps_lines}; "
              f"load average after: {load_average()}")
        print(f"pep  Get-AzsSupportProcess:  median {mp*1000:7.1f} ms  p90 {percentile(p, 90)*1000:7.1f} ms")
        print(f"sshd ps -eo ...:             median {ms*1000:7.1f} ms  p90 {percentile(s, 90)*1000:7.1f} ms")
        print(f"pep  Get-Command (session alone):    median {mv*1000:7.1f} ms "
              f"-> listing and formatting ~{(mp - mv)*1000:.1f} ms")
        print(f"ratio pep/sshd (median): {mp/ms:.2f}  (target <= 0.50)  {verdict(mp <= 0.5 * ms)}")
    finally:
        pep.stop()
        if sshd:
            sshd.terminate()
            sshd.wait(5)
            shutil.rmtree(sshd_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
