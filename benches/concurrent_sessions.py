#!/usr/bin/env python3
"""Benchmark (b): 200 concurrent interactive sessions (`ssh -tt`, the stock OpenSSH client) against
one pep. Reports pep's memory per idle session (RSS growth with all sessions open and idle, divided
by their count) and p50/p99 command latency with every session running commands at once (time from
sending `Get-AzsSupportStampVersion` to its output and the next prompt arriving at the client).
Targets: under 1 MiB per idle session; p99 under 50 ms.

The anchor for memory is OpenSSH's own per-connection cost, measured the same way on sshd when it
is installed (each sshd connection is at least one process).

Usage: python3 benches/concurrent_sessions.py [SESSIONS] [COMMANDS_PER_SESSION]  (default 200 20)
Bounded: SESSIONS clients, COMMANDS each, 120 s overall deadline, all on 127.0.0.1.
"""
import asyncio
import sys
import time

from common import Pep, build, median, percentile, serve_has_option

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
        print(f"command latency under load: p50 {median(lat)*1000:.1f} ms, p99 {percentile(lat, 99)*1000:.1f} ms (target p99 < 50)")
    finally:
        for p, _ in procs:
            p.kill()
        pep.stop()


if __name__ == "__main__":
    asyncio.run(main())
