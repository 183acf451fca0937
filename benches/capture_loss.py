#!/usr/bin/env python3
"""Benchmark: packets kept by a capture of a full-speed loopback TCP transfer, pep's
`Enable-AzsSupportNetshTrace -Interface lo` / `Disable-AzsSupportNetshTrace` against `dumpcap`
alone on the same kind of transfer.

The transfer: a Python receiver listening on 127.0.0.1:PORT (a free port picked per round) and a
forked sender pushing `--mb` MB (default 300, 10^6 bytes) through one TCP connection with
`sendall` of 1 MiB buffers, the receiver reading with `recv_into` until EOF — as fast as loopback
goes. Each round (default 5, `--runs`) runs both sides, the order alternating (pep first in even
rounds), each after an untimed `sync`:
  pep:     `Enable-AzsSupportNetshTrace -ComputerName <host> -Interface lo -Protocol TCP -Port PORT
           -Duration 120 -MaxSize 1024 | ConvertTo-Json` (it returns once dumpcap has created its
           file, i.e. is capturing), the transfer, then `Disable-AzsSupportNetshTrace -ComputerName
           <host> | ConvertTo-Json`, whose `Packets` and `Dropped` are read; the argv pep gave
           dumpcap is read from /proc while it runs and printed once.
  dumpcap: `dumpcap -q -n -i lo -f FILTER -a duration:120 -a filesize:1024000 -w FILE` — the
           argv pep used before this benchmark (no `-B`: the default 2 MB kernel buffer), with
           the very filter pep reported (`Filter`) and the default snaplen on both sides — started
           the same way (the transfer begins once the file exists), stopped with SIGINT after the
           transfer; `Packets received/dropped` is read from its stderr.
Both files are counted by this script with the same pcapng walker (Enhanced/Simple Packet Blocks),
which must agree with pep's `Packets`. The metric is packets kept per MB transferred; the target:
pep's median >= dumpcap-alone's median (pep loses no packets dumpcap alone would keep). Drops are
printed too. Files are removed after each round.

Usage: python3 benches/capture_loss.py [--runs N] [--mb MB]
Run as root (capturing). Installs wireshark-common (dumpcap) if missing. Bounded: transfers on
127.0.0.1 with a 120 s timeout, captures bounded by -a duration:120 and 1024 MB; pep and dumpcap
are started by this script and stopped by pid. Needs ~2x(MB+10%) free disk in the temp dir.
"""
import argparse
import glob
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time

from common import build, free_port, median, need, now
from linux_common import LinuxPep, load_average, need_root, verdict

TIMEOUT = 120

TRANSFER = r"""
import os, socket, sys, time
port, total = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
child = os.fork()
if child == 0:
    srv.close()
    c = socket.create_connection(("127.0.0.1", port))
    block = memoryview(b"\xa5" * (1 << 20))
    left = total
    while left > 0:
        n = min(left, len(block))
        c.sendall(block[:n])
        left -= n
    c.close()
    os._exit(0)
conn, _ = srv.accept()
t = time.perf_counter()
buf = bytearray(1 << 20)
got = 0
while True:
    n = conn.recv_into(buf)
    if not n:
        break
    got += n
dt = time.perf_counter() - t
os.waitpid(child, 0)
print(got, dt)
"""


def transfer(port, total):
    out = subprocess.run(["python3", "-c", TRANSFER, str(port), str(total)], capture_output=True,
                         text=True, timeout=TIMEOUT, check=True).stdout.split()
    got, dt = int(out[0]), float(out[1])
    assert got == total, (got, total)
    return got, dt


def count_packets(path):
    """Packets (Enhanced Packet Blocks, Simple Packet Blocks, obsolete Packet Blocks) in a pcapng."""
    packets = 0
    with open(path, "rb") as f:
        endian = "<"
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            btype, blen = struct.unpack(endian + "II", head)
            if btype == 0x0A0D0D0A:  # a section header: its byte-order magic decides the endianness
                magic = f.read(4)
                endian = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">"
                blen = struct.unpack(endian + "I", head[4:])[0]
                f.seek(blen - 12, os.SEEK_CUR)
                continue
            if blen < 12:
                break
            if btype in (6, 3, 2):
                packets += 1
            f.seek(blen - 8, os.SEEK_CUR)
    return packets


def dumpcap_argv_of(parent_pid):
    """The argv of the dumpcap running under `parent_pid` (pep), read from /proc."""
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                text = f.read()
            if "(dumpcap)" not in text or int(text[text.rfind(")") + 2:].split()[1]) != parent_pid:
                continue
            with open(stat[:-4] + "cmdline", "rb") as f:
                return [a.decode() for a in f.read().split(b"\0") if a]
        except (OSError, ValueError, IndexError):
            continue
    return None


def dropped_from(stderr):
    total = None
    for line in stderr.splitlines():
        if line.startswith("Packets received/dropped on interface"):
            pair = line.rsplit("': ", 1)[1].split()[0]  # the interface description is quoted
            total = (total or 0) + int(pair.split("/")[1])
    return total


def pep_round(pep, port, total, show_argv):
    _, rec = pep.json(f"Enable-AzsSupportNetshTrace -ComputerName {pep.node} -Interface lo -Protocol TCP "
                      f"-Port {port} -Duration {TIMEOUT} -MaxSize 1024")
    if show_argv:
        print("pep's dumpcap argv:", " ".join(dumpcap_argv_of(pep.proc.pid) or ["(not found)"]))
    _, dt = transfer(port, total)
    _, res = pep.json(f"Disable-AzsSupportNetshTrace -ComputerName {pep.node}")
    name = os.path.basename(res["TraceFile"].replace("\\", "/"))
    found = glob.glob(os.path.join(pep.state, "workdirs", "*", name)) + \
        glob.glob(os.path.join(pep.state, "workdirs", "*", "*", name))
    assert len(found) == 1, f"pep's capture {name} not found"
    counted = count_packets(found[0])
    assert counted == res["Packets"], (counted, res)
    os.remove(found[0])
    return rec["Filter"], dt, res["Packets"], res.get("Dropped")


def dumpcap_round(filt, path, port, total):
    argv = ["dumpcap", "-q", "-n", "-i", "lo"]
    if filt and filt != "(none)":
        argv += ["-f", filt]
    argv += ["-a", f"duration:{TIMEOUT}", "-a", "filesize:1024000", "-w", path]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = now() + 10
        while not (os.path.exists(path) and os.path.getsize(path) > 0):
            assert proc.poll() is None, f"dumpcap exited: {proc.stderr.read()}"
            assert now() < deadline, "dumpcap did not start within 10 s"
            time.sleep(0.01)
        _, dt = transfer(port, total)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    packets = count_packets(path)
    os.remove(path)
    return dt, packets, dropped_from(stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=300, help="MB (10^6 bytes) per transfer (default 300)")
    args = ap.parse_args()
    need_root("capture_loss.py")
    need("dumpcap", "wireshark-common")
    build()
    total = args.mb * 1_000_000
    # pep charges each capture to the working directory's quota (and the state's budget) and does
    # not see files removed behind its back: room for every round's file plus -MaxSize.
    quota = 1024 + (args.runs + 1) * (args.mb * 2 + 64)
    pep = LinuxPep(["--workdir-quota-mb", str(quota), "--state-budget-mb", str(quota + 1024)])
    ddir = tempfile.mkdtemp(prefix="dumpcap-bench-", dir=os.path.dirname(pep.dir))
    filt = filt_port = None
    try:
        print(f"transfer: {args.mb} MB over one loopback TCP connection; load average before: {load_average()}")
        pk, dk, pd, dd, prate, drate = [], [], [], [], [], []
        for r in range(args.runs):
            sides = ["pep", "dumpcap"] if r % 2 == 0 or filt is None else ["dumpcap", "pep"]
            line = []
            for side in sides:
                os.sync()
                port = free_port()
                if side == "pep":
                    filt, dt, packets, dropped = pep_round(pep, port, total, r == 0)
                    filt_port = port
                    pk.append(packets / args.mb)
                    pd.append(dropped or 0)
                    prate.append(args.mb / dt)
                else:
                    path = os.path.join(ddir, f"alone.{r}.pcapng")
                    dt, packets, dropped = dumpcap_round(re.sub(rf"\b{filt_port}\b", str(port), filt),
                                                         path, port, total)
                    dk.append(packets / args.mb)
                    dd.append(dropped or 0)
                    drate.append(args.mb / dt)
                line.append(f"{side} {packets} packets ({packets / args.mb:.1f}/MB, dropped {dropped}, "
                            f"transfer {args.mb / dt:.0f} MB/s)")
            print(f"round {r + 1}: " + "; ".join(line) + f"  load {load_average()}")
        mp, md = median(pk), median(dk)
        print(f"rounds: {args.runs}; filter on both: {filt!r} (port varies per round); "
              f"load average after: {load_average()}")
        print(f"pep  (Enable/Disable-AzsSupportNetshTrace): median {mp:7.1f} packets/MB, "
              f"dropped median {median(pd):.0f}, transfer {median(prate):.0f} MB/s")
        print(f"dumpcap alone:                              median {md:7.1f} packets/MB, "
              f"dropped median {median(dd):.0f}, transfer {median(drate):.0f} MB/s")
        print(f"ratio pep/dumpcap packets per MB (median): {mp / md:.2f}  (target >= 1.00)  "
              f"{verdict(mp >= md)}")
    finally:
        pep.stop()
        shutil.rmtree(ddir, ignore_errors=True)


if __name__ == "__main__":
    main()
