#!/usr/bin/env python3
"""Benchmark (b): 200 concurrent interactive sessions (`ssh -tt`, the stock OpenSSH client) against
one pep. Reports pep's memory per idle session (RSS growth with all sessions open and idle, divided
by their count) and p50/p99 command latency with every session running commands at once (time from
sending `Get-AzsSupportStampVersion` to its output and the next prompt arriving at the client).
Targets: under 1 MiB per idle session; p99 under 50 ms.

The anchor for memory is OpenSSH's own per-session cost, measured in the same run: the same number
of idle `ssh -tt` sessions to sshd (installed if missing), logging in as the clean `pep-bench` user
(see ssh_latency.py) with `cat` as the ForceCommand, the least a session can run. sshd's cost is
the proportional set size (PSS, shared pages split between sharers) of every process under the
sshd daemon — its per-connection monitor and session processes and the command — divided by the
session count; pep's is its RSS growth (one process), which counts its shared pages fully, so the
comparison is conservative for pep. Run as root.

Usage: python3 benches/concurrent_sessions.py [SESSIONS] [COMMANDS_PER_SESSION]  (default 200 20)
Bounded: SESSIONS clients, COMMANDS each, 120 s overall deadline, all on 127.0.0.1.
"""
import asyncio
import sys
import time

import os

from common import SSH_OPTS, Pep, build, median, percentile, serve_has_option
from ssh_latency import start_sshd

PROMPT = b"[AZS-ERCS01]: PS> "
VERSION = b"1.2408.1.50"


async def read_until(proc, buf, needle, deadline):
    while needle not in buf[0]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(needle)
        chunk = await asyncio.wait_for(proc.stdout.read(65536), left)
        if not chunk:
            raise EOFError(needle)
        buf[0] += chunk
    i = buf[0].index(needle) + len(needle)
    buf[0] = buf[0][i:]


async def open_session(pep, deadline):
    proc = await asyncio.create_subprocess_exec(
        *pep.ssh_argv(pep.sup, "-tt"), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    buf = [b""]
    await read_until(proc, buf, PROMPT, deadline)
    return proc, buf


async def run_commands(proc, buf, n, deadline, latencies):
    for _ in range(n):
        t = time.perf_counter()
        proc.stdin.write(b"Get-AzsSupportStampVersion\r")
        await proc.stdin.drain()
        await read_until(proc, buf, VERSION, deadline)
        await read_until(proc, buf, PROMPT, deadline)
        latencies.append(time.perf_counter() - t)


def descendants(root):
    """Pids of every process below `root`."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


async def sshd_per_session_kib(key, sessions, deadline):
    """PSS of sshd's processes per idle `ssh -tt` session running `cat`."""
    sshd, port, user, d = start_sshd("", key, force="cat")
    procs = []
    try:
        await asyncio.sleep(0.5)
        base = pss_kib([sshd.pid] + descendants(sshd.pid))
        argv = ["ssh", *SSH_OPTS, "-tt", "-p", str(port), "-i", key, f"{user}@127.0.0.1"]
        for i in range(0, sessions, 32):
            batch = []
            for _ in range(min(32, sessions - i)):
                batch.append(await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL))
            procs += batch
            # Wait until each of these sessions has its command running.
            while sum(comm(p) == "cat" for p in descendants(sshd.pid)) < len(procs):
                if time.monotonic() > deadline:
                    raise TimeoutError("sshd sessions")
                if any(p.returncode is not None for p in procs):
                    raise RuntimeError("an ssh client to sshd exited before its session ran")
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        idle = pss_kib([sshd.pid] + descendants(sshd.pid))
        return (idle - base) / sessions
    finally:
        for p in procs:
            p.kill()
        sshd.terminate()
        sshd.wait(5)


async def main():
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    commands = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    build()
    # Every session is the same support identity: lift a per-identity connection cap, where pep
    # has one, to at least the session count.
    extra = []
    if serve_has_option("--max-connections-per-identity"):
        extra = ["--max-connections-per-identity", str(sessions)]
    pep = Pep(extra)
    deadline = time.monotonic() + 120
    procs = []
    try:
        base = pep.rss_kib()
        # Open in waves so the handshake burst stays within the unauthenticated limit.
        for i in range(0, sessions, 32):
            procs += await asyncio.gather(*[open_session(pep, deadline) for _ in range(min(32, sessions - i))])
        await asyncio.sleep(1.0)
        idle = pep.rss_kib()
        per = (idle - base) / sessions
        lat = []
        t = time.perf_counter()
        await asyncio.gather(*[run_commands(p, b, commands, deadline, lat) for p, b in procs])
        wall = time.perf_counter() - t
        print(f"sessions: {sessions}, commands per session: {commands}, total commands: {len(lat)} in {wall:.1f} s")
        print(f"pep RSS: {base} KiB before, {idle} KiB with {sessions} idle sessions -> {per:.0f} KiB per idle session (target < 1024)")
        for p, _ in procs:
            p.kill()
        procs = []
        anchor = await sshd_per_session_kib(pep.sup, sessions, time.monotonic() + 120)
        print(f"sshd (pep-bench, ForceCommand cat): {anchor:.0f} KiB PSS per idle session; ratio pep/sshd {per/anchor:.2f}")
        print(f"command latency under load: p50 {median(lat)*1000:.1f} ms, p99 {percentile(lat, 99)*1000:.1f} ms (target p99 < 50)")
    finally:
        for p, _ in procs:
            p.kill()
        pep.stop()


if __name__ == "__main__":
    asyncio.run(main())
